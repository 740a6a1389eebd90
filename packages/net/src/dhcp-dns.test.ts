import { describe, expect, it } from 'vitest'
import { parseIpv4 as ip, parseMac } from './addr.js'
import { VirtualClock } from './clock.js'
import { DhcpClient, DhcpServer } from './dhcp.js'
import { DnsResolver, DnsResponder } from './dns.js'
import { NetError } from './errors.js'
import { TestLink } from './link.js'
import { Stack } from './stack.js'

const MASK = ip('255.255.255.0')

function net(opts: { loss?: number; seed?: number } = {}) {
  const clock = new VirtualClock()
  const link = new TestLink({ clock, delayMs: 1, ...opts })
  const server = new Stack({ port: link.a, mac: parseMac('52:55:0a:00:02:02'), clock, ipv4: { address: ip('10.0.2.2'), netmask: MASK } })
  const client = new Stack({ port: link.b, mac: parseMac('52:54:00:12:34:56'), clock })
  return { clock, link, server, client }
}

const poolOpts = { poolStart: ip('10.0.2.15'), poolSize: 4, netmask: MASK, router: ip('10.0.2.2'), dns: [ip('10.0.2.3')], leaseSeconds: 600 }

describe('DHCP', () => {
  it('DISCOVER/OFFER/REQUEST/ACK configures the client (address, mask, router, DNS)', async () => {
    const { clock, server, client } = net()
    const srv = new DhcpServer(server, poolOpts)
    const dhcp = new DhcpClient(client)
    dhcp.start()
    const ready = dhcp.ready()
    clock.advance(100)
    expect(await ready).toMatchObject({ address: ip('10.0.2.15'), netmask: MASK, gateway: ip('10.0.2.2'), dns: [ip('10.0.2.3')] })
    expect(client.ipv4).toEqual({ address: ip('10.0.2.15'), netmask: MASK, gateway: ip('10.0.2.2'), dns: [ip('10.0.2.3')] })
    expect(dhcp.state).toBe('bound')
    expect(srv.counters).toMatchObject({ discover: 1, offer: 1, request: 1, ack: 1 })
    expect(srv.leases()).toEqual([{ mac: client.mac, address: ip('10.0.2.15'), expiresInMs: expect.closeTo(600_000 - 100, -2) }])
    // The configured client now answers ping from the server side.
    const rtt = server.ping(ip('10.0.2.15'))
    clock.advance(10)
    expect(await rtt).toBeGreaterThan(0)
    dhcp.stop()
    srv.close()
    clock.runUntilIdle()
    expect(clock.pending).toBe(0)
  })

  it('renews at T1 (unicast), and loses the address when the server is gone past expiry', () => {
    const { clock, server, client } = net()
    const srv = new DhcpServer(server, poolOpts)
    const dhcp = new DhcpClient(client)
    let lost = 0
    dhcp.onLost = () => lost++
    dhcp.start()
    clock.advance(100)
    const first = dhcp.lease!.obtainedAt
    clock.advance(300_000) // T1 = 300 s
    expect(dhcp.state).toBe('bound')
    expect(dhcp.lease!.obtainedAt).toBeGreaterThan(first)
    expect(srv.counters.request).toBe(2)
    srv.close() // server gone: renew, rebind, expire
    clock.advance(300_000 + 600_000)
    expect(lost).toBe(1)
    expect(client.ipv4).toBeUndefined()
    expect(['selecting', 'requesting']).toContain(dhcp.state)
    dhcp.stop()
    expect(clock.pending).toBe(0)
  })

  it('falls back to the static configuration when no server answers', async () => {
    const { clock, client } = net()
    const fallback = { address: ip('10.0.2.15'), netmask: MASK, gateway: ip('10.0.2.2') }
    const dhcp = new DhcpClient(client, { fallback, fallbackAfterMs: 10_000 })
    dhcp.start()
    const ready = dhcp.ready()
    clock.advance(9_999)
    expect(client.ipv4).toBeUndefined()
    clock.advance(1)
    expect(await ready).toEqual(fallback)
    expect(dhcp.state).toBe('fallback')
    expect(client.ipv4).toEqual(fallback)
    expect(clock.pending).toBe(0)
  })

  it('gets a lease over a lossy link (retransmission with backoff)', async () => {
    const { clock, server, client } = net({ loss: 0.3, seed: 42 })
    new DhcpServer(server, poolOpts)
    const dhcp = new DhcpClient(client)
    dhcp.start()
    const ready = dhcp.ready()
    clock.advance(600_000)
    expect((await ready).address).toBe(ip('10.0.2.15'))
  })

  it('the pool hands distinct addresses and refuses when exhausted', () => {
    const clock = new VirtualClock()
    const link = new TestLink({ clock, delayMs: 1 })
    // A hub would be needed for many clients; instead drive the server with one client stack per MAC in turn.
    const server = new Stack({ port: link.a, mac: 1, clock, ipv4: { address: ip('10.0.2.2'), netmask: MASK } })
    const srv = new DhcpServer(server, { ...poolOpts, poolSize: 2 })
    const got: (number | undefined)[] = []
    for (let i = 0; i < 3; i++) {
      const c = new Stack({ port: link.b, mac: 0x020000000100 + i, clock })
      const d = new DhcpClient(c)
      d.start()
      clock.advance(100)
      got.push(d.lease?.address)
      d.stop()
      c.close()
    }
    expect(got).toEqual([ip('10.0.2.15'), ip('10.0.2.16'), undefined])
    expect(srv.counters.exhausted).toBeGreaterThan(0)
  })
})

describe('DNS', () => {
  function dnsNet(opts: { loss?: number } = {}) {
    const { clock, server, client } = net(opts)
    client.configure({ address: ip('10.0.2.15'), netmask: MASK, gateway: ip('10.0.2.2'), dns: [ip('10.0.2.2')] })
    return { clock, server, client }
  }
  const table: Record<string, number[]> = { 'example.com': [ip('93.184.216.34')], 'two.test': [ip('1.1.1.1'), ip('1.0.0.1')] }

  it('resolves A records through the responder; NXDOMAIN rejects with NET_DNS', async () => {
    const { clock, server, client } = dnsNet()
    const responder = new DnsResponder(server, { lookup: async (n) => table[n] ?? [] })
    const r = new DnsResolver(client)
    const one = r.resolve4('example.com')
    const two = r.resolve4('TWO.test.')
    const none = r.resolve4('nope.invalid')
    for (let i = 0; i < 20; i++) {
      clock.advance(5)
      await Promise.resolve()
    }
    expect(await one).toEqual([ip('93.184.216.34')])
    expect(await two).toEqual([ip('1.1.1.1'), ip('1.0.0.1')])
    await expect(none).rejects.toMatchObject({ code: 'NET_DNS' })
    expect(responder.counters).toMatchObject({ queries: 3, answered: 2, nxdomain: 1 })
    r.close()
  })

  it('a lookup that finishes after the responder closed answers nobody and rejects nothing (it was an unhandled rejection)', async () => {
    const { clock, server, client } = dnsNet()
    let finish!: (a: number[]) => void
    const responder = new DnsResponder(server, { lookup: () => new Promise<number[]>((r) => (finish = r)) })
    const r = new DnsResolver(client, { timeoutMs: 1000, attempts: 1 })
    const asked = r.resolve4('example.com').catch((e: unknown) => e)
    for (let i = 0; i < 5; i++) {
      clock.advance(5)
      await Promise.resolve()
    }
    expect(responder.counters.queries).toBe(1)
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => void unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    try {
      responder.close()
      const outBefore = server.counters.udpOut
      finish([ip('93.184.216.34')])
      await new Promise((res) => setTimeout(res, 20))
      expect(unhandled).toEqual([])
      expect(server.counters.udpOut).toBe(outBefore) // no answer left
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    clock.advance(1000)
    expect(await asked).toMatchObject({ code: 'NET_TIMEOUT' })
    r.close()
  })

  it('retries after a timeout and gives up after the attempts with NET_TIMEOUT', async () => {
    const { clock, client } = dnsNet()
    const r = new DnsResolver(client, { timeoutMs: 1000, attempts: 3 })
    const p = r.resolve4('example.com') // the first attempt goes out at once
    clock.advance(2999)
    expect(client.counters.udpOut).toBe(3) // and one more after each 1 s timeout
    clock.advance(1)
    const err = await p.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NetError)
    expect((err as NetError).code).toBe('NET_TIMEOUT')
    expect(client.counters.udpOut).toBe(3)
    expect(clock.pending).toBe(0)
  })

  it('resolves over a lossy link thanks to retries', async () => {
    const { clock, server, client } = dnsNet({ loss: 0.3 })
    new DnsResponder(server, { lookup: async (n) => table[n] ?? [] })
    const r = new DnsResolver(client, { timeoutMs: 500, attempts: 10 })
    const results: Promise<number[]>[] = Array.from({ length: 10 }, () => r.resolve4('example.com'))
    for (let i = 0; i < 200; i++) {
      clock.advance(50)
      await Promise.resolve()
    }
    for (const p of results) expect(await p).toEqual([ip('93.184.216.34')])
  })
})
