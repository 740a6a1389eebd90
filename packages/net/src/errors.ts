import { HonkError } from '@honk/errors'

/** A frame, packet or segment that cannot be parsed; it is dropped and counted, never thrown past the stack. */
export class NetMalformedError extends HonkError {
  constructor(what: string, detail: string) {
    super('NET_MALFORMED', `${what}: ${detail}`)
  }
}
