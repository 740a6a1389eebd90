import { MemoryBlockDevice } from '@honk/block'
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
async function setup(blocks = 2048, depth = 8) {
  const memory = new RamGuestMemory(new Uint8Array(8 << 20), RAM_BASE)
  let onIrq = () => {}
  const host = new PcieHost({ plicLine: () => ({ set: (level) => level && queueMicrotask(() => onIrq()) }) })
  const backing = new MemoryBlockDevice(blocks, 512)
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
