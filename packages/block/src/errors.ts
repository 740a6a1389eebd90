import { HonkError } from '@honk/errors'

/** A request starts before block 0 or runs past the device's last block. */
export class BlockRangeError extends HonkError {
  constructor(readonly lba: number, readonly blocks: number, readonly deviceBlocks: number) {
    super('BLOCK_RANGE', `block request [${lba}, ${lba + blocks}) is outside the device's ${deviceBlocks} blocks`)
  }
}

/** A buffer is empty or not a whole number of blocks. */
export class BlockAlignError extends HonkError {
  constructor(readonly length: number, readonly blockSize: number) {
    super('BLOCK_ALIGN', `buffer of ${length} bytes is not a non-zero multiple of the ${blockSize}-byte block size`)
  }
}

/** The device failed the request (an I/O error, a cut power supply, a host error). */
export class BlockIoError extends HonkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BLOCK_IO', message, options)
  }
}

/** The device was closed before the request. */
export class BlockClosedError extends HonkError {
  constructor() {
    super('BLOCK_CLOSED', 'block device is closed')
  }
}
