/**
 * IPv4 (RFC 791): header codec with checksum (options accepted and skipped), fragmentation on
 * send and bounded reassembly on receive (RFC 815's hole list, kept as sorted ranges).
 */
import { internetChecksum } from './checksum.js'
import type { NetClock, NetTimer } from './clock.js'
import { NetMalformedError } from './errors.js'
import { get16, get32, put16, put32 } from './wire.js'

export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17 } as const

export const IPV4_HEADER = 20

export interface Ipv4Packet {
  tos: number
  id: number
  /** Don't Fragment. */
  df: boolean
  /** More Fragments. */
  mf: boolean
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset: number
  ttl: number
  protocol: number
  src: number
  dst: number
  payload: Uint8Array
}

/** Encodes with a 20-byte header (no options) and a fresh header checksum. */
export function encodeIpv4(p: Ipv4Packet): Uint8Array {
  const b = new Uint8Array(IPV4_HEADER + p.payload.length)
  writeIpv4Header(b, 0, p, p.payload.length)
  b.set(p.payload, IPV4_HEADER)
  return b
}

/** Writes a 20-byte header with its checksum at `b[off]` for a payload of `payloadLength` bytes (the payload is written by the caller, in place). */
export function writeIpv4Header(b: Uint8Array, off: number, p: Omit<Ipv4Packet, 'payload'>, payloadLength: number): void {
  const total = IPV4_HEADER + payloadLength
  if (total > 0xffff) throw new NetMalformedError('IPv4 packet', `${payloadLength}-byte payload exceeds the 65515-byte maximum`)
  if (p.fragmentOffset % 8 !== 0 || p.fragmentOffset > 0xfff8) throw new NetMalformedError('IPv4 packet', `fragment offset ${p.fragmentOffset} is not a multiple of 8 below 65536`)
  b[off] = 0x45
  b[off + 1] = p.tos
  put16(b, off + 2, total)
  put16(b, off + 4, p.id)
  put16(b, off + 6, (p.df ? 0x4000 : 0) | (p.mf ? 0x2000 : 0) | (p.fragmentOffset >>> 3))
  b[off + 8] = p.ttl
  b[off + 9] = p.protocol
  b[off + 10] = b[off + 11] = 0
  put32(b, off + 12, p.src)
  put32(b, off + 16, p.dst)
  put16(b, off + 10, internetChecksum(b.subarray(off, off + IPV4_HEADER)))
}

/** Decodes and checks a packet; trailing link padding beyond the total length is dropped; the payload is a view. */
export function decodeIpv4(b: Uint8Array): Ipv4Packet {
  if (b.length < IPV4_HEADER) throw new NetMalformedError('IPv4 packet', `${b.length} bytes is shorter than the 20-byte header`)
  const version = b[0]! >>> 4
  const ihl = (b[0]! & 15) * 4
  if (version !== 4) throw new NetMalformedError('IPv4 packet', `version ${version}`)
  if (ihl < IPV4_HEADER) throw new NetMalformedError('IPv4 packet', `header length ${ihl} below 20`)
  const total = get16(b, 2)
  if (total < ihl || total > b.length) throw new NetMalformedError('IPv4 packet', `total length ${total} outside ${ihl}..${b.length}`)
  if (internetChecksum(b.subarray(0, ihl)) !== 0) throw new NetMalformedError('IPv4 packet', `bad header checksum 0x${get16(b, 10).toString(16)}`)
  const frag = get16(b, 6)
  if (frag & 0x8000) throw new NetMalformedError('IPv4 packet', 'reserved flag bit set')
  return {
    tos: b[1]!,
    id: get16(b, 4),
    df: (frag & 0x4000) !== 0,
    mf: (frag & 0x2000) !== 0,
    fragmentOffset: (frag & 0x1fff) * 8,
    ttl: b[8]!,
    protocol: b[9]!,
    src: get32(b, 12),
    dst: get32(b, 16),
    payload: b.subarray(ihl, total),
  }
}

/**
 * Splits a packet into fragments whose encoded size is ≤ `mtu` (RFC 791 §3.2: every
 * fragment but the last carries a multiple of 8 payload bytes and MF). A packet that fits is
 * returned as is; one with DF that does not fit yields `[]` (the caller counts the drop).
 */
export function fragmentIpv4(p: Ipv4Packet, mtu: number): Ipv4Packet[] {
  if (IPV4_HEADER + p.payload.length <= mtu) return [p]
  if (p.df) return []
  const chunk = (mtu - IPV4_HEADER) & ~7
  if (chunk <= 0) throw new NetMalformedError('IPv4 fragmentation', `MTU ${mtu} leaves no room for 8 payload bytes`)
  const out: Ipv4Packet[] = []
  for (let off = 0; off < p.payload.length; off += chunk) {
    const end = Math.min(p.payload.length, off + chunk)
    out.push({ ...p, fragmentOffset: p.fragmentOffset + off, mf: end < p.payload.length || p.mf, payload: p.payload.subarray(off, end) })
  }
  return out
}

/** Limits on reassembly state, so a hostile fragment stream cannot grow memory without bound. */
export interface ReassemblyLimits {
  /** Datagrams being reassembled at once (oldest evicted first). Default 64. */
  maxDatagrams?: number
  /** Payload bytes held over all datagrams (oldest evicted first). Default 1 MiB. */
  maxBytes?: number
  /** Fragments per datagram. Default 64 (a 64 KiB datagram at MTU 1500 needs 45). */
  maxFragments?: number
  /** Time a datagram may wait for its missing fragments (RFC 791 suggests 15 s; Linux uses 30 s). Default 30 000 ms. */
  timeoutMs?: number
}

interface Partial {
  key: string
  first: Ipv4Packet
  /** Received [start, end) byte ranges with their data, sorted by start, never overlapping. */
  parts: { start: number; end: number; data: Uint8Array }[]
  /** Total length, known once the fragment without MF arrives. */
  total: number | undefined
  bytes: number
  timer: NetTimer
}

export interface ReassemblyCounters {
  reassembled: number
  timedOut: number
  evicted: number
  dropped: number
}

/**
 * IPv4 reassembly (RFC 791 §3.2, RFC 815). Datagrams are keyed by (src, dst, protocol, id).
 * Overlapping fragments with different extents drop the whole datagram (as Linux does since
 * 4.19, and RFC 5722 for IPv6); an exact duplicate is ignored.
 */
export class Reassembler {
  private readonly partials = new Map<string, Partial>() // insertion order = age
  private held = 0
  private readonly maxDatagrams: number
  private readonly maxBytes: number
  private readonly maxFragments: number
  private readonly timeoutMs: number
  readonly counters: ReassemblyCounters = { reassembled: 0, timedOut: 0, evicted: 0, dropped: 0 }

  constructor(
    private readonly clock: NetClock,
    limits: ReassemblyLimits = {},
  ) {
    this.maxDatagrams = limits.maxDatagrams ?? 64
    this.maxBytes = limits.maxBytes ?? 1 << 20
    this.maxFragments = limits.maxFragments ?? 64
    this.timeoutMs = limits.timeoutMs ?? 30_000
  }

  /** Datagrams in progress and the payload bytes they hold (for tests and counters). */
  get usage(): { datagrams: number; bytes: number } {
    return { datagrams: this.partials.size, bytes: this.held }
  }

  /** Feeds a fragment; returns the whole datagram once complete, else `undefined`. Unfragmented packets pass through. */
  input(p: Ipv4Packet): Ipv4Packet | undefined {
    if (!p.mf && p.fragmentOffset === 0) return p
    const key = `${p.src}/${p.dst}/${p.protocol}/${p.id}`
    const start = p.fragmentOffset
    const end = start + p.payload.length
    if (end > 0xffff - 20 || (p.mf && (p.payload.length === 0 || p.payload.length % 8 !== 0))) {
      this.counters.dropped++ // RFC 791: non-last fragments carry a multiple of 8 bytes; the datagram fits 65535
      return undefined
    }
    let d = this.partials.get(key)
    if (!d) {
      while (this.partials.size >= this.maxDatagrams) this.evictOldest()
      d = { key, first: p, parts: [], total: undefined, bytes: 0, timer: this.clock.schedule(this.timeoutMs, () => this.expire(key)) }
      this.partials.set(key, d)
    }
    if (!p.mf) {
      if (d.total !== undefined && d.total !== end) return this.drop(d)
      d.total = end
    }
    if (d.total !== undefined && end > d.total) return this.drop(d)
    // Insert the range, keeping `parts` sorted; reject overlaps.
    let i = 0
    while (i < d.parts.length && d.parts[i]!.start < start) i++
    const prev = d.parts[i - 1]
    const next = d.parts[i]
    if (next && next.start === start && next.end === end) return undefined // exact duplicate
    if ((prev && prev.end > start) || (next && next.start < end)) return this.drop(d)
    if (d.parts.length >= this.maxFragments) return this.drop(d)
    d.parts.splice(i, 0, { start, end, data: p.payload.slice() })
    d.bytes += p.payload.length
    this.held += p.payload.length
    if (start === 0) d.first = p
    while (this.held > this.maxBytes && this.partials.size > 0) {
      const oldest = this.partials.values().next().value!
      if (oldest === d && this.partials.size === 1) return this.drop(d)
      if (oldest === d) {
        // Evict older ones first; `d` moves to the back so it survives if something else can go.
        this.partials.delete(d.key)
        this.partials.set(d.key, d)
        continue
      }
      this.evictOldest()
    }
    if (d.total === undefined) return undefined
    // Complete when the ranges are contiguous from 0 to total.
    let at = 0
    for (const r of d.parts) {
      if (r.start !== at) return undefined
      at = r.end
    }
    if (at !== d.total) return undefined
    const payload = new Uint8Array(d.total)
    for (const r of d.parts) payload.set(r.data, r.start)
    this.remove(d)
    this.counters.reassembled++
    return { ...d.first, mf: false, fragmentOffset: 0, payload }
  }

  /** Drops all state and timers. */
  clear(): void {
    for (const d of [...this.partials.values()]) this.remove(d)
  }

  private drop(d: Partial): undefined {
    this.counters.dropped++
    this.remove(d)
    return undefined
  }

  private evictOldest(): void {
    const d = this.partials.values().next().value
    if (!d) return
    this.counters.evicted++
    this.remove(d)
  }

  private expire(key: string): void {
    const d = this.partials.get(key)
    if (!d) return
    this.counters.timedOut++
    this.remove(d)
  }

  private remove(d: Partial): void {
    this.clock.clear(d.timer)
    this.partials.delete(d.key)
    this.held -= d.bytes
  }
}
