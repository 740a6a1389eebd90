/* The nested benchmark image's entry (bench/nested.ts): M-mode start, the M-mode trap vector, and
 * the payload's entry (in M, S or VS-mode, whichever hv.c dropped to). */
        .section .text.start, "ax", @progbits
        .globl _start
_start: la sp, stack_top
        la t0, m_trap
        csrw mtvec, t0
        call hv_main            /* returns only in the bare M-mode variant */
        j guest_entry

        .section .text.hv, "ax", @progbits
        .globl guest_entry
guest_entry:
        la sp, guest_stack_top
        call main
        ecall                   /* to M-mode (from M, S or VS: cause 11, 9 or 10) */
1:      j 1b

        .align 2
m_trap: la sp, stack_top
        call hv_trap            /* never returns: it ends the run through the test finisher */
1:      j 1b
