/**
 * Hart threads in a browser: the same `HartThreads`, each hart's thread a dedicated `Worker`
 * whose script serves the tasks.
 *
 * @example
 * ```ts
 * // page.ts
 * const threads = new HartThreads(browserHartThreads((hart) => new Worker(new URL('./hart-worker.js', import.meta.url), { type: 'module', name: `hart ${hart}` })))
 * const sum = await threads.run(1, 'count', 1e8)
 * // hart-worker.ts
 * serveHartTasksInBrowser({ count: (n) => { let s = 0; for (let i = 0; i < (n as number); i++) s += i; return s } })
 * ```
 */
import type { BrowserWorkerLike } from '../wasi/browser.js'
import type { HartThreadFactory } from './pool.js'
import { serveHartTasks, type HartTasks } from './serve.js'

/** A `HartThreadFactory` of browser Workers made by `make` (each running `serveHartTasksInBrowser`). */
export function browserHartThreads(make: (hart: number) => BrowserWorkerLike): HartThreadFactory {
  return (hart) => {
    const w = make(hart)
    return {
      postMessage: (m) => w.postMessage(m, []),
      onMessage: (listener) => w.addEventListener('message', (e) => listener(e.data)),
      onError: (listener) => {
        w.addEventListener('error', (e) => listener(e.error ?? new Error(e.message ?? 'the worker failed')))
        w.addEventListener('messageerror', () => listener(new Error('a message from the worker could not be read')))
      },
      terminate: () => w.terminate(),
    }
  }
}

/** What the worker side needs of its global scope (a dedicated worker's `self`). */
export interface WorkerScopeLike {
  postMessage(message: unknown): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
}

/** The worker side: serves `tasks` on this dedicated worker's global scope (or `scope`). */
export function serveHartTasksInBrowser(tasks: HartTasks, scope: WorkerScopeLike = globalThis as unknown as WorkerScopeLike): void {
  serveHartTasks({ postMessage: (m) => scope.postMessage(m), onMessage: (listener) => scope.addEventListener('message', (e) => listener(e.data)) }, tasks)
}
