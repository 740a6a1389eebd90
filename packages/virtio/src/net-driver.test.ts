import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FEATURE } from './constants.js'
import { BumpAllocator, VirtioMmioDriver } from './driver.js'
import { VirtioDriverError } from './errors.js'
import { RamGuestMemory } from './memory.js'
import { VirtioMmio } from './mmio.js'
import { VirtioNet, loopbackPair, type FramePort } from './net.js'
import { openVirtioNet, type VirtioNetPort } from './net-driver.js'
import { VirtioRng } from './rng.js'

const BASE = 0x8000_0000

/** Our driver → virtio-mmio → guest RAM → the VirtioNet model → `wire`; the interrupt runs the driver's handler on a microtask. */
function nic(wire: FramePort, options: { mac?: string; rxBuffers?: number; txBuffers?: number; txBacklog?: number; mtu?: number } = {}) {
  const memory = new RamGuestMemory(new Uint8Array(4 << 20), BASE)
  let port: VirtioNetPort | undefined
  let scheduled = false
  const irq = {
    set(level: boolean) {
      if (!level || scheduled) return
      scheduled = true
      queueMicrotask(() => {
        scheduled = false
        port?.handleInterrupt()
      })
    },
  }
  const device = new VirtioNet(wire, { ...(options.mac ? { mac: options.mac } : {}), ...(options.mtu ? { mtu: options.mtu } : {}) })
  const transport = new VirtioMmio(device, { memory, irq })
  const alloc = new BumpAllocator(BASE, 4 << 20)
  port = openVirtioNet({ driver: new VirtioMmioDriver(transport, memory, alloc), memory, alloc, ...options })
  return { port, device }
}

const frameOf = (n: number, seed: number) => {
  const f = Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff)
  f.fill(0xff, 0, 6) // broadcast destination
  return f
}
const settle = () => new Promise<void>((r) => setTimeout(r, 0))

describe('virtio-net driver (virtio 1.2 §5.1)', () => {
  it('reads the MAC and MTU from config, and frames cross a wire both ways intact', async () => {
    const [wa, wb] = loopbackPair()
    const a = nic(wa, { mac: '52:54:00:aa:bb:01' })
    const b = nic(wb, { mac: '52:54:00:aa:bb:02', mtu: 9000 })
    expect([...a.port.mac]).toEqual([0x52, 0x54, 0, 0xaa, 0xbb, 1])
    expect(a.port.mtu).toBe(1500)
    expect(b.port.mtu).toBe(9000)
    expect(a.port.linkUp).toBe(true)
    const atB: Uint8Array[] = []
    const atA: Uint8Array[] = []
    b.port.onFrame((f) => atB.push(f))
    a.port.onFrame((f) => atA.push(f))
    a.port.send(frameOf(60, 1))
    a.port.send(frameOf(1514, 2))
    b.port.send(frameOf(14, 3))
    await settle()
    expect(atB.map((f) => f.length)).toEqual([60, 1514])
    expect(atB).toEqual([frameOf(60, 1), frameOf(1514, 2)])
    expect(atA).toEqual([frameOf(14, 3)])
    expect(a.port.stats).toMatchObject({ txFrames: 2, rxFrames: 1, txDropped: 0, rxDropped: 0 })
  })

  it('property: any burst of frames arrives complete and in order, more than the buffers hold (buffers are reposted; the backlog waits)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 14, max: 1514 }), { minLength: 1, maxLength: 300 }), async (sizes) => {
        const [wa, wb] = loopbackPair()
        const a = nic(wa, { rxBuffers: 8, txBuffers: 4, txBacklog: 400 })
        const b = nic(wb, { rxBuffers: 8, txBuffers: 4 })
        const got: Uint8Array[] = []
        b.port.onFrame((f) => got.push(f))
        // Sent in bursts of 8, the receiver's buffer count, with a turn of the event loop between.
        for (let i = 0; i < sizes.length; i += 8) {
          sizes.slice(i, i + 8).forEach((n, j) => a.port.send(frameOf(n, i + j)))
          await settle()
          await settle()
        }
        await settle()
        expect(got.length).toBe(sizes.length)
        got.forEach((f, i) => expect(f).toEqual(frameOf(sizes[i]!, i)))
        expect(a.port.stats.txDropped).toBe(0)
      }),
      { numRuns: 25 },
    )
  })

  it('drops (and counts) oversized and runt frames; with 2 transmit buffers, 10 frames still all arrive (the backlog waits for reclaimed buffers)', async () => {
    const [wa, wb] = loopbackPair()
    const a = nic(wa, { txBuffers: 2, txBacklog: 16 })
    const b = nic(wb)
    const got: Uint8Array[] = []
    b.port.onFrame((f) => got.push(f))
    a.port.send(new Uint8Array(13))
    a.port.send(new Uint8Array(1515))
    expect(a.port.stats.txDropped).toBe(2)
    for (let i = 0; i < 10; i++) a.port.send(frameOf(100, i))
    for (let i = 0; i < 5; i++) await settle()
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => frameOf(100, i)))
    expect(a.port.stats).toMatchObject({ txFrames: 10, txDropped: 2 })
  })

  it('a full transmit backlog drops (and counts) what does not fit, keeping the rest in order', async () => {
    const [wa, wb] = loopbackPair()
    const a = nic(wa, { txBuffers: 1, txBacklog: 3 })
    const b = nic(wb)
    const got: Uint8Array[] = []
    b.port.onFrame((f) => got.push(f))
    // The device has not interrupted yet (it does on a microtask), so only 1 buffer + 3 backlog take frames.
    for (let i = 0; i < 8; i++) a.port.send(frameOf(100, i))
    for (let i = 0; i < 5; i++) await settle()
    expect(a.port.stats.txDropped + a.port.stats.txFrames).toBe(8)
    expect(got).toEqual(Array.from({ length: a.port.stats.txFrames }, (_, i) => frameOf(100, i)))
  })

  it('refuses a device that is not a network device', () => {
    const memory = new RamGuestMemory(new Uint8Array(1 << 20), BASE)
    const transport = new VirtioMmio(new VirtioRng(), { memory, irq: { set() {} } })
    const alloc = new BumpAllocator(BASE, 1 << 20)
    expect(() => openVirtioNet({ driver: new VirtioMmioDriver(transport, memory, alloc), memory, alloc })).toThrow(VirtioDriverError)
    expect(FEATURE.VERSION_1).toBeGreaterThan(0n)
  })
})
