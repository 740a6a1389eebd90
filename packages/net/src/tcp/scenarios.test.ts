/**
 * Scenario tests of the TCP layer (issue #14): each drives two TcpLayers (or one, fed by hand)
 * through the VirtualClock test link and checks the segments on the wire against RFC 9293,
 * RFC 6298, RFC 5681/6582, RFC 7323 and RFC 5961.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { VirtualClock } from '../clock.js'
import type { TcpLimits, TcpTimings } from './config.js'
import { TcpAddressInUseError, TcpConnectionResetError, TcpRefusedError, TcpStateError, TcpTimeoutError } from './errors.js'
import { TcpLayer } from './layer.js'
import { seqAdd } from './seq.js'
import type { TcpSocket } from './socket.js'
import { ADDR_A, ADDR_B, TestLink, type TracedSegment } from './test-link.js'
import { TcpFlag, type TcpSegment } from './types.js'

const { FIN, SYN, RST, ACK } = TcpFlag
const EMPTY = new Uint8Array(0)
const ISS_A = 0x10000000
const ISS_B = 0x50000000

function flagsOf(x: number): string {
  return Object.entries(TcpFlag)
    .filter(([, v]) => x & v)
    .map(([k]) => k)
    .join('|')
}

let latency = 10

interface Setup {
  clock: VirtualClock
  link: TestLink
  a: TcpLayer
  b: TcpLayer
}

function setup(o: { latencyMs?: number; limits?: Partial<TcpLimits>; limitsA?: Partial<TcpLimits>; timings?: Partial<TcpTimings> } = {}): Setup {
  latency = o.latencyMs ?? 10
  const clock = new VirtualClock()
  const link = new TestLink(clock, { latencyMs: o.latencyMs ?? 10 })
  const a = link.layer(ADDR_A, { random32: () => ISS_A, limits: { ...o.limits, ...o.limitsA }, timings: o.timings ?? {} })
  const b = link.layer(ADDR_B, { random32: () => ISS_B, limits: o.limits ?? {}, timings: o.timings ?? {} })
  return { clock, link, a, b }
}

/** Client on A connected to a listener on B:80; runs the handshake. */
function connected(s: Setup): { client: TcpSocket; server: TcpSocket; close: () => void } {
  const l = s.b.listen(80)
  let server: TcpSocket | undefined
  l.onConnection = (x) => {
    server = x
  }
  const client = s.a.connect({ remoteAddr: ADDR_B, remotePort: 80, localAddr: ADDR_A })
  s.clock.advance(Math.max(100, 3 * latency))
  expect(client.state).toBe('ESTABLISHED')
  expect(server?.state).toBe('ESTABLISHED')
  return { client, server: server!, close: () => l.close() }
}

function sink(sock: TcpSocket): Uint8Array[] {
  const got: Uint8Array[] = []
  sock.onData = (c) => got.push(c.slice())
  return got
}

const total = (parts: Uint8Array[]) => parts.reduce((n, p) => n + p.length, 0)

function fromA(t: TracedSegment[], after = 0): TracedSegment[] {
  return t.slice(after).filter((x) => x.src === ADDR_A)
}
function fromB(t: TracedSegment[], after = 0): TracedSegment[] {
  return t.slice(after).filter((x) => x.src === ADDR_B)
}

/** Closes what is open, runs every timer out and checks that nothing is left. */
function drain(s: Setup, ...socks: TcpSocket[]): void {
  for (const x of socks) if (x.state !== 'CLOSED') x.close()
  s.link.filter = undefined
  s.clock.runUntilIdle()
  s.a.destroyAll()
  s.b.destroyAll()
  s.clock.runUntilIdle()
  expect(s.clock.pending).toBe(0)
  expect(s.a.connections.length + s.b.connections.length).toBe(0)
}

function seg(over: Partial<TcpSegment>): TcpSegment {
  return { srcPort: 80, dstPort: 80, seq: 0, ack: 0, flags: ACK, window: 65535, urgent: 0, options: {}, payload: EMPTY, ...over }
}

describe('opening', () => {
  test('three-way handshake: SYN, SYN-ACK, ACK with ISNs from random32, MSS and window scale offered', () => {
    const s = setup()
    const { client, server } = connected(s)
    const t = s.link.trace
    expect(t.slice(0, 3).map((x) => flagsOf(x.seg.flags))).toEqual(['SYN', 'SYN|ACK', 'ACK'])
    expect(t[0]!.seg.seq).toBe(ISS_A)
    expect(t[1]!.seg.seq).toBe(ISS_B)
    expect(t[1]!.seg.ack).toBe(ISS_A + 1)
    expect(t[2]!.seg.ack).toBe(ISS_B + 1)
    // 256 KiB receive buffer: shift 3 (262144 >> 3 fits 16 bits), RFC 7323 §2.
    expect(t[0]!.seg.options).toEqual({ mss: 1460, windowScale: 3 })
    expect(t[1]!.seg.options).toEqual({ mss: 1460, windowScale: 3 })
    expect(t.length).toBe(3)
    expect(server.remotePort).toBe(client.localPort)
    expect(client.localPort).toBeGreaterThanOrEqual(49152)
    drain(s, client, server)
  })

  test('simultaneous open (RFC 9293 Figure 8): SYNs cross, both answer SYN-ACK, both reach ESTABLISHED and carry data', () => {
    const s = setup()
    const x = s.a.connect({ remoteAddr: ADDR_B, remotePort: 2000, localAddr: ADDR_A, localPort: 1000 })
    const y = s.b.connect({ remoteAddr: ADDR_A, remotePort: 1000, localAddr: ADDR_B, localPort: 2000 })
    let connects = 0
    x.onConnect = () => connects++
    y.onConnect = () => connects++
    s.clock.advance(100)
    expect(s.link.trace.map((t) => `${t.time} ${t.src === ADDR_A ? 'A' : 'B'} ${flagsOf(t.seg.flags)}`).sort()).toEqual(['0 A SYN', '0 B SYN', '10 A SYN|ACK', '10 B SYN|ACK'])
    expect([x.state, y.state]).toEqual(['ESTABLISHED', 'ESTABLISHED'])
    expect(connects).toBe(2)
    const gx = sink(x)
    const gy = sink(y)
    x.send(new Uint8Array([1, 2, 3]))
    y.send(new Uint8Array([4, 5]))
    s.clock.advance(500)
    expect(gy.map((c) => [...c]).flat()).toEqual([1, 2, 3])
    expect(gx.map((c) => [...c]).flat()).toEqual([4, 5])
    drain(s, x, y)
  })

  test('RST on a closed port (RFC 9293 §3.10.7.1): connect() fails with TcpRefusedError', () => {
    const s = setup()
    const c = s.a.connect({ remoteAddr: ADDR_B, remotePort: 81, localAddr: ADDR_A })
    let err: Error | undefined
    c.onClose = (e) => {
      err = e
    }
    s.clock.runUntilIdle()
    expect(err).toBeInstanceOf(TcpRefusedError)
    expect((err as TcpRefusedError).code).toBe('TCP_REFUSED')
    const rst = s.link.trace[1]!.seg
    expect(flagsOf(rst.flags)).toBe('RST|ACK')
    expect([rst.seq, rst.ack]).toEqual([0, ISS_A + 1])
    expect(s.clock.pending).toBe(0)
    expect(s.a.connections.length).toBe(0)
  })

  test('RST forms for segments to nothing: ACK → <SEQ=SEG.ACK><RST>; no ACK → <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>; RST → silence', () => {
    const out: TcpSegment[] = []
    const layer = new TcpLayer({ clock: new VirtualClock(), output: (x) => out.push(x) })
    layer.input(seg({ srcPort: 5555, dstPort: 81, seq: 100, ack: 777, flags: ACK, payload: new Uint8Array(5) }), ADDR_A, ADDR_B)
    layer.input(seg({ srcPort: 5555, dstPort: 81, seq: 100, flags: FIN, payload: new Uint8Array(5) }), ADDR_A, ADDR_B)
    layer.input(seg({ srcPort: 5555, dstPort: 81, seq: 100, flags: RST }), ADDR_A, ADDR_B)
    expect(out.map((x) => [flagsOf(x.flags), x.seq, x.ack, x.srcPort, x.dstPort])).toEqual([
      ['RST', 777, 0, 81, 5555],
      ['RST|ACK', 0, 106, 81, 5555],
    ])
    // A listener answers a stray ACK the same way (RFC 9293 §3.10.7.2).
    layer.listen(81)
    layer.input(seg({ srcPort: 5555, dstPort: 81, seq: 100, ack: 999, flags: ACK }), ADDR_A, ADDR_B)
    expect(flagsOf(out[2]!.flags)).toBe('RST')
    expect(out[2]!.seq).toBe(999)
  })
})

describe('RST and SYN checks (RFC 5961)', () => {
  test('RST exactly at RCV.NXT resets; elsewhere in the window draws a challenge ACK; outside the window is ignored', () => {
    const s = setup()
    const { client, server } = connected(s)
    let err: Error | undefined
    client.onClose = (e) => {
      err = e
    }
    const rcvNxt = client.sequence.rcvNxt
    const rst = (seq: number) => seg({ srcPort: 80, dstPort: client.localPort, seq, flags: RST })
    const before = s.link.trace.length
    s.a.input(rst(seqAdd(rcvNxt, 1000)), ADDR_B, ADDR_A)
    expect(client.state).toBe('ESTABLISHED')
    const challenge = s.link.trace.slice(before)
    expect(challenge.map((x) => [flagsOf(x.seg.flags), x.seg.ack])).toEqual([['ACK', rcvNxt]])
    expect(s.a.stats.challengeAcks).toBe(1)
    s.a.input(rst(seqAdd(rcvNxt, 0x40000000)), ADDR_B, ADDR_A)
    s.a.input(rst(seqAdd(rcvNxt, -1)), ADDR_B, ADDR_A)
    expect(s.link.trace.length).toBe(before + 1) // no answer to out-of-window RSTs
    expect(client.state).toBe('ESTABLISHED')
    s.a.input(rst(rcvNxt), ADDR_B, ADDR_A)
    expect(client.state).toBe('CLOSED')
    expect(err).toBeInstanceOf(TcpConnectionResetError)
    expect((err as TcpConnectionResetError).code).toBe('TCP_RESET')
    drain(s, server)
  })

  test('challenge ACKs are rate-limited per second across the layer (RFC 5961 §7)', () => {
    const s = setup({ limits: { challengeAcksPerSecond: 10 } })
    const { client, server } = connected(s)
    const before = s.link.trace.length
    const rst = () => seg({ srcPort: 80, dstPort: client.localPort, seq: seqAdd(client.sequence.rcvNxt, 500), flags: RST })
    for (let i = 0; i < 5000; i++) s.a.input(rst(), ADDR_B, ADDR_A)
    expect(s.link.trace.length - before).toBe(10)
    expect(s.a.stats.challengeAcks).toBe(10)
    expect(s.a.stats.challengeAcksSuppressed).toBe(4990)
    s.clock.advance(1000)
    s.a.input(rst(), ADDR_B, ADDR_A)
    expect(s.a.stats.challengeAcks).toBe(11) // a new second, a new budget
    expect(client.state).toBe('ESTABLISHED')
    drain(s, client, server)
  })

  test('a SYN on an established connection draws a challenge ACK, not a reset (RFC 5961 §4)', () => {
    const s = setup()
    const { client, server } = connected(s)
    const before = s.link.trace.length
    s.a.input(seg({ srcPort: 80, dstPort: client.localPort, seq: client.sequence.rcvNxt, flags: SYN }), ADDR_B, ADDR_A)
    expect(client.state).toBe('ESTABLISHED')
    expect(s.link.trace.slice(before).map((x) => flagsOf(x.seg.flags))).toEqual(['ACK'])
    expect(s.a.stats.challengeAcks).toBe(1)
    drain(s, client, server)
  })

  test('an ACK for data never sent is answered with an ACK and dropped', () => {
    const s = setup()
    const { client, server } = connected(s)
    const before = s.link.trace.length
    const sq = client.sequence
    s.a.input(seg({ srcPort: 80, dstPort: client.localPort, seq: sq.rcvNxt, ack: seqAdd(sq.sndMax, 5000), flags: ACK }), ADDR_B, ADDR_A)
    expect(client.sequence.sndUna).toBe(sq.sndUna)
    expect(s.link.trace.slice(before).map((x) => flagsOf(x.seg.flags))).toEqual(['ACK'])
    drain(s, client, server)
  })
})

describe('closing', () => {
  test('simultaneous close: FINs cross, both go through CLOSING and TIME-WAIT (2·MSL) to CLOSED', () => {
    const s = setup({ timings: { mslMs: 1000 } })
    const { client, server } = connected(s)
    const closed: Array<Error | undefined | 'no'> = ['no', 'no']
    client.onClose = (e) => (closed[0] = e)
    server.onClose = (e) => (closed[1] = e)
    const t0 = s.clock.now()
    client.close()
    server.close()
    expect([client.state, server.state]).toEqual(['FIN-WAIT-1', 'FIN-WAIT-1'])
    s.clock.advance(10) // the FINs arrive
    expect([client.state, server.state]).toEqual(['CLOSING', 'CLOSING'])
    s.clock.advance(10) // the ACKs of the FINs arrive
    expect([client.state, server.state]).toEqual(['TIME-WAIT', 'TIME-WAIT'])
    s.clock.advance(2000 - 1)
    expect(client.state).toBe('TIME-WAIT')
    s.clock.advance(1)
    expect([client.state, server.state]).toEqual(['CLOSED', 'CLOSED'])
    expect(s.clock.now() - t0).toBe(20 + 2000)
    expect(closed).toEqual([undefined, undefined])
    expect(s.link.trace.slice(3).map((x) => `${x.time - t0} ${x.src === ADDR_A ? 'A' : 'B'} ${flagsOf(x.seg.flags)}`).sort()).toEqual([
      '0 A FIN|ACK',
      '0 B FIN|ACK',
      '10 A ACK',
      '10 B ACK',
    ])
    expect(s.clock.pending).toBe(0)
  })

  test('orderly close: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT on the closer, CLOSE-WAIT → LAST-ACK → CLOSED on the peer', () => {
    const s = setup({ timings: { mslMs: 1000 } })
    const { client, server } = connected(s)
    const states: string[] = []
    let serverEnded = false
    server.onEnd = () => {
      serverEnded = true
      states.push(`server end in ${server.state}`)
    }
    client.close()
    states.push(client.state)
    s.clock.advance(10)
    expect(serverEnded).toBe(true)
    s.clock.advance(300) // a FIN is acknowledged at once; the ACK reached the client at 20 ms
    states.push(client.state, server.state)
    server.close()
    states.push(server.state)
    s.clock.advance(10)
    states.push(client.state)
    s.clock.advance(10)
    states.push(server.state)
    expect(states).toEqual(['FIN-WAIT-1', 'server end in CLOSE-WAIT', 'FIN-WAIT-2', 'CLOSE-WAIT', 'LAST-ACK', 'TIME-WAIT', 'CLOSED'])
    s.clock.advance(2000)
    expect(client.state).toBe('CLOSED')
    expect(s.clock.pending).toBe(0)
  })

  test('TIME-WAIT lasts 2·MSL, re-ACKs a retransmitted FIN and restarts its timer', () => {
    const s = setup({ timings: { mslMs: 1000 } })
    const { client, server } = connected(s)
    server.onEnd = () => server.close()
    let closedAt = -1
    client.onClose = () => {
      closedAt = s.clock.now()
    }
    client.close()
    s.clock.advance(30)
    expect(client.state).toBe('TIME-WAIT')
    const fin = fromB(s.link.trace).find((x) => x.seg.flags & FIN)!
    s.clock.advance(1000)
    const before = s.link.trace.length
    s.a.input(fin.seg, ADDR_B, ADDR_A) // the peer's FIN again (as if our ACK was lost)
    const reAck = s.link.trace.slice(before)
    expect(reAck.map((x) => [flagsOf(x.seg.flags), x.seg.ack])).toEqual([['ACK', seqAdd(fin.seg.seq, 1)]])
    const restartedAt = s.clock.now()
    s.clock.runUntilIdle()
    expect(closedAt).toBe(restartedAt + 2000)
    expect(s.clock.pending).toBe(0)
  })

  test('send() after close() throws TcpStateError; listen() twice on a port throws TcpAddressInUseError', () => {
    const s = setup()
    const { client, server } = connected(s)
    client.close()
    expect(() => client.send(new Uint8Array(1))).toThrow(TcpStateError)
    expect(() => s.b.listen(80)).toThrow(TcpAddressInUseError)
    drain(s, client, server)
  })

  test('abort() sends RST and the peer sees TcpConnectionResetError; no timer is left on either side', () => {
    const s = setup()
    const { client, server } = connected(s)
    let err: Error | undefined
    server.onClose = (e) => {
      err = e
    }
    client.send(new Uint8Array(5000))
    client.abort()
    s.clock.advance(50)
    expect(err).toBeInstanceOf(TcpConnectionResetError)
    expect(s.clock.pending).toBe(0)
    expect(s.a.connections.length + s.b.connections.length).toBe(0)
  })
})

describe('flow control', () => {
  test('zero window, then an immediate window update when the reader resumes', () => {
    // Five full segments fill the buffer exactly (a smaller remainder would wait: sender SWS avoidance).
    const s = setup({ limits: { recvBuffer: 5 * 1460 } })
    const { client, server } = connected(s)
    server.pause()
    const got = sink(server)
    client.send(new Uint8Array(20_000).map((_, i) => i & 0xff))
    s.clock.advance(500)
    expect(server.readableLength).toBe(7300)
    expect(server.sequence.rcvWnd).toBe(0)
    expect(client.congestion.sndWnd).toBe(0)
    expect(client.bufferedAmount).toBe(20_000 - 7300)
    expect(fromB(s.link.trace).at(-1)!.seg.window).toBe(0)
    const before = s.link.trace.length
    const t = s.clock.now()
    server.resume()
    // The update leaves at once (no delayed ACK), announcing the freed buffer.
    const upd = s.link.trace[before]!
    expect([upd.src, upd.time, flagsOf(upd.seg.flags), upd.seg.window]).toEqual([ADDR_B, t, 'ACK', 7300])
    s.clock.advance(2000)
    expect(total(got)).toBe(20_000)
    expect(got.every((c) => c.every((v, i) => v === ((i + got.slice(0, got.indexOf(c)).reduce((n, x) => n + x.length, 0)) & 0xff)))).toBe(true)
    expect(s.a.stats.windowProbes).toBe(0)
    drain(s, client, server)
  })

  test('pull-style reading: without onData, data waits for recv(); reading reopens the window', () => {
    const s = setup({ limits: { recvBuffer: 2 * 1460 } })
    const { client, server } = connected(s)
    let readable = 0
    server.onReadable = () => readable++
    client.send(new Uint8Array(5000).map((_, i) => i & 0xff))
    client.close()
    s.clock.advance(100)
    expect(readable).toBe(2)
    expect(server.readableLength).toBe(2920)
    expect(server.sequence.rcvWnd).toBe(0)
    const parts: Uint8Array[] = []
    for (let x = server.recv(1000); x; x = server.recv(1000)) parts.push(x.slice())
    expect(parts.map((p) => p.length)).toEqual([1000, 460, 1000, 460])
    expect(fromB(s.link.trace).at(-1)!.seg.window).toBe(2920) // the window update went out at once
    s.clock.advance(1000)
    for (let x = server.recv(); x; x = server.recv()) parts.push(x.slice())
    const all = Uint8Array.from(parts.flatMap((p) => [...p]))
    expect(all.length).toBe(5000)
    expect(all.every((v, i) => v === (i & 0xff))).toBe(true)
    expect(server.readableEnded).toBe(true)
    drain(s, client, server)
  })

    test('persist timer: zero-window probes of one byte, intervals doubling, until the window reopens', () => {
    const s = setup({ limits: { recvBuffer: 2 * 1460 } })
    const { client, server } = connected(s)
    server.pause()
    const got = sink(server)
    client.send(new Uint8Array(10_000))
    s.clock.advance(100) // two full segments fill the window; their ACK announces 0
    expect(client.congestion.sndWnd).toBe(0)
    const mark = s.link.trace.length
    s.clock.advance(20_000)
    const probes = fromA(s.link.trace, mark).filter((x) => x.seg.payload.length > 0)
    expect(probes.length).toBe(4)
    expect(probes.every((p) => p.seg.payload.length === 1 && p.seg.seq === seqAdd(client.sequence.sndUna, 0))).toBe(true)
    const gaps = probes.slice(1).map((p, i) => p.time - probes[i]!.time)
    expect(gaps).toEqual([2000, 4000, 8000]) // RTO 1 s, doubled each time
    expect(s.a.stats.windowProbes).toBe(4)
    // Each probe is answered (window still 0), so the connection is not given up.
    expect(fromB(s.link.trace, mark).length).toBe(4)
    expect(client.state).toBe('ESTABLISHED')
    server.resume()
    s.clock.advance(2000)
    expect(total(got)).toBe(10_000)
    drain(s, client, server)
  })

  test('window scaling (RFC 7323): a 1 MiB buffer offers shift 5 and the peer fills more than 64 KiB unread', () => {
    const s = setup({ limits: { recvBuffer: 1 << 20, sendBuffer: 1 << 21 } })
    const { client, server } = connected(s)
    expect(s.link.trace[0]!.seg.options.windowScale).toBe(5)
    server.pause()
    sink(server)
    client.send(new Uint8Array(800_000))
    s.clock.advance(5000)
    expect(client.congestion.sndWnd).toBeGreaterThan(0)
    expect(server.readableLength).toBe(1 << 20 >= 800_000 ? 800_000 : 1 << 20)
    expect(server.readableLength).toBeGreaterThan(65_535)
    drain(s, client, server)
  })

  test('no window scaling when the SYN does not offer it; the SYN-ACK then carries no WS option', () => {
    const s = setup()
    s.b.listen(80)
    s.b.input(seg({ srcPort: 4000, dstPort: 80, seq: 1000, flags: SYN, options: { mss: 1000 } }), ADDR_A, ADDR_B)
    const synAck = s.link.trace[0]!.seg
    expect(flagsOf(synAck.flags)).toBe('SYN|ACK')
    expect(synAck.options).toEqual({ mss: 1460 })
    expect(synAck.window).toBe(65_535)
    drain(s)
  })

  test('MSS option: a peer announcing 536 gets segments of at most 536 bytes', () => {
    const s = setup({ limitsA: { mss: 536 } })
    const { client, server } = connected(s)
    const got = sink(client)
    server.send(new Uint8Array(10_000))
    s.clock.advance(3000)
    expect(total(got)).toBe(10_000)
    const sizes = fromB(s.link.trace).map((x) => x.seg.payload.length)
    expect(Math.max(...sizes)).toBe(536)
    drain(s, client, server)
  })

  test('out-of-order segments are reassembled, and held only up to maxOutOfOrder', () => {
    const s = setup({ limits: { maxOutOfOrder: 8 } })
    const { client, server } = connected(s)
    const got = sink(server)
    const base = client.sequence.sndNxt
    const ack = client.sequence.rcvNxt
    const data = (k: number) => seg({ srcPort: client.localPort, dstPort: 80, seq: seqAdd(base, k * 100), ack, payload: new Uint8Array(100).fill(k) })
    for (let k = 20; k >= 1; k--) s.b.input(data(k), ADDR_A, ADDR_B) // far ones first: the near ones are dropped
    expect(s.b.stats.outOfOrderDropped).toBe(12)
    s.b.input(data(0), ADDR_A, ADDR_B)
    // Segments 0 and 13..20 were held or in order; 1..12 were dropped, so only segment 0 is deliverable.
    expect(total(got)).toBe(100)
    for (let k = 1; k <= 12; k++) s.b.input(data(k), ADDR_A, ADDR_B)
    expect(total(got)).toBe(2100)
    expect(got.map((c) => c[0])).toEqual(Array.from({ length: 21 }, (_, k) => k))
    client.abort()
    drain(s, server)
  })

  test('overlapping out-of-order segments cannot hold more bytes than the receive buffer', () => {
    const s = setup({ limits: { recvBuffer: 64 * 1024 } })
    const { client, server } = connected(s)
    const got = sink(server)
    const base = client.sequence.sndNxt
    const ack = client.sequence.rcvNxt
    // 64 segments of ~60 KiB starting one byte apart: without a byte bound they would pin ~4 MiB.
    for (let k = 1; k <= 64; k++) {
      s.b.input(seg({ srcPort: client.localPort, dstPort: 80, seq: seqAdd(base, k), ack, payload: new Uint8Array(60_000).fill(7) }), ADDR_A, ADDR_B)
      expect(server.outOfOrder.bytes).toBeLessThanOrEqual(64 * 1024)
    }
    expect(server.outOfOrder.segments).toBe(1)
    expect(s.b.stats.outOfOrderDropped).toBe(63)
    s.b.input(seg({ srcPort: client.localPort, dstPort: 80, seq: base, ack, payload: new Uint8Array(1).fill(7) }), ADDR_A, ADDR_B)
    expect(total(got)).toBe(60_001)
    expect(server.outOfOrder).toEqual({ segments: 0, bytes: 0 })
    client.abort()
    drain(s, server)
  })
})

describe('retransmission (RFC 6298) and congestion control (RFC 5681, RFC 6582)', () => {
  test('RTO backs off by doubling, up to maxRtoMs, then the connection fails with TcpTimeoutError', () => {
    const s = setup({ timings: { dataRetries: 6, maxRtoMs: 5000 } })
    const { client, server } = connected(s)
    let err: Error | undefined
    client.onClose = (e) => {
      err = e
    }
    s.link.filter = (x, src) => !(src === ADDR_A && x.payload.length > 0)
    const t0 = s.clock.now()
    client.send(new Uint8Array(100))
    s.clock.runUntilIdle()
    const sends = fromA(s.link.trace).filter((x) => x.seg.payload.length > 0)
    expect(sends[0]!.time).toBe(t0)
    expect(sends.slice(1).map((x, i) => x.time - sends[i]!.time)).toEqual([1000, 2000, 4000, 5000, 5000, 5000])
    expect(err).toBeInstanceOf(TcpTimeoutError)
    expect((err as TcpTimeoutError).code).toBe('TCP_TIMEOUT')
    expect(client.counters.timeouts).toBe(7)
    // The RST carries SND.MAX; the peer never got the data, so (RFC 5961 §3.2) it answers with a
    // challenge ACK, and our closed port's RST at exactly its RCV.NXT then resets it.
    expect(fromA(s.link.trace).slice(-2).map((x) => flagsOf(x.seg.flags))).toEqual(['RST|ACK', 'RST'])
    expect(server.state).toBe('CLOSED')
    drain(s, server)
  })

  test('the retransmission timer is not restarted by duplicate ACKs, only when new data is acknowledged', () => {
    const s = setup()
    const { client, server } = connected(s)
    sink(server)
    const first = client.sequence.sndNxt
    let dropped = false
    s.link.filter = (x, src) => {
      if (src === ADDR_A && x.seq === first && !dropped) return (dropped = true), false
      return true
    }
    const t0 = s.clock.now()
    client.send(new Uint8Array(3 * 1460)) // the initial window: 3 segments, the first lost
    s.clock.advance(900)
    const dups = fromB(s.link.trace).filter((x) => x.time > t0 && x.seg.ack === first)
    expect(dups.length).toBe(2) // two duplicate ACKs (not three: no fast retransmit)
    s.clock.advance(200)
    const re = fromA(s.link.trace).filter((x) => x.seg.seq === first && x.seg.payload.length > 0)
    expect(re.map((x) => x.time - t0)).toEqual([0, 1000]) // RTO from the first send, not from the last dup ACK
    drain(s, client, server)
  })

  test('fast retransmit after three duplicate ACKs, then NewReno recovery ends on the full ACK', () => {
    const s = setup()
    const { client, server } = connected(s)
    const got = sink(server)
    // Open the congestion window first.
    client.send(new Uint8Array(100_000))
    s.clock.advance(2000)
    expect(total(got)).toBe(100_000)
    const lost = seqAdd(client.sequence.sndNxt, 2 * 1460)
    let dropped = false
    s.link.filter = (x, src) => {
      if (src === ADDR_A && x.seq === lost && !dropped) return (dropped = true), false
      return true
    }
    const mark = s.link.trace.length
    const t0 = s.clock.now()
    client.send(new Uint8Array(40 * 1460))
    s.clock.advance(500)
    const dupAcks = fromB(s.link.trace, mark).filter((x) => x.seg.ack === lost)
    const re = fromA(s.link.trace, mark).filter((x) => x.seg.seq === lost)
    expect(re.length).toBe(2)
    expect(dupAcks.length).toBeGreaterThanOrEqual(3)
    // The retransmission leaves when the third duplicate arrives, long before an RTO.
    expect(re[1]!.time).toBe(dupAcks[2]!.time + 10)
    expect(re[1]!.time - t0).toBeLessThan(100)
    expect(client.counters.fastRetransmits).toBe(1)
    expect(client.counters.timeouts).toBe(0)
    s.clock.advance(2000)
    expect(total(got)).toBe(100_000 + 40 * 1460)
    // The loss halved ssthresh (from "infinite") to half the flight, at least 2·SMSS (RFC 5681 eq. 4).
    const cc = client.congestion
    expect(cc.ssthresh).toBeLessThan(1 << 30)
    expect(cc.ssthresh).toBeGreaterThanOrEqual(2 * 1460)
    drain(s, client, server)
  })

  test('NewReno: a partial ACK retransmits the next hole without waiting for an RTO', () => {
    const s = setup()
    const { client, server } = connected(s)
    const got = sink(server)
    client.send(new Uint8Array(100_000))
    s.clock.advance(2000)
    const lost1 = seqAdd(client.sequence.sndNxt, 2 * 1460)
    const lost2 = seqAdd(client.sequence.sndNxt, 6 * 1460)
    const dropped = new Set<number>()
    s.link.filter = (x, src) => {
      if (src === ADDR_A && (x.seq === lost1 || x.seq === lost2) && !dropped.has(x.seq)) return dropped.add(x.seq), false
      return true
    }
    const mark = s.link.trace.length
    client.send(new Uint8Array(40 * 1460))
    s.clock.advance(500)
    const re2 = fromA(s.link.trace, mark).filter((x) => x.seg.seq === lost2)
    expect(re2.length).toBe(2)
    expect(client.counters.fastRetransmits).toBe(1) // one recovery episode for both losses
    expect(client.counters.timeouts).toBe(0)
    s.clock.advance(2000)
    expect(total(got)).toBe(100_000 + 40 * 1460)
    drain(s, client, server)
  })

  test("Karn's algorithm: no RTT sample from a retransmitted segment; the backed-off RTO stays until a clean sample", () => {
    const s = setup({ latencyMs: 100 })
    const { client, server } = connected(s)
    sink(server)
    expect(client.congestion.srtt).toBe(200) // the SYN's round trip
    expect(client.congestion.rto).toBe(1000) // max(1 s, 200 + 4·100)
    const first = client.sequence.sndNxt
    let dropped = false
    s.link.filter = (x, src) => {
      if (src === ADDR_A && x.seq === first && x.payload.length > 0 && !dropped) return (dropped = true), false
      return true
    }
    client.send(new Uint8Array(100))
    s.clock.advance(1000 + 200 + 300) // RTO, retransmission, its ACK (delayed ACK 200 ms)
    expect(client.sequence.sndUna).toBe(seqAdd(first, 100))
    expect(client.congestion.srtt).toBe(200) // the ambiguous sample was not taken
    expect(client.congestion.rto).toBe(2000) // the backed-off value is kept
    client.send(new Uint8Array(100))
    s.clock.advance(1000)
    // A clean sample (200 ms plus the 200 ms delayed ACK) recomputes the RTO.
    expect(client.congestion.srtt).toBe(0.875 * 200 + 0.125 * 400)
    expect(client.congestion.rto).toBe(1000)
    drain(s, client, server)
  })

  test('SRTT/RTTVAR follow RFC 6298 §2 with a lowered minimum RTO', () => {
    const s = setup({ latencyMs: 50, timings: { minRtoMs: 10 } })
    const { client, server } = connected(s)
    // First sample R = 100: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR = 300.
    expect(client.congestion.srtt).toBe(100)
    expect(client.congestion.rto).toBe(300)
    drain(s, client, server)
  })
})

describe('ACK and send policy', () => {
  test('delayed ACK: a lone segment is ACKed after 200 ms; every second full segment at once', () => {
    const s = setup()
    const { client, server } = connected(s)
    sink(server)
    const t0 = s.clock.now()
    client.send(new Uint8Array(100))
    s.clock.advance(1000)
    const acks = fromB(s.link.trace).filter((x) => x.time > t0)
    expect(acks.map((x) => x.time - t0)).toEqual([10 + 200])
    const t1 = s.clock.now()
    client.send(new Uint8Array(4 * 1460))
    s.clock.advance(1000)
    const acks2 = fromB(s.link.trace).filter((x) => x.time >= t1)
    // 4 full segments: 3 in the initial window → ACK after the 2nd, then the 3rd waits for its
    // pair (the 4th, sent on that ACK) → ACK at once again.
    expect(acks2.length).toBe(2)
    expect(acks2.every((x) => x.time - t1 < 100)).toBe(true)
    drain(s, client, server)
  })

  test('the SYN-ACK window is the one the receiver holds itself to: a large-MSS transfer does not wait for a delayed ACK', () => {
    // A 64 KiB loopback MSS: the SYN-ACK's unscaled 65535-byte window (RFC 7323 §2.2) takes one
    // segment and leaves 40 bytes. The receiver must know it offered only that much, so that its
    // free 1 MiB buffer makes a window update (RFC 9293 §3.8.6.2.2) at once; a receiver that
    // believes it offered 1 MiB sends none and the sender, held by its SWS avoidance, waits
    // 200 ms for the delayed ACK.
    const s = setup({ latencyMs: 1, limits: { mss: 65495, recvBuffer: 1 << 20, sendBuffer: 1 << 20 } })
    const l = s.b.listen(80)
    let server: TcpSocket | undefined
    l.onConnection = (x) => (server = x)
    const client = s.a.connect({ remoteAddr: ADDR_B, remotePort: 80, localAddr: ADDR_A })
    s.clock.advance(1)
    const synAck = fromB(s.link.trace)[0]!
    expect(synAck.seg.flags).toBe(SYN | ACK)
    s.clock.advance(2)
    expect(server!.sequence.rcvWnd).toBe(synAck.seg.window)
    const got = sink(server!)
    const t0 = s.clock.now()
    client.send(new Uint8Array(1 << 20))
    for (let i = 0; i < 100 && total(got) < 1 << 20; i++) s.clock.advance(1)
    expect(total(got)).toBe(1 << 20)
    expect(s.clock.now() - t0).toBeLessThan(100)
    // Still delayed ACK in the steady state: at most one ACK per segment, fewer in total.
    const segs = fromA(s.link.trace).filter((x) => x.time >= t0 && x.seg.payload.length > 0).length
    const acks = fromB(s.link.trace).filter((x) => x.time >= t0).length
    expect(acks).toBeLessThanOrEqual(segs)
    drain(s, client, server!)
    l.close()
  })

  test('Nagle: small writes coalesce while data is unacknowledged; noDelay sends each at once', () => {
    for (const noDelay of [false, true]) {
      const s = setup()
      const { client, server } = connected(s)
      const got = sink(server)
      client.setNoDelay(noDelay)
      const mark = s.link.trace.length
      for (let i = 0; i < 10; i++) client.send(new Uint8Array(10).fill(i))
      s.clock.advance(1000)
      const sizes = fromA(s.link.trace, mark)
        .filter((x) => x.seg.payload.length > 0)
        .map((x) => x.seg.payload.length)
      expect(sizes).toEqual(noDelay ? Array(10).fill(10) : [10, 90])
      expect(total(got)).toBe(100)
      drain(s, client, server)
    }
  })

  test('keep-alive: probes after the idle time are answered; unanswered probes end with TcpTimeoutError', () => {
    const s = setup({ timings: { keepAliveIntervalMs: 1000, keepAliveProbes: 3 } })
    const { client, server } = connected(s)
    let err: Error | undefined
    client.onClose = (e) => {
      err = e
    }
    client.setKeepAlive(true, 10_000)
    s.clock.advance(10_000 + 100)
    const probe = fromA(s.link.trace).at(-1)!
    expect(probe.seg.payload.length).toBe(0)
    expect(probe.seg.seq).toBe(seqAdd(client.sequence.sndMax, -1)) // SEG.SEQ = SND.NXT − 1
    const answer = fromB(s.link.trace).at(-1)!
    expect(answer.time).toBe(probe.time + 10)
    expect(s.a.stats.keepAliveProbes).toBe(1)
    s.clock.advance(30_000)
    expect(client.state).toBe('ESTABLISHED')
    expect(s.a.stats.keepAliveProbes).toBe(4)
    // Cut the link: three probes a second apart, then the connection is declared dead.
    s.link.filter = () => false
    const mark = s.link.trace.length
    s.clock.advance(10_000 + 3 * 1000 + 100)
    expect(err).toBeInstanceOf(TcpTimeoutError)
    const after = fromA(s.link.trace, mark).map((x) => flagsOf(x.seg.flags))
    expect(after).toEqual(['ACK', 'ACK', 'ACK', 'RST|ACK'])
    drain(s, server)
  })
})

describe('layer plumbing', () => {
  test('an output that loops back synchronously into the same layer (a loopback interface) works: re-entry is queued', () => {
    const clock = new VirtualClock()
    let depth = 0
    let maxDepth = 0
    const layer: TcpLayer = new TcpLayer({
      clock,
      output: (x, src, dst) => {
        depth++
        maxDepth = Math.max(maxDepth, depth)
        layer.input(x, src, dst)
        depth--
      },
    })
    const l = layer.listen(80)
    const got = { client: 0, server: 0 }
    let closes = 0
    l.onConnection = (srv) => {
      srv.onData = (c) => (got.server += c.length)
      srv.onEnd = () => srv.close()
      srv.onClose = () => closes++
      srv.send(new Uint8Array(50_000))
    }
    const c = layer.connect({ remoteAddr: ADDR_A, remotePort: 80, localAddr: ADDR_A })
    c.onData = (x) => (got.client += x.length)
    c.onClose = () => closes++
    c.onConnect = () => {
      c.send(new Uint8Array(100_000))
      c.close()
    }
    clock.runUntilIdle()
    expect(got).toEqual({ client: 50_000, server: 100_000 })
    expect(closes).toBe(2)
    expect(maxDepth).toBe(1) // no recursion: each looped-back segment waited for the current step
    expect(clock.pending).toBe(0)
    expect(layer.connections.length).toBe(0)
    l.close()
  })
})

describe('limits and hostile input', () => {
  test('a SYN flood is bounded by the SYN backlog; half-open entries expire; nothing is left', () => {
    const clock = new VirtualClock()
    let sent = 0
    const layer = new TcpLayer({ clock, output: () => sent++, random32: () => 42, limits: { synBacklog: 16, maxConnections: 64 }, timings: { synAckRetries: 2 } })
    const l = layer.listen(80)
    let accepted = 0
    l.onConnection = () => accepted++
    let most = 0
    for (let i = 0; i < 20_000; i++) {
      layer.input(seg({ srcPort: 1024 + (i % 60_000), dstPort: 80, seq: Math.imul(i, 7919) >>> 0, flags: SYN }), (0x0b000000 + i) >>> 0, ADDR_B)
      most = Math.max(most, layer.connections.length)
    }
    expect(most).toBe(16)
    expect(layer.stats.synDropped).toBe(20_000 - 16)
    expect(clock.pending).toBe(16) // one SYN-ACK retransmission timer per half-open connection
    clock.runUntilIdle()
    expect(sent).toBe(16 * 3) // SYN-ACK and two retransmissions each
    expect(layer.connections.length).toBe(0)
    expect(accepted).toBe(0)
    expect(clock.pending).toBe(0)
    l.close()
  })

  test('connections opened and closed faster than 2·MSL never exhaust the layer: TIME-WAIT has its own budget, the oldest ends early past it', () => {
    const s = setup({ limits: { maxConnections: 8, maxTimeWait: 5 } })
    const l = s.b.listen(80)
    l.onConnection = (x) => {
      x.onEnd = () => x.close()
    }
    // 50 client-closed connections in a row (each leaves the client side in TIME-WAIT), 8 live at most.
    for (let i = 0; i < 50; i++) {
      const c = s.a.connect({ remoteAddr: ADDR_B, remotePort: 80, localAddr: ADDR_A })
      s.clock.advance(50)
      expect(c.state).toBe('ESTABLISHED')
      c.close()
      s.clock.advance(50)
      expect(c.state).toBe('TIME-WAIT')
    }
    expect(s.a.connections.filter((c) => c.state === 'TIME-WAIT').length).toBe(5)
    expect(s.a.stats.timeWaitRecycled).toBe(45)
    l.close()
    s.clock.runUntilIdle()
    expect(s.a.connections.length).toBe(0)
    expect(s.clock.pending).toBe(0)
  })

  test('the accept backlog holds connections until a handler is set, and resets beyond it', () => {
    const s = setup()
    const l = s.b.listen(80, 0, { backlog: 2 })
    const clients = [0, 1, 2].map(() => s.a.connect({ remoteAddr: ADDR_B, remotePort: 80, localAddr: ADDR_A }))
    const errors: Array<Error | undefined> = []
    for (const c of clients) c.onClose = (e) => errors.push(e)
    s.clock.advance(100)
    expect(errors.length).toBe(1)
    expect(errors[0]).toBeInstanceOf(TcpConnectionResetError)
    const accepted: TcpSocket[] = []
    l.onConnection = (x) => accepted.push(x)
    expect(accepted.length).toBe(2)
    l.close()
    drain(s, ...clients, ...accepted)
  })

  test('hostile segments (any field, any port, any flags) never throw and never grow state beyond the limits', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            srcPort: fc.constantFrom(80, 1, 49152, 65535),
            dstPort: fc.constantFrom(80, 81, 0),
            seq: fc.integer({ min: 0, max: 0xffffffff }),
            ack: fc.integer({ min: 0, max: 0xffffffff }),
            flags: fc.integer({ min: 0, max: 0xff }),
            window: fc.integer({ min: 0, max: 0xffff }),
            urgent: fc.integer({ min: 0, max: 0xffff }),
            options: fc.record({ mss: fc.integer({ min: 0, max: 0xffff }), windowScale: fc.integer({ min: 0, max: 255 }) }, { requiredKeys: [] }),
            payload: fc.uint8Array({ maxLength: 3000 }),
          }),
          { maxLength: 60 },
        ),
        (segs) => {
          const s = setup({ limits: { maxConnections: 8, synBacklog: 4 } })
          const { client, server } = connected(s)
          for (const x of segs) {
            // Aim some at the live connection's ports.
            const y = x.srcPort === 49152 ? { ...x, srcPort: client.localPort } : x
            s.b.input(y, ADDR_A, ADDR_B)
            s.a.input({ ...y, srcPort: 80, dstPort: client.localPort }, ADDR_B, ADDR_A)
            expect(s.b.connections.length).toBeLessThanOrEqual(8)
          }
          s.clock.advance(5000)
          drain(s, client, server)
        },
      ),
      { numRuns: 150 },
    )
  })
})
