/**
 * The block tier against the interpreter: the same program runs once with blocks (the default)
 * and once with a trace hook (which keeps the hart on the interpreter); registers, memory, pc
 * and instret must agree at every budget. Random straight-line code of the compiled operations,
 * looped so its blocks compile; plus traps, MMIO and self-modifying stores inside a block.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { ADDI, I, J, NOP, R, S, words } from './encode.test-helpers.js'
import { CSR, CaptureUart, assemble, createSystem } from './index.js'
import { compileBlock, compiledSources } from './block.js'
import { BLOCK_HOST_MEMBERS } from './block-host.js'
import { decode, type Decoded } from './decode.js'

const BASE = 0x8000_0000
const DATA = BASE + 0x4000
const U64 = (1n << 64n) - 1n

/** The compiled tiers: JS regions, JS blocks, WebAssembly blocks (the default), WebAssembly regions. */
type Tier = 'region' | 'block' | 'wasm-block' | 'wasm-region'
/** `createSystem`'s options for `tier`. */
const tierOptions = (tier: Tier) => (tier === 'wasm-block' ? { tier: 'block' as const, wasmBlocks: true } : tier === 'block' ? { tier: 'block' as const, wasmBlocks: false } : { tier })
/** A machine on `tier`, or (undefined) on the interpreter alone: a trace hook keeps it there. */
function machine(program: number[] | Uint8Array, tier: Tier | undefined) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 8, ...tierOptions(tier ?? 'region'), hypervisor: true }) // compile early: the loops here are short
  sys.bus.writeBytes(BASE, program instanceof Uint8Array ? program : words(program))
  const hart = sys.harts[0]!
  if (tier === undefined) hart.onTrace = () => {}
  hart.setCsr(CSR.mtvec, BigInt(BASE + 0x2000))
  sys.bus.writeBytes(BASE + 0x2000, words([0x0000006f])) // the trap handler: j .
  return { hart, bus: sys.bus, sys }
}

function state(m: ReturnType<typeof machine>) {
  return { x: Array.from({ length: 32 }, (_, i) => m.hart.getX(i)), pc: m.hart.pc, instret: m.hart.instret, mem: Array.from(m.bus.readBytes(DATA - 256, 512)), moved: Array.from(m.bus.readBytes(MOVED - 256, 512)), mcause: m.hart.getCsr(CSR.mcause), mepc: m.hart.getCsr(CSR.mepc), mtval: m.hart.getCsr(CSR.mtval) }
}

/** Runs the program both ways in the same slices and compares after each. */
function compare(program: number[] | Uint8Array, setup: (m: ReturnType<typeof machine>) => void, slices: number[], tier: Tier, between?: (m: ReturnType<typeof machine>, slice: number) => void) {
  const a = machine(program, tier)
  const b = machine(program, undefined)
  setup(a)
  setup(b)
  for (const [k, n] of slices.entries()) {
    between?.(a, k)
    between?.(b, k)
    const ra = a.hart.run(n)
    const rb = b.hart.run(n)
    expect(ra).toEqual(rb)
    expect(state(a)).toEqual(state(b))
  }
  compiledCount[tier] += a.hart.jitStats.regions + a.hart.jitStats.blocks
  wasmCompiled[tier] += a.hart.jitStats.wasm
}

/** Regions and blocks compiled by `compare`'s machines, per tier, and how many of them were WebAssembly. */
const compiledCount: Record<Tier, number> = { region: 0, block: 0, 'wasm-block': 0, 'wasm-region': 0 }
const wasmCompiled: Record<Tier, number> = { region: 0, block: 0, 'wasm-block': 0, 'wasm-region': 0 }

/** Where a paged test may move the upper data page's mapping (`compiled code's memoised pages follow`). */
const MOVED = DATA + 0x2000

/** Where the paged tests put their data: two 4 KiB pages, VA DATA_VA - 4096 and DATA_VA, over the physical pages at DATA - 4096 and DATA. */
const DATA_VA = 0x4000_4000
const PT = BASE + 0x1_0000

/**
 * Page tables for the paged tests: VA gigapage 2 identity (the code; S, RWX), and DATA_VA's two
 * 4 KiB pages (the upper one read-only when `readOnly`). With `guest`, these are the VS stage's
 * tables and a G stage maps the RAM gigapage identity (U, RWX); else satp's.
 */
function pagedData(m: ReturnType<typeof machine>, readOnly: boolean, guest = false, moved = false) {
  const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
  const wr = (pa: number, v: bigint) => m.bus.write(pa, 8, v)
  const l1 = PT + 0x1000
  const l0 = PT + 0x2000
  wr(PT + 16, (0x80000n << 10n) | V | R | W | X | A | D)
  wr(PT + 8, (BigInt(l1 >>> 12) << 10n) | V)
  wr(l1, (BigInt(l0 >>> 12) << 10n) | V)
  wr(l0 + 3 * 8, (BigInt((DATA - 4096) >>> 12) << 10n) | V | R | W | A | D)
  wr(l0 + 4 * 8, (BigInt((moved ? MOVED : DATA) >>> 12) << 10n) | V | R | (readOnly ? 0n : W) | A | D)
  if (guest) {
    const g = PT + 0x4000 // 16 KiB-aligned G-stage root
    wr(g + 16, (0x80000n << 10n) | V | R | W | X | U | A | D)
    m.hart.setCsr(CSR.hgatp, (8n << 60n) | BigInt(g >>> 12))
    m.hart.setCsr(CSR.vsatp, (8n << 60n) | BigInt(PT >>> 12))
  } else m.hart.setCsr(CSR.satp, (8n << 60n) | BigInt(PT >>> 12))
}

/**
 * `body` looped 20 times in S-mode with Sv39 (x1 = DATA_VA, the data pages of {@link pagedData}),
 * x5–x15 from `values`, on `tier` and on the interpreter, compared after each slice.
 */
function comparePaged(body: number[], values: bigint[], slices: number[], tier: Tier, readOnly: boolean, moved: boolean) {
  const n = body.length
  const program = [...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]
  compare(program, (m) => {
    pagedData(m, readOnly, false, moved)
    m.hart.setX(1, BigInt(DATA_VA))
    m.hart.setX(3, 0n)
    m.hart.setX(2, 20n)
    values.forEach((v, i) => m.hart.setX(5 + i, v))
    m.hart.privilege = 1
  }, [...slices, 100_000], tier)
}

/** B-type: branch f3 (0 beq, 1 bne, …) rs1, rs2 by `off` bytes. */
const B = (f3: number, rs1: number, rs2: number, off: number) =>
  ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0
const J_SELF = 0x0000006f
/** The program's bytes, shifted by one compressed c.nop when `half` (so 4-byte instructions sit at 2 mod 4 and straddle 64-byte lines). */
const atHalf = (half: boolean, program: number[]) => (half ? new Uint8Array([0x01, 0x00, ...words(program)]) : words(program))
interface CacheView {
  get(pa: number): { block: unknown } | undefined
  pageIndex(pa: number): number
  regions: unknown[]
}
/** Whether the hart compiled code at `pa`: a block starting there, or a region of its page. */
const compiled = (m: { hart: unknown }, pa: number) => {
  const cache = (m.hart as { cache: CacheView }).cache
  return typeof cache.get(pa)?.block === 'function' || typeof cache.regions[cache.pageIndex(pa)] === 'function'
}

const reg = fc.integer({ min: 5, max: 15 }) // x5–x15: x1 holds the data base, x2 the loop counter
const imm12 = fc.integer({ min: -2048, max: 2047 })
const R_OPS: [number, number, number][] = [[0, 0, 0x33], [0x20, 0, 0x33], [0, 1, 0x33], [0, 2, 0x33], [0, 3, 0x33], [0, 4, 0x33], [0, 5, 0x33], [0x20, 5, 0x33], [0, 6, 0x33], [0, 7, 0x33], [1, 0, 0x33], [0, 0, 0x3b], [0x20, 0, 0x3b], [1, 0, 0x3b], [0, 1, 0x3b], [0, 5, 0x3b], [0x20, 5, 0x3b], [1, 4, 0x3b], [1, 5, 0x3b], [1, 6, 0x3b], [1, 7, 0x3b]]
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

/** The members of `h` a compiled function's source names (`h.x`, `h.x(`). */
const hostMembers = (source: string) => new Set([...source.matchAll(/\bh\.([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!))

describe('the generated code reaches the hart only through BlockHost', () => {
  it('random code, with loads, stores, branches and jumps: every h.member is a BlockHost member (fast-check)', () => {
    const allowed = new Set<string>(BLOCK_HOST_MEMBERS)
    const terminal = fc.oneof(
      fc.tuple(fc.constantFrom(0, 1, 4, 5, 6, 7), reg, reg).map(([f3, a, b]) => B(f3, a, b, 16)),
      fc.tuple(reg, reg).map(([rd, a]) => I(8, a, 0, rd, 0x67)), // jalr
      fc.constant(0x0100006f), // jal
    )
    let seen = 0
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 2, maxLength: 24 }), terminal, (body, end) => {
        const slots: (Decoded | undefined)[] = [...body, end].map((w) => decode(w)).flatMap((d) => [d, undefined])
        const b = compileBlock(slots, 0)
        if (b === null) return
        const used = hostMembers(b.fn.toString())
        for (const m of used) expect(allowed.has(m), `generated code uses h.${m}, not a BlockHost member`).toBe(true)
        seen += used.size
      }),
      { numRuns: 200 },
    )
    expect(seen).toBeGreaterThan(0)
  })
})

describe.each(['region', 'block', 'wasm-block', 'wasm-region'] as const)('the %s tier agrees with the interpreter', (tier) => {
  afterAll(() => {
    // The machines compiled code of their tier (else these tests compared the interpreter with
    // itself): WebAssembly on the wasm tiers (nearly all: V8 reserves address space for each
    // WebAssembly memory, and a machine made while too many are alive gets plain RAM and JS), none
    // on the JS ones.
    expect(compiledCount[tier]).toBeGreaterThan(50)
    if (tier.startsWith('wasm')) expect(wasmCompiled[tier]).toBeGreaterThan(compiledCount[tier] * 0.9)
    else expect(wasmCompiled[tier]).toBe(0)
  })
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
        }, [...slices, 100_000], tier)
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
        }, [...slices, 100_000], tier)
      }),
      { numRuns: 300 },
    )
  })

  it('random code in S-mode with Sv39 on: data through 4 KiB pages, the upper one maybe read-only (store faults mid-block), accesses across the page edge (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 24 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (body, values, slices, readOnly) => {
        comparePaged(body, values, slices, tier, readOnly, false)
      }),
      { numRuns: 150 },
    )
  })

  it('loads and stores of every width at any byte around a page edge, the upper page read-only or not physically next to the lower one (fast-check)', () => {
    // x1 = DATA_VA + k: accesses at −16..15 from the edge, so many cross it.
    const edgeAccess = fc.oneof(
      fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6), reg, fc.integer({ min: -16, max: 15 })).map(([f3, rd, o]) => I(o, 1, f3, rd, 0x03)),
      fc.tuple(fc.constantFrom(0, 1, 2, 3), reg, fc.integer({ min: -16, max: 15 })).map(([f3, rs, o]) => S(o, rs, 1, f3)),
    )
    fc.assert(
      fc.property(fc.array(fc.oneof(edgeAccess, edgeAccess, instruction), { minLength: 1, maxLength: 16 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(), (body, values, slices, readOnly, moved) => {
        comparePaged(body, values, slices, tier, readOnly, moved)
      }),
      { numRuns: 150 },
    )
  })

  it('random code in S-mode with Sv39 on while, between slices, a data page is remapped, made read-only or unmapped (each with a remote SFENCE.VMA) or PMP closes one: what compiled code memoised follows (fast-check)', () => {
    const V = 1n, R = 2n, W = 4n, A = 64n, D = 128n
    const l0 = PT + 0x2000
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 24 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), fc.constantFrom('remap', 'read-only', 'unmap', 'pmp', 'none')), { minLength: 1, maxLength: 6 }), (body, values, steps) => {
        const n = body.length
        const program = [...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]
        compare(program, (m) => {
          pagedData(m, false)
          m.bus.writeBytes(MOVED - 256, new Uint8Array(512).map((_, i) => i * 7))
          m.hart.setX(1, BigInt(DATA_VA))
          m.hart.setX(3, 0n)
          m.hart.setX(2, 40n)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
          m.hart.privilege = 1
        }, [...steps.map(([slice]) => slice), 100_000], tier, (m, k) => {
          const change = k === 0 ? 'none' : steps[k - 1]![1]
          const upper = l0 + 4 * 8
          const lower = l0 + 3 * 8
          const pte = (pa: number) => m.bus.read(pa, 8)!
          if (change === 'remap') m.bus.write(upper, 8, (BigInt((pte(upper) >> 10n & 0xfffffn) === BigInt(DATA >>> 12) ? MOVED >>> 12 : DATA >>> 12) << 10n) | V | R | W | A | D)
          else if (change === 'read-only') m.bus.write(upper, 8, pte(upper) ^ W)
          else if (change === 'unmap') m.bus.write(lower, 8, pte(lower) ^ V)
          else if (change === 'pmp') {
            // Entry 0: the data page at DATA (NAPOT 4 KiB) closed to S; entry 1: everything open.
            m.hart.setCsr(CSR.pmpaddr0, BigInt(DATA / 4) | 0x1ffn)
            m.hart.setCsr(CSR.pmpaddr0 + 1, (1n << 54n) - 1n)
            m.hart.setCsr(CSR.pmpcfg0, 0x1f18n)
          }
          if (change === 'remap' || change === 'read-only' || change === 'unmap') m.hart.flushTranslations()
        })
      }),
      { numRuns: 150 },
    )
  })

  it('random code, paging off, while between slices PMP closes and opens the data to S and the hart moves between M and S (the direct window changes): compiled code follows the window (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 24 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 150 }), fc.oneof(fc.constant(0), fc.integer({ min: -2, max: 2 })), fc.constantFrom(1, 3) as fc.Arbitrary<1 | 3>), { minLength: 1, maxLength: 8 }), (body, values, steps) => {
        const n = body.length
        const program = [...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]
        compare(program, (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(3, 0n)
          m.hart.setX(2, 100n)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
          m.hart.setCsr(CSR.pmpaddr0 + 1, (1n << 54n) - 1n)
          m.hart.setCsr(CSR.pmpcfg0, 0x1f00n)
          m.hart.privilege = 1
        }, [...steps.map(([slice]) => slice), 100_000], tier, (m, k) => {
          if (k === 0) return
          const [, at, privilege] = steps[k - 1]!
          // Entry 0: a 64-byte stretch near x1 closed to S (at 0: none), entry 1 open. A change of
          // privilege alone flushes nothing: only the window's change drops the memos.
          if (at !== 0) {
            m.hart.setCsr(CSR.pmpaddr0, BigInt((DATA + at * 64) / 4) | 7n)
            m.hart.setCsr(CSR.pmpcfg0, 0x1f18n)
          }
          m.hart.privilege = privilege
        })
      }),
      { numRuns: 150 },
    )
  })

  it('random code in VS mode under two-stage translation (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 24 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (body, values, slices, readOnly) => {
        const n = body.length
        const program = [...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]
        compare(program, (m) => {
          pagedData(m, readOnly, true)
          m.hart.setX(1, BigInt(DATA_VA))
          m.hart.setX(3, 0n)
          m.hart.setX(2, 20n)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
          m.hart.setVirt(true, 1)
        }, [...slices, 100_000], tier)
      }),
      { numRuns: 100 },
    )
  })

  it('random code with interrupts raised between random slices (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 24 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 2, maxLength: 6 }), fc.integer({ min: 0, max: 5 }), (body, slices, at) => {
        const n = body.length
        const program = [...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]
        compare(program, (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(2, 30n)
          m.hart.setCsr(CSR.mie, 2n) // SSIE, not delegated: taken in M
          m.hart.setCsr(CSR.mstatus, m.hart.getCsr(CSR.mstatus) | 8n) // MIE
        }, [...slices, 100_000], tier, (m, k) => {
          if (k === at) m.hart.setSoftIrq(1, true)
        })
      }),
      { numRuns: 150 },
    )
  })

  it('compiles after blockThreshold visits (not before), and never with Infinity', () => {
    const loop = [ADDI(5, 5, 1), ADDI(2, 2, -1), B(1, 2, 0, -8), J_SELF]
    for (const threshold of [8, 50]) {
      const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: threshold, ...tierOptions(tier) })
      sys.bus.writeBytes(BASE, words(loop))
      const m = { hart: sys.harts[0]!, bus: sys.bus, sys }
      m.hart.setX(2, 1000n)
      // Visits are counted once the loop's instructions are decoded: a block start's from the
      // third visit on; a page's, one per instruction after the first pass (3 instructions).
      const before = tier === 'block' || tier === 'wasm-block' ? 3 * (threshold - 1) : threshold + 2
      m.hart.run(before)
      expect(compiled(m, BASE)).toBe(false)
      m.hart.run(3 * 4)
      expect(compiled(m, BASE)).toBe(true)
    }
    const never = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: Infinity, ...tierOptions(tier) })
    never.bus.writeBytes(BASE, words(loop))
    never.harts[0]!.setX(2, 1000n)
    never.harts[0]!.run(2500)
    expect(compiled({ hart: never.harts[0]! }, BASE)).toBe(false)
  })

  it('MUL in a block against a BigInt oracle', () => {
    const value = fc.oneof(fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(0n, 1n, U64, 1n << 63n, 0xffffffffn, 0xffffn, 0x1_0000_0000n))
    fc.assert(
      fc.property(value, value, (a, b) => {
        // mul x5, x6, x7; mul x8, x8, x8; addi x2, x2, -1; bne x2, x0, start
        const m = machine([R(1, 7, 6, 0, 5), R(1, 8, 8, 0, 8), ADDI(2, 2, -1), B(1, 2, 0, -12), J_SELF], tier)
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

  it('DIVW, DIVUW, REMW, REMUW in a block: by zero, MIN / -1 and any other halves, against the interpreter (fast-check)', () => {
    const value = fc.oneof(fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(0n, 1n, U64, 0x8000_0000n, 0xffff_ffff_8000_0000n, 0x7fff_ffffn, 0xffff_ffffn, 0x1_0000_0000n, 3n, U64 - 2n))
    fc.assert(
      fc.property(value, value, (a, b) => {
        // divw x5, x6, x7; divuw x8; remw x9; remuw x10; divw x11, x6, x0; remuw x12, x0, x7; loop 12 times
        const program = [R(1, 7, 6, 4, 5, 0x3b), R(1, 7, 6, 5, 8, 0x3b), R(1, 7, 6, 6, 9, 0x3b), R(1, 7, 6, 7, 10, 0x3b), R(1, 0, 6, 4, 11, 0x3b), R(1, 7, 0, 7, 12, 0x3b), ADDI(2, 2, -1), B(1, 2, 0, -28), J_SELF]
        compare(program, (m) => {
          m.hart.setX(2, 12n)
          m.hart.setX(6, a)
          m.hart.setX(7, b)
        }, [30, 100], tier)
        const m = machine(program, tier)
        m.hart.setX(2, 12n)
        m.hart.setX(6, a)
        m.hart.setX(7, b)
        m.hart.run(7 * 12)
        expect(compiled(m, BASE)).toBe(true)
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
    }, [100, 37, 5], tier)
    /** Runs the loop until its blocks compiled, then points x7 at `bad` so the load faults; both ways. */
    const faultAfterCompile = (bad: bigint) => {
      const withBlocks = machine(program, tier)
      const interpreted = machine(program, undefined)
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

  it('a hot loop of loads and stores through Sv39 pages runs in compiled code, not in the interpreter (its data TLB hits there)', () => {
    const m = machine(assemble(`
1:      ld t0, 0(ra)
        addi t0, t0, 1
        sd t0, 8(ra)
        addi sp, sp, -1
        bne sp, zero, 1b
        j .
`, { base: BASE }).bytes, tier)
    pagedData(m, false)
    m.hart.setX(1, BigInt(DATA_VA - 4096)) // the lower data page (read and write)
    m.hart.setX(2, 3000n)
    m.hart.privilege = 1
    for (let k = 0; k < 10; k++) m.hart.run(1500)
    expect(m.hart.getX(2)).toBe(0n)
    expect(m.hart.jitStats.executed).toBeGreaterThan(0.9 * Number(m.hart.instret))
  })

  it('MMIO inside a block goes to the device, and a store into the running line takes effect', () => {
    const out: number[] = []
    const program = [ADDI(5, 5, 1), S(0, 5, 7, 0), ADDI(2, 2, -1), B(1, 2, 0, -12), J_SELF]
    const a = machine(program, tier)
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
    }, [3, 50, 1000], tier)
  })

  it('a breakpoint inside a hot loop still stops before its instruction', () => {
    const program = [ADDI(5, 5, 1), ADDI(6, 6, 2), ADDI(7, 7, 3), ADDI(2, 2, -1), B(1, 2, 0, -16), J_SELF]
    const a = machine(program, tier)
    a.hart.setX(2, 100n)
    a.hart.run(200) // blocks compiled by now
    expect(compiled(a, BASE)).toBe(true)
    a.hart.addBreakpoint(BASE + 8)
    const r = a.hart.run(1000)
    expect(r.reason).toBe('breakpoint')
    expect(a.hart.pc).toBe(BASE + 8)
    expect(a.hart.instret).toBe(200n + BigInt(r.executed))
  })

  it('random code at any 2-byte alignment, its blocks across 64-byte lines (instructions straddling two), loads and stores faulting in one round after the blocks compiled: the trap sees every register written before it (fast-check)', () => {
    // Loads and stores based on x21 = x1 (data) + (x2 = x20 ? x22 : 0): in the round x2 = x20 (the
    // blocks compiled by then) they go to x22 off the data, mostly outside RAM or beyond ±2^53
    // (h.addr), faulting in the middle of a block that wrote registers before them.
    const wild = fc.oneof(
      fc.tuple(fc.constantFrom(0, 3, 4), reg, fc.integer({ min: -16, max: 15 })).map(([f3, rd, o]) => I(o * 8, 21, f3, rd, 0x03)),
      fc.tuple(fc.constantFrom(0, 3), reg, fc.integer({ min: -16, max: 15 })).map(([f3, rs, o]) => S(o * 8, rs, 21, f3)),
    )
    const far = fc.oneof(fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(1n << 60n, U64 << 62n, 0x10_0000n, 0n))
    const body = fc.array(fc.oneof({ weight: 8, arbitrary: instruction }, { weight: 1, arbitrary: wild }), { minLength: 1, maxLength: 32 })
    fc.assert(
      fc.property(body, fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), far, fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), (body, pad, half, values, x22, round, slices) => {
        const top = [R(0x20, 20, 2, 0, 19), I(1, 19, 3, 19), R(1, 22, 19, 0, 19), R(0, 19, 1, 0, 21)] // sub, sltiu, mul, add
        const code = [...top, ...body]
        const n = code.length
        compare(atHalf(half, [...Array<number>(pad).fill(NOP), ...code, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]), (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(2, 20n)
          m.hart.setX(20, BigInt(round))
          m.hart.setX(22, x22)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
        }, [...slices, 100_000], tier)
      }),
      { numRuns: 300 },
    )
  })

  it('self-modifying stores into any instruction of a loop spanning 64-byte lines: a stale block is never run (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 2, maxLength: 28 }), fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.nat(), fc.nat(), fc.tuple(reg, reg), fc.integer({ min: 10, max: 20 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), (body, pad, half, at, target, [rd, rs], round, slices) => {
        // Somewhere in the body, sw x16, 4t(x19) rewrites the loop's instruction t with x16 (an
        // addi) in one round (x2 = x20), after its blocks compiled; in the other rounds it stores
        // 32 KiB past the code: x19 = x17 (the code's start) + (x2 ≠ x20) << 15.
        const k = at % (body.length + 1)
        const t = target % (body.length + 5)
        const store = [R(0x20, 20, 2, 0, 19), R(0, 19, 0, 3, 19), I(15, 19, 1, 19), R(0, 17, 19, 0, 19), S(4 * t, 16, 19, 2)]
        const code = [...body.slice(0, k), ...store, ...body.slice(k)]
        const n = code.length
        compare(atHalf(half, [...Array<number>(pad).fill(NOP), ...code, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]), (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(2, 30n)
          m.hart.setX(16, BigInt(ADDI(rd, rs, 1)))
          m.hart.setX(17, BigInt(BASE + (half ? 2 : 0) + 4 * pad))
          m.hart.setX(20, BigInt(round))
        }, [...slices, 100_000], tier)
      }),
      { numRuns: 300 },
    )
  })

  it('random code in pieces joined by jumps, forward across lines and back to the loop start (the block follows JAL): agrees at every budget (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(instruction, { minLength: 1, maxLength: 16 }), fc.array(instruction, { maxLength: 16 }), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.boolean(), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), (one, two, gap, pad, half, back, values, slices) => {
        // pad; one; jal x3, two (over `gap` words never run: 0 is an illegal instruction); two;
        // addi x2, x2, -1; then back to one's start: bne x2, x0, one, or beq x2, x0, out; j one.
        const a = one.length
        const b = two.length
        const toTwo = J(4 * (gap + 1), 3)
        const loopBack = -(a + 1 + gap + b + 1) * 4
        const tail = back ? [B(0, 2, 0, 8), J(loopBack - 4, 0)] : [B(1, 2, 0, loopBack)]
        const program = [...Array<number>(pad).fill(NOP), ...one, toTwo, ...Array<number>(gap).fill(0), ...two, ADDI(2, 2, -1), ...tail, J_SELF]
        compare(atHalf(half, program), (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(2, 20n)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
        }, [...slices, 100_000], tier)
      }),
      { numRuns: 300 },
    )
  })

  it('JALR through a register the same block just wrote, its target beyond ±2^53 (the slow path reads the hart\'s registers): agrees (fast-check)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64 }), fc.integer({ min: 25, max: 35 }), (far, round) => {
        // addi x2, x2, -1; x7 = (x2 = round) × far (add, sltiu, mul); add x6, x8, x7;
        // jalr x5, 0(x6) — x6 is x8 (the start) but in round `round` (the block compiled by
        // then), when it is far off.
        const program = [ADDI(2, 2, -1), R(0, 20, 2, 0, 7), I(1, 7, 3, 7), R(1, 21, 7, 0, 7), R(0, 7, 8, 0, 6), I(0, 6, 0, 5, 0x67), J_SELF]
        compare(program, (m) => {
          m.hart.setX(2, 40n)
          m.hart.setX(8, BigInt(BASE))
          m.hart.setX(20, BigInt(-round))
          m.hart.setX(21, far)
        }, [1000], tier)
      }),
      { numRuns: 100 },
    )
  })

  it('random code with forward branches in a loop: the block runs on past a branch not taken and exits where one is taken (fast-check)', () => {
    const skip = fc.tuple(fc.constantFrom(0, 1, 4, 5, 6, 7), reg, reg, fc.integer({ min: 1, max: 3 })).map(([f3, a, b, k]) => ({ f3, a, b, k }))
    const item = fc.oneof({ weight: 5, arbitrary: instruction.map((w) => ({ w })) }, { weight: 1, arbitrary: skip })
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 11, maxLength: 11 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), (items, pad, half, values, slices) => {
        // A branch skips the next k words (inside the body or onto the loop's addi).
        const n = items.length
        const body = items.map((it, i) => ('w' in it ? it.w : B(it.f3, it.a, it.b, 4 * Math.min(it.k + 1, n - i))))
        compare(atHalf(half, [...Array<number>(pad).fill(NOP), ...body, ADDI(2, 2, -1), B(1, 2, 0, -(n + 1) * 4), J_SELF]), (m) => {
          m.hart.setX(1, BigInt(DATA))
          m.hart.setX(2, 20n)
          values.forEach((v, i) => m.hart.setX(5 + i, v))
        }, [...slices, 100_000], tier)
      }),
      { numRuns: 300 },
    )
  })
})

describe.each(['block', 'wasm-block'] as const)("compiled code's page memos and data-TLB entries (%s tier)", (memoTier) => {
  /** A hot loop loading from DATA + 64 on `tier` (undefined: the interpreter alone); traps go to a `j .` at BASE + 0x2000. */
  function loop(tier: Tier | undefined) {
    const m = machine(assemble(`
        li t0, ${DATA}
        li t2, 1000
1:      ld t1, 64(t0)
        add t3, t3, t1
        addi t2, t2, -1
        bnez t2, 1b
2:      j 2b
`, { base: BASE }).bytes, tier)
    m.hart.pc = BASE
    return m
  }
  /** The loop's `add` (after li t0, li t2 and the load), as the assembler lays it out. */
  const ADD_AT = (() => {
    const { symbols } = assemble(`li t0, ${DATA}\nli t2, 1000\nld t1, 64(t0)\nadd_at: add t3, t3, t1`, { base: BASE })
    return symbols.get('add_at')! - BASE
  })()
  const outcome = (m: ReturnType<typeof machine>) => ({ pc: m.hart.pc, mcause: m.hart.getCsr(CSR.mcause), mtval: m.hart.getCsr(CSR.mtval), t2: m.hart.getX(7), t3: m.hart.getX(28), instret: m.hart.instret })

  it('a loop compiled with paging on, then run in M-mode (its memo filled from the whole-RAM window), then in S-mode bare with PMP closing part of that page to S: the load faults (the window changed, nothing was flushed)', () => {
    const run = (tier: Tier | undefined) => {
      const m = loop(tier)
      // 1. S-mode, Sv39 on (RAM identity-mapped by a gigapage): the loop compiles with page memos.
      m.bus.write(PT + 2 * 8, 8, (0x80000n << 10n) | 0xcfn) // V R W X A D
      m.hart.setCsr(CSR.satp, (8n << 60n) | BigInt(PT >>> 12))
      m.hart.privilege = 1
      m.hart.run(300)
      // 2. Paging off, PMP: DATA + 64 (64 bytes) closed to S, open to M (not locked), the rest
      // open; M-mode runs the loop, its memo now from the direct window (all RAM for M).
      m.hart.setCsr(CSR.satp, 0n)
      m.hart.setCsr(CSR.pmpaddr0 + 1, (1n << 54n) - 1n)
      m.hart.setCsr(CSR.pmpaddr0, BigInt((DATA + 64) / 4) | 7n)
      m.hart.setCsr(CSR.pmpcfg0, 0x1f18n)
      m.hart.privilege = 3
      m.hart.run(300)
      // Stop at the `add` after the load (a run's first instruction is interpreted: the S-mode run
      // must reach the load through the compiled loop).
      m.hart.addBreakpoint(BASE + ADD_AT)
      expect(m.hart.run(100).reason).toBe('breakpoint')
      m.hart.removeBreakpoint(BASE + ADD_AT)
      // 3. S-mode bare: the window is now the RAM past the closed stretch.
      m.hart.privilege = 1
      m.hart.run(300)
      return outcome(m)
    }
    const compiled = run(memoTier)
    expect(compiled).toEqual(run(undefined))
    expect(compiled.mcause).toBe(5n) // load access fault
    expect(compiled.mtval).toBe(BigInt(DATA + 64))
  })

  it('two machines run the same loop with Sv39, its data page mapped to different RAM: they share the compiled source, not its memos (slices interleaved)', () => {
    const start = (tier: Tier | undefined, moved: boolean) => {
      const m = loop(tier)
      const V = 1n, R = 2n, W = 4n, X = 8n, A = 64n, D = 128n
      const l1 = PT + 0x1000
      const l0 = PT + 0x2000
      m.bus.write(PT + 2 * 8, 8, (BigInt(l1 >>> 12) << 10n) | V)
      m.bus.write(l1, 8, (BigInt(l0 >>> 12) << 10n) | V)
      for (let p = 0; p < 512; p++) m.bus.write(l0 + p * 8, 8, (BigInt((BASE >>> 12) + p) << 10n) | V | R | W | X | A | D)
      // The second machine's DATA page is the RAM at MOVED.
      if (moved) m.bus.write(l0 + ((DATA - BASE) >>> 12) * 8, 8, (BigInt(MOVED >>> 12) << 10n) | V | R | W | A | D)
      m.hart.setCsr(CSR.satp, (8n << 60n) | BigInt(PT >>> 12))
      m.bus.write(DATA + 64, 8, 1n)
      m.bus.write(MOVED + 64, 8, 1000n)
      m.hart.privilege = 1
      return m
    }
    const a = start(memoTier, false)
    const b = start(memoTier, true)
    const aRef = start(undefined, false)
    const bRef = start(undefined, true)
    for (const n of [300, 7, 300, 41, 300]) {
      const sources = compiledSources()
      for (const m of [a, aRef]) m.hart.run(n)
      // The loop's block compiled on machine a (by its first slice) is b's too: no new source.
      const afterA = compiledSources()
      for (const m of [b, bRef]) m.hart.run(n)
      if (n === 300 && sources > 0) expect(compiledSources()).toBe(afterA)
      expect(outcome(a)).toEqual(outcome(aRef))
      expect(outcome(b)).toEqual(outcome(bRef))
    }
    expect(a.hart.getX(28) * 1000n).toBe(b.hart.getX(28)) // each read its own page
    expect(compiled(b, BASE + ADD_AT - 4)).toBe(true)
  })

  it('S-mode with Sv39: the page remapped and a remote SFENCE.VMA between two runs: the compiled loop reads the new page', () => {
    const run = (tier: Tier | undefined) => {
      const m = loop(tier)
      const V = 1n, R = 2n, W = 4n, X = 8n, A = 64n, D = 128n
      // The first 2 MiB of RAM identity-mapped by 4 KiB pages (root → l1 → l0), so DATA's page has
      // an entry of its own, later pointed at MOVED.
      const l1 = PT + 0x1000
      const l0 = PT + 0x2000
      const pte = l0 + ((DATA - BASE) >>> 12) * 8
      m.bus.write(PT + 2 * 8, 8, (BigInt(l1 >>> 12) << 10n) | V)
      m.bus.write(l1, 8, (BigInt(l0 >>> 12) << 10n) | V)
      for (let p = 0; p < 512; p++) m.bus.write(l0 + p * 8, 8, (BigInt((BASE >>> 12) + p) << 10n) | V | R | W | X | A | D)
      m.hart.setCsr(CSR.satp, (8n << 60n) | BigInt(PT >>> 12))
      m.bus.write(DATA + 64, 8, 1n)
      m.bus.write(MOVED + 64, 8, 1000n)
      m.hart.privilege = 1
      m.hart.run(300)
      m.bus.write(pte, 8, (BigInt(MOVED >>> 12) << 10n) | V | R | W | A | D)
      m.hart.flushTranslations()
      m.hart.run(300)
      return outcome(m)
    }
    const compiled = run(memoTier)
    expect(compiled).toEqual(run(undefined))
    // 300 instructions: 2 to set up, then 4 a pass; the second run's passes added 1000 each.
    expect(compiled.t3).toBeGreaterThan(50_000n)
  })
})
