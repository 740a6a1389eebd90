/**
 * Bulk TCP throughput of two TcpLayers on a lossless in-memory link, next to Node's own TCP on
 * 127.0.0.1 measured in the same run. Not part of the package's exports.
 *
 *   cd packages/net && node --conditions=@honk/source --import tsx src/tcp/bench.ts [MiB] [rounds]
 *
 * Modes: "wire" encodes every segment with its checksum and decodes/verifies it on the other
 * side (what the Stack will do, minus IPv4/Ethernet); "direct" hands segment objects across
 * (the TCP state machine alone). Both run under a VirtualClock, so delayed-ACK timers cost no
 * wall time; the clock is advanced only when the link is idle.
 */
import { createServer, connect as netConnect } from 'node:net'
import { VirtualClock } from '../clock.js'
import { TcpLayer } from './layer.js'
import { decodeTcpSegment, encodeTcpSegment } from './segment.js'
import type { TcpSegment } from './types.js'

const A = 0x0a000001
const B = 0x0a000002

function runOurs(totalBytes: number, mode: 'wire' | 'direct'): number {
  const clock = new VirtualClock()
  const queue: Array<{ to: TcpLayer; seg: TcpSegment | Uint8Array; src: number; dst: number }> = []
  const layers = new Map<number, TcpLayer>()
  const mk = (addr: number) => {
    const l = new TcpLayer({
      clock,
      output: (seg, src, dst) => queue.push({ to: layers.get(dst)!, seg: mode === 'wire' ? encodeTcpSegment(seg, src, dst) : seg, src, dst }),
      limits: { sendBuffer: 1 << 20, recvBuffer: 1 << 20 },
    })
    layers.set(addr, l)
    return l
  }
  const a = mk(A)
  const b = mk(B)
  let received = 0
  let ended = false
  b.listen(80).onConnection = (s) => {
    s.onData = (c) => {
      received += c.length
    }
    s.onEnd = () => {
      ended = true
      s.close()
    }
  }
  const chunk = new Uint8Array(64 * 1024).map((_, i) => i & 0xff)
  const c = a.connect({ remoteAddr: B, remotePort: 80, localAddr: A })
  let queued = 0
  const write = () => {
    while (queued < totalBytes) {
      const n = Math.min(chunk.length, totalBytes - queued)
      queued += n
      if (!c.send(n === chunk.length ? chunk : chunk.subarray(0, n))) return
    }
    c.close()
  }
  c.onConnect = write
  c.onDrain = write
  const t0 = performance.now()
  for (;;) {
    while (queue.length > 0) {
      const { to, seg, src, dst } = queue.shift()!
      to.input(seg instanceof Uint8Array ? decodeTcpSegment(seg, src, dst) : seg, src, dst)
    }
    if (ended && received >= totalBytes) break
    if (clock.pending === 0) throw new Error(`stalled at ${received} of ${totalBytes} bytes`)
    // Idle link: let the next timer (a delayed ACK) fire.
    clock.advance(1)
  }
  const ms = performance.now() - t0
  a.destroyAll()
  b.destroyAll()
  return totalBytes / (1024 * 1024) / (ms / 1000)
}

async function runNode(totalBytes: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 7)
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => {
      let got = 0
      const t0 = performance.now()
      sock.on('data', (d: Buffer) => {
        got += d.length
      })
      sock.on('end', () => {
        const ms = performance.now() - t0
        server.close()
        if (got !== totalBytes) reject(new Error(`node: got ${got}`))
        else resolve(totalBytes / (1024 * 1024) / (ms / 1000))
      })
    })
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      const c = netConnect(port, '127.0.0.1', () => {
        let sent = 0
        const write = () => {
          while (sent < totalBytes) {
            const n = Math.min(chunk.length, totalBytes - sent)
            sent += n
            if (!c.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void c.once('drain', write)
          }
          c.end()
        }
        write()
      })
      c.on('error', reject)
    })
  })
}

const mib = Number(process.argv[2] ?? 64)
const rounds = Number(process.argv[3] ?? 3)
const bytes = mib * 1024 * 1024
runOurs(4 * 1024 * 1024, 'direct') // warm-up
runOurs(4 * 1024 * 1024, 'wire')
const best = { direct: 0, wire: 0, node: 0 }
for (let r = 0; r < rounds; r++) {
  best.direct = Math.max(best.direct, runOurs(bytes, 'direct'))
  best.wire = Math.max(best.wire, runOurs(bytes, 'wire'))
  best.node = Math.max(best.node, await runNode(bytes))
}
const f = (x: number) => x.toFixed(0).padStart(6)
console.log(`TCP bulk transfer, ${mib} MiB one way, best of ${rounds} (MB/s = MiB/s)`)
console.log(`  @honk/net, segment objects ("direct")  ${f(best.direct)} MiB/s`)
console.log(`  @honk/net, encoded + checksummed       ${f(best.wire)} MiB/s`)
console.log(`  Node net on 127.0.0.1 (kernel TCP)     ${f(best.node)} MiB/s`)
console.log(`  ratio wire / Node                      ${(best.wire / best.node).toFixed(2)}`)
