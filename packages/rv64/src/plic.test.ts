import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Plic } from './plic.js'

function plic(contexts = 2, sources = 96) {
  const out = new Array<boolean>(contexts).fill(false)
  const p = new Plic({ contexts, sources, onContext: (c, l) => (out[c] = l) })
  const w = (off: number, v: number) => p.write(off, 4, BigInt(v))
  const r = (off: number) => Number(p.read(off, 4))
  return { p, out, w, r }
}

describe('PLIC', () => {
  it('routes an enabled source above the threshold to its context, claim/complete gate it', () => {
    const { p, out, w, r } = plic()
    w(10 * 4, 3) // priority of source 10
    w(0x2000 + 0x80 * 1, 1 << 10) // enable for context 1 (S-mode of hart 0)
    p.line(10).set(true)
    expect(out).toEqual([false, true])
    expect(r(0x1000) & (1 << 10)).not.toBe(0)
    expect(r(0x20_1004)).toBe(10) // claim
    expect(out[1]).toBe(false) // in flight: not pending
    expect(r(0x20_1004)).toBe(0)
    w(0x20_1004, 10) // complete while the level is still high → pending again
    expect(out[1]).toBe(true)
    expect(r(0x20_1004)).toBe(10)
    p.line(10).set(false)
    w(0x20_1004, 10)
    expect(out[1]).toBe(false)
  })

  it('respects thresholds, priority 0 never interrupts, highest priority then lowest id wins', () => {
    const { p, out, w, r } = plic()
    w(0x2000, 0xffffffff)
    p.line(5).set(true)
    expect(out[0]).toBe(false) // priority 0
    w(5 * 4, 2)
    w(7 * 4, 2)
    w(9 * 4, 6)
    p.line(7).set(true)
    p.line(9).set(true)
    w(0x20_0000, 6)
    expect(out[0]).toBe(false)
    w(0x20_0000, 5)
    expect(r(0x20_0004)).toBe(9)
    expect(r(0x20_0004)).toBe(0) // 5 and 7 are at priority 2 ≤ threshold 5
    w(0x20_0000, 0)
    expect(r(0x20_0004)).toBe(5) // equal priorities: the lower id first
    expect(r(0x20_0004)).toBe(7)
  })

  it('ignores completions for sources not enabled in the context, and bad offsets and sizes', () => {
    const { p, w, r } = plic()
    w(3 * 4, 1)
    w(0x2000, 1 << 3)
    p.line(3).set(true)
    expect(r(0x20_0004)).toBe(3)
    w(0x20_1004, 3) // context 1 never enabled source 3
    expect(r(0x20_0004)).toBe(0)
    expect(p.read(0x20_0004, 8)).toBe(0n)
    expect(r(0x5_0000_0)).toBe(0)
    expect(() => p.line(0)).toThrow(RangeError)
    expect(() => p.line(96)).toThrow(RangeError)
    w(0, 7) // source 0's priority is hardwired to 0
    expect(r(0)).toBe(0)
  })

  it('matches a model under arbitrary register traffic and wire changes', () => {
    type Cmd = { kind: 'wire'; id: number; level: boolean } | { kind: 'prio'; id: number; v: number } | { kind: 'enable'; ctx: number; bits: number } | { kind: 'thresh'; ctx: number; v: number } | { kind: 'claim'; ctx: number } | { kind: 'complete'; ctx: number; id: number }
    const id = fc.integer({ min: 1, max: 31 })
    const ctx = fc.integer({ min: 0, max: 1 })
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      fc.record({ kind: fc.constant('wire' as const), id, level: fc.boolean() }),
      fc.record({ kind: fc.constant('prio' as const), id, v: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('enable' as const), ctx, bits: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ kind: fc.constant('thresh' as const), ctx, v: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('claim' as const), ctx }),
      fc.record({ kind: fc.constant('complete' as const), ctx, id }),
    )
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 80 }), (cmds) => {
        const { p, out, w, r } = plic(2, 32)
        const m = { prio: new Array(32).fill(0), level: new Array(32).fill(false), pend: new Array(32).fill(false), fly: new Array(32).fill(false), en: [0, 0], th: [0, 0] }
        const best = (c: number) => {
          let b = 0
          let bp = m.th[c]!
          for (let i = 1; i < 32; i++) if (m.pend[i] && (m.en[c]! >>> i) & 1 && m.prio[i] > bp) (b = i), (bp = m.prio[i])
          return b
        }
        for (const c of cmds) {
          if (c.kind === 'wire') {
            p.line(c.id).set(c.level)
            m.level[c.id] = c.level
            if (!m.fly[c.id]) m.pend[c.id] = c.level
          } else if (c.kind === 'prio') {
            w(c.id * 4, c.v)
            m.prio[c.id] = c.v & 7
          } else if (c.kind === 'enable') {
            w(0x2000 + 0x80 * c.ctx, c.bits)
            m.en[c.ctx] = (c.bits & ~1) >>> 0
          } else if (c.kind === 'thresh') {
            w(0x20_0000 + 0x1000 * c.ctx, c.v)
            m.th[c.ctx] = c.v
          } else if (c.kind === 'claim') {
            const b = best(c.ctx)
            if (b) (m.pend[b] = false), (m.fly[b] = true)
            expect(r(0x20_0004 + 0x1000 * c.ctx)).toBe(b)
          } else {
            w(0x20_0004 + 0x1000 * c.ctx, c.id)
            if ((m.en[c.ctx]! >>> c.id) & 1) {
              m.fly[c.id] = false
              if (m.level[c.id]) m.pend[c.id] = true
            }
          }
          expect(out).toEqual([best(0) !== 0, best(1) !== 0])
        }
      }),
      { numRuns: 500 },
    )
  })
})
