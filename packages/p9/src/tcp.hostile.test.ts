import { MemoryFS, readFile } from '@honk/vfs'
import fc from 'fast-check'
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { Framer, decode, encode } from './codec.js'
import { ERRNO } from './errors.js'
import { mount } from './mount.js'
import { connectTcp, listenTcp, type P9TcpServer } from './node.js'
import { NOFID, NOTAG, type Message } from './schema.js'

const MSIZE = 65536
const big = new Uint8Array(MSIZE).map((_, i) => (i * 7) & 0xff)
const files = { 'big.bin': big, 'hello.txt': 'still served' }

let server: P9TcpServer | undefined
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = undefined
})

async function rawClient(port: number): Promise<{ socket: Socket; replies: Message[]; closed: Promise<void> }> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s))
    s.once('error', reject)
  })
  socket.on('error', () => {})
  sockets.push(socket)
  const replies: Message[] = []
  const framer = new Framer()
  socket.on('data', (c: Buffer) => {
    for (const m of framer.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength))) replies.push(decode(m))
  })
  const closed = new Promise<void>((r) => socket.once('close', () => r()))
  return { socket, replies, closed }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}
const setup = (fid = 1): Uint8Array[] => [
  encode({ kind: 'Tversion', tag: NOTAG, msize: MSIZE, version: '9P2000.L' }),
  encode({ kind: 'Tattach', tag: 0, fid: 0, afid: NOFID, uname: 'x', aname: '', nUname: 0 }),
  encode({ kind: 'Twalk', tag: 0, fid: 0, newfid: fid, wnames: ['big.bin'] }),
  encode({ kind: 'Tlopen', tag: 0, fid, flags: 0 }),
]
const arrayBuffers = () => process.memoryUsage().arrayBuffers

describe('9P TCP server under hostile clients (issue #12 case 7)', () => {
  it('a client flooding 4 000 Treads of 64 KiB that never reads: memory and buffers stay bounded, a second client is served', async () => {
    server = await listenTcp(new MemoryFS({ files }), 0, '127.0.0.1', { maxMessageSize: MSIZE })
    const before = arrayBuffers()
    // The flooder never reads: no 'data' listener, so its socket stays paused and the kernel's
    // windows fill. 4 000 replies of 64 KiB would be 262 MB if the server kept answering.
    const flooder = await new Promise<Socket>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: server!.port }, () => resolve(s))
    })
    flooder.on('error', () => {})
    sockets.push(flooder)
    const msgs = setup()
    for (let i = 0; i < 4000; i++) msgs.push(encode({ kind: 'Tread', tag: i & 0x7fff, fid: 1, offset: 0n, count: MSIZE - 11 }))
    for (const m of msgs) flooder.write(m)

    // Wait until the server has stopped moving (it is stuck on the flooder's full socket).
    let last = -1
    let peak = 0
    for (let stable = 0, t = 0; stable < 5 && t < 100; t++) {
      await sleep(100)
      const now = arrayBuffers()
      peak = Math.max(peak, now - before)
      stable = Math.abs(now - last) < 1 << 20 ? stable + 1 : 0
      last = now
    }
    // Kernel socket buffers hold a few MB on loopback; the process must not hold the rest.
    expect(peak).toBeLessThan(40 << 20)

    // A well-behaved client is served meanwhile.
    const good = await mount(await connectTcp('127.0.0.1', server.port, { maxMessageSize: MSIZE }))
    expect(new TextDecoder().decode(await readFile(good, 'hello.txt'))).toBe('still served')
    expect(await readFile(good, 'big.bin')).toEqual(big)

    // The server's own accounting of the flooder: bounded outstanding requests and bytes.
    const stats = server.connectionStats()
    const flood = stats.reduce((a, b) => (b.peakOutstanding > a.peakOutstanding ? b : a))
    expect(flood.paused).toBe(true)
    expect(flood.peakOutstanding).toBeLessThanOrEqual(64)
    expect(flood.peakQueuedBytes).toBeLessThanOrEqual((256 << 10) + (64 << 10) + MSIZE)
    expect(flood.peakBufferedReplyBytes).toBeLessThanOrEqual((1 << 20) + MSIZE)
    await good.close()
    flooder.destroy()
    await until('the flooder connection to go', () => server!.connectionStats().length === 0)
  })

  it('slowloris: a huge size[4] header sent a byte at a time is refused at its 4th byte; others are served meanwhile', async () => {
    server = await listenTcp(new MemoryFS({ files }), 0, '127.0.0.1', { maxMessageSize: MSIZE })
    const slow = await rawClient(server.port)
    const good = await mount(await connectTcp('127.0.0.1', server.port, { maxMessageSize: MSIZE }))
    for (const b of [0xff, 0xff, 0xff]) {
      slow.socket.write(new Uint8Array([b]))
      await sleep(30)
      expect(new TextDecoder().decode(await readFile(good, 'hello.txt'))).toBe('still served')
    }
    expect(slow.socket.destroyed).toBe(false)
    slow.socket.write(new Uint8Array([0x7f])) // size 0x7fffffff: far above msize
    await slow.closed
    expect(slow.replies).toEqual([])
    await good.close()
  })

  it('slowloris: a plausible frame trickled a byte at a time is dropped after frameTimeoutMs, holding at most msize meanwhile', async () => {
    server = await listenTcp(new MemoryFS({ files }), 0, '127.0.0.1', { maxMessageSize: MSIZE, frameTimeoutMs: 300 })
    const slow = await rawClient(server.port)
    const header = new Uint8Array([0x00, 0x00, 0x01, 0x00]) // 65536 bytes announced
    const started = Date.now()
    let sent = 0
    while (!slow.socket.destroyed && Date.now() - started < 3000) {
      slow.socket.write(header.subarray(sent % 4, (sent % 4) + 1))
      sent++
      await sleep(20)
      const s = server.connectionStats()[0]
      if (s) expect(s.queuedBytes).toBeLessThanOrEqual(MSIZE)
    }
    await slow.closed
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('bad sizes close the connection; an unknown type is EPROTO; a reused tag gets a reply each time; the connection stays usable', async () => {
    server = await listenTcp(new MemoryFS({ files }), 0, '127.0.0.1', { maxMessageSize: MSIZE })
    for (const size of [0, 3, 6, MSIZE + 1, 0xffffffff]) {
      const c = await rawClient(server.port)
      const head = new Uint8Array(7)
      new DataView(head.buffer).setUint32(0, size, true)
      c.socket.write(head)
      await c.closed
    }
    const c = await rawClient(server.port)
    for (const m of setup()) c.socket.write(m)
    c.socket.write(new Uint8Array([7, 0, 0, 0, 0xee, 5, 0])) // type 238 does not exist
    c.socket.write(new Uint8Array([9, 0, 0, 0, 116, 6, 0, 1, 2])) // a truncated Tread
    // The same tag twice while the first may still be in flight: answered in order, both.
    c.socket.write(encode({ kind: 'Tread', tag: 9, fid: 1, offset: 0n, count: 10 }))
    c.socket.write(encode({ kind: 'Tread', tag: 9, fid: 1, offset: 10n, count: 10 }))
    await until('8 replies', () => c.replies.length === 8)
    expect(c.replies.slice(0, 4).map((r) => r.kind)).toEqual(['Rversion', 'Rattach', 'Rwalk', 'Rlopen'])
    expect(c.replies[4]).toEqual({ kind: 'Rlerror', tag: 5, ecode: ERRNO.EPROTO })
    expect(c.replies[5]).toEqual({ kind: 'Rlerror', tag: 6, ecode: ERRNO.EPROTO })
    expect(c.replies.slice(6)).toEqual([
      { kind: 'Rread', tag: 9, data: big.subarray(0, 10) },
      { kind: 'Rread', tag: 9, data: big.subarray(10, 20) },
    ])
    c.socket.destroy()
  })

  it('random bytes after a valid handshake: every connection gets replies or is closed, the server never crashes (fast-check)', async () => {
    server = await listenTcp(new MemoryFS({ files }), 0, '127.0.0.1', { maxMessageSize: 8192, frameTimeoutMs: 200 })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.tuple(fc.integer({ min: 7, max: 200 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 })).map(([size, type, body]) => {
        const m = new Uint8Array(7 + body.length)
        new DataView(m.buffer).setUint32(0, size, true)
        m[4] = type
        m.set(body, 7)
        return m
      })), { maxLength: 12 }), async (chunks) => {
        const c = await rawClient(server!.port)
        for (const m of setup()) c.socket.write(m)
        for (const ch of chunks) c.socket.write(ch)
        // Either the server closed it (bad framing, or a partial frame past the timeout), or it
        // answered every whole frame and holds nothing of it.
        const closed = await Promise.race([c.closed.then(() => true), sleep(600).then(() => false)])
        if (!closed) {
          expect(c.replies.length).toBeGreaterThanOrEqual(4)
          const s = server!.connectionStats()
          expect(s).toHaveLength(1)
          expect(s[0]).toMatchObject({ outstanding: 0, queuedBytes: 0 })
        }
        c.socket.destroy()
        await until('the connection to go', () => server!.connectionStats().length === 0)
        const fresh = await mount(await connectTcp('127.0.0.1', server!.port, { maxMessageSize: 8192 }))
        expect(new TextDecoder().decode(await readFile(fresh, 'hello.txt'))).toBe('still served')
        await fresh.close()
      }),
      { numRuns: 25 },
    )
  })
})
