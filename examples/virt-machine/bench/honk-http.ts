/**
 * `pnpm --filter @honk/virt-machine bench:http [--quick]`: requests per second to honk's HTTP
 * server (honk mode, M6): the request crosses the user-mode NAT's port forward, the guest's
 * virtio-net device and driver, honk's TCP/IP stack, and Node's `http.Server` in the kernel.
 *
 * Clients: the real `curl` (one process per request, as a person or a script runs it), and a
 * keep-alive Node client with 8 connections. The peer, in the same run and interleaved: the same
 * `http.Server` code answering the same body on Node's own TCP on 127.0.0.1, so the ratio is what
 * honk's network path costs compared with a host server.
 */
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { Agent, createServer, get } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { UserNet } from '@honk/net/node'
import { loopbackPair } from '@honk/virtio'
import { higherIsBetter, report } from '../../../scripts/bench-report.ts'
import { createHonk } from '../src/honk.ts'
import { coreAnchor, factoryImage } from '../src/factory-core.ts'
import { ConsoleSession } from '../src/session.ts'

const run = promisify(execFile)
const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3
const CURLS = quick ? 20 : 100
const SECONDS = quick ? 1 : 3

/** Sequential `curl` runs: requests per second. */
async function curlRate(url: string): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < CURLS; i++) {
    const { stdout } = await run('curl', ['-sS', '--max-time', '10', url])
    if (!stdout.startsWith('honk - ')) throw new Error(`unexpected body: ${stdout.slice(0, 80)}`)
  }
  return CURLS / ((performance.now() - t0) / 1000)
}

/** 8 keep-alive connections issuing GETs back to back for SECONDS: requests per second. */
async function keepAliveRate(url: string): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  let done = 0
  const end = performance.now() + SECONDS * 1000
  const worker = async () => {
    while (performance.now() < end) {
      await new Promise<void>((resolve, reject) => {
        get(url, { agent }, (res) => {
          res.resume()
          res.on('end', () => resolve())
        }).on('error', reject)
      })
      done++
    }
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 8 }, worker))
  agent.destroy()
  return done / ((performance.now() - t0) / 1000)
}

// honk, booted once, with the forward on a free port.
const [guestWire, hostWire] = loopbackPair()
const nat = await UserNet.create({ port: hostWire, hostForwards: ['tcp:127.0.0.1:0-:80'] })
const session = new ConsoleSession()
const honk = createHonk({ harts: 2, memory: 256 << 20, firmware: 'builtin', net: guestWire, consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
session.start(honk.machine)
await session.waitFor('honk> ', 120_000)
const honkUrl = `http://127.0.0.1:${nat.forwards()[0]!.hostPort}/`

// The peer: the same kind of server and body on Node's own TCP.
const body = 'honk - TypeScript RISC-V64 OS\nuptime 1s\nharts 2\n'
const peer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
})
peer.listen(0, '127.0.0.1')
await once(peer, 'listening')
const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}/`

const best = { curlHonk: 0, curlPeer: 0, kaHonk: 0, kaPeer: 0 }
for (let r = 0; r < ROUNDS; r++) {
  best.curlPeer = Math.max(best.curlPeer, await curlRate(peerUrl))
  best.curlHonk = Math.max(best.curlHonk, await curlRate(honkUrl))
  best.kaPeer = Math.max(best.kaPeer, await keepAliveRate(peerUrl))
  best.kaHonk = Math.max(best.kaHonk, await keepAliveRate(honkUrl))
  console.error(`round ${r + 1}: curl honk ${best.curlHonk.toFixed(0)}/s host ${best.curlPeer.toFixed(0)}/s; keep-alive honk ${best.kaHonk.toFixed(0)}/s host ${best.kaPeer.toFixed(0)}/s (best so far)`)
}
session.send('exit\n')
await session.exit
await honk.close()
await nat.close()
peer.close()

report('virt-machine-http', {
  name: "honk's HTTP server through the NAT's port forward (honk mode, 2 harts)",
  peer: "the same http.Server on the host's own TCP (127.0.0.1)",
  setup: { rounds: ROUNDS, curls: CURLS, keepAliveSeconds: SECONDS, quick },
  metrics: [higherIsBetter('curl, one process per request', 'req/s', best.curlHonk, best.curlPeer), higherIsBetter('keep-alive, 8 connections', 'req/s', best.kaHonk, best.kaPeer)],
})
