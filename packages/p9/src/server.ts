/**
 * A 9P2000.L server for any `@honk/vfs` FS. One `Connection` per client: it owns the fid
 * table and answers each encoded T-message with an encoded R-message. Hostile input gets an
 * Rlerror with the right errno — malformed messages (EPROTO), unknown or reused fids (EBADF,
 * EEXIST), walks out of the root (a '..' at the root stays at the root), absurd counts (capped
 * at msize) — and the server never throws and never leaves its FS.
 */
import { ERRNO_OF, isFsError, joinPath, splitPath, type FS, type FileHandle, type Stat } from '@honk/vfs'
import { decode, direntSize, encode, encodeDirents, type Dirent } from './codec.js'
import { ERRNO, P9ProtocolError } from './errors.js'
import { HEADER_SIZE, QTDIR, QTFILE, QTSYMLINK, SETATTR, type Message, type Qid, type TMessage } from './schema.js'

export interface ServerOptions {
  /** Largest message this server accepts and sends (default 512000, Linux's virtio cap). */
  maxMessageSize?: number
  /** Most fids one connection may hold (default 65536); beyond it a new fid is ENFILE. */
  maxFids?: number
  /** Most open fids (open files) one connection may hold (default 4096); beyond it EMFILE. */
  maxOpenFids?: number
}

interface Fid {
  path: string
  handle?: FileHandle
  isDir: boolean
  /** A directory listing taken at the first Treaddir (offset 0), served by cookie after. */
  listing?: Dirent[]
  /** An xattr fid from Txattrwalk: its (empty) value. */
  xattr?: Uint8Array
}

/** Linux DT_* codes for readdir entries. */
const DT = { dir: 4, file: 8, symlink: 10 } as const
const O_ACCMODE = 3
const O_TRUNC = 0o1000
const O_APPEND = 0o2000
const O_EXCL = 0o200

export function qidOf(st: Stat): Qid {
  return { type: st.type === 'dir' ? QTDIR : st.type === 'symlink' ? QTSYMLINK : QTFILE, version: st.version >>> 0, path: st.ino }
}

/** Typed failure inside a handler: becomes Rlerror(errno). */
class Lerror extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`)
  }
}

export class Connection {
  private readonly fids = new Map<number, Fid>()
  private msize: number
  private readonly max: number
  private readonly maxFids: number
  private readonly maxOpen: number
  /** Fids holding an open handle (bounded: each may hold a host file descriptor). */
  private opened = 0

  constructor(
    private readonly fs: FS,
    options: ServerOptions = {},
  ) {
    this.max = options.maxMessageSize ?? 512000
    this.msize = this.max
    this.maxFids = options.maxFids ?? 65536
    this.maxOpen = options.maxOpenFids ?? 4096
  }

  /** Answers one T-message. Never throws. */
  async handle(bytes: Uint8Array): Promise<Uint8Array> {
    let t: Message
    try {
      t = decode(bytes, this.max)
    } catch {
      const tag = bytes.length >= HEADER_SIZE ? bytes[5]! | (bytes[6]! << 8) : 0xffff
      return encode({ kind: 'Rlerror', tag, ecode: ERRNO.EPROTO })
    }
    if (!t.kind.startsWith('T')) return encode({ kind: 'Rlerror', tag: t.tag, ecode: ERRNO.EPROTO })
    try {
      return encode(await this.dispatch(t as TMessage))
    } catch (e) {
      return encode({ kind: 'Rlerror', tag: t.tag, ecode: errnoOf(e) })
    }
  }

  /** Releases every fid (closes open handles). */
  async close(): Promise<void> {
    const all = [...this.fids.values()]
    this.fids.clear()
    for (const f of all) await this.release(f)
  }

  /** Closes a fid's handle, if any (the fid is already out of the table). */
  private async release(f: Fid): Promise<void> {
    if (!f.handle) return
    const h = f.handle
    delete f.handle
    this.opened--
    await h.close().catch(() => {})
  }

  /** Refuses one more open handle past the limit (EMFILE). */
  private canOpen(): void {
    if (this.opened >= this.maxOpen) throw new Lerror(ERRNO.EMFILE)
  }

  private fid(n: number): Fid {
    const f = this.fids.get(n)
    if (!f) throw new Lerror(ERRNO.EBADF)
    return f
  }

  private newFid(n: number, f: Fid): void {
    if (this.fids.has(n)) throw new Lerror(ERRNO.EEXIST)
    if (this.fids.size >= this.maxFids) throw new Lerror(ERRNO.ENFILE)
    this.fids.set(n, f)
  }

  private async qid(path: string): Promise<Qid> {
    return qidOf(await this.fs.stat(path))
  }

  private get iounit(): number {
    return this.msize - 24
  }

  private async dispatch(t: TMessage): Promise<Message> {
    const tag = t.tag
    switch (t.kind) {
      case 'Tversion': {
        await this.close()
        if (!t.version.startsWith('9P2000.L')) return { kind: 'Rversion', tag, msize: Math.min(t.msize, this.max), version: 'unknown' }
        if (t.msize < 4096) throw new Lerror(ERRNO.EINVAL)
        this.msize = Math.min(t.msize, this.max)
        return { kind: 'Rversion', tag, msize: this.msize, version: '9P2000.L' }
      }
      case 'Tauth':
        throw new Lerror(ERRNO.EOPNOTSUPP)
      case 'Tattach': {
        const st = await this.fs.stat('')
        this.newFid(t.fid, { path: '', isDir: true })
        return { kind: 'Rattach', tag, qid: qidOf(st) }
      }
      case 'Tflush':
        return { kind: 'Rflush', tag }
      case 'Twalk': {
        const from = this.fid(t.fid)
        if (from.handle) throw new Lerror(ERRNO.EINVAL) // walk(5): an open fid cannot be walked
        if (t.newfid !== t.fid && this.fids.has(t.newfid)) throw new Lerror(ERRNO.EEXIST)
        if (t.wnames.length > 16) throw new Lerror(ERRNO.EINVAL)
        let path = from.path
        let isDir = from.isDir
        const wqids: Qid[] = []
        for (const name of t.wnames) {
          if (name === '' || name.includes('/') || name === '.') {
            if (wqids.length === 0) throw new Lerror(ERRNO.EINVAL)
            break
          }
          // '..' moves up and stops at the root: no walk leaves the tree.
          const next = name === '..' ? splitPath(path)[0] : joinPath(path, name)
          try {
            const st = await this.fs.stat(next)
            wqids.push(qidOf(st))
            path = next
            isDir = st.type === 'dir'
          } catch (e) {
            if (wqids.length === 0) throw e
            break
          }
        }
        if (wqids.length === t.wnames.length) {
          if (t.newfid === t.fid) this.fids.set(t.fid, { path, isDir })
          else this.newFid(t.newfid, { path, isDir })
        }
        return { kind: 'Rwalk', tag, wqids }
      }
      case 'Tclunk': {
        const f = this.fid(t.fid)
        this.fids.delete(t.fid)
        await this.release(f)
        return { kind: 'Rclunk', tag }
      }
      case 'Tremove': {
        const f = this.fid(t.fid)
        this.fids.delete(t.fid) // remove(5): the fid is clunked even if the remove fails
        await this.release(f)
        if (f.path === '') throw new Lerror(ERRNO.EINVAL)
        await this.fs.remove(f.path)
        return { kind: 'Rremove', tag }
      }
      case 'Tgetattr': {
        const f = this.fid(t.fid)
        const st = f.handle && !f.isDir ? await f.handle.stat() : await this.fs.stat(f.path)
        const sec = (ms: number) => BigInt(Math.floor(ms / 1000))
        const nsec = (ms: number) => BigInt(Math.floor((ms % 1000) * 1e6))
        const typeBits = st.type === 'dir' ? 0o040000 : st.type === 'symlink' ? 0o120000 : 0o100000
        return {
          kind: 'Rgetattr',
          tag,
          valid: 0x7ffn,
          qid: qidOf(st),
          mode: typeBits | st.mode,
          uid: st.uid,
          gid: st.gid,
          nlink: BigInt(st.nlink),
          rdev: 0n,
          size: BigInt(st.size),
          blksize: 4096n,
          blocks: BigInt(Math.ceil(st.size / 512)),
          atimeSec: sec(st.atimeMs),
          atimeNsec: nsec(st.atimeMs),
          mtimeSec: sec(st.mtimeMs),
          mtimeNsec: nsec(st.mtimeMs),
          ctimeSec: sec(st.ctimeMs),
          ctimeNsec: nsec(st.ctimeMs),
          btimeSec: 0n,
          btimeNsec: 0n,
          gen: 0n,
          dataVersion: 0n,
        }
      }
      case 'Tsetattr': {
        const f = this.fid(t.fid)
        const now = Date.now()
        const ms = (s: bigint, ns: bigint) => Number(s) * 1000 + Math.floor(Number(ns) / 1e6)
        const attrs: { mode?: number; size?: number; atimeMs?: number; mtimeMs?: number } = {}
        if (t.valid & SETATTR.MODE) attrs.mode = t.mode & 0o7777
        if (t.valid & SETATTR.SIZE) {
          if (t.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new Lerror(ERRNO.EFBIG)
          attrs.size = Number(t.size)
        }
        if (t.valid & SETATTR.ATIME) attrs.atimeMs = t.valid & SETATTR.ATIME_SET ? ms(t.atimeSec, t.atimeNsec) : now
        if (t.valid & SETATTR.MTIME) attrs.mtimeMs = t.valid & SETATTR.MTIME_SET ? ms(t.mtimeSec, t.mtimeNsec) : now
        if (attrs.size !== undefined && f.handle && !f.isDir) {
          await f.handle.truncate(attrs.size)
          delete attrs.size
        }
        if (Object.keys(attrs).length > 0) await this.fs.setattr(f.path, attrs)
        return { kind: 'Rsetattr', tag }
      }
      case 'Tlopen': {
        const f = this.fid(t.fid)
        if (f.handle || f.listing) throw new Lerror(ERRNO.EINVAL)
        const acc = t.flags & O_ACCMODE
        const write = acc === 1 || acc === 2
        this.canOpen()
        if (f.isDir) {
          if (write) throw new Lerror(ERRNO.EISDIR)
          delete f.listing
          f.handle = await this.fs.open(f.path, { read: true })
        } else {
          f.handle = await this.fs.open(f.path, { read: acc !== 1, write, truncate: (t.flags & O_TRUNC) !== 0, append: (t.flags & O_APPEND) !== 0 })
        }
        this.opened++
        return { kind: 'Rlopen', tag, qid: await this.qid(f.path), iounit: this.iounit }
      }
      case 'Tlcreate': {
        const f = this.fid(t.fid)
        if (!f.isDir || f.handle) throw new Lerror(f.isDir ? ERRNO.EINVAL : ERRNO.ENOTDIR)
        checkName(t.name)
        const path = joinPath(f.path, t.name)
        const acc = t.flags & O_ACCMODE
        this.canOpen()
        const handle = await this.fs.open(path, {
          read: acc !== 1,
          write: true,
          create: true,
          exclusive: (t.flags & O_EXCL) !== 0,
          truncate: (t.flags & O_TRUNC) !== 0,
          append: (t.flags & O_APPEND) !== 0,
          mode: t.mode & 0o7777,
        })
        // lcreate: the fid now stands for the new file, open.
        this.fids.set(t.fid, { path, isDir: false, handle })
        this.opened++
        return { kind: 'Rlcreate', tag, qid: qidOf(await handle.stat()), iounit: this.iounit }
      }
      case 'Tread': {
        const f = this.fid(t.fid)
        if (f.xattr) return { kind: 'Rread', tag, data: f.xattr.subarray(Number(t.offset > 1n << 40n ? 1n << 40n : t.offset), Number(t.offset) + t.count) }
        if (!f.handle) throw new Lerror(ERRNO.EBADF)
        if (f.isDir) throw new Lerror(ERRNO.EISDIR)
        if (t.offset > BigInt(Number.MAX_SAFE_INTEGER)) return { kind: 'Rread', tag, data: new Uint8Array(0) }
        return { kind: 'Rread', tag, data: await f.handle.read(Number(t.offset), Math.min(t.count, this.msize - 11)) }
      }
      case 'Twrite': {
        const f = this.fid(t.fid)
        if (!f.handle || f.isDir) throw new Lerror(ERRNO.EBADF)
        if (t.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new Lerror(ERRNO.EFBIG)
        return { kind: 'Rwrite', tag, count: await f.handle.write(Number(t.offset), t.data) }
      }
      case 'Treaddir': {
        const f = this.fid(t.fid)
        if (!f.isDir || !f.handle) throw new Lerror(f.isDir ? ERRNO.EBADF : ERRNO.ENOTDIR)
        if (t.offset === 0n || !f.listing) {
          const self = await this.fs.stat(f.path)
          const parent = await this.fs.stat(splitPath(f.path)[0])
          const entries = await this.fs.readDir(f.path)
          const all = [
            { name: '.', type: 'dir' as const, ino: self.ino },
            { name: '..', type: 'dir' as const, ino: parent.ino },
            ...entries,
          ]
          f.listing = all.map((e, i) => ({ qid: { type: e.type === 'dir' ? QTDIR : e.type === 'symlink' ? QTSYMLINK : QTFILE, version: 0, path: e.ino }, offset: BigInt(i + 1), type: DT[e.type], name: e.name }))
        }
        const room = Math.min(t.count, this.msize - 11)
        const out: Dirent[] = []
        let used = 0
        for (let i = Number(t.offset > BigInt(f.listing.length) ? BigInt(f.listing.length) : t.offset); i < f.listing.length; i++) {
          const d = f.listing[i]!
          const size = direntSize(d.name)
          if (used + size > room) break
          out.push(d)
          used += size
        }
        return { kind: 'Rreaddir', tag, data: encodeDirents(out) }
      }
      case 'Tmkdir': {
        const d = this.fid(t.dfid)
        checkName(t.name)
        const path = joinPath(d.path, t.name)
        await this.fs.mkdir(path, t.mode & 0o7777)
        return { kind: 'Rmkdir', tag, qid: await this.qid(path) }
      }
      case 'Tsymlink': {
        const d = this.fid(t.fid)
        checkName(t.name)
        const path = joinPath(d.path, t.name)
        await this.fs.symlink(t.target, path)
        return { kind: 'Rsymlink', tag, qid: await this.qid(path) }
      }
      case 'Treadlink':
        return { kind: 'Rreadlink', tag, target: await this.fs.readlink(this.fid(t.fid).path) }
      case 'Tunlinkat': {
        const d = this.fid(t.dirfid)
        checkName(t.name)
        const path = joinPath(d.path, t.name)
        const st = await this.fs.stat(path)
        const rmdir = (t.flags & 0x200) !== 0
        if (st.type === 'dir' && !rmdir) throw new Lerror(ERRNO.EISDIR)
        if (st.type !== 'dir' && rmdir) throw new Lerror(ERRNO.ENOTDIR)
        await this.fs.remove(path)
        return { kind: 'Runlinkat', tag }
      }
      case 'Trenameat': {
        const from = joinPath(this.fid(t.olddirfid).path, checkName(t.oldname))
        const to = joinPath(this.fid(t.newdirfid).path, checkName(t.newname))
        await this.fs.rename(from, to)
        this.moved(from, to)
        return { kind: 'Rrenameat', tag }
      }
      case 'Trename': {
        const f = this.fid(t.fid)
        const to = joinPath(this.fid(t.dfid).path, checkName(t.name))
        if (f.path === '') throw new Lerror(ERRNO.EINVAL)
        const from = f.path
        await this.fs.rename(from, to)
        this.moved(from, to)
        return { kind: 'Rrename', tag }
      }
      case 'Tfsync': {
        const f = this.fid(t.fid)
        await (f.handle ? f.handle.sync() : this.fs.sync())
        return { kind: 'Rfsync', tag }
      }
      case 'Tstatfs':
        this.fid(t.fid)
        return { kind: 'Rstatfs', tag, fsType: 0x01021997, bsize: 4096, blocks: 1n << 20n, bfree: 1n << 19n, bavail: 1n << 19n, files: 1n << 20n, ffree: 1n << 19n, fsid: 0n, namelen: 255 }
      case 'Txattrwalk': {
        this.fid(t.fid)
        // No extended attributes: listing (empty name) yields an empty list, a lookup ENODATA.
        if (t.name !== '') throw new Lerror(ERRNO.ENODATA)
        this.newFid(t.newfid, { path: this.fid(t.fid).path, isDir: false, xattr: new Uint8Array(0) })
        return { kind: 'Rxattrwalk', tag, size: 0n }
      }
      case 'Txattrcreate':
        throw new Lerror(ERRNO.EOPNOTSUPP)
      case 'Tlock':
        this.fid(t.fid)
        return { kind: 'Rlock', tag, status: 0 } // P9_LOCK_SUCCESS: locks are advisory and local to a guest
      case 'Tgetlock':
        this.fid(t.fid)
        return { kind: 'Rgetlock', tag, lockType: 2, start: t.start, length: t.length, procId: t.procId, clientId: t.clientId } // F_UNLCK
      case 'Tlink':
      case 'Tmknod':
        throw new Lerror(ERRNO.EOPNOTSUPP)
      default:
        throw new Lerror(ERRNO.EOPNOTSUPP)
    }
  }

  /** Keeps other fids valid after a rename of `from` (or of a directory above them). */
  private moved(from: string, to: string): void {
    for (const f of this.fids.values()) {
      if (f.path === from) f.path = to
      else if (f.path.startsWith(from + '/')) f.path = to + f.path.slice(from.length)
    }
  }
}

/** A name inside a directory: no '/', not '.', '..' or empty (EINVAL). */
function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new Lerror(ERRNO.EINVAL)
  return name
}

function errnoOf(e: unknown): number {
  if (e instanceof Lerror) return e.errno
  if (isFsError(e)) return ERRNO_OF[e.code]
  if (e instanceof P9ProtocolError) return ERRNO.EPROTO
  return ERRNO.EIO
}

/** A message handler serving `fs` (for `loopbackTransport` or a virtio-9p device). */
export function serve(fs: FS, options: ServerOptions = {}): Connection {
  return new Connection(fs, options)
}
