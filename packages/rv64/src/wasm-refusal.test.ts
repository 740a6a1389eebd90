/**
 * A host that refuses to compile WebAssembly synchronously (a browser's main thread allows at most
 * 4 KiB): the hart keeps running on its JS tiers, with the same results. In a file of its own: the
 * refusal turns WebAssembly off for the rest of the thread.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { assemble, createSystem } from './index.js'

const BASE = 0x8000_0000
const program = assemble(
  `
    li x2, 2000
1:  addi x5, x5, 3
    xor x6, x6, x5
    addi x2, x2, -1
    bne x2, x0, 1b
    j .
`,
  { base: BASE },
).bytes

type WasmGlobal = { Module: new (bytes: Uint8Array) => object }
const wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly
const RealModule = wasm.Module

describe('a host that refuses synchronous WebAssembly compiles', () => {
  afterAll(() => {
    wasm.Module = RealModule
  })

  it('falls back to JS blocks and runs the loop to the same end', () => {
    let refused = 0
    // Like Chrome's main thread: a module over a limit is refused with a RangeError (the tiny
    // dispatcher module passes; every compiled block's module is bigger).
    wasm.Module = class extends RealModule {
      constructor(bytes: Uint8Array) {
        if (bytes.length > 128) {
          refused++
          throw new RangeError('WebAssembly.Compile is disallowed on the main thread, if the buffer size is larger than 4KB')
        }
        super(bytes)
      }
    } as unknown as WasmGlobal['Module']
    const run = () => {
      const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 8 })
      sys.bus.writeBytes(BASE, program)
      const h = sys.harts[0]!
      h.run(20_000)
      return { x5: h.getX(5), x6: h.getX(6), pc: h.pc, instret: h.instret, wasm: h.jitStats.wasm, blocks: h.jitStats.blocks }
    }
    const first = run()
    expect(refused).toBe(1) // once: the thread stops asking
    expect(first.wasm).toBe(0)
    expect(first.blocks).toBeGreaterThan(0)
    expect(first.x5).toBe(6000n)
    const second = run()
    expect(refused).toBe(1)
    expect(second).toEqual(first)
  })
})
