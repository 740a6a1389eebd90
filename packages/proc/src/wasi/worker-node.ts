/** The Node worker entry of a WebAssembly process (see node.ts). */
import { readSync, writeSync } from 'node:fs'
import { parentPort } from 'node:worker_threads'
import { runWasiWorker } from './runner.js'

if (!parentPort) throw new Error('worker-node.ts runs only as a worker_threads Worker')
const port = parentPort
runWasiWorker({
  postMessage: (m, transfer) => port.postMessage(m, transfer ?? []),
  onMessage: (listener) => port.on('message', listener),
  monotonicNs: process.hrtime.bigint,
  // pread/pwrite on descriptors the main thread opened (the process shares its descriptor table).
  direct: {
    read: (fd, into, position) => readSync(fd, into, 0, into.length, position),
    write: (fd, from, position) => writeSync(fd, from, 0, from.length, position),
  },
})
