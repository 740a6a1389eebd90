import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { createServer, get, request, type IncomingMessage, type Server } from 'node:http'
import { connect as netConnect, createServer as createTcpServer, type AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { formatIpv4, parseIpv4 as ip, parseMac } from '../addr.js'
import { VirtualClock } from '../clock.js'
import { DhcpClient } from '../dhcp.js'
import { DnsResolver } from '../dns.js'
import { TestLink } from '../link.js'
import { IpProtocol } from '../ipv4.js'
import { Stack } from '../stack.js'
import { encodeTcpSegment } from '../tcp/segment.js'
import { TcpFlag } from '../tcp/types.js'
import { TcpDuplex } from './duplex.js'
import { parseHostForward, UserNet, type UserNetOptions } from './nat.js'
import { driveClock } from './testing.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function guestBehindNat(opts: Partial<UserNetOptions> = {}) {
  const clock = new VirtualClock()
  const link = new TestLink({ clock, delayMs: 1 })
  const nat = await UserNet.create({ port: link.a, clock, ...opts })
  const guest = new Stack({ port: link.b, mac: parseMac('52:54:00:12:34:56'), clock })
  const stop = driveClock(clock)
  cleanups.push(stop, () => nat.close(), () => guest.close())
  const dhcp = new DhcpClient(guest)
  dhcp.start()
  const lease = await dhcp.ready()
  cleanups.push(() => dhcp.stop())
  return { clock, nat, guest, lease }
}

async function hostHttp(handler: Parameters<typeof createServer>[1]): Promise<Server & { port: number }> {
  const s = createServer(handler!)
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  cleanups.push(() => new Promise((r) => s.close(r)))
  return Object.assign(s, { port: (s.address() as AddressInfo).port })
}

const body = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7919) & 255))
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function guestFetch(guest: Stack, addr: number, port: number, path = '/'): Promise<{ res: IncomingMessage; data: Buffer }> {
  const req = request({ host: formatIpv4(addr), port, path, createConnection: () => new TcpDuplex(guest.connect(addr, port)) })
  req.end()
  const [res] = (await once(req, 'response')) as [IncomingMessage]
  const chunks: Buffer[] = []
  for await (const c of res) chunks.push(c as Buffer)
  return { res, data: Buffer.concat(chunks) }
}

describe('UserNet (user-mode NAT)', () => {
  it('gives the guest 10.0.2.15/24 by DHCP with router 10.0.2.2 and DNS 10.0.2.3; answers ping to the gateway; DNS goes to the host resolver', async () => {
    const { guest, lease } = await guestBehindNat()
    expect(lease).toMatchObject({ address: ip('10.0.2.15'), netmask: ip('255.255.255.0'), gateway: ip('10.0.2.2'), dns: [ip('10.0.2.3')] })
    expect(await guest.ping(ip('10.0.2.2'))).toBeGreaterThan(0)
    expect(await guest.ping(ip('10.0.2.3'))).toBeGreaterThan(0)
    const r = new DnsResolver(guest)
    expect(await r.resolve4('localhost')).toEqual([ip('127.0.0.1')])
    await expect(r.resolve4('no-such-host.invalid')).rejects.toMatchObject({ code: 'NET_DNS' })
    r.close()
  })

  it('turns guest TCP flows into host sockets: the guest fetches from an HTTP server on the host loopback (0 B..2 MiB, checksums equal)', async () => {
    const srv = await hostHttp((req, res) => res.end(body(Number(req.url!.slice(1)))))
    const { guest, nat } = await guestBehindNat()
    for (const n of [0, 1, 1460, 100_000, 2 << 20]) {
      const { res, data } = await guestFetch(guest, ip('10.0.2.2'), srv.port, `/${n}`)
      expect(res.statusCode).toBe(200)
      expect(sha(data)).toBe(sha(body(n)))
    }
    expect(nat.counters.tcpFlows).toBe(5)
    for (let i = 0; i < 100 && nat.counters.activeFlows > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(nat.counters.activeFlows).toBe(0)
  })

  it('a host port that refuses makes the guest connection refused (RST), not hang', async () => {
    const probe = createTcpServer().listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const closedPort = (probe.address() as AddressInfo).port
    await new Promise((r) => probe.close(r))
    const { guest, nat } = await guestBehindNat()
    const sock = guest.connect(ip('10.0.2.2'), closedPort)
    const [err] = (await new Promise((r) => (sock.onClose = (e) => r([e])))) as [Error | undefined]
    expect(err).toMatchObject({ code: 'TCP_REFUSED' })
    expect(nat.counters.hostConnectFailed).toBe(1)
  })

  it('relays UDP through a host dgram socket; the reply comes from the address the guest used', async () => {
    const echo = createSocket('udp4')
    echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address))
    echo.bind(0, '127.0.0.1')
    await once(echo, 'listening')
    cleanups.push(() => echo.close())
    const { guest } = await guestBehindNat()
    const s = guest.bindUdp(0)
    const reply = new Promise<[string, number, number]>((r) => (s.onMessage = (p, from) => r([Buffer.from(p).toString(), from.address, from.port])))
    s.send(Buffer.from('hi'), ip('10.0.2.2'), echo.address().port)
    expect(await reply).toEqual(['echo:hi', ip('10.0.2.2'), echo.address().port])
  })

  it('forwards a host port into the guest (hostfwd=tcp:127.0.0.1:0-:80): Node http.get on the host reaches an http.Server in the guest', async () => {
    const { guest, nat } = await guestBehindNat({ hostForwards: ['tcp:127.0.0.1:0-:80'] })
    const server = createServer((req, res) => res.end(`guest saw ${req.socket.remoteAddress} ${req.url}`))
    guest.listen(80).onConnection = (sock) => server.emit('connection', new TcpDuplex(sock))
    const [fwd] = nat.forwards()
    expect(fwd).toMatchObject({ hostAddress: '127.0.0.1', guestAddress: ip('10.0.2.15'), guestPort: 80 })
    const res = await new Promise<IncomingMessage>((r) => get({ host: '127.0.0.1', port: fwd!.hostPort, path: '/x' }, r))
    const chunks: Buffer[] = []
    for await (const c of res) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('guest saw 10.0.2.2 /x')
    expect(nat.counters.forwardedConnections).toBe(1)
  })

  it('a port forward hammered by 400 short connections in a row (curl in a loop) serves them all: closed flows in TIME-WAIT never exhaust the gateway', async () => {
    const { guest, nat } = await guestBehindNat({ hostForwards: ['tcp:127.0.0.1:0-:80'], maxFlows: 16 })
    const server = createServer((_req, res) => res.end('ok'))
    guest.listen(80).onConnection = (sock) => server.emit('connection', new TcpDuplex(sock))
    const port = nat.forwards()[0]!.hostPort
    // Each client closes first, as curl does after a keep-alive response: the gateway's side of
    // every flow then sits in TIME-WAIT for 2·MSL.
    for (let i = 0; i < 400; i++) {
      const text = await new Promise<string>((resolve, reject) => {
        const c = netConnect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
        let got = ''
        c.setEncoding('utf8')
        c.on('data', (d: string) => {
          got += d
          if (got.endsWith('\r\n\r\nok')) {
            c.end()
            resolve(got)
          }
        })
        c.on('error', reject)
      })
      expect(text).toMatch(/^HTTP\/1\.1 200 OK/)
    }
    expect(nat.counters.forwardedConnections).toBe(400)
    expect(nat.counters.refusedByLimit).toBe(0)
  }, 60_000)

  it('limits flows per guest: past maxFlows new connections are refused, and the host sees no more than the limit', async () => {
    let hostConnections = 0
    const holder = createTcpServer((s) => {
      hostConnections++
      s.on('error', () => {})
    })
    holder.listen(0, '127.0.0.1')
    await once(holder, 'listening')
    cleanups.push(() => new Promise((r) => holder.close(r)))
    const port = (holder.address() as AddressInfo).port
    const { guest, nat } = await guestBehindNat({ maxFlows: 3 })
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, i) => {
        const s = guest.connect(ip('10.0.2.2'), port)
        cleanups.unshift(() => s.abort())
        return new Promise<string>((r) => {
          s.onConnect = () => r('connected')
          s.onClose = (e) => r((e as { code?: string } | undefined)?.code ?? `closed${i}`)
        })
      }),
    )
    expect(outcomes.filter((o) => o === 'connected')).toHaveLength(3)
    expect(outcomes.filter((o) => o === 'TCP_REFUSED')).toHaveLength(2)
    expect(nat.counters.refusedByLimit).toBe(2)
    expect(hostConnections).toBeLessThanOrEqual(3)
  })

  it('a guest that stops reading cannot make the NAT buffer more than the flow limit: the host sender is stalled instead', async () => {
    let hostWritable = true
    let sent = 0
    const chunk = Buffer.alloc(64 * 1024)
    const pusher = createTcpServer((s) => {
      s.on('error', () => {})
      const pump = () => {
        while ((hostWritable = s.write(chunk))) if ((sent += chunk.length) > 64 << 20) return
        sent += chunk.length
        s.once('drain', pump)
      }
      pump()
    })
    pusher.listen(0, '127.0.0.1')
    await once(pusher, 'listening')
    cleanups.push(() => new Promise((r) => pusher.close(r)))
    const flowBufferBytes = 128 * 1024
    const { guest, nat } = await guestBehindNat({ flowBufferBytes })
    const s = guest.connect(ip('10.0.2.2'), (pusher.address() as AddressInfo).port)
    cleanups.unshift(() => s.abort())
    let got = 0
    s.onData = (d) => {
      got += d.length
      if (got > 256 * 1024) s.pause() // the guest application stops reading
    }
    await new Promise((r) => setTimeout(r, 1500))
    expect(hostWritable).toBe(false)
    expect(sent).toBeLessThan(64 << 20)
    // TCP send + receive buffers and two stream high-water marks per direction, plus one chunk in flight.
    expect(nat.bufferedBytes()).toBeLessThanOrEqual(6 * flowBufferBytes + chunk.length)
    expect(got).toBeLessThan(256 * 1024 + 2 * flowBufferBytes)
  })

  it('a SYN flood from the guest is bounded by maxFlows: the host never sees more connections, and state drains afterwards', async () => {
    let hostConnections = 0
    let open = 0
    const target = createTcpServer((s) => {
      hostConnections++
      open++
      s.on('close', () => open--)
      s.on('error', () => {})
    })
    target.listen(0, '127.0.0.1')
    await once(target, 'listening')
    cleanups.push(() => new Promise((r) => target.close(r)))
    const port = (target.address() as AddressInfo).port
    const maxFlows = 8
    const { guest, nat, lease, clock } = await guestBehindNat({ maxFlows })
    let peak = 0
    for (let i = 0; i < 500; i++) {
      // Forged SYNs from ports nobody listens on: the guest's own stack answers the SYN-ACKs with RST.
      const syn = { srcPort: 20000 + i, dstPort: port, seq: i * 7919, ack: 0, flags: TcpFlag.SYN, window: 65535, urgent: 0, options: { mss: 1460 }, payload: new Uint8Array(0) }
      guest.sendIpv4(IpProtocol.TCP, lease.address, ip('10.0.2.2'), encodeTcpSegment(syn, lease.address, ip('10.0.2.2')))
      peak = Math.max(peak, nat.counters.activeFlows)
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    const floodEnd = clock.now()
    for (let i = 0; i < 300 && (nat.counters.activeFlows > 0 || open > 0); i++) await new Promise((r) => setTimeout(r, 10))
    // Half-open flows end when the guest's RST kills them (checked every 2 s), not at the 75 s handshake deadline.
    expect(clock.now() - floodEnd).toBeLessThan(20_000)
    expect(peak).toBeLessThanOrEqual(maxFlows)
    expect(nat.counters.refusedByLimit).toBeGreaterThan(0)
    expect(nat.counters.activeFlows).toBe(0)
    expect(open).toBe(0)
    expect(hostConnections).toBeLessThanOrEqual(500)
    expect(nat.stack.tcp.connections).toHaveLength(0)
  })

  it('restrict: no outbound flows', async () => {
    const srv = await hostHttp((_q, res) => res.end('x'))
    const { guest } = await guestBehindNat({ restrict: true })
    const sock = guest.connect(ip('10.0.2.2'), srv.port)
    const [err] = (await new Promise((r) => (sock.onClose = (e) => r([e])))) as [Error | undefined]
    expect(err).toMatchObject({ code: 'TCP_REFUSED' })
  })

  it('parses QEMU hostfwd specs', () => {
    expect(parseHostForward('tcp:127.0.0.1:8080-:80')).toEqual({ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 })
    expect(parseHostForward('tcp::2222-10.0.2.15:22')).toEqual({ protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: ip('10.0.2.15'), guestPort: 22 })
    expect(() => parseHostForward('udp::53-:53')).toThrow(/only tcp/)
    expect(() => parseHostForward('8080:80')).toThrow(/expected/)
    expect(() => parseHostForward('tcp::99999-:80')).toThrow(/host port 99999 is not 0\.\.65535/)
    expect(() => parseHostForward('tcp::8080-:0')).toThrow(/guest port 0 is not 1\.\.65535/)
    expect(() => parseHostForward('tcp::8080-:70000')).toThrow(/guest port 70000/)
  })
})
