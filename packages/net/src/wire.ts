/** Big-endian field access on byte arrays, bounds-checked by the callers' length checks. */
export const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!
export const get32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 255
  b[o + 1] = v & 255
}
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255
  b[o + 1] = (v >>> 16) & 255
  b[o + 2] = (v >>> 8) & 255
  b[o + 3] = v & 255
}
