/**
 * The kernel's storage under damage, at scale (issue #12 cases 4 and 5, system tier): thousands
 * of (operations, power cut, one damaged sector) cases of the bring-up property, and real
 * foreign images made by the real tools (mkfs.ext4, mkswap, cryptsetup) that must never be
 * taken for blank disks. (The same foreign disk under the whole machine is
 * examples/virt-machine/src/foreign-disk.system.test.ts.)
 */
import { MemoryBlockDevice } from '@honk/block'
import fc from 'fast-check'
import { imageMadeBy } from '@honk/block/testing/node'
import { describe, expect, it } from 'vitest'
import { buildCoreImage, coreAnchor } from './test-core.js'
import { runStorageCase, storageCaseArb } from './storage-harness.js'
import { bringUpStorage, inspectDisk } from './storage.js'

const RUNS = Number(process.env.HONK_STORAGE_RUNS ?? 2000)

describe('kernel storage: damage + crash property at scale', () => {
  it(`every acknowledged write survives, or the boot is read-only, says why and writes nothing (${RUNS} cases)`, async () => {
    const outcomes = { writable: 0, 'writable-tail': 0, 'read-only': 0 }
    await fc.assert(
      fc.asyncProperty(storageCaseArb, async (c) => {
        outcomes[await runStorageCase(c)]++
      }),
      { numRuns: RUNS },
    )
    // Both outcomes are exercised (the damage lands on live data often enough).
    expect(outcomes.writable).toBeGreaterThan(RUNS / 10)
    expect(outcomes['read-only']).toBeGreaterThan(RUNS / 100)
    console.log(`storage property: ${RUNS} cases, ${outcomes.writable} writable boots, ${outcomes['writable-tail']} writable after damage to the log's tail, ${outcomes['read-only']} read-only boots`)
  }, 1_800_000)
})

describe('real foreign images are never formatted (issue #12 case 4)', () => {
  const cases: [string, () => Promise<Uint8Array>, RegExp][] = [
    ['mkfs.ext4', () => imageMadeBy('mkfs.ext4', (p) => ['-F', '-q', p]), /ext2\/3\/4 filesystem/],
    ['mkfs.ext2', () => imageMadeBy('mkfs.ext4', (p) => ['-F', '-q', '-t', 'ext2', p]), /ext2\/3\/4 filesystem/],
    ['mkswap', () => imageMadeBy('mkswap', (p) => [p]), /Linux swap area \("SWAPSPACE2"/],
    ['cryptsetup luksFormat', () => imageMadeBy('sh', (p) => ['-c', `printf pw > ${p}.key && cryptsetup luksFormat --batch-mode --key-file ${p}.key --pbkdf pbkdf2 --pbkdf-force-iterations 1000 ${p}`]), /LUKS encrypted volume/],
  ]
  for (const [name, make, why] of cases) {
    it(`a disk made by ${name} is foreign; the boot is read-only and changes no byte`, async () => {
      const image = await make()
      expect(image.subarray(0, 1024).every((b) => b === 0) || name.startsWith('cryptsetup')).toBe(true) // the first KiB the old check looked at
      const dev = new MemoryBlockDevice(image.length / 512, 512, image.slice())
      expect((await inspectDisk(dev)).detail).toMatch(why)
      const lines: string[] = []
      const up = await bringUpStorage({ disk: dev, factory: buildCoreImage({ version: 1 }), anchor: coreAnchor(), line: (t) => lines.push(t) })
      expect(up.root.writable).toBeUndefined()
      expect(lines[0]).toMatch(why)
      const after = new Uint8Array(image.length)
      await dev.read(0, after)
      expect(Buffer.compare(after, image)).toBe(0)
    })
  }

  it('raw data after a zero first MiB (no signature) is foreign', async () => {
    const image = new Uint8Array(16 << 20)
    for (let i = 3 << 20; i < 4 << 20; i++) image[i] = (i * 2654435761) >>> 24
    const dev = new MemoryBlockDevice(image.length / 512, 512, image)
    expect(await inspectDisk(dev)).toEqual({ kind: 'foreign', detail: `block ${(3 << 20) / 512} is not zero` })
  })
})
