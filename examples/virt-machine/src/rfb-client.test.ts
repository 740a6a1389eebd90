/**
 * The benchmark's RFB client against a scripted server (RFC 6143): the 3.8 handshake with
 * security None, the SetPixelFormat / SetEncodings / FramebufferUpdateRequest it sends, Raw and
 * CopyRect rectangles applied to its framebuffer, DesktopSize, and key and pointer events on
 * the wire. A property: any split of the server's bytes into TCP chunks gives the same pixels.
 */
import { createServer, type Server, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { RfbClient, RfbError } from './rfb-client.js'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
})

/** A server that runs `script` with each connection; returns its port. */
async function serve(script: (s: Socket, read: (n: number) => Promise<Buffer>) => Promise<void>): Promise<number> {
  const server = createServer((sock) => {
    let buf = Buffer.alloc(0)
    let wake: (() => void) | undefined
    sock.on('data', (d: Buffer) => ((buf = Buffer.concat([buf, d])), wake?.()))
    sock.on('error', () => undefined)
    const read = async (n: number) => {
      while (buf.length < n) await new Promise<void>((r) => (wake = r))
      const out = buf.subarray(0, n)
      buf = buf.subarray(n)
      return out
    }
    void script(sock, read).catch(() => sock.destroy())
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return (server.address() as { port: number }).port
}

/** The server side of the handshake for a w×h screen named `name`. */
async function handshake(s: Socket, read: (n: number) => Promise<Buffer>, w: number, h: number, name = 'fake'): Promise<void> {
  s.write('RFB 003.008\n')
  expect((await read(12)).toString()).toBe('RFB 003.008\n')
  s.write(Uint8Array.of(2, 2, 1)) // VNC auth and None offered
  expect((await read(1))[0]).toBe(1)
  s.write(Uint8Array.of(0, 0, 0, 0))
  expect((await read(1))[0]).toBe(1) // shared
  const init = Buffer.alloc(24)
  init.writeUInt16BE(w, 0)
  init.writeUInt16BE(h, 2)
  init.writeUInt32BE(Buffer.byteLength(name), 20)
  s.write(Buffer.concat([init, Buffer.from(name)]))
}

function rectHeader(x: number, y: number, w: number, h: number, encoding: number): Buffer {
  const b = Buffer.alloc(12)
  b.writeUInt16BE(x, 0)
  b.writeUInt16BE(y, 2)
  b.writeUInt16BE(w, 4)
  b.writeUInt16BE(h, 6)
  b.writeInt32BE(encoding, 8)
  return b
}

const updateHeader = (rects: number) => Buffer.from([0, 0, rects >> 8, rects & 255])

describe('RfbClient', () => {
  it('handshakes, asks for RGBA raw + CopyRect, applies Raw and CopyRect, sends keys and pointer', async () => {
    const seen: Buffer[] = []
    let done!: () => void
    const finished = new Promise<void>((r) => (done = r))
    const port = await serve(async (s, read) => {
      await handshake(s, read, 4, 3, 'QEMU')
      // SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, maxima 255, shifts 0/8/16.
      const pf = await read(20)
      expect([...pf.subarray(4, 17)]).toEqual([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16])
      const se = await read(4)
      expect(se[0]).toBe(2)
      const encodings = await read(4 * se.readUInt16BE(2))
      expect([0, 4, 8].map((o) => encodings.readInt32BE(o))).toEqual([1, 0, -223])
      // The first request is for the whole screen, not incremental.
      expect([...(await read(10))]).toEqual([3, 0, 0, 0, 0, 0, 0, 4, 0, 3])
      // One update: a 2×1 raw rectangle at (1, 0), then a CopyRect of it to (1, 2).
      const raw = Buffer.from([1, 2, 3, 0, 4, 5, 6, 0])
      const src = Buffer.from([0, 1, 0, 0])
      s.write(Buffer.concat([updateHeader(2), rectHeader(1, 0, 2, 1, 0), raw, rectHeader(1, 2, 2, 1, 1), src]))
      // The next request is incremental.
      expect([...(await read(10))]).toEqual([3, 1, 0, 0, 0, 0, 0, 4, 0, 3])
      seen.push(await read(8), await read(6))
      s.end()
      done()
    })
    const c = await RfbClient.connect(port)
    expect([c.width, c.height, c.name]).toEqual([4, 3, 'QEMU'])
    const first = new Promise<void>((r) => (c.onUpdate = () => r()))
    await first
    expect(c.updates).toEqual([{ at: expect.any(Number), rects: 2, bytes: 4 + 12 + 8 + 12 + 4 }])
    const px = (x: number, y: number) => [...c.rgba.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 3)]
    expect([px(0, 0), px(1, 0), px(2, 0), px(1, 2), px(2, 2), px(3, 2)]).toEqual([[0, 0, 0], [1, 2, 3], [4, 5, 6], [1, 2, 3], [4, 5, 6], [0, 0, 0]])
    c.key(0xff0d, true)
    c.pointer(3, 2, 1)
    await finished
    expect([...seen[0]!]).toEqual([4, 1, 0, 0, 0, 0, 0xff, 0x0d])
    expect([...seen[1]!]).toEqual([5, 1, 0, 3, 0, 2])
    await c.done // the server closing is the normal end
  })

  it('DesktopSize resizes the framebuffer and asks for the whole new screen', async () => {
    const port = await serve(async (s, read) => {
      await handshake(s, read, 2, 2)
      await read(20 + 4 + 12 + 10)
      s.write(Buffer.concat([updateHeader(1), rectHeader(0, 0, 3, 1, -223)]))
      expect([...(await read(10))]).toEqual([3, 0, 0, 0, 0, 0, 0, 3, 0, 1])
      s.end()
    })
    const c = await RfbClient.connect(port)
    await c.done
    expect([c.width, c.height, c.rgba.length]).toEqual([3, 1, 12])
  })

  it('refuses a server without security None, and a rectangle outside the screen', async () => {
    const noNone = await serve(async (s, read) => {
      s.write('RFB 003.008\n')
      await read(12)
      s.write(Uint8Array.of(1, 2))
    })
    await expect(RfbClient.connect(noNone)).rejects.toThrow(/security type None not offered \(offered 2\)/)
    const outside = await serve(async (s, read) => {
      await handshake(s, read, 2, 2)
      await read(46)
      s.write(Buffer.concat([updateHeader(1), rectHeader(1, 1, 2, 2, 0), Buffer.alloc(16)]))
    })
    const c = await RfbClient.connect(outside)
    await expect(c.done).rejects.toThrow(RfbError)
    await expect(c.done).rejects.toThrow(/rectangle 2x2\+1\+1 outside the 2x2 screen/)
  })

  it('property: however the server\'s bytes are split into writes, the pixels are the same', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }), fc.uint8Array({ minLength: 3 * 2 * 4, maxLength: 3 * 2 * 4 }), async (cuts, pixels) => {
        const stream = Buffer.concat([updateHeader(1), rectHeader(0, 0, 3, 2, 0), Buffer.from(pixels)])
        const port = await serve(async (s, read) => {
          await handshake(s, read, 3, 2)
          await read(46)
          let o = 0
          for (let i = 0; o < stream.length; i++) {
            const n = cuts[i % cuts.length]!
            s.write(stream.subarray(o, o + n))
            o += n
            await new Promise((r) => setImmediate(r))
          }
          s.end()
        })
        const c = await RfbClient.connect(port)
        await c.done
        expect(Buffer.from(c.rgba).equals(Buffer.from(pixels))).toBe(true)
        expect(c.updates).toHaveLength(1)
      }),
      { numRuns: 30 },
    )
  })
})
