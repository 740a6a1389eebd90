/**
 * One TCP connection: the transmission control block and its state machine (RFC 9293 §3.10),
 * with RFC 6298 retransmission timing, RFC 5681/6582 congestion control (slow start, congestion
 * avoidance, fast retransmit, NewReno recovery), RFC 7323 window scaling, RFC 5961 checks on
 * RST, SYN and ACK, delayed ACKs, Nagle, zero-window probing and keep-alive. Every timer goes
 * through the layer's NetClock and is cleared when the connection reaches CLOSED.
 */
import type { NetClock, NetTimer } from '../clock.js'
import { ByteQueue } from './byte-queue.js'
import type { TcpConfig, TcpStats } from './config.js'
import { TcpConnectionResetError, TcpRefusedError, TcpStateError, TcpTimeoutError } from './errors.js'
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from './seq.js'
import { TcpFlag, type TcpOptions, type TcpSegment } from './types.js'

const { FIN, SYN, RST, PSH, ACK } = TcpFlag
const EMPTY = new Uint8Array(0)
const NO_OPTIONS: TcpOptions = Object.freeze({})
/** RFC 9293 §3.7.1: the MSS assumed when the peer sends no MSS option. */
const DEFAULT_PEER_MSS = 536
/** A floor on the peer's MSS so that a hostile tiny MSS cannot make us emit a segment per byte. */
const MIN_MSS = 64
const MAX_WINDOW_SCALE = 14
const CWND_CAP = 1 << 30
/** Rate limit of ACKs answering unacceptable segments without data (as Linux's tcp_invalid_ratelimit). */
const OOW_ACK_INTERVAL_MS = 500

export type TcpState =
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT'
  | 'CLOSED'

/** What a socket needs from its layer. @internal */
export interface TcpSocketHost {
  readonly clock: NetClock
  readonly config: TcpConfig
  readonly stats: TcpStats
  transmit(seg: TcpSegment, src: number, dst: number): void
  /** The socket reached CLOSED: forget it (and free its listener slot). */
  release(sock: TcpSocket): void
  /** A passively opened socket reached ESTABLISHED. */
  accepted(sock: TcpSocket): void
  /** The socket entered TIME-WAIT (the layer keeps a bounded number of them). */
  timeWaitEntered(sock: TcpSocket): void
  /**
   * Runs `fn` as one step of the layer: segments that the output loops back into the same
   * layer synchronously during the step are queued and processed right after it.
   */
  run(fn: () => void): void
  /** Whether one more challenge ACK fits in this second's budget (RFC 5961 §7). */
  challengeAckAllowed(): boolean
}

/** Per-connection counters. */
export interface TcpSocketCounters {
  /** Payload bytes the peer acknowledged. */
  bytesAcked: number
  /** Payload bytes received in order (delivered or queued for the application). */
  bytesReceived: number
  segmentsSent: number
  segmentsReceived: number
  /** Segments sent again (RTO, fast retransmit, NewReno partial ACK, go-back-N). */
  retransmits: number
  fastRetransmits: number
  timeouts: number
}

interface OooSegment {
  seq: number
  data: Uint8Array
  fin: boolean
}

type TimerName = 'rtx' | 'delack' | 'persist' | 'keepalive' | 'timewait'

/** @internal */
export interface TcpSocketInit {
  localAddr: number
  localPort: number
  remoteAddr: number
  remotePort: number
  iss: number
  passive: boolean
}

/**
 * A TCP connection. Events are plain callback properties (set them right after `connect()` or
 * in the listener's `onConnection`); they are called synchronously from `input()`, timers or
 * the socket's own methods, and must not throw. An event that happens before its handler is
 * set (a synchronous loopback can complete a handshake inside `connect()`) is delivered when
 * the handler is set; data waits in the receive queue the same way.
 */
export class TcpSocket {
  state: TcpState
  readonly localAddr: number
  readonly localPort: number
  readonly remoteAddr: number
  readonly remotePort: number
  /** True for sockets made by a listener. */
  readonly passive: boolean
  /** Disables Nagle's algorithm (RFC 9293 §3.7.4): small segments go out at once. */
  noDelay = false
  readonly counters: TcpSocketCounters = {
    bytesAcked: 0,
    bytesReceived: 0,
    segmentsSent: 0,
    segmentsReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
  }

  private connectHandler: (() => void) | undefined = undefined
  private endHandler: (() => void) | undefined = undefined
  private closeHandler: ((error?: Error) => void) | undefined = undefined
  private connectUndelivered = false
  private closeUndelivered: { error: Error | undefined } | undefined = undefined

  /** The connection reached ESTABLISHED (active opens only; a listener reports passive ones). */
  get onConnect(): (() => void) | undefined {
    return this.connectHandler
  }
  set onConnect(fn: (() => void) | undefined) {
    this.connectHandler = fn
    if (fn && this.connectUndelivered) {
      this.connectUndelivered = false
      this.host.run(fn)
    }
  }

  /** The peer sent FIN and every byte before it was delivered. */
  get onEnd(): (() => void) | undefined {
    return this.endHandler
  }
  set onEnd(fn: (() => void) | undefined) {
    this.endHandler = fn
    if (fn && this.endPending && !this.endEmitted) this.host.run(() => this.flushRecv())
  }

  /** The connection reached CLOSED; `error` says why when it was not an orderly close or `abort()`. */
  get onClose(): ((error?: Error) => void) | undefined {
    return this.closeHandler
  }
  set onClose(fn: ((error?: Error) => void) | undefined) {
    this.closeHandler = fn
    if (fn && this.closeUndelivered) {
      const { error } = this.closeUndelivered
      this.closeUndelivered = undefined
      fn(error)
    }
  }

  private emitClose(error: Error | undefined): void {
    if (this.closeHandler) this.closeHandler(error)
    else this.closeUndelivered = { error }
  }
  /** The send buffer fell below its limit after `send()` returned false. */
  onDrain: (() => void) | undefined = undefined
  /** Data was queued for {@link recv} (no `onData` handler is set). */
  onReadable: (() => void) | undefined = undefined

  private readonly host: TcpSocketHost
  private readonly cfg: TcpConfig
  private dataHandler: ((chunk: Uint8Array) => void) | undefined = undefined

  // Send sequence space (RFC 9293 §3.3.1). sndMax is the highest sequence number sent so far;
  // sndNxt falls back below it after a retransmission timeout (go-back-N).
  private readonly iss: number
  private sndUna: number
  private sndNxt: number
  private sndMax: number
  private sndWnd = 0
  private sndWl1 = 0
  private sndWl2 = 0
  private maxSndWnd = 0
  private readonly sendQ = new ByteQueue()
  /** Sequence number of the first byte in sendQ. */
  private sndBufSeq: number
  private synAcked = false
  private finQueued = false
  private finSeq = 0
  private closeRequested = false
  private needDrain = false
  /** End of the last zero-window probe when it lies beyond SND.MAX (the peer may ACK it). */
  private probeEnd: number | undefined = undefined
  private sndWscale = 0
  private rcvWscale = 0
  private readonly offeredWscale: number
  private wsAgreed = false
  /** Effective send MSS. */
  private mss: number

  // Congestion control (RFC 5681, RFC 6582).
  private cwnd: number
  private ssthresh = CWND_CAP
  private dupAcks = 0
  private inRecovery = false
  private recover: number

  // Retransmission timing (RFC 6298).
  private srtt: number | undefined = undefined
  private rttvar = 0
  private rto: number
  private rttSeq: number | undefined = undefined
  private rttStart = 0
  private retries = 0
  private rtxDeadline = 0
  private persistBackoff = 0
  private persistProbes = 0

  // Receive sequence space.
  private irs = 0
  private rcvNxt = 0
  /** The right edge of the window we advertised (never moved left, RFC 9293 §3.8.6.2.2). */
  private rcvAdvRight = 0
  private readonly recvQ: Uint8Array[] = []
  private recvQBytes = 0
  private readonly ooo: OooSegment[] = []
  private oooBytes = 0
  private paused = false
  private finReceived = false
  private endPending = false
  private endEmitted = false
  private flushing = false
  private closePending = false
  private ackNow = false
  private unackedBytes = 0

  // Keep-alive (RFC 9293 §3.8.4).
  private keepAliveIdle = 0
  private keepProbes = 0
  private lastRecv: number
  private lastOowAck = -Infinity

  private readonly timers: Partial<Record<TimerName, NetTimer>> = {}

  /** @internal Sockets come from {@link TcpLayer.connect} and listeners. */
  constructor(host: TcpSocketHost, init: TcpSocketInit) {
    this.host = host
    this.cfg = host.config
    this.localAddr = init.localAddr
    this.localPort = init.localPort
    this.remoteAddr = init.remoteAddr
    this.remotePort = init.remotePort
    this.passive = init.passive
    this.iss = init.iss >>> 0
    this.sndUna = this.iss
    this.sndNxt = this.iss
    this.sndMax = this.iss
    this.sndBufSeq = seqAdd(this.iss, 1)
    this.recover = this.iss
    this.mss = Math.min(this.cfg.mss, DEFAULT_PEER_MSS)
    this.cwnd = this.initialWindow()
    this.rto = this.cfg.initialRtoMs
    this.state = init.passive ? 'SYN-RECEIVED' : 'SYN-SENT'
    let ws = 0
    while (ws < MAX_WINDOW_SCALE && this.cfg.recvBuffer >>> ws > 0xffff) ws++
    this.offeredWscale = ws
    this.lastRecv = host.clock.now()
  }

  // ───────────────────────────── public API ─────────────────────────────

  /** Receives in-order data; data that arrives while no handler is set (or while paused) waits. */
  get onData(): ((chunk: Uint8Array) => void) | undefined {
    return this.dataHandler
  }
  set onData(fn: ((chunk: Uint8Array) => void) | undefined) {
    this.dataHandler = fn
    this.host.run(() => this.flushRecv())
  }

  /** Bytes queued for sending and not yet acknowledged. */
  get bufferedAmount(): number {
    return this.sendQ.length
  }

  /** Bytes received but not yet delivered to `onData` (paused, or no handler). */
  get readableLength(): number {
    return this.recvQBytes
  }

  /** The sequence variables (RFC 9293 §3.3.1), for diagnostics and tests. */
  get sequence(): { iss: number; irs: number; sndUna: number; sndNxt: number; sndMax: number; rcvNxt: number; rcvWnd: number } {
    return {
      iss: this.iss,
      irs: this.irs,
      sndUna: this.sndUna,
      sndNxt: this.sndNxt,
      sndMax: this.sndMax,
      rcvNxt: this.rcvNxt,
      rcvWnd: Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt)),
    }
  }

  /** Current congestion window, slow-start threshold, RTO and smoothed RTT (for tests and `net`). */
  get congestion(): { cwnd: number; ssthresh: number; rto: number; srtt: number | undefined; mss: number; sndWnd: number } {
    return { cwnd: this.cwnd, ssthresh: this.ssthresh, rto: this.rto, srtt: this.srtt, mss: this.mss, sndWnd: this.sndWnd }
  }

  /**
   * Queues `data` (copied) for sending. Returns false when the send buffer is at or over its
   * limit; `onDrain` fires when it falls below again. Throws TcpStateError after close/abort.
   */
  send(data: Uint8Array): boolean {
    if (this.closeRequested || this.finQueued || this.state === 'CLOSED' || !this.canStillSend()) {
      throw new TcpStateError('send', this.state, this.where())
    }
    this.sendQ.push(data)
    this.host.run(() => this.trySend())
    const ok = this.sendQ.length < this.cfg.sendBuffer
    if (!ok) this.needDrain = true
    return ok
  }

  /** Orderly close of our direction: FIN after the queued data (RFC 9293 §3.10.4). Receiving goes on until the peer's FIN. */
  close(): void {
    this.host.run(() => this.closeNow())
  }

  private closeNow(): void {
    switch (this.state) {
      case 'SYN-SENT':
        this.finish(undefined)
        return
      case 'SYN-RECEIVED':
        this.closeRequested = true
        return
      case 'ESTABLISHED':
        this.queueFin()
        this.state = 'FIN-WAIT-1'
        this.trySend()
        return
      case 'CLOSE-WAIT':
        this.queueFin()
        this.state = 'LAST-ACK'
        this.trySend()
        return
      default:
        return // already closing or closed
    }
  }

  /** Same as {@link close}: half-closes our sending direction. */
  shutdownWrite(): void {
    this.close()
  }

  /** Drops the connection at once: RST to the peer in synchronized states (RFC 9293 §3.10.5), then CLOSED. */
  abort(): void {
    if (this.state === 'CLOSED') return
    this.host.run(() => {
      if (this.state !== 'SYN-SENT' && this.state !== 'TIME-WAIT') {
        this.output(this.ackSeq(), RST | ACK, EMPTY)
        this.host.stats.rstsSent++
      }
      this.finish(undefined, true)
    })
  }

  /** Stops delivering data; the receive window closes as unread data accumulates. */
  pause(): void {
    this.paused = true
  }

  /** Delivers queued data and reopens the window (with an immediate window update when it grew enough). */
  resume(): void {
    this.paused = false
    this.host.run(() => this.flushRecv())
  }

  get isPaused(): boolean {
    return this.paused
  }

  /**
   * Pull-style reading (with no `onData` handler): the next queued bytes, at most `maxBytes`,
   * or undefined when nothing is queued. Reading reopens the window like `resume()` does.
   */
  recv(maxBytes = Infinity): Uint8Array | undefined {
    const head = this.recvQ[0]
    if (!head || maxBytes <= 0) return undefined
    let out = head
    if (head.length > maxBytes) {
      out = head.subarray(0, maxBytes)
      this.recvQ[0] = head.subarray(maxBytes)
    } else {
      this.recvQ.shift()
    }
    this.recvQBytes -= out.length
    this.host.run(() => this.flushRecv())
    return out
  }

  /** True once the peer's FIN was received and every byte before it was read. */
  get readableEnded(): boolean {
    return this.endPending && this.recvQ.length === 0
  }

  /** Enables keep-alive probes after `idleMs` without a segment from the peer (RFC 9293 §3.8.4). */
  setKeepAlive(enable: boolean, idleMs = this.cfg.keepAliveIdleMs): void {
    this.keepAliveIdle = enable ? Math.max(1, idleMs) : 0
    this.stopTimer('keepalive')
    if (enable && this.isSynchronized()) this.armKeepAlive(this.keepAliveIdle)
  }

  setNoDelay(noDelay = true): void {
    this.noDelay = noDelay
    if (noDelay) this.host.run(() => this.trySend())
  }

  // ───────────────────────────── opening ─────────────────────────────

  /** @internal Active open: send SYN (RFC 9293 §3.10.1). */
  openActive(): void {
    this.sendSyn()
  }

  /** @internal Passive open from LISTEN on a SYN (RFC 9293 §3.10.7.2). */
  openPassive(syn: TcpSegment): void {
    this.irs = syn.seq
    this.rcvNxt = seqAdd(syn.seq, 1)
    this.applyPeerOptions(syn.options, true)
    this.sndWnd = syn.window
    this.maxSndWnd = syn.window
    this.sndWl1 = syn.seq
    this.sndWl2 = this.iss
    this.sendSyn()
  }

  private applyPeerOptions(options: TcpOptions, scaling: boolean): void {
    this.mss = Math.max(MIN_MSS, Math.min(this.cfg.mss, options.mss ?? DEFAULT_PEER_MSS))
    this.cwnd = this.initialWindow()
    this.wsAgreed = scaling && options.windowScale !== undefined
    // RFC 7323 §2.3: a shift above 14 is treated as 14.
    this.sndWscale = this.wsAgreed ? Math.min(options.windowScale!, MAX_WINDOW_SCALE) : 0
    this.rcvWscale = this.wsAgreed ? this.offeredWscale : 0
  }

  /** RFC 5681 §3.1 initial window. */
  private initialWindow(): number {
    return this.mss > 2190 ? 2 * this.mss : this.mss > 1095 ? 3 * this.mss : 4 * this.mss
  }

  private synWindow(): number {
    return Math.min(0xffff, this.cfg.recvBuffer)
  }

  private sendSyn(): void {
    const synAck = this.state === 'SYN-RECEIVED'
    const options: TcpOptions = { mss: this.cfg.mss }
    // RFC 7323 §1.3: a SYN offers window scaling; a SYN-ACK carries it only if the SYN did.
    if (!synAck || this.wsAgreed) options.windowScale = this.offeredWscale
    const win = this.synWindow()
    const seg = this.segment(this.iss, synAck ? SYN | ACK : SYN, EMPTY, options)
    // The SYN-ACK's window is never scaled (RFC 7323 §2.2): the right edge it advertises is
    // RCV.NXT + win, set after segment(), whose window() moved it by the scaled buffer size
    // (the receiver then believed it had offered ~1 MiB while the sender saw 65535, and sent
    // no window update: a large-MSS sender stalled until the delayed ACK).
    seg.window = win
    if (synAck) this.rcvAdvRight = seqAdd(this.rcvNxt, win)
    this.emit(seg)
    if (this.sndMax === this.iss) {
      this.sndNxt = this.sndMax = seqAdd(this.iss, 1)
      this.rttSeq = this.sndMax
      this.rttStart = this.host.clock.now()
    }
    if (!this.timers.rtx) this.startRtx()
  }

  // ───────────────────────────── input ─────────────────────────────

  /** @internal A segment for this connection (RFC 9293 §3.10.7). */
  input(seg: TcpSegment): void {
    if (this.state === 'CLOSED') return
    this.counters.segmentsReceived++
    this.lastRecv = this.host.clock.now()
    this.keepProbes = 0
    if (this.state === 'SYN-SENT') {
      this.inputSynSent(seg)
      return
    }
    let f = seg.flags
    // A retransmitted SYN while we are in SYN-RECEIVED: our SYN-ACK was lost; send it again.
    if (this.state === 'SYN-RECEIVED' && f & SYN && !(f & (ACK | RST)) && seg.seq === this.irs) {
      this.sendSyn()
      return
    }
    // Simultaneous open (RFC 9293 Figure 8): the peer's SYN-ACK reaches us in SYN-RECEIVED; its
    // SYN is one we already took, so only its ACK is new.
    if (this.state === 'SYN-RECEIVED' && f & SYN && f & ACK && !(f & RST) && seg.seq === this.irs) {
      f &= ~SYN
      seg = { ...seg, seq: seqAdd(seg.seq, 1), flags: f }
    }
    const wnd = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt))
    const segLen = seg.payload.length + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0)

    // RST (RFC 9293 §3.10.7.4 second check with RFC 5961 §3.2): only an exact match resets;
    // a RST elsewhere in the window earns a challenge ACK; outside it is dropped.
    if (f & RST) {
      this.host.stats.rstsReceived++
      // RFC 1337: a RST must not cut TIME-WAIT short (it would let old duplicates into a new incarnation).
      if (this.state === 'TIME-WAIT') return
      if (seg.seq === this.rcvNxt) this.onReset()
      else if (this.inWindow(seg.seq, Math.max(wnd, 1))) this.challengeAck()
      return
    }

    // First check: sequence number acceptability.
    if (!this.acceptable(seg, segLen, wnd)) {
      // RFC 9293 §3.10.7.4: with a zero window, still take valid ACKs (a zero-window probe).
      if (wnd === 0 && seg.seq === this.rcvNxt && f & ACK && !(f & SYN)) {
        if (!this.processAck(seg)) return
      }
      if (this.state === 'TIME-WAIT' && f & FIN) this.enterTimeWait() // a retransmitted FIN restarts 2·MSL
      // Answer with an ACK; for segments without data at most one per OOW_ACK_INTERVAL_MS, so two
      // ends that each find the other's ACKs unacceptable cannot feed an endless ACK war.
      const now = this.host.clock.now()
      if (segLen > 0 || now - this.lastOowAck >= OOW_ACK_INTERVAL_MS) {
        if (segLen === 0) this.lastOowAck = now
        this.sendAck()
      }
      this.afterInput()
      return
    }

    // Fourth check (RFC 5961 §4): a SYN in a synchronized state gets a challenge ACK.
    if (f & SYN) {
      this.challengeAck()
      return
    }
    // Fifth check: no ACK, no processing.
    if (!(f & ACK)) return
    if (!this.processAck(seg)) return
    // Seventh and eighth checks: text and FIN.
    this.processData(seg)
    if (this.isClosed()) return
    this.trySend()
    this.afterInput()
  }

  private inputSynSent(seg: TcpSegment): void {
    const f = seg.flags
    // RFC 9293 §3.10.7.3 first check: an ACK must acknowledge our SYN.
    if (f & ACK && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      if (!(f & RST)) this.sendRst(seg.ack)
      return
    }
    if (f & RST) {
      this.host.stats.rstsReceived++
      if (f & ACK) this.finish(new TcpRefusedError(this.where()))
      return
    }
    if (!(f & SYN)) return
    this.irs = seg.seq
    this.rcvNxt = seqAdd(seg.seq, 1)
    this.applyPeerOptions(seg.options, true)
    this.rcvAdvRight = seqAdd(this.rcvNxt, this.synWindow())
    this.sndWnd = seg.window // never scaled in a SYN (RFC 7323 §2.2)
    this.maxSndWnd = seg.window
    this.sndWl1 = seg.seq
    if (f & ACK) {
      this.sndWl2 = seg.ack
      this.ackAdvanced(seg.ack)
      this.state = 'ESTABLISHED'
      this.sendAck()
      this.onEstablished()
      if (this.isClosed()) return
      this.trySend()
      this.afterInput()
    } else {
      // Simultaneous open: SYN-RECEIVED, answer with SYN-ACK (same ISS).
      this.sndWl2 = this.iss
      this.state = 'SYN-RECEIVED'
      this.rttSeq = undefined
      this.sendSyn()
    }
  }

  private inWindow(seq: number, wnd: number): boolean {
    return seqLe(this.rcvNxt, seq) && seqLt(seq, seqAdd(this.rcvNxt, wnd))
  }

  /**
   * RFC 9293 §3.10.7.4 first check (the four cases of segment length and window), with two
   * widenings that real stacks make: a segment is acceptable when any part of it overlaps the
   * window (the RFC's test of its first and last octet rejects one that spans the whole window
   * — e.g. a retransmission that starts before RCV.NXT and ends past the right edge), and an
   * empty segment may sit exactly on the right edge (where a sender whose SND.MAX went past our
   * window puts its ACKs).
   */
  private acceptable(seg: TcpSegment, segLen: number, wnd: number): boolean {
    if (segLen === 0) return wnd === 0 ? seg.seq === this.rcvNxt : seqLe(this.rcvNxt, seg.seq) && seqLe(seg.seq, seqAdd(this.rcvNxt, wnd))
    if (wnd === 0) {
      // A bare FIN at RCV.NXT takes no buffer space; accept it so a peer can close into a zero window.
      return seg.payload.length === 0 && seg.flags & FIN ? seg.seq === this.rcvNxt : false
    }
    return seqLt(seg.seq, seqAdd(this.rcvNxt, wnd)) && seqGt(seqAdd(seg.seq, segLen), this.rcvNxt)
  }

  /** The ACK field (RFC 9293 §3.10.7.4 fifth check, RFC 5961 §5). Returns false when processing stops. */
  private processAck(seg: TcpSegment): boolean {
    const ack = seg.ack
    let established = false
    if (this.state === 'SYN-RECEIVED') {
      if (!(seqLt(this.sndUna, ack) && seqLe(ack, this.sndMax))) {
        this.sendRst(ack)
        return false
      }
      this.state = 'ESTABLISHED'
      this.sndWnd = seg.window << this.sndWscale
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd)
      this.sndWl1 = seg.seq
      this.sndWl2 = ack
      established = true
    }
    const limit = this.probeEnd !== undefined ? seqMax(this.sndMax, this.probeEnd) : this.sndMax
    if (seqGt(ack, limit)) {
      // Acknowledges something never sent: ACK and drop.
      this.sendAck()
      return false
    }
    if (seqLt(ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 1)))) {
      // RFC 5961 §5.2: far too old to be from this connection's recent past.
      this.challengeAck()
      return false
    }
    const oldWnd = this.sndWnd
    const segWnd = seg.window << this.sndWscale
    this.persistProbes = 0
    const advanced = seqGt(ack, this.sndUna)
    if (advanced) {
      if (seqGt(ack, this.sndMax)) this.sndMax = ack // our window probe byte was taken
      if (this.probeEnd !== undefined && seqGe(this.sndMax, this.probeEnd)) this.probeEnd = undefined
      this.ackAdvanced(ack)
    } else if (
      ack === this.sndUna &&
      seg.payload.length === 0 &&
      !(seg.flags & (FIN | SYN)) &&
      segWnd === oldWnd &&
      oldWnd > 0 &&
      this.sndMax !== this.sndUna
    ) {
      this.duplicateAck(ack)
    }
    // Window update (RFC 9293 §3.10.7.4: only from a newer segment). A segment that acknowledges
    // new data is newer too: pure ACKs carry SND.MAX while retransmissions carry older numbers,
    // so SND.WL1 alone would keep a stale window whose right edge lies beyond the peer's.
    if (advanced || seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      this.sndWnd = segWnd
      this.sndWl1 = seg.seq
      this.sndWl2 = ack
      if (segWnd > this.maxSndWnd) this.maxSndWnd = segWnd
      if (segWnd > 0 && this.timers.persist) {
        this.stopTimer('persist')
        this.persistBackoff = 0
      }
    }
    if (established) {
      if (this.closeRequested) {
        this.closeRequested = false
        this.queueFin()
        this.state = 'FIN-WAIT-1'
      }
      this.onEstablished()
      if (this.state === 'CLOSED') return false
    }
    if (this.finQueued && seqGt(this.sndUna, this.finSeq)) {
      // Our FIN is acknowledged.
      switch (this.state) {
        case 'FIN-WAIT-1':
          this.state = 'FIN-WAIT-2'
          break
        case 'CLOSING':
          this.enterTimeWait()
          return false
        case 'LAST-ACK':
          this.finish(undefined)
          return false
        default:
          break
      }
    }
    return true
  }

  /** New data acknowledged (SND.UNA < ack ≤ SND.MAX). */
  private ackAdvanced(ack: number): void {
    const acked = seqDiff(ack, this.sndUna)
    // RFC 6298 §3 with Karn's algorithm: rttSeq is cleared whenever anything is retransmitted.
    if (this.rttSeq !== undefined && seqGe(ack, this.rttSeq)) {
      this.rttSample(this.host.clock.now() - this.rttStart)
      this.rttSeq = undefined
    }
    if (!this.synAcked && seqGt(ack, this.iss)) this.synAcked = true
    const dataAcked = Math.min(Math.max(0, seqDiff(ack, this.sndBufSeq)), this.sendQ.length)
    if (dataAcked > 0) {
      this.sendQ.drop(dataAcked)
      this.sndBufSeq = seqAdd(this.sndBufSeq, dataAcked)
      this.counters.bytesAcked += dataAcked
    }
    this.sndUna = ack
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack
    this.retries = 0
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // RFC 6582 §3.2 step 3: full acknowledgment ends recovery; deflate the window.
        this.cwnd = Math.min(this.ssthresh, Math.max(seqDiff(this.sndMax, this.sndUna), this.mss) + this.mss)
        this.inRecovery = false
        this.dupAcks = 0
      } else {
        // Step 4: partial acknowledgment: retransmit the next hole, deflate by what was acked.
        this.retransmitFirst(false)
        this.cwnd = Math.max(this.mss, this.cwnd - acked + (acked >= this.mss ? this.mss : 0))
      }
    } else {
      this.dupAcks = 0
      if (dataAcked > 0) {
        // RFC 5681 §3.1: slow start below ssthresh, congestion avoidance above.
        if (this.cwnd < this.ssthresh) this.cwnd += Math.min(acked, this.mss)
        else this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd))
        if (this.cwnd > CWND_CAP) this.cwnd = CWND_CAP
      }
    }
    // RFC 6298 §5.2/5.3: stop the timer when all is acknowledged, else restart it (only on new data acked).
    if (this.sndUna === this.sndMax) this.stopTimer('rtx')
    else this.restartRtx()
  }

  private duplicateAck(ack: number): void {
    this.dupAcks++
    if (this.inRecovery) {
      // RFC 5681 §3.2 step 4: each further duplicate means a segment left the network.
      this.cwnd += this.mss
      return
    }
    // RFC 6582 §3.2 step 2: enter fast retransmit only when the ACK covers more than `recover`.
    if (this.dupAcks === 3 && seqGt(ack, this.recover)) {
      const flight = seqDiff(this.sndMax, this.sndUna)
      this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss)
      this.recover = this.sndMax
      this.inRecovery = true
      this.counters.fastRetransmits++
      this.host.stats.fastRetransmits++
      this.retransmitFirst(false)
      this.cwnd = this.ssthresh + 3 * this.mss
    }
  }

  private rttSample(r: number): void {
    // RFC 6298 §2.2/2.3 (α = 1/8, β = 1/4, G = 1 ms).
    if (this.srtt === undefined) {
      this.srtt = r
      this.rttvar = r / 2
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r)
      this.srtt = 0.875 * this.srtt + 0.125 * r
    }
    this.rto = Math.min(this.cfg.maxRtoMs, Math.max(this.cfg.minRtoMs, this.srtt + Math.max(1, 4 * this.rttvar)))
  }

  /** Segment text and FIN (RFC 9293 §3.10.7.4 seventh and eighth checks), with reassembly. */
  private processData(seg: TcpSegment): void {
    let fin = (seg.flags & FIN) !== 0
    let data = seg.payload
    if (data.length === 0 && !fin) return
    if (this.finReceived || !(this.state === 'ESTABLISHED' || this.state === 'FIN-WAIT-1' || this.state === 'FIN-WAIT-2')) return
    let seq = seg.seq
    // Trim what we already have from the front.
    const front = seqDiff(this.rcvNxt, seq)
    if (front > 0) {
      if (front > data.length) return
      data = data.subarray(front)
      seq = this.rcvNxt
    }
    // Trim what lies beyond the window we offered (and the FIN with it).
    const room = seqDiff(this.rcvAdvRight, seq)
    if (data.length > room) {
      data = data.subarray(0, Math.max(0, room))
      fin = false
    }
    if (data.length === 0 && !fin) {
      this.ackNow = true
      return
    }
    if (seq !== this.rcvNxt) {
      // Out of order: hold it (bounded) and send a duplicate ACK at once (RFC 5681 §4.2).
      this.holdOutOfOrder(seq, data, fin)
      this.ackNow = true
      return
    }
    const hadHoles = this.ooo.length > 0
    if (data.length > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, data.length)
      this.deliver(data)
      this.unackedBytes += data.length
      // RFC 5681 §4.2 / RFC 9293 §3.8.6.3: ACK at least every second full-sized segment.
      if (this.unackedBytes >= 2 * this.mss) this.ackNow = true
    }
    if (hadHoles) {
      fin = this.pullOutOfOrder() || fin
      this.ackNow = true // a segment that fills a hole is acknowledged at once
    }
    if (fin) this.receiveFin()
  }

  private holdOutOfOrder(seq: number, data: Uint8Array, fin: boolean): void {
    let i = 0
    while (i < this.ooo.length && seqLt(this.ooo[i]!.seq, seq)) i++
    const same = this.ooo[i]
    if (same && same.seq === seq && same.data.length >= data.length && (same.fin || !fin)) return // duplicate
    // Bounded by count and by bytes (overlapping segments must not hold more than the buffer).
    const grow = data.length - (same && same.seq === seq ? same.data.length : 0)
    if ((!(same && same.seq === seq) && this.ooo.length >= this.cfg.maxOutOfOrder) || this.oooBytes + grow > this.cfg.recvBuffer) {
      this.host.stats.outOfOrderDropped++
      return
    }
    // A trimmed view would keep its whole segment alive: hold a copy of just these bytes.
    const held = data.byteLength === data.buffer.byteLength ? data : data.slice()
    this.oooBytes += grow
    if (same && same.seq === seq) {
      same.data = held
      same.fin = fin
    } else {
      this.ooo.splice(i, 0, { seq, data: held, fin })
    }
  }

  /** Segments and bytes held for reassembly (diagnostics, tests). */
  get outOfOrder(): { segments: number; bytes: number } {
    return { segments: this.ooo.length, bytes: this.oooBytes }
  }

  /** Moves held segments that now start at or before RCV.NXT into the stream; true if a FIN was reached. */
  private pullOutOfOrder(): boolean {
    let fin = false
    while (this.ooo.length > 0 && seqLe(this.ooo[0]!.seq, this.rcvNxt)) {
      const e = this.ooo.shift()!
      this.oooBytes -= e.data.length
      const skip = seqDiff(this.rcvNxt, e.seq)
      if (skip < e.data.length) {
        const part = e.data.subarray(skip)
        this.rcvNxt = seqAdd(this.rcvNxt, part.length)
        this.deliver(part)
      }
      if (e.fin && seqAdd(e.seq, e.data.length) === this.rcvNxt) fin = true
    }
    return fin
  }

  private receiveFin(): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1)
    this.finReceived = true
    this.ooo.length = 0
    this.oooBytes = 0
    this.ackNow = true
    this.endPending = true
    switch (this.state) {
      case 'ESTABLISHED':
        this.state = 'CLOSE-WAIT'
        break
      case 'FIN-WAIT-1':
        // Simultaneous close: our FIN is not yet acknowledged.
        this.state = 'CLOSING'
        break
      case 'FIN-WAIT-2':
        this.enterTimeWait()
        break
      default:
        break
    }
    this.flushRecv()
  }

  private deliver(data: Uint8Array): void {
    if (this.state === 'CLOSED') return // aborted from a handler mid-segment
    this.counters.bytesReceived += data.length
    if (!this.paused && this.dataHandler && this.recvQ.length === 0 && !this.flushing) {
      this.dataHandler(data)
      return
    }
    // What waits here is held for the application: a small view into a larger buffer (a frame
    // cut from a sender's slab) is copied, so a held byte never pins more than a few.
    this.recvQ.push(data.byteLength * 4 < data.buffer.byteLength ? data.slice() : data)
    this.recvQBytes += data.length
    if (!this.dataHandler) this.onReadable?.()
  }

  private flushRecv(): void {
    if (this.flushing) return
    this.flushing = true
    try {
      while (!this.paused && this.dataHandler && this.recvQ.length > 0) {
        const chunk = this.recvQ.shift()!
        this.recvQBytes -= chunk.length
        this.dataHandler(chunk)
      }
    } finally {
      this.flushing = false
    }
    if (this.endPending && !this.endEmitted && this.recvQ.length === 0 && !this.paused && this.endHandler) {
      this.endEmitted = true
      this.endHandler()
    }
    if (this.state === 'CLOSED') {
      // The connection finished while the application still had data to read: close after it.
      if (this.closePending && this.recvQ.length === 0 && (this.endEmitted || !this.endPending || !this.endHandler)) {
        this.closePending = false
        this.emitClose(undefined)
      }
      return
    }
    this.maybeWindowUpdate()
  }

  /** Sends a window update at once when the application freed enough room (RFC 9293 §3.8.6.2.2). */
  private maybeWindowUpdate(): void {
    if (!this.isSynchronized() || this.finReceived) return
    const free = Math.max(0, this.cfg.recvBuffer - this.recvQBytes)
    const grow = seqDiff(seqAdd(this.rcvNxt, free), this.rcvAdvRight)
    if (grow >= Math.min(this.cfg.recvBuffer >>> 1, this.mss)) this.sendAck()
  }

  private onReset(): void {
    switch (this.state) {
      case 'SYN-RECEIVED':
        this.finish(this.passive ? undefined : new TcpRefusedError(this.where()))
        return
      case 'CLOSING':
      case 'LAST-ACK':
        this.finish(undefined)
        return
      default:
        this.finish(new TcpConnectionResetError(this.where()))
    }
  }

  private onEstablished(): void {
    this.rcvAdvRight = seqMax(this.rcvAdvRight, this.rcvNxt)
    if (this.keepAliveIdle > 0) this.armKeepAlive(this.keepAliveIdle)
    if (this.passive) this.host.accepted(this)
    else if (this.connectHandler) this.connectHandler()
    else this.connectUndelivered = true
  }

  /** After a segment: emit drain, then ACK now or arm the delayed-ACK timer. */
  private afterInput(): void {
    if (this.state === 'CLOSED') return
    if (this.ackNow) this.sendAck()
    else if (this.unackedBytes > 0 && !this.timers.delack) {
      this.startTimer('delack', this.cfg.delayedAckMs, () => {
        if (this.unackedBytes > 0 || this.ackNow) this.sendAck()
      })
    }
    if (this.needDrain && this.sendQ.length < this.cfg.sendBuffer && !this.isClosed()) {
      this.needDrain = false
      this.onDrain?.()
    }
  }

  // ───────────────────────────── output ─────────────────────────────

  /** A re-read of the state after callbacks (which may have closed the socket); defeats TS's narrowing. */
  private isClosed(): boolean {
    return this.state === 'CLOSED'
  }

  private isSynchronized(): boolean {
    return this.state !== 'SYN-SENT' && this.state !== 'SYN-RECEIVED' && this.state !== 'CLOSED'
  }

  private canStillSend(): boolean {
    return this.state === 'SYN-SENT' || this.state === 'SYN-RECEIVED' || this.state === 'ESTABLISHED' || this.state === 'CLOSE-WAIT'
  }

  private queueFin(): void {
    this.finQueued = true
    this.finSeq = seqAdd(this.sndBufSeq, this.sendQ.length)
  }

  private window(): number {
    const free = Math.max(0, this.cfg.recvBuffer - this.recvQBytes)
    let right = seqAdd(this.rcvNxt, free)
    // Receiver-side SWS avoidance (RFC 9293 §3.8.6.2.2): advance the right edge only by a
    // sizable step, and never move it left.
    if (seqDiff(right, this.rcvAdvRight) < Math.min(this.cfg.recvBuffer >>> 1, this.mss)) right = seqMax(this.rcvAdvRight, this.rcvNxt)
    const field = Math.min(0xffff, Math.max(0, seqDiff(right, this.rcvNxt)) >>> this.rcvWscale)
    this.rcvAdvRight = seqMax(this.rcvAdvRight, seqAdd(this.rcvNxt, field << this.rcvWscale))
    return field
  }

  private segment(seq: number, flags: number, payload: Uint8Array, options: TcpOptions = NO_OPTIONS): TcpSegment {
    return {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack: flags & ACK ? this.rcvNxt : 0,
      flags,
      window: flags & ACK ? this.window() : 0,
      urgent: 0,
      options,
      payload,
    }
  }

  private emit(seg: TcpSegment): void {
    this.counters.segmentsSent++
    if (seg.flags & ACK) {
      // Every segment carrying an ACK acknowledges everything so far.
      // The delayed-ACK timer is left to fire (it finds nothing to send): cheaper than clearing
      // and re-arming it for every pair of segments, and it still bounds the delay to 200 ms.
      this.ackNow = false
      this.unackedBytes = 0
    }
    this.host.transmit(seg, this.localAddr, this.remoteAddr)
  }

  private output(seq: number, flags: number, payload: Uint8Array): void {
    this.emit(this.segment(seq, flags, payload))
  }

  /**
   * The sequence number of a segment without data: SND.MAX, not a SND.NXT pulled back by
   * go-back-N (the peer may hold everything up to SND.MAX, and a number below its RCV.NXT is
   * unacceptable); but never past the right edge of the peer's window as we know it, where
   * an empty segment would be unacceptable too (a retransmission or probe may have gone past it).
   */
  private ackSeq(): number {
    const edge = seqAdd(this.sndUna, this.sndWnd)
    return seqGt(this.sndMax, edge) ? edge : this.sndMax
  }

  private sendAck(): void {
    if (this.state === 'CLOSED' || this.state === 'SYN-SENT') return
    this.output(this.ackSeq(), ACK, EMPTY)
  }

  private challengeAck(): void {
    if (!this.host.challengeAckAllowed()) {
      this.host.stats.challengeAcksSuppressed++
      return
    }
    this.host.stats.challengeAcks++
    this.sendAck()
  }

  private sendRst(seq: number): void {
    this.host.stats.rstsSent++
    this.emit({ srcPort: this.localPort, dstPort: this.remotePort, seq, ack: 0, flags: RST, window: 0, urgent: 0, options: NO_OPTIONS, payload: EMPTY })
  }

  /** Sends one data/FIN segment at `seq` (never beyond what is queued). */
  private sendSegment(seq: number, len: number): number {
    const offset = seqDiff(seq, this.sndBufSeq)
    const payload = len > 0 ? this.sendQ.peek(offset, len) : EMPTY
    const fin = this.finQueued && seqAdd(seq, len) === this.finSeq
    let flags = ACK
    if (fin) flags |= FIN
    if (len > 0 && offset + len === this.sendQ.length) flags |= PSH
    const end = seqAdd(seq, len + (fin ? 1 : 0))
    if (seqLt(seq, this.sndMax) || (this.probeEnd !== undefined && seqLt(seq, this.probeEnd))) {
      this.counters.retransmits++
      this.host.stats.retransmits++
      this.rttSeq = undefined // Karn: no sample from anything sent twice
    } else if (this.rttSeq === undefined) {
      this.rttSeq = end
      this.rttStart = this.host.clock.now()
    }
    this.output(seq, flags, payload)
    if (seqGt(end, this.sndMax)) this.sndMax = end
    if (this.probeEnd !== undefined && seqGe(this.sndMax, this.probeEnd)) this.probeEnd = undefined
    if (!this.timers.rtx) this.startRtx()
    this.stopTimer('persist')
    return end
  }

  /** Sends what the windows, Nagle and sender-side SWS avoidance allow (RFC 9293 §3.7.4, §3.8.6.2.1). */
  private trySend(): void {
    if (!this.synAcked || !this.isSynchronized() || this.state === 'TIME-WAIT' || this.state === 'FIN-WAIT-2') return
    for (;;) {
      const dataEnd = seqAdd(this.sndBufSeq, this.sendQ.length)
      const avail = Math.max(0, seqDiff(dataEnd, this.sndNxt))
      const finPending = this.finQueued && seqLe(this.sndNxt, this.finSeq)
      if (avail === 0 && !finPending) break
      const flight = seqDiff(this.sndNxt, this.sndUna)
      const usable = Math.min(this.cwnd, this.sndWnd) - flight
      const len = Math.min(this.mss, avail, Math.max(0, usable))
      if (len === 0 && avail > 0) break // no window: the persist timer takes over below
      if (len < this.mss && len < avail) {
        // A partial segment while more is queued: only to fill a large fraction of the window.
        if (!(flight === 0 && len >= this.maxSndWnd / 2)) break
      } else if (len < this.mss && len > 0 && !this.noDelay && !this.finQueued && flight > 0 && seqGe(this.sndNxt, this.sndMax)) {
        // Nagle: a small final segment waits while data is unacknowledged.
        break
      }
      this.sndNxt = this.sendSegment(this.sndNxt, len)
      if (this.finQueued && seqGt(this.sndNxt, this.finSeq)) break
    }
    this.checkPersist()
  }

  /** Arms the persist timer when data waits, nothing is in flight and the window forbids sending. */
  private checkPersist(): void {
    const unsent = seqDiff(seqAdd(this.sndBufSeq, this.sendQ.length), this.sndNxt) > 0
    if (unsent && this.sndUna === this.sndMax && !this.timers.rtx) {
      if (!this.timers.persist) {
        const delay = Math.min(this.cfg.maxRtoMs, Math.max(this.cfg.minRtoMs, this.rto) * 2 ** this.persistBackoff)
        this.startTimer('persist', delay, () => this.onPersist())
      }
    } else if (this.timers.persist && !unsent) {
      this.stopTimer('persist')
    }
  }

  private onPersist(): void {
    if (this.persistProbes >= this.cfg.dataRetries) {
      this.fail('zero-window probes unanswered')
      return
    }
    this.persistProbes++
    this.persistBackoff = Math.min(this.persistBackoff + 1, 16)
    const dataEnd = seqAdd(this.sndBufSeq, this.sendQ.length)
    const avail = Math.max(0, seqDiff(dataEnd, this.sndNxt))
    const usable = Math.min(this.cwnd, this.sndWnd) - seqDiff(this.sndNxt, this.sndUna)
    if (avail > 0 && usable > 0) {
      // SWS override (RFC 9293 §3.8.6.2.1): send what fits in the small window.
      this.sndNxt = this.sendSegment(this.sndNxt, Math.min(usable, avail, this.mss))
    } else if (avail > 0) {
      // Zero-window probe (RFC 9293 §3.8.6.1): one byte beyond the window, SND.NXT unchanged.
      this.host.stats.windowProbes++
      this.output(this.sndNxt, ACK, this.sendQ.peek(seqDiff(this.sndNxt, this.sndBufSeq), 1))
      // Until SND.MAX passes it, an ACK of this byte is an ACK of something sent.
      this.probeEnd = seqAdd(this.sndNxt, 1)
    }
    this.checkPersist()
  }

  /** Retransmits the first unacknowledged segment (SYN, data or FIN). */
  private retransmitFirst(goBack: boolean): void {
    if (!this.synAcked) {
      this.counters.retransmits++
      this.host.stats.retransmits++
      this.rttSeq = undefined
      this.sendSyn()
      return
    }
    const dataEnd = seqAdd(this.sndBufSeq, this.sendQ.length)
    // Within the peer's window (at least one octet, which then probes a closed window).
    const len = Math.min(this.mss, Math.max(0, seqDiff(dataEnd, this.sndUna)), Math.max(1, this.sndWnd))
    if (len === 0 && !(this.finQueued && this.sndUna === this.finSeq)) return
    const end = this.sendSegment(this.sndUna, len)
    if (goBack) this.sndNxt = end
  }

  /** Arms the retransmission timer for one RTO from now (RFC 6298 §5.1). */
  private startRtx(): void {
    this.rtxDeadline = this.host.clock.now() + this.rto
    this.startTimer('rtx', this.rto, () => this.onRtxTimer())
  }

  /**
   * RFC 6298 §5.3 restart when new data is acknowledged, done lazily: a timer already armed to
   * fire earlier stays, and on firing sees the later deadline and re-arms for the rest.
   */
  private restartRtx(): void {
    const deadline = this.host.clock.now() + this.rto
    this.rtxDeadline = deadline
    const t = this.timers.rtx
    if (t && t.due <= deadline) return
    this.startTimer('rtx', this.rto, () => this.onRtxTimer())
  }

  private onRtxTimer(): void {
    const left = this.rtxDeadline - this.host.clock.now()
    if (left > 0) {
      this.startTimer('rtx', left, () => this.onRtxTimer())
      return
    }
    this.onRetransmitTimeout()
  }

  private onRetransmitTimeout(): void {
    this.retries++
    this.counters.timeouts++
    this.host.stats.timeouts++
    const limit = this.state === 'SYN-SENT' ? this.cfg.synRetries : this.state === 'SYN-RECEIVED' ? this.cfg.synAckRetries : this.cfg.dataRetries
    if (this.retries > limit) {
      if (this.state === 'SYN-RECEIVED' && this.passive) this.finish(undefined)
      else this.fail(`${this.retries - 1} retransmissions unanswered`)
      return
    }
    // RFC 6298 §5.5: back off; RFC 5681 §3.1 (4): one segment, ssthresh from the flight size.
    this.rto = Math.min(this.rto * 2, this.cfg.maxRtoMs)
    if (this.synAcked) {
      const flight = seqDiff(this.sndMax, this.sndUna)
      this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.mss)
      this.cwnd = this.mss
      this.inRecovery = false
      this.dupAcks = 0
      this.recover = this.sndMax
    }
    this.rttSeq = undefined
    this.startRtx()
    this.retransmitFirst(true)
  }

  private fail(detail: string): void {
    if (this.isSynchronized() && this.state !== 'TIME-WAIT') {
      this.output(this.ackSeq(), RST | ACK, EMPTY)
      this.host.stats.rstsSent++
    }
    this.finish(new TcpTimeoutError(this.where(), detail))
  }

  // ───────────────────────────── keep-alive, TIME-WAIT, timers ─────────────────────────────

  private armKeepAlive(ms: number): void {
    this.startTimer('keepalive', ms, () => this.onKeepAlive())
  }

  private onKeepAlive(): void {
    if (this.keepAliveIdle === 0 || !this.isSynchronized() || this.state === 'TIME-WAIT') return
    const idle = this.host.clock.now() - this.lastRecv
    if (idle < this.keepAliveIdle && this.keepProbes === 0) {
      this.armKeepAlive(this.keepAliveIdle - idle)
      return
    }
    if (this.sndUna !== this.sndMax) {
      // Data outstanding: the retransmission timer watches the peer.
      this.armKeepAlive(this.keepAliveIdle)
      return
    }
    if (this.keepProbes >= this.cfg.keepAliveProbes) {
      this.fail(`${this.keepProbes} keep-alive probes unanswered`)
      return
    }
    // RFC 9293 §3.8.4: a segment with SEG.SEQ = SND.NXT−1 and no data draws an ACK.
    this.keepProbes++
    this.host.stats.keepAliveProbes++
    this.output(seqAdd(this.sndMax, -1), ACK, EMPTY)
    this.armKeepAlive(this.cfg.keepAliveIntervalMs)
  }

  /** Ends TIME-WAIT now (the layer's TIME-WAIT budget is spent and this is the oldest). */
  expireTimeWait(): void {
    if (this.state === 'TIME-WAIT') this.host.run(() => this.finish(undefined))
  }

  private enterTimeWait(): void {
    if (this.state !== 'TIME-WAIT') this.host.timeWaitEntered(this)
    this.state = 'TIME-WAIT'
    for (const name of ['rtx', 'persist', 'keepalive', 'delack'] as const) this.stopTimer(name)
    this.startTimer('timewait', 2 * this.cfg.mslMs, () => this.finish(undefined))
  }

  private startTimer(name: TimerName, ms: number, fn: () => void): void {
    const old = this.timers[name]
    if (old) this.host.clock.clear(old)
    this.timers[name] = this.host.clock.schedule(ms, () => {
      delete this.timers[name]
      this.host.run(fn)
    })
  }

  private stopTimer(name: TimerName): void {
    const t = this.timers[name]
    if (t) {
      this.host.clock.clear(t)
      delete this.timers[name]
    }
  }

  /** Live timers of this socket (for leak checks). */
  get pendingTimers(): number {
    return Object.keys(this.timers).length
  }

  /**
   * Enters CLOSED: no timer is left and the layer forgets the socket. After an orderly close,
   * data the application has not read yet stays readable and `onClose` waits for it (and for
   * `onEnd`); after an error or `abort()` it is discarded.
   */
  private finish(error: Error | undefined, discard = false): void {
    if (this.state === 'CLOSED') return
    this.state = 'CLOSED'
    for (const name of Object.keys(this.timers) as TimerName[]) this.stopTimer(name)
    this.ooo.length = 0
    this.oooBytes = 0
    this.sendQ.drop(this.sendQ.length)
    this.host.release(this)
    if (error || discard) {
      this.recvQ.length = 0
      this.recvQBytes = 0
      this.emitClose(error)
    } else if (this.recvQ.length > 0 || (this.endPending && !this.endEmitted && this.endHandler)) {
      this.closePending = true
    } else {
      this.emitClose(undefined)
    }
  }

  private where(): string {
    const ip = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`
    return `${ip(this.localAddr)}:${this.localPort} ↔ ${ip(this.remoteAddr)}:${this.remotePort}`
  }
}
