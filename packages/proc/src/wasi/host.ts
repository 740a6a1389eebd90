/**
 * `WasiHost`: every `wasi_snapshot_preview1` import, run on the module's own thread against a
 * synchronous bridge (`WasiBridge`). It owns the descriptor table, rights, cursors, clocks and
 * randomness; file-system requests cross the bridge to the main thread, which resolves paths
 * inside the preopen (see server.ts).
 *
 * Every import is total: each pointer and length the module passes is checked against its
 * memory (EFAULT), every enum and flag word is validated (EINVAL), descriptors are checked
 * (EBADF, ENOTDIR) and then rights (ENOTCAPABLE); anything else that goes wrong becomes an
 * errno. Only `proc_exit`, `proc_raise` and a broken limit leave an import by throwing, and
 * they throw the host's own signals (`WasiExit`, `WasiRaise`, `WasiLimitExceeded`) that the
 * runner turns into the process's end.
 */
import {
  ADVICE_MAX, Clockid, DIR_RIGHTS, Errno, Eventtype, EVENTRW_HANGUP, FILE_RIGHTS, Fdflags, Filetype, Fstflags,
  IGNORED_SIGNALS, LOOKUP_SYMLINK_FOLLOW, Oflags, PREOPENTYPE_DIR, Rights, SIGNAL_MAX, SIZE,
  STDIN_RIGHTS, STDOUT_RIGHTS, SUBCLOCK_ABSTIME, Sdflags, Whence, ALL_RIGHTS, WASI_FUNCTIONS,
} from './abi.js'
import type { WasmMemory } from './wasm-api.js'
import type { At, FakeClockSpec, OpenResult, Request, WireDirent, WireStat, WireTime } from './protocol.js'

/** What a bridge call answers. */
export type BridgeAnswer = { errno: number } | { json: unknown } | { bytes: Uint8Array }

/** The synchronous services the host needs (in a worker: SharedArrayBuffer + Atomics.wait). */
export interface WasiBridge {
  /** Serves a file request, blocking until the answer is there. */
  call(req: Request): BridgeAnswer
  /** stdout (1) or stderr (2) bytes; fire and forget, in order. */
  output(fd: 1 | 2, data: Uint8Array): void
  /** Blocks the calling thread for `ms` milliseconds. */
  sleep(ms: number): void
  /**
   * Buffers a write (write-behind) when it continues the current batch or starts one; false
   * when it must be a `write` request instead. Optional: without it every write is a request.
   */
  writeBehind?(handle: number, pos: number, data: Uint8Array): boolean
  /**
   * Sends a request without waiting for its answer (a read-ahead prefetch); `end` waits for it.
   * Optional; between the two, no other `call` is made (the host ends it first).
   */
  begin?(req: Request): void
  end?(): BridgeAnswer
  /** True while write-behind holds bytes not yet handed to the FS (optional: never, without write-behind). */
  pendingWrites?(): boolean
}

/**
 * Synchronous `pread`/`pwrite` on a host descriptor of this process (Node: `fs.readSync` and
 * `fs.writeSync` in the worker). With it, a file whose `FileHandle` the FS registered as exactly a
 * host descriptor (`@honk/vfs` `hostDescriptorOf`) is read and written by the module's own thread:
 * no round trip, no copy (the kernel copies straight into or out of the module's memory). Errors
 * are thrown as objects with the host's errno name in `code` ('EIO', 'ENOSPC', …).
 */
export interface DirectFileIo {
  /** Reads into `into` from `position`; the bytes read (0 at end of file). */
  read(fd: number, into: Uint8Array, position: number): number
  /** Writes `from` (or a first part of it) at `position`; the bytes written. */
  write(fd: number, from: Uint8Array, position: number): number
}

/** The WASI errno of a host error code thrown by `DirectFileIo` (an unknown one is EIO). */
export function errnoOfHostCode(e: unknown): number {
  const code = typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : ''
  const name = code.startsWith('E') ? code.slice(1) : ''
  return name !== '' && name !== 'SUCCESS' && Object.hasOwn(Errno, name) ? Errno[name as keyof typeof Errno] : Errno.IO
}

export interface WasiHostConfig {
  args: readonly string[]
  env: readonly string[]
  /** Guest names of the preopened directories, at fds 3, 4, … */
  preopens: readonly string[]
  /** stdout/stderr reach the bridge (the `console` capability); otherwise they are discarded. */
  console: boolean
  /** stdin reads go to the bridge; otherwise stdin is at end of file. */
  stdin: boolean
  clock?: FakeClockSpec | undefined
  randomSeed?: number | undefined
  maxOpenFds: number
  maxMemoryPages: number
  /** Largest total one fd_read/fd_write moves (the rest is a short count, as POSIX allows). */
  maxIo: number
  /** Largest answer of one bridge call (larger reads are split). */
  chunk: number
  /** A monotonic nanosecond clock (Node: process.hrtime.bigint); default from performance.now(). */
  monotonicNs?: (() => bigint) | undefined
  /**
   * Lifetime (ms) of what this host caches to answer without a round trip: a file's stat (until
   * any other request of this process or any write of it) and read-ahead of sequential reads
   * (until any write of this process). Changes by OTHER processes are seen at most this late.
   * 0 (default): nothing is cached.
   */
  cacheMs?: number
  /** The worker's own I/O on host descriptors (see `DirectFileIo`); without it every file request crosses the bridge. */
  direct?: DirectFileIo | undefined
  /** Kinds of the sockets handed in (ids 0, 1, …), at the descriptors right after the preopens. */
  sockets?: readonly ('stream' | 'listener')[] | undefined
}

/** What a connected socket may do (as wasmtime grants its sockets). */
const SOCKET_RIGHTS: bigint = Rights.FD_READ | Rights.FD_WRITE | Rights.FD_FDSTAT_SET_FLAGS | Rights.FD_FILESTAT_GET | Rights.POLL_FD_READWRITE | Rights.SOCK_SHUTDOWN
/** What a listening socket may do: accept, and be polled for a waiting connection. */
const LISTENER_RIGHTS: bigint = Rights.FD_READ | Rights.FD_FDSTAT_SET_FLAGS | Rights.FD_FILESTAT_GET | Rights.POLL_FD_READWRITE | Rights.SOCK_ACCEPT
/** riflags (WASI preview1): RECV_PEEK, RECV_WAITALL. */
const RECV_PEEK = 1
const RECV_WAITALL = 2

/** `proc_exit` was called. */
export class WasiExit {
  constructor(readonly code: number) {}
}
/** `proc_raise` with a signal whose default action ends the process. */
export class WasiRaise {
  constructor(readonly signal: number) {}
}
/** The module went past a limit; the runner ends it. */
export class WasiLimitExceeded {
  constructor(readonly kind: 'memory' | 'fds', readonly detail: string) {}
}
class Fault {}
class Fail {
  constructor(readonly errno: number) {}
}
const FAULT = new Fault()
const fail = (errno: number): never => {
  throw new Fail(errno)
}

interface Fd {
  /** `socket`/`listener`: `handle` is the socket's id on the main side (sockets.ts). */
  kind: 'stdin' | 'stdout' | 'stderr' | 'file' | 'dir' | 'socket' | 'listener'
  filetype: number
  base: bigint
  inheriting: bigint
  flags: number
  /** File: bridge handle and cursor. */
  handle: number
  pos: number
  /** Preopen index and the clean path in its FS (directories; files keep it for messages). */
  pre: number
  path: string
  /** The guest name of a preopen. */
  preopen: string | undefined
  /** Directory listing kept between fd_readdir calls (refreshed at cookie 0). */
  listing: WireDirent[] | undefined
  /** File: where the last read ended (a read starting there is sequential: read ahead). */
  lastEnd?: number
  /** File: the stat last answered, valid while `calls` is `statCalls` and it is younger than cacheMs. */
  stat?: WireStat | undefined
  statCalls?: number
  statAt?: number
  /** File: the host descriptor the worker reads and writes itself (DirectFileIo), if any. */
  direct?: number | undefined
}

/** Requests that change nothing in a file system (a cached read or stat survives them). */
const READ_ONLY_OPS: ReadonlySet<Request['op']> = new Set(['stat', 'fstat', 'dstat', 'read', 'readdir', 'readlink', 'stdin', 'stdinwait', 'more', 'flush'])

interface ReadAhead {
  handle: number
  pos: number
  bytes: Uint8Array
  /** The read was short: the file ended at pos + bytes.length. */
  eof: boolean
  mutations: number
  at: number
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })
const MAX_PATH = 4096
const U64_MAX = (1n << 64n) - 1n

/** The WASI preview1 host of one module instance. */
export class WasiHost {
  private memory: WasmMemory | undefined
  private readonly fds = new Map<number, Fd>()
  private readonly argBytes: Uint8Array[]
  private readonly envBytes: Uint8Array[]
  private fakeNow: bigint | undefined
  private rng: number
  private readonly monoStart = performance.now()
  private dv: DataView | undefined
  private cachedBuf: ArrayBuffer | undefined
  private sharedMemory = false
  private readonly memoryLimit: number
  /** Requests other than fstat, and buffered writes (a cached stat is valid while this is unchanged). */
  private calls = 0
  /** Requests that may change a file system, and buffered writes (read-ahead is valid while this is unchanged). */
  private mutations = 0
  private readAhead: ReadAhead | undefined
  /** The read-ahead buffer (one chunk, reused: a fresh large buffer per read costs more than the copy). */
  private raBuf: Uint8Array | undefined
  private readonly cacheMs: number
  /** The filestat bytes of each cached stat (weakly: a stat dropped from its descriptor goes). */
  private readonly encodedStat = new WeakMap<WireStat, Uint8Array>()
  /** A prefetch sent and not yet answered (the next chunk of a sequential read). */
  private prefetch: { handle: number; pos: number; len: number; mutations: number } | undefined
  /** A prefetch answered, not yet read. */
  private prefetched: ReadAhead | undefined
  private pfBuf: Uint8Array | undefined

  constructor(
    private readonly bridge: WasiBridge,
    private readonly config: WasiHostConfig,
  ) {
    this.memoryLimit = config.maxMemoryPages * 65536
    this.cacheMs = config.cacheMs ?? 0
    this.argBytes = config.args.map((a) => enc.encode(`${a}\0`))
    this.envBytes = config.env.map((e) => enc.encode(`${e}\0`))
    this.fakeNow = config.clock?.startNs
    this.rng = (config.randomSeed ?? 1) >>> 0 || 1
    const std = (kind: Fd['kind'], base: bigint): Fd => ({
      kind, filetype: Filetype.CHARACTER_DEVICE, base, inheriting: 0n, flags: 0, handle: 0, pos: 0, pre: -1, path: '', preopen: undefined, listing: undefined,
    })
    this.fds.set(0, std('stdin', STDIN_RIGHTS))
    this.fds.set(1, std('stdout', STDOUT_RIGHTS))
    this.fds.set(2, std('stderr', STDOUT_RIGHTS))
    config.preopens.forEach((name, i) => {
      this.fds.set(3 + i, {
        kind: 'dir', filetype: Filetype.DIRECTORY, base: DIR_RIGHTS, inheriting: ALL_RIGHTS, flags: 0, handle: 0, pos: 0,
        pre: i, path: '', preopen: name, listing: undefined,
      })
    })
    ;(config.sockets ?? []).forEach((kind, i) => {
      this.fds.set(3 + config.preopens.length + i, {
        kind: kind === 'listener' ? 'listener' : 'socket', filetype: Filetype.SOCKET_STREAM, base: kind === 'listener' ? LISTENER_RIGHTS : SOCKET_RIGHTS,
        inheriting: 0n, flags: 0, handle: i, pos: 0, pre: -1, path: '', preopen: undefined, listing: undefined,
      })
    })
  }

  /** The module's memory (its exported `memory`), set once it is instantiated. */
  bind(memory: WasmMemory): void {
    this.memory = memory
    this.cachedBuf = undefined
  }

  /** The import object's `wasi_snapshot_preview1` namespace. */
  imports(): Record<string, (...args: never[]) => number> {
    const out: Record<string, (...args: never[]) => number> = {}
    for (const name of WASI_FUNCTIONS) {
      const fn = (this as unknown as Record<string, (...a: unknown[]) => number>)[name]!
      // Fixed arity (no rest array, no closure per call): the hot path of every system call.
      out[name] = ((a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown, g: unknown, h: unknown, i: unknown) => {
        let r: number
        try {
          r = fn.call(this, a, b, c, d, e, f, g, h, i)
        } catch (x) {
          r = this.caught(x)
        }
        const mem = this.memory
        if (mem !== undefined && this.buf().byteLength > this.memoryLimit) this.overLimit(mem)
        return r
      }) as (...args: never[]) => number
    }
    return out
  }

  /** Open descriptors right now. */
  get openFds(): number {
    return this.fds.size
  }

  // ---- plumbing ---------------------------------------------------------------------------

  private caught(e: unknown): number {
    if (e instanceof Fail) return e.errno
    if (e instanceof Fault) return Errno.FAULT
    if (e instanceof WasiExit || e instanceof WasiRaise || e instanceof WasiLimitExceeded) throw e
    if (e instanceof RangeError || e instanceof TypeError) return Errno.INVAL
    return Errno.IO
  }

  private overLimit(mem: WasmMemory): never {
    throw new WasiLimitExceeded('memory', `memory is ${mem.buffer.byteLength / 65536} pages, the limit is ${this.config.maxMemoryPages}`)
  }

  /**
   * The memory's current buffer. Reading `memory.buffer` costs more than a small system call's
   * own work, so it is kept: a grow detaches the old buffer (byteLength 0), which is when it is
   * read again; a shared memory's buffer is never detached, so it is always read.
   */
  private buf(): ArrayBuffer {
    const b = this.cachedBuf
    if (b !== undefined && b.byteLength !== 0 && !this.sharedMemory) return b
    if (!this.memory) throw FAULT
    const now = this.memory.buffer as ArrayBuffer
    this.sharedMemory = typeof SharedArrayBuffer !== 'undefined' && (now as unknown) instanceof SharedArrayBuffer
    this.cachedBuf = now
    return now
  }

  private view(): DataView {
    const buf = this.buf()
    // One DataView per memory buffer (a grow replaces the buffer).
    if (this.dv === undefined || this.dv.buffer !== buf) this.dv = new DataView(buf)
    return this.dv
  }

  private bytes(ptr: number, len: number): Uint8Array {
    const p = ptr >>> 0
    const l = len >>> 0
    const buf = this.buf()
    if (p + l > buf.byteLength) throw FAULT
    return new Uint8Array(buf, p, l)
  }

  private check(ptr: number, len: number): number {
    const p = ptr >>> 0
    if (p + (len >>> 0) > this.buf().byteLength) throw FAULT
    return p
  }

  private u32(ptr: number, v: number): void {
    const p = this.check(ptr, 4)
    this.view().setUint32(p, v >>> 0, true)
  }

  private u64(ptr: number, v: bigint): void {
    const p = this.check(ptr, 8)
    this.view().setBigUint64(p, BigInt.asUintN(64, v), true)
  }

  private str(ptr: number, len: number): string {
    if (len >>> 0 > MAX_PATH) fail(Errno.NAMETOOLONG)
    const b = this.bytes(ptr, len)
    try {
      return dec.decode(b.slice())
    } catch {
      return fail(Errno.ILSEQ)
    }
  }

  /** iovec array → list of [ptr, len] (all checked). */
  private iovs(iovsPtr: number, count: number): [number, number][] {
    const n = count >>> 0
    // The array itself must lie in memory; a huge count fails here without any allocation.
    if ((iovsPtr >>> 0) + n * SIZE.iovec > this.buf().byteLength) throw FAULT
    const dv = this.view()
    const out: [number, number][] = []
    for (let i = 0; i < n; i++) {
      const p = dv.getUint32((iovsPtr >>> 0) + i * 8, true)
      const l = dv.getUint32((iovsPtr >>> 0) + i * 8 + 4, true)
      this.check(p, l)
      out.push([p, l])
    }
    return out
  }

  /** Waits for the outstanding prefetch, if any, and keeps its bytes (the shared buffer is needed again). */
  private settle(): void {
    const pf = this.prefetch
    if (pf === undefined) return
    this.prefetch = undefined
    const a = this.bridge.end!()
    if (!('bytes' in a)) return
    this.pfBuf ??= new Uint8Array(this.config.chunk)
    this.pfBuf.set(a.bytes)
    this.prefetched = { handle: pf.handle, pos: pf.pos, bytes: this.pfBuf.subarray(0, a.bytes.length), eof: a.bytes.length < pf.len, mutations: pf.mutations, at: performance.now() }
  }

  /** Sends a prefetch of the chunk after the read-ahead buffer (sequential reads, not at end of file). */
  private prefetchNext(): void {
    const ra = this.readAhead
    if (ra === undefined || ra.eof || this.bridge.begin === undefined || this.prefetch !== undefined) return
    const pos = ra.pos + ra.bytes.length
    const len = this.config.chunk
    this.calls++
    this.prefetch = { handle: ra.handle, pos, len, mutations: this.mutations }
    this.bridge.begin({ op: 'read', handle: ra.handle, pos, len })
  }

  /** Makes the prefetched chunk at `at` the read-ahead buffer, if it is that one and still valid. */
  private promote(f: Fd, at: number): boolean {
    if (this.prefetch !== undefined && this.prefetch.handle === f.handle && this.prefetch.pos === at) this.settle()
    const pf = this.prefetched
    if (pf === undefined || pf.handle !== f.handle || pf.pos !== at) return false
    this.prefetched = undefined
    if (pf.mutations !== this.mutations || performance.now() - pf.at > this.cacheMs) return false
    // Swap the buffers: the old read-ahead buffer receives the next prefetch.
    const old = this.raBuf
    this.raBuf = this.pfBuf
    this.pfBuf = old
    this.readAhead = pf
    this.prefetchNext()
    return true
  }

  private call(req: Request): BridgeAnswer {
    this.settle()
    if (req.op !== 'fstat') this.calls++
    if (!READ_ONLY_OPS.has(req.op)) this.mutations++
    const a = this.bridge.call(req)
    if ('errno' in a && a.errno !== 0) fail(a.errno)
    return a
  }

  private json<T>(req: Request): T {
    const a = this.call(req)
    return ('json' in a ? a.json : undefined) as T
  }

  private data(req: Request): Uint8Array {
    const a = this.call(req)
    return 'bytes' in a ? a.bytes : new Uint8Array(0)
  }

  private fd(fd: number): Fd {
    return this.fds.get(fd >>> 0) ?? fail(Errno.BADF)
  }

  private need(f: Fd, right: bigint): void {
    if ((f.base & right) !== right) fail(Errno.NOTCAPABLE)
  }

  /** A directory descriptor holding `right`. */
  private dir(fd: number, right: bigint): Fd {
    const f = this.fd(fd)
    if (f.kind !== 'dir') fail(Errno.NOTDIR)
    this.need(f, right)
    return f
  }

  /** A regular-file descriptor holding `right` (ESPIPE for stdio, EBADF for a directory). */
  private file(fd: number, right: bigint, stdio: number = Errno.SPIPE): Fd {
    const f = this.fd(fd)
    if (f.kind === 'dir') fail(Errno.BADF)
    // stdio is not seekable (ESPIPE, as lseek/pread on a terminal), whatever its rights.
    if (f.kind !== 'file') fail(stdio)
    this.need(f, right)
    return f
  }

  private at(f: Fd): At {
    return { pre: f.pre, base: f.path }
  }

  private allocFd(): number {
    if (this.fds.size >= this.config.maxOpenFds) {
      throw new WasiLimitExceeded('fds', `more than ${this.config.maxOpenFds} open descriptors`)
    }
    let n = 0
    while (this.fds.has(n)) n++
    return n
  }

  private writeFilestat(ptr: number, s: WireStat): void {
    const p = this.check(ptr, SIZE.filestat)
    // A cached stat is answered again and again: encode it once.
    const done = this.encodedStat.get(s)
    if (done !== undefined) {
      this.bytes(p, SIZE.filestat).set(done)
      return
    }
    const dv = this.view()
    this.bytes(p, SIZE.filestat).fill(0)
    dv.setBigUint64(p, BigInt(s.dev), true)
    dv.setBigUint64(p + 8, BigInt.asUintN(64, BigInt(s.ino)), true)
    dv.setUint8(p + 16, s.filetype)
    dv.setBigUint64(p + 24, BigInt(s.nlink), true)
    dv.setBigUint64(p + 32, BigInt(s.size), true)
    dv.setBigUint64(p + 40, BigInt.asUintN(64, BigInt(s.atim)), true)
    dv.setBigUint64(p + 48, BigInt.asUintN(64, BigInt(s.mtim)), true)
    dv.setBigUint64(p + 56, BigInt.asUintN(64, BigInt(s.ctim)), true)
    if (this.cacheMs > 0) this.encodedStat.set(s, this.bytes(p, SIZE.filestat).slice())
  }

  private fstat(f: Fd): WireStat {
    if (f.kind === 'file') {
      // Answered here while nothing else of this process happened since and it is fresh.
      if (f.stat !== undefined && f.statCalls === this.calls && performance.now() - f.statAt! <= this.cacheMs) return f.stat
      const s = this.json<WireStat>({ op: 'fstat', handle: f.handle })
      if (this.cacheMs > 0) {
        f.stat = s
        f.statCalls = this.calls
        f.statAt = performance.now()
      }
      return s
    }
    if (f.kind === 'dir') {
      try {
        const s = this.json<WireStat>({ op: 'dstat', pre: f.pre, path: f.path })
        f.stat = s // what it was while it still had its name
        return s
      } catch (e) {
        // POSIX fstat: a directory removed while open is still what the descriptor describes, with
        // no links left (the FS behind is path-based, so its name no longer reaches it).
        if (e instanceof Fail && e.errno === Errno.NOENT) return { ...(f.stat ?? { filetype: Filetype.DIRECTORY, dev: '0', ino: '0', size: 0, atim: '0', mtim: '0', ctim: '0' }), nlink: 0 }
        throw e
      }
    }
    return { filetype: f.filetype, dev: '0', ino: '0', nlink: 1, size: 0, atim: '0', mtim: '0', ctim: '0' }
  }

  private times(atim: bigint, mtim: bigint, fst: number): { atim?: WireTime; mtim?: WireTime } {
    const known = Fstflags.ATIM | Fstflags.ATIM_NOW | Fstflags.MTIM | Fstflags.MTIM_NOW
    if ((fst & ~known) !== 0) fail(Errno.INVAL)
    if ((fst & Fstflags.ATIM) !== 0 && (fst & Fstflags.ATIM_NOW) !== 0) fail(Errno.INVAL)
    if ((fst & Fstflags.MTIM) !== 0 && (fst & Fstflags.MTIM_NOW) !== 0) fail(Errno.INVAL)
    const out: { atim?: WireTime; mtim?: WireTime } = {}
    if (fst & Fstflags.ATIM_NOW) out.atim = 'now'
    else if (fst & Fstflags.ATIM) out.atim = BigInt.asUintN(64, atim).toString()
    if (fst & Fstflags.MTIM_NOW) out.mtim = 'now'
    else if (fst & Fstflags.MTIM) out.mtim = BigInt.asUintN(64, mtim).toString()
    return out
  }

  private now(id: number): bigint {
    if (id > Clockid.THREAD_CPUTIME_ID) fail(Errno.INVAL)
    if (this.fakeNow !== undefined) {
      const t = this.fakeNow
      this.fakeNow += this.config.clock!.stepNs
      return t
    }
    switch (id) {
      case Clockid.REALTIME:
        return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n
      case Clockid.MONOTONIC:
      case Clockid.PROCESS_CPUTIME_ID:
      case Clockid.THREAD_CPUTIME_ID:
        return this.config.monotonicNs ? this.config.monotonicNs() : BigInt(Math.round((performance.now() - this.monoStart) * 1e6))
      default:
        return fail(Errno.INVAL)
    }
  }

  private sleepNs(ns: bigint): void {
    if (ns <= 0n) return
    if (this.fakeNow !== undefined) {
      this.fakeNow += ns
      return
    }
    this.bridge.sleep(Number(ns) / 1e6)
  }

  // ---- args, environ, clocks, random --------------------------------------------------------

  private putList(list: Uint8Array[], ptrs: number, buf: number): number {
    const total = list.reduce((s, b) => s + b.length, 0)
    this.check(ptrs, list.length * 4)
    const out = this.bytes(buf, total)
    let off = 0
    list.forEach((b, i) => {
      this.u32(ptrs + i * 4, (buf >>> 0) + off)
      out.set(b, off)
      off += b.length
    })
    return Errno.SUCCESS
  }

  private putSizes(list: Uint8Array[], countPtr: number, sizePtr: number): number {
    this.check(countPtr, 4)
    this.check(sizePtr, 4)
    this.u32(countPtr, list.length)
    this.u32(sizePtr, list.reduce((s, b) => s + b.length, 0))
    return Errno.SUCCESS
  }

  args_get(argv: number, buf: number): number {
    return this.putList(this.argBytes, argv, buf)
  }
  args_sizes_get(count: number, size: number): number {
    return this.putSizes(this.argBytes, count, size)
  }
  environ_get(environ: number, buf: number): number {
    return this.putList(this.envBytes, environ, buf)
  }
  environ_sizes_get(count: number, size: number): number {
    return this.putSizes(this.envBytes, count, size)
  }

  clock_res_get(id: number, out: number): number {
    if (id >>> 0 > Clockid.THREAD_CPUTIME_ID) return Errno.INVAL
    this.u64(out, this.fakeNow !== undefined ? this.config.clock!.stepNs || 1n : 1000n)
    return Errno.SUCCESS
  }

  clock_time_get(id: number, _precision: bigint, out: number): number {
    this.check(out, 8)
    this.u64(out, this.now(id >>> 0))
    return Errno.SUCCESS
  }

  random_get(buf: number, len: number): number {
    const out = this.bytes(buf, len)
    if (this.config.randomSeed !== undefined) {
      for (let i = 0; i < out.length; i++) {
        // xorshift32: deterministic for tests.
        let x = this.rng
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        this.rng = x >>> 0
        out[i] = x & 0xff
      }
      return Errno.SUCCESS
    }
    const tmp = new Uint8Array(Math.min(out.length, 65536))
    for (let off = 0; off < out.length; off += 65536) {
      const n = Math.min(65536, out.length - off)
      const t = n === tmp.length ? tmp : tmp.subarray(0, n)
      crypto.getRandomValues(t)
      out.set(t, off)
    }
    return Errno.SUCCESS
  }

  sched_yield(): number {
    return Errno.SUCCESS
  }

  proc_exit(code: number): number {
    throw new WasiExit(code >>> 0)
  }

  proc_raise(sig: number): number {
    const s = sig >>> 0
    if (s > SIGNAL_MAX) return Errno.INVAL
    if (s === 0 || IGNORED_SIGNALS.has(s)) return Errno.SUCCESS
    throw new WasiRaise(s)
  }

  // ---- descriptors ----------------------------------------------------------------------------

  fd_advise(fd: number, _offset: bigint, _len: bigint, advice: number): number {
    const f = this.file(fd, Rights.FD_ADVISE)
    if (advice >>> 0 > ADVICE_MAX) return Errno.INVAL
    void f
    return Errno.SUCCESS
  }

  fd_allocate(fd: number, offset: bigint, len: bigint): number {
    const f = this.file(fd, Rights.FD_ALLOCATE)
    const o = BigInt.asUintN(64, offset)
    const l = BigInt.asUintN(64, len)
    if (l === 0n) return Errno.INVAL
    const end = o + l
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) return Errno.FBIG
    this.call({ op: 'allocate', handle: f.handle, end: Number(end) })
    return Errno.SUCCESS
  }

  fd_close(fd: number): number {
    const f = this.fd(fd)
    if (f.kind === 'socket' || f.kind === 'listener') {
      this.fds.delete(fd >>> 0)
      this.call({ op: 'sockclose', sock: f.handle })
      return Errno.SUCCESS
    }
    if (f.kind === 'file') {
      this.fds.delete(fd >>> 0)
      this.call({ op: 'close', handle: f.handle })
      return Errno.SUCCESS
    }
    this.fds.delete(fd >>> 0)
    return Errno.SUCCESS
  }

  private syncFd(fd: number, right: bigint): number {
    const f = this.fd(fd)
    this.need(f, right)
    if (f.kind === 'file') this.call({ op: 'fsync', handle: f.handle })
    else if (f.kind === 'dir') this.call({ op: 'syncfs', pre: f.pre })
    return Errno.SUCCESS
  }
  fd_datasync(fd: number): number {
    return this.syncFd(fd, Rights.FD_DATASYNC)
  }
  fd_sync(fd: number): number {
    return this.syncFd(fd, Rights.FD_SYNC)
  }

  fd_fdstat_get(fd: number, out: number): number {
    const f = this.fd(fd)
    const p = this.check(out, SIZE.fdstat)
    this.bytes(p, SIZE.fdstat).fill(0)
    const dv = this.view()
    dv.setUint8(p, f.filetype)
    dv.setUint16(p + 2, f.flags, true)
    dv.setBigUint64(p + 8, f.base, true)
    dv.setBigUint64(p + 16, f.inheriting, true)
    return Errno.SUCCESS
  }

  fd_fdstat_set_flags(fd: number, flags: number): number {
    const f = this.fd(fd)
    this.need(f, Rights.FD_FDSTAT_SET_FLAGS)
    const all = Fdflags.APPEND | Fdflags.DSYNC | Fdflags.NONBLOCK | Fdflags.RSYNC | Fdflags.SYNC
    if ((flags & 0xffff & ~all) !== 0) return Errno.INVAL
    f.flags = flags & all
    return Errno.SUCCESS
  }

  fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): number {
    const f = this.fd(fd)
    const b = BigInt.asUintN(64, base)
    const i = BigInt.asUintN(64, inheriting)
    // Rights can only shrink.
    if ((b & ~f.base) !== 0n || (i & ~f.inheriting) !== 0n) return Errno.NOTCAPABLE
    f.base = b
    f.inheriting = i
    return Errno.SUCCESS
  }

  fd_filestat_get(fd: number, out: number): number {
    const f = this.fd(fd)
    this.need(f, Rights.FD_FILESTAT_GET)
    this.check(out, SIZE.filestat)
    this.writeFilestat(out, this.fstat(f))
    return Errno.SUCCESS
  }

  fd_filestat_set_size(fd: number, size: bigint): number {
    const f = this.file(fd, Rights.FD_FILESTAT_SET_SIZE, Errno.INVAL)
    const s = BigInt.asUintN(64, size)
    if (s > BigInt(Number.MAX_SAFE_INTEGER)) return Errno.FBIG
    this.call({ op: 'truncate', handle: f.handle, size: Number(s) })
    return Errno.SUCCESS
  }

  fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, fst: number): number {
    const f = this.fd(fd)
    this.need(f, Rights.FD_FILESTAT_SET_TIMES)
    const t = this.times(atim, mtim, fst & 0xffff)
    if (f.kind === 'file') this.call({ op: 'fsettimes', handle: f.handle, ...t })
    else if (f.kind === 'dir') this.call({ op: 'settimes', at: this.at(f), path: '.', follow: true, ...t })
    return Errno.SUCCESS
  }

  /** Bytes at `at` from the read-ahead buffer (at most `want`), if it holds any and is valid. */
  private cachedRead(f: Fd, at: number, want: number): { got: Uint8Array; eof: boolean } | undefined {
    const ra = this.readAhead
    if (ra === undefined || ra.handle !== f.handle || ra.mutations !== this.mutations) return undefined
    const end = ra.pos + ra.bytes.length
    if (at < ra.pos || at > end || (at === end && !ra.eof)) return undefined
    if (performance.now() - ra.at > this.cacheMs) return undefined
    const got = ra.bytes.subarray(at - ra.pos, Math.min(end, at + want) - ra.pos)
    return { got, eof: got.length < want && ra.eof }
  }

  /**
   * Reads up to `total` bytes at `pos` through the bridge, in chunks; short at end of file. A
   * read that starts where the last one of this descriptor ended fetches a whole chunk ahead.
   */
  private readAt(f: Fd, pos: number, iovs: [number, number][]): number {
    if (f.direct !== undefined && this.config.direct !== undefined) return this.readDirect(f.direct, this.config.direct, pos, iovs)
    let done = 0
    for (const [p, l] of iovs) {
      let off = 0
      while (off < l && done < this.config.maxIo) {
        const want = Math.min(l - off, this.config.chunk, this.config.maxIo - done)
        const at = pos + done
        let got: Uint8Array
        let eof: boolean
        let hit = this.cacheMs > 0 ? this.cachedRead(f, at, want) : undefined
        if (hit === undefined && this.cacheMs > 0 && this.promote(f, at)) hit = this.cachedRead(f, at, want)
        if (hit !== undefined) {
          got = hit.got
          // Short from the buffer but not at its end of file: the loop fetches the rest.
          eof = hit.eof
        } else {
          const ahead = this.cacheMs > 0 && f.lastEnd === at ? Math.max(want, this.config.chunk) : want
          const bytes = this.data({ op: 'read', handle: f.handle, pos: at, len: ahead })
          if (ahead > want) {
            // The answer is a view of the shared buffer: keep a copy.
            this.raBuf ??= new Uint8Array(this.config.chunk)
            this.raBuf.set(bytes)
            this.readAhead = { handle: f.handle, pos: at, bytes: this.raBuf.subarray(0, bytes.length), eof: bytes.length < ahead, mutations: this.mutations, at: performance.now() }
            got = this.raBuf.subarray(0, Math.min(want, bytes.length))
            this.prefetchNext()
          } else got = bytes
          eof = got.length < want
        }
        // The memory may have grown (and moved) while we waited: take a fresh view.
        this.bytes(p + off, got.length).set(got)
        off += got.length
        done += got.length
        f.lastEnd = at + got.length
        if (eof) return done
      }
    }
    return done
  }

  /**
   * Before the module's thread touches a file itself: earlier writes still in write-behind go to
   * the FS first, so that every access sees them (the file may be another name of the same one).
   */
  private beforeDirect(): void {
    this.settle()
    if (this.bridge.pendingWrites?.() === true) this.call({ op: 'flush' })
  }

  /** `readAt` on a host descriptor: the kernel copies straight into the module's memory. */
  private readDirect(fd: number, io: DirectFileIo, pos: number, iovs: [number, number][]): number {
    this.beforeDirect()
    let done = 0
    for (const [p, l] of iovs) {
      let off = 0
      while (off < l && done < this.config.maxIo) {
        const want = Math.min(l - off, this.config.maxIo - done)
        let n: number
        try {
          n = io.read(fd, this.bytes(p + off, want), pos + done)
        } catch (e) {
          // Bytes already read are a short read; an error with none is the call's errno (POSIX).
          if (done > 0) return done
          return fail(errnoOfHostCode(e))
        }
        if (n === 0) return done
        off += n
        done += n
      }
    }
    return done
  }

  /** A write on a host descriptor, from the module's memory; short only if the host's was. */
  private writeDirect(fd: number, io: DirectFileIo, data: Uint8Array, pos: number): number {
    this.beforeDirect()
    // The file changes: a cached stat or read-ahead of this process is stale.
    this.calls++
    this.mutations++
    let done = 0
    while (done < data.length) {
      let n: number
      try {
        n = io.write(fd, data.subarray(done), pos + done)
      } catch (e) {
        if (done > 0) return done
        return fail(errnoOfHostCode(e))
      }
      if (n === 0) break
      done += n
    }
    return done
  }

  /** Copies `bytes` into `iovs` in order (as many as fit). */
  private scatter(iovs: [number, number][], bytes: Uint8Array): void {
    let off = 0
    for (const [p, l] of iovs) {
      if (off >= bytes.length) break
      const n = Math.min(l, bytes.length - off)
      this.bytes(p, n).set(bytes.subarray(off, off + n))
      off += n
    }
  }

  /** The bytes of `iovs` (at most maxIo): one iovec is a view of the memory (copied before it crosses), more are gathered. */
  private gather(iovs: [number, number][]): Uint8Array {
    let total = 0
    for (const [, l] of iovs) total += l
    total = Math.min(total, this.config.maxIo)
    if (iovs.length === 1) return this.bytes(iovs[0]![0], total)
    const out = new Uint8Array(total)
    let off = 0
    for (const [p, l] of iovs) {
      if (off >= total) break
      const n = Math.min(l, total - off)
      out.set(this.bytes(p, n), off)
      off += n
    }
    return out
  }

  fd_read(fd: number, iovsPtr: number, count: number, nread: number): number {
    const f = this.fd(fd)
    if (f.kind === 'dir') return Errno.BADF
    this.need(f, Rights.FD_READ)
    this.check(nread, 4)
    const iovs = this.iovs(iovsPtr, count)
    if (f.kind === 'stdin') {
      let want = 0
      for (const [, l] of iovs) want += l
      want = Math.min(want, this.config.maxIo, this.config.chunk)
      const got = this.config.stdin && want > 0 ? this.data({ op: 'stdin', max: want }) : new Uint8Array(0)
      this.scatter(iovs, got)
      this.u32(nread, got.length)
      return Errno.SUCCESS
    }
    if (f.kind === 'socket') {
      this.u32(nread, this.recv(f, iovs, 0))
      return Errno.SUCCESS
    }
    if (f.kind !== 'file') return Errno.BADF
    const n = this.readAt(f, f.pos, iovs)
    f.pos += n
    this.u32(nread, n)
    return Errno.SUCCESS
  }

  fd_pread(fd: number, iovsPtr: number, count: number, offset: bigint, nread: number): number {
    const f = this.file(fd, Rights.FD_READ | Rights.FD_SEEK)
    this.check(nread, 4)
    const iovs = this.iovs(iovsPtr, count)
    const o = BigInt.asUintN(64, offset)
    if (o > BigInt(Number.MAX_SAFE_INTEGER)) return Errno.INVAL
    this.u32(nread, this.readAt(f, Number(o), iovs))
    return Errno.SUCCESS
  }

  private writeOut(f: Fd, data: Uint8Array, pos: number | undefined): number {
    if (f.kind === 'stdout' || f.kind === 'stderr') {
      if (this.config.console && data.length > 0) this.bridge.output(f.kind === 'stdout' ? 1 : 2, data)
      return data.length
    }
    if (f.kind === 'socket') return this.send(f, data)
    if (f.kind === 'listener') fail(Errno.NOTCONN)
    // Writing nothing changes nothing, not even the size past a seek beyond the end (POSIX).
    if (data.length === 0) return 0
    const append = pos === undefined && (f.flags & Fdflags.APPEND) !== 0
    const sync = (f.flags & (Fdflags.SYNC | Fdflags.DSYNC)) !== 0
    // The module's thread writes a host file itself (not append or sync writes: the FS does those).
    if (!append && !sync && f.direct !== undefined && this.config.direct !== undefined) {
      const at = pos ?? f.pos
      const n = this.writeDirect(f.direct, this.config.direct, data, at)
      if (pos === undefined) f.pos += n
      return n
    }
    // Write-behind (not for append or sync writes, whose answer depends on the FS now).
    if (!append && !sync && this.bridge.writeBehind !== undefined && this.bridge.writeBehind(f.handle, pos ?? f.pos, data)) {
      this.calls++
      this.mutations++
      if (pos === undefined) f.pos += data.length
      return data.length
    }
    // A view of the module's memory never crosses (a message would clone the whole memory).
    const own = this.memory !== undefined && data.buffer === this.buf() ? data.slice() : data
    const [n, end] = this.json<[number, number]>({ op: 'write', handle: f.handle, pos: pos ?? f.pos, append, sync, data: own })
    if (pos === undefined) f.pos = end
    return n
  }

  fd_write(fd: number, iovsPtr: number, count: number, nwritten: number): number {
    const f = this.fd(fd)
    if (f.kind === 'dir') return Errno.BADF
    this.need(f, Rights.FD_WRITE)
    this.check(nwritten, 4)
    const data = this.gather(this.iovs(iovsPtr, count))
    if (f.kind === 'stdin') return Errno.BADF
    this.u32(nwritten, this.writeOut(f, data, undefined))
    return Errno.SUCCESS
  }

  fd_pwrite(fd: number, iovsPtr: number, count: number, offset: bigint, nwritten: number): number {
    const f = this.file(fd, Rights.FD_WRITE | Rights.FD_SEEK)
    this.check(nwritten, 4)
    const data = this.gather(this.iovs(iovsPtr, count))
    const o = BigInt.asUintN(64, offset)
    if (o > BigInt(Number.MAX_SAFE_INTEGER)) return Errno.INVAL
    this.u32(nwritten, this.writeOut(f, data, Number(o)))
    return Errno.SUCCESS
  }

  fd_prestat_get(fd: number, out: number): number {
    const f = this.fd(fd)
    if (f.preopen === undefined) return Errno.BADF
    const p = this.check(out, SIZE.prestat)
    this.bytes(p, SIZE.prestat).fill(0)
    this.view().setUint8(p, PREOPENTYPE_DIR)
    this.u32(p + 4, enc.encode(f.preopen).length)
    return Errno.SUCCESS
  }

  fd_prestat_dir_name(fd: number, ptr: number, len: number): number {
    const f = this.fd(fd)
    if (f.preopen === undefined) return Errno.BADF
    const name = enc.encode(f.preopen)
    if (len >>> 0 < name.length) return Errno.NAMETOOLONG
    this.bytes(ptr, name.length).set(name)
    return Errno.SUCCESS
  }

  fd_readdir(fd: number, buf: number, len: number, cookie: bigint, bufused: number): number {
    const f = this.dir(fd, Rights.FD_READDIR)
    const out = this.bytes(buf, len)
    this.check(bufused, 4)
    const c = BigInt.asUintN(64, cookie)
    if (c === 0n || f.listing === undefined) f.listing = this.json<WireDirent[]>({ op: 'readdir', pre: f.pre, path: f.path })
    const list = f.listing
    let used = 0
    const head = new Uint8Array(SIZE.dirent)
    const hv = new DataView(head.buffer)
    for (let i = c > BigInt(list.length) ? list.length : Number(c); i < list.length && used < out.length; i++) {
      const e = list[i]!
      const name = enc.encode(e.name)
      hv.setBigUint64(0, BigInt(i + 1), true)
      hv.setBigUint64(8, BigInt.asUintN(64, BigInt(e.ino)), true)
      hv.setUint32(16, name.length, true)
      hv.setUint8(20, e.filetype)
      const rec = new Uint8Array(SIZE.dirent + name.length)
      rec.set(head)
      rec.set(name, SIZE.dirent)
      // A record that does not fit is cut: bufused == buf_len tells the caller to retry bigger.
      const n = Math.min(rec.length, out.length - used)
      this.bytes(buf + used, n).set(rec.subarray(0, n))
      used += n
    }
    this.u32(bufused, used)
    return Errno.SUCCESS
  }

  fd_renumber(from: number, to: number): number {
    const a = this.fd(from)
    const b = this.fd(to)
    if (from >>> 0 === to >>> 0) return Errno.SUCCESS
    if (b.kind === 'file') this.call({ op: 'close', handle: b.handle })
    else if (b.kind === 'socket' || b.kind === 'listener') this.call({ op: 'sockclose', sock: b.handle })
    this.fds.set(to >>> 0, a)
    this.fds.delete(from >>> 0)
    return Errno.SUCCESS
  }

  fd_seek(fd: number, offset: bigint, whence: number, out: number): number {
    const f = this.fd(fd)
    if (f.kind === 'dir') return Errno.BADF
    if (f.kind !== 'file') return Errno.SPIPE
    const tellOnly = offset === 0n && whence === Whence.CUR
    this.need(f, tellOnly ? Rights.FD_TELL : Rights.FD_SEEK)
    this.check(out, 8)
    let base: number
    switch (whence) {
      case Whence.SET:
        base = 0
        break
      case Whence.CUR:
        base = f.pos
        break
      case Whence.END:
        base = this.fstat(f).size
        break
      default:
        return Errno.INVAL
    }
    const next = BigInt(base) + BigInt.asIntN(64, offset)
    if (next < 0n) return Errno.INVAL
    if (next > BigInt(Number.MAX_SAFE_INTEGER)) return Errno.OVERFLOW
    f.pos = Number(next)
    this.u64(out, next)
    return Errno.SUCCESS
  }

  fd_tell(fd: number, out: number): number {
    const f = this.fd(fd)
    if (f.kind === 'dir') return Errno.BADF
    if (f.kind !== 'file') return Errno.SPIPE
    this.need(f, Rights.FD_TELL)
    this.u64(out, BigInt(f.pos))
    return Errno.SUCCESS
  }

  // ---- paths ----------------------------------------------------------------------------------

  path_create_directory(fd: number, ptr: number, len: number): number {
    const d = this.dir(fd, Rights.PATH_CREATE_DIRECTORY)
    this.call({ op: 'mkdir', at: this.at(d), path: this.str(ptr, len) })
    return Errno.SUCCESS
  }

  path_filestat_get(fd: number, flags: number, ptr: number, len: number, out: number): number {
    const d = this.dir(fd, Rights.PATH_FILESTAT_GET)
    const path = this.str(ptr, len)
    this.check(out, SIZE.filestat)
    const s = this.json<WireStat>({ op: 'stat', at: this.at(d), path, follow: (flags & LOOKUP_SYMLINK_FOLLOW) !== 0 })
    this.writeFilestat(out, s)
    return Errno.SUCCESS
  }

  path_filestat_set_times(fd: number, flags: number, ptr: number, len: number, atim: bigint, mtim: bigint, fst: number): number {
    const d = this.dir(fd, Rights.PATH_FILESTAT_SET_TIMES)
    const path = this.str(ptr, len)
    const t = this.times(atim, mtim, fst & 0xffff)
    this.call({ op: 'settimes', at: this.at(d), path, follow: (flags & LOOKUP_SYMLINK_FOLLOW) !== 0, ...t })
    return Errno.SUCCESS
  }

  path_link(oldFd: number, oldFlags: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
    const a = this.dir(oldFd, Rights.PATH_LINK_SOURCE)
    const b = this.dir(newFd, Rights.PATH_LINK_TARGET)
    const from = this.str(oldPtr, oldLen)
    const to = this.str(newPtr, newLen)
    this.call({ op: 'link', at: this.at(a), path: from, follow: (oldFlags & LOOKUP_SYMLINK_FOLLOW) !== 0, at2: this.at(b), path2: to })
    return Errno.SUCCESS
  }

  path_open(fd: number, dirflags: number, ptr: number, len: number, oflags: number, base: bigint, inheriting: bigint, fdflags: number, out: number): number {
    const d = this.dir(fd, Rights.PATH_OPEN)
    const path = this.str(ptr, len)
    this.check(out, 4)
    const of = oflags & 0xffff
    if ((of & ~(Oflags.CREAT | Oflags.DIRECTORY | Oflags.EXCL | Oflags.TRUNC)) !== 0) return Errno.INVAL
    const ff = fdflags & 0xffff
    if ((ff & ~(Fdflags.APPEND | Fdflags.DSYNC | Fdflags.NONBLOCK | Fdflags.RSYNC | Fdflags.SYNC)) !== 0) return Errno.INVAL
    if (of & Oflags.CREAT) this.need(d, Rights.PATH_CREATE_FILE)
    if (of & Oflags.TRUNC) this.need(d, Rights.PATH_FILESTAT_SET_SIZE)
    const wantBase = BigInt.asUintN(64, base) & ALL_RIGHTS
    const wantInh = BigInt.asUintN(64, inheriting) & ALL_RIGHTS
    // A descriptor opened through a directory can hold only what that directory passes on.
    if ((wantBase & ~d.inheriting) !== 0n) return Errno.NOTCAPABLE
    const write = (wantBase & (Rights.FD_WRITE | Rights.FD_ALLOCATE | Rights.FD_FILESTAT_SET_SIZE)) !== 0n
    const read = (wantBase & (Rights.FD_READ | Rights.FD_READDIR)) !== 0n
    const slot = this.allocFd()
    const r = this.json<OpenResult>({
      op: 'open', at: this.at(d), path, follow: (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0, oflags: of, read, write: (wantBase & Rights.FD_WRITE) !== 0n || write, wantDir: (of & Oflags.DIRECTORY) !== 0,
    })
    const entry: Fd =
      r.kind === 'file'
        ? { kind: 'file', filetype: Filetype.REGULAR_FILE, base: wantBase & FILE_RIGHTS, inheriting: wantInh & d.inheriting, flags: ff, handle: r.handle, pos: 0, pre: d.pre, path: '', preopen: undefined, listing: undefined, lastEnd: 0, direct: r.direct }
        : { kind: 'dir', filetype: Filetype.DIRECTORY, base: wantBase & DIR_RIGHTS, inheriting: wantInh & d.inheriting, flags: ff, handle: 0, pos: 0, pre: d.pre, path: r.path, preopen: undefined, listing: undefined }
    this.fds.set(slot, entry)
    this.u32(out, slot)
    return Errno.SUCCESS
  }

  path_readlink(fd: number, ptr: number, len: number, buf: number, bufLen: number, bufused: number): number {
    const d = this.dir(fd, Rights.PATH_READLINK)
    const path = this.str(ptr, len)
    const out = this.bytes(buf, bufLen)
    this.check(bufused, 4)
    const target = this.data({ op: 'readlink', at: this.at(d), path })
    // As readlink(2): the target is cut to the buffer, without a NUL.
    const n = Math.min(target.length, out.length)
    this.bytes(buf, n).set(target.subarray(0, n))
    this.u32(bufused, n)
    return Errno.SUCCESS
  }

  path_remove_directory(fd: number, ptr: number, len: number): number {
    const d = this.dir(fd, Rights.PATH_REMOVE_DIRECTORY)
    this.call({ op: 'rmdir', at: this.at(d), path: this.str(ptr, len) })
    return Errno.SUCCESS
  }

  path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
    const a = this.dir(fd, Rights.PATH_RENAME_SOURCE)
    const b = this.dir(newFd, Rights.PATH_RENAME_TARGET)
    const from = this.str(oldPtr, oldLen)
    const to = this.str(newPtr, newLen)
    this.call({ op: 'rename', at: this.at(a), path: from, at2: this.at(b), path2: to })
    return Errno.SUCCESS
  }

  path_symlink(oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number): number {
    const target = this.str(oldPtr, oldLen)
    const d = this.dir(fd, Rights.PATH_SYMLINK)
    const path = this.str(newPtr, newLen)
    this.call({ op: 'symlink', target, at: this.at(d), path })
    return Errno.SUCCESS
  }

  path_unlink_file(fd: number, ptr: number, len: number): number {
    const d = this.dir(fd, Rights.PATH_UNLINK_FILE)
    this.call({ op: 'unlink', at: this.at(d), path: this.str(ptr, len) })
    return Errno.SUCCESS
  }

  // ---- poll -----------------------------------------------------------------------------------

  poll_oneoff(inPtr: number, outPtr: number, nsubs: number, neventsPtr: number): number {
    const n = nsubs >>> 0
    if (n === 0) return Errno.INVAL
    const inBase = this.check(inPtr, 0)
    const outBase = this.check(outPtr, 0)
    const size = this.buf().byteLength
    if (inBase + n * SIZE.subscription > size || outBase + n * SIZE.event > size) throw FAULT
    this.check(neventsPtr, 4)
    const dv = this.view()
    interface Ev {
      userdata: bigint
      type: number
      error: number
      nbytes: bigint
      flags: number
    }
    const ready: Ev[] = []
    const clocks: { userdata: bigint; deadline: bigint; id: number }[] = []
    const stdinSubs: bigint[] = []
    /** FD_READ subscriptions on sockets and listeners: [userdata, socket id]. */
    const sockSubs: [bigint, number][] = []
    const start = this.fakeNow !== undefined ? this.fakeNow : this.now(Clockid.MONOTONIC)
    for (let i = 0; i < n; i++) {
      const s = inBase + i * SIZE.subscription
      const userdata = dv.getBigUint64(s, true)
      const tag = dv.getUint8(s + 8)
      if (tag === Eventtype.CLOCK) {
        const id = dv.getUint32(s + 16, true)
        const timeout = dv.getBigUint64(s + 24, true)
        const flags = dv.getUint16(s + 40, true)
        if (id > Clockid.THREAD_CPUTIME_ID) {
          ready.push({ userdata, type: tag, error: Errno.INVAL, nbytes: 0n, flags: 0 })
          continue
        }
        let rel = timeout
        if (flags & SUBCLOCK_ABSTIME) {
          const now = this.fakeNow !== undefined ? this.fakeNow : this.now(id)
          rel = timeout > now ? timeout - now : 0n
        }
        clocks.push({ userdata, deadline: rel, id })
      } else if (tag === Eventtype.FD_READ || tag === Eventtype.FD_WRITE) {
        const fdn = dv.getUint32(s + 16, true)
        const f = this.fds.get(fdn)
        const ev: Ev = { userdata, type: tag, error: 0, nbytes: 0n, flags: 0 }
        if (!f) ev.error = Errno.BADF
        else if ((f.base & Rights.POLL_FD_READWRITE) === 0n) ev.error = Errno.NOTCAPABLE
        else if (f.kind === 'dir') ev.error = Errno.BADF
        else if (tag === Eventtype.FD_READ && (f.kind === 'socket' || f.kind === 'listener')) {
          sockSubs.push([userdata, f.handle])
          continue
        } else if (f.kind === 'listener') ev.error = Errno.NOTCONN
        else if (tag === Eventtype.FD_READ && f.kind === 'stdin') {
          if (this.config.stdin) {
            stdinSubs.push(userdata)
            continue
          }
          ev.flags = EVENTRW_HANGUP
        } else if (tag === Eventtype.FD_READ && f.kind === 'file') {
          try {
            const size = this.fstat(f).size
            ev.nbytes = BigInt(Math.max(0, size - f.pos))
          } catch (e) {
            if (!(e instanceof Fail)) throw e
            ev.error = e.errno
          }
        } else if (tag === Eventtype.FD_READ) ev.error = Errno.BADF
        else if (f.kind === 'stdin') ev.error = Errno.BADF
        ready.push(ev)
      } else {
        return Errno.INVAL
      }
    }
    const minClock = clocks.reduce<bigint | undefined>((m, c) => (m === undefined || c.deadline < m ? c.deadline : m), undefined)
    if (sockSubs.length > 0) {
      // Sockets are waited for on the main side, at most until the first clock fires (not at
      // all when something is ready already, or on the deterministic clock, which then advances).
      const wait = ready.length > 0 || this.fakeNow !== undefined ? 0 : minClock === undefined ? -1 : Number(minClock) / 1e6
      const ids = new Set(this.json<number[]>({ op: 'sockpoll', read: [...new Set(sockSubs.map(([, id]) => id))], timeoutMs: wait }))
      for (const [userdata, id] of sockSubs) if (ids.has(id)) ready.push({ userdata, type: Eventtype.FD_READ, error: 0, nbytes: 1n, flags: 0 })
      if (stdinSubs.length > 0 && this.json<boolean>({ op: 'stdinwait', timeoutMs: 0 })) for (const u of stdinSubs) ready.push({ userdata: u, type: Eventtype.FD_READ, error: 0, nbytes: 1n, flags: 0 })
      if (ready.length === 0 && minClock !== undefined && this.fakeNow !== undefined) this.sleepNs(minClock)
    } else if (ready.length === 0 && stdinSubs.length > 0) {
      // Wait on the main side for input, at most until the first clock fires.
      const timeoutMs = minClock === undefined ? -1 : Number(minClock) / 1e6
      const ok = this.fakeNow !== undefined && minClock !== undefined ? false : this.json<boolean>({ op: 'stdinwait', timeoutMs })
      if (ok) for (const u of stdinSubs) ready.push({ userdata: u, type: Eventtype.FD_READ, error: 0, nbytes: 1n, flags: 0 })
      else if (minClock !== undefined) this.sleepNs(this.fakeNow !== undefined ? minClock : 0n)
    } else if (ready.length === 0 && minClock !== undefined) {
      this.sleepNs(minClock)
    }
    if (ready.length === 0 || clocks.some((c) => c.deadline === 0n)) {
      const elapsed = (this.fakeNow !== undefined ? this.fakeNow : this.now(Clockid.MONOTONIC)) - start
      for (const c of clocks) {
        if (c.deadline <= elapsed || (ready.length === 0 && c.deadline === minClock)) {
          ready.push({ userdata: c.userdata, type: Eventtype.CLOCK, error: 0, nbytes: 0n, flags: 0 })
        }
      }
    }
    const mem = this.view()
    ready.forEach((e, i) => {
      const o = outBase + i * SIZE.event
      new Uint8Array(mem.buffer, o, SIZE.event).fill(0)
      mem.setBigUint64(o, e.userdata, true)
      mem.setUint16(o + 8, e.error, true)
      mem.setUint8(o + 10, e.type)
      mem.setBigUint64(o + 16, e.nbytes > U64_MAX ? U64_MAX : e.nbytes, true)
      mem.setUint16(o + 24, e.flags, true)
    })
    this.u32(neventsPtr, ready.length)
    return Errno.SUCCESS
  }

  // ---- sockets handed in by the host (sockets.ts): accept, recv, send, shutdown ---------------

  /** A connected socket holding `right` (ENOTSOCK for anything that is no socket). */
  private stream(fd: number, right: bigint): Fd {
    const f = this.fd(fd)
    if (f.kind === 'listener') fail(Errno.NOTCONN)
    if (f.kind !== 'socket') fail(Errno.NOTSOCK)
    this.need(f, right)
    return f
  }

  /** Receives into `iovs` (at most maxIo and one answer); 0 at the end of the stream. */
  private recv(f: Fd, iovs: [number, number][], riflags: number): number {
    let total = 0
    for (const [, l] of iovs) total += l
    const max = Math.min(total, this.config.maxIo, this.config.chunk)
    if (max === 0) return 0
    const got = this.data({ op: 'sockrecv', sock: f.handle, max, peek: (riflags & RECV_PEEK) !== 0, waitAll: (riflags & RECV_WAITALL) !== 0, wait: (f.flags & Fdflags.NONBLOCK) === 0 })
    this.scatter(iovs, got)
    return got.length
  }

  private send(f: Fd, data: Uint8Array): number {
    if (data.length === 0) return 0
    // A view of the module's memory never crosses (a message would clone the whole memory).
    const own = this.memory !== undefined && data.buffer === this.buf() ? data.slice() : data
    return this.json<number>({ op: 'socksend', sock: f.handle, data: own })
  }

  sock_accept(fd: number, flags: number, out: number): number {
    const f = this.fd(fd)
    if (f.kind === 'socket') return Errno.INVAL
    if (f.kind !== 'listener') return Errno.NOTSOCK
    this.need(f, Rights.SOCK_ACCEPT)
    this.check(out, 4)
    // Only NONBLOCK may be asked for the new descriptor.
    if ((flags & 0xffff & ~Fdflags.NONBLOCK) !== 0) return Errno.INVAL
    const slot = this.allocFd()
    const id = this.json<number>({ op: 'sockaccept', sock: f.handle, wait: (f.flags & Fdflags.NONBLOCK) === 0 })
    this.fds.set(slot, { kind: 'socket', filetype: Filetype.SOCKET_STREAM, base: SOCKET_RIGHTS, inheriting: 0n, flags: flags & Fdflags.NONBLOCK, handle: id, pos: 0, pre: -1, path: '', preopen: undefined, listing: undefined })
    this.u32(out, slot)
    return Errno.SUCCESS
  }

  sock_recv(fd: number, riData: number, riLen: number, riflags: number, roDatalen: number, roFlags: number): number {
    const f = this.stream(fd, Rights.FD_READ)
    if ((riflags & 0xffff & ~(RECV_PEEK | RECV_WAITALL)) !== 0) return Errno.INVAL
    this.check(roDatalen, 4)
    this.check(roFlags, 2)
    const n = this.recv(f, this.iovs(riData, riLen), riflags)
    this.u32(roDatalen, n)
    // ro_flags: RECV_DATA_TRUNCATED never happens on a stream.
    this.view().setUint16(roFlags >>> 0, 0, true)
    return Errno.SUCCESS
  }

  sock_send(fd: number, siData: number, siLen: number, _siflags: number, soDatalen: number): number {
    const f = this.stream(fd, Rights.FD_WRITE)
    this.check(soDatalen, 4)
    this.u32(soDatalen, this.send(f, this.gather(this.iovs(siData, siLen))))
    return Errno.SUCCESS
  }

  sock_shutdown(fd: number, how: number): number {
    const f = this.stream(fd, Rights.SOCK_SHUTDOWN)
    // sdflags: RD, WR or both; nothing else.
    if ((how & 0xff) === 0 || (how & 0xff & ~(Sdflags.RD | Sdflags.WR)) !== 0) return Errno.INVAL
    this.call({ op: 'sockshutdown', sock: f.handle, how: how & 0xff })
    return Errno.SUCCESS
  }
}
