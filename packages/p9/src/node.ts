/**
 * Node-only 9P transports: TCP (framed by the message size field, replies matched by tag).
 * @packageDocumentation
 */
import { connect, type Socket } from 'node:net'
import { Framer } from './codec.js'
import { P9ProtocolError } from './errors.js'
import type { Transport } from './transport.js'

/** A 9P transport over a TCP connection. Concurrent requests are matched to replies by tag. */
export async function connectTcp(host: string, port: number, options: { maxMessageSize?: number } = {}): Promise<Transport> {
  const maxMessageSize = options.maxMessageSize ?? 64 * 1024
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => resolve(s))
    s.once('error', reject)
  })
  socket.setNoDelay(true)
  const framer = new Framer(maxMessageSize)
  const pending = new Map<number, { resolve: (m: Uint8Array) => void; reject: (e: Error) => void }>()
  let failure: Error | undefined
  const failAll = (e: Error) => {
    failure ??= e
    for (const p of pending.values()) p.reject(failure)
    pending.clear()
  }
  socket.on('data', (chunk: Buffer) => {
    let messages: Uint8Array[]
    try {
      messages = framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    } catch (e) {
      failAll(e as Error)
      socket.destroy()
      return
    }
    for (const m of messages) {
      const tag = m[5]! | (m[6]! << 8)
      const p = pending.get(tag)
      if (!p) continue // a reply to a flushed request
      pending.delete(tag)
      p.resolve(m)
    }
  })
  socket.on('error', (e) => failAll(e))
  socket.on('close', () => failAll(new P9ProtocolError(`connection to ${host}:${port} closed`)))
  return {
    maxMessageSize,
    roundTrip(t) {
      if (failure) return Promise.reject(failure)
      const tag = t[5]! | (t[6]! << 8)
      if (pending.has(tag)) return Promise.reject(new P9ProtocolError(`tag ${tag} is already in flight`))
      return new Promise((resolve, reject) => {
        pending.set(tag, { resolve, reject })
        socket.write(t)
      })
    },
    async close() {
      failure ??= new P9ProtocolError('transport closed')
      await new Promise<void>((r) => socket.end(() => r()))
      socket.destroy()
    },
  }
}

/** Serves `fs` over TCP, one 9P connection per client. Resolves once listening. */
export async function listenTcp(fs: import('@honk/vfs').FS, port: number, host = '127.0.0.1', options: { maxMessageSize?: number } = {}): Promise<import('node:net').Server & { port: number }> {
  const { createServer } = await import('node:net')
  const { serve } = await import('./server.js')
  const max = options.maxMessageSize ?? 64 * 1024
  const server = createServer((socket) => {
    const conn = serve(fs, { maxMessageSize: max })
    const framer = new Framer(max)
    // Replies go out in request order per connection; requests are handled one at a time so
    // a client's dependent operations (walk, then open) never race each other.
    let chain: Promise<void> = Promise.resolve()
    socket.on('data', (chunk: Buffer) => {
      let messages: Uint8Array[]
      try {
        messages = framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      } catch {
        socket.destroy() // an unframeable stream cannot be resynchronised
        return
      }
      for (const m of messages) {
        chain = chain.then(async () => {
          const reply = await conn.handle(m)
          if (!socket.destroyed) socket.write(reply)
        })
      }
    })
    socket.on('close', () => void chain.then(() => conn.close()))
    socket.on('error', () => socket.destroy())
  })
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  return Object.assign(server, { port: (server.address() as { port: number }).port })
}
