/**
 * mcycle, minstret, cycle and instret read exactly at every instruction, whatever the slices
 * `run()` is called with (issue #18 case: a guest saw them move only at slice boundaries).
 * Random straight code with counter reads, counter writes, mcountinhibit writes and ECALLs at
 * random places, run in slices of random length on the interpreter and on both compiled tiers,
 * against a model that steps the counters one instruction at a time:
 * - a CSR instruction reads the value before it executes;
 * - writing minstret/mcycle is done instead of the writer's increment (Zicsr);
 * - mcountinhibit takes effect after the writing instruction (which counts under the old bits);
 * - an instruction that raises an exception takes a cycle but does not retire (privileged 3.3.1).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ADDI, CSRRS, CSRRW, ECALL, J, MRET, S, words } from './encode.test-helpers.js'
import { CSR, createSystem } from './index.js'

const BASE = 0x8000_0000
const HANDLER = BASE + 0x3000
const DATA = BASE + 0x4000
const U64 = (1n << 64n) - 1n

type Item =
  | { k: 'alu'; rd: number; imm: number }
  | { k: 'read'; csr: number }
  | { k: 'write'; csr: number } // from x8 (minstret) or x9 (mcycle)
  | { k: 'inhibit'; bits: number }
  | { k: 'ecall' }

const COUNTERS = [CSR.minstret, CSR.mcycle, CSR.instret, CSR.cycle]
const item: fc.Arbitrary<Item> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('alu' as const), rd: fc.integer({ min: 10, max: 15 }), imm: fc.integer({ min: -2048, max: 2047 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('read' as const), csr: fc.constantFrom(...COUNTERS) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('write' as const), csr: fc.constantFrom(CSR.minstret, CSR.mcycle) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('inhibit' as const), bits: fc.constantFrom(0, 1, 4, 5, 2, 0x1f) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ecall' as const) }) },
)

/** The loop body's code for `it` (a read stores its value to the next slot: `sd x5, 0(x6); addi x6, x6, 8`). */
function code(it: Item): number[] {
  switch (it.k) {
    case 'alu':
      return [ADDI(it.rd, it.rd, it.imm)]
    case 'read':
      return [CSRRS(it.csr, 0, 5), S(0, 5, 6, 3), ADDI(6, 6, 8)]
    case 'write':
      return [CSRRW(it.csr, it.csr === CSR.minstret ? 8 : 9, 0)]
    case 'inhibit':
      return [(((CSR.mcountinhibit << 20) | (it.bits << 15) | (5 << 12) | 0x73) >>> 0)] // csrrwi x0
    case 'ecall':
      return [ECALL]
  }
}

/** The model: the values every read sees, in order. */
function model(body: Item[], loops: number, wMinstret: bigint, wMcycle: bigint): bigint[] {
  let mi = 0n
  let mc = 0n
  let inhibit = 0
  const reads: bigint[] = []
  // One instruction: `retires` (not an exception), then the writes that take effect after it.
  const step = (retires: boolean, after?: () => void) => {
    if (!(inhibit & 1)) mc++
    if (retires && !(inhibit & 4)) mi++
    after?.()
  }
  for (let t = 0; t < loops; t++) {
    for (const it of body) {
      switch (it.k) {
        case 'alu':
          step(true)
          break
        case 'read':
          reads.push(it.csr === CSR.minstret || it.csr === CSR.instret ? mi : mc)
          step(true)
          step(true) // sd
          step(true) // addi
          break
        case 'write':
          step(true, () => (it.csr === CSR.minstret ? (mi = wMinstret) : (mc = wMcycle)))
          break
        case 'inhibit':
          step(true, () => (inhibit = it.bits & 5))
          break
        case 'ecall':
          step(false)
          for (let h = 0; h < 4; h++) step(true) // the handler: csrr, addi, csrw mepc, mret
          break
      }
    }
    step(true) // addi x7
    step(true) // bne
  }
  return reads.map((v) => v & U64)
}

function runCase(body: Item[], loops: number, slices: number[], tier: 'region' | 'block' | undefined, wMinstret: bigint, wMcycle: bigint): bigint[] {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 4, tier: tier ?? 'region' })
  const hart = sys.harts[0]!
  if (tier === undefined) hart.onTrace = () => {} // keeps the hart on the interpreter
  const bodyCode = body.flatMap(code)
  const bytes = bodyCode.length * 4
  const BNE_BACK = -(bytes + 4) // from the bne back to the body's start
  const bne = ((((BNE_BACK >> 12) & 1) << 31) | (((BNE_BACK >> 5) & 0x3f) << 25) | (0 << 20) | (7 << 15) | (1 << 12) | (((BNE_BACK >> 1) & 0xf) << 8) | (((BNE_BACK >> 11) & 1) << 7) | 0x63) >>> 0
  const program = [...bodyCode, ADDI(7, 7, -1), bne, J(0, 0)]
  const end = BASE + (program.length - 1) * 4
  sys.bus.writeBytes(BASE, words(program))
  // The ECALL handler: mepc += 4; mret (x31 scratch).
  sys.bus.writeBytes(HANDLER, words([CSRRS(CSR.mepc, 0, 31), ADDI(31, 31, 4), CSRRW(CSR.mepc, 31, 0), MRET]))
  hart.setCsr(CSR.mtvec, BigInt(HANDLER))
  hart.setX(6, BigInt(DATA))
  hart.setX(7, BigInt(loops))
  hart.setX(8, wMinstret)
  hart.setX(9, wMcycle)
  let k = 0
  for (let guard = 0; hart.pc !== end && guard < 100_000; guard++) hart.run(slices[k++ % slices.length]!)
  expect(hart.pc).toBe(end)
  const n = body.filter((b) => b.k === 'read').length * loops
  return Array.from({ length: n }, (_, i) => (sys.bus.read(DATA + i * 8, 8) ?? -1n) & U64)
}

describe('counters read exactly inside a run() slice', () => {
  it('csrr minstret; addi ×3; csrr minstret in one run(5): a1 = a0 + 4 (the issue repro)', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const hart = sys.harts[0]!
    sys.bus.writeBytes(BASE, words([ADDI(0, 0, 0), CSRRS(CSR.minstret, 0, 10), ADDI(5, 5, 1), ADDI(5, 5, 1), ADDI(5, 5, 1), CSRRS(CSR.minstret, 0, 11), CSRRS(CSR.mcycle, 0, 12)]))
    hart.run(1)
    hart.run(6)
    expect([hart.getX(10), hart.getX(11), hart.getX(12)]).toEqual([1n, 5n, 6n])
    expect(hart.getCsr(CSR.minstret)).toBe(7n) // outside run: everything the slices retired
  })

  it('a minstret write mid-slice is what the next instruction reads', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const hart = sys.harts[0]!
    hart.setX(8, 1000n)
    sys.bus.writeBytes(BASE, words([ADDI(5, 5, 1), CSRRW(CSR.minstret, 8, 0), CSRRS(CSR.minstret, 0, 10), ADDI(5, 5, 1), CSRRS(CSR.minstret, 0, 11)]))
    hart.run(5)
    expect([hart.getX(10), hart.getX(11)]).toEqual([1000n, 1002n])
  })

  for (const tier of [undefined, 'block', 'region'] as const) {
    it(`random code, random slices, ${tier ?? 'interpreter'}: every read equals the model's count`, () => {
      fc.assert(
        fc.property(
          fc.array(item, { minLength: 1, maxLength: 24 }),
          fc.integer({ min: 1, max: 12 }),
          fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 8 }),
          fc.bigInt({ min: 0n, max: U64 }),
          fc.bigInt({ min: 0n, max: U64 }),
          (body, loops, slices, wi, wc) => {
            expect(runCase(body, loops, slices, tier, wi, wc)).toEqual(model(body, loops, wi, wc))
          },
        ),
        { numRuns: 150 },
      )
    })
  }

  it('snapshot/restore keeps mcycle, minstret and mcountinhibit', () => {
    const sys = createSystem({ harts: 2, ramSize: 1 << 20 })
    const [a, b] = sys.harts as [NonNullable<(typeof sys.harts)[0]>, NonNullable<(typeof sys.harts)[0]>]
    a.instret = 500n
    a.setCsr(CSR.mcycle, 7000n)
    a.setCsr(CSR.minstret, 9000n)
    a.setCsr(CSR.mcountinhibit, 4n) // minstret held
    b.instret = 10n
    b.restore(a.snapshot())
    b.instret += 3n // as if it ran three instructions
    expect([b.getCsr(CSR.mcycle), b.getCsr(CSR.minstret), b.getCsr(CSR.mcountinhibit)]).toEqual([7003n, 9000n, 4n])
  })
})
