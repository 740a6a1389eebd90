import { MemoryBlockDevice } from '@honk/block'
import { describe, expect, it } from 'vitest'
import { VirtioBlk } from './blk.js'
import { FEATURE, INTERRUPT, MMIO, STATUS, VIRTIO_VENDOR_HONK, VIRTIO_VENDOR_QEMU } from './constants.js'
import { BumpAllocator, VirtioMmioDriver } from './driver.js'
import { IrqRecorder, RAM_BASE, rig } from './harness.test-helpers.js'
import { RamGuestMemory } from './memory.js'
import { VirtioMmio } from './mmio.js'
import { VirtioRng } from './rng.js'

function bare(options: { vendorId?: number } = {}) {
  const memory = new RamGuestMemory(new Uint8Array(1 << 20), RAM_BASE)
  const irq = new IrqRecorder()
  const errors: string[] = []
  const t = new VirtioMmio(new VirtioRng(), { memory, irq, onError: (e) => errors.push(e.message), ...options })
  const r32 = (o: number) => Number(t.read(o, 4))
  const w32 = (o: number, v: number) => t.write(o, 4, BigInt(v >>> 0))
  return { t, irq, errors, r32, w32, memory }
}

describe('virtio-mmio transport', () => {
  it('identifies itself as a version 2 device', () => {
    const { r32 } = bare()
    expect(r32(MMIO.MagicValue)).toBe(0x74726976)
    expect(r32(MMIO.Version)).toBe(2)
    expect(r32(MMIO.DeviceID)).toBe(4)
    expect(r32(MMIO.VendorID)).toBe(VIRTIO_VENDOR_HONK)
    expect(new TextDecoder().decode(Uint8Array.of(0x48, 0x4f, 0x4e, 0x4b))).toBe('HONK')
    expect(Number(bare({ vendorId: VIRTIO_VENDOR_QEMU }).t.read(MMIO.VendorID, 4))).toBe(0x554d4551)
    expect(r32(MMIO.QueueNumMax)).toBe(64)
    expect(r32(MMIO.SHMLenLow)).toBe(0xffff_ffff) // no shared memory regions
  })

  it('offers VERSION_1, INDIRECT_DESC and EVENT_IDX, and nothing of the legacy interface', () => {
    const { r32, w32 } = bare()
    w32(MMIO.DeviceFeaturesSel, 0)
    const lo = r32(MMIO.DeviceFeatures)
    w32(MMIO.DeviceFeaturesSel, 1)
    const hi = r32(MMIO.DeviceFeatures)
    const f = (BigInt(hi) << 32n) | BigInt(lo)
    expect(f).toBe(FEATURE.VERSION_1 | FEATURE.RING_INDIRECT_DESC | FEATURE.RING_EVENT_IDX)
    w32(MMIO.DeviceFeaturesSel, 2)
    expect(r32(MMIO.DeviceFeatures)).toBe(0)
  })

  it('refuses FEATURES_OK without VERSION_1, or with features not offered', () => {
    for (const [lo, hi] of [
      [0, 0],
      [1 << 28, 0],
      [0, 1 | 2], // VERSION_1 | ACCESS_PLATFORM (not offered)
    ] as const) {
      const { r32, w32, errors } = bare()
      w32(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER)
      w32(MMIO.DriverFeaturesSel, 0)
      w32(MMIO.DriverFeatures, lo)
      w32(MMIO.DriverFeaturesSel, 1)
      w32(MMIO.DriverFeatures, hi)
      w32(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK)
      expect(r32(MMIO.Status) & STATUS.FEATURES_OK).toBe(0)
      expect(errors.length).toBe(1)
      // DRIVER_OK without FEATURES_OK does not stick either.
      w32(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK)
      expect(r32(MMIO.Status) & STATUS.DRIVER_OK).toBe(0)
    }
  })

  it('fixes the features once FEATURES_OK is set', () => {
    const r = rig(new VirtioRng(), { features: FEATURE.VERSION_1 })
    r.transport.write(MMIO.DriverFeaturesSel, 4, 0n)
    r.transport.write(MMIO.DriverFeatures, 4, BigInt(1 << 29))
    expect(r.transport.negotiatedFeatures).toBe(FEATURE.VERSION_1)
  })

  it('checks a queue before enabling it', () => {
    const cases: [string, (w: (o: number, v: number) => void) => void][] = [
      ['size 0', (w) => w(MMIO.QueueNum, 0)],
      ['size 3', (w) => w(MMIO.QueueNum, 3)],
      ['size above max', (w) => w(MMIO.QueueNum, 128)],
      ['misaligned descriptors', (w) => w(MMIO.QueueDescLow, RAM_BASE + 8)],
      ['descriptors outside RAM', (w) => w(MMIO.QueueDescLow, 0x1000)],
      ['used ring at 2^32 + RAM', (w) => w(MMIO.QueueDeviceHigh, 1)],
      ['used ring over the descriptors', (w) => w(MMIO.QueueDeviceLow, RAM_BASE)],
    ]
    for (const [what, spoil] of cases) {
      const { r32, w32, t, irq } = bare()
      w32(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER)
      w32(MMIO.DriverFeaturesSel, 1)
      w32(MMIO.DriverFeatures, 1)
      w32(MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK)
      w32(MMIO.QueueSel, 0)
      w32(MMIO.QueueNum, 16)
      w32(MMIO.QueueDescLow, RAM_BASE)
      w32(MMIO.QueueDriverLow, RAM_BASE + 0x1000)
      w32(MMIO.QueueDeviceLow, RAM_BASE + 0x2000)
      spoil(w32)
      w32(MMIO.QueueReady, 1)
      expect(r32(MMIO.QueueReady), what).toBe(0)
      expect(t.status & STATUS.DEVICE_NEEDS_RESET, what).toBe(STATUS.DEVICE_NEEDS_RESET)
      expect(irq.level, what).toBe(false) // no config interrupt before DRIVER_OK
    }
  })

  it('reads back queue registers and ignores address writes while the queue is ready', () => {
    const r = rig(new VirtioRng())
    const q = r.queues[0]!
    const t = r.transport
    t.write(MMIO.QueueSel, 4, 0n)
    expect(Number(t.read(MMIO.QueueDescLow, 4))).toBe(q.descAddr)
    expect(Number(t.read(MMIO.QueueDriverLow, 4))).toBe(q.availAddr)
    expect(Number(t.read(MMIO.QueueDeviceLow, 4))).toBe(q.usedAddr)
    expect(Number(t.read(MMIO.QueueNum, 4))).toBe(64)
    t.write(MMIO.QueueDescLow, 4, 0n)
    t.write(MMIO.QueueNum, 4, 2n)
    expect(Number(t.read(MMIO.QueueDescLow, 4))).toBe(q.descAddr)
    expect(Number(t.read(MMIO.QueueNum, 4))).toBe(64)
    t.write(MMIO.QueueSel, 4, 5n) // a queue that does not exist
    expect(t.read(MMIO.QueueNumMax, 4)).toBe(0n)
    expect(t.read(MMIO.QueueReady, 4)).toBe(0n)
  })

  it('ignores registers accessed with the wrong width', () => {
    const { t } = bare()
    expect(t.read(MMIO.MagicValue, 1)).toBe(0n)
    expect(t.read(MMIO.MagicValue + 2, 2)).toBe(0n)
    t.write(MMIO.Status, 1, 1n)
    expect(t.status).toBe(0)
  })

  it('does not consume buffers before DRIVER_OK, and does at DRIVER_OK', () => {
    const r = rig(new VirtioRng(), { noDriverOk: true })
    const q = r.queues[0]!
    const buf = r.alloc.alloc(32, 8)
    q.submit([{ addr: buf, len: 32, writable: true }])
    q.kick()
    expect(q.collect()).toEqual([])
    r.driver.driverOk()
    expect(q.collect()).toEqual([{ head: 0, len: 32 }])
  })

  it('resets on a 0 write to Status: queues, features, interrupts', () => {
    const r = rig(new VirtioBlk(new MemoryBlockDevice(8)))
    r.transport.write(MMIO.Status, 4, 0n)
    expect(r.transport.status).toBe(0)
    expect(r.transport.negotiatedFeatures).toBe(0n)
    expect(r.transport.read(MMIO.QueueReady, 4)).toBe(0n)
    // The driver can bring it up again from scratch.
    const d = new VirtioMmioDriver(r.transport, r.memory, new BumpAllocator(RAM_BASE + (2 << 20), 1 << 20))
    d.init(FEATURE.RING_EVENT_IDX)
    d.setupQueue(0)
    d.driverOk()
    expect(d.status & STATUS.DRIVER_OK).toBe(STATUS.DRIVER_OK)
  })

  it('bumps ConfigGeneration and raises a config interrupt when the device changes its config', async () => {
    const { VirtioNet, loopbackPair } = await import('./net.js')
    const [a] = loopbackPair()
    const net = new VirtioNet(a)
    const r = rig(net)
    const g = r.transport.read(MMIO.ConfigGeneration, 4)
    net.setLink(false)
    expect(r.transport.read(MMIO.ConfigGeneration, 4)).toBe(g + 1n)
    expect(r.transport.interruptStatus).toBe(INTERRUPT.CONFIG_CHANGE)
    expect(r.driver.readConfig(6, 2)).toEqual(Uint8Array.of(0, 0))
    r.transport.write(MMIO.InterruptACK, 4, 2n)
    expect(r.irq.level).toBe(false)
  })

  it('reads config space at any width, little-endian, and 0 beyond it', () => {
    const r = rig(new VirtioBlk(new MemoryBlockDevice(0x12345)))
    const t = r.transport
    expect(t.read(MMIO.Config, 8)).toBe(0x12345n)
    expect(t.read(MMIO.Config, 4)).toBe(0x12345n)
    expect(t.read(MMIO.Config + 1, 2)).toBe(0x0123n)
    expect(t.read(MMIO.Config + 0x3ff, 1)).toBe(0n)
  })
})

describe('driver side', () => {
  it('refuses a window without a device', () => {
    const empty = { read: () => 0n, write: () => {} }
    expect(VirtioMmioDriver.probe(empty)).toBeUndefined()
    expect(() => new VirtioMmioDriver(empty, new RamGuestMemory(new Uint8Array(16), 0), new BumpAllocator(0, 16))).toThrow(/no virtio-mmio/)
  })

  it('kicks only when the device asks for it (EVENT_IDX avail_event)', () => {
    const r = rig(new VirtioRng())
    const q = r.queues[0]!
    const notifies: number[] = []
    const real = r.transport.write.bind(r.transport)
    r.transport.write = (o, s, v) => {
      if (o === MMIO.QueueNotify) notifies.push(Number(v))
      real(o, s, v)
    }
    const buf = r.alloc.alloc(64, 8)
    q.submit([{ addr: buf, len: 8, writable: true }])
    expect(q.kick()).toBe(true) // avail_event = 0: wanted
    expect(q.collect().length).toBe(1)
    q.submit([{ addr: buf, len: 8, writable: true }])
    expect(q.kick()).toBe(true) // the device published avail_event = 1 after popping
    expect(notifies).toEqual([0, 0])
    expect(q.free).toBe(64 - 1)
    expect(q.collect().length).toBe(1)
    expect(q.free).toBe(64)
    // A device that says "notify me at 100" is not notified for entry 3.
    r.memory.write(q.usedAddr + 4 + 8 * 64, Uint8Array.of(100, 0))
    q.submit([{ addr: buf, len: 8, writable: true }])
    expect(q.kick()).toBe(false)
    expect(notifies).toEqual([0, 0])
  })

  it('throws when the queue is full', () => {
    const r = rig(new VirtioRng(), { queueSize: 2 })
    const q = r.queues[0]!
    r.transport.write(MMIO.Status, 4, BigInt(r.transport.status & ~STATUS.DRIVER_OK)) // device stops consuming
    const seg = { addr: r.alloc.alloc(8, 8), len: 8, writable: true }
    q.submit([seg])
    q.submit([seg])
    expect(() => q.submit([seg])).toThrow(/free/)
  })
})
