/** The kernel's VM table pieces: a guest console's routing and scrollback, the guest RAM pool. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ArpOp, decodeArp, decodeEthernet, encodeArp, encodeEthernet, EtherType, MAC_BROADCAST, parseIpv4, parseMac } from '@honk/net'
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

describe('guestLink', () => {
  it("answers the guest's ARP for 10.0.3.1 from honk's own @honk/net stack (the far end of the guest's virtio-net)", async () => {
    const { port } = guestLink()
    const got: Uint8Array[] = []
    port.onFrame((f) => got.push(f))
    const guestMac = parseMac('52:54:00:00:03:0f')
    port.send(encodeEthernet({ dst: MAC_BROADCAST, src: guestMac, type: EtherType.ARP, payload: encodeArp({ op: ArpOp.REQUEST, senderMac: guestMac, senderIp: parseIpv4(GUEST_LINK.guest), targetMac: 0, targetIp: parseIpv4(GUEST_LINK.honk) }) }))
    for (let i = 0; i < 20 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    expect(got.length).toBe(1)
    const eth = decodeEthernet(got[0]!)
    expect(eth.dst).toBe(guestMac)
    const arp = decodeArp(eth.payload)
    expect(arp.op).toBe(ArpOp.REPLY)
    expect(arp.senderIp).toBe(parseIpv4(GUEST_LINK.honk))
    expect(guestIpArg()).toBe('ip=10.0.3.15::10.0.3.1:255.255.255.0::eth0:off')
  })
})
