/**
 * The interpreter's 64-bit arithmetic on 32-bit halves (halves.ts) against BigInt, the
 * definition: every operation, any operands (including rd equal to a source), 2 000 runs each.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { add64, lt64, ltu64, mul64, setNumber, setWord, sll64, sra64, srl64, sub64 } from './halves.js'

const u64 = (v: bigint) => BigInt.asUintN(64, v)
const s64 = (v: bigint) => BigInt.asIntN(64, v)

/** Three registers (indices 0, 2, 4 of the low words) holding a, b and a destination. */
function regs(a: bigint, b: bigint): { xw: Int32Array; x: BigInt64Array } {
  const x = new BigInt64Array(3)
  x[0] = a
  x[1] = b
  return { xw: new Int32Array(x.buffer), x }
}

const word = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
// Values near the carry and sign boundaries are where halves go wrong.
const edge = fc.constantFrom(0n, 1n, -1n, 0xffff_ffffn, 0x1_0000_0000n, 0x7fff_ffffn, -0x8000_0000n, (1n << 63n) - 1n, -(1n << 63n))
const value = fc.oneof(word, edge)
const imm = fc.oneof(fc.integer({ min: -2048, max: 2047 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
const dest = fc.constantFrom(0, 2, 4) // rd = a, rd = b, or a third register

describe('64-bit arithmetic on register halves equals BigInt', () => {
  it('add64 with a register and with a sign-extended immediate', () => {
    fc.assert(
      fc.property(value, value, imm, dest, (a, b, i, rd) => {
        const r = regs(a, b)
        add64(r.xw, rd, 0, r.xw[2]!, r.xw[3]!)
        expect(r.x[rd >> 1]).toBe(s64(a + b))
        const q = regs(a, b)
        add64(q.xw, rd, 0, i, i >> 31)
        expect(q.x[rd >> 1]).toBe(s64(a + BigInt(i)))
      }),
      { numRuns: 2000 },
    )
  })

  it('mul64: the low 64 bits of the product', () => {
    fc.assert(
      fc.property(value, value, dest, (a, b, rd) => {
        const r = regs(a, b)
        mul64(r.xw, rd, 0, 2)
        expect(r.x[rd >> 1]).toBe(s64(a * b))
      }),
      { numRuns: 2000 },
    )
  })

  it('sub64', () => {
    fc.assert(
      fc.property(value, value, dest, (a, b, rd) => {
        const r = regs(a, b)
        sub64(r.xw, rd, 0, 2)
        expect(r.x[rd >> 1]).toBe(s64(a - b))
      }),
      { numRuns: 2000 },
    )
  })

  it('shifts by every amount 0..63', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 63 }), dest, (a, sh, rd) => {
        const r = regs(a, 0n)
        sll64(r.xw, rd, 0, sh)
        expect(r.x[rd >> 1]).toBe(s64(a << BigInt(sh)))
        const s = regs(a, 0n)
        srl64(s.xw, rd, 0, sh)
        expect(s.x[rd >> 1]).toBe(s64(u64(a) >> BigInt(sh)))
        const t = regs(a, 0n)
        sra64(t.xw, rd, 0, sh)
        expect(t.x[rd >> 1]).toBe(a >> BigInt(sh))
      }),
      { numRuns: 2000 },
    )
  })

  it('signed and unsigned less-than', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const r = regs(a, b)
        expect(lt64(r.xw, 0, r.xw[2]!, r.xw[3]!)).toBe(a < b)
        expect(ltu64(r.xw, 0, r.xw[2]!, r.xw[3]!)).toBe(u64(a) < u64(b))
      }),
      { numRuns: 2000 },
    )
  })

  it('setNumber inside ±2^53 and setWord sign-extends', () => {
    fc.assert(
      fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n, w) => {
        const r = regs(0n, 0n)
        setNumber(r.xw, 4, n)
        expect(r.x[2]).toBe(BigInt(n))
        setWord(r.xw, 4, w)
        expect(r.x[2]).toBe(BigInt(w))
      }),
      { numRuns: 2000 },
    )
  })
})
