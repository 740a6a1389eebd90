/**
 * A verified image as a read-only `FS`, verifying lazily: opening checks the header, the
 * signature, the rollback floor and the file table; a read checks only the data blocks it
 * touches, against the signed root, caching verified hash blocks and recently read data blocks.
 * A block that does not verify fails that read with `ImageCorruptBlockError` (EIO to a guest).
 */
import { FsError, ReadOnlyError, cleanPath, joinPath, splitPath, type DirEntry, type FS, type FileHandle, type OpenOptions, type Stat } from '@honk/vfs'
import type { Anchor } from './anchor.js'
import { ImageCorruptBlockError, ImageVerifyError } from './errors.js'
import { decodeTable, type TableEntry } from './format.js'
import { equalBytes, nobleHasher, type Hasher } from './hash.js'
import { BLOCK, verifyBlock } from './verity.js'
import { checkHeader, type ImageReader, type Layout, type VerifyOptions } from './verify.js'

export interface ImageFSOptions extends VerifyOptions {
  /** Data blocks kept verified in memory (default 256 = 1 MiB). */
  cacheBlocks?: number
}

/** The image FS plus what was verified. */
export type ImageFS = FS & { readonly secVersion: bigint; readonly compatible: string; readonly stats: { blocksVerified: number; cacheHits: number } }

export async function openImageFS(reader: ImageReader, anchor: Anchor, options: ImageFSOptions = {}): Promise<ImageFS> {
  const layout = await checkHeader(reader, anchor, options)
  const blocks = new BlockVerifier(reader, layout, options.hasher ?? nobleHasher, options.cacheBlocks ?? 256)
  const { header } = layout
  const table = await blocks.range(0, header.tableBytes)
  if (!equalBytes((options.hasher ?? nobleHasher).sha256(table), header.tableHash)) throw new ImageVerifyError('table', 'the file table does not match its signed hash')
  return new ImageFileSystem(decodeTable(table, header.fileCount, header.dataBytes), blocks, header.secVersion, header.compatible)
}

class BlockVerifier {
  private readonly verifiedTree = new Map<number, Uint8Array>()
  private readonly cache = new Map<number, Uint8Array>()
  private readonly salted: (data: Uint8Array) => Uint8Array
  readonly stats = { blocksVerified: 0, cacheHits: 0 }

  constructor(
    private readonly reader: ImageReader,
    private readonly layout: Layout,
    hasher: Hasher,
    private readonly cacheBlocks: number,
  ) {
    this.salted = hasher.prefixed(layout.header.salt)
  }

  async block(i: number): Promise<Uint8Array> {
    const hit = this.cache.get(i)
    if (hit) {
      this.stats.cacheHits++
      this.cache.delete(i) // LRU: re-insert at the end
      this.cache.set(i, hit)
      return hit
    }
    const data = (await this.reader.read(i * BLOCK, BLOCK)).slice()
    const { header, geo, treeOffset } = this.layout
    const ok = await verifyBlock(i, data, geo, header.root, this.salted, async (tb) => (await this.reader.read(treeOffset + tb * BLOCK, BLOCK)).slice(), this.verifiedTree, equalBytes)
    if (!ok) throw new ImageCorruptBlockError(i)
    this.stats.blocksVerified++
    this.cache.set(i, data)
    if (this.cache.size > this.cacheBlocks) this.cache.delete(this.cache.keys().next().value!)
    return data
  }

  /** Verified bytes [offset, offset + length) of the data region. */
  async range(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length)
    for (let b = Math.floor(offset / BLOCK); b * BLOCK < offset + length; b++) {
      const block = await this.block(b)
      const from = Math.max(offset, b * BLOCK)
      const to = Math.min(offset + length, (b + 1) * BLOCK)
      out.set(block.subarray(from - b * BLOCK, to - b * BLOCK), from - offset)
    }
    return out
  }
}

class ImageFileSystem implements FS {
  readonly readOnly = true
  private readonly byPath = new Map<string, { entry: TableEntry; ino: bigint }>()
  private readonly children = new Map<string, string[]>([['', []]])

  constructor(
    entries: TableEntry[],
    private readonly blocks: BlockVerifier,
    readonly secVersion: bigint,
    readonly compatible: string,
  ) {
    entries.forEach((e, i) => this.byPath.set(e.path, { entry: e, ino: BigInt(i + 2) }))
    for (const e of entries) {
      const [dir, name] = splitPath(e.path)
      // A table whose entry's parent is not a directory entry is refused at open (bounds).
      if (dir !== '' && this.byPath.get(dir)?.entry.type !== 'dir') throw new ImageVerifyError('bounds', `"${e.path}" has no parent directory entry`)
      if (!this.children.has(dir)) this.children.set(dir, [])
      this.children.get(dir)!.push(name)
      if (e.type === 'dir' && !this.children.has(e.path)) this.children.set(e.path, [])
    }
  }

  get stats() {
    return this.blocks.stats
  }

  private lookup(path: string, op: string): { entry: TableEntry | undefined; ino: bigint; clean: string } {
    const clean = cleanPath(path, op)
    if (clean === '') return { entry: undefined, ino: 1n, clean }
    const hit = this.byPath.get(clean)
    if (!hit) {
      // ENOTDIR when a prefix is a file, as other filesystems report it.
      const parts = clean.split('/')
      for (let i = 1; i < parts.length; i++) {
        const p = this.byPath.get(parts.slice(0, i).join('/'))
        if (p && p.entry.type !== 'dir') throw new FsError('ENOTDIR', op, clean)
      }
      throw new FsError('ENOENT', op, clean)
    }
    return { entry: hit.entry, ino: hit.ino, clean }
  }

  private statOf(entry: TableEntry | undefined, ino: bigint): Stat {
    const type = entry?.type ?? 'dir'
    return { type, mode: entry?.mode ?? 0o755, size: type === 'dir' ? 0 : entry!.length, ino, nlink: type === 'dir' ? 2 : 1, uid: 0, gid: 0, atimeMs: 0, mtimeMs: 0, ctimeMs: 0, version: 0 }
  }

  async stat(path: string): Promise<Stat> {
    const { entry, ino } = this.lookup(path, 'stat')
    return this.statOf(entry, ino)
  }

  async readDir(path: string): Promise<DirEntry[]> {
    const { entry, clean } = this.lookup(path, 'readdir')
    if (entry && entry.type !== 'dir') throw new FsError('ENOTDIR', 'readdir', clean)
    return (this.children.get(clean) ?? [])
      .slice()
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((name) => {
        const hit = this.byPath.get(joinPath(clean, name))!
        return { name, type: hit.entry.type, ino: hit.ino }
      })
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    if (options.write || options.create || options.truncate) throw new ReadOnlyError('open', cleanPath(path, 'open'))
    const { entry, ino, clean } = this.lookup(path, 'open')
    if (entry?.type === 'symlink') throw new FsError('EINVAL', 'open', clean, 'is a symlink')
    const blocks = this.blocks
    const st = this.statOf(entry, ino)
    return {
      read: async (position, length) => {
        if (!entry || entry.type === 'dir') throw new FsError('EISDIR', 'read', clean)
        if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) throw new FsError('EINVAL', 'read', clean)
        const from = Math.min(position, entry.length)
        const to = Math.min(entry.length, position + length)
        try {
          return await blocks.range(entry.offset + from, to - from)
        } catch (e) {
          if (e instanceof ImageCorruptBlockError) throw new FsError('EIO', 'read', clean, e.message, { cause: e })
          throw e
        }
      },
      write: async () => {
        throw new ReadOnlyError('write', clean)
      },
      truncate: async () => {
        throw new ReadOnlyError('truncate', clean)
      },
      stat: async () => st,
      sync: async () => {},
      close: async () => {},
    }
  }

  async readlink(path: string): Promise<string> {
    const { entry, clean } = this.lookup(path, 'readlink')
    if (entry?.type !== 'symlink') throw new FsError('EINVAL', 'readlink', clean, 'not a symlink')
    return new TextDecoder().decode(await this.blocks.range(entry.offset, entry.length))
  }

  async mkdir(path: string): Promise<void> {
    throw new ReadOnlyError('mkdir', cleanPath(path, 'mkdir'))
  }
  async remove(path: string): Promise<void> {
    throw new ReadOnlyError('remove', cleanPath(path, 'remove'))
  }
  async rename(from: string): Promise<void> {
    throw new ReadOnlyError('rename', cleanPath(from, 'rename'))
  }
  async symlink(_target: string, path: string): Promise<void> {
    throw new ReadOnlyError('symlink', cleanPath(path, 'symlink'))
  }
  async setattr(path: string): Promise<void> {
    throw new ReadOnlyError('setattr', cleanPath(path, 'setattr'))
  }
  async sync(): Promise<void> {}
}
