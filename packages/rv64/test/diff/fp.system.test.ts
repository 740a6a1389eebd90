import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DOUBLES, INTS, SINGLES, cross, table } from './fp-values.js'
import { compare, toolsPresent } from './runner.js'
import { fpInstruction, fpSetup, fpValue } from './fp-gen.js'

/**
 * F and D against QEMU: every FP register (raw bits, so NaN-boxing shows), fcsr, mstatus.FS/SD,
 * the integer registers and the trap log must match. The cross-product cases fold each
 * result and its flags into one register per instruction.
 */
const nd = DOUBLES.length
const ns = SINGLES.length
const ni = INTS.length
const D = table('dvals', DOUBLES)
const S = table('svals', SINGLES)
const I = table('ivals', INTS)
// Smaller tables for the three-operand loops.
const D3 = table('dvals3', DOUBLES.filter((_, i) => i % 3 === 0))
const S3 = table('svals3', SINGLES.filter((_, i) => i % 3 === 0))
const nd3 = DOUBLES.filter((_, i) => i % 3 === 0).length
const ns3 = SINGLES.filter((_, i) => i % 3 === 0).length

const cases: Record<string, string> = {
  'D: add, sub, mul, div over special values in every rounding mode': `${D}
    ${cross('fadd.d fa3, fa0, fa1', 2, 'dvals', nd, 'a1')}
    ${cross('fsub.d fa3, fa0, fa1', 2, 'dvals', nd, 'a2')}
    ${cross('fmul.d fa3, fa0, fa1', 2, 'dvals', nd, 'a3')}
    ${cross('fdiv.d fa3, fa0, fa1', 2, 'dvals', nd, 'a4')}`,
  'S: add, sub, mul, div over special values (and unboxed operands) in every rounding mode': `${S}
    ${cross('fadd.s fa3, fa0, fa1', 2, 'svals', ns, 'a1')}
    ${cross('fsub.s fa3, fa0, fa1', 2, 'svals', ns, 'a2')}
    ${cross('fmul.s fa3, fa0, fa1', 2, 'svals', ns, 'a3')}
    ${cross('fdiv.s fa3, fa0, fa1', 2, 'svals', ns, 'a4')}`,
  'sqrt, min/max, sign injection, compares, fclass': `${D}${S}
    ${cross('fsqrt.d fa3, fa0', 1, 'dvals', nd, 'a1')}
    ${cross('fsqrt.s fa3, fa0', 1, 'svals', ns, 'a2')}
    ${cross('fmin.d fa3, fa0, fa1', 2, 'dvals', nd, 'a3', { rms: [0] })}
    ${cross('fmax.d fa3, fa0, fa1', 2, 'dvals', nd, 'a4', { rms: [0] })}
    ${cross('fmin.s fa3, fa0, fa1', 2, 'svals', ns, 'a5', { rms: [0] })}
    ${cross('fmax.s fa3, fa0, fa1', 2, 'svals', ns, 'a6', { rms: [0] })}
    ${cross('fsgnj.d fa3, fa0, fa1; fsgnjn.d fa4, fa0, fa1; fsgnjx.d fa5, fa0, fa1', 2, 'dvals', nd, 'a7', { rms: [0], post: 'fmv.x.d t3, fa4; fmv.x.d t4, fa5; slli t4, t4, 7; add t3, t3, t4; xor t1, t1, t3' })}
    ${cross('fsgnj.s fa3, fa0, fa1; fsgnjn.s fa4, fa0, fa1; fsgnjx.s fa5, fa0, fa1', 2, 'svals', ns, 's3', { rms: [0], post: 'fmv.x.d t3, fa4; fmv.x.d t4, fa5; slli t4, t4, 7; add t3, t3, t4; xor t1, t1, t3' })}
    ${cross('feq.d t1, fa0, fa1; flt.d t3, fa0, fa1; fle.d t4, fa0, fa1; slli t3, t3, 1; slli t4, t4, 2; or t1, t1, t3; or t1, t1, t4', 2, 'dvals', nd, 's4', { rms: [0], intResult: true })}
    ${cross('feq.s t1, fa0, fa1; flt.s t3, fa0, fa1; fle.s t4, fa0, fa1; slli t3, t3, 1; slli t4, t4, 2; or t1, t1, t3; or t1, t1, t4', 2, 'svals', ns, 's5', { rms: [0], intResult: true })}
    ${cross('fclass.d t1, fa0; fclass.s t3, fa0; slli t3, t3, 16; or t1, t1, t3', 1, 'dvals', nd, 'gp', { rms: [0], intResult: true })}
    ${cross('fclass.s t1, fa0; fclass.d t3, fa0; slli t3, t3, 16; or t1, t1, t3', 1, 'svals', ns, 'tp', { rms: [0], intResult: true })}`,
  'fused multiply-add, all four, both precisions, every rounding mode': `${D3}${S3}
    ${cross('fmadd.d fa3, fa0, fa1, fa2', 3, 'dvals3', nd3, 'a1')}
    ${cross('fmsub.d fa3, fa0, fa1, fa2', 3, 'dvals3', nd3, 'a2')}
    ${cross('fnmsub.d fa3, fa0, fa1, fa2', 3, 'dvals3', nd3, 'a3')}
    ${cross('fnmadd.d fa3, fa0, fa1, fa2', 3, 'dvals3', nd3, 'a4')}
    ${cross('fmadd.s fa3, fa0, fa1, fa2', 3, 'svals3', ns3, 'a5')}
    ${cross('fmsub.s fa3, fa0, fa1, fa2', 3, 'svals3', ns3, 'a6')}
    ${cross('fnmsub.s fa3, fa0, fa1, fa2', 3, 'svals3', ns3, 'a7')}
    ${cross('fnmadd.s fa3, fa0, fa1, fa2', 3, 'svals3', ns3, 's3')}`,
  'conversions to integers: saturation, NaN, rounding, flags': `${D}${S}
    ${cross('fcvt.w.d t1, fa0', 1, 'dvals', nd, 'a1', { intResult: true })}
    ${cross('fcvt.wu.d t1, fa0', 1, 'dvals', nd, 'a2', { intResult: true })}
    ${cross('fcvt.l.d t1, fa0', 1, 'dvals', nd, 'a3', { intResult: true })}
    ${cross('fcvt.lu.d t1, fa0', 1, 'dvals', nd, 'a4', { intResult: true })}
    ${cross('fcvt.w.s t1, fa0', 1, 'svals', ns, 'a5', { intResult: true })}
    ${cross('fcvt.wu.s t1, fa0', 1, 'svals', ns, 'a6', { intResult: true })}
    ${cross('fcvt.l.s t1, fa0', 1, 'svals', ns, 'a7', { intResult: true })}
    ${cross('fcvt.lu.s t1, fa0', 1, 'svals', ns, 's3', { intResult: true })}`,
  'conversions between formats and from integers': `${D}${S}${I}
    ${cross('fcvt.s.d fa3, fa0', 1, 'dvals', nd, 'a1')}
    ${cross('fcvt.d.s fa3, fa0', 1, 'svals', ns, 'a2')}
    ${cross('fcvt.s.w fa3, t3', 1, 'ivals', ni, 'a3', { intSource: true })}
    ${cross('fcvt.s.wu fa3, t3', 1, 'ivals', ni, 'a4', { intSource: true })}
    ${cross('fcvt.s.l fa3, t3', 1, 'ivals', ni, 'a5', { intSource: true })}
    ${cross('fcvt.s.lu fa3, t3', 1, 'ivals', ni, 'a6', { intSource: true })}
    ${cross('fcvt.d.w fa3, t3', 1, 'ivals', ni, 'a7', { intSource: true })}
    ${cross('fcvt.d.wu fa3, t3', 1, 'ivals', ni, 's3', { intSource: true })}
    ${cross('fcvt.d.l fa3, t3', 1, 'ivals', ni, 's4', { intSource: true })}
    ${cross('fcvt.d.lu fa3, t3', 1, 'ivals', ni, 's5', { intSource: true })}
    ${cross('fmv.x.w t1, fa0; fmv.w.x fa3, t1; fmv.x.d t3, fa3; xor t1, t1, t3', 1, 'svals', ns, 'gp', { intResult: true, rms: [0] })}
    ${cross('fmv.d.x fa3, t3; fmv.x.d t1, fa3', 1, 'ivals', ni, 'tp', { intResult: true, intSource: true, rms: [0] })}`,
  'static rounding modes are encoded and honoured': `${D}${S}
    ${['rne', 'rtz', 'rdn', 'rup', 'rmm']
      .map(
        (rm, i) => `
    ${cross(`fadd.d fa3, fa0, fa1, ${rm}`, 2, 'dvals', nd, ['a1', 'a2', 'a3', 'a4', 'a5'][i]!, { rms: [(i + 2) % 5] })}
    ${cross(`fdiv.s fa3, fa0, fa1, ${rm}; fsqrt.d fa4, fa0, ${rm}; fcvt.l.s t5, fa1, ${rm}`, 2, 'svals', ns, ['a6', 'a7', 's3', 's4', 's5'][i]!, { rms: [(i + 3) % 5], post: 'fmv.x.d t3, fa4; xor t1, t1, t3; slli t5, t5, 3; xor t1, t1, t5' })}`,
      )
      .join('\n')}
    li t5, -7; li t0, 0x3ff0000000000000; fmv.d.x fa0, t0
    .insn r 0x53, 1, 0x69, fs0, t5, x0
    .insn r 0x53, 3, 0x69, fs1, t5, x1
    .insn r 0x53, 2, 0x21, fs2, fa0, x0
    .insn r 0x53, 4, 0x21, fs3, fa0, x0`,
  'loads and stores: NaN-boxing, raw transfers, compressed forms, misaligned': `
    la s1, scratch
    li a0, 0x7f800001; sw a0, 0(s1); li a0, 0x123456789abcdef0; sd a0, 8(s1)
    flw ft0, 0(s1); fld ft1, 8(s1); flw ft2, 8(s1); flw ft3, 12(s1)
    fsw ft1, 16(s1); fsd ft0, 24(s1); ld a1, 16(s1); ld a2, 24(s1)
    fmv.x.w a3, ft1; fmv.x.w a4, ft3; fmv.x.d a5, ft2
    fadd.s ft4, ft1, ft1; fsgnjn.s ft5, ft1, ft1; fsgnj.s ft6, ft3, ft1; fclass.s a6, ft1; fcvt.d.s ft7, ft1; fmin.s fs0, ft1, ft3
    fmv.w.x fs1, a0; fmv.x.d a7, fs1
    fld fs2, 3(s1); fsd fs2, 33(s1); ld s2, 33(s1); flw fs3, 5(s1); fsw fs3, 45(s1); lwu s3, 45(s1)
    c.fld fa0, 8(s1); c.fsd fa0, 48(s1); ld s4, 48(s1)
    c.addi16sp sp, -64; c.fsdsp fa0, 8(sp); c.fldsp ft8, 8(sp); c.fsdsp ft1, 56(sp); c.fldsp fa1, 56(sp); c.addi16sp sp, 64
    sub s1, s1, s1`,
  'fcsr, frm, fflags: fields, accrual, write masks': `
    csrr a0, fcsr; csrwi fflags, 0x1f; csrr a1, fcsr; csrwi frm, 3; csrr a2, fcsr; csrr a3, frm; csrr a4, fflags
    li t0, -1; csrw fcsr, t0; csrr a5, fcsr; csrr a6, frm; csrr a7, fflags
    csrw fcsr, zero; csrrsi s2, fflags, 3; csrrci s3, fflags, 1; csrrw s4, frm, t0; csrr s5, fcsr
    csrw fcsr, zero
    li t0, 0x3ff0000000000000; fmv.d.x ft0, t0; li t0, 3; fcvt.d.w ft1, t0
    fdiv.d ft2, ft0, ft1; frflags s6
    fdiv.d ft3, ft0, fs11; frflags s7
    fsqrt.d ft4, fs10; csrrw s8, fflags, zero
    li t0, 0x7fefffffffffffff; fmv.d.x ft5, t0; fmul.d ft6, ft5, ft5; fsflags s9, zero
    li t0, 0x0010000000000000; fmv.d.x ft7, t0; fmul.d ft8, ft7, ft0; fmul.d ft9, ft7, ft2; frflags s10
    fsflagsi 0; fcvt.w.d t1, ft5; fcvt.w.d t2, ft2; frcsr s11
    fsrmi 1; fadd.d ft10, ft0, ft2; fsrm t3, zero; fadd.d ft11, ft0, ft2; frcsr t4`,
  'reserved rounding modes: static 5/6 and dynamic with frm 5/6/7 are illegal': `
    li t0, 0x3ff0000000000000; fmv.d.x ft0, t0
    .insn r 0x53, 5, 0x01, ft1, ft0, ft0
    .insn r 0x53, 6, 0x00, ft2, ft0, ft0
    .insn r4 0x43, 5, 1, ft3, ft0, ft0, ft0
    csrwi frm, 5; fadd.d ft4, ft0, ft0; fcvt.d.s ft5, ft0; fcvt.w.d a0, ft0; fsgnj.d ft6, ft0, ft0; fmin.d ft7, ft0, ft0; feq.d a1, ft0, ft0
    csrwi frm, 6; fmul.s ft8, ft0, ft0; fmadd.d ft9, ft0, ft0, ft0
    csrwi frm, 7; fsqrt.d ft10, ft0; fclass.d a2, ft0; fmv.x.d a3, ft0
    csrwi frm, 4; fadd.d ft11, ft0, ft0, dyn; csrr a4, fcsr`,
  'mstatus.FS: Off traps every FP access; writes (not reads, not stores) make it Dirty': `
    li t0, 0x6000; csrc mstatus, t0
    fadd.s ft0, ft1, ft2
    flw ft0, 0(sp)
    fsd ft0, 0(sp)
    c.fld fa0, 0(s1)
    fmv.x.d a0, ft0
    csrr a1, fcsr
    csrwi frm, 1
    fsflagsi 1
    csrr a2, mstatus
    li t0, 0x4000; csrs mstatus, t0; csrr a3, mstatus
    la s1, scratch; fsd ft0, 0(s1); fsw ft0, 8(s1); csrr a4, fcsr; frrm a5; csrr a6, mstatus
    feq.d a7, ft0, ft0; fclass.d s2, ft0; fmv.x.w s3, ft0; fcvt.w.d s4, ft0; csrr s5, mstatus
    fmv.w.x ft1, zero; csrr s6, mstatus
    li t0, 0x2000; csrc mstatus, t0; csrr s7, mstatus
    csrw fflags, zero; csrr s8, mstatus
    csrc mstatus, t0; flw ft2, 0(s1); csrr s9, mstatus
    csrc mstatus, t0; csrr s10, sstatus
    li t0, 0x6000; csrc sstatus, t0; csrr s11, mstatus; fmv.d.x ft3, zero
    li t0, 0x2000; csrs sstatus, t0
    sub s1, s1, s1`,
}

describe.skipIf(!toolsPresent())('F and D against QEMU (differential)', () => {
  for (const [name, body] of Object.entries(cases)) {
    it(name, () => {
      const { qemu, diff } = compare(body)
      expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/) // QEMU ran the whole harness
      expect(diff).toEqual([])
    })
  }

  it('random FP instruction streams with integer traffic (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fpInstruction, { minLength: 5, maxLength: 80 }), fc.array(fpValue, { minLength: 32, maxLength: 32 }), (program, seeds) => {
        const body = [fpSetup(seeds), ...program, 'sub s1, s1, s1'].join('\n')
        const { diff } = compare(body)
        expect(diff).toEqual([])
      }),
      { numRuns: Number(process.env.HONK_DIFF_RUNS ?? 40) }, // HONK_DIFF_RUNS=2000 for a long hunt
    )
  })
})
