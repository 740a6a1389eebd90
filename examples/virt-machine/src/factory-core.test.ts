import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ImageVerifyError, SoftwareAnchor, bytesReader, generateKeyPair, openImageFS, toHex, verifyImage } from '@honk/image'
import { readText } from '@honk/vfs'
import { corePrograms, helloWasm, loopWasm } from './wasm-programs.js'
import { CORE_COMPATIBLE, DEV_PUBLIC_KEY_HEX, DEV_SIGNING_SEED, FACTORY_IMAGE_PATH, FACTORY_VERSION, buildCoreImage, coreAnchor, coreFiles, devKeys, factoryFiles, factoryImage } from './factory-core.js'

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

/** The WebAssembly JS API (the repo's TypeScript lib has no DOM types), as far as these tests use it. */
interface WasmJsApi {
  validate(bytes: Uint8Array): boolean
  compile(bytes: Uint8Array): Promise<object>
  instantiate(module: object, imports: object): Promise<{ exports: Record<string, unknown> }>
  Module: { imports(module: object): { module: string; name: string; kind: string }[] }
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmJsApi }).WebAssembly

describe('the core\'s WebAssembly programs', () => {
  it('hello.wasm (hand-encoded) validates, imports only fd_write, and writes "honk from wasm" under node:wasi', async () => {
    const bytes = helloWasm()
    expect(Wasm.validate(bytes)).toBe(true)
    const mod = await Wasm.compile(bytes)
    expect(Wasm.Module.imports(mod)).toEqual([{ module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function' }])
    let out = ''
    const memory = { buffer: new ArrayBuffer(0) }
    const inst = await Wasm.instantiate(mod, {
      wasi_snapshot_preview1: {
        fd_write: (fd: number, iovs: number, count: number, written: number) => {
          const v = new DataView(memory.buffer)
          expect([fd, count]).toEqual([1, 1])
          const [ptr, len] = [v.getUint32(iovs, true), v.getUint32(iovs + 4, true)]
          out += new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len))
          v.setUint32(written, len, true)
          return 0
        },
      },
    })
    memory.buffer = (inst.exports['memory'] as { buffer: ArrayBuffer }).buffer
    ;(inst.exports['_start'] as () => void)()
    expect(out).toBe('honk from wasm\n')
  })

  it('loop.wasm validates and exports a _start that never returns (checked by its shape: loop br 0)', () => {
    const bytes = loopWasm()
    expect(Wasm.validate(bytes)).toBe(true)
    expect(bytes.length).toBeLessThan(64)
    expect([...bytes.slice(-6)]).toEqual([0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b])
  })
})

describe('the factory image', () => {
  it('verifies under the core anchor as version 1 and serves the core files', async () => {
    const img = buildCoreImage({ version: FACTORY_VERSION })
    const v = await verifyImage(img, coreAnchor())
    expect(v.secVersion).toBe(1n)
    expect(v.compatible).toBe(CORE_COMPATIBLE)
    const fs = await openImageFS(bytesReader(img), coreAnchor(), { compatible: CORE_COMPATIBLE })
    expect((await fs.readDir('')).map((e) => e.name)).toEqual(Object.keys(factoryFiles()).sort())
    expect((await fs.readDir('')).map((e) => e.name)).toEqual(expect.arrayContaining(['hello.wasm', 'loop.wasm', 'motd', 'os-release']))
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
    expect(toHex(first)).toBe(toHex(buildCoreImage({ version: 1, files: { motd: 'Welcome to honk (test)\n', ...corePrograms() } })))

    // A stand-in file newer than the sources is read, not rebuilt.
    writeFileSync(path, 'not rebuilt')
    expect(new TextDecoder().decode(factoryImage({ path, coreDir }))).toBe('not rebuilt')

    // An edited core file is newer than the image: rebuilt.
    writeFileSync(join(coreDir, 'motd'), 'Welcome to honk (edited)\n')
    const later = new Date(statSync(path).mtimeMs + 5000)
    utimesSync(join(coreDir, 'motd'), later, later)
    const rebuilt = factoryImage({ path, coreDir })
    expect(toHex(rebuilt)).toBe(toHex(buildCoreImage({ version: 1, files: { motd: 'Welcome to honk (edited)\n', ...corePrograms() } })))
  })

  it('lives in examples/virt-machine/build/', () => {
    expect(FACTORY_IMAGE_PATH.replaceAll('\\', '/')).toMatch(/examples\/virt-machine\/build\/factory\.img$/)
  })
})
