import { HonkError } from '@honk/errors'

/** The on-disk state is damaged in a way recovery cannot repair; `where` names the place. */
export class KvCorruptError extends HonkError<'KV_CORRUPT'> {
  constructor(readonly where: string, detail: string) {
    super('KV_CORRUPT', `kv store corrupt at ${where}: ${detail}`)
  }
}

/** The live data (plus the write) does not fit in one log region. */
export class KvFullError extends HonkError<'KV_FULL'> {
  constructor(needed: number, capacity: number) {
    super('KV_FULL', `kv store full: ${needed} bytes needed, a log region holds ${capacity}`)
  }
}

/** The store was closed. */
export class KvClosedError extends HonkError<'KV_CLOSED'> {
  constructor() {
    super('KV_CLOSED', 'kv store is closed')
  }
}

/** The device failed under the store; the store refuses further writes until reopened. */
export class KvIoError extends HonkError<'KV_IO'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KV_IO', message, options)
  }
}

/** A request the store cannot express (e.g. an empty or over-long key). */
export class KvInvalidError extends HonkError<'KV_INVALID'> {
  constructor(message: string) {
    super('KV_INVALID', message)
  }
}

/** A write (or compaction/reset) on a store opened with `{ readOnly: true }`. */
export class KvReadOnlyError extends HonkError<'KV_READ_ONLY'> {
  constructor(what: string) {
    super('KV_READ_ONLY', `kv store is open read-only: ${what} refused`)
  }
}

/**
 * The device is already open for writing by another `openKV` in this process. Two writers on
 * one log would overwrite each other's frames; a read-only open may share the device.
 */
export class KvInUseError extends HonkError<'KV_IN_USE'> {
  constructor(readonly holder: string) {
    super('KV_IN_USE', `kv: the block device is already open (${holder}); close that store first, or open this one with { readOnly: true }`)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    KvCorruptError: KvCorruptError
    KvFullError: KvFullError
    KvClosedError: KvClosedError
    KvIoError: KvIoError
    KvInvalidError: KvInvalidError
    KvReadOnlyError: KvReadOnlyError
    KvInUseError: KvInUseError
  }
}
