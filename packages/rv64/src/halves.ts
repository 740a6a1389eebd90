/**
 * 64-bit register arithmetic on 32-bit halves, for the interpreter's hot integer operations.
 *
 * Registers live in an Int32Array `xw`: register r's low word at `2r`, its high word at `2r+1`
 * (the same buffer as the BigInt64Array view the cold paths use). Working on halves keeps V8 on
 * small integers: the BigInt form (`x[rd] = x[a] + x[b]`) allocates a BigInt per read and per
 * result, which cost the interpreter most of its time and the collector a twentieth of a boot.
 *
 * Every function takes indices of LOW words (`2r`), writes the destination last (so `rd` may
 * equal a source), and leaves x0 to the caller (the interpreter zeroes it after each
 * instruction). Immediates are int32 numbers, sign-extended to 64 bits as the ISA says
 * (unprivileged spec 2.4: "the 12-bit immediate is sign-extended").
 */

const TWO32 = 4294967296

/** rd ← a + (b_hi:b_lo), with carry from the low word. */
export function add64(xw: Int32Array, rd: number, a: number, bLo: number, bHi: number): void {
  const l = (xw[a]! >>> 0) + (bLo >>> 0)
  const h = (xw[a + 1]! + bHi + (l >= TWO32 ? 1 : 0)) | 0
  xw[rd] = l | 0
  xw[rd + 1] = h
}

/** rd ← a − b (registers), with borrow from the low word. */
export function sub64(xw: Int32Array, rd: number, a: number, b: number): void {
  const l = (xw[a]! >>> 0) - (xw[b]! >>> 0)
  const h = (xw[a + 1]! - xw[b + 1]! - (l < 0 ? 1 : 0)) | 0
  xw[rd] = l | 0
  xw[rd + 1] = h
}

/** rd ← a << sh (0 ≤ sh < 64). */
export function sll64(xw: Int32Array, rd: number, a: number, sh: number): void {
  const l = xw[a]!
  const h = xw[a + 1]!
  if (sh === 0) {
    xw[rd] = l
    xw[rd + 1] = h
  } else if (sh < 32) {
    xw[rd + 1] = (h << sh) | (l >>> (32 - sh))
    xw[rd] = l << sh
  } else {
    xw[rd + 1] = l << (sh - 32)
    xw[rd] = 0
  }
}

/** rd ← a >> sh, logical (0 ≤ sh < 64). */
export function srl64(xw: Int32Array, rd: number, a: number, sh: number): void {
  const l = xw[a]!
  const h = xw[a + 1]!
  if (sh === 0) {
    xw[rd] = l
    xw[rd + 1] = h
  } else if (sh < 32) {
    xw[rd] = (l >>> sh) | (h << (32 - sh))
    xw[rd + 1] = (h >>> sh) | 0
  } else {
    xw[rd] = (h >>> (sh - 32)) | 0
    xw[rd + 1] = 0
  }
}

/** rd ← a >> sh, arithmetic (0 ≤ sh < 64). */
export function sra64(xw: Int32Array, rd: number, a: number, sh: number): void {
  const l = xw[a]!
  const h = xw[a + 1]!
  if (sh === 0) {
    xw[rd] = l
    xw[rd + 1] = h
  } else if (sh < 32) {
    xw[rd] = (l >>> sh) | (h << (32 - sh))
    xw[rd + 1] = h >> sh
  } else {
    xw[rd] = h >> (sh - 32)
    xw[rd + 1] = h >> 31
  }
}

/** Signed a < (b_hi:b_lo). */
export function lt64(xw: Int32Array, a: number, bLo: number, bHi: number): boolean {
  const ah = xw[a + 1]!
  return ah < bHi || (ah === bHi && xw[a]! >>> 0 < bLo >>> 0)
}

/** Unsigned a < (b_hi:b_lo). */
export function ltu64(xw: Int32Array, a: number, bLo: number, bHi: number): boolean {
  const ah = xw[a + 1]!
  return ah >>> 0 < bHi >>> 0 || (ah === bHi && xw[a]! >>> 0 < bLo >>> 0)
}

/**
 * MUL: rd ← the low 64 bits of a × b. The 32 × 32 → 64-bit product of the low words is built
 * from 16-bit pieces (each partial product is exact in a double); the cross terms only matter
 * modulo 2^32 (Math.imul).
 */
export function mul64(xw: Int32Array, rd: number, a: number, b: number): void {
  const al = xw[a]! >>> 0
  const bl = xw[b]! >>> 0
  const ah = xw[a + 1]!
  const bh = xw[b + 1]!
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const p00 = a0 * b0
  const mid = a0 * b1 + a1 * b0 + (p00 >>> 16)
  xw[rd] = ((mid & 0xffff) << 16) | (p00 & 0xffff)
  xw[rd + 1] = (a1 * b1 + Math.floor(mid / 65536) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0
}

/** rd ← a number inside ±2^53 (a pc, a return address). */
export function setNumber(xw: Int32Array, rd: number, v: number): void {
  const lo = v | 0
  // v − (its low word, unsigned) is an exact multiple of 2^32: the division is exact.
  xw[rd] = lo
  xw[rd + 1] = (v - (lo >>> 0)) / TWO32
}

/** rd ← an int32, sign-extended to 64 bits (the *W operations, unprivileged spec 4.2). */
export function setWord(xw: Int32Array, rd: number, v: number): void {
  xw[rd] = v
  xw[rd + 1] = v >> 31
}
