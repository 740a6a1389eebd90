import { BlockAlignError, BlockRangeError } from './errors.js'

/**
 * The storage contract everything above storage uses (a disk, a partition, a file, a
 * virtio-blk device seen from a guest kernel…).
 *
 * Transfers are whole blocks: `buf.length` must be a non-zero multiple of `blockSize`, and
 * the run `[lba, lba + buf.length / blockSize)` must lie inside the device. A write is only
 * guaranteed to survive a power cut once a later `flush()` has resolved.
 */
export interface BlockDevice {
  /** Bytes per block (512 or 4096 in practice). */
  readonly blockSize: number
  /** Number of blocks; addresses are `0 .. blockCount - 1`. */
  readonly blockCount: number
  /** Reads `buf.length / blockSize` blocks starting at `lba` into `buf`. */
  read(lba: number, buf: Uint8Array): Promise<void>
  /** Writes `data.length / blockSize` blocks starting at `lba`. */
  write(lba: number, data: Uint8Array): Promise<void>
  /** A whole-device write barrier: every write that resolved before is durable when this resolves. */
  flush(): Promise<void>
  /**
   * Optional: `write` followed by `flush`, as one request (like a SCSI/NVMe FUA write after a
   * barrier). A device implements it when that is cheaper than two requests; callers that find
   * it missing call `write` then `flush`. When it resolves, this write and every earlier one are durable.
   */
  writeAndFlush?(lba: number, data: Uint8Array): Promise<void>
  /** Releases the device; later requests fail with `BlockClosedError`. */
  close(): Promise<void>
}

/**
 * Checks a request against a device's geometry and returns the block count it covers.
 * Throws `BlockAlignError` or `BlockRangeError`. Every device in this package calls it first.
 */
export function checkRequest(dev: Pick<BlockDevice, 'blockSize' | 'blockCount'>, lba: number, length: number): number {
  if (length === 0 || length % dev.blockSize !== 0) throw new BlockAlignError(length, dev.blockSize)
  const blocks = length / dev.blockSize
  if (!Number.isSafeInteger(lba) || lba < 0 || lba + blocks > dev.blockCount) {
    throw new BlockRangeError(lba, blocks, dev.blockCount)
  }
  return blocks
}
