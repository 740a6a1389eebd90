/**
 * The data TLB in V mode (issue #18, "one fast memory path for every mode"): a guest's loads and
 * stores under two-stage translation hit the same data TLB as the host's (tagged with a guest
 * context), holding the final host RAM offset. What a hit skips must still be honoured: the
 * guest's SUM, a G-stage PTE changed then fenced (HFENCE.GVMA), an hgatp write, and the host's
 * own mapping of the same virtual page after the guest traps out.
 */
import { describe, expect, it } from 'vitest'
import { CAUSE, CSR, assemble, createSystem } from './index.js'

const BASE = 0x8000_0000
const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
const GROOT = BASE + (2 << 20)
const VSROOT = GROOT + 0x4000
/** The guest's data page: guest VA 0x4000_0000 → GPA DATA (VS stage, 4 KiB) → PA DATA (G stage identity gigapage). */
const DATA_VA = 0x4000_0000
const DATA = BASE + (3 << 20)

function guest(source: string, vsDataFlags: bigint, tier: 'region' | 'block' = 'block') {
  const sys = createSystem({ harts: 1, ramSize: 4 << 20, hypervisor: true, blockThreshold: 8, tier })
  const prog = assemble(source, { base: BASE })
  sys.bus.writeBytes(BASE, prog.bytes)
  const wr = (pa: number, v: bigint) => sys.bus.write(pa, 8, v)
  // G stage: GPA gigapage 2 (the RAM) identity, U RWX.
  const gPte = GROOT + 16
  wr(gPte, (0x80000n << 10n) | V | R | W | X | U | A | D)
  // VS stage: VA gigapage 2 identity (S, RWX); VA 0x4000_0000 → DATA through two levels.
  const l1 = VSROOT + 0x1000
  const l0 = VSROOT + 0x2000
  wr(VSROOT + 16, (0x80000n << 10n) | V | R | W | X | A | D)
  wr(VSROOT + 8, (BigInt(l1 >>> 12) << 10n) | V)
  wr(l1, (BigInt(l0 >>> 12) << 10n) | V)
  wr(l0, (BigInt(DATA >>> 12) << 10n) | vsDataFlags)
  const hart = sys.harts[0]!
  hart.setCsr(CSR.hgatp, (8n << 60n) | (BigInt(GROOT) >> 12n))
  hart.setCsr(CSR.vsatp, (8n << 60n) | (BigInt(VSROOT) >> 12n))
  hart.setCsr(CSR.mtvec, BigInt(prog.symbols.get('trap')!))
  hart.pc = BASE
  hart.setVirt(true, 1)
  const h = hart as unknown as { translate: (va: number, kind: number) => number }
  const original = h.translate
  const counter = { data: 0 }
  h.translate = function (this: unknown, va: number, kind: number) {
    if (kind !== 0) counter.data++
    return original.call(this, va, kind)
  }
  return { sys, hart, counter, gPte, wr }
}

const LOOP = `
        li t0, 0x40000000
        li t2, 200
1:      ld t1, 0(t0)
        addi t1, t1, 1
        sd t1, 8(t0)
        addi t2, t2, -1
        bnez t2, 1b
`

describe('the data TLB in V mode', () => {
  for (const tier of ['block', 'region'] as const) {
    it(`a guest's loop of loads and stores is served by the data TLB, not translated each time (${tier} tier)`, () => {
      const m = guest(`${LOOP}
done:   j done
trap:   j trap`, V | R | W | A | D, tier)
      m.hart.run(2000)
      expect(m.sys.bus.read(DATA + 8, 8)).toBe(1n)
      expect(m.hart.virtualized).toBe(true)
      // 400 data accesses: a fill each for the load and the store page, not one walk per access.
      expect(m.counter.data).toBeLessThan(20)
    })
  }

  it("clearing the guest's SUM still faults on a user page after the TLB was filled", () => {
    const m = guest(`${LOOP}
        li t3, 0x40000
        csrc sstatus, t3      # vsstatus.SUM ← 0 (sstatus is vsstatus in VS)
bad:    ld t1, 0(t0)
done:   j done
trap:   j trap`, V | R | W | U | A | D)
    m.hart.setCsr(CSR.vsstatus, m.hart.getCsr(CSR.vsstatus) | (1n << 18n))
    m.hart.run(2000)
    expect(m.counter.data).toBeLessThan(20)
    expect(Number(m.hart.getCsr(CSR.mcause))).toBe(CAUSE.LOAD_PAGE)
    expect(m.hart.getCsr(CSR.mtval)).toBe(BigInt(DATA_VA))
  })

  it('a G-stage PTE made read-only is honoured after HFENCE.GVMA (and only then), and after an hgatp write', () => {
    for (const fence of ['hfence', 'hgatp'] as const) {
      const m = guest(`${LOOP}
done:   j done
trap:   j trap`, V | R | W | A | D)
      m.hart.run(2000)
      const gpte = m.sys.bus.read(m.gPte, 8)!
      m.wr(m.gPte, gpte & ~W)
      // The guest stores again: the cached translation still allows it (the spec allows either
      // until a fence; that it succeeds shows the entry is cached), until the fence.
      const store = assemble('li t0, 0x40000000\nsd t0, 16(t0)\nj .', { base: BASE + 0x800 })
      m.sys.bus.writeBytes(BASE + 0x800, store.bytes)
      m.hart.pc = BASE + 0x800
      m.hart.run(3)
      expect(m.sys.bus.read(DATA + 16, 8)).toBe(BigInt(DATA_VA))
      // Fence from HS (hfence.gvma needs HS or M): leave V, fence, come back.
      m.hart.setVirt(false, 1)
      if (fence === 'hfence') {
        m.sys.bus.writeBytes(BASE + 0x900, assemble('hfence.gvma\nj .').bytes)
        m.hart.pc = BASE + 0x900
        m.hart.run(1)
      } else m.hart.setCsr(CSR.hgatp, m.hart.getCsr(CSR.hgatp))
      m.hart.setVirt(true, 1)
      m.hart.pc = BASE + 0x800
      m.hart.run(3)
      expect(Number(m.hart.getCsr(CSR.mcause))).toBe(CAUSE.STORE_GUEST_PAGE)
    }
  })

  it("after a trap from the guest to HS, the host's own (unmapped) page at the same virtual address is not served from the guest's entries", () => {
    const m = guest(`${LOOP}
        ecall                 # VS → HS (delegated): no flush on the way
hs:     ld t1, 0(t0)          # HS, host Sv39: 0x4000_0000 is not mapped
done:   j done
trap:   j trap`, V | R | W | A | D)
    // The host's Sv39 maps only the RAM gigapage (the code), not 0x4000_0000.
    const root = BASE + 0x10_0000
    m.sys.bus.write(root + 16, 8, (0x80000n << 10n) | V | R | W | X | A | D)
    m.hart.setCsr(CSR.satp, (8n << 60n) | (BigInt(root) >> 12n))
    m.hart.setCsr(CSR.medeleg, 1n << BigInt(CAUSE.ECALL_VS))
    const hs = BASE + 4 * 8 // the ld after the loop and the ecall
    m.hart.setCsr(CSR.stvec, BigInt(hs))
    m.hart.run(2000)
    expect(m.sys.bus.read(DATA + 8, 8)).toBe(1n) // the guest's loop ran
    expect(m.counter.data).toBeLessThan(20) // through the data TLB
    expect(m.hart.virtualized).toBe(false)
    expect(Number(m.hart.getCsr(CSR.mcause))).toBe(CAUSE.LOAD_PAGE)
    expect(m.hart.getCsr(CSR.mepc)).toBe(BigInt(hs))
  })
})
