/**
 * Node adapters for the sockets a WebAssembly process is handed (sockets.ts): any Node
 * `Duplex` (a `node:net` socket, a `@honk/net` `TcpDuplex`) as a `WasiStreamSocket`, and a
 * `node:net` `Server` as a `WasiListener`.
 */
import type { Server, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { WasiListener, WasiStreamSocket } from './sockets.js'

/** Bytes buffered from a stream before it is paused (the module reads slower than the peer sends). */
const HIGH_WATER = 1 << 20

/**
 * A promise that settles at the next event, the same one for every waiter (so that waiting in
 * a loop or in many polls leaves nothing behind); `fire` settles it and starts the next.
 */
function changes(): { next(): Promise<void>; fire(): void } {
  let current: { p: Promise<void>; resolve: () => void } | undefined
  return {
    next() {
      if (current === undefined) {
        let resolve!: () => void
        const p = new Promise<void>((r) => (resolve = r))
        current = { p, resolve }
      }
      return current.p
    },
    fire() {
      const c = current
      current = undefined
      c?.resolve()
    },
  }
}

/** Waits for `p` at most `ms` milliseconds (the timer is cleared either way). */
async function within(p: Promise<void>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, ms)))])
  clearTimeout(t)
}

/** `d` as a socket of a WebAssembly process. */
export function duplexSocket(d: Duplex): WasiStreamSocket {
  const queue: Uint8Array[] = []
  let queued = 0
  let ended = false
  let failed: Error | undefined
  const events = changes()
  d.on('data', (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    queue.push(b)
    queued += b.length
    if (queued >= HIGH_WATER) d.pause()
    events.fire()
  })
  d.on('end', () => {
    ended = true
    events.fire()
  })
  d.on('close', () => {
    ended = true
    events.fire()
  })
  d.on('error', (e: Error) => {
    failed = e
    events.fire()
  })
  const ready = (): boolean => queue.length > 0 || ended || failed !== undefined
  return {
    async read(max) {
      while (!ready()) await events.next()
      if (queue.length === 0) {
        if (failed !== undefined) throw failed
        return new Uint8Array(0)
      }
      const head = queue[0]!
      const out = head.length <= max ? head : head.subarray(0, max)
      if (out === head) queue.shift()
      else queue[0] = head.subarray(max)
      queued -= out.length
      if (queued < HIGH_WATER / 2 && d.isPaused()) d.resume()
      return out
    },
    async readable(ms) {
      if (!ready() && ms > 0) await within(events.next(), ms)
      return ready()
    },
    write: (data) =>
      new Promise((resolve, reject) => {
        if (failed !== undefined) return reject(failed)
        // A copy: the caller's bytes may be reused once this resolves.
        d.write(Buffer.from(data), (e) => (e ? reject(e) : resolve()))
      }),
    async shutdown(how) {
      if (how !== 'read') d.end()
    },
    async close() {
      d.destroy()
    },
  }
}

/** A listening `node:net` server as a listener of a WebAssembly process (connections queue until accepted). */
export function serverListener(server: Server): WasiListener {
  const arrived: Socket[] = []
  let closed = false
  const events = changes()
  server.on('connection', (c: Socket) => {
    if (closed) return void c.destroy()
    arrived.push(c)
    events.fire()
  })
  server.on('close', () => {
    closed = true
    events.fire()
  })
  return {
    async accept() {
      while (arrived.length === 0 && !closed) await events.next()
      const c = arrived.shift()
      return c === undefined ? undefined : duplexSocket(c)
    },
    async close() {
      closed = true
      for (const c of arrived.splice(0)) c.destroy()
      events.fire()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
