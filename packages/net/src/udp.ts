/** UDP (RFC 768) with the IPv4 pseudo-header checksum. */
import { finishChecksum, pseudoHeaderSum, sumWords } from './checksum.js'
import { NetMalformedError } from './errors.js'
import { get16, put16 } from './wire.js'

export const IPPROTO_UDP = 17
export const UDP_HEADER = 8

export interface UdpDatagram {
  srcPort: number
  dstPort: number
  payload: Uint8Array
}

export function encodeUdp(d: UdpDatagram, src: number, dst: number): Uint8Array {
  const len = UDP_HEADER + d.payload.length
  if (len > 0xffff) throw new NetMalformedError('UDP datagram', `${d.payload.length}-byte payload does not fit a 16-bit length`)
  const b = new Uint8Array(len)
  put16(b, 0, d.srcPort)
  put16(b, 2, d.dstPort)
  put16(b, 4, len)
  b.set(d.payload, UDP_HEADER)
  const c = finishChecksum(sumWords(b, pseudoHeaderSum(src, dst, IPPROTO_UDP, len)))
  put16(b, 6, c === 0 ? 0xffff : c) // RFC 768: a computed 0 is sent as all ones; 0 means "no checksum"
  return b
}

/** Decodes and checks a UDP datagram (`b` may carry trailing bytes beyond the UDP length; they are ignored). */
export function decodeUdp(b: Uint8Array, src: number, dst: number): UdpDatagram {
  if (b.length < UDP_HEADER) throw new NetMalformedError('UDP datagram', `${b.length} bytes is shorter than the 8-byte header`)
  const len = get16(b, 4)
  if (len < UDP_HEADER || len > b.length) throw new NetMalformedError('UDP datagram', `length field ${len} outside 8..${b.length}`)
  const d = b.subarray(0, len)
  if (get16(d, 6) !== 0 && finishChecksum(sumWords(d, pseudoHeaderSum(src, dst, IPPROTO_UDP, len))) !== 0) {
    throw new NetMalformedError('UDP datagram', `bad checksum 0x${get16(d, 6).toString(16)} (${src >>> 0}→${dst >>> 0})`)
  }
  return { srcPort: get16(d, 0), dstPort: get16(d, 2), payload: d.subarray(UDP_HEADER) }
}
