/** The kernel's VM table pieces: a guest console's routing and scrollback, the guest RAM pool. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ArpOp, decodeArp, decodeEthernet, DhcpClient, encodeArp, encodeEthernet, encodeIpv4, encodeUdp, EtherType, IpProtocol, MAC_BROADCAST, parseIpv4, parseMac, prefixToMask, realClock, Stack, TestLink, type FramePort } from '@honk/net'
import { nodeHttpService } from './node.js'
import { GUEST_LINK, GuestRamPool, guestIpArg, guestLink, INPUT_QUEUE, SCROLLBACK, VmConsole } from './vm-table.js'

describe('VmConsole', () => {
  it('keeps what a detached guest writes (the last SCROLLBACK bytes) and shows it on attach, then passes bytes through', () => {
    const c = new VmConsole()
    for (let i = 0; i < SCROLLBACK + 10; i++) c.write(i & 0xff)
    const seen: number[] = []
    c.attach((b) => seen.push(b))
    expect(seen.length).toBe(SCROLLBACK)
    expect(seen[0]).toBe(10 & 0xff) // the oldest 10 were dropped
    c.write(0x41)
    expect(seen.at(-1)).toBe(0x41)
    c.detach()
    c.write(0x42)
    expect(seen.at(-1)).toBe(0x41)
  })

  it('gives typed bytes to the guest in order, -1 when none waits, and drops input past INPUT_QUEUE', () => {
    const c = new VmConsole()
    expect(c.read()).toBe(-1)
    for (let i = 0; i < INPUT_QUEUE + 5; i++) c.type(0x61)
    let n = 0
    while (c.read() >= 0) n++
    expect(n).toBe(INPUT_QUEUE)
  })
})

describe('GuestRamPool', () => {
  it('hands out 2 MiB-aligned pieces that never overlap and stay inside the region; freed RAM is reused (property)', () => {
    const MiB = 1 << 20
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 40 * MiB })), { maxLength: 30 }), (skew, ops) => {
        const base = 0x8200_0000 + skew * 0x1000 // a region not itself 2 MiB-aligned
        const pool = new GuestRamPool({ base, bytes: new Uint8Array(64 * MiB) })
        const live: { region: { base: number; bytes: Uint8Array }; free: () => void }[] = []
        for (const [free, size] of ops) {
          if (free && live.length) {
            live.shift()!.free()
            continue
          }
          const p = pool.alloc(size)
          const fitsSomewhere = p !== undefined
          if (!fitsSomewhere) continue
          expect(p.region.base % (2 * MiB)).toBe(0)
          expect(p.region.bytes.length).toBeGreaterThanOrEqual(size)
          const off = p.region.base - base
          expect(off).toBeGreaterThanOrEqual(0)
          expect(off + p.region.bytes.length).toBeLessThanOrEqual(64 * MiB)
          for (const q of live) expect(p.region.base + p.region.bytes.length <= q.region.base || q.region.base + q.region.bytes.length <= p.region.base).toBe(true)
          live.push(p)
        }
        for (const q of live.splice(0)) q.free()
        expect(pool.inUse).toBe(0)
        expect(pool.alloc(60 * MiB)).toBeDefined() // all of it free again
      }),
      { numRuns: 40 },
    )
  })
})

/** A guest on the link's wire: a @honk/net stack of its own (what Linux's eth0 would be). */
function guestOn(port: FramePort) {
  return new Stack({ port, mac: parseMac('52:54:00:00:03:0f'), clock: realClock })
}

const until = async (ok: () => boolean, ms = 3000) => {
  for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5))
  expect(ok()).toBe(true)
}

/** honk's own interface (10.0.2.15, as the board's user-mode NAT leases it) and a far host at 10.0.2.2, on a test link. */
function outside() {
  const wire = new TestLink({ clock: realClock, delayMs: 0 })
  const uplink = new Stack({ port: wire.a, mac: parseMac('52:54:00:12:34:56'), clock: realClock, ipv4: { address: parseIpv4('10.0.2.15'), netmask: prefixToMask(24), gateway: parseIpv4('10.0.2.2'), dns: [parseIpv4('10.0.2.3')] } })
  const far = new Stack({ port: wire.b, mac: parseMac('52:55:0a:00:02:02'), clock: realClock, ipv4: { address: parseIpv4('10.0.2.2'), netmask: prefixToMask(24) } })
  return { uplink, far }
}

async function leaseOf(guest: Stack) {
  const dhcp = new DhcpClient(guest, { hostname: 'guest' })
  dhcp.start()
  const lease = await Promise.race([dhcp.ready(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))])
  dhcp.stop()
  return lease
}

describe('guestLink', () => {
  it("answers the guest's ARP for 10.0.3.1 from honk's router (the far end of the guest's virtio-net)", async () => {
    const link = await guestLink()
    const got: Uint8Array[] = []
    link.port.onFrame((f) => got.push(f))
    const guestMac = parseMac('52:54:00:00:03:0f')
    link.port.send(encodeEthernet({ dst: MAC_BROADCAST, src: guestMac, type: EtherType.ARP, payload: encodeArp({ op: ArpOp.REQUEST, senderMac: guestMac, senderIp: parseIpv4(GUEST_LINK.guest), targetMac: 0, targetIp: parseIpv4(GUEST_LINK.honk) }) }))
    await until(() => got.length > 0, 200)
    expect(got.length).toBe(1)
    const eth = decodeEthernet(got[0]!)
    expect(eth.dst).toBe(guestMac)
    const arp = decodeArp(eth.payload)
    expect(arp.op).toBe(ArpOp.REPLY)
    expect(arp.senderIp).toBe(parseIpv4(GUEST_LINK.honk))
    await link.close()
  })

  it('gives the guest 10.0.3.15/24 by DHCP (DISCOVER, OFFER, REQUEST, ACK on the wire), router 10.0.3.1 and the DNS of honk\'s own network; the guest asks for it with ip=dhcp', async () => {
    const { uplink } = outside()
    const link = await guestLink({ uplink: () => uplink })
    const guest = guestOn(link.port)
    const lease = await leaseOf(guest)
    expect(lease).toMatchObject({ address: parseIpv4('10.0.3.15'), netmask: prefixToMask(24), gateway: parseIpv4('10.0.3.1'), dns: [parseIpv4('10.0.2.3')] })
    expect(link.gateway.dhcp.counters).toMatchObject({ discover: 1, offer: 1, request: 1, ack: 1 })
    expect(guestIpArg()).toBe('ip=dhcp')
    guest.close()
    await link.close()
  })

  it("serves honk's HTTP routes at 10.0.3.1:80 on the link (the server honk runs on its own network)", async () => {
    const link = await guestLink({ serveHttp: (stack) => nodeHttpService.serve(stack, 80, async (r) => ({ status: 200, contentType: 'text/plain', body: `honk - TypeScript RISC-V64 OS\npath ${r.path}\n` })) })
    const guest = guestOn(link.port)
    await leaseOf(guest)
    const reply = await get(guest, parseIpv4('10.0.3.1'), 80, '/status')
    expect(reply).toMatch(/^HTTP\/1\.[01] 200 OK\r\n/)
    expect(reply).toContain('honk - TypeScript RISC-V64 OS\npath /status\n')
    guest.close()
    await link.close()
  })

  it("NATs the guest's TCP to another address out through honk's own network: a fake outer server sees honk's address (10.0.2.15), bytes flow both ways; with no uplink the guest is refused", async () => {
    const { uplink, far } = outside()
    const from: number[] = []
    const l = far.listen(8080)
    l.onConnection = (s) => {
      from.push(s.remoteAddr)
      s.onData = () => {
        s.send(new TextEncoder().encode('HTTP/1.0 200 OK\r\n\r\nfrom the host'))
        s.close()
      }
    }
    const link = await guestLink({ uplink: () => uplink })
    const guest = guestOn(link.port)
    await leaseOf(guest)
    expect(await get(guest, parseIpv4('10.0.2.2'), 8080, '/')).toBe('HTTP/1.0 200 OK\r\n\r\nfrom the host')
    expect(from).toEqual([parseIpv4('10.0.2.15')])
    expect(link.gateway.counters.tcpFlows).toBe(1)
    guest.close()
    await link.close()
    // honk without a network: the router refuses flows to the outside (the guest's connect fails at once).
    const alone = await guestLink()
    const g2 = guestOn(alone.port)
    await leaseOf(g2)
    await expect(get(g2, parseIpv4('10.0.2.2'), 8080, '/')).rejects.toThrow(/refused/)
    g2.close()
    await alone.close()
  })

  it('a hostile frame stream from the guest (random bytes, broken DHCP, bogus IPv4 to anywhere) never throws out of the link, and a guest still gets its lease afterwards (property)', async () => {
    const { uplink } = outside()
    const guestMac = parseMac('52:54:00:00:03:0f')
    const udp = (payload: Uint8Array, src: number, dst: number, dstPort: number) =>
      encodeEthernet({ dst: MAC_BROADCAST, src: guestMac, type: EtherType.IPv4, payload: encodeIpv4({ tos: 0, id: 7, df: false, mf: false, fragmentOffset: 0, ttl: 64, protocol: IpProtocol.UDP, src, dst, payload: encodeUdp({ srcPort: 68, dstPort, payload }, src, dst) }) })
    const frame = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(67, 53, 80, 9)).map(([p, s, d, port]) => udp(p, s, d, port)),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 0xffffffff })).map(([protocol, payload, dst]) =>
        encodeEthernet({ dst: parseMac('52:54:00:00:03:01'), src: guestMac, type: EtherType.IPv4, payload: encodeIpv4({ tos: 0, id: 8, df: false, mf: false, fragmentOffset: 0, ttl: 64, protocol, src: parseIpv4('10.0.3.15'), dst, payload }) }),
      ),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 30 }), async (frames) => {
        const link = await guestLink({ uplink: () => uplink })
        for (const f of frames) link.port.send(f)
        const guest = guestOn(link.port)
        expect((await leaseOf(guest))?.address).toBe(parseIpv4('10.0.3.15'))
        guest.close()
        await link.close()
      }),
      { numRuns: 40 },
    )
  })
})

/** One HTTP/1.0 GET from the guest's stack: the whole reply as text (rejects when the connection is refused or reset). */
function get(guest: Stack, addr: number, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = guest.connect(addr, port)
    let text = ''
    s.onConnect = () => s.send(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: honk\r\n\r\n`))
    s.onData = (d) => (text += new TextDecoder().decode(d))
    s.onEnd = () => {
      s.close()
      resolve(text)
    }
    s.onClose = (e) => (e ? reject(e) : resolve(text))
  })
}
