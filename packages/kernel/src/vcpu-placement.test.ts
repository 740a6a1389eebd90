/** The hart scheduler: vCPUs on the least-loaded hart, idle vCPUs cost nothing, crowded harts spread out. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HartScheduler } from './vcpu-placement.js'

describe('HartScheduler', () => {
  it("places a 2-vCPU VM's vCPUs on different harts, and a second VM on the hart the first leaves free", () => {
    const s = new HartScheduler(() => [0, 1])
    const [a0, a1] = [s.place(5, 0), s.place(5, 1)]
    expect([a0.hart, a1.hart]).toEqual([0, 1])
    s.release(5)
    const b = s.place(6, 0)
    s.beforeSlice(b)
    expect(s.place(7, 0).hart).not.toBe(b.hart)
    expect(s.of(6).map((p) => p.hart)).toEqual([b.hart])
  })

  it('a vCPU idle in WFI costs its hart nothing: a new vCPU may share its hart while another hart is busy', () => {
    const s = new HartScheduler(() => [0, 1])
    const busy = s.place(1, 0)
    const sleeper = s.place(2, 0)
    s.beforeSlice(busy)
    s.afterSlice(busy, busy.hart, 1000, false)
    s.beforeSlice(sleeper)
    s.afterSlice(sleeper, sleeper.hart, 10, true) // now in WFI
    expect(s.load(sleeper.hart)).toEqual({ running: 0, placed: 1 })
    // Both harts hold one vCPU; only the sleeper's hart has no running one: the newcomer goes there.
    expect(s.place(3, 0).hart).toBe(sleeper.hart)
  })

  it('records what each hart ran for each vCPU (from the hart lent, not the placement)', () => {
    const s = new HartScheduler(() => [0, 1, 2])
    const p = s.place(9, 0)
    s.afterSlice(p, 2, 500, false)
    s.afterSlice(p, 2, 250, false)
    s.afterSlice(p, 0, 1, true)
    expect([...p.ran]).toEqual([[2, 750], [0, 1]])
  })

  it('running vCPUs never crowd one hart: once each running vCPU has started its next slice, no hart has two more running vCPUs than another (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 80 }), (nHarts, steps) => {
        const harts = Array.from({ length: nHarts }, (_, i) => i)
        const s = new HartScheduler(() => harts)
        const ps = Array.from({ length: 10 }, (_, i) => s.place(100 + (i >> 1), i & 1))
        // Every vCPU runs a slice first (all want to run), then some go idle.
        for (const p of ps) s.afterSlice(p, s.beforeSlice(p), 1, false)
        for (const [i, idle] of steps) {
          const p = ps[i]!
          const h = s.beforeSlice(p)
          expect(harts).toContain(h)
          s.afterSlice(p, h, 1, idle)
        }
        for (const p of ps.filter((q) => !q.idle)) s.beforeSlice(p)
        const running = harts.map((h) => s.load(h).running)
        expect(Math.max(...running) - Math.min(...running)).toBeLessThanOrEqual(1)
      }),
    )
  })
})
