import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { capMemory, MalformedModule } from './limits.js'
import { assemble, op } from './testing.js'
import { wasmApi, type WasmMemory } from './wasm-api.js'

describe('capMemory: the memory limit written into the module', () => {
  it('caps the maximum at the limit, keeps the rest of the module, refuses an initial size over it', () => {
    fc.assert(
      fc.property(fc.nat(40), fc.option(fc.nat(80), { nil: undefined }), fc.integer({ min: 1, max: 60 }), (min, maxRaw, limit) => {
        const max = maxRaw === undefined ? undefined : Math.max(min, maxRaw)
        const bytes = assemble({ memory: max === undefined ? { min } : { min, max }, data: [], funcs: [{ export: 'answer', results: ['i32'], body: [...op.i32(42)] }] })
        if (min > limit) {
          expect(() => capMemory(bytes, limit)).toThrow(RangeError)
          return
        }
        const capped = capMemory(bytes, limit)
        expect(capped.initial).toBe(min)
        expect(wasmApi.validate(capped.bytes)).toBe(true)
        const inst = new wasmApi.Instance(new wasmApi.Module(capped.bytes), {})
        expect((inst.exports['answer'] as () => number)()).toBe(42)
        const mem = inst.exports['memory'] as WasmMemory
        const ceiling = Math.min(max ?? limit, limit)
        // Growing to the ceiling works; one page more fails (the JS API throws RangeError).
        mem.grow(ceiling - min)
        expect(mem.buffer.byteLength).toBe(ceiling * 65536)
        expect(() => mem.grow(1)).toThrow(RangeError)
      }),
      { numRuns: 200 },
    )
  })

  it('a module without memory is returned as it is; garbage is MalformedModule', () => {
    const bytes = assemble({ funcs: [{ export: 'f', body: [] }] })
    expect(capMemory(bytes, 10).bytes).toBe(bytes)
    expect(() => capMemory(new Uint8Array([1, 2, 3]), 10)).toThrow(MalformedModule)
    expect(() => capMemory(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 0x80]), 10)).toThrow(MalformedModule)
  })
})
