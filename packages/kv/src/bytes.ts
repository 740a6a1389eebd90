import type { Bytes } from './types.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** UTF-8 encodes strings; passes bytes through. */
export function toBytes(b: Bytes): Uint8Array {
  return typeof b === 'string' ? encoder.encode(b) : b
}

/** UTF-8 decodes. */
export function bytesToString(b: Uint8Array): string {
  return decoder.decode(b)
}

/**
 * The index key of a byte string: one UTF-16 code unit per byte (0..255). JS string order on
 * these equals unsigned lexicographic byte order, which is the store's key order.
 */
export function keyId(b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!)
  return s
}

/** Inverse of {@link keyId}. */
export function keyBytes(id: string): Uint8Array {
  const out = new Uint8Array(id.length)
  for (let i = 0; i < id.length; i++) out[i] = id.charCodeAt(i)
  return out
}

/** The smallest id greater than every id starting with `prefix`, or undefined if none exists. */
export function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i)
    if (c < 0xff) return prefix.slice(0, i) + String.fromCharCode(c + 1)
  }
  return undefined
}
