/**
 * Linux's TCP/IP stack as the peer of ours (issue #14, "Proof against real peers"): the guest
 * Linux 6.1 gets its address by DHCP from our user-mode NAT (the kernel's own `ip=dhcp`),
 * fetches a file from an HTTP server on the host's loopback through it (10.0.2.2 is the host),
 * and the host fetches from an HTTP server in the guest through a port forward. Sizes from 0 B
 * to 64 MiB; the guest prints each body's length and hash, the host checks both.
 *
 * Under QEMU (fast, joined to our NAT by `-netdev stream`), and under this machine (honk-virt's
 * `-netdev user`). The same guest under QEMU's own slirp is the throughput peer.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer as createHttpServer, get, type Server as HttpServer } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { UserNet, streamFramePort } from '@honk/net/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GuestHash, guestPattern, hashOfGuestPattern } from '../../../scripts/guest/init-protocol.js'
import { createFromCli, parseCli } from './cli.js'
import { INITRAMFS, LINUX_IMAGE, guestBuilt } from './guest.js'
import { ConsoleSession } from './session.js'

const run = guestBuilt() || process.env['CI'] === 'true'
const MiB = 1 << 20


/** An HTTP server on 127.0.0.1 that answers /<n> with n bytes of the pattern. */
async function patternServer(): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((req, res) => {
    const n = Number((req.url ?? '/').slice(1)) || 0
    res.writeHead(200, { 'content-length': n })
    let off = 0
    const pump = () => {
      while (off < n) {
        const chunk = guestPattern(off, Math.min(256 * 1024, n - off))
        off += chunk.length
        if (!res.write(chunk)) return void res.once('drain', pump)
      }
      res.end()
    }
    pump()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as AddressInfo).port }
}

/** GETs a URL and returns the body's length, hash and the seconds it took. */
function fetchHashed(url: string): Promise<{ bytes: number; hash: string; seconds: number }> {
  const start = performance.now()
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const h = new GuestHash()
      let bytes = 0
      res.on('data', (c: Buffer) => {
        h.update(c)
        bytes += c.length
      })
      res.on('end', () => resolve({ bytes, hash: h.hex(), seconds: (performance.now() - start) / 1000 }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

/** Waits until `text()` matches `re` (polling), or fails with the tail of the log. */
async function waitLog(text: () => string, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms
  for (;;) {
    const m = re.exec(text())
    if (m) return m
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; log tail:\n${text().slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface GuestRun {
  log: () => string
  /** The host port that reaches the guest's :80. */
  forwardPort: number
  stop: () => Promise<void>
}

const bootargs = (hostPort: number, fetchBytes: number, serveBytes: number) => `console=ttyS0 ip=dhcp honk.checks=net honk.fetch=10.0.2.2:${hostPort}:${fetchBytes} honk.serve=80:${serveBytes}:1`

/** The guest under QEMU, its wire joined to our NAT over `-netdev stream` (or QEMU's own slirp with `slirp`). */
async function underQemu(args: string, slirp: boolean): Promise<GuestRun> {
  let log = ''
  let nat: UserNet | undefined
  const listener = createServer()
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  const wirePort = (listener.address() as AddressInfo).port
  let forwardPort = 0
  if (slirp) {
    forwardPort = await freePort()
  }
  const natReady = slirp
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
        listener.once('connection', (socket) => {
          UserNet.create({ port: streamFramePort(socket), hostForwards: ['tcp:127.0.0.1:0-:80'] }).then((n) => {
            nat = n
            forwardPort = n.forwards()[0]!.hostPort
            resolve()
          }, reject)
        })
      })
  const netArgs = slirp ? ['-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${forwardPort}-:80`] : ['-netdev', `stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${wirePort}`]
  const qemu: ChildProcess = spawn('qemu-system-riscv64', ['-M', 'virt', '-m', '256M', '-smp', '2', '-nographic', '-bios', 'default', '-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', args, ...netArgs, '-device', 'virtio-net-device,netdev=n0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  qemu.stdout!.on('data', (c: Buffer) => (log += c.toString('latin1')))
  qemu.stderr!.on('data', (c: Buffer) => (log += c.toString('latin1')))
  await natReady
  return {
    log: () => log,
    get forwardPort() {
      return forwardPort
    },
    stop: async () => {
      if (qemu.exitCode === null) {
        qemu.kill('SIGKILL')
        await once(qemu, 'exit')
      }
      await nat?.close()
      await new Promise((r) => listener.close(r))
    },
  }
}

/** A free TCP port on 127.0.0.1 (for a forward given by number, as a user types it). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = (probe.address() as AddressInfo).port
  await new Promise((r) => probe.close(r))
  return port
}

/** The guest on this machine, started from honk-virt's own command line with QEMU's `-netdev user,hostfwd=…`. */
async function underHonkVirt(args: string): Promise<GuestRun> {
  const forwardPort = await freePort()
  const session = new ConsoleSession()
  const options = parseCli(['-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', args, '-m', '256M', '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${forwardPort}-:80`, '-device', 'virtio-net-device,netdev=n0'])
  if (typeof options === 'string') throw new Error('unexpected --help/--version')
  const { machine, close } = await createFromCli(options, session.out)
  session.start(machine)
  return {
    log: () => session.text,
    forwardPort,
    stop: async () => {
      machine.stop()
      await session.exit.catch(() => undefined)
      await close()
    },
  }
}

/** One exchange: the guest fetches `fetchBytes` from the host and serves `serveBytes`, which the host fetches. */
async function exchange(guest: GuestRun, fetchBytes: number, serveBytes: number, timeoutMs: number): Promise<{ served: { bytes: number; hash: string; seconds: number } }> {
  // Whole lines only: the console may have delivered part of one ("ip=10.0.2.1" of "ip=10.0.2.15").
  const ip = await waitLog(guest.log, /honk-init: net: eth0 ip=([\d.]+)\r?\n|honk-init: net: FAIL[^\n]*\n/, timeoutMs)
  expect(ip[0].trimEnd()).toBe('honk-init: net: eth0 ip=10.0.2.15')
  const fetched = await waitLog(guest.log, /honk-init: net fetch hash: ([0-9a-f]{16})|honk-init: net fetch: FAIL[^\n]*/, timeoutMs)
  expect(guest.log()).toMatch(new RegExp(`honk-init: net fetch: ${fetchBytes}\\r?\\n`))
  expect(fetched[1]).toBe(hashOfGuestPattern(fetchBytes))
  const listening = await waitLog(guest.log, /honk-init: net serve: listening, hash ([0-9a-f]{16})|honk-init: net serve: FAIL[^\n]*/, timeoutMs)
  const served = await fetchHashed(`http://127.0.0.1:${guest.forwardPort}/`)
  expect(served.bytes).toBe(serveBytes)
  expect(served.hash).toBe(listening[1])
  expect(served.hash).toBe(hashOfGuestPattern(serveBytes))
  await waitLog(guest.log, /honk-init: (all checks passed|FAILED)/, timeoutMs)
  expect(guest.log()).toContain('honk-init: all checks passed')
  return { served }
}

describe.skipIf(!run)('Linux\'s TCP/IP against ours (@honk/net user-mode NAT)', () => {
  let host: { server: HttpServer; port: number }
  beforeAll(async () => {
    host = await patternServer()
  })
  afterAll(async () => {
    await new Promise((r) => host?.server.close(r))
  })

  for (const [fetchBytes, serveBytes] of [[0, 0], [1, 1460], [MiB + 7, MiB - 3], [64 * MiB, 64 * MiB]] as const) {
    it(`under QEMU (-netdev stream to our NAT): DHCP, guest fetches ${fetchBytes} B from the host, host fetches ${serveBytes} B from the guest`, async () => {
      const guest = await underQemu(bootargs(host.port, fetchBytes, serveBytes), false)
      try {
        await exchange(guest, fetchBytes, serveBytes, 240_000)
      } finally {
        await guest.stop()
      }
    }, 300_000)
  }

  it('under this machine (honk-virt -netdev user,hostfwd=… -device virtio-net-device): DHCP, 256 KiB each way', async () => {
    const guest = await underHonkVirt(bootargs(host.port, 256 * 1024, 256 * 1024))
    try {
      await exchange(guest, 256 * 1024, 256 * 1024, 600_000)
    } finally {
      await guest.stop()
    }
  }, 700_000)

  it('honk-virt joins a QEMU guest\'s wire (-netdev socket,listen= here, socket,connect= there): Linux on ours fetches 1 MiB from Linux under QEMU', async () => {
    const wirePort = await freePort()
    const size = MiB
    const session = new ConsoleSession()
    const ours = parseCli(['-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-m', '256M', '-append', `console=ttyS0 ip=10.0.3.3::10.0.3.1:255.255.255.0::eth0:off honk.checks=net honk.fetch=10.0.3.2:80:${size}`, '-netdev', `socket,id=n0,listen=127.0.0.1:${wirePort}`, '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:03:03'])
    if (typeof ours === 'string') throw new Error('unexpected --help/--version')
    const { machine, close } = await createFromCli(ours, session.out)
    let qemuLog = ''
    const qemu = spawn('qemu-system-riscv64', ['-M', 'virt', '-m', '256M', '-nographic', '-bios', 'default', '-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', `console=ttyS0 ip=10.0.3.2::10.0.3.1:255.255.255.0::eth0:off honk.checks=net honk.serve=80:${size}:1`, '-netdev', `socket,id=n0,connect=127.0.0.1:${wirePort}`, '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:03:02'], { stdio: ['ignore', 'pipe', 'pipe'] })
    qemu.stdout.on('data', (c: Buffer) => (qemuLog += c.toString('latin1')))
    try {
      // Ours boots slower: QEMU's guest listens first, and ours retries nothing, so wait for the listener before ours connects.
      await waitLog(() => qemuLog, /honk-init: net serve: listening, hash ([0-9a-f]{16})/, 120_000)
      session.start(machine)
      const fetched = await waitLog(() => session.text, /honk-init: net fetch hash: ([0-9a-f]{16})|honk-init: net fetch: FAIL[^\n]*/, 600_000)
      expect(session.text).toContain('honk-init: net: eth0 ip=10.0.3.3')
      expect(fetched[1]).toBe(hashOfGuestPattern(size))
      await waitLog(() => qemuLog, /honk-init: net serve: served 1/, 60_000)
    } finally {
      qemu.kill('SIGKILL')
      machine.stop()
      await session.exit.catch(() => undefined)
      await close()
    }
  }, 700_000)

  it('throughput, Linux guest → host, 64 MiB: our NAT vs QEMU\'s slirp with the same guest under QEMU (ratio printed)', async () => {
    const size = 64 * MiB
    const results: Record<string, number> = {}
    for (const [name, slirp] of [['ours', false], ['slirp', true]] as const) {
      const guest = await underQemu(bootargs(host.port, 0, size), slirp)
      try {
        const { served } = await exchange(guest, 0, size, 240_000)
        results[name] = size / MiB / served.seconds
      } finally {
        await guest.stop()
      }
    }
    const ratio = results['ours']! / results['slirp']!
    console.log(`[bench] Linux guest → host 64 MiB over the NAT: ours ${results['ours']!.toFixed(1)} MiB/s, QEMU slirp ${results['slirp']!.toFixed(1)} MiB/s, ratio ${ratio.toFixed(2)}`)
    expect(results['ours']).toBeGreaterThan(0)
  }, 600_000)
})
