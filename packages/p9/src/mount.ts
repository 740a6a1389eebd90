/**
 * The 9P client as an `FS`: `mount(transport)` gives a filesystem that reads and writes
 * through a 9P2000.L server (ours, diod, QEMU's…). Every operation walks a fresh fid and clunks
 * it when done, so fids never leak; handles hold their fid until `close()`.
 */
import { FsError, cleanPath, splitPath, type DirEntry, type FS, type FileHandle, type FileType, type FsErrorCode, type OpenOptions, type SetAttr, type Stat } from '@honk/vfs'
import { P9RemoteError, errnoName } from './errors.js'
import { QTDIR, SETATTR, type MessageOf } from './schema.js'
import { O, Session, split, type SessionOptions } from './session.js'
import type { Transport } from './transport.js'

const CODES: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY', 'EROFS', 'EINVAL', 'EXDEV', 'EIO', 'EBADF', 'ENOSPC', 'EACCES'])

/** Rlerror → FsError with the path; anything else passes through. */
function fsError(e: unknown, op: string, path: string): unknown {
  if (!(e instanceof P9RemoteError)) return e
  const name = errnoName(e.errno)
  const code: FsErrorCode = CODES.has(name) ? (name as FsErrorCode) : name === 'EPERM' ? 'EACCES' : name === 'ELOOP' ? 'EINVAL' : 'EIO'
  return new FsError(code, op, path, code === 'EIO' ? `server errno ${e.errno}` : undefined, { cause: e })
}

function statOf(a: MessageOf<'Rgetattr'>): Stat {
  const fmt = a.mode & 0o170000
  const type: FileType = fmt === 0o040000 ? 'dir' : fmt === 0o120000 ? 'symlink' : 'file'
  const ms = (s: bigint, ns: bigint) => Number(s) * 1000 + Math.floor(Number(ns) / 1e6)
  return {
    type,
    mode: a.mode & 0o7777,
    size: type === 'dir' ? 0 : Number(a.size),
    ino: a.qid.path,
    nlink: Number(a.nlink),
    uid: a.uid,
    gid: a.gid,
    atimeMs: ms(a.atimeSec, a.atimeNsec),
    mtimeMs: ms(a.mtimeSec, a.mtimeNsec),
    ctimeMs: ms(a.ctimeSec, a.ctimeNsec),
    // Servers differ on qid.version (diod sends 0); mixing in mtime and size makes it change
    // whenever the contents do, which is what FS.version promises.
    version: (a.qid.version ^ Number(a.mtimeNsec & 0xffffffffn) ^ Math.imul(Number(a.mtimeSec & 0xffffffffn), 31) ^ Number(a.size & 0xffffffffn)) >>> 0,
  }
}

export interface MountOptions extends SessionOptions {
  readOnly?: boolean
}

/** Connects and attaches, returning the server's tree as an `FS`. `close()` it to end the session. */
export async function mount(transport: Transport, options: MountOptions = {}): Promise<FS & { session: Session; close(): Promise<void> }> {
  const session = await Session.connect(transport, options)
  return new P9FS(session, options.readOnly ?? false)
}

class P9FS implements FS {
  constructor(
    readonly session: Session,
    readonly readOnly: boolean,
  ) {}

  private async with<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw fsError(e, op, path)
    }
  }

  /** Runs `fn` on a fid walked to `clean`, clunking it after. */
  private at<T>(op: string, clean: string, fn: (fid: number) => Promise<T>): Promise<T> {
    return this.with(op, clean, async () => {
      const { fid } = await this.session.walk(split(clean), this.session.root, clean)
      try {
        return await fn(fid)
      } finally {
        await this.session.clunk(fid)
      }
    })
  }

  private writable(op: string, path: string): void {
    if (this.readOnly) throw new FsError('EROFS', op, path)
  }

  stat(path: string): Promise<Stat> {
    const clean = cleanPath(path, 'stat')
    return this.at('stat', clean, async (fid) => statOf(await this.session.getattr(fid)))
  }

  readDir(path: string): Promise<DirEntry[]> {
    const clean = cleanPath(path, 'readdir')
    return this.at('readdir', clean, async (fid) => {
      const st = statOf(await this.session.getattr(fid))
      if (st.type !== 'dir') throw new FsError('ENOTDIR', 'readdir', clean)
      await this.session.lopen(fid, O.RDONLY | O.DIRECTORY, clean)
      const out: DirEntry[] = []
      let offset = 0n
      for (;;) {
        const batch = await this.session.readdir(fid, offset, this.session.iounit, clean)
        if (batch.length === 0) break
        for (const d of batch) {
          if (d.name === '.' || d.name === '..') continue
          out.push({ name: d.name, type: d.type === 4 || d.qid.type & QTDIR ? 'dir' : d.type === 10 ? 'symlink' : 'file', ino: d.qid.path })
        }
        offset = batch[batch.length - 1]!.offset
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    })
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const clean = cleanPath(path, 'open')
    const write = options.write ?? false
    if ((write || options.create || options.truncate) && this.readOnly) throw new FsError('EROFS', 'open', clean)
    let flags = write ? (options.read === false ? O.WRONLY : O.RDWR) : O.RDONLY
    if (options.truncate && write) flags |= O.TRUNC
    if (options.append) flags |= O.APPEND
    const s = this.session
    const fid = await this.with('open', clean, async () => {
      if (options.create && clean !== '') {
        const [dir, name] = splitPath(clean)
        const { fid } = await s.walk(split(dir), s.root, clean)
        try {
          await s.lcreate(fid, name, flags | O.CREAT | O.EXCL, options.mode ?? 0o644, 0, clean)
          return fid
        } catch (e) {
          await s.clunk(fid)
          if (!(e instanceof P9RemoteError) || e.errno !== 17 || options.exclusive) throw e
        }
      }
      const { fid } = await s.walk(split(clean), s.root, clean)
      try {
        const st = statOf(await s.getattr(fid))
        if (st.type === 'dir' && (write || options.truncate)) throw new FsError('EISDIR', 'open', clean)
        if (st.type === 'symlink') throw new FsError('EINVAL', 'open', clean, 'is a symlink')
        await s.lopen(fid, st.type === 'dir' ? O.RDONLY | O.DIRECTORY : flags, clean)
        return fid
      } catch (e) {
        await s.clunk(fid)
        throw e
      }
    })
    return this.handle(fid, clean)
  }

  private handle(fid: number, path: string): FileHandle {
    const s = this.session
    let closed = false
    const check = (op: string) => {
      if (closed) throw new FsError('EBADF', op, path, 'handle is closed')
    }
    return {
      read: (position, length) =>
        this.with('read', path, async () => {
          check('read')
          const parts: Uint8Array[] = []
          let got = 0
          while (got < length) {
            const chunk = await s.read(fid, BigInt(position + got), length - got, path)
            if (chunk.length === 0) break
            parts.push(chunk)
            got += chunk.length
          }
          if (parts.length === 1) return parts[0]!
          const out = new Uint8Array(got)
          let at = 0
          for (const p of parts) {
            out.set(p, at)
            at += p.length
          }
          return out
        }),
      write: (position, data) =>
        this.with('write', path, async () => {
          check('write')
          let done = 0
          while (done < data.length) {
            const n = await s.write(fid, BigInt(position + done), data.subarray(done), path)
            if (n <= 0) throw new FsError('EIO', 'write', path, 'the server wrote nothing')
            done += n
          }
          return done
        }),
      truncate: (size) =>
        this.with('truncate', path, async () => {
          check('truncate')
          await s.call('Tsetattr', { fid, valid: SETATTR.SIZE, mode: 0, uid: 0, gid: 0, size: BigInt(size), atimeSec: 0n, atimeNsec: 0n, mtimeSec: 0n, mtimeNsec: 0n }, 'truncate', path)
        }),
      stat: () =>
        this.with('stat', path, async () => {
          check('stat')
          return statOf(await s.getattr(fid))
        }),
      sync: () =>
        this.with('sync', path, async () => {
          check('sync')
          await s.fsync(fid)
        }),
      close: async () => {
        if (closed) return
        closed = true
        await s.clunk(fid)
      },
    }
  }

  mkdir(path: string, mode = 0o755): Promise<void> {
    const clean = cleanPath(path, 'mkdir')
    this.writable('mkdir', clean)
    if (clean === '') return Promise.reject(new FsError('EEXIST', 'mkdir', clean))
    const [dir, name] = splitPath(clean)
    return this.at('mkdir', dir, async (fid) => {
      await this.session.mkdir(fid, name, mode, 0, clean)
    }).catch((e: unknown) => {
      throw e instanceof FsError ? new FsError(e.code, 'mkdir', clean) : e
    })
  }

  async remove(path: string): Promise<void> {
    const clean = cleanPath(path, 'remove')
    this.writable('remove', clean)
    const st = await this.stat(clean)
    await this.with('remove', clean, () => this.session.remove(clean, { directory: st.type === 'dir' }))
  }

  async rename(from: string, to: string): Promise<void> {
    const src = cleanPath(from, 'rename')
    const dst = cleanPath(to, 'rename')
    this.writable('rename', src)
    await this.with('rename', src, () => this.session.rename(src, dst))
  }

  async symlink(target: string, path: string): Promise<void> {
    const clean = cleanPath(path, 'symlink')
    this.writable('symlink', clean)
    const [dir, name] = splitPath(clean)
    await this.at('symlink', dir, (fid) => this.session.call('Tsymlink', { fid, name, target, gid: 0 }, 'symlink', clean)).catch((e: unknown) => {
      throw e instanceof FsError ? new FsError(e.code, 'symlink', clean) : e
    })
  }

  readlink(path: string): Promise<string> {
    const clean = cleanPath(path, 'readlink')
    return this.at('readlink', clean, async (fid) => {
      const st = statOf(await this.session.getattr(fid))
      if (st.type !== 'symlink') throw new FsError('EINVAL', 'readlink', clean, 'not a symlink')
      return (await this.session.call('Treadlink', { fid }, 'readlink', clean)).target
    })
  }

  setattr(path: string, attrs: SetAttr): Promise<void> {
    const clean = cleanPath(path, 'setattr')
    this.writable('setattr', clean)
    let valid = 0
    if (attrs.mode !== undefined) valid |= SETATTR.MODE
    if (attrs.size !== undefined) valid |= SETATTR.SIZE
    if (attrs.atimeMs !== undefined) valid |= SETATTR.ATIME | SETATTR.ATIME_SET
    if (attrs.mtimeMs !== undefined) valid |= SETATTR.MTIME | SETATTR.MTIME_SET
    const sec = (ms = 0) => BigInt(Math.floor(ms / 1000))
    const nsec = (ms = 0) => BigInt(Math.round((ms % 1000) * 1e6))
    return this.at('setattr', clean, async (fid) => {
      await this.session.call(
        'Tsetattr',
        { fid, valid, mode: attrs.mode ?? 0, uid: 0, gid: 0, size: BigInt(attrs.size ?? 0), atimeSec: sec(attrs.atimeMs), atimeNsec: nsec(attrs.atimeMs), mtimeSec: sec(attrs.mtimeMs), mtimeNsec: nsec(attrs.mtimeMs) },
        'setattr',
        clean,
      )
    })
  }

  async sync(): Promise<void> {
    await this.with('sync', '', () => this.session.fsync(this.session.root)).catch(() => {})
  }

  close(): Promise<void> {
    return this.session.close()
  }
}
