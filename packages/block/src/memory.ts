import { checkRequest, type BlockDevice } from './device.js'
import { BlockClosedError } from './errors.js'

/** Counters every device in this package keeps, so tests can assert on I/O behaviour. */
export interface BlockStats {
  reads: number
  writes: number
  flushes: number
  bytesRead: number
  bytesWritten: number
}

/** Fresh zeroed {@link BlockStats}. */
export function emptyStats(): BlockStats {
  return { reads: 0, writes: 0, flushes: 0, bytesRead: 0, bytesWritten: 0 }
}

/**
 * A device in RAM. Flush does nothing but count (RAM is as durable as it gets); use
 * {@link CrashSimulatingDevice} to test what a power cut leaves behind.
 */
export class MemoryBlockDevice implements BlockDevice {
  readonly blockSize: number
  readonly blockCount: number
  readonly stats: BlockStats = emptyStats()
  /** The device's bytes; exposed for tests that corrupt a disk on purpose. */
  readonly bytes: Uint8Array
  private closed = false

  /** A zeroed device of `blockCount` blocks, or one over existing `bytes` (not copied). */
  constructor(blockCount: number, blockSize = 512, bytes?: Uint8Array) {
    if (!Number.isInteger(blockSize) || blockSize <= 0) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`)
    if (!Number.isInteger(blockCount) || blockCount < 0) throw new RangeError(`blockCount must be a non-negative integer, got ${blockCount}`)
    this.blockSize = blockSize
    this.blockCount = blockCount
    if (bytes !== undefined && bytes.length !== blockCount * blockSize) {
      throw new RangeError(`bytes has ${bytes.length} bytes, expected ${blockCount * blockSize}`)
    }
    this.bytes = bytes ?? new Uint8Array(blockCount * blockSize)
  }

  /** A device holding a copy of `image` (its length must be a multiple of `blockSize`). */
  static fromBytes(image: Uint8Array, blockSize = 512): MemoryBlockDevice {
    if (image.length % blockSize !== 0) throw new RangeError(`image of ${image.length} bytes is not a multiple of ${blockSize}`)
    return new MemoryBlockDevice(image.length / blockSize, blockSize, image.slice())
  }

  async read(lba: number, buf: Uint8Array): Promise<void> {
    this.readSync(lba, buf)
  }

  async write(lba: number, data: Uint8Array): Promise<void> {
    this.writeSync(lba, data)
  }

  /** Synchronous read, for callers that already hold the device in RAM (DMA models, tests). */
  readSync(lba: number, buf: Uint8Array): void {
    if (this.closed) throw new BlockClosedError()
    checkRequest(this, lba, buf.length)
    const off = lba * this.blockSize
    buf.set(this.bytes.subarray(off, off + buf.length))
    this.stats.reads++
    this.stats.bytesRead += buf.length
  }

  /** Synchronous write; see {@link readSync}. */
  writeSync(lba: number, data: Uint8Array): void {
    if (this.closed) throw new BlockClosedError()
    checkRequest(this, lba, data.length)
    this.bytes.set(data, lba * this.blockSize)
    this.stats.writes++
    this.stats.bytesWritten += data.length
  }

  async flush(): Promise<void> {
    if (this.closed) throw new BlockClosedError()
    this.stats.flushes++
  }

  async close(): Promise<void> {
    this.closed = true
  }
}
