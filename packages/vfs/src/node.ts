/**
 * Node-only: `HostFS`, a host directory as an `FS`, confined to its root.
 *
 * Confinement is race-free, without trusting any path string twice. Node has no `openat`, so
 * every lookup goes through Linux's `/proc/self/fd/N/<name>`: the kernel resolves
 * `/proc/self/fd/N` to the very directory open on descriptor N (wherever it is now), then looks
 * up the one component `<name>` (never '..', never containing '/') in it. A path is walked one
 * component at a time from a descriptor of the root, each step opened `O_PATH | O_DIRECTORY |
 * O_NOFOLLOW` (a symlink or a file there is ENOTDIR, as in MemoryFS); the operation then acts
 * on `<parent fd>/<last name>` with a call that does not follow a final symlink (`lstat`,
 * `mkdir`, `unlink`, `rmdir`, `rename`, `symlink`, `readlink`, `open(O_NOFOLLOW)`), or on a
 * descriptor of the target itself (size, mode and times, through `O_PATH | O_NOFOLLOW`). So
 * a concurrent rename of any directory on the way, or a symlink swapped in, can change which
 * inode inside the tree an operation reaches, never make it leave the tree.
 *
 * As a second line (against a host process moving a directory out of the tree while it is in
 * use), the directory an operation acts in, and every opened file, is checked before use:
 * `readlink('/proc/self/fd/N')` must lie under the root's real path (taken once) — otherwise
 * `HostFsConfinementError` (EACCES) and nothing was read or written.
 *
 * The root's descriptor is opened once and held (closed when the HostFS is collected); lookup
 * descriptors are closed without waiting. Files are always opened, created or truncated
 * relative to a checked parent descriptor, never through a multi-component path.
 *
 * Residual assumptions: Linux with procfs mounted at /proc (checked at the first operation;
 * without it every operation fails with `HostFsUnavailableError`, no weaker fallback), and
 * that nothing but callers of this FS moves directories of the tree out of it — a host process
 * doing so after the check and during one operation can still redirect that one operation.
 * @packageDocumentation
 */
import { HonkError } from '@honk/errors'
import { close as closeFd, constants, fstat, open as openFd, type BigIntStats } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { resolve } from 'node:path'
import { FsError, ReadOnlyError, type FsErrorCode } from './errors.js'
import { registerHostDescriptor } from './host-descriptor.js'
import { checkRange } from './memory.js'
import { cleanPath, components, splitPath } from './path.js'
import type { DirEntry, FS, FileHandle, FileType, OpenOptions, SetAttr, Stat } from './types.js'

const KNOWN: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY', 'EROFS', 'EINVAL', 'EXDEV', 'EACCES', 'ENOSPC', 'EBADF'])

function mapError(e: unknown, op: string, path: string): FsError {
  if (e instanceof FsError) return e
  const code = (e as NodeJS.ErrnoException)?.code ?? ''
  if (KNOWN.has(code)) return new FsError(code as FsErrorCode, op, path, undefined, { cause: e })
  if (code === 'EPERM') return new FsError('EACCES', op, path, undefined, { cause: e })
  if (code === 'ELOOP') return new FsError('EINVAL', op, path, 'is a symlink', { cause: e })
  if (code === 'ENXIO') return new FsError('EACCES', op, path, 'not a regular file', { cause: e })
  return new FsError('EIO', op, path, (e as Error)?.message, { cause: e })
}

/** An operation reached something outside the root (a directory moved out by the host): refused. */
export class HostFsConfinementError extends FsError {
  constructor(op: string, path: string, readonly hostPath: string) {
    super('EACCES', op, path, `resolves outside the HostFS root, to ${hostPath}`)
  }
}

/** The host cannot confine HostFS (no Linux /proc/self/fd): every operation is refused. */
export class HostFsUnavailableError extends HonkError<'HOSTFS_UNAVAILABLE'> {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('HOSTFS_UNAVAILABLE', `HostFS needs Linux with /proc mounted to confine paths race-free: ${detail}`, options)
  }
}

/** Linux `O_PATH` (asm-generic; Node does not export it): a descriptor for lookups and fstat only. */
const O_PATH = 0o10000000
const O_PATH_ARCHES: ReadonlySet<string> = new Set(['x64', 'ia32', 'arm64', 'arm', 'riscv64', 'ppc64', 's390x', 'loong64'])
const { O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK, O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = constants
const LOOKUP_DIR = O_PATH | O_DIRECTORY | O_NOFOLLOW

/** `/proc/self/fd/N`, or the entry `name` of the directory open on N. */
function at(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`
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

async function closeQuietly(fh: fsp.FileHandle | undefined): Promise<void> {
  await fh?.close().catch(() => {})
}

/** Closes a lookup descriptor without waiting (nothing is read or written through it). */
function release(fh: fsp.FileHandle | undefined): void {
  fh?.close().catch(() => {})
}

const fstatBig = (fd: number): Promise<BigIntStats> => new Promise((res, rej) => fstat(fd, { bigint: true }, (e, st) => (e ? rej(e) : res(st))))

/** A directory to act in: its descriptor, and `done()` when finished with it. */
interface Dir {
  readonly fd: number
  stat(): Promise<BigIntStats>
  done(): void
}

/** The root's descriptor, held for the HostFS's life and closed when it is collected. */
interface Root {
  readonly real: string
  readonly fd: number
}
const rootFds = new FinalizationRegistry<number>((fd) => closeFd(fd, () => {}))

export interface HostFSOptions {
  readOnly?: boolean
}

export class HostFS implements FS {
  readonly readOnly: boolean
  /** The root as given, made absolute. */
  readonly root: string
  private rootOnce: Promise<Root> | undefined

  constructor(root: string, options: HostFSOptions = {}) {
    this.root = resolve(root)
    this.readOnly = options.readOnly ?? false
  }

  /**
   * The root: its real path and a descriptor of it, taken once (so the root is that directory
   * for the life of this HostFS); checks that /proc/self/fd can confine (fails closed).
   */
  private async rootDir(op: string, path: string): Promise<Root> {
    const start = async (): Promise<Root> => {
      if (process.platform !== 'linux' || !O_PATH_ARCHES.has(process.arch)) throw new HostFsUnavailableError(`this is ${process.platform}/${process.arch}`)
      let real: string
      try {
        real = await fsp.realpath(this.root)
      } catch (e) {
        throw mapError(e, op, path)
      }
      const fd = await new Promise<number>((res, rej) => openFd(real, LOOKUP_DIR, (e, fd) => (e ? rej(mapError(e, op, path)) : res(fd))))
      try {
        const seen = await fsp.readlink(at(fd)).catch((e: unknown) => {
          throw new HostFsUnavailableError(`readlink ${at(fd)} failed`, { cause: e })
        })
        if (seen !== real) throw new HostFsUnavailableError(`${at(fd)} names ${JSON.stringify(seen)}, not the root ${JSON.stringify(real)}`)
      } catch (e) {
        closeFd(fd, () => {})
        throw e
      }
      rootFds.register(this, fd)
      return { real, fd }
    }
    // Only success is remembered: a root created later, or /proc mounted later, is picked up.
    this.rootOnce ??= start().catch((e: unknown) => {
      this.rootOnce = undefined
      throw e
    })
    return this.rootOnce
  }

  /** Refuses a descriptor whose current host path is not under the root (checked before use). */
  private async confine(fd: number, root: string, op: string, path: string): Promise<void> {
    let seen: string
    try {
      seen = await fsp.readlink(at(fd))
    } catch (e) {
      throw new HostFsUnavailableError(`readlink ${at(fd)} failed`, { cause: e })
    }
    // An unlinked file reads as "<path> (deleted)"; the prefix test still places it.
    if (!(seen === root || seen.startsWith(root === '/' ? '/' : root + '/'))) throw new HostFsConfinementError(op, path, seen)
  }

  /**
   * The directory `parts`, walked from the root's descriptor one component at a time, each
   * looked up in the directory open on the previous descriptor (`O_PATH | O_DIRECTORY |
   * O_NOFOLLOW`: never through a symlink); checked to be under the root. Call `done()` after.
   */
  private async openDir(parts: readonly string[], op: string, path: string): Promise<Dir> {
    const root = await this.rootDir(op, path)
    if (parts.length === 0) return { fd: root.fd, stat: () => fstatBig(root.fd), done: () => {} }
    // No one-step lookup of the whole path, even verified afterwards: it could pass through a
    // symlink and look things up outside the tree (a stale mount there could hang it).
    let fh: fsp.FileHandle | undefined
    try {
      for (const name of parts) {
        const next = await fsp.open(at(fh?.fd ?? root.fd, name), LOOKUP_DIR)
        release(fh)
        fh = next
      }
      const dir = fh!
      await this.confine(dir.fd, root.real, op, path)
      return { fd: dir.fd, stat: () => dir.stat({ bigint: true }), done: () => release(dir) }
    } catch (e) {
      release(fh)
      // A symlink on the way is not a directory (O_NOFOLLOW reports ELOOP on some kernels).
      if ((e as NodeJS.ErrnoException)?.code === 'ELOOP') throw new FsError('ENOTDIR', op, path, undefined, { cause: e })
      throw mapError(e, op, path)
    }
  }

  /** Runs `fn` with the parent directory of `clean` (a checked descriptor) and the last name. */
  private async inParent<T>(clean: string, op: string, fn: (dir: number, name: string, root: string) => Promise<T>): Promise<T> {
    const [parent, name] = splitPath(clean)
    const root = await this.rootDir(op, clean)
    const dir = await this.openDir(components(parent), op, clean)
    try {
      return await fn(dir.fd, name, root.real)
    } catch (e) {
      throw mapError(e, op, clean)
    } finally {
      dir.done()
    }
  }

  private writable(op: string, path: string): void {
    if (this.readOnly) throw new ReadOnlyError(op, path)
  }

  async stat(path: string): Promise<Stat> {
    const clean = cleanPath(path, 'stat')
    if (clean === '') {
      const dir = await this.openDir([], 'stat', clean)
      try {
        return toStat(await dir.stat(), 'stat', clean)
      } catch (e) {
        throw mapError(e, 'stat', clean)
      } finally {
        dir.done()
      }
    }
    return this.inParent(clean, 'stat', async (dir, name) => toStat(await fsp.lstat(at(dir, name), { bigint: true }), 'stat', clean))
  }

  async readDir(path: string): Promise<DirEntry[]> {
    const clean = cleanPath(path, 'readdir')
    const dir = await this.openDir(components(clean), 'readdir', clean)
    const out: DirEntry[] = []
    try {
      const names = await fsp.readdir(at(dir.fd))
      for (const name of names) {
        try {
          const st = await fsp.lstat(at(dir.fd, name), { bigint: true })
          const type = typeOf(st)
          if (type) out.push({ name, type, ino: st.ino })
        } catch {
          // removed meanwhile
        }
      }
    } catch (e) {
      throw mapError(e, 'readdir', clean)
    } finally {
      dir.done()
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const clean = cleanPath(path, 'open')
    const write = options.write ?? false
    if ((write || options.create || options.truncate) && this.readOnly) throw new ReadOnlyError('open', clean)
    if (clean === '') {
      if (write || options.truncate) throw new FsError('EISDIR', 'open', clean)
      if (options.create && options.exclusive) throw new FsError('EEXIST', 'open', clean)
      // A handle of its own on the root directory (the held root descriptor stays private).
      const root = await this.rootDir('open', clean)
      const fh = await fsp.open(at(root.fd), O_PATH | O_DIRECTORY).catch((e: unknown) => Promise.reject(mapError(e, 'open', clean)))
      return this.dirHandle(fh, clean)
    }
    // O_NONBLOCK: opening a fifo swapped in must not hang (it is refused below).
    let flags = (write ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK
    if (options.create) flags |= O_CREAT
    if (options.create && options.exclusive) flags |= O_EXCL
    if (options.truncate && write) flags |= O_TRUNC
    if (options.append) flags |= O_APPEND
    return this.inParent(clean, 'open', async (dir, name, root) => {
      const fh = await fsp.open(at(dir, name), flags, options.mode ?? 0o644)
      try {
        // The descriptor's own path is checked before any byte moves through it.
        await this.confine(fh.fd, root, 'open', clean)
        const st = await fh.stat({ bigint: true })
        if (st.isDirectory()) return this.dirHandle(fh, clean)
        if (!st.isFile()) throw new FsError('EACCES', 'open', clean, 'not a regular file')
      } catch (e) {
        await closeQuietly(fh)
        throw e
      }
      return this.fileHandle(fh, clean, write, options.append ?? false)
    })
  }

  private dirHandle(fh: fsp.FileHandle, path: string): FileHandle {
    const bad = async (op: string): Promise<never> => {
      throw new FsError('EISDIR', op, path)
    }
    return {
      read: () => bad('read'),
      write: () => bad('write'),
      truncate: () => bad('truncate'),
      stat: async () => toStat(await fh.stat({ bigint: true }).catch((e: unknown) => Promise.reject(mapError(e, 'stat', path))), 'stat', path),
      sync: async () => {},
      close: () => fh.close().catch((e: unknown) => Promise.reject(mapError(e, 'close', path))),
    }
  }

  private fileHandle(fh: fsp.FileHandle, path: string, writable: boolean, append: boolean): FileHandle {
    const io = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn()
      } catch (e) {
        throw mapError(e, op, path)
      }
    }
    const handle: FileHandle = {
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
    // read/write above are exactly pread/pwrite of fh.fd (an append handle's writes are not).
    if (!append) registerHostDescriptor(handle, fh.fd)
    return handle
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    const clean = cleanPath(path, 'mkdir')
    this.writable('mkdir', clean)
    if (clean === '') throw new FsError('EEXIST', 'mkdir', clean)
    await this.inParent(clean, 'mkdir', (dir, name) => fsp.mkdir(at(dir, name), { mode }))
  }

  async remove(path: string): Promise<void> {
    const clean = cleanPath(path, 'remove')
    this.writable('remove', clean)
    if (clean === '') throw new FsError('EINVAL', 'remove', clean, 'cannot remove the root')
    // Neither rmdir nor unlink follows a final symlink.
    await this.inParent(clean, 'remove', async (dir, name) => {
      const st = await fsp.lstat(at(dir, name))
      if (st.isDirectory()) await fsp.rmdir(at(dir, name))
      else await fsp.unlink(at(dir, name))
    })
  }

  async rename(from: string, to: string): Promise<void> {
    const src = cleanPath(from, 'rename')
    const dst = cleanPath(to, 'rename')
    this.writable('rename', src)
    if (src === '' || dst === '') throw new FsError('EINVAL', 'rename', src, 'cannot rename the root')
    // Like Linux rename(2): both parent paths resolve first, then the source is looked up.
    const [srcParent, srcName] = splitPath(src)
    const [dstParent, dstName] = splitPath(dst)
    const a = await this.openDir(components(srcParent), 'rename', src)
    try {
      const b = await this.openDir(components(dstParent), 'rename', dst)
      try {
        const st = await fsp.lstat(at(a.fd, srcName))
        if (st.isDirectory() && (dst + '/').startsWith(src + '/') && src !== dst) throw new FsError('EINVAL', 'rename', src, `cannot move a directory into itself (${dst})`)
        const t = await fsp.lstat(at(b.fd, dstName)).catch(() => undefined)
        if (t && st.isDirectory() && !t.isDirectory()) throw new FsError('ENOTDIR', 'rename', dst)
        if (t && !st.isDirectory() && t.isDirectory()) throw new FsError('EISDIR', 'rename', dst)
        // rename(2) follows neither final name; both parents are descriptors under the root.
        await fsp.rename(at(a.fd, srcName), at(b.fd, dstName))
      } finally {
        b.done()
      }
    } catch (e) {
      throw mapError(e, 'rename', src)
    } finally {
      a.done()
    }
  }

  async link(existing: string, path: string): Promise<void> {
    const src = cleanPath(existing, 'link')
    const dst = cleanPath(path, 'link')
    this.writable('link', dst)
    if (src === '') throw new FsError('EPERM', 'link', src, 'cannot hard-link a directory')
    if (dst === '') throw new FsError('EEXIST', 'link', dst)
    // Both parents are descriptors under the root; link(2) follows neither final name.
    await this.inParent(src, 'link', async (a, srcName) => {
      if ((await fsp.lstat(at(a, srcName))).isDirectory()) throw new FsError('EPERM', 'link', src, 'cannot hard-link a directory')
      await this.inParent(dst, 'link', (b, dstName) => fsp.link(at(a, srcName), at(b, dstName)))
    })
  }

  async symlink(target: string, path: string): Promise<void> {
    const clean = cleanPath(path, 'symlink')
    this.writable('symlink', clean)
    if (clean === '') throw new FsError('EEXIST', 'symlink', clean)
    // The target is stored as given; it is never followed by this FS.
    await this.inParent(clean, 'symlink', (dir, name) => fsp.symlink(target, at(dir, name)))
  }

  async readlink(path: string): Promise<string> {
    const clean = cleanPath(path, 'readlink')
    // The root is a directory (and /proc/self/fd/N itself would read as a host path).
    if (clean === '') throw new FsError('EINVAL', 'readlink', clean)
    return this.inParent(clean, 'readlink', (dir, name) => fsp.readlink(at(dir, name)))
  }

  async setattr(path: string, attrs: SetAttr): Promise<void> {
    const clean = cleanPath(path, 'setattr')
    this.writable('setattr', clean)
    const apply = async (target: { fd: number; stat(): Promise<BigIntStats> }): Promise<void> => {
      // `target` is an O_PATH descriptor of the very inode to change (a symlink stays a
      // symlink); `/proc/self/fd/N` names that inode, with no lookup by name left to race.
      const st = await target.stat()
      if (attrs.size !== undefined) {
        if (st.isDirectory()) throw new FsError('EISDIR', 'setattr', clean)
        if (st.isSymbolicLink()) throw new FsError('EINVAL', 'setattr', clean, 'cannot resize a symlink')
        if (!st.isFile()) throw new FsError('EACCES', 'setattr', clean, 'not a regular file')
        checkRange('setattr', clean, attrs.size, 0)
        await fsp.truncate(at(target.fd), attrs.size)
      }
      // A link's mode is meaningless (Linux has no lchmod): left alone.
      if (attrs.mode !== undefined && !st.isSymbolicLink()) await fsp.chmod(at(target.fd), attrs.mode & 0o7777)
      if (attrs.atimeMs !== undefined || attrs.mtimeMs !== undefined) {
        const now = await target.stat()
        // Through an O_PATH descriptor of a symlink this sets the link's own times (lutimes).
        await fsp.utimes(at(target.fd), (attrs.atimeMs ?? Number(now.atimeMs)) / 1000, (attrs.mtimeMs ?? Number(now.mtimeMs)) / 1000)
      }
    }
    if (clean === '') {
      if (attrs.size !== undefined) throw new FsError('EISDIR', 'setattr', clean)
      const dir = await this.openDir([], 'setattr', clean)
      try {
        return await apply(dir)
      } catch (e) {
        throw mapError(e, 'setattr', clean)
      } finally {
        dir.done()
      }
    }
    await this.inParent(clean, 'setattr', async (dir, name, root) => {
      const target = await fsp.open(at(dir, name), O_PATH | O_NOFOLLOW)
      try {
        await this.confine(target.fd, root, 'setattr', clean)
        await apply({ fd: target.fd, stat: () => target.stat({ bigint: true }) })
      } finally {
        await closeQuietly(target)
      }
    })
  }

  async sync(): Promise<void> {}
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    HostFsUnavailableError: HostFsUnavailableError
  }
}
