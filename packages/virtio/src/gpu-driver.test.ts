import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MMIO } from './constants.js'
import { BumpAllocator, VirtioMmioDriver, type RegisterWindow } from './driver.js'
import { VirtioDriverError } from './errors.js'
import { VirtioGpu, type GpuFlush } from './gpu.js'
import { VirtioGpuCommandError, openVirtioGpu } from './gpu-driver.js'
import { RamGuestMemory, noIrq } from './memory.js'
import { VirtioMmio } from './mmio.js'
import { VirtioRng } from './rng.js'

const BASE = 0x8000_0000

/**
 * Our driver → virtio-mmio → the VirtioGpu model. QueueNotify writes are held back and handed
 * to the device only when the driver waits for its interrupt (on a later macrotask), so every
 * command really completes from the used ring after an interrupt, never inline in the kick.
 */
function rig(width = 64, height = 48, ramSize = 4 << 20) {
  const memory = new RamGuestMemory(new Uint8Array(ramSize), BASE)
  const gpu = new VirtioGpu({ width, height })
  let irqLevel = false
  const transport = new VirtioMmio(gpu, { memory, irq: { set: (l) => (irqLevel = l) } })
  const held: bigint[] = []
  const regs: RegisterWindow = {
    read: (o, s) => transport.read(o, s),
    write: (o, s, v) => (o === MMIO.QueueNotify ? void held.push(v) : transport.write(o, s, v)),
  }
  let waits = 0
  const alloc = new BumpAllocator(BASE, ramSize)
  const waitForInterrupt = () =>
    new Promise<void>((resolve) => {
      waits++
      setTimeout(() => {
        for (const v of held.splice(0)) transport.write(MMIO.QueueNotify, 4, v)
        expect(irqLevel).toBe(true) // the device raised its interrupt for the completions
        resolve()
      }, 0)
    })
  const driver = new VirtioMmioDriver(regs, memory, alloc)
  return { memory, gpu, alloc, driver, waitForInterrupt, waits: () => waits }
}

describe('virtio-gpu driver', () => {
  it('reads the display info, creates a surface in guest RAM and shows it on the scanout', async () => {
    const r = rig(64, 48)
    const gpu = await openVirtioGpu({ driver: r.driver, memory: r.memory, alloc: r.alloc, waitForInterrupt: r.waitForInterrupt })
    expect(gpu.displays).toEqual([{ scanout: 0, width: 64, height: 48, enabled: true }])
    const surface = await gpu.createSurface()
    expect([surface.width, surface.height]).toEqual([64, 48])
    expect(r.gpu.display(0)).toMatchObject({ enabled: true, scanoutWidth: 64, scanoutHeight: 48 })
    expect(r.waits()).toBeGreaterThanOrEqual(2) // each batch waited for an interrupt
  })

  it('present copies only the rectangles into the backing, transfers and flushes each', async () => {
    const r = rig(64, 48)
    const gpu = await openVirtioGpu({ driver: r.driver, memory: r.memory, alloc: r.alloc, waitForInterrupt: r.waitForInterrupt })
    const surface = await gpu.createSurface()
    const flushes: GpuFlush[] = []
    r.gpu.onFlush((f) => flushes.push(f))
    const img = new Uint8Array(64 * 48 * 4)
    for (let i = 0; i < img.length; i++) img[i] = (i * 7) & 0xff
    await surface.present(img, [
      { x: 0, y: 0, width: 64, height: 48 },
    ])
    expect(r.gpu.display(0).rgba).toEqual(img)
    // Change everything in the image but present one rectangle: only it reaches the host.
    const img2 = img.map((b) => b ^ 0xff)
    await surface.present(img2, [{ x: 10, y: 5, width: 7, height: 3 }, { x: 60, y: 40, width: 20, height: 20 }, { x: -5, y: 0, width: 2, height: 2 }])
    expect(flushes.map((f) => f.rect)).toEqual([
      { x: 0, y: 0, width: 64, height: 48 },
      { x: 10, y: 5, width: 7, height: 3 },
      { x: 60, y: 40, width: 4, height: 8 }, // clipped; the empty one is skipped
    ])
    const shown = r.gpu.display(0).rgba
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 64; x++) {
        const inside = (x >= 10 && x < 17 && y >= 5 && y < 8) || (x >= 60 && y >= 40)
        const o = (y * 64 + x) * 4
        expect(shown[o], `pixel ${x},${y}`).toBe(inside ? img2[o] : img[o])
      }
    expect(gpu.stats.rects).toBe(3)
  })

  it('batches more rectangles than slots, in order, and concurrent presents do not mix', async () => {
    const r = rig(32, 32)
    const gpu = await openVirtioGpu({ driver: r.driver, memory: r.memory, alloc: r.alloc, waitForInterrupt: r.waitForInterrupt, slots: 4 })
    const surface = await gpu.createSurface()
    const seen: string[] = []
    r.gpu.onFlush((f) => seen.push(`${f.rect.x},${f.rect.y}`))
    const img = new Uint8Array(32 * 32 * 4).fill(9)
    const rects = Array.from({ length: 10 }, (_, i) => ({ x: i, y: i, width: 1, height: 1 }))
    await Promise.all([surface.present(img, rects), surface.present(img, [{ x: 31, y: 31, width: 1, height: 1 }])])
    expect(seen).toEqual([...rects.map((q) => `${q.x},${q.y}`), '31,31'])
  })

  it('an error response is a typed error naming the command and the response', async () => {
    const r = rig(64, 48, 4 << 20)
    const gpu = await openVirtioGpu({ driver: r.driver, memory: r.memory, alloc: r.alloc, waitForInterrupt: r.waitForInterrupt })
    // A side past 16384 is refused by the device (ERR_INVALID_PARAMETER, §5.7.6.7); the backing itself fits in RAM.
    const e = await gpu.createSurface({ width: 0x10000, height: 1 }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(VirtioGpuCommandError)
    expect((e as Error).message).toMatch(/virtio-gpu: RESOURCE_CREATE_2D answered ERR_INVALID_PARAMETER/)
    // The driver still works after an error.
    const s = await gpu.createSurface()
    await s.present(new Uint8Array(64 * 48 * 4), [{ x: 0, y: 0, width: 1, height: 1 }])
  })

  it('refuses a device that is not a GPU, and an image of the wrong size', async () => {
    const memory = new RamGuestMemory(new Uint8Array(1 << 20), BASE)
    const alloc = new BumpAllocator(BASE, 1 << 20)
    const t = new VirtioMmio(new VirtioRng(), { memory, irq: noIrq })
    await expect(openVirtioGpu({ driver: new VirtioMmioDriver(t, memory, alloc), memory, alloc, waitForInterrupt: () => Promise.resolve() })).rejects.toThrow(/not a GPU/)
    const r = rig(16, 16)
    const gpu = await openVirtioGpu({ driver: r.driver, memory: r.memory, alloc: r.alloc, waitForInterrupt: r.waitForInterrupt })
    const s = await gpu.createSurface()
    await expect(s.present(new Uint8Array(10), [])).rejects.toBeInstanceOf(VirtioDriverError)
  })

  it('property: after any sequence of presents, the host scanout equals a model that copies exactly the presented rectangles', async () => {
    const w = 24
    const h = 16
    const rectArb = fc.record({ x: fc.integer({ min: -4, max: w + 2 }), y: fc.integer({ min: -4, max: h + 2 }), width: fc.integer({ min: 0, max: w + 4 }), height: fc.integer({ min: 0, max: h + 4 }) })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ seed: fc.integer({ min: 0, max: 255 }), rects: fc.array(rectArb, { maxLength: 6 }) }), { minLength: 1, maxLength: 6 }), async (steps) => {
        const r = rig(w, h, 1 << 20)
        const gpu = await openVirtioGpu({ driver: r.driver, memory: r.memory, alloc: r.alloc, waitForInterrupt: r.waitForInterrupt, slots: 3 })
        const surface = await gpu.createSurface()
        const model = new Uint8Array(w * h * 4)
        for (const { seed, rects } of steps) {
          const img = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i * 31 + seed * 7) & 0xff)
          await surface.present(img, rects)
          for (const q of rects)
            for (let y = Math.max(0, q.y); y < Math.min(h, q.y + q.height); y++)
              for (let x = Math.max(0, q.x); x < Math.min(w, q.x + q.width); x++) model.set(img.subarray((y * w + x) * 4, (y * w + x) * 4 + 4), (y * w + x) * 4)
        }
        expect(Buffer.from(r.gpu.display(0).rgba).equals(Buffer.from(model))).toBe(true)
      }),
      { numRuns: 40 },
    )
  })
})
