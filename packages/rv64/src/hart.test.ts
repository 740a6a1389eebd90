import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ADDI, CSRRS, CSRRW, ECALL, I, J, LUI, MRET, NOP, R, S, SRET, WFI, words } from './encode.test-helpers.js'
import { CAUSE, CSR, Clint, ElfError, Hart, HartError, MSTATUS, createSystem, expandCompressed, decode, loadElf, Op, type Bus } from './index.js'

const BASE = 0x8000_0000
function machine(program: number[]) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  sys.bus.writeBytes(BASE, words(program))
  return { sys, hart: sys.harts[0]!, bus: sys.bus as Bus }
}
const U64 = (1n << 64n) - 1n
const s64 = (v: bigint) => BigInt.asIntN(64, v)
const u64 = (v: bigint) => BigInt.asUintN(64, v)
const s32 = (v: bigint) => BigInt.asIntN(32, v)

/** An independent oracle for R-type ops, straight from the spec's definitions. */
const ORACLE: Record<string, [number, number, number, (a: bigint, b: bigint) => bigint]> = {
  add: [0, 0, 0x33, (a, b) => s64(a + b)],
  sub: [0x20, 0, 0x33, (a, b) => s64(a - b)],
  sll: [0, 1, 0x33, (a, b) => s64(a << (u64(b) & 63n))],
  slt: [0, 2, 0x33, (a, b) => (s64(a) < s64(b) ? 1n : 0n)],
  sltu: [0, 3, 0x33, (a, b) => (u64(a) < u64(b) ? 1n : 0n)],
  xor: [0, 4, 0x33, (a, b) => s64(a ^ b)],
  srl: [0, 5, 0x33, (a, b) => s64(u64(a) >> (u64(b) & 63n))],
  sra: [0x20, 5, 0x33, (a, b) => s64(a) >> (u64(b) & 63n)],
  mul: [1, 0, 0x33, (a, b) => s64(a * b)],
  mulh: [1, 1, 0x33, (a, b) => s64((s64(a) * s64(b)) >> 64n)],
  mulhsu: [1, 2, 0x33, (a, b) => s64((s64(a) * u64(b)) >> 64n)],
  mulhu: [1, 3, 0x33, (a, b) => s64((u64(a) * u64(b)) >> 64n)],
  div: [1, 4, 0x33, (a, b) => (b === 0n ? -1n : s64(a) === -(1n << 63n) && s64(b) === -1n ? s64(a) : s64(s64(a) / s64(b)))],
  divu: [1, 5, 0x33, (a, b) => (u64(b) === 0n ? -1n : s64(u64(a) / u64(b)))],
  rem: [1, 6, 0x33, (a, b) => (b === 0n ? s64(a) : s64(a) === -(1n << 63n) && s64(b) === -1n ? 0n : s64(a) % s64(b))],
  remu: [1, 7, 0x33, (a, b) => (u64(b) === 0n ? s64(a) : s64(u64(a) % u64(b)))],
  addw: [0, 0, 0x3b, (a, b) => s32(a + b)],
  subw: [0x20, 0, 0x3b, (a, b) => s32(a - b)],
  sllw: [0, 1, 0x3b, (a, b) => s32(a << (u64(b) & 31n))],
  srlw: [0, 5, 0x3b, (a, b) => s32(BigInt.asUintN(32, a) >> (u64(b) & 31n))],
  sraw: [0x20, 5, 0x3b, (a, b) => s32(a) >> (u64(b) & 31n)],
  mulw: [1, 0, 0x3b, (a, b) => s32(a * b)],
  divw: [1, 4, 0x3b, (a, b) => (s32(b) === 0n ? -1n : s32(a) === -(1n << 31n) && s32(b) === -1n ? s32(a) : s32(s32(a) / s32(b)))],
  remuw: [1, 7, 0x3b, (a, b) => (BigInt.asUintN(32, b) === 0n ? s32(a) : s32(BigInt.asUintN(32, a) % BigInt.asUintN(32, b)))],
}

describe('the hart: integer semantics against a BigInt oracle (fast-check)', () => {
  const interesting = fc.oneof(fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(0n, 1n, U64, 1n << 63n, (1n << 63n) - 1n, 0xffffffffn, 1n << 31n, 0x80000000n))
  for (const [name, [f7, f3, op, fn]] of Object.entries(ORACLE)) {
    it(name, () => {
      fc.assert(
        fc.property(interesting, interesting, (a, b) => {
          const { hart } = machine([R(f7, 11, 10, f3, 12, op)])
          hart.setX(10, a)
          hart.setX(11, b)
          hart.run(1)
          expect(hart.getX(12)).toBe(u64(fn(a, b)))
        }),
        { numRuns: 200 },
      )
    })
  }

  it('keeps x0 zero and wraps ADDI', () => {
    const { hart } = machine([ADDI(0, 0, 5), ADDI(1, 0, -1), ADDI(2, 1, 2)])
    hart.run(3)
    expect(hart.getX(0)).toBe(0n)
    expect(hart.getX(1)).toBe(U64)
    expect(hart.getX(2)).toBe(1n)
  })
})

describe('the compressed extension', () => {
  it('expands every 16-bit pattern to 0 (illegal) or a decodable 32-bit instruction of the same meaning class (property)', () => {
    fc.assert(
      fc.property(fc.nat(0xffff), (c) => {
        if ((c & 3) === 3) return
        const x = expandCompressed(c)
        if (x !== 0) expect(decode(x).op).not.toBe(Op.ILLEGAL)
      }),
      { numRuns: 5000 },
    )
    expect(expandCompressed(0x0000)).toBe(0) // the defined-illegal all-zero instruction
    expect(decode(0x4545).len).toBe(2)
  })
})

describe('privileged architecture', () => {
  it('an illegal instruction traps to mtvec with cause, epc and tval', () => {
    const handler = BASE + 0x100
    const { hart, bus } = machine([ADDI(5, 0, 0x100), CSRRW(CSR.mscratch, 5, 0), 0xffffffff])
    bus.writeBytes(handler, words([NOP]))
    hart.setCsr(CSR.mtvec, BigInt(handler))
    hart.run(3)
    expect(hart.pc).toBe(handler)
    expect(hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.ILLEGAL))
    expect(hart.getCsr(CSR.mepc)).toBe(BigInt(BASE + 8))
    expect(hart.getCsr(CSR.mtval)).toBe(0xffffffffn)
  })

  it('unknown CSRs and writes to read-only CSRs are illegal', () => {
    const { hart } = machine([CSRRS(0x7c0, 0, 5), CSRRW(CSR.mhartid, 1, 0)])
    hart.setCsr(CSR.mtvec, BigInt(BASE + 0x200))
    hart.run(1)
    expect(hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.ILLEGAL))
    hart.pc = BASE + 4
    hart.run(1)
    expect(hart.getCsr(CSR.mepc)).toBe(BigInt(BASE + 4))
  })

  it('mret drops to U; ecall from U is delegated to S by medeleg; sret returns', () => {
    const user = BASE + 0x100
    const sHandler = BASE + 0x200
    const { hart, bus } = machine([MRET])
    bus.writeBytes(user, words([ECALL]))
    bus.writeBytes(sHandler, words([SRET]))
    hart.setCsr(CSR.mepc, BigInt(user))
    hart.setCsr(CSR.mstatus, 0n) // MPP = U
    hart.setCsr(CSR.medeleg, 1n << BigInt(CAUSE.ECALL_U))
    hart.setCsr(CSR.stvec, BigInt(sHandler))
    hart.run(1)
    expect(hart.privilege).toBe(0)
    expect(hart.pc).toBe(user)
    hart.run(1)
    expect(hart.privilege).toBe(1)
    expect(hart.getCsr(CSR.scause)).toBe(BigInt(CAUSE.ECALL_U))
    expect(hart.getCsr(CSR.sepc)).toBe(BigInt(user))
    hart.setCsr(CSR.sepc, BigInt(user + 4))
    hart.run(1)
    expect(hart.privilege).toBe(0)
    expect(hart.pc).toBe(user + 4)
    // S-mode CSRs are out of reach from U.
    bus.writeBytes(user + 4, words([CSRRS(CSR.sstatus, 0, 5)]))
    hart.setCsr(CSR.mtvec, BigInt(BASE + 0x300))
    hart.run(1)
    expect(hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.ILLEGAL))
    expect(hart.privilege).toBe(3)
  })

  it('takes a machine timer interrupt from the CLINT; WFI sleeps until it', () => {
    const { sys, hart } = machine([WFI, J(0, 0)])
    const handler = BASE + 0x100
    sys.bus.writeBytes(handler, words([J(0, 0)]))
    hart.setCsr(CSR.mtvec, BigInt(handler))
    hart.setCsr(CSR.mie, 1n << 7n)
    hart.setCsr(CSR.mstatus, 1n << 3n)
    sys.bus.write(0x0200_4000, 8, 1000n) // mtimecmp
    const r = sys.run(100_000)
    expect(r.reason).toBe('budget')
    expect(hart.getCsr(CSR.mcause)).toBe((1n << 63n) | 7n)
    expect(hart.getCsr(CSR.mepc)).toBe(BigInt(BASE + 4))
  })

  it('satp is WARL: a write of an unsupported mode has no effect, a supported one sticks', () => {
    const { hart } = machine([CSRRW(CSR.satp, 5, 0), CSRRS(CSR.satp, 0, 6), CSRRW(CSR.satp, 7, 0), CSRRS(CSR.satp, 0, 8)])
    hart.setX(5, (11n << 60n) | 0x1234n) // mode 11: reserved
    hart.setX(7, (8n << 60n) | 0x1234n) // Sv39
    hart.run(4)
    expect(hart.getX(6)).toBe(0n)
    expect(hart.getX(8)).toBe((8n << 60n) | 0x1234n)
  })

  it('a jump into MMIO is a fetch access fault, an endless loop a budget stop', () => {
    const { hart, sys } = machine([LUI(5, 0x10000), I(0, 5, 0, 0, 0x67)])
    hart.setCsr(CSR.mtvec, BigInt(BASE + 0x100))
    sys.bus.writeBytes(BASE + 0x100, words([J(0, 0)]))
    hart.run(3)
    expect(hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.FETCH_ACCESS))
    expect(hart.getCsr(CSR.mtval)).toBe(0x1000_0000n)
    expect(hart.run(1_000_000)).toMatchObject({ reason: 'budget', executed: 1_000_000 })
  })

  it('self-modifying code is seen after a store (decode cache invalidated)', () => {
    const { hart } = machine([ADDI(10, 0, 1), S(8, 11, 12, 2), ADDI(10, 10, 1), NOP])
    hart.setX(11, BigInt(ADDI(10, 10, 100)))
    hart.setX(12, BigInt(BASE))
    hart.run(1)
    hart.pc = BASE + 8
    hart.run(1) // caches the instruction at +8
    hart.pc = BASE + 4
    hart.run(2) // the store rewrites +12; then +8 runs
    hart.run(1) // +12, now addi a0, a0, 100
    expect(hart.getX(10)).toBe(1n + 1n + 100n) // the rewritten +8 ran the second time
  })

  it('snapshot and restore round-trip the architectural state', () => {
    const { hart } = machine([ADDI(5, 0, 42), ADDI(6, 5, 1)])
    hart.run(1)
    const s = hart.snapshot()
    hart.run(1)
    const h2 = new Hart({ hartId: 0, bus: (hart as unknown as { bus: Bus }).bus, clock: { mtime: () => 0n } })
    h2.restore(s)
    h2.run(1)
    expect(h2.getX(6)).toBe(43n)
    expect(h2.pc).toBe(BASE + 8)
  })
})

describe('snapshot and restore', () => {
  it('carry every PMP entry (all 64, locked ones too) and the state outside the CSR table', () => {
    const { hart } = machine([])
    // Distinct addresses first (a locked entry, or the entry under a locked TOR, ignores writes).
    for (let i = 0; i < 64; i++) hart.setCsr(CSR.pmpaddr0 + i, 0x2000_0000n + BigInt(i) * 0x1001n)
    // All 64 entries on: TOR, NA4 and NAPOT with assorted permissions, some locked.
    const modes = [0x08, 0x10, 0x18]
    for (let n = 0; n < 16; n += 2) {
      let v = 0n
      for (let b = 0; b < 8; b++) {
        const i = (n / 2) * 8 + b
        const byte = modes[i % 3]! | [1, 3, 4, 5, 7][i % 5]! | (i % 7 === 6 ? 0x80 : 0)
        v |= BigInt(byte) << BigInt(8 * b)
      }
      hart.setCsr(CSR.pmpcfg0 + n, v)
    }
    // Sstc off and TVM set: neither stimecmp nor satp is readable from S-mode, where the hart sits.
    hart.setCsr(CSR.stimecmp, 0x1234_5678n)
    hart.setCsr(CSR.satp, (8n << 60n) | (5n << 44n) | 0x80123n)
    hart.setCsr(CSR.mstatus, MSTATUS.TVM | MSTATUS.TW | (1n << 13n) | MSTATUS.SUM)
    hart.setCsr(CSR.mideleg, 1n << 5n)
    hart.setCsr(CSR.mie, (1n << 5n) | (1n << 9n))
    hart.setCsr(CSR.medeleg, 0xb1ffn)
    hart.setSoftIrq(1, true)
    hart.setIrq(11, true)
    hart.fpu.f[3] = 0x3ff0000000000000n
    hart.fpu.fcsr = 0x41
    hart.setX(7, 0xdead_beef_0000_0001n)
    ;(hart as unknown as { reservation: number }).reservation = BASE + 0x100
    hart.waiting = true
    hart.privilege = 1
    hart.pc = BASE + 0x40
    hart.instret = 12345n

    const s = hart.snapshot()
    expect(s.pmpcfg.filter((v, i) => i % 2 === 0 && v !== 0n)).toHaveLength(8)
    expect(new Set(s.pmpaddr).size).toBe(64)
    expect([s.csrs.stimecmp, s.csrs.satp]).toEqual([0x1234_5678n, (8n << 60n) | (5n << 44n) | 0x80123n])

    const same = hart as unknown as { bus: Bus; clock: { mtime(): bigint } } // the same machine: time reads alike
    const h2 = new Hart({ hartId: 0, bus: same.bus, clock: same.clock })
    h2.restore(s)
    expect(h2.snapshot()).toEqual(s)
    for (let i = 0; i < 64; i++) expect(h2.getCsr(CSR.pmpaddr0 + i)).toBe(hart.getCsr(CSR.pmpaddr0 + i))
    for (let n = 0; n < 16; n += 2) expect(h2.getCsr(CSR.pmpcfg0 + n)).toBe(hart.getCsr(CSR.pmpcfg0 + n))
    expect([h2.privilege, h2.waiting, h2.pc, h2.instret, h2.softIrq(1)]).toEqual([1, true, BASE + 0x40, 12345n, true])
    expect((h2 as unknown as { reservation: number }).reservation).toBe(BASE + 0x100)
    expect(h2.getCsr(CSR.mip) & (1n << 11n)).toBe(1n << 11n)

    // Restoring over a hart whose own entries are locked still takes the snapshot's.
    const h3 = new Hart({ hartId: 0, bus: same.bus, clock: same.clock })
    h3.setCsr(CSR.pmpcfg0, 0x9f9f9f9f9f9f9f9fn)
    h3.restore(s)
    expect(h3.snapshot()).toEqual(s)
  })

  it('a snapshot without the PMP registers is refused', () => {
    const { hart } = machine([])
    const s = hart.snapshot()
    expect(() => hart.restore({ ...s, pmpaddr: s.pmpaddr.slice(0, 16) })).toThrow(HartError)
  })
})

describe('ELF loader', () => {
  function tinyElf(): Uint8Array {
    const code = words([ADDI(10, 0, 7)])
    const b = new Uint8Array(64 + 56 + code.length)
    const v = new DataView(b.buffer)
    v.setUint32(0, 0x7f454c46, false)
    b[4] = 2
    b[5] = 1
    b[6] = 1
    v.setUint16(16, 2, true)
    v.setUint16(18, 243, true)
    v.setBigUint64(24, BigInt(BASE), true)
    v.setBigUint64(32, 64n, true)
    v.setUint16(54, 56, true)
    v.setUint16(56, 1, true)
    v.setUint32(64, 1, true) // PT_LOAD
    v.setBigUint64(64 + 8, 120n, true)
    v.setBigUint64(64 + 24, BigInt(BASE), true)
    v.setBigUint64(64 + 32, BigInt(code.length), true)
    v.setBigUint64(64 + 40, BigInt(code.length + 16), true)
    b.set(code, 120)
    return b
  }

  it('loads PT_LOAD segments and the entry point', () => {
    const { sys } = machine([])
    const elf = loadElf(sys.bus, tinyElf())
    expect(elf.entry).toBe(BASE)
    sys.harts[0]!.pc = elf.entry
    sys.harts[0]!.run(1)
    expect(sys.harts[0]!.getX(10)).toBe(7n)
  })

  it('answers every truncation or corruption with ElfError, never a crash (fuzz)', () => {
    const good = tinyElf()
    fc.assert(
      fc.property(fc.nat(good.length), fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { maxLength: 6 }), (cut, pokes) => {
        const bad = good.slice(0, cut)
        for (const [i, v] of pokes) if (i < bad.length) bad[i] = v
        const { sys } = machine([])
        try {
          loadElf(sys.bus, bad)
        } catch (e) {
          expect(e).toBeInstanceOf(ElfError)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe('CLINT', () => {
  it('reads and writes mtimecmp in halves, mtime advances with instret', () => {
    const { sys } = machine([J(0, 0)])
    const clint = sys.clint as Clint
    sys.bus.write(0x0200_4000, 4, 0x1234n)
    sys.bus.write(0x0200_4004, 4, 0x1n)
    expect(sys.bus.read(0x0200_4000, 8)).toBe(0x1_0000_1234n)
    const t0 = clint.mtime()
    sys.run(1000)
    expect(clint.mtime() - t0).toBe(100n)
  })
})

describe('HTIF tohost', () => {
  it('a store of (n << 1) | 1 to the tohost symbol ends the run with code n', async () => {
    const { assemble, mapHtif } = await import('./index.js')
    for (const [value, code] of [[1, 0], [(5 << 1) | 1, 5]] as const) {
      const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
      const tohost = 0x8000_1000
      expect(mapHtif(sys.bus, new Map([['tohost', tohost]]))).toBeDefined()
      sys.bus.writeBytes(0x8000_0000, assemble(`li t0, ${value}\nli t1, ${tohost}\nsd t0, 0(t1)\n1: j 1b`).bytes)
      expect(sys.run(1000)).toMatchObject({ reason: 'exit', code })
    }
    expect(mapHtif(createSystem({ harts: 1, ramSize: 1 << 20 }).bus, new Map())).toBeUndefined()
  })
})

describe('Sstc', () => {
  it('stimecmp raises a supervisor timer interrupt that wakes WFI, when menvcfg.STCE allows it', async () => {
    const { assemble } = await import('./index.js')
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const { bytes, symbols } = assemble(`
      li t0, 1; slli t0, t0, 63; csrs menvcfg, t0     # STCE
      li t0, 2; csrs mcounteren, t0                    # S may read time
      li t0, 0x20; csrs mideleg, t0                    # STI goes to S
      la t0, handler; csrw stvec, t0
      li t0, 0x1800; csrc mstatus, t0; li t0, 0x800; csrs mstatus, t0   # MPP = S
      la t0, supervisor; csrw mepc, t0; mret
    supervisor:
      rdtime t0; addi t0, t0, 500; csrw stimecmp, t0
      csrr s1, sip                                     # not pending yet
      li t0, 0x20; csrs sie, t0; csrsi sstatus, 2
    1: wfi; j 1b
    handler:
      csrr a0, scause; csrr a1, sip
      li t0, -1; csrw stimecmp, t0; csrr a2, sip        # a far stimecmp clears STIP
      rdtime a3
    done: j done`, { base: 0x8000_0000 })
    sys.bus.writeBytes(0x8000_0000, bytes)
    const hart = sys.harts[0]!
    hart.addBreakpoint(symbols.get('done')!)
    expect(sys.run(100_000).reason).toBe('breakpoint')
    expect(hart.getX(9) & 0x20n).toBe(0n)
    expect(hart.getX(10)).toBe((1n << 63n) | 5n) // supervisor timer interrupt
    expect(hart.getX(11) & 0x20n).toBe(0x20n)
    expect(hart.getX(12) & 0x20n).toBe(0n)
    expect(hart.getX(13)).toBeGreaterThanOrEqual(500n) // WFI skipped time forward to the deadline
  })

  it('without STCE, stimecmp is not accessible from S-mode', () => {
    const hart = new Hart({ hartId: 0, bus: createSystem({ harts: 1, ramSize: 1 << 20 }).bus, clock: { mtime: () => 0n } })
    expect(hart.supervisorTimerDeadline()).toBe((1n << 64n) - 1n)
  })
})
