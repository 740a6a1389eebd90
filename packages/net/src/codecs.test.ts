import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatIpv4, formatMac, macFromBytes, macToBytes, parseIpv4, parseMac } from './addr.js'
import { decodeArp, encodeArp, type ArpPacket } from './arp.js'
import { VirtualClock } from './clock.js'
import { NetMalformedError } from './errors.js'
import { decodeEthernet, encodeEthernet } from './ethernet.js'
import { decodeIcmp, encodeIcmp } from './icmp.js'
import { decodeIpv4, encodeIpv4, fragmentIpv4, Reassembler, type Ipv4Packet } from './ipv4.js'
import { decodeUdp, encodeUdp } from './udp.js'

const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 })
const ip = fc.integer({ min: 0, max: 2 ** 32 - 1 })
const bytes = (max = 256) => fc.uint8Array({ maxLength: max })

/** Decoding arbitrary bytes either succeeds or throws NetMalformedError, nothing else. */
function onlyMalformed(fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(NetMalformedError)
  }
}

const ipv4Packet = fc.record({
  tos: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 0xffff }),
  df: fc.boolean(),
  mf: fc.boolean(),
  fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((n) => n * 8),
  ttl: fc.integer({ min: 0, max: 255 }),
  protocol: fc.integer({ min: 0, max: 255 }),
  src: ip,
  dst: ip,
  payload: bytes(600),
})

describe('addresses', () => {
  it('IPv4 and MAC text forms round-trip', () => {
    fc.assert(fc.property(ip, (a) => { expect(parseIpv4(formatIpv4(a))).toBe(a) }))
    fc.assert(fc.property(mac, (m) => { expect(parseMac(formatMac(m))).toBe(m) }))
    expect(formatIpv4(parseIpv4('10.0.2.15'))).toBe('10.0.2.15')
    expect(() => parseIpv4('10.0.2.256')).toThrow(NetMalformedError)
  })

  it('macToBytes writes the 48-bit number big-endian at any offset; macFromBytes reads it back', () => {
    fc.assert(
      fc.property(mac, fc.integer({ min: 0, max: 9 }), (m, off) => {
        const out = new Uint8Array(off + 8).fill(0xee)
        macToBytes(m, out, off)
        const want = Array.from({ length: 6 }, (_, i) => Number((BigInt(m) >> BigInt(8 * (5 - i))) & 255n))
        expect([...out.subarray(off, off + 6)]).toEqual(want)
        expect(out[off + 6]).toBe(0xee)
        expect(macFromBytes(out, off)).toBe(m)
      }),
    )
  })
})

describe('Ethernet II', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(mac, mac, fc.integer({ min: 0x600, max: 0xffff }), bytes(), (dst, src, type, payload) => {
        expect(decodeEthernet(encodeEthernet({ dst, src, type, payload }))).toEqual({ dst, src, type, payload })
      }),
    )
  })
  it('decoding arbitrary bytes throws only NetMalformedError', () => {
    fc.assert(fc.property(bytes(40), (b) => onlyMalformed(() => decodeEthernet(b))))
  })
})

describe('ARP', () => {
  it('round-trips requests and replies', () => {
    const arb = fc.record({ op: fc.constantFrom(1, 2), senderMac: mac, senderIp: ip, targetMac: mac, targetIp: ip })
    fc.assert(fc.property(arb, (p: ArpPacket) => { expect(decodeArp(encodeArp(p))).toEqual(p) }))
  })
  it('fuzz: arbitrary and mutated packets throw only NetMalformedError', () => {
    fc.assert(fc.property(bytes(40), (b) => onlyMalformed(() => decodeArp(b))))
  })
})

describe('IPv4', () => {
  it('round-trips headers and payloads; the header checksum verifies', () => {
    fc.assert(
      fc.property(ipv4Packet, (p) => {
        const wire = encodeIpv4(p)
        expect(decodeIpv4(wire)).toEqual(p)
      }),
    )
  })
  it('a flipped header bit is caught by the checksum (or the version/length checks)', () => {
    fc.assert(
      fc.property(ipv4Packet, fc.integer({ min: 0, max: 159 }), (p, bit) => {
        const wire = encodeIpv4(p)
        wire[bit >>> 3]! ^= 1 << (bit & 7)
        expect(() => decodeIpv4(wire)).toThrow(NetMalformedError)
      }),
    )
  })
  it('skips options: a 24-byte header with a NOP option decodes to the same payload', () => {
    const p: Ipv4Packet = { tos: 0, id: 7, df: true, mf: false, fragmentOffset: 0, ttl: 64, protocol: 17, src: 1, dst: 2, payload: new Uint8Array([1, 2, 3]) }
    const plain = encodeIpv4(p)
    const withOpt = new Uint8Array(plain.length + 4)
    withOpt.set(plain.subarray(0, 20))
    withOpt.set([1, 1, 1, 0], 20) // NOP NOP NOP EOL
    withOpt.set(p.payload, 24)
    withOpt[0] = 0x46
    withOpt[2] = 0
    withOpt[3] = withOpt.length
    withOpt[10] = withOpt[11] = 0
    let sum = 0
    for (let i = 0; i < 24; i += 2) sum += (withOpt[i]! << 8) | withOpt[i + 1]!
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
    withOpt[10] = (~sum >>> 8) & 255
    withOpt[11] = ~sum & 255
    expect(decodeIpv4(withOpt).payload).toEqual(p.payload)
  })
  it('fuzz: arbitrary bytes and mutated valid packets throw only NetMalformedError', () => {
    fc.assert(fc.property(bytes(80), (b) => onlyMalformed(() => decodeIpv4(b))))
    fc.assert(
      fc.property(ipv4Packet, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (p, muts) => {
        const wire = encodeIpv4(p)
        for (const [at, v] of muts) wire[at % wire.length] = v
        onlyMalformed(() => decodeIpv4(wire))
      }),
    )
  })
})

describe('IPv4 fragmentation and reassembly', () => {
  const whole = fc.record({
    id: fc.integer({ min: 0, max: 0xffff }),
    payload: fc.uint8Array({ minLength: 0, maxLength: 9000 }),
    mtu: fc.integer({ min: 68, max: 1500 }),
  })
  it('fragments fit the MTU and reassemble to the original, in any order and with duplicates', () => {
    fc.assert(
      fc.property(whole, fc.infiniteStream(fc.nat()), fc.boolean(), ({ id, payload, mtu }, order, dup) => {
        const p: Ipv4Packet = { tos: 0, id, df: false, mf: false, fragmentOffset: 0, ttl: 64, protocol: 17, src: 0x0a000001, dst: 0x0a000002, payload }
        const frags = fragmentIpv4(p, mtu).map((f) => decodeIpv4(encodeIpv4(f)))
        for (const f of frags) expect(20 + f.payload.length).toBeLessThanOrEqual(mtu)
        const shuffled = [...frags]
        const it = order[Symbol.iterator]()
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = it.next().value! % (i + 1)
          ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
        }
        if (dup && shuffled.length > 1) shuffled.splice(1, 0, shuffled[0]!)
        const clock = new VirtualClock()
        const r = new Reassembler(clock)
        const out = shuffled.map((f) => r.input(f)).filter((x) => x !== undefined)
        expect(out).toHaveLength(1)
        expect(out[0]!.payload).toEqual(payload)
        expect(r.usage).toEqual({ datagrams: 0, bytes: 0 })
        expect(clock.pending).toBe(0)
      }),
    )
  })
  it('DF packets larger than the MTU are not fragmented', () => {
    const p: Ipv4Packet = { tos: 0, id: 1, df: true, mf: false, fragmentOffset: 0, ttl: 64, protocol: 17, src: 1, dst: 2, payload: new Uint8Array(2000) }
    expect(fragmentIpv4(p, 1500)).toEqual([])
  })
  it('a hostile fragment stream stays within the count and byte limits, and timers expire', () => {
    const limits = { maxDatagrams: 8, maxBytes: 16 * 1024, maxFragments: 16, timeoutMs: 30_000 }
    const frag = fc.record({
      src: fc.integer({ min: 1, max: 4 }),
      id: fc.integer({ min: 0, max: 40 }),
      fragmentOffset: fc.integer({ min: 0, max: 8000 }).map((n) => n * 8),
      mf: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 1480 }),
    })
    fc.assert(
      fc.property(fc.array(frag, { maxLength: 300 }), (fs) => {
        const clock = new VirtualClock()
        const r = new Reassembler(clock, limits)
        for (const f of fs) {
          r.input({ tos: 0, df: false, ttl: 64, protocol: 17, dst: 9, ...f })
          expect(r.usage.datagrams).toBeLessThanOrEqual(limits.maxDatagrams)
          expect(r.usage.bytes).toBeLessThanOrEqual(limits.maxBytes)
          expect(clock.pending).toBe(r.usage.datagrams)
          clock.advance(10)
        }
        clock.advance(30_000)
        expect(r.usage).toEqual({ datagrams: 0, bytes: 0 })
        expect(clock.pending).toBe(0)
      }),
    )
  })
  it('overlapping fragments drop the datagram', () => {
    const clock = new VirtualClock()
    const r = new Reassembler(clock)
    const base = { tos: 0, df: false, ttl: 64, protocol: 17, src: 1, dst: 2, id: 5 }
    expect(r.input({ ...base, mf: true, fragmentOffset: 0, payload: new Uint8Array(16) })).toBeUndefined()
    expect(r.input({ ...base, mf: false, fragmentOffset: 8, payload: new Uint8Array(16) })).toBeUndefined()
    expect(r.counters.dropped).toBe(1)
    expect(r.usage.datagrams).toBe(0)
  })
})

describe('ICMP', () => {
  it('round-trips and verifies the checksum', () => {
    const arb = fc.record({ type: fc.integer({ min: 0, max: 255 }), code: fc.integer({ min: 0, max: 255 }), rest: ip, payload: bytes() })
    fc.assert(fc.property(arb, (m) => { expect(decodeIcmp(encodeIcmp(m))).toEqual(m) }))
  })
  it('fuzz: arbitrary bytes throw only NetMalformedError', () => {
    fc.assert(fc.property(bytes(40), (b) => onlyMalformed(() => decodeIcmp(b))))
  })
})

describe('UDP', () => {
  const port = fc.integer({ min: 0, max: 0xffff })
  it('round-trips with the pseudo-header checksum; a wrong address fails the check', () => {
    fc.assert(
      fc.property(port, port, bytes(), ip, ip, (srcPort, dstPort, payload, src, dst) => {
        const wire = encodeUdp({ srcPort, dstPort, payload }, src, dst)
        expect(decodeUdp(wire, src, dst)).toEqual({ srcPort, dstPort, payload })
        const other = (dst ^ 0x10) >>> 0
        expect(() => decodeUdp(wire, src, other)).toThrow(NetMalformedError)
      }),
    )
  })
  it('a zero checksum means none (RFC 768)', () => {
    const wire = encodeUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array([9]) }, 1, 2)
    wire[6] = wire[7] = 0
    expect(decodeUdp(wire, 5, 6).payload).toEqual(new Uint8Array([9]))
  })
  it('fuzz: arbitrary bytes throw only NetMalformedError', () => {
    fc.assert(fc.property(bytes(40), ip, ip, (b, s, d) => onlyMalformed(() => decodeUdp(b, s, d))))
  })
})
