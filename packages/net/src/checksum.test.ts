/**
 * The Internet checksum (RFC 1071): the wide (16 bytes a step) sum against the word-by-word
 * definition, on any data, offset, length and initial sum.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { finishChecksum, internetChecksum, sumWords } from './checksum.js'

/** RFC 1071 §4.1 as written: big-endian 16-bit words, an odd last byte padded with zero, end-around carry. */
function reference(data: Uint8Array, initial: number): number {
  let sum = initial
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!
  if (data.length & 1) sum += data[data.length - 1]! << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return ~sum & 0xffff
}

/** Bytes at an arbitrary offset into a larger buffer (odd and unaligned views included). */
const view = (maxLength: number) =>
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.oneof(fc.uint8Array({ maxLength }), fc.integer({ min: 0, max: maxLength }).map((n) => new Uint8Array(n).fill(0xff)))).map(([off, bytes]) => {
    const buf = new Uint8Array(off + bytes.length + 3).fill(0xa5)
    buf.set(bytes, off)
    return buf.subarray(off, off + bytes.length)
  })

describe('Internet checksum (RFC 1071)', () => {
  it('property: the wide sum equals the word-by-word reference for any bytes, offset, length and initial sum', () => {
    fc.assert(
      fc.property(view(200), fc.integer({ min: 0, max: 0x3ffff }), (data, initial) => {
        expect(finishChecksum(sumWords(data, initial))).toBe(reference(data, initial))
      }),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(view(70_000), fc.integer({ min: 0, max: 0x3ffff }), (data, initial) => {
        expect(finishChecksum(sumWords(data, initial))).toBe(reference(data, initial))
      }),
      { numRuns: 100 },
    )
  })

  it('sums past the fold interval (more than 256 KiB) and the edge values 0x0000 / 0xffff agree with the reference', () => {
    const big = Uint8Array.from({ length: 600_003 }, (_, i) => (i * 151 + (i >>> 9)) & 255)
    for (const off of [0, 1, 2, 3]) expect(finishChecksum(sumWords(big.subarray(off)))).toBe(reference(big.subarray(off), 0))
    expect(internetChecksum(new Uint8Array(64).fill(0xff))).toBe(0) // the sum folds to 0xffff (negative zero)
    expect(internetChecksum(new Uint8Array(64))).toBe(0xffff) // all zero: the sum is +0
    // A buffer holding its own checksum verifies to 0, at any length and offset.
    fc.assert(
      fc.property(view(3000), (data) => {
        const withSum = new Uint8Array(data.length + (data.length & 1) + 2)
        withSum.set(data)
        const c = internetChecksum(withSum)
        withSum[withSum.length - 2] = c >>> 8
        withSum[withSum.length - 1] = c & 0xff
        expect(internetChecksum(withSum)).toBe(0)
      }),
      { numRuns: 300 },
    )
  })
})
