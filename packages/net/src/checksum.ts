/**
 * The Internet checksum (RFC 1071): the 16-bit one's-complement of the one's-complement sum
 * of the data taken as big-endian 16-bit words (an odd last byte is padded with zero).
 */

/** Below this many bytes the word-by-word loop is cheaper than setting up the wide one. */
const WIDE_MIN = 32
/** Bytes summed into the four accumulators between folds: each stays below 2^32 · 2^16 < 2^53. */
const BLOCK = 1 << 18

/** Folds `s` (a non-negative integer below 2^53) to 16 bits, keeping it modulo 0xffff. */
function fold(s: number): number {
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000)
  return s
}

/**
 * Adds `data` to a running one's-complement sum (not yet folded or inverted).
 *
 * Sixteen bytes at a time: four little-endian 32-bit words into four accumulators (independent
 * additions the CPU can overlap). This is RFC 1071 §2: the sum is independent of word size up
 * to the fold (2^16 ≡ 1 mod 0xffff, so a 32-bit word adds its two 16-bit halves) and of byte
 * order up to a swap (§2 (B): the little-endian sum, folded and byte-swapped, is the big-endian
 * one). The result, once folded, equals the word-by-word sum's; only the unfolded value differs.
 */
export function sumWords(data: Uint8Array, initial = 0): number {
  const len = data.length
  let sum = initial
  let i = 0
  if (len >= WIDE_MIN) {
    const dv = new DataView(data.buffer, data.byteOffset, len)
    const n16 = len & ~15
    let le = 0
    while (i < n16) {
      const end = Math.min(n16, i + BLOCK)
      let a = 0
      let b = 0
      let c = 0
      let d = 0
      for (; i < end; i += 16) {
        a += dv.getUint32(i, true)
        b += dv.getUint32(i + 4, true)
        c += dv.getUint32(i + 8, true)
        d += dv.getUint32(i + 12, true)
      }
      le = fold(le + a + b + c + d)
    }
    sum += ((le & 0xff) << 8) | (le >>> 8)
  }
  // The rest (i is a multiple of 16, so even: word boundaries are the data's own).
  const even = len & ~1
  for (; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!
  if (len & 1) sum += data[len - 1]! << 8
  return sum
}

/** Folds carries into 16 bits and inverts: the value that goes in the header field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return ~sum & 0xffff
}

/** The checksum of `data` (RFC 1071). A buffer that includes its own correct checksum sums to 0. */
export function internetChecksum(data: Uint8Array): number {
  return finishChecksum(sumWords(data))
}

/** The TCP/UDP pseudo-header sum for IPv4 (RFC 9293 §3.1, RFC 768): src, dst, protocol, length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length
}
