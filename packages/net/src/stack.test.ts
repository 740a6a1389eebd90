import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseIpv4 as ip, parseMac } from './addr.js'
import { VirtualClock } from './clock.js'
import { decodeEthernet, encodeEthernet, EtherType } from './ethernet.js'
import { decodeIcmp, IcmpType } from './icmp.js'
import { decodeIpv4, encodeIpv4 } from './ipv4.js'
import { TestLink } from './link.js'
import { PcapWriter, readPcap } from './pcap.js'
import type { FramePort } from './frame-port.js'
import { Stack, type StackOptions } from './stack.js'
import type { TcpSocket } from './tcp/socket.js'

const MASK = ip('255.255.255.0')
const fast = { timings: { minRtoMs: 200, initialRtoMs: 200, delayedAckMs: 40, mslMs: 1000 } }

function pair(opts: { link?: ConstructorParameters<typeof TestLink>[0]; a?: Partial<StackOptions>; b?: Partial<StackOptions> } = {}) {
  const clock = new VirtualClock()
  const link = new TestLink({ clock, delayMs: 1, ...opts.link })
  const a = new Stack({ port: link.a, mac: parseMac('02:00:00:00:00:0a'), clock, ipv4: { address: ip('10.0.0.1'), netmask: MASK }, tcp: fast, ...opts.a })
  const b = new Stack({ port: link.b, mac: parseMac('02:00:00:00:00:0b'), clock, ipv4: { address: ip('10.0.0.2'), netmask: MASK }, tcp: fast, ...opts.b })
  return { clock, link, a, b }
}

describe('Stack: ARP, ICMP, UDP', () => {
  it('resolves by ARP and answers ping; the cache entry expires and is asked for again', async () => {
    const { clock, a, b } = pair({ a: { arp: { ttlMs: 60_000 } } })
    const rtt = a.ping(ip('10.0.0.2'))
    clock.advance(10)
    expect(await rtt).toBe(4) // ARP request + reply, echo request + reply, 1 ms each
    expect(b.counters.echoRequestsIn).toBe(1)
    expect(a.counters.arpRequestsOut).toBe(1)
    expect(a.arpEntries()).toEqual([{ address: ip('10.0.0.2'), mac: b.mac, expiresInMs: 60_000 - 8 }]) // learned at t=2, now t=10
    const again = a.ping(ip('10.0.0.2'))
    clock.advance(10)
    expect(await again).toBe(2) // cached: no ARP
    expect(a.counters.arpRequestsOut).toBe(1)
    clock.advance(60_000)
    const third = a.ping(ip('10.0.0.2'))
    clock.advance(10)
    expect(await third).toBe(4)
    expect(a.counters.arpRequestsOut).toBe(2)
  })

  it('rate-limits ARP requests (one per second per address), bounds the queue, gives up after 3 tries', () => {
    const { clock, a } = pair()
    const s = a.bindUdp(0)
    const sent = Array.from({ length: 40 }, () => s.send(new Uint8Array(10), ip('10.0.0.99'), 9))
    expect(sent.filter(Boolean)).toHaveLength(16) // maxQueued
    expect(a.counters.arpRequestsOut).toBe(1)
    clock.advance(999)
    expect(a.counters.arpRequestsOut).toBe(1)
    clock.advance(10_000)
    expect(a.counters.arpRequestsOut).toBe(3)
    expect(a.counters.arpFailed).toBe(1)
    expect(clock.pending).toBe(0)
  })

  it('UDP datagrams arrive with their origin; an unbound port answers ICMP port unreachable', () => {
    const { clock, a, b } = pair()
    const got: [string, number][] = []
    const sb = b.bindUdp(5000)
    sb.onMessage = (p, from) => got.push([new TextDecoder().decode(p), from.port])
    const sa = a.bindUdp(4000)
    sa.send(new TextEncoder().encode('hello'), ip('10.0.0.2'), 5000)
    sa.send(new TextEncoder().encode('nobody'), ip('10.0.0.2'), 5001)
    clock.advance(20)
    expect(got).toEqual([['hello', 4000]])
    expect(b.counters.udpNoPort).toBe(1)
    expect(b.counters.icmpErrorsOut).toBe(1)
    expect(a.counters.icmpIn).toBe(1)
    expect(() => a.bindUdp(4000)).toThrow(/already bound/)
  })

  it('fragments a large datagram to the MTU and reassembles it on the far side', () => {
    const { clock, link, a, b } = pair({ a: { mtu: 576 } })
    const payload = Uint8Array.from({ length: 5000 }, (_, i) => i * 7)
    let got: Uint8Array | undefined
    b.bindUdp(7).onMessage = (p) => (got = p)
    a.bindUdp(0).send(payload, ip('10.0.0.2'), 7)
    clock.advance(50)
    expect(got).toEqual(payload)
    expect(a.counters.fragmentsOut).toBe(Math.ceil(5008 / 552))
    expect(b.counters.reassembled).toBe(1)
    expect(link.counters.oversize).toBe(0)
  })

  it('routes off-link destinations to the gateway (ARP for the gateway, not the destination)', () => {
    const { clock, a, b } = pair({ a: { ipv4: { address: ip('10.0.0.1'), netmask: MASK, gateway: ip('10.0.0.2') } }, b: { acceptAnyDestination: true } })
    const seen: number[] = []
    b.udpFallback = (_d, _src, dst) => (seen.push(dst), true)
    a.bindUdp(0).send(new Uint8Array([1]), ip('8.8.8.8'), 53)
    clock.advance(20)
    expect(seen).toEqual([ip('8.8.8.8')])
    expect(a.arpEntries().map((e) => e.address)).toEqual([ip('10.0.0.2')])
  })

  it('hostile frames (random bytes, mutated valid frames) never throw and never grow state without bound', () => {
    const { clock, link, a, b } = pair()
    const valid = [
      encodeEthernet({ dst: b.mac, src: a.mac, type: EtherType.IPv4, payload: encodeIpv4({ tos: 0, id: 1, df: false, mf: true, fragmentOffset: 0, ttl: 64, protocol: 17, src: ip('10.0.0.1'), dst: ip('10.0.0.2'), payload: new Uint8Array(64) }) }),
    ]
    let sent = 0
    const inject = (f: Uint8Array) => {
      ;(link.a as unknown as { send(f: Uint8Array): void }).send(f)
      sent++
    }
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })).map(([f, muts]) => {
            const c = f.slice()
            for (const [at, v] of muts) c[14 + (at % (c.length - 14))] = v
            c.set([0, 0, 0, 0, 0, 0x0b], 0) // still addressed to b
            c[0] = 2
            return c
          }),
        ),
        (frame) => {
          expect(() => {
            inject(frame)
            clock.advance(1)
          }).not.toThrow()
        },
      ),
      { numRuns: 2000 },
    )
    expect(sent).toBe(2000)
    expect(b.counters.malformed).toBeGreaterThan(0)
    clock.advance(60_000)
    expect(clock.pending).toBe(0)
  })
})

describe('Stack: TCP over the test link', () => {
  it('connects, carries data both ways, closes; no socket or timer left', async () => {
    const { clock, a, b } = pair()
    const listener = b.listen(80)
    const serverGot: Uint8Array[] = []
    listener.onConnection = (s) => {
      s.onData = (d) => serverGot.push(d)
      s.onEnd = () => {
        s.send(new TextEncoder().encode('bye'))
        s.close()
      }
    }
    const c = a.connect(ip('10.0.0.2'), 80)
    const clientGot: Uint8Array[] = []
    let closed = false
    c.onData = (d) => clientGot.push(d)
    c.onClose = () => (closed = true)
    c.onConnect = () => {
      c.send(new TextEncoder().encode('hello'))
      c.close()
    }
    clock.runUntilIdle()
    expect(new TextDecoder().decode(Buffer.concat(serverGot))).toBe('hello')
    expect(new TextDecoder().decode(Buffer.concat(clientGot))).toBe('bye')
    expect(closed).toBe(true)
    listener.close()
    expect(a.tcp.connections).toHaveLength(0)
    expect(b.tcp.connections).toHaveLength(0)
    expect(clock.pending).toBe(0)
  })

  it("TCP's MSS follows the MTU (MTU − 40, RFC 9293 §3.7.1): at a 64 KiB loopback MTU 1 MiB goes in unfragmented 65495-byte segments, intact", () => {
    const mtu = 65536
    const { clock, link, a, b } = pair({ link: { maxFrame: 14 + mtu }, a: { mtu, tcp: { ...fast, limits: { recvBuffer: 1 << 20, sendBuffer: 1 << 20 } } }, b: { mtu, tcp: { ...fast, limits: { recvBuffer: 1 << 20, sendBuffer: 1 << 20 } } } })
    expect(a.tcp.config.mss).toBe(65495) // an IPv4 packet is at most 65535 bytes, whatever the MTU
    const data = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31) >>> 3)
    const got: Uint8Array[] = []
    const listener = b.listen(80)
    listener.onConnection = (s) => {
      s.onData = (d) => got.push(d.slice())
      s.onEnd = () => s.close()
    }
    const c = a.connect(ip('10.0.0.2'), 80)
    c.onConnect = () => {
      c.send(data)
      c.close()
    }
    clock.runUntilIdle()
    expect(c.congestion.mss).toBe(65495)
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true)
    expect(Math.max(...got.map((g) => g.length))).toBe(65495)
    expect(a.counters.fragmentsOut + b.counters.reassembled + link.counters.oversize).toBe(0)
    listener.close()
    expect(clock.pending).toBe(0)
    // The usual sizes, an explicit MSS wins, and an MTU past 64 KiB is refused.
    expect(pair().a.tcp.config.mss).toBe(1460)
    expect(pair({ a: { mtu: 576 } }).a.tcp.config.mss).toBe(536)
    expect(pair({ a: { mtu: 9000, tcp: { limits: { mss: 1000 } } } }).a.tcp.config.mss).toBe(1000)
    expect(() => pair({ a: { mtu: 65537 } })).toThrow(RangeError)
  })

  it('outgoing frames cut from a shared slab never overlap or change after sending; bytes a paused receiver holds are copied out of the slab', () => {
    const clock = new VirtualClock()
    const link = new TestLink({ clock, delayMs: 1 })
    const kept: Uint8Array[] = []
    const snapshots: Uint8Array[] = []
    const recording: FramePort = {
      send: (f) => {
        kept.push(f)
        snapshots.push(f.slice())
        link.a.send(f)
      },
      onFrame: (h) => link.a.onFrame(h),
    }
    const a = new Stack({ port: recording, mac: parseMac('02:00:00:00:00:0a'), clock, ipv4: { address: ip('10.0.0.1'), netmask: MASK }, tcp: fast })
    const b = new Stack({ port: link.b, mac: parseMac('02:00:00:00:00:0b'), clock, ipv4: { address: ip('10.0.0.2'), netmask: MASK }, tcp: fast })
    let server: TcpSocket | undefined
    const listener = b.listen(80)
    listener.onConnection = (s) => {
      server = s
      s.pause()
    }
    const c = a.connect(ip('10.0.0.2'), 80, { noDelay: true })
    clock.advance(20)
    const sizes = [1, 7, 100, 1460, 3000, 2, 500, 9]
    for (const n of sizes) {
      c.send(new Uint8Array(n).fill(n & 255))
      clock.advance(5)
    }
    clock.advance(500)
    // Every frame is as it was when sent, and frames sharing a buffer occupy disjoint ranges.
    kept.forEach((f, i) => expect(f).toEqual(snapshots[i]))
    const shared = kept.filter((f) => f.byteLength < f.buffer.byteLength)
    expect(shared.length).toBeGreaterThan(sizes.length) // the slab is in use
    for (const f of shared) for (const g of shared) if (f !== g && f.buffer === g.buffer) expect(f.byteOffset + f.byteLength <= g.byteOffset || g.byteOffset + g.byteLength <= f.byteOffset).toBe(true)
    // The paused receiver holds the data; each held chunk is its own buffer, not a view pinning the sender's slab.
    expect(server!.readableLength).toBe(sizes.reduce((x, y) => x + y))
    const held: Uint8Array[] = []
    for (let r = server!.recv(); r; r = server!.recv()) held.push(r)
    expect(held.every((h) => h.buffer.byteLength <= 4 * h.byteLength)).toBe(true)
    expect(Buffer.concat(held).equals(Buffer.concat(sizes.map((n) => new Uint8Array(n).fill(n & 255))))).toBe(true)
    c.abort()
    listener.close()
    clock.runUntilIdle()
    expect(clock.pending).toBe(0)
  })

  const pct = fc.integer({ min: 0, max: 15 }).map((n) => n / 100)
  it('property: over a link that drops, reorders, duplicates and corrupts (up to 15 %), every byte arrives once, in order, and the connection closes', () => {
    fc.assert(
      fc.property(
        fc.record({ loss: pct, reorder: pct, duplicate: pct, corrupt: pct }),
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.integer({ min: 0, max: 200_000 }),
        (conditions, seed, size) => {
          const { clock, a, b, link } = pair({ link: { ...conditions, seed, reorderMs: 5 } })
          const data = Uint8Array.from({ length: size }, (_, i) => (i * 131 + seed) & 255)
          const got: Uint8Array[] = []
          let ended = false
          b.listen(80).onConnection = (s) => {
            s.onData = (d) => got.push(d.slice())
            s.onEnd = () => {
              ended = true
              s.close()
            }
          }
          const c = a.connect(ip('10.0.0.2'), 80)
          let off = 0
          const pump = () => {
            while (off < data.length) {
              const n = Math.min(16384, data.length - off)
              const ok = c.send(data.subarray(off, off + n))
              off += n
              if (!ok) return
            }
            c.close()
          }
          c.onConnect = pump
          c.onDrain = pump
          clock.runUntilIdle(3_600_000)
          expect(link.counters.sent).toBeGreaterThan(size / 1460)
          if (process.env.NET_DEBUG) console.log(size, JSON.stringify(conditions), JSON.stringify(link.counters), clock.now())
          expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true)
          expect(ended).toBe(true)
          expect(a.tcp.connections).toHaveLength(0)
          expect(b.tcp.connections).toHaveLength(0)
          expect(clock.pending).toBe(0)
        },
      ),
      { numRuns: 12, examples: [[{ loss: 0.15, reorder: 0.15, duplicate: 0.15, corrupt: 0.15 }, 7, 200_000]] },
    )
  })

  it('writes a pcap that reads back (and that tcpdump reads, when installed)', () => {
    const chunks: Uint8Array[] = []
    const { clock, a, b } = pair({ link: { pcap: new PcapWriter((c) => chunks.push(c)) } })
    b.listen(80).onConnection = (s) => (s.onEnd = () => s.close())
    const c = a.connect(ip('10.0.0.2'), 80)
    c.onConnect = () => {
      c.send(new Uint8Array(3000))
      c.close()
    }
    void a.ping(ip('10.0.0.2'))
    clock.runUntilIdle()
    const file = Buffer.concat(chunks)
    const { linkType, frames } = readPcap(file)
    expect(linkType).toBe(1)
    const types = frames.map((f) => decodeEthernet(f.frame).type)
    expect(types.filter((t) => t === EtherType.ARP).length).toBeGreaterThanOrEqual(2)
    const icmp = frames.map((f) => decodeEthernet(f.frame)).filter((e) => e.type === EtherType.IPv4).map((e) => decodeIpv4(e.payload)).filter((p) => p.protocol === 1)
    expect(icmp.map((p) => decodeIcmp(p.payload).type)).toEqual([IcmpType.ECHO_REQUEST, IcmpType.ECHO_REPLY])
    let tcpdump = ''
    try {
      tcpdump = execFileSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).trim()
    } catch {
      return // not installed: the read-back above is the check
    }
    const path = join(mkdtempSync(join(tmpdir(), 'honk-pcap-')), 'link.pcap')
    writeFileSync(path, file)
    const out = execFileSync(tcpdump, ['-nn', '-r', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    if (process.env['NET_DEBUG']) console.log(out)
    expect(out.trim().split('\n')).toHaveLength(frames.length)
    expect(out).toMatch(/10\.0\.0\.1\.\d+ > 10\.0\.0\.2\.80: Flags \[S\]/)
    expect(out).toMatch(/ICMP echo request/)
    expect(out).toMatch(/ARP, Request who-has 10\.0\.0\.2/)
  })
})
