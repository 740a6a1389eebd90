import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CAUSE, CSR, MSTATUS, assemble, createSystem, type Bus } from './index.js'

/**
 * Sv57 (privileged spec §10.6 / 4.5 of 1.12), offered with `sv57: true`: virtual addresses with
 * 57 significant bits, beyond the ±2^53 a number holds exactly. Data accesses run in M-mode with
 * MPRV and MPP = S, so fetches stay physical and loads/stores/AMOs are translated.
 */
const BASE = 0x8000_0000
const RAM = 4 << 20
const SV57 = 10n
const V = 1n, R = 2n, W = 4n, X = 8n, A = 64n, D = 128n
const RWAD = V | R | W | A | D
const s64 = (v: bigint) => BigInt.asIntN(64, v)
const u64 = (v: bigint) => BigInt.asUintN(64, v)

/** A machine with a page-table allocator in RAM from BASE + 1 MiB. */
function machine(source: string, options: { sv57?: boolean; blockThreshold?: number } = {}) {
  const sys = createSystem({ harts: 1, ramSize: RAM, sv57: options.sv57 ?? true, ...(options.blockThreshold !== undefined ? { blockThreshold: options.blockThreshold } : {}) })
  const bus = sys.bus as Bus
  const prog = assemble(source, { base: BASE })
  bus.writeBytes(BASE, prog.bytes)
  const hart = sys.harts[0]!
  let next = BigInt(BASE + (1 << 20))
  const alloc = () => ((next += 4096n), next - 4096n)
  const root = alloc()
  const rd = (pa: bigint) => bus.read(Number(pa), 8)!
  const wr = (pa: bigint, v: bigint) => bus.write(Number(pa), 8, v)
  /** Maps the page of `va` at `level` (0 = 4 KiB … 4 = 256 TiB) to physical page number `ppn`. */
  const map = (va: bigint, ppn: bigint, level: number, flags = RWAD) => {
    let table = root
    for (let l = 4; l > level; l--) {
      const pteAddr = table + ((u64(va) >> BigInt(12 + 9 * l)) & 511n) * 8n
      let pte = rd(pteAddr)
      if (!(pte & V)) {
        pte = ((alloc() >> 12n) << 10n) | V
        wr(pteAddr, pte)
      }
      table = ((pte >> 10n) & ((1n << 44n) - 1n)) << 12n
    }
    wr(table + ((u64(va) >> BigInt(12 + 9 * level)) & 511n) * 8n, (ppn << 10n) | flags)
  }
  const enable = () => {
    hart.setCsr(CSR.satp, (SV57 << 60n) | (root >> 12n))
    hart.setCsr(CSR.mstatus, (hart.getCsr(CSR.mstatus) & ~MSTATUS.MPP) | MSTATUS.MPRV | (1n << 11n)) // MPP = S (a trap leaves M there)
    hart.setCsr(CSR.mtvec, BigInt(prog.symbols.get('trap') ?? BASE))
  }
  return { sys, bus, hart, map, enable, root, rd, symbols: prog.symbols }
}

/** A spec-style Sv57 walk in BigInt over the bus (the reference): a physical address or a page fault. */
function referenceWalk(bus: Bus, satp: bigint, va: bigint): bigint | 'page-fault' {
  const s = s64(va)
  if (s >= 1n << 56n || s < -(1n << 56n)) return 'page-fault'
  let table = (satp & ((1n << 44n) - 1n)) << 12n
  for (let level = 4; level >= 0; level--) {
    const pte = bus.read(Number(table + ((u64(va) >> BigInt(12 + 9 * level)) & 511n) * 8n), 8)!
    if (!(pte & V) || (!(pte & R) && pte & W) || pte >> 54n) return 'page-fault'
    const ppn = (pte >> 10n) & ((1n << 44n) - 1n)
    if (!(pte & (R | X))) {
      if (level === 0) return 'page-fault'
      table = ppn << 12n
      continue
    }
    const bits = BigInt(12 + 9 * level)
    const mask = (1n << bits) - 1n
    if ((ppn << 12n) & mask) return 'page-fault' // misaligned superpage
    if (!(pte & R)) return 'page-fault' // a load needs R (MXR off)
    return (ppn << 12n) | (u64(va) & mask)
  }
  return 'page-fault'
}

const HIGH = 0xff60_0000_0000_1000n // high half, bit 56 set, beyond -2^53
const LOW = 0x00f0_0000_0000_0000n // low half, above 2^53

describe('Sv57 (HartOptions.sv57)', () => {
  it('satp accepts mode 10 only with the option; off, the write has no effect (WARL)', () => {
    const satp = (SV57 << 60n) | 0x80123n
    const off = machine('nop', { sv57: false }).hart
    off.setCsr(CSR.satp, satp)
    expect(off.getCsr(CSR.satp)).toBe(0n)
    off.setCsr(CSR.satp, (9n << 60n) | 0x80123n)
    expect(off.getCsr(CSR.satp)).toBe((9n << 60n) | 0x80123n)
    off.setCsr(CSR.satp, satp) // still refused, Sv48 stays
    expect(off.getCsr(CSR.satp)).toBe((9n << 60n) | 0x80123n)
    const on = machine('nop').hart
    on.setCsr(CSR.satp, satp)
    expect(on.getCsr(CSR.satp)).toBe(satp)
    on.setCsr(CSR.satp, 11n << 60n) // Sv64 is never offered
    expect(on.getCsr(CSR.satp)).toBe(satp)
    expect(createSystem({ ramSize: 1 << 20 }).harts[0]!.sv57).toBe(false)
  })

  it('a 5-level walk maps a high-half address and one above 2^53; loads, stores, LR/SC and AMOs are exact', () => {
    const m = machine(`
      ld a2, 8(a0)
      sd a3, 16(a0)
      amoadd.d a4, a3, (a0)
      amoswap.w a5, a3, (a1)
      lr.d a6, (a1)
      sc.d a7, a3, (a1)
      sc.d s2, a3, (a1)
      lw s3, 4(a1)
      sb a3, 2047(a1)
      ld s4, 0(a1)
      lbu s5, 2047(a1)
      ebreak`)
    const page1 = BigInt(BASE + 0x20_0000)
    const page2 = BigInt(BASE + 0x20_1000)
    m.map(HIGH, page1 >> 12n, 0)
    m.map(LOW, page2 >> 12n, 0)
    m.bus.write(Number(page1), 8, 0x1111n)
    m.bus.write(Number(page1) + 8, 8, 0x0123_4567_89ab_cdefn)
    m.bus.write(Number(page2), 8, 0xdead_beef_cafe_f00dn)
    m.enable()
    m.hart.setX(10, HIGH)
    m.hart.setX(11, LOW)
    m.hart.setX(13, 0x7000_0000_0000_0001n)
    const r = m.hart.run(11)
    expect(r.executed).toBe(11)
    expect(m.hart.getX(12)).toBe(0x0123_4567_89ab_cdefn)
    expect(m.bus.read(Number(page1) + 16, 8)).toBe(0x7000_0000_0000_0001n)
    expect(m.hart.getX(14)).toBe(0x1111n)
    expect(m.bus.read(Number(page1), 8)).toBe(0x7000_0000_0000_1112n)
    expect(m.hart.getX(15)).toBe(u64(s64(0xcafe_f00dn << 32n) >> 32n)) // amoswap.w: the old word, sign-extended
    expect(m.hart.getX(16)).toBe(0xdead_beef_0000_0001n) // lr.d after the swap
    expect(m.hart.getX(17)).toBe(0n) // sc.d succeeds (the reservation at the exact wide address)
    expect(m.hart.getX(18)).toBe(1n) // the second fails
    expect(m.hart.getX(19)).toBe(0x7000_0000n) // the high word of what sc.d stored
    expect(m.hart.getX(20)).toBe(0x7000_0000_0000_0001n)
    expect(m.hart.getX(21)).toBe(1n)
    expect(m.bus.read(Number(page2) + 2047, 1)).toBe(1n)
    expect(m.hart.getCsr(CSR.mcause)).toBe(0n) // no trap before the ebreak
  })

  it('the block tier runs a hot loop through a wide address exactly', () => {
    const m = machine(`
      li t0, 1000
      1: ld t1, 0(a0)
      addi t1, t1, 3
      sd t1, 0(a0)
      addi t0, t0, -1
      bnez t0, 1b
      ebreak`, { blockThreshold: 1 })
    const page = BigInt(BASE + 0x20_0000)
    m.map(HIGH, page >> 12n, 0)
    m.enable()
    m.hart.setX(10, HIGH + 0x10n)
    m.hart.run(5 * 1000 + 1)
    expect(m.bus.read(Number(page) + 0x10, 8)).toBe(3000n)
  })

  it('a non-canonical address is a page fault with the exact address in mtval', () => {
    for (const va of [0x0100_0000_0000_1008n, 0xfe00_0000_0000_1000n, 0x8000_0000_0000_0ff8n, 0x7fff_ffff_ffff_f000n]) {
      const m = machine('ld a1, 0(a0)\nsd a1, 0(a0)\ntrap: j trap')
      m.enable()
      m.hart.setX(10, va)
      m.hart.run(1)
      expect([m.hart.getCsr(CSR.mcause), m.hart.getCsr(CSR.mtval)]).toEqual([BigInt(CAUSE.LOAD_PAGE), va])
    }
    // An unmapped canonical address beyond 2^53: a store page fault, exact too.
    const m = machine('sd a1, 0(a0)\ntrap: j trap')
    m.enable()
    m.hart.setX(10, HIGH + 0x7n)
    m.hart.run(1)
    expect([m.hart.getCsr(CSR.mcause), m.hart.getCsr(CSR.mtval)]).toEqual([BigInt(CAUSE.STORE_PAGE), HIGH + 0x7n])
  })

  it('superpages at every level; a petapage or terapage with a misaligned PPN faults', () => {
    const m = machine('ld a1, 0(a0)\nebreak\ntrap: j trap')
    // A petapage (level 4, 256 TiB) with PPN 0 maps 0xff80_xxxx_8000_0000 onto RAM.
    const peta = 0xff80_0000_0000_0000n
    m.map(peta, 0n, 4)
    // A terapage (level 3, 512 GiB) with PPN 0, a gigapage onto RAM, a megapage onto RAM.
    const tera = 0x0040_0080_0000_0000n
    m.map(tera, 0n, 3)
    const giga = 0x00e0_0000_8000_0000n
    m.map(giga, BigInt(BASE) >> 12n, 2)
    const mega = 0xffa0_0000_0020_0000n
    m.map(mega, BigInt(BASE + 0x20_0000) >> 12n, 1)
    // Misaligned: a petapage at PPN 0x80000 (RAM), a terapage at 0x80000.
    const badPeta = 0x0080_0000_0000_0000n
    m.map(badPeta, BigInt(BASE) >> 12n, 4)
    const badTera = 0xff00_0100_0000_0000n
    m.map(badTera, BigInt(BASE) >> 12n, 3)
    m.bus.write(BASE + 0x30_0008, 8, 0x5555_aaaa_5555_aaaan)
    const cases: [bigint, bigint | number][] = [
      [peta + BigInt(BASE + 0x30_0008), 0x5555_aaaa_5555_aaaan],
      [tera + BigInt(BASE + 0x30_0008), 0x5555_aaaa_5555_aaaan],
      [giga + 0x30_0008n, 0x5555_aaaa_5555_aaaan],
      [mega + 0x10_0008n, 0x5555_aaaa_5555_aaaan],
      [badPeta + 0x30_0008n, CAUSE.LOAD_PAGE],
      [badTera + 0x30_0008n, CAUSE.LOAD_PAGE],
    ]
    for (const [va, want] of cases) {
      m.hart.pc = BASE
      m.hart.setCsr(CSR.mcause, 0n)
      m.hart.setX(11, 0n)
      m.enable()
      m.hart.setX(10, va)
      m.hart.run(1)
      if (typeof want === 'bigint') expect([va, m.hart.getCsr(CSR.mcause), m.hart.getX(11)]).toEqual([va, 0n, want])
      else expect([va, m.hart.getCsr(CSR.mcause), m.hart.getCsr(CSR.mtval)]).toEqual([va, BigInt(want), va])
    }
  })

  it('agrees with a BigInt reference walker on random addresses (fast-check)', () => {
    const m = machine('ld a1, 0(a0)\nebreak\ntrap: j trap')
    const ram = BigInt(BASE) >> 12n
    // [va, level, ppn]: pages and superpages at every level; the last two misaligned.
    const regions: [bigint, number, bigint][] = [
      [HIGH, 0, ram + 0x200n],
      [LOW, 0, ram + 0x201n],
      [0x0000_0000_4000_0000n, 0, ram + 0x202n],
      [0xffff_ffff_c000_0000n, 1, ram + 0x200n],
      [0x00e0_0000_8000_0000n, 2, ram],
      [0x0040_0080_0000_0000n, 3, 0n],
      [0xff80_0000_0000_0000n, 4, 0n],
      [0x0080_0000_0000_0000n, 4, ram],
      [0xff00_0100_0000_0000n, 3, ram],
    ]
    for (const [va, level, ppn] of regions) m.map(va, ppn, level)
    // A recognisable pattern over RAM past the tables: each doubleword holds its own address.
    for (let pa = BASE + 0x20_0000; pa < BASE + RAM; pa += 8) m.bus.write(pa, 8, BigInt(pa) * 0x1_0001n)
    m.enable()
    const satp = m.hart.getCsr(CSR.satp)
    const near = fc.tuple(fc.constantFrom(...regions), fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }), fc.constantFrom(12, 21, 22, 30, 39, 48)).map(([[va, level], r, cap]) => u64(va + ((r % (1n << BigInt(Math.min(cap, 12 + 9 * level)))) & ~7n)))
    // Into RAM through the superpages with PPN 0 (and the misaligned ones, which fault).
    const ramHit = fc.tuple(fc.constantFrom(...regions.filter(([, l]) => l >= 3)), fc.integer({ min: 0x20_0000 / 8, max: RAM / 8 - 1 })).map(([[va], o]) => u64(va + BigInt(BASE + o * 8)))
    const anyVa = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => v & ~7n)
    fc.assert(
      fc.property(fc.oneof(near, ramHit, anyVa), (va) => {
        m.hart.pc = BASE
        m.hart.privilege = 3
        m.hart.setCsr(CSR.mcause, 0n)
        m.hart.setCsr(CSR.mstatus, (m.hart.getCsr(CSR.mstatus) & ~MSTATUS.MPP) | MSTATUS.MPRV | (1n << 11n))
        m.hart.setX(11, 0n)
        m.hart.setX(10, va)
        m.hart.run(1)
        const ref = referenceWalk(m.bus, satp, va)
        const cause = m.hart.getCsr(CSR.mcause)
        if (ref === 'page-fault') expect([cause, m.hart.getCsr(CSR.mtval)]).toEqual([BigInt(CAUSE.LOAD_PAGE), va])
        else if (ref >= BigInt(BASE) && ref + 8n <= BigInt(BASE + RAM)) expect([cause, m.hart.getX(11)]).toEqual([0n, m.bus.read(Number(ref), 8)])
        else expect([cause, m.hart.getCsr(CSR.mtval)]).toEqual([BigInt(CAUSE.LOAD_ACCESS), va])
      }),
      { numRuns: 2000 },
    )
  })

  it('an instruction fetch from a pc beyond ±2^53 stops the hart with an error (never a rounded pc)', () => {
    const m = machine('jalr ra, 0(a0)')
    m.map(HIGH, BigInt(BASE) >> 12n, 0, RWAD | X)
    m.hart.setCsr(CSR.satp, (SV57 << 60n) | (m.root >> 12n))
    m.hart.setX(10, HIGH)
    const r = m.hart.run(10)
    expect(r.reason).toBe('error')
    expect(r.executed).toBe(1)
    expect(r.message).toMatch(/beyond ±2\^53/)
    // Also in S-mode through an Sv57 mapping, and via mret/sret targets.
    const s = machine('mret')
    s.hart.setCsr(CSR.satp, (SV57 << 60n) | (s.root >> 12n))
    s.hart.setCsr(CSR.mstatus, (s.hart.getCsr(CSR.mstatus) & ~MSTATUS.MPP) | (1n << 11n))
    s.hart.setCsr(CSR.mepc, LOW)
    expect(s.hart.run(10)).toMatchObject({ reason: 'error', executed: 1 })
    // Without the option the same jump is what it always was: a fetch access fault in M-mode.
    const off = machine('jalr ra, 0(a0)\ntrap: j trap', { sv57: false })
    off.hart.setCsr(CSR.mtvec, BigInt(off.symbols.get('trap')!))
    off.hart.setX(10, HIGH)
    expect(off.hart.run(2).reason).toBe('budget')
    expect(off.hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.FETCH_ACCESS))
  })
})
