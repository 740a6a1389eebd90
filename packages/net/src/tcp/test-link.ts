/**
 * Test helpers: a seeded PRNG and a point-to-point link between TcpLayers driven by a
 * VirtualClock. Segments are really encoded and decoded (so a corrupted bit is caught by the
 * checksum), and the link can drop, reorder, duplicate and corrupt them at given rates.
 */
import type { VirtualClock, NetTimer } from '../clock.js'
import { NetMalformedError } from '../errors.js'
import { seededRandom } from '../link.js'
import { TcpLayer, type TcpLayerOptions } from './layer.js'
import { decodeTcpSegment, encodeTcpSegment } from './segment.js'
import type { TcpSegment } from './types.js'

export { seededRandom }

export interface LinkFaults {
  /** Probability that a segment is lost. */
  drop?: number
  /** Probability that a segment is delivered twice. */
  duplicate?: number
  /** Probability that a segment is held back (delivered after later ones). */
  reorder?: number
  /** Probability that one bit of the encoded segment is flipped (the checksum must reject it). */
  corrupt?: number
}

export interface TestLinkOptions {
  /** One-way delay in ms (default 1). */
  latencyMs?: number
  /** Extra delay of a reordered segment: up to this many ms (default 4 × latency + 1). */
  reorderMs?: number
  faults?: LinkFaults
  /** Seed of the fault PRNG (default 1). */
  seed?: number
}

/** One segment as it crossed the link (for scenario assertions). */
export interface TracedSegment {
  time: number
  src: number
  dst: number
  seg: TcpSegment
}

interface InFlight {
  due: number
  order: number
  src: number
  dst: number
  bytes: Uint8Array
}

/**
 * A link between TcpLayers by address. `layer(addr)` makes a layer whose output goes onto the
 * link; deliveries happen from one clock timer, so `clock.pending` counts it only while
 * segments are in flight.
 */
export class TestLink {
  readonly trace: TracedSegment[] = []
  /** When set, returning false drops the segment before the fault model runs (scenario control). */
  filter: ((seg: TcpSegment, src: number, dst: number) => boolean) | undefined = undefined
  faults: LinkFaults
  readonly counts = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0, corrupted: 0, rejected: 0, unroutable: 0 }
  /** Throws when more segments than this are sent (turns a livelock into a failing test). */
  maxSegments = Infinity
  /** Whether to keep every segment in `trace` (default true). */
  tracing = true
  private readonly clock: VirtualClock
  private readonly rng: () => number
  private readonly latency: number
  private readonly reorderMs: number
  private readonly layers = new Map<number, TcpLayer>()
  private queue: InFlight[] = []
  private order = 0
  private timer: NetTimer | undefined = undefined

  constructor(clock: VirtualClock, opts: TestLinkOptions = {}) {
    this.clock = clock
    this.rng = seededRandom(opts.seed ?? 1)
    this.latency = opts.latencyMs ?? 1
    this.reorderMs = opts.reorderMs ?? 4 * this.latency + 1
    this.faults = opts.faults ?? {}
  }

  /** A TcpLayer at `addr` whose output crosses this link. */
  layer(addr: number, opts: Omit<TcpLayerOptions, 'clock' | 'output'> = {}): TcpLayer {
    const layer = new TcpLayer({ ...opts, clock: this.clock, output: (seg, src, dst) => this.send(seg, src, dst) })
    this.layers.set(addr >>> 0, layer)
    return layer
  }

  /** Segments queued on the link. */
  get inFlight(): number {
    return this.queue.length
  }

  send(seg: TcpSegment, src: number, dst: number): void {
    this.counts.sent++
    if (this.counts.sent > this.maxSegments) throw new Error(`TestLink: more than ${this.maxSegments} segments sent (a livelock?)`)
    if (this.tracing) this.trace.push({ time: this.clock.now(), src, dst, seg })
    if (this.filter && !this.filter(seg, src, dst)) {
      this.counts.dropped++
      return
    }
    const f = this.faults
    if (f.drop && this.rng() < f.drop) {
      this.counts.dropped++
      return
    }
    const copies = f.duplicate && this.rng() < f.duplicate ? 2 : 1
    if (copies === 2) this.counts.duplicated++
    for (let i = 0; i < copies; i++) {
      const bytes = encodeTcpSegment(seg, src, dst)
      if (f.corrupt && this.rng() < f.corrupt) {
        const bit = Math.floor(this.rng() * bytes.length * 8)
        bytes[bit >>> 3]! ^= 1 << (bit & 7)
        this.counts.corrupted++
      }
      let due = this.clock.now() + this.latency
      if (f.reorder && this.rng() < f.reorder) {
        due += 1 + Math.floor(this.rng() * this.reorderMs)
        this.counts.reordered++
      }
      this.enqueue({ due, order: this.order++, src, dst, bytes })
    }
  }

  private enqueue(item: InFlight): void {
    // Sorted by due time, then by send order (a stable FIFO for equal times).
    let i = this.queue.length
    while (i > 0 && (this.queue[i - 1]!.due > item.due || (this.queue[i - 1]!.due === item.due && this.queue[i - 1]!.order > item.order))) i--
    this.queue.splice(i, 0, item)
    this.arm()
  }

  private arm(): void {
    const head = this.queue[0]
    if (!head) return
    if (this.timer && this.timer.due <= head.due) return
    if (this.timer) this.clock.clear(this.timer)
    this.timer = this.clock.schedule(Math.max(0, head.due - this.clock.now()), () => this.deliverDue())
  }

  private deliverDue(): void {
    this.timer = undefined
    const now = this.clock.now()
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const item = this.queue.shift()!
      const layer = this.layers.get(item.dst >>> 0)
      if (!layer) {
        this.counts.unroutable++
        continue
      }
      let seg: TcpSegment
      try {
        seg = decodeTcpSegment(item.bytes, item.src, item.dst)
      } catch (e) {
        if (!(e instanceof NetMalformedError)) throw e
        this.counts.rejected++
        continue
      }
      this.counts.delivered++
      layer.input(seg, item.src, item.dst)
    }
    this.arm()
  }
}

/** 10.0.0.1 and 10.0.0.2 as numbers, for tests. */
export const ADDR_A = 0x0a000001
export const ADDR_B = 0x0a000002
