/**
 * WebAssembly processes in a browser: the same `spawnWasm`, its module in a browser `Worker`.
 * The page must be cross-origin isolated (served with `Cross-Origin-Opener-Policy: same-origin`
 * and `Cross-Origin-Embedder-Policy: require-corp`), or SharedArrayBuffer does not exist.
 *
 * @example
 * ```ts
 * // page.ts
 * const workers = browserWasmWorkers(() => new Worker(new URL('./wasi-worker.js', import.meta.url), { type: 'module' }))
 * const p = spawnWasm(bytes, { table, workers, preopens: { '/': new MemoryFS() }, caps: ['fs', 'console'], stdout: show })
 * // wasi-worker.ts
 * runWasiWorkerInBrowser()
 * ```
 */
import { runWasiWorker } from './runner.js'
import type { WasmWorker, WasmWorkerFactory } from './spawn.js'

/** What this module needs of a browser `Worker` (structurally, so no DOM types are required). */
export interface BrowserWorkerLike {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: { data?: unknown; message?: string; error?: unknown }) => void): void
  terminate(): void
}

/** A `WasmWorkerFactory` of browser Workers made by `make` (each running `runWasiWorkerInBrowser`). */
export function browserWasmWorkers(make: () => BrowserWorkerLike): WasmWorkerFactory {
  return (): WasmWorker => {
    const w = make()
    return {
      postMessage: (m, transfer) => w.postMessage(m, transfer ?? []),
      onMessage: (listener) => w.addEventListener('message', (e) => listener(e.data)),
      onError: (listener) => {
        w.addEventListener('error', (e) => listener(e.error ?? new Error(e.message ?? 'the worker failed')))
        w.addEventListener('messageerror', () => listener(new Error('a message to the worker could not be read')))
      },
      terminate: () => w.terminate(),
    }
  }
}

/** The worker side: runs the WASI runner on this (dedicated worker) global scope. */
export function runWasiWorkerInBrowser(): void {
  const scope = globalThis as unknown as {
    postMessage(message: unknown, transfer: ArrayBuffer[]): void
    addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  }
  runWasiWorker({
    postMessage: (m, transfer) => scope.postMessage(m, transfer ?? []),
    onMessage: (listener) => scope.addEventListener('message', (e) => listener(e.data)),
  })
}
