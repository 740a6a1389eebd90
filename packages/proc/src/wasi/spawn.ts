/**
 * `spawnWasm`: a WebAssembly module as a process of a `ProcessTable`. The module runs in a
 * worker (any platform: the worker is made by the injected `WasmWorkerFactory`; `@honk/proc/node`
 * supplies worker_threads), its WASI imports are served here on the calling thread with the
 * `@honk/vfs` filesystems of its preopens, and `kill` terminates the worker at once, whatever
 * the module is doing (a tight loop, a blocking read, its start function).
 *
 * Capabilities decide what exists: without `fs` the module has no preopens (libc then answers
 * ENOTCAPABLE for every path), without `console` its stdout/stderr are discarded and stdin is
 * empty.
 */
import type { FS } from '@honk/vfs'
import type { Cap } from '../caps.js'
import type { Process, ProcessInfo, ProcessTable } from '../table.js'
import { WasmLimitError, WasmSignalError, WasmTrapError, type WasmLimitKind } from './errors.js'
import { capMemory, MalformedModule } from './limits.js'
import { bridgeBuffer, MainBridge } from './behind.js'
import { DEFAULT_CACHE_MS, DEFAULT_CAPACITY, DEFAULT_WRITE_BEHIND, type FakeClockSpec, type StartMessage, type WorkerMessage } from './protocol.js'
import { WasiFsServer, type WasiStdin } from './server.js'
import { isListener, type WasiSocket } from './sockets.js'
import { wasmApi, type WasmModule } from './wasm-api.js'

/** A worker as `spawnWasm` needs it (Node's worker_threads Worker or a browser Worker, adapted). */
export interface WasmWorker {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void
  onMessage(listener: (message: unknown) => void): void
  /** An uncaught error in the worker (e.g. it ran out of heap). */
  onError(listener: (error: unknown) => void): void
  /** Stops the worker now; a promise, if any, settles once it has stopped running. */
  terminate(): void | Promise<unknown>
}

/** Makes a fresh worker running the WASI runner (`runWasiWorker`). */
export type WasmWorkerFactory = () => WasmWorker

/** Limits of one WebAssembly process. */
export interface WasmLimits {
  /** Linear memory in 64 KiB pages (default 16384 = 1 GiB). Growth past it fails; an initial size past it is refused. */
  maxMemoryPages?: number
  /** Open descriptors, stdio and preopens included (default 1024). Opening more ends the process. */
  maxOpenFds?: number
  /** stdout+stderr bytes per second, with one second of burst (default 64 MiB/s). More ends the process. */
  maxOutputBytesPerSecond?: number
}

export interface SpawnWasmOptions<S extends object> {
  /** The process table the module becomes a process of. */
  table: ProcessTable<S>
  /** Makes the worker the module runs in. */
  workers: WasmWorkerFactory
  /** Process name (default: the last component of args[0], else "wasm"). */
  name?: string
  /** Parent pid (default 1); the capabilities must be a subset of the parent's. */
  parent?: number
  /** argv, args[0] being the program name. */
  args?: readonly string[]
  /** The environment: exactly this, nothing inherited. */
  env?: Readonly<Record<string, string>>
  /** Guest directory name → filesystem, preopened at fds 3, 4, … in this order (needs `fs`). */
  preopens?: Readonly<Record<string, FS>>
  /**
   * Sockets handed in (needs `net`): listeners the module accepts on and connected streams, at
   * the descriptors right after the preopens, in this order. They are the process's: closed
   * when it ends. Without `net` the module gets none (the descriptors are EBADF).
   */
  sockets?: readonly WasiSocket[]
  /** stdin (needs `console`): bytes, a string, or a source. Default: empty. */
  stdin?: Uint8Array | string | WasiStdin
  /** stdout/stderr bytes (need `console`). */
  stdout?: (data: Uint8Array) => void
  stderr?: (data: Uint8Array) => void
  caps?: readonly Cap[]
  /** "real" (default) or a deterministic clock. */
  clock?: 'real' | FakeClockSpec
  /** "crypto" (default) or a seeded deterministic generator. */
  random?: 'crypto' | { seed: number }
  limits?: WasmLimits
  /**
   * Compile bytes on this thread (asynchronously, off the event loop) and keep the last 16
   * compiled modules by content hash (default true). The worker then gets a compiled module
   * (shared, not recompiled), and a program run again starts from V8's already tiered-up code.
   */
  compileCache?: boolean
  /** How file I/O crosses between the worker and this thread (see the README). */
  io?: WasmIoOptions
}

/** File I/O tuning of a WebAssembly process. */
export interface WasmIoOptions {
  /**
   * Bytes of consecutive writes to one file buffered in the worker before they cross (default
   * 1 MiB; 0: every write is a round trip). The module's own later calls always see them; other
   * processes see them within 5 ms, and at the latest when the process ends, however it ends.
   */
  writeBehind?: number
  /**
   * Lifetime in ms of the worker's read-ahead and of a file's cached stat (default 5; 0: none).
   * Invalidated by any change this process makes; a change by ANOTHER process is seen at most
   * this late.
   */
  cacheMs?: number
  /**
   * Files of an FS that registered their host descriptor (`@honk/vfs` `HostFS`: see
   * `hostDescriptorOf`) are read and written by the module's own worker with `pread`/`pwrite`,
   * where the platform offers that (Node's workers): no round trip to this thread, and a write is
   * in the host file when the call returns. Append and sync writes, and every other request,
   * still go through the FS. Default true; false sends everything through the FS.
   */
  direct?: boolean
}

/** How a WebAssembly process ended. */
export interface WasmExit {
  /** The exit code (proc_exit's, or 0 when `_start` returned); undefined if it did not exit. */
  readonly code: number | undefined
  readonly info: ProcessInfo
  /** The typed reason of an abnormal end (trap, limit, signal). */
  readonly error: WasmLimitError | WasmTrapError | WasmSignalError | undefined
  /** Milliseconds from the worker's start of the module (compiling it, unless it came compiled) to its exit, on the worker's clock (undefined unless it exited). */
  readonly runMs: number | undefined
}

/** A WebAssembly process: a `Process` of the table, plus how it ended. */
export interface WasmProcess extends Process {
  /** Resolves when the process has ended (exited, trapped, killed). */
  readonly exit: Promise<WasmExit>
}

class ByteStdin implements WasiStdin {
  private off = 0
  constructor(private readonly data: Uint8Array) {}
  async read(max: number): Promise<Uint8Array> {
    const out = this.data.subarray(this.off, this.off + max)
    this.off += out.length
    return out.slice()
  }
  async ready(): Promise<boolean> {
    return true
  }
}

const enc = new TextEncoder()

const COMPILE_CACHE_SIZE = 16
const compiled = new Map<string, Promise<WasmModule>>()

/** Compiles `bytes` (or finds it compiled), keyed by its SHA-256; at most 16 kept, oldest out. */
export async function compileCached(bytes: Uint8Array): Promise<WasmModule> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
  const key = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
  let p = compiled.get(key)
  if (p === undefined) {
    p = wasmApi.compile(bytes)
    compiled.set(key, p)
    p.catch(() => compiled.delete(key))
    if (compiled.size > COMPILE_CACHE_SIZE) compiled.delete(compiled.keys().next().value!)
  } else {
    // Most recently used last.
    compiled.delete(key)
    compiled.set(key, p)
  }
  return p
}

export { writeAnswer } from './behind.js'

/** Runs `module` (bytes or a compiled module) as a process of `options.table`. */
export function spawnWasm<S extends object>(module: Uint8Array | WasmModule, options: SpawnWasmOptions<S>): WasmProcess {
  const args = [...(options.args ?? [])]
  const name = options.name ?? (args[0] ? args[0].slice(args[0].lastIndexOf('/') + 1) : 'wasm')
  const caps = options.caps ?? []
  const limits = {
    maxMemoryPages: options.limits?.maxMemoryPages ?? 16384,
    maxOpenFds: options.limits?.maxOpenFds ?? 1024,
    maxOutputBytesPerSecond: options.limits?.maxOutputBytesPerSecond ?? 64 << 20,
  }
  let exitCode: number | undefined
  let runMs: number | undefined
  let failure: WasmExit['error']
  /** Settles once the process's buffered writes are in its file systems (after it ended). */
  let ioDone: Promise<void> = Promise.resolve()
  const writeBehind = Math.max(0, Math.floor(options.io?.writeBehind ?? DEFAULT_WRITE_BEHIND))
  const cacheMs = Math.max(0, options.io?.cacheMs ?? DEFAULT_CACHE_MS)
  const direct = options.io?.direct ?? true
  const proc = options.table.spawn(name, caps, async (ctx) => {
    const fsCap = ctx.can('fs')
    const sockets = ctx.can('net') ? [...(options.sockets ?? [])] : []
    const consoleCap = ctx.can('console')
    const preopenEntries = fsCap ? Object.entries(options.preopens ?? {}) : []
    const stdinSrc = !consoleCap || options.stdin === undefined ? undefined : typeof options.stdin === 'string' ? new ByteStdin(enc.encode(options.stdin)) : options.stdin instanceof Uint8Array ? new ByteStdin(options.stdin) : options.stdin
    const server = new WasiFsServer(
      preopenEntries.map(([, fs]) => fs),
      { stdin: stdinSrc, maxHandles: limits.maxOpenFds, direct, sockets },
    )
    let bytes: Uint8Array | WasmModule = module
    if (module instanceof Uint8Array) {
      try {
        const capped = capMemory(module, limits.maxMemoryPages).bytes
        // The bytes are transferred to the worker: never the caller's own buffer.
        bytes = capped === module ? module.slice() : capped
      } catch (e) {
        if (e instanceof RangeError) throw (failure = new WasmLimitError(ctx.pid, 'memory', e.message))
        if (!(e instanceof MalformedModule)) throw e
        bytes = module.slice()
      }
      if (options.compileCache !== false) {
        try {
          bytes = await compileCached(bytes)
        } catch (e) {
          throw (failure = new WasmTrapError(ctx.pid, `${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`))
        }
        // Killed while it compiled: end here, as killed.
        ctx.throwIfKilled()
      }
    }
    const sab = bridgeBuffer(DEFAULT_CAPACITY, writeBehind)
    const bridge = new MainBridge(sab, writeBehind, server, cacheMs)
    const ctrl = bridge.ctrl
    const worker = options.workers()
    let ioSettled!: () => void
    ioDone = new Promise<void>((r) => (ioSettled = r))
    return new Promise<number>((resolve, reject) => {
      let over = false
      // Output rate: a token bucket holding one second's worth.
      let tokens = limits.maxOutputBytesPerSecond
      let last = performance.now()
      /** `workerDone`: the worker said it ended (exit, signal, trap, limit): it appends nothing more. */
      const finish = (f: () => void, workerDone = false): void => {
        if (over) return
        over = true
        ctx.signal.removeEventListener('abort', onAbort)
        bridge.stop()
        // Wake the worker if it is blocked in Atomics.wait, then stop it.
        Atomics.store(ctrl, 1, 8)
        Atomics.store(ctrl, 0, 1)
        Atomics.notify(ctrl, 0)
        const stopped = worker.terminate()
        // Writes the module was told succeeded are in the worker's write-behind region: once the
        // worker can append no more, they go to the FS (whatever ended the process), then the
        // files are closed.
        void (workerDone ? Promise.resolve() : Promise.resolve(stopped))
          .catch(() => undefined)
          .then(() => bridge.drain())
          .catch(() => undefined)
          .then(() => {
            void server.closeAll()
            ioSettled()
            // The process ends once its writes are in (a kill has already marked it killed).
            f()
          })
      }
      const onAbort = (): void => finish(() => reject(ctx.signal.reason))
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      const limit = (kind: WasmLimitKind, detail: string, workerDone = false): void => {
        if (over) return
        const err = new WasmLimitError(ctx.pid, kind, detail)
        failure = err
        finish(() => reject(err), workerDone)
      }
      worker.onError((e) => {
        // The worker's own exit after the process ended (terminate) is no failure.
        if (over) return
        const err = new WasmTrapError(ctx.pid, `worker failed: ${e instanceof Error ? e.message : String(e)}`)
        failure = err
        finish(() => reject(err))
      })
      worker.onMessage((raw) => {
        if (over) return
        const m = raw as WorkerMessage
        switch (m.t) {
          case 'call':
            bridge.serve(m.req)
            return
          case 'wb':
            bridge.batchStarted()
            return
          case 'wbfull':
          case 'wbhalf':
            bridge.batchFull()
            return
          case 'out': {
            const now = performance.now()
            tokens = Math.min(limits.maxOutputBytesPerSecond, tokens + ((now - last) / 1000) * limits.maxOutputBytesPerSecond)
            last = now
            tokens -= m.data.length
            if (tokens < 0) return limit('output', `more than ${limits.maxOutputBytesPerSecond} bytes/s of output`)
            if (!consoleCap) return
            const sink = m.fd === 1 ? options.stdout : options.stderr
            try {
              sink?.(m.data)
            } catch {
              // A failing console must not take the kernel down; the module's output is lost.
            }
            return
          }
          case 'exit':
            exitCode = m.code
            runMs = m.ms
            return finish(() => resolve(m.code), true)
          case 'signal': {
            const err = new WasmSignalError(ctx.pid, m.signal)
            failure = err
            return finish(() => reject(err), true)
          }
          case 'limit':
            return limit(m.kind, m.detail, true)
          case 'trap': {
            const atLimit = m.memoryPages >= limits.maxMemoryPages ? ` (memory is at its limit of ${limits.maxMemoryPages} pages)` : ''
            const err = new WasmTrapError(ctx.pid, m.message + atLimit)
            failure = err
            return finish(() => reject(err), true)
          }
          default:
            return
        }
      })
      const start: StartMessage = {
        t: 'start',
        module: bytes,
        driver: false,
        args,
        env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
        preopens: preopenEntries.map(([n]) => n),
        stdin: stdinSrc !== undefined,
        sab,
        clock: options.clock === 'real' ? undefined : options.clock,
        randomSeed: options.random === undefined || options.random === 'crypto' ? undefined : options.random.seed,
        maxMemoryPages: limits.maxMemoryPages,
        maxOpenFds: limits.maxOpenFds,
        maxIo: 16 << 20,
        writeBehind,
        cacheMs,
        direct,
        sockets: sockets.map((s) => (isListener(s) ? 'listener' : 'stream')),
      }
      worker.postMessage(start, bytes instanceof Uint8Array ? [bytes.buffer as ArrayBuffer] : [])
    })
  }, options.parent === undefined ? {} : { parent: options.parent })
  // A killed process is `killed` in the table at once; its exit settles once its buffered writes are in.
  const exit = proc.wait().then(async (info) => {
    await ioDone
    return { code: exitCode, info, error: failure, runMs }
  })
  return Object.assign(Object.create(null) as object, {
    pid: proc.pid,
    info: () => proc.info(),
    wait: () => proc.wait(),
    kill: (reason?: string) => proc.kill(reason),
    exit,
  })
}
