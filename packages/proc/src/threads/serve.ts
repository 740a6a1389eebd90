/**
 * The thread side of a hart's thread: runs the named tasks a `HartThreads` pool sends, each
 * with its own kill signal, and answers with the value, the error or the kill.
 */
import { parsePoolMessage, type ThreadMessage, type ThreadValue, type WireError } from './protocol.js'

/** What a task running on a hart's thread receives. */
export interface HartTaskContext {
  /** The hart this thread stands for. */
  readonly hart: number
  /** The platform's id of this thread (Node: `worker_threads.threadId`; 0 where there is none). */
  readonly thread: number
  /** Aborted when the process the task serves is killed. */
  readonly signal: AbortSignal
  /** Throws the kill reason if the task was killed (for loops that poll). */
  throwIfKilled(): void
  /** Yields to this thread's event loop (a macrotask, so its timers and messages get their turn). */
  yield(): Promise<void>
}

/** The body of a task a hart's thread can run: JSON-like data in, structured-cloneable data out. */
export type HartTask = (args: ThreadValue, ctx: HartTaskContext) => ThreadValue | void | Promise<ThreadValue | void>

/** The tasks a thread serves, by name. */
export type HartTasks = Readonly<Record<string, HartTask>>

/** How a thread talks to its pool (Node: `parentPort`, a browser: the worker's global scope). */
export interface HartThreadPort {
  postMessage(message: ThreadMessage): void
  onMessage(listener: (message: unknown) => void): void
  /** The platform's id of this thread (0 where there is none). */
  readonly thread?: number
}

/** A macrotask yield: `setImmediate` where it exists, else a zero timeout. */
export const yieldMacrotask: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise<void>((resolve) => setImmediate(resolve)) : () => new Promise<void>((resolve) => setTimeout(resolve, 0))

function wireError(e: unknown): WireError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code
    return { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}) }
  }
  return { name: 'Error', message: String(e) }
}

/** Serves `tasks` on `port` until the thread ends. */
export function serveHartTasks(port: HartThreadPort, tasks: HartTasks): void {
  const running = new Map<number, AbortController>()
  const thread = port.thread ?? 0
  const send = (m: ThreadMessage): void => {
    try {
      port.postMessage(m)
    } catch (e) {
      // A value that cannot be cloned: the task's answer becomes that error.
      port.postMessage({ kind: 'failed', id: m.id, error: wireError(e) })
    }
  }
  port.onMessage((raw) => {
    const m = parsePoolMessage(raw)
    if (typeof m === 'string') {
      const id = (raw as { id?: unknown } | null)?.id
      if (Number.isSafeInteger(id) && (id as number) >= 0) send({ kind: 'failed', id: id as number, error: { name: 'HartThreadError', message: `malformed request: ${m}` } })
      return
    }
    if (m.kind === 'kill') {
      running.get(m.id)?.abort(m.reason)
      return
    }
    const task = Object.hasOwn(tasks, m.task) ? tasks[m.task] : undefined
    if (!task) return send({ kind: 'failed', id: m.id, error: { name: 'HartThreadError', message: `no task "${m.task}" on this thread (it serves: ${Object.keys(tasks).join(', ') || 'none'})` } })
    if (running.has(m.id)) return send({ kind: 'failed', id: m.id, error: { name: 'HartThreadError', message: `request ${m.id} is already running` } })
    const controller = new AbortController()
    running.set(m.id, controller)
    const { signal } = controller
    const ctx: HartTaskContext = {
      hart: m.hart,
      thread,
      signal,
      throwIfKilled: () => {
        if (signal.aborted) throw new Error(String(signal.reason))
      },
      yield: yieldMacrotask,
    }
    void (async () => task(m.args, ctx))().then(
      (value) => {
        running.delete(m.id)
        send({ kind: 'done', id: m.id, value: value ?? null })
      },
      (e: unknown) => {
        running.delete(m.id)
        send(signal.aborted ? { kind: 'killed', id: m.id, reason: String(signal.reason) } : { kind: 'failed', id: m.id, error: wireError(e) })
      },
    )
  })
}
