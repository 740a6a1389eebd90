import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ImageVerifyError, SoftwareAnchor, bytesReader, generateKeyPair, openImageFS, toHex, verifyImage } from '@honk/image'
import { readText } from '@honk/vfs'
import { CORE_COMPATIBLE, DEV_PUBLIC_KEY_HEX, DEV_SIGNING_SEED, FACTORY_IMAGE_PATH, FACTORY_VERSION, buildCoreImage, coreAnchor, coreFiles, devKeys, factoryImage } from './factory-core.js'

const tmp: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'honk-core-'))
  tmp.push(d)
  return d
}
afterEach(() => {
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('the development key', () => {
  it('is derived from the committed seed 0x40…0x5F and matches the pinned public key', () => {
    expect([...DEV_SIGNING_SEED]).toEqual(Array.from({ length: 32 }, (_, i) => 0x40 + i))
    expect(toHex(devKeys().publicKey)).toBe(DEV_PUBLIC_KEY_HEX)
    expect(toHex(coreAnchor().publicKey())).toBe(DEV_PUBLIC_KEY_HEX)
  })

  it('anchors with rollback floor 1 by default', async () => {
    expect(await coreAnchor().floor()).toBe(1n)
    expect(await coreAnchor(3n).floor()).toBe(3n)
  })
})

describe('the core files', () => {
  it('hold a 470-byte motd and an 80-byte os-release, as honk', () => {
    const files = coreFiles()
    const text = (p: string) => new TextDecoder().decode(files[p])
    expect(files['motd']?.length).toBe(470)
    expect(text('motd').startsWith('Welcome to honk')).toBe(true)
    expect(files['os-release']?.length).toBe(80)
    expect(text('os-release')).toMatch(/^NAME=honk$/m)
    expect(text('os-release')).toMatch(/^VERSION_ID=1$/m)
    expect(text('os-release')).toMatch(/^PRETTY_NAME="honk /m)
  })
})

describe('the factory image', () => {
  it('verifies under the core anchor as version 1 and serves the core files', async () => {
    const img = buildCoreImage({ version: FACTORY_VERSION })
    const v = await verifyImage(img, coreAnchor())
    expect(v.secVersion).toBe(1n)
    expect(v.compatible).toBe(CORE_COMPATIBLE)
    const fs = await openImageFS(bytesReader(img), coreAnchor(), { compatible: CORE_COMPATIBLE })
    expect((await fs.readDir('')).map((e) => e.name)).toEqual(['motd', 'os-release'])
    expect(await readText(fs, 'motd')).toMatch(/^Welcome to honk/)
    expect((await fs.stat('os-release')).size).toBe(80)
  })

  it('is refused by another key and below a higher floor', async () => {
    const img = buildCoreImage({ version: 1 })
    await expect(verifyImage(img, new SoftwareAnchor(generateKeyPair().publicKey, 0n))).rejects.toMatchObject({ check: 'signature' })
    await expect(verifyImage(img, coreAnchor(2n))).rejects.toBeInstanceOf(ImageVerifyError)
    await expect(verifyImage(img, coreAnchor(2n))).rejects.toMatchObject({ check: 'rollback' })
  })

  it('builds deterministically: same files and version, same bytes', () => {
    const a = buildCoreImage({ version: 1 })
    const b = buildCoreImage({ version: 1 })
    expect(toHex(a)).toBe(toHex(b))
    const files = { 'etc/x': 'x', motd: 'hi' }
    expect(toHex(buildCoreImage({ version: 2, files }))).toBe(toHex(buildCoreImage({ version: 2, files: { motd: 'hi', 'etc/x': 'x' } })))
    expect(toHex(buildCoreImage({ version: 2, files }))).not.toBe(toHex(buildCoreImage({ version: 3, files })))
  })

  it('is written on first use, then read back; rebuilt when a core file is newer', () => {
    const coreDir = tempDir()
    writeFileSync(join(coreDir, 'motd'), 'Welcome to honk (test)\n')
    const path = join(tempDir(), 'build', 'factory.img')
    const first = factoryImage({ path, coreDir })
    expect(readFileSync(path)).toEqual(Buffer.from(first))
    expect(toHex(first)).toBe(toHex(buildCoreImage({ version: 1, files: { motd: 'Welcome to honk (test)\n' } })))

    // A stand-in file newer than the sources is read, not rebuilt.
    writeFileSync(path, 'not rebuilt')
    expect(new TextDecoder().decode(factoryImage({ path, coreDir }))).toBe('not rebuilt')

    // An edited core file is newer than the image: rebuilt.
    writeFileSync(join(coreDir, 'motd'), 'Welcome to honk (edited)\n')
    const later = new Date(statSync(path).mtimeMs + 5000)
    utimesSync(join(coreDir, 'motd'), later, later)
    const rebuilt = factoryImage({ path, coreDir })
    expect(toHex(rebuilt)).toBe(toHex(buildCoreImage({ version: 1, files: { motd: 'Welcome to honk (edited)\n' } })))
  })

  it('lives in examples/virt-machine/build/', () => {
    expect(FACTORY_IMAGE_PATH.replaceAll('\\', '/')).toMatch(/examples\/virt-machine\/build\/factory\.img$/)
  })
})
