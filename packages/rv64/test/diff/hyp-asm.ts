/**
 * Assembly building blocks for the hypervisor-extension differential tests (hyp.system.test.ts):
 * trap handlers for M, HS and VS that log every trap, mode switches, page-table setters, and the
 * log printer. The body runs with `.option norvc` so every trapping instruction is 4 bytes long
 * (the handlers step over it without reading it: its address may be a guest virtual one).
 *
 * A log record is six double words: a tag ('M', 'S' or 'V': which handler), the cause, the tval,
 * then for M mtval2 and mtinst (of a guest-page fault, else 0) and mstatus & (MPV | MPP), for HS htval, htinst and
 * hstatus & (SPVP | SPV | GVA) | sstatus.SPP, for VS 0, 0 and vsstatus.SPP. The body ends in M,
 * prints every record through the harness's `puthex`, then the harness dumps the registers.
 */

/** Puts the hart in `mode` at `label` from M: HS (MPP = S), VS (MPP = S, MPV), VU (MPP = U, MPV). */
export function enter(mode: 'hs' | 'vs' | 'vu' | 'u', label: string): string {
  const mpp = mode === 'hs' || mode === 'vs' ? 0x800 : 0
  const mpv = mode === 'vs' || mode === 'vu'
  return [
    'li t0, 0x1800; csrc mstatus, t0',
    mpp ? `li t0, ${mpp}; csrs mstatus, t0` : '',
    `li t0, 1; slli t0, t0, 39; ${mpv ? 'csrs' : 'csrc'} mstatus, t0`,
    `la t0, ${label}; csrw mepc, t0; mret`,
  ].filter(Boolean).join('\n')
}

/** Back to M at local label `n` defined right after (an ecall that no test delegates; the M handler continues at a7 in M). */
export const toM = (n: number): string => `la a7, ${n}f; ecall\n${n}:`

/** tables[index] ← a PTE for the address in t2 (computed by `target`) with `flags`. Clobbers t0–t2. */
export const pte = (table: string, index: number, target: string, flags: number): string =>
  `la t0, ${table}; li t1, ${index * 8}; add t0, t0, t1; ${target}; srli t2, t2, 12; slli t2, t2, 10; li t1, ${flags}; or t2, t2, t1; sd t2, 0(t0)`

/** The handlers, the setup (trap vectors, scratch areas, PMP open to S/U) and the jump to `h_start`. */
export const PRELUDE = `
    .option norvc
    la t0, h_mtrap; csrw mtvec, t0
    la t0, h_strap; csrw stvec, t0
    la t0, h_vstrap; csrw vstvec, t0
    la t0, h_msave; csrw mscratch, t0
    la t0, h_ssave; csrw sscratch, t0
    la t0, h_vssave; csrw vsscratch, t0
    la t0, hlog; la t1, hlog_ptr; sd t0, 0(t1)
    li t0, -1; csrw pmpaddr0, t0; li t0, 0x1f; csrw pmpcfg0, t0
    csrw mideleg, zero
    j h_start

    .align 2
h_mtrap:
    csrrw t0, mscratch, t0
    sd t1, 0(t0); sd t2, 8(t0); sd t3, 16(t0)
    la t1, hlog_ptr; ld t2, 0(t1)
    li t3, 0x4d; sd t3, 0(t2)
    csrr t3, mcause; sd t3, 8(t2)
    csrr t3, mtval; sd t3, 16(t2)
    csrr t3, mtval2; sd t3, 24(t2)
    csrr t3, mtinst; sd t3, 32(t2)
    csrr t3, mcause; addi t3, t3, -20; li t1, 3; bgtu t3, t1, 6f   # mtval2/mtinst of a guest-page fault only
    li t1, 2; bne t3, t1, 7f                                         # (QEMU 7.2 leaves them stale on other traps)
6:  sd zero, 24(t2); sd zero, 32(t2)
7:
    csrr t3, mstatus; li t1, 0x8000001800; and t3, t3, t1; sd t3, 40(t2)   # MPV, MPP (not GVA: QEMU 7.2 leaves it stale)
    addi t2, t2, 48; la t1, hlog_ptr; sd t2, 0(t1)
    csrr t1, mcause
    li t2, 8; beq t1, t2, 5f
    li t2, 9; beq t1, t2, 5f
    li t2, 10; beq t1, t2, 5f
    li t2, 1; beq t1, t2, 4f
    li t2, 12; beq t1, t2, 4f
    li t2, 20; beq t1, t2, 4f
    csrr t1, mepc; addi t1, t1, 4; csrw mepc, t1; j 3f
4:  csrw mepc, ra; j 3f
5:  csrw mepc, a7; li t1, 0x1800; csrs mstatus, t1; li t1, 1; slli t1, t1, 39; csrc mstatus, t1
3:  ld t1, 0(t0); ld t2, 8(t0); ld t3, 16(t0)
    csrrw t0, mscratch, t0
    mret

    .align 2
h_strap:
    csrrw t0, sscratch, t0
    sd t1, 0(t0); sd t2, 8(t0); sd t3, 16(t0)
    la t1, hlog_ptr; ld t2, 0(t1)
    li t3, 0x53; sd t3, 0(t2)
    csrr t3, scause; sd t3, 8(t2)
    csrr t3, stval; sd t3, 16(t2)
    csrr t3, htval; sd t3, 24(t2)
    csrr t3, htinst; sd t3, 32(t2)
    csrr t3, hstatus; andi t3, t3, 0x1c0; csrr t1, sstatus; andi t1, t1, 0x100; slli t1, t1, 4; or t3, t3, t1; sd t3, 40(t2)
    addi t2, t2, 48; la t1, hlog_ptr; sd t2, 0(t1)
    csrr t1, scause
    bgez t1, 1f
    csrw hvip, zero; csrci sip, 2     # an interrupt (hvip's, or SSIP): lower it, resume at ra
    csrw sepc, ra; j 3f
1:  li t2, 1; beq t1, t2, 4f
    li t2, 12; beq t1, t2, 4f
    li t2, 20; beq t1, t2, 4f
    csrr t1, sepc; addi t1, t1, 4; csrw sepc, t1; j 3f
4:  csrw sepc, ra
3:  ld t1, 0(t0); ld t2, 8(t0); ld t3, 16(t0)
    csrrw t0, sscratch, t0
    sret

    .align 2
h_vstrap:
    csrrw t0, sscratch, t0
    sd t1, 0(t0); sd t2, 8(t0); sd t3, 16(t0)
    la t1, hlog_ptr; ld t2, 0(t1)
    li t3, 0x56; sd t3, 0(t2)
    csrr t3, scause; sd t3, 8(t2)
    csrr t3, stval; sd t3, 16(t2)
    sd zero, 24(t2); sd zero, 32(t2)
    csrr t3, sstatus; andi t3, t3, 0x100; sd t3, 40(t2)
    addi t2, t2, 48; la t1, hlog_ptr; sd t2, 0(t1)
    csrr t1, scause
    bgez t1, 1f
    csrci sip, 2                      # VSSIP, through vsip.SSIP
    li t1, 0x20; csrc sstatus, t1     # SPIE off: the guest resumes with interrupts off (VSEIP may stay pending)
    csrw sepc, ra; j 3f
1:  li t2, 1; beq t1, t2, 4f
    li t2, 12; beq t1, t2, 4f
    csrr t1, sepc; addi t1, t1, 4; csrw sepc, t1; j 3f
4:  csrw sepc, ra
3:  ld t1, 0(t0); ld t2, 8(t0); ld t3, 16(t0)
    csrrw t0, sscratch, t0
    sret

h_start:
`

/** Prints the log (in M) and ends the body's data sections. */
export const EPILOGUE = `
    la s0, hlog; la t0, hlog_ptr; ld s1, 0(t0)
1:  bgeu s0, s1, 2f
    ld a0, 0(s0); call puthex
    addi s0, s0, 8; j 1b
2:  sub s0, s0, s0; sub s1, s1, s1
    .section .bss
    .align 3
h_msave: .space 32
h_ssave: .space 32
h_vssave: .space 32
hlog_ptr: .space 8
hlog: .space 48 * 64
    .text
`
