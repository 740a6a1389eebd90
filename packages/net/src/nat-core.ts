/**
 * The flow bookkeeping of a socket-level NAT, shared by the portable {@link Gateway} (out through
 * an uplink `Stack`) and the Node `UserNet` (out through host sockets): portable, no Node imports.
 *
 * TCP: a guest SYN for a new flow is held (a *pending SYN*; retransmits are swallowed) while the
 * uplink connects to the same destination and port. Once it does, a listener at that destination
 * (one per destination, shared by refcount) takes the SYN, the gateway's TCP answers SYN-ACK as
 * that address, and the accepted guest connection is joined to the uplink's. The uplink failing
 * first answers the SYN with RST|ACK (RFC 9293 §3.10.7.1): the guest sees "connection refused"
 * exactly then. A guest that never completes the handshake loses the flow after a timeout.
 *
 * UDP: one uplink socket per guest address and port, closed after an idle time; answers come
 * back from the address and port they came from.
 *
 * How an uplink connection is opened and joined is the {@link NatUplinkConnection} the owner
 * passes in; admission policy (which destinations, counters beyond these) stays with the owner.
 */
import type { NetClock, NetTimer } from './clock.js'
import { IpProtocol } from './ipv4.js'
import type { Stack } from './stack.js'
import { encodeTcpSegment } from './tcp/segment.js'
import type { TcpListener } from './tcp/layer.js'
import type { TcpSocket } from './tcp/socket.js'
import { TcpFlag, type TcpSegment } from './tcp/types.js'

/** One TCP flow's uplink side, as an uplink opens it. */
export interface NatUplinkConnection {
  /** Ends this side and the joined guest side, if any, at once (idempotent). */
  abort(): void
  /**
   * Joins the accepted guest connection to this one (bytes both ways, half-closes passed on).
   * `ended`: both sides are done, or one broke; the flow is then dropped (`abort()` follows).
   */
  join(guest: TcpSocket, ended: () => void): void
}

/** What an uplink connection reports while it connects (and, for a `Stack` uplink, until joined). */
export interface NatConnectEvents {
  /** The far side accepted. */
  connected(): void
  /** Refused, unreachable, timed out; or, once connected and before the join, closed. */
  closed(): void
}

/** One UDP flow's uplink socket. */
export interface NatUdpSocket {
  send(payload: Uint8Array, dst: number, dstPort: number): void
  close(): void
}

/** Handed to a UDP flow's opener: where its socket's datagrams go. */
export interface NatUdpFlowHandle {
  /** A datagram from `from:fromPort` for the guest (it keeps the flow alive). */
  deliver(payload: Uint8Array, from: number, fromPort: number): void
  /** The socket broke: the flow ends. */
  end(): void
}

/** Why a flow was refused: the owner's policy (or closed), the flow limit, the uplink threw. */
export type NatRefusal = 'policy' | 'limit' | 'uplink'

export interface NatCoreOptions {
  /** The gateway's stack on the guest's wire. */
  stack: Stack
  clock: NetClock
  /** Concurrent TCP (pending included) + UDP flows. */
  maxFlows: number
  /** How long a guest may take to complete a forwarded handshake. */
  handshakeMs: number
  /**
   * While waiting, check this often that the gateway's TCP still holds the half-open connection
   * (a guest that answers the SYN-ACK with RST ends the flow then). Default: no check.
   */
  handshakePollMs?: number
  udpIdleMs: number
  /** The owner's counters the core keeps up to date. */
  counters: { tcpFlows: number; udpFlows: number; activeFlows: number }
  refused(why: NatRefusal): void
  /** The uplink could not connect (a pending SYN answered with RST). */
  connectFailed(): void
}

export interface NatTcpFlow<C extends NatUplinkConnection> {
  conn: C
  joined: boolean
  /** The listener at the flow's destination ("addr:port"); none for a flow the owner adopted. */
  listenerKey: string | undefined
  timer: NetTimer | undefined
}

interface UdpFlow {
  socket: NatUdpSocket | undefined
  guestAddr: number
  guestPort: number
  timer: NetTimer
}

export const natFlowKey = (guestAddr: number, guestPort: number, remoteAddr: number, remotePort: number) => `${guestAddr}:${guestPort}>${remoteAddr}:${remotePort}`

export class NatCore<C extends NatUplinkConnection> {
  readonly tcpFlows = new Map<string, NatTcpFlow<C>>()
  private readonly pendingSyn = new Set<string>()
  private readonly listeners = new Map<string, { listener: TcpListener; refs: number }>()
  private readonly udpFlows = new Map<string, UdpFlow>()
  private isClosed = false

  constructor(private readonly opts: NatCoreOptions) {}

  get closed(): boolean {
    return this.isClosed
  }

  get flowCount(): number {
    return this.tcpFlows.size + this.pendingSyn.size + this.udpFlows.size
  }

  private updateActive(): void {
    this.opts.counters.activeFlows = this.flowCount
  }

  /** Ends every flow and listener; later SYNs are refused. */
  close(): void {
    this.isClosed = true
    for (const [key, f] of [...this.tcpFlows]) this.endTcp(key, f)
    for (const f of [...this.udpFlows.values()]) this.closeUdp(f)
    for (const l of this.listeners.values()) l.listener.close()
    this.listeners.clear()
  }

  // --- TCP -----------------------------------------------------------------------------------

  /**
   * A guest TCP segment the gateway's stack intercepts (`Stack.tcpIntercept`): false lets the
   * stack's TCP have it (a known flow, a stray the layer answers with RST); true: taken. A new
   * SYN is refused (RST) when the core is closed or `allowed()` says no, at the flow limit, or
   * when `open` throws; else held until the connection `open` starts reports.
   */
  guestSyn(seg: TcpSegment, src: number, dst: number, allowed: () => boolean, open: (events: NatConnectEvents) => C): boolean {
    const key = natFlowKey(src, seg.srcPort, dst, seg.dstPort)
    if (this.tcpFlows.has(key)) return false
    if (this.pendingSyn.has(key)) return true // a retransmitted SYN while the uplink connects
    if ((seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) !== TcpFlag.SYN) return false // the layer answers strays with RST
    const refuse = (why: NatRefusal) => {
      this.opts.refused(why)
      this.reset(seg, src, dst)
      return true
    }
    if (this.isClosed || !allowed()) return refuse('policy')
    if (this.flowCount >= this.opts.maxFlows) return refuse('limit')
    let conn: C
    try {
      conn = open({
        connected: () => {
          if (!this.pendingSyn.delete(key) || this.isClosed) return void conn.abort()
          this.connected(key, conn, seg, src, dst)
        },
        closed: () => {
          if (this.pendingSyn.delete(key)) {
            this.opts.connectFailed()
            this.updateActive()
            this.reset(seg, src, dst)
            return
          }
          const flow = this.tcpFlows.get(key)
          if (flow && flow.conn === conn && !flow.joined) this.endTcp(key, flow)
        },
      })
    } catch {
      return refuse('uplink') // e.g. the uplink's TCP is at a limit, or unconfigured
    }
    this.pendingSyn.add(key)
    this.updateActive()
    return true
  }

  /** The uplink connected: the held SYN goes to a listener at its destination. */
  private connected(key: string, conn: C, seg: TcpSegment, src: number, dst: number): void {
    const listenerKey = `${dst}:${seg.dstPort}`
    let l = this.listeners.get(listenerKey)
    if (!l) {
      const listener = this.opts.stack.listen(seg.dstPort, dst)
      listener.onConnection = (sock) => this.guestAccepted(sock)
      l = { listener, refs: 0 }
      this.listeners.set(listenerKey, l)
    }
    l.refs++
    const flow: NatTcpFlow<C> = { conn, joined: false, listenerKey, timer: undefined }
    this.watchHandshake(key, flow, seg, src, dst, this.opts.clock.now() + this.opts.handshakeMs)
    this.tcpFlows.set(key, flow)
    this.opts.counters.tcpFlows++
    this.updateActive()
    this.opts.stack.tcp.input(seg, src, dst)
  }

  /** Ends the flow if the guest has not completed the handshake by `deadline` (or dropped it, when polling). */
  private watchHandshake(key: string, flow: NatTcpFlow<C>, seg: TcpSegment, src: number, dst: number, deadline: number): void {
    const poll = this.opts.handshakePollMs
    flow.timer = this.opts.clock.schedule(poll ?? this.opts.handshakeMs, () => {
      flow.timer = undefined
      if (flow.joined || this.tcpFlows.get(key) !== flow) return
      const alive = poll === undefined || this.opts.stack.tcp.connections.some((c) => c.remoteAddr === src && c.remotePort === seg.srcPort && c.localAddr === dst && c.localPort === seg.dstPort)
      if (!alive || this.opts.clock.now() >= deadline) this.endTcp(key, flow)
      else this.watchHandshake(key, flow, seg, src, dst, deadline)
    })
  }

  private guestAccepted(sock: TcpSocket): void {
    const key = natFlowKey(sock.remoteAddr, sock.remotePort, sock.localAddr, sock.localPort)
    const flow = this.tcpFlows.get(key)
    if (!flow || flow.joined) return void sock.abort()
    if (flow.timer) this.opts.clock.clear(flow.timer)
    flow.timer = undefined
    flow.joined = true
    flow.conn.join(sock, () => this.endTcp(key, flow))
  }

  /**
   * A flow the owner set up itself (a host port forwarded into the guest): `guest` is its
   * connection into the guest, joined to `conn` now. Counts as a flow; not as `tcpFlows`.
   */
  adopt(key: string, conn: C, guest: TcpSocket): void {
    const flow: NatTcpFlow<C> = { conn, joined: true, listenerKey: undefined, timer: undefined }
    this.tcpFlows.set(key, flow)
    this.updateActive()
    conn.join(guest, () => this.endTcp(key, flow))
  }

  private endTcp(key: string, flow: NatTcpFlow<C>): void {
    if (this.tcpFlows.get(key) !== flow) return
    this.tcpFlows.delete(key)
    if (flow.timer) this.opts.clock.clear(flow.timer)
    flow.conn.abort()
    if (flow.listenerKey) {
      const l = this.listeners.get(flow.listenerKey)
      if (l && --l.refs === 0) {
        l.listener.close()
        this.listeners.delete(flow.listenerKey)
      }
    }
    this.updateActive()
  }

  /** RST|ACK for a SYN nobody will take (RFC 9293 §3.10.7.1), from the address the guest tried. */
  private reset(seg: TcpSegment, src: number, dst: number): void {
    const rst: TcpSegment = { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: 0, ack: (seg.seq + 1 + seg.payload.length) >>> 0, flags: TcpFlag.RST | TcpFlag.ACK, window: 0, urgent: 0, options: {}, payload: new Uint8Array(0) }
    this.opts.stack.sendIpv4(IpProtocol.TCP, dst, src, encodeTcpSegment(rst, dst, src))
  }

  // --- UDP -----------------------------------------------------------------------------------

  /**
   * A guest datagram to relay: through the flow of its source address and port, opened by `open`
   * if there is none (refused at the flow limit, or when `open` throws: the datagram is dropped).
   */
  guestUdp(src: number, srcPort: number, payload: Uint8Array, dst: number, dstPort: number, open: (flow: NatUdpFlowHandle) => NatUdpSocket): void {
    const key = `${src}:${srcPort}`
    let flow = this.udpFlows.get(key)
    if (!flow) {
      if (this.flowCount >= this.opts.maxFlows) return void this.opts.refused('limit')
      const f: UdpFlow = { socket: undefined, guestAddr: src, guestPort: srcPort, timer: this.idleTimer(key) }
      try {
        f.socket = open({
          deliver: (data, from, fromPort) => {
            this.touchUdp(f, key)
            // The answer comes from the address the guest sent to (the gateway is the guest's only way out).
            this.opts.stack.sendUdp({ srcPort: fromPort, dstPort: f.guestPort, payload: data }, from, f.guestAddr)
          },
          end: () => this.closeUdp(f),
        })
      } catch {
        this.opts.clock.clear(f.timer)
        return void this.opts.refused('uplink')
      }
      flow = f
      this.udpFlows.set(key, f)
      this.opts.counters.udpFlows++
      this.updateActive()
    }
    this.touchUdp(flow, key)
    flow.socket?.send(payload, dst, dstPort)
  }

  private idleTimer(key: string): NetTimer {
    return this.opts.clock.schedule(this.opts.udpIdleMs, () => {
      const f = this.udpFlows.get(key)
      if (f) this.closeUdp(f)
    })
  }

  private touchUdp(f: UdpFlow, key: string): void {
    this.opts.clock.clear(f.timer)
    f.timer = this.idleTimer(key)
  }

  private closeUdp(f: UdpFlow): void {
    const key = `${f.guestAddr}:${f.guestPort}`
    if (this.udpFlows.get(key) !== f) return
    this.udpFlows.delete(key)
    this.opts.clock.clear(f.timer)
    f.socket?.close()
    this.updateActive()
  }
}
