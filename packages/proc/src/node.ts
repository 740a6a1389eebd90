/**
 * Node-only parts of `@honk/proc`: WebAssembly processes in `worker_threads` Workers.
 *
 * @example
 * ```ts
 * import { ProcessTable } from '@honk/proc'
 * import { spawnWasm } from '@honk/proc/node'
 * import { MemoryFS } from '@honk/vfs'
 * const table = new ProcessTable({})
 * const p = spawnWasm(bytes, { table, args: ['hello'], preopens: { '/': new MemoryFS() }, caps: ['fs', 'console'],
 *   stdout: (b) => process.stdout.write(b) })
 * const { code } = await p.exit
 * ```
 * @packageDocumentation
 */
import { Worker } from 'node:worker_threads'
import { moduleWorkerSource } from './worker-source.js'
import { spawnWasm as spawnWasmWith, type SpawnWasmOptions, type WasmProcess, type WasmWorker, type WasmWorkerFactory } from './wasi/spawn.js'
import type { WasmModule } from './wasi/wasm-api.js'

export { duplexSocket, serverListener } from './wasi/node-sockets.js'
export { moduleWorkerSource } from './worker-source.js'
export { nodeHartThreadPort, nodeHartThreads, type NodeHartThreadOptions } from './threads/node.js'

export interface NodeWasmWorkerOptions {
  /** V8 heap of the worker's JavaScript (the host), MiB; the module's memory is separate. Default 256. */
  maxHeapMb?: number
  /**
   * Workers kept started and idle (default 0), so that a spawn does not wait for a thread and
   * its module loader to boot; each one taken is replaced at once. Idle workers do not keep the
   * process alive.
   */
  prewarm?: number
  /**
   * The worker script (a module that runs `runWasiWorker` on `parentPort`, as dist/wasi-worker.js
   * does). Default: the one beside this module, compiled by tsx when running from sources.
   */
  workerUrl?: URL
}

/** Where the WASI worker entry is: the source beside this module, or dist/wasi-worker.js. */
function workerSource(): { code: string | URL; eval: boolean } {
  const here = import.meta.url
  return moduleWorkerSource(here.endsWith('.ts') ? new URL('./wasi/worker-node.ts', here) : new URL('./wasi-worker.js', here))
}

/** A `WasmWorkerFactory` of worker_threads Workers. */
export function nodeWasmWorkers(options: NodeWasmWorkerOptions = {}): WasmWorkerFactory {
  const src = options.workerUrl ? { code: options.workerUrl, eval: false } : workerSource()
  const make = (): Worker =>
    new Worker(src.code, {
      eval: src.eval,
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 256 },
      // The module never reaches the worker's console; keep its streams off the parent's.
      stdout: false,
      stderr: false,
    })
  const spares: Worker[] = []
  const refill = (): void => {
    while (spares.length < (options.prewarm ?? 0)) {
      const w = make()
      w.unref()
      // A spare that dies idle is dropped, never handed out.
      w.once('exit', () => {
        const i = spares.indexOf(w)
        if (i >= 0) spares.splice(i, 1)
      })
      spares.push(w)
    }
  }
  refill()
  return (): WasmWorker => {
    const w = spares.shift() ?? make()
    w.ref()
    refill()
    return {
      postMessage: (m, transfer) => w.postMessage(m, transfer ?? []),
      onMessage: (l) => w.on('message', l),
      onError: (l) => {
        w.on('error', l)
        w.on('exit', (code) => l(new Error(`worker exited with code ${code}`)))
      },
      terminate: () => w.terminate(),
    }
  }
}

let shared: WasmWorkerFactory | undefined

/** `spawnWasm` with worker_threads Workers (unless `options.workers` says otherwise). */
export function spawnWasm<S extends object>(module: Uint8Array | WasmModule, options: Omit<SpawnWasmOptions<S>, 'workers'> & { workers?: WasmWorkerFactory }): WasmProcess {
  // One worker kept booted: a thread takes tens of ms to start (most of a fresh spawn's time).
  return spawnWasmWith(module, { ...options, workers: options.workers ?? (shared ??= nodeWasmWorkers({ prewarm: 1 })) })
}
