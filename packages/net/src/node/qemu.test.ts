import { createSocket } from 'node:dgram'
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { dgramFramePort, streamFramePort } from './qemu.js'

describe('QEMU stream netdev framing (4-byte big-endian length per frame)', () => {
  it('frames survive arbitrary TCP segmentation, both ways, in order', async () => {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const client = connect(port, '127.0.0.1')
    await once(client, 'connect')
    const [srv] = await accepted
    const a = streamFramePort(client)
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 0, maxLength: 1600 }), { minLength: 1, maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), async (frames, cuts) => {
          // The far side is QEMU: write its byte stream in odd-sized pieces.
          const wire = Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >>> 24, (f.length >>> 16) & 255, (f.length >>> 8) & 255, f.length & 255]), Buffer.from(f)]))
          const got: Uint8Array[] = []
          const done = new Promise<void>((resolve) => a.onFrame((f) => got.push(f) === frames.length && resolve()))
          for (let at = 0, i = 0; at < wire.length; i++) {
            const n = cuts[i % cuts.length]!
            srv.write(wire.subarray(at, at + n))
            at += n
          }
          await done
          expect(got).toEqual(frames)
        }),
        { numRuns: 30 },
      )
      // And our side writes the same framing.
      const echo: Buffer[] = []
      srv.on('data', (c: Buffer) => echo.push(c))
      a.send(new Uint8Array([1, 2, 3]))
      await new Promise((r) => setTimeout(r, 50))
      expect(Buffer.concat(echo)).toEqual(Buffer.from([0, 0, 0, 3, 1, 2, 3]))
    } finally {
      a.close()
      srv.destroy()
      server.close()
    }
  })
  it('an absurd length ends the connection instead of buffering', async () => {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const client = connect((server.address() as { port: number }).port, '127.0.0.1')
    const [srv] = await accepted
    const a = streamFramePort(client, { maxFrame: 2000 })
    const closed = new Promise((r) => client.on('close', r))
    srv.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0]))
    await closed
    expect(a.counters.dropped).toBe(1)
    srv.destroy()
    server.close()
  })
})

describe('QEMU dgram netdev (one frame per datagram)', () => {
  it('carries frames both ways; learns the peer from the first datagram', async () => {
    const s1 = createSocket('udp4')
    const s2 = createSocket('udp4')
    s1.bind(0, '127.0.0.1')
    s2.bind(0, '127.0.0.1')
    await Promise.all([once(s1, 'listening'), once(s2, 'listening')])
    const a = dgramFramePort(s1, { address: '127.0.0.1', port: s2.address().port })
    const b = dgramFramePort(s2)
    const atB = new Promise<Uint8Array>((r) => b.onFrame(r))
    a.send(new Uint8Array([9, 8, 7]))
    expect(await atB).toEqual(new Uint8Array([9, 8, 7]))
    const atA = new Promise<Uint8Array>((r) => a.onFrame(r))
    b.send(new Uint8Array([1]))
    expect(await atA).toEqual(new Uint8Array([1]))
    a.close()
    b.close()
  })
})
