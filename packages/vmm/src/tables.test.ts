import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GUEST_BASE, LEAF_RWX, MEGAPAGE_SIZE, VS_LEAF_RWX } from './constants.js'
import { GStageBuilder, hgatpSv39x4, writeGStage, writeVSStage } from './tables.js'

const entries = (b: Uint8Array): bigint[] => Array.from({ length: b.length / 8 }, (_, i) => new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8, true))

describe('G-stage and VS-stage megapage tables (Go honk WriteGStage/WriteVSStage)', () => {
  it('WriteGStage: root index 2 → L1 (V only), leaves from L1 index 0 with 0xDF and the host PPNs; the rest zero', () => {
    const root = new Uint8Array(16 << 10)
    const l1 = new Uint8Array(4096)
    const l1PA = 0x9000_5000
    const hostPA = 0x9020_0000
    writeGStage(root, l1, l1PA, hostPA, GUEST_BASE, 2 * MEGAPAGE_SIZE)
    const r = entries(root)
    expect(r[2]).toBe((BigInt(l1PA / 4096) << 10n) | 1n)
    expect(r.filter((e, i) => i !== 2 && e !== 0n)).toEqual([])
    const t = entries(l1)
    expect(t[0]).toBe((BigInt(hostPA / 4096) << 10n) | 0xdfn)
    expect(t[1]).toBe((BigInt((hostPA + MEGAPAGE_SIZE) / 4096) << 10n) | 0xdfn)
    expect(t[2]).toBe(0n)
    expect(LEAF_RWX & 16).toBe(16) // U: G-stage accesses are user-mode accesses
  })

  it('WriteVSStage: identity leaves with 0xCF, no U', () => {
    const root = new Uint8Array(4096)
    const l1 = new Uint8Array(4096)
    writeVSStage(root, l1, GUEST_BASE + 0x5000, GUEST_BASE, 2 * MEGAPAGE_SIZE)
    const t = entries(l1)
    expect(t[0]).toBe((BigInt(GUEST_BASE / 4096) << 10n) | 0xcfn)
    expect(t[1]).toBe((BigInt((GUEST_BASE + MEGAPAGE_SIZE) / 4096) << 10n) | BigInt(VS_LEAF_RWX))
    expect(VS_LEAF_RWX & 16).toBe(0)
  })

  it('Hgatp: mode 8 (Sv39x4) in bits 63:60, the root PPN below, VMID 0', () => {
    const h = hgatpSv39x4(0x9000_4000)
    expect(h >> 60n).toBe(8n)
    expect(h & ((1n << 44n) - 1n)).toBe(0x90004n)
    expect((h >> 44n) & 0x3fffn).toBe(0n)
  })

  it('GStageBuilder: a reference Sv39x4 walk of the tables finds every mapped page where it was mapped (2 MiB and 4 KiB leaves)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2047 }), fc.integer({ min: 0, max: 511 }), fc.integer({ min: 1, max: 700 }), fc.boolean(), (gig, page, pages, aligned) => {
        const arena = new Uint8Array(GStageBuilder.arenaSize(pages * 4096))
        const arenaPA = 0x8100_0000
        const b = new GStageBuilder(arena, arenaPA)
        const gpa = gig * 2 ** 30 + page * 4096 * (aligned ? 0 : 1)
        const hpa = 0x9000_0000 + (aligned ? 0 : 0x3000)
        const size = Math.min(pages * 4096, 2 ** 41 - gpa)
        b.map(gpa, hpa, size)
        const read = (pa: number): bigint => new DataView(arena.buffer).getBigUint64(pa - arenaPA, true)
        const walk = (g: number): number | undefined => {
          let table = b.rootPA
          for (let level = 2; level >= 0; level--) {
            const idx = level === 2 ? Math.floor(g / 2 ** 30) : Math.floor(g / 2 ** (12 + 9 * level)) & 0x1ff
            const e = read(table + idx * 8)
            if ((e & 1n) === 0n) return undefined
            const pa = Number(e >> 10n) * 4096
            if ((e & 0xen) !== 0n) {
              expect(Number(e & 0xffn)).toBe(LEAF_RWX)
              return pa + (g % 2 ** (12 + 9 * level))
            }
            table = pa
          }
          return undefined
        }
        for (const off of [0, size - 1, Math.floor(size / 2)]) expect(walk(gpa + off)).toBe(hpa + off)
        expect(walk(gpa + size)).toBeUndefined()
      }),
      { numRuns: 60 },
    )
  })

  it('refuses a misaligned arena and maps beyond the 41-bit guest-physical space', () => {
    expect(() => new GStageBuilder(new Uint8Array(1 << 16), 0x8000_1000)).toThrow(/16 KiB-aligned/)
    const b = new GStageBuilder(new Uint8Array(1 << 16), 0x8000_0000)
    expect(() => b.map(2 ** 41, 0, 4096)).toThrow(/41-bit/)
    expect(() => b.map(0x1001, 0, 4096)).toThrow(/page-aligned/)
  })
})
