import { HonkError } from '@honk/errors'

/** A request starts before block 0 or runs past the device's last block. */
export class BlockRangeError extends HonkError<'BLOCK_RANGE'> {
  constructor(readonly lba: number, readonly blocks: number, readonly deviceBlocks: number) {
    super('BLOCK_RANGE', `block request [${lba}, ${lba + blocks}) is outside the device's ${deviceBlocks} blocks`)
  }
}

/** A buffer is empty or not a whole number of blocks. */
export class BlockAlignError extends HonkError<'BLOCK_ALIGN'> {
  constructor(readonly length: number, readonly blockSize: number) {
    super('BLOCK_ALIGN', `buffer of ${length} bytes is not a non-zero multiple of the ${blockSize}-byte block size`)
  }
}

/** The device failed the request (an I/O error, a cut power supply, a host error). */
export class BlockIoError extends HonkError<'BLOCK_IO'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BLOCK_IO', message, options)
  }
}

/** The device was closed before the request. */
export class BlockClosedError extends HonkError<'BLOCK_CLOSED'> {
  constructor() {
    super('BLOCK_CLOSED', 'block device is closed')
  }
}

/** Who holds an image's write lock, as the holder describes itself. */
export interface LockHolder {
  readonly pid: number
  readonly host: string
  /** The holder's command line, or what it said it is. */
  readonly what: string
  /** When it took the lock (ISO 8601). */
  readonly since: string
}

/**
 * Another writer holds the image (QEMU's "Failed to get write lock"): a second writable open of
 * the same file is refused, because two writers would overwrite each other's acknowledged data.
 * `holder` names it when it answered. A read-only open may share the image.
 */
export class BlockLockedError extends HonkError<'BLOCK_LOCKED'> {
  constructor(readonly path: string, readonly holder: LockHolder | undefined, detail?: string) {
    const who = holder
      ? `pid ${holder.pid} on ${holder.host} (${holder.what}), since ${holder.since}`
      : 'another process'
    super('BLOCK_LOCKED', `${path}: Failed to get write lock: the image is in use by ${who}${detail ? `; ${detail}` : ''}. Stop it first, or open the image read-only`)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    BlockRangeError: BlockRangeError
    BlockAlignError: BlockAlignError
    BlockIoError: BlockIoError
    BlockClosedError: BlockClosedError
    BlockLockedError: BlockLockedError
  }
}
