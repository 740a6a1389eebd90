/**
 * DHCP client and server (RFC 2131) over a {@link Stack}. The client walks
 * INIT → SELECTING → REQUESTING → BOUND, renews at T1 (unicast) and rebinds at T2 (broadcast),
 * drops the address when the lease expires, and applies a static fallback if no lease arrives
 * in time. The server hands out addresses from a pool. All timers go through the stack's clock.
 */
import { formatIpv4, IPV4_BROADCAST } from './addr.js'
import type { NetTimer } from './clock.js'
import { decodeDhcp, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessageType, encodeDhcp, type DhcpMessage, type DhcpOptions } from './dhcp-codec.js'
import { NetMalformedError } from './errors.js'
import type { Ipv4Config, Stack, UdpSocket } from './stack.js'

export interface DhcpLease extends Ipv4Config {
  /** The server that granted it (option 54). */
  server: number
  leaseSeconds: number
  /** Clock time the lease was granted. */
  obtainedAt: number
}

export type DhcpClientState = 'init' | 'selecting' | 'requesting' | 'bound' | 'renewing' | 'rebinding' | 'fallback' | 'stopped'

export interface DhcpClientOptions {
  hostname?: string
  /** Applied when no lease arrived within `fallbackAfterMs`; the client then stops asking. */
  fallback?: Ipv4Config
  /** Default 10 000 ms. */
  fallbackAfterMs?: number
  /** First retransmission interval, doubled up to 64 s (RFC 2131 §4.1). Default 4000 ms. */
  retryMs?: number
}

const BROADCAST_FLAG = 0x8000
const PARAMS = [1, 3, 6, 12, 15, 51, 54, 58, 59]

export class DhcpClient {
  state: DhcpClientState = 'stopped'
  lease: DhcpLease | undefined
  /** Called when a lease is obtained or renewed. */
  onBound: ((lease: DhcpLease) => void) | undefined
  /** Called when the static fallback is applied. */
  onFallback: ((cfg: Ipv4Config) => void) | undefined
  /** Called when the lease expired or a NAK took the address away. */
  onLost: (() => void) | undefined
  private socket: UdpSocket | undefined
  private xid = 0
  private timer: NetTimer | undefined
  private fallbackTimer: NetTimer | undefined
  private interval = 0
  private offer: DhcpMessage | undefined
  private readonly waiters: ((cfg: Ipv4Config) => void)[] = []

  constructor(
    private readonly stack: Stack,
    private readonly opts: DhcpClientOptions = {},
  ) {}

  /** Starts from INIT (binds UDP port 68). */
  start(): void {
    if (this.state !== 'stopped') return
    this.socket = this.stack.bindUdp(DHCP_CLIENT_PORT)
    this.socket.onMessage = (payload) => this.receive(payload)
    if (this.opts.fallback) this.fallbackTimer = this.stack.clock.schedule(this.opts.fallbackAfterMs ?? 10_000, () => this.applyFallback())
    this.init()
  }

  /** Resolves with the configuration once bound (or fallen back). */
  ready(): Promise<Ipv4Config> {
    if ((this.state === 'bound' || this.state === 'renewing' || this.state === 'rebinding') && this.lease) return Promise.resolve(this.lease)
    if (this.state === 'fallback' && this.opts.fallback) return Promise.resolve(this.opts.fallback)
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Stops all timers; with `release`, tells the server and removes the address. */
  stop(release = false): void {
    if (release && this.lease && this.socket) {
      this.send(DhcpMessageType.RELEASE, { serverId: this.lease.server }, this.lease.address, this.lease.server)
      this.stack.configure(undefined)
      this.lease = undefined
    }
    this.clearTimers()
    this.socket?.close()
    this.socket = undefined
    this.state = 'stopped'
  }

  private clearTimers(): void {
    if (this.timer) this.stack.clock.clear(this.timer)
    if (this.fallbackTimer) this.stack.clock.clear(this.fallbackTimer)
    this.timer = this.fallbackTimer = undefined
  }

  private init(): void {
    this.state = 'selecting'
    this.xid = this.stack.random32() >>> 0
    this.interval = this.opts.retryMs ?? 4000
    this.offer = undefined
    this.discover()
  }

  private discover(): void {
    this.send(DhcpMessageType.DISCOVER, {}, 0, IPV4_BROADCAST)
    this.retransmit(() => this.discover())
  }

  private retransmit(fn: () => void): void {
    if (this.timer) this.stack.clock.clear(this.timer)
    this.timer = this.stack.clock.schedule(this.interval, fn)
    this.interval = Math.min(this.interval * 2, 64_000)
  }

  private send(type: number, extra: DhcpOptions, ciaddr: number, dst: number): void {
    const options: DhcpOptions = { messageType: type, parameterRequest: PARAMS, ...extra }
    if (this.opts.hostname) options.hostname = this.opts.hostname
    const m: DhcpMessage = { op: 1, xid: this.xid, secs: 0, flags: ciaddr === 0 ? BROADCAST_FLAG : 0, ciaddr, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: this.stack.mac, options }
    this.socket?.send(encodeDhcp(m), dst, DHCP_SERVER_PORT, { src: ciaddr })
  }

  private receive(payload: Uint8Array): void {
    let m: DhcpMessage
    try {
      m = decodeDhcp(payload)
    } catch (e) {
      if (e instanceof NetMalformedError) return
      throw e
    }
    if (m.op !== 2 || m.xid !== this.xid || m.chaddr !== this.stack.mac) return
    const type = m.options.messageType
    if (type === DhcpMessageType.OFFER && this.state === 'selecting' && m.options.serverId !== undefined) {
      // Take the first offer (RFC 2131 §4.4.1 lets the client choose).
      this.offer = m
      this.state = 'requesting'
      this.interval = this.opts.retryMs ?? 4000
      this.request(0)
    } else if (type === DhcpMessageType.ACK && (this.state === 'requesting' || this.state === 'renewing' || this.state === 'rebinding')) {
      this.bind(m)
    } else if (type === DhcpMessageType.NAK && (this.state === 'requesting' || this.state === 'renewing' || this.state === 'rebinding')) {
      if (this.lease) this.lose()
      this.init()
    }
  }

  private request(tries: number): void {
    const o = this.offer!
    if (tries >= 4) return this.init() // no ACK: start over (RFC 2131 §4.4.1)
    this.send(DhcpMessageType.REQUEST, { requestedIp: o.yiaddr, serverId: o.options.serverId! }, 0, IPV4_BROADCAST)
    this.retransmit(() => this.request(tries + 1))
  }

  private bind(m: DhcpMessage): void {
    const o = m.options
    const first = m.yiaddr >>> 24
    const netmask = o.subnetMask ?? (first < 128 ? 0xff000000 : first < 192 ? 0xffff0000 : 0xffffff00) >>> 0
    const leaseSeconds = o.leaseTime ?? 3600
    const lease: DhcpLease = {
      address: m.yiaddr,
      netmask,
      ...(o.router?.[0] !== undefined ? { gateway: o.router[0] } : {}),
      dns: o.dns ?? [],
      server: o.serverId ?? this.offer?.options.serverId ?? 0,
      leaseSeconds,
      obtainedAt: this.stack.clock.now(),
    }
    this.lease = lease
    this.state = 'bound'
    if (this.fallbackTimer) this.stack.clock.clear(this.fallbackTimer)
    this.fallbackTimer = undefined
    this.stack.configure({ address: lease.address, netmask: lease.netmask, ...(lease.gateway !== undefined ? { gateway: lease.gateway } : {}), dns: lease.dns ?? [] })
    // T1 = 0.5 × lease, T2 = 0.875 × lease unless the server says otherwise (RFC 2131 §4.4.5).
    const t1 = (o.renewalTime ?? leaseSeconds * 0.5) * 1000
    if (this.timer) this.stack.clock.clear(this.timer)
    this.timer = this.stack.clock.schedule(t1, () => this.renew())
    this.onBound?.(lease)
    for (const w of this.waiters.splice(0)) w(lease)
  }

  private renew(): void {
    const l = this.lease!
    const now = this.stack.clock.now()
    const t2 = l.obtainedAt + l.leaseSeconds * 875
    const end = l.obtainedAt + l.leaseSeconds * 1000
    if (now >= end) return this.expire()
    const rebinding = now >= t2
    this.state = rebinding ? 'rebinding' : 'renewing'
    this.xid = this.stack.random32() >>> 0
    // RENEWING: unicast to the server; REBINDING: broadcast. ciaddr set, no requested-IP option (§4.3.2).
    this.send(DhcpMessageType.REQUEST, {}, l.address, rebinding ? IPV4_BROADCAST : l.server)
    const next = rebinding ? end : t2
    // Retransmit at half the time left to the next stage, at least 1 s apart (§4.4.5 says 60 s for real leases).
    const wait = Math.max(Math.min(1000, next - now), (next - now) / 2)
    if (this.timer) this.stack.clock.clear(this.timer)
    this.timer = this.stack.clock.schedule(wait, () => this.renew())
  }

  private expire(): void {
    this.lose()
    this.init()
  }

  private lose(): void {
    this.lease = undefined
    this.stack.configure(undefined)
    this.onLost?.()
  }

  private applyFallback(): void {
    this.fallbackTimer = undefined
    if (this.state === 'bound' || !this.opts.fallback) return
    if (this.timer) this.stack.clock.clear(this.timer)
    this.timer = undefined
    this.socket?.close()
    this.socket = undefined
    this.state = 'fallback'
    this.stack.configure(this.opts.fallback)
    this.onFallback?.(this.opts.fallback)
    for (const w of this.waiters.splice(0)) w(this.opts.fallback)
  }
}

export interface DhcpServerOptions {
  /** First address of the pool. */
  poolStart: number
  /** Addresses in the pool. */
  poolSize: number
  netmask: number
  router?: number
  dns?: number[]
  /** Default 86 400 s. */
  leaseSeconds?: number
  /** The server identifier and reply source; defaults to the stack's address. */
  serverAddress?: number
}

interface Binding {
  mac: number
  address: number
  expires: number
  /** An OFFER not yet REQUESTed holds the address only briefly. */
  offered: boolean
}

/** A DHCP server handing out a pool (the NAT's 10.0.2.15…). */
export class DhcpServer {
  private readonly socket: UdpSocket
  private readonly byMac = new Map<number, Binding>()
  private readonly byAddr = new Map<number, Binding>()
  private readonly leaseSeconds: number
  readonly counters = { discover: 0, offer: 0, request: 0, ack: 0, nak: 0, release: 0, malformed: 0, exhausted: 0 }

  constructor(
    private readonly stack: Stack,
    private readonly opts: DhcpServerOptions,
  ) {
    this.leaseSeconds = opts.leaseSeconds ?? 86_400
    this.socket = stack.bindUdp(DHCP_SERVER_PORT)
    this.socket.onMessage = (p) => this.receive(p)
  }

  /** The current leases (for a `net` command). */
  leases(): { mac: number; address: number; expiresInMs: number }[] {
    const now = this.stack.clock.now()
    return [...this.byMac.values()].filter((b) => !b.offered && b.expires > now).map((b) => ({ mac: b.mac, address: b.address, expiresInMs: b.expires - now }))
  }

  close(): void {
    this.socket.close()
  }

  private get server(): number {
    const s = this.opts.serverAddress ?? this.stack.ipv4?.address
    if (s === undefined) throw new NetMalformedError('DHCP server', 'no server address: configure the stack or pass serverAddress')
    return s
  }

  private inPool(a: number): boolean {
    return a >= this.opts.poolStart && a < this.opts.poolStart + this.opts.poolSize
  }

  private usable(a: number, mac: number): boolean {
    const b = this.byAddr.get(a)
    return this.inPool(a) && (!b || b.mac === mac || b.expires <= this.stack.clock.now())
  }

  private pick(m: DhcpMessage): number | undefined {
    const mine = this.byMac.get(m.chaddr)
    if (mine && this.usable(mine.address, m.chaddr)) return mine.address
    const want = m.options.requestedIp
    if (want !== undefined && this.usable(want, m.chaddr)) return want
    for (let i = 0; i < this.opts.poolSize; i++) if (this.usable(this.opts.poolStart + i, m.chaddr)) return this.opts.poolStart + i
    return undefined
  }

  private assign(mac: number, address: number, offered: boolean): void {
    const old = this.byMac.get(mac)
    if (old) this.byAddr.delete(old.address)
    const prev = this.byAddr.get(address)
    if (prev) this.byMac.delete(prev.mac)
    const b: Binding = { mac, address, offered, expires: this.stack.clock.now() + (offered ? 60_000 : this.leaseSeconds * 1000) }
    this.byMac.set(mac, b)
    this.byAddr.set(address, b)
  }

  private receive(payload: Uint8Array): void {
    let m: DhcpMessage
    try {
      m = decodeDhcp(payload)
    } catch (e) {
      if (!(e instanceof NetMalformedError)) throw e
      this.counters.malformed++
      return
    }
    if (m.op !== 1) return
    switch (m.options.messageType) {
      case DhcpMessageType.DISCOVER: {
        this.counters.discover++
        const a = this.pick(m)
        if (a === undefined) {
          this.counters.exhausted++
          return
        }
        this.assign(m.chaddr, a, true)
        this.counters.offer++
        return this.reply(m, DhcpMessageType.OFFER, a)
      }
      case DhcpMessageType.REQUEST: {
        this.counters.request++
        if (m.options.serverId !== undefined && m.options.serverId !== this.server) return // the client chose another server
        const want = m.options.requestedIp ?? m.ciaddr
        if (want !== 0 && this.usable(want, m.chaddr)) {
          this.assign(m.chaddr, want, false)
          this.counters.ack++
          return this.reply(m, DhcpMessageType.ACK, want)
        }
        this.counters.nak++
        return this.reply(m, DhcpMessageType.NAK, 0)
      }
      case DhcpMessageType.RELEASE:
      case DhcpMessageType.DECLINE: {
        this.counters.release++
        const b = this.byMac.get(m.chaddr)
        if (b) {
          this.byMac.delete(b.mac)
          this.byAddr.delete(b.address)
        }
        return
      }
    }
  }

  private reply(req: DhcpMessage, type: number, yiaddr: number): void {
    const options: DhcpOptions =
      type === DhcpMessageType.NAK
        ? { messageType: type, serverId: this.server }
        : {
            messageType: type,
            serverId: this.server,
            leaseTime: this.leaseSeconds,
            subnetMask: this.opts.netmask,
            ...(this.opts.router !== undefined ? { router: [this.opts.router] } : {}),
            ...(this.opts.dns?.length ? { dns: this.opts.dns } : {}),
          }
    const m: DhcpMessage = { op: 2, xid: req.xid, secs: 0, flags: req.flags, ciaddr: req.ciaddr, yiaddr, siaddr: this.server, giaddr: 0, chaddr: req.chaddr, options }
    // A client with an address gets a unicast; one without (or a NAK) a broadcast (RFC 2131 §4.1).
    const dst = req.ciaddr !== 0 && type !== DhcpMessageType.NAK ? req.ciaddr : IPV4_BROADCAST
    if (dst !== IPV4_BROADCAST && !this.stack.ipv4) throw new NetMalformedError('DHCP server', `cannot unicast to ${formatIpv4(dst)} without an address`)
    this.socket.send(encodeDhcp(m), dst, DHCP_CLIENT_PORT, { src: this.server })
  }
}
