/**
 * Node-only test tools for block devices: images made by the real host tools (`mkfs.ext4`,
 * `mkswap`, `cryptsetup`…), for tests that must meet a foreign disk as a user's machine would
 * hand it over.
 * @packageDocumentation
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Runs `tool` with `args(path)` on a new zero-filled image file of `bytes` (default 16 MiB) and
 * returns the image's bytes; the file is removed. Throws when the tool fails (its stderr in the
 * message) or is not installed.
 */
export async function imageMadeBy(tool: string, args: (path: string) => string[], bytes = 16 << 20): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'honk-image-'))
  try {
    const path = join(dir, 'disk.img')
    await writeFile(path, new Uint8Array(0))
    await truncate(path, bytes)
    execFileSync(tool, args(path), { stdio: ['ignore', 'ignore', 'pipe'] })
    return new Uint8Array(await readFile(path))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
