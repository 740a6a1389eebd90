import { checkRequest, type BlockDevice } from './device.js'
import { BlockClosedError, BlockIoError } from './errors.js'
import { MemoryBlockDevice, emptyStats, type BlockStats } from './memory.js'

/** One block written since the last flush, as the disk may or may not have stored it. */
export interface PendingWrite {
  readonly lba: number
  readonly data: Uint8Array
}

/**
 * How a power cut resolved the unflushed writes: which of them reached the medium, in which
 * order, and optionally one of them torn (its first `cut` bytes new and the rest old, or the
 * reverse when `newFirst` is false).
 */
export interface CrashPlan {
  /** Indices into {@link CrashSimulatingDevice.pending}, applied in this order. */
  readonly applied: readonly number[]
  readonly torn?: { readonly index: number; readonly cut: number; readonly newFirst: boolean }
}

/**
 * A device for crash-consistency tests. Writes land in a volatile cache (reads see them);
 * `flush()` makes them durable. At any moment {@link crash} produces the disk as a power cut
 * would leave it: the durable image plus **any subset** of the unflushed writes, **in any
 * order**, with **at most one torn block**.
 *
 * {@link cutPowerAfter} arms a power cut that fires after a number of further writes or flushes: from
 * then on every request fails with `BlockIoError`, which is how a crash looks to the code
 * under test mid-operation (mid-batch, mid-compaction…).
 */
export class CrashSimulatingDevice implements BlockDevice {
  readonly blockSize: number
  readonly blockCount: number
  readonly stats: BlockStats = emptyStats()
  private readonly durable: Uint8Array
  private readonly live: Uint8Array
  private pendingWrites: PendingWrite[] = []
  private writesUntilCut = Infinity
  private powerCut = false
  private closed = false

  constructor(blockCount: number, blockSize = 512, durableImage?: Uint8Array, options: { writeAndFlush?: boolean } = {}) {
    if (options.writeAndFlush) {
      this.writeAndFlush = async (lba, data) => {
        await this.write(lba, data)
        await this.flush()
      }
    }
    this.blockSize = blockSize
    this.blockCount = blockCount
    this.durable = durableImage ? durableImage.slice() : new Uint8Array(blockCount * blockSize)
    if (this.durable.length !== blockCount * blockSize) throw new RangeError(`image has ${this.durable.length} bytes, expected ${blockCount * blockSize}`)
    this.live = this.durable.slice()
  }

  /** A crash-simulating device whose durable state is `image` (copied). */
  static fromBytes(image: Uint8Array, blockSize = 512): CrashSimulatingDevice {
    return new CrashSimulatingDevice(image.length / blockSize, blockSize, image)
  }

  /** The writes not yet made durable, one entry per block, oldest first. */
  get pending(): readonly PendingWrite[] {
    return this.pendingWrites
  }

  /** True once an armed power cut has fired. */
  get isPowerCut(): boolean {
    return this.powerCut
  }

  /**
   * Arms a power cut: the `n`-th write or flush from now (0 = the next) and every request after
   * it fail. A cut that lands on a flush leaves that flush's writes unflushed, which is the moment
   * between "written" and "durable" that crash tests most need to reach.
   */
  cutPowerAfter(n: number): void {
    this.writesUntilCut = n
  }

  async read(lba: number, buf: Uint8Array): Promise<void> {
    this.check()
    checkRequest(this, lba, buf.length)
    const off = lba * this.blockSize
    buf.set(this.live.subarray(off, off + buf.length))
    this.stats.reads++
    this.stats.bytesRead += buf.length
  }

  async write(lba: number, data: Uint8Array): Promise<void> {
    this.check()
    const blocks = checkRequest(this, lba, data.length)
    if (this.writesUntilCut <= 0) {
      this.powerCut = true
      throw new BlockIoError(`power cut during write of block ${lba}`)
    }
    this.writesUntilCut--
    const bs = this.blockSize
    for (let i = 0; i < blocks; i++) {
      this.pendingWrites.push({ lba: lba + i, data: data.slice(i * bs, (i + 1) * bs) })
    }
    this.live.set(data, lba * bs)
    this.stats.writes++
    this.stats.bytesWritten += data.length
  }

  async flush(): Promise<void> {
    this.check()
    if (this.writesUntilCut <= 0) {
      this.powerCut = true
      throw new BlockIoError('power cut during flush')
    }
    this.writesUntilCut--
    this.durable.set(this.live)
    this.pendingWrites = []
    this.stats.flushes++
  }

  /**
   * `write` then `flush` as one request, when the device was created with
   * `{ writeAndFlush: true }` (so tests cover callers' use of the optional method); absent otherwise.
   */
  declare writeAndFlush?: (lba: number, data: Uint8Array) => Promise<void>

  async close(): Promise<void> {
    this.closed = true
  }

  /** The disk after a power cut resolved as `plan` says (a fresh device; this one is unchanged). */
  crash(plan: CrashPlan = { applied: [] }): CrashSimulatingDevice {
    const image = this.durable.slice()
    const bs = this.blockSize
    for (const index of plan.applied) {
      const w = this.pendingWrites[index]
      if (!w) throw new RangeError(`crash plan names pending write ${index}, but only ${this.pendingWrites.length} exist`)
      const off = w.lba * bs
      if (plan.torn && plan.torn.index === index) {
        const cut = Math.max(0, Math.min(bs, plan.torn.cut))
        if (plan.torn.newFirst) image.set(w.data.subarray(0, cut), off)
        else image.set(w.data.subarray(cut), off + cut)
      } else {
        image.set(w.data, off)
      }
    }
    return new CrashSimulatingDevice(this.blockCount, bs, image, { writeAndFlush: this.writeAndFlush !== undefined })
  }

  /**
   * A random crash plan for the current pending writes, drawn with `random` (a function
   * returning floats in [0, 1), e.g. a seeded generator). Each pending write is kept with
   * probability 1/2, the kept ones are shuffled, and with probability 1/2 one is torn.
   */
  randomPlan(random: () => number): CrashPlan {
    const kept: number[] = []
    for (let i = 0; i < this.pendingWrites.length; i++) if (random() < 0.5) kept.push(i)
    for (let i = kept.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const t = kept[i]!
      kept[i] = kept[j]!
      kept[j] = t
    }
    const pick = kept[Math.floor(random() * kept.length)]
    if (pick === undefined || random() < 0.5) return { applied: kept }
    return { applied: kept, torn: { index: pick, cut: Math.floor(random() * (this.blockSize + 1)), newFirst: random() < 0.5 } }
  }

  /** The durable image (a copy), e.g. to build a {@link MemoryBlockDevice}. */
  durableBytes(): Uint8Array {
    return this.durable.slice()
  }

  /** A plain in-memory device holding the current durable image. */
  toMemory(): MemoryBlockDevice {
    return new MemoryBlockDevice(this.blockCount, this.blockSize, this.durable.slice())
  }

  private check(): void {
    if (this.closed) throw new BlockClosedError()
    if (this.powerCut) throw new BlockIoError('power is cut')
  }
}
