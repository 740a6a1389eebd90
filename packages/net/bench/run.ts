/**
 * `pnpm --filter @honk/net bench [--quick]`: our stack (two Stacks joined by an in-process
 * loopback link, every frame really encoded, checksummed and decoded) against Node's own TCP
 * on 127.0.0.1 (the kernel's loopback), in the same process and run:
 *
 *   bulk         one connection, N MiB in 64 KiB writes with backpressure (stream to stream),
 *                twice: our link at MTU 65536 (what Node's 127.0.0.1 runs on: Linux's `lo` has
 *                MTU 65536, so MSS 65495 on both sides) and at MTU 1500 (Ethernet, MSS 1460);
 *                the Node figure is the same kernel loopback in both rows
 *   http-keep    Node's http.Server, GET / (13-byte body), 16 keep-alive connections, T seconds
 *   http-conn    the same with a new connection per request (handshake + teardown each time)
 *                (both HTTP rows on our link at MTU 1500)
 *
 * And, when QEMU and the guest Linux of scripts/guest/ are there, the NAT against QEMU's own
 * (`-netdev user`, slirp): the same Linux guest under QEMU fetches N MiB from an HTTP server on
 * the host's loopback through ours (`-netdev stream` to {@link UserNet}) or through slirp,
 * timed on the host from the request to the guest's close after reading everything.
 *
 * Each row runs ours and Node's alternately, best of R rounds (5 for bulk, 2 for the others), after an unrecorded warm-up
 * (a 16 MiB bulk transfer over each transport).
 */
import { once } from 'node:events'
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http'
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { higherIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseIpv4, parseMac, realClock, Stack, TestLink } from '../src/index.ts'
import { streamFramePort, TcpDuplex, UserNet } from '../src/node.ts'

const quick = process.argv.includes('--quick')
const BULK_MIB = quick ? 16 : 64
const HTTP_SECONDS = quick ? 1 : 3
const CONCURRENCY = 16
const ROUNDS = quick ? 1 : 2
/** A bulk round takes a fraction of a second: more of them make best-of robust to a busy machine. */
const BULK_ROUNDS = quick ? 1 : 5
const A = parseIpv4('10.0.0.1')
const B = parseIpv4('10.0.0.2')

/** Linux's loopback MTU (`ip link show lo`), which Node's 127.0.0.1 connections run over. */
const LO_MTU = 65536

/**
 * Two stacks on a loopback link of the given MTU (the TCP MSS follows it); frames are handed
 * over on the next event-loop turn, in batches.
 */
function ourNet(mtu: number) {
  const link = new TestLink({ clock: realClock, defer: (f) => setImmediate(f), maxFrame: 14 + mtu })
  const tcp = { limits: { sendBuffer: 1 << 20, recvBuffer: 1 << 20 } }
  const a = new Stack({ port: link.a, mac: parseMac('02:00:00:00:00:01'), ipv4: { address: A, netmask: 0xffffff00 }, tcp, mtu })
  const b = new Stack({ port: link.b, mac: parseMac('02:00:00:00:00:02'), ipv4: { address: B, netmask: 0xffffff00 }, tcp, mtu })
  return { a, b, close: () => (a.close(), b.close()) }
}

interface Transport {
  name: string
  /** Starts a server handing each accepted connection (as a Duplex) to `onConn`; returns a connect function. */
  serve(onConn: (d: Duplex) => void): Promise<{ connect: () => Duplex; close: () => Promise<void> }>
}

const ourTransport = (mtu: number): Transport => ({
  name: `honk (MTU ${mtu})`,
  async serve(onConn) {
    const net = ourNet(mtu)
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
})

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

async function bulk(t: Transport, mib = BULK_MIB): Promise<number> {
  const total = mib << 20
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

const rows: { name: string; unit: string; mtu: number; rounds: number; run: (t: Transport) => Promise<number> }[] = [
  { name: `bulk TCP, ${BULK_MIB} MiB, one connection, our link MTU ${LO_MTU} (as lo)`, unit: 'MB/s', mtu: LO_MTU, rounds: BULK_ROUNDS, run: (t) => bulk(t) },
  { name: `bulk TCP, ${BULK_MIB} MiB, one connection, our link MTU 1500 (lo stays 65536)`, unit: 'MB/s', mtu: 1500, rounds: BULK_ROUNDS, run: (t) => bulk(t) },
  { name: `HTTP GET, ${CONCURRENCY} keep-alive connections`, unit: 'req/s', mtu: 1500, rounds: ROUNDS, run: (t) => http(t, true) },
  { name: `HTTP GET, new connection per request (${CONCURRENCY} at once)`, unit: 'req/s', mtu: 1500, rounds: ROUNDS, run: (t) => http(t, false) },
]

const only = process.env['NET_BENCH_ONLY']
const metrics: BenchMetric[] = []
// Warm-up, not recorded: one short bulk transfer over each transport, so that neither side's
// first measured round pays for compiling its code paths (ours are JavaScript, JIT-compiled).
const WARMUP_MIB = 16
for (const t of [ourTransport(LO_MTU), ourTransport(1500), node]) await bulk(t, WARMUP_MIB)
for (const row of rows.filter((r) => !only || r.name.startsWith(only))) {
  const best = { ours: 0, peer: 0 }
  for (let r = 0; r < row.rounds; r++) {
    best.ours = Math.max(best.ours, await row.run(ourTransport(row.mtu)))
    best.peer = Math.max(best.peer, await row.run(node))
  }
  metrics.push(higherIsBetter(row.name, row.unit, best.ours, best.peer))
  console.log(`${row.name}: honk ${best.ours.toFixed(1)} ${row.unit}, node ${best.peer.toFixed(1)} ${row.unit}, ratio ${(best.ours / best.peer).toFixed(2)}`)
}
if (metrics.length > 0) report('net', {
  name: '@honk/net on an in-process loopback link vs Node TCP on 127.0.0.1, same http.Server',
  peer: 'node-tcp',
  setup: { bulkMiB: BULK_MIB, httpSeconds: HTTP_SECONDS, concurrency: CONCURRENCY, rounds: ROUNDS, bulkRounds: BULK_ROUNDS, quick, node: process.version, nodeLoopbackMtu: LO_MTU, warmupMiB: WARMUP_MIB },
  metrics,
})
// --- Linux guest → host through our NAT vs QEMU's slirp -------------------------------------

const cache = process.env['HONK_CACHE'] ?? join(homedir(), '.cache', 'honk')
const IMAGE = join(cache, 'linux-6.1', 'arch', 'riscv', 'boot', 'Image')
const INITRAMFS = join(cache, 'initramfs.cpio')
const FETCH_MIB = quick ? 16 : 64

/** Boots the guest, which fetches FETCH_MIB MiB from a host HTTP server through `nat`; returns MB/s as the host saw it. */
async function guestFetch(nat: 'honk' | 'slirp'): Promise<number> {
  const size = FETCH_MIB << 20
  const chunk = Buffer.alloc(1 << 20, 0x42)
  let started = 0
  const done = new Promise<number>((resolve) => {
    const server = createServer((req, res) => {
      started = performance.now()
      req.socket.once('close', () => {
        resolve(performance.now() - started)
        server.close()
      })
      res.writeHead(200, { 'content-length': size })
      let off = 0
      const pump = () => {
        while (off < size) {
          off += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      pump()
    })
    server.listen(0, '127.0.0.1', () => boot((server.address() as AddressInfo).port))
  })
  let qemu: ReturnType<typeof spawn> | undefined
  let userNet: UserNet | undefined
  const dir = mkdtempSync(join(tmpdir(), 'honk-net-bench-'))
  const boot = (port: number) => {
    const args = ['-M', 'virt', '-m', '512M', '-nographic', '-no-reboot', '-kernel', IMAGE, '-initrd', INITRAMFS, '-append', `console=ttyS0 ip=dhcp honk.checks=net honk.fetch=10.0.2.2:${port}:${size}`, '-device', 'virtio-net-device,netdev=n0']
    if (nat === 'slirp') args.push('-netdev', 'user,id=n0')
    else {
      const path = join(dir, 'net.sock')
      const wire = createTcpServer((sock) => void UserNet.create({ port: streamFramePort(sock) }).then((n) => (userNet = n)))
      wire.listen(path)
      args.push('-netdev', `stream,id=n0,server=off,addr.type=unix,addr.path=${path}`)
    }
    qemu = spawn('qemu-system-riscv64', args, { stdio: 'ignore' })
  }
  const ms = await done
  await new Promise((r) => qemu!.once('exit', r))
  await userNet?.close()
  return size / 1e6 / (ms / 1000)
}

if (existsSync(IMAGE) && existsSync(INITRAMFS) && spawnSync('qemu-system-riscv64', ['--version']).status === 0 && (!only || only === 'nat')) {
  const best = { ours: 0, peer: 0 }
  for (let r = 0; r < ROUNDS; r++) {
    best.ours = Math.max(best.ours, await guestFetch('honk'))
    best.peer = Math.max(best.peer, await guestFetch('slirp'))
  }
  const name = `Linux guest (QEMU) fetches ${FETCH_MIB} MiB from host 127.0.0.1 through the NAT`
  console.log(`${name}: honk ${best.ours.toFixed(1)} MB/s, slirp ${best.peer.toFixed(1)} MB/s, ratio ${(best.ours / best.peer).toFixed(2)}`)
  report('net-nat', {
    name: '@honk/net UserNet (-netdev stream) vs QEMU user networking (-netdev user, slirp), same Linux 6.1 guest under QEMU',
    peer: 'qemu-slirp',
    setup: { fetchMiB: FETCH_MIB, rounds: ROUNDS, quick, node: process.version },
    metrics: [higherIsBetter(name, 'MB/s', best.ours, best.peer)],
  })
} else console.log('(QEMU or the guest of scripts/guest/ missing: the NAT vs slirp row is skipped)')
process.exit(0)
