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

export interface TcpServerOptions {
  /** Largest message accepted and sent (default 64 KiB). */
  maxMessageSize?: number
  /**
   * Requests read from one connection and not yet answered (default 64). At the limit the
   * server stops taking messages off the wire until one is answered.
   */
  maxOutstanding?: number
  /** Request bytes read from one connection and not yet answered (default 256 KiB); the socket is paused above it. */
  maxQueuedBytes?: number
  /**
   * Reply bytes waiting in one connection's socket (default 1 MiB). Above it the server
   * answers nothing more on that connection, and reads nothing more from it, until 'drain':
   * a client that never reads its replies costs at most this much (plus one reply).
   */
  maxBufferedBytes?: number
  /**
   * A frame begun but not completed within this time closes the connection (default 30 s),
   * so a client trickling bytes cannot hold a connection's buffer forever.
   */
  frameTimeoutMs?: number
  /** Most connections at once (net.Server maxConnections; default unlimited). */
  maxConnections?: number
}

/** What one connection holds now, and the most it ever held (for tests and monitoring). */
export interface P9ConnectionStats {
  /** Requests taken off the wire and not yet answered. */
  outstanding: number
  /** Request bytes received and not yet answered (queued messages and a partial frame). */
  queuedBytes: number
  /** Reply bytes written and not yet taken by the kernel. */
  bufferedReplyBytes: number
  /** True while the server is not reading this connection (backpressure). */
  paused: boolean
  peakOutstanding: number
  peakQueuedBytes: number
  peakBufferedReplyBytes: number
  /** Requests answered so far. */
  answered: number
}

export type P9TcpServer = import('node:net').Server & {
  port: number
  /** One entry per open connection. */
  connectionStats(): P9ConnectionStats[]
}

/**
 * Serves `fs` over TCP, one 9P connection per client. Resolves once listening.
 *
 * Per connection, requests are answered one at a time, in order (a client's dependent
 * operations, walk then open, never race), with backpressure: the server takes at most
 * `maxOutstanding` messages off the wire, pauses the socket when `maxQueuedBytes` of requests
 * or `maxBufferedBytes` of unsent replies are held, and resumes on 'drain' — so memory per
 * connection is bounded whatever the client sends or fails to read. Malformed framing (a size
 * below 7 or above msize) closes the connection, as the stream cannot be resynchronised.
 */
export async function listenTcp(fs: import('@honk/vfs').FS, port: number, host = '127.0.0.1', options: TcpServerOptions = {}): Promise<P9TcpServer> {
  const { createServer } = await import('node:net')
  const { serve } = await import('./server.js')
  const max = options.maxMessageSize ?? 64 * 1024
  const maxOutstanding = Math.max(1, options.maxOutstanding ?? 64)
  const maxQueuedBytes = Math.max(max, options.maxQueuedBytes ?? 256 * 1024)
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024
  const frameTimeoutMs = options.frameTimeoutMs ?? 30_000
  const live = new Set<P9ConnectionStats>()
  const server = createServer((socket) => {
    const conn = serve(fs, { maxMessageSize: max })
    const framer = new Framer(max)
    const queue: Uint8Array[] = []
    const stats: P9ConnectionStats = { outstanding: 0, queuedBytes: 0, bufferedReplyBytes: 0, paused: false, peakOutstanding: 0, peakQueuedBytes: 0, peakBufferedReplyBytes: 0, answered: 0 }
    live.add(stats)
    let queued = 0 // bytes of the messages in `queue`
    let running = false
    let frameTimer: ReturnType<typeof setTimeout> | undefined

    const account = () => {
      stats.outstanding = queue.length + (running ? 1 : 0)
      stats.queuedBytes = queued + framer.buffered
      stats.bufferedReplyBytes = socket.writableLength
      stats.peakOutstanding = Math.max(stats.peakOutstanding, stats.outstanding)
      stats.peakQueuedBytes = Math.max(stats.peakQueuedBytes, stats.queuedBytes)
      stats.peakBufferedReplyBytes = Math.max(stats.peakBufferedReplyBytes, stats.bufferedReplyBytes)
    }
    const fail = () => {
      queue.length = 0
      queued = 0
      socket.destroy()
    }
    /** Takes whole messages off the framer while fewer than maxOutstanding are held. */
    const take = () => {
      try {
        while (queue.length + (running ? 1 : 0) < maxOutstanding) {
          const m = framer.next()
          if (!m) break
          queue.push(m)
          queued += m.length
        }
      } catch {
        fail() // an unframeable stream cannot be resynchronised
      }
    }
    /** Pauses reading while any bound is reached; resumes when all are clear. */
    const flow = () => {
      account()
      if (socket.destroyed) return
      const full = queue.length + (running ? 1 : 0) >= maxOutstanding || queued + framer.buffered >= maxQueuedBytes || socket.writableLength >= maxBufferedBytes
      if (full && !stats.paused) socket.pause()
      else if (!full && stats.paused) socket.resume()
      stats.paused = full
      // A partial frame must complete in time — unless it is the server that stopped reading.
      const partial = framer.buffered > 0 && queue.length === 0 && !full
      if (partial && !frameTimer) frameTimer = setTimeout(fail, frameTimeoutMs)
      else if (!partial && frameTimer) (clearTimeout(frameTimer), (frameTimer = undefined))
    }
    const drained = () => new Promise<void>((resolve) => {
      const done = () => (socket.off('drain', done), socket.off('close', done), resolve())
      socket.on('drain', done)
      socket.on('close', done)
    })
    const pump = async () => {
      if (running) return
      running = true
      try {
        for (;;) {
          take()
          if (socket.destroyed || queue.length === 0) break
          if (socket.writableLength >= maxBufferedBytes) {
            flow()
            await drained()
            continue
          }
          const m = queue.shift()!
          queued -= m.length
          flow()
          const reply = await conn.handle(m)
          stats.answered++
          if (!socket.destroyed) socket.write(reply)
          flow()
        }
      } finally {
        running = false
        flow()
      }
    }
    socket.on('data', (chunk: Buffer) => {
      framer.feed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      take()
      flow()
      void pump()
    })
    socket.on('drain', () => {
      flow()
      void pump()
    })
    socket.on('close', () => {
      if (frameTimer) clearTimeout(frameTimer)
      live.delete(stats)
      const closeWhenIdle = async () => {
        while (running) await new Promise((r) => setTimeout(r, 1))
        await conn.close()
      }
      void closeWhenIdle()
    })
    socket.on('error', () => socket.destroy())
  })
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections
  await new Promise<void>((resolve) => server.listen(port, host, resolve))
  return Object.assign(server, {
    port: (server.address() as { port: number }).port,
    connectionStats: () => [...live].map((s) => ({ ...s })),
  })
}
