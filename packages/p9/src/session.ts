/**
 * The client side of a 9P2000.L connection: version negotiation, attach, tags and fids, and
 * one typed method per operation. Requests run concurrently over one transport (each gets its
 * own tag); fids are allocated from a free list and every helper clunks what it walks, so
 * none leak. `mount()` (the `FS` view) is built on this.
 */
import { decode, decodeDirents, encode, type Dirent } from './codec.js'
import { P9ProtocolError, P9RemoteError } from './errors.js'
import { GETATTR_BASIC, MAXWELEM, NOFID, NOTAG, QTDIR, type Message, type MessageName, type MessageOf, type Qid } from './schema.js'
import type { Transport } from './transport.js'

/** Open flags of Tlopen/Tlcreate (Linux O_* values, as the protocol carries them). */
export const O = { RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, APPEND: 0o2000, DIRECTORY: 0o200000 } as const

export interface SessionOptions {
  /** Largest message to ask for (default: the transport's maximum). */
  msize?: number
  uname?: string
  aname?: string
  /** Numeric uid for the attach (n_uname); default 0. */
  uid?: number
}

/** The R-message that answers the T-message `N` (`Rlerror` is thrown as an error instead). */
export type ReplyOf<N extends MessageName> = N extends `T${infer Rest}` ? MessageOf<`R${Rest}` & MessageName> : never
/** The body of the message `N`: its fields without `kind` and `tag` (the session fills them in). */
export type RequestBody<N extends MessageName> = Omit<MessageOf<N>, 'kind' | 'tag'>

export class Session {
  /** The negotiated maximum message size. */
  msize = 0
  /** The root fid (attached, never clunked until close). */
  readonly root = 0
  rootQid: Qid = { type: 0, version: 0, path: 0n }
  private nextTag = 0
  private readonly freeTags: number[] = []
  private nextFid = 1
  private readonly freeFids: number[] = []
  private closed = false

  private constructor(private readonly transport: Transport) {}

  /** Negotiates the version and msize, and attaches the root. */
  static async connect(transport: Transport, options: SessionOptions = {}): Promise<Session> {
    const s = new Session(transport)
    const want = Math.min(options.msize ?? transport.maxMessageSize, transport.maxMessageSize)
    const v = await s.exchange({ kind: 'Tversion', tag: NOTAG, msize: want, version: '9P2000.L' }, 'Rversion', 'version')
    if (v.version !== '9P2000.L') throw new P9ProtocolError(`server speaks ${JSON.stringify(v.version)}, not 9P2000.L`)
    if (v.msize < 4096 || v.msize > want) throw new P9ProtocolError(`server msize ${v.msize} is outside [4096, ${want}]`)
    s.msize = v.msize
    const a = await s.call('Tattach', { fid: s.root, afid: NOFID, uname: options.uname ?? 'honk', aname: options.aname ?? '', nUname: options.uid ?? 0 }, 'attach')
    s.rootQid = a.qid
    return s
  }

  /** Bytes of payload that fit in one Tread/Twrite (msize minus the largest header). */
  get iounit(): number {
    return this.msize - 24
  }

  /** Sends a request and returns its typed reply; an Rlerror becomes `P9RemoteError`. */
  async call<N extends MessageName & `T${string}`>(kind: N, body: RequestBody<N>, what: string = kind.slice(1), path?: string): Promise<ReplyOf<N>> {
    if (this.closed) throw new P9ProtocolError('session is closed')
    const tag = this.allocTag()
    try {
      const want = ('R' + kind.slice(1)) as MessageName
      return (await this.exchange({ kind, tag, ...body } as unknown as Message, want, what, path)) as ReplyOf<N>
    } finally {
      this.freeTags.push(tag)
    }
  }

  private async exchange<W extends MessageName>(msg: Message, want: W, what: string, path?: string): Promise<MessageOf<W>> {
    const reply = decode(await this.transport.roundTrip(encode(msg)), this.msize || 0xffffffff)
    if (reply.tag !== msg.tag) throw new P9ProtocolError(`reply tag ${reply.tag} for request tag ${msg.tag}`)
    if (reply.kind === 'Rlerror') throw new P9RemoteError(reply.ecode, what, path)
    if (reply.kind !== want) throw new P9ProtocolError(`${what}: reply ${reply.kind}, want ${want}`)
    return reply as MessageOf<W>
  }

  private allocTag(): number {
    const t = this.freeTags.pop() ?? this.nextTag++
    if (t >= NOTAG) throw new P9ProtocolError('too many requests in flight (tags exhausted)')
    return t
  }

  /** A fresh fid number (not yet bound to anything on the server). */
  allocFid(): number {
    return this.freeFids.pop() ?? this.nextFid++
  }

  /** Clunks `fid` and returns it to the free list; best-effort, never throws. */
  async clunk(fid: number): Promise<void> {
    try {
      await this.call('Tclunk', { fid }, 'clunk')
    } catch {
      // The fid is gone either way (a failed clunk still releases it, 9P clunk(5)).
    }
    this.freeFids.push(fid)
  }

  /**
   * Walks from `from` (default the root) through `names` to a new fid. Walks of more than 16
   * names go in chunks; a partial walk is ENOENT and leaves no fid behind.
   */
  async walk(names: readonly string[], from: number = this.root, path?: string): Promise<{ fid: number; qid: Qid | undefined }> {
    const fid = this.allocFid()
    let src = from
    let last: Qid | undefined
    let i = 0
    try {
      do {
        const chunk = names.slice(i, i + MAXWELEM)
        const r = await this.call('Twalk', { fid: src, newfid: fid, wnames: chunk }, 'walk', path ?? names.join('/'))
        if (r.wqids.length !== chunk.length) {
          // A partial walk stops at the first name that failed; if what it reached is not a
          // directory, the failure is ENOTDIR (as Linux reports it), else ENOENT.
          const reached = r.wqids[r.wqids.length - 1]
          throw new P9RemoteError(reached && !(reached.type & QTDIR) ? 20 : 2, 'walk', path ?? names.join('/'))
        }
        last = r.wqids[r.wqids.length - 1] ?? last
        src = fid
        i += MAXWELEM
      } while (i < names.length)
      return { fid, qid: last }
    } catch (e) {
      if (src === fid) await this.clunk(fid)
      else this.freeFids.push(fid)
      throw e
    }
  }

  getattr(fid: number, mask: bigint = GETATTR_BASIC, path?: string) {
    return this.call('Tgetattr', { fid, requestMask: mask }, 'getattr', path)
  }

  lopen(fid: number, flags: number, path?: string) {
    return this.call('Tlopen', { fid, flags }, 'open', path)
  }

  /** Creates `name` in the directory `fid` is walked to; `fid` then refers to the new file, open. */
  lcreate(fid: number, name: string, flags: number, mode: number, gid = 0, path?: string) {
    return this.call('Tlcreate', { fid, name, flags, mode, gid }, 'create', path)
  }

  async read(fid: number, offset: bigint, count: number, path?: string): Promise<Uint8Array> {
    return (await this.call('Tread', { fid, offset, count: Math.min(count, this.iounit) }, 'read', path)).data
  }

  async write(fid: number, offset: bigint, data: Uint8Array, path?: string): Promise<number> {
    return (await this.call('Twrite', { fid, offset, data: data.length > this.iounit ? data.subarray(0, this.iounit) : data }, 'write', path)).count
  }

  async readdir(fid: number, offset: bigint, count = this.iounit, path?: string): Promise<Dirent[]> {
    return decodeDirents((await this.call('Treaddir', { fid, offset, count: Math.min(count, this.iounit) }, 'readdir', path)).data)
  }

  mkdir(dfid: number, name: string, mode: number, gid = 0, path?: string) {
    return this.call('Tmkdir', { dfid, name, mode, gid }, 'mkdir', path)
  }

  unlinkat(dirfid: number, name: string, flags = 0, path?: string) {
    return this.call('Tunlinkat', { dirfid, name, flags }, 'unlink', path)
  }

  renameat(olddirfid: number, oldname: string, newdirfid: number, newname: string, path?: string) {
    return this.call('Trenameat', { olddirfid, oldname, newdirfid, newname }, 'rename', path)
  }

  fsync(fid: number, datasync = 0) {
    return this.call('Tfsync', { fid, datasync }, 'fsync')
  }

  statfs(fid: number = this.root) {
    return this.call('Tstatfs', { fid }, 'statfs')
  }

  // ---- path helpers (each clunks what it walks) ------------------------------------------

  /** Reads a whole file. */
  async readFile(path: string): Promise<Uint8Array> {
    const { fid } = await this.walk(split(path), this.root, path)
    try {
      await this.lopen(fid, O.RDONLY, path)
      const parts: Uint8Array[] = []
      let offset = 0n
      for (;;) {
        const chunk = await this.read(fid, offset, this.iounit, path)
        if (chunk.length === 0) break
        parts.push(chunk)
        offset += BigInt(chunk.length)
      }
      return concat(parts)
    } finally {
      await this.clunk(fid)
    }
  }

  /** Creates or truncates a file and writes `data`. */
  async writeFile(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
    const names = split(path)
    const name = names.pop()
    if (!name) throw new P9RemoteError(22, 'create', path)
    const { fid } = await this.walk(names, this.root, path)
    try {
      await this.lcreate(fid, name, O.WRONLY | O.CREAT | O.TRUNC, mode, 0, path)
      let offset = 0
      while (offset < data.length) {
        const n = await this.write(fid, BigInt(offset), data.subarray(offset), path)
        if (n <= 0) throw new P9ProtocolError(`write of ${path} made no progress at byte ${offset}`)
        offset += n
      }
    } finally {
      await this.clunk(fid)
    }
  }

  /** Lists a directory (without "." and ".."). */
  async list(path: string): Promise<Dirent[]> {
    const { fid } = await this.walk(split(path), this.root, path)
    try {
      await this.lopen(fid, O.RDONLY, path)
      const out: Dirent[] = []
      let offset = 0n
      for (;;) {
        const batch = await this.readdir(fid, offset, this.iounit, path)
        if (batch.length === 0) break
        for (const d of batch) if (d.name !== '.' && d.name !== '..') out.push(d)
        offset = batch[batch.length - 1]!.offset
      }
      return out
    } finally {
      await this.clunk(fid)
    }
  }

  /**
   * Renames `from` to `to` (paths from the root). Uses Trenameat and, like Linux v9fs, falls
   * back to Trename when the server answers EOPNOTSUPP (diod does).
   */
  async rename(from: string, to: string): Promise<void> {
    const src = split(from)
    const dst = split(to)
    const oldName = src.pop()
    const newName = dst.pop()
    if (!oldName || !newName) throw new P9RemoteError(22, 'rename', from)
    try {
      await this.inDir(src.join('/'), (odir) => this.inDir(dst.join('/'), (ndir) => this.renameat(odir, oldName, ndir, newName, from)))
    } catch (e) {
      if (!(e instanceof P9RemoteError) || e.errno !== 95) throw e
      const { fid } = await this.walk([...src, oldName], this.root, from)
      try {
        await this.inDir(dst.join('/'), (ndir) => this.call('Trename', { fid, dfid: ndir, name: newName }, 'rename', from))
      } finally {
        await this.clunk(fid)
      }
    }
  }

  /** Removes a file or an empty directory: Tunlinkat, falling back to Tremove on EOPNOTSUPP. */
  async remove(path: string, options: { directory?: boolean } = {}): Promise<void> {
    const names = split(path)
    const name = names.pop()
    if (!name) throw new P9RemoteError(22, 'remove', path)
    try {
      await this.inDir(names.join('/'), (dir) => this.unlinkat(dir, name, options.directory ? 0x200 : 0, path))
    } catch (e) {
      if (!(e instanceof P9RemoteError) || e.errno !== 95) throw e
      const { fid } = await this.walk([...names, name], this.root, path)
      // Tremove clunks the fid whether or not it succeeds (remove(5)).
      try {
        await this.call('Tremove', { fid }, 'remove', path)
      } finally {
        this.freeFids.push(fid)
      }
    }
  }

  /** Runs `fn` with a fid walked to the directory `path`, clunking it after. */
  async inDir<T>(path: string, fn: (dfid: number) => Promise<T>): Promise<T> {
    const { fid, qid } = await this.walk(split(path), this.root, path)
    try {
      if (qid && !(qid.type & QTDIR)) throw new P9RemoteError(20, 'walk', path)
      return await fn(fid)
    } finally {
      await this.clunk(fid)
    }
  }

  /** Number of fids currently handed out (for leak tests). */
  get fidsInUse(): number {
    return this.nextFid - 1 - this.freeFids.length
  }

  async close(): Promise<void> {
    if (this.closed) return
    await this.clunk(this.root).catch(() => {})
    this.closed = true
    await this.transport.close()
  }
}

/** "a/b/c" → ["a","b","c"]; "" and "/" → []. */
export function split(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.')
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
