/**
 * User-mode networking for a guest, what QEMU's `-netdev user` (slirp) does: a virtual gateway
 * on the guest's wire that answers ARP and ping, runs DHCP and DNS, terminates the guest's TCP
 * in its own {@link Stack} and pipes each connection to a host socket (`node:net`), relays UDP
 * through `node:dgram`, and forwards host ports into the guest (`hostfwd`).
 *
 * The guest's view (QEMU's defaults): network 10.0.2.0/24, gateway 10.0.2.2 (which is the
 * host's loopback: a guest connecting to 10.0.2.2:N reaches 127.0.0.1:N), DNS 10.0.2.3,
 * the guest's lease 10.0.2.15.
 */
import { promises as dnsPromises } from 'node:dns'
import { createSocket, type Socket as DgramSocket } from 'node:dgram'
import { once } from 'node:events'
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net'
import { formatIpv4, parseIpv4, parseMac } from '../addr.js'
import { realClock, type NetClock } from '../clock.js'
import { DhcpServer } from '../dhcp.js'
import { DnsResponder } from '../dns.js'
import { NetError } from '../errors.js'
import type { FramePort } from '../frame-port.js'
import { NatCore, natFlowKey, type NatConnectEvents, type NatUdpFlowHandle, type NatUdpSocket, type NatUplinkConnection } from '../nat-core.js'
import { Stack } from '../stack.js'
import type { TcpSocket } from '../tcp/socket.js'
import type { TcpSegment } from '../tcp/types.js'
import type { UdpDatagram } from '../udp.js'
import { TcpDuplex } from './duplex.js'

/** A host port forwarded into the guest (QEMU's `hostfwd=tcp:127.0.0.1:8080-:80`). */
export interface HostForward {
  protocol: 'tcp'
  /** Host address to listen on. Default 127.0.0.1. */
  hostAddress?: string
  /** Host port; 0 picks one (see {@link UserNet.forwards}). */
  hostPort: number
  /** Guest address; default the first DHCP address (10.0.2.15). */
  guestAddress?: number
  guestPort: number
}

/** Parses QEMU's `[tcp]:[hostaddr]:hostport-[guestaddr]:guestport`. */
export function parseHostForward(spec: string): HostForward {
  const m = /^(tcp|udp)?:([\d.]*):(\d+)-([\d.]*):(\d+)$/.exec(spec)
  if (!m) throw new NetError('NET_NOT_CONFIGURED', `hostfwd "${spec}": expected tcp:[hostaddr]:hostport-[guestaddr]:guestport`)
  if (m[1] === 'udp') throw new NetError('NET_NOT_CONFIGURED', `hostfwd "${spec}": only tcp forwards are supported`)
  const hostPort = Number(m[3])
  const guestPort = Number(m[5])
  // A host port of 0 lets the system pick one (see UserNet.forwards()); a guest port must be a real one.
  if (hostPort > 65535) throw new NetError('NET_NOT_CONFIGURED', `hostfwd "${spec}": host port ${hostPort} is not 0..65535`)
  if (guestPort < 1 || guestPort > 65535) throw new NetError('NET_NOT_CONFIGURED', `hostfwd "${spec}": guest port ${guestPort} is not 1..65535`)
  return {
    protocol: 'tcp',
    hostAddress: m[2] || '127.0.0.1',
    hostPort,
    ...(m[4] ? { guestAddress: parseIpv4(m[4]) } : {}),
    guestPort,
  }
}

export interface UserNetOptions {
  /** The guest's wire: the device model's host side, a QEMU socket netdev, a test link end. */
  port: FramePort
  clock?: NetClock
  /** Default 10.0.2.0 with netmask 255.255.255.0. */
  network?: number
  netmask?: number
  /** Default network + 2 (10.0.2.2): the guest's router, and the host's loopback. */
  gateway?: number
  /** Default network + 3 (10.0.2.3). */
  dnsAddress?: number
  /** First DHCP address. Default network + 15 (10.0.2.15). */
  guestAddress?: number
  /** DHCP pool size. Default 16. */
  poolSize?: number
  /** The gateway's MAC. Default 52:55:0a:00:02:02 (QEMU's). */
  mac?: number
  hostForwards?: (HostForward | string)[]
  /** No outbound flows: only DHCP, DNS, ping and host forwards (QEMU's `restrict=on`). */
  restrict?: boolean
  /** Concurrent TCP + UDP flows per guest; more are refused (RST / dropped). Default 256. */
  maxFlows?: number
  /**
   * Bytes buffered per flow and direction in the NAT (TCP send/receive buffers and stream
   * high-water marks); a guest or host that does not read stalls, it cannot grow memory. Default 256 KiB.
   */
  flowBufferBytes?: number
  /** Idle time after which a UDP flow's host socket is closed. Default 60 000 ms. */
  udpIdleMs?: number
  /** Host connect timeout for guest TCP flows. Default 10 000 ms. */
  connectTimeoutMs?: number
  /** Resolves names for the guest's DNS queries. Default: `node:dns` lookup (the host resolver, /etc/hosts included). */
  lookup?: (name: string) => Promise<number[]>
  /** Maps a guest destination to a host address; default: the gateway is 127.0.0.1, others as they are. */
  hostAddressFor?: (guestDst: number) => string
}

export interface UserNetCounters {
  tcpFlows: number
  udpFlows: number
  forwardedConnections: number
  refusedByLimit: number
  hostConnectFailed: number
  activeFlows: number
}

export class UserNet {
  readonly stack: Stack
  readonly dhcp: DhcpServer
  readonly dns: DnsResponder
  readonly counters: UserNetCounters = { tcpFlows: 0, udpFlows: 0, forwardedConnections: 0, refusedByLimit: 0, hostConnectFailed: 0, activeFlows: 0 }
  readonly gateway: number
  readonly dnsAddress: number
  readonly guestAddress: number
  private readonly opts: UserNetOptions
  private readonly maxFlows: number
  private readonly bufferBytes: number
  private readonly nat: NatCore<HostConnection>
  private readonly servers: { server: Server; forward: HostForward }[] = []
  /** Every host connection a forward accepted (closed on close(), whatever state its flow is in). */
  private readonly hostSockets = new Set<Socket>()
  private closed = false

  private constructor(opts: UserNetOptions) {
    this.opts = opts
    const clock: NetClock = opts.clock ?? realClock
    const network = opts.network ?? parseIpv4('10.0.2.0')
    const netmask = opts.netmask ?? parseIpv4('255.255.255.0')
    this.gateway = opts.gateway ?? (network + 2) >>> 0
    this.dnsAddress = opts.dnsAddress ?? (network + 3) >>> 0
    this.guestAddress = opts.guestAddress ?? (network + 15) >>> 0
    this.maxFlows = opts.maxFlows ?? 256
    this.bufferBytes = opts.flowBufferBytes ?? 256 * 1024
    this.stack = new Stack({
      port: opts.port,
      mac: opts.mac ?? parseMac('52:55:0a:00:02:02'),
      clock,
      ipv4: { address: this.gateway, netmask },
      aliases: [this.dnsAddress],
      acceptAnyDestination: true,
      tcp: { limits: { sendBuffer: this.bufferBytes, recvBuffer: this.bufferBytes, maxConnections: this.maxFlows + 16 } },
    })
    this.nat = new NatCore({
      stack: this.stack,
      clock,
      maxFlows: this.maxFlows,
      // Checked every 2 s: a guest that answers the SYN-ACK with RST frees the host socket then.
      handshakeMs: 75_000,
      handshakePollMs: 2000,
      udpIdleMs: opts.udpIdleMs ?? 60_000,
      counters: this.counters,
      refused: (why) => void (why === 'limit' && this.counters.refusedByLimit++),
      connectFailed: () => void this.counters.hostConnectFailed++,
    })
    this.dhcp = new DhcpServer(this.stack, { poolStart: this.guestAddress, poolSize: opts.poolSize ?? 16, netmask, router: this.gateway, dns: [this.dnsAddress], serverAddress: this.gateway })
    this.dns = new DnsResponder(this.stack, { address: this.dnsAddress, lookup: opts.lookup ?? hostLookup })
    this.stack.tcpIntercept = (seg, src, dst) => this.guestTcp(seg, src, dst)
    this.stack.udpFallback = (d, src, dst) => this.guestUdp(d, src, dst)
  }

  /** Starts the gateway and listens on the host forwards' ports. */
  static async create(opts: UserNetOptions): Promise<UserNet> {
    const nat = new UserNet(opts)
    try {
      for (const f of opts.hostForwards ?? []) await nat.addForward(typeof f === 'string' ? parseHostForward(f) : f)
    } catch (e) {
      await nat.close()
      throw e
    }
    return nat
  }

  /** The host forwards with the ports actually bound. */
  forwards(): Required<HostForward>[] {
    return this.servers.map(({ server, forward }) => ({
      protocol: 'tcp',
      hostAddress: forward.hostAddress ?? '127.0.0.1',
      hostPort: (server.address() as { port: number }).port,
      guestAddress: forward.guestAddress ?? this.guestAddress,
      guestPort: forward.guestPort,
    }))
  }

  /** Bytes the NAT holds for its TCP flows right now (stream buffers and TCP queues, both directions). */
  bufferedBytes(): number {
    let n = 0
    for (const { conn } of this.nat.tcpFlows.values()) {
      const { host, duplex } = conn
      n += host.writableLength + host.readableLength
      if (duplex) n += duplex.writableLength + duplex.readableLength + duplex.socket.bufferedAmount + duplex.socket.readableLength
    }
    return n
  }

  /** Listens on a host port and connects each accepted host connection into the guest. */
  async addForward(forward: HostForward): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (host) => {
      this.hostSockets.add(host)
      host.once('close', () => this.hostSockets.delete(host))
      this.forwardIn(host, forward)
    })
    server.listen(forward.hostPort, forward.hostAddress ?? '127.0.0.1')
    await once(server, 'listening')
    this.servers.push({ server, forward })
  }

  /** Closes forwards, flows and the gateway. */
  async close(): Promise<void> {
    this.closed = true
    const closing = this.servers.map(({ server }) => new Promise((r) => server.close(r)))
    this.nat.close()
    for (const h of this.hostSockets) h.destroy()
    await Promise.all(closing) // resolves once the forwarded connections just destroyed are gone
    this.dhcp.close()
    this.dns.close()
    this.stack.close()
  }

  private hostAddressFor(dst: number): string {
    if (this.opts.hostAddressFor) return this.opts.hostAddressFor(dst)
    return dst === this.gateway ? '127.0.0.1' : formatIpv4(dst)
  }

  // --- guest → host TCP ----------------------------------------------------------------------

  /**
   * A guest SYN for a new flow is held while the NAT connects to the host; on success it is
   * fed to the TCP layer (which answers SYN-ACK), on failure the guest gets a RST — so the
   * guest sees "connection refused" exactly when the host refused.
   */
  private guestTcp(seg: TcpSegment, src: number, dst: number): boolean {
    return this.nat.guestSyn(
      seg,
      src,
      dst,
      () => !this.closed && !this.opts.restrict && dst !== this.dnsAddress,
      (events) => HostConnection.connect(this.hostAddressFor(dst), seg.dstPort, this.opts.connectTimeoutMs ?? 10_000, this.bufferBytes, events),
    )
  }

  // --- host → guest TCP (hostfwd) ------------------------------------------------------------

  private forwardIn(host: Socket, forward: HostForward): void {
    if (this.closed || this.nat.flowCount >= this.maxFlows) {
      this.counters.refusedByLimit++
      host.destroy()
      return
    }
    host.on('error', () => {})
    const guest = forward.guestAddress ?? this.dhcp.leases()[0]?.address ?? this.guestAddress
    let sock: ReturnType<Stack['connect']>
    try {
      sock = this.stack.connect(guest, forward.guestPort, { localAddress: this.gateway })
    } catch {
      // The gateway's TCP is at a limit (connections, ephemeral ports): refuse this host
      // connection, never throw out of the server's handler (that would end the host process).
      this.counters.refusedByLimit++
      host.destroy()
      return
    }
    this.counters.forwardedConnections++
    this.nat.adopt(natFlowKey(guest, forward.guestPort, this.gateway, sock.localPort), new HostConnection(host, this.bufferBytes), sock)
  }

  // --- guest → host UDP ----------------------------------------------------------------------

  private guestUdp(d: UdpDatagram, src: number, dst: number): boolean {
    if (this.closed || this.opts.restrict || dst === this.dnsAddress || this.stack.isLocal(dst) && dst !== this.gateway) return false
    if (dst === 0xffffffff || (dst & 0xe0000000) === 0xe0000000) return true // broadcast/multicast: swallowed
    this.nat.guestUdp(src, d.srcPort, d.payload, dst, d.dstPort, (flow) => new HostUdpSocket(flow, this.gateway, (a) => this.hostAddressFor(a)))
    return true
  }
}

/**
 * A flow's host socket (`node:net`): connected by the NAT for a guest SYN, or accepted by a host
 * forward. Joined: piped both ways with backpressure; half-closes pass through; an abort on one
 * side aborts the other.
 */
class HostConnection implements NatUplinkConnection {
  duplex: TcpDuplex | undefined

  constructor(
    readonly host: Socket,
    private readonly bufferBytes: number,
  ) {}

  /** Connects to the host for a guest SYN; `events` hears of the outcome. */
  static connect(hostAddress: string, port: number, timeoutMs: number, bufferBytes: number, events: NatConnectEvents): HostConnection {
    const host = netConnect({ host: hostAddress, port, allowHalfOpen: true, timeout: timeoutMs })
    host.pause()
    let connected = false
    // Reported only until connected (a host error before the join is left to the handshake watch).
    const fail = () => {
      if (connected) return
      host.destroy()
      events.closed()
    }
    host.once('timeout', fail)
    host.once('error', fail)
    host.once('connect', () => {
      connected = true
      host.off('timeout', fail)
      host.setTimeout(0)
      events.connected()
    })
    return new HostConnection(host, bufferBytes)
  }

  abort(): void {
    this.host.destroy()
    if (!this.duplex?.destroyed) this.duplex?.destroy()
  }

  join(guest: TcpSocket, ended: () => void): void {
    const duplex = new TcpDuplex(guest, { highWaterMark: this.bufferBytes })
    this.duplex = duplex
    const host = this.host
    host.on('error', () => duplex.destroy())
    duplex.on('error', () => host.destroy())
    duplex.pipe(host)
    host.pipe(duplex)
    host.resume()
    const orderly = (s: Socket | TcpDuplex) => s.readableEnded && s.writableFinished
    host.on('close', () => {
      if (!orderly(host)) duplex.destroy()
      if (duplex.destroyed) ended()
    })
    duplex.on('close', () => {
      if (!orderly(duplex)) host.destroy()
      if (host.destroyed) ended()
    })
  }
}

/** A UDP flow's host socket (`node:dgram`); the gateway's own address stands for the host's loopback. */
class HostUdpSocket implements NatUdpSocket {
  private readonly socket: DgramSocket

  constructor(flow: NatUdpFlowHandle, gateway: number, private readonly hostAddressFor: (guestDst: number) => string) {
    this.socket = createSocket('udp4')
    this.socket.on('error', () => flow.end())
    this.socket.bind(0)
    this.socket.on('message', (msg, rinfo) => flow.deliver(new Uint8Array(msg), rinfo.address === '127.0.0.1' ? gateway : parseIpv4(rinfo.address), rinfo.port))
  }

  send(payload: Uint8Array, dst: number, dstPort: number): void {
    this.socket.send(payload, dstPort, this.hostAddressFor(dst))
  }

  close(): void {
    try {
      this.socket.close()
    } catch {
      // already closed
    }
  }
}

/** The host resolver (getaddrinfo, so /etc/hosts too), IPv4 only. */
async function hostLookup(name: string): Promise<number[]> {
  const all = await dnsPromises.lookup(name, { family: 4, all: true })
  return all.map((a) => parseIpv4(a.address))
}
