/** Limits and timings of a {@link TcpLayer}; every field has a default. */

/** Memory bounds: no peer, flood or application can make the layer hold more than these. */
export interface TcpLimits {
  /** Connections the layer holds at once, half-open included, TIME-WAIT not (see {@link TcpLimits.maxTimeWait}). */
  maxConnections: number
  /**
   * Connections held in TIME-WAIT at once. Past it the oldest ends TIME-WAIT early, as Linux
   * does past `tcp_max_tw_buckets`: a client opening connections faster than 2·MSL lets them
   * expire must never exhaust the layer (a forward hammered by curl did).
   */
  maxTimeWait: number
  /** Half-open (SYN-RECEIVED) connections per listener; further SYNs are dropped (SYN flood). */
  synBacklog: number
  /** Established connections per listener waiting for an `onConnection` handler. */
  backlog: number
  /** Send buffer per socket in bytes; `send()` returns false beyond it. */
  sendBuffer: number
  /** Receive buffer per socket in bytes: the largest window offered. */
  recvBuffer: number
  /** Out-of-order segments held per socket for reassembly. */
  maxOutOfOrder: number
  /** Our MSS: the largest payload we accept, offered in the SYN (1460 for a 1500-byte MTU). */
  mss: number
  /** Challenge ACKs (RFC 5961) the layer sends per second at most, over all connections (§7). */
  challengeAcksPerSecond: number
}

/** Timers and retry counts (milliseconds). */
export interface TcpTimings {
  /** RTO before the first RTT sample (RFC 6298 §2.1: 1 s). */
  initialRtoMs: number
  /** Lower bound of the RTO (RFC 6298 §2.4: 1 s; tests may lower it). */
  minRtoMs: number
  /** Upper bound of the RTO and of the persist interval (RFC 6298 §2.5: at least 60 s). */
  maxRtoMs: number
  /** Delayed ACK timeout (RFC 9293 §3.8.6.3: under 0.5 s; we use 200 ms). */
  delayedAckMs: number
  /** Maximum segment lifetime; TIME-WAIT lasts 2·MSL (RFC 9293 §3.4.2). */
  mslMs: number
  /** SYN retransmissions before an active open fails with TcpTimeoutError. */
  synRetries: number
  /** SYN-ACK retransmissions before a half-open connection is dropped. */
  synAckRetries: number
  /** Data retransmissions (or unanswered persist probes) before the connection fails. */
  dataRetries: number
  /** Keep-alive defaults (RFC 9293 §3.8.4 / RFC 1122: idle at least 2 h). */
  keepAliveIdleMs: number
  keepAliveIntervalMs: number
  keepAliveProbes: number
}

export const defaultTcpLimits: TcpLimits = {
  maxConnections: 4096,
  maxTimeWait: 4096,
  synBacklog: 128,
  backlog: 128,
  sendBuffer: 256 * 1024,
  recvBuffer: 256 * 1024,
  maxOutOfOrder: 64,
  mss: 1460,
  challengeAcksPerSecond: 1000,
}

export const defaultTcpTimings: TcpTimings = {
  initialRtoMs: 1000,
  minRtoMs: 1000,
  maxRtoMs: 60_000,
  delayedAckMs: 200,
  mslMs: 30_000,
  synRetries: 6,
  synAckRetries: 5,
  dataRetries: 15,
  keepAliveIdleMs: 7_200_000,
  keepAliveIntervalMs: 75_000,
  keepAliveProbes: 9,
}

export type TcpConfig = TcpLimits & TcpTimings

/** Counters of one layer (they only grow, except `connections`). */
export interface TcpStats {
  segmentsIn: number
  segmentsOut: number
  retransmits: number
  fastRetransmits: number
  timeouts: number
  windowProbes: number
  keepAliveProbes: number
  rstsSent: number
  rstsReceived: number
  challengeAcks: number
  /** Challenge ACKs not sent because of the per-second limit. */
  challengeAcksSuppressed: number
  activeOpens: number
  passiveOpens: number
  synDropped: number
  outOfOrderDropped: number
  /** TIME-WAIT connections ended early because `maxTimeWait` was reached. */
  timeWaitRecycled: number
  /** Connections held now (all states but LISTEN and CLOSED). */
  connections: number
}

export function newTcpStats(): TcpStats {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
    windowProbes: 0,
    keepAliveProbes: 0,
    rstsSent: 0,
    rstsReceived: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    activeOpens: 0,
    passiveOpens: 0,
    synDropped: 0,
    outOfOrderDropped: 0,
    timeWaitRecycled: 0,
    connections: 0,
  }
}
