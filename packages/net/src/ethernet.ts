/** Ethernet II framing (IEEE 802.3 with an EtherType ≥ 0x0600): destination, source, type, payload. */
import { macFromBytes, macToBytes } from './addr.js'
import { NetMalformedError } from './errors.js'
import { get16, put16 } from './wire.js'

export const EtherType = { IPv4: 0x0800, ARP: 0x0806, IPv6: 0x86dd, VLAN: 0x8100 } as const

export const ETHERNET_HEADER = 14

export interface EthernetFrame {
  dst: number
  src: number
  type: number
  /** The payload; a decoded frame's payload may carry trailing padding (minimum frame size): upper layers trim by their own lengths. */
  payload: Uint8Array
}

export function encodeEthernet(frame: EthernetFrame): Uint8Array {
  const out = new Uint8Array(ETHERNET_HEADER + frame.payload.length)
  writeEthernetHeader(out, frame.dst, frame.src, frame.type)
  out.set(frame.payload, ETHERNET_HEADER)
  return out
}

/** Writes the 14-byte header at the start of `out` (the payload is written by the caller, in place). */
export function writeEthernetHeader(out: Uint8Array, dst: number, src: number, type: number): void {
  macToBytes(dst, out, 0)
  macToBytes(src, out, 6)
  put16(out, 12, type)
}

/** Decodes an Ethernet II frame (no FCS). The payload is a view into `bytes`. */
export function decodeEthernet(bytes: Uint8Array): EthernetFrame {
  if (bytes.length < ETHERNET_HEADER) throw new NetMalformedError('Ethernet frame', `${bytes.length} bytes is shorter than the 14-byte header`)
  const type = get16(bytes, 12)
  if (type < 0x0600) throw new NetMalformedError('Ethernet frame', `length/type field 0x${type.toString(16)} is an 802.3 length, not an Ethernet II type`)
  return { dst: macFromBytes(bytes, 0), src: macFromBytes(bytes, 6), type, payload: bytes.subarray(ETHERNET_HEADER) }
}
