import { MemoryBlockDevice } from '@honk/block'
import { FsError, readText } from '@honk/vfs'
import { testFS } from '@honk/vfs/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BLOCK, ImageVerifyError, SoftwareAnchor, buildImage, buildTree, bytesReader, fromHex, generateKeyPair, nobleHasher, openImageFS, toHex, verifyImage } from './index.js'

const seed = (n: number) => new Uint8Array(32).fill(n)
const keys = generateKeyPair(seed(0x40))
const other = generateKeyPair(seed(0x41))
const salt = new Uint8Array(32).fill(7)
const files = {
  'etc/motd': 'Welcome to honk',
  'etc/os-release': 'NAME=honk\n',
  'lib/three-leaves.bin': new Uint8Array(3 * 4096 + 7).map((_, i) => (i * 31) & 0xff),
  'empty': '',
}
const image = (v = 2n, k = keys, extra: Partial<Parameters<typeof buildImage>[1]> = {}) => buildImage(files, { secVersion: v, secretKey: k.secretKey, salt, ...extra })
const anchor = (floor = 0n) => new SoftwareAnchor(keys.publicKey, floor)

async function check(img: Uint8Array, a = anchor()): Promise<string> {
  try {
    await verifyImage(img, a)
    return 'ok'
  } catch (e) {
    if (e instanceof ImageVerifyError) return e.check
    throw e
  }
}

describe('dm-verity tree', () => {
  // Known vectors from cryptsetup's verity-compat-test: an 8 MiB all-zero data device.
  const zero = new Uint8Array(8 << 20)
  it('matches veritysetup for 4096-byte blocks with a salt', () => {
    const s = fromHex('e48da609055204e89ae53b655ca2216dd983cf3cb829f34f63a297d106d53e2d')
    expect(toHex(buildTree(zero, s, nobleHasher).root)).toBe('e522df0f97da4febb882ac40f30b37dc0b444bf6df418929463fa25280f09d5c')
  })
  it('matches veritysetup without a salt', () => {
    expect(toHex(buildTree(zero, new Uint8Array(0), nobleHasher).root)).toBe('ef29c902d87350f1da4bfa536e16cebc162a909bf89abe448b81ec500d4fb9bf')
  })
})

describe('build and verify', () => {
  it('round-trips: entries, version, compatible; builds are reproducible', async () => {
    const img = image(7n)
    const v = await verifyImage(img, anchor())
    expect(v.secVersion).toBe(7n)
    expect(v.compatible).toBe('honk-virt')
    expect(v.entries.map((e) => e.path)).toEqual(['empty', 'etc', 'etc/motd', 'etc/os-release', 'lib', 'lib/three-leaves.bin'])
    expect(toHex(image(7n))).toBe(toHex(img))
  })

  it('fails closed, naming the check', async () => {
    const img = image(3n)
    const dataByte = img.slice()
    dataByte[4096 * 3 + 5]! ^= 1 // inside a file's data, past the table
    expect(await check(dataByte)).toBe('merkle')
    const tableByte = img.slice()
    tableByte[3]! ^= 1
    expect(await check(tableByte)).toBe('table')
    const versionBit = img.slice()
    versionBit[img.length - 4096 + 16]! ^= 1
    expect(await check(versionBit)).toBe('signature')
    expect(await check(img, new SoftwareAnchor(other.publicKey))).toBe('signature')
    expect(await check(img, anchor(5n))).toBe('rollback')
    expect(await check(img, anchor(3n))).toBe('ok')
    expect(await check(img.subarray(0, img.length - 4096))).not.toBe('ok')
    expect(await check(img.subarray(4096))).not.toBe('ok')
    expect(await check(new Uint8Array(0))).toBe('format')
    await expect(verifyImage(img, anchor(), { compatible: 'other-board' })).rejects.toMatchObject({ check: 'compatible' })
  })

  it('rejects a file table swapped in from another signed image', async () => {
    const a = image(2n)
    const b = buildImage({ 'etc/motd': 'evil!!!!!!!!!!!' }, { secVersion: 2n, secretKey: keys.secretKey, salt })
    const spliced = a.slice()
    spliced.set(b.subarray(0, 40), 0)
    expect(['table', 'merkle']).toContain(await check(spliced))
  })

  it('detects every single-bit flip anywhere in the image (property)', async () => {
    const img = image(2n)
    await fc.assert(
      fc.asyncProperty(fc.nat(img.length * 8 - 1), async (bit) => {
        const bad = img.slice()
        bad[bit >> 3]! ^= 1 << (bit & 7)
        expect(await check(bad)).not.toBe('ok')
      }),
      { numRuns: 1500 },
    )
  })
})

describe('the lazily verified read-only FS', () => {
  it('passes testFS (read-only) and verifies only the blocks it reads', async () => {
    const img = image()
    const fs = await openImageFS(bytesReader(img), anchor())
    expect(fs.readOnly).toBe(true)
    const before = fs.stats.blocksVerified
    expect(await readText(fs, 'etc/motd')).toBe('Welcome to honk')
    expect(fs.stats.blocksVerified - before).toBeLessThanOrEqual(1)
    await testFS(fs, files)
  })

  it('a corrupt block fails reads that touch it (EIO), not the others', async () => {
    const img = image()
    img[4096 * 2 + 100]! ^= 0xff // in the middle of three-leaves.bin
    const fs = await openImageFS(bytesReader(img), anchor())
    expect(await readText(fs, 'etc/motd')).toBe('Welcome to honk')
    const err = await readText(fs, 'lib/three-leaves.bin').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FsError)
    expect((err as FsError).code).toBe('EIO')
    await expect(openImageFS(bytesReader(img), anchor(9n))).rejects.toMatchObject({ check: 'rollback' })
  })

  it('every single-bit flip is caught by open or by reading the files (property)', async () => {
    // Every data block holds table or file bytes and every hash block lies on some data
    // block's path, so opening and reading every file must hit any flipped bit.
    const img = image()
    await fc.assert(
      fc.asyncProperty(fc.nat(img.length * 8 - 1), async (bit) => {
        const bad = img.slice()
        bad[bit >> 3]! ^= 1 << (bit & 7)
        let caught = false
        try {
          const fs = await openImageFS(bytesReader(bad), anchor())
          for (const p of Object.keys(files)) await readText(fs, p)
        } catch {
          caught = true
        }
        expect(caught).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it('reads from a block device slot', async () => {
    const img = image()
    const dev = MemoryBlockDevice.fromBytes(new Uint8Array(Math.ceil(img.length / 512) * 512).map((_, i) => img[i] ?? 0))
    const reader = { size: img.length, read: async (off: number, len: number) => dev.bytes.subarray(off, off + len) }
    expect(await readText(await openImageFS(reader, anchor()), 'etc/os-release')).toBe('NAME=honk\n')
    expect(BLOCK).toBe(4096)
  })
})
