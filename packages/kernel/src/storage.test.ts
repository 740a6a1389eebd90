import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CrashSimulatingDevice, MemoryBlockDevice, type BlockDevice } from '@honk/block'
import { SlotError, bytesReader, openImageFS, type ImageFS } from '@honk/image'
import { openKV } from '@honk/kv'
import { MemoryFS, isFsError, mkdirp, readText, writeFile, type FS } from '@honk/vfs'
import { TEST_MOTD, buildCoreImage, coreAnchor, coreFiles } from './test-core.js'
import { MIN_KV_BYTES, SLOT_BYTES, StorageError, WritableLayerError, bringUpStorage, classifyDisk, describeStorage, firstNonZeroBlock, inspectDisk, layoutDisk, mountRoot, selectCore } from './storage.js'
import { runStorageCase, storageCaseArb } from './storage-harness.js'

const MiB = 1 << 20
const FACTORY = buildCoreImage({ version: 1 })
const V2_FILES = { ...coreFiles(), motd: 'Welcome to honk v2\n' }
const V2 = buildCoreImage({ version: 2, files: V2_FILES })

const disk = (bytes = 8 * MiB) => new MemoryBlockDevice(bytes / 512)

async function factoryCore(): Promise<ImageFS> {
  return openImageFS(bytesReader(FACTORY), coreAnchor())
}

async function corruptByte0(dev: BlockDevice, slot: 'A' | 'B'): Promise<void> {
  const lba = 2 + (slot === 'A' ? 0 : SLOT_BYTES / dev.blockSize)
  const b = new Uint8Array(dev.blockSize)
  await dev.read(lba, b)
  b[0] = b[0] === 0xff ? 0x00 : 0xff // honk's S2: byte 0 of slot A set to 0xFF
  await dev.write(lba, b)
  await dev.flush()
}

/** A deterministic PRNG for crash plans. */
function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

async function mountOn(dev: BlockDevice, extra: { host?: FS } = {}) {
  const layout = layoutDisk(dev)
  return mountRoot({ kvRegion: layout.kvRegion, core: await factoryCore(), bootCore: 'embedded factory v1', ...extra })
}

describe('layoutDisk', () => {
  it('keeps the slots, the KV region and the scratch block disjoint and inside the device (any size)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(512, 4096), fc.integer({ min: 0, max: 60 * MiB }), async (bs, extraBytes) => {
        const minBlocks = 2 + 2 * Math.ceil(SLOT_BYTES / bs) + Math.ceil(MIN_KV_BYTES / bs) + 1
        const blockCount = minBlocks + Math.floor(extraBytes / bs)
        const writes: number[] = []
        // A geometry-only device that records where writes land (no 64 MiB buffers).
        const dev: BlockDevice = {
          blockSize: bs,
          blockCount,
          read: async () => {},
          write: async (lba, data) => {
            for (let i = 0; i < data.length / bs; i++) writes.push(lba + i)
          },
          flush: async () => {},
          close: async () => {},
        }
        const l = layoutDisk(dev)
        const { slots, kv, scratch } = l.extents
        expect(slots.start).toBe(0)
        expect(slots.count).toBe(l.slots.usedBlocks)
        expect(kv.start).toBe(slots.start + slots.count) // slots end where KV begins
        expect(kv.start + kv.count).toBe(scratch.start) // KV ends where scratch begins
        expect(scratch.start).toBe(blockCount - 1)
        expect(l.scratchBlock).toBe(blockCount - 1)
        expect(kv.count * bs).toBeGreaterThanOrEqual(MIN_KV_BYTES)
        expect(l.kvRegion.blockCount).toBe(kv.count)
        // The KV region's first and last blocks land inside the KV extent of the device.
        const block = new Uint8Array(bs)
        await l.kvRegion.write(0, block)
        await l.kvRegion.write(l.kvRegion.blockCount - 1, block)
        expect(writes).toEqual([kv.start, kv.start + kv.count - 1])
        await expect(l.kvRegion.write(l.kvRegion.blockCount, block)).rejects.toThrow()
        // A slot image stays inside the slots extent.
        writes.length = 0
        await l.slots.writeImage('B', FACTORY)
        expect(Math.max(...writes)).toBeLessThan(slots.count)
      }),
      { numRuns: 60 },
    )
  })

  it('refuses a device too small for both slots, a KV region and the scratch block', () => {
    expect(() => layoutDisk(new MemoryBlockDevice((2 * MiB) / 512))).toThrow(StorageError)
    expect(() => layoutDisk(new MemoryBlockDevice((3 * MiB) / 512 + 3))).not.toThrow()
  })

  it('describes the storage for blk with the scratch block', () => {
    const dev = disk()
    expect(describeStorage(dev, layoutDisk(dev))).toEqual({ device: dev, kind: 'virtio-blk', scratchBlock: dev.blockCount - 1 })
  })
})

describe('classifyDisk', () => {
  it('blank until honk writes its metadata, honk after, foreign for anything else in blocks 0-1', async () => {
    const dev = new MemoryBlockDevice(16384, 512)
    expect(await classifyDisk(dev)).toBe('blank')
    await layoutDisk(dev).slots.writeImage('A', buildCoreImage({ version: 1 }))
    expect(await classifyDisk(dev)).toBe('honk')
    await dev.write(0, new Uint8Array(512).fill(7)) // one copy damaged: the other still says honk
    expect(await classifyDisk(dev)).toBe('honk')
    await dev.write(1, new Uint8Array(512).fill(7))
    expect(await classifyDisk(dev)).toBe('foreign')
    expect(await classifyDisk(new MemoryBlockDevice(1, 512))).toBe('foreign')
  })
})

describe('selectCore', () => {
  it('with no disk boots the embedded factory', async () => {
    const sel = await selectCore(undefined, FACTORY, coreAnchor())
    expect(sel.label).toBe('embedded factory v1')
    expect(sel.source).toBe('factory')
    expect(sel.rejected).toEqual([])
    expect(await readText(sel.fs, 'motd')).toMatch(/^Welcome to honk/)
  })

  it('with no disk and a broken factory fails with "no verifiable core image"', async () => {
    const broken = FACTORY.slice()
    broken[0]! ^= 0xff
    await expect(selectCore(undefined, broken, coreAnchor())).rejects.toThrow(SlotError)
    await expect(selectCore(undefined, broken, coreAnchor())).rejects.toThrow(/^no verifiable core image: factory: /)
  })

  it('on a fresh disk falls back to the factory (both slots empty)', async () => {
    const dev = disk()
    const sel = await selectCore(layoutDisk(dev).slots, FACTORY, coreAnchor())
    expect(sel.label).toBe('embedded factory v1')
    expect(sel.rejected).toEqual([]) // empty slots are not failures worth a boot line
    expect(sel.skipped).toEqual([
      { source: 'A', reason: 'empty (no footer)' },
      { source: 'B', reason: 'empty (no footer)' },
    ])
    const again = await selectCore(layoutDisk(dev).slots, FACTORY, coreAnchor())
    expect(again.rejected).toEqual([])
    expect(again.skipped.map((r) => r.reason)).toEqual(['unbootable', 'unbootable'])
  })

  it('S1/S2: slot A v2 + slot B v1 boots A; A corrupted boots B; both corrupted boots the factory', async () => {
    const dev = disk()
    const { slots } = layoutDisk(dev)
    await slots.writeImage('A', V2)
    await slots.writeImage('B', FACTORY)

    const s1 = await selectCore(layoutDisk(dev).slots, FACTORY, coreAnchor())
    expect(s1.label).toBe('slot A v2')
    expect(s1.secVersion).toBe(2n)
    expect(await readText(s1.fs, 'motd')).toBe('Welcome to honk v2\n')

    await corruptByte0(dev, 'A')
    const s2 = await selectCore(layoutDisk(dev).slots, FACTORY, coreAnchor())
    expect(s2.label).toBe('slot B v1')
    expect(s2.rejected).toHaveLength(1)
    expect(s2.rejected[0]!.source).toBe('A')
    expect(s2.rejected[0]!.reason).toMatch(/check failed/)

    await corruptByte0(dev, 'B')
    const s3 = await selectCore(layoutDisk(dev).slots, FACTORY, coreAnchor())
    expect(s3.label).toBe('embedded factory v1')
    expect(s3.rejected.map((r) => r.source)).toEqual(['B']) // A was marked unbootable by the boot before
    expect(s3.skipped).toEqual([{ source: 'A', reason: 'unbootable' }, s3.rejected[0]])
    expect(await readText(s3.fs, 'os-release')).toMatch(/^NAME=honk$/m)
  })
})

describe('mountRoot', () => {
  it('lists the layers top first, with honk’s details', async () => {
    const host = new MemoryFS({ files: { 'hostfile.txt': 'hello from the host filesystem' }, readOnly: true })
    const root = await mountRoot({ kvRegion: layoutDisk(disk()).kvRegion, host, hostTag: 'share', core: await factoryCore(), bootCore: 'slot A v2' })
    expect(root.layers).toEqual([
      { name: 'kv', mode: 'writable', detail: '(shadows the layers below)' },
      { name: 'host', mode: 'read-only', detail: '9p tag "share"' },
      { name: 'core', mode: 'read-only', detail: 'slot A v2' },
    ])
    expect(root.bootCore).toBe('slot A v2')
    expect(root.writable).toBeDefined()
    expect((await root.root.readDir('')).map((e) => e.name)).toEqual(['hostfile.txt', 'motd', 'os-release'])
    expect(await readText(root.root, 'hostfile.txt')).toBe('hello from the host filesystem')
    await root.close()
  })

  it('without a disk is the read-only core alone; reset refuses', async () => {
    const root = await mountRoot({ core: await factoryCore(), bootCore: 'embedded factory v1' })
    expect(root.layers).toEqual([{ name: 'core', mode: 'read-only', detail: 'embedded factory v1' }])
    expect(root.writable).toBeUndefined()
    expect(root.root.readOnly).toBe(true)
    await expect(writeFile(root.root, 'x', 'y')).rejects.toSatisfy((e: unknown) => isFsError(e, 'EROFS'))
    await expect(root.reset()).rejects.toThrow(StorageError)
    await root.close()

    const withHost = await mountRoot({ host: new MemoryFS({ files: { h: 'h' }, readOnly: true }), core: await factoryCore(), bootCore: 'embedded factory v1' })
    expect(withHost.layers.map((l) => l.name)).toEqual(['host', 'core'])
    expect(withHost.layers[0]!.detail).toBe('9p tag "host"')
    expect(withHost.root.readOnly).toBe(true)
    expect((await withHost.root.readDir('')).map((e) => e.name)).toEqual(['h', 'motd', 'os-release'])
  })

  it('persists a write across close and reopen on the same disk (smoke A then P)', async () => {
    const dev = disk()
    const a = await mountOn(dev)
    const motd = await readText(a.root, 'motd')
    await writeFile(a.root, 'readme', motd) // cp motd readme
    await mkdirp(a.root, 'config')
    await writeFile(a.root, 'config/host', 'honkbox') // put config/host honkbox
    await a.close()

    const p = await mountOn(dev)
    expect(await readText(p.root, 'config/host')).toBe('honkbox')
    expect(await readText(p.root, 'readme')).toBe(motd)
    expect((await p.root.readDir('')).map((e) => [e.name, e.type])).toEqual([
      ['config', 'dir'],
      ['motd', 'file'],
      ['os-release', 'file'],
      ['readme', 'file'],
    ])
    await p.close()
  })

  it('reset clears durably, and writes after it persist (smoke R; inventory §3.3 item 1)', async () => {
    const dev = disk()
    const r1 = await mountOn(dev)
    await mkdirp(r1.root, 'state')
    await writeFile(r1.root, 'state/x', 'hello')
    await r1.close()

    const r2 = await mountOn(dev) // reopen, then reset
    expect(await readText(r2.root, 'state/x')).toBe('hello')
    await r2.reset()
    await expect(readText(r2.root, 'state/x')).rejects.toSatisfy((e: unknown) => isFsError(e, 'ENOENT'))
    expect((await r2.root.readDir('')).map((e) => e.name)).toEqual(['motd', 'os-release'])
    await writeFile(r2.root, 'after', 'new') // a new write after the reset
    await r2.close()

    const r3 = await mountOn(dev)
    await expect(r3.root.stat('state/x')).rejects.toSatisfy((e: unknown) => isFsError(e, 'ENOENT'))
    await expect(r3.root.stat('state')).rejects.toSatisfy((e: unknown) => isFsError(e, 'ENOENT'))
    expect(await readText(r3.root, 'after')).toBe('new')
    await writeFile(r3.root, 'more', 'still') // and the store keeps working
    await r3.close()
    const r4 = await mountOn(dev)
    expect(await readText(r4.root, 'after')).toBe('new')
    expect(await readText(r4.root, 'more')).toBe('still')
    await r4.close()
  })

  it('rm of a core file hides it in the root and leaves the core untouched', async () => {
    const dev = disk()
    const core = await factoryCore()
    const layout = layoutDisk(dev)
    const root = await mountRoot({ kvRegion: layout.kvRegion, core, bootCore: 'embedded factory v1' })
    await root.root.remove('motd')
    await expect(root.root.stat('motd')).rejects.toSatisfy((e: unknown) => isFsError(e, 'ENOENT'))
    expect(await readText(core, 'motd')).toMatch(/^Welcome to honk/)
    expect((await core.stat('motd')).size).toBe(TEST_MOTD.length)
    await root.close()

    const again = await mountRoot({ kvRegion: layoutDisk(dev).kvRegion, core: await factoryCore(), bootCore: 'embedded factory v1' })
    await expect(again.root.stat('motd')).rejects.toSatisfy((e: unknown) => isFsError(e, 'ENOENT')) // the whiteout persisted
    await again.reset()
    expect(await readText(again.root, 'motd')).toMatch(/^Welcome to honk/) // reset brings the core's copy back
    await again.close()
  })

  it('the scratch block is outside the live data (blk self-test)', async () => {
    const dev = disk()
    const layout = layoutDisk(dev)
    await layout.slots.writeImage('A', V2)
    const root = await mountRoot({ kvRegion: layout.kvRegion, core: await factoryCore(), bootCore: 'x' })
    await writeFile(root.root, 'keep', 'me')
    const pattern = Uint8Array.from({ length: dev.blockSize }, (_, i) => (i * 7 + 1) & 0xff)
    await dev.write(layout.scratchBlock, pattern)
    await dev.flush()
    await root.close()
    const again = await mountOn(dev)
    expect(await readText(again.root, 'keep')).toBe('me')
    expect((await selectCore(layoutDisk(dev).slots, FACTORY, coreAnchor())).label).toBe('slot A v2')
    await again.close()
  })

  it('a write acknowledged before a power cut is there after reopen (crash-simulating device)', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const dev = new CrashSimulatingDevice((4 * MiB) / 512) // small: every flush copies the whole image
      const root = await mountOn(dev)
      await writeFile(root.root, 'acked', `value ${seed}`)
      await mkdirp(root.root, 'dir')
      await writeFile(root.root, 'dir/also', 'x'.repeat(100_000)) // spans two KVFS chunks
      // No close, no sync: the power is cut with whatever is still unflushed resolved at random.
      const crashed = dev.crash(seed === 1 ? { applied: [] } : dev.randomPlan(lcg(seed)))
      const after = await mountOn(crashed)
      expect(await readText(after.root, 'acked')).toBe(`value ${seed}`)
      expect(await readText(after.root, 'dir/also')).toBe('x'.repeat(100_000))
      await after.close()
    }
  })

  it('reports a writable layer that cannot be opened, and the kernel can mount read-only', async () => {
    const dev = disk()
    const layout = layoutDisk(dev)
    await layout.kvRegion.write(0, new Uint8Array(2 * dev.blockSize).fill(0xa5)) // both KV superblocks garbage
    const core = await factoryCore()
    const err = await mountRoot({ kvRegion: layout.kvRegion, core, bootCore: 'embedded factory v1' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WritableLayerError)
    expect((err as WritableLayerError).message).not.toBe('')
    expect((err as WritableLayerError).cause).toBeInstanceOf(Error)
    const ro = await mountRoot({ core, bootCore: 'embedded factory v1' })
    expect(ro.writable).toBeUndefined()
    expect(await readText(ro.root, 'motd')).toMatch(/^Welcome to honk/)
  })
})

describe('@honk/kv: the sequence floor after reopen + reset (inventory §3.3 item 1)', () => {
  it('keeps cleared keys gone and new writes persistent', async () => {
    const dev = new MemoryBlockDevice(4096)
    const kv1 = await openKV(dev)
    for (let i = 0; i < 20; i++) await kv1.put(`old/${i}`, `v${i}`)
    await kv1.close()

    const kv2 = await openKV(dev) // reopen…
    expect(await kv2.getString('old/7')).toBe('v7')
    await kv2.reset() // …reset…
    await kv2.put('new/a', 'A') // …put new
    await kv2.put('new/b', 'B', { durable: true })
    await kv2.close()

    const kv3 = await openKV(dev)
    expect(kv3.count).toBe(2)
    expect(await kv3.getString('old/7')).toBeUndefined()
    expect(await kv3.getString('new/a')).toBe('A')
    expect(await kv3.getString('new/b')).toBe('B')
    await kv3.put('new/c', 'C')
    await kv3.close()

    const kv4 = await openKV(dev)
    expect([...kv4.keys()].map((k) => new TextDecoder().decode(k))).toEqual(['new/a', 'new/b', 'new/c'])
    await kv4.close()
  })
})

// ---- issue #12 case 4: a foreign disk is never taken for blank ------------------------------

/** A zero disk of `blocks` with `bytes` placed at `offset`. */
function diskWith(blocks: number, offset: number, bytes: number[] | string): MemoryBlockDevice {
  const image = new Uint8Array(blocks * 512)
  image.set(typeof bytes === 'string' ? Uint8Array.from(bytes, (c) => c.charCodeAt(0)) : bytes, offset)
  return new MemoryBlockDevice(blocks, 512, image)
}

async function imageOf(dev: BlockDevice): Promise<Uint8Array> {
  const b = new Uint8Array(dev.blockCount * dev.blockSize)
  await dev.read(0, b)
  return b
}

async function bootOn(dev: BlockDevice) {
  const lines: string[] = []
  const up = await bringUpStorage({ disk: dev, factory: FACTORY, anchor: coreAnchor(), line: (t) => lines.push(t) })
  return { ...up, lines }
}

describe('inspectDisk / classifyDisk (issue #12 case 4)', () => {
  const blocks = (8 * MiB) / 512
  const signatures: [string, number, number[] | string, RegExp][] = [
    ['ext2/3/4 (first KiB zero)', 1080, [0x53, 0xef], /ext2\/3\/4 filesystem \(magic 0xEF53 at byte 1080\)/],
    ['Linux swap, 4 KiB pages', 4086, 'SWAPSPACE2', /Linux swap area \("SWAPSPACE2" at byte 4086\)/],
    ['Linux swap (old), 64 KiB pages', 65526, 'SWAP-SPACE', /Linux swap area \("SWAP-SPACE" at byte 65526\)/],
    ['LUKS', 0, 'LUKS\xba\xbe', /LUKS encrypted volume/],
    ['GPT (512-byte sectors)', 512, 'EFI PART', /GPT partition table \("EFI PART" at byte 512\)/],
    ['GPT (4 KiB sectors)', 4096, 'EFI PART', /GPT partition table \("EFI PART" at byte 4096\)/],
    ['MBR', 510, [0x55, 0xaa], /MBR partition table or boot sector/],
    ['XFS', 0, 'XFSB', /XFS filesystem/],
    ['btrfs', 65600, '_BHRfS_M', /btrfs filesystem/],
    ['ISO 9660', 32769, 'CD001', /ISO 9660/],
  ]
  for (const [name, offset, bytes, why] of signatures) {
    it(`a disk holding only the ${name} signature is foreign, and the boot changes nothing`, async () => {
      const dev = diskWith(blocks, offset, bytes)
      const inspection = await inspectDisk(dev)
      expect(inspection.kind).toBe('foreign')
      expect(inspection.detail).toMatch(why)
      const before = await imageOf(dev)
      const up = await bootOn(dev)
      expect(up.root.writable).toBeUndefined()
      expect(up.lines[0]).toMatch(/^honk: disk not used: blocks 0-1 hold no honk A\/B metadata and it holds /)
      expect(up.lines[0]).toMatch(why)
      expect(Buffer.compare(await imageOf(dev), before)).toBe(0)
    })
  }

  it('a FAT boot sector is named as FAT', async () => {
    const image = new Uint8Array(blocks * 512)
    image.set([0xeb, 0x3c, 0x90], 0)
    image.set(Uint8Array.from('mkfs.fat', (c) => c.charCodeAt(0)), 3)
    image.set(Uint8Array.from('FAT16   ', (c) => c.charCodeAt(0)), 54)
    image.set([0x55, 0xaa], 510)
    expect((await inspectDisk(new MemoryBlockDevice(blocks, 512, image))).detail).toMatch(/FAT filesystem/)
  })

  it('data anywhere — even only in the last block, far past the first KiB — makes a disk foreign', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: blocks - 1 }), fc.nat(511), fc.integer({ min: 1, max: 255 }), async (lba, at, value) => {
        const dev = diskWith(blocks, lba * 512 + at, [value])
        expect(await inspectDisk(dev)).toEqual({ kind: 'foreign', detail: `block ${lba} is not zero` })
      }),
      { numRuns: 40 },
    )
    expect(await classifyDisk(diskWith(blocks, (blocks - 1) * 512 + 511, [1]))).toBe('foreign')
    expect(await classifyDisk(diskWith(blocks, 100, [1]))).toBe('foreign') // block 0, past the metadata's 32 bytes
  })

  it('blank means every block is zero; the one exception is a torn first metadata write (bytes only within the first 32 of blocks 0-1)', async () => {
    expect(await inspectDisk(new MemoryBlockDevice(blocks))).toEqual({ kind: 'blank', detail: 'every block is zero' })
    const torn = diskWith(blocks, 0, [0, 0x41, 0x42, 0x30, 1, 0, 0, 0, 15, 7])
    expect(await classifyDisk(torn)).toBe('blank')
    const up = await bootOn(torn)
    expect(up.root.writable).toBeDefined()
    expect(await classifyDisk(torn)).toBe('honk')
    await up.root.close()
  })

  it('firstNonZeroBlock finds the first non-zero block of a run (any position, any request size)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5000 }), fc.option(fc.nat(4999), { nil: undefined }), fc.nat(4999), async (count, at, start) => {
        const dev = new MemoryBlockDevice(10_000)
        if (at !== undefined) await dev.write(at, new Uint8Array(512).fill(1))
        const s = Math.min(start, 10_000 - count)
        const expected = at !== undefined && at >= s && at < s + count ? at : undefined
        expect(await firstNonZeroBlock(dev, s, count)).toBe(expected)
      }),
      { numRuns: 60 },
    )
  })
})

// ---- issue #12 cases 2 and 5 as the kernel sees them --------------------------------------

describe('bringUpStorage on a damaged writable layer', () => {
  it('a zeroed KV superblock sector (either copy) never makes the boot reformat: the 100 durable files are all there, and the copy is repaired', async () => {
    const dev = disk()
    const first = await bootOn(dev)
    for (let i = 0; i < 100; i++) await writeFile(first.root.root, `k${i}`, `v${i}`)
    await first.root.close()
    const kvStart = first.layout!.extents.kv.start
    for (const lba of [kvStart, kvStart + 1]) {
      const image = await imageOf(dev)
      image.fill(0, lba * 512, (lba + 1) * 512)
      const damaged = new MemoryBlockDevice(dev.blockCount, 512, image)
      const up = await bootOn(damaged)
      expect(up.readOnlyWhy).toBeUndefined()
      for (let i = 0; i < 100; i++) expect(await readText(up.root.root, `k${i}`)).toBe(`v${i}`)
      expect(up.lines.some((l) => l.startsWith(`honk: writable layer: damaged superblock copy repaired (block ${lba - kvStart}: `))).toBe(true)
      await up.root.close()
    }
  })

  it('a KV region whose superblocks are blank but whose log holds data is not formatted', async () => {
    const dev = disk()
    const first = await bootOn(dev)
    for (let i = 0; i < 20; i++) await writeFile(first.root.root, `k${i}`, `v${i}`)
    await first.root.close()
    const kvStart = first.layout!.extents.kv.start
    await dev.write(kvStart, new Uint8Array(2 * 512)) // both superblock blocks zero
    const before = await imageOf(dev)
    const up = await bootOn(dev)
    expect(up.root.writable).toBeUndefined()
    expect(up.lines).toContain(`honk: ${up.readOnlyWhy}`)
    expect(up.readOnlyWhy).toMatch(/^writable layer unavailable: the KV region's superblocks \(its blocks 0-1\) are blank but block \d+ of it holds data; it is not formatted/)
    expect(Buffer.compare(await imageOf(dev), before)).toBe(0)
    expect(await readText(up.root.root, 'motd')).toMatch(/^Welcome to honk/) // the core still serves
  })

  it('fresh, then reboot: writable both times, the disk is honk’s after the first', async () => {
    const dev = disk()
    const a = await bootOn(dev)
    expect(a.disk).toEqual({ kind: 'blank', detail: 'every block is zero' })
    expect(a.readOnlyWhy).toBeUndefined()
    await writeFile(a.root.root, 'x', 'y')
    await a.root.close()
    const b = await bootOn(dev)
    expect(b.disk?.kind).toBe('honk')
    expect(await readText(b.root.root, 'x')).toBe('y')
    await b.root.close()
  })

  it('property: after ops, a power cut and one damaged sector, every acknowledged write survives or the boot is read-only and says why (fast-check)', async () => {
    const outcomes = { writable: 0, 'writable-tail': 0, 'read-only': 0 }
    await fc.assert(
      fc.asyncProperty(storageCaseArb, async (c) => {
        outcomes[await runStorageCase(c)]++
      }),
      { numRuns: 25 },
    )
    expect(outcomes.writable).toBeGreaterThan(0)
  })
})

describe('bringUpStorage: damage in the middle of the log (issue #12 case 3 as the kernel sees it)', () => {
  it('boots read-only, says why, shows what could be read, and writes nothing', async () => {
    const dev = disk()
    const first = await bootOn(dev)
    for (let i = 0; i < 200; i++) await writeFile(first.root.root, `k${i}`, `value ${i} `.repeat(20))
    await first.root.close()
    const kvStart = first.layout!.extents.kv.start
    // Flip a byte in the log's first frames (region blocks 2-3): acknowledged records lost mid-log.
    const image = await imageOf(dev)
    image[(kvStart + 3) * 512 + 100]! ^= 0x40
    const damaged = new MemoryBlockDevice(dev.blockCount, 512, image.slice())
    const up = await bootOn(damaged)
    expect(up.root.writable).toBeUndefined()
    expect(up.readOnlyWhy).toMatch(/^writable layer unavailable: kv store corrupt at .*; it is left as it is \(read-only boot\)$/)
    expect(up.lines).toContain(`honk: ${up.readOnlyWhy}`)
    expect(up.lines.some((l) => /^honk: writable layer: its readable files are shown read-only \(\d+ log records read, \d+ lost\)/.test(l))).toBe(true)
    expect(up.root.layers.map((l) => `${l.name} ${l.mode}`)).toEqual(['kv read-only', 'core read-only'])
    expect(await readText(up.root.root, 'k199')).toBe('value 199 '.repeat(20)) // salvaged: records after the damage
    await expect(writeFile(up.root.root, 'x', 'y')).rejects.toSatisfy((e: unknown) => isFsError(e, 'EROFS'))
    await up.root.close()
    expect(Buffer.compare(await imageOf(damaged), image)).toBe(0)
  })

  it('`reset` — what the boot line tells the user to do — clears the damaged store and makes the layer writable', async () => {
    // The boot line says "copy them off, then `reset`"; reset answered "no writable layer".
    const dev = disk()
    const first = await bootOn(dev)
    for (let i = 0; i < 50; i++) await writeFile(first.root.root, `k${i}`, `value ${i} `.repeat(20))
    await first.root.close()
    const image = await imageOf(dev)
    image[(first.layout!.extents.kv.start + 3) * 512 + 100]! ^= 0x40
    const damaged = new MemoryBlockDevice(dev.blockCount, 512, image.slice())
    const up = await bootOn(damaged)
    expect(up.root.writable).toBeUndefined()
    await up.root.reset()
    expect(up.root.writable).toBeDefined()
    expect(up.root.layers.map((l) => `${l.name} ${l.mode}`)).toEqual(['kv writable', 'core read-only'])
    await expect(readText(up.root.root, 'k49')).rejects.toSatisfy((e: unknown) => isFsError(e, 'ENOENT')) // cleared
    await writeFile(up.root.root, 'after', 'reset')
    await up.root.close()
    const next = await bootOn(damaged)
    expect(next.readOnlyWhy).toBeUndefined()
    expect(await readText(next.root.root, 'after')).toBe('reset')
    await next.root.close()
  })
})
