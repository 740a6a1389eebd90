import { checkRequest, type BlockDevice } from './device.js'
import { BlockClosedError, BlockRangeError } from './errors.js'

/**
 * A window `[start, start + count)` of `parent`, addressed from 0: the partitioning
 * primitive. Requests are bounds-checked against the window (a request the parent would
 * accept but that leaves the window fails with `BlockRangeError`). `flush` is forwarded to
 * the parent and is whole-device; `close` closes the window, not the parent.
 */
export function slice(parent: BlockDevice, start: number, count: number): BlockDevice {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > parent.blockCount) {
    throw new BlockRangeError(start, count, parent.blockCount)
  }
  let closed = false
  const view: BlockDevice = {
    blockSize: parent.blockSize,
    blockCount: count,
    async read(lba, buf) {
      if (closed) throw new BlockClosedError()
      checkRequest(view, lba, buf.length)
      return parent.read(start + lba, buf)
    },
    async write(lba, data) {
      if (closed) throw new BlockClosedError()
      checkRequest(view, lba, data.length)
      return parent.write(start + lba, data)
    },
    async flush() {
      if (closed) throw new BlockClosedError()
      return parent.flush()
    },
    async close() {
      closed = true
    },
  }
  return view
}
