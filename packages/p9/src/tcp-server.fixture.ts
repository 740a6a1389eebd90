/**
 * A 9P TCP server in its own process, for measuring it from outside (tcp.hostile.system.test):
 * serves a MemoryFS with a 64 KiB `big.bin`, sends `{ port }` over IPC, and answers every
 * IPC message with its `process.memoryUsage()` and connection stats.
 */
import { MemoryFS } from '@honk/vfs'
import { listenTcp } from './node.js'

const big = new Uint8Array(65536).map((_, i) => (i * 7) & 0xff)
const server = await listenTcp(new MemoryFS({ files: { 'big.bin': big, 'hello.txt': 'still served' } }), 0, '127.0.0.1', { maxMessageSize: 65536 })
const send = (m: unknown) => process.send?.(m)
process.on('message', () => {
  // Old servers have no connectionStats: measure memory all the same.
  const stats = 'connectionStats' in server ? server.connectionStats() : []
  send({ memory: process.memoryUsage(), stats })
})
process.on('disconnect', () => process.exit(0))
send({ port: server.port })
