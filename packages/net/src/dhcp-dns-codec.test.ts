import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeDhcp, encodeDhcp, type DhcpMessage } from './dhcp-codec.js'
import { decodeDns, DnsType, encodeDns, type DnsMessage, type DnsRecord } from './dns-codec.js'
import { NetMalformedError } from './errors.js'

const ip = fc.integer({ min: 0, max: 2 ** 32 - 1 })
const u8 = fc.integer({ min: 0, max: 255 })
const u16 = fc.integer({ min: 0, max: 0xffff })
function onlyMalformed(fn: () => unknown): void {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(NetMalformedError)
  }
}

const knownCodes = new Set([0, 255, 53, 1, 3, 6, 12, 50, 51, 54, 55, 58, 59])
const dhcpMessage: fc.Arbitrary<DhcpMessage> = fc.record({
  op: fc.constantFrom(1, 2),
  xid: ip,
  secs: u16,
  flags: u16,
  ciaddr: ip,
  yiaddr: ip,
  siaddr: ip,
  giaddr: ip,
  chaddr: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  options: fc.record(
    {
      messageType: fc.integer({ min: 1, max: 8 }),
      subnetMask: ip,
      router: fc.array(ip, { minLength: 1, maxLength: 3 }),
      dns: fc.array(ip, { minLength: 1, maxLength: 3 }),
      hostname: fc.stringMatching(/^[a-z0-9-]{1,30}$/),
      requestedIp: ip,
      leaseTime: ip,
      serverId: ip,
      parameterRequest: fc.array(u8, { minLength: 1, maxLength: 10 }),
      renewalTime: ip,
      rebindingTime: ip,
      other: fc.array(fc.tuple(u8.filter((c) => !knownCodes.has(c)), fc.uint8Array({ maxLength: 20 })), { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: [] },
  ),
})

describe('DHCP codec (RFC 2131/2132)', () => {
  it('round-trips messages with any subset of options', () => {
    fc.assert(
      fc.property(dhcpMessage, (m) => {
        expect(decodeDhcp(encodeDhcp(m))).toEqual(m)
      }),
    )
  })
  it('fuzz: arbitrary bytes and mutated messages throw only NetMalformedError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => onlyMalformed(() => decodeDhcp(b))))
    fc.assert(
      fc.property(dhcpMessage, fc.array(fc.tuple(fc.nat(), u8), { minLength: 1, maxLength: 6 }), fc.nat(), (m, muts, cut) => {
        const b = encodeDhcp(m)
        for (const [at, v] of muts) b[236 + (at % (b.length - 236))] = v // hit the options
        onlyMalformed(() => decodeDhcp(b.subarray(0, b.length - (cut % 40))))
      }),
    )
  })
})

const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/)
const name = fc.array(label, { maxLength: 4 }).map((ls) => ls.join('.'))
const record: fc.Arbitrary<DnsRecord> = fc.oneof(
  fc.record({ name, type: fc.constant(DnsType.A as number), class: fc.constant(1), ttl: ip, address: ip }).map((r) => ({ ...r, data: new Uint8Array([r.address >>> 24, (r.address >>> 16) & 255, (r.address >>> 8) & 255, r.address & 255]) })),
  fc.record({ name, type: u16.filter((t) => t !== DnsType.A), class: u16, ttl: ip, data: fc.uint8Array({ maxLength: 30 }) }),
)
const dnsMessage: fc.Arbitrary<DnsMessage> = fc.record({
  id: u16,
  qr: fc.boolean(),
  opcode: fc.integer({ min: 0, max: 15 }),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  rcode: fc.integer({ min: 0, max: 15 }),
  questions: fc.array(fc.record({ name, type: u16, class: u16 }), { maxLength: 3 }),
  answers: fc.array(record, { maxLength: 3 }),
  authority: fc.array(record, { maxLength: 2 }),
  additional: fc.array(record, { maxLength: 2 }),
})

describe('DNS codec (RFC 1035)', () => {
  it('round-trips messages', () => {
    fc.assert(
      fc.property(dnsMessage, (m) => {
        expect(decodeDns(encodeDns(m))).toEqual(m)
      }),
    )
  })
  it('follows compression pointers; rejects forward and self pointers (no loops)', () => {
    // Question "example.com" at 12, answer name = pointer to 12.
    const q = [7, ...new TextEncoder().encode('example'), 3, ...new TextEncoder().encode('com'), 0, 0, 1, 0, 1]
    const ans = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 2, 2]
    const msg = Uint8Array.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...q, ...ans])
    const d = decodeDns(msg)
    expect(d.answers[0]).toMatchObject({ name: 'example.com', address: 0x0a000202, ttl: 60 })
    const loop = Uint8Array.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1])
    expect(() => decodeDns(loop)).toThrow(NetMalformedError)
  })
  it('fuzz: arbitrary bytes and mutated messages throw only NetMalformedError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyMalformed(() => decodeDns(b))))
    fc.assert(
      fc.property(dnsMessage, fc.array(fc.tuple(fc.nat(), u8), { minLength: 1, maxLength: 4 }), (m, muts) => {
        const b = encodeDns(m)
        for (const [at, v] of muts) b[at % b.length] = v
        onlyMalformed(() => decodeDns(b))
      }),
    )
  })
})
