import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ECALL, J_SELF, R, SFENCE_VMA, SRET, WFI, addi, beq, bne, jal, ld, loadAddr, loadImm32, lui, sd, words } from './encode.js'

/** Executes lui/addi/slli words the way a hart would (64-bit, sign-extending): the encoders' meaning, independently of their bits. */
function evalLi(ws: number[]): bigint {
  let r = 0n
  for (const w of ws) {
    const op = w & 0x7f
    if (op === 0x37) r = BigInt.asIntN(64, BigInt((w & 0xfffff000) | 0) )
    else if (op === 0x13 && ((w >>> 12) & 7) === 0) r = BigInt.asIntN(64, r + BigInt(w >> 20))
    else if (op === 0x13 && ((w >>> 12) & 7) === 1) r = BigInt.asIntN(64, r << BigInt((w >>> 20) & 63))
    else throw new Error(`unexpected word 0x${w.toString(16)}`)
  }
  return BigInt.asUintN(64, r)
}

/** The offset a B- or J-type word encodes. */
const bOff = (w: number): number => (((w >> 31) & 1) << 12 | ((w >>> 7) & 1) << 11 | ((w >>> 25) & 0x3f) << 5 | ((w >>> 8) & 0xf) << 1) << 19 >> 19
const jOff = (w: number): number => (((w >> 31) & 1) << 20 | ((w >>> 12) & 0xff) << 12 | ((w >>> 20) & 1) << 11 | ((w >>> 21) & 0x3ff) << 1) << 11 >> 11

describe('the mini assembler (Go honk encode.go)', () => {
  it('fixed words: ecall, wfi, sret, sfence.vma, j .', () => {
    expect([ECALL, WFI, SRET, SFENCE_VMA, J_SELF]).toEqual([0x73, 0x10500073, 0x10200073, 0x12000073, 0x6f])
  })

  it('loadImm32 round-trips 31-bit values (7 chosen + random), always lui+addi', () => {
    for (const v of [0, 1, 0x7ff, 0x800, 0xfff, 0x1234_5678, 0x7fff_f7ff]) {
      const ws = loadImm32(R.t0, v)
      expect(ws).toHaveLength(2)
      expect(evalLi(ws)).toBe(BigInt(v))
    }
    fc.assert(fc.property(fc.integer({ min: 0, max: 0x7fff_f7ff }), (v) => evalLi(loadImm32(R.a0, v)) === BigInt(v)))
  })

  it('loadAddr builds (1 << 31) + off without lui sign extension', () => {
    expect(evalLi(loadAddr(R.t0, 0x400))).toBe(0x8000_0400n)
    expect(evalLi(loadAddr(R.t0, 0))).toBe(0x8000_0000n)
  })

  it('jal/beq/bne offsets: -4, ±100, 2044, -2048, and random even offsets', () => {
    for (const off of [-4, 100, -100, 2044, -2048]) {
      expect(jOff(jal(0, off))).toBe(off)
      expect(bOff(beq(R.a1, 0, off))).toBe(off)
      expect(bOff(bne(R.t1, R.t3, off))).toBe(off)
    }
    expect(jal(0, -4)).toBe(0xffdff06f)
    fc.assert(fc.property(fc.integer({ min: -2048, max: 2047 }), (h) => bOff(beq(1, 2, h * 2)) === h * 2 && jOff(jal(1, h * 2)) === h * 2))
  })

  it('ld/sd words (checked against the spec encoding)', () => {
    expect(ld(R.t1, R.t0, 8)).toBe(0x0082b303) // ld t1, 8(t0)
    expect(sd(R.t1, R.t0, 8)).toBe(0x0062b423) // sd t1, 8(t0)
    expect(sd(R.t1, R.t0, -8)).toBe(0xfe62bc23) // sd t1, -8(t0)
    expect(addi(R.a7, 0, 8)).toBe(0x00800893) // li a7, 8
    expect(lui(R.t0, 0x10000)).toBe(0x100002b7)
  })

  it('rejects immediates that do not fit', () => {
    expect(() => addi(1, 1, 2048)).toThrow(/12 signed bits/)
    expect(() => beq(1, 1, 3)).toThrow(/odd/)
    expect(() => loadImm32(1, 0x8000_0000)).toThrow(/31-bit/)
    expect(() => loadImm32(1, 0x7fff_f800)).toThrow(/31-bit/) // lui 0x80000 would sign-extend
    expect(words([1, 2]).length).toBe(8)
  })
})
