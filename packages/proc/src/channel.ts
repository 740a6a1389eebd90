import { ChannelClosedError } from './errors.js'

/**
 * A typed FIFO channel for IPC between tasks (Go's `chan T`, as promises). With `capacity` 0
 * a send waits for a receiver (a rendezvous); with N it waits only when N values are queued.
 * Every waiting operation takes an optional `AbortSignal` (a process's kill signal), so a
 * killed process never stays blocked on a channel and leaves no waiter behind.
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly queue: T[] = []
  private readonly receivers: { resolve: (v: T) => void; reject: (e: unknown) => void }[] = []
  private readonly senders: { value: T; resolve: () => void; reject: (e: unknown) => void }[] = []
  private closedFlag = false

  constructor(readonly capacity = 0) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`)
  }

  get closed(): boolean {
    return this.closedFlag
  }

  /** Values buffered and not yet received. */
  get length(): number {
    return this.queue.length
  }

  /** Sends `value`, waiting while the buffer is full. Rejects if the channel is or gets closed. */
  send(value: T, signal?: AbortSignal): Promise<void> {
    if (this.closedFlag) return Promise.reject(new ChannelClosedError())
    if (this.trySend(value)) return Promise.resolve()
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const waiter = { value, resolve: () => (cleanup(), resolve()), reject: (e: unknown) => (cleanup(), reject(e)) }
      const onAbort = () => {
        const i = this.senders.indexOf(waiter)
        if (i >= 0) this.senders.splice(i, 1)
        waiter.reject(signal!.reason)
      }
      const cleanup = () => signal?.removeEventListener('abort', onAbort)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.senders.push(waiter)
    })
  }

  /** Sends without waiting; false when that would block (or the channel is closed). */
  trySend(value: T): boolean {
    if (this.closedFlag) return false
    const r = this.receivers.shift()
    if (r) {
      r.resolve(value)
      return true
    }
    if (this.queue.length < this.capacity) {
      this.queue.push(value)
      return true
    }
    return false
  }

  /** Receives the next value, waiting for one. Rejects with `ChannelClosedError` once closed and drained. */
  receive(signal?: AbortSignal): Promise<T> {
    const got = this.tryReceive()
    if (got.ok) return Promise.resolve(got.value)
    if (this.closedFlag) return Promise.reject(new ChannelClosedError())
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise<T>((resolve, reject) => {
      const waiter = { resolve: (v: T) => (cleanup(), resolve(v)), reject: (e: unknown) => (cleanup(), reject(e)) }
      const onAbort = () => {
        const i = this.receivers.indexOf(waiter)
        if (i >= 0) this.receivers.splice(i, 1)
        waiter.reject(signal!.reason)
      }
      const cleanup = () => signal?.removeEventListener('abort', onAbort)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.receivers.push(waiter)
    })
  }

  /** Receives without waiting. */
  tryReceive(): { ok: true; value: T } | { ok: false } {
    if (this.queue.length > 0) {
      const value = this.queue.shift()!
      // A slot opened: the longest-waiting sender fills it.
      const s = this.senders.shift()
      if (s) {
        this.queue.push(s.value)
        s.resolve()
      }
      return { ok: true, value }
    }
    const s = this.senders.shift()
    if (s) {
      s.resolve()
      return { ok: true, value: s.value }
    }
    return { ok: false }
  }

  /** Closes the channel: buffered values can still be received; waiting senders and later sends fail. */
  close(): void {
    if (this.closedFlag) return
    this.closedFlag = true
    for (const s of this.senders.splice(0)) s.reject(new ChannelClosedError())
    for (const r of this.receivers.splice(0)) r.reject(new ChannelClosedError())
  }

  /** Receives until the channel is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      try {
        yield await this.receive()
      } catch (e) {
        if (e instanceof ChannelClosedError) return
        throw e
      }
    }
  }
}
