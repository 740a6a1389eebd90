/**
 * The device side of a split virtqueue (virtio 1.2 §2.7): read the available ring, walk and
 * validate descriptor chains, write used-ring entries, decide on interrupts (§2.7.7, §2.7.10).
 *
 * Everything in guest memory is hostile. A bad chain whose head is usable is returned to the
 * driver with `len = 0` (that request fails, nothing is written into it); a broken ring (an
 * index jump beyond the queue size, a head outside the table, ring memory that stopped being
 * RAM) makes the device set DEVICE_NEEDS_RESET. Nothing here throws.
 */
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F, needEvent } from './constants.js'
import { VirtqueueError } from './errors.js'
import type { GuestMemory } from './memory.js'

/** One guest buffer: `len` bytes at guest-physical `addr` (already checked to be RAM). */
export interface Segment {
  readonly addr: number
  readonly len: number
}

/** The most entries an indirect table may have; see docs/RATIONALE.md (Linux uses ≤ a few hundred). */
export const MAX_INDIRECT_ENTRIES = 4096
/** A chain's readable or writable part may not exceed what `used.len` can express. */
const MAX_PART_BYTES = 0xffff_ffff

/** What a queue needs from its transport. */
export interface QueueHost {
  readonly memory: GuestMemory
  readonly deviceName: string
  /** The driver broke a rule; `fatal` = the device must set DEVICE_NEEDS_RESET. */
  fault(error: VirtqueueError, fatal: boolean): void
  /** Raises the used-buffer interrupt (already filtered by the suppression rules). */
  usedBuffer(): void
}

/** Where the three parts of the ring live, and the negotiated ring features. */
export interface QueueLayout {
  readonly size: number
  readonly desc: number
  readonly driver: number
  readonly device: number
  readonly indirect: boolean
  readonly eventIdx: boolean
}

/**
 * One descriptor chain the driver made available: its readable part (device reads) and
 * writable part (device writes), in order. Writes go through {@link Chain.write}, which does
 * nothing once the queue was reset or disabled — an asynchronous completion that arrives
 * after a reset must not scribble over memory the driver has reused.
 */
export class Chain {
  constructor(
    private readonly queue: Virtqueue,
    /** Head descriptor index: the id that goes back in the used ring. */
    readonly head: number,
    readonly readable: readonly Segment[],
    readonly writable: readonly Segment[],
    readonly readableLength: number,
    readonly writableLength: number,
  ) {}

  /** Gathers `length` readable bytes starting at `offset` (clamped to the readable part). */
  read(offset = 0, length = this.readableLength - offset): Uint8Array {
    const start = Math.max(0, Math.min(offset, this.readableLength))
    const out = new Uint8Array(Math.max(0, Math.min(length, this.readableLength - start)))
    let pos = 0 // position of the current segment within the readable part
    let done = 0
    for (const s of this.readable) {
      if (done === out.length) break
      const from = Math.max(start + done - pos, 0)
      if (from < s.len) {
        const n = Math.min(s.len - from, out.length - done)
        if (!this.queue.memory.read(s.addr + from, out.subarray(done, done + n))) out.fill(0, done, done + n)
        done += n
      }
      pos += s.len
    }
    return out
  }

  /**
   * Scatters `data` into the writable part from byte `offset`; returns how many bytes were
   * written (short when the writable part ends, 0 when the queue is gone).
   */
  write(offset: number, data: Uint8Array): number {
    if (!this.queue.live) return 0
    let pos = 0
    let done = 0
    for (const s of this.writable) {
      if (done === data.length) break
      const from = Math.max(offset + done - pos, 0)
      if (from < s.len) {
        const n = Math.min(s.len - from, data.length - done)
        if (!this.queue.memory.write(s.addr + from, data.subarray(done, done + n))) break
        done += n
      }
      pos += s.len
    }
    return done
  }

  /**
   * Returns the chain to the driver with `len` bytes written (into the used ring), and by
   * default raises the used-buffer interrupt if the driver wants one. Pass `signal = false`
   * inside a batch and call {@link Virtqueue.signal} once at its end. A no-op after a reset.
   */
  complete(len: number, signal = true): void {
    this.queue.push(this, len)
    if (signal) this.queue.signal()
  }

  /** True while the queue this chain came from is still the live one (no reset since). */
  get live(): boolean {
    return this.queue.live
  }
}

export class Virtqueue {
  private lastAvail = 0
  private usedIdx = 0
  /** used.idx when the last interrupt decision was taken (the "old" of vring_need_event). */
  private signalled = 0
  private dead = false
  /** Chains popped and not yet pushed. */
  private inFlight = 0
  private readonly scratch = new Uint8Array(16)
  private readonly view = new DataView(this.scratch.buffer)

  constructor(
    private readonly host: QueueHost,
    readonly index: number,
    readonly layout: QueueLayout,
  ) {
    // §2.7.8: the device owns the used ring; start it at flags = 0, idx = 0.
    this.write16(layout.device, 0)
    this.write16(layout.device + 2, 0)
  }

  get memory(): GuestMemory {
    return this.host.memory
  }

  get size(): number {
    return this.layout.size
  }

  /** False after the queue was reset, disabled or found broken. */
  get live(): boolean {
    return !this.dead
  }

  /** Chains handed out by `pop` and not yet returned with `push`. */
  get pending(): number {
    return this.inFlight
  }

  /** The queue stops: later pushes and chain writes are ignored. */
  kill(): void {
    this.dead = true
  }

  /**
   * The next available chain, or undefined when there is none (or the queue is dead). Bad
   * chains are failed here (returned with len 0) and skipped; callers only see valid ones.
   */
  pop(): Chain | undefined {
    while (!this.dead) {
      const availIdx = this.read16(this.layout.driver + 2)
      if (availIdx === undefined) return this.fatal('the available ring is no longer in RAM')
      const waiting = (availIdx - this.lastAvail) & 0xffff
      // §2.7.13.3: idx only ever moves forward by what was added; more than the size is garbage.
      if (waiting > this.layout.size) return this.fatal(`avail.idx jumped from ${this.lastAvail} to ${availIdx} (queue size ${this.layout.size})`)
      if (waiting === 0) {
        this.publishAvailEvent()
        return undefined
      }
      const head = this.read16(this.layout.driver + 4 + 2 * (this.lastAvail % this.layout.size))
      if (head === undefined) return this.fatal('the available ring is no longer in RAM')
      if (head >= this.layout.size) return this.fatal(`avail.ring[${this.lastAvail % this.layout.size}] = ${head} is not a descriptor index`)
      this.lastAvail = (this.lastAvail + 1) & 0xffff
      this.publishAvailEvent()
      const chain = this.walk(head)
      this.inFlight++
      if (typeof chain === 'string') {
        this.host.fault(new VirtqueueError(this.host.deviceName, this.index, `chain at descriptor ${head}: ${chain}; failed with len 0`), false)
        this.push({ head }, 0)
        continue
      }
      return chain
    }
    return undefined
  }

  /** Returns a chain to the driver: used.ring entry (head, len), then used.idx (§2.7.8). */
  push(chain: { readonly head: number }, len: number): void {
    if (this.dead) return
    if (this.inFlight > 0) this.inFlight--
    const slot = this.layout.device + 4 + 8 * (this.usedIdx % this.layout.size)
    this.view.setUint32(0, chain.head, true)
    this.view.setUint32(4, Math.max(0, Math.min(len, MAX_PART_BYTES)) >>> 0, true)
    if (!this.host.memory.write(slot, this.scratch.subarray(0, 8))) return void this.fatal('the used ring is no longer in RAM')
    this.usedIdx = (this.usedIdx + 1) & 0xffff
    if (!this.write16(this.layout.device + 2, this.usedIdx)) return void this.fatal('the used ring is no longer in RAM')
  }

  /**
   * After a batch of pushes: interrupts the driver unless it asked not to be
   * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX — §2.7.7.2, §2.7.10).
   */
  signal(): void {
    if (this.dead || this.usedIdx === this.signalled) return
    const old = this.signalled
    this.signalled = this.usedIdx
    let wanted: boolean
    if (this.layout.eventIdx) {
      const usedEvent = this.read16(this.layout.driver + 4 + 2 * this.layout.size)
      wanted = usedEvent === undefined || needEvent(usedEvent, this.usedIdx, old)
    } else {
      const flags = this.read16(this.layout.driver)
      wanted = flags === undefined || (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0
    }
    if (wanted) this.host.usedBuffer()
  }

  /** Walks the chain at `head` (§2.7.5, §2.7.5.3): the chain, or what is wrong with it. */
  private walk(head: number): Chain | string {
    const readable: Segment[] = []
    const writable: Segment[] = []
    let readableLength = 0
    let writableLength = 0
    let table = this.layout.desc
    let tableSize = this.layout.size
    let idx = head
    let indirect = false
    let seenWritable = false
    let steps = 0
    for (;;) {
      if (idx >= tableSize) return `next index ${idx} is outside the ${indirect ? 'indirect ' : ''}table of ${tableSize}`
      // A chain longer than its table must revisit a descriptor: a loop.
      if (++steps > tableSize) return `more than ${tableSize} descriptors (a loop)`
      const at = table + 16 * idx
      if (!this.host.memory.read(at, this.scratch)) return `descriptor ${idx} at 0x${at.toString(16)} is not in RAM`
      const lo = this.view.getUint32(0, true)
      const hi = this.view.getUint32(4, true)
      const len = this.view.getUint32(8, true)
      const flags = this.view.getUint16(12, true)
      const next = this.view.getUint16(14, true)
      // Addresses above 2^53 cannot be RAM; keep them as an impossible number.
      const addr = hi < 0x20_0000 ? hi * 0x1_0000_0000 + lo : Number.MAX_SAFE_INTEGER
      if (flags & VIRTQ_DESC_F.INDIRECT) {
        if (!this.layout.indirect) return 'INDIRECT flag without VIRTIO_F_RING_INDIRECT_DESC'
        if (indirect) return 'nested indirect table'
        if (flags & VIRTQ_DESC_F.NEXT) return 'INDIRECT together with NEXT'
        if (len === 0 || len % 16 !== 0) return `indirect table length ${len} is not a positive multiple of 16`
        if (len / 16 > MAX_INDIRECT_ENTRIES) return `indirect table of ${len / 16} entries (limit ${MAX_INDIRECT_ENTRIES})`
        if (!this.host.memory.contains(addr, len)) return `indirect table [0x${addr.toString(16)}, +${len}) is not in RAM`
        // The WRITE flag of the descriptor that points at the table is ignored (§2.7.5.3.2).
        table = addr
        tableSize = len / 16
        idx = 0
        indirect = true
        steps = 0
        continue
      }
      if (len > 0 && !this.host.memory.contains(addr, len)) return `buffer [0x${addr.toString(16)}, +${len}) is not in RAM`
      if (flags & VIRTQ_DESC_F.WRITE) {
        seenWritable = true
        writableLength += len
        if (writableLength > MAX_PART_BYTES) return 'writable part longer than 4 GiB'
        if (len > 0) writable.push({ addr, len })
      } else {
        // §2.7.4.2: device-readable descriptors come before device-writable ones.
        if (seenWritable) return 'a readable descriptor after a writable one'
        readableLength += len
        if (readableLength > MAX_PART_BYTES) return 'readable part longer than 4 GiB'
        if (len > 0) readable.push({ addr, len })
      }
      if (!(flags & VIRTQ_DESC_F.NEXT)) break
      idx = next
    }
    return new Chain(this, head, readable, writable, readableLength, writableLength)
  }

  /** With EVENT_IDX: tell the driver to notify once it adds past what we have seen. */
  private publishAvailEvent(): void {
    if (this.layout.eventIdx) this.write16(this.layout.device + 4 + 8 * this.layout.size, this.lastAvail)
  }

  private fatal(message: string): undefined {
    if (this.dead) return undefined
    this.dead = true
    this.host.fault(new VirtqueueError(this.host.deviceName, this.index, message), true)
    return undefined
  }

  private read16(addr: number): number | undefined {
    const b = this.scratch.subarray(0, 2)
    if (!this.host.memory.read(addr, b)) return undefined
    return this.view.getUint16(0, true)
  }

  private write16(addr: number, v: number): boolean {
    const b = new Uint8Array([v & 0xff, (v >>> 8) & 0xff])
    return this.host.memory.write(addr, b)
  }
}
