/**
 * Issue #18 ("one fast memory path for every mode, two-stage guests included"): a guest address
 * beyond ±2^53 — an Sv57 guest's linear map at 0xff60… — reaches translation as NaN with the
 * exact value in `lastAddr`. The guest TLB is tagged by the signed virtual page number, which
 * fits a number exactly, so such an access must be served by the TLB after its first walk (as
 * the host's own walk does), not walk both stages (5 × 6 PTE reads) every time. And it must stay
 * exact: the same outcome as a fresh walk, across wide and narrow pages and fenced remaps.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CSR, assemble, createSystem, type System } from './index.js'

import { BASE, DATA, GROOT, PAGES, PT_HI, PT_LO, RAM, WIDE, A, D, R, U, V, W, X, countWalkReads, guest } from './wide-v.test-helpers.js'
const LOOP = `
        li t0, ${WIDE}
        li t2, 200
1:      ld t1, 0(t0)
        addi t1, t1, 1
        sd t1, 8(t0)
        addi t2, t2, -1
        bnez t2, 1b
done:   j done
trap:   j trap`

const system = () => createSystem({ harts: 1, ramSize: RAM, hypervisor: true, sv57: true, blockThreshold: 8 })

describe('a V-mode guest address beyond ±2^53 (Sv57 over Sv57x4)', () => {
  for (const tier of ['block', 'region'] as const) {
    it(`a loop of loads and stores at 0xff60… walks once per page, then hits the guest TLB (${tier} tier)`, () => {
      const sys = createSystem({ harts: 1, ramSize: RAM, hypervisor: true, sv57: true, blockThreshold: 8, tier })
      const m = guest(sys, LOOP)
      const counter = countWalkReads(sys)
      m.hart.run(2000)
      expect(m.hart.virtualized).toBe(true)
      expect(sys.bus.read(DATA + 8, 8)).toBe(1n)
      // One two-stage walk is 5 VS levels, each G-translated (5 reads), plus the final G stage:
      // 30 reads. 400 accesses to one page: a walk or two, not 400 (12000 reads).
      expect(counter.reads).toBeGreaterThan(0)
      expect(counter.reads).toBeLessThanOrEqual(2 * 30)
    })
  }

  for (const [tier, host] of [['block', false], ['region', false], ['block', true], ['region', true]] as const) {
    it(`the same loop is served by the data TLB, not translated each access (${tier} tier${host ? ', the host in S-mode with Sv57, no guest' : ''})`, () => {
      const sys = createSystem({ harts: 1, ramSize: RAM, hypervisor: true, sv57: true, blockThreshold: 8, tier })
      const m = guest(sys, LOOP, host)
      expect(m.hart.virtualized).toBe(!host)
      const h = m.hart as unknown as { translate: (va: number, kind: number) => number }
      const original = h.translate
      const counter = { data: 0 }
      h.translate = function (this: unknown, va: number, kind: number) {
        if (kind !== 0) counter.data++
        return original.call(this, va, kind)
      }
      m.hart.run(2000)
      expect(sys.bus.read(DATA + 8, 8)).toBe(1n)
      // 400 data accesses: a fill each for the load and the store page.
      expect(counter.data).toBeLessThan(20)
    })
  }

  it('a doubleword load across the boundary of two wide pages that are not adjacent in RAM reads each page (and a store writes each)', () => {
    const sys = system()
    const m = guest(sys, `
        li t0, ${WIDE + 0xffcn}
        ld a0, 0(t0)
        li t1, 0x0102030405060708
        sd t1, 0(t0)
done:   j done
trap:   j trap`)
    // WIDE + 0x1000 → DATA + 5 pages (not DATA + 1 page, right after WIDE's).
    m.wr(m.leaf[1]!, (BigInt((DATA >>> 12) + 5) << 10n) | V | R | W | A | D)
    sys.bus.write(DATA + 0xffc, 4, 0x11223344n)
    sys.bus.write(DATA + 0x1000, 4, 0xdeadbeefn)
    sys.bus.write(DATA + 0x5000, 4, 0x55667788n)
    m.hart.run(40)
    expect(m.hart.x[10]).toBe(0x5566778811223344n)
    expect([sys.bus.read(DATA + 0xffc, 4), sys.bus.read(DATA + 0x5000, 4), sys.bus.read(DATA + 0x1000, 4)]).toEqual([0x05060708n, 0x01020304n, 0xdeadbeefn])
  })

  it('property: translations with the TLB equal a fresh walk every time, across wide and narrow pages, loads and stores, fenced remaps', () => {
    type Op = { t: 'access'; page: number; off: number; store: boolean } | { t: 'remap'; page: number; target: number; flags: bigint }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ t: fc.constant('access' as const), page: fc.nat(PAGES.length - 1), off: fc.nat(4095), store: fc.boolean() }) },
      {
        weight: 1,
        arbitrary: fc.record({
          t: fc.constant('remap' as const),
          page: fc.nat(PAGES.length - 1),
          target: fc.nat(7),
          // Valid RW, read-only, no A/D yet, user page (S without SUM: a fault), invalid.
          flags: fc.constantFrom(V | R | W | A | D, V | R | A, V | R | W, V | R | W | U | A | D, 0n),
        }),
      },
    )
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        // Machine a keeps its TLB (flushed by the fence after each remap, as HFENCE.VVMA does);
        // machine b forgets it before every access: each access is a fresh two-stage walk.
        const a = guest(system())
        const b = guest(system())
        type Internals = { translate(va: number, kind: number): number; lastAddr: bigint; flushVTlb(): void }
        const run = (h: Internals, va: bigint, store: boolean): string => {
          const n = Number(va)
          const wide = n > 0x1f_ffff_ffff_ffff || n < -0x1f_ffff_ffff_ffff
          if (wide) h.lastAddr = BigInt.asUintN(64, va)
          try {
            return `pa ${h.translate(wide ? NaN : n, store ? 2 : 1)}`
          } catch (e) {
            const t = e as { cause: number; tval: bigint }
            return `trap ${t.cause} ${t.tval}`
          }
        }
        const ha = a.hart as unknown as Internals
        const hb = b.hart as unknown as Internals
        for (const o of ops) {
          if (o.t === 'remap') {
            const pte = o.flags === 0n ? 0n : (BigInt((DATA >>> 12) + o.target) << 10n) | o.flags
            a.wr(a.leaf[o.page]!, pte)
            b.wr(b.leaf[o.page]!, pte)
            ha.flushVTlb()
            continue
          }
          const va = PAGES[o.page]! + BigInt(o.off)
          hb.flushVTlb()
          expect(run(ha, va, o.store)).toBe(run(hb, va, o.store))
          // And the same A/D bits written back to the leaf (a hit must not skip setting D).
          expect(a.leaf.map((at) => a.sys.bus.read(at, 8))).toEqual(b.leaf.map((at) => b.sys.bus.read(at, 8)))
        }
      }),
      { numRuns: 300 },
    )
  })

  for (const tier of ['block', 'region'] as const) {
    it(`property: guest programs of loads and stores at wide and narrow pages (misaligned, across pages too), with remaps fenced between runs, read and write what a flat model of the mappings says (${tier} tier)`, () => {
      type Acc = { page: number; off: number; store: boolean; value: bigint }
      const acc: fc.Arbitrary<Acc> = fc.record({ page: fc.nat(6), off: fc.oneof(fc.nat(4095), fc.integer({ min: 4080, max: 4095 })), store: fc.boolean(), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) })
        // Only WIDE's next virtual page is mapped: elsewhere stay inside the page.
        .map((a) => (a.page === 0 ? a : { ...a, off: Math.min(a.off, 4088) }))
      const chunk = fc.record({ accs: fc.array(acc, { minLength: 1, maxLength: 12 }), remap: fc.option(fc.record({ page: fc.nat(5), target: fc.nat(7) }), { nil: undefined }) })
      const RESULTS = BASE + (6 << 20)
      fc.assert(
        fc.property(fc.array(chunk, { minLength: 1, maxLength: 5 }), (chunks) => {
          const sys = createSystem({ harts: 1, ramSize: RAM, hypervisor: true, sv57: true, blockThreshold: 2, tier })
          const m = guest(sys)
          // The model: each page's target data page (page 6 shares its leaf with 7, written last; neither is remapped).
          const target = [0, 1, 2, 3, 4, 5, 7]
          const mem = new Map<number, number>() // physical byte → value (absent: 0)
          const hf = m.hart as unknown as { flushVTlb(): void }
          chunks.forEach((c, n) => {
            const code = BASE + 0x1_0000 * (n + 1)
            // The accesses, three times over (the later passes run compiled code).
            const lines = ['li s1, 3', '1:']
            c.accs.forEach((a, j) => {
              lines.push(`li t0, ${BigInt.asUintN(64, PAGES[a.page]! + BigInt(a.off))}`)
              if (a.store) lines.push(`li t1, ${a.value}`, 'sd t1, 0(t0)')
              else lines.push('ld t1, 0(t0)', `li t2, ${RESULTS + 8 * j}`, 'sd t1, 0(t2)')
            })
            lines.push('addi s1, s1, -1', 'bnez s1, 1b', 'done: j done')
            const prog = assemble(lines.join('\n'), { base: code })
            sys.bus.writeBytes(code, prog.bytes)
            m.hart.pc = code
            m.hart.run(2 * prog.bytes.length) // enough for 3 passes (an instruction is ≥ 2 bytes); `done` is checked
            expect(m.hart.pc).toBe(prog.symbols.get('done'))
            const results: bigint[] = []
            for (let pass = 0; pass < 3; pass++) {
              c.accs.forEach((a, j) => {
                // A virtual byte's physical address: its page's target, or the next page's for WIDE's bytes past 4095.
                const pa = (k: number) => {
                  const off = a.off + k
                  const page = off < 4096 ? a.page : 1
                  return DATA + 4096 * target[page]! + (off % 4096)
                }
                if (a.store) for (let k = 0; k < 8; k++) mem.set(pa(k), Number((a.value >> BigInt(8 * k)) & 0xffn))
                else {
                  let v = 0n
                  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(mem.get(pa(k)) ?? 0)
                  results[j] = v
                }
              })
            }
            c.accs.forEach((a, j) => {
              if (!a.store) expect(BigInt.asUintN(64, sys.bus.read(RESULTS + 8 * j, 8)!)).toBe(results[j])
            })
            if (c.remap !== undefined) {
              m.wr(m.leaf[c.remap.page]!, (BigInt((DATA >>> 12) + c.remap.target) << 10n) | V | R | W | A | D)
              target[c.remap.page] = c.remap.target
              hf.flushVTlb() // what HFENCE.VVMA does
            }
          })
        }),
        { numRuns: 40 },
      )
    })
  }
})
