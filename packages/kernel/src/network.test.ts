import { request } from 'node:http'
import { DhcpServer, Stack, TestLink, VirtualClock, formatIpv4, parseIpv4, parseMac, prefixToMask, type FramePort } from '@honk/net'
import { TcpDuplex, driveClock } from '@honk/net/node'
import { MemoryFS } from '@honk/vfs'
import { afterEach, describe, expect, it } from 'vitest'
import { FETCH_MAX_BYTES, httpGet } from './commands/net.js'
import { Network, STATIC_FALLBACK, type Nic } from './network.js'
import { nodeHttpService } from './node.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A NIC on one end of a test link: what the virtio-net driver gives the kernel. */
function nicOn(port: FramePort): Nic {
  return Object.assign(port, { mac: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56), mtu: 1500, stats: { txFrames: 0, txDropped: 0, rxFrames: 0, rxDropped: 0 } })
}

/** honk's network on one end of a link; on the other a "gateway" stack at 10.0.2.2, optionally with a DHCP server. */
function setup(withDhcp: boolean) {
  const clock = new VirtualClock()
  const link = new TestLink({ clock, delayMs: 1 })
  const gateway = new Stack({ port: link.b, mac: parseMac('52:55:0a:00:02:02'), clock, ipv4: { address: parseIpv4('10.0.2.2'), netmask: prefixToMask(24) } })
  if (withDhcp) new DhcpServer(gateway, { poolStart: parseIpv4('10.0.2.15'), poolSize: 16, netmask: prefixToMask(24), router: parseIpv4('10.0.2.2'), dns: [parseIpv4('10.0.2.3')] })
  const stop = driveClock(clock, 5)
  cleanups.push(stop, () => gateway.close())
  const lines: string[] = []
  const fs = new MemoryFS({ files: { motd: 'Welcome to honk\n', 'etc/os-release': 'NAME=honk\n' } })
  return { clock, link, gateway, lines, fs, options: { nic: nicOn(link.a), clock, line: (t: string) => lines.push(t), status: () => ({ uptime: '42s', harts: 2 }), fs, http: nodeHttpService } }
}

/** GET `path` from honk's server at 10.0.2.15:80, over the gateway's stack. */
function get(gateway: Stack, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '10.0.2.15', port: 80, path, createConnection: () => new TcpDuplex(gateway.connect(parseIpv4('10.0.2.15'), 80)) as never }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('honk network bring-up (M6)', () => {
  it('gets its address by DHCP, prints the Go honk lines, and serves /, /status.json and /files/ with Node http over our TCP', async () => {
    const s = setup(true)
    const net = await Network.up(s.options)
    cleanups.push(() => net.close())
    expect(s.lines).toEqual(['honk: net up  ip=10.0.2.15/24  gw=10.0.2.2  mac=52:54:00:12:34:56  (DHCP)', 'honk: httpd serving on :80'])
    expect(net.source).toBe('dhcp')
    expect(await get(s.gateway, '/')).toEqual({ status: 200, type: 'text/plain; charset=utf-8', body: 'honk - TypeScript RISC-V64 OS\nuptime 42s\nharts 2\n' })
    const status = await get(s.gateway, '/status.json')
    expect(JSON.parse(status.body)).toMatchObject({ name: 'honk', harts: 2, ip: '10.0.2.15', mac: '52:54:00:12:34:56', source: 'dhcp' })
    expect((await get(s.gateway, '/files/motd')).body).toBe('Welcome to honk\n')
    expect((await get(s.gateway, '/files/etc/')).body).toBe('os-release\n')
    expect((await get(s.gateway, '/files/nope')).status).toBe(404)
    expect((await get(s.gateway, '/files/../motd')).status).toBe(400)
    expect((await get(s.gateway, '/nowhere')).status).toBe(404)
  })

  it('without a DHCP answer it falls back to the static 10.0.2.15/24 via 10.0.2.2 after the wait', async () => {
    const s = setup(false)
    const net = await Network.up({ ...s.options, dhcpWaitMs: 500 })
    cleanups.push(() => net.close())
    expect(s.lines[0]).toBe('honk: net up  ip=10.0.2.15/24  gw=10.0.2.2  mac=52:54:00:12:34:56  (static: no DHCP answer)')
    expect(net.source).toBe('static')
    expect(formatIpv4(net.stack.ipv4!.address)).toBe(formatIpv4(STATIC_FALLBACK.address))
    expect((await get(s.gateway, '/')).body).toContain('harts 2')
  })

  it('fetch takes at most FETCH_MAX_BYTES: a peer that never stops sending gets the connection aborted, not the kernel memory', async () => {
    const s = setup(true)
    const net = await Network.up(s.options)
    cleanups.push(() => net.close())
    const chunk = new Uint8Array(64 * 1024)
    s.gateway.listen(8000).onConnection = (sock) => {
      sock.send(new TextEncoder().encode('HTTP/1.0 200 OK\r\n\r\n'))
      const pump = () => {
        while (sock.state === 'ESTABLISHED' && sock.send(chunk)) {}
      }
      sock.onDrain = pump
      pump()
    }
    await expect(httpGet(net.stack, parseIpv4('10.0.2.2'), 8000, '10.0.2.2', '/')).rejects.toThrow(`larger than ${FETCH_MAX_BYTES >> 20} MiB`)
  }, 60_000)
})
