import { HonkError } from '@honk/errors'

/** The peer reset the connection (an acceptable RST in a synchronized state, RFC 9293 §3.10.7.4). */
export class TcpConnectionResetError extends HonkError<'TCP_RESET'> {
  constructor(where: string) {
    super('TCP_RESET', `connection reset by peer (${where})`)
  }
}

/** The peer answered our SYN with a RST: nothing listens on that port (RFC 9293 §3.10.7.3). */
export class TcpRefusedError extends HonkError<'TCP_REFUSED'> {
  constructor(where: string) {
    super('TCP_REFUSED', `connection refused (${where})`)
  }
}

/** Retransmissions, persist probes or keep-alive probes ran out without an answer. */
export class TcpTimeoutError extends HonkError<'TCP_TIMEOUT'> {
  constructor(where: string, detail: string) {
    super('TCP_TIMEOUT', `connection timed out (${where}): ${detail}`)
  }
}

/** A local port or 4-tuple is already taken. */
export class TcpAddressInUseError extends HonkError<'TCP_ADDR_IN_USE'> {
  constructor(where: string) {
    super('TCP_ADDR_IN_USE', `address already in use: ${where}`)
  }
}

/** A configured limit (connections, ephemeral ports) refused a new connection. */
export class TcpLimitError extends HonkError<'TCP_LIMIT'> {
  constructor(detail: string) {
    super('TCP_LIMIT', detail)
  }
}

/** An operation that the socket's state does not allow (send after close, on a closed socket…). */
export class TcpStateError extends HonkError<'TCP_STATE'> {
  constructor(op: string, state: string, where: string) {
    super('TCP_STATE', `${op} is not allowed in state ${state} (${where})`)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    TcpConnectionResetError: TcpConnectionResetError
    TcpRefusedError: TcpRefusedError
    TcpTimeoutError: TcpTimeoutError
    TcpAddressInUseError: TcpAddressInUseError
    TcpLimitError: TcpLimitError
    TcpStateError: TcpStateError
  }
}
