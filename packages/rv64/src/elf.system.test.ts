/**
 * The ELF loader against many hostile files (issue #12 case 8, system tier): random valid ELFs
 * (any number of symbols, shared and unicode names, bss), each truncated and corrupted at random
 * bytes and at the header fields that hold offsets, sizes and counts. Every outcome is a load or
 * an ElfError; a rejected file leaves RAM untouched; a loaded one has exactly the symbols built.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Bus } from './bus.js'
import { ElfError, loadElf } from './elf.js'
import { ELF_BASE, buildElf } from './elf.test-helpers.js'

const spec = fc.record({
  code: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  bss: fc.nat(256),
  symbols: fc.array(fc.tuple(fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('tohost', 'fromhost', '$x', 'ünïcødé')), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), { maxLength: 40 }),
})

describe('loadElf under random corruption (system)', () => {
  it('valid ELFs load with exactly their symbols', () => {
    fc.assert(
      fc.property(spec, (s) => {
        const symbols = s.symbols.filter(([name]) => !name.includes('\u0000'))
        const { bytes } = buildElf({ code: s.code, bss: s.bss, symbols })
        const bus = new Bus({ ramSize: 1 << 16 })
        const elf = loadElf(bus, bytes)
        const want = new Map<string, number>()
        // A later symbol of the same name wins; a value beyond 2^53 is left out (not representable).
        for (const [name, value] of symbols) if (value <= BigInt(Number.MAX_SAFE_INTEGER)) want.set(name, Number(value))
        expect(elf.symbols).toEqual(want)
        expect(elf.segments).toEqual([{ start: ELF_BASE, end: ELF_BASE + s.code.length + s.bss }])
        expect([...bus.ram.subarray(0, s.code.length)]).toEqual([...s.code])
      }),
      { numRuns: 5_000 },
    )
  })

  it('corrupted and truncated ELFs: a load or an ElfError, never anything else, RAM untouched on error', () => {
    let rejected = 0
    let loaded = 0
    fc.assert(
      fc.property(
        spec,
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.oneof(fc.nat(255).map(BigInt), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), fc.constantFrom(1, 2, 4, 8)), { maxLength: 6 }),
        (s, cutSeed, pokes) => {
          const { bytes, layout } = buildElf({ code: s.code, bss: s.bss, symbols: s.symbols.filter(([n]) => !n.includes('\u0000')) })
          // Aim half the pokes at the fields that hold offsets, sizes and counts.
          const fields = [24, 32, 40, 54, 56, 58, 60, 62, layout.phoff + 8, layout.phoff + 24, layout.phoff + 32, layout.phoff + 40]
          for (let i = 0; i < 5; i++) fields.push(layout.shoff + i * 64 + 4, layout.shoff + i * 64 + 24, layout.shoff + i * 64 + 32, layout.shoff + i * 64 + 40, layout.shoff + i * 64 + 56)
          const cut = cutSeed % 4 === 0 ? cutSeed % (bytes.length + 1) : bytes.length
          const bad = bytes.slice(0, cut)
          const v = new DataView(bad.buffer)
          for (const [where, value, width] of pokes) {
            const at = where % 2 === 0 ? fields[(where >> 1) % fields.length]! : where % Math.max(1, bad.length)
            if (at + width > bad.length) continue
            if (width === 1) bad[at] = Number(value & 0xffn)
            else if (width === 2) v.setUint16(at, Number(value & 0xffffn), true)
            else if (width === 4) v.setUint32(at, Number(value & 0xffffffffn), true)
            else v.setBigUint64(at, value, true)
          }
          const bus = new Bus({ ramSize: 1 << 16 })
          try {
            loadElf(bus, bad)
            loaded++
          } catch (e) {
            expect(e).toBeInstanceOf(ElfError)
            expect(bus.ram.every((x) => x === 0)).toBe(true)
            rejected++
          }
        },
      ),
      { numRuns: 50_000 },
    )
    console.log(`loadElf: ${rejected} corrupted ELFs rejected with ElfError, ${loaded} still loaded`)
    expect(rejected).toBeGreaterThan(0)
    expect(loaded).toBeGreaterThan(0)
  })
})
