/**
 * The block tier against the interpreter: the same program runs once with blocks (the default)
 * and once with a trace hook (which keeps the hart on the interpreter); registers, memory, pc
 * and instret must agree at every budget. Random straight-line code of the compiled operations,
 * looped so its blocks compile; plus traps, MMIO and self-modifying stores inside a block.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ADDI, I, R, S, words } from './encode.test-helpers.js'
import { CSR, CaptureUart, createSystem } from './index.js'

const BASE = 0x8000_0000
const DATA = BASE + 0x4000
const U64 = (1n << 64n) - 1n

function machine(program: number[], blocks: boolean) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 8 }) // compile early: the loops here are short
  sys.bus.writeBytes(BASE, words(program))
  const hart = sys.harts[0]!
  if (!blocks) hart.onTrace = () => {}
  hart.setCsr(CSR.mtvec, BigInt(BASE + 0x2000))
  sys.bus.writeBytes(BASE + 0x2000, words([0x0000006f])) // the trap handler: j .
  return { hart, bus: sys.bus, sys }
}

function state(m: ReturnType<typeof machine>) {
  return { x: Array.from({ length: 32 }, (_, i) => m.hart.getX(i)), pc: m.hart.pc, instret: m.hart.instret, mem: Array.from(m.bus.readBytes(DATA - 256, 512)), mcause: m.hart.getCsr(CSR.mcause), mepc: m.hart.getCsr(CSR.mepc), mtval: m.hart.getCsr(CSR.mtval) }
}

/** Runs the program both ways in the same slices and compares after each. */
function compare(program: number[], setup: (m: ReturnType<typeof machine>) => void, slices: number[]) {
  const a = machine(program, true)
  const b = machine(program, false)
  setup(a)
  setup(b)
  for (const n of slices) {
    const ra = a.hart.run(n)
    const rb = b.hart.run(n)
    expect(ra).toEqual(rb)
    expect(state(a)).toEqual(state(b))
  }
}

/** B-type: branch f3 (0 beq, 1 bne, …) rs1, rs2 by `off` bytes. */
const B = (f3: number, rs1: number, rs2: number, off: number) =>
  ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0
const J_SELF = 0x0000006f
/** Whether the hart compiled a block at `pa`. */
const compiled = (m: ReturnType<typeof machine>, pa: number) => typeof (m.hart as unknown as { cache: { get(pa: number): { block: unknown } | undefined } }).cache.get(pa)?.block === 'function'

const reg = fc.integer({ min: 5, max: 15 }) // x5–x15: x1 holds the data base, x2 the loop counter
const imm12 = fc.integer({ min: -2048, max: 2047 })
const R_OPS: [number, number, number][] = [[0, 0, 0x33], [0x20, 0, 0x33], [0, 1, 0x33], [0, 2, 0x33], [0, 3, 0x33], [0, 4, 0x33], [0, 5, 0x33], [0x20, 5, 0x33], [0, 6, 0x33], [0, 7, 0x33], [1, 0, 0x33], [0, 0, 0x3b], [0x20, 0, 0x3b], [1, 0, 0x3b], [0, 1, 0x3b]]
const instruction = fc.oneof(
  fc.tuple(fc.constantFrom(...R_OPS), reg, reg, reg).map(([[f7, f3, op], rd, a, b]) => R(f7, b, a, f3, rd, op)),
  fc.tuple(fc.constantFrom(0, 2, 3, 4, 6, 7), reg, reg, imm12).map(([f3, rd, a, imm]) => I(imm, a, f3, rd)),
  fc.tuple(fc.constantFrom(1, 5), fc.constantFrom(0, 0x400), reg, reg, fc.integer({ min: 0, max: 63 })).map(([f3, top, rd, a, sh]) => I(f3 === 1 ? sh : top | sh, a, f3, rd)),
  fc.tuple(reg, reg, imm12).map(([rd, a, imm]) => I(imm, a, 0, rd, 0x1b)),
  fc.tuple(fc.constantFrom(1, 5), fc.constantFrom(0, 0x400), reg, reg, fc.integer({ min: 0, max: 31 })).map(([f3, top, rd, a, sh]) => I(f3 === 1 ? sh : top | sh, a, f3, rd, 0x1b)),
  fc.tuple(reg, fc.integer({ min: 0, max: 0xfffff })).map(([rd, u]) => (((u << 12) | (rd << 7) | 0x37) >>> 0)),
  fc.tuple(reg, fc.integer({ min: 0, max: 0xfffff })).map(([rd, u]) => (((u << 12) | (rd << 7) | 0x17) >>> 0)),
  // loads and stores around x1 (data), every width
  fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6), reg, fc.integer({ min: -32, max: 31 })).map(([f3, rd, o]) => I(o * 4, 1, f3, rd, 0x03)),
  fc.tuple(fc.constantFrom(0, 1, 2, 3), reg, fc.integer({ min: -32, max: 31 })).map(([f3, rs, o]) => S(o * 4, rs, 1, f3)),
)

describe('the block tier agrees with the interpreter', () => {
  it('random straight-line code in a loop (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 24 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (body, values, slices, pmp) => {
        // x2 counts down from 20; the body, then addi x2, x2, -1; bne x2, x0, body; then j .
        const n = body.length
        const program = [...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]
        compare(program, (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(3, 0n)
          m.hart.setX(2, 20n)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
          if (pmp) {
            // An entry granting everything: M-mode is unaffected, but accesses leave the direct path.
            m.hart.setCsr(CSR.pmpaddr0, (1n << 54n) - 1n)
            m.hart.setCsr(CSR.pmpcfg0, 0x1fn)
          }
        }, [...slices, 100_000])
      }),
      { numRuns: 300 },
    )
  })

  it("random code in S-mode under OpenSBI-like PMP entries: a closed stretch amid the data, accesses across its edges (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 24 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: -4, max: 3 }), fc.boolean(), (body, values, slices, at, lock) => {
        const n = body.length
        const program = [...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]
        compare(program, (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(3, 0n)
          m.hart.setX(2, 20n)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
          // Entry 0: 32 bytes near x1 closed to S (and to M too when locked); entry 1: everything
          // open. The direct window is the RAM on one side of it; the rest is checked.
          m.hart.setCsr(CSR.pmpaddr0, BigInt((DATA + at * 32) / 4) | 3n)
          m.hart.setCsr(CSR.pmpaddr0 + 1, (1n << 54n) - 1n)
          m.hart.setCsr(CSR.pmpcfg0, lock ? 0x1f98n : 0x1f18n)
          m.hart.privilege = 1
        }, [...slices, 100_000])
      }),
      { numRuns: 300 },
    )
  })

  it('compiles a block start after blockThreshold visits (not before), and never with Infinity', () => {
    const loop = [ADDI(5, 5, 1), ADDI(2, 2, -1), B(1, 2, 0, -8), J_SELF]
    for (const threshold of [8, 50]) {
      const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: threshold })
      sys.bus.writeBytes(BASE, words(loop))
      const m = { hart: sys.harts[0]!, bus: sys.bus, sys }
      m.hart.setX(2, 1000n)
      // Visits are counted once the loop is on the fetch page (from the third visit on).
      m.hart.run(3 * (threshold - 1))
      expect(compiled(m, BASE)).toBe(false)
      m.hart.run(3 * 4)
      expect(compiled(m, BASE)).toBe(true)
    }
    const never = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: Infinity })
    never.bus.writeBytes(BASE, words(loop))
    never.harts[0]!.setX(2, 1000n)
    never.harts[0]!.run(2500)
    expect(compiled({ hart: never.harts[0]!, bus: never.bus, sys: never }, BASE)).toBe(false)
  })

  it('MUL in a block against a BigInt oracle', () => {
    const value = fc.oneof(fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(0n, 1n, U64, 1n << 63n, 0xffffffffn, 0xffffn, 0x1_0000_0000n))
    fc.assert(
      fc.property(value, value, (a, b) => {
        // mul x5, x6, x7; mul x8, x8, x8; addi x2, x2, -1; bne x2, x0, start
        const m = machine([R(1, 7, 6, 0, 5), R(1, 8, 8, 0, 8), ADDI(2, 2, -1), B(1, 2, 0, -12), J_SELF], true)
        m.hart.setX(2, 12n)
        m.hart.setX(6, a)
        m.hart.setX(7, b)
        m.hart.setX(8, a)
        m.hart.run(47)
        expect(compiled(m, BASE)).toBe(true)
        let sq = a
        for (let i = 0; i < 12; i++) sq = (sq * sq) & U64
        expect([m.hart.getX(5), m.hart.getX(8)]).toEqual([(a * b) & U64, sq])
      }),
      { numRuns: 300 },
    )
  })

  it('a load fault inside a compiled block traps at that instruction with exact instret', () => {
    // addi x5, x5, 1 ×3; ld x6, 0(x7); addi x5, x5, 1; addi x2, x2, -1; bne x2, x0, start
    const program = [ADDI(5, 5, 1), ADDI(5, 5, 1), ADDI(5, 5, 1), I(0, 7, 3, 6, 0x03), ADDI(5, 5, 1), ADDI(2, 2, -1), B(1, 2, 0, -24), J_SELF]
    compare(program, (m) => {
      m.hart.setX(2, 30n)
      m.hart.setX(7, BigInt(DATA))
    }, [100, 37, 5])
    /** Runs the loop until its blocks compiled, then points x7 at `bad` so the load faults; both ways. */
    const faultAfterCompile = (bad: bigint) => {
      const withBlocks = machine(program, true)
      const interpreted = machine(program, false)
      for (const m of [withBlocks, interpreted]) {
        m.hart.setX(2, 30n)
        m.hart.setX(7, BigInt(DATA))
        m.hart.run(6 * 20 + 3)
        m.hart.setX(7, bad)
        m.hart.run(50)
      }
      return [withBlocks, interpreted] as const
    }
    // Now make the load fault after the blocks compiled: x7 points nowhere.
    const [a, b] = faultAfterCompile(0x4000_0000n)
    expect(compiled(a, BASE)).toBe(true)
    expect(state(a)).toEqual(state(b))
    expect(a.hart.getCsr(CSR.mcause)).toBe(5n)
    expect(a.hart.getCsr(CSR.mepc)).toBe(BigInt(BASE + 12))

    // A fault raised by the translation itself, inside the block: a negative (non-RAM) address.
    const [c, d] = faultAfterCompile(-4096n)
    expect(compiled(c, BASE)).toBe(true)
    expect(state(c)).toEqual(state(d))
    expect([c.hart.getCsr(CSR.mcause), c.hart.getCsr(CSR.mepc), c.hart.getCsr(CSR.mtval)]).toEqual([5n, BigInt(BASE + 12), (1n << 64n) - 4096n])
  })

  it('MMIO inside a block goes to the device, and a store into the running line takes effect', () => {
    const out: number[] = []
    const program = [ADDI(5, 5, 1), S(0, 5, 7, 0), ADDI(2, 2, -1), B(1, 2, 0, -12), J_SELF]
    const a = machine(program, true)
    a.sys.map(0x1000_0000, new CaptureUart((c) => out.push(c)))
    a.hart.setX(2, 40n)
    a.hart.setX(7, 0x1000_0000n)
    a.hart.run(1000)
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    expect(a.hart.pc).toBe(BASE + 16) // then j . spins out the budget
    expect(compiled(a, BASE)).toBe(true)

    // A loop rewrites its own next instruction (addi x5, x5, 1 → addi x5, x5, 100) after 20 rounds.
    const self = [ADDI(2, 2, -1), S(8, 8, 9, 2), ADDI(5, 5, 1), B(1, 2, 0, -12), J_SELF]
    compare(self, (m) => {
      m.hart.setX(2, 30n)
      m.hart.setX(9, BigInt(BASE))
      m.hart.setX(8, BigInt(ADDI(5, 5, 100)))
    }, [3, 50, 1000])
  })

  it('a breakpoint inside a hot loop still stops before its instruction', () => {
    const program = [ADDI(5, 5, 1), ADDI(6, 6, 2), ADDI(7, 7, 3), ADDI(2, 2, -1), B(1, 2, 0, -16), J_SELF]
    const a = machine(program, true)
    a.hart.setX(2, 100n)
    a.hart.run(200) // blocks compiled by now
    expect(compiled(a, BASE)).toBe(true)
    a.hart.addBreakpoint(BASE + 8)
    const r = a.hart.run(1000)
    expect(r.reason).toBe('breakpoint')
    expect(a.hart.pc).toBe(BASE + 8)
    expect(a.hart.instret).toBe(200n + BigInt(r.executed))
  })
})
