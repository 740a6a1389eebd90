/**
 * One thread per hart for a kernel's CPU work (the Go honk's goroutines over GOMAXPROCS =
 * harts): `HartThreads.run(hart, task, args, signal)` runs a named task on that hart's thread
 * and resolves with its value. A thread is started on first use and kept; it holds its process
 * open only while it has work. A thread that dies or sends what is not a message fails the
 * requests it had (`HartThreadError`) and is replaced on the next run; a task that throws fails
 * its own request (`HartTaskError`); a kill aborts the task on its thread.
 */
import { HonkError } from '@honk/errors'
import { parseThreadMessage, type PoolMessage, type ThreadValue } from './protocol.js'
import { serveHartTasks, yieldMacrotask, type HartTasks } from './serve.js'

/** One hart's thread as the pool drives it (a `worker_threads` Worker, a Web Worker, or in-thread). */
export interface HartThread {
  postMessage(message: PoolMessage): void
  onMessage(listener: (message: unknown) => void): void
  /** The thread stopped (an uncaught error, out of memory, an exit): every request on it fails. */
  onError(listener: (error: unknown) => void): void
  terminate(): void | Promise<unknown>
  /** Keep the host process alive while the thread has work (Node), and let it go when idle. */
  ref?(): void
  unref?(): void
}

/** Starts the thread of one hart (called once per hart, and again after a thread died). */
export type HartThreadFactory = (hart: number) => HartThread

/** A hart's thread died, was closed, or broke the protocol: the requests it had fail. */
export class HartThreadError extends HonkError<'PROC_HART_THREAD'> {
  constructor(readonly hart: number, detail: string) {
    super('PROC_HART_THREAD', `hart ${hart}'s thread: ${detail}`)
  }
}

/** A task threw on its hart's thread; `remoteName`/`remoteCode` are what it threw there. */
export class HartTaskError extends HonkError<'PROC_HART_TASK'> {
  constructor(readonly hart: number, readonly task: string, readonly remoteName: string, remoteMessage: string, readonly remoteCode: string | undefined) {
    super('PROC_HART_TASK', `task "${task}" on hart ${hart} failed: ${remoteName}: ${remoteMessage}`)
  }
}

interface Pending {
  readonly task: string
  resolve(value: ThreadValue): void
  reject(error: unknown): void
  /** Killed: rejects with `killReason` once the thread confirms the task stopped (or at once if the thread is gone). */
  killed: boolean
  killReason: unknown
  detach(): void
}

interface Live {
  readonly thread: HartThread
  readonly pending: Map<number, Pending>
  dead: boolean
}

export interface HartThreadsOptions {
  /**
   * How long a killed task may take to stop (default 1000 ms). A thread whose task has not
   * stopped by then is terminated (its event loop is stuck: a loop that never yields), which
   * fails its other requests too; the next run on that hart starts a fresh thread.
   */
  killGraceMs?: number
}

export class HartThreads {
  private readonly live = new Map<number, Live>()
  private nextId = 0
  private closed = false
  private readonly killGraceMs: number

  constructor(private readonly factory: HartThreadFactory, options: HartThreadsOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? 1000
  }

  /** Harts whose thread is running now. */
  started(): readonly number[] {
    return [...this.live.keys()].sort((a, b) => a - b)
  }

  /** Requests in flight on `hart`'s thread. */
  busy(hart: number): number {
    return this.live.get(hart)?.pending.size ?? 0
  }

  /**
   * Runs `task` on `hart`'s thread. Rejects with `signal.reason` when killed (once the task has
   * stopped, or at once if its thread is gone), `HartTaskError` when the task threw,
   * `HartThreadError` when the thread died or misbehaved.
   */
  run(hart: number, task: string, args: ThreadValue = null, signal?: AbortSignal): Promise<ThreadValue> {
    if (!Number.isSafeInteger(hart) || hart < 0) return Promise.reject(new RangeError(`hart must be a non-negative integer (got ${hart})`))
    if (this.closed) return Promise.reject(new HartThreadError(hart, 'the pool is closed'))
    if (signal?.aborted) return Promise.reject(signal.reason)
    let live: Live
    try {
      live = this.threadOf(hart)
    } catch (e) {
      return Promise.reject(new HartThreadError(hart, `could not start: ${e instanceof Error ? e.message : String(e)}`))
    }
    const id = this.nextId++
    return new Promise<ThreadValue>((resolve, reject) => {
      let grace: ReturnType<typeof setTimeout> | undefined
      const onAbort = (): void => {
        const p = live.pending.get(id)
        if (!p) return
        p.killed = true
        p.killReason = signal?.reason
        if (live.dead) return this.settle(live, id, () => reject(p.killReason))
        live.thread.postMessage({ kind: 'kill', id, reason: String(signal?.reason) })
        grace = setTimeout(() => {
          if (!live.pending.has(id)) return
          this.fail(hart, live, `terminated: task "${task}" did not stop within ${this.killGraceMs} ms of its kill`)
          void Promise.resolve(live.thread.terminate()).catch(() => undefined)
        }, this.killGraceMs)
      }
      const detach = (): void => {
        signal?.removeEventListener('abort', onAbort)
        clearTimeout(grace)
      }
      const pending: Pending = { task, resolve, reject, killed: false, killReason: undefined, detach }
      live.pending.set(id, pending)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (live.pending.size === 1) live.thread.ref?.()
      try {
        live.thread.postMessage({ kind: 'run', id, hart, task, args })
      } catch (e) {
        // The arguments could not be cloned: this request fails, the thread lives on.
        this.settle(live, id, () => reject(e))
      }
    })
  }

  /** Stops every thread; requests in flight fail with `HartThreadError`. */
  async close(): Promise<void> {
    this.closed = true
    const all = [...this.live.entries()]
    for (const [hart, live] of all) this.fail(hart, live, 'the pool is closed')
    await Promise.all(all.map(([, live]) => Promise.resolve(live.thread.terminate()).catch(() => undefined)))
  }

  private threadOf(hart: number): Live {
    const known = this.live.get(hart)
    if (known) return known
    const thread = this.factory(hart)
    const live: Live = { thread, pending: new Map(), dead: false }
    this.live.set(hart, live)
    thread.onMessage((raw) => this.receive(hart, live, raw))
    thread.onError((e) => this.fail(hart, live, `stopped: ${e instanceof Error ? e.message : String(e)}`))
    thread.unref?.()
    return live
  }

  private receive(hart: number, live: Live, raw: unknown): void {
    if (live.dead) return
    const m = parseThreadMessage(raw)
    if (typeof m === 'string') {
      // A thread that breaks the protocol is not trusted with the rest of its requests either.
      this.fail(hart, live, `sent a malformed message (${m})`)
      void Promise.resolve(live.thread.terminate()).catch(() => undefined)
      return
    }
    const p = live.pending.get(m.id)
    if (!p) return // an answer to a request already failed (its thread was replaced), or never made
    if (p.killed) return this.settle(live, m.id, () => p.reject(p.killReason))
    switch (m.kind) {
      case 'done':
        return this.settle(live, m.id, () => p.resolve(m.value))
      case 'failed':
        return this.settle(live, m.id, () => p.reject(new HartTaskError(hart, p.task, m.error.name, m.error.message, m.error.code)))
      case 'killed':
        return this.settle(live, m.id, () => p.reject(new HartThreadError(hart, `task "${p.task}" reported killed (${m.reason}) without a kill`)))
    }
  }

  private settle(live: Live, id: number, how: () => void): void {
    const p = live.pending.get(id)
    if (!p) return
    live.pending.delete(id)
    p.detach()
    if (live.pending.size === 0 && !live.dead) live.thread.unref?.()
    how()
  }

  /** The thread is gone: every request on it fails; the next run on its hart starts a new one. */
  private fail(hart: number, live: Live, detail: string): void {
    if (live.dead) return
    live.dead = true
    if (this.live.get(hart) === live) this.live.delete(hart)
    for (const [id, p] of [...live.pending]) this.settle(live, id, () => p.reject(p.killed ? p.killReason : new HartThreadError(hart, `${detail} while running task "${p.task}"`)))
    live.thread.unref?.()
  }
}

/**
 * Hart "threads" on the calling thread (a browser without workers, tests, deterministic runs):
 * the same protocol, messages cloned and delivered as macrotasks, tasks interleaved on one
 * event loop.
 */
export function inThreadHartThreads(tasks: HartTasks): HartThreadFactory {
  return () => {
    const toThread: ((m: unknown) => void)[] = []
    const toPool: ((m: unknown) => void)[] = []
    let stopped = false
    const deliver = (listeners: ((m: unknown) => void)[], m: unknown): void => {
      const copy = structuredClone(m) // throws DataCloneError at the sender, as postMessage does
      void yieldMacrotask().then(() => {
        if (!stopped) for (const l of listeners) l(copy)
      })
    }
    serveHartTasks({ postMessage: (m) => deliver(toPool, m), onMessage: (l) => void toThread.push(l), thread: 0 }, tasks)
    return {
      postMessage: (m) => deliver(toThread, m),
      onMessage: (l) => void toPool.push(l),
      onError: () => undefined,
      terminate: () => {
        stopped = true
      },
    }
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    HartThreadError: HartThreadError
    HartTaskError: HartTaskError
  }
}
