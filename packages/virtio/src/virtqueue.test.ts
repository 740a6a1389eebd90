import { MemoryBlockDevice } from '@honk/block'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BLK_T, VirtioBlk } from './blk.js'
import { FEATURE, INTERRUPT, MMIO, STATUS, VIRTQ_DESC_F } from './constants.js'
import { VirtioConsole } from './console.js'
import type { VirtioDevice } from './device.js'
import { IrqRecorder, blkHeader } from './harness.test-helpers.js'
import { RamGuestMemory, type GuestMemory } from './memory.js'
import { VirtioMmio } from './mmio.js'
import { VirtioNet, loopbackPair } from './net.js'
import { VirtioP9 } from './p9.js'
import { RequestDevice } from './request.js'
import { VirtioRng } from './rng.js'

const BASE = 0x4000_0000
const RAM = 0x10000
/** Region A: rings and indirect tables. Region B (from DATA): buffers. */
const DESC = BASE
const AVAIL = BASE + 0x1000
const INDIRECT = BASE + 0x2000
const USED = BASE + 0x3000
const DATA = BASE + 0x4000

/** RAM that records every write and flags any attempt outside RAM or into a forbidden range. */
class WatchedMemory implements GuestMemory {
  readonly inner = new RamGuestMemory(new Uint8Array(RAM), BASE)
  readonly violations: string[] = []
  forbidden: [number, number][] = []
  contains(addr: number, length: number): boolean {
    return this.inner.contains(addr, length)
  }
  read(addr: number, dst: Uint8Array): boolean {
    return this.inner.read(addr, dst)
  }
  write(addr: number, src: Uint8Array): boolean {
    if (!this.inner.contains(addr, src.length)) this.violations.push(`write attempt outside RAM at 0x${addr.toString(16)}+${src.length}`)
    for (const [a, b] of this.forbidden) if (addr < b && a < addr + src.length) this.violations.push(`write into [0x${a.toString(16)}, 0x${b.toString(16)}) at 0x${addr.toString(16)}+${src.length}`)
    return this.inner.write(addr, src)
  }
  u16(addr: number, v: number) {
    this.inner.write(addr, Uint8Array.of(v & 0xff, (v >> 8) & 0xff))
  }
  desc(table: number, i: number, addr: number | bigint, len: number, flags: number, next: number) {
    const b = new Uint8Array(16)
    const v = new DataView(b.buffer)
    v.setBigUint64(0, BigInt.asUintN(64, BigInt(addr)), true)
    v.setUint32(8, len >>> 0, true)
    v.setUint16(12, flags, true)
    v.setUint16(14, next, true)
    this.inner.write(table + 16 * i, b)
  }
  readU16(addr: number): number {
    const b = new Uint8Array(2)
    this.inner.read(addr, b)
    return b[0]! | (b[1]! << 8)
  }
  readU32(addr: number): number {
    const b = new Uint8Array(4)
    this.inner.read(addr, b)
    return new DataView(b.buffer).getUint32(0, true)
  }
}

/** A transport set up by raw register writes, queue 0 at the fixed layout above. */
function rawRig(device: VirtioDevice, size: number, features: bigint) {
  const memory = new WatchedMemory()
  const irq = new IrqRecorder()
  const errors: string[] = []
  const t = new VirtioMmio(device, { memory, irq, onError: (e) => errors.push(e.message) })
  const w = (o: number, v: number) => t.write(o, 4, BigInt(v))
  w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER)
  w(MMIO.DriverFeaturesSel, 0)
  w(MMIO.DriverFeatures, Number(features & 0xffff_ffffn))
  w(MMIO.DriverFeaturesSel, 1)
  w(MMIO.DriverFeatures, Number(features >> 32n))
  w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK)
  for (let q = 0; q < device.queueSizes.length; q++) {
    w(MMIO.QueueSel, q)
    // Only queue 0 sits at the watched layout; other queues get small rings in region B's tail.
    const off = 0xc000 + q * 0x800
    w(MMIO.QueueNum, q === 0 ? size : 1)
    w(MMIO.QueueDescLow, q === 0 ? DESC : BASE + off)
    w(MMIO.QueueDriverLow, q === 0 ? AVAIL : BASE + off + 0x100)
    w(MMIO.QueueDeviceLow, q === 0 ? USED : BASE + off + 0x200)
    w(MMIO.QueueReady, 1)
  }
  w(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK)
  return { memory, irq, t, errors, notify: (q = 0) => w(MMIO.QueueNotify, q) }
}

const echo = () => new RequestDevice({ name: 'echo', deviceId: 0x7f, queueSize: 256, handler: (req, room) => req.subarray(0, Math.min(req.length, room)) })
const usedEntry = (m: WatchedMemory, i: number) => ({ id: m.readU32(USED + 4 + 8 * i), len: m.readU32(USED + 8 + 8 * i) })
const ALL = FEATURE.VERSION_1 | FEATURE.RING_INDIRECT_DESC | FEATURE.RING_EVENT_IDX

describe('split virtqueue, device side', () => {
  it('walks a direct chain and an indirect one; writes used entries', () => {
    const r = rawRig(echo(), 8, ALL)
    const m = r.memory
    m.inner.write(DATA, new TextEncoder().encode('hello'))
    m.desc(DESC, 0, DATA, 5, VIRTQ_DESC_F.NEXT, 3)
    m.desc(DESC, 3, DATA + 0x100, 16, VIRTQ_DESC_F.WRITE, 0)
    m.desc(DESC, 1, INDIRECT, 32, VIRTQ_DESC_F.INDIRECT, 0)
    m.desc(INDIRECT, 0, DATA, 5, VIRTQ_DESC_F.NEXT, 1)
    m.desc(INDIRECT, 1, DATA + 0x200, 16, VIRTQ_DESC_F.WRITE, 0)
    m.u16(AVAIL + 4, 0)
    m.u16(AVAIL + 6, 1)
    m.u16(AVAIL + 2, 2)
    r.notify()
    expect(m.readU16(USED + 2)).toBe(2)
    expect(usedEntry(m, 0)).toEqual({ id: 0, len: 5 })
    expect(usedEntry(m, 1)).toEqual({ id: 1, len: 5 })
    const out = new Uint8Array(5)
    m.inner.read(DATA + 0x200, out)
    expect(new TextDecoder().decode(out)).toBe('hello')
    expect(r.irq.level).toBe(true)
    expect(r.errors).toEqual([])
  })

  const bad: [string, (m: WatchedMemory) => void, RegExp][] = [
    ['a loop', (m) => (m.desc(DESC, 0, DATA, 4, VIRTQ_DESC_F.NEXT, 1), m.desc(DESC, 1, DATA, 4, VIRTQ_DESC_F.NEXT, 0)), /loop/],
    ['a self loop in an indirect table', (m) => (m.desc(DESC, 0, INDIRECT, 16, VIRTQ_DESC_F.INDIRECT, 0), m.desc(INDIRECT, 0, DATA, 4, VIRTQ_DESC_F.NEXT, 0)), /loop/],
    ['a nested indirect table', (m) => (m.desc(DESC, 0, INDIRECT, 16, VIRTQ_DESC_F.INDIRECT, 0), m.desc(INDIRECT, 0, INDIRECT, 16, VIRTQ_DESC_F.INDIRECT, 0)), /nested/],
    ['an indirect table of odd length', (m) => m.desc(DESC, 0, INDIRECT, 17, VIRTQ_DESC_F.INDIRECT, 0), /multiple of 16/],
    ['INDIRECT with NEXT', (m) => m.desc(DESC, 0, INDIRECT, 16, VIRTQ_DESC_F.INDIRECT | VIRTQ_DESC_F.NEXT, 1), /NEXT/],
    ['a buffer outside RAM', (m) => m.desc(DESC, 0, BASE + RAM - 4, 8, VIRTQ_DESC_F.WRITE, 0), /not in RAM/],
    ['a buffer at 2^64 - 8', (m) => m.desc(DESC, 0, 2n ** 64n - 8n, 8, VIRTQ_DESC_F.WRITE, 0), /not in RAM/],
    ['a 4 GiB length', (m) => m.desc(DESC, 0, DATA, 0xffff_ffff, VIRTQ_DESC_F.WRITE, 0), /not in RAM/],
    ['next outside the table', (m) => m.desc(DESC, 0, DATA, 4, VIRTQ_DESC_F.NEXT, 8), /outside/],
    ['readable after writable', (m) => (m.desc(DESC, 0, DATA, 4, VIRTQ_DESC_F.WRITE | VIRTQ_DESC_F.NEXT, 1), m.desc(DESC, 1, DATA, 4, 0, 0)), /readable descriptor after/],
    ['an indirect table outside RAM', (m) => m.desc(DESC, 0, BASE + RAM - 16, 32, VIRTQ_DESC_F.INDIRECT, 0), /not in RAM/],
  ]
  for (const [what, setup, message] of bad) {
    it(`fails the request, writes nothing into it and carries on: ${what}`, () => {
      const r = rawRig(echo(), 8, ALL)
      const m = r.memory
      m.forbidden = [[BASE, USED], [USED + 0x100, BASE + RAM]]
      setup(m)
      m.u16(AVAIL + 4, 0)
      m.u16(AVAIL + 2, 1)
      r.notify()
      expect(m.violations).toEqual([])
      expect(m.readU16(USED + 2)).toBe(1)
      expect(usedEntry(m, 0)).toEqual({ id: 0, len: 0 })
      expect(r.errors.some((e) => message.test(e))).toBe(true)
      expect(r.t.status & STATUS.DEVICE_NEEDS_RESET).toBe(0)
      // The next (good) request is served.
      m.forbidden = []
      m.desc(DESC, 2, DATA, 1, VIRTQ_DESC_F.NEXT, 3)
      m.desc(DESC, 3, DATA + 0x100, 1, VIRTQ_DESC_F.WRITE, 0)
      m.u16(AVAIL + 6, 2)
      m.u16(AVAIL + 2, 2)
      r.notify()
      expect(usedEntry(m, 1)).toEqual({ id: 2, len: 1 })
    })
  }

  it('refuses INDIRECT when the feature was not negotiated', () => {
    const r = rawRig(echo(), 8, FEATURE.VERSION_1)
    r.memory.desc(DESC, 0, INDIRECT, 16, VIRTQ_DESC_F.INDIRECT, 0)
    r.memory.u16(AVAIL + 2, 1)
    r.notify()
    expect(usedEntry(r.memory, 0)).toEqual({ id: 0, len: 0 })
    expect(r.errors.join()).toMatch(/RING_INDIRECT_DESC/)
  })

  it('sets DEVICE_NEEDS_RESET with a config interrupt when the ring itself is broken', () => {
    for (const setup of [(m: WatchedMemory) => m.u16(AVAIL + 2, 9), (m: WatchedMemory) => (m.u16(AVAIL + 4, 8), m.u16(AVAIL + 2, 1))]) {
      const r = rawRig(echo(), 8, ALL)
      setup(r.memory)
      r.notify()
      expect(r.t.status & STATUS.DEVICE_NEEDS_RESET).toBe(STATUS.DEVICE_NEEDS_RESET)
      expect(r.t.interruptStatus & INTERRUPT.CONFIG_CHANGE).toBe(INTERRUPT.CONFIG_CHANGE)
      expect(r.irq.level).toBe(true)
      expect(r.memory.readU16(USED + 2)).toBe(0)
      // Only a reset clears it.
      r.t.write(MMIO.Status, 4, BigInt(r.t.status & ~STATUS.DEVICE_NEEDS_RESET))
      expect(r.t.status & STATUS.DEVICE_NEEDS_RESET).toBe(STATUS.DEVICE_NEEDS_RESET)
      r.t.write(MMIO.Status, 4, 0n)
      expect(r.t.status).toBe(0)
      expect(r.irq.level).toBe(false)
    }
  })

  it('suppresses interrupts: VIRTQ_AVAIL_F_NO_INTERRUPT, and used_event with EVENT_IDX', () => {
    const plain = rawRig(echo(), 8, FEATURE.VERSION_1)
    plain.memory.u16(AVAIL, 1) // NO_INTERRUPT
    plain.memory.desc(DESC, 0, DATA, 1, VIRTQ_DESC_F.NEXT, 1)
    plain.memory.desc(DESC, 1, DATA + 16, 1, VIRTQ_DESC_F.WRITE, 0)
    plain.memory.u16(AVAIL + 2, 1)
    plain.notify()
    expect(plain.memory.readU16(USED + 2)).toBe(1)
    expect(plain.irq.level).toBe(false)

    const ev = rawRig(echo(), 8, ALL)
    const m = ev.memory
    m.desc(DESC, 0, DATA, 1, VIRTQ_DESC_F.NEXT, 1)
    m.desc(DESC, 1, DATA + 16, 1, VIRTQ_DESC_F.WRITE, 0)
    m.u16(AVAIL + 4 + 2 * 8, 1) // used_event = 1: interrupt once used.idx passes 1 (i.e. after the 2nd)
    m.u16(AVAIL + 2, 1)
    ev.notify()
    expect(ev.irq.level).toBe(false)
    expect(m.readU16(USED + 4 + 8 * 8)).toBe(1) // avail_event published
    m.u16(AVAIL + 6, 0)
    m.u16(AVAIL + 2, 2)
    ev.notify()
    expect(ev.irq.level).toBe(true)
  })

  it('hostile descriptor tables and available rings: no throw, no write outside RAM or into the rings (property)', async () => {
    // Numbers are mostly "sane" (reduced modulo the queue size in the run) and sometimes raw
    // 16-bit garbage, so that runs get past the ring checks into the chains and the devices.
    const num = fc.oneof({ weight: 9, arbitrary: fc.nat(0xffff).map((v) => ({ sane: true, v })) }, { weight: 1, arbitrary: fc.nat(0xffff).map((v) => ({ sane: false, v })) })
    const flagsNoIndirect = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(0, 1, 2, 3) }, { weight: 1, arbitrary: fc.nat(0xffff).map((f) => f & ~VIRTQ_DESC_F.INDIRECT) })
    const hostileAddr = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: RAM - 0x4000 - 1 }).map((o) => DATA + o) },
      { weight: 1, arbitrary: fc.constantFrom(0, BASE - 16, BASE + RAM, BASE + RAM - 8, 2 ** 40, 2 ** 53 - 1) },
      { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
    )
    const len = fc.oneof({ weight: 8, arbitrary: fc.nat(0x400) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 16, 0x3000, 0x8000_0000, 0xffff_ffff) })
    const bufferDesc = fc.record({ addr: hostileAddr, len, flags: flagsNoIndirect, next: num })
    const indirectDesc = fc.record({
      addr: fc.oneof({ weight: 4, arbitrary: fc.nat(255).map((k) => INDIRECT + 16 * k) }, { weight: 1, arbitrary: hostileAddr }),
      len: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 16 }).map((n) => 16 * n) }, { weight: 1, arbitrary: len }),
      flags: fc.oneof(fc.constant(VIRTQ_DESC_F.INDIRECT), fc.nat(0xffff).map((f) => f | VIRTQ_DESC_F.INDIRECT)),
      next: num,
    })
    const desc = fc.oneof({ weight: 5, arbitrary: bufferDesc }, { weight: 1, arbitrary: indirectDesc })
    const scenario = fc.record({
      kind: fc.constantFrom('echo', 'rng', 'blk', 'p9', 'console', 'net'),
      logSize: fc.integer({ min: 0, max: 8 }),
      features: fc.constantFrom(FEATURE.VERSION_1, ALL, FEATURE.VERSION_1 | FEATURE.RING_INDIRECT_DESC),
      table: fc.array(desc, { minLength: 1, maxLength: 256 }),
      indirect: fc.array(desc, { maxLength: 64 }),
      availFlags: fc.nat(1),
      ring: fc.array(fc.oneof({ weight: 49, arbitrary: fc.nat(0xffff).map((v) => ({ sane: true, v })) }, { weight: 1, arbitrary: fc.nat(0xffff).map((v) => ({ sane: false, v })) }), { minLength: 1, maxLength: 256 }),
      /** Lay descriptors out as (readable → writable) pairs, as drivers do, keeping the hostile addresses and lengths. */
      pairs: fc.boolean(),
      idx: fc.array(num, { minLength: 1, maxLength: 3 }),
      usedEvent: num,
      data: fc.uint8Array({ maxLength: 256 }),
    })
    const stats = { runs: 0, needsReset: 0, completedWithData: 0, chainErrors: 0 }
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const blk = new VirtioBlk(new MemoryBlockDevice(16))
        const p9 = new VirtioP9('share', async (req) => req.slice(0, 16))
        const [a] = loopbackPair()
        const device = { echo: echo(), rng: new VirtioRng(), blk, p9, console: new VirtioConsole(() => {}), net: new VirtioNet(a) }[s.kind]
        const size = Math.min(1 << s.logSize, device.queueSizes[0]!)
        const r = rawRig(device, size, s.features)
        const m = r.memory
        /** A sane number lands in 0..limit-1; a raw one stays as it is. */
        const pick = (n: { sane: boolean; v: number }, limit: number) => (n.sane ? n.v % limit : n.v)
        // Requests carry the data (for blk, often a plausible header).
        m.inner.write(DATA, s.data)
        if (s.kind === 'blk' && s.data.length % 2) m.inner.write(DATA, blkHeader(s.data.length % 3 === 0 ? BLK_T.IN : BLK_T.OUT, s.data[0] ?? 0))
        s.table.slice(0, size).forEach((d, i) => {
          if (s.pairs && !(d.flags & VIRTQ_DESC_F.INDIRECT)) m.desc(DESC, i, d.addr, d.len, i % 2 === 0 && i + 1 < size ? VIRTQ_DESC_F.NEXT : VIRTQ_DESC_F.WRITE, i + 1)
          else m.desc(DESC, i, d.addr, d.len, d.flags, pick(d.next, size))
        })
        s.indirect.forEach((d, i) => m.desc(INDIRECT, i, d.addr, d.len, d.flags, pick(d.next, s.indirect.length)))
        m.u16(AVAIL, s.availFlags)
        s.ring.slice(0, size).forEach((h, i) => m.u16(AVAIL + 4 + 2 * i, s.pairs && h.sane ? (2 * h.v) % size : pick(h, size)))
        m.u16(AVAIL + 4 + 2 * size, pick(s.usedEvent, size + 1))
        // The device may write the used ring and nothing else in region A.
        m.forbidden = [[BASE, USED], [USED + 6 + 8 * size, DATA]]
        let idx = 0
        for (const step of s.idx) {
          // Mostly forward by at most the queue size (wrapping at 2^16), sometimes anywhere.
          idx = step.sane ? (idx + (step.v % (size + 1))) & 0xffff : step.v
          m.u16(AVAIL + 2, idx)
          r.notify()
          r.notify(1)
          if (s.kind === 'console') (device as VirtioConsole).push('input')
          if (s.kind === 'net') (device as VirtioNet).port.send(new Uint8Array(60))
          await (device as { drain?: () => Promise<void> }).drain?.()
          await new Promise((res) => setTimeout(res, 0))
        }
        expect(m.violations).toEqual([])
        const usedIdx = m.readU16(USED + 2)
        for (let i = 0; i < Math.min(usedIdx, size); i++) expect(usedEntry(m, i).id).toBeLessThan(size)
        stats.runs++
        if (r.t.status & STATUS.DEVICE_NEEDS_RESET) stats.needsReset++
        if (r.errors.some((e) => /chain at/.test(e))) stats.chainErrors++
        if ([...Array(Math.min(usedIdx, size)).keys()].some((i) => usedEntry(m, i).len > 0)) stats.completedWithData++
        r.t.write(MMIO.Status, 4, 0n)
        expect(r.irq.level).toBe(false)
      }),
      { numRuns: 400 },
    )
    // The scenarios must reach every outcome, not just the ring checks.
    expect(stats.needsReset).toBeGreaterThan(stats.runs / 50)
    expect(stats.chainErrors).toBeGreaterThan(stats.runs / 10)
    expect(stats.completedWithData).toBeGreaterThan(stats.runs / 20) // ~15% in practice
  })

  it('random register traffic never throws (property)', () => {
    const regs = Object.values(MMIO)
    const access = fc.record({
      write: fc.boolean(),
      offset: fc.oneof(fc.constantFrom(...regs), fc.nat(0x1100)),
      size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      value: fc.oneof(fc.constantFrom(0n, 1n, 0xffn, 0xffff_ffffn, 8n, 16n, 0x4000_0000n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    })
    fc.assert(
      fc.property(fc.array(access, { maxLength: 200 }), fc.uint8Array({ minLength: 0x100, maxLength: 0x100 }), (ops, garbage) => {
        const memory = new RamGuestMemory(new Uint8Array(RAM), BASE)
        for (let o = 0; o < RAM; o += garbage.length) memory.write(BASE + o, garbage)
        const dev = new VirtioBlk(new MemoryBlockDevice(8))
        const t = new VirtioMmio(dev, { memory, irq: new IrqRecorder() })
        for (const o of ops) {
          if (o.write) t.write(o.offset, o.size, BigInt.asUintN(o.size * 8, o.value))
          else expect(t.read(o.offset, o.size) < 1n << BigInt(o.size * 8)).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })
})
