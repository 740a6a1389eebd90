/**
 * A filesystem stored in `@honk/kv`. Every operation is one atomic `kv.batch`, so after a
 * crash each file is as it was before or after any one operation — never half-written.
 *
 * Keys (UTF-8 strings):
 *   `s`                         superblock: {"v":1,"next":<next inode number>}
 *   `i/<ino:16 hex>`            inode: type, mode, size, times, version, link target
 *   `e/<parent:16 hex>/<name>`  directory entry → child inode number (16 hex)
 *   `c/<ino:16 hex>/<n:8 hex>`  chunk n of a file's data (CHUNK bytes; a missing chunk reads as zeros)
 * A directory rename moves one entry; children are keyed by inode, so nothing below is rewritten.
 */
import type { KV } from '@honk/kv'
import { FsError, ReadOnlyError } from './errors.js'
import { isAtomicWriteTemp } from './helpers.js'
import { checkRange } from './memory.js'
import { cleanPath, components, splitPath } from './path.js'
import type { DirEntry, FS, FileHandle, FileType, OpenOptions, SetAttr, Stat } from './types.js'

/** Bytes per data chunk. Large enough that KV keeps chunks on disk, not in RAM. */
export const CHUNK = 64 * 1024

interface Inode {
  t: 'f' | 'd' | 'l'
  mode: number
  size: number
  nlink: number
  at: number
  mt: number
  ct: number
  v: number
  target?: string
}

type Batch = Parameters<KV['batch']>[0]
type Op = Batch[number]

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
const inoKey = (ino: number) => `i/${hex(ino, 16)}`
const entryKey = (parent: number, name: string) => `e/${hex(parent, 16)}/${name}`
const entryPrefix = (parent: number) => `e/${hex(parent, 16)}/`
const chunkKey = (ino: number, n: number) => `c/${hex(ino, 16)}/${hex(n, 8)}`
const chunkPrefix = (ino: number) => `c/${hex(ino, 16)}/`
const enc = new TextEncoder()
const dec = new TextDecoder()
const ROOT = 1

export interface KvFSOptions {
  readOnly?: boolean
  clock?: () => number
  /** Writes through `FS.sync`/`FileHandle.sync` wait for the device flush (default true). */
  durableSync?: boolean
  /**
   * Every operation resolves only after its batch is flushed to the device (`{ durable: true }`),
   * so a returned write survives a power cut without a `sync` (default false: durable within the
   * store's group-commit window). Concurrent operations still share flushes.
   */
  durable?: boolean
}

/** Opens (creating on first use) a filesystem in `kv`. */
export async function openKvFS(kv: KV, options: KvFSOptions = {}): Promise<FS> {
  const fs = new KvFS(kv, options)
  await fs.init()
  return fs
}

class KvFS implements FS {
  readonly readOnly: boolean
  private readonly clock: () => number
  private readonly writeOptions: { durable: boolean }
  private next = 2
  /** Mutations run one at a time (each is read-modify-write of several keys). */
  private lock: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly kv: KV,
    options: KvFSOptions,
  ) {
    this.readOnly = options.readOnly ?? false
    this.clock = options.clock ?? Date.now
    this.writeOptions = { durable: options.durable ?? false }
  }

  async init(): Promise<void> {
    const sb = await this.kv.getString('s')
    if (sb) {
      const parsed = JSON.parse(sb) as { v: number; next: number }
      if (parsed.v !== 1 || !Number.isSafeInteger(parsed.next)) throw new FsError('EIO', 'mount', '', `unknown superblock ${sb}`)
      this.next = parsed.next
      if (!this.readOnly) await this.removeTemps()
      return
    }
    if (this.readOnly) throw new FsError('EIO', 'mount', '', 'no filesystem in the store and it is read-only')
    const now = this.clock()
    const root: Inode = { t: 'd', mode: 0o755, size: 0, nlink: 2, at: now, mt: now, ct: now, v: 0 }
    await this.kv.batch(
      [
        { type: 'put', key: inoKey(ROOT), value: JSON.stringify(root) },
        { type: 'put', key: 's', value: JSON.stringify({ v: 1, next: this.next }) },
      ],
      { durable: true },
    )
  }

  /**
   * Removes the temporary files interrupted atomic writes left (`writeFile` crashed between
   * creating `.<name>.tmp-…` and renaming it): nothing can still be writing them at mount. The
   * keys are in RAM, so finding them reads nothing from the device.
   */
  private async removeTemps(): Promise<void> {
    const found: { parent: number; name: string; ino: number }[] = []
    for (const k of this.kv.keys({ prefix: 'e/' })) {
      const key = dec.decode(k)
      const name = key.slice(2 + 16 + 1)
      if (!isAtomicWriteTemp(name)) continue
      const raw = await this.kv.getString(k)
      if (raw !== undefined) found.push({ parent: parseInt(key.slice(2, 18), 16), name, ino: parseInt(raw, 16) })
    }
    for (const t of found) {
      const node = await this.kv.getString(inoKey(t.ino))
      if (node !== undefined && (JSON.parse(node) as Inode).t !== 'f') continue // only files are temps
      const ops: Op[] = [{ type: 'delete', key: entryKey(t.parent, t.name) }]
      this.drop(ops, t.ino)
      await this.kv.batch(ops, this.writeOptions)
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => undefined)
    return run
  }

  private async inode(ino: number, op: string, path: string): Promise<Inode> {
    const raw = await this.kv.getString(inoKey(ino))
    if (!raw) throw new FsError('ENOENT', op, path, `inode ${ino} is gone`)
    try {
      return JSON.parse(raw) as Inode
    } catch (e) {
      throw new FsError('EIO', op, path, `inode ${ino} is unreadable`, { cause: e })
    }
  }

  private async child(parent: number, name: string): Promise<number | undefined> {
    const raw = await this.kv.getString(entryKey(parent, name))
    return raw === undefined ? undefined : parseInt(raw, 16)
  }

  /** Walks a clean path to its inode number. */
  private async resolve(clean: string, op: string): Promise<number> {
    let ino = ROOT
    for (const part of components(clean)) {
      const node = await this.inode(ino, op, clean)
      if (node.t !== 'd') throw new FsError('ENOTDIR', op, clean)
      const next = await this.child(ino, part)
      if (next === undefined) throw new FsError('ENOENT', op, clean)
      ino = next
    }
    return ino
  }

  private async parent(clean: string, op: string): Promise<[number, string]> {
    if (clean === '') throw new FsError('EINVAL', op, clean, 'the root has no parent')
    const [dir, name] = splitPath(clean)
    const p = await this.resolve(dir, op)
    if ((await this.inode(p, op, clean)).t !== 'd') throw new FsError('ENOTDIR', op, clean)
    return [p, name]
  }

  private writable(op: string, path: string): void {
    if (this.readOnly) throw new ReadOnlyError(op, path)
  }

  private alloc(ops: Op[]): number {
    const ino = this.next++
    ops.push({ type: 'put', key: 's', value: JSON.stringify({ v: 1, next: this.next }) })
    return ino
  }

  private put(ops: Op[], ino: number, node: Inode): void {
    ops.push({ type: 'put', key: inoKey(ino), value: JSON.stringify(node) })
  }

  private touch(n: Inode): void {
    n.mt = n.ct = this.clock()
    n.v++
  }

  /** Deletes an inode and its data (ops appended). */
  private drop(ops: Op[], ino: number): void {
    ops.push({ type: 'delete', key: inoKey(ino) })
    for (const k of this.kv.keys({ prefix: chunkPrefix(ino) })) ops.push({ type: 'delete', key: k })
  }

  async stat(path: string): Promise<Stat> {
    const clean = cleanPath(path, 'stat')
    const ino = await this.resolve(clean, 'stat')
    return statOf(ino, await this.inode(ino, 'stat', clean))
  }

  async readDir(path: string): Promise<DirEntry[]> {
    const clean = cleanPath(path, 'readdir')
    const ino = await this.resolve(clean, 'readdir')
    if ((await this.inode(ino, 'readdir', clean)).t !== 'd') throw new FsError('ENOTDIR', 'readdir', clean)
    const out: DirEntry[] = []
    const prefix = entryPrefix(ino)
    for await (const [k, v] of this.kv.entries({ prefix })) {
      const name = dec.decode(k).slice(prefix.length)
      if (isAtomicWriteTemp(name)) continue // an atomic write's temporary sibling: never listed
      const child = parseInt(dec.decode(v), 16)
      const node = await this.inode(child, 'readdir', clean)
      out.push({ name, type: node.t === 'd' ? 'dir' : node.t === 'l' ? 'symlink' : 'file', ino: BigInt(child) })
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const clean = cleanPath(path, 'open')
    const write = options.write ?? false
    if ((write || options.create || options.truncate) && this.readOnly) throw new ReadOnlyError('open', clean)
    const ino = await this.exclusive(async () => {
      let target: number | undefined
      if (clean === '') target = ROOT
      else {
        const [p, name] = await this.parent(clean, 'open')
        target = await this.child(p, name)
        if (target === undefined) {
          if (!options.create) throw new FsError('ENOENT', 'open', clean)
          const ops: Op[] = []
          const ino = this.alloc(ops)
          const now = this.clock()
          this.put(ops, ino, { t: 'f', mode: (options.mode ?? 0o644) & 0o7777, size: 0, nlink: 1, at: now, mt: now, ct: now, v: 0 })
          ops.push({ type: 'put', key: entryKey(p, name), value: hex(ino, 16) })
          const parent = await this.inode(p, 'open', clean)
          this.touch(parent)
          this.put(ops, p, parent)
          await this.kv.batch(ops, this.writeOptions)
          return ino
        }
        if (options.create && options.exclusive) throw new FsError('EEXIST', 'open', clean)
      }
      const node = await this.inode(target, 'open', clean)
      if (node.t === 'd' && (write || options.truncate)) throw new FsError('EISDIR', 'open', clean)
      if (node.t === 'l') throw new FsError('EINVAL', 'open', clean, 'is a symlink')
      if (options.truncate && write && node.size > 0) {
        const ops: Op[] = []
        for (const k of this.kv.keys({ prefix: chunkPrefix(target) })) ops.push({ type: 'delete', key: k })
        node.size = 0
        this.touch(node)
        this.put(ops, target, node)
        await this.kv.batch(ops, this.writeOptions)
      }
      return target
    })
    return this.handle(ino, clean, write, options.append ?? false)
  }

  private handle(ino: number, path: string, writable: boolean, append: boolean): FileHandle {
    let closed = false
    const check = (op: string) => {
      if (closed) throw new FsError('EBADF', op, path, 'handle is closed')
    }
    return {
      read: async (position, length) => {
        check('read')
        checkRange('read', path, position, length)
        const node = await this.inode(ino, 'read', path)
        if (node.t === 'd') throw new FsError('EISDIR', 'read', path)
        const end = Math.min(node.size, position + length)
        if (position >= end) return new Uint8Array(0)
        const out = new Uint8Array(end - position)
        for (let n = Math.floor(position / CHUNK); n * CHUNK < end; n++) {
          const chunk = await this.kv.get(chunkKey(ino, n))
          if (!chunk) continue // a hole
          const from = Math.max(position, n * CHUNK)
          const to = Math.min(end, (n + 1) * CHUNK)
          out.set(chunk.subarray(from - n * CHUNK, Math.min(chunk.length, to - n * CHUNK)), from - position)
        }
        return out
      },
      write: (position, data) =>
        this.exclusive(async () => {
          check('write')
          if (!writable) throw new FsError('EBADF', 'write', path, 'not open for writing')
          checkRange('write', path, position, data.length)
          const node = await this.inode(ino, 'write', path)
          const at = append ? node.size : position
          const ops: Op[] = []
          for (let n = Math.floor(at / CHUNK); n * CHUNK < at + data.length; n++) {
            const from = Math.max(at, n * CHUNK)
            const to = Math.min(at + data.length, (n + 1) * CHUNK)
            const old = (await this.kv.get(chunkKey(ino, n))) ?? new Uint8Array(0)
            const len = Math.max(old.length, to - n * CHUNK, Math.min(CHUNK, Math.max(0, node.size - n * CHUNK)))
            const chunk = new Uint8Array(len)
            chunk.set(old.subarray(0, Math.min(old.length, len)))
            chunk.set(data.subarray(from - at, to - at), from - n * CHUNK)
            ops.push({ type: 'put', key: chunkKey(ino, n), value: chunk })
          }
          node.size = Math.max(node.size, at + data.length)
          this.touch(node)
          this.put(ops, ino, node)
          await this.kv.batch(ops, this.writeOptions)
          return data.length
        }),
      truncate: (size) =>
        this.exclusive(async () => {
          check('truncate')
          if (!writable) throw new FsError('EBADF', 'truncate', path, 'not open for writing')
          await this.resize(ino, size, path)
        }),
      stat: async () => {
        check('stat')
        return statOf(ino, await this.inode(ino, 'stat', path))
      },
      sync: async () => {
        check('sync')
        await this.kv.sync()
      },
      close: async () => {
        closed = true
      },
    }
  }

  private async resize(ino: number, size: number, path: string): Promise<void> {
    checkRange('truncate', path, size, 0)
    const node = await this.inode(ino, 'truncate', path)
    if (node.t === 'd') throw new FsError('EISDIR', 'truncate', path)
    if (node.t === 'l') throw new FsError('EINVAL', 'truncate', path, 'cannot resize a symlink')
    const ops: Op[] = []
    if (size < node.size) {
      const keep = Math.ceil(size / CHUNK)
      for (const k of this.kv.keys({ prefix: chunkPrefix(ino) })) {
        const n = parseInt(dec.decode(k).slice(chunkPrefix(ino).length), 16)
        if (n >= keep) ops.push({ type: 'delete', key: k })
      }
      const lastN = Math.floor(size / CHUNK)
      if (size % CHUNK !== 0) {
        const last = await this.kv.get(chunkKey(ino, lastN))
        if (last && last.length > size % CHUNK) ops.push({ type: 'put', key: chunkKey(ino, lastN), value: last.slice(0, size % CHUNK) })
      }
    }
    node.size = size
    this.touch(node)
    this.put(ops, ino, node)
    await this.kv.batch(ops, this.writeOptions)
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    const clean = cleanPath(path, 'mkdir')
    this.writable('mkdir', clean)
    if (clean === '') throw new FsError('EEXIST', 'mkdir', clean)
    await this.exclusive(async () => {
      const [p, name] = await this.parent(clean, 'mkdir')
      if ((await this.child(p, name)) !== undefined) throw new FsError('EEXIST', 'mkdir', clean)
      const ops: Op[] = []
      const ino = this.alloc(ops)
      const now = this.clock()
      this.put(ops, ino, { t: 'd', mode: mode & 0o7777, size: 0, nlink: 2, at: now, mt: now, ct: now, v: 0 })
      ops.push({ type: 'put', key: entryKey(p, name), value: hex(ino, 16) })
      const parent = await this.inode(p, 'mkdir', clean)
      parent.nlink++
      this.touch(parent)
      this.put(ops, p, parent)
      await this.kv.batch(ops, this.writeOptions)
    })
  }

  private hasChildren(ino: number): boolean {
    for (const _ of this.kv.keys({ prefix: entryPrefix(ino), limit: 1 })) return true
    return false
  }

  async remove(path: string): Promise<void> {
    const clean = cleanPath(path, 'remove')
    this.writable('remove', clean)
    await this.exclusive(async () => {
      const [p, name] = await this.parent(clean, 'remove')
      const ino = await this.child(p, name)
      if (ino === undefined) throw new FsError('ENOENT', 'remove', clean)
      const node = await this.inode(ino, 'remove', clean)
      if (node.t === 'd' && this.hasChildren(ino)) throw new FsError('ENOTEMPTY', 'remove', clean)
      const ops: Op[] = [{ type: 'delete', key: entryKey(p, name) }]
      this.drop(ops, ino)
      const parent = await this.inode(p, 'remove', clean)
      if (node.t === 'd') parent.nlink--
      this.touch(parent)
      this.put(ops, p, parent)
      await this.kv.batch(ops, this.writeOptions)
    })
  }

  async rename(from: string, to: string): Promise<void> {
    const src = cleanPath(from, 'rename')
    const dst = cleanPath(to, 'rename')
    this.writable('rename', src)
    await this.exclusive(async () => {
      // Like Linux rename(2): both parent paths resolve first, then the source is looked up.
      const [sp, sn] = await this.parent(src, 'rename')
      const [dp, dn] = await this.parent(dst, 'rename')
      const ino = await this.child(sp, sn)
      if (ino === undefined) throw new FsError('ENOENT', 'rename', src)
      if (src === dst) return
      const node = await this.inode(ino, 'rename', src)
      if (node.t === 'd' && (dst + '/').startsWith(src + '/')) throw new FsError('EINVAL', 'rename', src, `cannot move a directory into itself (${dst})`)
      const ops: Op[] = []
      const existing = await this.child(dp, dn)
      const spNode = await this.inode(sp, 'rename', src)
      const dpNode = sp === dp ? spNode : await this.inode(dp, 'rename', dst)
      if (existing !== undefined) {
        const t = await this.inode(existing, 'rename', dst)
        if (node.t === 'd' && t.t !== 'd') throw new FsError('ENOTDIR', 'rename', dst)
        if (node.t !== 'd' && t.t === 'd') throw new FsError('EISDIR', 'rename', dst)
        if (t.t === 'd' && this.hasChildren(existing)) throw new FsError('ENOTEMPTY', 'rename', dst)
        if (t.t === 'd') dpNode.nlink--
        this.drop(ops, existing)
      }
      ops.push({ type: 'delete', key: entryKey(sp, sn) }, { type: 'put', key: entryKey(dp, dn), value: hex(ino, 16) })
      if (node.t === 'd' && sp !== dp) {
        spNode.nlink--
        dpNode.nlink++
      }
      node.ct = this.clock()
      this.put(ops, ino, node)
      this.touch(spNode)
      this.put(ops, sp, spNode)
      if (dp !== sp) {
        this.touch(dpNode)
        this.put(ops, dp, dpNode)
      }
      await this.kv.batch(ops, this.writeOptions)
    })
  }

  async symlink(target: string, path: string): Promise<void> {
    const clean = cleanPath(path, 'symlink')
    this.writable('symlink', clean)
    await this.exclusive(async () => {
      const [p, name] = await this.parent(clean, 'symlink')
      if ((await this.child(p, name)) !== undefined) throw new FsError('EEXIST', 'symlink', clean)
      const ops: Op[] = []
      const ino = this.alloc(ops)
      const now = this.clock()
      this.put(ops, ino, { t: 'l', mode: 0o777, size: enc.encode(target).length, nlink: 1, at: now, mt: now, ct: now, v: 0, target })
      ops.push({ type: 'put', key: entryKey(p, name), value: hex(ino, 16) })
      const parent = await this.inode(p, 'symlink', clean)
      this.touch(parent)
      this.put(ops, p, parent)
      await this.kv.batch(ops, this.writeOptions)
    })
  }

  async readlink(path: string): Promise<string> {
    const clean = cleanPath(path, 'readlink')
    const node = await this.inode(await this.resolve(clean, 'readlink'), 'readlink', clean)
    if (node.t !== 'l') throw new FsError('EINVAL', 'readlink', clean, 'not a symlink')
    return node.target ?? ''
  }

  async setattr(path: string, attrs: SetAttr): Promise<void> {
    const clean = cleanPath(path, 'setattr')
    this.writable('setattr', clean)
    await this.exclusive(async () => {
      const ino = await this.resolve(clean, 'setattr')
      if (attrs.size !== undefined) await this.resize(ino, attrs.size, clean)
      const node = await this.inode(ino, 'setattr', clean)
      if (attrs.mode !== undefined) node.mode = attrs.mode & 0o7777
      if (attrs.atimeMs !== undefined) node.at = attrs.atimeMs
      if (attrs.mtimeMs !== undefined) node.mt = attrs.mtimeMs
      node.ct = this.clock()
      const ops: Op[] = []
      this.put(ops, ino, node)
      await this.kv.batch(ops, this.writeOptions)
    })
  }

  async sync(): Promise<void> {
    await this.kv.sync()
  }
}

function statOf(ino: number, n: Inode): Stat {
  const type: FileType = n.t === 'd' ? 'dir' : n.t === 'l' ? 'symlink' : 'file'
  return { type, mode: n.mode, size: n.t === 'd' ? 0 : n.size, ino: BigInt(ino), nlink: n.nlink, uid: 0, gid: 0, atimeMs: n.at, mtimeMs: n.mt, ctimeMs: n.ct, version: n.v }
}
