/**
 * The TCP segment codec (RFC 9293 §3.1/§3.2, RFC 7323): round trip, checksum over the IPv4
 * pseudo-header, and hostile bytes that fail only with NetMalformedError.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { finishChecksum, pseudoHeaderSum, sumWords } from '../checksum.js'
import { NetMalformedError } from '../errors.js'
import { decodeTcpSegment, encodeTcpSegment, encodeTcpSegmentInto, tcpSegmentLength } from './segment.js'
import { TcpFlag, type TcpOptions, type TcpSegment } from './types.js'

const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })

const options: fc.Arbitrary<TcpOptions> = fc.record(
  {
    mss: u16,
    windowScale: fc.integer({ min: 0, max: 255 }),
    sackPermitted: fc.constant(true),
    timestamp: fc.record({ value: u32, echo: u32 }),
  },
  { requiredKeys: [] },
)

const segment: fc.Arbitrary<TcpSegment> = fc.record({
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 0xff }),
  window: u16,
  urgent: u16,
  options,
  payload: fc.uint8Array({ maxLength: 1600 }),
})

function base(over: Partial<TcpSegment> = {}): TcpSegment {
  return { srcPort: 1234, dstPort: 80, seq: 1, ack: 0, flags: TcpFlag.SYN, window: 65535, urgent: 0, options: {}, payload: new Uint8Array(0), ...over }
}

const SRC = 0x0a000001
const DST = 0x0a000002

describe('TCP segment codec', () => {
  test('round trip: decode(encode(seg)) === seg for any header, option set and payload', () => {
    fc.assert(
      fc.property(segment, u32, u32, (seg, src, dst) => {
        const bytes = encodeTcpSegment(seg, src, dst)
        expect(bytes.length).toBe(20 + ((((seg.options.mss !== undefined ? 4 : 0) + (seg.options.windowScale !== undefined ? 3 : 0) + (seg.options.sackPermitted ? 2 : 0) + (seg.options.timestamp ? 10 : 0)) + 3) & ~3) + seg.payload.length)
        expect(decodeTcpSegment(bytes, src, dst)).toEqual(seg)
      }),
      { numRuns: 500 },
    )
  })

  test('the encoded checksum verifies: the one’s-complement sum over pseudo-header and segment is 0xffff', () => {
    fc.assert(
      fc.property(segment, u32, u32, (seg, src, dst) => {
        const bytes = encodeTcpSegment(seg, src, dst)
        expect(finishChecksum(sumWords(bytes, pseudoHeaderSum(src, dst, 6, bytes.length)))).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  test('a known SYN encodes to the bytes worked out by hand (header, MSS, window scale, checksum)', () => {
    const bytes = encodeTcpSegment(base({ seq: 0x01020304, options: { mss: 1460, windowScale: 7 } }), 0xc0a80001, 0xc0a80002)
    const hex = Buffer.from(bytes).toString('hex')
    // ports 04d2 0050, seq 01020304, ack 0, offset 7 words (0x70), SYN, window ffff, checksum, urgent 0,
    // MSS 02 04 05b4, WS 03 03 07, EOL pad.
    expect(hex.slice(0, 32)).toBe('04d2005001020304000000007002ffff')
    expect(hex.slice(36)).toBe('0000020405b403030700')
    // Checksum by hand: sum the pseudo-header and the segment with the field at zero.
    const zeroed = bytes.slice()
    zeroed[16] = 0
    zeroed[17] = 0
    const want = finishChecksum(sumWords(zeroed, 0xc0a8 + 0x0001 + 0xc0a8 + 0x0002 + 6 + bytes.length))
    expect((bytes[16]! << 8) | bytes[17]!).toBe(want)
  })

  test('any single flipped bit, or the wrong pseudo-header, fails the checksum with NetMalformedError', () => {
    fc.assert(
      fc.property(segment, fc.nat(), (seg, at) => {
        const bytes = encodeTcpSegment(seg, SRC, DST)
        const bit = at % (bytes.length * 8)
        bytes[bit >>> 3]! ^= 1 << (bit & 7)
        expect(() => decodeTcpSegment(bytes, SRC, DST)).toThrow(NetMalformedError)
      }),
      { numRuns: 500 },
    )
    const ok = encodeTcpSegment(base(), SRC, DST)
    expect(() => decodeTcpSegment(ok, SRC, DST + 1)).toThrow(/bad checksum/)
    expect(() => decodeTcpSegment(ok, SRC + 0x10000, DST)).toThrow(/bad checksum/)
  })

  test('bad lengths, data offsets and options are NetMalformedError with what was wrong', () => {
    expect(() => decodeTcpSegment(new Uint8Array(19), SRC, DST)).toThrow(/19 bytes, the header alone is 20/)
    const withOffset = (words: number, len = 20): Uint8Array => {
      const b = encodeTcpSegment(base({ payload: new Uint8Array(len - 20) }), SRC, DST)
      b[12] = words << 4
      return b
    }
    expect(() => decodeTcpSegment(withOffset(4), SRC, DST)).toThrow(/data offset 16 bytes/)
    expect(() => decodeTcpSegment(withOffset(15, 40), SRC, DST)).toThrow(/data offset 60 bytes in a 40-byte/)
    // Options, with a fixed checksum so only the option parser can complain.
    const withOptions = (opt: number[]): Uint8Array => {
      const b = new Uint8Array(20 + opt.length)
      b.set(encodeTcpSegment(base(), SRC, DST))
      b.set(opt, 20)
      b[12] = (b.length / 4) << 4
      b[16] = 0
      b[17] = 0
      const sum = finishChecksum(sumWords(b, pseudoHeaderSum(SRC, DST, 6, b.length)))
      b[16] = sum >>> 8
      b[17] = sum & 0xff
      return b
    }
    expect(() => decodeTcpSegment(withOptions([2, 3, 5, 0]), SRC, DST)).toThrow(/kind 2 .* length 3, expected 4/)
    expect(() => decodeTcpSegment(withOptions([1, 1, 1, 2]), SRC, DST)).toThrow(/no length byte/)
    expect(() => decodeTcpSegment(withOptions([30, 1, 0, 0]), SRC, DST)).toThrow(/length 1/)
    expect(() => decodeTcpSegment(withOptions([30, 9, 0, 0]), SRC, DST)).toThrow(/length 9, 4 bytes left/)
    expect(() => decodeTcpSegment(withOptions([3, 3, 14, 8, 10, 0, 0, 0]), SRC, DST)).toThrow(/kind 8 at offset 23 has length 10, 5 bytes left/)
    // Unknown options are skipped by length; EOL ends the list; NOPs pad.
    expect(decodeTcpSegment(withOptions([1, 30, 4, 0, 0, 3, 3, 9, 0, 0, 0, 0]), SRC, DST).options).toEqual({ windowScale: 9 })
    expect(decodeTcpSegment(withOptions([0, 2, 4, 5]), SRC, DST).options).toEqual({})
  })

  test('fuzzed bytes (random and mutated valid segments) never throw anything but NetMalformedError', () => {
    const mutated = fc.tuple(segment, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.boolean()).map(([seg, edits, fixSum]) => {
      const b = encodeTcpSegment(seg, SRC, DST)
      for (const [at, v] of edits) b[at % b.length] = v
      if (fixSum) {
        // Recompute the checksum so the mutation reaches the header and option parsers.
        b[16] = 0
        b[17] = 0
        const sum = finishChecksum(sumWords(b, pseudoHeaderSum(SRC, DST, 6, b.length)))
        b[16] = sum >>> 8
        b[17] = sum & 0xff
      }
      return b
    })
    let accepted = 0
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 100 }), mutated), (bytes) => {
        try {
          const seg = decodeTcpSegment(bytes, SRC, DST)
          accepted++
          expect(seg.payload.length).toBeLessThanOrEqual(bytes.length - 20)
        } catch (e) {
          expect(e).toBeInstanceOf(NetMalformedError)
        }
      }),
      { numRuns: 3000 },
    )
    expect(accepted).toBeGreaterThan(0) // the fuzz reached past the checksum
  })

  test('encodeTcpSegmentInto writes the same bytes at any offset of a dirty buffer', () => {
    fc.assert(
      fc.property(segment, fc.integer({ min: 0, max: 37 }), fc.integer({ min: 0, max: 255 }), (seg, offset, junk) => {
        const want = encodeTcpSegment(seg, SRC, DST)
        const buf = new Uint8Array(offset + tcpSegmentLength(seg) + 5).fill(junk)
        expect(encodeTcpSegmentInto(seg, SRC, DST, buf, offset)).toBe(want.length)
        expect(buf.subarray(offset, offset + want.length)).toEqual(want)
        expect(buf.subarray(offset + want.length).every((v) => v === junk)).toBe(true)
        expect(decodeTcpSegment(buf.subarray(offset, offset + want.length), SRC, DST)).toEqual(seg)
      }),
      { numRuns: 300 },
    )
    expect(() => encodeTcpSegmentInto(base(), SRC, DST, new Uint8Array(30), 11)).toThrow(/does not fit at offset 11/)
  })

  test('the decoded payload is a copy, not a view of the frame', () => {
    const bytes = encodeTcpSegment(base({ payload: new Uint8Array([1, 2, 3]) }), SRC, DST)
    const seg = decodeTcpSegment(bytes, SRC, DST)
    bytes[bytes.length - 1] = 99
    expect([...seg.payload]).toEqual([1, 2, 3])
  })

  test('with copyPayload: false the payload is a view into the bytes (the Stack owns its frames), same fields otherwise', () => {
    fc.assert(
      fc.property(segment, fc.integer({ min: 0, max: 37 }), (seg, offset) => {
        const frame = new Uint8Array(offset + tcpSegmentLength(seg))
        encodeTcpSegmentInto(seg, SRC, DST, frame, offset)
        const bytes = frame.subarray(offset)
        const view = decodeTcpSegment(bytes, SRC, DST, { copyPayload: false })
        expect(view).toEqual(decodeTcpSegment(bytes, SRC, DST))
        if (seg.payload.length > 0) {
          expect(view.payload.buffer).toBe(frame.buffer)
          expect(view.payload.byteOffset).toBe(bytes.byteOffset + bytes.length - seg.payload.length)
        }
      }),
      { numRuns: 200 },
    )
  })
})
