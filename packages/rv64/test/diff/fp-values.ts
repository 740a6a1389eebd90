/**
 * Values and assembly generators for the F/D differential tests: special-value tables, and loops
 * that run an instruction over every combination of table entries in every rounding mode,
 * folding each result's raw bits and the flags it raised into one hash register (a mismatch
 * names the instruction; `HONK_DIFF_DEBUG=1` also prints every result and flag set, so the first
 * differing UART line shows the operands).
 */

/** Doubles: zeros, ones, ties, extremes, subnormals, infinities, NaNs (quiet, signaling, with payload), integer boundaries. */
export const DOUBLES: readonly bigint[] = [
  0x0n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x3ff8000000000000n, 0xc004000000000000n, 0x3fb999999999999an,
  0x3fd5555555555555n, 0x4008000000000000n, 0x3fe0000000000000n, 0x3ff0000000000001n, 0x3ca0000000000000n, 0xbcb8000000000000n,
  0x7fefffffffffffffn, 0xffefffffffffffffn, 0x0010000000000000n, 0x8010000000000000n, 0x000fffffffffffffn, 0x0000000000000001n,
  0x8000000000000001n, 0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0x7ff0000000000001n, 0xfff8000000000123n,
  0x43e0000000000000n, 0xc3e0000000000000n, 0x43f0000000000000n, 0x41e0000000000000n, 0xc1e0000000200000n, 0x41effffffff00000n,
  0x7e37e43c8800759cn, 0x01a56e1fc2f8f359n, 0x7fe0000000000000n, 0x0018000000000000n, 0x3fefffffffffffffn, 0x4004000000000000n,
  0xbfe0000000000000n, 0x4330000000000001n, 0xc340000000000001n, 0x41dfffffffe00000n, 0xc1e0000000100000n, 0x43dfffffffffffffn,
  0x3e70000000000000n, 0x4340000000000000n,
]

/** Singles (NaN-boxed), the same kinds of values, and two registers that are not properly NaN-boxed. */
export const SINGLES: readonly bigint[] = [
  0x0, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0xc0200000, 0x3dcccccd, 0x3eaaaaab, 0x40400000, 0x3f000000, 0x3f800001, 0x33800000,
  0xb4400000, 0x7f7fffff, 0xff7fffff, 0x00800000, 0x80800000, 0x007fffff, 0x00000001, 0x80000001, 0x7f800000, 0xff800000, 0x7fc00000,
  0x7f800001, 0xffc00123, 0x5f000000, 0xdf000000, 0x5f800000, 0x4f000000, 0xcf000000, 0x4f800000, 0x4f7fffff, 0x7e967699, 0x00c00000,
  0x3f7fffff, 0x40200000, 0xbf000000, 0x4b000001, 0xcb800001, 0x4b7fffff, 0x4affffff, 0x0c000000,
]
  .map((b) => 0xffffffff00000000n | BigInt(b))
  .concat([0x000000003f800000n, 0x7fffffff40400000n])

/**
 * Halves (NaN-boxed in 64 bits: bits 63:16 all ones): zeros, ±1, values that round, the ends of
 * the normal and subnormal ranges, infinities, quiet and signaling NaNs, integers near the
 * 2^11 limit of exactness; then registers that are not properly NaN-boxed as halves (they read
 * as the canonical NaN), among them a boxed single.
 */
export const HALVES: readonly bigint[] = [
  0x0000, 0x8000, 0x3c00, 0xbc00, 0x3e00, 0xc100, 0x2e66, 0x3555, 0x4200, 0x3800, 0x3c01, 0x1400, 0x7bff, 0xfbff, 0x0400, 0x8400,
  0x03ff, 0x0001, 0x8001, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe12, 0x7d00, 0x5bff, 0x6000, 0x77ff, 0x7800, 0xf800, 0x3bff, 0x4100,
  0xb800, 0x6400, 0x6401, 0x67ff, 0x0200, 0x1c00, 0x0c00, 0x3c03, 0x7a00, 0x0401,
]
  .map((b) => 0xffffffffffff0000n | BigInt(b))
  .concat([0x0000000000003c00n, 0xffffffff00003c00n, 0xffffffff3f800000n, 0xfffeffffffff4200n])

/** Integer sources for the conversions to floating point (64-bit; the w forms use the low half). */
export const INTS: readonly bigint[] = [
  0n, 1n, -1n, 2n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0xffffffff80000000n, 0x7fffffffffffffffn, 0x8000000000000000n,
  0x8000000000000001n, 0x20000000000001n, 0x20000000000003n, 0x1000001n, 0x1000003n, 0x123456789abcdef0n, 0xfedcba9876543210n,
  0xffffff7fn, 0x7ffffffn, 0x7fffffc0n, 0x7fffffe0n, 0xfffffffffffff800n, 0xfffffffffffffc00n, 0x7ffffffffffffdffn, 0x7ffffffffffffe00n,
  0x8000000000000400n, 12345n, -12345n, 0xfffffffffeffffffn, 0x00000000fffffe80n, 0xffffffff7fffff80n,
].map((v) => BigInt.asUintN(64, v))

const DEBUG = process.env.HONK_DIFF_DEBUG === '1'

/** A data table (8-byte entries) in .data, then back to .text. */
export function table(label: string, values: readonly bigint[]): string {
  return `\n.section .data\n.align 3\n${label}:\n${values.map((v) => `.dword 0x${BigInt.asUintN(64, v).toString(16)}`).join('\n')}\n.text\n`
}

const K = '0x100000001b3'

/** Folds t1 (result bits) and t2 (flags) into `hash`. */
function fold(hash: string): string {
  const dbg = DEBUG ? '\nmv s11, t2; mv a0, t1; call puthex; mv a0, s11; call puthex; li t1, 0; li t2, 0' : ''
  return `mul ${hash}, ${hash}, s6; xor ${hash}, ${hash}, t1; mul ${hash}, ${hash}, s6; xor ${hash}, ${hash}, t2${dbg}`
}

export interface LoopOptions {
  /** Rounding modes written to frm around the loop (default: all five). */
  rms?: readonly number[]
  /** The instruction writes an integer register (t1) instead of fa2. */
  intResult?: boolean
  /** Operands are integers (loaded into t3, t4) instead of FP registers. */
  intSource?: boolean
  /** Code run after the result (t1) and flags (t2) are read, before they are folded in. */
  post?: string
}

/**
 * `inst` (with operands written as fa0, fa1, fa2 for sources, fa3 or t1 for the result, or t3
 * for an integer source) over every entry of `label` (n entries) for each source position,
 * in each rounding mode (dynamic); results and flags fold into `hash`.
 */
export function cross(inst: string, arity: 1 | 2 | 3, label: string, n: number, hash: string, o: LoopOptions = {}): string {
  const rms = o.rms ?? [0, 1, 2, 3, 4]
  const load = (idx: string, dst: string) => `slli t0, ${idx}, 3; add t0, t0, s2; ${o.intSource ? `ld ${dst}, 0(t0)` : `fld ${dst}, 0(t0)`}`
  const src = o.intSource ? ['t3', 't4', 't5'] : ['fa0', 'fa1', 'fa2']
  const idx = ['s7', 's8', 's10'].slice(0, arity)
  let body = `${idx.map((r, i) => load(r, src[i]!)).join('\n')}
csrw fflags, zero
${inst}
${o.intResult ? '' : 'fmv.x.d t1, fa3'}
frflags t2
${o.post ?? ''}
${fold(hash)}`
  for (let i = arity - 1; i >= 0; i--) {
    body = `li ${idx[i]}, 0
90${i}:
${body}
addi ${idx[i]}, ${idx[i]}, 1; li t0, ${n}; blt ${idx[i]}, t0, 90${i}b`
  }
  return `
la s2, ${label}; li s6, ${K}; li ${hash}, 0
la s9, 98f
j 99f
.section .data
98: .byte ${rms.join(', ')}, 0xff
.text
99:
lbu t0, 0(s9); li t1, 0xff; beq t0, t1, 97f
csrw frm, t0
${body}
addi s9, s9, 1; j 99b
97:
`
}
