import { readFile, walk, type FS } from '@honk/vfs'
import { SIGNATURE_OFFSET, encodeHeader, encodeTable, type EntryType, type TableEntry } from './format.js'
import { nobleHasher, type Hasher } from './hash.js'
import { sign } from './sign.js'
import { BLOCK, buildTree, verityHeader } from './verity.js'

/** One entry of an image: a file's bytes, a directory, or a symlink's target. */
export interface ImageEntry {
  type: EntryType
  mode?: number
  data?: Uint8Array
}

export interface BuildOptions {
  /** Security version (anti-rollback). */
  secVersion: bigint
  /** The ed25519 secret key (32-byte seed). */
  secretKey: Uint8Array
  /** What hardware the image is for (≤ 32 bytes); verification can require it. */
  compatible?: string
  /** 32-byte salt of the Merkle tree; random if not given (give one for reproducible builds). */
  salt?: Uint8Array
  hasher?: Hasher
}

/**
 * Builds and signs an image from `entries` (path → entry; files may also be given as bytes or
 * strings). Paths are slash-separated and relative; parent directories are implied.
 */
export function buildImage(entries: Record<string, ImageEntry | Uint8Array | string>, options: BuildOptions): Uint8Array {
  const hasher = options.hasher ?? nobleHasher
  const enc = new TextEncoder()
  const norm = new Map<string, Required<ImageEntry>>()
  for (const [raw, e] of Object.entries(entries)) {
    const path = raw.split('/').filter((p) => p !== '' && p !== '.').join('/')
    if (path === '' || path.split('/').includes('..')) throw new RangeError(`invalid image path "${raw}"`)
    const entry: ImageEntry = typeof e === 'string' || e instanceof Uint8Array ? { type: 'file', data: typeof e === 'string' ? enc.encode(e) : e } : e
    norm.set(path, { type: entry.type, mode: entry.mode ?? (entry.type === 'dir' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644), data: entry.data ?? new Uint8Array(0) })
    // Parent directories are implied.
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (!norm.has(dir)) norm.set(dir, { type: 'dir', mode: 0o755, data: new Uint8Array(0) })
    }
  }
  const paths = [...norm.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  // First pass: table size (offsets do not change its size).
  const draft: TableEntry[] = paths.map((p) => ({ path: p, type: norm.get(p)!.type, mode: norm.get(p)!.mode, offset: 0, length: 0 }))
  const tableBytes = encodeTable(draft).length
  let offset = tableBytes
  const table: TableEntry[] = paths.map((p) => {
    const e = norm.get(p)!
    const t: TableEntry = { path: p, type: e.type, mode: e.mode, offset: e.type === 'dir' ? 0 : offset, length: e.type === 'dir' ? 0 : e.data.length }
    if (e.type !== 'dir') offset += e.data.length
    return t
  })
  const dataBytes = offset
  const dataBlocks = Math.max(1, Math.ceil(dataBytes / BLOCK))
  const data = new Uint8Array(dataBlocks * BLOCK)
  const tableBuf = encodeTable(table)
  data.set(tableBuf, 0)
  for (const t of table) if (t.type !== 'dir') data.set(norm.get(t.path)!.data, t.offset)

  const salt = options.salt ?? globalThis.crypto.getRandomValues(new Uint8Array(32))
  const uuid = hasher.sha256(salt, enc.encode('verity-uuid')).subarray(0, 16)
  const { tree, root, geo } = buildTree(data, salt, hasher)
  const header = encodeHeader({
    secVersion: options.secVersion,
    dataBlocks,
    dataBytes,
    fileCount: table.length,
    tableBytes,
    salt,
    root,
    tableHash: hasher.sha256(tableBuf),
    treeBlocks: geo.treeBlocks,
    compatible: options.compatible ?? 'honk-virt',
    uuid,
  })
  header.set(sign(header.subarray(0, SIGNATURE_OFFSET), options.secretKey), SIGNATURE_OFFSET)
  const image = new Uint8Array(data.length + BLOCK + tree.length + BLOCK)
  image.set(data, 0)
  image.set(verityHeader(dataBlocks, salt, uuid), data.length)
  image.set(tree, data.length + BLOCK)
  image.set(header, image.length - BLOCK)
  return image
}

/** Collects every file, directory and symlink of `fs` (from `root`) for {@link buildImage}. */
export async function entriesFromFS(fs: FS, root = ''): Promise<Record<string, ImageEntry>> {
  const out: Record<string, ImageEntry> = {}
  const base = root === '' ? '' : root + '/'
  for await (const [path, st] of walk(fs, root)) {
    if (path === root) continue
    const rel = path.slice(base.length)
    if (st.type === 'dir') out[rel] = { type: 'dir', mode: st.mode }
    else if (st.type === 'symlink') out[rel] = { type: 'symlink', data: new TextEncoder().encode(await fs.readlink(path)) }
    else out[rel] = { type: 'file', mode: st.mode, data: await readFile(fs, path) }
  }
  return out
}
