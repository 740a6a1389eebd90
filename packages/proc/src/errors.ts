import { HonkError } from '@honk/errors'

/** A process asked for a service it was not granted. */
export class CapabilityError extends HonkError<'PROC_CAPABILITY'> {
  constructor(readonly pid: number, readonly cap: string) {
    super('PROC_CAPABILITY', `process ${pid} does not hold the "${cap}" capability`)
  }
}

/** A process id that is not in the table. */
export class NoSuchProcessError extends HonkError<'PROC_NO_SUCH_PROCESS'> {
  constructor(readonly pid: number) {
    super('PROC_NO_SUCH_PROCESS', `PID ${pid} does not exist`)
  }
}

/** The reason a killed process's signal carries. */
export class KilledError extends HonkError<'PROC_KILLED'> {
  constructor(readonly pid: number, reason: string) {
    super('PROC_KILLED', `PID ${pid} killed: ${reason}`)
  }
}

/** A channel operation on a closed channel. */
export class ChannelClosedError extends HonkError<'CHANNEL_CLOSED'> {
  constructor() {
    super('CHANNEL_CLOSED', 'channel is closed')
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    CapabilityError: CapabilityError
    NoSuchProcessError: NoSuchProcessError
    KilledError: KilledError
    ChannelClosedError: ChannelClosedError
  }
}
