import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, request, type IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { parseIpv4 as ip, parseMac } from '../addr.js'
import { VirtualClock } from '../clock.js'
import { TestLink, type LinkConditions } from '../link.js'
import { Stack } from '../stack.js'
import { TcpDuplex } from './duplex.js'
import { driveClock } from './testing.js'

const MASK = ip('255.255.255.0')
const A = ip('10.0.0.1')
const B = ip('10.0.0.2')

function setup(conditions: LinkConditions, seed = 1) {
  const clock = new VirtualClock()
  const link = new TestLink({ clock, delayMs: 1, seed, reorderMs: 4, ...conditions })
  const tcp = { timings: { minRtoMs: 200, initialRtoMs: 300 } }
  const a = new Stack({ port: link.a, mac: parseMac('02:00:00:00:00:01'), clock, ipv4: { address: A, netmask: MASK }, tcp })
  const b = new Stack({ port: link.b, mac: parseMac('02:00:00:00:00:02'), clock, ipv4: { address: B, netmask: MASK }, tcp })
  const stop = driveClock(clock)
  // Node's own HTTP server, fed our sockets.
  const server = createServer((req, res) => {
    const h = createHash('sha256')
    let n = 0
    req.on('data', (c: Buffer) => {
      h.update(c)
      n += c.length
    })
    req.on('end', () => {
      const size = Number(req.headers['x-reply-size'] ?? 0)
      const body = pattern(size)
      res.writeHead(200, { 'content-length': size, 'x-upload-sha256': h.digest('hex'), 'x-upload-bytes': n })
      res.end(body)
    })
  })
  const listener = a.listen(80)
  listener.onConnection = (sock) => server.emit('connection', new TcpDuplex(sock))
  return { clock, link, a, b, server, listener, stop }
}

function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (i * 2654435761) >>> 24
  return b
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function fetchOver(b: Stack, upload: Buffer, replySize: number): Promise<{ res: IncomingMessage; body: Buffer }> {
  const req = request({
    method: 'POST',
    host: '10.0.0.1',
    path: '/',
    headers: { 'x-reply-size': replySize, 'content-length': upload.length },
    createConnection: () => new TcpDuplex(b.connect(A, 80)),
  })
  req.end(upload)
  const [res] = (await once(req, 'response')) as [IncomingMessage]
  const chunks: Buffer[] = []
  for await (const c of res) chunks.push(c as Buffer)
  return { res, body: Buffer.concat(chunks) }
}

describe('TcpDuplex: Node http over our stack', () => {
  it('http.Server on stack A serves http.request from stack B over a lossy, reordering, duplicating, corrupting link; bodies 0 B..3 MiB both ways, checksums equal', async () => {
    const env = setup({ loss: 0.02, reorder: 0.02, duplicate: 0.02, corrupt: 0.01 })
    try {
      for (const [up, down] of [
        [0, 0],
        [1, 1],
        [1460, 1461],
        [70_000, 65_536],
        [1 << 20, 3 << 20],
        [3 << 20, 17],
      ] as const) {
        const upload = pattern(up)
        const { res, body } = await fetchOver(env.b, upload, down)
        if (res.statusCode !== 200) console.log(res.headers, body.toString().slice(0, 300))
        expect(res.statusCode).toBe(200)
        expect(res.headers['x-upload-bytes']).toBe(String(up))
        expect(res.headers['x-upload-sha256']).toBe(sha(upload))
        expect(body.length).toBe(down)
        expect(sha(body)).toBe(sha(pattern(down)))
      }
      expect(env.link.counters.dropped + env.link.counters.corrupted).toBeGreaterThan(0)
      // Every connection closes (TIME-WAIT included) and no timer is left behind.
      for (let i = 0; i < 200 && (env.a.tcp.connections.length + env.b.tcp.connections.length > 0 || env.clock.pending > 0); i++) await new Promise((r) => setTimeout(r, 20))
      expect(env.a.tcp.connections).toHaveLength(0)
      expect(env.b.tcp.connections).toHaveLength(0)
    } finally {
      env.stop()
      env.listener.close()
    }
  }, 120_000)

  it('8 concurrent requests; a client that aborts mid-response resets the server side', async () => {
    const env = setup({})
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => fetchOver(env.b, pattern(i * 1000), 200_000 + i)))
      results.forEach(({ body }, i) => expect(sha(body)).toBe(sha(pattern(200_000 + i))))
      // A client that vanishes: destroy the duplex after the first chunk.
      const d = new TcpDuplex(env.b.connect(A, 80))
      await once(d, 'connect')
      d.write('POST / HTTP/1.1\r\nhost: x\r\nx-reply-size: 5000000\r\ncontent-length: 0\r\n\r\n')
      await once(d, 'data')
      d.destroy()
      for (let i = 0; i < 100 && env.a.tcp.connections.length > 0; i++) await new Promise((r) => setTimeout(r, 10))
      expect(env.a.tcp.connections).toHaveLength(0)
      expect(env.a.tcp.stats.connections).toBe(0)
    } finally {
      env.stop()
      env.listener.close()
    }
  }, 60_000)
})
