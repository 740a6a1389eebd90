import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CAUSE, CSR, HSTATUS, MSTATUS, assemble, createSystem, type Bus, type Hart } from './index.js'

/**
 * The hypervisor extension (privileged spec 1.12 chapter 8), `hypervisor: true`: two-stage
 * translation against a BigInt reference walker written from the spec, and the rules the QEMU
 * differential tests cannot check because QEMU 7.2 gets them wrong (test/diff/hyp-cases.ts).
 */
const BASE = 0x8000_0000
const u64 = (v: bigint) => BigInt.asUintN(64, v)
const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
const MASK44 = (1n << 44n) - 1n

/** A one-hart machine with H running `source` at BASE in M-mode; mtvec → `trap` (an infinite loop) when defined. */
function machine(source: string, ramSize = 1 << 20) {
  const sys = createSystem({ harts: 1, ramSize, hypervisor: true, sv57: true })
  const prog = assemble(source, { base: BASE })
  sys.bus.writeBytes(BASE, prog.bytes)
  const hart = sys.harts[0]!
  hart.pc = BASE
  const trap = prog.symbols.get('trap')
  if (trap !== undefined) hart.setCsr(CSR.mtvec, BigInt(trap))
  return { sys, bus: sys.bus as Bus, hart, symbols: prog.symbols }
}

// ---- the reference: two-stage translation as the spec words it -----------------------------

type Kind = 'load' | 'store' | 'hlvx'
interface Outcome {
  /** The physical address reached, or undefined on a trap. */
  pa?: bigint
  cause?: number
  tval?: bigint
  /** htval/mtval2. */
  tval2?: bigint
  tinst?: bigint
}
class RefTrap {
  constructor(readonly o: Outcome) {}
}

/**
 * Two-stage translation (§8.5) of guest virtual `va` for an HLV/HSV/HLVX with privilege `priv`
 * (hstatus.SPVP), writing A/D into `mem` as the hart must. BigInt throughout.
 */
function reference(mem: Map<bigint, bigint>, isRam: (pa: bigint) => boolean, ram: (pa: bigint) => bigint, s: { vsatp: bigint; hgatp: bigint; vsSum: boolean; vsMxr: boolean; mxr: boolean }, va: bigint, kind: Kind, priv: 0 | 1): Outcome {
  const loadLike = kind !== 'store'
  const pageFault = kind === 'store' ? CAUSE.STORE_PAGE : CAUSE.LOAD_PAGE
  const guestFault = kind === 'store' ? CAUSE.STORE_GUEST_PAGE : CAUSE.LOAD_GUEST_PAGE
  const accessFault = kind === 'store' ? CAUSE.STORE_ACCESS : CAUSE.LOAD_ACCESS
  const read = (pa: bigint) => {
    if (!isRam(pa)) throw new RefTrap({ cause: accessFault, tval: va })
    return mem.get(pa) ?? ram(pa)
  }
  /** G stage: gpa → pa; `need` is the permission asked; a fault carries `tinst`. */
  const gStage = (gpa: bigint, need: 'r' | 'w' | 'x', tinst: bigint): bigint => {
    const mode = s.hgatp >> 60n
    if (mode === 0n) return gpa
    const levels = Number(mode) - 5
    const fault = () => new RefTrap({ cause: guestFault, tval: va, tval2: gpa >> 2n, tinst })
    if (gpa >> BigInt(12 + 9 * levels + 2) !== 0n) throw fault()
    let a = (s.hgatp & MASK44) << 12n
    for (let i = levels - 1; i >= 0; i--) {
      const idx = (gpa >> BigInt(12 + 9 * i)) & (i === levels - 1 ? 0x7ffn : 0x1ffn)
      const pteAddr = a + idx * 8n
      const pte = read(pteAddr)
      if (!(pte & V) || (!(pte & R) && pte & W) || pte >> 54n) throw fault()
      const ppn = (pte >> 10n) & MASK44
      if (!(pte & (R | X))) {
        if (i === 0) throw fault()
        a = ppn << 12n
        continue
      }
      if (i > 0 && ppn & ((1n << BigInt(9 * i)) - 1n)) throw fault()
      if (!(pte & U)) throw fault() // G-stage accesses are U-mode accesses
      const ok = need === 'x' ? pte & X : need === 'w' ? pte & W : pte & R || (pte & X && s.mxr)
      if (!ok) throw fault()
      const want = A | (need === 'w' ? D : 0n)
      if ((pte & want) !== want) mem.set(pteAddr, pte | want)
      const mask = (1n << BigInt(12 + 9 * i)) - 1n
      return ((ppn << 12n) & ~mask) | (gpa & mask)
    }
    throw fault()
  }
  try {
    let gpa: bigint
    const mode = s.vsatp >> 60n
    if (mode === 0n) gpa = va
    else {
      const levels = Number(mode) - 5
      const bits = 12 + 9 * levels
      const sva = BigInt.asIntN(64, va)
      const pf = () => new RefTrap({ cause: pageFault, tval: va })
      if (sva >= 1n << BigInt(bits - 1) || sva < -(1n << BigInt(bits - 1))) throw pf()
      let a = (s.vsatp & MASK44) << 12n
      for (let i = levels - 1; ; i--) {
        const pteGpa = a + ((va >> BigInt(12 + 9 * i)) & 0x1ffn) * 8n
        const pteAddr = gStage(pteGpa, 'r', 0x3000n) // the implicit read: a pseudoinstruction in htinst
        const pte = read(pteAddr)
        if (!(pte & V) || (!(pte & R) && pte & W) || pte >> 54n) throw pf()
        const ppn = (pte >> 10n) & MASK44
        if (!(pte & (R | X))) {
          if (i === 0) throw pf()
          a = ppn << 12n
          continue
        }
        if (i > 0 && ppn & ((1n << BigInt(9 * i)) - 1n)) throw pf()
        if (pte & U ? priv === 1 && (kind === 'hlvx' || !s.vsSum) : priv === 0) throw pf()
        const ok = kind === 'hlvx' ? pte & X : kind === 'store' ? pte & W : pte & R || (pte & X && (s.vsMxr || s.mxr))
        if (!ok) throw pf()
        const want = A | (kind === 'store' ? D : 0n)
        if ((pte & want) !== want) mem.set(gStage(pteGpa, 'w', 0x3020n), pte | want) // the A/D update is an implicit store
        const mask = (1n << BigInt(12 + 9 * i)) - 1n
        gpa = ((ppn << 12n) & ~mask) | (va & mask)
        break
      }
    }
    const pa = gStage(gpa, kind === 'hlvx' ? 'x' : loadLike ? 'r' : 'w', 0n)
    if (!isRam(pa)) return { cause: accessFault, tval: va }
    return { pa }
  } catch (e) {
    if (e instanceof RefTrap) return e.o
    throw e
  }
}

// ---- random two-stage trees ------------------------------------------------------------------

const POOL = 0x8002_0000n // 24 pages of random tables and data
const POOL_PAGES = 24n
const G_ROOT = 0x8001_0000n // 16 KiB
const G_L2 = 0x8001_4000n
const G_L3 = 0x8001_5000n

/** A random PTE: invalid, a pointer to a pool page or a small GPA, or a leaf (maybe a superpage, maybe misaligned). */
const ptePpn = fc.oneof(
  fc.bigInt({ min: 0n, max: POOL_PAGES - 1n }).map((k) => (POOL >> 12n) + k), // a pool page (a PA, or a GPA the G stage maps 1:1)
  fc.tuple(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 3n })).map(([a, b, c]) => (a << 18n) | (b << 9n) | c), // a small structured GPA page
  fc.constant(0x80000n), // a gigapage-aligned PPN (RAM)
)
const pteValue = fc.oneof(
  { weight: 1, arbitrary: fc.constant(0n) },
  { weight: 7, arbitrary: ptePpn.map((p) => (p << 10n) | V) },
  { weight: 3, arbitrary: fc.tuple(ptePpn, fc.bigInt({ min: 0n, max: 255n })).map(([p, f]) => (p << 10n) | f | V) },
  { weight: 4, arbitrary: fc.tuple(ptePpn, fc.constantFrom(0xdfn, 0x5fn, 0x1fn, 0xcfn, 0x17n)).map(([p, f]) => (p << 10n) | f) }, // mostly-permissive leaves
  { weight: 1, arbitrary: fc.tuple(ptePpn, fc.bigInt({ min: 0n, max: 255n }), fc.bigInt({ min: 1n, max: 1023n })).map(([p, f, r]) => (r << 54n) | (p << 10n) | f | V) },
)

/** A VA or a GPA with small indices at every level (where the random tables have entries). */
const smallAddr = (levels: number) =>
  fc.tuple(fc.array(fc.bigInt({ min: 0n, max: 3n }), { minLength: levels, maxLength: levels }), fc.bigInt({ min: 0n, max: 511n })).map(([idx, off]) => idx.reduce((a, i, l) => a | (i << BigInt(12 + 9 * l)), off * 8n))

describe('two-stage translation against a BigInt reference walker', () => {
  it('property: HLV.D/HSV.D/HLVX.WU from M over random VS (Bare/Sv39/Sv48/Sv57) and G (Bare/Sv39x4/Sv48x4/Sv57x4) trees: value or trap (cause, tval, mtval2, mtinst, GVA) and every A/D bit, twice (the second through the TLB)', () => {
    const pool = fc.array(pteValue, { minLength: 4 * Number(POOL_PAGES), maxLength: 4 * Number(POOL_PAGES) })
    const roots = fc.array(pteValue, { minLength: 8, maxLength: 8 })
    fc.assert(
      fc.property(
        pool,
        roots,
        fc.constantFrom(0n, 8n, 9n, 10n),
        fc.constantFrom(0n, 8n, 9n, 10n),
        fc.bigInt({ min: 0n, max: POOL_PAGES - 1n }),
        smallAddr(5),
        fc.constantFrom<Kind>('load', 'store', 'hlvx'),
        fc.constantFrom<0 | 1>(0, 1),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (poolPtes, rootPtes, vsMode, gMode, vsRootPage, va, kind, priv, vsSum, vsMxr, mxr, plant) => {
          const op = kind === 'load' ? 'hlv.d a0, (a1)' : kind === 'store' ? 'hsv.d a2, (a1)' : 'hlvx.wu a0, (a1)'
          const { hart, bus } = machine(`${op}\n${op}\ntrap: j trap`)
          const mem = new Map<bigint, bigint>()
          const put = (pa: bigint, v: bigint) => {
            bus.write(Number(pa), 8, v)
            mem.set(pa, v)
          }
          // Pool pages: entries 0–3 random (tables at every level index 0–3), entry 4 a data word.
          for (let k = 0n; k < POOL_PAGES; k++) {
            for (let e = 0n; e < 4n; e++) put(POOL + k * 4096n + e * 8n, poolPtes[Number(k * 4n + e)]!)
            put(POOL + k * 4096n + 32n, 0x1111_0000n + k)
          }
          // The G root: its first 8 entries random (index 0–3 for Sv39x4 GPAs, 4–7 larger ones).
          rootPtes.forEach((p, i) => put(G_ROOT + BigInt(i) * 8n, p))
          if (plant) {
            // A valid path for this VA at both stages (random entries elsewhere still fault):
            // the G stage maps GPA 2–3 GiB to RAM 1:1; the VS tables chain through pool pages.
            put(G_ROOT + 16n, (0x80000n << 10n) | 0xdfn)
            put(G_ROOT, (((gMode === 10n ? G_L3 : G_L2) >> 12n) << 10n) | V) // Sv48x4 (Sv57x4: through one more table): root entry 0 → a level-2 table…
            put(G_L3, ((G_L2 >> 12n) << 10n) | V)
            put(G_L2 + 16n, (0x80000n << 10n) | 0xdfn) // … whose entry 2 is the same gigapage
            const levels = Number(vsMode) - 5
            let table = POOL + vsRootPage * 4096n
            for (let l = levels - 1; l > 0; l--) {
              const next = POOL + ((vsRootPage + BigInt(levels - l)) % POOL_PAGES) * 4096n
              put(table + ((va >> BigInt(12 + 9 * l)) & 511n) * 8n, ((next >> 12n) << 10n) | V)
              table = next
            }
            if (levels > 0) put(table + ((va >> 12n) & 511n) * 8n, ((POOL >> 12n) + ((vsRootPage + 7n) % POOL_PAGES)) << 10n | (priv === 0 ? 0x1fn : 0x0fn))
          }
          const vsatp = vsMode === 0n ? 0n : (vsMode << 60n) | ((POOL >> 12n) + vsRootPage)
          const hgatp = gMode === 0n ? 0n : (gMode << 60n) | (G_ROOT >> 12n)
          // Bare VS: a GPA in or near RAM; with a planted path, a canonical VA for the mode (else any: non-canonical ones fault).
          const vaUsed = vsMode === 0n ? (va & ((1n << 30n) - 1n)) | 0x8000_0000n : plant ? va & ((1n << BigInt(12 + 9 * (Number(vsMode) - 5) - 1)) - 1n) : va
          hart.setCsr(CSR.vsatp, vsatp)
          hart.setCsr(CSR.hgatp, hgatp)
          hart.setCsr(CSR.vsstatus, (vsSum ? MSTATUS.SUM : 0n) | (vsMxr ? MSTATUS.MXR : 0n))
          hart.setCsr(CSR.mstatus, mxr ? MSTATUS.MXR : 0n)
          hart.setCsr(CSR.hstatus, priv === 1 ? HSTATUS.SPVP : 0n)
          hart.setX(11, vaUsed)
          hart.setX(12, 0x5a5a_0000_0000_0077n)
          const isRam = (pa: bigint) => pa >= BigInt(BASE) && pa + 8n <= BigInt(BASE + (1 << 20))
          const state = { vsatp, hgatp, vsSum, vsMxr, mxr }
          for (let round = 0; round < 2; round++) {
            const expected = reference(mem, isRam, (pa) => bus.read(Number(pa), 8)!, state, vaUsed, kind, priv)
            hart.pc = BASE + 4 * round
            hart.run(1)
            if (expected.pa !== undefined) {
              expect(hart.pc).toBe(BASE + 4 * round + 4)
              if (kind === 'store') {
                mem.set(expected.pa, 0x5a5a_0000_0000_0077n) // (aligned: the VA's low 3 bits are 0)
                expect(bus.read(Number(expected.pa), 8)).toBe(0x5a5a_0000_0000_0077n)
              } else {
                const word = mem.get(expected.pa & ~7n) ?? bus.read(Number(expected.pa & ~7n), 8)!
                expect(hart.getX(10)).toBe(kind === 'hlvx' ? (word >> ((expected.pa & 4n) * 8n)) & 0xffff_ffffn : word)
              }
            } else {
              expect(hart.pc).toBe(Number(hart.getCsr(CSR.mtvec)))
              expect({ cause: Number(hart.getCsr(CSR.mcause)), tval: hart.getCsr(CSR.mtval), tval2: hart.getCsr(CSR.mtval2), tinst: hart.getCsr(CSR.mtinst) }).toEqual({ cause: expected.cause, tval: vaUsed, tval2: expected.tval2 ?? 0n, tinst: expected.tinst ?? 0n })
              // Every address fault of an HLV/HSV carries a guest virtual address.
              expect((hart.getCsr(CSR.mstatus) & MSTATUS.GVA) !== 0n).toBe(true)
            }
            // A/D: every PTE word the reference wrote, the hart wrote too (and nothing else changed).
            for (const [pa, v] of mem) expect([pa, bus.read(Number(pa), 8)]).toEqual([pa, v])
          }
        },
      ),
      { numRuns: 400 },
    )
  })
})

// ---- rules QEMU 7.2 does not follow (so the differential tests leave them out) ------------------

/** Runs `body` from M-mode until `done:` (ebreak there stops nothing: the test reads state after `budget` steps). */
function run(body: string, budget = 200) {
  const m = machine(`${body}\ndone: j done\ntrap: j trap`)
  m.hart.run(budget)
  return m
}
const toVs = (label: string, mpp = '0x800') => `li t0, 0x1800; csrc mstatus, t0; li t0, ${mpp}; csrs mstatus, t0; li t0, 1; slli t0, t0, 39; csrs mstatus, t0; la t0, ${label}; csrw mepc, t0; mret`
const at = (m: ReturnType<typeof machine>, label: string) => m.hart.pc === m.symbols.get(label)

describe('H CSRs: WARL rules', () => {
  it('hstatus keeps only its fields (VSXL reads 64-bit, VGEIN 0 with GEILEN 0), vsstatus its own, hcounteren 32 bits, vsepc even, hgatp keeps a supported MODE, 14 VMID bits and a 16 KiB-aligned root', () => {
    const m = run(`li t0, -1
      csrw hstatus, t0; csrr a0, hstatus
      csrw vsstatus, t0; csrr a1, vsstatus
      csrw hcounteren, t0; csrr a2, hcounteren
      csrw vsepc, t0; csrr a3, vsepc
      li t1, 0x8000000000080001; csrw hgatp, t1
      csrw hgatp, t0; csrr a4, hgatp
      csrw vsatp, t0; csrr a5, vsatp
      csrw hedeleg, t0; csrr a6, hedeleg
      csrw hideleg, t0; csrr a7, hideleg
      csrw medeleg, t0; csrr s2, medeleg
      csrw mideleg, zero; csrr s3, mideleg
      csrr s4, misa
      j done`)
    expect(m.hart.getX(10)).toBe((2n << 32n) | 0x7003c0n)
    expect(m.hart.getX(11)).toBe((1n << 63n) | (2n << 32n) | 0xc6122n)
    expect(m.hart.getX(12)).toBe(0xffff_ffffn)
    expect(m.hart.getX(13)).toBe(u64(-2n))
    expect(m.hart.getX(14)).toBe((8n << 60n) | (0x3fffn << 44n) | (MASK44 & ~3n)) // MODE 15 unsupported: keeps Sv39x4
    expect(m.hart.getX(15)).toBe(0n) // vsatp: an unsupported MODE write has no effect
    expect(m.hart.getX(16)).toBe(0xb1ffn)
    expect(m.hart.getX(17)).toBe(0x444n)
    expect(m.hart.getX(18)).toBe(0xf0b7ffn) // with H: 10, 20–23 delegable; 11 never
    expect(m.hart.getX(19)).toBe(0x1444n) // VS-level and SGEI interrupts read as delegated
    expect(m.hart.getX(20) & (1n << 7n)).toBe(1n << 7n)
  })

  it('vsip and vsie alias hip/hie bits delegated by hideleg, shifted to the S positions (VSTIP and VSEIP too)', () => {
    const m = run(`li t0, 0x444; csrw hideleg, t0; csrw hvip, t0; csrw hie, t0
      csrr a0, vsip; csrr a1, vsie
      li t0, 0x40; csrw hideleg, t0
      csrr a2, vsip; csrr a3, vsie
      csrw vsip, zero; csrr a4, hvip
      li t0, 0x4; csrw hideleg, t0; csrw vsip, zero; csrr a5, hvip
      j done`)
    expect([m.hart.getX(10), m.hart.getX(11), m.hart.getX(12), m.hart.getX(13), m.hart.getX(14), m.hart.getX(15)]).toEqual([0x222n, 0x222n, 0x20n, 0x20n, 0x444n, 0x440n])
  })

  it('a hart without the extension has none of it: misa.H clear, H CSRs and instructions illegal', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const prog = assemble(`la t0, trap; csrw mtvec, t0; csrr a0, hstatus; hlv.d a1, (a0); j done\ndone: j done\ntrap: csrr t1, mepc; addi t1, t1, 4; csrw mepc, t1; csrr t2, mcause; add s2, s2, t2; mret`, { base: BASE })
    sys.bus.writeBytes(BASE, prog.bytes)
    const h = sys.harts[0]!
    h.pc = BASE
    h.run(100)
    expect(h.getCsr(CSR.misa) & (1n << 7n)).toBe(0n)
    expect(h.getX(18)).toBe(BigInt(2 * CAUSE.ILLEGAL))
    expect(() => h.setVirt(true, 1)).toThrow(/hypervisor/)
  })
})

describe('V mode: virtual-instruction exceptions and delegation', () => {
  const vuProbe = (insn: string) => run(`la t0, trap; csrw mtvec, t0\n${toVs('1f', '0')}\n1: ${insn}\nj done`)

  it.each(['csrr a0, sstatus', 'sret', 'sfence.vma', 'hfence.vvma', 'hfence.gvma', 'hlv.d a0, (sp)', 'hsv.w a0, (sp)'])('VU: %s raises a virtual-instruction exception (cause 22, tval the instruction)', (insn) => {
    const m = vuProbe(insn)
    expect(at(m, 'trap')).toBe(true)
    expect(Number(m.hart.getCsr(CSR.mcause))).toBe(CAUSE.VIRTUAL_INSTRUCTION)
    expect(m.hart.getCsr(CSR.mtval)).toBe(BigInt(new DataView(assemble(insn).bytes.buffer).getUint32(0, true)))
    expect(m.hart.getCsr(CSR.mstatus) & (MSTATUS.MPV | MSTATUS.GVA)).toBe(MSTATUS.MPV) // no GVA: tval is no address
  })

  it('VS: satp under hstatus.VTVM raises a virtual-instruction exception; mstatus.TVM and TSR do not apply to VS', () => {
    let m = run(`la t0, trap; csrw mtvec, t0; li t0, 0x100000; csrw hstatus, t0\n${toVs('1f')}\n1: csrr a0, satp\nj done`)
    expect([at(m, 'trap'), Number(m.hart.getCsr(CSR.mcause))]).toEqual([true, CAUSE.VIRTUAL_INSTRUCTION])
    m = run(`la t0, trap; csrw mtvec, t0; li t0, 0x500000; csrs mstatus, t0; li t0, 0x1234; csrw vsatp, t0\n${toVs('1f')}\n1: csrr a0, satp; sfence.vma\nla t0, 2f; csrw sepc, t0; sret\n2: j done`)
    expect(at(m, 'done')).toBe(true)
  })

  it('an exception 2 or 6 delegated to VS keeps its cause (only VS-level interrupts are renumbered)', () => {
    const m = run(`la t0, trap; csrw mtvec, t0; la t0, vs; csrw vstvec, t0; li t0, 0x44; csrw medeleg, t0; csrw hedeleg, t0\n${toVs('1f')}\n1: .word 0\nvs: csrr a0, scause; csrr a1, stval; j done`)
    expect(at(m, 'done')).toBe(true)
    expect([m.hart.getX(10), m.hart.getX(11)]).toEqual([2n, 0n])
  })

  it('traps to M from V record MPV and GVA exactly (GVA only for an address), mtval2/mtinst 0 unless a guest-page fault', () => {
    const m = run(`la t0, trap; csrw mtvec, t0; li t0, 5; csrw mtval2, t0; csrw mtinst, t0\n${toVs('1f')}\n1: li t0, 0x90000000; ld a0, 0(t0)\nj done`)
    expect(Number(m.hart.getCsr(CSR.mcause))).toBe(CAUSE.LOAD_ACCESS)
    expect(m.hart.getCsr(CSR.mstatus) & (MSTATUS.MPV | MSTATUS.GVA)).toBe(MSTATUS.MPV | MSTATUS.GVA)
    expect([m.hart.getCsr(CSR.mtval2), m.hart.getCsr(CSR.mtinst)]).toEqual([0n, 0n])
  })
})

describe('two-stage rules QEMU 7.2 gets wrong', () => {
  /** G stage Sv39x4: GPA 0..4 GiB identity with `gflags`, VS Bare; the body then runs. */
  const gIdentity = (gflags: bigint, body: string) => {
    const m = machine(`la t0, trap; csrw mtvec, t0\n${body}\ndone: j done\ntrap: j trap`, 4 << 20)
    const root = BigInt(BASE + (2 << 20)) // 16 KiB aligned
    for (let i = 0n; i < 4n; i++) m.bus.write(Number(root + i * 8n), 8, ((i << 18n) << 10n) | gflags)
    m.hart.setCsr(CSR.hgatp, (8n << 60n) | (root >> 12n))
    return m
  }

  it('HLV from M translates through both stages; HLVX reads an execute-only page; MPRV with MPV makes M-mode loads guest accesses', () => {
    const m = gIdentity(V | X | U | A | D, `la a1, data; hlvx.wu a0, (a1)
      hlv.d a2, (a1)
      j done
      .align 3
      data: .dword 0x1122334455667788`)
    m.hart.run(10)
    expect(m.hart.getX(10)).toBe(0x55667788n)
    expect(Number(m.hart.getCsr(CSR.mcause))).toBe(CAUSE.LOAD_GUEST_PAGE) // not readable at the G stage
    expect(m.hart.getCsr(CSR.mtval2)).toBe(BigInt(m.symbols.get('data')!) >> 2n)
    const n = gIdentity(V | R | U | A | D, `li t0, 0x1800; csrc mstatus, t0; li t0, 0x800; csrs mstatus, t0
      li t0, 1; slli t0, t0, 39; csrs mstatus, t0; li t0, 0x20000; csrs mstatus, t0
      la a1, data; ld a0, 0(a1); sd a0, 8(a1)
      j done
      .align 3
      data: .dword 0x1122334455667788`)
    n.hart.run(20)
    expect(n.hart.getX(10)).toBe(0x1122334455667788n)
    expect(Number(n.hart.getCsr(CSR.mcause))).toBe(CAUSE.STORE_GUEST_PAGE) // G leaf without W
    expect(n.hart.getCsr(CSR.mstatus) & (MSTATUS.GVA | MSTATUS.MPV)).toBe(MSTATUS.GVA) // MPV 0: trapped from M
  })

  it('vsstatus.MXR applies to the VS stage only; the G stage follows mstatus.MXR', () => {
    const m = gIdentity(V | X | U | A | D, `li t0, 0x80000; csrs vsstatus, t0; la a1, data; hlv.d a0, (a1)
      j done
      .align 3
      data: .dword 7`)
    m.hart.run(10)
    expect(Number(m.hart.getCsr(CSR.mcause))).toBe(CAUSE.LOAD_GUEST_PAGE)
    const n = gIdentity(V | X | U | A | D, `li t0, 0x80000; csrs mstatus, t0; la a1, data; hlv.d a0, (a1)
      j done
      .align 3
      data: .dword 7`)
    n.hart.run(10)
    expect(n.hart.getX(10)).toBe(7n)
  })
})

describe('the guest TLB', () => {
  it('caches the final translation: a changed G-stage PTE is seen only after an hgatp write or HFENCE.GVMA', () => {
    const m = machine('trap: j trap', 4 << 20)
    const h: Hart = m.hart
    const root = BigInt(BASE + (2 << 20))
    const data = BigInt(BASE + (3 << 20))
    m.bus.write(Number(data), 8, 42n)
    m.bus.write(Number(data + 4096n), 8, 43n)
    // G: GPA gigapage 2 → RAM (identity), U RWX.
    m.bus.write(Number(root + 16n), 8, ((0x80000n) << 10n) | V | R | W | X | U | A | D)
    h.setCsr(CSR.hgatp, (8n << 60n) | (root >> 12n))
    h.setCsr(CSR.mtvec, BigInt(BASE))
    const prog = assemble('hlv.d a0, (a1)', { base: BASE + 0x100 })
    m.bus.writeBytes(BASE + 0x100, prog.bytes)
    const hlv = () => {
      h.pc = BASE + 0x100
      h.run(1)
      return h.getX(10)
    }
    h.setX(11, data)
    expect(hlv()).toBe(42n)
    // Remap the gigapage 1 page on (a misaligned gigapage would fault, so use a level-1 table).
    const l1 = BigInt(BASE + (2 << 20) + 0x4000)
    const l0 = l1 + 4096n
    m.bus.write(Number(root + 16n), 8, ((l1 >> 12n) << 10n) | V)
    for (let i = 0n; i < 512n; i++) m.bus.write(Number(l1 + i * 8n), 8, (((l0 >> 12n) << 10n) | V))
    for (let i = 0n; i < 512n; i++) m.bus.write(Number(l0 + i * 8n), 8, ((((data >> 12n) + 1n) << 10n) | V | R | W | U | A | D))
    expect(hlv()).toBe(42n) // still cached
    h.setCsr(CSR.hgatp, (8n << 60n) | (root >> 12n)) // a write flushes
    expect(hlv()).toBe(43n)
    for (let i = 0n; i < 512n; i++) m.bus.write(Number(l0 + i * 8n), 8, (((data >> 12n) << 10n) | V | R | W | U | A | D))
    m.bus.writeBytes(BASE + 0x104, assemble('hfence.gvma').bytes)
    h.pc = BASE + 0x104
    h.run(1)
    expect(hlv()).toBe(42n)
  })
})

describe('the block tier in V mode', () => {
  it('property: a hot loop of loads, stores and arithmetic in VS mode over two-stage translation gives the same registers, memory and count compiled (threshold 1) as interpreted', () => {
    const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 300 }), (seeds, n) => {
        const outcome = (blockThreshold: number) => {
          const sys = createSystem({ harts: 1, ramSize: 4 << 20, hypervisor: true, blockThreshold })
          const prog = assemble(`
            la s1, buf; li t0, ${n}
            1: ld t1, 0(s1); add a0, a0, t1; xor a1, a1, a0; slli t2, a1, 3; sd t2, 8(s1); sw a0, 16(s1); lw t3, 16(s1); add a2, a2, t3
               addi s1, s1, 8; addi t0, t0, -1; bnez t0, 1b
            2: j 2b
            .align 3
            buf: .dword 1, 2, 3, 4`, { base: BASE })
          sys.bus.writeBytes(BASE, prog.bytes)
          const gRoot = BASE + (2 << 20)
          const vsRoot = gRoot + 0x4000
          sys.bus.write(gRoot + 16, 8, (0x80000n << 10n) | V | R | W | X | U | A | D)
          sys.bus.write(vsRoot + 16, 8, (0x80000n << 10n) | V | R | W | X) // A and D set by the hart
          const h = sys.harts[0]!
          h.setCsr(CSR.hgatp, (8n << 60n) | (BigInt(gRoot) >> 12n))
          h.setCsr(CSR.vsatp, (8n << 60n) | (BigInt(vsRoot) >> 12n))
          seeds.forEach((s, i) => h.setX(10 + i, s))
          h.pc = BASE
          h.setVirt(true, 1)
          const r = h.run(20 * n + 40)
          return { x: Array.from({ length: 32 }, (_, i) => h.getX(i)), pc: h.pc, executed: r.executed, mem: Array.from(sys.bus.readBytes(BASE, 4096)), vsPte: sys.bus.read(vsRoot + 16, 8), v: h.virtualized }
        }
        const compiled = outcome(1)
        expect(compiled).toEqual(outcome(Infinity))
        expect(compiled.v).toBe(true) // still the guest: no trap left V mode
        expect(compiled.executed).toBeGreaterThanOrEqual(11 * n) // the whole loop ran
      }),
      { numRuns: 30 },
    )
  })
})

describe('snapshot and restore', () => {
  it('carry V, the H and VS CSRs, and the guest keeps running the same', () => {
    const prog = `1: addi a0, a0, 1; ld a1, 0(sp); sd a0, 8(sp); j 1b`
    const make = () => {
      const sys = createSystem({ harts: 1, ramSize: 4 << 20, hypervisor: true })
      sys.bus.writeBytes(BASE, assemble(prog, { base: BASE }).bytes)
      return sys
    }
    const a = make()
    const h = a.harts[0]!
    const gRoot = BASE + (2 << 20)
    a.bus.write(gRoot + 16, 8, (0x80000n << 10n) | 0xdfn)
    h.setCsr(CSR.hgatp, (8n << 60n) | (BigInt(gRoot) >> 12n))
    h.setCsr(CSR.hstatus, HSTATUS.VTW | HSTATUS.SPVP)
    h.setCsr(CSR.vsscratch, 0x1234n)
    h.setCsr(CSR.htimedelta, 99n)
    h.setX(2, BigInt(BASE + 0x1000))
    h.pc = BASE
    h.setVirt(true, 1)
    h.run(50)
    const s = h.snapshot()
    expect(s.virt).toBe(true)
    expect([s.csrs.hgatp, s.csrs.hstatus, s.csrs.vsscratch, s.csrs.htimedelta]).toEqual([(8n << 60n) | (BigInt(gRoot) >> 12n), (2n << 32n) | HSTATUS.VTW | HSTATUS.SPVP, 0x1234n, 99n])
    const b = make()
    b.bus.writeBytes(BASE, a.bus.readBytes(BASE, 4 << 20))
    const g = b.harts[0]!
    g.restore(s)
    expect(g.virtualized).toBe(true)
    h.run(77)
    g.run(77)
    expect(g.snapshot()).toEqual(h.snapshot())
    expect(() => createSystem({ harts: 1, ramSize: 1 << 20 }).harts[0]!.restore(s)).toThrow(/V mode/)
  })
})

describe('Sstc in a guest', () => {
  it('vstimecmp against time + htimedelta raises VSTIP; VS reads and writes it as stimecmp and sees time + htimedelta; the interrupt reaches VS as cause 5', () => {
    const m = machine(`la t0, trap; csrw mtvec, t0; la t0, vs; csrw vstvec, t0
      li t0, 1; slli t0, t0, 63; csrw menvcfg, t0; csrw henvcfg, t0
      li t0, 2; csrw mcounteren, t0; csrw hcounteren, t0
      li t0, 1; slli t0, t0, 40; csrw htimedelta, t0
      li t0, -1; csrw vstimecmp, t0
      csrr a0, hip
      li t0, 0x40; csrw hideleg, t0; csrw hie, t0
      li t0, 0x20; csrw vsie, t0; li t0, 2; csrw vsstatus, t0
      li t0, 0x1800; csrc mstatus, t0; li t0, 0x800; csrs mstatus, t0; li t0, 1; slli t0, t0, 39; csrs mstatus, t0
      la t0, guest; csrw mepc, t0; mret
      guest: csrr a1, time; csrr a2, stimecmp
      csrw stimecmp, zero
      1: j 1b
      vs: csrr a3, scause; csrr a4, stimecmp
      done: j done
      trap: j trap`)
    m.hart.run(300)
    expect(m.hart.pc).toBe(m.symbols.get('done'))
    expect(m.hart.getX(10) & 0x40n).toBe(0n) // vstimecmp far away: no VSTIP
    expect(m.hart.getX(11)).toBeGreaterThanOrEqual(1n << 40n) // time + htimedelta
    expect(m.hart.getX(12)).toBe(u64(-1n)) // stimecmp in VS is vstimecmp
    expect(m.hart.getX(13)).toBe((1n << 63n) | 5n) // VSTI, as the guest's STI
    expect(m.hart.getX(14)).toBe(0n) // the guest wrote 0 through stimecmp
  })
})
