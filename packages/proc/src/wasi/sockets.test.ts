/**
 * sock_accept, sock_recv, sock_send, sock_shutdown, and fd_read/fd_write/fd_close/poll_oneoff
 * on sockets handed to a process, call by call through the real worker and bridge (driver mode),
 * on in-memory sockets (the real-transport proof is sockets.system.test.ts, with curl).
 */
import { MemoryFS } from '@honk/vfs'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeWasmWorkers } from '../node.js'
import { Errno, Fdflags, Filetype, Rights } from './abi.js'
import { startDriver, type Driver, type DriverOptions } from './driver.js'
import type { WasiListener, WasiStreamSocket } from './sockets.js'

const workers = nodeWasmWorkers()
const drivers: Driver[] = []
afterEach(() => {
  for (const d of drivers.splice(0)) d.close()
})
async function drive(options: DriverOptions): Promise<Driver> {
  const d = await startDriver(workers, options)
  drivers.push(d)
  return d
}
const enc = new TextEncoder()
const dec = new TextDecoder()
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)
const u32 = (b: Uint8Array, o = 0) => dv(b).getUint32(o, true)
const u64 = (b: Uint8Array, o = 0) => dv(b).getBigUint64(o, true)
const le32 = (...vs: number[]) => {
  const b = new Uint8Array(vs.length * 4)
  vs.forEach((x, i) => dv(b).setUint32(i * 4, x, true))
  return b
}
const OUT = 512
const OUT2 = 520
const IOV = 256
const BUF = 8192

/** One end of an in-memory stream: what the module sends lands in `sent`; `push`/`end` feed it. */
class MemorySocket implements WasiStreamSocket {
  readonly sent: Uint8Array[] = []
  private inbox: Uint8Array[] = []
  private ended = false
  wrEnded = false
  closed = false
  private waiters: (() => void)[] = []
  push(text: string): void {
    this.inbox.push(enc.encode(text))
    this.wake()
  }
  end(): void {
    this.ended = true
    this.wake()
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }
  private get ready(): boolean {
    return this.inbox.length > 0 || this.ended
  }
  async read(max: number): Promise<Uint8Array> {
    while (!this.ready) await new Promise<void>((r) => this.waiters.push(r))
    const head = this.inbox.shift()
    if (head === undefined) return new Uint8Array(0)
    if (head.length > max) this.inbox.unshift(head.subarray(max))
    return head.subarray(0, max)
  }
  async readable(ms: number): Promise<boolean> {
    if (!this.ready && ms > 0) await Promise.race([new Promise<void>((r) => this.waiters.push(r)), new Promise((r) => setTimeout(r, ms))])
    return this.ready
  }
  async write(data: Uint8Array): Promise<void> {
    this.sent.push(data.slice())
  }
  async shutdown(how: 'read' | 'write' | 'both'): Promise<void> {
    if (how !== 'read') this.wrEnded = true
  }
  async close(): Promise<void> {
    this.closed = true
  }
  text(): string {
    return this.sent.map((b) => dec.decode(b)).join('')
  }
}

class MemoryListener implements WasiListener {
  private queue: WasiStreamSocket[] = []
  private waiters: (() => void)[] = []
  closed = false
  connect(s: WasiStreamSocket): void {
    this.queue.push(s)
    for (const w of this.waiters.splice(0)) w()
  }
  async accept(): Promise<WasiStreamSocket | undefined> {
    while (this.queue.length === 0 && !this.closed) await new Promise<void>((r) => this.waiters.push(r))
    return this.queue.shift()
  }
  async close(): Promise<void> {
    this.closed = true
    for (const w of this.waiters.splice(0)) w()
  }
}

async function recv(d: Driver, fd: number, n: number, flags = 0): Promise<[number, string, number]> {
  const r = await d.call('sock_recv', [fd, IOV, 1, flags, OUT, OUT2], { writes: [[IOV, le32(BUF, n)], [OUT2, new Uint8Array([0xff, 0xff])]], reads: [[OUT, 4], [BUF, n], [OUT2, 2]] })
  return [r.errno!, dec.decode(r.reads[1]!.subarray(0, u32(r.reads[0]!))), r.reads[2]![0]! | (r.reads[2]![1]! << 8)]
}
async function send(d: Driver, fd: number, text: string): Promise<[number, number]> {
  const b = enc.encode(text)
  const r = await d.call('sock_send', [fd, IOV, 1, 0, OUT], { writes: [[BUF, b], [IOV, le32(BUF, b.length)]], reads: [[OUT, 4]] })
  return [r.errno!, u32(r.reads[0]!)]
}
async function accept(d: Driver, fd: number, flags = 0): Promise<[number, number]> {
  const r = await d.call('sock_accept', [fd, flags, OUT], { reads: [[OUT, 4]] })
  return [r.errno!, u32(r.reads[0]!)]
}

describe('sockets handed to a process', () => {
  it('sit after the preopens as stream sockets with socket rights; fd_fdstat and fd_filestat say SOCKET_STREAM', async () => {
    const d = await drive({ preopens: { '/': new MemoryFS() }, sockets: [new MemoryListener(), new MemorySocket()] })
    for (const [fd, right] of [[4, Rights.SOCK_ACCEPT], [5, Rights.SOCK_SHUTDOWN]] as const) {
      const r = await d.call('fd_fdstat_get', [fd, OUT], { reads: [[OUT, 24]] })
      expect(r.errno).toBe(0)
      expect(r.reads[0]![0]).toBe(Filetype.SOCKET_STREAM)
      expect(u64(r.reads[0]!, 8) & right).toBe(right)
      const st = await d.call('fd_filestat_get', [fd, OUT], { reads: [[OUT, 64]] })
      expect(st.reads[0]![16]).toBe(Filetype.SOCKET_STREAM)
    }
    // No prestat for a socket: wasi-libc's preopen scan stops before it.
    expect((await d.call('fd_prestat_get', [4, OUT])).errno).toBe(Errno.BADF)
    expect((await d.call('fd_fdstat_get', [6, OUT])).errno).toBe(Errno.BADF)
  })

  it('sock_send and sock_recv move bytes; MSG_PEEK leaves them; MSG_WAITALL waits for all; 0 at the end of the stream', async () => {
    const s = new MemorySocket()
    const d = await drive({ sockets: [s] })
    expect(await send(d, 3, 'hello')).toEqual([0, 5])
    expect(s.text()).toBe('hello')
    s.push('abcdef')
    expect(await recv(d, 3, 3, 1)).toEqual([0, 'abc', 0])
    expect(await recv(d, 3, 3)).toEqual([0, 'abc', 0])
    expect(await recv(d, 3, 10)).toEqual([0, 'def', 0])
    // WAITALL: the second half arrives while the call waits.
    setTimeout(() => s.push('67890'), 50)
    s.push('12345')
    expect(await recv(d, 3, 10, 2)).toEqual([0, '1234567890', 0])
    // fd_read and fd_write work on a socket too.
    s.push('via fd_read')
    const r = await d.call('fd_read', [3, IOV, 1, OUT], { writes: [[IOV, le32(BUF, 64)]], reads: [[OUT, 4], [BUF, 64]] })
    expect(dec.decode(r.reads[1]!.subarray(0, u32(r.reads[0]!)))).toBe('via fd_read')
    const w = enc.encode('!')
    expect((await d.call('fd_write', [3, IOV, 1, OUT], { writes: [[BUF, w], [IOV, le32(BUF, 1)]] })).errno).toBe(0)
    expect(s.text()).toBe('hello!')
    s.end()
    expect(await recv(d, 3, 10)).toEqual([0, '', 0])
    expect(await recv(d, 3, 10, 4)).toEqual([Errno.INVAL, '', 0xffff])
  })

  it('NONBLOCK: recv with nothing there is EAGAIN, then succeeds once bytes are there', async () => {
    const s = new MemorySocket()
    const d = await drive({ sockets: [s] })
    expect((await d.call('fd_fdstat_set_flags', [3, Fdflags.NONBLOCK])).errno).toBe(0)
    expect((await recv(d, 3, 10))[0]).toBe(Errno.AGAIN)
    s.push('x')
    expect(await recv(d, 3, 10)).toEqual([0, 'x', 0])
  })

  it('sock_shutdown: WR ends the sending side; RD makes reads answer end of stream; 0 or unknown bits are EINVAL', async () => {
    const s = new MemorySocket()
    const d = await drive({ sockets: [s] })
    expect((await d.call('sock_shutdown', [3, 0])).errno).toBe(Errno.INVAL)
    expect((await d.call('sock_shutdown', [3, 4])).errno).toBe(Errno.INVAL)
    expect((await d.call('sock_shutdown', [3, 2])).errno).toBe(0)
    expect(s.wrEnded).toBe(true)
    s.push('ignored')
    expect((await d.call('sock_shutdown', [3, 1])).errno).toBe(0)
    expect(await recv(d, 3, 10)).toEqual([0, '', 0])
  })

  it('sock_accept gives a new descriptor per connection (NONBLOCK: EAGAIN when none waits); fd_close closes it', async () => {
    const l = new MemoryListener()
    const d = await drive({ sockets: [l] })
    expect((await d.call('fd_fdstat_set_flags', [3, Fdflags.NONBLOCK])).errno).toBe(0)
    expect((await accept(d, 3))[0]).toBe(Errno.AGAIN)
    const c = new MemorySocket()
    l.connect(c)
    // The accept in flight from the EAGAIN call took it; the next call answers it.
    const [e, fd] = await accept(d, 3, Fdflags.NONBLOCK)
    expect(e).toBe(0)
    const st = await d.call('fd_fdstat_get', [fd, OUT], { reads: [[OUT, 24]] })
    expect([st.reads[0]![0], u32(st.reads[0]!, 2) & 0xffff]).toEqual([Filetype.SOCKET_STREAM, Fdflags.NONBLOCK])
    c.push('ping')
    expect(await recv(d, fd, 10)).toEqual([0, 'ping', 0])
    expect(await send(d, fd, 'pong')).toEqual([0, 4])
    expect(c.text()).toBe('pong')
    expect((await d.call('fd_close', [fd])).errno).toBe(0)
    expect(c.closed).toBe(true)
    expect((await accept(d, 3, 0x100))[0]).toBe(Errno.INVAL)
    expect((await d.call('fd_close', [3])).errno).toBe(0)
    expect(l.closed).toBe(true)
  })

  it('the wrong kind of descriptor: ENOTSOCK for files and stdio, EINVAL to accept on a stream, ENOTCONN to recv on a listener', async () => {
    const d = await drive({ preopens: { '/': new MemoryFS({ files: { f: 'x' } }) }, sockets: [new MemoryListener(), new MemorySocket()] })
    expect((await accept(d, 0))[0]).toBe(Errno.NOTSOCK)
    expect((await accept(d, 3))[0]).toBe(Errno.NOTSOCK)
    expect((await accept(d, 5))[0]).toBe(Errno.INVAL)
    expect((await recv(d, 1, 4))[0]).toBe(Errno.NOTSOCK)
    expect((await recv(d, 4, 4))[0]).toBe(Errno.NOTCONN)
    expect((await send(d, 4, 'x'))[0]).toBe(Errno.NOTCONN)
    expect((await d.call('sock_shutdown', [4, 3])).errno).toBe(Errno.NOTCONN)
    expect((await d.call('sock_shutdown', [99, 3])).errno).toBe(Errno.BADF)
    expect((await d.call('fd_seek', [5, 0n, 0, OUT])).errno).toBe(Errno.SPIPE)
  })

  it('hostile pointers and lengths in every socket call are EFAULT; the socket still works after', async () => {
    const s = new MemorySocket()
    const d = await drive({ sockets: [s] })
    expect((await d.call('sock_recv', [3, 0xfffffff0, 1, 0, OUT, OUT2])).errno).toBe(Errno.FAULT)
    expect((await d.call('sock_recv', [3, IOV, 0x10000000, 0, OUT, OUT2])).errno).toBe(Errno.FAULT)
    expect((await d.call('sock_recv', [3, IOV, 1, 0, 0xfffffffe, OUT2], { writes: [[IOV, le32(BUF, 4)]] })).errno).toBe(Errno.FAULT)
    expect((await d.call('sock_send', [3, IOV, 1, 0, OUT], { writes: [[IOV, le32(0xffff0000, 100)]] })).errno).toBe(Errno.FAULT)
    expect((await d.call('sock_send', [3, IOV, 1, 0, 0xffffffff], { writes: [[IOV, le32(BUF, 1)]] })).errno).toBe(Errno.FAULT)
    expect(s.sent).toEqual([])
    s.push('ok')
    expect(await recv(d, 3, 4)).toEqual([0, 'ok', 0])
  })

  it('poll_oneoff: FD_READ on a socket waits on the main side until bytes arrive or the clock fires', async () => {
    const s = new MemorySocket()
    const l = new MemoryListener()
    const d = await drive({ sockets: [s, l] })
    const sub = new Uint8Array(48 * 3)
    const v = dv(sub)
    // [0] clock, 100 ms relative; [1] FD_READ on the socket (fd 3); [2] FD_READ on the listener (fd 4).
    v.setBigUint64(0, 1n, true)
    v.setUint8(8, 0)
    v.setUint32(16, 1, true)
    v.setBigUint64(24, 100_000_000n, true)
    v.setBigUint64(48, 2n, true)
    v.setUint8(56, 1)
    v.setUint32(64, 3, true)
    v.setBigUint64(96, 3n, true)
    v.setUint8(104, 1)
    v.setUint32(112, 4, true)
    const poll = async (): Promise<bigint[]> => {
      const r = await d.call('poll_oneoff', [BUF, BUF + 1024, 3, OUT], { writes: [[BUF, sub]], reads: [[BUF + 1024, 96], [OUT, 4]] })
      expect(r.errno).toBe(0)
      return Array.from({ length: u32(r.reads[1]!) }, (_, i) => u64(r.reads[0]!, i * 32))
    }
    const t0 = performance.now()
    expect(await poll()).toEqual([1n])
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90)
    setTimeout(() => s.push('data'), 20)
    expect(await poll()).toEqual([2n])
    expect(await recv(d, 3, 10)).toEqual([0, 'data', 0])
    setTimeout(() => l.connect(new MemorySocket()), 20)
    expect(await poll()).toEqual([3n])
    expect((await accept(d, 4))[0]).toBe(0)
  })
})
