import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fpInstruction } from './fp-gen.js'
import { compare, toolsPresent } from './runner.js'

/**
 * Differential tests against QEMU: every register, the trap log (count and a signature of
 * every mcause/mtval) and the trap CSRs must match.
 */
/** Sv39: a three-level tree over 16 test pages with every R/W/X/U combination (reused by Sv48). */
const SV39 = `
    la t0, pt_root; la t1, pt_l1; la t2, pt_l0
    li t3, 0xc7; sd t3, 0(t0)                       # 0..1 GiB: devices, RW, identity gigapage
    li t3, (0x80000 << 10) | 0xcf; sd t3, 16(t0)    # 2..3 GiB: RAM, RWX, identity gigapage
    li t3, (0x80001 << 10) | 0xcf; sd t3, 24(t0)    # 3..4 GiB: a misaligned gigapage
    srli t3, t1, 12; slli t3, t3, 10; ori t3, t3, 1; sd t3, 8(t0)
    srli t3, t2, 12; slli t3, t3, 10; ori t3, t3, 1; sd t3, 0(t1)
    la t4, pages; li t5, 0
    1: srli t3, t4, 12; slli t3, t3, 10
       andi t6, t5, 7; slli t6, t6, 1; or t3, t3, t6
       andi t6, t5, 8; slli t6, t6, 1; or t3, t3, t6
       ori t3, t3, 1
       slli t6, t5, 3; add t6, t6, t2; sd t3, 0(t6)
       li t6, 4096; add t4, t4, t6; addi t5, t5, 1; li t6, 16; blt t5, t6, 1b
    la t4, pages; li t5, 0
    1: sd t5, 0(t4); li t6, 4096; add t4, t4, t6; addi t5, t5, 1; li t6, 16; blt t5, t6, 1b
    srli t3, t0, 12; li t6, 8; slli t6, t6, 60; or t3, t3, t6; csrw satp, t3; sfence.vma
    li t3, -1; csrw pmpaddr0, t3; li t3, 0x1f; csrw pmpcfg0, t3   # PMP: all of memory RWX for S/U (as OpenSBI does)
    li t3, 0x1800; csrc mstatus, t3; li t3, 0x800; csrs mstatus, t3
    la t3, 2f; csrw mepc, t3; mret
    2: li s2, 0x40000000; li s3, 0; li s4, 0
    3: li a0, 0
       ld a0, 0(s2)
       sd s3, 8(s2)
       add s4, s4, a0
       li t0, 4096; add s2, s2, t0; addi s3, s3, 1; li t0, 16; blt s3, t0, 3b
    li t0, 0x40000; csrs sstatus, t0
    li s2, 0x40009000; ld a1, 0(s2); sd a1, 8(s2)
    li s2, 0x4000b000; ld a2, 0(s2); sd a2, 16(s2)
    li t0, 0x40000; csrc sstatus, t0
    li s2, 0x40004000; ld a3, 0(s2)
    li t0, 0x80000; csrs sstatus, t0
    ld a4, 0(s2)
    li s2, 0xc0000000; ld a5, 0(s2)
    li s2, 0x4000d000; jal ra, 4f; j 5f
    4: jr s2
    5: li s2, 0x4000c000; jal ra, 6f; j 7f
    6: jr s2
    7: la a7, 8f; ecall
    8: csrw satp, zero; sfence.vma
    la t0, pt_l0; ld s5, 0(t0); ld s6, 8(t0); ld s7, 24(t0); ld s8, 56(t0); ld s9, 120(t0)
    sub s2, s2, s2
    .section .bss
    .align 12
    pt_root: .space 4096
    pt_l1: .space 4096
    pt_l0: .space 4096
    pages: .space 16 * 4096
    .text`

/** Sv48: the Sv39 tree under one more level (entries 0 and 256 of the new root), plus the high half. */
const SV48 = SV39
  .replace('    la t0, pt_root; la t1, pt_l1; la t2, pt_l0\n', `    la t0, pt_root; la t1, pt_l1; la t2, pt_l0; la s10, pt_top
    srli t3, t0, 12; slli t3, t3, 10; ori t3, t3, 1
    sd t3, 0(s10); li t6, 2048; add t6, t6, s10; sd t3, 0(t6)   # level 3: entries 0 and 256 → the Sv39-style tree
`)
  .replace('srli t3, t0, 12; li t6, 8; slli t6, t6, 60', 'srli t3, s10, 12; li t6, 9; slli t6, t6, 60')
  // Before the jumps into non-executable pages (their fetch faults return past \`j 7f\`).
  .replace('    li s2, 0x4000d000; jal ra, 4f; j 5f\n', `    li s2, 0xffff800040001000; ld s11, 0(s2)        # the high half maps the same pages
    li s2, 0x0000800040001000; ld t5, 0(s2)         # bit 47 set, bits 63..48 clear: non-canonical → page fault
    li s2, 0x4000d000; jal ra, 4f; j 5f
`)
  .replace('    pt_root: .space 4096\n', '    pt_top: .space 4096\n    pt_root: .space 4096\n')

/**
 * Sv57: the Sv48 tree under a fifth level (entries 0, 240, 256 and 511 of the new root: the
 * Sv48 addresses, a low region above 2^53, the bottom of the high half), a petapage with PPN 0, a
 * misaligned petapage and terapage, and addresses beyond ±2^53 for loads, stores and AMOs.
 */
const SV57 = SV48
  .replace('la s10, pt_top\n', `la s10, pt_top; la s9, pt_top5
    srli t3, s10, 12; slli t3, t3, 10; ori t3, t3, 1
    sd t3, 0(s9); sd t3, 1920(s9)
    li t6, 2048; add t6, t6, s9; sd t3, 0(t6); li t6, 4088; add t6, t6, s9; sd t3, 0(t6)   # level 4: entries 0, 240, 256, 511 → the Sv48 tree
    li t3, 0xcf; sd t3, 16(s9)                                      # entry 2: a petapage at PPN 0 (RWX, A, D)
    li t3, (0x80000 << 10) | 0xcf; sd t3, 24(s9)                    # entry 3: a misaligned petapage
    li t3, (0x80000 << 10) | 0xcf; sd t3, 16(s10)                   # level 3 entry 2: a misaligned terapage
`)
  .replace('srli t3, s10, 12; li t6, 9; slli t6, t6, 60', 'srli t3, s9, 12; li t6, 10; slli t6, t6, 60')
  .replace('    li s2, 0x4000d000; jal ra, 4f; j 5f\n', `    li s2, 0x00f0000040007000; ld a6, 0(s2); sd a6, 24(s2)   # above 2^53 (VPN[4] 240): page 7, RWX
    li s2, 0x00f0000040002000; ld s3, 0(s2)         # page 2 is W without R: a page fault, the exact address in mtval
    li s2, 0xff00000040003000; li t0, 5; amoadd.d t1, t0, (s2); ld t2, 0(s2)   # the high half, bit 56 set
    li s2, 0xff00000040003008; lr.d t3, (s2); sc.d t4, t0, (s2); ld t6, 0(s2)
    li s2, 0x0100000040001000; ld s3, 0(s2)         # bits 63..57 clear, bit 56 set: non-canonical → page fault
    li s2, 0xfe00000040001000; sd t1, 0(s2)         # bit 56 clear, bits 63..57 set: non-canonical → page fault
    la s2, pages; li t0, 0x0002000000005000; add s2, s2, t0; ld gp, 0(s2)   # through the petapage (PPN 0): page 5
    li t0, 0x0001000000000000; add s2, s2, t0; ld tp, 0(s2)   # the misaligned petapage → page fault
    li s2, 0x0000010040001000; ld s3, 0(s2)         # the misaligned terapage → page fault
    li s2, 0x4000d000; jal ra, 4f; j 5f
`)
  .replace('    pt_top: .space 4096\n', '    pt_top5: .space 4096\n    pt_top: .space 4096\n')

const cases: Record<string, string> = {
  'RV64I arithmetic and logic': `
    li a0, 0x123456789abcdef0
    li a1, -77
    add a2, a0, a1; sub a3, a0, a1; xor a4, a0, a1; or a5, a0, a1; and a6, a0, a1
    slt a7, a1, a0; sltu s2, a1, a0; slti s3, a1, -5; sltiu s4, a0, 5
    sll s5, a0, a1; srl s6, a0, a1; sra s7, a1, a1; slli s8, a0, 63; srli s9, a1, 1; srai s10, a1, 3
    addw s11, a0, a1; subw t3, a0, a1; sllw t4, a0, a1; srlw t5, a1, a1; sraw t6, a1, a0
    addiw t0, a0, -1; slliw t1, a1, 31; srliw t2, a1, 3; sraiw gp, a1, 17
    lui tp, 0xfffff; auipc s0, 0; sub s0, s0, s0`,
  'branches and jumps': `
    li a0, 3; li a1, -3; li a2, 0
    1: addi a2, a2, 1; addi a0, a0, -1; bnez a0, 1b
    blt a1, a0, 2f; addi a2, a2, 100
    2: bltu a1, a0, 3f; addi a2, a2, 1000
    3: bge a0, a1, 4f; addi a2, a2, 300
    4: bgeu a0, a1, 5f; addi a2, a2, 7
    5: jal a3, 6f; addi a2, a2, 9
    6: la a4, 7f; jalr a5, 0(a4); addi a2, a2, 11
    7: sub a3, a3, a3; sub a5, a5, a5; sub a4, a4, a4`,
  'RV64M': `
    li a0, 0x7fffffffffffffff; li a1, -2; li a2, 0; li a3, -1; li a4, 0x8000000000000000
    mul s2, a0, a1; mulh s3, a0, a1; mulhu s4, a0, a1; mulhsu s5, a1, a0
    div s6, a0, a1; divu s7, a0, a1; rem s8, a0, a1; remu s9, a1, a0
    div s10, a0, a2; rem s11, a0, a2; divu t3, a0, a2; remu t4, a0, a2
    div t5, a4, a3; rem t6, a4, a3
    mulw t0, a0, a1; divw t1, a4, a3; divuw t2, a1, a1; remw gp, a1, a2; remuw tp, a0, a1`,
  'loads and stores, misaligned too': `
    la s1, scratch
    li a0, 0x8899aabbccddeeff
    sd a0, 0(s1); sw a0, 8(s1); sh a0, 12(s1); sb a0, 14(s1)
    ld a1, 0(s1); lw a2, 4(s1); lwu a3, 4(s1); lh a4, 6(s1); lhu a5, 6(s1); lb a6, 7(s1); lbu a7, 7(s1)
    sd a0, 17(s1); ld s2, 17(s1); lw s3, 19(s1); sw a0, 33(s1); ld s4, 32(s1)
    sub s1, s1, s1`,
  'atomics': `
    la s1, scratch
    li a0, 10; sd a0, 0(s1); sw a0, 8(s1)
    li a1, 7
    amoadd.d a2, a1, (s1); amoswap.d a3, a1, (s1); amoxor.d a4, a0, (s1); amoor.d a5, a1, (s1); amoand.d a6, a0, (s1)
    li a7, -5
    amomin.d s2, a7, (s1); amomax.d s3, a1, (s1); amominu.d s4, a7, (s1); amomaxu.d s5, a7, (s1)
    addi s0, s1, 8
    amoadd.w s6, a7, (s0); amomaxu.w s7, a7, (s0)
    lr.d s8, (s1); sc.d s9, a1, (s1); sc.d s10, a1, (s1); ld s11, 0(s1)
    lr.w t3, (s0); sc.w t4, a0, (s0); lw t5, 8(s1)
    sub s1, s1, s1; sub s0, s0, s0`,
  'compressed': `
    c.li a0, 17; c.addi a0, -3; c.slli a0, 5; c.mv a1, a0; c.add a1, a0; c.srli a1, 2; c.srai a1, 1; c.andi a1, 15
    c.li a2, -1; c.sub a2, a0; c.xor a2, a1; c.or a2, a0; c.and a2, a1; c.addw a2, a0; c.subw a2, a1; c.addiw a2, 3
    c.lui a3, 0x1f
    la s1, scratch
    c.sd a0, 8(s1); c.sw a1, 4(s1); c.ld a4, 8(s1); c.lw a5, 4(s1)
    c.addi16sp sp, -32; c.sdsp a0, 8(sp); c.ldsp s2, 8(sp); c.swsp a1, 4(sp); c.lwsp s3, 4(sp); c.addi16sp sp, 32
    c.addi4spn s0, sp, 16; sub s0, s0, sp
    c.beqz a2, 1f; c.li s4, 1
    1: c.bnez a2, 2f; c.li s4, 2
    2: c.j 3f; c.li s4, 3
    3: sub s1, s1, s1`,
  'Zba Zbb Zbs': `
    li a0, 0x00f0f0f00000ff01; li a1, 0xfedcba9876543210; li a2, 13
    sh1add s2, a0, a1; sh2add s3, a0, a1; sh3add s4, a0, a1; add.uw s5, a1, a0; sh1add.uw s6, a1, a0; slli.uw s7, a1, 7
    andn s8, a1, a0; orn s9, a0, a1; xnor s10, a0, a1; clz s11, a0; ctz t3, a0; cpop t4, a1
    clzw t5, a0; ctzw t6, a1; cpopw t0, a1
    max t1, a0, a1; maxu t2, a0, a1; min gp, a0, a1; minu tp, a0, a1
    sext.b a3, a1; sext.h a4, a1; zext.h a5, a1
    rol a6, a1, a2; ror a7, a1, a2; rori s0, a1, 40; rolw s1, a1, a2; rorw ra, a1, a2
    orc.b a0, a0; rev8 a2, a1`,
  'Zbs and rotates by register': `
    li a0, 0x8000000000000001; li a1, 63; li a2, 5
    bclr s2, a0, a1; bext s3, a0, a1; binv s4, a0, a2; bset s5, a0, a2
    bclri s6, a0, 0; bexti s7, a0, 63; binvi s8, a0, 40; bseti s9, a0, 3
    roriw s10, a0, 5`,
  'traps: illegal, ecall, ebreak, access faults, CSRs': `
    .word 0xffffffff
    .word 0x00000000
    ecall
    ebreak
    c.ebreak
    li a0, 0x90000000
    ld a1, 0(a0)
    sd a1, 0(a0)
    csrr a2, mhartid
    csrr a3, mcycle
    sub a3, a3, a3
    csrr a4, 0x7c0
    csrw misa, zero
    csrr a5, mvendorid
    csrr a6, mie
    li a7, 0x80
    csrs mie, a7
    csrr s2, mie
    csrw mie, zero
    csrr s3, mscratch
    sub s3, s3, s3
    li s4, 0x222
    csrw mideleg, s4
    csrr s5, mideleg
    li s6, 0xb1ff
    csrw medeleg, s6
    csrr s7, medeleg
    csrw mideleg, zero
    csrw medeleg, zero
    jal ra, 1f
    j 2f
    1: li t0, 0x90000000
    jr t0
    2: sub a0, a0, a0`,
  'Sv39: page walks with every R/W/X/U combination, A/D updates, SUM, MXR, superpages': SV39,
  'Sv48: a fourth level, the high half of the address space, non-canonical addresses': SV48,
  'PMP: TOR, NA4, NAPOT, a locked entry, S-mode checks with the MMU off': `
    la s1, pmp_area
    li a0, 0; li a1, 0; li a2, 0; li a3, 0; li a4, 0; li a5, 0; li a6, 0
    addi t0, s1, 16; srli t0, t0, 2; csrw pmpaddr0, t0          # 0: locked NA4 at +16, no access (M too)
    srli t0, s1, 2; csrw pmpaddr1, t0                           # 1: NA4 at +0, read-only
    li t1, 4096; add t0, s1, t1; srli t0, t0, 2; ori t0, t0, 0x1ff; csrw pmpaddr2, t0   # 2: NAPOT 4 KiB at +4096, RW
    li t1, 8192; add t0, s1, t1; srli t0, t0, 2; csrw pmpaddr3, t0                      # 3: OFF, the TOR base
    li t1, 12288; add t0, s1, t1; srli t0, t0, 2; csrw pmpaddr4, t0                     # 4: TOR [+8192, +12288), no access
    li t0, -1; csrw pmpaddr5, t0                                                        # 5: NAPOT everything, RWX
    li t0, 0x1f08001b1190; csrw pmpcfg0, t0
    csrr s2, pmpcfg0; csrw pmpaddr0, zero; csrr s3, pmpaddr0    # the locked entry ignores writes
    ld a0, 16(s1)                                               # M-mode against the locked entry: fault
    li t3, 0x1800; csrc mstatus, t3; li t3, 0x800; csrs mstatus, t3
    la t3, 2f; csrw mepc, t3; mret
    2: lw a1, 0(s1)                                             # S: read-only word
       sw a1, 0(s1)                                             # store access fault
       lw a2, 4(s1)                                             # past the NA4 word: entry 5
       li t1, 4096; add t2, s1, t1; sd t1, 8(t2); ld a3, 8(t2)  # NAPOT RW
       li t1, 8192; add t2, s1, t1; ld a4, 0(t2)                # TOR, no access: load access fault
       li t1, 12288; add t2, s1, t1; ld a5, 0(t2)               # entry 5
       ld a6, 16(s1)                                            # locked, no access
    la a7, 8f; ecall
    8: sub s1, s1, s1
    .section .bss
    .align 12
    pmp_area: .space 16384
    .text`,
}

describe.skipIf(!toolsPresent())('the hart against QEMU (differential)', () => {
  for (const [name, body] of Object.entries(cases)) {
    it(name, () => {
      const { qemu, diff } = compare(body)
      expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/) // QEMU ran the whole harness
      expect(diff).toEqual([])
    })
  }

  // Our hart offers Sv57 only as an option (HartOptions.sv57); QEMU's rv64 always does.
  it('Sv57: a fifth level, petapages, addresses beyond ±2^53 (sv57 on)', () => {
    const { qemu, diff } = compare(SV57, { sv57: true })
    expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/)
    expect(diff).toEqual([])
  })

  it('random instruction streams (fast-check)', () => {
    const regs = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 's2', 's3', 's4', 's5']
    const reg = fc.constantFrom(...regs)
    const rr = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw', 'mul', 'mulh', 'mulhu', 'mulhsu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'divuw', 'remw', 'remuw', 'sh1add', 'sh2add', 'sh3add', 'andn', 'orn', 'xnor', 'max', 'maxu', 'min', 'minu', 'rol', 'ror', 'rolw', 'rorw', 'bclr', 'bext', 'binv', 'bset', 'add.uw']
    const ri = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw']
    const sh = ['slli', 'srli', 'srai', 'rori', 'bclri', 'bexti', 'binvi', 'bseti']
    // ctzw of a value whose low word is zero: QEMU 7.2 counts on into the high word (0x2_0000_0000
    // gives 33; Zbb: "if rs1[31:0] is zero, the result is 32", as ours gives; found by this
    // property, seed -1706207948). So the streams give ctzw a low word with bit 31 set (what it
    // counts is then below 32 on both) and ext.test.ts checks the zero case against the spec.
    const un = ['clz', 'ctz', 'cpop', 'clzw', 'ctzw', 'cpopw', 'sext.b', 'sext.h', 'zext.h', 'orc.b', 'rev8']
    const unary = (o: string, d: string, a: string) => (o === 'ctzw' ? `bseti ${d}, ${a}, 31; ctzw ${d}, ${d}` : `${o} ${d}, ${a}`)
    const ins = fc.oneof(
      fc.tuple(fc.constantFrom(...rr), reg, reg, reg).map(([o, d, a, b]) => `${o} ${d}, ${a}, ${b}`),
      fc.tuple(fc.constantFrom(...ri), reg, reg, fc.integer({ min: -2048, max: 2047 })).map(([o, d, a, i]) => `${o} ${d}, ${a}, ${i}`),
      fc.tuple(fc.constantFrom(...sh), reg, reg, fc.nat(63)).map(([o, d, a, i]) => `${o} ${d}, ${a}, ${i}`),
      fc.tuple(fc.constantFrom(...un), reg, reg).map(([o, d, a]) => unary(o, d, a)),
      fc.tuple(reg, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })).map(([d, v]) => `li ${d}, 0x${v.toString(16)}`),
      fc.tuple(fc.constantFrom('sd', 'sw', 'sh', 'sb'), reg, fc.nat(500)).map(([o, r, off]) => `${o} ${r}, ${off}(s1)`),
      fc.tuple(fc.constantFrom('ld', 'lw', 'lwu', 'lh', 'lhu', 'lb', 'lbu'), reg, fc.nat(500)).map(([o, r, off]) => `${o} ${r}, ${off}(s1)`),
      fc.tuple(fc.constantFrom('beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu'), reg, reg).map(([o, a, b]) => `${o} ${a}, ${b}, 1f; addi a0, a0, 1; 1:`),
      fpInstruction, // F/D mixed in (same integer registers; f0–f31 start from the integer seeds below)
    )
    fc.assert(
      fc.property(fc.array(ins, { minLength: 5, maxLength: 60 }), (program) => {
        const fpInit = Array.from({ length: 32 }, (_, i) => `fmv.d.x f${i}, ${regs[i % regs.length]}`)
        const body = ['la s1, scratch', ...regs.map((r, i) => `li ${r}, ${(0x9e3779b97f4a7c15n * BigInt(i + 1)) & ((1n << 64n) - 1n)}`), ...fpInit, ...program, 'sub s1, s1, s1'].join('\n')
        const { diff } = compare(body)
        expect(diff).toEqual([])
      }),
      { numRuns: 40 },
    )
  })
})
