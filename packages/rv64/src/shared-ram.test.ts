/**
 * Harts over a shared RAM (`Bus` given a `SharedArrayBuffer`, issue #18 parallel harts) take
 * their AMOs and SC through `Atomics` (SharedRam): on one thread they must compute exactly what
 * the plain path computes — every AMO, both widths, any operands, SC success and failure.
 */
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { Bus, CSR, Hart, assemble } from './index.js'
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

describe('page-table A/D updates on a shared RAM', () => {
  /**
   * S-mode, Sv39: VA 0x4000_0000 → a 4 KiB PTE with A clear, pointing at page P1 (holding 11).
   * Between the walk's read of that PTE and its write-back of A, "another hart" (a hook on the
   * hart's DataView, which the walk reads PTEs through) replaces it with one pointing at P2
   * (holding 22). The write-back must not put the old PTE back.
   */
  function race(shared: boolean) {
    const ram = 1 << 20
    const bus = new Bus({ ramSize: ram, ...(shared ? { buffer: new SharedArrayBuffer(ram) } : {}) })
    const hart = new Hart({ hartId: 0, bus, clock: { mtime: () => 0n } })
    const root = BASE + 0x1_0000
    const l1 = root + 0x1000
    const l0 = root + 0x2000
    const P1 = BASE + 0x2_0000
    const P2 = BASE + 0x3_0000
    const V = 1n, R = 2n, W = 4n, X = 8n, A = 64n, D = 128n
    bus.write(root + 2 * 8, 8, (BigInt(BASE >>> 12) << 10n) | V | R | W | X | A | D) // the code: gigapage 2, identity
    bus.write(root + 1 * 8, 8, (BigInt(l1 >>> 12) << 10n) | V)
    bus.write(l1, 8, (BigInt(l0 >>> 12) << 10n) | V)
    const pteAddr = l0
    const old = (BigInt(P1 >>> 12) << 10n) | V | R | W // A clear
    const replaced = (BigInt(P2 >>> 12) << 10n) | V | R | W
    bus.write(pteAddr, 8, old)
    bus.write(P1, 8, 11n)
    bus.write(P2, 8, 22n)
    bus.writeBytes(BASE, assemble('li t0, 0x40000000\nld t1, 0(t0)\nwfi', { base: BASE }).bytes)
    hart.setCsr(CSR.satp, (8n << 60n) | BigInt(root >>> 12))
    hart.privilege = 1
    hart.pc = BASE
    const view = bus.view
    let raced = false
    view.getBigUint64 = function (this: DataView, o: number, le?: boolean) {
      const v = DataView.prototype.getBigUint64.call(this, o, le)
      if (o === pteAddr - BASE && !raced) {
        raced = true
        DataView.prototype.setBigUint64.call(this, o, replaced, true) // the other hart's store, after our read
      }
      return v
    }
    hart.run(10)
    return { loaded: hart.getX(6), pte: bus.read(pteAddr, 8)!, raced, replaced, A }
  }

  it('a PTE replaced between the walk reading it and setting A is not put back: the walk starts again and uses the new PTE (compare-and-swap, privileged 4.3.2)', () => {
    const r = race(true)
    expect(r.raced).toBe(true)
    expect(r.pte).toBe(r.replaced | r.A)
    expect(r.loaded).toBe(22n)
  })

  it('(on a RAM of its own, one hart, nothing can race: the plain write-back, as before)', () => {
    const r = race(false)
    expect(r.raced).toBe(true)
    // The hook's store is lost to the plain read-modify-write — what a shared RAM must not do.
    expect(r.pte).not.toBe(r.replaced | r.A)
  })
})
