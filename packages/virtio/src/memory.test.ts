import { MemoryBlockDevice } from '@honk/block'
import { Bus } from '@honk/rv64'
import { describe, expect, it } from 'vitest'
import { BLK_S, BLK_T, VirtioBlk } from './blk.js'
import { BumpAllocator, VirtioMmioDriver, type RegisterWindow } from './driver.js'
import { blkHeader } from './harness.test-helpers.js'
import { RamGuestMemory, busMemory } from './memory.js'
import { VirtioMmio } from './mmio.js'

describe('BumpAllocator', () => {
  it('aligns, counts what it handed out, refuses past its end, and starts over on reset', () => {
    const a = new BumpAllocator(0x8000_0001, 64)
    expect(a.alloc(3, 1)).toBe(0x8000_0001)
    expect(a.alloc(8, 8)).toBe(0x8000_0008) // padded up to the alignment
    expect(a.used).toBe(0x10 - 1)
    expect(() => a.alloc(64, 1)).toThrow(/out of memory/)
    a.reset()
    expect(a.used).toBe(0)
  })
})

describe('GuestMemory', () => {
  it('checks every range and reports failure instead of throwing', () => {
    const m = new RamGuestMemory(new Uint8Array(4096), 0x8000_0000)
    expect(m.contains(0x8000_0000, 4096)).toBe(true)
    expect(m.contains(0x8000_0000, 4097)).toBe(false)
    expect(m.contains(0x7fff_ffff, 1)).toBe(false)
    expect(m.contains(0x8000_0fff, 1)).toBe(true)
    expect(m.contains(0x8000_0000 + 0.5, 1)).toBe(false)
    expect(m.contains(Number.NaN, 1)).toBe(false)
    expect(m.contains(2 ** 64, 1)).toBe(false)
    expect(m.contains(0x8000_0000, -1)).toBe(false)
    const buf = Uint8Array.of(1, 2, 3)
    expect(m.write(0x8000_0ffe, buf)).toBe(false)
    expect(m.ram[0xffe]).toBe(0) // nothing written, not even the part that fits
    expect(m.write(0x8000_0ffd, buf)).toBe(true)
    const back = new Uint8Array(3).fill(9)
    expect(m.read(0x8000_0ffe, back)).toBe(false)
    expect(back).toEqual(Uint8Array.of(9, 9, 9))
    expect(m.read(0x8000_0ffd, back)).toBe(true)
    expect(back).toEqual(buf)
  })

  it('drives a virtio-blk mapped on an @honk/rv64 Bus, DMA into the bus RAM', async () => {
    const bus = new Bus({ ramSize: 1 << 20 })
    const memory = busMemory(bus)
    const disk = new MemoryBlockDevice(16)
    const blk = new VirtioBlk(disk)
    bus.map(0x1000_1000, new VirtioMmio(blk, { memory, irq: { set() {} } }))
    // The driver reaches the registers through the bus, as a hart's loads and stores would.
    const regs: RegisterWindow = {
      read: (o, s) => bus.read(0x1000_1000 + o, s) ?? 0n,
      write: (o, s, v) => void bus.write(0x1000_1000 + o, s, v),
    }
    const alloc = new BumpAllocator(bus.ramBase + 0x10000, 0x10000)
    const d = new VirtioMmioDriver(regs, memory, alloc)
    expect(d.deviceId).toBe(2)
    d.init(0n)
    const q = d.setupQueue(0, 8)
    d.driverOk()
    const hdr = alloc.alloc(16, 8)
    const data = alloc.alloc(512, 8)
    const status = alloc.alloc(1, 1)
    bus.writeBytes(hdr, blkHeader(BLK_T.OUT, 3))
    bus.writeBytes(data, new Uint8Array(512).fill(0x42))
    q.submit([
      { addr: hdr, len: 16, writable: false },
      { addr: data, len: 512, writable: false },
      { addr: status, len: 1, writable: true },
    ])
    q.kick()
    await blk.drain()
    expect(q.collect()).toEqual([{ head: 0, len: 1 }])
    expect(bus.readBytes(status, 1)[0]).toBe(BLK_S.OK)
    expect(disk.bytes[3 * 512]).toBe(0x42)
  })
})
