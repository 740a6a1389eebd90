/**
 * Node-only: `HostFS`, a host directory as an `FS`, confined to its root.
 *
 * Confinement: paths are cleaned ('..' refused), and no symlink is ever followed — every
 * intermediate component is checked with `lstat` and must be a real directory (a symlink there
 * is ENOTDIR, as in MemoryFS), the final component is opened with `O_NOFOLLOW`, and symlinks are
 * returned as symlinks. So neither a path nor a link inside the tree can reach outside it. This
 * holds against the directory's contents; a host process concurrently swapping components is
 * outside the model (export a directory nothing else writes).
 * @packageDocumentation
 */
import { constants, type BigIntStats } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { FsError, ReadOnlyError, type FsErrorCode } from './errors.js'
import { checkRange } from './memory.js'
import { cleanPath, components } from './path.js'
import type { DirEntry, FS, FileHandle, FileType, OpenOptions, SetAttr, Stat } from './types.js'

const KNOWN: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY', 'EROFS', 'EINVAL', 'EXDEV', 'EACCES', 'ENOSPC', 'EBADF'])

function mapError(e: unknown, op: string, path: string): FsError {
  const code = (e as NodeJS.ErrnoException)?.code ?? ''
  if (KNOWN.has(code)) return new FsError(code as FsErrorCode, op, path, undefined, { cause: e })
  if (code === 'EPERM') return new FsError('EACCES', op, path, undefined, { cause: e })
  if (code === 'ELOOP') return new FsError('EINVAL', op, path, 'is a symlink', { cause: e })
  return new FsError('EIO', op, path, (e as Error)?.message, { cause: e })
}

function typeOf(st: BigIntStats): FileType | undefined {
  if (st.isDirectory()) return 'dir'
  if (st.isSymbolicLink()) return 'symlink'
  if (st.isFile()) return 'file'
  return undefined // devices, fifos and sockets are not exported
}

function toStat(st: BigIntStats, op: string, path: string): Stat {
  const type = typeOf(st)
  if (!type) throw new FsError('EACCES', op, path, 'not a regular file, directory or symlink')
  return {
    type,
    mode: Number(st.mode & 0o7777n),
    size: type === 'dir' ? 0 : Number(st.size),
    ino: st.ino,
    nlink: Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    atimeMs: Number(st.atimeMs),
    mtimeMs: Number(st.mtimeMs),
    ctimeMs: Number(st.ctimeMs),
    // Changes whenever the contents or size change (qid.version).
    version: Number((st.mtimeNs ^ st.size) & 0x7fffffffn),
  }
}

export interface HostFSOptions {
  readOnly?: boolean
}

export class HostFS implements FS {
  readonly readOnly: boolean
  readonly root: string

  constructor(root: string, options: HostFSOptions = {}) {
    this.root = resolve(root)
    this.readOnly = options.readOnly ?? false
  }

  /** The host path of a clean path, after checking every directory on the way is a real directory. */
  private async host(clean: string, op: string): Promise<string> {
    const parts = components(clean)
    let at = this.root
    for (let i = 0; i < parts.length - 1; i++) {
      at = join(at, parts[i]!)
      let st: BigIntStats
      try {
        st = await fsp.lstat(at, { bigint: true })
      } catch (e) {
        throw mapError(e, op, clean)
      }
      if (!st.isDirectory()) throw new FsError('ENOTDIR', op, clean)
    }
    return parts.length === 0 ? this.root : join(at, parts[parts.length - 1]!)
  }

  private writable(op: string, path: string): void {
    if (this.readOnly) throw new ReadOnlyError(op, path)
  }

  async stat(path: string): Promise<Stat> {
    const clean = cleanPath(path, 'stat')
    const p = await this.host(clean, 'stat')
    try {
      return toStat(await fsp.lstat(p, { bigint: true }), 'stat', clean)
    } catch (e) {
      throw e instanceof FsError ? e : mapError(e, 'stat', clean)
    }
  }

  async readDir(path: string): Promise<DirEntry[]> {
    const clean = cleanPath(path, 'readdir')
    const p = await this.host(clean, 'readdir')
    let names: string[]
    try {
      const st = await fsp.lstat(p)
      if (!st.isDirectory()) throw new FsError('ENOTDIR', 'readdir', clean)
      names = await fsp.readdir(p)
    } catch (e) {
      throw e instanceof FsError ? e : mapError(e, 'readdir', clean)
    }
    const out: DirEntry[] = []
    for (const name of names) {
      try {
        const st = await fsp.lstat(join(p, name), { bigint: true })
        const type = typeOf(st)
        if (type) out.push({ name, type, ino: st.ino })
      } catch {
        // removed meanwhile
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const clean = cleanPath(path, 'open')
    const write = options.write ?? false
    if ((write || options.create || options.truncate) && this.readOnly) throw new ReadOnlyError('open', clean)
    const p = await this.host(clean, 'open')
    let flags = (write ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW
    if (options.create) flags |= constants.O_CREAT
    if (options.create && options.exclusive) flags |= constants.O_EXCL
    if (options.truncate && write) flags |= constants.O_TRUNC
    if (options.append) flags |= constants.O_APPEND
    let fh: fsp.FileHandle
    try {
      const st = await fsp.lstat(p).catch(() => undefined)
      if (st?.isDirectory()) {
        if (write || options.truncate) throw new FsError('EISDIR', 'open', clean)
        return this.dirHandle(p, clean)
      }
      if (st && !st.isFile() && !st.isSymbolicLink()) throw new FsError('EACCES', 'open', clean, 'not a regular file')
      fh = await fsp.open(p, flags, options.mode ?? 0o644)
    } catch (e) {
      throw e instanceof FsError ? e : mapError(e, 'open', clean)
    }
    return this.fileHandle(fh, clean, write, options.append ?? false)
  }

  private dirHandle(p: string, path: string): FileHandle {
    const bad = async (op: string): Promise<never> => {
      throw new FsError('EISDIR', op, path)
    }
    return {
      read: () => bad('read'),
      write: () => bad('write'),
      truncate: () => bad('truncate'),
      stat: async () => toStat(await fsp.lstat(p, { bigint: true }), 'stat', path),
      sync: async () => {},
      close: async () => {},
    }
  }

  private fileHandle(fh: fsp.FileHandle, path: string, writable: boolean, append: boolean): FileHandle {
    const io = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn()
      } catch (e) {
        throw e instanceof FsError ? e : mapError(e, op, path)
      }
    }
    return {
      read: (position, length) =>
        io('read', async () => {
          checkRange('read', path, position, length)
          const buf = new Uint8Array(Math.min(length, 16 << 20))
          let got = 0
          while (got < buf.length) {
            const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got)
            if (bytesRead === 0) break
            got += bytesRead
          }
          return buf.subarray(0, got)
        }),
      write: (position, data) =>
        io('write', async () => {
          if (!writable) throw new FsError('EBADF', 'write', path, 'not open for writing')
          checkRange('write', path, position, data.length)
          let done = 0
          while (done < data.length) {
            // With O_APPEND the kernel ignores the position and appends.
            const { bytesWritten } = await fh.write(data, done, data.length - done, append ? null : position + done)
            done += bytesWritten
          }
          return done
        }),
      truncate: (size) =>
        io('truncate', async () => {
          if (!writable) throw new FsError('EBADF', 'truncate', path, 'not open for writing')
          checkRange('truncate', path, size, 0)
          await fh.truncate(size)
        }),
      stat: () => io('stat', async () => toStat(await fh.stat({ bigint: true }), 'stat', path)),
      sync: () => io('sync', () => fh.datasync()),
      close: () => io('close', () => fh.close()),
    }
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    const clean = cleanPath(path, 'mkdir')
    this.writable('mkdir', clean)
    if (clean === '') throw new FsError('EEXIST', 'mkdir', clean)
    const p = await this.host(clean, 'mkdir')
    await fsp.mkdir(p, { mode }).catch((e: unknown) => {
      throw mapError(e, 'mkdir', clean)
    })
  }

  async remove(path: string): Promise<void> {
    const clean = cleanPath(path, 'remove')
    this.writable('remove', clean)
    if (clean === '') throw new FsError('EINVAL', 'remove', clean, 'cannot remove the root')
    const p = await this.host(clean, 'remove')
    try {
      const st = await fsp.lstat(p)
      if (st.isDirectory()) await fsp.rmdir(p)
      else await fsp.unlink(p)
    } catch (e) {
      throw mapError(e, 'remove', clean)
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const src = cleanPath(from, 'rename')
    const dst = cleanPath(to, 'rename')
    this.writable('rename', src)
    if (src === '' || dst === '') throw new FsError('EINVAL', 'rename', src, 'cannot rename the root')
    // Like Linux rename(2): both parent paths resolve first, then the source is looked up.
    const a = await this.host(src, 'rename')
    const b = await this.host(dst, 'rename')
    try {
      const st = await fsp.lstat(a)
      if (st.isDirectory() && (dst + '/').startsWith(src + '/') && src !== dst) throw new FsError('EINVAL', 'rename', src, `cannot move a directory into itself (${dst})`)
      const t = await fsp.lstat(b).catch(() => undefined)
      if (t && st.isDirectory() && !t.isDirectory()) throw new FsError('ENOTDIR', 'rename', dst)
      if (t && !st.isDirectory() && t.isDirectory()) throw new FsError('EISDIR', 'rename', dst)
      await fsp.rename(a, b)
    } catch (e) {
      throw e instanceof FsError ? e : mapError(e, 'rename', src)
    }
  }

  async symlink(target: string, path: string): Promise<void> {
    const clean = cleanPath(path, 'symlink')
    this.writable('symlink', clean)
    const p = await this.host(clean, 'symlink')
    // The target is stored as given; it is never followed by this FS.
    await fsp.symlink(target, p).catch((e: unknown) => {
      throw mapError(e, 'symlink', clean)
    })
  }

  async readlink(path: string): Promise<string> {
    const clean = cleanPath(path, 'readlink')
    const p = await this.host(clean, 'readlink')
    return fsp.readlink(p).catch((e: unknown) => {
      throw mapError(e, 'readlink', clean)
    })
  }

  async setattr(path: string, attrs: SetAttr): Promise<void> {
    const clean = cleanPath(path, 'setattr')
    this.writable('setattr', clean)
    const p = await this.host(clean, 'setattr')
    try {
      const st = await fsp.lstat(p)
      if (attrs.size !== undefined) {
        if (st.isDirectory()) throw new FsError('EISDIR', 'setattr', clean)
        if (st.isSymbolicLink()) throw new FsError('EINVAL', 'setattr', clean, 'cannot resize a symlink')
        checkRange('setattr', clean, attrs.size, 0)
        const fh = await fsp.open(p, constants.O_WRONLY | constants.O_NOFOLLOW)
        try {
          await fh.truncate(attrs.size)
        } finally {
          await fh.close()
        }
      }
      // chmod follows symlinks; Linux has no lchmod, and a link's mode is meaningless anyway.
      if (attrs.mode !== undefined && !st.isSymbolicLink()) await fsp.chmod(p, attrs.mode & 0o7777)
      if (attrs.atimeMs !== undefined || attrs.mtimeMs !== undefined) {
        const now = await fsp.lstat(p)
        await fsp.lutimes(p, (attrs.atimeMs ?? now.atimeMs) / 1000, (attrs.mtimeMs ?? now.mtimeMs) / 1000)
      }
    } catch (e) {
      throw e instanceof FsError ? e : mapError(e, 'setattr', clean)
    }
  }

  async sync(): Promise<void> {}
}

