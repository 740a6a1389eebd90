/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): comparisons are made on the signed
 * 32-bit difference, so they stay right across the wrap as long as the numbers compared lie
 * within 2^31 of each other (which the window limits guarantee).
 */

/** `a + n` modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0
}

/** The signed distance `a - b` modulo 2^32. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0
}

export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}

export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0
}

export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0
}

export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0
}

export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b
}
