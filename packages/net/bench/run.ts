/**
 * `pnpm --filter @honk/net bench [--quick]`: our stack (two Stacks joined by an in-process
 * loopback link, every frame really encoded, checksummed and decoded) against Node's own TCP
 * on 127.0.0.1 (the kernel's loopback), in the same process and run:
 *
 *   bulk         one connection, N MiB in 64 KiB writes with backpressure (stream to stream)
 *   http-keep    Node's http.Server, GET / (13-byte body), 16 keep-alive connections, T seconds
 *   http-conn    the same with a new connection per request (handshake + teardown each time)
 *
 * Each row runs ours and Node's alternately, best of R rounds.
 */
import { once } from 'node:events'
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http'
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { higherIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { parseIpv4, parseMac, realClock, Stack, TestLink } from '../src/index.ts'
import { TcpDuplex } from '../src/node.ts'

const quick = process.argv.includes('--quick')
const BULK_MIB = quick ? 16 : 64
const HTTP_SECONDS = quick ? 1 : 3
const CONCURRENCY = 16
const ROUNDS = quick ? 1 : 2
const A = parseIpv4('10.0.0.1')
const B = parseIpv4('10.0.0.2')

/** Two stacks on a loopback link; frames are handed over on the next event-loop turn, in batches. */
function ourNet() {
  const link = new TestLink({ clock: realClock, defer: (f) => setImmediate(f), maxFrame: 1514 })
  const tcp = { limits: { sendBuffer: 1 << 20, recvBuffer: 1 << 20 } }
  const a = new Stack({ port: link.a, mac: parseMac('02:00:00:00:00:01'), ipv4: { address: A, netmask: 0xffffff00 }, tcp })
  const b = new Stack({ port: link.b, mac: parseMac('02:00:00:00:00:02'), ipv4: { address: B, netmask: 0xffffff00 }, tcp })
  return { a, b, close: () => (a.close(), b.close()) }
}

interface Transport {
  name: string
  /** Starts a server handing each accepted connection (as a Duplex) to `onConn`; returns a connect function. */
  serve(onConn: (d: Duplex) => void): Promise<{ connect: () => Duplex; close: () => Promise<void> }>
}

const ours: Transport = {
  name: 'honk',
  async serve(onConn) {
    const net = ourNet()
    const l = net.a.listen(80)
    l.onConnection = (s) => onConn(new TcpDuplex(s, { highWaterMark: 256 * 1024 }))
    return {
      connect: () => new TcpDuplex(net.b.connect(A, 80), { highWaterMark: 256 * 1024 }),
      close: async () => {
        l.close()
        net.close()
      },
    }
  },
}

const node: Transport = {
  name: 'node',
  async serve(onConn) {
    const s = createTcpServer((c: Socket) => onConn(c))
    s.listen(0, '127.0.0.1')
    await once(s, 'listening')
    const port = (s.address() as AddressInfo).port
    return { connect: () => connect(port, '127.0.0.1'), close: () => new Promise((r) => s.close(() => r())) }
  },
}

async function bulk(t: Transport): Promise<number> {
  const total = BULK_MIB << 20
  let done!: () => void
  const finished = new Promise<void>((r) => (done = r))
  let got = 0
  const srv = await t.serve((d) => {
    d.on('data', (c: Buffer) => (got += c.length))
    d.on('end', () => {
      d.end()
      done()
    })
  })
  const c = srv.connect()
  const chunk = Buffer.alloc(64 * 1024, 0x5a)
  const start = performance.now()
  for (let sent = 0; sent < total; sent += chunk.length) if (!c.write(chunk)) await once(c, 'drain')
  c.end()
  c.resume()
  await finished
  const secs = (performance.now() - start) / 1000
  if (got !== total) throw new Error(`${t.name} bulk: received ${got} of ${total}`)
  c.destroy()
  await srv.close()
  return total / 1e6 / secs
}

async function http(t: Transport, keepAlive: boolean): Promise<number> {
  const server: Server = createServer((_req, res) => res.end('hello, world\n'))
  server.keepAliveTimeout = 60_000
  const srv = await t.serve((d) => server.emit('connection', d))
  class TransportAgent extends Agent {
    override createConnection(): Duplex {
      return srv.connect()
    }
  }
  const agent = new TransportAgent({ keepAlive, maxSockets: CONCURRENCY })
  let count = 0
  const end = performance.now() + HTTP_SECONDS * 1000
  const worker = async () => {
    while (performance.now() < end) {
      const req = request({ host: 'bench', path: '/', agent })
      req.end()
      const [res] = (await once(req, 'response')) as [IncomingMessage]
      res.resume()
      await once(res, 'end')
      count++
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const secs = (performance.now() - start) / 1000
  agent.destroy()
  server.closeAllConnections?.()
  await srv.close()
  return count / secs
}

const rows: { name: string; unit: string; run: (t: Transport) => Promise<number> }[] = [
  { name: `bulk TCP, ${BULK_MIB} MiB, one connection`, unit: 'MB/s', run: bulk },
  { name: `HTTP GET, ${CONCURRENCY} keep-alive connections`, unit: 'req/s', run: (t) => http(t, true) },
  { name: `HTTP GET, new connection per request (${CONCURRENCY} at once)`, unit: 'req/s', run: (t) => http(t, false) },
]

const only = process.env['NET_BENCH_ONLY']
const metrics: BenchMetric[] = []
for (const row of rows.filter((r) => !only || r.name.startsWith(only))) {
  const best = { ours: 0, peer: 0 }
  for (let r = 0; r < ROUNDS; r++) {
    best.ours = Math.max(best.ours, await row.run(ours))
    best.peer = Math.max(best.peer, await row.run(node))
  }
  metrics.push(higherIsBetter(row.name, row.unit, best.ours, best.peer))
  console.log(`${row.name}: honk ${best.ours.toFixed(1)} ${row.unit}, node ${best.peer.toFixed(1)} ${row.unit}, ratio ${(best.ours / best.peer).toFixed(2)}`)
}
report('net', {
  name: '@honk/net on an in-process loopback link vs Node TCP on 127.0.0.1, same http.Server',
  peer: 'node-tcp',
  setup: { bulkMiB: BULK_MIB, httpSeconds: HTTP_SECONDS, concurrency: CONCURRENCY, rounds: ROUNDS, quick, node: process.version },
  metrics,
})
process.exit(0)
