import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { I, S, words } from './encode.test-helpers.js'
import { CSR, createSystem } from './index.js'
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

  /** Random entries over a 64 KiB stretch of "RAM" at 0x8000_0000 (NAPOT, NA4 and TOR; some locked; R=0 W=1 excluded). */
  const entry = fc.record({
    a: fc.constantFrom(1, 2, 3),
    perm: fc.constantFrom(0, 1, 3, 4, 5, 7),
    lock: fc.boolean(),
    at: fc.integer({ min: -64, max: 0x4000 + 64 }), // in 4-byte units from RAM's start
    ones: fc.integer({ min: 0, max: 12 }),
  })
  const RAM_LO = 0x8000_0000
  const RAM_HI = RAM_LO + 0x1_0000
  function program(p: Pmp, es: { a: number; perm: number; lock: boolean; at: number; ones: number }[]): void {
    es.forEach((e, i) => {
      const word = BigInt(RAM_LO / 4 + e.at)
      p.writeAddr(i, e.a === 3 ? (word & ~((1n << BigInt(e.ones + 1)) - 1n)) | ((1n << BigInt(e.ones)) - 1n) : word)
    })
    p.writeCfg(0, cfg(es.map((e) => (e.a << 3) | e.perm | (e.lock ? 0x80 : 0))))
  }

  it('window(): every access wholly inside it passes check() for R, W and X (fast-check; the direct path is exact)', () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 8 }), fc.constantFrom(0, 1, 3), fc.array(fc.tuple(fc.nat(), fc.constantFrom(1, 2, 4, 8)), { minLength: 50, maxLength: 50 }), (es, priv, accesses) => {
        const p = new Pmp()
        program(p, es)
        const w = p.window(RAM_LO, RAM_HI, priv)
        expect(w.lo).toBeGreaterThanOrEqual(w.hi === 0 ? 0 : RAM_LO)
        expect(w.hi).toBeLessThanOrEqual(w.hi === 0 ? 0 : RAM_HI)
        if (w.hi === w.lo) return
        // The window's edges and random accesses inside it.
        const probes: [number, number][] = [[w.lo, 1], [w.hi - 1, 1], [w.lo, Math.min(8, w.hi - w.lo)], ...accesses.map(([r, size]): [number, number] => [w.lo + (r % Math.max(1, w.hi - w.lo - size + 1)), size])]
        for (const [pa, size] of probes) {
          if (pa + size > w.hi) continue
          for (const need of [PMP_R, PMP_W, PMP_X]) expect(p.check(pa, size, need, priv)).toBe(true)
        }
        // Cached until the next write, and recomputed after it.
        expect(p.window(RAM_LO, RAM_HI, priv)).toEqual(w)
        p.writeCfg(0, 0n)
        if (!es.some((e) => e.lock)) expect(p.active).toBe(false)
      }),
      { numRuns: 500 },
    )
  })

  it("window(): with OpenSBI's layout (firmware closed to S, then everything open) it is the RAM past the firmware", () => {
    const p = new Pmp()
    p.writeAddr(0, BigInt(RAM_LO / 4) | ((1n << 14n) - 1n)) // NAPOT 128 KiB at RAM's start, no permission
    p.writeAddr(1, (1n << 54n) - 1n) // NAPOT: all of memory
    p.writeCfg(0, cfg([0x18, 0x1f]))
    expect(p.window(RAM_LO, RAM_LO + (64 << 20), 1)).toEqual({ lo: RAM_LO + (128 << 10), hi: RAM_LO + (64 << 20) })
    expect(p.window(RAM_LO, RAM_LO + (64 << 20), 0)).toEqual({ lo: RAM_LO + (128 << 10), hi: RAM_LO + (64 << 20) })
    // Two adjacent open segments are not merged: an access across their boundary matches entry 0 partially.
    p.writeCfg(0, cfg([0x18 | 7, 0x1f]))
    expect(p.check(RAM_LO + (128 << 10) - 4, 8, PMP_R, 1)).toBe(false)
    const w = p.window(RAM_LO, RAM_LO + (64 << 20), 1)
    expect(w.lo >= RAM_LO + (128 << 10) || w.hi <= RAM_LO + (128 << 10)).toBe(true)
  })
})

describe('PMP on the hart: data accesses from S-mode with paging off', () => {
  const BASE = 0x8000_0000
  /** An S-mode hart under OpenSBI-like entries: [BASE, BASE + 64 KiB) closed to S, then everything open; traps go to M at BASE + 0x100 (j .). */
  function smode(blockThreshold?: number) {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20, ...(blockThreshold !== undefined ? { blockThreshold } : {}) })
    const hart = sys.harts[0]!
    hart.setCsr(CSR.pmpaddr0, BigInt(BASE / 4) | ((1n << 13n) - 1n))
    hart.setCsr(CSR.pmpaddr0 + 1, (1n << 54n) - 1n)
    hart.setCsr(CSR.pmpcfg0, cfg([0x18, 0x1f]))
    hart.setCsr(CSR.mtvec, BigInt(BASE + 0x100))
    sys.bus.writeBytes(BASE + 0x100, words([0x0000006f]))
    return { sys, hart }
  }

  it('a load or store traps exactly where check() says, inside, outside and across the closed region (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -64, max: 64 }), fc.constantFrom(0, 1, 2, 3), fc.boolean(), (delta, f3, store) => {
        const { sys, hart } = smode()
        const code = BASE + 0x2_0000
        const addr = BASE + 0x1_0000 + delta // around the closed region's end
        sys.bus.writeBytes(code, words([store ? S(0, 6, 5, f3) : I(0, 5, f3, 6, 0x03), 0x0000006f]))
        hart.setX(5, BigInt(addr))
        hart.setX(6, 0x1122334455667788n)
        hart.pc = code
        hart.privilege = 1
        hart.run(2)
        const size = 1 << f3
        const ok = new Pmp()
        ok.load([cfg([0x18, 0x1f])], [BigInt(BASE / 4) | ((1n << 13n) - 1n), (1n << 54n) - 1n])
        const allowed = ok.check(addr, size, store ? PMP_W : PMP_R, 1)
        if (allowed) {
          expect(hart.privilege).toBe(1)
          expect(hart.pc).toBe(code + 4)
        } else {
          expect(hart.privilege).toBe(3)
          expect(hart.getCsr(CSR.mcause)).toBe(store ? 7n : 5n)
          expect(hart.getCsr(CSR.mtval)).toBe(BigInt(addr))
        }
      }),
      { numRuns: 300 },
    )
  })

  it('accesses in RAM that PMP opens wholly to S-mode are not translated one by one (checked once per PMP write)', () => {
    const { sys, hart } = smode(8)
    const code = BASE + 0x2_0000
    // A loop of 100 loads and stores into RAM past the closed region: ld, sd, addi x7, x7, -1, bnez x7, loop.
    sys.bus.writeBytes(code, words([I(0, 5, 3, 6, 0x03), S(8, 6, 5, 3), I(-1, 7, 0, 7), ((((-12 >> 12) & 1) << 31) | (((-12 >> 5) & 0x3f) << 25) | (7 << 15) | (1 << 12) | (((-12 >> 1) & 0xf) << 8) | (((-12 >> 11) & 1) << 7) | 0x63) >>> 0, 0x0000006f]))
    hart.setX(5, BigInt(BASE + 0x3_0000))
    hart.setX(7, 100n)
    hart.pc = code
    hart.privilege = 1
    const h = hart as unknown as { translate: (va: number, kind: number) => number }
    const original = h.translate
    let dataTranslations = 0
    h.translate = function (this: unknown, va: number, kind: number) {
      if (kind !== 0) dataTranslations++ // 0: fetch
      return original.call(this, va, kind)
    }
    hart.run(400)
    expect(hart.getX(7)).toBe(0n)
    expect(hart.privilege).toBe(1)
    expect(dataTranslations).toBe(0)
  })
})
