/**
 * The Internet checksum (RFC 1071): the 16-bit one's-complement of the one's-complement sum
 * of the data taken as big-endian 16-bit words (an odd last byte is padded with zero).
 */

/** Adds `data` to a running one's-complement sum (not yet folded or inverted). */
export function sumWords(data: Uint8Array, initial = 0): number {
  let sum = initial
  const even = data.length & ~1
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!
  if (data.length & 1) sum += data[data.length - 1]! << 8
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
