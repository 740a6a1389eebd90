import { HonkError } from '@honk/errors'

/** A frame, packet or segment that cannot be parsed; it is dropped and counted, never thrown past the stack. */
export class NetMalformedError extends HonkError<'NET_MALFORMED'> {
  constructor(what: string, detail: string) {
    super('NET_MALFORMED', `${what}: ${detail}`)
  }
}

/** The codes of {@link NetError}. */
export type NetErrorCode = 'NET_ADDR_IN_USE' | 'NET_NO_ROUTE' | 'NET_NOT_CONFIGURED' | 'NET_TIMEOUT' | 'NET_DNS' | 'NET_LIMIT' | 'NET_CLOSED'

/** A socket-level failure outside TCP's own (UDP port in use, no route, DNS failure, DHCP, NAT limits); `code` says which. */
export class NetError extends HonkError<NetErrorCode> {
  constructor(code: NetErrorCode, message: string) {
    super(code, message)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    NetMalformedError: NetMalformedError
    NetError: NetError
  }
}
