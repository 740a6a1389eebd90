/**
 * Linux's TCP/IP stack as the peer (issue #14, "Proof against real peers"): the Linux 6.1 guest
 * of scripts/guest/ boots under QEMU with its virtio-net joined to our user-mode NAT through
 * QEMU's `-netdev stream` (a unix socket, 4-byte length framing). The guest's kernel gets its
 * address by DHCP from the NAT (ip=dhcp), its /init fetches a body from an HTTP server on the
 * host's loopback through the NAT, then serves one and the host fetches it through a hostfwd.
 * Sizes and hashes are compared on both sides (the /init's pattern and 64-bit ×31 hash).
 */
import { spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { appendFileSync, existsSync, mkdtempSync } from 'node:fs'
import { createServer as createHttpServer, get, type IncomingMessage } from 'node:http'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { GuestHash, guestPattern, hashOfGuestPattern } from '../../../scripts/guest/init-protocol.js'
import { dgramFramePort, streamFramePort } from './node/qemu.js'
import { UserNet } from './node/nat.js'

const cache = process.env['HONK_CACHE'] ?? join(homedir(), '.cache', 'honk')
const IMAGE = join(cache, 'linux-6.1', 'arch', 'riscv', 'boot', 'Image')
const INITRAMFS = join(cache, 'initramfs.cpio')
const haveQemu = spawnOk('qemu-system-riscv64')
const run = (existsSync(IMAGE) && existsSync(INITRAMFS) && haveQemu) || process.env['CI'] === 'true'

function spawnOk(cmd: string): boolean {
  try {
    return spawnSync(cmd, ['--version']).status === 0
  } catch {
    return false
  }
}


async function bootGuest(fetchBytes: number, serveBytes: number, transport: 'stream' | 'dgram' = 'stream') {
  const dir = mkdtempSync(join(tmpdir(), 'honk-net-qemu-'))
  const sockPath = join(dir, 'net.sock')
  // The host's HTTP server: GET /<n> answers n bytes of the pattern.
  const http = createHttpServer((req, res) => {
    const n = Number(req.url!.slice(1))
    res.writeHead(200, { 'content-length': n })
    let off = 0
    const pump = () => {
      while (off < n) {
        const len = Math.min(1 << 20, n - off)
        const ok = res.write(guestPattern(off, len))
        off += len
        if (!ok) return void res.once('drain', pump)
      }
      res.end()
    }
    pump()
  })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  const httpPort = (http.address() as AddressInfo).port
  let nat: UserNet | undefined
  let netdev: string
  let natReady: Promise<UserNet>
  if (transport === 'stream') {
    // QEMU connects to our unix socket; 4-byte length per frame.
    netdev = `stream,id=n0,server=off,addr.type=unix,addr.path=${sockPath}`
    natReady = new Promise<UserNet>((resolve, reject) => {
      const wire = createServer((sock: Socket) => {
        UserNet.create({ port: streamFramePort(sock), hostForwards: ['tcp:127.0.0.1:0-:80'] }).then((n) => resolve((nat = n)), reject)
      })
      wire.listen(sockPath)
      cleanups.push(() => wire.close())
    })
  } else {
    // One frame per UDP datagram between two loopback ports.
    const probe = createSocket('udp4')
    probe.bind(0, '127.0.0.1')
    await once(probe, 'listening')
    const qemuPort = probe.address().port
    probe.close()
    const ours = createSocket('udp4')
    ours.bind(0, '127.0.0.1')
    await once(ours, 'listening')
    netdev = `dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=${qemuPort},remote.type=inet,remote.host=127.0.0.1,remote.port=${ours.address().port}`
    natReady = UserNet.create({ port: dgramFramePort(ours, { address: '127.0.0.1', port: qemuPort }), hostForwards: ['tcp:127.0.0.1:0-:80'] }).then((n) => (nat = n))
    cleanups.push(() => ours.close())
  }
  await new Promise((r) => setTimeout(r, 50))
  const append = `console=ttyS0 ip=dhcp honk.checks=net honk.fetch=10.0.2.2:${httpPort}:${fetchBytes} honk.serve=80:${serveBytes}:2`
  const qemu = spawn('qemu-system-riscv64', ['-M', 'virt', '-m', '512M', '-nographic', '-no-reboot', '-kernel', IMAGE, '-initrd', INITRAMFS, '-append', append, '-netdev', netdev, '-device', 'virtio-net-device,netdev=n0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  const waiters: (() => void)[] = []
  qemu.stdout.on('data', (c: Buffer) => {
    text += c.toString()
    for (const w of waiters.splice(0)) w()
  })
  qemu.stderr.on('data', (c: Buffer) => (text += c.toString()))
  const exited = new Promise<number | null>((r) => qemu.on('exit', (code) => r(code)))
  cleanups.push(() => qemu.kill('SIGKILL'), () => nat?.close(), () => http.close())
  const waitFor = async (re: RegExp, ms: number): Promise<RegExpMatchArray> => {
    const end = Date.now() + ms
    for (;;) {
      const m = re.exec(text)
      if (m) return m
      const failed = /honk-init: [^\n]*: FAIL [^\n]*|honk-init: FAILED|Kernel panic[^\n]*/.exec(text)
      if (failed || qemu.exitCode !== null || qemu.signalCode !== null) throw new Error(`${failed ? failed[0] : `QEMU exited (${qemu.exitCode ?? qemu.signalCode})`} while waiting for ${re}; console:\n${text.slice(-3000)}`)
      if (process.env['NET_DEBUG']) appendFileSync(process.env['NET_DEBUG'], `${new Date().toISOString()} waiting for ${re}: …${JSON.stringify(text.slice(-120))}\n`)
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; console:\n${text.slice(-3000)}`)
      await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 1000))])
    }
  }
  /** `p`, or a rejection with the console if QEMU exits first. */
  const whileRunning = <T,>(p: Promise<T>): Promise<T> =>
    Promise.race([p, exited.then((code) => Promise.reject(new Error(`QEMU exited (${code ?? qemu.signalCode}) first; console:\n${text.slice(-3000)}`)))])
  return { waitFor, whileRunning, natReady, exited, text: () => text }
}

const cleanups: (() => unknown)[] = []

describe.skipIf(!run)('Linux under QEMU behind our NAT (-netdev stream / dgram)', () => {
  // The stream transport at 0 B to 64 MiB is examples/virt-machine/src/linux-net.system.test.ts's
  // (with honk-virt and the slirp comparison); this file keeps what that one does not: dgram.
  for (const [fetchBytes, serveBytes, transport] of [[1 << 20, 3 << 20, 'dgram']] as const) {
    it(`-netdev ${transport}: gets 10.0.2.15 by DHCP, fetches ${fetchBytes} B from the host's loopback through the NAT, the host fetches ${serveBytes} B from the guest through a hostfwd`, async () => {
      try {
        const g = await bootGuest(fetchBytes, serveBytes, transport)
        await g.waitFor(/Linux version 6\.1/, 120_000)
        const nat = await g.natReady
        await g.waitFor(/honk-init: net: eth0 ip=10\.0\.2\.15/, 180_000)
        const fetched = await g.waitFor(/honk-init: net fetch hash: ([0-9a-f]{16})/, 900_000)
        expect(g.text()).toContain(`honk-init: net fetch: ${fetchBytes}\r\n`)
        expect(fetched[1]).toBe(hashOfGuestPattern(fetchBytes))
        const listening = await g.waitFor(/honk-init: net serve: listening, hash ([0-9a-f]{16})/, 120_000)
        expect(listening[1]).toBe(hashOfGuestPattern(serveBytes))
        const [fwd] = nat.forwards()
        const h = new GuestHash()
        let n = 0
        await g.whileRunning(
          (async () => {
            const res = await new Promise<IncomingMessage>((resolve, reject) => get({ host: '127.0.0.1', port: fwd!.hostPort, path: '/', agent: false }, resolve).on('error', reject))
            for await (const c of res) {
              h.update(c as Buffer)
              n += (c as Buffer).length
            }
          })(),
        )
        expect(n).toBe(serveBytes)
        expect(h.hex()).toBe(listening[1])
        // The /init closes and powers off right after its last response, which can cut that
        // response short (close() does not wait for the data to leave); so it serves twice and
        // the second request only lets it finish.
        await new Promise<void>((resolve) => get({ host: '127.0.0.1', port: fwd!.hostPort, path: '/', agent: false }, (r) => (r.resume(), r.on('close', resolve))).on('error', () => resolve()))
        await g.waitFor(/honk-init: (all checks passed|FAILED)/, 120_000)
        expect(g.text()).toContain('honk-init: all checks passed')
        expect(nat.counters.tcpFlows).toBe(1)
        expect(nat.counters.forwardedConnections).toBe(2)
        expect(nat.dhcp.leases()).toHaveLength(1)
        await g.exited
      } finally {
        // Time-boxed, so a cleanup that hangs cannot hide the test's own failure.
        for (const c of cleanups.splice(0).reverse()) await Promise.race([c(), new Promise((r) => setTimeout(r, 5000))])
      }
    }, 1_200_000)
  }
})
