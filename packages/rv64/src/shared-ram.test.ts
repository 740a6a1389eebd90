/**
 * Harts over a shared RAM (`Bus` given a `SharedArrayBuffer`, issue #18 parallel harts) take
 * their AMOs and SC through `Atomics` (SharedRam): on one thread they must compute exactly what
 * the plain path computes — every AMO, both widths, any operands, SC success and failure.
 */
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { Bus, Hart, assemble } from './index.js'
import { SharedRam } from './shared-ram.js'

const BASE = 0x8000_0000
const DATA = 0x8001_0000
const OPS = ['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu'] as const

function runOn(shared: boolean, source: string, init: bigint[]): { regs: bigint[]; mem: bigint[] } {
  const bus = new Bus({ ramSize: 1 << 20, ...(shared ? { buffer: new SharedArrayBuffer(1 << 20) } : {}) })
  expect(bus.shared !== undefined).toBe(shared)
  const hart = new Hart({ hartId: 0, bus, clock: { mtime: () => 0n } })
  bus.writeBytes(BASE, assemble(source, { base: BASE }).bytes)
  init.forEach((v, i) => bus.write(DATA + 8 * i, 8, v))
  hart.pc = BASE
  const r = hart.run(1000)
  expect(r.reason).toBe('wfi')
  return { regs: Array.from({ length: 32 }, (_, i) => hart.getX(i)), mem: init.map((_, i) => bus.read(DATA + 8 * i, 8)!) }
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const edge = fc.constantFrom(0n, 1n, (1n << 64n) - 1n, 1n << 63n, (1n << 63n) - 1n, 0xffff_ffffn, 0x8000_0000n, 0x7fff_ffffn)
const value = fc.oneof(u64, edge)

describe('AMOs and SC on a shared RAM (Atomics) agree with the plain path', () => {
  it('property: a random sequence of AMOs of both widths gives the same registers and memory', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ op: fc.constantFrom(...OPS), w: fc.boolean(), slot: fc.integer({ min: 0, max: 3 }), half: fc.boolean(), src: value }), { minLength: 1, maxLength: 12 }), fc.array(value, { minLength: 4, maxLength: 4 }), (ops, init) => {
        const lines = [`li a0, ${DATA}`]
        ops.forEach((o, i) => {
          const off = o.slot * 8 + (o.w && o.half ? 4 : 0)
          lines.push(`li t0, ${o.src}`, `addi a1, a0, ${off}`, `${o.op}.${o.w ? 'w' : 'd'} x${5 + (i % 3) + 1}, t0, (a1)`, `add s${(i % 8) + 2}, s${(i % 8) + 2}, x${5 + (i % 3) + 1}`)
        })
        lines.push('wfi')
        const src = lines.join('\n')
        expect(runOn(true, src, init)).toEqual(runOn(false, src, init))
      }),
      { numRuns: 150 },
    )
  })

  it('property: LR/SC pairs (matching, after a store of another value, to another address) succeed and fail as on the plain path', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom('plain', 'changed', 'other'), value, value, (w, kind, init, v) => {
        const s = w ? 'w' : 'd'
        const src = `
          li a0, ${DATA}
          li t2, ${v}
          lr.${s} t0, (a0)
          ${kind === 'changed' ? `addi t3, t0, 1\n s${s} t3, 0(a0)` : ''}
          ${kind === 'other' ? 'addi a0, a0, 8' : ''}
          sc.${s} t1, t2, (a0)
          wfi`
        const shared = runOn(true, src, [init, 0n, 0n, 0n])
        expect(shared).toEqual(runOn(false, src, [init, 0n, 0n, 0n]))
        expect(shared.regs[6]).toBe(kind === 'plain' ? 0n : 1n)
      }),
      { numRuns: 100 },
    )
  })

  it('an AMO on a misaligned address still traps (store/AMO address misaligned) with a shared RAM', () => {
    const bus = new Bus({ ramSize: 1 << 20, buffer: new SharedArrayBuffer(1 << 20) })
    const hart = new Hart({ hartId: 0, bus, clock: { mtime: () => 0n } })
    bus.writeBytes(BASE, assemble(`la t1, handler\n csrw mtvec, t1\n li a0, ${DATA + 4}\n amoadd.d t0, t0, (a0)\n handler: wfi`, { base: BASE }).bytes)
    hart.pc = BASE
    hart.run(10)
    expect(hart.getCsr(0x342)).toBe(6n) // mcause: store/AMO address misaligned
  })

  it('FENCE on a shared RAM is a host barrier (SharedRam.fence, once per FENCE); on a private RAM it costs nothing', () => {
    const fence = vi.spyOn(SharedRam.prototype, 'fence')
    try {
      for (const shared of [true, false]) {
        fence.mockClear()
        const bus = new Bus({ ramSize: 1 << 20, ...(shared ? { buffer: new SharedArrayBuffer(1 << 20) } : {}) })
        const hart = new Hart({ hartId: 0, bus, clock: { mtime: () => 0n } })
        bus.writeBytes(BASE, assemble('fence rw, rw\n fence w, w\n fence r, r\n wfi', { base: BASE }).bytes)
        hart.pc = BASE
        hart.run(10)
        expect(fence).toHaveBeenCalledTimes(shared ? 3 : 0)
      }
    } finally {
      fence.mockRestore()
    }
  })
})
