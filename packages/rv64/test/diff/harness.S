# Bare-metal harness for the differential tests (QEMU virt -bios none, and our hart).
# _start clears every register, sets mstatus.FS to Initial (both harts reset it to Off, like
# QEMU), installs the trap handler, runs `test_body`, which ends by jumping to `dump`. `dump`
# stores x1..x31 and f0..f31 (raw bits) exactly as the body left them, then prints them, fcsr,
# the trap log and some CSRs (mstatus with FS and SD as the body left them) over the UART at
# 0x10000000, and powers off (SiFive test device).
        .section .text.start, "ax", @progbits
        .globl _start
_start:
        li x1, 0; li x2, 0; li x3, 0; li x4, 0; li x5, 0; li x6, 0; li x7, 0; li x8, 0
        li x9, 0; li x10, 0; li x11, 0; li x12, 0; li x13, 0; li x14, 0; li x15, 0; li x16, 0
        li x17, 0; li x18, 0; li x19, 0; li x20, 0; li x21, 0; li x22, 0; li x23, 0; li x24, 0
        li x25, 0; li x26, 0; li x27, 0; li x28, 0; li x29, 0; li x30, 0; li x31, 0
        la sp, stack_top
        li t0, 0x2000          # mstatus.FS = Initial: FP instructions may run
        csrs mstatus, t0
        la t0, trap_area
        csrw mscratch, t0
        la t0, trap_handler
        csrw mtvec, t0
        li t0, 0
        j test_body

# Records (count, signature) of every trap and skips the trapping instruction; a fetch fault
# returns to ra. Clobbers nothing the body can see.
        .align 2
trap_handler:
        csrrw t0, mscratch, t0
        sd t1, 0(t0)
        sd t2, 8(t0)
        ld t1, 16(t0)
        addi t1, t1, 1
        sd t1, 16(t0)
        ld t2, 24(t0)
        slli t1, t2, 7
        srli t2, t2, 57
        or t2, t2, t1
        csrr t1, mcause
        xor t2, t2, t1
        slli t1, t2, 13
        srli t2, t2, 51
        or t2, t2, t1
        csrr t1, mtval
        xor t2, t2, t1
        sd t2, 24(t0)
        csrr t1, mcause
        li t2, 1
        beq t1, t2, 4f
        li t2, 12
        beq t1, t2, 4f
        li t2, 9
        beq t1, t2, 5f
        li t2, 8
        beq t1, t2, 5f
        j 1f
4:      csrw mepc, ra            # a fetch fault returns to ra
        j 3f
5:      csrw mepc, a7            # ecall from S or U: continue at a7, in M-mode
        li t1, 0x1800
        csrs mstatus, t1
        j 3f
1:      csrr t1, mepc
        lhu t2, 0(t1)
        andi t2, t2, 3
        addi t1, t1, 2
        addi t2, t2, -3
        bnez t2, 2f
        addi t1, t1, 2
2:      csrw mepc, t1
3:      ld t1, 0(t0)
        ld t2, 8(t0)
        csrrw t0, mscratch, t0
        mret

        .globl dump
dump:
        csrw mscratch, x31
        la x31, regs
        sd x1, 8(x31); sd x2, 16(x31); sd x3, 24(x31); sd x4, 32(x31); sd x5, 40(x31); sd x6, 48(x31)
        sd x7, 56(x31); sd x8, 64(x31); sd x9, 72(x31); sd x10, 80(x31); sd x11, 88(x31); sd x12, 96(x31)
        sd x13, 104(x31); sd x14, 112(x31); sd x15, 120(x31); sd x16, 128(x31); sd x17, 136(x31); sd x18, 144(x31)
        sd x19, 152(x31); sd x20, 160(x31); sd x21, 168(x31); sd x22, 176(x31); sd x23, 184(x31); sd x24, 192(x31)
        sd x25, 200(x31); sd x26, 208(x31); sd x27, 216(x31); sd x28, 224(x31); sd x29, 232(x31); sd x30, 240(x31)
        csrr x30, mscratch
        sd x30, 248(x31)
        # mstatus as the body left it; then FS on (if the body turned it off) to read the FP state.
        csrr t0, mstatus
        la t1, saved_mstatus
        sd t0, 0(t1)
        srli t0, t0, 13
        andi t0, t0, 3
        bnez t0, 6f
        li t0, 0x2000
        csrs mstatus, t0
6:      la t1, fregs
        fsd f0, 0(t1); fsd f1, 8(t1); fsd f2, 16(t1); fsd f3, 24(t1); fsd f4, 32(t1); fsd f5, 40(t1); fsd f6, 48(t1); fsd f7, 56(t1)
        fsd f8, 64(t1); fsd f9, 72(t1); fsd f10, 80(t1); fsd f11, 88(t1); fsd f12, 96(t1); fsd f13, 104(t1); fsd f14, 112(t1); fsd f15, 120(t1)
        fsd f16, 128(t1); fsd f17, 136(t1); fsd f18, 144(t1); fsd f19, 152(t1); fsd f20, 160(t1); fsd f21, 168(t1); fsd f22, 176(t1); fsd f23, 184(t1)
        fsd f24, 192(t1); fsd f25, 200(t1); fsd f26, 208(t1); fsd f27, 216(t1); fsd f28, 224(t1); fsd f29, 232(t1); fsd f30, 240(t1); fsd f31, 248(t1)
        frcsr t0
        sd t0, 256(t1)
        # Print "xNN=<16 hex digits>\n" for x1..x31.
        li s0, 1
4:      li a0, 'x'
        call putc
        li t0, 10
        divu a0, s0, t0
        addi a0, a0, '0'
        call putc
        li t0, 10
        remu a0, s0, t0
        addi a0, a0, '0'
        call putc
        li a0, '='
        call putc
        la t0, regs
        slli t1, s0, 3
        add t0, t0, t1
        ld a0, 0(t0)
        call puthex
        addi s0, s0, 1
        li t0, 32
        blt s0, t0, 4b
        # "fNN=<16 hex digits>\n" for f0..f31, then fcsr.
        li s0, 0
7:      li a0, 'f'
        call putc
        li t0, 10
        divu a0, s0, t0
        addi a0, a0, '0'
        call putc
        li t0, 10
        remu a0, s0, t0
        addi a0, a0, '0'
        call putc
        li a0, '='
        call putc
        la t0, fregs
        slli t1, s0, 3
        add t0, t0, t1
        ld a0, 0(t0)
        call puthex
        addi s0, s0, 1
        li t0, 32
        blt s0, t0, 7b
        li a0, 'F'
        call putc
        la t0, fregs
        ld a0, 256(t0)
        call puthex
        # Trap log and CSRs.
        li a0, 'T'
        call putc
        la t0, trap_area
        ld a0, 16(t0)
        call puthex
        li a0, 'S'
        call putc
        la t0, trap_area
        ld a0, 24(t0)
        call puthex
        li a0, 'C'
        call putc
        csrr a0, mcause
        call puthex
        li a0, 'E'
        call putc
        csrr a0, mepc
        call puthex
        li a0, 'V'
        call putc
        csrr a0, mtval
        call puthex
        li a0, 'M'
        call putc
        la t0, saved_mstatus
        ld a0, 0(t0)
        li t0, 0x8000000000007888  # SD | FS | MPP | MPIE | MIE: the bits both sides must agree on
        and a0, a0, t0
        call puthex
        # Wait for the transmitter to be empty (LSR.TEMT): QEMU may still hold the last byte
        # when the machine is busy, and powering off would drop it.
        li t0, 0x10000000
8:      lbu t1, 5(t0)
        andi t1, t1, 0x40
        beqz t1, 8b
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
5:      j 5b

putc:   li t0, 0x10000000
1:      lbu t1, 5(t0)
        andi t1, t1, 0x20
        beqz t1, 1b
        sb a0, 0(t0)
        ret

        .globl puthex
puthex: mv t2, a0
        mv t3, ra
        li t4, 60
1:      srl a0, t2, t4
        andi a0, a0, 15
        li t0, 10
        blt a0, t0, 2f
        addi a0, a0, 'a' - 10
        j 3f
2:      addi a0, a0, '0'
3:      call putc
        addi t4, t4, -4
        bgez t4, 1b
        li a0, '\n'
        call putc
        mv ra, t3
        ret

        .data
        .align 3
regs:   .space 256
fregs:  .space 264
saved_mstatus: .space 8
trap_area: .space 32
        .globl scratch
        .align 4
scratch: .space 512
