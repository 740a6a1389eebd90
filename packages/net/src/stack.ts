/**
 * One IPv4 host on one {@link FramePort}: Ethernet, ARP (cache with expiry, rate-limited
 * requests, bounded queues), IPv4 (fragmentation, bounded reassembly), ICMP (echo answered,
 * port/protocol unreachable sent, rate-limited), UDP sockets, and the TCP layer wired below.
 * Every timer goes through the {@link NetClock}. Hostile frames are dropped and counted, never thrown.
 */
import { formatIpv4, IPV4_BROADCAST, MAC_BROADCAST } from './addr.js'
import { ArpOp, decodeArp, encodeArp } from './arp.js'
import { realClock, type NetClock, type NetTimer } from './clock.js'
import { NetError, NetMalformedError } from './errors.js'
import { decodeEthernet, encodeEthernet, ETHERNET_HEADER, EtherType, writeEthernetHeader } from './ethernet.js'
import type { FramePort } from './frame-port.js'
import { decodeIcmp, echoId, echoSeq, encodeIcmp, IcmpType, IcmpUnreachableCode } from './icmp.js'
import { decodeIpv4, encodeIpv4, fragmentIpv4, IpProtocol, IPV4_HEADER, Reassembler, writeIpv4Header, type Ipv4Packet, type ReassemblyLimits } from './ipv4.js'
import { decodeTcpSegment, encodeTcpSegmentInto, TCP_HEADER_BYTES, tcpSegmentLength } from './tcp/segment.js'
import type { TcpLimits, TcpTimings } from './tcp/config.js'
import { TcpLayer, type TcpListener, type TcpListenOptions } from './tcp/layer.js'
import type { TcpSocket } from './tcp/socket.js'
import type { TcpSegment } from './tcp/types.js'
import { decodeUdp, encodeUdp, type UdpDatagram } from './udp.js'

/** An interface's IPv4 configuration (static, or from DHCP). */
export interface Ipv4Config {
  address: number
  netmask: number
  gateway?: number
  /** DNS servers learned with the address (DHCP option 6); informational for the stack. */
  dns?: number[]
}

export interface ArpOptions {
  /** Lifetime of a resolved entry. Default 60 000 ms. */
  ttlMs?: number
  /** Interval between requests for one address (RFC 1122 §2.3.2.1: at most one per second). Default 1000 ms. */
  retryMs?: number
  /** Requests before giving up and dropping the queued packets. Default 3. */
  maxTries?: number
  /** Cache entries (oldest evicted). Default 256. */
  maxEntries?: number
  /** Addresses being resolved at once. Default 64. */
  maxPending?: number
  /** Packets queued per address being resolved. Default 16. */
  maxQueued?: number
}

export interface StackOptions {
  port: FramePort
  /** This interface's MAC address (48-bit number; see `parseMac`, `macFromBytes`). */
  mac: number
  clock?: NetClock
  /** Static configuration; leave out to configure later (DHCP calls {@link Stack.configure}). */
  ipv4?: Ipv4Config
  /** More local addresses: answered by ARP and ICMP echo, accepted by IP (the NAT's DNS address). */
  aliases?: number[]
  /** Accept IPv4 packets for any destination (the NAT's gateway terminates every flow). */
  acceptAnyDestination?: boolean
  /**
   * Link MTU (IP packet size). Default 1500. Up to 65536 (Linux's `lo`); an IPv4 packet is at
   * most 65535 bytes whatever the MTU. TCP's MSS follows it (MTU − 40, RFC 9293 §3.7.1) unless
   * `tcp.limits.mss` is given.
   */
  mtu?: number
  random32?: () => number
  arp?: ArpOptions
  reassembly?: ReassemblyLimits
  /** ICMP errors sent per second at most (token bucket). Default 50. */
  icmpErrorsPerSecond?: number
  /** TCP limits and timings (see `TcpLimits`, `TcpTimings`). */
  tcp?: { limits?: Partial<TcpLimits>; timings?: Partial<TcpTimings> }
}

/** What a UDP receiver learns about a datagram. */
export interface UdpRemote {
  address: number
  port: number
  /** The destination address the datagram was sent to (the NAT replies from it). */
  localAddress: number
}

export interface StackCounters {
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  malformed: number
  notForUs: number
  arpRequestsIn: number
  arpRepliesIn: number
  arpRequestsOut: number
  arpFailed: number
  arpQueueDrops: number
  ipIn: number
  ipOut: number
  fragmentsOut: number
  reassembled: number
  noRoute: number
  dfDrops: number
  icmpIn: number
  icmpOut: number
  echoRequestsIn: number
  icmpErrorsOut: number
  icmpRateLimited: number
  udpIn: number
  udpOut: number
  udpNoPort: number
  tcpIn: number
  tcpOut: number
  unknownProtocol: number
}

const EPHEMERAL_LOW = 49152
/** Outgoing frames up to this size share slabs (an Ethernet frame at MTU 1500 is 1514 bytes). */
const SLAB_MAX_FRAME = 2048
const SLAB_BYTES = 16 * 1024

/** A bound UDP endpoint. */
export class UdpSocket {
  /** Called with each datagram's payload and its origin. */
  onMessage: ((payload: Uint8Array, from: UdpRemote) => void) | undefined
  private closed = false
  constructor(
    private readonly stack: Stack,
    readonly localAddress: number,
    readonly localPort: number,
  ) {}

  /**
   * Sends one datagram; false if it could not leave (no route, not configured, ARP queue full).
   * `src` overrides the source address (the NAT answers from the address the guest contacted).
   */
  send(payload: Uint8Array, address: number, port: number, opts: { src?: number } = {}): boolean {
    if (this.closed) throw new NetError('NET_CLOSED', `UDP send on closed socket :${this.localPort}`)
    const src = opts.src ?? (this.localAddress !== 0 ? this.localAddress : this.stack.sourceFor(address))
    return this.stack.sendUdp({ srcPort: this.localPort, dstPort: port, payload }, src, address)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.stack.unbindUdp(this)
  }
}

interface ArpEntry {
  mac: number
  expires: number
}

interface ArpPending {
  queue: Uint8Array[]
  tries: number
  timer: NetTimer
}

export class Stack {
  readonly mac: number
  readonly clock: NetClock
  readonly tcp: TcpLayer
  readonly mtu: number
  readonly counters: StackCounters
  /**
   * Called for a UDP datagram no socket is bound to, before a port unreachable goes back;
   * return true when handled (the NAT forwards such flows to the host).
   */
  udpFallback: ((d: UdpDatagram, src: number, dst: number) => boolean) | undefined
  /** Called for each valid TCP segment before the TCP layer sees it; return true to consume it (the NAT holds a SYN until the host connects). */
  tcpIntercept: ((seg: TcpSegment, src: number, dst: number) => boolean) | undefined

  private cfg: Ipv4Config | undefined
  private readonly aliases: Set<number>
  private readonly acceptAny: boolean
  private readonly port: FramePort
  readonly random32: () => number
  private readonly arpCache = new Map<number, ArpEntry>()
  private readonly arpPending = new Map<number, ArpPending>()
  private readonly arpOpts: Required<ArpOptions>
  private readonly reassembler: Reassembler
  private readonly udpSockets = new Map<string, UdpSocket>()
  private readonly pings = new Map<number, (rtt: number) => void>()
  private ipId: number
  private pingSeq = 0
  private icmpTokens: number
  private icmpRefill: number
  private readonly icmpRate: number
  private closed = false
  private slab = new Uint8Array(0)
  private slabAt = 0

  constructor(opts: StackOptions) {
    this.port = opts.port
    this.mac = opts.mac
    this.clock = opts.clock ?? realClock
    this.mtu = opts.mtu ?? 1500
    if (!Number.isInteger(this.mtu) || this.mtu < 68 || this.mtu > 65536) throw new RangeError(`MTU ${this.mtu} is outside 68..65536 (RFC 791: every host takes 68)`)
    this.cfg = opts.ipv4
    this.aliases = new Set(opts.aliases ?? [])
    this.acceptAny = opts.acceptAnyDestination ?? false
    this.random32 = opts.random32 ?? (() => (Math.random() * 2 ** 32) >>> 0)
    this.arpOpts = { ttlMs: 60_000, retryMs: 1000, maxTries: 3, maxEntries: 256, maxPending: 64, maxQueued: 16, ...opts.arp }
    this.reassembler = new Reassembler(this.clock, opts.reassembly)
    this.ipId = this.random32() & 0xffff
    this.icmpRate = opts.icmpErrorsPerSecond ?? 50
    this.icmpTokens = this.icmpRate
    this.icmpRefill = this.clock.now()
    this.counters = {
      framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, malformed: 0, notForUs: 0,
      arpRequestsIn: 0, arpRepliesIn: 0, arpRequestsOut: 0, arpFailed: 0, arpQueueDrops: 0,
      ipIn: 0, ipOut: 0, fragmentsOut: 0, reassembled: 0, noRoute: 0, dfDrops: 0,
      icmpIn: 0, icmpOut: 0, echoRequestsIn: 0, icmpErrorsOut: 0, icmpRateLimited: 0,
      udpIn: 0, udpOut: 0, udpNoPort: 0, tcpIn: 0, tcpOut: 0, unknownProtocol: 0,
    }
    // RFC 9293 §3.7.1 / RFC 879: the MSS we offer is the largest IPv4 packet minus the 20-byte
    // IPv4 and TCP headers (1460 at MTU 1500; 65495 on a 64 KiB loopback link).
    const mss = Math.min(this.mtu, 0xffff) - IPV4_HEADER - TCP_HEADER_BYTES
    this.tcp = new TcpLayer({
      ...opts.tcp,
      limits: { mss, ...opts.tcp?.limits },
      clock: this.clock,
      random32: this.random32,
      output: (seg: TcpSegment, src: number, dst: number) => {
        this.counters.tcpOut++
        this.sendIpv4Built(IpProtocol.TCP, src, dst, tcpSegmentLength(seg), (buf, off) => encodeTcpSegmentInto(seg, src, dst, buf, off))
      },
    })
    this.port.onFrame((f) => this.receive(f))
  }

  /** The current IPv4 configuration, if any. */
  get ipv4(): Ipv4Config | undefined {
    return this.cfg
  }

  /** Sets (or, with `undefined`, removes) the IPv4 configuration; DHCP calls this. */
  configure(cfg: Ipv4Config | undefined): void {
    this.cfg = cfg
  }

  /** True for this host's address, aliases and the broadcast addresses it accepts. */
  isLocal(addr: number): boolean {
    return (this.cfg !== undefined && addr === this.cfg.address) || this.aliases.has(addr)
  }

  /** The resolved ARP entries (for a `net` command). */
  arpEntries(): { address: number; mac: number; expiresInMs: number }[] {
    const now = this.clock.now()
    return [...this.arpCache].filter(([, e]) => e.expires > now).map(([address, e]) => ({ address, mac: e.mac, expiresInMs: e.expires - now }))
  }

  /** The bound UDP sockets (for a `net` command). */
  udpBindings(): { address: number; port: number }[] {
    return [...this.udpSockets.values()].map((s) => ({ address: s.localAddress, port: s.localPort }))
  }

  // --- UDP ---------------------------------------------------------------------------------

  /** Binds a UDP socket; port 0 picks a free ephemeral port, `localAddress` 0 accepts any. */
  bindUdp(port = 0, localAddress = 0): UdpSocket {
    if (port === 0) {
      const span = 65536 - EPHEMERAL_LOW
      const start = this.random32() % span
      for (let i = 0; i < span && port === 0; i++) {
        const p = EPHEMERAL_LOW + ((start + i) % span)
        if (!this.udpSockets.has(`${localAddress}:${p}`) && !this.udpSockets.has(`0:${p}`)) port = p
      }
      if (port === 0) throw new NetError('NET_ADDR_IN_USE', 'no free ephemeral UDP port')
    } else if (this.udpSockets.has(`${localAddress}:${port}`)) {
      throw new NetError('NET_ADDR_IN_USE', `UDP ${formatIpv4(localAddress)}:${port} is already bound`)
    }
    const s = new UdpSocket(this, localAddress, port)
    this.udpSockets.set(`${localAddress}:${port}`, s)
    return s
  }

  /** @internal */
  unbindUdp(s: UdpSocket): void {
    if (this.udpSockets.get(`${s.localAddress}:${s.localPort}`) === s) this.udpSockets.delete(`${s.localAddress}:${s.localPort}`)
  }

  /** Sends a UDP datagram from `src` (0 before configuration, as DHCP does). */
  sendUdp(d: UdpDatagram, src: number, dst: number): boolean {
    this.counters.udpOut++
    return this.sendIpv4(IpProtocol.UDP, src, dst, encodeUdp(d, src, dst))
  }

  // --- TCP (the layer is `this.tcp`; these fill in local addresses) -------------------------

  /** Listens on `port` (any local address unless given). */
  listen(port: number, localAddress = 0, opts?: TcpListenOptions): TcpListener {
    return this.tcp.listen(port, localAddress, opts)
  }

  /** Opens a connection from this host's address (or `localAddress`). */
  connect(remoteAddr: number, remotePort: number, opts: { localAddress?: number; localPort?: number; noDelay?: boolean } = {}): TcpSocket {
    const localAddr = opts.localAddress ?? this.sourceFor(remoteAddr)
    if (localAddr === 0) throw new NetError('NET_NOT_CONFIGURED', `connect to ${formatIpv4(remoteAddr)}:${remotePort}: no IPv4 address configured`)
    return this.tcp.connect({ remoteAddr, remotePort, localAddr, ...(opts.localPort !== undefined ? { localPort: opts.localPort } : {}), ...(opts.noDelay ? { noDelay: true } : {}) })
  }

  // --- ICMP echo ---------------------------------------------------------------------------

  /** Sends an echo request; resolves with the round-trip time in ms, or `undefined` after `timeoutMs`. */
  ping(dst: number, opts: { timeoutMs?: number; size?: number } = {}): Promise<number | undefined> {
    const seq = (this.pingSeq = (this.pingSeq + 1) & 0xffff)
    const id = 0x686b // "hk"
    const key = (id << 16) | seq
    const sent = this.clock.now()
    return new Promise((resolve) => {
      const timer = this.clock.schedule(opts.timeoutMs ?? 1000, () => {
        this.pings.delete(key)
        resolve(undefined)
      })
      this.pings.set(key, () => {
        this.clock.clear(timer)
        this.pings.delete(key)
        resolve(this.clock.now() - sent)
      })
      const payload = new Uint8Array(opts.size ?? 56)
      this.counters.icmpOut++
      this.sendIpv4(IpProtocol.ICMP, this.sourceFor(dst), dst, encodeIcmp({ type: IcmpType.ECHO_REQUEST, code: 0, rest: ((id << 16) | seq) >>> 0, payload }))
    })
  }

  /** Stops timers and drops queued state; the port's handler is left in place but ignores frames. */
  close(): void {
    this.closed = true
    this.tcp.destroyAll()
    for (const p of this.arpPending.values()) this.clock.clear(p.timer)
    this.arpPending.clear()
    this.reassembler.clear()
    for (const s of [...this.udpSockets.values()]) s.close()
  }

  // --- IPv4 output -------------------------------------------------------------------------

  /** The source address to use towards `dst`. */
  sourceFor(_dst: number): number {
    return this.cfg?.address ?? 0
  }

  /**
   * Sends an IPv4 packet (fragmented to the MTU unless `df`); false if it was dropped here
   * (no route, DF too big, ARP queue full). Queued behind ARP counts as sent.
   */
  sendIpv4(protocol: number, src: number, dst: number, payload: Uint8Array, opts: { ttl?: number; df?: boolean; tos?: number } = {}): boolean {
    if (this.closed) return false
    const nextHop = this.nextHop(dst)
    if (nextHop === undefined) {
      this.counters.noRoute++
      return false
    }
    this.ipId = (this.ipId + 1) & 0xffff
    const packet: Ipv4Packet = { tos: opts.tos ?? 0, id: this.ipId, df: opts.df ?? false, mf: false, fragmentOffset: 0, ttl: opts.ttl ?? 64, protocol, src, dst, payload }
    const frags = fragmentIpv4(packet, Math.min(this.mtu, 0xffff))
    if (frags.length === 0) {
      this.counters.dfDrops++
      return false
    }
    if (frags.length > 1) this.counters.fragmentsOut += frags.length
    let ok = true
    for (const f of frags) {
      this.counters.ipOut++
      ok = this.sendToHop(nextHop, encodeIpv4(f)) && ok
    }
    return ok
  }

  /**
   * Like {@link sendIpv4} for a payload written by `fill` at `buf[off]`: when the packet fits the
   * MTU and the next hop's MAC is known, the whole frame is built in one buffer (no copies).
   */
  private sendIpv4Built(protocol: number, src: number, dst: number, length: number, fill: (buf: Uint8Array, off: number) => void): boolean {
    if (!this.closed && IPV4_HEADER + length <= Math.min(this.mtu, 0xffff)) {
      const hop = this.nextHop(dst)
      const entry = hop === undefined || hop === IPV4_BROADCAST ? undefined : this.arpCache.get(hop)
      const mac = hop === IPV4_BROADCAST ? MAC_BROADCAST : entry && entry.expires > this.clock.now() ? entry.mac : undefined
      if (mac !== undefined) {
        const frame = this.allocFrame(ETHERNET_HEADER + IPV4_HEADER + length)
        fill(frame, ETHERNET_HEADER + IPV4_HEADER)
        this.ipId = (this.ipId + 1) & 0xffff
        writeIpv4Header(frame, ETHERNET_HEADER, { tos: 0, id: this.ipId, df: false, mf: false, fragmentOffset: 0, ttl: 64, protocol, src, dst }, length)
        writeEthernetHeader(frame, mac, this.mac, EtherType.IPv4)
        this.counters.ipOut++
        this.counters.framesOut++
        this.counters.bytesOut += frame.length
        this.port.send(frame)
        return true
      }
    }
    const payload = new Uint8Array(length)
    fill(payload, 0)
    return this.sendIpv4(protocol, src, dst, payload)
  }

  /**
   * A zeroed buffer for one outgoing frame. Frames up to {@link SLAB_MAX_FRAME} bytes are cut
   * from a shared {@link SLAB_BYTES} slab (as Node pools small Buffers): a fresh ArrayBuffer per
   * frame costs more than encoding it. Regions never overlap and are handed out once, so the
   * FramePort contract holds (the frame is the port's; nobody else writes it). A receiver that
   * keeps a view pins at most one slab per view (TcpSocket copies what it queues).
   */
  private allocFrame(n: number): Uint8Array {
    if (n > SLAB_MAX_FRAME) return new Uint8Array(n)
    if (this.slabAt + n > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES)
      this.slabAt = 0
    }
    const frame = this.slab.subarray(this.slabAt, this.slabAt + n)
    this.slabAt += (n + 7) & ~7 // the next frame starts 8-byte aligned
    return frame
  }

  /** The link-layer next hop of `dst`: itself on-link, the gateway otherwise; MAC_BROADCAST marks a broadcast. */
  private nextHop(dst: number): number | undefined {
    if (dst === IPV4_BROADCAST) return IPV4_BROADCAST
    const c = this.cfg
    if (!c) return undefined
    if (dst === ((c.address | ~c.netmask) >>> 0) && c.netmask !== 0xffffffff) return IPV4_BROADCAST
    if (((dst ^ c.address) & c.netmask) === 0) return dst
    return c.gateway
  }

  private sendToHop(hop: number, ip: Uint8Array): boolean {
    if (hop === IPV4_BROADCAST) {
      this.sendFrame(MAC_BROADCAST, EtherType.IPv4, ip)
      return true
    }
    const e = this.arpCache.get(hop)
    if (e && e.expires > this.clock.now()) {
      this.sendFrame(e.mac, EtherType.IPv4, ip)
      return true
    }
    let p = this.arpPending.get(hop)
    if (!p) {
      if (this.arpPending.size >= this.arpOpts.maxPending) {
        this.counters.arpQueueDrops++
        return false
      }
      p = { queue: [], tries: 0, timer: undefined as unknown as NetTimer }
      this.arpPending.set(hop, p)
      this.arpRequest(hop, p)
    }
    if (p.queue.length >= this.arpOpts.maxQueued) {
      this.counters.arpQueueDrops++
      return false
    }
    p.queue.push(ip)
    return true
  }

  /** One request now, the next after `retryMs` (the rate limit), giving up after `maxTries`. */
  private arpRequest(target: number, p: ArpPending): void {
    if (p.tries >= this.arpOpts.maxTries) {
      this.arpPending.delete(target)
      this.counters.arpFailed++
      this.counters.arpQueueDrops += p.queue.length
      return
    }
    p.tries++
    this.counters.arpRequestsOut++
    const senderIp = this.cfg?.address ?? 0
    this.sendFrame(MAC_BROADCAST, EtherType.ARP, encodeArp({ op: ArpOp.REQUEST, senderMac: this.mac, senderIp, targetMac: 0, targetIp: target }))
    p.timer = this.clock.schedule(this.arpOpts.retryMs, () => this.arpRequest(target, p))
  }

  private learn(ip: number, mac: number): void {
    if (ip === 0 || ip === IPV4_BROADCAST || mac === MAC_BROADCAST) return
    this.arpCache.delete(ip) // re-insert: Map order is age order
    this.arpCache.set(ip, { mac, expires: this.clock.now() + this.arpOpts.ttlMs })
    while (this.arpCache.size > this.arpOpts.maxEntries) this.arpCache.delete(this.arpCache.keys().next().value!)
    const p = this.arpPending.get(ip)
    if (p) {
      this.clock.clear(p.timer)
      this.arpPending.delete(ip)
      for (const pkt of p.queue) this.sendFrame(mac, EtherType.IPv4, pkt)
    }
  }

  private sendFrame(dst: number, type: number, payload: Uint8Array): void {
    const frame = encodeEthernet({ dst, src: this.mac, type, payload })
    this.counters.framesOut++
    this.counters.bytesOut += frame.length
    this.port.send(frame)
  }

  // --- input -------------------------------------------------------------------------------

  private receive(frame: Uint8Array): void {
    if (this.closed) return
    this.counters.framesIn++
    this.counters.bytesIn += frame.length
    try {
      const eth = decodeEthernet(frame)
      if (eth.dst !== this.mac && eth.dst !== MAC_BROADCAST) {
        this.counters.notForUs++
        return
      }
      if (eth.type === EtherType.ARP) this.receiveArp(eth.payload)
      else if (eth.type === EtherType.IPv4) this.receiveIpv4(eth.payload, eth.dst === MAC_BROADCAST)
    } catch (e) {
      if (!(e instanceof NetMalformedError)) throw e
      this.counters.malformed++
    }
  }

  private receiveArp(payload: Uint8Array): void {
    const a = decodeArp(payload)
    if (a.op === ArpOp.REQUEST) this.counters.arpRequestsIn++
    else this.counters.arpRepliesIn++
    const forUs = this.isLocal(a.targetIp)
    // RFC 826 merge: update an existing entry; add one only when we are the target.
    if (forUs || this.arpCache.has(a.senderIp) || this.arpPending.has(a.senderIp)) this.learn(a.senderIp, a.senderMac)
    if (forUs && a.op === ArpOp.REQUEST) {
      this.sendFrame(a.senderMac, EtherType.ARP, encodeArp({ op: ArpOp.REPLY, senderMac: this.mac, senderIp: a.targetIp, targetMac: a.senderMac, targetIp: a.senderIp }))
    }
  }

  private receiveIpv4(bytes: Uint8Array, linkBroadcast: boolean): void {
    const raw = decodeIpv4(bytes)
    const c = this.cfg
    const broadcast = raw.dst === IPV4_BROADCAST || (c !== undefined && raw.dst === ((c.address | ~c.netmask) >>> 0))
    // Unconfigured hosts take everything (a DHCP offer may be unicast to the offered address).
    if (!broadcast && !this.isLocal(raw.dst) && !this.acceptAny && c !== undefined) {
      this.counters.notForUs++
      return
    }
    this.counters.ipIn++
    const before = this.reassembler.counters.reassembled
    const p = this.reassembler.input(raw)
    if (!p) return
    if (this.reassembler.counters.reassembled !== before) this.counters.reassembled++
    const toBroadcast = broadcast || linkBroadcast
    switch (p.protocol) {
      case IpProtocol.ICMP:
        return this.receiveIcmp(p, toBroadcast)
      case IpProtocol.UDP:
        return this.receiveUdp(p, toBroadcast)
      case IpProtocol.TCP: {
        if (toBroadcast) return
        // The frame is ours (FramePort: it belongs to the handler) and never rewritten, so the
        // payload may stay a view into it; the TCP layer copies what it holds out of order.
        const seg = decodeTcpSegment(p.payload, p.src, p.dst, { copyPayload: false })
        this.counters.tcpIn++
        if (this.tcpIntercept?.(seg, p.src, p.dst)) return
        this.tcp.input(seg, p.src, p.dst)
        return
      }
      default:
        this.counters.unknownProtocol++
        if (!toBroadcast) this.icmpError(p, IcmpUnreachableCode.PROTOCOL)
    }
  }

  private receiveIcmp(p: Ipv4Packet, broadcast: boolean): void {
    const m = decodeIcmp(p.payload)
    this.counters.icmpIn++
    if (m.type === IcmpType.ECHO_REQUEST && !broadcast && this.isLocal(p.dst)) {
      this.counters.echoRequestsIn++
      this.counters.icmpOut++
      this.sendIpv4(IpProtocol.ICMP, p.dst, p.src, encodeIcmp({ type: IcmpType.ECHO_REPLY, code: 0, rest: m.rest, payload: m.payload }))
    } else if (m.type === IcmpType.ECHO_REPLY) {
      this.pings.get((echoId(m) << 16) | echoSeq(m))?.(0)
    }
  }

  private receiveUdp(p: Ipv4Packet, broadcast: boolean): void {
    const d = decodeUdp(p.payload, p.src, p.dst)
    this.counters.udpIn++
    const s = this.udpSockets.get(`${p.dst}:${d.dstPort}`) ?? this.udpSockets.get(`0:${d.dstPort}`)
    if (s) {
      s.onMessage?.(d.payload, { address: p.src, port: d.srcPort, localAddress: p.dst })
      return
    }
    if (this.udpFallback?.(d, p.src, p.dst)) return
    this.counters.udpNoPort++
    if (!broadcast) this.icmpError(p, IcmpUnreachableCode.PORT)
  }

  /** Destination unreachable with the offending header + 8 bytes (RFC 792), never about an ICMP error or a fragment tail (RFC 1122 §3.2.2). */
  private icmpError(p: Ipv4Packet, code: number): void {
    if (p.fragmentOffset !== 0 || p.src === 0 || p.src === IPV4_BROADCAST) return
    const now = this.clock.now()
    this.icmpTokens = Math.min(this.icmpRate, this.icmpTokens + ((now - this.icmpRefill) * this.icmpRate) / 1000)
    this.icmpRefill = now
    if (this.icmpTokens < 1) {
      this.counters.icmpRateLimited++
      return
    }
    this.icmpTokens--
    const original = encodeIpv4({ ...p, payload: p.payload.subarray(0, 8) })
    this.counters.icmpErrorsOut++
    this.counters.icmpOut++
    this.sendIpv4(IpProtocol.ICMP, this.isLocal(p.dst) ? p.dst : this.sourceFor(p.src), p.src, encodeIcmp({ type: IcmpType.DEST_UNREACHABLE, code, rest: 0, payload: original.subarray(0, IPV4_HEADER + Math.min(8, p.payload.length)) }))
  }
}
