import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ImageVerifyError, SoftwareAnchor, buildImage, decodeHeader, generateKeyPair, toHex, verifyImage } from './index.js'
import { BLOCK } from './verity.js'

// The real ed25519 check, remembered for the last inputs it was given: a flip outside the header
// leaves the signed bytes as they were, and pure-JS ed25519 (~1.5 ms) would otherwise be ~3/4 of
// the exhaustive test's 131 072 verifications. Every distinct (signature, message, key) is still
// checked by the real function, so each verdict is the one it would give.
vi.mock('./sign.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('./sign.js')>()
  let last: { inputs: Uint8Array[]; ok: boolean } | undefined
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])
  return {
    ...real,
    verifySignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      const inputs = [signature, message, publicKey]
      if (last && inputs.every((x, i) => same(x, last!.inputs[i]!))) return last.ok
      const ok = real.verifySignature(signature, message, publicKey)
      last = { inputs: inputs.map((x) => x.slice()), ok }
      return ok
    },
  }
})

const VERITYSETUP = '/usr/sbin/veritysetup'
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'honk-image-sys-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const keys = generateKeyPair(new Uint8Array(32).fill(9))
const files = { 'etc/motd': 'Welcome to honk', 'big.bin': new Uint8Array(600_000).map((_, i) => (i * 7) & 0xff) }

describe.skipIf(!existsSync(VERITYSETUP))("Debian's veritysetup accepts our Merkle tree", () => {
  it('verifies the image file in place (data at 0, superblock + tree after it)', async () => {
    const img = buildImage(files, { secVersion: 1n, secretKey: keys.secretKey })
    const path = join(dir, 'core.img')
    await writeFile(path, img)
    const h = decodeHeader(img.subarray(img.length - BLOCK))
    const args = ['verify', path, path, toHex(h.root), `--data-blocks=${h.dataBlocks}`, `--hash-offset=${h.dataBlocks * BLOCK}`]
    const ok = spawnSync(VERITYSETUP, args, { encoding: 'utf8' })
    expect(ok.status, ok.stderr).toBe(0)
    // Its own reading of our superblock agrees.
    const dump = execFileSync(VERITYSETUP, ['dump', path, `--hash-offset=${h.dataBlocks * BLOCK}`], { encoding: 'utf8' })
    expect(dump).toMatch(new RegExp(`Data blocks:\\s+${h.dataBlocks}`))
    expect(dump).toMatch(new RegExp(`Salt:\\s+${toHex(h.salt)}`))
    // And it rejects a corrupted data block, as we do.
    const bad = img.slice()
    bad[5000]! ^= 1
    await writeFile(path, bad)
    expect(spawnSync(VERITYSETUP, args, { encoding: 'utf8' }).status).not.toBe(0)
  })
})

describe('exhaustive single-bit flips (slow tier)', () => {
  it('every bit of a small image, flipped, fails verification', async () => {
    const img = buildImage({ 'a': 'x', 'b/c': 'yy' }, { secVersion: 1n, secretKey: keys.secretKey, salt: new Uint8Array(32) })
    const anchor = new SoftwareAnchor(keys.publicKey)
    let checked = 0
    for (let bit = 0; bit < img.length * 8; bit++) {
      const bad = img.slice()
      bad[bit >> 3]! ^= 1 << (bit & 7)
      await expect(verifyImage(bad, anchor)).rejects.toBeInstanceOf(ImageVerifyError)
      checked++
    }
    console.log(`image: ${checked} single-bit flips, all rejected`)
    expect(checked).toBe(img.length * 8)
  })

  it('honk-mkimage builds, inspects and verifies a directory', async () => {
    const src = join(dir, 'tree')
    await mkdir(join(src, 'etc'), { recursive: true })
    await writeFile(join(src, 'etc', 'motd'), 'hi')
    const cli = (...a: string[]) => spawnSync(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/cli.ts', ...a], { encoding: 'utf8', cwd: join(__dirname, '..') })
    const key = join(dir, 'dev.key')
    expect(cli('keygen', key).status).toBe(0)
    const build = cli('build', src, join(dir, 'out.img'), '--key', key, '--version', '3')
    expect(build.stdout).toMatch(/mkimage: .* -> .*out\.img \(1 files, \d+ bytes, version 3\)/)
    expect(cli('inspect', join(dir, 'out.img')).stdout).toMatch(/version\s+3/)
    expect(cli('verify', join(dir, 'out.img'), '--pub', key + '.pub').status).toBe(0)
    expect(cli('verify', join(dir, 'out.img'), '--pub', key + '.pub', '--floor', '4').stderr).toMatch(/rollback/)
  })
})
