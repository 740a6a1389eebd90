import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CSRRS, CSRRW, I, R, words } from './encode.test-helpers.js'
import {
  DOUBLE,
  Flag,
  HALF,
  Rm,
  SINGLE,
  addD,
  addExact,
  addS,
  classifyD,
  classifyH,
  classifyS,
  divD,
  divExact,
  divS,
  fmaD,
  fmaExact,
  fmaS,
  fromInt,
  halfBits,
  halfValue,
  mulD,
  mulExact,
  mulS,
  sqrtD,
  sqrtExact,
  sqrtS,
  takeFlags,
  toHalf,
  toInt,
  toSingle,
  type Format,
} from './fpu.js'
import { CAUSE, CSR, Hart, createSystem, type Bus } from './index.js'

// ---- an independent oracle: exact rationals, rounded by comparing remainders ----------------

interface Rat {
  n: bigint
  d: bigint // > 0
}

const f64 = new Float64Array(1)
const u64 = new BigUint64Array(f64.buffer)
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
const bitsD = (x: number) => ((f64[0] = x), u64[0]!)
const fromBitsD = (b: bigint) => ((u64[0] = b), f64[0]!)
const bitsS = (x: number) => ((f32[0] = x), u32[0]!)
const fromBitsS = (b: number) => ((u32[0] = b), f32[0]!)

function rat(x: number): Rat {
  const b = bitsD(x)
  const neg = b >> 63n === 1n
  const be = Number((b >> 52n) & 0x7ffn)
  const frac = b & ((1n << 52n) - 1n)
  const m = be === 0 ? frac : frac | (1n << 52n)
  const e = be === 0 ? -1074 : be - 1075
  const n = neg ? -m : m
  return e >= 0 ? { n: n << BigInt(e), d: 1n } : { n, d: 1n << BigInt(-e) }
}
const add = (a: Rat, b: Rat): Rat => ({ n: a.n * b.d + b.n * a.d, d: a.d * b.d })
const mul = (a: Rat, b: Rat): Rat => ({ n: a.n * b.n, d: a.d * b.d })
const div = (a: Rat, b: Rat): Rat => (b.n < 0n ? { n: -a.n * b.d, d: a.d * -b.n } : { n: a.n * b.d, d: a.d * b.n })
const cmpRat = (a: Rat, b: Rat) => {
  const l = a.n * b.d
  const r = b.n * a.d
  return l < r ? -1 : l > r ? 1 : 0
}
const bl = (v: bigint) => (v === 0n ? 0 : v.toString(2).length)

/** Rounds a non-zero rational to `fmt` in mode `rm`: the value and the flags IEEE 754 gives it (tininess after rounding). */
function oracleRound(r: Rat, fmt: Format, rm: number): { v: number; flags: number } {
  const neg = r.n < 0n
  const N = neg ? -r.n : r.n
  const D = r.d
  // E = floor(log2(N / D))
  let E = bl(N) - bl(D)
  const ge = (e: number) => (e >= 0 ? N >= D << BigInt(e) : N << BigInt(-e) >= D)
  if (!ge(E)) E -= 1
  const roundAt = (qe: number): { q: bigint; inexact: boolean } => {
    const num = qe >= 0 ? N : N << BigInt(-qe)
    const den = qe >= 0 ? D << BigInt(qe) : D
    let q = num / den
    const rem = num % den
    if (rem === 0n) return { q, inexact: false }
    const c = 2n * rem < den ? -1 : 2n * rem > den ? 1 : 0
    const up = rm === Rm.RNE ? c > 0 || (c === 0 && (q & 1n) === 1n) : rm === Rm.RTZ ? false : rm === Rm.RDN ? neg : rm === Rm.RUP ? !neg : c >= 0
    if (up) q += 1n
    return { q, inexact: true }
  }
  const unbounded = roundAt(E - (fmt.p - 1))
  // tiny: the unbounded-exponent rounding q × 2^(E−p+1) is below 2^emin
  const k = E - fmt.p + 1 - fmt.emin
  const tiny = k >= 0 ? unbounded.q << BigInt(k) < 1n : unbounded.q < 1n << BigInt(-k)
  let qe = Math.max(E, fmt.emin) - (fmt.p - 1)
  let { q, inexact } = roundAt(qe)
  if (q === 1n << BigInt(fmt.p)) {
    q >>= 1n
    qe += 1
  }
  if (bl(q) + qe - 1 > fmt.emax) {
    const inf = rm === Rm.RNE || rm === Rm.RMM || (rm === Rm.RDN && neg) || (rm === Rm.RUP && !neg)
    const v = inf ? Infinity : fmt.max
    return { v: neg ? -v : v, flags: Flag.OF | Flag.NX }
  }
  const v = Number(q) * 2 ** qe
  return { v: neg ? -v : v, flags: inexact ? (tiny ? Flag.NX | Flag.UF : Flag.NX) : 0 }
}

/** The oracle for an exact result (zero results have sign rules the caller supplies). */
function expectRounded(got: number, flags: number, exact: Rat, fmt: Format, rm: number, zero: number) {
  const want = exact.n === 0n ? { v: zero, flags: 0 } : oracleRound(exact, fmt, rm)
  expect([Object.is(got, want.v) ? 'same' : got, flags]).toEqual(['same', want.flags])
}

// ---- value generators ------------------------------------------------------------------------

const finiteD = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(fromBitsD).filter(Number.isFinite),
  // near 1 and near the ends of the range, where rounding, overflow and underflow happen
  fc.tuple(fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }), fc.constantFrom(0x3ff, 0x3fe, 0x400, 1, 0, 2, 0x7fe, 0x7fd, 0x3c0, 0x200, 0x600), fc.boolean()).map(([m, e, s]) => fromBitsD((s ? 1n << 63n : 0n) | (BigInt(e) << 52n) | m)),
  fc.constantFrom(0, -0, 1, -1, 1.5, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** -1022, 2 ** 1023, 0.1, 1 / 3),
)
const finiteS = fc.oneof(
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: 0, max: 0xffffffff }).map(fromBitsS).filter(Number.isFinite),
  fc.tuple(fc.integer({ min: 0, max: (1 << 23) - 1 }), fc.constantFrom(0x7f, 0x7e, 0x80, 1, 0, 2, 0xfe, 0xfd, 0x60, 0x98), fc.boolean()).map(([m, e, s]) => fromBitsS(((s ? 1 << 31 : 0) | (e << 23) | m) >>> 0)),
)
const rm = fc.constantFrom(Rm.RNE, Rm.RTZ, Rm.RDN, Rm.RUP, Rm.RMM)
const zeroSum = (a: number, b: number, r: number) => (Object.is(a, -0) && Object.is(b, -0) ? -0 : r === Rm.RDN ? -0 : 0)
const neg0 = (x: number) => Object.is(x, -0) || x < 0

const RUNS = { numRuns: 3000 }

/** The sign of an exact zero a×b + c (IEEE 754-2019 §6.3). */
function fmaZero(a: number, b: number, c: number, r: number): number {
  const pNeg = neg0(a) !== neg0(b)
  if ((a === 0 || b === 0) && c === 0) return pNeg && neg0(c) ? -0 : !pNeg && !neg0(c) ? 0 : r === Rm.RDN ? -0 : 0
  return r === Rm.RDN ? -0 : 0
}

describe('FP arithmetic against an exact rational oracle (every rounding mode, flags)', () => {
  it('double add/sub (exact path and the RNE fast path)', () => {
    fc.assert(
      fc.property(finiteD, finiteD, rm, (a, b, r) => {
        const z = zeroSum(a, b, r)
        const got = addD(a, b, r)
        expectRounded(got, takeFlags(), add(rat(a), rat(b)), DOUBLE, r, a === 0 && b === 0 ? (neg0(a) && neg0(b) ? -0 : r === Rm.RDN && (neg0(a) || neg0(b)) ? -0 : 0) : z)
      }),
      RUNS,
    )
  })

  it('double mul and div', () => {
    fc.assert(
      fc.property(finiteD, finiteD, rm, (a, b, r) => {
        const sign = neg0(a) !== neg0(b) ? -0 : 0
        expectRounded(mulD(a, b, r), takeFlags(), mul(rat(a), rat(b)), DOUBLE, r, sign)
        if (b === 0) return
        expectRounded(divD(a, b, r), takeFlags(), div(rat(a), rat(b)), DOUBLE, r, sign)
      }),
      RUNS,
    )
  })

  it('double fused multiply-add', () => {
    fc.assert(
      fc.property(finiteD, finiteD, finiteD, rm, (a, b, c, r) => {
        const exact = add(mul(rat(a), rat(b)), rat(c))
        const pNeg = neg0(a) !== neg0(b)
        const pZero = a === 0 || b === 0
        const zero = pZero && c === 0 ? (pNeg && neg0(c) ? -0 : !pNeg && !neg0(c) ? 0 : r === Rm.RDN ? -0 : 0) : r === Rm.RDN ? -0 : 0
        expectRounded(fmaD(a, b, c, r), takeFlags(), exact, DOUBLE, r, zero)
      }),
      RUNS,
    )
  })

  it('double fused multiply-add near cancellation (c ≈ −a×b)', () => {
    fc.assert(
      fc.property(finiteD, finiteD, fc.integer({ min: -3, max: 3 }), rm, (a, b, k, r) => {
        const p = a * b
        if (!Number.isFinite(p) || p === 0) return
        const c = -fromBitsD(bitsD(p) + BigInt(k))
        if (!Number.isFinite(c)) return
        const exact = add(mul(rat(a), rat(b)), rat(c))
        expectRounded(fmaD(a, b, c, r), takeFlags(), exact, DOUBLE, r, r === Rm.RDN ? -0 : 0)
      }),
      RUNS,
    )
  })

  it('double fused multiply-add accumulating small products into a larger sum (the dot-product shape)', () => {
    fc.assert(
      fc.property(finiteD, finiteD, finiteD, fc.integer({ min: 1, max: 80 }), rm, (a, b, c0, k, r) => {
        const c = c0 * 2 ** k
        if (!Number.isFinite(c) || !Number.isFinite(a * b)) return
        const exact = add(mul(rat(a), rat(b)), rat(c))
        expectRounded(fmaD(a, b, c, r), takeFlags(), exact, DOUBLE, r, fmaZero(a, b, c, r))
      }),
      RUNS,
    )
  })

  it('single add, mul, div, fma (round-to-odd through double)', () => {
    fc.assert(
      fc.property(finiteS, finiteS, finiteS, rm, (a, b, c, r) => {
        const sumZero = a === 0 && b === 0 ? (neg0(a) && neg0(b) ? -0 : r === Rm.RDN && (neg0(a) || neg0(b)) ? -0 : 0) : r === Rm.RDN ? -0 : 0
        expectRounded(addS(a, b, r), takeFlags(), add(rat(a), rat(b)), SINGLE, r, sumZero)
        const sign = neg0(a) !== neg0(b) ? -0 : 0
        expectRounded(mulS(a, b, r), takeFlags(), mul(rat(a), rat(b)), SINGLE, r, sign)
        if (b !== 0) expectRounded(divS(a, b, r), takeFlags(), div(rat(a), rat(b)), SINGLE, r, sign)
        const pNeg = neg0(a) !== neg0(b)
        const pZero = a === 0 || b === 0
        const zero = pZero && c === 0 ? (pNeg && neg0(c) ? -0 : !pNeg && !neg0(c) ? 0 : r === Rm.RDN ? -0 : 0) : r === Rm.RDN ? -0 : 0
        expectRounded(fmaS(a, b, c, r), takeFlags(), add(mul(rat(a), rat(b)), rat(c)), SINGLE, r, zero)
      }),
      RUNS,
    )
  })

  it('double → single conversion', () => {
    fc.assert(
      fc.property(finiteD, rm, (a, r) => {
        expectRounded(toSingle(a, r), takeFlags(), rat(a), SINGLE, r, a)
      }),
      RUNS,
    )
  })

  it('square roots: the result brackets the exact root as the rounding mode says', () => {
    const check = (a: number, r: number, got: number, flags: number, fmt: Format) => {
      if (a < 0) return expect([Number.isNaN(got), flags]).toEqual([true, Flag.NV])
      if (a === 0) return expect([Object.is(got, a), flags]).toEqual([true, 0])
      const next = (x: number, dir: 1 | -1) => (fmt === DOUBLE ? fromBitsD(bitsD(x) + BigInt(dir)) : fromBitsS(bitsS(x) + dir))
      const sq = (x: Rat) => mul(x, x)
      const A = rat(a)
      const G = rat(got)
      if (cmpRat(sq(G), A) === 0) return expect(flags).toBe(0)
      expect(flags).toBe(Flag.NX)
      const lo = rat(next(got, -1))
      const hi = rat(next(got, 1))
      const half = (x: Rat, y: Rat) => ({ n: x.n * y.d + y.n * x.d, d: 2n * x.d * y.d })
      if (r === Rm.RDN || r === Rm.RTZ) expect([cmpRat(sq(G), A), cmpRat(A, sq(hi))]).toEqual([-1, -1])
      else if (r === Rm.RUP) expect([cmpRat(sq(lo), A), cmpRat(A, sq(G))]).toEqual([-1, -1])
      else expect([cmpRat(sq(half(lo, G)), A), cmpRat(A, sq(half(G, hi)))]).toEqual([-1, -1])
    }
    fc.assert(
      fc.property(finiteD, finiteS, rm, (a, s, r) => {
        check(a, r, sqrtD(a, r), takeFlags(), DOUBLE)
        check(s, r, sqrtS(s, r), takeFlags(), SINGLE)
      }),
      RUNS,
    )
  })

  it('integer → float conversions', () => {
    const ints = fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }), fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }), fc.integer().map(BigInt))
    fc.assert(
      fc.property(ints, rm, (v, r) => {
        expectRounded(fromInt(v, DOUBLE, r), takeFlags(), { n: v, d: 1n }, DOUBLE, r, 0)
        expectRounded(fromInt(v, SINGLE, r), takeFlags(), { n: v, d: 1n }, SINGLE, r, 0)
      }),
      RUNS,
    )
  })

  it('float → integer conversions saturate, with NV for NaN/overflow and NX for inexact', () => {
    const LIM = [
      [-(1n << 31n), (1n << 31n) - 1n, 32],
      [0n, (1n << 32n) - 1n, 32],
      [-(1n << 63n), (1n << 63n) - 1n, 64],
      [0n, (1n << 64n) - 1n, 64],
    ] as const
    const roundInt = (x: Rat, r: number): bigint => {
      const fl = x.n >= 0n ? x.n / x.d : -((-x.n + x.d - 1n) / x.d) // floor
      const rem: Rat = { n: x.n - fl * x.d, d: x.d } // in [0, 1)
      if (rem.n === 0n) return fl
      const c = cmpRat(rem, { n: 1n, d: 2n })
      switch (r) {
        case Rm.RTZ:
          return x.n < 0n ? fl + 1n : fl
        case Rm.RDN:
          return fl
        case Rm.RUP:
          return fl + 1n
        case Rm.RMM:
          return c > 0 || (c === 0 && x.n > 0n) ? fl + 1n : fl
        default:
          return c > 0 || (c === 0 && (fl & 1n) === 1n) ? fl + 1n : fl
      }
    }
    fc.assert(
      fc.property(fc.oneof(finiteD, fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 63, -(2 ** 63), 2 ** 64, 2 ** 32 - 0.5, -0.5, -0.4)), rm, fc.constantFrom(0, 1, 2, 3), (x, r, kind) => {
        const [lo, hi, bits] = LIM[kind]!
        const got = toInt(x, r, kind)
        const flags = takeFlags()
        let want: bigint
        let wantFlags = 0
        if (Number.isNaN(x)) [want, wantFlags] = [hi, Flag.NV]
        else if (x === Infinity) [want, wantFlags] = [hi, Flag.NV]
        else if (x === -Infinity) [want, wantFlags] = [lo, Flag.NV]
        else {
          const v = roundInt(rat(x), r)
          if (v > hi) [want, wantFlags] = [hi, Flag.NV]
          else if (v < lo) [want, wantFlags] = [lo, Flag.NV]
          else [want, wantFlags] = [v, cmpRat(rat(x), { n: v, d: 1n }) === 0 ? 0 : Flag.NX]
        }
        // The register holds 32-bit results sign-extended (also for wu).
        const reg = bits === 32 ? BigInt.asIntN(32, want) : want
        expect([BigInt.asUintN(64, got), flags]).toEqual([BigInt.asUintN(64, reg), wantFlags])
      }),
      RUNS,
    )
  })
})

describe('FP arithmetic: the RNE fast paths agree with the exact path, flags included', () => {
  const both = (fast: () => number, exact: () => number) => {
    const a = fast()
    const fa = takeFlags()
    const b = exact()
    const fb = takeFlags()
    expect([Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)), fa]).toEqual([true, fb])
  }
  const anyD = fc.oneof(finiteD, fc.constantFrom(Infinity, -Infinity))
  it('add, mul, div, sqrt, fma', () => {
    fc.assert(
      fc.property(anyD, anyD, anyD, (a, b, c) => {
        both(() => addD(a, b, Rm.RNE), () => addExact(a, b, DOUBLE, Rm.RNE))
        both(() => mulD(a, b, Rm.RNE), () => mulExact(a, b, DOUBLE, Rm.RNE))
        both(() => divD(a, b, Rm.RNE), () => divExact(a, b, DOUBLE, Rm.RNE))
        both(() => sqrtD(a, Rm.RNE), () => sqrtExact(a, DOUBLE, Rm.RNE))
        both(() => fmaD(a, b, c, Rm.RNE), () => fmaExact(a, b, c, DOUBLE, Rm.RNE))
      }),
      { numRuns: 5000 },
    )
  })

  it('special cases: invalid, divide by zero, overflow, underflow, exact zeros', () => {
    const cases: [() => number, number, number][] = [
      [() => addD(Infinity, -Infinity, Rm.RNE), NaN, Flag.NV],
      [() => mulD(Infinity, 0, Rm.RNE), NaN, Flag.NV],
      [() => divD(0, 0, Rm.RNE), NaN, Flag.NV],
      [() => divD(1, -0, Rm.RNE), -Infinity, Flag.DZ],
      [() => divD(Infinity, 0, Rm.RNE), Infinity, 0],
      [() => sqrtD(-1, Rm.RNE), NaN, Flag.NV],
      [() => sqrtD(-0, Rm.RNE), -0, 0],
      [() => mulD(Number.MAX_VALUE, 2, Rm.RNE), Infinity, Flag.OF | Flag.NX],
      [() => mulD(Number.MAX_VALUE, 2, Rm.RTZ), Number.MAX_VALUE, Flag.OF | Flag.NX],
      [() => mulD(-Number.MAX_VALUE, 2, Rm.RUP), -Number.MAX_VALUE, Flag.OF | Flag.NX],
      [() => mulD(2 ** -1022, 0.5, Rm.RNE), 2 ** -1023, 0], // exact subnormal: no underflow
      [() => mulD(2 ** -1022, 1 / 3, Rm.RNE), fromBitsD(0x0005555555555555n), Flag.UF | Flag.NX],
      [() => mulD(Number.MIN_VALUE, 0.5, Rm.RNE), 0, Flag.UF | Flag.NX],
      [() => mulD(Number.MIN_VALUE, 0.5, Rm.RUP), Number.MIN_VALUE, Flag.UF | Flag.NX],
      // Tininess after rounding: rounds up to the smallest normal, so no underflow.
      [() => mulD(fromBitsD(0x000fffffffffffffn), 1 + 2 ** -52, Rm.RNE), 2 ** -1022, Flag.NX],
      [() => addD(1, -1, Rm.RDN), -0, 0],
      [() => addD(-0, -0, Rm.RNE), -0, 0],
      [() => addD(0, -0, Rm.RNE), 0, 0],
      [() => addS(0, -0, Rm.RDN), -0, 0],
      [() => fmaD(0, -1, 0, Rm.RNE), 0, 0],
      [() => fmaD(0, -1, -0, Rm.RNE), -0, 0],
      [() => fmaD(Infinity, 1, -Infinity, Rm.RNE), NaN, Flag.NV],
      [() => toSingle(3.4028235677973366e38, Rm.RNE), Infinity, Flag.OF | Flag.NX],
      [() => toSingle(2 ** -150, Rm.RNE), 0, Flag.UF | Flag.NX],
      [() => toSingle(2 ** -150 + 2 ** -200, Rm.RNE), 2 ** -149, Flag.UF | Flag.NX],
      // Just below the smallest normal single: tiny (UF) only where the result stays below it.
      [() => toSingle(2 ** -126 - 2 ** -160, Rm.RTZ), fromBitsS(0x007fffff), Flag.UF | Flag.NX],
      [() => toSingle(-(2 ** -126) + 2 ** -160, Rm.RUP), fromBitsS(0x807fffff), Flag.UF | Flag.NX],
      [() => toSingle(2 ** -126 - 2 ** -160, Rm.RNE), 2 ** -126, Flag.NX],
      [() => toSingle(2 ** -126 - 2 ** -160, Rm.RUP), 2 ** -126, Flag.NX],
      [() => toSingle(2 ** -126 + 2 ** -160, Rm.RDN), 2 ** -126, Flag.NX],
      [() => toSingle(3.4028235677973366e38, Rm.RTZ), 3.4028234663852886e38, Flag.NX], // truncates to max: no overflow
      [() => toSingle(2 ** 128, Rm.RTZ), 3.4028234663852886e38, Flag.OF | Flag.NX],
      [() => toSingle(3.4028234663852886e38 + 2 ** 90, Rm.RUP), Infinity, Flag.OF | Flag.NX],
      [() => mulD(2 ** -1022, 1 - 2 ** -53, Rm.RTZ), fromBitsD(0x000fffffffffffffn), Flag.UF | Flag.NX],
    ]
    for (const [f, v, fl] of cases) {
      const got = f()
      expect([Object.is(got, v) || (Number.isNaN(got) && Number.isNaN(v)), takeFlags()]).toEqual([true, fl])
    }
  })
})

describe('fclass', () => {
  // The oracle works from the value (and the quiet bit for NaNs), not from the bit fields.
  const classOf = (x: number, quiet: boolean, minNormal: number): number => {
    if (Number.isNaN(x)) return quiet ? 1 << 9 : 1 << 8
    const neg = x < 0 || Object.is(x, -0)
    if (x === -Infinity) return 1 << 0
    if (x === Infinity) return 1 << 7
    if (x === 0) return neg ? 1 << 3 : 1 << 4
    if (Math.abs(x) < minNormal) return neg ? 1 << 2 : 1 << 5
    return neg ? 1 << 1 : 1 << 6
  }
  it('matches the value classes for every single and double bit pattern (sampled)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (s, d) => {
        expect(classifyS(s)).toBe(classOf(fromBitsS(s), (s & 0x400000) !== 0, 2 ** -126))
        expect(classifyD(Number(d >> 32n), Number(d & 0xffffffffn))).toBe(classOf(fromBitsD(d), (d & (1n << 51n)) !== 0n, 2 ** -1022))
      }),
      { numRuns: 20000 },
    )
  })
})

// ---- the instructions on a hart --------------------------------------------------------------

const BASE = 0x8000_0000
function machine(program: number[]) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  sys.bus.writeBytes(BASE, words(program))
  const hart = sys.harts[0]!
  return { sys, hart, bus: sys.bus as Bus }
}
const OPFP = (f7: number, rs2: number, rs1: number, rm: number, rd: number) => R(f7, rs2, rs1, rm, rd, 0x53)
const FS_MASK = 3n << 13n
const fsOf = (h: Hart) => Number((h.getCsr(CSR.mstatus) & FS_MASK) >> 13n)

describe('F and D on the hart', () => {
  it('misa reports F and D; mstatus.FS resets to Off, and FP instructions and fcsr then trap', () => {
    const { hart } = machine([OPFP(0x00, 2, 1, 7, 3), CSRRS(CSR.fcsr, 0, 10)])
    expect(hart.getCsr(CSR.misa) & 0x28n).toBe(0x28n)
    expect(fsOf(hart)).toBe(0)
    hart.setCsr(CSR.mtvec, BigInt(BASE + 0x100))
    hart.run(1)
    expect([hart.getCsr(CSR.mcause), hart.getCsr(CSR.mtval)]).toEqual([BigInt(CAUSE.ILLEGAL), BigInt(OPFP(0x00, 2, 1, 7, 3))])
    hart.pc = BASE + 4
    hart.run(1)
    expect(hart.getCsr(CSR.mepc)).toBe(BigInt(BASE + 4))
  })

  it('a single operand that is not NaN-boxed reads as the canonical NaN; single results are boxed', () => {
    const { hart } = machine([OPFP(0x00, 2, 1, 0, 3), OPFP(0x10, 1, 1, 1, 4), OPFP(0x00, 2, 2, 0, 5)])
    hart.setCsr(CSR.mstatus, 1n << 13n)
    hart.fpu.f[1] = 0x000000003f800000n // 1.0f, not boxed
    hart.fpu.f[2] = BigInt.asIntN(64, 0xffffffff3f800000n) // 1.0f
    hart.run(3)
    expect(BigInt.asUintN(64, hart.fpu.f[3]!)).toBe(0xffffffff7fc00000n) // fadd.s with a NaN: canonical
    expect(BigInt.asUintN(64, hart.fpu.f[4]!)).toBe(0xffffffffffc00000n) // fsgnjn.s of the canonical NaN
    expect(BigInt.asUintN(64, hart.fpu.f[5]!)).toBe(0xffffffff40000000n) // 1 + 1
    expect(hart.fpu.fflags).toBe(0)
  })

  it('FS becomes Dirty when an instruction only accrues flags (spec; QEMU 7.2 leaves it Clean)', () => {
    // feq.d a0, f1, f1 with f1 a signaling NaN: writes x10 and raises NV.
    const { hart } = machine([OPFP(0x51, 1, 1, 2, 10), OPFP(0x51, 2, 2, 2, 11)])
    hart.setCsr(CSR.mstatus, 2n << 13n) // Clean
    hart.fpu.f[1] = 0x7ff0000000000001n
    hart.fpu.f[2] = 0x3ff0000000000000n
    hart.run(1)
    expect([hart.getX(10), hart.fpu.fflags, fsOf(hart), hart.getCsr(CSR.mstatus) >> 63n]).toEqual([0n, Flag.NV, 3, 1n])
    hart.setCsr(CSR.mstatus, 2n << 13n)
    hart.run(1) // feq.d of 1.0 with itself: no flags, FS stays Clean
    expect([hart.getX(11), fsOf(hart)]).toEqual([1n, 2])
  })

  it('fcsr, frm and fflags share state; writes make FS Dirty; upper bits are ignored', () => {
    const { hart } = machine([CSRRW(CSR.fcsr, 5, 10), CSRRS(CSR.frm, 0, 11), CSRRS(CSR.fflags, 0, 12), CSRRS(CSR.fcsr, 0, 13)])
    hart.setCsr(CSR.mstatus, 1n << 13n)
    hart.setX(5, -1n)
    hart.run(4)
    expect([hart.getX(11), hart.getX(12), hart.getX(13), fsOf(hart)]).toEqual([7n, 31n, 0xffn, 3])
  })

  it('dynamic rounding with an invalid frm is illegal only for instructions with a rounding mode', () => {
    const { hart } = machine([OPFP(0x01, 1, 1, 7, 2), OPFP(0x11, 1, 1, 0, 3)])
    hart.setCsr(CSR.mstatus, 1n << 13n)
    hart.setCsr(CSR.mtvec, BigInt(BASE + 0x100))
    hart.setCsr(CSR.frm, 5n)
    hart.run(1)
    expect(hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.ILLEGAL))
    hart.pc = BASE + 4
    hart.setCsr(CSR.mcause, 0n)
    hart.run(1)
    expect([hart.pc, hart.getCsr(CSR.mcause)]).toEqual([BASE + 8, 0n])
  })

  it('flw NaN-boxes, fsw stores the low word as it is, fmv.x.w sign-extends it', () => {
    // flw f1, 0(a0); fsw f2, 8(a0); fmv.x.w a1, f2
    const { hart, bus } = machine([I(0, 10, 2, 1, 0x07), (((8 >> 5) << 25) | (2 << 20) | (10 << 15) | (2 << 12) | ((8 & 31) << 7) | 0x27) >>> 0, OPFP(0x70, 0, 2, 0, 11)])
    hart.setCsr(CSR.mstatus, 1n << 13n)
    bus.write(BASE + 0x1000, 4, 0x80000001n)
    hart.setX(10, BigInt(BASE + 0x1000))
    hart.fpu.f[2] = 0x12345678_87654321n
    hart.run(3)
    expect(BigInt.asUintN(64, hart.fpu.f[1]!)).toBe(0xffffffff80000001n)
    expect(bus.read(BASE + 0x1008, 4)).toBe(0x87654321n)
    expect(hart.getX(11)).toBe(0xffffffff87654321n)
  })

  it('snapshot and restore carry f0–f31 and fcsr without touching FS', () => {
    const { hart } = machine([])
    hart.setCsr(CSR.mstatus, 2n << 13n)
    hart.fpu.f[7] = 0x400921fb54442d18n
    hart.fpu.fcsr = 0x85
    const s = hart.snapshot()
    const h2 = new Hart({ hartId: 0, bus: (hart as unknown as { bus: Bus }).bus, clock: { mtime: () => 0n } })
    h2.restore(s)
    expect([h2.fpu.f[7], h2.fpu.fcsr, fsOf(h2)]).toEqual([0x400921fb54442d18n, 0x85, 2])
  })
})

describe('half precision (Zfh) against the exact rational oracle', () => {
  // binary16 as IEEE 754-2019 Table 3.5 gives it, written out here so the oracle does not share the implementation's constant.
  const H_SPEC: Format = { p: 11, emin: -14, emax: 15, max: 65504 }
  const half = fc.integer({ min: 0, max: 0xffff }).map(halfValue).filter(Number.isFinite)
  const nearOneH = fc.tuple(fc.integer({ min: 0, max: 0x3ff }), fc.constantFrom(0x0f, 0x0e, 0x10, 0, 1, 0x1e, 0x1d), fc.boolean()).map(([m, e, s]) => halfValue((s ? 0x8000 : 0) | (e << 10) | m))
  const h = fc.oneof(half, nearOneH)
  const nextH = (x: number, dir: 1 | -1) => halfValue(x === 0 ? (dir === 1 ? 1 : 0x8001) : halfBits(x) + (x > 0 === (dir === 1) ? 1 : -1))

  it('every half bit pattern: its value is exact in a Float32, maps back to the same bits, and classifies by its value', () => {
    const bad: number[] = []
    for (let b = 0; b < 0x10000; b++) {
      const v = halfValue(b)
      if (v !== v) {
        if (!((b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0) || halfBits(v) !== 0x7e00 || classifyH(b) !== (b & 0x200 ? 1 << 9 : 1 << 8)) bad.push(b)
        continue
      }
      const a = Math.abs(v)
      const neg = (b & 0x8000) !== 0
      const cls = a === Infinity ? (neg ? 0 : 7) : a === 0 ? (neg ? 3 : 4) : a < 2 ** -14 ? (neg ? 2 : 5) : neg ? 1 : 6
      if (Math.fround(v) !== v || halfBits(v) !== b || classifyH(b) !== 1 << cls) bad.push(b)
    }
    expect(bad).toEqual([])
  })

  it('doubles and singles rounded to half (fcvt.h.d, fcvt.h.s), every rounding mode', () => {
    fc.assert(
      fc.property(fc.oneof(finiteD, finiteS, h.map((x) => x + 2 ** -30), fc.double({ min: -70000, max: 70000, noNaN: true })), rm, (x, r) => {
        expectRounded(toHalf(x, r), takeFlags(), rat(x), H_SPEC, r, x)
      }),
      RUNS,
    )
  })

  it('add, sub, mul, div, fma of halves', () => {
    fc.assert(
      fc.property(h, h, h, rm, (a, b, c, r) => {
        const z = zeroSum(a, b, r)
        expectRounded(addExact(a, b, HALF, r), takeFlags(), add(rat(a), rat(b)), H_SPEC, r, a === 0 && b === 0 ? (neg0(a) && neg0(b) ? -0 : r === Rm.RDN && (neg0(a) || neg0(b)) ? -0 : 0) : z)
        const sign = neg0(a) !== neg0(b) ? -0 : 0
        expectRounded(mulExact(a, b, HALF, r), takeFlags(), mul(rat(a), rat(b)), H_SPEC, r, sign)
        if (b !== 0) expectRounded(divExact(a, b, HALF, r), takeFlags(), div(rat(a), rat(b)), H_SPEC, r, sign)
        expectRounded(fmaExact(a, b, c, HALF, r), takeFlags(), add(mul(rat(a), rat(b)), rat(c)), H_SPEC, r, fmaZero(a, b, c, r))
      }),
      RUNS,
    )
  })

  it('square roots of halves bracket the exact root as the rounding mode says (every 7th positive half, every mode)', () => {
    const sq = (x: Rat) => mul(x, x)
    const mid = (x: Rat, y: Rat) => ({ n: x.n * y.d + y.n * x.d, d: 2n * x.d * y.d })
    const bad: string[] = []
    for (let b = 1; b < 0x7c00; b += 7) {
      const a = halfValue(b)
      const A = rat(a)
      for (const r of [Rm.RNE, Rm.RTZ, Rm.RDN, Rm.RUP, Rm.RMM]) {
        const got = sqrtExact(a, HALF, r)
        const flags = takeFlags()
        const G = rat(got)
        let ok: boolean
        if (cmpRat(sq(G), A) === 0) ok = flags === 0
        else {
          const lo = rat(nextH(got, -1))
          const hi = rat(nextH(got, 1))
          if (r === Rm.RDN || r === Rm.RTZ) ok = cmpRat(sq(G), A) < 0 && cmpRat(A, sq(hi)) < 0
          else if (r === Rm.RUP) ok = cmpRat(sq(lo), A) < 0 && cmpRat(A, sq(G)) < 0
          else ok = cmpRat(sq(mid(lo, G)), A) < 0 && cmpRat(A, sq(mid(G, hi))) < 0
          ok &&= flags === Flag.NX
        }
        if (!ok) bad.push(`${b.toString(16)} rm ${r}: ${got} flags ${flags}`)
      }
    }
    expect(bad).toEqual([])
  })

  it('integers to half (fcvt.h.{w,wu,l,lu}): overflow past 65504, exact up to 2^11', () => {
    const ints = fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }), fc.bigInt({ min: -70000n, max: 70000n }), fc.integer({ min: -4096, max: 4096 }).map(BigInt))
    fc.assert(
      fc.property(ints, rm, (v, r) => {
        expectRounded(fromInt(v, HALF, r), takeFlags(), { n: v, d: 1n }, H_SPEC, r, 0)
      }),
      RUNS,
    )
  })
})
