/**
 * A 9P transport carries whole messages: a T-message out, its R-message back. Requests may be
 * concurrent; the transport matches replies to requests (by tag, for stream transports).
 */
export interface Transport {
  /** The largest message (bytes, header included) the transport carries; bounds msize. */
  readonly maxMessageSize: number
  /** Sends one encoded T-message and resolves with the encoded R-message for its tag. */
  roundTrip(tmessage: Uint8Array): Promise<Uint8Array>
  close(): Promise<void>
}

/** A transport straight into a message handler in the same process (tests, in-process servers). */
export function loopbackTransport(handler: (tmessage: Uint8Array) => Promise<Uint8Array>, maxMessageSize = 512 * 1024): Transport {
  let closed = false
  return {
    maxMessageSize,
    async roundTrip(t) {
      if (closed) throw new Error('9p: transport is closed')
      return handler(t)
    },
    async close() {
      closed = true
    },
  }
}
