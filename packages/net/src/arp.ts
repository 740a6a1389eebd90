/** ARP for IPv4 over Ethernet (RFC 826): the 28-byte request/reply. */
import { macFromBytes, macToBytes } from './addr.js'
import { NetMalformedError } from './errors.js'
import { get16, get32, put16, put32 } from './wire.js'

export const ArpOp = { REQUEST: 1, REPLY: 2 } as const

export interface ArpPacket {
  op: number
  senderMac: number
  senderIp: number
  targetMac: number
  targetIp: number
}

export const ARP_LENGTH = 28

export function encodeArp(p: ArpPacket): Uint8Array {
  const b = new Uint8Array(ARP_LENGTH)
  put16(b, 0, 1) // hardware type: Ethernet
  put16(b, 2, 0x0800) // protocol type: IPv4
  b[4] = 6
  b[5] = 4
  put16(b, 6, p.op)
  macToBytes(p.senderMac, b, 8)
  put32(b, 14, p.senderIp)
  macToBytes(p.targetMac, b, 18)
  put32(b, 24, p.targetIp)
  return b
}

export function decodeArp(b: Uint8Array): ArpPacket {
  if (b.length < ARP_LENGTH) throw new NetMalformedError('ARP packet', `${b.length} bytes is shorter than 28`)
  if (get16(b, 0) !== 1 || get16(b, 2) !== 0x0800 || b[4] !== 6 || b[5] !== 4) {
    throw new NetMalformedError('ARP packet', `hardware/protocol ${get16(b, 0)}/0x${get16(b, 2).toString(16)} lengths ${b[4]}/${b[5]} are not Ethernet/IPv4`)
  }
  const op = get16(b, 6)
  if (op !== ArpOp.REQUEST && op !== ArpOp.REPLY) throw new NetMalformedError('ARP packet', `opcode ${op} is neither request (1) nor reply (2)`)
  return { op, senderMac: macFromBytes(b, 8), senderIp: get32(b, 14), targetMac: macFromBytes(b, 18), targetIp: get32(b, 24) }
}
