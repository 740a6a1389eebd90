import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CrashSimulatingDevice, MemoryBlockDevice, type BlockDevice } from '@honk/block'
import { SlotError, bytesReader, openImageFS, type ImageFS } from '@honk/image'
import { openKV } from '@honk/kv'
import { MemoryFS, isFsError, mkdirp, readText, writeFile, type FS } from '@honk/vfs'
import { buildCoreImage, coreAnchor, coreFiles } from './core.js'
import { MIN_KV_BYTES, SLOT_BYTES, StorageError, WritableLayerError, classifyDisk, describeStorage, layoutDisk, mountRoot, selectCore } from './storage.js'

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
    expect((await core.stat('motd')).size).toBe(470)
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
