import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMmio, decodeTransformed, signExtend } from './decode.js'
import { lb, lbu, ld, lw, sb, sd, sw } from './encode.js'

describe('decodeMmio (Go honk DecodeMMIO, and what it could not: compressed and FP)', () => {
  it('11 valid 32-bit encodings', () => {
    const i = (f3: number, rd: number) => ((f3 << 12) | (rd << 7) | 0x03) >>> 0
    expect(decodeMmio(lb(5, 6, 0))).toMatchObject({ store: false, width: 1, reg: 5, signed: true, length: 4 })
    expect(decodeMmio(i(1, 7))).toMatchObject({ store: false, width: 2, reg: 7, signed: true })
    expect(decodeMmio(lw(8, 9, 16))).toMatchObject({ store: false, width: 4, reg: 8, signed: true })
    expect(decodeMmio(ld(31, 1, -8))).toMatchObject({ store: false, width: 8, reg: 31 })
    expect(decodeMmio(lbu(6, 5, 24))).toMatchObject({ store: false, width: 1, reg: 6, signed: false })
    expect(decodeMmio(i(5, 10))).toMatchObject({ store: false, width: 2, reg: 10, signed: false })
    expect(decodeMmio(i(6, 11))).toMatchObject({ store: false, width: 4, reg: 11, signed: false })
    expect(decodeMmio(sb(6, 5, 8))).toMatchObject({ store: true, width: 1, reg: 6 })
    expect(decodeMmio(((1 << 12) | (12 << 20) | 0x23) >>> 0)).toMatchObject({ store: true, width: 2, reg: 12 })
    expect(decodeMmio(sw(0, 5, 0))).toMatchObject({ store: true, width: 4, reg: 0 })
    expect(decodeMmio(sd(17, 2, 2040))).toMatchObject({ store: true, width: 8, reg: 17 })
  })

  it('3 invalid: load funct3 7, store funct3 4, an ALU op', () => {
    expect(decodeMmio((7 << 12) | 0x03)).toBeUndefined()
    expect(decodeMmio((4 << 12) | 0x23)).toBeUndefined()
    expect(decodeMmio(0x00a00513)).toBeUndefined() // li a0, 10
  })

  it('compressed loads and stores (RVC table 16.5/16.6), length 2', () => {
    expect(decodeMmio(0x4188)).toMatchObject({ store: false, width: 4, reg: 10, signed: true, length: 2 }) // c.lw a0, 0(a1)
    expect(decodeMmio(0x6188)).toMatchObject({ store: false, width: 8, reg: 10, length: 2 }) // c.ld a0, 0(a1)
    expect(decodeMmio(0xc188)).toMatchObject({ store: true, width: 4, reg: 10, length: 2 }) // c.sw a0, 0(a1)
    expect(decodeMmio(0xe188)).toMatchObject({ store: true, width: 8, reg: 10, length: 2 }) // c.sd a0, 0(a1)
    expect(decodeMmio(0x4502)).toMatchObject({ store: false, width: 4, reg: 10, length: 2 }) // c.lwsp a0, 0(sp)
    expect(decodeMmio(0x6502)).toMatchObject({ store: false, width: 8, reg: 10, length: 2 }) // c.ldsp a0, 0(sp)
    expect(decodeMmio(0xc02a)).toMatchObject({ store: true, width: 4, reg: 10, length: 2 }) // c.swsp a0, 0(sp)
    expect(decodeMmio(0xe02a)).toMatchObject({ store: true, width: 8, reg: 10, length: 2 }) // c.sdsp a0, 0(sp)
    expect(decodeMmio(0x2188)).toMatchObject({ store: false, width: 8, reg: 10, fp: true, length: 2 }) // c.fld fa0, 0(a1)
    expect(decodeMmio(0x4002)).toBeUndefined() // c.lwsp x0: reserved
    expect(decodeMmio(0x0001)).toBeUndefined() // c.nop
  })

  it('FP loads and stores (FLW/FLD/FSW/FSD)', () => {
    expect(decodeMmio(0x0005a507)).toMatchObject({ store: false, width: 4, reg: 10, fp: true }) // flw fa0, 0(a1)
    expect(decodeMmio(0x00a5b027)).toMatchObject({ store: true, width: 8, reg: 10, fp: true }) // fsd fa0, 0(a1)
  })

  it('htinst: a transformed instruction (bit 0 set; bit 1 clear for a compressed original); pseudoinstructions and 0 are not', () => {
    expect(decodeTransformed(BigInt(lw(8, 0, 0)))).toMatchObject({ store: false, width: 4, reg: 8, length: 4 })
    expect(decodeTransformed(BigInt(lw(8, 0, 0) & ~2))).toMatchObject({ width: 4, reg: 8, length: 2 })
    expect(decodeTransformed(0n)).toBeUndefined()
    expect(decodeTransformed(0x3000n)).toBeUndefined() // the 64-bit VS-stage PTE read pseudoinstruction
  })

  it('never throws, for any 32-bit word', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (w) => {
      const a = decodeMmio(w)
      return a === undefined || ([1, 2, 4, 8].includes(a.width) && a.reg >= 0 && a.reg < 32)
    }))
  })
})

describe('signExtend (Go honk SignExtend)', () => {
  it('9 cases', () => {
    expect(signExtend(0x80n, 1, true)).toBe(0xffff_ffff_ffff_ff80n)
    expect(signExtend(0x80n, 1, false)).toBe(0x80n)
    expect(signExtend(0x1ff7fn, 1, true)).toBe(0x7fn)
    expect(signExtend(0x8000n, 2, true)).toBe(0xffff_ffff_ffff_8000n)
    expect(signExtend(0x1_8000n, 2, false)).toBe(0x8000n)
    expect(signExtend(0x8000_0000n, 4, true)).toBe(0xffff_ffff_8000_0000n)
    expect(signExtend(0x1_7fff_ffffn, 4, true)).toBe(0x7fff_ffffn)
    expect(signExtend(0xffff_ffff_ffff_ffffn, 8, true)).toBe(0xffff_ffff_ffff_ffffn)
    expect(signExtend(0x8000_0000_0000_0000n, 8, false)).toBe(0x8000_0000_0000_0000n)
  })
})
