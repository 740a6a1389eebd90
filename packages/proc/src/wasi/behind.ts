/**
 * The main side of one process's shared buffer (see protocol.ts for the layout): serves the
 * worker's requests in order, and writes the worker's write-behind batches to the FS.
 *
 * Order is the invariant: every FS operation of the process (a batch, a request) runs on one
 * queue, and a request is served only after every batch committed before it has been written.
 * So any call of the module sees all of its earlier writes, exactly as without write-behind.
 */
import { HEADER, KIND_BYTES, KIND_JSON, KIND_NONE, WB_HANDLE, WB_LEN, WB_LOCK, WB_POS_F64, WRITE_BEHIND_MS, type Request } from './protocol.js'
import type { Answer, WasiFsServer } from './server.js'

const enc = new TextEncoder()

/**
 * Writes the answer to a bridge request into the shared buffer and wakes the worker. An answer
 * longer than the buffer leaves the rest with the server, fetched by `more` requests.
 */
export function writeAnswer(ctrl: Int32Array, payload: Uint8Array, server: WasiFsServer, a: Answer): void {
  let kind = KIND_NONE
  let body: Uint8Array = new Uint8Array(0)
  let errno = 0
  if ('errno' in a) errno = a.errno
  else if ('json' in a) {
    kind = KIND_JSON
    body = enc.encode(JSON.stringify(a.json))
  } else {
    kind = KIND_BYTES
    body = a.bytes
  }
  const first = body.subarray(0, payload.length)
  payload.set(first)
  server.setPending(body.length > first.length ? body.slice(first.length) : undefined)
  ctrl[1] = errno
  ctrl[2] = kind
  ctrl[3] = first.length
  ctrl[4] = body.length - first.length
  Atomics.store(ctrl, 0, 1)
  Atomics.notify(ctrl, 0)
}

/** A shared buffer for a process: `capacity` bytes of answers, then `writeBehind` bytes of buffered writes. */
export function bridgeBuffer(capacity: number, writeBehind: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER + capacity + writeBehind)
}

export class MainBridge {
  readonly ctrl: Int32Array
  readonly payload: Uint8Array
  private readonly f64: Float64Array
  private readonly region: Uint8Array
  private chain: Promise<void> = Promise.resolve()
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  /** The request being served, if any. */
  private serving: Request['op'] | undefined
  /** Changes of this process (batches taken, requests other than reads): a guessed read is valid while this is unchanged. */
  private gen = 0
  /** A read started ahead on this side (the chunk after the last whole-chunk read). */
  private spec: { handle: number; pos: number; len: number; gen: number; at: number; answer: Promise<Answer> } | undefined
  /** Batches taken and not yet written. */
  private writing = 0
  /** The worker waits with a full batch until a write is done. */
  private fullWaiting = false
  /** Batch buffers written and free again. */
  private readonly spare: Uint8Array[] = []
  /** Batches written to the FS so far (tests, statistics). */
  batches = 0

  constructor(
    readonly sab: SharedArrayBuffer,
    readonly writeBehind: number,
    private readonly server: WasiFsServer,
    /** Lifetime (ms) of a read started ahead on this side (the worker's cacheMs; 0: none). */
    private readonly cacheMs = 0,
  ) {
    this.ctrl = new Int32Array(sab, 0, 8)
    this.f64 = new Float64Array(sab, 0, HEADER / 8)
    const capacity = sab.byteLength - HEADER - writeBehind
    this.payload = new Uint8Array(sab, HEADER, capacity)
    this.region = new Uint8Array(sab, HEADER + capacity, writeBehind)
  }

  /** Runs `job` after every FS operation queued before it. */
  private enqueue(job: () => Promise<void>): Promise<void> {
    const p = this.chain.then(job)
    this.chain = p.catch(() => undefined)
    return p
  }

  /**
   * Takes the committed batch out of the region (a copy) and empties it. Without `force` it
   * gives up when the worker holds the lock (it is appending; the timer tries again); `force`
   * is for when the worker cannot be appending: it is blocked on a request, or it has stopped.
   */
  private take(force: boolean): { handle: number; pos: number; data: Uint8Array } | undefined {
    if (this.writeBehind === 0 || Atomics.load(this.ctrl, WB_LEN) === 0) return undefined
    const locked = Atomics.compareExchange(this.ctrl, WB_LOCK, 0, 2) === 0
    if (!locked && !force) return undefined
    const len = Atomics.load(this.ctrl, WB_LEN)
    const handle = Atomics.load(this.ctrl, WB_HANDLE)
    const pos = this.f64[WB_POS_F64]!
    // Into a reused buffer (a fresh one per batch costs more than the copy).
    const buf = this.spare.pop() ?? new Uint8Array(this.writeBehind)
    buf.set(this.region.subarray(0, len))
    const data = buf.subarray(0, len)
    Atomics.store(this.ctrl, WB_HANDLE, 0)
    Atomics.store(this.ctrl, WB_LEN, 0)
    // A worker whose batch was full waits for the region to be empty.
    Atomics.notify(this.ctrl, WB_LEN)
    if (locked) {
      Atomics.store(this.ctrl, WB_LOCK, 0)
      Atomics.notify(this.ctrl, WB_LOCK)
    }
    return { handle, pos, data }
  }

  /**
   * Takes the batch now and queues its write. A batch is always taken at once and written in
   * the order taken, so the queue holds the process's FS operations in the order it made them.
   * False if the worker holds the lock (not forced) and the batch is still there.
   */
  private flush(force: boolean): boolean {
    const b = this.take(force)
    if (b === undefined) return Atomics.load(this.ctrl, WB_LEN) === 0
    this.batches++
    this.gen++
    this.writing++
    void this.enqueue(async () => {
      await this.server.writeBehind(b.handle, b.pos, b.data)
      this.writing--
      if (this.spare.length < 2) this.spare.push(new Uint8Array(b.data.buffer))
      // A full batch waited for this write (see batchFull).
      if (this.fullWaiting && !this.stopped) {
        this.fullWaiting = false
        if (!this.flush(false)) this.batchStarted()
      }
    })
    return true
  }

  /** Serves one request of the (blocked) worker: buffered writes first, then the request. */
  serve(req: Request): void {
    // A blocked worker is not appending, so the batch is taken now; a prefetch is sent by a
    // worker that runs on: if it is appending, the timer takes the batch (the prefetched bytes
    // are dropped by the worker, as the write came after them).
    if (!this.flush(false)) this.batchStarted()
    if (req.op !== 'read') this.gen++
    // The chunk read ahead on this side, if this is the read it guessed and nothing of this
    // process came between (gen) and it is fresh.
    const s = this.spec
    this.spec = undefined
    const guessed =
      req.op === 'read' && s !== undefined && s.gen === this.gen && s.handle === req.handle && s.pos === req.pos && s.len === req.len && performance.now() - s.at <= this.cacheMs
        ? s.answer
        : undefined
    void this.enqueue(async () => {
      this.serving = req.op
      const a = await (guessed ?? this.server.serve(req))
      this.serving = undefined
      if (this.stopped) return
      // A whole chunk (the worker's read-ahead size) read in full: start reading the next one
      // now, so that the FS works while this one crosses and is consumed.
      if (req.op === 'read' && this.cacheMs > 0 && req.len === this.payload.length && 'bytes' in a && a.bytes.length === req.len) {
        const next = { op: 'read' as const, handle: req.handle, pos: req.pos + req.len, len: req.len }
        this.spec = { ...next, gen: this.gen, at: performance.now(), answer: this.server.serve(next) }
      }
      writeAnswer(this.ctrl, this.payload, this.server, a)
    })
  }

  /** The worker started a batch: write it within WRITE_BEHIND_MS even if no request comes. */
  batchStarted(): void {
    if (this.timer !== undefined || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      // The worker was appending: try again shortly.
      if (!this.flush(false)) this.batchStarted()
    }, WRITE_BEHIND_MS)
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  /**
   * The worker's batch is half full (it goes on), or full (it waits for the region to be
   * emptied): take the batch, so that its write to the FS overlaps the worker filling the next.
   */
  batchFull(): void {
    if (this.stopped) return
    // Back-pressure: with two batches still being written, the worker waits until one is done
    // (the FS is the bottleneck then; more batches in flight would only cost memory).
    if (this.writing >= 2) {
      this.fullWaiting = true
      return
    }
    if (!this.flush(false)) this.batchStarted()
  }

  /** No more answers (the process is ending); the worker may still run until it is stopped. */
  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /**
   * Once the worker can no longer append (it exited, or it was terminated and has stopped):
   * writes what it buffered, after every operation already queued.
   */
  drain(): Promise<void> {
    this.stop()
    // A stdin wait may never end (the process was killed waiting for input) and touches no
    // file, so the batch need not wait behind it (the batch it followed was written before it).
    if (this.serving === 'stdin' || this.serving === 'stdinwait') {
      const b = this.take(true)
      return b === undefined ? Promise.resolve() : this.server.writeBehind(b.handle, b.pos, b.data.slice())
    }
    this.flush(true)
    return this.enqueue(async () => undefined)
  }
}
