import fc from 'fast-check'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BlockAlignError, BlockClosedError, BlockIoError, BlockRangeError, CrashSimulatingDevice, MemoryBlockDevice, slice, type BlockDevice } from './index.js'
import { FileBlockDevice } from './node.js'
import { checkBlockDeviceContract } from './testing/index.js'

const block = (bs: number, v: number) => new Uint8Array(bs).fill(v)

/** The contract every BlockDevice in the repo honours (exported for other packages' devices). */
const contract = checkBlockDeviceContract

describe('MemoryBlockDevice', () => {
  it('honours the contract', () => contract(new MemoryBlockDevice(16)))
  it('honours the contract with 4 KiB blocks', () => contract(new MemoryBlockDevice(4, 4096)))
  it('the contract check catches a device that reads past its end', async () => {
    const lenient = new MemoryBlockDevice(4)
    const read = lenient.read.bind(lenient)
    lenient.read = async (lba, buf) => (lba >= lenient.blockCount ? undefined : read(lba, buf))
    await expect(contract(lenient)).rejects.toThrow(/a read at blockCount succeeded/)
  })
  it('counts flushes', async () => {
    const d = new MemoryBlockDevice(4)
    await d.flush()
    await d.flush()
    expect(d.stats.flushes).toBe(2)
  })
  it('behaves like a byte array (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(15), fc.integer({ min: 1, max: 3 }), fc.nat(255)), { maxLength: 30 }), async (ops) => {
        const d = new MemoryBlockDevice(16, 64)
        const model = new Uint8Array(16 * 64)
        for (const [lba, n, v] of ops) {
          if (lba + n > 16) {
            await expect(d.write(lba, block(64 * n, v))).rejects.toBeInstanceOf(BlockRangeError)
            continue
          }
          await d.write(lba, block(64 * n, v))
          model.fill(v, lba * 64, (lba + n) * 64)
        }
        const all = new Uint8Array(16 * 64)
        await d.read(0, all)
        expect(all).toEqual(model)
      }),
    )
  })
})

describe('slice', () => {
  it('rebases, isolates and bounds-checks (TestSliceIsolation)', async () => {
    const parent = new MemoryBlockDevice(32)
    const s = slice(parent, 10, 8)
    await s.write(0, block(512, 1))
    const got = new Uint8Array(512)
    await parent.read(10, got)
    expect(got[0]).toBe(1)
    await parent.read(9, got)
    expect(got[0]).toBe(0) // the block just before the slice is untouched
    await expect(s.write(8, block(512, 2))).rejects.toBeInstanceOf(BlockRangeError)
    await expect(s.write(7, block(1024, 2))).rejects.toBeInstanceOf(BlockRangeError) // straddles the end
    await contract(slice(new MemoryBlockDevice(32), 4, 8))
  })
  it('forwards flush to the parent (TestSliceFlushDelegates)', async () => {
    const parent = new MemoryBlockDevice(8)
    await slice(parent, 2, 2).flush()
    expect(parent.stats.flushes).toBe(1)
  })
  it('rejects a window outside the parent', () => {
    const parent = new MemoryBlockDevice(8)
    expect(() => slice(parent, 4, 5)).toThrow(BlockRangeError)
    expect(() => slice(parent, -1, 2)).toThrow(BlockRangeError)
  })
})

describe('FileBlockDevice', () => {
  it('honours the contract and persists across reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-block-'))
    try {
      const path = join(dir, 'disk.img')
      await contract(await FileBlockDevice.open(path, { blockCount: 16 }))
      const again = await FileBlockDevice.open(path)
      expect(again.blockCount).toBe(16)
      const got = new Uint8Array(512)
      await again.read(1, got)
      expect(got.every((b) => b === 0xab)).toBe(true)
      await again.close()
      const rw = await FileBlockDevice.open(path)
      await rw.writeAndFlush(2, block(512, 0xcd)) // the O_DSYNC path (nothing dirty)
      await rw.write(3, block(512, 0xce))
      await rw.writeAndFlush(4, block(512, 0xcf)) // dirty: write + fdatasync
      await rw.close()
      const check = await FileBlockDevice.open(path)
      const three = new Uint8Array(3 * 512)
      await check.read(2, three)
      expect([three[0], three[512], three[1024]]).toEqual([0xcd, 0xce, 0xcf])
      await check.close()
      const ro = await FileBlockDevice.open(path, { readOnly: true })
      await expect(ro.write(0, block(512, 1))).rejects.toBeInstanceOf(BlockIoError)
      await ro.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('CrashSimulatingDevice', () => {
  it('honours the contract', () => contract(new CrashSimulatingDevice(16)))

  it('loses everything unflushed when no write reached the medium', async () => {
    const d = new CrashSimulatingDevice(4)
    await d.write(0, block(512, 1))
    await d.flush()
    await d.write(0, block(512, 2))
    await d.write(1, block(512, 3))
    expect(d.pending.length).toBe(2)
    const after = d.crash()
    const got = new Uint8Array(1024)
    await after.read(0, got)
    expect(got[0]).toBe(1)
    expect(got[512]).toBe(0)
  })

  it('applies the chosen subset in the chosen order, with one torn block', async () => {
    const d = new CrashSimulatingDevice(2, 8)
    await d.write(0, block(8, 1))
    await d.write(0, block(8, 2))
    await d.write(1, block(8, 3))
    const reordered = d.crash({ applied: [1, 0] }) // the older write lands last
    const got = new Uint8Array(16)
    await reordered.read(0, got)
    expect([...got]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    const torn = d.crash({ applied: [2], torn: { index: 2, cut: 3, newFirst: true } })
    await torn.read(0, got)
    expect([...got.subarray(8)]).toEqual([3, 3, 3, 0, 0, 0, 0, 0])
  })

  it('every crash image mixes only durable and pending block contents (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(7), fc.nat(255), fc.boolean())), fc.integer(), async (ops, seed) => {
        const d = new CrashSimulatingDevice(8, 16)
        const versions: Set<number>[] = Array.from({ length: 8 }, () => new Set([0]))
        let durable: Set<number>[] = versions.map((s) => new Set(s))
        for (const [lba, v, flush] of ops) {
          await d.write(lba, block(16, v))
          versions[lba]!.add(v)
          if (flush) {
            await d.flush()
            durable = versions.map(() => new Set<number>())
            const img = d.durableBytes()
            for (let b = 0; b < 8; b++) durable[b]!.add(img[b * 16]!)
            for (let b = 0; b < 8; b++) versions[b] = new Set(durable[b])
          }
        }
        let s = seed
        const random = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000)
        const img = d.crash(d.randomPlan(random)).durableBytes()
        for (let b = 0; b < 8; b++) {
          for (let i = 0; i < 16; i++) expect(versions[b]!.has(img[b * 16 + i]!)).toBe(true)
        }
      }),
    )
  })

  it("cuts power after n writes or flushes: later requests fail, unflushed writes stay pending", async () => {
    const d = new CrashSimulatingDevice(4)
    d.cutPowerAfter(1)
    await d.write(0, block(512, 1))
    await expect(d.write(1, block(512, 2))).rejects.toBeInstanceOf(BlockIoError)
    await expect(d.flush()).rejects.toBeInstanceOf(BlockIoError)
    expect(d.isPowerCut).toBe(true)
    expect(d.pending.length).toBe(1)
    const atFlush = new CrashSimulatingDevice(4)
    atFlush.cutPowerAfter(1)
    await atFlush.write(0, block(512, 1))
    await expect(atFlush.flush()).rejects.toBeInstanceOf(BlockIoError)
    expect(atFlush.pending.length).toBe(1) // the flush never happened
  })
})
