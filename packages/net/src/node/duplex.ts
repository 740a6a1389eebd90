/**
 * A {@link TcpSocket} as a `net.Socket`-compatible `Duplex`, so Node's own `http.Server` serves
 * over our stack (`server.emit('connection', duplex)`) and `http.request({ createConnection })`
 * uses it. Backpressure both ways: `write()` waits for the TCP send buffer (`onDrain`), and a
 * full readable buffer pauses the socket, which closes the receive window.
 */
import { Duplex } from 'node:stream'
import { formatIpv4 } from '../addr.js'
import type { TcpSocket } from '../tcp/socket.js'

export class TcpDuplex extends Duplex {
  readonly socket: TcpSocket
  /** True until the connection is established (like `net.Socket#connecting`). */
  connecting: boolean
  readonly remoteFamily = 'IPv4'
  private waitConnect: (() => void)[] = []
  private waitDrain: (() => void) | undefined
  private idleMs = 0
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  private bytesOut = 0

  /** Wraps `socket`; pass an established socket (a listener's) or one just returned by `connect()`. */
  constructor(socket: TcpSocket, opts: { highWaterMark?: number } = {}) {
    super({ allowHalfOpen: true, highWaterMark: opts.highWaterMark ?? 64 * 1024 })
    this.socket = socket
    this.connecting = socket.state === 'SYN-SENT' || socket.state === 'SYN-RECEIVED'
    socket.onConnect = () => {
      this.connecting = false
      this.emit('connect')
      this.emit('ready')
      for (const f of this.waitConnect.splice(0)) f()
    }
    socket.onData = (chunk) => {
      this.touch()
      if (!this.push(chunk)) socket.pause()
    }
    socket.onEnd = () => this.push(null)
    socket.onDrain = () => {
      const w = this.waitDrain
      this.waitDrain = undefined
      w?.()
    }
    socket.onClose = (err) => {
      this.clearIdle()
      if (err) this.destroy(err)
      else if (!this.readableEnded && !this.destroyed) {
        // Closed without a FIN from the peer (abort): end what we have, then go.
        this.push(null)
        this.destroy()
      } else if (!this.destroyed) this.destroy()
      for (const f of this.waitConnect.splice(0)) f()
      const w = this.waitDrain
      this.waitDrain = undefined
      w?.()
    }
    if (!this.connecting) queueMicrotask(() => this.emit('ready'))
  }

  get remoteAddress(): string {
    return formatIpv4(this.socket.remoteAddr)
  }
  get remotePort(): number {
    return this.socket.remotePort
  }
  get localAddress(): string {
    return formatIpv4(this.socket.localAddr)
  }
  get localPort(): number {
    return this.socket.localPort
  }
  get bytesWritten(): number {
    return this.bytesOut
  }
  get bytesRead(): number {
    return this.socket.counters.bytesReceived
  }
  get readyState(): string {
    return this.connecting ? 'opening' : this.destroyed ? 'closed' : 'open'
  }
  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: 'IPv4', port: this.localPort }
  }

  setNoDelay(noDelay = true): this {
    this.socket.setNoDelay(noDelay)
    return this
  }
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.socket.setKeepAlive(enable, initialDelay > 0 ? initialDelay : undefined)
    return this
  }
  /** Emits 'timeout' after `ms` without activity (like net.Socket; the caller decides what to do). */
  setTimeout(ms: number, callback?: () => void): this {
    this.idleMs = ms
    if (callback) (ms > 0 ? this.once : this.off).call(this, 'timeout', callback)
    this.touch()
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
  destroySoon(): void {
    this.end()
  }

  private touch(): void {
    this.clearIdle()
    if (this.idleMs > 0 && !this.destroyed) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), this.idleMs)
      this.idleTimer.unref?.()
    }
  }
  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = undefined
  }

  override _read(): void {
    if (this.socket.isPaused) this.socket.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendChunk(chunk, cb)
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.sendChunk(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb)
  }

  private sendChunk(chunk: Buffer, cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.waitConnect.push(() => this.sendChunk(chunk, cb))
      return
    }
    if (this.socket.state === 'CLOSED') return cb(new Error(`write after the connection closed (${this.remoteAddress}:${this.remotePort})`))
    this.touch()
    let ok: boolean
    try {
      ok = this.socket.send(chunk)
    } catch (e) {
      return cb(e as Error)
    }
    this.bytesOut += chunk.length
    // Hold the callback until the TCP send buffer drains: that is the stream's backpressure.
    if (ok) cb()
    else this.waitDrain = () => cb()
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting) {
      this.waitConnect.push(() => this._final(cb))
      return
    }
    this.socket.close()
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearIdle()
    // An error or a destroy before both directions finished is an abort (RST), like net.Socket#destroy.
    if (this.socket.state !== 'CLOSED' && (err || !this.writableFinished || !this.readableEnded)) this.socket.abort()
    cb(err)
  }
}
