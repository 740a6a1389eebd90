/**
 * The generic request/response device: each chain's readable part is a request, the answer
 * goes into its writable part. virtio-rng and virtio-9p are this shape; a new device of the
 * same shape (a vsock-less RPC channel, a test device) needs only a handler.
 */
import { VirtioDeviceBase } from './device.js'
import { HonkError } from '@honk/errors'
import { VirtioAnswerTooLongError, VirtioRequestError } from './errors.js'
import type { Chain } from './virtqueue.js'

/**
 * Answers one request. `request` is the chain's readable part; `room` is the size of its
 * writable part. The answer is written from its start; an answer longer than `room` is cut
 * (and reported). A rejection completes the chain with nothing written, unless `onError`
 * of the options turns it into an answer.
 */
export type RequestHandler = (request: Uint8Array, room: number) => Uint8Array | Promise<Uint8Array>

export interface RequestDeviceOptions {
  readonly name: string
  readonly deviceId: number
  /** Device-specific feature bits offered; default none. */
  readonly features?: bigint
  /** Config space bytes; default empty. */
  readonly config?: Uint8Array
  /** Number of request queues (all served alike); default 1. */
  readonly queues?: number
  /** Queue size; default 128. */
  readonly queueSize?: number
  /** Requests with a longer readable part are refused without calling the handler. Default 16 MiB. */
  readonly maxRequest?: number
  readonly handler: RequestHandler
  /** Turns a handler failure (or an oversized answer) into the answer to send; default: none. */
  readonly onError?: (request: Uint8Array, error: unknown) => Uint8Array | undefined
}

export class RequestDevice extends VirtioDeviceBase {
  readonly name: string
  readonly deviceId: number
  readonly features: bigint
  readonly queueSizes: readonly number[]
  readonly config: Uint8Array
  /** Requests answered and failed. */
  readonly stats = { requests: 0, failed: 0 }
  private readonly inFlight = new Set<Promise<void>>()

  constructor(private readonly options: RequestDeviceOptions) {
    super()
    this.name = options.name
    this.deviceId = options.deviceId
    this.features = options.features ?? 0n
    this.config = options.config ?? new Uint8Array(0)
    this.queueSizes = new Array<number>(options.queues ?? 1).fill(options.queueSize ?? 128)
  }

  notify(queue: number): void {
    const q = this.ctx.queue(queue)
    if (!q) return
    let sync = false
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const request = chain.readableLength > (this.options.maxRequest ?? 16 << 20) ? undefined : chain.read()
      let answer: Uint8Array | Promise<Uint8Array>
      try {
        if (request === undefined) throw new VirtioRequestError(this.name, `request of ${chain.readableLength} bytes is too large`)
        answer = this.options.handler(request, chain.writableLength)
      } catch (e) {
        this.answerError(chain, request ?? new Uint8Array(0), e, false)
        sync = true
        continue
      }
      if (answer instanceof Uint8Array) {
        this.answer(chain, request!, answer, false)
        sync = true
        continue
      }
      const p = answer.then(
        (a) => this.answer(chain, request!, a, true),
        (e) => this.answerError(chain, request!, e, true),
      )
      const tracked = p.finally(() => this.inFlight.delete(tracked))
      this.inFlight.add(tracked)
    }
    if (sync) q.signal()
  }

  reset(): void {}

  /** Resolves when every request started so far has been answered. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight])
  }

  private answer(chain: Chain, request: Uint8Array, answer: Uint8Array, signal: boolean): void {
    if (answer.length > chain.writableLength) {
      return this.answerError(chain, request, new VirtioAnswerTooLongError(this.name, answer.length, chain.writableLength), signal)
    }
    this.stats.requests++
    chain.complete(chain.write(0, answer), signal)
  }

  private answerError(chain: Chain, request: Uint8Array, error: unknown, signal: boolean): void {
    this.stats.failed++
    if (this.attached) this.ctx.report(error instanceof HonkError ? error : new VirtioRequestError(this.name, `request handler failed: ${String(error)}`))
    let reply: Uint8Array | undefined
    try {
      reply = this.options.onError?.(request, error)
    } catch {
      reply = undefined
    }
    const n = reply ? chain.write(0, reply.subarray(0, chain.writableLength)) : 0
    chain.complete(n, signal)
  }
}
