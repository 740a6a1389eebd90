/**
 * A test link joining two {@link FramePort}s, driven by a {@link NetClock}: delay and jitter,
 * and (from a seeded generator, so a failing run replays) loss, reordering, duplication and
 * corruption; optional pcap capture of every frame sent.
 */
import { realClock, type NetClock } from './clock.js'
import type { FramePort } from './frame-port.js'
import type { PcapWriter } from './pcap.js'

export interface LinkConditions {
  /** One-way delay in ms. Default 0. */
  delayMs?: number
  /** Probability a frame is dropped. */
  loss?: number
  /** Probability a frame is held back by up to `reorderMs` (so later frames overtake it). */
  reorder?: number
  reorderMs?: number
  /** Probability a frame is delivered twice. */
  duplicate?: number
  /**
   * Probability one random bit of the frame is damaged. In an IPv4 frame the bit is flipped
   * inside the IP packet (what the IP, ICMP, UDP and TCP checksums must catch); any other frame
   * (ARP) is dropped instead, as Ethernet's frame check (CRC-32, which catches every single-bit
   * error) would drop it — ARP has no checksum of its own, and a flipped sender MAC would poison
   * the cache in a way no real link delivers.
   */
  corrupt?: number
}

export interface LinkOptions extends LinkConditions {
  clock?: NetClock
  /** Seed of the link's generator (mulberry32). Default 1. */
  seed?: number
  /** Captures every frame sent on either side, as sent. */
  pcap?: PcapWriter
  /** Largest frame carried (bigger ones are dropped, as a real NIC would). Default 1514. */
  maxFrame?: number
  /**
   * With no delay and no impairment, frames are batched and flushed by this function instead of
   * a clock timer (e.g. `setImmediate` for benchmarks: a 0 ms `setTimeout` costs ≥ 1 ms).
   */
  defer?: (flush: () => void) => void
}

export interface LinkCounters {
  sent: number
  delivered: number
  dropped: number
  duplicated: number
  corrupted: number
  reordered: number
  oversize: number
}

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class LinkEnd implements FramePort {
  handler: ((frame: Uint8Array) => void) | undefined
  peer!: LinkEnd
  constructor(private readonly carry: (frame: Uint8Array, to: LinkEnd) => void) {}
  send(frame: Uint8Array): void {
    this.carry(frame, this.peer)
  }
  onFrame(handler: (frame: Uint8Array) => void): void {
    this.handler = handler
  }
}

export class TestLink {
  /** The two ends. */
  readonly a: FramePort
  readonly b: FramePort
  readonly counters: LinkCounters = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, corrupted: 0, reordered: 0, oversize: 0 }
  private conditions: Required<LinkConditions>
  private readonly clock: NetClock
  private readonly random: () => number
  private readonly pcap: PcapWriter | undefined
  private readonly maxFrame: number
  private readonly defer: ((flush: () => void) => void) | undefined
  private queue: [LinkEnd, Uint8Array][] = []
  private inFlight = 0

  constructor(opts: LinkOptions = {}) {
    this.clock = opts.clock ?? realClock
    this.random = seededRandom(opts.seed ?? 1)
    this.pcap = opts.pcap
    this.maxFrame = opts.maxFrame ?? 1514
    this.defer = opts.defer
    this.conditions = { delayMs: 0, loss: 0, reorder: 0, reorderMs: 5, duplicate: 0, corrupt: 0 }
    this.setConditions(opts)
    const a = new LinkEnd((f, to) => this.carry(f, to))
    const b = new LinkEnd((f, to) => this.carry(f, to))
    a.peer = b
    b.peer = a
    this.a = a
    this.b = b
  }

  /** Changes the impairments from now on (e.g. a clean link to finish a test). */
  setConditions(c: LinkConditions): void {
    for (const k of Object.keys(this.conditions) as (keyof LinkConditions)[]) if (c[k] !== undefined) this.conditions[k] = c[k]
  }

  /** Frames sent and not yet delivered or dropped. */
  get pending(): number {
    return this.inFlight + this.queue.length
  }

  /** What one end's `send` calls: applies the link's conditions and schedules delivery. */
  private carry(frame: Uint8Array, to: LinkEnd): void {
    this.counters.sent++
    this.pcap?.write(frame, this.clock.now())
    if (frame.length > this.maxFrame) {
      this.counters.oversize++
      return
    }
    const c = this.conditions
    const clean = c.delayMs === 0 && c.loss === 0 && c.reorder === 0 && c.duplicate === 0 && c.corrupt === 0
    if (clean && this.defer) {
      if (this.queue.push([to, frame]) === 1) this.defer(() => this.flush())
      return
    }
    if (c.loss > 0 && this.random() < c.loss) {
      this.counters.dropped++
      return
    }
    let bytes = frame
    if (c.corrupt > 0 && this.random() < c.corrupt && frame.length > 0) {
      this.counters.corrupted++
      const ipv4 = frame.length > 14 && frame[12] === 0x08 && frame[13] === 0x00
      if (!ipv4) {
        this.counters.dropped++
        return
      }
      bytes = frame.slice()
      const bit = 14 * 8 + Math.floor(this.random() * (bytes.length - 14) * 8)
      bytes[bit >>> 3]! ^= 1 << (bit & 7)
    }
    let delay = c.delayMs
    if (c.reorder > 0 && this.random() < c.reorder) {
      delay += this.random() * c.reorderMs
      this.counters.reordered++
    }
    this.later(to, bytes, delay)
    if (c.duplicate > 0 && this.random() < c.duplicate) {
      this.counters.duplicated++
      this.later(to, bytes.slice(), delay + this.random() * c.reorderMs)
    }
  }

  private later(to: LinkEnd, frame: Uint8Array, delay: number): void {
    this.inFlight++
    this.clock.schedule(delay, () => {
      this.inFlight--
      this.counters.delivered++
      to.handler?.(frame)
    })
  }

  private flush(): void {
    const q = this.queue
    this.queue = []
    for (const [to, frame] of q) {
      this.counters.delivered++
      to.handler?.(frame)
    }
  }
}
