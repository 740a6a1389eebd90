/** Hart threads as `worker_threads` Workers (Node). */
import { parentPort, threadId, Worker } from 'node:worker_threads'
import { moduleWorkerSource } from '../worker-source.js'
import type { HartThreadFactory } from './pool.js'
import type { HartThreadPort } from './serve.js'

export interface NodeHartThreadOptions {
  /** V8 heap of each thread, MiB (default 256). */
  maxHeapMb?: number
}

/**
 * A `HartThreadFactory` of Workers, each running the module `entry` (a `.ts` source is run
 * through tsx), which serves its tasks: `serveHartTasks(nodeHartThreadPort(), tasks)`.
 * The hart a Worker stands for is in its `workerData.hart` and its thread name.
 */
export function nodeHartThreads(entry: URL, options: NodeHartThreadOptions = {}): HartThreadFactory {
  const src = moduleWorkerSource(entry)
  return (hart) => {
    const w = new Worker(src.code, {
      eval: src.eval,
      name: `hart ${hart}`,
      workerData: { hart },
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 256 },
    })
    return {
      postMessage: (m) => w.postMessage(m),
      onMessage: (l) => void w.on('message', l),
      onError: (l) => {
        w.on('error', l)
        w.on('messageerror', l)
        w.on('exit', (code) => l(new Error(`exited with code ${code}`)))
      },
      terminate: () => w.terminate(),
      ref: () => w.ref(),
      unref: () => w.unref(),
    }
  }
}

/** The port a Worker entry serves its tasks on (its `parentPort`, with its `threadId`). */
export function nodeHartThreadPort(): HartThreadPort {
  const port = parentPort
  if (!port) throw new Error('nodeHartThreadPort() runs only in a worker_threads Worker')
  return { postMessage: (m) => port.postMessage(m), onMessage: (l) => void port.on('message', l), thread: threadId }
}
