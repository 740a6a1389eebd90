import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DOUBLES, HALVES, INTS, SINGLES, cross, table } from './fp-values.js'
import { compare, toolsPresent } from './runner.js'
import { fpHalfInstruction, fpHalfValue, fpSetup } from './fp-gen.js'

/**
 * Zfh and Zfhmin against QEMU 7.2 (`-cpu rv64,Zfh=true`): every FP register's raw 64 bits (so
 * NaN-boxing of halves shows), fcsr, mstatus.FS/SD, the integer registers and the trap log
 * must match. The cross-product cases fold each result and its flags into one register per
 * instruction, in every rounding mode where the instruction has one.
 */
const ZFH = { qemuCpu: ',Zfh=true' } // QEMU 7.2 spells the property with a capital
const nh = HALVES.length
const nd = DOUBLES.length
const ns = SINGLES.length
const ni = INTS.length
const H = table('hvals', HALVES)
const H3vals = HALVES.filter((_, i) => i % 2 === 0)
const H3 = table('hvals3', H3vals)
const D = table('dvals', DOUBLES)
const S = table('svals', SINGLES)
const I = table('ivals', INTS)

const cases: Record<string, string> = {
  'H: add, sub, mul, div over special values (and unboxed operands) in every rounding mode': `${H}
    ${cross('fadd.h fa3, fa0, fa1', 2, 'hvals', nh, 'a1')}
    ${cross('fsub.h fa3, fa0, fa1', 2, 'hvals', nh, 'a2')}
    ${cross('fmul.h fa3, fa0, fa1', 2, 'hvals', nh, 'a3')}
    ${cross('fdiv.h fa3, fa0, fa1', 2, 'hvals', nh, 'a4')}`,
  'H: sqrt, min/max, sign injection, compares, fclass': `${H}
    ${cross('fsqrt.h fa3, fa0', 1, 'hvals', nh, 'a1')}
    ${cross('fmin.h fa3, fa0, fa1', 2, 'hvals', nh, 'a3', { rms: [0] })}
    ${cross('fmax.h fa3, fa0, fa1', 2, 'hvals', nh, 'a4', { rms: [0] })}
    ${cross('fsgnj.h fa3, fa0, fa1; fsgnjn.h fa4, fa0, fa1; fsgnjx.h fa5, fa0, fa1', 2, 'hvals', nh, 'a7', { rms: [0], post: 'fmv.x.d t3, fa4; fmv.x.d t4, fa5; slli t4, t4, 7; add t3, t3, t4; xor t1, t1, t3' })}
    ${cross('feq.h t1, fa0, fa1; flt.h t3, fa0, fa1; fle.h t4, fa0, fa1; slli t3, t3, 1; slli t4, t4, 2; or t1, t1, t3; or t1, t1, t4', 2, 'hvals', nh, 's4', { rms: [0], intResult: true })}
    ${cross('fclass.h t1, fa0', 1, 'hvals', nh, 'gp', { rms: [0], intResult: true })}`,
  'H: fused multiply-add, all four, every rounding mode': `${H3}
    ${cross('fmadd.h fa3, fa0, fa1, fa2', 3, 'hvals3', H3vals.length, 'a1')}
    ${cross('fmsub.h fa3, fa0, fa1, fa2', 3, 'hvals3', H3vals.length, 'a2')}
    ${cross('fnmsub.h fa3, fa0, fa1, fa2', 3, 'hvals3', H3vals.length, 'a3')}
    ${cross('fnmadd.h fa3, fa0, fa1, fa2', 3, 'hvals3', H3vals.length, 'a4')}`,
  'H: conversions to and from integers (saturation, NaN, rounding, flags)': `${H}${I}
    ${cross('fcvt.w.h t1, fa0', 1, 'hvals', nh, 'a1', { intResult: true })}
    ${cross('fcvt.wu.h t1, fa0', 1, 'hvals', nh, 'a2', { intResult: true })}
    ${cross('fcvt.l.h t1, fa0', 1, 'hvals', nh, 'a3', { intResult: true })}
    ${cross('fcvt.lu.h t1, fa0', 1, 'hvals', nh, 'a4', { intResult: true })}
    ${cross('fcvt.h.w fa3, t3', 1, 'ivals', ni, 'a5', { intSource: true })}
    ${cross('fcvt.h.wu fa3, t3', 1, 'ivals', ni, 'a6', { intSource: true })}
    ${cross('fcvt.h.l fa3, t3', 1, 'ivals', ni, 'a7', { intSource: true })}
    ${cross('fcvt.h.lu fa3, t3', 1, 'ivals', ni, 's3', { intSource: true })}`,
  'Zfhmin: conversions between H and S/D, moves': `${H}${S}${D}${I}
    ${cross('fcvt.s.h fa3, fa0', 1, 'hvals', nh, 'a1')}
    ${cross('fcvt.d.h fa3, fa0', 1, 'hvals', nh, 'a2')}
    ${cross('fcvt.h.s fa3, fa0', 1, 'svals', ns, 'a3')}
    ${cross('fcvt.h.d fa3, fa0', 1, 'dvals', nd, 'a4')}
    ${cross('fcvt.h.s fa3, fa0', 1, 'hvals', nh, 'a5')}
    ${cross('fcvt.h.d fa3, fa0', 1, 'hvals', nh, 'a6')}
    ${cross('fmv.x.h t1, fa0; fmv.h.x fa3, t1; fmv.x.d t3, fa3; xor t1, t1, t3', 1, 'hvals', nh, 'a7', { intResult: true, rms: [0] })}
    ${cross('fmv.h.x fa3, t3; fmv.x.d t1, fa3; fmv.x.h t4, fa3; xor t1, t1, t4', 1, 'ivals', ni, 's3', { intResult: true, intSource: true, rms: [0] })}`,
  'flh/fsh: NaN-boxing, raw transfers, misaligned; reserved rounding modes; FS Off': `
    la s1, scratch
    li a0, 0x123456789abc7c01; sd a0, 0(s1)
    flh ft0, 0(s1); flh ft1, 2(s1); flh ft2, 6(s1); flh ft3, 3(s1)
    fsh ft0, 16(s1); fsh ft1, 19(s1); ld a1, 16(s1); ld a2, 18(s1)
    fmv.x.d a3, ft0; fmv.x.d a4, ft3; fmv.x.h a5, ft2
    li t0, 0x3ff0000000000000; fmv.d.x ft4, t0; fsh ft4, 24(s1); lhu a6, 24(s1); fmv.x.h a7, ft4
    fadd.h ft5, ft0, ft0; fclass.h s2, ft4
    .insn r 0x53, 5, 0x02, ft6, ft1, ft1
    .insn r 0x53, 6, 0x22, ft7, ft1, x0
    .insn r 0x53, 5, 0x20, ft8, ft1, x2
    .insn r4 0x43, 6, 2, ft9, ft1, ft1, ft1
    .insn r 0x53, 0, 0x03, ft10, ft1, ft1
    csrwi frm, 5; fmul.h ft11, ft1, ft1; fcvt.s.h fs0, ft1; fsgnj.h fs1, ft1, ft1; fmv.x.h s3, ft1; csrwi frm, 0
    csrr s4, fcsr
    li t0, 0x6000; csrc mstatus, t0
    flh fs2, 0(s1)
    fsh fs2, 0(s1)
    fmv.h.x fs3, zero
    fmv.x.h s5, ft0
    li t0, 0x2000; csrs mstatus, t0; csrr s6, mstatus; fcvt.h.w fs4, s6; csrr s7, mstatus
    sub s1, s1, s1`,
}

describe.skipIf(!toolsPresent())('Zfh and Zfhmin against QEMU (differential)', () => {
  for (const [name, body] of Object.entries(cases)) {
    it(name, () => {
      const { qemu, diff } = compare(body, ZFH)
      expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/) // QEMU ran the whole harness
      expect(diff).toEqual([])
    })
  }

  it('random H/S/D instruction streams with integer traffic (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fpHalfInstruction, { minLength: 5, maxLength: 80 }), fc.array(fpHalfValue, { minLength: 32, maxLength: 32 }), (program, seeds) => {
        const body = [fpSetup(seeds), ...program, 'sub s1, s1, s1'].join('\n')
        const { diff } = compare(body, ZFH)
        expect(diff).toEqual([])
      }),
      { numRuns: Number(process.env.HONK_DIFF_RUNS ?? 40) }, // HONK_DIFF_RUNS=2000 for a long hunt
    )
  })
})
