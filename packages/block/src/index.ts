/**
 * The block-device contract of honk: {@link BlockDevice}, an in-memory device, `slice()` for
 * partitions, and a crash-simulating device that shows what a power cut leaves on disk.
 * The file-backed device is Node-only: `@honk/block/node`.
 *
 * @example
 * ```ts
 * import { MemoryBlockDevice, slice } from '@honk/block'
 * const disk = new MemoryBlockDevice(2048)          // 1 MiB of 512-byte blocks
 * const part = slice(disk, 1024, 1024)              // the second half, addressed from 0
 * await part.write(0, new Uint8Array(512).fill(7))  // lands at disk block 1024
 * await part.flush()                                // whole-device barrier
 * ```
 * @packageDocumentation
 */
export type { BlockDevice } from './device.js'
export { checkRequest } from './device.js'
export { BlockAlignError, BlockClosedError, BlockIoError, BlockLockedError, BlockRangeError, type LockHolder } from './errors.js'
export { MemoryBlockDevice, emptyStats, type BlockStats } from './memory.js'
export { slice } from './slice.js'
export { CrashSimulatingDevice, type CrashPlan, type PendingWrite } from './crash.js'
