/** ICMP for IPv4 (RFC 792): echo request/reply and destination unreachable, checksummed. */
import { internetChecksum } from './checksum.js'
import { NetMalformedError } from './errors.js'
import { get16, get32, put16, put32 } from './wire.js'

export const IcmpType = { ECHO_REPLY: 0, DEST_UNREACHABLE: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const
export const IcmpUnreachableCode = { NET: 0, HOST: 1, PROTOCOL: 2, PORT: 3, FRAG_NEEDED: 4 } as const

export interface IcmpMessage {
  type: number
  code: number
  /** The 4 bytes after the checksum: identifier<<16 | sequence for echo, unused (or next-hop MTU) for errors. */
  rest: number
  /** Echo data, or the original IP header + first 8 bytes for errors. */
  payload: Uint8Array
}

export function encodeIcmp(m: IcmpMessage): Uint8Array {
  const b = new Uint8Array(8 + m.payload.length)
  b[0] = m.type
  b[1] = m.code
  put32(b, 4, m.rest)
  b.set(m.payload, 8)
  put16(b, 2, internetChecksum(b))
  return b
}

export function decodeIcmp(b: Uint8Array): IcmpMessage {
  if (b.length < 8) throw new NetMalformedError('ICMP message', `${b.length} bytes is shorter than the 8-byte header`)
  if (internetChecksum(b) !== 0) throw new NetMalformedError('ICMP message', `bad checksum 0x${get16(b, 2).toString(16)}`)
  return { type: b[0]!, code: b[1]!, rest: get32(b, 4), payload: b.subarray(8) }
}

export const echoId = (m: IcmpMessage): number => m.rest >>> 16
export const echoSeq = (m: IcmpMessage): number => m.rest & 0xffff
