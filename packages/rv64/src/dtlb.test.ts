/**
 * The data TLB (hart.ts `ramOffset`/`fillDtlb`): with paging on, a load or store that hits it
 * goes straight to the page's RAM offset; permissions, D and PMP are checked once, when the entry
 * is filled. These cases check that hits happen, and that what a hit skips is still honoured:
 * SUM cleared after the fill, a PTE made read-only then SFENCE.VMA, D set by the first store.
 */
import { describe, expect, it } from 'vitest'
import { CSR, MSTATUS, assemble, createSystem } from './index.js'

const BASE = 0x8000_0000
const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
const DATA_VA = 0x4000_0000
const DATA_PA = BASE + 0x20_0000

/** S-mode with Sv39: RAM identity-mapped by a gigapage (S, RWX), DATA_VA → DATA_PA a 4 KiB page with `flags`; traps go to M at `trap`. */
function machine(source: string, flags: bigint) {
  const sys = createSystem({ harts: 1, ramSize: 4 << 20, blockThreshold: 8 })
  const prog = assemble(source, { base: BASE })
  sys.bus.writeBytes(BASE, prog.bytes)
  const hart = sys.harts[0]!
  const root = BigInt(BASE + 0x10_0000)
  const l1 = root + 0x1000n
  const l0 = root + 0x2000n
  const wr = (pa: bigint, v: bigint) => sys.bus.write(Number(pa), 8, v)
  wr(root + 2n * 8n, ((BigInt(BASE) >> 12n) << 10n) | V | R | W | X | A | D) // VA 0x8000_0000: gigapage
  wr(root + 1n * 8n, ((l1 >> 12n) << 10n) | V) // VA 0x4000_0000 → l1 → l0
  wr(l1, ((l0 >> 12n) << 10n) | V)
  const pteAddr = l0
  wr(pteAddr, ((BigInt(DATA_PA) >> 12n) << 10n) | flags)
  hart.setCsr(CSR.satp, (8n << 60n) | (root >> 12n))
  hart.setCsr(CSR.mtvec, BigInt(prog.symbols.get('trap')!))
  hart.pc = BASE
  hart.privilege = 1
  /** Counts the data accesses that went through translation (not the direct window, not a data-TLB hit). */
  const h = hart as unknown as { translate: (va: number, kind: number) => number }
  const original = h.translate
  const counter = { data: 0 }
  h.translate = function (this: unknown, va: number, kind: number) {
    if (kind !== 0) counter.data++ // 0: a fetch
    return original.call(this, va, kind)
  }
  return { sys, hart, counter, pte: () => sys.bus.read(Number(pteAddr), 8)!, setPte: (v: bigint) => wr(pteAddr, v), symbols: prog.symbols }
}

describe('the data TLB', () => {
  it('serves repeated loads and stores to a mapped page without translating each; clearing SUM still faults on a U page', () => {
    const m = machine(`
        li t0, 0x40000000
        li t2, 100
1:      ld t1, 0(t0)
        addi t1, t1, 1
        sd t1, 8(t0)
        addi t2, t2, -1
        bnez t2, 1b
        li t3, 0x40000        # SUM
        csrc sstatus, t3
bad:    ld t1, 0(t0)          # a U page from S with SUM = 0: load page fault
trap:   j trap
`, V | R | W | U | A | D)
    m.hart.setCsr(CSR.mstatus, m.hart.getCsr(CSR.mstatus) | MSTATUS.SUM)
    m.sys.bus.write(DATA_PA, 8, 41n)
    m.hart.run(1000)
    expect(m.sys.bus.read(DATA_PA + 8, 8)).toBe(42n)
    expect(m.hart.privilege).toBe(3)
    expect(m.hart.getCsr(CSR.mcause)).toBe(13n)
    expect(m.hart.getCsr(CSR.mepc)).toBe(BigInt(m.symbols.get('bad')!))
    expect(m.hart.getCsr(CSR.mtval)).toBe(BigInt(DATA_VA))
    // One fill per kind, then the faulting load (the old path translated all 201).
    expect(m.counter.data).toBeLessThanOrEqual(3)
  })

  it('a store to a page without D sets D (the fill is after the walk); read-only after SFENCE.VMA faults', () => {
    const m = machine(`
        li t0, 0x40000000
        li t1, 7
        ld t2, 0(t0)
        sd t1, 0(t0)
        sd t1, 8(t0)
        sfence.vma
st:     sd t1, 16(t0)
trap:   j trap
`, V | R | W | A)
    m.hart.run(5) // li (lui+addi), li, ld, sd, sd
    expect(m.pte() & D).toBe(D)
    expect(m.sys.bus.read(DATA_PA + 8, 8)).toBe(7n)
    m.setPte(m.pte() & ~W)
    m.hart.run(10)
    expect(m.hart.privilege).toBe(3)
    expect(m.hart.getCsr(CSR.mcause)).toBe(15n)
    expect(m.hart.getCsr(CSR.mepc)).toBe(BigInt(m.symbols.get('st')!))
    expect(m.sys.bus.read(DATA_PA + 16, 8)).toBe(0n)
  })

  it('compiled blocks (inline data-TLB lookups) and the interpreter agree on a paged loop with misaligned and page-crossing accesses', () => {
    const source = `
        li t0, 0x40000000
        li t2, 300
        li t4, 0x400006a4     # + 8 × 299 = 0x40000ffc: the last pass crosses the page
1:      ld t1, 0(t0)
        addi t1, t1, 3
        sd t1, 8(t0)
        lw t3, 13(t0)
        sh t3, 21(t0)
        ld t5, 0(t4)          # misaligned; on the last pass it crosses into the unmapped page: a load page fault
        addi t0, t0, 8
        addi t4, t4, 8
        addi t2, t2, -1
        bnez t2, 1b
trap:   j trap
`
    const run = (blocks: boolean) => {
      const m = machine(source, V | R | W | A | D)
      if (!blocks) m.hart.onTrace = () => {}
      m.hart.setCsr(CSR.mstatus, m.hart.getCsr(CSR.mstatus))
      const steps = [1, 7, 50, 333, 100_000].map((n) => m.hart.run(n))
      return { steps, x: Array.from({ length: 32 }, (_, i) => m.hart.getX(i)), pc: m.hart.pc, instret: m.hart.instret, mem: Array.from(m.sys.bus.readBytes(DATA_PA, 4096)), cause: m.hart.getCsr(CSR.mcause), tval: m.hart.getCsr(CSR.mtval), epc: m.hart.getCsr(CSR.mepc) }
    }
    const a = run(true)
    const b = run(false)
    expect(a).toEqual(b)
    expect(a.cause).toBe(13n)
    expect(a.tval).toBe(0x4000_1000n)
    expect(a.x[7]).toBe(1n) // t2: the fault came on the last pass
  })

  it('two pages whose addresses differ only above bit 31 (Sv48) never share an entry: same index, same low tag word, distinct high words — both tiers', () => {
    // VA_A = 0x4000_0000 and VA_B = 0x1_4000_0000 (+ the same offset) have equal low 32 bits, so
    // the same TLB slot and the same TagLo; only TagHi tells them apart. A → PA BASE + 0x3f_0000,
    // B → PA BASE + 0x1f_0000 (2 MiB pages). Loads alternate A, B, A, … and a store goes to B.
    const OFF = 0x1f_0000
    const run = (blocks: boolean) => {
      const sys = createSystem({ harts: 1, ramSize: 4 << 20, blockThreshold: 8 })
      const prog = assemble(`
        li t0, 0x${(0x4000_0000 + OFF).toString(16)}
        li t1, 0x${(0x1_4000_0000 + OFF).toString(16)}
        li t2, 200
        li a0, 0
1:      ld t3, 0(t0)
        ld t4, 0(t1)
        add a0, a0, t3
        sub a0, a0, t4
        sd a0, 8(t1)
        addi t2, t2, -1
        bnez t2, 1b
trap:   j trap
`, { base: BASE })
      sys.bus.writeBytes(BASE, prog.bytes)
      const wr = (pa: number, v: bigint) => sys.bus.write(pa, 8, v)
      const root = BASE + 0x10_0000, l2 = root + 0x1000, l1a = root + 0x2000, l1b = root + 0x3000
      const leaf = (pa: number) => ((BigInt(pa) >> 12n) << 10n) | V | R | W | X | A | D
      const table = (pa: number) => ((BigInt(pa) >> 12n) << 10n) | V
      wr(root, table(l2)) // VA bits 47..39 = 0
      wr(l2 + 2 * 8, leaf(BASE)) // 0x8000_0000: the code, a gigapage
      wr(l2 + 1 * 8, table(l1a)) // 0x4000_0000
      wr(l2 + 5 * 8, table(l1b)) // 0x1_4000_0000
      wr(l1a, leaf(BASE + 0x20_0000))
      wr(l1b, leaf(BASE))
      wr(BASE + 0x20_0000 + OFF, 1000n)
      wr(BASE + OFF, 1n)
      const hart = sys.harts[0]!
      hart.setCsr(CSR.satp, (9n << 60n) | (BigInt(root) >> 12n))
      hart.setCsr(CSR.mtvec, BigInt(prog.symbols.get('trap')!))
      hart.pc = BASE
      hart.privilege = 1
      if (!blocks) hart.onTrace = () => {}
      hart.run(100_000)
      return { a0: hart.getX(10), stored: sys.bus.read(BASE + OFF + 8, 8), storedA: sys.bus.read(BASE + 0x20_0000 + OFF + 8, 8), mcause: hart.getCsr(CSR.mcause), privilege: hart.privilege }
    }
    const compiled = run(true)
    expect(compiled).toEqual(run(false))
    expect(compiled.a0).toBe(200n * 999n)
    expect(compiled.stored).toBe(200n * 999n)
    expect(compiled.storedA).toBe(0n)
    expect([compiled.privilege, compiled.mcause]).toEqual([1, 0n]) // no trap: the loop ended at `trap` in S-mode
  })
})

