/**
 * A home router on a wire, in portable TypeScript: what a hypervisor's default network gives a
 * guest (QEMU's user net, a home router). On the guest's wire it is a {@link Stack} at the
 * router's address that answers ARP and ping, hands out addresses by DHCP ({@link DhcpServer}),
 * serves whatever the owner listens on at the router's address (honk's HTTP on :80), and
 * forwards every other flow out through an *uplink* — another `Stack` (honk's own interface) —
 * as a socket-level NAT: the guest's TCP is terminated here and each connection spliced to a
 * connection the uplink opens to the same destination and port (so the far side sees the
 * uplink's address); UDP datagrams are relayed through an uplink UDP socket per guest port.
 *
 * The Node-only `UserNet` (./node/nat.ts) does the same towards host sockets; this one never
 * leaves `@honk/net`, so honk's kernel (which runs in a browser too) can route its guests.
 *
 * Hostile guests: every frame goes through the stack's decoders (malformed ones are counted and
 * dropped); flows are capped ({@link GatewayOptions.maxFlows}); a half-open flow the guest never
 * completes is dropped after {@link HANDSHAKE_MS}; a guest that does not read stalls its own
 * flows (each side's TCP send buffer is the limit: data is not read from the other side while
 * it is full).
 */
import { IPV4_BROADCAST, parseMac } from './addr.js'
import { realClock, type NetClock } from './clock.js'
import { DhcpServer } from './dhcp.js'
import type { FramePort } from './frame-port.js'
import { NatCore, type NatConnectEvents, type NatUplinkConnection } from './nat-core.js'
import { Stack } from './stack.js'
import type { TcpSocket } from './tcp/socket.js'
import type { TcpSegment } from './tcp/types.js'
import type { UdpDatagram } from './udp.js'

/** How long a guest may take to complete a forwarded connection's handshake. */
export const HANDSHAKE_MS = 30_000

export interface GatewayOptions {
  /** The guest's wire (the virtio-net device model's host side). */
  port: FramePort
  /** The router's address on the wire (the guest's default route and DHCP server). */
  address: number
  netmask: number
  /** The router's MAC. Default 52:54:00:00:03:01. */
  mac?: number
  /** The first address DHCP hands out, and how many (default 16). */
  poolStart: number
  poolSize?: number
  /** DNS servers DHCP announces (default: the uplink's, when it has any at the time of the offer). */
  dns?: number[]
  clock?: NetClock
  /** Where flows to other addresses go; undefined (or a stack with no address): refused (RST, dropped). */
  uplink: () => Stack | undefined
  /** Concurrent forwarded TCP + UDP flows; more are refused. Default 64. */
  maxFlows?: number
  /** UDP flows idle this long are closed. Default 60 000 ms. */
  udpIdleMs?: number
}

export interface GatewayCounters {
  tcpFlows: number
  udpFlows: number
  /** Guest connections refused: no uplink, the flow limit, or the far side refused / was unreachable. */
  refused: number
  activeFlows: number
}

export class Gateway {
  readonly stack: Stack
  readonly dhcp: DhcpServer
  readonly counters: GatewayCounters = { tcpFlows: 0, udpFlows: 0, refused: 0, activeFlows: 0 }
  private readonly nat: NatCore<StackUplinkConnection>
  private closed = false

  constructor(private readonly opts: GatewayOptions) {
    const clock = opts.clock ?? realClock
    const maxFlows = opts.maxFlows ?? 64
    this.stack = new Stack({
      port: opts.port,
      mac: opts.mac ?? parseMac('52:54:00:00:03:01'),
      clock,
      ipv4: { address: opts.address, netmask: opts.netmask, dns: [] },
      acceptAnyDestination: true,
      tcp: { limits: { maxConnections: maxFlows * 2 + 16 } },
    })
    // Every refusal counts: no uplink, the flow limit, the uplink at a limit, the far side refusing.
    this.nat = new NatCore({
      stack: this.stack,
      clock,
      maxFlows,
      handshakeMs: HANDSHAKE_MS,
      udpIdleMs: opts.udpIdleMs ?? 60_000,
      counters: this.counters,
      refused: () => void this.counters.refused++,
      connectFailed: () => void this.counters.refused++,
    })
    const dns = opts.dns ?? this.opts.uplink()?.ipv4?.dns
    this.dhcp = new DhcpServer(this.stack, { poolStart: opts.poolStart, poolSize: opts.poolSize ?? 16, netmask: opts.netmask, router: opts.address, serverAddress: opts.address, ...(dns?.length ? { dns } : {}) })
    this.stack.tcpIntercept = (seg, src, dst) => this.guestTcp(seg, src, dst)
    this.stack.udpFallback = (d, src, dst) => this.guestUdp(d, src, dst)
  }

  /** An uplink that can carry a flow now (it has an address). */
  private up(): Stack | undefined {
    const s = this.opts.uplink()
    return s?.ipv4 ? s : undefined
  }

  /** Ends every flow, the DHCP server and the stack. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.nat.close()
    this.dhcp.close()
    this.stack.close()
  }

  // --- guest → uplink TCP ----------------------------------------------------------------------

  /**
   * A SYN to an address that is not the router's is held while the uplink connects to the same
   * address and port; once it does, the SYN goes to the gateway's TCP (which answers SYN-ACK as
   * that address) and the two connections are spliced. The far side refusing (or no uplink)
   * answers the guest's SYN with RST: the guest sees "connection refused" exactly then.
   */
  private guestTcp(seg: TcpSegment, src: number, dst: number): boolean {
    if (this.stack.isLocal(dst)) return false // the router's own services (honk's :80)
    return this.nat.guestSyn(
      seg,
      src,
      dst,
      () => this.up() !== undefined && dst !== IPV4_BROADCAST && (dst & 0xf0000000) !== 0xe0000000,
      (events) => new StackUplinkConnection(this.up()!, dst, seg.dstPort, events),
    )
  }

  // --- guest → uplink UDP ----------------------------------------------------------------------

  private guestUdp(d: UdpDatagram, src: number, dst: number): boolean {
    if (this.stack.isLocal(dst)) return false // the router's own ports: port unreachable as usual
    if (dst === IPV4_BROADCAST || (dst & 0xf0000000) === 0xe0000000 || src === 0) return true // broadcast, multicast, unconfigured: swallowed
    const uplink = this.up()
    if (this.closed || !uplink) return true
    this.nat.guestUdp(src, d.srcPort, d.payload, dst, d.dstPort, (flow) => {
      const socket = uplink.bindUdp(0) // throws at the uplink's limit: refused
      socket.onMessage = (payload, from) => flow.deliver(payload, from.address, from.port)
      return socket
    })
    return true
  }
}

/**
 * A flow's connection out through the uplink `Stack`: nothing is read from the far side until
 * the guest's side exists; then the two are spliced, and the flow ends when both are CLOSED (an
 * error on one side aborts the other).
 */
class StackUplinkConnection implements NatUplinkConnection {
  private readonly up: TcpSocket
  private guest: TcpSocket | undefined

  constructor(uplink: Stack, dst: number, dstPort: number, events: NatConnectEvents) {
    this.up = uplink.connect(dst, dstPort) // throws when the uplink's TCP is at a limit, or unconfigured
    this.up.pause()
    this.up.onClose = () => events.closed()
    this.up.onConnect = () => events.connected()
  }

  abort(): void {
    if (this.up.state !== 'CLOSED') this.up.abort()
    if (this.guest && this.guest.state !== 'CLOSED') this.guest.abort()
  }

  join(guest: TcpSocket, ended: () => void): void {
    const up = this.up
    this.guest = guest
    const endIfDone = () => {
      if (up.state === 'CLOSED' && guest.state === 'CLOSED') ended()
    }
    splice(guest, up, ended)
    splice(up, guest, ended)
    guest.onClose = (err) => {
      if (err) up.abort()
      endIfDone()
    }
    up.onClose = (err) => {
      if (err) guest.abort()
      endIfDone()
    }
  }
}

/**
 * Bytes from `from` to `to` with backpressure (`from` is paused while `to`'s send buffer is
 * full), and `from`'s FIN passed on as a half-close. `broken`: `to` can no longer send.
 */
function splice(from: TcpSocket, to: TcpSocket, broken: () => void): void {
  from.onData = (chunk) => {
    try {
      if (!to.send(chunk)) from.pause()
    } catch {
      broken()
    }
  }
  to.onDrain = () => from.resume()
  from.onEnd = () => to.close()
  from.resume()
}
