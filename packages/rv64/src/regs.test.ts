/**
 * The register fast paths (32-bit halves, number arithmetic) against a BigInt oracle: I-type
 * ALU ops, branches, loads/stores, and link values, with random values and immediates.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { I, J, LUI, R, S, words } from './encode.test-helpers.js'
import { createSystem } from './index.js'

const BASE = 0x8000_0000
const U64 = (1n << 64n) - 1n
const s64 = (v: bigint) => BigInt.asIntN(64, v)
const u64 = (v: bigint) => BigInt.asUintN(64, v)
const s32 = (v: bigint) => BigInt.asIntN(32, v)
const u32 = (v: bigint) => BigInt.asUintN(32, v)

function machine(program: number[]) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  sys.bus.writeBytes(BASE, words(program))
  return { hart: sys.harts[0]!, bus: sys.bus }
}

const value = fc.oneof(
  fc.bigInt({ min: 0n, max: U64 }),
  fc.bigInt({ min: 0n, max: 0xffffffffn }),
  fc.bigInt({ min: -0x1000n, max: 0x1000n }).map(u64),
  fc.constantFrom(0n, 1n, U64, 1n << 63n, (1n << 63n) - 1n, 0xffffffffn, 0x7fffffffn, 1n << 31n, 1n << 32n, (1n << 32n) - 2048n),
)
const imm12 = fc.integer({ min: -2048, max: 2047 })

/** name → [f3, top bits of the immediate field, opcode, shamt bits (0 = a plain immediate), oracle]. */
const I_OPS: Record<string, [number, number, number, number, (a: bigint, imm: bigint) => bigint]> = {
  addi: [0, 0, 0x13, 0, (a, i) => a + i],
  xori: [4, 0, 0x13, 0, (a, i) => a ^ i],
  ori: [6, 0, 0x13, 0, (a, i) => a | i],
  andi: [7, 0, 0x13, 0, (a, i) => a & i],
  slti: [2, 0, 0x13, 0, (a, i) => (s64(a) < i ? 1n : 0n)],
  sltiu: [3, 0, 0x13, 0, (a, i) => (u64(a) < u64(i) ? 1n : 0n)],
  slli: [1, 0, 0x13, 6, (a, i) => a << i],
  srli: [5, 0, 0x13, 6, (a, i) => u64(a) >> i],
  srai: [5, 0x400, 0x13, 6, (a, i) => s64(a) >> i],
  addiw: [0, 0, 0x1b, 0, (a, i) => s32(a + i)],
  slliw: [1, 0, 0x1b, 5, (a, i) => s32(a << i)],
  srliw: [5, 0, 0x1b, 5, (a, i) => s32(u32(a) >> i)],
  sraiw: [5, 0x400, 0x1b, 5, (a, i) => s32(a) >> i],
}

describe('register fast paths against a BigInt oracle (fast-check)', () => {
  for (const [name, [f3, top, op, shBits, fn]] of Object.entries(I_OPS)) {
    it(name, () => {
      const immArb = shBits ? fc.integer({ min: 0, max: (1 << shBits) - 1 }) : imm12
      fc.assert(
        fc.property(value, immArb, fc.constantFrom(12, 10), (a, imm, rd) => {
          const { hart } = machine([I(top | imm, 10, f3, rd, op)])
          hart.setX(10, a)
          hart.run(1)
          expect(hart.getX(rd)).toBe(u64(fn(a, BigInt(imm))))
        }),
        { numRuns: 300 },
      )
    })
  }

  it('R-type ops with the destination equal to a source', () => {
    const ops: [number, number, number, (a: bigint, b: bigint) => bigint][] = [
      [0, 0, 0x33, (a, b) => a + b], [0x20, 0, 0x33, (a, b) => a - b], [0, 4, 0x33, (a, b) => a ^ b], [0, 6, 0x33, (a, b) => a | b], [0, 7, 0x33, (a, b) => a & b],
      [0, 0, 0x3b, (a, b) => s32(a + b)], [0x20, 0, 0x3b, (a, b) => s32(a - b)], [1, 0, 0x3b, (a, b) => s32(a * b)],
      [0, 2, 0x33, (a, b) => (s64(a) < s64(b) ? 1n : 0n)], [0, 3, 0x33, (a, b) => (a < b ? 1n : 0n)],
    ]
    fc.assert(
      fc.property(value, value, fc.constantFrom(...ops), fc.constantFrom(10, 11), (a, b, [f7, f3, op, fn], rd) => {
        const { hart } = machine([R(f7, 11, 10, f3, rd, op)])
        hart.setX(10, a)
        hart.setX(11, b)
        hart.run(1)
        expect(hart.getX(rd)).toBe(u64(fn(a, b)))
      }),
      { numRuns: 500 },
    )
  })

  it('branches', () => {
    const conds: [number, (a: bigint, b: bigint) => boolean][] = [
      [0, (a, b) => a === b], [1, (a, b) => a !== b], [4, (a, b) => s64(a) < s64(b)], [5, (a, b) => s64(a) >= s64(b)], [6, (a, b) => a < b], [7, (a, b) => a >= b],
    ]
    const near = fc.tuple(value, fc.integer({ min: -2, max: 2 })).map(([v, d]) => u64(v + BigInt(d)))
    fc.assert(
      fc.property(value, fc.oneof(value, near), fc.constantFrom(...conds), fc.boolean(), (a, b0, [f3, taken], same) => {
        const b = same ? a : b0
        // b<f3> x10, x11, +16 (B-type with imm 16)
        const inst = ((16 >> 11) & 1) << 7 | (((16 >> 1) & 0xf) << 8) | (f3 << 12) | (10 << 15) | (11 << 20) | 0x63
        const { hart } = machine([inst >>> 0])
        hart.setX(10, a)
        hart.setX(11, b)
        hart.run(1)
        expect(hart.pc).toBe(BASE + (taken(a, b) ? 16 : 4))
      }),
      { numRuns: 1000 },
    )
  })

  it('stores then loads of every width, at addresses formed from a base and an offset', () => {
    const loads: [number, number, (v: bigint) => bigint][] = [
      [0, 1, (v) => s64(BigInt.asIntN(8, v))], [1, 2, (v) => s64(BigInt.asIntN(16, v))], [2, 4, (v) => s64(s32(v))], [3, 8, (v) => s64(v)],
      [4, 1, (v) => BigInt.asUintN(8, v)], [5, 2, (v) => BigInt.asUintN(16, v)], [6, 4, (v) => u32(v)],
    ]
    fc.assert(
      fc.property(value, fc.constantFrom(...loads), fc.integer({ min: -256, max: 255 }), (v, [f3, size, ext], off) => {
        const target = BASE + 0x8000
        // sd/sw/sh/sb x11 → off(x10); l? x12 ← off(x10)
        const { hart, bus } = machine([S(off, 11, 10, Math.log2(size)), I(off, 10, f3, 12, 0x03)])
        hart.setX(10, BigInt(target - off))
        hart.setX(11, v)
        hart.run(2)
        expect(bus.read(target, size as 1 | 2 | 4 | 8)).toBe(BigInt.asUintN(size * 8, v))
        expect(hart.getX(12)).toBe(u64(ext(v)))
      }),
      { numRuns: 500 },
    )
  })

  it('an address register beyond ±2^53 faults with the whole address as mtval', () => {
    const { hart } = machine([I(8, 10, 3, 12, 0x03)]) // ld x12, 8(x10)
    hart.setCsr(0x305, BigInt(BASE + 0x100)) // mtvec
    hart.setX(10, 0x0040_0000_0000_0000n)
    hart.run(1)
    expect([hart.getCsr(0x342), hart.getCsr(0x343)]).toEqual([5n, 0x0040_0000_0000_0008n])
  })

  it('lui, auipc, jal and jalr link values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfffff }), fc.bigInt({ min: 0n, max: U64 }), imm12, (u, target, imm) => {
        const { hart } = machine([LUI(5, u), (((u & 0xfffff) << 12) | (6 << 7) | 0x17) >>> 0, J(8, 1), 0, I(imm, 10, 0, 7, 0x67)])
        hart.setX(10, target)
        hart.setCsr(0x305, BigInt(BASE + 0x100))
        hart.run(4)
        expect(hart.getX(5)).toBe(u64(s32(BigInt(u) << 12n)))
        expect(hart.getX(6)).toBe(u64(BigInt(BASE + 4) + s32(BigInt(u) << 12n)))
        expect(hart.getX(1)).toBe(BigInt(BASE + 12))
        expect(hart.getX(7)).toBe(BigInt(BASE + 20))
        const t = s64(target + BigInt(imm)) & ~1n
        // jalr lands on the target, or (outside RAM) traps there: mepc or mtval holds it.
        // The pc is a number: exact inside ±2^53 (no canonical address lies beyond).
        if (t >= 1n << 53n || t <= -(1n << 53n)) return
        if (hart.pc === BASE + 0x100) expect(hart.getCsr(0x343)).toBe(u64(t))
        else expect(BigInt(hart.pc)).toBe(t)
      }),
      { numRuns: 300 },
    )
  })
})
