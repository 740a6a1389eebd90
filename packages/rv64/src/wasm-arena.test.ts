/**
 * RAM in a WebAssembly memory (wasm-arena.ts): the bus's views are exactly the RAM, each hart's
 * registers and data TLB live in its own area after it, a hart the arena has no room for (or a bus
 * without one) runs on plain buffers with the JS tiers, and nothing a guest does reaches past RAM.
 */
import { describe, expect, it } from 'vitest'
import { AREA, HART_AREA, WasmArena } from './wasm-arena.js'
import { Bus, Hart, assemble, createSystem, type Clock } from './index.js'

const BASE = 0x8000_0000
const clock: Clock = { mtime: () => 0n }

/** A loop of `n` rounds adding 1 to x5, then `j .`: hot enough to compile at threshold 8. */
const counting = (n: number) =>
  assemble(
    `
    li x2, ${n}
1:  addi x5, x5, 1
    addi x2, x2, -1
    bne x2, x0, 1b
    j .
`,
    { base: BASE },
  ).bytes

describe('the WebAssembly arena', () => {
  it('holds RAM at address 0: the bus views exactly ramSize bytes of the memory', () => {
    const bus = new Bus({ ramSize: 1 << 20 })
    expect(bus.arena).toBeDefined()
    expect(bus.ram.byteLength).toBe(1 << 20)
    expect(bus.view.byteLength).toBe(1 << 20)
    expect(bus.ram.buffer).toBe(bus.arena!.buffer)
    expect(bus.arena!.buffer.byteLength).toBeGreaterThan(1 << 20)
    bus.writeBytes(BASE + 16, new Uint8Array([1, 2, 3]))
    expect(Array.from(new Uint8Array(bus.arena!.buffer, 16, 3))).toEqual([1, 2, 3])
  })

  it("gives each hart its own area after RAM: registers at AREA.regs, the data TLB's tags emptied", () => {
    const bus = new Bus({ ramSize: 1 << 20, wasmHarts: 2 })
    const harts = [0, 1].map((hartId) => new Hart({ hartId, bus, clock }))
    harts[0]!.setX(7, 0x1122_3344_5566_7788n)
    harts[1]!.setX(7, -2n)
    const regs = (k: number) => new BigInt64Array(bus.arena!.buffer, (1 << 20) + k * (HART_AREA + (1 << 20) / 64) + AREA.regs, 32)
    expect(regs(0)[7]).toBe(0x1122_3344_5566_7788n)
    expect(regs(1)[7]).toBe(-2n)
    expect(Array.from(new Int32Array(bus.arena!.buffer, (1 << 20) + AREA.loadTagLo, 4))).toEqual([-1, -1, -1, -1])
  })

  it('a hart beyond the arena\'s room, and a bus without an arena, run on their own buffers (JS tiers)', () => {
    const bus = new Bus({ ramSize: 64 << 10, wasmHarts: 1 })
    const a = new Hart({ hartId: 0, bus, clock })
    const b = new Hart({ hartId: 1, bus, clock })
    expect((a as unknown as { arena: unknown }).arena).toBeDefined()
    expect((b as unknown as { arena: unknown }).arena).toBeUndefined()
    b.setX(3, 5n)
    expect(b.getX(3)).toBe(5n)
    expect(new Bus({ ramSize: 64 << 10, wasmHarts: 0 }).arena).toBeUndefined()
    expect(new Bus({ ramSize: 64 << 10, buffer: new ArrayBuffer(64 << 10) }).arena).toBeUndefined()
  })

  it('rejects a hart count that is not a whole number', () => {
    expect(() => new Bus({ ramSize: 4096, wasmHarts: -1 })).toThrow(RangeError)
    expect(() => new Bus({ ramSize: 4096, wasmHarts: 1.5 })).toThrow(/wasmHarts 1.5/)
  })

  it('refuses (undefined, no throw) what a 32-bit memory cannot hold', () => {
    expect(WasmArena.create(4 * 2 ** 30, 1)).toBeUndefined()
  })

  it('the same hot loop on a hart with an area (WebAssembly blocks) and one without (JS blocks) ends alike', () => {
    const run = (wasmBlocks: boolean) => {
      const m = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 8, wasmBlocks })
      m.bus.writeBytes(BASE, counting(500))
      const h = m.harts[0]!
      h.run(5000)
      return { x5: h.getX(5), pc: h.pc, instret: h.instret, wasm: h.jitStats.wasm, blocks: h.jitStats.blocks }
    }
    const withWasm = run(true)
    const without = run(false)
    expect(withWasm.x5).toBe(500n)
    expect({ ...withWasm, wasm: 0, blocks: 0 }).toEqual({ ...without, wasm: 0, blocks: 0 })
    expect(withWasm.wasm).toBeGreaterThan(0)
    expect(without.wasm).toBe(0)
    expect(without.blocks).toBeGreaterThan(0)
  })
})

describe("'wasm-region' without an arena", () => {
  it('is the JS region tier (it compiles regions, none of them WebAssembly)', () => {
    const bus = new Bus({ ramSize: 1 << 20, wasmHarts: 0 })
    const h = new Hart({ hartId: 0, bus, clock, tier: 'wasm-region', blockThreshold: 8 })
    bus.writeBytes(BASE, counting(500))
    h.run(5000)
    expect(h.getX(5)).toBe(500n)
    expect(h.jitStats.regions).toBeGreaterThan(0)
    expect(h.jitStats.wasm).toBe(0)
  })
})
