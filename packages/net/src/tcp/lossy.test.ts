/**
 * Issue #14, "Over the lossy test link (drop, reorder, duplicate, corrupt up to 15 %): every
 * byte arrives exactly once and in order, connections close, no timer or socket leaks."
 * Two TcpLayers talk through the VirtualClock-driven TestLink; fast-check draws the seed, the
 * fault rates, the sizes, the chunking and the reader's behaviour, so a failure replays exactly.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { VirtualClock } from '../clock.js'
import { TcpConnectionResetError, TcpRefusedError } from './errors.js'
import type { TcpSocket } from './socket.js'
import { ADDR_A, ADDR_B, seededRandom, TestLink, type LinkFaults } from './test-link.js'

interface TransferParams {
  seed: number
  faults: LinkFaults
  sizeAtoB: number
  sizeBtoA: number
  chunk: number
  noDelay: boolean
  recvBuffer: number
  slowReader: boolean
  clientClosesFirst: boolean
}

/** Byte `i` of the stream numbered `stream`: position-dependent so loss, duplication or reordering shows. */
function pattern(stream: number, i: number): number {
  return (i * 31 + (i >>> 8) * 7 + stream * 101) & 0xff
}

function makeData(stream: number, n: number): Uint8Array {
  const d = new Uint8Array(n)
  for (let i = 0; i < n; i++) d[i] = pattern(stream, i)
  return d
}

interface Side {
  received: Uint8Array[]
  ended: boolean
  closedWith: Error | undefined | 'open'
}

/** Writes `data` in `chunk`-sized pieces, honouring back-pressure (send() false → wait for onDrain), then closes. */
function pump(sock: TcpSocket, data: Uint8Array, chunk: number, thenClose: () => boolean): void {
  let off = 0
  const go = (): void => {
    while (off < data.length) {
      const piece = data.subarray(off, off + chunk)
      off += piece.length
      if (!sock.send(piece)) return // resumed by onDrain
    }
    if (thenClose()) sock.close()
  }
  sock.onDrain = go
  go()
}

function runTransfer(p: TransferParams) {
  const clock = new VirtualClock()
  const link = new TestLink(clock, { seed: p.seed, faults: p.faults, latencyMs: 5 })
  link.tracing = false
  link.maxSegments = 3 * (p.sizeAtoB + p.sizeBtoA) + 2000
  const rnd = seededRandom(p.seed ^ 0x5eed)
  const random32 = () => Math.floor(rnd() * 2 ** 32)
  const opts = {
    random32,
    limits: { recvBuffer: p.recvBuffer, sendBuffer: 32 * 1024 },
    timings: { minRtoMs: 200, initialRtoMs: 200, mslMs: 500, synRetries: 30, synAckRetries: 30, dataRetries: 30 },
  }
  const a = link.layer(ADDR_A, opts)
  const b = link.layer(ADDR_B, opts)
  const listener = b.listen(80)
  const dataA = makeData(1, p.sizeAtoB)
  const dataB = makeData(2, p.sizeBtoA)
  const sa: Side = { received: [], ended: false, closedWith: 'open' }
  const sb: Side = { received: [], ended: false, closedWith: 'open' }

  const wire = (sock: TcpSocket, side: Side, out: Uint8Array, closeFirst: boolean): void => {
    sock.noDelay = p.noDelay
    let sentAll = false
    sock.onData = (c) => {
      side.received.push(c.slice())
      if (p.slowReader && !sock.isPaused) {
        // A slow consumer: stop reading for a while, so the window fills and reopens.
        sock.pause()
        clock.schedule(50 + Math.floor(rnd() * 200), () => sock.resume())
      }
    }
    sock.onEnd = () => {
      side.ended = true
      if (sentAll) sock.close()
    }
    sock.onClose = (e) => {
      side.closedWith = e
    }
    // The first closer closes once its data is queued; the other waits for the peer's FIN too.
    pump(sock, out, p.chunk, () => {
      sentAll = true
      return closeFirst || side.ended
    })
  }
  listener.onConnection = (s) => wire(s, sb, dataB, !p.clientClosesFirst)
  const c = a.connect({ remoteAddr: ADDR_B, remotePort: 80, localAddr: ADDR_A })
  c.onConnect = () => wire(c, sa, dataA, p.clientClosesFirst)
  let closeError: Error | undefined
  c.onClose = (e) => {
    sa.closedWith = e
    closeError = e
  }

  // Bounded: a livelock (an ACK war) would leave sockets open and fail the property.
  clock.runUntilIdle(4 * 3_600_000)
  listener.close()
  return { clock, link, a, b, sa, sb, dataA, dataB, closeError }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, x) => s + x.length, 0)
  const out = new Uint8Array(n)
  let o = 0
  for (const x of parts) {
    out.set(x, o)
    o += x.length
  }
  return out
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

const rate = fc.double({ min: 0, max: 0.15, noNaN: true })
const params: fc.Arbitrary<TransferParams> = fc.record({
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  faults: fc.record({ drop: rate, duplicate: rate, reorder: rate, corrupt: rate }),
  sizeAtoB: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 120_000 })),
  sizeBtoA: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 60_000 })),
  chunk: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 100, max: 20_000 })),
  noDelay: fc.boolean(),
  recvBuffer: fc.constantFrom(2048, 8192, 65_535, 256 * 1024),
  slowReader: fc.boolean(),
  clientClosesFirst: fc.boolean(),
})

describe('TCP over a lossy link (drop/reorder/duplicate/corrupt ≤ 15 %)', () => {
  test('every byte arrives exactly once and in order in both directions; both sides close; nothing leaks', () => {
    fc.assert(
      fc.property(params, (p) => {
        const r = runTransfer(p)
        const gotB = concat(r.sb.received)
        const gotA = concat(r.sa.received)
        expect(firstDifference(gotB, r.dataA), 'A→B stream').toBe(-1)
        expect(firstDifference(gotA, r.dataB), 'B→A stream').toBe(-1)
        expect(r.sa.ended && r.sb.ended, 'both saw the peer FIN').toBe(true)
        // Orderly close on both sides: onClose without error, after TIME-WAIT.
        expect(r.sa.closedWith).toBeUndefined()
        expect(r.sb.closedWith).toBeUndefined()
        expect(r.a.connections.length + r.b.connections.length, 'sockets left').toBe(0)
        expect(r.a.stats.connections + r.b.stats.connections).toBe(0)
        expect(r.clock.pending, 'timers left').toBe(0)
        expect(r.link.inFlight).toBe(0)
        // No ACK war or retransmission storm: segments stay proportional to the data.
        expect(r.link.counts.sent).toBeLessThan(3 * (p.sizeAtoB + p.sizeBtoA) + 2000)
      }),
      {
        numRuns: Number(process.env.TCP_LOSSY_RUNS ?? 300),
        // Counterexamples fast-check found during development, kept as regressions:
        examples: [
          // An ACK war: pure ACKs carried a SND.NXT pulled back by go-back-N, below the peer's RCV.NXT.
          [{ seed: 1, faults: { drop: 0.13893358339555564, duplicate: 0, reorder: 5e-324, corrupt: 5e-324 }, sizeAtoB: 3020, sizeBtoA: 3020, chunk: 100, noDelay: false, recvBuffer: 262144, slowReader: false, clientClosesFirst: true }],
          // A stale send window (SND.WL1 check alone) let a byte go past a closed window: ACK war at zero window.
          [{ seed: 1, faults: { drop: 0, duplicate: 0, reorder: 0.00008119875565171243, corrupt: 5e-324 }, sizeAtoB: 2049, sizeBtoA: 2049, chunk: 1, noDelay: true, recvBuffer: 2048, slowReader: true, clientClosesFirst: false }],
          // Both windows small and nearly closed: a retransmission spanning the whole window was
          // unacceptable under the RFC's first/last-octet test, and pure ACKs at SND.MAX lay past
          // the peer's right edge; both ends kept retransmitting into a deadlock.
          [{ seed: 1, faults: { drop: 0, duplicate: 0.04272970999591053, reorder: 0, corrupt: 0 }, sizeAtoB: 3075, sizeBtoA: 3074, chunk: 54, noDelay: true, recvBuffer: 2048, slowReader: true, clientClosesFirst: false }],
          // A zero-window probe byte taken by the peer: a window update arriving first cleared the
          // "probing" state, so the ACK of the probe byte looked like an ACK of unsent data and every
          // later segment of the peer was dropped.
          [{ seed: 1153383833, faults: { drop: 0, duplicate: 0.15, reorder: 0, corrupt: 0.15 }, sizeAtoB: 2561, sizeBtoA: 2561, chunk: 512, noDelay: false, recvBuffer: 1024, slowReader: true, clientClosesFirst: false }],
          // TIME-WAIT ended while the reader was paused: onEnd/onClose must wait for the unread data.
          [{ seed: 1, faults: { drop: 0, duplicate: 0, reorder: 0, corrupt: 0 }, sizeAtoB: 0, sizeBtoA: 8, chunk: 1, noDelay: true, recvBuffer: 2048, slowReader: true, clientClosesFirst: true }],
        ],
      },
    )
  })

  // The corner that found most bugs: windows of one or two segments, readers that stall, every
  // fault at 0 or 15 %.
  const hard: fc.Arbitrary<TransferParams> = fc.record({
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    faults: fc.record({ drop: fc.constantFrom(0.15, 0.05, 0), duplicate: fc.constantFrom(0.15, 0), reorder: fc.constantFrom(0.15, 0), corrupt: fc.constantFrom(0.15, 0) }),
    sizeAtoB: fc.integer({ min: 0, max: 40_000 }),
    sizeBtoA: fc.integer({ min: 0, max: 40_000 }),
    chunk: fc.integer({ min: 1, max: 5000 }),
    noDelay: fc.boolean(),
    recvBuffer: fc.constantFrom(1024, 1460, 2048, 3000, 4096),
    slowReader: fc.boolean(),
    clientClosesFirst: fc.boolean(),
  })

  test('the same with small windows and stalling readers (zero windows, probes, SWS avoidance)', () => {
    fc.assert(
      fc.property(hard, (p) => {
        const r = runTransfer(p)
        expect(firstDifference(concat(r.sb.received), r.dataA), 'A→B stream').toBe(-1)
        expect(firstDifference(concat(r.sa.received), r.dataB), 'B→A stream').toBe(-1)
        expect(r.sa.closedWith).toBeUndefined()
        expect(r.sb.closedWith).toBeUndefined()
        expect(r.a.connections.length + r.b.connections.length, 'sockets left').toBe(0)
        expect(r.clock.pending, 'timers left').toBe(0)
      }),
      { numRuns: Number(process.env.TCP_LOSSY_RUNS ?? 300) },
    )
  })

  test('the link really corrupts: flipped bits are rejected by the checksum, not delivered', () => {
    const r = runTransfer({
      seed: 7,
      faults: { corrupt: 0.15, drop: 0.15, duplicate: 0.15, reorder: 0.15 },
      sizeAtoB: 200_000,
      sizeBtoA: 50_000,
      chunk: 4096,
      noDelay: false,
      recvBuffer: 65_535,
      slowReader: false,
      clientClosesFirst: true,
    })
    expect(r.link.counts.corrupted).toBeGreaterThan(10)
    expect(r.link.counts.rejected).toBe(r.link.counts.corrupted)
    expect(r.link.counts.dropped).toBeGreaterThan(10)
    expect(r.link.counts.duplicated).toBeGreaterThan(10)
    expect(r.link.counts.reordered).toBeGreaterThan(10)
    expect(firstDifference(concat(r.sb.received), r.dataA)).toBe(-1)
    expect(firstDifference(concat(r.sa.received), r.dataB)).toBe(-1)
    expect(r.a.stats.retransmits).toBeGreaterThan(0)
    expect(r.clock.pending).toBe(0)
  })

  test('several connections at once, some aborted at a random moment by either side: each stream is a prefix of what was sent (whole when not aborted), errors only where aborted, nothing leaks', () => {
    const conn = fc.record({
      size: fc.integer({ min: 0, max: 30_000 }),
      abortAt: fc.option(fc.integer({ min: 0, max: 3000 })),
      abortByClient: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x7fffffff }), fc.constantFrom(0, 0.05, 0.15), fc.array(conn, { minLength: 1, maxLength: 6 }), (seed, rate, conns) => {
        const clock = new VirtualClock()
        const link = new TestLink(clock, { seed, faults: { drop: rate, duplicate: rate, reorder: rate, corrupt: rate }, latencyMs: 5 })
        link.tracing = false
        const rnd = seededRandom(seed)
        const opts = { random32: () => Math.floor(rnd() * 2 ** 32), timings: { minRtoMs: 200, initialRtoMs: 200, mslMs: 500, synRetries: 30, synAckRetries: 30, dataRetries: 30 } }
        const a = link.layer(ADDR_A, opts)
        const b = link.layer(ADDR_B, opts)
        const l = b.listen(80)
        const received = new Map<number, number[]>()
        const errors = new Map<number, Error>()
        l.onConnection = (s) => {
          const got: number[] = []
          received.set(s.remotePort, got)
          s.onData = (c) => got.push(...c)
          s.onEnd = () => s.close()
          s.onClose = (e) => void (e && errors.set(s.remotePort, e))
        }
        const clients = conns.map((c, i) => {
          const data = new Uint8Array(c.size).map((_, k) => (k * 13 + i) & 0xff)
          const sock = a.connect({ remoteAddr: ADDR_B, remotePort: 80, localAddr: ADDR_A })
          sock.onConnect = () => {
            sock.send(data)
            sock.close()
          }
          sock.onClose = (e) => void (e && errors.set(sock.localPort, e))
          if (c.abortAt !== null) {
            clock.schedule(c.abortAt, () => {
              if (c.abortByClient) sock.abort()
              else for (const s of b.connections) if (s.remotePort === sock.localPort) s.abort()
            })
          }
          return { sock, data, aborted: c.abortAt !== null }
        })
        clock.runUntilIdle(4 * 3_600_000)
        for (const { sock, data, aborted } of clients) {
          const got = received.get(sock.localPort) ?? []
          expect(got.length).toBeLessThanOrEqual(data.length)
          expect(firstDifference(Uint8Array.from(got), data.subarray(0, got.length))).toBe(-1)
          const e = errors.get(sock.localPort)
          if (!aborted) {
            expect(got.length).toBe(data.length)
            expect(e).toBeUndefined()
          } else if (e) {
            expect(e instanceof TcpConnectionResetError || e instanceof TcpRefusedError).toBe(true)
          }
        }
        // Only an aborted connection may be left: a peer whose RST was lost can leave the other
        // end idle in FIN-WAIT-2 or CLOSE-WAIT (no timer there, as in RFC 9293); abort() frees it.
        const abortedPorts = new Set(clients.filter((c) => c.aborted).map((c) => c.sock.localPort))
        for (const s of [...a.connections, ...b.connections]) expect(abortedPorts.has(s.localPort === 80 ? s.remotePort : s.localPort)).toBe(true)
        a.destroyAll()
        b.destroyAll()
        clock.runUntilIdle()
        expect(clock.pending).toBe(0)
        expect(a.connections.length + b.connections.length).toBe(0)
      }),
      { numRuns: Number(process.env.TCP_LOSSY_RUNS ?? 150) },
    )
  })
})
