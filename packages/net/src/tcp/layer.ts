/**
 * The TCP layer: demultiplexes segments to connections and listeners, answers segments for
 * nothing with RST (RFC 9293 §3.10.7.1), opens connections, and bounds what it holds
 * (connections, half-open SYN queue, accept backlog).
 */
import type { NetClock } from '../clock.js'
import { defaultTcpLimits, defaultTcpTimings, newTcpStats, type TcpConfig, type TcpLimits, type TcpStats, type TcpTimings } from './config.js'
import { TcpAddressInUseError, TcpLimitError } from './errors.js'
import { seqAdd } from './seq.js'
import { TcpSocket, type TcpSocketHost } from './socket.js'
import { TcpFlag, type TcpOptions, type TcpOutput, type TcpSegment } from './types.js'
// For the doc links.
import type { encodeTcpSegment } from './segment.js'

const { FIN, SYN, RST, ACK } = TcpFlag
const EMPTY = new Uint8Array(0)
const NO_OPTIONS: TcpOptions = Object.freeze({})
const EPHEMERAL_LOW = 49152
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_LOW

export interface TcpLayerOptions {
  clock: NetClock
  /**
   * Where segments go (the IPv4 layer, which encodes them with {@link encodeTcpSegment}). It may
   * loop back into {@link TcpLayer.input} synchronously (a loopback interface): such input is
   * queued until the current step ends. The segment object is the receiver's; its payload
   * may be a view into the send buffer, whose bytes are never rewritten.
   */
  output: TcpOutput
  /** Initial sequence numbers and ephemeral ports (default: crypto.getRandomValues). */
  random32?: () => number
  limits?: Partial<TcpLimits>
  timings?: Partial<TcpTimings>
}

export interface TcpConnectOptions {
  remoteAddr: number
  remotePort: number
  localAddr: number
  /** Default: a free ephemeral port (49152–65535). */
  localPort?: number
  noDelay?: boolean
}

export interface TcpListenOptions {
  /** Established connections waiting for `onConnection` (default: the layer's `backlog`). */
  backlog?: number
  /** Half-open connections (default: the layer's `synBacklog`). */
  synBacklog?: number
}

function tupleKey(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): string {
  return `${localAddr >>> 0}:${localPort}:${remoteAddr >>> 0}:${remotePort}`
}

function defaultRandom32(): number {
  const a = new Uint32Array(1)
  globalThis.crypto.getRandomValues(a)
  return a[0]!
}

/** A passive open on a port (RFC 9293 LISTEN). */
export class TcpListener {
  readonly localAddr: number
  readonly localPort: number
  /** Called once per connection that completed the handshake. */
  private handler: ((socket: TcpSocket) => void) | undefined = undefined
  private readonly acceptQ: TcpSocket[] = []
  /** @internal */ readonly halfOpen = new Set<TcpSocket>()
  /** @internal */ readonly backlog: number
  /** @internal */ readonly synBacklog: number
  private closed = false
  private readonly layer: TcpLayer

  /** @internal */
  constructor(layer: TcpLayer, localAddr: number, localPort: number, backlog: number, synBacklog: number) {
    this.layer = layer
    this.localAddr = localAddr
    this.localPort = localPort
    this.backlog = backlog
    this.synBacklog = synBacklog
  }

  get onConnection(): ((socket: TcpSocket) => void) | undefined {
    return this.handler
  }
  /** Setting a handler hands it the connections that waited in the backlog. */
  set onConnection(fn: ((socket: TcpSocket) => void) | undefined) {
    this.handler = fn
    while (this.handler && this.acceptQ.length > 0) {
      const s = this.acceptQ.shift()!
      if (s.state !== 'CLOSED') this.handler(s)
    }
  }

  /** Takes one waiting connection (when no `onConnection` handler is set). */
  accept(): TcpSocket | undefined {
    let s = this.acceptQ.shift()
    while (s && s.state === 'CLOSED') s = this.acceptQ.shift()
    return s
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Stops listening: half-open and unaccepted connections are reset; accepted ones live on. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.layer.unlisten(this)
    for (const s of [...this.halfOpen, ...this.acceptQ]) s.abort()
    this.halfOpen.clear()
    this.acceptQ.length = 0
  }

  /** @internal */
  established(sock: TcpSocket): void {
    this.halfOpen.delete(sock)
    if (this.closed) {
      sock.abort()
    } else if (this.handler) {
      this.handler(sock)
    } else if (this.acceptQ.length < this.backlog) {
      this.acceptQ.push(sock)
    } else {
      this.layer.stats.synDropped++
      sock.abort()
    }
  }
}

/** The TCP layer of one host (any number of local addresses). */
export class TcpLayer {
  readonly stats: TcpStats = newTcpStats()
  readonly config: TcpConfig
  private readonly clock: NetClock
  private readonly out: TcpOutput
  private readonly random32: () => number
  private readonly sockets = new Map<string, TcpSocket>()
  private readonly listeners = new Map<number, TcpListener[]>()
  private readonly owner = new Map<TcpSocket, TcpListener>()
  /** Sockets in TIME-WAIT, oldest first (a Set keeps insertion order). */
  private readonly timeWait = new Set<TcpSocket>()
  private readonly host: TcpSocketHost
  private depth = 0
  private challengeWindowStart = -Infinity
  private challengeCount = 0
  private readonly pendingInput: Array<[TcpSegment, number, number]> = []
  /**
   * The socket the last segment went to: a bulk transfer's segments all go to one connection,
   * and matching its four numbers is cheaper than building the string key of the map. Cleared
   * when that socket is released.
   */
  private lastSocket: TcpSocket | undefined = undefined

  constructor(opts: TcpLayerOptions) {
    this.clock = opts.clock
    this.out = opts.output
    this.random32 = opts.random32 ?? defaultRandom32
    this.config = { ...defaultTcpLimits, ...defaultTcpTimings, ...opts.limits, ...opts.timings }
    const layer = this
    this.host = {
      clock: this.clock,
      config: this.config,
      stats: this.stats,
      transmit: (seg, src, dst) => {
        layer.stats.segmentsOut++
        layer.out(seg, src, dst)
      },
      release: (sock) => layer.release(sock),
      accepted: (sock) => layer.owner.get(sock)?.established(sock),
      timeWaitEntered: (sock) => {
        layer.timeWait.add(sock)
        // Past the budget the oldest ends TIME-WAIT early (Linux: tcp_max_tw_buckets).
        while (layer.timeWait.size > layer.config.maxTimeWait) {
          const oldest = layer.timeWait.values().next().value as TcpSocket
          layer.timeWait.delete(oldest)
          layer.stats.timeWaitRecycled++
          oldest.expireTimeWait()
        }
      },
      run: (fn) => layer.run(fn),
      challengeAckAllowed: () => {
        const now = layer.clock.now()
        if (now - layer.challengeWindowStart >= 1000) {
          layer.challengeWindowStart = now
          layer.challengeCount = 0
        }
        return layer.challengeCount++ < layer.config.challengeAcksPerSecond
      },
    }
  }

  /** Open connections (every state but CLOSED), for `net` and leak checks. */
  get connections(): readonly TcpSocket[] {
    return [...this.sockets.values()]
  }

  /**
   * A checked segment from IPv4 (`src` → `dst`). Never throws for any segment content.
   * A call made while the layer is busy (an output that loops back synchronously, e.g. a
   * loopback interface) is queued and processed as soon as the current step ends.
   */
  input(seg: TcpSegment, src: number, dst: number): void {
    if (this.depth > 0) {
      this.pendingInput.push([seg, src >>> 0, dst >>> 0])
      return
    }
    this.run(() => this.dispatch(seg, src >>> 0, dst >>> 0))
  }

  /** One step: entry points (input, socket calls, timers) never interleave; queued input runs after. */
  private run(fn: () => void): void {
    if (this.depth > 0) {
      fn()
      return
    }
    this.depth++
    try {
      fn()
      while (this.pendingInput.length > 0) {
        const [s, a, b] = this.pendingInput.shift()!
        this.dispatch(s, a, b)
      }
    } finally {
      this.depth--
    }
  }

  private dispatch(seg: TcpSegment, src: number, dst: number): void {
    this.stats.segmentsIn++
    const last = this.lastSocket
    if (last && last.localPort === seg.dstPort && last.remotePort === seg.srcPort && last.remoteAddr === src && last.localAddr === dst) {
      last.input(seg)
      return
    }
    const sock = this.sockets.get(tupleKey(dst, seg.dstPort, src, seg.srcPort))
    if (sock) {
      this.lastSocket = sock
      sock.input(seg)
      return
    }
    const listener = this.findListener(dst, seg.dstPort)
    if (listener) this.inputListen(listener, seg, src, dst)
    else this.replyReset(seg, src, dst)
  }

  /** RFC 9293 §3.10.7.1 (CLOSED) and the ACK case of §3.10.7.2: answer with RST, never a RST to a RST. */
  private replyReset(seg: TcpSegment, src: number, dst: number): void {
    if (seg.flags & RST) return
    const rst: TcpSegment =
      seg.flags & ACK
        ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: RST, window: 0, urgent: 0, options: NO_OPTIONS, payload: EMPTY }
        : {
            srcPort: seg.dstPort,
            dstPort: seg.srcPort,
            seq: 0,
            ack: seqAdd(seg.seq, seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0)),
            flags: RST | ACK,
            window: 0,
            urgent: 0,
            options: NO_OPTIONS,
            payload: EMPTY,
          }
    this.stats.rstsSent++
    this.host.transmit(rst, dst, src)
  }

  /** LISTEN (RFC 9293 §3.10.7.2). */
  private inputListen(listener: TcpListener, seg: TcpSegment, src: number, dst: number): void {
    if (seg.flags & RST) return
    if (seg.flags & ACK) {
      this.replyReset(seg, src, dst)
      return
    }
    if (!(seg.flags & SYN)) return
    // SYN flood bound: half-open connections per listener and connections overall.
    if (listener.halfOpen.size >= listener.synBacklog || this.liveConnections >= this.config.maxConnections) {
      this.stats.synDropped++
      return
    }
    const sock = new TcpSocket(this.host, {
      localAddr: dst,
      localPort: seg.dstPort,
      remoteAddr: src,
      remotePort: seg.srcPort,
      iss: this.random32(),
      passive: true,
    })
    this.sockets.set(tupleKey(dst, seg.dstPort, src, seg.srcPort), sock)
    this.stats.connections = this.sockets.size
    this.owner.set(sock, listener)
    listener.halfOpen.add(sock)
    this.stats.passiveOpens++
    sock.openPassive(seg)
  }

  private findListener(addr: number, port: number): TcpListener | undefined {
    const list = this.listeners.get(port)
    if (!list) return undefined
    return list.find((l) => l.localAddr === addr) ?? list.find((l) => l.localAddr === 0)
  }

  /** Listens on `port` (on `localAddr`, or every address when 0 / omitted). */
  listen(port: number, localAddr = 0, opts: TcpListenOptions = {}): TcpListener {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`TCP port ${port} is not in 1..65535`)
    const list = this.listeners.get(port) ?? []
    if (list.some((l) => l.localAddr === localAddr >>> 0)) throw new TcpAddressInUseError(`listener on ${localAddr >>> 0}:${port}`)
    const l = new TcpListener(this, localAddr >>> 0, port, opts.backlog ?? this.config.backlog, opts.synBacklog ?? this.config.synBacklog)
    list.push(l)
    this.listeners.set(port, list)
    return l
  }

  /** @internal */
  unlisten(l: TcpListener): void {
    const list = this.listeners.get(l.localPort)
    if (!list) return
    const rest = list.filter((x) => x !== l)
    if (rest.length > 0) this.listeners.set(l.localPort, rest)
    else this.listeners.delete(l.localPort)
  }

  /** Active open: sends SYN and returns the socket in SYN-SENT; `onConnect` or `onClose(error)` follows. */
  connect(opts: TcpConnectOptions): TcpSocket {
    if (this.liveConnections >= this.config.maxConnections) throw new TcpLimitError(`${this.liveConnections} connections, the limit is ${this.config.maxConnections}`)
    const remoteAddr = opts.remoteAddr >>> 0
    const localAddr = opts.localAddr >>> 0
    let localPort = opts.localPort
    if (localPort === undefined) {
      const start = this.random32() % EPHEMERAL_COUNT
      for (let i = 0; i < EPHEMERAL_COUNT && localPort === undefined; i++) {
        const p = EPHEMERAL_LOW + ((start + i) % EPHEMERAL_COUNT)
        if (!this.sockets.has(tupleKey(localAddr, p, remoteAddr, opts.remotePort)) && !this.listeners.has(p)) localPort = p
      }
      if (localPort === undefined) throw new TcpLimitError(`no free ephemeral port towards ${remoteAddr}:${opts.remotePort}`)
    }
    const key = tupleKey(localAddr, localPort, remoteAddr, opts.remotePort)
    if (this.sockets.has(key)) throw new TcpAddressInUseError(`connection ${key}`)
    const sock = new TcpSocket(this.host, { localAddr, localPort, remoteAddr, remotePort: opts.remotePort, iss: this.random32(), passive: false })
    if (opts.noDelay) sock.noDelay = true
    this.sockets.set(key, sock)
    this.stats.connections = this.sockets.size
    this.stats.activeOpens++
    this.run(() => sock.openActive())
    return sock
  }

  /** Connections that count against `maxConnections`: all but those in TIME-WAIT. */
  private get liveConnections(): number {
    return this.sockets.size - this.timeWait.size
  }

  private release(sock: TcpSocket): void {
    if (this.lastSocket === sock) this.lastSocket = undefined
    this.timeWait.delete(sock)
    const key = tupleKey(sock.localAddr, sock.localPort, sock.remoteAddr, sock.remotePort)
    if (this.sockets.get(key) === sock) this.sockets.delete(key)
    this.stats.connections = this.sockets.size
    const l = this.owner.get(sock)
    if (l) {
      l.halfOpen.delete(sock)
      this.owner.delete(sock)
    }
  }

  /** Resets every connection and closes every listener (a shutdown); no timer is left. */
  destroyAll(): void {
    for (const list of [...this.listeners.values()]) for (const l of list) l.close()
    for (const s of [...this.sockets.values()]) s.abort()
  }
}
