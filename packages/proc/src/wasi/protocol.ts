/**
 * The bridge between a module's worker and the main thread. The module's imports are
 * synchronous and the `@honk/vfs` `FS` is asynchronous, so the worker posts a request and
 * blocks in `Atomics.wait` on a SharedArrayBuffer; the main thread serves it with the FS and
 * writes the answer into that buffer, then `Atomics.notify`. Only the worker ever blocks.
 *
 * Shared-buffer layout (Int32 words, then the payload):
 *   [0] state: 0 = waiting, 1 = answered
 *   [1] errno (0 = success)
 *   [2] payload kind: 0 = none, 1 = JSON, 2 = bytes
 *   [3] payload length in this chunk
 *   [4] bytes still to fetch with a `more` request after this chunk
 *   [5] write-behind: bridge handle of the buffered bytes (0 = none)
 *   [6] write-behind: bytes committed in the write-behind region
 *   [7] write-behind lock: 0 = free, 1 = the worker appends, 2 = the main side takes the batch
 *   bytes 32..39: write-behind: file position of the first buffered byte (Float64)
 *   payload from byte 48 (answers), then the write-behind region (the last `writeBehind` bytes)
 *
 * Write-behind: consecutive writes of one file descriptor are appended to the write-behind
 * region by the worker (under the lock; the count is stored last, so a committed count always
 * covers bytes that are there) and acknowledged to the module at once. The main side writes the
 * batch to the FS before it serves ANY request of the process, when the timer started by the
 * batch's first write fires, and when the process ends (exit, trap, limit, kill: after the worker
 * has stopped), so a write the module was told succeeded is never lost.
 */
import type { SocketRequest } from './sockets.js'
import type { WasmModule } from './wasm-api.js'

/** Bytes of the response header. */
export const HEADER = 48
/** Default payload capacity of the shared buffer (1 MiB). */
export const DEFAULT_CAPACITY = 1 << 20
/** Default size of the write-behind region (1 MiB; 0 turns write-behind off). */
export const DEFAULT_WRITE_BEHIND = 1 << 20
/** Milliseconds a batch of buffered writes waits at most before the main side writes it. */
export const WRITE_BEHIND_MS = 5
/** Default lifetime (ms) of what the worker caches (read-ahead, a file's stat). */
export const DEFAULT_CACHE_MS = 5
export const WB_HANDLE = 5
export const WB_LEN = 6
export const WB_LOCK = 7
/** Index of the write-behind position in a Float64Array over the shared buffer. */
export const WB_POS_F64 = 4
export const KIND_NONE = 0
export const KIND_JSON = 1
export const KIND_BYTES = 2

/** A file's metadata as it crosses the bridge (u64 fields as decimal strings). */
export interface WireStat {
  /** WASI filetype. */
  readonly filetype: number
  readonly dev: string
  readonly ino: string
  readonly nlink: number
  readonly size: number
  readonly atim: string
  readonly mtim: string
  readonly ctim: string
}

/** One directory entry (including "." and ".."), as `fd_readdir` returns them. */
export interface WireDirent {
  readonly name: string
  readonly filetype: number
  readonly ino: string
}

/** A time to set: nanoseconds since the epoch, or "now". */
export type WireTime = string | 'now'

/** Where a path starts: preopen index and the directory (a clean path in that FS) it is relative to. */
export interface At {
  readonly pre: number
  readonly base: string
}

/** A request from the worker. Paths are the module's own strings, resolved on the main side. */
export type Request =
  | { op: 'stat'; at: At; path: string; follow: boolean }
  | { op: 'open'; at: At; path: string; follow: boolean; oflags: number; read: boolean; write: boolean; wantDir: boolean }
  | { op: 'fstat'; handle: number }
  | { op: 'dstat'; pre: number; path: string }
  | { op: 'read'; handle: number; pos: number; len: number }
  | { op: 'write'; handle: number; pos: number; append: boolean; sync: boolean; data: Uint8Array }
  | { op: 'truncate'; handle: number; size: number }
  | { op: 'allocate'; handle: number; end: number }
  | { op: 'fsync'; handle: number }
  | { op: 'syncfs'; pre: number }
  | { op: 'close'; handle: number }
  | { op: 'readdir'; pre: number; path: string }
  | { op: 'mkdir'; at: At; path: string }
  | { op: 'unlink'; at: At; path: string }
  | { op: 'rmdir'; at: At; path: string }
  | { op: 'rename'; at: At; path: string; at2: At; path2: string }
  | { op: 'link'; at: At; path: string; follow: boolean; at2: At; path2: string }
  | { op: 'symlink'; target: string; at: At; path: string }
  | { op: 'readlink'; at: At; path: string }
  | { op: 'settimes'; at: At; path: string; follow: boolean; atim?: WireTime; mtim?: WireTime }
  | { op: 'fsettimes'; handle: number; atim?: WireTime; mtim?: WireTime }
  | { op: 'stdin'; max: number }
  | { op: 'stdinwait'; timeoutMs: number }
  | { op: 'more' }
  /** Nothing but the write-behind flush every request starts with (before the worker's own I/O). */
  | { op: 'flush' }
  | SocketRequest

/** What `open` answers. */
export type OpenResult =
  /** `direct`: the host descriptor behind the file (see `@honk/vfs` `hostDescriptorOf`), when the worker may use it. */
  | { kind: 'file'; handle: number; stat: WireStat; direct?: number }
  | { kind: 'dir'; path: string; stat: WireStat }

/** Messages the worker posts. */
export type WorkerMessage =
  | { t: 'call'; req: Request }
  | { t: 'out'; fd: 1 | 2; data: Uint8Array }
  | { t: 'exit'; code: number; ms: number }
  | { t: 'signal'; signal: number }
  | { t: 'trap'; message: string; memoryPages: number }
  | { t: 'limit'; kind: 'memory' | 'fds'; detail: string }
  | { t: 'ready' }
  /** A write-behind batch was started (the main side arms its flush timer). */
  | { t: 'wb' }
  /** The write-behind batch is full; the worker waits until the main side has taken it. */
  | { t: 'wbfull' }
  /** The write-behind batch is half full (the main side may take it; the worker goes on). */
  | { t: 'wbhalf' }
  | { t: 'driver'; id: number; result?: number; reads?: Uint8Array[]; error?: string }

/** A deterministic clock: each read advances it by `stepNs`; sleeps advance it instead of waiting. */
export interface FakeClockSpec {
  readonly startNs: bigint
  readonly stepNs: bigint
}

/** What the worker is started with. */
export interface StartMessage {
  t: 'start'
  module: WasmModule | Uint8Array | undefined
  /** Driver mode (tests): no module; the main side calls imports one by one on a bare memory. */
  driver: boolean
  args: string[]
  env: string[]
  preopens: string[]
  stdin: boolean
  sab: SharedArrayBuffer
  clock: FakeClockSpec | undefined
  /** Seed of a deterministic generator for `random_get`; undefined: crypto.getRandomValues. */
  randomSeed: number | undefined
  maxMemoryPages: number
  maxOpenFds: number
  /** Largest total of one fd_read/fd_write (bytes); longer calls are short, as POSIX allows. */
  maxIo: number
  /** Bytes of the write-behind region at the end of `sab` (0: every write is a round trip). */
  writeBehind?: number
  /** Lifetime (ms) of the worker's read-ahead and stat cache (0: nothing cached). */
  cacheMs?: number
  /** Host files are read and written by the worker itself when it can (see `SpawnWasmOptions.io.direct`). */
  direct?: boolean
  /** Kinds of the handed-in sockets, at the descriptors after the preopens. */
  sockets?: ('stream' | 'listener')[]
}

/** Driver-mode call (tests only): write `writes` into memory, call `fn(...args)`, read `reads` back. */
export interface DriverCall {
  t: 'drv'
  id: number
  fn: string
  args: (number | bigint)[]
  writes: [number, Uint8Array][]
  reads: [number, number][]
}
