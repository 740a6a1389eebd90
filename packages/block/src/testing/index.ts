/**
 * Test tools for block devices: the contract every `BlockDevice` in the repo honours, as one
 * check any implementation's tests can run (it throws, naming the broken rule; no test runner
 * needed). The device is closed at the end.
 * @packageDocumentation
 */
import { HonkError } from '@honk/errors'
import { BlockAlignError, BlockClosedError, BlockRangeError } from '../errors.js'
import type { BlockDevice } from '../device.js'

export class BlockContractError extends HonkError<'BLOCK_CONTRACT'> {
  constructor(rule: string) {
    super('BLOCK_CONTRACT', `BlockDevice contract broken: ${rule}`)
  }
}

async function rejectsWith(what: string, p: Promise<unknown>, type: abstract new (...args: never[]) => Error): Promise<void> {
  try {
    await p
  } catch (e) {
    if (e instanceof type) return
    throw new BlockContractError(`${what} rejected with ${(e as Error)?.name ?? String(e)}, not ${type.name}`)
  }
  throw new BlockContractError(`${what} succeeded; it must reject with ${type.name}`)
}

/**
 * Checks the contract on a writable device of at least 2 blocks: a written block reads back;
 * reads or writes past the end, before block 0 or at a fractional block are `BlockRangeError`;
 * lengths that are empty or not whole blocks are `BlockAlignError`; flush and close succeed; a
 * closed device rejects with `BlockClosedError`.
 */
export async function checkBlockDeviceContract(dev: BlockDevice): Promise<void> {
  const bs = dev.blockSize
  if (dev.blockCount < 2) throw new BlockContractError(`the check needs 2 blocks; the device has ${dev.blockCount}`)
  await dev.write(1, new Uint8Array(bs).fill(0xab))
  const two = new Uint8Array(2 * bs)
  await dev.read(0, two)
  if (!two.subarray(bs).every((b) => b === 0xab)) throw new BlockContractError('block 1 did not read back what was written')
  await rejectsWith('a read at blockCount', dev.read(dev.blockCount, new Uint8Array(bs)), BlockRangeError)
  await rejectsWith('a 2-block read of the last block', dev.read(dev.blockCount - 1, new Uint8Array(2 * bs)), BlockRangeError)
  await rejectsWith('a read at block -1', dev.read(-1, new Uint8Array(bs)), BlockRangeError)
  await rejectsWith('an empty write', dev.write(0, new Uint8Array(0)), BlockAlignError)
  await rejectsWith('a write of blockSize + 1 bytes', dev.write(0, new Uint8Array(bs + 1)), BlockAlignError)
  await rejectsWith('a read at block 0.5', dev.read(0.5, new Uint8Array(bs)), BlockRangeError)
  await dev.flush()
  await dev.close()
  await rejectsWith('a read after close', dev.read(0, new Uint8Array(bs)), BlockClosedError)
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    BlockContractError: BlockContractError
  }
}
