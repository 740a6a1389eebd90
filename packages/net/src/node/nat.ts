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
import { realClock, type NetClock, type NetTimer } from '../clock.js'
import { DhcpServer } from '../dhcp.js'
import { DnsResponder } from '../dns.js'
import { NetError } from '../errors.js'
import type { FramePort } from '../frame-port.js'
import { IpProtocol } from '../ipv4.js'
import { Stack } from '../stack.js'
import { encodeTcpSegment } from '../tcp/segment.js'
import { TcpFlag, type TcpSegment } from '../tcp/types.js'
import type { TcpListener } from '../tcp/layer.js'
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

interface TcpFlow {
  host: Socket
  duplex: TcpDuplex | undefined
  /** Until the guest's handshake completes (it may vanish after our SYN-ACK). */
  timer: NetTimer | undefined
  listenerKey: string | undefined
}

interface UdpFlow {
  socket: DgramSocket
  guestAddr: number
  guestPort: number
  timer: NetTimer
}

const flowKey = (guestAddr: number, guestPort: number, remoteAddr: number, remotePort: number) => `${guestAddr}:${guestPort}>${remoteAddr}:${remotePort}`

export class UserNet {
  readonly stack: Stack
  readonly dhcp: DhcpServer
  readonly dns: DnsResponder
  readonly counters: UserNetCounters = { tcpFlows: 0, udpFlows: 0, forwardedConnections: 0, refusedByLimit: 0, hostConnectFailed: 0, activeFlows: 0 }
  readonly gateway: number
  readonly dnsAddress: number
  readonly guestAddress: number
  private readonly clock: NetClock
  private readonly opts: UserNetOptions
  private readonly maxFlows: number
  private readonly bufferBytes: number
  private readonly tcpFlows = new Map<string, TcpFlow>()
  private readonly pendingSyn = new Set<string>()
  private readonly listeners = new Map<string, { listener: TcpListener; refs: number }>()
  private readonly udpFlows = new Map<string, UdpFlow>()
  private readonly servers: { server: Server; forward: HostForward }[] = []
  /** Every host connection a forward accepted (closed on close(), whatever state its flow is in). */
  private readonly hostSockets = new Set<Socket>()
  private closed = false

  private constructor(opts: UserNetOptions) {
    this.opts = opts
    this.clock = opts.clock ?? realClock
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
      clock: this.clock,
      ipv4: { address: this.gateway, netmask },
      aliases: [this.dnsAddress],
      acceptAnyDestination: true,
      tcp: { limits: { sendBuffer: this.bufferBytes, recvBuffer: this.bufferBytes, maxConnections: this.maxFlows + 16 } },
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
    for (const f of this.tcpFlows.values()) {
      n += f.host.writableLength + f.host.readableLength
      if (f.duplex) n += f.duplex.writableLength + f.duplex.readableLength + f.duplex.socket.bufferedAmount + f.duplex.socket.readableLength
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
    for (const f of this.tcpFlows.values()) {
      f.host.destroy()
      f.duplex?.destroy()
      if (f.timer) this.clock.clear(f.timer)
    }
    this.tcpFlows.clear()
    for (const h of this.hostSockets) h.destroy()
    await Promise.all(closing) // resolves once the forwarded connections just destroyed are gone
    for (const f of this.udpFlows.values()) this.closeUdp(f)
    for (const l of this.listeners.values()) l.listener.close()
    this.listeners.clear()
    this.dhcp.close()
    this.dns.close()
    this.stack.close()
  }

  private get flowCount(): number {
    return this.tcpFlows.size + this.pendingSyn.size + this.udpFlows.size
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
    const key = flowKey(src, seg.srcPort, dst, seg.dstPort)
    if (this.tcpFlows.has(key)) return false
    if (this.pendingSyn.has(key)) return true // a retransmitted SYN while we connect
    if ((seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) !== TcpFlag.SYN) return false // the layer answers strays
    if (this.closed || this.opts.restrict || dst === this.dnsAddress || this.flowCount >= this.maxFlows) {
      if (!this.closed && !this.opts.restrict && dst !== this.dnsAddress) this.counters.refusedByLimit++
      this.reset(seg, src, dst)
      return true
    }
    this.pendingSyn.add(key)
    const host = netConnect({ host: this.hostAddressFor(dst), port: seg.dstPort, allowHalfOpen: true, timeout: this.opts.connectTimeoutMs ?? 10_000 })
    host.pause()
    const fail = () => {
      if (!this.pendingSyn.delete(key)) return
      this.counters.hostConnectFailed++
      host.destroy()
      this.reset(seg, src, dst)
    }
    host.once('timeout', fail)
    host.once('error', fail)
    host.once('connect', () => {
      host.off('timeout', fail)
      host.setTimeout(0)
      if (!this.pendingSyn.delete(key) || this.closed) return void host.destroy()
      const listenerKey = `${dst}:${seg.dstPort}`
      let l = this.listeners.get(listenerKey)
      if (!l) {
        const listener = this.stack.listen(seg.dstPort, dst)
        listener.onConnection = (sock) => this.guestAccepted(sock)
        l = { listener, refs: 0 }
        this.listeners.set(listenerKey, l)
      }
      l.refs++
      const flow: TcpFlow = { host, duplex: undefined, listenerKey, timer: undefined }
      this.watchHandshake(key, flow, src, seg.srcPort, dst, seg.dstPort, this.clock.now() + 75_000)
      this.tcpFlows.set(key, flow)
      this.counters.tcpFlows++
      this.counters.activeFlows = this.flowCount
      this.stack.tcp.input(seg, src, dst)
    })
    return true
  }

  /**
   * Until the guest completes the handshake, checks every 2 s that the TCP layer still holds the
   * half-open connection (a guest that answers our SYN-ACK with RST, or never answers, ends it),
   * and gives up after 75 s: the host socket and the flow slot are not held for nothing.
   */
  private watchHandshake(key: string, flow: TcpFlow, src: number, srcPort: number, dst: number, dstPort: number, deadline: number): void {
    flow.timer = this.clock.schedule(2000, () => {
      flow.timer = undefined
      if (flow.duplex || this.tcpFlows.get(key) !== flow) return
      const alive = this.stack.tcp.connections.some((c) => c.remoteAddr === src && c.remotePort === srcPort && c.localAddr === dst && c.localPort === dstPort)
      if (!alive || this.clock.now() >= deadline) this.endTcpFlow(key, flow)
      else this.watchHandshake(key, flow, src, srcPort, dst, dstPort, deadline)
    })
  }

  private guestAccepted(sock: import('../tcp/socket.js').TcpSocket): void {
    const key = flowKey(sock.remoteAddr, sock.remotePort, sock.localAddr, sock.localPort)
    const flow = this.tcpFlows.get(key)
    if (!flow || flow.duplex) return void sock.abort()
    if (flow.timer) this.clock.clear(flow.timer)
    flow.timer = undefined
    this.splice(key, flow, new TcpDuplex(sock, { highWaterMark: this.bufferBytes }))
  }

  /** RST|ACK for a SYN nobody will take (RFC 9293 §3.10.7.1). */
  private reset(seg: TcpSegment, src: number, dst: number): void {
    const rst: TcpSegment = { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: 0, ack: (seg.seq + 1 + seg.payload.length) >>> 0, flags: TcpFlag.RST | TcpFlag.ACK, window: 0, urgent: 0, options: {}, payload: new Uint8Array(0) }
    this.stack.sendIpv4(IpProtocol.TCP, dst, src, encodeTcpSegment(rst, dst, src))
  }

  // --- host → guest TCP (hostfwd) ------------------------------------------------------------

  private forwardIn(host: Socket, forward: HostForward): void {
    if (this.closed || this.flowCount >= this.maxFlows) {
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
    const key = flowKey(guest, forward.guestPort, this.gateway, sock.localPort)
    const flow: TcpFlow = { host, duplex: undefined, listenerKey: undefined, timer: undefined }
    this.tcpFlows.set(key, flow)
    this.counters.forwardedConnections++
    this.counters.activeFlows = this.flowCount
    this.splice(key, flow, new TcpDuplex(sock, { highWaterMark: this.bufferBytes }))
  }

  /** Pipes both ways with backpressure; half-closes pass through; an abort on one side aborts the other. */
  private splice(key: string, flow: TcpFlow, duplex: TcpDuplex): void {
    flow.duplex = duplex
    const host = flow.host
    host.on('error', () => duplex.destroy())
    duplex.on('error', () => host.destroy())
    duplex.pipe(host)
    host.pipe(duplex)
    host.resume()
    const orderly = (s: Socket | TcpDuplex) => s.readableEnded && s.writableFinished
    host.on('close', () => {
      if (!orderly(host)) duplex.destroy()
      if (duplex.destroyed) this.endTcpFlow(key, flow)
    })
    duplex.on('close', () => {
      if (!orderly(duplex)) host.destroy()
      if (host.destroyed) this.endTcpFlow(key, flow)
    })
  }

  private endTcpFlow(key: string, flow: TcpFlow): void {
    if (this.tcpFlows.get(key) !== flow) return
    this.tcpFlows.delete(key)
    if (flow.timer) this.clock.clear(flow.timer)
    flow.host.destroy()
    if (!flow.duplex?.destroyed) flow.duplex?.destroy()
    if (flow.listenerKey) {
      const l = this.listeners.get(flow.listenerKey)
      if (l && --l.refs === 0) {
        l.listener.close()
        this.listeners.delete(flow.listenerKey)
      }
    }
    this.counters.activeFlows = this.flowCount
  }

  // --- guest → host UDP ----------------------------------------------------------------------

  private guestUdp(d: UdpDatagram, src: number, dst: number): boolean {
    if (this.closed || this.opts.restrict || dst === this.dnsAddress || this.stack.isLocal(dst) && dst !== this.gateway) return false
    if (dst === 0xffffffff || (dst & 0xe0000000) === 0xe0000000) return true // broadcast/multicast: swallowed
    const key = `${src}:${d.srcPort}`
    let flow = this.udpFlows.get(key)
    if (!flow) {
      if (this.flowCount >= this.maxFlows) {
        this.counters.refusedByLimit++
        return true
      }
      const socket = createSocket('udp4')
      socket.on('error', () => this.closeUdp(flow!))
      socket.bind(0)
      const f: UdpFlow = { socket, guestAddr: src, guestPort: d.srcPort, timer: this.clock.schedule(this.opts.udpIdleMs ?? 60_000, () => this.closeUdp(f)) }
      socket.on('message', (msg, rinfo) => {
        const from = rinfo.address === '127.0.0.1' ? this.gateway : parseIpv4(rinfo.address)
        this.touchUdp(f)
        this.stack.sendUdp({ srcPort: rinfo.port, dstPort: f.guestPort, payload: new Uint8Array(msg) }, from, f.guestAddr)
      })
      flow = f
      this.udpFlows.set(key, f)
      this.counters.udpFlows++
      this.counters.activeFlows = this.flowCount
    }
    this.touchUdp(flow)
    flow.socket.send(d.payload, d.dstPort, this.hostAddressFor(dst))
    return true
  }

  private touchUdp(f: UdpFlow): void {
    this.clock.clear(f.timer)
    f.timer = this.clock.schedule(this.opts.udpIdleMs ?? 60_000, () => this.closeUdp(f))
  }

  private closeUdp(f: UdpFlow): void {
    const key = `${f.guestAddr}:${f.guestPort}`
    if (this.udpFlows.get(key) !== f) return
    this.udpFlows.delete(key)
    this.clock.clear(f.timer)
    try {
      f.socket.close()
    } catch {
      // already closed
    }
    this.counters.activeFlows = this.flowCount
  }
}

/** The host resolver (getaddrinfo, so /etc/hosts too), IPv4 only. */
async function hostLookup(name: string): Promise<number[]> {
  const all = await dnsPromises.lookup(name, { family: 4, all: true })
  return all.map((a) => parseIpv4(a.address))
}
