/**
 * A small signed core image for the kernel's own tests (not exported): the storage bring-up
 * needs a verifiable core, and the real one (the factory image built from
 * `examples/virt-machine/core/`) belongs to the machine, not to the kernel. Same format and
 * same rules as the factory build: sorted paths, mode 0644, a salt derived from the version.
 */
import { SoftwareAnchor, buildImage, generateKeyPair, nobleHasher, type ImageEntry } from '@honk/image'

/** A test signing seed (32 bytes 0x10…0x2F): test-only, not the machine's development key. */
const TEST_SEED: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => 0x10 + i)
const TEST_KEYS = generateKeyPair(TEST_SEED)

/** The test core's files: a motd and an os-release, like the machine's core. */
export const TEST_MOTD = 'Welcome to honk (the kernel tests\' core image).\n'
export function coreFiles(): Record<string, Uint8Array | string> {
  return { motd: TEST_MOTD, 'os-release': 'NAME=honk\nID=honk\nVERSION_ID=test\n' }
}

/** The anchor that accepts images signed by {@link buildCoreImage}, with a rollback floor (default 1). */
export function coreAnchor(floor: bigint = 1n): SoftwareAnchor {
  return new SoftwareAnchor(TEST_KEYS.publicKey, floor)
}

/** Builds and signs a test core image (deterministic). */
export function buildCoreImage(options: { version: bigint | number; files?: Record<string, Uint8Array | string> }): Uint8Array {
  const version = BigInt(options.version)
  const enc = new TextEncoder()
  const entries: Record<string, ImageEntry> = {}
  for (const [path, data] of Object.entries(options.files ?? coreFiles())) {
    entries[path] = { type: 'file', mode: 0o644, data: typeof data === 'string' ? enc.encode(data) : data }
  }
  const salt = nobleHasher.sha256(enc.encode(`honk core image salt, version ${version}`))
  return buildImage(entries, { secVersion: version, secretKey: TEST_SEED, compatible: 'honk-virt', salt })
}
