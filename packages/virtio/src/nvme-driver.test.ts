import { CrashSimulatingDevice, MemoryBlockDevice, type BlockDevice } from '@honk/block'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BumpAllocator } from './driver.js'
import { RAM_BASE } from './harness.test-helpers.js'
import { RamGuestMemory } from './memory.js'
import { NvmeController } from './nvme.js'
import { NvmeDisk, pciPlaceBar, pciScan } from './nvme-driver.js'
import { PcieHost } from './pci.js'
import { VirtioPci } from './virtio-pci.js'
import { VirtioRng } from './rng.js'

/** A host with an rng in slot 1 and an NVMe disk in slot 2; INTx runs the driver's handler, as honk's kernel wires it. */
async function setup<B extends BlockDevice = MemoryBlockDevice>(blocks = 2048, depth = 8, backingOf?: (blocks: number) => B) {
  const memory = new RamGuestMemory(new Uint8Array(8 << 20), RAM_BASE)
  let onIrq = () => {}
  const host = new PcieHost({ plicLine: () => ({ set: (level) => level && queueMicrotask(() => onIrq()) }) })
  const backing = backingOf ? backingOf(blocks) : (new MemoryBlockDevice(blocks, 512) as unknown as B)
  host.plug(1, new VirtioPci(new VirtioRng(), { memory }))
  host.plug(2, new NvmeController(backing, { memory, serial: 'drv' }))
  const win = host.window('mmio32', 0x4000_0000, 0x4000_0000)
  const found = pciScan(host.ecam)
  const nvme = found.find((f) => f.classCode === 0x01_08_02)!
  const bar = pciPlaceBar(host.ecam, nvme.slot, 0, { next: 0x4000_0000, end: 0x8000_0000 })
  const disk = new NvmeDisk({ regs: { read: (o, s) => win.read(bar - 0x4000_0000 + o, s), write: (o, s, v) => win.write(bar - 0x4000_0000 + o, s, v) }, memory, alloc: new BumpAllocator(RAM_BASE + (1 << 20), 7 << 20), queueDepth: depth })
  onIrq = () => disk.handleInterrupt()
  await disk.init()
  return { found, disk, backing, bar }
}

describe('NVMe driver (honk kernel side) against the controller model', () => {
  it('property: what a completed Flush covered survives any power cut (crash-simulating disk under the controller)', async () => {
    // The promise storage above the driver relies on: every write completed before a Flush that
    // completed is durable; a write after it may or may not be there, but never torn into the
    // flushed data beyond one block (the device's own rule).
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ lba: fc.integer({ min: 0, max: 255 }), blocks: fc.integer({ min: 1, max: 24 }), seed: fc.nat(255), flushAfter: fc.boolean() }), { minLength: 1, maxLength: 16 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (ops, planSeed) => {
          const { disk, backing } = await setup(256, 8, (n) => new CrashSimulatingDevice(n, 512))
          const flushed = new Uint8Array(256 * 512)
          const latest = new Uint8Array(256 * 512)
          /** Blocks written since the last completed flush: there, any of the values written may be found. */
          const since = new Map<number, Uint8Array[]>()
          for (const op of ops) {
            const blocks = Math.min(op.blocks, 256 - op.lba)
            const buf = Uint8Array.from({ length: blocks * 512 }, (_, k) => (k * 13 + op.seed + 1) & 0xff)
            await disk.write(op.lba, buf)
            latest.set(buf, op.lba * 512)
            for (let b = 0; b < blocks; b++) {
              const l = since.get(op.lba + b) ?? []
              l.push(buf.slice(b * 512, (b + 1) * 512))
              since.set(op.lba + b, l)
            }
            if (op.flushAfter) {
              await disk.flush()
              flushed.set(latest)
              since.clear()
            }
          }
          let x = planSeed || 1
          const random = () => ((x = (Math.imul(x, 48271) >>> 0) % 0x7fffffff) / 0x7fffffff)
          const image = backing.crash(backing.randomPlan(random)).durableBytes()
          let torn = 0
          for (let b = 0; b < 256; b++) {
            const got = image.subarray(b * 512, (b + 1) * 512)
            const options = [flushed.subarray(b * 512, (b + 1) * 512), ...(since.get(b) ?? [])]
            if (options.some((o) => Buffer.compare(o, got) === 0)) continue
            // Only a block written since the last flush may be torn, and only one.
            expect(since.has(b), `block ${b} lost flushed data`).toBe(true)
            torn++
          }
          expect(torn).toBeLessThanOrEqual(1)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('finds the functions on bus 0, places BAR 0, and reads the namespace geometry', async () => {
    const { found, disk, bar } = await setup(4096)
    expect(found.map((f) => [f.slot, f.vendorId.toString(16), f.deviceId.toString(16), f.interruptPin])).toEqual([
      [0, '1b36', '8', 0],
      [1, '1af4', '1044', 1],
      [2, '1b36', '10', 1],
    ])
    expect(bar).toBe(0x4000_0000)
    expect([disk.blockCount, disk.blockSize]).toEqual([4096, 512])
  })

  it('property: reads and writes of any size (split, many in flight) match a model disk', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ write: fc.boolean(), lba: fc.integer({ min: 0, max: 1000 }), blocks: fc.integer({ min: 1, max: 300 }), seed: fc.nat(255) }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 2, max: 16 }), async (ops, depth) => {
        const { disk, backing } = await setup(1024, depth)
        const model = new Uint8Array(1024 * 512)
        await Promise.all(
          ops.map(async (op, i) => {
            const blocks = Math.min(op.blocks, 1024 - op.lba)
            // Overlapping requests in flight at once have no defined order: only disjoint ones run together.
            if (ops.slice(0, i).some((o) => o.lba < op.lba + blocks && op.lba < o.lba + o.blocks)) return
            const buf = Uint8Array.from({ length: blocks * 512 }, (_, k) => (k * 7 + op.seed) & 0xff)
            if (op.write) {
              model.set(buf, op.lba * 512)
              await disk.write(op.lba, buf)
            } else {
              await disk.read(op.lba, buf)
              const want = new Uint8Array(blocks * 512)
              await backing.read(op.lba, want)
              expect(Buffer.compare(buf, want)).toBe(0)
            }
          }),
        )
        await disk.flush()
        const all = new Uint8Array(1024 * 512)
        await disk.read(0, all)
        const raw = new Uint8Array(1024 * 512)
        await backing.read(0, raw)
        expect(Buffer.compare(all, raw)).toBe(0)
        for (const [i, op] of ops.entries()) {
          const blocks = Math.min(op.blocks, 1024 - op.lba)
          if (!op.write || ops.slice(0, i).some((o) => o.lba < op.lba + blocks && op.lba < o.lba + o.blocks)) continue
          expect(Buffer.compare(all.subarray(op.lba * 512, (op.lba + blocks) * 512), model.subarray(op.lba * 512, (op.lba + blocks) * 512))).toBe(0)
        }
      }),
      { numRuns: 40 },
    )
  })

  it('reports a failed command as a typed error (LBA out of range never reaches the device: checkRequest)', async () => {
    const { disk } = await setup(64)
    await expect(disk.read(60, new Uint8Array(8 * 512))).rejects.toMatchObject({ code: 'BLOCK_RANGE' })
  })
})
