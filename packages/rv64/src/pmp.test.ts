import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PMP_R, PMP_W, PMP_X, Pmp } from './pmp.js'

const cfg = (entries: number[]) => entries.reduce((v, b, i) => v | (BigInt(b) << BigInt(8 * i)), 0n)

describe('PMP', () => {
  it('a NAPOT entry covers exactly its naturally aligned power-of-two range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 30 }), fc.integer({ min: 0, max: 1 << 16 }), (log2, slot) => {
        const size = 2 ** log2
        const base = 0x8000_0000 + slot * size
        const p = new Pmp()
        p.writeAddr(0, BigInt(base / 4) | BigInt(size / 8 - 1))
        p.writeCfg(0, cfg([0x18 | PMP_R]))
        expect(p.check(base, 1, PMP_R, 1)).toBe(true)
        expect(p.check(base + size - 1, 1, PMP_R, 1)).toBe(true)
        expect(p.check(base - 1, 1, PMP_R, 1)).toBe(false) // no match: S fails
        expect(p.check(base + size, 1, PMP_R, 1)).toBe(false)
        expect(p.check(base + size - 4, 8, PMP_R, 1)).toBe(false) // a partial match fails
        expect(p.check(base, 1, PMP_W, 1)).toBe(false)
        expect(p.check(base - 1, 1, PMP_W, 3)).toBe(true) // M passes without a match
      }),
    )
  })

  it('locked entries bind M-mode and ignore writes, including the base of a locked TOR', () => {
    const p = new Pmp()
    p.writeAddr(0, 0x1000n)
    p.writeAddr(1, 0x2000n)
    p.writeCfg(0, cfg([0x00, 0x80 | 0x08 | PMP_X])) // entry 1: locked TOR [0x4000, 0x8000), X only
    expect(p.check(0x4000, 4, PMP_R, 3)).toBe(false)
    expect(p.check(0x4000, 4, PMP_X, 3)).toBe(true)
    p.writeAddr(0, 0n) // the base of a locked TOR
    p.writeAddr(1, 0n)
    p.writeCfg(0, cfg([0x1f, 0x1f]))
    expect(p.addr[0]).toBe(0x1000n)
    expect(p.addr[1]).toBe(0x2000n)
    expect(p.cfgByte(1)).toBe(0x80 | 0x08 | PMP_X)
    expect(p.cfgByte(0)).toBe(0x1f) // entry 0 itself is not locked
  })

  it('with no active entry everything passes; page permissions are uniform or 0', () => {
    const p = new Pmp()
    expect(p.check(0, 8, PMP_W, 0)).toBe(true)
    expect(p.pagePerms(0x8000_0000)).toBe(PMP_R | PMP_W | PMP_X)
    p.writeAddr(0, BigInt(0x8000_0000 / 4) | 0x1n) // NAPOT 16 bytes
    p.writeAddr(1, (1n << 54n) - 1n) // everything
    p.writeCfg(0, cfg([0x18 | PMP_R, 0x1f]))
    expect(p.pagePerms(0x8000_0000)).toBe(0) // part of the page is read-only
    expect(p.pagePerms(0x8000_1000)).toBe(PMP_R | PMP_W | PMP_X)
  })
})
