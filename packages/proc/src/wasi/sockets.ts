/**
 * Sockets a host hands to a WebAssembly process (WASI preview1 has no socket creation: a module
 * accepts on listeners it was given and talks on the connections; `sock_accept`, `sock_recv`,
 * `sock_send`, `sock_shutdown`, and `fd_read`/`fd_write`/`poll_oneoff` on them). The main-thread
 * side: `WasiSocketServer` serves the worker's socket requests on the objects below, which any
 * transport implements (`@honk/proc/node` adapts Node streams and servers, so a `node:net`
 * socket or a `@honk/net` `TcpDuplex` works).
 */
import { Errno } from './abi.js'
import type { Answer } from './server.js'

/** A connected byte stream. */
export interface WasiStreamSocket {
  /** Up to `max` bytes (at least 1); an empty array at the end of the stream. Waits until some are there. */
  read(max: number): Promise<Uint8Array>
  /** True as soon as `read` would not wait (bytes, end of stream or an error); false after `timeoutMs` (0: at once). */
  readable(timeoutMs: number): Promise<boolean>
  /** Queues `data` for sending; resolves once the transport took it (back-pressure). */
  write(data: Uint8Array): Promise<void>
  /** Ends the sending side ('write', 'both') and/or stops reading ('read', 'both'). */
  shutdown(how: 'read' | 'write' | 'both'): Promise<void>
  close(): Promise<void>
}

/** A listening socket: the connections that arrive on it. */
export interface WasiListener {
  /** The next connection; undefined once the listener is closed. */
  accept(): Promise<WasiStreamSocket | undefined>
  close(): Promise<void>
}

export type WasiSocket = WasiStreamSocket | WasiListener

export function isListener(s: WasiSocket): s is WasiListener {
  return 'accept' in s
}

/** The socket requests of the bridge (protocol.ts `Request`). */
export type SocketRequest =
  | { op: 'sockaccept'; sock: number; wait: boolean }
  | { op: 'sockrecv'; sock: number; max: number; peek: boolean; waitAll: boolean; wait: boolean }
  | { op: 'socksend'; sock: number; data: Uint8Array }
  | { op: 'sockshutdown'; sock: number; how: number }
  | { op: 'sockclose'; sock: number }
  /** Which of `read` (readable or a connection waiting) are ready, waiting at most `timeoutMs` (-1: forever) for one. */
  | { op: 'sockpoll'; read: number[]; timeoutMs: number }

interface StreamEntry {
  kind: 'stream'
  s: WasiStreamSocket
  /** Bytes read from the transport and not yet taken (MSG_PEEK leaves them here). */
  stash: Uint8Array
  /** shutdown(RD): reads answer end of stream. */
  readShut: boolean
}
interface ListenerEntry {
  kind: 'listener'
  l: WasiListener
  /** Connections that arrived (taken by a poll, or while nobody accepted). */
  arrived: WasiStreamSocket[]
  /** The accept in flight (one at a time), so that no connection is taken twice or lost. */
  next: Promise<void> | undefined
  closed: boolean
}
type Entry = StreamEntry | ListenerEntry

/** Most bytes one recv answers (the bridge splits longer answers anyway). */
const MAX_RECV = 1 << 20
const enough = (ms: number) => new Promise<false>((r) => setTimeout(() => r(false), ms))

/** Serves one process's socket requests; ids are the worker's, starting with the handed-in sockets. */
export class WasiSocketServer {
  private readonly entries = new Map<number, Entry>()
  private nextId: number

  constructor(initial: readonly WasiSocket[]) {
    initial.forEach((s, i) => this.entries.set(i, this.entry(s)))
    this.nextId = initial.length
  }

  private entry(s: WasiSocket): Entry {
    return isListener(s) ? { kind: 'listener', l: s, arrived: [], next: undefined, closed: false } : { kind: 'stream', s, stash: new Uint8Array(0), readShut: false }
  }

  private get(id: number): Entry | undefined {
    return this.entries.get(id)
  }

  /** Starts taking the listener's next connection into `arrived` (one accept in flight). */
  private pull(e: ListenerEntry): Promise<void> {
    e.next ??= e.l.accept().then(
      (c) => {
        e.next = undefined
        if (c === undefined) e.closed = true
        else e.arrived.push(c)
      },
      () => {
        e.next = undefined
        e.closed = true
      },
    )
    return e.next
  }

  /** Whether a read (or an accept) would not wait, waiting at most `ms` (-1: forever). */
  private async ready(e: Entry, ms: number): Promise<boolean> {
    if (e.kind === 'listener') {
      if (e.arrived.length > 0 || e.closed) return true
      const p = this.pull(e)
      if (ms === 0) return false
      await (ms < 0 ? p : Promise.race([p, enough(ms)]))
      return e.arrived.length > 0 || e.closed
    }
    if (e.stash.length > 0 || e.readShut) return true
    return e.s.readable(ms < 0 ? 2 ** 31 - 1 : ms)
  }

  async serve(req: SocketRequest): Promise<Answer> {
    try {
      return await this.dispatch(req)
    } catch {
      // A transport that fails: the connection is gone.
      return { errno: Errno.CONNRESET }
    }
  }

  private async dispatch(req: SocketRequest): Promise<Answer> {
    if (req.op === 'sockpoll') {
      const entries = req.read.map((id) => this.get(id)).filter((e): e is Entry => e !== undefined)
      const now = async () => (await Promise.all(req.read.map(async (id) => [id, this.get(id) !== undefined && (await this.ready(this.get(id)!, 0))] as const))).filter(([, r]) => r).map(([id]) => id)
      let ready = await now()
      if (ready.length === 0 && req.timeoutMs !== 0 && entries.length > 0) {
        await Promise.race([...entries.map((e) => this.ready(e, req.timeoutMs)), ...(req.timeoutMs > 0 ? [enough(req.timeoutMs)] : [])])
        ready = await now()
      } else if (ready.length === 0 && req.timeoutMs > 0) await enough(req.timeoutMs)
      return { json: ready }
    }
    const e = this.get(req.sock)
    if (e === undefined) return { errno: Errno.BADF }
    switch (req.op) {
      case 'sockaccept': {
        if (e.kind !== 'listener') return { errno: Errno.INVAL }
        if (e.arrived.length === 0 && !e.closed) {
          if (!req.wait) {
            void this.pull(e)
            return { errno: Errno.AGAIN }
          }
          while (e.arrived.length === 0 && !e.closed) await this.pull(e)
        }
        const c = e.arrived.shift()
        if (c === undefined) return { errno: Errno.INVAL }
        const id = this.nextId++
        this.entries.set(id, this.entry(c))
        return { json: id }
      }
      case 'sockrecv': {
        if (e.kind !== 'stream') return { errno: Errno.NOTCONN }
        const max = Math.max(0, Math.min(req.max, MAX_RECV))
        if (e.readShut || max === 0) return { bytes: new Uint8Array(0) }
        if (!req.wait && !(await this.ready(e, 0))) return { errno: Errno.AGAIN }
        // MSG_WAITALL: until `max` bytes or the end of the stream.
        const want = req.waitAll ? max : 1
        while (e.stash.length < want) {
          const more = await e.s.read(max - e.stash.length)
          if (more.length === 0) break
          e.stash = concat(e.stash, more)
          if (!req.waitAll) break
        }
        const out = e.stash.slice(0, max)
        if (!req.peek) e.stash = e.stash.subarray(out.length)
        return { bytes: out }
      }
      case 'socksend': {
        if (e.kind !== 'stream') return { errno: Errno.NOTCONN }
        await e.s.write(req.data)
        return { json: req.data.length }
      }
      case 'sockshutdown': {
        if (e.kind !== 'stream') return { errno: Errno.NOTCONN }
        const rd = (req.how & 1) !== 0
        const wr = (req.how & 2) !== 0
        if (rd) {
          e.readShut = true
          e.stash = new Uint8Array(0)
        }
        await e.s.shutdown(rd && wr ? 'both' : rd ? 'read' : 'write')
        return { errno: 0 }
      }
      case 'sockclose': {
        this.entries.delete(req.sock)
        if (e.kind === 'stream') await e.s.close()
        else {
          await e.l.close()
          // Connections that arrived and were never accepted are refused now.
          for (const c of e.arrived.splice(0)) await c.close().catch(() => undefined)
        }
        return { errno: 0 }
      }
    }
  }

  /** Closes every socket (when the module ends); never throws. */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()]
    this.entries.clear()
    await Promise.all(
      all.map(async (e) => {
        if (e.kind === 'stream') await e.s.close().catch(() => undefined)
        else {
          await e.l.close().catch(() => undefined)
          for (const c of e.arrived.splice(0)) await c.close().catch(() => undefined)
        }
      }),
    )
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
