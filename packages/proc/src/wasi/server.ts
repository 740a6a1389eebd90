/**
 * The main-thread side of the WASI bridge: serves a module's file requests with the
 * asynchronous `@honk/vfs` `FS` of each preopen. Path resolution happens here, one component
 * at a time, as WASI prescribes (the path is relative to a directory descriptor; intermediate
 * symlinks are followed, the last one only with `symlink_follow`): an absolute path, a `..`
 * above the starting directory or a symlink that points out of it is refused with
 * `ENOTCAPABLE` before the FS sees anything. The FS itself cannot leave its root either
 * (it refuses `..`), so containment holds twice.
 */
import { FsError, hostDescriptorOf, type FS, type FileHandle, type Stat, type FileType } from '@honk/vfs'
import { Errno, Filetype, Oflags } from './abi.js'
import type { OpenResult, Request, WireDirent, WireStat, WireTime, At } from './protocol.js'
import { WasiSocketServer, type WasiSocket } from './sockets.js'

/** An answer to a request: an errno, or a JSON value, or bytes. */
export type Answer = { errno: number } | { json: unknown } | { bytes: Uint8Array }

/** A source of stdin bytes. */
export interface WasiStdin {
  /** Up to `max` bytes; an empty array at end of input. Waits until some are there. */
  read(max: number): Promise<Uint8Array>
  /** Resolves true when `read` would not wait, false after `timeoutMs` (or at once if 0). */
  ready?(timeoutMs: number): Promise<boolean>
}

/** Thrown inside the server for an errno answer. */
export class ErrnoSignal {
  constructor(readonly errno: number) {}
}

const FS_ERRNO: Record<string, number> = {
  ENOENT: Errno.NOENT, ENOTDIR: Errno.NOTDIR, EISDIR: Errno.ISDIR, EEXIST: Errno.EXIST, ENOTEMPTY: Errno.NOTEMPTY,
  EROFS: Errno.ROFS, EINVAL: Errno.INVAL, EXDEV: Errno.XDEV, EIO: Errno.IO, EBADF: Errno.BADF, ENOSPC: Errno.NOSPC,
  EACCES: Errno.ACCES, EPERM: Errno.PERM, ENOTSUP: Errno.NOTSUP,
}

/** The WASI errno of anything an FS threw (an unknown error is EIO, never a host exception). */
export function errnoOf(e: unknown): number {
  if (e instanceof ErrnoSignal) return e.errno
  if (e instanceof FsError) return FS_ERRNO[e.code] ?? Errno.IO
  return Errno.IO
}

const fail = (errno: number): never => {
  throw new ErrnoSignal(errno)
}

function filetypeOf(t: FileType): number {
  return t === 'dir' ? Filetype.DIRECTORY : t === 'symlink' ? Filetype.SYMBOLIC_LINK : Filetype.REGULAR_FILE
}

/** Milliseconds (FS) to nanoseconds (WASI), as a decimal string. */
export function msToNs(ms: number): string {
  const whole = Math.trunc(ms)
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6))).toString()
}

function nsToMs(ns: WireTime, now: number): number {
  return ns === 'now' ? now : Number(BigInt(ns) / 1000n) / 1000
}

/** Symlinks followed in one resolution before ELOOP (Linux's limit is 40). */
export const MAX_SYMLINKS = 40

/** A path resolved inside a preopen (what `WasiFsServer.resolve` answers). */
export interface Resolved {
  /** Clean path inside the preopen's FS. */
  readonly path: string
  /** Its metadata (without following a final symlink unless asked); undefined if it does not exist. */
  readonly stat: Stat | undefined
  /** The path named a directory explicitly (trailing '/', '.' or '..'). */
  readonly dirOnly: boolean
}

interface OpenFile {
  readonly fh: FileHandle
  readonly fs: FS
  readonly pre: number
  readonly path: string
}

export interface WasiFsServerOptions {
  stdin?: WasiStdin | undefined
  /** Open files at most (beyond it `open` answers EMFILE; the worker enforces the real limit). */
  maxHandles?: number
  /** The clock for "now" in set-times (ms since the epoch). */
  now?: () => number
  /** Hand the worker the host descriptor of a file that has one, for I/O of its own (default false). */
  direct?: boolean
  /** Sockets handed to the process (ids 0, 1, … in this order). */
  sockets?: readonly WasiSocket[]
}

/** Times set through WASI, in exact nanoseconds, with the milliseconds the FS stored for them. */
interface ExactTimes {
  atimMs?: number
  atimNs?: string | undefined
  mtimMs?: number
  mtimNs?: string | undefined
}

/** Serves one module's requests. */
export class WasiFsServer {
  private readonly handles = new Map<number, OpenFile>()
  /**
   * `@honk/vfs` keeps times in (float) milliseconds, WASI in u64 nanoseconds. A time the module
   * sets is remembered exactly here (by preopen and inode), and reported back as long as the FS
   * still holds the milliseconds it stored for it, so that set-then-get round-trips exactly.
   */
  private readonly exact = new Map<string, ExactTimes>()
  private nextHandle = 1
  /**
   * The error of a write-behind batch, by handle: the module was already told those writes
   * succeeded, so (as Linux reports writeback errors) the next write, sync or close of that
   * file answers it, once.
   */
  private readonly deferred = new Map<number, number>()
  private readonly sockets: WasiSocketServer
  private pending: Uint8Array | undefined
  private readonly maxHandles: number
  private readonly now: () => number

  constructor(
    private readonly preopens: readonly FS[],
    private readonly options: WasiFsServerOptions = {},
  ) {
    this.maxHandles = options.maxHandles ?? 4096
    this.now = options.now ?? Date.now
    this.sockets = new WasiSocketServer(options.sockets ?? [])
  }

  /** The open files (for tests and for closing at exit). */
  get openHandles(): number {
    return this.handles.size
  }

  /** Closes every open file (when the module ends); never throws. */
  async closeAll(): Promise<void> {
    const all = [...this.handles.values()]
    this.handles.clear()
    await Promise.all([...all.map((h) => h.fh.close().catch(() => undefined)), this.sockets.closeAll()])
  }

  /** Writes a write-behind batch (see behind.ts); a failure is kept for the file's next write, sync or close. */
  async writeBehind(handle: number, pos: number, data: Uint8Array): Promise<void> {
    const f = this.handles.get(handle)
    if (f === undefined) return
    try {
      const n = await f.fh.write(pos, data)
      if (n !== data.length) this.deferred.set(handle, Errno.IO)
    } catch (e) {
      this.deferred.set(handle, errnoOf(e))
    }
  }

  /** The deferred write-behind error of `handle`, if any (answered once). */
  private takeDeferred(handle: number): number {
    const e = this.deferred.get(handle)
    if (e === undefined) return 0
    this.deferred.delete(handle)
    return e
  }

  /** Serves one request; never throws. */
  async serve(req: Request): Promise<Answer> {
    try {
      return await this.dispatch(req)
    } catch (e) {
      return { errno: errnoOf(e) }
    }
  }

  /** Takes the part of a long answer beyond the shared buffer's capacity (see `more`). */
  setPending(rest: Uint8Array | undefined): void {
    this.pending = rest
  }

  private fsOf(pre: number): FS {
    const fs = this.preopens[pre]
    return fs ?? fail(Errno.BADF)
  }

  private file(handle: number): OpenFile {
    return this.handles.get(handle) ?? fail(Errno.BADF)
  }

  private wire(st: Stat, pre: number): WireStat {
    const x = this.exact.get(`${pre}:${st.ino}`)
    return {
      filetype: filetypeOf(st.type),
      dev: String(pre + 1),
      ino: st.ino.toString(),
      nlink: st.nlink,
      size: st.size,
      atim: x?.atimNs !== undefined && x.atimMs === st.atimeMs ? x.atimNs : msToNs(st.atimeMs),
      mtim: x?.mtimNs !== undefined && x.mtimMs === st.mtimeMs ? x.mtimNs : msToNs(st.mtimeMs),
      ctim: msToNs(st.ctimeMs),
    }
  }

  /** Sets times on `path` of preopen `pre`, remembering exact nanoseconds (see `exact`). */
  private async setTimes(fs: FS, pre: number, path: string, atim: WireTime | undefined, mtim: WireTime | undefined): Promise<void> {
    await fs.setattr(path, this.times(atim, mtim))
    const st = await fs.stat(path)
    const key = `${pre}:${st.ino}`
    const x: ExactTimes = { ...this.exact.get(key) }
    if (atim !== undefined) {
      x.atimMs = st.atimeMs
      x.atimNs = atim === 'now' ? undefined : atim
    }
    if (mtim !== undefined) {
      x.mtimMs = st.mtimeMs
      x.mtimNs = mtim === 'now' ? undefined : mtim
    }
    this.exact.set(key, x)
  }

  private async lstat(fs: FS, path: string): Promise<Stat | undefined> {
    try {
      return await fs.stat(path)
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENOENT') return undefined
      throw e
    }
  }

  /**
   * WASI path resolution relative to `at`. Refuses (ENOTCAPABLE) absolute paths, absolute
   * symlink targets and any `..` that would climb above `at.base`; ELOOP after 40 symlinks;
   * ENOTDIR when a non-final component is not a directory.
   */
  async resolve(at: At, path: string, follow: boolean): Promise<Resolved> {
    const fs = this.fsOf(at.pre)
    if (path === '') fail(Errno.NOENT)
    if (path.includes('\0')) fail(Errno.ILSEQ)
    if (path.startsWith('/')) fail(Errno.NOTCAPABLE)
    const base = at.base === '' ? [] : at.base.split('/')
    // The base comes from the worker's own fd table; still, it must be a clean path.
    if (base.some((c) => c === '' || c === '.' || c === '..')) fail(Errno.NOTCAPABLE)
    const cur = [...base]
    const root = base.length
    let queue = path.split('/')
    let dirOnly = false
    let links = 0
    let stat: Stat | undefined
    const markTail = (parts: string[]): void => {
      const last = parts[parts.length - 1]
      if (parts.length > 0 && (last === '' || last === '.' || last === '..')) dirOnly = true
    }
    markTail(queue)
    queue = queue.filter((c) => c !== '' && c !== '.')
    let named = false
    while (queue.length > 0) {
      const c = queue.shift()!
      const last = queue.length === 0
      if (c === '..') {
        if (cur.length <= root) fail(Errno.NOTCAPABLE)
        cur.pop()
        named = false
        continue
      }
      const here = [...cur, c].join('/')
      if (!last || follow || dirOnly) {
        const st = await this.lstat(fs, here)
        if (st === undefined) {
          if (last) {
            cur.push(c)
            return { path: cur.join('/'), stat: undefined, dirOnly }
          }
          fail(Errno.NOENT)
        }
        if (st!.type === 'symlink') {
          if (++links > MAX_SYMLINKS) fail(Errno.LOOP)
          const target = await fs.readlink(here)
          if (target === '') fail(Errno.NOENT)
          // A symlink is resolved like the path it holds: never absolute, never above the base.
          if (target.startsWith('/')) fail(Errno.NOTCAPABLE)
          const parts = target.split('/')
          if (last) markTail(parts)
          queue = [...parts.filter((p) => p !== '' && p !== '.'), ...queue]
          continue
        }
        if (!last && st!.type !== 'dir') fail(Errno.NOTDIR)
        cur.push(c)
        if (last) stat = st
        named = true
        continue
      }
      cur.push(c)
      stat = await this.lstat(fs, here)
      named = true
    }
    if (!named) stat = await this.lstat(fs, cur.join('/'))
    if (dirOnly && stat !== undefined && stat.type !== 'dir') fail(Errno.NOTDIR)
    return { path: cur.join('/'), stat, dirOnly }
  }

  private async dispatch(req: Request): Promise<Answer> {
    switch (req.op) {
      case 'sockaccept':
      case 'sockrecv':
      case 'socksend':
      case 'sockshutdown':
      case 'sockclose':
      case 'sockpoll':
        return this.sockets.serve(req)
      case 'stat': {
        const r = await this.resolve(req.at, req.path, req.follow)
        if (!r.stat) fail(Errno.NOENT)
        return { json: this.wire(r.stat!, req.at.pre) }
      }
      case 'dstat':
        return { json: this.wire(await this.fsOf(req.pre).stat(req.path), req.pre) }
      case 'fstat': {
        const f = this.file(req.handle)
        return { json: this.wire(await f.fh.stat(), f.pre) }
      }
      case 'open':
        return { json: await this.open(req) }
      case 'read': {
        const f = this.file(req.handle)
        return { bytes: await f.fh.read(req.pos, req.len) }
      }
      case 'write': {
        const f = this.file(req.handle)
        const late = this.takeDeferred(req.handle)
        if (late !== 0) fail(late)
        // Append: the write lands at the end as it is now (the handle is positional).
        const pos = req.append ? (await f.fh.stat()).size : req.pos
        const n = await f.fh.write(pos, req.data)
        if (req.sync) await f.fh.sync()
        return { json: [n, pos + n] }
      }
      case 'truncate':
        await this.file(req.handle).fh.truncate(req.size)
        return { errno: 0 }
      case 'allocate': {
        const f = this.file(req.handle)
        if ((await f.fh.stat()).size < req.end) await f.fh.truncate(req.end)
        return { errno: 0 }
      }
      case 'fsync': {
        const f = this.file(req.handle)
        const late = this.takeDeferred(req.handle)
        if (late !== 0) fail(late)
        await f.fh.sync()
        return { errno: 0 }
      }
      case 'syncfs':
        await this.fsOf(req.pre).sync()
        return { errno: 0 }
      case 'close': {
        const f = this.file(req.handle)
        this.handles.delete(req.handle)
        const late = this.takeDeferred(req.handle)
        await f.fh.close()
        // Closed either way (as close(2) after a writeback error).
        return { errno: late }
      }
      case 'readdir':
        return { json: await this.readdir(req.pre, req.path) }
      case 'mkdir': {
        const r = await this.resolve(req.at, req.path, false)
        if (r.stat) fail(Errno.EXIST)
        await this.fsOf(req.at.pre).mkdir(r.path)
        return { errno: 0 }
      }
      case 'unlink': {
        const r = await this.resolve(req.at, req.path, false)
        if (!r.stat) fail(Errno.NOENT)
        if (r.stat!.type === 'dir') fail(Errno.ISDIR)
        if (r.dirOnly) fail(Errno.NOTDIR)
        await this.fsOf(req.at.pre).remove(r.path)
        return { errno: 0 }
      }
      case 'rmdir': {
        const r = await this.resolve(req.at, req.path, false)
        if (!r.stat) fail(Errno.NOENT)
        if (r.stat!.type !== 'dir') fail(Errno.NOTDIR)
        // The starting directory itself ("." or "a/..") cannot be removed through itself.
        if (r.path === req.at.base) fail(Errno.INVAL)
        const fs = this.fsOf(req.at.pre)
        if ((await fs.readDir(r.path)).length > 0) fail(Errno.NOTEMPTY)
        await fs.remove(r.path)
        return { errno: 0 }
      }
      case 'rename':
        await this.rename(req)
        return { errno: 0 }
      case 'link': {
        const a = await this.resolve(req.at, req.path, req.follow)
        if (!a.stat) fail(Errno.NOENT)
        const b = await this.resolve(req.at2, req.path2, false)
        if (b.stat) fail(Errno.EXIST)
        if (a.stat!.type === 'dir') fail(Errno.PERM)
        // A link joins two names of one file system (link(2): EXDEV across mounts).
        if (req.at.pre !== req.at2.pre) fail(Errno.XDEV)
        const fs = this.fsOf(req.at.pre)
        if (fs.link === undefined) fail(Errno.NOTSUP)
        await fs.link!(a.path, b.path)
        return { errno: 0 }
      }
      case 'symlink': {
        if (req.target === '') fail(Errno.NOENT)
        if (req.target.includes('\0')) fail(Errno.ILSEQ)
        // A link that could only ever point outside the sandbox is refused, as cap-std does.
        if (req.target.startsWith('/')) fail(Errno.PERM)
        const r = await this.resolve(req.at, req.path, false)
        if (r.stat) fail(Errno.EXIST)
        // "link/" names a directory that does not exist (POSIX symlinkat: ENOENT).
        if (r.dirOnly) fail(Errno.NOENT)
        await this.fsOf(req.at.pre).symlink(req.target, r.path)
        return { errno: 0 }
      }
      case 'readlink': {
        const r = await this.resolve(req.at, req.path, false)
        if (!r.stat) fail(Errno.NOENT)
        if (r.stat!.type !== 'symlink') fail(Errno.INVAL)
        return { bytes: new TextEncoder().encode(await this.fsOf(req.at.pre).readlink(r.path)) }
      }
      case 'settimes': {
        const r = await this.resolve(req.at, req.path, req.follow)
        if (!r.stat) fail(Errno.NOENT)
        await this.setTimes(this.fsOf(req.at.pre), req.at.pre, r.path, req.atim, req.mtim)
        return { errno: 0 }
      }
      case 'fsettimes': {
        const f = this.file(req.handle)
        await this.setTimes(f.fs, f.pre, f.path, req.atim, req.mtim)
        return { errno: 0 }
      }
      case 'stdin': {
        const s = this.options.stdin
        if (!s) return { bytes: new Uint8Array(0) }
        return { bytes: await s.read(req.max) }
      }
      case 'stdinwait': {
        const s = this.options.stdin
        if (!s) return { json: true }
        return { json: s.ready ? await s.ready(req.timeoutMs) : true }
      }
      case 'flush':
        // The batch written before this request is all it asked for (behind.ts).
        return { errno: 0 }
      case 'more': {
        const rest = this.pending ?? new Uint8Array(0)
        this.pending = undefined
        return { bytes: rest }
      }
    }
  }

  private times(atim: WireTime | undefined, mtim: WireTime | undefined): { atimeMs?: number; mtimeMs?: number } {
    const now = this.now()
    const out: { atimeMs?: number; mtimeMs?: number } = {}
    if (atim !== undefined) out.atimeMs = nsToMs(atim, now)
    if (mtim !== undefined) out.mtimeMs = nsToMs(mtim, now)
    return out
  }

  private async open(req: Extract<Request, { op: 'open' }>): Promise<OpenResult> {
    const fs = this.fsOf(req.at.pre)
    const creat = (req.oflags & Oflags.CREAT) !== 0
    const excl = (req.oflags & Oflags.EXCL) !== 0
    const trunc = (req.oflags & Oflags.TRUNC) !== 0
    const directory = (req.oflags & Oflags.DIRECTORY) !== 0
    // O_CREAT|O_EXCL never follows a final symlink (POSIX), so a dangling link is EEXIST.
    const r = await this.resolve(req.at, req.path, req.follow && !(creat && excl))
    if (r.stat) {
      if (creat && excl) fail(Errno.EXIST)
      if (r.stat.type === 'symlink') fail(directory ? Errno.NOTDIR : Errno.LOOP)
      if (r.stat.type === 'dir') {
        // A directory opened for writing is EISDIR, with or without O_DIRECTORY (POSIX, and the
        // wasi-testsuite's path_open_preopen).
        if (trunc || req.write) fail(Errno.ISDIR)
        return { kind: 'dir', path: r.path, stat: this.wire(r.stat, req.at.pre) }
      }
      if (directory || r.dirOnly) fail(Errno.NOTDIR)
    } else {
      if (!creat) fail(Errno.NOENT)
      if (directory || r.dirOnly) fail(Errno.ISDIR)
    }
    if (this.handles.size >= this.maxHandles) fail(Errno.MFILE)
    const fh = await fs.open(r.path, { read: req.read || !req.write, write: req.write || trunc, create: creat, exclusive: excl, truncate: trunc })
    const handle = this.nextHandle++
    this.handles.set(handle, { fh, fs, pre: req.at.pre, path: r.path })
    let st: Stat
    try {
      st = await fh.stat()
    } catch (e) {
      this.handles.delete(handle)
      await fh.close().catch(() => undefined)
      throw e
    }
    const direct = this.options.direct === true ? hostDescriptorOf(fh) : undefined
    return direct === undefined ? { kind: 'file', handle, stat: this.wire(st, req.at.pre) } : { kind: 'file', handle, stat: this.wire(st, req.at.pre), direct }
  }

  private async readdir(pre: number, path: string): Promise<WireDirent[]> {
    const fs = this.fsOf(pre)
    const self = await fs.stat(path)
    if (self.type !== 'dir') fail(Errno.NOTDIR)
    const parent = path === '' ? self : await fs.stat(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '')
    const entries = await fs.readDir(path)
    return [
      { name: '.', filetype: Filetype.DIRECTORY, ino: self.ino.toString() },
      { name: '..', filetype: Filetype.DIRECTORY, ino: parent.ino.toString() },
      ...entries.map((e) => ({ name: e.name, filetype: filetypeOf(e.type), ino: e.ino.toString() })),
    ]
  }

  private async rename(req: Extract<Request, { op: 'rename' }>): Promise<void> {
    const a = await this.resolve(req.at, req.path, false)
    if (!a.stat) fail(Errno.NOENT)
    const b = await this.resolve(req.at2, req.path2, false)
    if (req.at.pre !== req.at2.pre) fail(Errno.XDEV)
    const fs = this.fsOf(req.at.pre)
    const srcDir = a.stat!.type === 'dir'
    if (!srcDir && (a.dirOnly || b.dirOnly)) fail(Errno.NOTDIR)
    if (a.path === b.path) return
    if (srcDir && (b.path + '/').startsWith(a.path + '/')) fail(Errno.INVAL)
    // Onto one of its own ancestors: that directory holds the source, so it is not empty (Linux).
    if (b.stat?.type === 'dir' && a.path.startsWith(b.path + '/')) fail(Errno.NOTEMPTY)
    if (b.stat) {
      const dstDir = b.stat.type === 'dir'
      if (srcDir && !dstDir) fail(Errno.NOTDIR)
      if (!srcDir && dstDir) fail(Errno.ISDIR)
      if (dstDir && (await fs.readDir(b.path)).length > 0) fail(Errno.NOTEMPTY)
    }
    await fs.rename(a.path, b.path)
  }
}
