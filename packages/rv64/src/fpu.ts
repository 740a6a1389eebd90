/**
 * The F and D extensions (unprivileged spec, "F" and "D" chapters; IEEE 754-2019): the
 * floating-point register file, fcsr, and every operation with exact results and exception
 * flags in all five rounding modes.
 *
 * How results are made exact:
 * - Single precision runs on JS doubles. Products of two singles are exact in a double; a sum,
 *   quotient or square root is computed in double together with its exact error (TwoSum, or a
 *   Dekker product for the back-multiplication), turned into the round-to-odd double, and that
 *   double rounded once to single in the requested mode. 53 ≥ 24 + 2 bits, so rounding the
 *   round-to-odd value gives the correctly rounded result, its flags and tininess (Boldo and
 *   Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using rounding
 *   to odd", 2008).
 * - Double precision: the JS operation gives the round-to-nearest-even result, and the exact
 *   error beside it (TwoSum for sums, a Dekker product for products and for the residual
 *   a − q×b of a quotient or a − s² of a root) gives inexactness and, from its sign, the
 *   directed modes (one step toward or away from zero) and RMM's ties. Fused multiply-add adds
 *   the exact product to the addend with TwoSums and rounds the low part to odd (RNE only).
 *   Operands or results near the ends of the exponent range (where Dekker's split or error
 *   term could overflow or underflow), subnormal results, and FMA in the other modes take the
 *   exact path: the value as BigInt significand × 2^e, rounded by `roundPack`.
 * Tininess is detected after rounding (RISC-V, like QEMU's softfloat default); underflow is
 * flagged only when the result is also inexact. Every NaN result is the canonical NaN.
 *
 * Flags raised by an operation accumulate in a module variable; `takeFlags()` returns and
 * clears them (the Fpu merges them into fflags after each instruction). Registers are viewed
 * as 32-bit halves with the low half first: typed arrays use the host's byte order, and every
 * JS host that runs this is little-endian.
 */
import type { Decoded } from './decode.js'

/*
 * The operation numbers, a copy of src/op.ts's `Op` kept equal by src/op-copies.test.ts: esbuild
 * inlines only a const enum declared in the same file, and the interpreter's switch must see
 * number literals to become a jump table (RATIONALE "Why do hart.ts and fpu.ts carry a copy of Op?").
 */
// BEGIN copy of src/op.ts (scripts/sync-op.ts)
const enum Op {
  ILLEGAL, LUI, AUIPC, JAL, JALR, BEQ, BNE, BLT, BGE, BLTU, BGEU,
  LB, LH, LW, LD, LBU, LHU, LWU, SB, SH, SW, SD,
  ADDI, SLTI, SLTIU, XORI, ORI, ANDI, SLLI, SRLI, SRAI,
  ADD, SUB, SLL, SLT, SLTU, XOR, SRL, SRA, OR, AND,
  ADDIW, SLLIW, SRLIW, SRAIW, ADDW, SUBW, SLLW, SRLW, SRAW,
  MUL, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU, MULW, DIVW, DIVUW, REMW, REMUW,
  FENCE, FENCE_I, ECALL, EBREAK, MRET, SRET, WFI, SFENCE_VMA,
  CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI,
  LR_W, SC_W, LR_D, SC_D, AMO_W, AMO_D,
  // Zba
  SH1ADD, SH2ADD, SH3ADD, ADD_UW, SH1ADD_UW, SH2ADD_UW, SH3ADD_UW, SLLI_UW,
  // Zbb
  ANDN, ORN, XNOR, CLZ, CTZ, CPOP, CLZW, CTZW, CPOPW, MAX, MAXU, MIN, MINU, SEXT_B, SEXT_H, ZEXT_H,
  ROL, ROR, RORI, ROLW, RORW, RORIW, ORC_B, REV8,
  // Zbs
  BCLR, BCLRI, BEXT, BEXTI, BINV, BINVI, BSET, BSETI,
  // F and D: everything from FLW on is executed by `Hart.execFp` (loads/stores) and `Fpu.exec`.
  FLW, FLD, FSW, FSD,
  FMADD_S, FMSUB_S, FNMSUB_S, FNMADD_S, FMADD_D, FMSUB_D, FNMSUB_D, FNMADD_D,
  FADD_S, FSUB_S, FMUL_S, FDIV_S, FSQRT_S, FADD_D, FSUB_D, FMUL_D, FDIV_D, FSQRT_D,
  FSGNJ_S, FSGNJN_S, FSGNJX_S, FSGNJ_D, FSGNJN_D, FSGNJX_D,
  FMIN_S, FMAX_S, FMIN_D, FMAX_D,
  FCVT_S_D, FCVT_D_S,
  FEQ_S, FLT_S, FLE_S, FEQ_D, FLT_D, FLE_D,
  FCLASS_S, FCLASS_D,
  FCVT_W_S, FCVT_WU_S, FCVT_L_S, FCVT_LU_S, FCVT_W_D, FCVT_WU_D, FCVT_L_D, FCVT_LU_D,
  FCVT_S_W, FCVT_S_WU, FCVT_S_L, FCVT_S_LU, FCVT_D_W, FCVT_D_WU, FCVT_D_L, FCVT_D_LU,
  FMV_X_W, FMV_W_X, FMV_X_D, FMV_D_X,
  // Zfhmin and Zfh (half precision): FP too, so they sit before HLV_B (the hart's range test).
  FLH, FSH, FMV_X_H, FMV_H_X, FCVT_S_H, FCVT_H_S, FCVT_D_H, FCVT_H_D,
  FMADD_H, FMSUB_H, FNMSUB_H, FNMADD_H, FADD_H, FSUB_H, FMUL_H, FDIV_H, FSQRT_H,
  FSGNJ_H, FSGNJN_H, FSGNJX_H, FMIN_H, FMAX_H, FEQ_H, FLT_H, FLE_H, FCLASS_H,
  FCVT_W_H, FCVT_WU_H, FCVT_L_H, FCVT_LU_H, FCVT_H_W, FCVT_H_WU, FCVT_H_L, FCVT_H_LU,
  // The hypervisor extension (privileged spec 1.12 §8.3): executed by `Hart.execH`, off the hot switch.
  HLV_B, HLV_BU, HLV_H, HLV_HU, HLVX_HU, HLV_W, HLV_WU, HLVX_WU, HLV_D, HSV_B, HSV_H, HSV_W, HSV_D, HFENCE_VVMA, HFENCE_GVMA,
  // Extensions guests probe (executed by `Hart.execExt` too): Zbc, Zicond, Svinval, Zicbom/Zicboz.
  CLMUL, CLMULH, CLMULR, CZERO_EQZ, CZERO_NEZ,
  SINVAL_VMA, SFENCE_W_INVAL, SFENCE_INVAL_IR, HINVAL_VVMA, HINVAL_GVMA,
  CBO_INVAL, CBO_CLEAN, CBO_FLUSH, CBO_ZERO,
}
// END copy of src/op.ts

export const enum Flag {
  NX = 1,
  UF = 2,
  OF = 4,
  DZ = 8,
  NV = 16,
}

export const enum Rm {
  RNE = 0,
  RTZ = 1,
  RDN = 2,
  RUP = 3,
  RMM = 4,
}

let flags = 0

/** The exception flags raised since the last call (and clears them). */
export function takeFlags(): number {
  const f = flags
  flags = 0
  return f
}

/** A binary interchange format: precision (significand bits with the hidden one) and exponent range. */
export interface Format {
  readonly p: number
  readonly emin: number
  readonly emax: number
  /** The largest finite value. */
  readonly max: number
}
export const SINGLE: Format = { p: 24, emin: -126, emax: 127, max: 3.4028234663852886e38 }
export const DOUBLE: Format = { p: 53, emin: -1022, emax: 1023, max: Number.MAX_VALUE }
/** binary16 (Zfh, Zfhmin). */
export const HALF: Format = { p: 11, emin: -14, emax: 15, max: 65504 }

const MIN_NORMAL_D = 2 ** -1022
/** Below this a double's Dekker product error could underflow: such operands take the exact path. */
const LOW = 2 ** -900
/** Above this Dekker's split (×(2^27+1)) or its partial products could overflow: operands and products must stay below. */
const HIGH = 2 ** 995
/** Under RNE a single result is tiny after rounding iff the exact value is below this (2^-126 − 2^-151). */
const TINY_RNE_S = 2 ** -126 - 2 ** -151
const SPLIT = 134217729 // 2^27 + 1

const scratch = new ArrayBuffer(8)
const SF64 = new Float64Array(scratch)
const SU32 = new Uint32Array(scratch)

/** True for -0 and negative values (x is not NaN). */
function isNeg(x: number): boolean {
  return x < 0 || (x === 0 && 1 / x < 0)
}

// ---- the exact path: BigInt significands ------------------------------------------------

interface Unpacked {
  neg: boolean
  /** value = m × 2^e */
  m: bigint
  e: number
}

/** A finite non-zero double (every single is one too) as sign, integer significand and exponent. */
function unpack(x: number): Unpacked {
  SF64[0] = x
  const hi = SU32[1]!
  const lo = SU32[0]!
  const be = (hi >>> 20) & 0x7ff
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  return be === 0 ? { neg: hi >>> 31 === 1, m: frac, e: -1074 } : { neg: hi >>> 31 === 1, m: frac | (1n << 52n), e: be - 1075 }
}

function bitLength(m: bigint): number {
  const s = m.toString(16)
  return (s.length - 1) * 4 + 32 - Math.clz32(parseInt(s[0]!, 16))
}

/** Whether a value whose dropped bits are `rem` (0 < rem, half = the weight of the first dropped bit) rounds away from zero. */
function roundsUp(neg: boolean, odd: boolean, rem: bigint, half: bigint, rm: number): boolean {
  switch (rm) {
    case Rm.RNE:
      return rem > half || (rem === half && odd)
    case Rm.RTZ:
      return false
    case Rm.RDN:
      return neg
    case Rm.RUP:
      return !neg
    default:
      return rem >= half
  }
}

/** ±inf or ±max, as the rounding mode directs an overflow (IEEE 754-2019 §7.4). */
function overflow(neg: boolean, fmt: Format, rm: number): number {
  flags |= Flag.OF | Flag.NX
  const inf = rm === Rm.RNE || rm === Rm.RMM || (rm === Rm.RDN && neg) || (rm === Rm.RUP && !neg)
  const v = inf ? Infinity : fmt.max
  return neg ? -v : v
}

/**
 * Rounds (−1)^neg × m × 2^e (m > 0, exact) to `fmt` in mode `rm`, raising NX/UF/OF. Returns the
 * result as a JS number (exactly the value of the format's result).
 */
export function roundPack(neg: boolean, m: bigint, e: number, fmt: Format, rm: number): number {
  const p = fmt.p
  const emin = fmt.emin
  const n = bitLength(m)
  const E = e + n - 1 // exponent of the leading bit
  let qe = (E < emin ? emin : E) - (p - 1) // weight of the result's last bit
  let q: bigint
  let inexact = false
  const k = qe - e
  if (k <= 0) q = m << BigInt(-k)
  else {
    const K = BigInt(k)
    q = m >> K
    const rem = m & ((1n << K) - 1n)
    if (rem !== 0n) {
      inexact = true
      if (roundsUp(neg, (q & 1n) === 1n, rem, 1n << (K - 1n), rm)) q += 1n
    }
  }
  // Tininess after rounding: the value rounded to p bits with an unbounded exponent is below 2^emin.
  let tiny = E < emin - 1
  if (E === emin - 1) {
    const ku = emin - p - e // weight 2^(emin-p) of the last bit when rounding at E
    if (ku <= 0) tiny = true
    else {
      const K = BigInt(ku)
      let qu = m >> K
      const rem = m & ((1n << K) - 1n)
      if (rem !== 0n && roundsUp(neg, (qu & 1n) === 1n, rem, 1n << (K - 1n), rm)) qu += 1n
      tiny = qu < 1n << BigInt(p)
    }
  }
  if (q === 1n << BigInt(p)) {
    q >>= 1n
    qe += 1
  }
  if (qe + p - 1 > fmt.emax) return overflow(neg, fmt, rm)
  if (inexact) flags |= tiny ? Flag.NX | Flag.UF : Flag.NX
  const v = Number(q) * 2 ** qe
  return neg ? -v : v
}

/** An exact zero sum's sign (IEEE 754-2019 §6.3): that of equal-signed zero operands, else +0 (−0 in RDN). */
function zeroSum(aNeg: boolean, bNeg: boolean, rm: number): number {
  if (aNeg === bNeg) return aNeg ? -0 : 0
  return rm === Rm.RDN ? -0 : 0
}

/** Exactly rounded a + b (a, b not NaN, values of `fmt`). */
export function addExact(a: number, b: number, fmt: Format, rm: number): number {
  if (a === Infinity || a === -Infinity) {
    if (b === -a) {
      flags |= Flag.NV
      return NaN
    }
    return a
  }
  if (b === Infinity || b === -Infinity) return b
  if (a === 0 && b === 0) return zeroSum(isNeg(a), isNeg(b), rm)
  if (a === 0) return b
  if (b === 0) return a
  const ua = unpack(a)
  const ub = unpack(b)
  return sumExact(ua.neg, ua.m, ua.e, ub.neg, ub.m, ub.e, fmt, rm)
}

function sumExact(an: boolean, am: bigint, ae: number, bn: boolean, bm: bigint, be: number, fmt: Format, rm: number): number {
  const e = ae < be ? ae : be
  const x = am << BigInt(ae - e)
  const y = bm << BigInt(be - e)
  const s = (an ? -x : x) + (bn ? -y : y)
  if (s === 0n) return rm === Rm.RDN ? -0 : 0
  return s < 0n ? roundPack(true, -s, e, fmt, rm) : roundPack(false, s, e, fmt, rm)
}

/** Exactly rounded a × b. */
export function mulExact(a: number, b: number, fmt: Format, rm: number): number {
  const neg = isNeg(a) !== isNeg(b)
  const aInf = a === Infinity || a === -Infinity
  const bInf = b === Infinity || b === -Infinity
  if (aInf || bInf) {
    if (a === 0 || b === 0) {
      flags |= Flag.NV
      return NaN
    }
    return neg ? -Infinity : Infinity
  }
  if (a === 0 || b === 0) return neg ? -0 : 0
  const ua = unpack(a)
  const ub = unpack(b)
  return roundPack(neg, ua.m * ub.m, ua.e + ub.e, fmt, rm)
}

/** Exactly rounded a / b. */
export function divExact(a: number, b: number, fmt: Format, rm: number): number {
  const neg = isNeg(a) !== isNeg(b)
  const aInf = a === Infinity || a === -Infinity
  const bInf = b === Infinity || b === -Infinity
  if (aInf) {
    if (bInf) {
      flags |= Flag.NV
      return NaN
    }
    return neg ? -Infinity : Infinity
  }
  if (bInf) return neg ? -0 : 0
  if (b === 0) {
    if (a === 0) {
      flags |= Flag.NV
      return NaN
    }
    flags |= Flag.DZ
    return neg ? -Infinity : Infinity
  }
  if (a === 0) return neg ? -0 : 0
  const ua = unpack(a)
  const ub = unpack(b)
  // A quotient of at least p + 2 bits, and a sticky bit for a non-zero remainder.
  const k = Math.max(0, fmt.p + 2 + bitLength(ub.m) - bitLength(ua.m))
  const num = ua.m << BigInt(k)
  const q = num / ub.m
  const sticky = num % ub.m !== 0n ? 1n : 0n
  return roundPack(neg, (q << 1n) | sticky, ua.e - ub.e - k - 1, fmt, rm)
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n
  let x = BigInt(Math.floor(Math.sqrt(Number(n))))
  if (x === 0n) x = 1n
  for (let i = 0; i < 3; i++) x = (x + n / x) >> 1n
  while (x * x > n) x -= 1n
  while ((x + 1n) * (x + 1n) <= n) x += 1n
  return x
}

/** Exactly rounded √a. */
export function sqrtExact(a: number, fmt: Format, rm: number): number {
  if (a === 0 || a === Infinity) return a
  if (a < 0) {
    flags |= Flag.NV
    return NaN
  }
  const u = unpack(a)
  let m = u.m
  let e = u.e
  if (e & 1) {
    m <<= 1n
    e -= 1
  }
  const k = Math.max(0, fmt.p + 3 - (bitLength(m) >> 1))
  const big = m << BigInt(2 * k)
  const s = isqrt(big)
  const sticky = s * s !== big ? 1n : 0n
  return roundPack(false, (s << 1n) | sticky, (e - 2 * k) / 2 - 1, fmt, rm)
}

/** Exactly rounded a × b + c with one rounding (the caller has applied fmsub/fnmadd/fnmsub's negations). */
export function fmaExact(a: number, b: number, c: number, fmt: Format, rm: number): number {
  const pNeg = isNeg(a) !== isNeg(b)
  const aInf = a === Infinity || a === -Infinity
  const bInf = b === Infinity || b === -Infinity
  const cInf = c === Infinity || c === -Infinity
  if (aInf || bInf) {
    if (a === 0 || b === 0 || (cInf && isNeg(c) !== pNeg)) {
      flags |= Flag.NV
      return NaN
    }
    return pNeg ? -Infinity : Infinity
  }
  if (cInf) return c
  if (a === 0 || b === 0) return c === 0 ? zeroSum(pNeg, isNeg(c), rm) : c
  const ua = unpack(a)
  const ub = unpack(b)
  const pm = ua.m * ub.m
  const pe = ua.e + ub.e
  if (c === 0) return roundPack(pNeg, pm, pe, fmt, rm)
  const uc = unpack(c)
  return sumExact(pNeg, pm, pe, uc.neg, uc.m, uc.e, fmt, rm)
}

// ---- double precision ------------------------------------------------------------------

/** The exact error of p = RN(a × b) (Dekker/Veltkamp; |a|, |b| < 2^995, no underflow in the parts). */
function twoProdErr(a: number, b: number, p: number): number {
  let t = SPLIT * a
  const ah = t - (t - a)
  const al = a - ah
  t = SPLIT * b
  const bh = t - (t - b)
  const bl = b - bh
  return ah * bh - p + ah * bl + al * bh + al * bl
}

/** The double one step from s (finite) away from zero (the next bit pattern; the largest finite steps to ∞). */
function stepAway(s: number): number {
  SF64[0] = s
  const lo = SU32[0]!
  if (lo === 0xffffffff) {
    SU32[0] = 0
    SU32[1] = SU32[1]! + 1
  } else SU32[0] = lo + 1
  return SF64[0]!
}

/** The double one step from s (finite, non-zero) toward zero. */
function stepToZero(s: number): number {
  SF64[0] = s
  const lo = SU32[0]!
  if (lo === 0) {
    SU32[0] = 0xffffffff
    SU32[1] = SU32[1]! - 1
  } else SU32[0] = lo - 1
  return SF64[0]!
}

/**
 * The double result in mode `rm` from s = RN(x) (finite, normal or exact) and the sign of the
 * exact error x − s (0: exact). `tie` (for RMM only): x lies halfway between s and its neighbour.
 */
function fromNearest(s: number, err: number, tie: boolean, rm: number): number {
  if (err === 0) return s
  flags |= Flag.NX
  const beyond = s > 0 === err > 0 // x is farther from zero than s
  let r: number
  switch (rm) {
    case Rm.RNE:
      return s
    case Rm.RTZ:
      r = beyond ? s : stepToZero(s)
      break
    case Rm.RDN:
      r = err > 0 ? s : s > 0 ? stepToZero(s) : stepAway(s)
      break
    case Rm.RUP:
      r = err < 0 ? s : s > 0 ? stepAway(s) : stepToZero(s)
      break
    default:
      r = tie && beyond ? stepAway(s) : s
  }
  if (r === Infinity || r === -Infinity) flags |= Flag.OF
  return r
}

/** For RMM: whether s + err lies halfway between s and its neighbour on err's side (err exact, ≠ 0). */
function isTie(s: number, err: number): boolean {
  const n = err > 0 === s > 0 ? stepAway(s) : stepToZero(s)
  return 2 * err === n - s
}

/** a + b in double precision (a, b not NaN). */
export function addD(a: number, b: number, rm: number): number {
  const s = a + b
  if (Math.abs(s) < Infinity) {
    // TwoSum (Knuth): s + err = a + b exactly. A sum in the subnormal range is always exact.
    const bb = s - a
    const err = a - (s - bb) + (b - bb)
    if (err === 0) return s === 0 && rm === Rm.RDN ? (isNeg(a) || isNeg(b) ? -0 : 0) : s
    if (Math.abs(err) < Infinity) return fromNearest(s, err, rm === Rm.RMM && isTie(s, err), rm)
  }
  return addExact(a, b, DOUBLE, rm)
}

/** a × b in double precision. */
export function mulD(a: number, b: number, rm: number): number {
  const p = a * b
  const ap = Math.abs(p)
  if (ap >= LOW && ap < HIGH && Math.abs(a) < HIGH && Math.abs(b) < HIGH) {
    const err = twoProdErr(a, b, p)
    return fromNearest(p, err, rm === Rm.RMM && err !== 0 && isTie(p, err), rm)
  }
  return mulExact(a, b, DOUBLE, rm)
}

/** a / b in double precision (an exact quotient is never a tie). */
export function divD(a: number, b: number, rm: number): number {
  const q = a / b
  const aq = Math.abs(q)
  const ab = Math.abs(b)
  const aa = Math.abs(a)
  if (aq >= LOW && aq < HIGH && ab >= LOW && ab < HIGH && aa >= LOW && aa < HIGH) {
    // The residual a − q×b is exact: a − p by Sterbenz, minus the product's error; the
    // quotient's error has the residual's sign times b's.
    const p = q * b
    const r = a - p - twoProdErr(q, b, p)
    return fromNearest(q, b > 0 ? r : -r, false, rm)
  }
  return divExact(a, b, DOUBLE, rm)
}

/** √a in double precision (never a tie either). */
export function sqrtD(a: number, rm: number): number {
  if (a >= LOW && a < HIGH) {
    const s = Math.sqrt(a)
    const p = s * s
    return fromNearest(s, a - p - twoProdErr(s, s, p), false, rm)
  }
  return sqrtExact(a, DOUBLE, rm)
}

/**
 * a × b + c in double precision, one rounding. a×b = ph + pl (Dekker), c + ph = th + tl (TwoSum);
 * the exact result is th + (tl + pl), and v = RN(th + RO(tl + pl)) is its correct rounding:
 * |tl + pl| ≤ 1.5 ulp(th) (tl ≠ 0 implies ulp(th) ≥ ulp(ph)/2), so the only rounding boundaries
 * it can cross are th ± k·ulp/4, numbers of few bits that rounding to odd never crosses or
 * lands on. When tl + pl is inexact its lowest bit lies below ulp(th)·2^-52, so the result is
 * inexact too, and on the side of v that RO(tl + pl) lies of v − th (exact, a few bits): that
 * sign gives the directed modes (an inexact low part is never a tie).
 */
export function fmaD(a: number, b: number, c: number, rm: number): number {
  const ph = a * b
  const aph = Math.abs(ph)
  if (aph >= LOW && aph < HIGH && Math.abs(a) < HIGH && Math.abs(b) < HIGH && Math.abs(c) < HIGH) {
    const pl = twoProdErr(a, b, ph)
    const th = c + ph
    let bb = th - c
    const tl = c - (th - bb) + (ph - bb)
    let t = tl + pl
    bb = t - tl
    const te = tl - (t - bb) + (pl - bb)
    if (te !== 0) t = roundOdd(t, te)
    const v = th + t
    const av = Math.abs(v)
    // Above the smallest normal (strictly: a step toward zero must stay normal).
    if (av > MIN_NORMAL_D && av < Infinity) {
      if (te !== 0) return fromNearest(v, t - (v - th), false, rm)
      bb = v - th
      const ve = th - (v - bb) + (t - bb)
      return fromNearest(v, ve, rm === Rm.RMM && ve !== 0 && isTie(v, ve), rm)
    }
  }
  return fmaExact(a, b, c, DOUBLE, rm)
}

// ---- single precision --------------------------------------------------------------------

/**
 * Rounds a double to single precision in mode `rm`, raising the flags. `x` must be the exact
 * result or its round-to-odd double (never NaN).
 */
export function toSingle(x: number, rm: number): number {
  const r = Math.fround(x)
  if (r === x) return r
  if (rm === Rm.RNE) {
    flags |= r === Infinity || r === -Infinity ? Flag.OF | Flag.NX : Math.abs(x) < TINY_RNE_S ? Flag.UF | Flag.NX : Flag.NX
    return r
  }
  // Directed modes and RMM from the nearest single r and the sign of x − r (exact: x and r are
  // within a factor of 2), while r and its neighbours are normal and finite.
  const ar = Math.abs(r)
  if (ar > MIN_NORMAL_S && ar < Infinity) {
    const err = x - r
    flags |= Flag.NX
    const beyond = r > 0 === err > 0
    let v: number
    switch (rm) {
      case Rm.RTZ:
        v = beyond ? r : stepS(r, false)
        break
      case Rm.RDN:
        v = err > 0 ? r : stepS(r, r < 0)
        break
      case Rm.RUP:
        v = err < 0 ? r : stepS(r, r > 0)
        break
      default:
        v = beyond && 2 * err === stepS(r, true) - r ? stepS(r, true) : r // RMM: away on a tie
    }
    if (v === Infinity || v === -Infinity) flags |= Flag.OF
    return v
  }
  const u = unpack(x)
  return roundPack(u.neg, u.m, u.e, SINGLE, rm)
}

const MIN_NORMAL_S = 2 ** -126
const scratch32 = new ArrayBuffer(4)
const SF32 = new Float32Array(scratch32)
const SU32S = new Uint32Array(scratch32)

/** The single one step from r (finite, non-zero) away from zero or toward it. */
function stepS(r: number, away: boolean): number {
  SF32[0] = r
  SU32S[0] = away ? SU32S[0]! + 1 : SU32S[0]! - 1
  return SF32[0]!
}

/** s rounded to odd, given the sign of its exact error (s + err is the exact value, err ≠ 0, s ≠ 0). */
function roundOdd(s: number, err: number): number {
  SF64[0] = s
  const lo = SU32[0]!
  if (lo & 1) return s
  if (err > 0 === s > 0) SU32[0] = lo + 1
  else if (lo !== 0) SU32[0] = lo - 1
  else {
    SU32[0] = 0xffffffff
    SU32[1] = SU32[1]! - 1
  }
  return SF64[0]!
}

/** a + b in single precision (a, b singles, not NaN). */
export function addS(a: number, b: number, rm: number): number {
  const s = a + b
  if (!(Math.abs(s) < Infinity)) {
    if (s !== s) flags |= Flag.NV
    return s // ∞ − ∞, or an infinite operand (singles cannot overflow a double)
  }
  const bb = s - a
  const err = a - (s - bb) + (b - bb)
  if (err !== 0) return toSingle(roundOdd(s, err), rm)
  if (s === 0 && rm === Rm.RDN) return isNeg(a) || isNeg(b) ? -0 : 0
  return toSingle(s, rm)
}

/** a × b in single precision (the double product of two singles is exact). */
export function mulS(a: number, b: number, rm: number): number {
  const p = a * b
  if (p !== p) {
    flags |= Flag.NV
    return p
  }
  return toSingle(p, rm)
}

/** a / b in single precision. */
export function divS(a: number, b: number, rm: number): number {
  const q = a / b
  if (q !== q) {
    flags |= Flag.NV
    return q
  }
  if (b === 0) {
    if (a !== Infinity && a !== -Infinity) flags |= Flag.DZ
    return q
  }
  if (q === 0 || !(Math.abs(q) < Infinity)) return q
  const p = q * b
  const d = a - p - twoProdErr(q, b, p) // sign of a − q×b (exactly 0 iff exact)
  return toSingle(d === 0 ? q : roundOdd(q, b > 0 ? d : -d), rm)
}

/** √a in single precision. */
export function sqrtS(a: number, rm: number): number {
  if (a === 0 || a === Infinity) return a
  if (a < 0) {
    flags |= Flag.NV
    return NaN
  }
  const s = Math.sqrt(a)
  const p = s * s
  const d = a - p - twoProdErr(s, s, p)
  return toSingle(d === 0 ? s : roundOdd(s, d), rm)
}

/** a × b + c in single precision, one rounding. */
export function fmaS(a: number, b: number, c: number, rm: number): number {
  const p = a * b // exact
  const s = p + c
  if (!(Math.abs(s) < Infinity)) {
    if (s !== s) flags |= Flag.NV // ∞ × 0, or ∞ − ∞
    return s
  }
  const bb = s - p
  const err = p - (s - bb) + (c - bb)
  if (err !== 0) return toSingle(roundOdd(s, err), rm)
  if (s === 0 && rm === Rm.RDN) return isNeg(p) || isNeg(c) ? -0 : 0
  return toSingle(s, rm)
}

// ---- conversions ---------------------------------------------------------------------------

/** x rounded to an integral value in mode `rm` (x not NaN; ±∞ stay). */
export function roundIntegral(x: number, rm: number): number {
  if (!(Math.abs(x) < 4503599627370496)) return x // |x| ≥ 2^52: already integral
  switch (rm) {
    case Rm.RTZ:
      return Math.trunc(x)
    case Rm.RDN:
      return Math.floor(x)
    case Rm.RUP:
      return Math.ceil(x)
    default: {
      const f = Math.floor(x)
      const d = x - f // exact
      let r: number
      if (d > 0.5) r = f + 1
      else if (d < 0.5) r = f
      else if (rm === Rm.RMM) r = x >= 0 ? f + 1 : f
      else r = f % 2 === 0 ? f : f + 1
      return r === 0 && isNeg(x) ? -0 : r
    }
  }
}

/** fcvt.{w,wu,l,lu}: the kinds, in the rs2 field's order. */
export const enum IntKind {
  W = 0,
  WU = 1,
  L = 2,
  LU = 3,
}
const INT_LO = [-(2 ** 31), 0, -(2 ** 63), 0]
const INT_HI = [2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64] // exclusive
// Saturated results as the register holds them (32-bit results sign-extended).
const SAT_HI = [0x7fffffffn, -1n, 0x7fffffffffffffffn, -1n]
const SAT_LO = [-0x80000000n, 0n, -0x8000000000000000n, 0n]

/**
 * A float (x, NaN allowed) to an integer register value: rounded in mode `rm`; NaN and values
 * out of range saturate (NaN to the maximum) with NV only; in range but inexact raises NX.
 */
export function toInt(x: number, rm: number, kind: IntKind): bigint {
  if (x !== x) {
    flags |= Flag.NV
    return SAT_HI[kind]!
  }
  const r = roundIntegral(x, rm)
  if (r >= INT_HI[kind]!) {
    flags |= Flag.NV
    return SAT_HI[kind]!
  }
  if (r < INT_LO[kind]!) {
    flags |= Flag.NV
    return SAT_LO[kind]!
  }
  if (r !== x) flags |= Flag.NX
  return kind === IntKind.WU ? BigInt(r | 0) : BigInt(r)
}

const TWO53 = 1n << 53n

/** An integer to `fmt`, rounded in mode `rm`. */
export function fromInt(v: bigint, fmt: Format, rm: number): number {
  if (v <= TWO53 && v >= -TWO53) {
    const x = Number(v) // exact
    return fmt === SINGLE ? toSingle(x, rm) : fmt === HALF ? toHalf(x, rm) : x
  }
  return v < 0n ? roundPack(true, -v, 0, fmt, rm) : roundPack(false, v, 0, fmt, rm)
}

// ---- half precision (Zfh, Zfhmin) -----------------------------------------------------------
//
// Halves are computed as JS numbers and rounded once by `roundPack`: every half is a double, a
// sum or product of two halves is exact in a double (at most 40 and 22 significant bits), and
// quotients, roots and fused multiply-adds take the BigInt path of `divExact`, `sqrtExact`
// and `fmaExact` with the HALF format. Conversions from single and double round the operand
// itself, which is exact.

const CANONICAL_H = 0x7e00

/** Rounds an exact value (a double, never NaN) to half precision in mode `rm`, raising the flags. */
export function toHalf(x: number, rm: number): number {
  if (x === 0 || x === Infinity || x === -Infinity) return x
  const u = unpack(x)
  return roundPack(u.neg, u.m, u.e, HALF, rm)
}

/** The value of a half given as its 16 bits (NaN for either NaN). */
export function halfValue(b: number): number {
  const exp = (b >>> 10) & 0x1f
  const frac = b & 0x3ff
  const v = exp === 0 ? frac * 2 ** -24 : exp === 0x1f ? (frac === 0 ? Infinity : NaN) : (frac + 1024) * 2 ** (exp - 25)
  return b & 0x8000 ? -v : v
}

/** The 16 bits of v, a value of the half format or ±∞ (a NaN gives the canonical NaN). */
export function halfBits(v: number): number {
  if (v !== v) return CANONICAL_H
  const sign = isNeg(v) ? 0x8000 : 0
  const a = Math.abs(v)
  if (a === Infinity) return sign | 0x7c00
  if (a < 2 ** -14) return sign | (a * 2 ** 24) // subnormal or zero: the fraction counts 2^-24
  let e = Math.floor(Math.log2(a))
  if (2 ** e > a) e -= 1
  else if (2 ** (e + 1) <= a) e += 1
  return sign | ((e + 15) << 10) | (a * 2 ** (10 - e) - 1024)
}

/** fclass of a half given as its bits. */
export function classifyH(b: number): number {
  const neg = (b & 0x8000) !== 0
  const exp = (b >>> 10) & 0x1f
  const frac = b & 0x3ff
  if (exp === 0x1f) {
    if (frac === 0) return neg ? 1 << 0 : 1 << 7
    return frac & 0x200 ? 1 << 9 : 1 << 8
  }
  if (exp === 0) {
    if (frac === 0) return neg ? 1 << 3 : 1 << 4
    return neg ? 1 << 2 : 1 << 5
  }
  return neg ? 1 << 1 : 1 << 6
}

// ---- classification ----------------------------------------------------------------------

/** fclass of a single given as its bits. */
export function classifyS(b: number): number {
  const neg = b >>> 31 === 1
  const exp = (b >>> 23) & 0xff
  const frac = b & 0x7fffff
  if (exp === 0xff) {
    if (frac === 0) return neg ? 1 << 0 : 1 << 7
    return frac & 0x400000 ? 1 << 9 : 1 << 8
  }
  if (exp === 0) {
    if (frac === 0) return neg ? 1 << 3 : 1 << 4
    return neg ? 1 << 2 : 1 << 5
  }
  return neg ? 1 << 1 : 1 << 6
}

/** fclass of a double given as its high and low 32-bit halves. */
export function classifyD(hi: number, lo: number): number {
  const neg = hi >>> 31 === 1
  const exp = (hi >>> 20) & 0x7ff
  const fracZero = (hi & 0xfffff) === 0 && lo === 0
  if (exp === 0x7ff) {
    if (fracZero) return neg ? 1 << 0 : 1 << 7
    return hi & 0x80000 ? 1 << 9 : 1 << 8
  }
  if (exp === 0) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4
    return neg ? 1 << 2 : 1 << 5
  }
  return neg ? 1 << 1 : 1 << 6
}

// ---- the register file and the instructions ----------------------------------------------

const CANONICAL_S = 0x7fc00000
const CANONICAL_D_HI = 0x7ff80000
const BOX = 0xffffffff

/**
 * The F/D state of a hart: f0–f31, fflags, frm, and mstatus.FS (kept here because every FP
 * instruction reads it and many write it; the hart folds it into mstatus).
 */
export class Fpu {
  /** The registers' raw 64-bit contents. */
  readonly f = new BigInt64Array(32)
  private readonly f64 = new Float64Array(this.f.buffer)
  private readonly f32 = new Float32Array(this.f.buffer)
  private readonly u32 = new Uint32Array(this.f.buffer)
  /** Accrued exception flags (fcsr bits 4:0: NV DZ OF UF NX). */
  fflags = 0
  /** Dynamic rounding mode (fcsr bits 7:5); 5–7 are invalid and make dynamic-rm instructions illegal. */
  frm = 0
  /** mstatus.FS: 0 Off (FP instructions are illegal), 1 Initial, 2 Clean, 3 Dirty. */
  fs = 0

  constructor(private readonly x: BigInt64Array) {}

  get fcsr(): number {
    return (this.frm << 5) | this.fflags
  }

  set fcsr(v: number) {
    this.fflags = v & 31
    this.frm = (v >> 5) & 7
  }

  // Register access. A single operand that is not NaN-boxed reads as the canonical NaN.

  /** The single in f[i] as a number (NaN when not boxed, or a NaN). */
  private s(i: number): number {
    return this.u32[2 * i + 1] === BOX ? this.f32[2 * i]! : NaN
  }

  private sBits(i: number): number {
    return this.u32[2 * i + 1] === BOX ? this.u32[2 * i]! : CANONICAL_S
  }

  private snanS(i: number): boolean {
    const b = this.u32[2 * i]!
    return this.u32[2 * i + 1] === BOX && (b & 0x7fc00000) === 0x7f800000 && (b & 0x3fffff) !== 0
  }

  private snanD(i: number): boolean {
    const hi = this.u32[2 * i + 1]!
    return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x7ffff) | this.u32[2 * i]!) !== 0
  }

  private setS(i: number, v: number): void {
    if (v !== v) this.u32[2 * i] = CANONICAL_S
    else this.f32[2 * i] = v
    this.u32[2 * i + 1] = BOX
    this.fs = 3
  }

  private setD(i: number, v: number): void {
    if (v !== v) {
      this.u32[2 * i] = 0
      this.u32[2 * i + 1] = CANONICAL_D_HI
    } else this.f64[i] = v
    this.fs = 3
  }

  /** The half in f[i] as its 16 bits: NaN-boxed means bits 63:16 all ones, else the canonical NaN ("Zfh" chapter). */
  private hBits(i: number): number {
    const lo = this.u32[2 * i]!
    return this.u32[2 * i + 1] === BOX && lo >>> 16 === 0xffff ? lo & 0xffff : CANONICAL_H
  }

  private h(i: number): number {
    return halfValue(this.hBits(i))
  }

  private snanH(i: number): boolean {
    const b = this.hBits(i)
    return (b & 0x7e00) === 0x7c00 && (b & 0x1ff) !== 0
  }

  private setHBits(i: number, b: number): void {
    this.u32[2 * i] = (0xffff0000 | b) >>> 0
    this.u32[2 * i + 1] = BOX
    this.fs = 3
  }

  private setH(i: number, v: number): void {
    this.setHBits(i, halfBits(v))
  }

  /** flh: the loaded 16 bits, NaN-boxed. */
  loadH(i: number, bits: number): void {
    this.setHBits(i, bits & 0xffff)
  }

  /** fsh stores the low 16 bits as they are. */
  storeH(i: number): bigint {
    return BigInt(this.u32[2 * i]! & 0xffff)
  }

  /** flw: the loaded 32 bits, NaN-boxed. */
  loadS(i: number, bits: number): void {
    this.u32[2 * i] = bits
    this.u32[2 * i + 1] = BOX
    this.fs = 3
  }

  /** fld. */
  loadD(i: number, bits: bigint): void {
    this.f[i] = BigInt.asIntN(64, bits)
    this.fs = 3
  }

  /** fsw stores the low 32 bits as they are (a transfer, no NaN-box check). */
  storeS(i: number): bigint {
    return BigInt(this.u32[2 * i]!)
  }

  storeD(i: number): bigint {
    return this.f[i]!
  }

  /** Invalid (a signaling NaN among the operands) and the canonical NaN. */
  private nanS(i: number, j: number): number {
    if (this.snanS(i) || this.snanS(j)) flags |= Flag.NV
    return NaN
  }

  private nanD(i: number, j: number): number {
    if (this.snanD(i) || this.snanD(j)) flags |= Flag.NV
    return NaN
  }

  /**
   * Executes an FP instruction other than a load or store. Returns false when it is illegal
   * (reserved rounding mode, or dynamic with an invalid frm); the caller has checked FS.
   */
  exec(d: Decoded): boolean {
    const inst = d.inst
    const rd = d.rd
    const rs1 = d.rs1
    const rs2 = d.rs2
    let rm = (inst >>> 12) & 7
    if (rm === 7) rm = this.frm
    const x = this.x
    // Instructions whose funct3 is a rounding mode: a reserved one makes them illegal (even
    // the exact conversions, which ignore it: "F" chapter, rounding modes).
    if (rm > 4 && usesRm(d.op)) return false
    switch (d.op) {
      case Op.FADD_S:
      case Op.FSUB_S:
      case Op.FMUL_S:
      case Op.FDIV_S: {
        const a = this.s(rs1)
        const b = this.s(rs2)
        let r: number
        if (a !== a || b !== b) r = this.nanS(rs1, rs2)
        else if (d.op === Op.FADD_S) r = addS(a, b, rm)
        else if (d.op === Op.FSUB_S) r = addS(a, -b, rm)
        else if (d.op === Op.FMUL_S) r = mulS(a, b, rm)
        else r = divS(a, b, rm)
        this.setS(rd, r)
        break
      }
      case Op.FADD_D:
      case Op.FSUB_D:
      case Op.FMUL_D:
      case Op.FDIV_D: {
        const a = this.f64[rs1]!
        const b = this.f64[rs2]!
        let r: number
        if (a !== a || b !== b) r = this.nanD(rs1, rs2)
        else if (d.op === Op.FADD_D) r = addD(a, b, rm)
        else if (d.op === Op.FSUB_D) r = addD(a, -b, rm)
        else if (d.op === Op.FMUL_D) r = mulD(a, b, rm)
        else r = divD(a, b, rm)
        this.setD(rd, r)
        break
      }
      case Op.FSQRT_S: {
        const a = this.s(rs1)
        this.setS(rd, a !== a ? this.nanS(rs1, rs1) : sqrtS(a, rm))
        break
      }
      case Op.FSQRT_D: {
        const a = this.f64[rs1]!
        this.setD(rd, a !== a ? this.nanD(rs1, rs1) : sqrtD(a, rm))
        break
      }
      case Op.FMADD_S:
      case Op.FMSUB_S:
      case Op.FNMSUB_S:
      case Op.FNMADD_S: {
        const rs3 = inst >>> 27
        let a = this.s(rs1)
        const b = this.s(rs2)
        let c = this.s(rs3)
        let r: number
        if (a !== a || b !== b || c !== c) {
          // ∞ × 0 is invalid even when the addend is a quiet NaN ("F" chapter, FMA).
          if (this.snanS(rs1) || this.snanS(rs2) || this.snanS(rs3) || isInfTimesZero(a, b)) flags |= Flag.NV
          r = NaN
        } else {
          if (d.op === Op.FNMSUB_S || d.op === Op.FNMADD_S) a = -a
          if (d.op === Op.FMSUB_S || d.op === Op.FNMADD_S) c = -c
          r = fmaS(a, b, c, rm)
        }
        this.setS(rd, r)
        break
      }
      case Op.FMADD_D:
      case Op.FMSUB_D:
      case Op.FNMSUB_D:
      case Op.FNMADD_D: {
        const rs3 = inst >>> 27
        let a = this.f64[rs1]!
        const b = this.f64[rs2]!
        let c = this.f64[rs3]!
        let r: number
        if (a !== a || b !== b || c !== c) {
          if (this.snanD(rs1) || this.snanD(rs2) || this.snanD(rs3) || isInfTimesZero(a, b)) flags |= Flag.NV
          r = NaN
        } else {
          if (d.op === Op.FNMSUB_D || d.op === Op.FNMADD_D) a = -a
          if (d.op === Op.FMSUB_D || d.op === Op.FNMADD_D) c = -c
          r = fmaD(a, b, c, rm)
        }
        this.setD(rd, r)
        break
      }
      case Op.FSGNJ_S:
      case Op.FSGNJN_S:
      case Op.FSGNJX_S: {
        const a = this.sBits(rs1)
        const b = this.sBits(rs2)
        const sign = d.op === Op.FSGNJ_S ? b : d.op === Op.FSGNJN_S ? ~b : a ^ b
        this.u32[2 * rd] = ((a & 0x7fffffff) | (sign & 0x80000000)) >>> 0
        this.u32[2 * rd + 1] = BOX
        this.fs = 3
        break
      }
      case Op.FSGNJ_D:
      case Op.FSGNJN_D:
      case Op.FSGNJX_D: {
        const a = this.u32[2 * rs1 + 1]!
        const b = this.u32[2 * rs2 + 1]!
        const sign = d.op === Op.FSGNJ_D ? b : d.op === Op.FSGNJN_D ? ~b : a ^ b
        this.u32[2 * rd] = this.u32[2 * rs1]!
        this.u32[2 * rd + 1] = ((a & 0x7fffffff) | (sign & 0x80000000)) >>> 0
        this.fs = 3
        break
      }
      case Op.FMIN_S:
      case Op.FMAX_S: {
        // IEEE 754-2019 minimumNumber/maximumNumber: a NaN operand yields the other; −0 < +0.
        const a = this.s(rs1)
        const b = this.s(rs2)
        let r: number
        if (a !== a || b !== b) r = a !== a ? (b !== b ? NaN : b) : a
        else r = d.op === Op.FMIN_S ? Math.min(a, b) : Math.max(a, b)
        if (this.snanS(rs1) || this.snanS(rs2)) flags |= Flag.NV
        this.setS(rd, r)
        break
      }
      case Op.FMIN_D:
      case Op.FMAX_D: {
        const a = this.f64[rs1]!
        const b = this.f64[rs2]!
        let r: number
        if (a !== a || b !== b) {
          r = a !== a ? (b !== b ? NaN : b) : a
          if (this.snanD(rs1) || this.snanD(rs2)) flags |= Flag.NV
        } else r = d.op === Op.FMIN_D ? Math.min(a, b) : Math.max(a, b)
        this.setD(rd, r)
        break
      }
      case Op.FCVT_S_D: {
        const a = this.f64[rs1]!
        this.setS(rd, a !== a ? this.nanD(rs1, rs1) : toSingle(a, rm))
        break
      }
      case Op.FCVT_D_S: {
        const a = this.s(rs1)
        this.setD(rd, a !== a ? this.nanS(rs1, rs1) : a)
        break
      }
      case Op.FEQ_S:
      case Op.FLT_S:
      case Op.FLE_S: {
        const a = this.s(rs1)
        const b = this.s(rs2)
        if (a !== a || b !== b) {
          // feq is a quiet comparison (NV for signaling NaNs only); flt and fle signal on any NaN.
          if (d.op !== Op.FEQ_S || this.snanS(rs1) || this.snanS(rs2)) flags |= Flag.NV
          x[rd] = 0n
        } else x[rd] = (d.op === Op.FEQ_S ? a === b : d.op === Op.FLT_S ? a < b : a <= b) ? 1n : 0n
        break
      }
      case Op.FEQ_D:
      case Op.FLT_D:
      case Op.FLE_D: {
        const a = this.f64[rs1]!
        const b = this.f64[rs2]!
        if (a !== a || b !== b) {
          if (d.op !== Op.FEQ_D || this.snanD(rs1) || this.snanD(rs2)) flags |= Flag.NV
          x[rd] = 0n
        } else x[rd] = (d.op === Op.FEQ_D ? a === b : d.op === Op.FLT_D ? a < b : a <= b) ? 1n : 0n
        break
      }
      case Op.FCLASS_S:
        x[rd] = BigInt(classifyS(this.sBits(rs1)))
        break
      case Op.FCLASS_D:
        x[rd] = BigInt(classifyD(this.u32[2 * rs1 + 1]!, this.u32[2 * rs1]!))
        break
      case Op.FCVT_W_S:
      case Op.FCVT_WU_S:
      case Op.FCVT_L_S:
      case Op.FCVT_LU_S:
        x[rd] = toInt(this.s(rs1), rm, rs2 as IntKind)
        break
      case Op.FCVT_W_D:
      case Op.FCVT_WU_D:
      case Op.FCVT_L_D:
      case Op.FCVT_LU_D:
        x[rd] = toInt(this.f64[rs1]!, rm, rs2 as IntKind)
        break
      case Op.FCVT_S_W:
      case Op.FCVT_S_WU:
      case Op.FCVT_S_L:
      case Op.FCVT_S_LU:
        this.setS(rd, fromInt(intOperand(x[rs1]!, rs2), SINGLE, rm))
        break
      case Op.FCVT_D_W:
      case Op.FCVT_D_WU:
      case Op.FCVT_D_L:
      case Op.FCVT_D_LU:
        this.setD(rd, fromInt(intOperand(x[rs1]!, rs2), DOUBLE, rm))
        break
      case Op.FMV_X_W:
        x[rd] = BigInt(this.u32[2 * rs1]! | 0)
        break
      case Op.FMV_W_X:
        this.loadS(rd, Number(BigInt.asUintN(32, x[rs1]!)))
        break
      case Op.FMV_X_D:
        x[rd] = this.f[rs1]!
        break
      case Op.FMV_D_X:
        this.f[rd] = x[rs1]!
        this.fs = 3
        break
      default:
        if (d.op < Op.FMV_X_H || d.op > Op.FCVT_H_LU || !this.execHalf(d, rm)) return false
    }
    if (flags !== 0) {
      // Accrued flags are FP state: FS becomes Dirty (QEMU 7.2 leaves FS alone when only fflags change).
      this.fflags |= flags
      flags = 0
      this.fs = 3
    }
    return true
  }

  /** Zfhmin and Zfh (everything but flh/fsh, which the hart runs); false for an unknown operation. */
  private execHalf(d: Decoded, rm: number): boolean {
    const rd = d.rd
    const rs1 = d.rs1
    const rs2 = d.rs2
    const x = this.x
    switch (d.op) {
      case Op.FMV_X_H: // the low 16 bits, sign-extended, whatever the boxing
        x[rd] = BigInt((this.u32[2 * rs1]! << 16) >> 16)
        return true
      case Op.FMV_H_X:
        this.setHBits(rd, Number(BigInt.asUintN(16, x[rs1]!)))
        return true
      case Op.FCVT_S_H: {
        const a = this.h(rs1)
        this.setS(rd, a !== a ? this.nanH(rs1, rs1) : a)
        return true
      }
      case Op.FCVT_D_H: {
        const a = this.h(rs1)
        this.setD(rd, a !== a ? this.nanH(rs1, rs1) : a)
        return true
      }
      case Op.FCVT_H_S: {
        const a = this.s(rs1)
        this.setH(rd, a !== a ? this.nanS(rs1, rs1) : toHalf(a, rm))
        return true
      }
      case Op.FCVT_H_D: {
        const a = this.f64[rs1]!
        this.setH(rd, a !== a ? this.nanD(rs1, rs1) : toHalf(a, rm))
        return true
      }
      case Op.FADD_H:
      case Op.FSUB_H:
      case Op.FMUL_H:
      case Op.FDIV_H: {
        const a = this.h(rs1)
        const b = this.h(rs2)
        let r: number
        if (a !== a || b !== b) r = this.nanH(rs1, rs2)
        else if (d.op === Op.FADD_H) r = addExact(a, b, HALF, rm)
        else if (d.op === Op.FSUB_H) r = addExact(a, -b, HALF, rm)
        else if (d.op === Op.FMUL_H) r = mulExact(a, b, HALF, rm)
        else r = divExact(a, b, HALF, rm)
        this.setH(rd, r)
        return true
      }
      case Op.FSQRT_H: {
        const a = this.h(rs1)
        this.setH(rd, a !== a ? this.nanH(rs1, rs1) : sqrtExact(a, HALF, rm))
        return true
      }
      case Op.FMADD_H:
      case Op.FMSUB_H:
      case Op.FNMSUB_H:
      case Op.FNMADD_H: {
        const rs3 = d.inst >>> 27
        let a = this.h(rs1)
        const b = this.h(rs2)
        let c = this.h(rs3)
        let r: number
        if (a !== a || b !== b || c !== c) {
          // ∞ × 0 is invalid even when the addend is a quiet NaN ("F" chapter, FMA).
          if (this.snanH(rs1) || this.snanH(rs2) || this.snanH(rs3) || isInfTimesZero(a, b)) flags |= Flag.NV
          r = NaN
        } else {
          if (d.op === Op.FNMSUB_H || d.op === Op.FNMADD_H) a = -a
          if (d.op === Op.FMSUB_H || d.op === Op.FNMADD_H) c = -c
          r = fmaExact(a, b, c, HALF, rm)
        }
        this.setH(rd, r)
        return true
      }
      case Op.FSGNJ_H:
      case Op.FSGNJN_H:
      case Op.FSGNJX_H: {
        const a = this.hBits(rs1)
        const b = this.hBits(rs2)
        const sign = d.op === Op.FSGNJ_H ? b : d.op === Op.FSGNJN_H ? ~b : a ^ b
        this.setHBits(rd, (a & 0x7fff) | (sign & 0x8000))
        return true
      }
      case Op.FMIN_H:
      case Op.FMAX_H: {
        // minimumNumber/maximumNumber, as for S and D.
        const a = this.h(rs1)
        const b = this.h(rs2)
        let r: number
        if (a !== a || b !== b) r = a !== a ? (b !== b ? NaN : b) : a
        else r = d.op === Op.FMIN_H ? Math.min(a, b) : Math.max(a, b)
        if (this.snanH(rs1) || this.snanH(rs2)) flags |= Flag.NV
        this.setH(rd, r)
        return true
      }
      case Op.FEQ_H:
      case Op.FLT_H:
      case Op.FLE_H: {
        const a = this.h(rs1)
        const b = this.h(rs2)
        if (a !== a || b !== b) {
          if (d.op !== Op.FEQ_H || this.snanH(rs1) || this.snanH(rs2)) flags |= Flag.NV
          x[rd] = 0n
        } else x[rd] = (d.op === Op.FEQ_H ? a === b : d.op === Op.FLT_H ? a < b : a <= b) ? 1n : 0n
        return true
      }
      case Op.FCLASS_H:
        x[rd] = BigInt(classifyH(this.hBits(rs1)))
        return true
      case Op.FCVT_W_H:
      case Op.FCVT_WU_H:
      case Op.FCVT_L_H:
      case Op.FCVT_LU_H:
        x[rd] = toInt(this.h(rs1), rm, rs2 as IntKind)
        return true
      case Op.FCVT_H_W:
      case Op.FCVT_H_WU:
      case Op.FCVT_H_L:
      case Op.FCVT_H_LU:
        this.setH(rd, fromInt(intOperand(x[rs1]!, rs2), HALF, rm))
        return true
      default:
        return false
    }
  }

  private nanH(i: number, j: number): number {
    if (this.snanH(i) || this.snanH(j)) flags |= Flag.NV
    return NaN
  }

  /** The registers' raw contents, for snapshots. */
  getRaw(): bigint[] {
    return Array.from(this.f, (v) => BigInt.asUintN(64, v))
  }

  setRaw(values: readonly bigint[]): void {
    values.forEach((v, i) => (this.f[i] = BigInt.asIntN(64, v)))
  }
}

function isInfTimesZero(a: number, b: number): boolean {
  return ((a === Infinity || a === -Infinity) && b === 0) || (a === 0 && (b === Infinity || b === -Infinity))
}

/** The integer source of fcvt.{s,d}.{w,wu,l,lu}, by the rs2 field (0 w, 1 wu, 2 l, 3 lu). */
function intOperand(v: bigint, kind: number): bigint {
  switch (kind) {
    case IntKind.W:
      return BigInt.asIntN(32, v)
    case IntKind.WU:
      return BigInt.asUintN(32, v)
    case IntKind.L:
      return v
    default:
      return BigInt.asUintN(64, v)
  }
}

/** Whether the instruction's funct3 is a rounding mode. */
function usesRm(op: Op): boolean {
  switch (op) {
    case Op.FSGNJ_S:
    case Op.FSGNJN_S:
    case Op.FSGNJX_S:
    case Op.FSGNJ_D:
    case Op.FSGNJN_D:
    case Op.FSGNJX_D:
    case Op.FMIN_S:
    case Op.FMAX_S:
    case Op.FMIN_D:
    case Op.FMAX_D:
    case Op.FEQ_S:
    case Op.FLT_S:
    case Op.FLE_S:
    case Op.FEQ_D:
    case Op.FLT_D:
    case Op.FLE_D:
    case Op.FCLASS_S:
    case Op.FCLASS_D:
    case Op.FMV_X_W:
    case Op.FMV_W_X:
    case Op.FMV_X_D:
    case Op.FMV_D_X:
    case Op.FSGNJ_H:
    case Op.FSGNJN_H:
    case Op.FSGNJX_H:
    case Op.FMIN_H:
    case Op.FMAX_H:
    case Op.FEQ_H:
    case Op.FLT_H:
    case Op.FLE_H:
    case Op.FCLASS_H:
    case Op.FMV_X_H:
    case Op.FMV_H_X:
      return false
    default:
      return true
  }
}
