/**
 * Our stack as the guest of a real NAT: QEMU's user networking (slirp, `-netdev user`) joined to
 * our Stack through a QEMU hub and `-netdev stream` (no guest CPU at all: `-M none`). Our DHCP
 * client gets its lease from slirp, ping reaches the gateway, and our TCP fetches bodies from an
 * HTTP server on the host's loopback through slirp's BSD-derived TCP, checksums compared.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { formatIpv4, parseIpv4 as ip, parseMac } from './addr.js'
import { DhcpClient } from './dhcp.js'
import { streamFramePort } from './node/qemu.js'
import { Stack } from './stack.js'

const haveQemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0
const body = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131) & 255))
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe.skipIf(!haveQemu && process.env['CI'] !== 'true')("our Stack behind QEMU's slirp (-netdev user, hub, -netdev stream)", () => {
  it('DHCP lease from slirp, ping to the gateway, TCP fetches through slirp (0 B..4 MiB, checksums equal), orderly close', async () => {
    const http = createHttpServer((req, res) => res.end(body(Number(req.url!.slice(1)))))
    http.listen(0, '127.0.0.1')
    await once(http, 'listening')
    const sockPath = join(mkdtempSync(join(tmpdir(), 'honk-slirp-')), 'net.sock')
    const wire = createServer()
    const accepted = new Promise<Socket>((r) => wire.once('connection', r))
    wire.listen(sockPath)
    await new Promise((r) => setTimeout(r, 50))
    const qemu = spawn('qemu-system-riscv64', ['-M', 'none', '-nodefaults', '-nographic', '-netdev', 'user,id=u0', '-netdev', `stream,id=s0,server=off,addr.type=unix,addr.path=${sockPath}`, '-netdev', 'hubport,id=h0,hubid=0,netdev=u0', '-netdev', 'hubport,id=h1,hubid=0,netdev=s0'], { stdio: 'ignore' })
    try {
      const stack = new Stack({ port: streamFramePort(await accepted), mac: parseMac('52:54:00:12:34:57') })
      const dhcp = new DhcpClient(stack)
      dhcp.start()
      const lease = await dhcp.ready()
      expect(formatIpv4(lease.address)).toBe('10.0.2.15')
      expect(lease.gateway).toBe(ip('10.0.2.2'))
      expect(lease.dns).toEqual([ip('10.0.2.3')])
      expect(await stack.ping(ip('10.0.2.2'))).toBeGreaterThanOrEqual(0)
      const port = (http.address() as AddressInfo).port
      for (const n of [0, 1, 1460, 100_000, 4 << 20]) {
        const c = stack.connect(ip('10.0.2.2'), port)
        const chunks: Uint8Array[] = []
        const closed = new Promise<Error | undefined>((r) => (c.onClose = r))
        c.onConnect = () => void c.send(new TextEncoder().encode(`GET /${n} HTTP/1.0\r\n\r\n`))
        c.onData = (d) => chunks.push(d.slice())
        c.onEnd = () => c.close()
        expect(await closed).toBeUndefined()
        const all = Buffer.concat(chunks)
        const at = all.indexOf('\r\n\r\n')
        expect(all.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK')
        expect(sha(all.subarray(at + 4))).toBe(sha(body(n)))
      }
      dhcp.stop()
      stack.close()
    } finally {
      qemu.kill()
      http.close()
      wire.close()
    }
  }, 120_000)
})
