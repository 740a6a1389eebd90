/**
 * Node-only: a native SHA-256 hasher (several times faster than the pure-JS one) and a
 * builder from a host directory.
 * @packageDocumentation
 */
import { createHash } from 'node:crypto'
import { HostFS } from '@honk/vfs/node'
import { entriesFromFS, type ImageEntry } from './build.js'
import type { Hasher } from './hash.js'

export const nodeHasher: Hasher = {
  sha256(...parts) {
    const h = createHash('sha256')
    for (const p of parts) h.update(p)
    return new Uint8Array(h.digest())
  },
  prefixed(prefix) {
    const base = createHash('sha256').update(prefix)
    return (data) => new Uint8Array(base.copy().update(data).digest())
  },
}

/** Every file, directory and symlink under a host directory, for `buildImage`. */
export async function entriesFromDirectory(dir: string): Promise<Record<string, ImageEntry>> {
  return entriesFromFS(new HostFS(dir, { readOnly: true }))
}
