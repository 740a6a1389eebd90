/**
 * The TCP segment codec (RFC 9293 §3.1): a 20-byte header, options (§3.2: EOL, NOP, MSS;
 * RFC 7323 window scale and timestamps; RFC 2018 SACK-permitted), payload; the checksum
 * covers the IPv4 pseudo-header (src, dst, protocol 6, TCP length).
 */
import { finishChecksum, pseudoHeaderSum, sumWords } from '../checksum.js'
import { NetMalformedError } from '../errors.js'
import type { TcpOptions, TcpSegment } from './types.js'
// For the doc links.
import type { Stack } from '../stack.js'

export const TCP_PROTOCOL = 6
export const TCP_HEADER_BYTES = 20
const EMPTY = new Uint8Array(0)

const OPT_EOL = 0
const OPT_NOP = 1
const OPT_MSS = 2
const OPT_WSCALE = 3
const OPT_SACK_PERMITTED = 4
const OPT_TIMESTAMP = 8

/** The encoded length of `options`, padded to a multiple of 4 (at most 40 bytes). */
export function tcpOptionsLength(options: TcpOptions): number {
  let n = 0
  if (options.mss !== undefined) n += 4
  if (options.windowScale !== undefined) n += 3
  if (options.sackPermitted) n += 2
  if (options.timestamp) n += 10
  return (n + 3) & ~3
}

function writeOptions(out: Uint8Array, at: number, options: TcpOptions, end: number): void {
  let p = at
  if (options.mss !== undefined) {
    out[p] = OPT_MSS
    out[p + 1] = 4
    out[p + 2] = (options.mss >>> 8) & 0xff
    out[p + 3] = options.mss & 0xff
    p += 4
  }
  if (options.windowScale !== undefined) {
    out[p] = OPT_WSCALE
    out[p + 1] = 3
    out[p + 2] = options.windowScale & 0xff
    p += 3
  }
  if (options.sackPermitted) {
    out[p] = OPT_SACK_PERMITTED
    out[p + 1] = 2
    p += 2
  }
  if (options.timestamp) {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength)
    out[p] = OPT_TIMESTAMP
    out[p + 1] = 10
    dv.setUint32(p + 2, options.timestamp.value >>> 0)
    dv.setUint32(p + 6, options.timestamp.echo >>> 0)
    p += 10
  }
  // Pad with EOL (zeros) to the 32-bit boundary (§3.2: the option list ends at the data offset).
  while (p < end) out[p++] = OPT_EOL
}

/**
 * Encodes `seg` (header, options, payload) with its checksum over the IPv4 pseudo-header of
 * `src` → `dst`. Ports, numbers and the window are taken modulo their field widths.
 */
export function encodeTcpSegment(seg: TcpSegment, src: number, dst: number): Uint8Array {
  const out = new Uint8Array(tcpSegmentLength(seg))
  encodeTcpSegmentInto(seg, src, dst, out, 0)
  return out
}

/** The encoded length of `seg`: header, padded options, payload. */
export function tcpSegmentLength(seg: TcpSegment): number {
  return TCP_HEADER_BYTES + tcpOptionsLength(seg.options) + seg.payload.length
}

/**
 * Encodes `seg` into `out` at `offset` (e.g. straight into a frame after the IPv4 header, to
 * save a copy) and returns the number of bytes written ({@link tcpSegmentLength}). Throws
 * RangeError when it does not fit.
 */
export function encodeTcpSegmentInto(seg: TcpSegment, src: number, dst: number, out: Uint8Array, offset: number): number {
  const optLen = tcpOptionsLength(seg.options)
  if (optLen > 40) throw new RangeError(`TCP options need ${optLen} bytes, at most 40 fit`)
  const headerLen = TCP_HEADER_BYTES + optLen
  const total = headerLen + seg.payload.length
  if (offset < 0 || offset + total > out.length) throw new RangeError(`a ${total}-byte TCP segment does not fit at offset ${offset} of ${out.length} bytes`)
  const view = out.subarray(offset, offset + total)
  const dv = new DataView(view.buffer, view.byteOffset, total)
  dv.setUint16(0, seg.srcPort & 0xffff)
  dv.setUint16(2, seg.dstPort & 0xffff)
  dv.setUint32(4, seg.seq >>> 0)
  dv.setUint32(8, seg.ack >>> 0)
  view[12] = (headerLen / 4) << 4
  view[13] = seg.flags & 0xff
  dv.setUint16(14, seg.window & 0xffff)
  dv.setUint16(16, 0)
  dv.setUint16(18, seg.urgent & 0xffff)
  writeOptions(view, TCP_HEADER_BYTES, seg.options, headerLen)
  view.set(seg.payload, headerLen)
  dv.setUint16(16, finishChecksum(sumWords(view, pseudoHeaderSum(src >>> 0, dst >>> 0, TCP_PROTOCOL, total))))
  return total
}

function parseOptions(bytes: Uint8Array, start: number, end: number): TcpOptions {
  const options: TcpOptions = {}
  let p = start
  while (p < end) {
    const kind = bytes[p]!
    if (kind === OPT_EOL) break
    if (kind === OPT_NOP) {
      p++
      continue
    }
    if (p + 1 >= end) throw new NetMalformedError('TCP option', `kind ${kind} at offset ${p} has no length byte`)
    const len = bytes[p + 1]!
    if (len < 2 || p + len > end) throw new NetMalformedError('TCP option', `kind ${kind} at offset ${p} has length ${len}, ${end - p} bytes left`)
    const want = kind === OPT_MSS ? 4 : kind === OPT_WSCALE ? 3 : kind === OPT_SACK_PERMITTED ? 2 : kind === OPT_TIMESTAMP ? 10 : len
    if (len !== want) throw new NetMalformedError('TCP option', `kind ${kind} at offset ${p} has length ${len}, expected ${want}`)
    if (kind === OPT_MSS) options.mss = (bytes[p + 2]! << 8) | bytes[p + 3]!
    else if (kind === OPT_WSCALE) options.windowScale = bytes[p + 2]!
    else if (kind === OPT_SACK_PERMITTED) options.sackPermitted = true
    else if (kind === OPT_TIMESTAMP) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + p + 2, 8)
      options.timestamp = { value: dv.getUint32(0), echo: dv.getUint32(4) }
    }
    // Other kinds (SACK blocks, MD5, TFO…) are skipped by their length.
    p += len
  }
  return options
}

/** How {@link decodeTcpSegment} hands out the payload. */
export interface TcpDecodeOptions {
  /**
   * Default true: the payload is a copy and does not alias `bytes`. False: it is a view into
   * `bytes` (no copy), for a caller that owns `bytes` and never rewrites it, e.g. the
   * {@link Stack} with a frame a FramePort handed over (the frame belongs to the handler).
   */
  copyPayload?: boolean
}

/**
 * Decodes and verifies one segment received from `src` for `dst`. Throws
 * {@link NetMalformedError} (and only that) when the length, data offset, checksum or an option
 * is wrong. The payload is a copy unless `opts.copyPayload` is false.
 */
export function decodeTcpSegment(bytes: Uint8Array, src: number, dst: number, opts?: TcpDecodeOptions): TcpSegment {
  if (bytes.length < TCP_HEADER_BYTES) throw new NetMalformedError('TCP segment', `${bytes.length} bytes, the header alone is 20`)
  const headerLen = (bytes[12]! >>> 4) * 4
  if (headerLen < TCP_HEADER_BYTES || headerLen > bytes.length) {
    throw new NetMalformedError('TCP segment', `data offset ${headerLen} bytes in a ${bytes.length}-byte segment`)
  }
  const sum = finishChecksum(sumWords(bytes, pseudoHeaderSum(src >>> 0, dst >>> 0, TCP_PROTOCOL, bytes.length)))
  if (sum !== 0) throw new NetMalformedError('TCP segment', `bad checksum (residue 0x${sum.toString(16)}) from ${src >>> 0} to ${dst >>> 0}`)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    srcPort: dv.getUint16(0),
    dstPort: dv.getUint16(2),
    seq: dv.getUint32(4),
    ack: dv.getUint32(8),
    flags: bytes[13]!,
    window: dv.getUint16(14),
    urgent: dv.getUint16(18),
    options: parseOptions(bytes, TCP_HEADER_BYTES, headerLen),
    payload: headerLen === bytes.length ? EMPTY : opts?.copyPayload === false ? bytes.subarray(headerLen) : bytes.slice(headerLen),
  }
}
