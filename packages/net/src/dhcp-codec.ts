/**
 * DHCP messages (RFC 2131 §2) with the options honk uses (RFC 2132); other options are kept
 * raw so a message round-trips. Option overload (52) is not honoured: sname/file are opaque.
 */
import { macFromBytes, macToBytes } from './addr.js'
import { NetMalformedError } from './errors.js'
import { get16, get32, put16, put32 } from './wire.js'

export const DhcpMessageType = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const
export const DHCP_SERVER_PORT = 67
export const DHCP_CLIENT_PORT = 68
const MAGIC = 0x63825363
const FIXED = 236

export interface DhcpOptions {
  messageType?: number
  subnetMask?: number
  router?: number[]
  dns?: number[]
  hostname?: string
  requestedIp?: number
  leaseTime?: number
  serverId?: number
  parameterRequest?: number[]
  renewalTime?: number
  rebindingTime?: number
  /** Any other option, as code and raw value, in order. */
  other?: [number, Uint8Array][]
}

export interface DhcpMessage {
  /** 1 BOOTREQUEST, 2 BOOTREPLY. */
  op: number
  xid: number
  secs: number
  /** Bit 15 is the broadcast flag. */
  flags: number
  ciaddr: number
  yiaddr: number
  siaddr: number
  giaddr: number
  /** Client hardware address (Ethernet, hlen 6). */
  chaddr: number
  options: DhcpOptions
}

const addrList = (v: Uint8Array): number[] => {
  if (v.length === 0 || v.length % 4) throw new NetMalformedError('DHCP option', `address list of ${v.length} bytes`)
  return Array.from({ length: v.length / 4 }, (_, i) => get32(v, i * 4))
}
const one32 = (code: number, v: Uint8Array): number => {
  if (v.length !== 4) throw new NetMalformedError('DHCP option', `option ${code} has ${v.length} bytes, not 4`)
  return get32(v, 0)
}

export function encodeDhcp(m: DhcpMessage): Uint8Array {
  const opts: number[] = []
  const add = (code: number, value: ArrayLike<number>) => {
    if (value.length > 255) throw new NetMalformedError('DHCP option', `option ${code} value of ${value.length} bytes exceeds 255`)
    opts.push(code, value.length, ...Array.from(value))
  }
  const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]
  const o = m.options
  if (o.messageType !== undefined) add(53, [o.messageType])
  if (o.subnetMask !== undefined) add(1, u32(o.subnetMask))
  if (o.router) add(3, o.router.flatMap(u32))
  if (o.dns) add(6, o.dns.flatMap(u32))
  if (o.hostname !== undefined) add(12, new TextEncoder().encode(o.hostname))
  if (o.requestedIp !== undefined) add(50, u32(o.requestedIp))
  if (o.leaseTime !== undefined) add(51, u32(o.leaseTime))
  if (o.serverId !== undefined) add(54, u32(o.serverId))
  if (o.parameterRequest) add(55, o.parameterRequest)
  if (o.renewalTime !== undefined) add(58, u32(o.renewalTime))
  if (o.rebindingTime !== undefined) add(59, u32(o.rebindingTime))
  for (const [code, v] of o.other ?? []) add(code, v)
  opts.push(255)
  const b = new Uint8Array(Math.max(300, FIXED + 4 + opts.length)) // BOOTP's 300-byte minimum (RFC 1542 §3.2.1)
  b[0] = m.op
  b[1] = 1 // htype Ethernet
  b[2] = 6
  put32(b, 4, m.xid)
  put16(b, 8, m.secs)
  put16(b, 10, m.flags)
  put32(b, 12, m.ciaddr)
  put32(b, 16, m.yiaddr)
  put32(b, 20, m.siaddr)
  put32(b, 24, m.giaddr)
  macToBytes(m.chaddr, b, 28)
  put32(b, FIXED, MAGIC)
  b.set(opts, FIXED + 4)
  return b
}

export function decodeDhcp(b: Uint8Array): DhcpMessage {
  if (b.length < FIXED + 4) throw new NetMalformedError('DHCP message', `${b.length} bytes is shorter than 240`)
  if (b[0] !== 1 && b[0] !== 2) throw new NetMalformedError('DHCP message', `op ${b[0]}`)
  if (b[1] !== 1 || b[2] !== 6) throw new NetMalformedError('DHCP message', `hardware type ${b[1]} length ${b[2]} is not Ethernet`)
  if (get32(b, FIXED) !== MAGIC) throw new NetMalformedError('DHCP message', 'no magic cookie (plain BOOTP)')
  const o: DhcpOptions = {}
  const other: [number, Uint8Array][] = []
  let i = FIXED + 4
  for (;;) {
    if (i >= b.length) throw new NetMalformedError('DHCP message', 'options run past the end without an end option')
    const code = b[i++]!
    if (code === 0) continue
    if (code === 255) break
    if (i >= b.length || i + 1 + b[i]! > b.length) throw new NetMalformedError('DHCP message', `option ${code} at ${i - 1} runs past the end`)
    const v = b.subarray(i + 1, i + 1 + b[i]!)
    i += 1 + v.length
    switch (code) {
      case 53:
        if (v.length !== 1) throw new NetMalformedError('DHCP option', `message type of ${v.length} bytes`)
        o.messageType = v[0]!
        break
      case 1: o.subnetMask = one32(code, v); break
      case 3: o.router = addrList(v); break
      case 6: o.dns = addrList(v); break
      case 12: o.hostname = new TextDecoder().decode(v); break
      case 50: o.requestedIp = one32(code, v); break
      case 51: o.leaseTime = one32(code, v); break
      case 54: o.serverId = one32(code, v); break
      case 55: o.parameterRequest = Array.from(v); break
      case 58: o.renewalTime = one32(code, v); break
      case 59: o.rebindingTime = one32(code, v); break
      default: other.push([code, v.slice()])
    }
  }
  if (other.length) o.other = other
  return {
    op: b[0]!,
    xid: get32(b, 4),
    secs: get16(b, 8),
    flags: get16(b, 10),
    ciaddr: get32(b, 12),
    yiaddr: get32(b, 16),
    siaddr: get32(b, 20),
    giaddr: get32(b, 24),
    chaddr: macFromBytes(b, 28),
    options: o,
  }
}
