/**
 * honk's immutable core: the files in `examples/virt-machine/core/` (motd, os-release) and the
 * WebAssembly programs of `wasm-programs.ts` (hello.wasm, loop.wasm, textool.wasm), built
 * into a signed, Merkle-verified image with the development key.
 *
 * - {@link DEV_SIGNING_SEED} is a **development key, not a secret** (like Android's test-keys):
 *   anyone can sign an image this machine accepts. A product would keep its seed offline and
 *   embed only the public key. The seed is the Go honk's (bytes 0x40…0x5F), and the public key it
 *   derives is pinned in {@link DEV_PUBLIC_KEY_HEX} (a test checks they match).
 * - The factory image (security version 1) is built once, by `scripts/build-factory.ts`, into
 *   `build/factory.img` (not committed); {@link factoryImage} reads it, and builds it when it is
 *   missing or older than a file under `core/`, so a fresh clone boots without a build step.
 * - Builds are reproducible: the image format stores no times, paths are sorted, every file gets
 *   mode 0644 whatever the checkout's umask, and the dm-verity salt is derived from the version
 *   instead of drawn at random. The same files and version give the same bytes.
 *
 * Node-only (node:fs): the whole virt-machine example runs in Node.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SoftwareAnchor, buildImage, fromHex, generateKeyPair, nobleHasher, type ImageEntry, type KeyPair } from '@honk/image'
import { corePrograms, programsMtime } from './wasm-programs.js'

/**
 * The development signing seed (32 bytes: 0x40, 0x41 … 0x5F). **Not secret**: it is committed on
 * purpose so images can be built and tested anywhere, as Android's test-keys are.
 */
export const DEV_SIGNING_SEED: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i)

/** The ed25519 public key {@link DEV_SIGNING_SEED} derives, pinned (hex). */
export const DEV_PUBLIC_KEY_HEX = '2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d'

/** Security version of the factory image. */
export const FACTORY_VERSION = 1n

/** The `compatible` string the core images carry (the image builder's default, spelled out). */
export const CORE_COMPATIBLE = 'honk-virt'

/** `examples/virt-machine/core/`: the core's committed source files. */
export const CORE_DIR: string = fileURLToPath(new URL('../core/', import.meta.url))

/** `examples/virt-machine/build/factory.img`: the built factory image (gitignored). */
export const FACTORY_IMAGE_PATH: string = fileURLToPath(new URL('../build/factory.img', import.meta.url))

/** The development key pair, derived from {@link DEV_SIGNING_SEED}. */
export function devKeys(): KeyPair {
  return generateKeyPair(DEV_SIGNING_SEED)
}

/** The anchor honk boots with: the development public key and a rollback floor (default 1). */
export function coreAnchor(floor: bigint = 1n): SoftwareAnchor {
  return new SoftwareAnchor(fromHex(DEV_PUBLIC_KEY_HEX), floor)
}

/**
 * Every regular file under `dir` (default {@link CORE_DIR}), keyed by its slash-separated
 * relative path. Names starting with "." (.gitkeep, editor files) are skipped.
 */
export function coreFiles(dir: string = CORE_DIR): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {}
  const visit = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      if (name.startsWith('.')) continue
      const path = join(abs, name)
      const relPath = rel === '' ? name : `${rel}/${name}`
      const st = statSync(path)
      if (st.isDirectory()) visit(path, relPath)
      else if (st.isFile()) out[relPath] = new Uint8Array(readFileSync(path))
    }
  }
  visit(dir, '')
  if (Object.keys(out).length === 0) throw new Error(`the core directory ${dir} holds no files`)
  return out
}

/**
 * What the factory core holds: the files of the core directory and the WebAssembly programs
 * (hello.wasm and loop.wasm always; textool.wasm once scripts/guest/build-wasm-examples.sh built it).
 */
export function factoryFiles(dir: string = CORE_DIR): Record<string, Uint8Array> {
  return { ...coreFiles(dir), ...corePrograms() }
}

export interface BuildCoreOptions {
  /** Security version (the factory is 1). */
  version: bigint | number
  /** The files (path → bytes or text); default: {@link factoryFiles} of {@link CORE_DIR}. */
  files?: Record<string, Uint8Array | string>
  /** Signing key; default: the development key. */
  secretKey?: Uint8Array
}

/** Builds and signs a core image. Deterministic: the same options give the same bytes. */
export function buildCoreImage(options: BuildCoreOptions): Uint8Array {
  const version = BigInt(options.version)
  const files = options.files ?? factoryFiles()
  const entries: Record<string, ImageEntry> = {}
  const enc = new TextEncoder()
  for (const [path, data] of Object.entries(files)) {
    entries[path] = { type: 'file', mode: 0o644, data: typeof data === 'string' ? enc.encode(data) : data }
  }
  const salt = nobleHasher.sha256(enc.encode(`honk core image salt, version ${version}`))
  return buildImage(entries, { secVersion: version, secretKey: options.secretKey ?? DEV_SIGNING_SEED, compatible: CORE_COMPATIBLE, salt })
}

export interface FactoryImageOptions {
  /** Where the built image lives (default {@link FACTORY_IMAGE_PATH}). */
  path?: string
  /** The core's source files (default {@link CORE_DIR}). */
  coreDir?: string
}

/** Builds the factory image (v1) from the core directory and writes it; returns its bytes. */
export function writeFactoryImage(options: FactoryImageOptions = {}): Uint8Array {
  const path = options.path ?? FACTORY_IMAGE_PATH
  const image = buildCoreImage({ version: FACTORY_VERSION, files: factoryFiles(options.coreDir ?? CORE_DIR) })
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, image)
  return image
}

/**
 * The factory image's bytes: read from `build/factory.img`, which is (re)built first when it is
 * missing or older than a file of the core directory (an edited motd is not silently ignored).
 */
export function factoryImage(options: FactoryImageOptions = {}): Uint8Array {
  const path = options.path ?? FACTORY_IMAGE_PATH
  const coreDir = options.coreDir ?? CORE_DIR
  if (!existsSync(path) || statSync(path).mtimeMs < Math.max(newestMtime(coreDir), programsMtime())) return writeFactoryImage({ path, coreDir })
  return new Uint8Array(readFileSync(path))
}

function newestMtime(dir: string): number {
  let newest = statSync(dir).mtimeMs
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue
    const path = join(dir, name)
    const st = statSync(path)
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : st.mtimeMs)
  }
  return newest
}
