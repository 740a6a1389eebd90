/**
 * The worker side: receives a `StartMessage`, builds a `WasiHost` over a SharedArrayBuffer
 * bridge to the main thread, instantiates the module and runs `_start` (or `_initialize`).
 * Platform-neutral: the Node entry (worker-node.ts) and a browser worker script hand it a port.
 */
import { WASI_FUNCTIONS } from './abi.js'
import { WasiExit, WasiHost, WasiLimitExceeded, WasiRaise, type BridgeAnswer, type DirectFileIo, type WasiBridge } from './host.js'
import { HEADER, KIND_BYTES, KIND_JSON, WB_HANDLE, WB_LEN, WB_LOCK, WB_POS_F64, type DriverCall, type Request, type StartMessage, type WorkerMessage } from './protocol.js'
import { isWasmModule, wasmApi, type WasmMemory } from './wasm-api.js'

/** The worker's end of its message channel. */
export interface RunnerPort {
  postMessage(message: WorkerMessage, transfer?: ArrayBuffer[]): void
  onMessage(listener: (message: unknown) => void): void
  /** A faster monotonic nanosecond clock of the platform, if it has one. */
  monotonicNs?: () => bigint
  /** Synchronous I/O on host descriptors, where the platform has it (Node). */
  direct?: DirectFileIo
}

const dec = new TextDecoder()
const WASI_NAMES: ReadonlySet<string> = new Set(WASI_FUNCTIONS)

/** A bridge that blocks this thread in `Atomics.wait` until the main thread has answered. */
export class SharedBridge implements WasiBridge {
  private readonly ctrl: Int32Array
  private readonly payload: Uint8Array
  private readonly nap = new Int32Array(new SharedArrayBuffer(4))
  private readonly f64: Float64Array
  private readonly region: Uint8Array

  /** `writeBehind`: bytes of the write-behind region at the end of `sab` (0: none). */
  constructor(
    private readonly port: RunnerPort,
    sab: SharedArrayBuffer,
    writeBehind = 0,
  ) {
    this.ctrl = new Int32Array(sab, 0, 8)
    this.f64 = new Float64Array(sab, 0, HEADER / 8)
    const capacity = sab.byteLength - HEADER - writeBehind
    this.payload = new Uint8Array(sab, HEADER, capacity)
    this.region = new Uint8Array(sab, HEADER + capacity, writeBehind)
  }

  pendingWrites(): boolean {
    return this.region.length > 0 && Atomics.load(this.ctrl, WB_LEN) !== 0
  }

  /**
   * Appends a write to the write-behind batch if it continues it (same file, next position) or
   * starts a new one, and fits; false when it must go as a request instead (the main side then
   * writes the batch first). Under the lock; the committed length is stored last.
   */
  writeBehind(handle: number, pos: number, data: Uint8Array): boolean {
    const cap = this.region.length
    if (data.length === 0 || data.length > cap) return false
    const c = this.ctrl
    // The main side holds the lock only while it copies a batch out (never across a wait).
    while (Atomics.compareExchange(c, WB_LOCK, 0, 1) !== 0) Atomics.wait(c, WB_LOCK, 2, 1)
    let started = false
    let half = false
    let ok = true
    const len = Atomics.load(c, WB_LEN)
    if (len === 0) {
      Atomics.store(c, WB_HANDLE, handle)
      this.f64[WB_POS_F64] = pos
      this.region.set(data, 0)
      Atomics.store(c, WB_LEN, data.length)
      started = true
    } else if (Atomics.load(c, WB_HANDLE) === handle && this.f64[WB_POS_F64]! + len === pos) {
      if (len + data.length <= cap) {
        this.region.set(data, len)
        Atomics.store(c, WB_LEN, len + data.length)
        // Half full: the main side takes what is there while we go on, so that we rarely wait
        // for it when the region is full.
        half = len < cap >>> 1 && len + data.length >= cap >>> 1
      } else {
        // Full: the main side takes the batch (and writes it while we fill the next one).
        Atomics.store(c, WB_LOCK, 0)
        this.port.postMessage({ t: 'wbfull' })
        // With a timeout, so that a terminate (kill) is never held up by this wait.
        while (Atomics.load(c, WB_LEN) !== 0) Atomics.wait(c, WB_LEN, len, 20)
        return this.writeBehind(handle, pos, data)
      }
    } else {
      ok = false
    }
    Atomics.store(c, WB_LOCK, 0)
    if (started) this.port.postMessage({ t: 'wb' })
    if (half) this.port.postMessage({ t: 'wbhalf' })
    return ok
  }

  private roundTrip(req: Request): { errno: number; kind: number; chunk: Uint8Array; more: number } {
    Atomics.store(this.ctrl, 0, 0)
    const transfer = req.op === 'write' && req.data.byteOffset === 0 && req.data.byteLength === req.data.buffer.byteLength ? [req.data.buffer as ArrayBuffer] : []
    this.port.postMessage({ t: 'call', req }, transfer)
    return this.await()
  }

  private await(): { errno: number; kind: number; chunk: Uint8Array; more: number } {
    while (Atomics.load(this.ctrl, 0) === 0) Atomics.wait(this.ctrl, 0, 0)
    const len = this.ctrl[3]!
    const kind = this.ctrl[2]!
    // Bytes are handed out as a view of the shared buffer (valid until the next call: every user
    // copies them into the module's memory at once); JSON is copied, as TextDecoder may refuse
    // shared memory.
    const chunk = kind === KIND_BYTES && this.ctrl[4] === 0 ? this.payload.subarray(0, len) : this.payload.slice(0, len)
    return { errno: this.ctrl[1]!, kind, chunk, more: this.ctrl[4]! }
  }

  /** Sends `req` without waiting (see `end`). */
  begin(req: Request): void {
    Atomics.store(this.ctrl, 0, 0)
    this.port.postMessage({ t: 'call', req })
  }

  /** Waits for the answer of the request `begin` sent. */
  end(): BridgeAnswer {
    return this.finish(this.await())
  }

  call(req: Request): BridgeAnswer {
    return this.finish(this.roundTrip(req))
  }

  private finish(first: { errno: number; kind: number; chunk: Uint8Array; more: number }): BridgeAnswer {
    if (first.errno !== 0) return { errno: first.errno }
    let body = first.chunk
    let more = first.more
    while (more > 0) {
      const next = this.roundTrip({ op: 'more' })
      const joined = new Uint8Array(body.length + next.chunk.length)
      joined.set(body)
      joined.set(next.chunk, body.length)
      body = joined
      more = next.more
    }
    if (first.kind === KIND_JSON) return { json: JSON.parse(dec.decode(body)) as unknown }
    if (first.kind === KIND_BYTES) return { bytes: body }
    return { errno: 0 }
  }

  output(fd: 1 | 2, data: Uint8Array): void {
    const copy = data.slice()
    this.port.postMessage({ t: 'out', fd, data: copy }, [copy.buffer])
  }

  sleep(ms: number): void {
    if (ms > 0) Atomics.wait(this.nap, 0, 0, ms)
  }
}

/** Runs one module (or a test driver) on this thread; answers on `port`. */
export function runWasiWorker(port: RunnerPort): void {
  let host: WasiHost | undefined
  let memory: WasmMemory | undefined
  port.onMessage((raw) => {
    const m = raw as StartMessage | DriverCall
    if (m.t === 'start') {
      const writeBehind = m.writeBehind ?? 0
      const bridge = new SharedBridge(port, m.sab, writeBehind)
      const capacity = m.sab.byteLength - HEADER - writeBehind
      host = new WasiHost(bridge, {
        cacheMs: m.cacheMs ?? 0,
        args: m.args, env: m.env, preopens: m.preopens, console: true, stdin: m.stdin, clock: m.clock, randomSeed: m.randomSeed,
        maxOpenFds: m.maxOpenFds, maxMemoryPages: m.maxMemoryPages, maxIo: m.maxIo, chunk: capacity, monotonicNs: port.monotonicNs,
        direct: m.direct === true ? port.direct : undefined,
        sockets: m.sockets,
      })
      if (m.driver) {
        memory = new wasmApi.Memory({ initial: 2, maximum: 4 })
        host.bind(memory)
        port.postMessage({ t: 'ready' })
        return
      }
      run(port, host, m)
      return
    }
    if (m.t === 'drv' && host && memory) {
      try {
        for (const [p, b] of m.writes) new Uint8Array(memory.buffer, p, b.length).set(b)
        const fn = host.imports()[m.fn] as unknown as (...a: (number | bigint)[]) => number
        const result = fn(...m.args)
        const reads = m.reads.map(([p, l]) => new Uint8Array(memory!.buffer, p, l).slice())
        port.postMessage({ t: 'driver', id: m.id, result, reads })
      } catch (e) {
        port.postMessage({ t: 'driver', id: m.id, error: describe(e) })
      }
    }
  })
}

function describe(e: unknown): string {
  if (e instanceof WasiExit) return `exit ${e.code}`
  if (e instanceof WasiRaise) return `signal ${e.signal}`
  if (e instanceof WasiLimitExceeded) return `limit ${e.kind}: ${e.detail}`
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}

function run(port: RunnerPort, host: WasiHost, m: StartMessage): void {
  let memory: WasmMemory | undefined
  // Compile + instantiate + run, on this thread's clock (what `WasmExit.runMs` reports).
  const t0 = performance.now()
  try {
    const mod = isWasmModule(m.module) ? m.module : new wasmApi.Module(m.module ?? new Uint8Array(0))
    for (const imp of wasmApi.Module.imports(mod)) {
      if (imp.module !== 'wasi_snapshot_preview1' || imp.kind !== 'function' || !WASI_NAMES.has(imp.name)) {
        throw new Error(`the module imports ${imp.module}.${imp.name} (${imp.kind}); only wasi_snapshot_preview1 functions exist`)
      }
    }
    const instance = new wasmApi.Instance(mod, { wasi_snapshot_preview1: host.imports() })
    const mem = instance.exports['memory']
    if (typeof mem !== 'object' || mem === null || !(mem as WasmMemory).buffer) throw new Error('the module does not export its memory as "memory"')
    memory = mem as WasmMemory
    host.bind(memory)
    if (memory.buffer.byteLength > m.maxMemoryPages * 65536) {
      port.postMessage({ t: 'limit', kind: 'memory', detail: `initial memory ${memory.buffer.byteLength / 65536} pages is over the limit of ${m.maxMemoryPages}` })
      return
    }
    const start = instance.exports['_start'] ?? instance.exports['_initialize']
    if (typeof start !== 'function') throw new Error('the module exports neither _start nor _initialize')
    ;(start as () => unknown)()
    port.postMessage({ t: 'exit', code: 0, ms: performance.now() - t0 })
  } catch (e) {
    if (e instanceof WasiExit) port.postMessage({ t: 'exit', code: e.code, ms: performance.now() - t0 })
    else if (e instanceof WasiRaise) port.postMessage({ t: 'signal', signal: e.signal })
    else if (e instanceof WasiLimitExceeded) port.postMessage({ t: 'limit', kind: e.kind, detail: e.detail })
    else port.postMessage({ t: 'trap', message: describe(e), memoryPages: memory ? memory.buffer.byteLength / 65536 : 0 })
  }
}
