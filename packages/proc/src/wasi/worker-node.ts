/** The Node worker entry of a WebAssembly process (see node.ts). */
import { parentPort } from 'node:worker_threads'
import { runWasiWorker } from './runner.js'

if (!parentPort) throw new Error('worker-node.ts runs only as a worker_threads Worker')
const port = parentPort
runWasiWorker({
  postMessage: (m, transfer) => port.postMessage(m, transfer ?? []),
  onMessage: (listener) => port.on('message', listener),
  monotonicNs: process.hrtime.bigint,
})
