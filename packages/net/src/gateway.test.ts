/**
 * The Gateway (a router on a guest's wire): DHCP for the guest, the router's own services, and
 * a socket-level NAT of the guest's TCP and UDP out through an uplink stack. Three stacks on two
 * test links: guest ── gateway (10.0.3.1) ║ uplink (10.0.2.15) ── outside (10.0.2.2).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAC_BROADCAST, parseIpv4 as ip, parseMac } from './addr.js'
import { VirtualClock } from './clock.js'
import { DhcpClient } from './dhcp.js'
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessageType, encodeDhcp, type DhcpMessage } from './dhcp-codec.js'
import { encodeEthernet, EtherType } from './ethernet.js'
import { Gateway } from './gateway.js'
import { encodeIpv4, IpProtocol } from './ipv4.js'
import { TestLink } from './link.js'
import { Stack } from './stack.js'
import { TcpRefusedError } from './tcp/errors.js'
import type { TcpSocket } from './tcp/socket.js'
import { encodeUdp } from './udp.js'

const MASK = ip('255.255.255.0')
const GUEST_MAC = parseMac('52:54:00:00:03:0f')

function world(opts: { uplink?: boolean } = {}) {
  const clock = new VirtualClock()
  const wire = new TestLink({ clock, delayMs: 1 })
  const out = new TestLink({ clock, delayMs: 1 })
  const uplink = new Stack({ port: out.a, mac: parseMac('52:54:00:12:34:56'), clock, ipv4: { address: ip('10.0.2.15'), netmask: MASK, gateway: ip('10.0.2.2'), dns: [ip('10.0.2.3')] } })
  const outside = new Stack({ port: out.b, mac: parseMac('52:55:0a:00:02:02'), clock, ipv4: { address: ip('10.0.2.2'), netmask: MASK } })
  const gateway = new Gateway({ port: wire.a, address: ip('10.0.3.1'), netmask: MASK, poolStart: ip('10.0.3.15'), clock, uplink: () => (opts.uplink === false ? undefined : uplink) })
  const guest = new Stack({ port: wire.b, mac: GUEST_MAC, clock })
  return { clock, wire, gateway, guest, uplink, outside }
}

/** The guest configured by DHCP from the gateway. */
async function leased(w: ReturnType<typeof world>) {
  const dhcp = new DhcpClient(w.guest)
  dhcp.start()
  const ready = dhcp.ready()
  w.clock.advance(100)
  const lease = await ready
  return { dhcp, lease }
}

const settle = async (w: { clock: VirtualClock }, ms = 200) => {
  for (let i = 0; i < ms / 5; i++) {
    w.clock.advance(5)
    await Promise.resolve()
  }
}

describe('Gateway', () => {
  it('hands the guest 10.0.3.15/24 by DHCP, with the gateway as router and the uplink\'s DNS', async () => {
    const w = world()
    const { dhcp, lease } = await leased(w)
    expect(lease).toMatchObject({ address: ip('10.0.3.15'), netmask: MASK, gateway: ip('10.0.3.1'), dns: [ip('10.0.2.3')] })
    expect(dhcp.state).toBe('bound')
    expect(w.gateway.dhcp.counters).toMatchObject({ discover: 1, offer: 1, request: 1, ack: 1 })
    dhcp.stop()
  })

  it("NATs a guest TCP connection to an outside address out through the uplink: the far side sees the uplink's address, bytes both ways, orderly close ends the flow", async () => {
    const w = world()
    await leased(w)
    const seen: { from: string; data: string }[] = []
    const l = w.outside.listen(7000)
    l.onConnection = (s) => {
      let data = ''
      s.onData = (c) => {
        data += new TextDecoder().decode(c)
        s.send(new TextEncoder().encode(data.toUpperCase()))
      }
      s.onEnd = () => {
        seen.push({ from: `${s.remoteAddr === ip('10.0.2.15') ? 'uplink' : s.remoteAddr}`, data })
        s.close()
      }
    }
    const c = w.guest.connect(ip('10.0.2.2'), 7000)
    let got = ''
    let closed: Error | undefined | 'open' = 'open'
    c.onConnect = () => c.send(new TextEncoder().encode('hello honk'))
    c.onData = (d) => (got += new TextDecoder().decode(d))
    c.onClose = (e) => (closed = e)
    await settle(w)
    expect(got).toBe('HELLO HONK')
    expect(w.gateway.counters).toMatchObject({ tcpFlows: 1, activeFlows: 1 })
    c.close()
    await settle(w, 400)
    expect(seen).toEqual([{ from: 'uplink', data: 'hello honk' }])
    w.clock.advance(300_000) // TIME-WAIT and every timer
    await settle(w)
    expect(closed).toBeUndefined() // an orderly close, no error
    expect(w.gateway.counters.activeFlows).toBe(0)
  })

  it('a refused outside port, or no uplink, refuses the guest (RST: connection refused)', async () => {
    for (const uplink of [true, false]) {
      const w = world({ uplink })
      await leased(w)
      const c: TcpSocket = w.guest.connect(ip('10.0.2.2'), 7001)
      let err: Error | undefined
      c.onClose = (e) => (err = e)
      await settle(w)
      expect(err).toBeInstanceOf(TcpRefusedError)
      expect(w.gateway.counters.refused).toBe(1)
      expect(w.gateway.counters.activeFlows).toBe(0)
    }
  })

  it("relays the guest's UDP through the uplink and the answer back from the address the guest sent to", async () => {
    const w = world()
    await leased(w)
    const echo = w.outside.bindUdp(5353)
    const from: number[] = []
    echo.onMessage = (p, r) => {
      from.push(r.address)
      echo.send(p.map((b) => b + 1), r.address, r.port)
    }
    const s = w.guest.bindUdp(4000)
    const got: { data: number[]; from: number; port: number }[] = []
    s.onMessage = (p, r) => got.push({ data: [...p], from: r.address, port: r.port })
    s.send(new Uint8Array([1, 2, 3]), ip('10.0.2.2'), 5353)
    await settle(w)
    expect(from).toEqual([ip('10.0.2.15')])
    expect(got).toEqual([{ data: [2, 3, 4], from: ip('10.0.2.2'), port: 5353 }])
  })

  it('a hostile frame stream (random bytes, truncated and mutated DHCP requests, bogus IPv4) never throws, and a real client still gets its lease afterwards (property)', async () => {
    const discover: DhcpMessage = { op: 1, xid: 0x1234, secs: 0, flags: 0x8000, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: GUEST_MAC, options: { messageType: DhcpMessageType.DISCOVER, parameterRequest: [1, 3, 6] } }
    const udpFrame = (payload: Uint8Array, src = 0, dst = 0xffffffff) =>
      encodeEthernet({ dst: MAC_BROADCAST, src: GUEST_MAC, type: EtherType.IPv4, payload: encodeIpv4({ tos: 0, id: 1, df: false, mf: false, fragmentOffset: 0, ttl: 64, protocol: IpProtocol.UDP, src, dst, payload: encodeUdp({ srcPort: DHCP_CLIENT_PORT, dstPort: DHCP_SERVER_PORT, payload }, src, dst) }) })
    const base = encodeDhcp(discover)
    const hostileDhcp = fc.oneof(
      fc.uint8Array({ maxLength: 600 }), // anything at all on port 67
      fc.integer({ min: 0, max: base.length }).map((n) => base.subarray(0, n)), // truncated
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }).map((muts) => {
        const b = base.slice()
        for (const [at, v] of muts) b[at % b.length] = v
        return b
      }),
      fc.record({ type: fc.integer({ min: 0, max: 255 }), ciaddr: fc.integer({ min: 0, max: 0xffffffff }), req: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }), sid: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }), op: fc.integer({ min: 0, max: 3 }) }).map(({ type, ciaddr, req, sid, op }) =>
        encodeDhcp({ ...discover, op, ciaddr, options: { messageType: type, ...(req !== undefined ? { requestedIp: req } : {}), ...(sid !== undefined ? { serverId: sid } : {}) } }),
      ),
    )
    const frame = fc.oneof(
      hostileDhcp.map((p) => udpFrame(p)),
      fc.tuple(hostileDhcp, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })).map(([p, s, d]) => udpFrame(p, s, d)),
      fc.uint8Array({ maxLength: 200 }), // not even Ethernet
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 0, max: 0xffffffff })).map(([proto, payload, dst]) =>
        encodeEthernet({ dst: parseMac('52:54:00:00:03:01'), src: GUEST_MAC, type: EtherType.IPv4, payload: encodeIpv4({ tos: 0, id: 2, df: false, mf: false, fragmentOffset: 0, ttl: 64, protocol: proto, src: ip('10.0.3.15'), dst, payload }) }),
      ),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 40 }), async (frames) => {
        const w = world()
        for (const f of frames) {
          w.wire.b.send(f)
          w.clock.advance(2)
        }
        w.clock.advance(1000)
        const { lease } = await leased(w)
        expect(lease.address >>> 8).toBe(ip('10.0.3.0') >>> 8)
        w.gateway.close()
      }),
      { numRuns: 150 },
    )
  })
})
