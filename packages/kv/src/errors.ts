import { HonkError } from '@honk/errors'

/** The on-disk state is damaged in a way recovery cannot repair; `where` names the place. */
export class KvCorruptError extends HonkError {
  constructor(readonly where: string, detail: string) {
    super('KV_CORRUPT', `kv store corrupt at ${where}: ${detail}`)
  }
}

/** The live data (plus the write) does not fit in one log region. */
export class KvFullError extends HonkError {
  constructor(needed: number, capacity: number) {
    super('KV_FULL', `kv store full: ${needed} bytes needed, a log region holds ${capacity}`)
  }
}

/** The store was closed. */
export class KvClosedError extends HonkError {
  constructor() {
    super('KV_CLOSED', 'kv store is closed')
  }
}

/** The device failed under the store; the store refuses further writes until reopened. */
export class KvIoError extends HonkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KV_IO', message, options)
  }
}

/** A request the store cannot express (e.g. an empty or over-long key). */
export class KvInvalidError extends HonkError {
  constructor(message: string) {
    super('KV_INVALID', message)
  }
}
