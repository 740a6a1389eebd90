/**
 * Test driver (not exported from the package): a `WasiHost` in a real worker, on a bare
 * 128 KiB memory, whose imports the test calls one at a time from the main thread — the same
 * bridge and file server a module gets, without needing a module per case.
 */
import type { FS } from '@honk/vfs'
import { bridgeBuffer, MainBridge } from './behind.js'
import { DEFAULT_CAPACITY, type DriverCall, type FakeClockSpec, type StartMessage, type WorkerMessage } from './protocol.js'
import { WasiFsServer, type WasiStdin } from './server.js'
import { isListener, type WasiSocket } from './sockets.js'
import type { WasmWorkerFactory } from './spawn.js'

export interface DriverOptions {
  preopens?: Record<string, FS>
  args?: string[]
  env?: string[]
  stdin?: WasiStdin
  clock?: FakeClockSpec
  randomSeed?: number
  maxOpenFds?: number
  /** Shared-buffer payload capacity (small values exercise `more`). */
  capacity?: number
  /** Write-behind region in bytes (default 0: every write is a round trip, as the call-by-call tests expect). */
  writeBehind?: number
  /** The host's cache lifetime in ms (default 0). */
  cacheMs?: number
  /** The worker reads and writes host files itself (`SpawnWasmOptions.io.direct`; default false). */
  direct?: boolean
  /** Sockets handed in (descriptors after the preopens). */
  sockets?: WasiSocket[]
}

export interface DriverResult {
  /** The errno the import returned; undefined if it threw (`thrown` says what). */
  errno: number | undefined
  thrown: string | undefined
  reads: Uint8Array[]
}

export interface Driver {
  call(fn: string, args: (number | bigint)[], io?: { writes?: [number, Uint8Array | string][]; reads?: [number, number][] }): Promise<DriverResult>
  readonly stdout: Uint8Array[]
  readonly stderr: Uint8Array[]
  readonly server: WasiFsServer
  readonly bridge: MainBridge
  close(): void
}

const enc = new TextEncoder()

export async function startDriver(workers: WasmWorkerFactory, options: DriverOptions = {}): Promise<Driver> {
  const entries = Object.entries(options.preopens ?? {})
  const server = new WasiFsServer(entries.map(([, fs]) => fs), { stdin: options.stdin, direct: options.direct ?? false, sockets: options.sockets ?? [] })
  const writeBehind = options.writeBehind ?? 0
  const sab = bridgeBuffer(options.capacity ?? DEFAULT_CAPACITY, writeBehind)
  const bridge = new MainBridge(sab, writeBehind, server, options.cacheMs ?? 0)
  const worker = workers()
  const stdout: Uint8Array[] = []
  const stderr: Uint8Array[] = []
  const pending = new Map<number, (r: DriverResult) => void>()
  let ready!: () => void
  const isReady = new Promise<void>((r) => (ready = r))
  let failed: unknown
  worker.onError((e) => {
    failed = e
  })
  worker.onMessage((raw) => {
    const m = raw as WorkerMessage
    if (m.t === 'call') bridge.serve(m.req)
    else if (m.t === 'wb') bridge.batchStarted()
    else if (m.t === 'wbfull' || m.t === 'wbhalf') bridge.batchFull()
    else if (m.t === 'out') (m.fd === 1 ? stdout : stderr).push(m.data)
    else if (m.t === 'ready') ready()
    else if (m.t === 'driver') {
      const r = pending.get(m.id)
      pending.delete(m.id)
      r?.({ errno: m.result, thrown: m.error, reads: m.reads ?? [] })
    }
  })
  const start: StartMessage = {
    t: 'start', module: undefined, driver: true, args: options.args ?? [], env: options.env ?? [], preopens: entries.map(([n]) => n),
    stdin: options.stdin !== undefined, sab, clock: options.clock, randomSeed: options.randomSeed, maxMemoryPages: 4,
    maxOpenFds: options.maxOpenFds ?? 64, maxIo: 16 << 20, writeBehind, cacheMs: options.cacheMs ?? 0, direct: options.direct ?? false,
    sockets: (options.sockets ?? []).map((s) => (isListener(s) ? 'listener' : 'stream')),
  }
  worker.postMessage(start)
  await isReady
  let nextId = 1
  return {
    stdout,
    stderr,
    server,
    bridge,
    call(fn, args, io = {}) {
      if (failed) return Promise.reject(failed)
      const id = nextId++
      const msg: DriverCall = {
        t: 'drv', id, fn, args,
        writes: (io.writes ?? []).map(([p, b]) => [p, typeof b === 'string' ? enc.encode(b) : b]),
        reads: io.reads ?? [],
      }
      return new Promise((resolve) => {
        pending.set(id, resolve)
        worker.postMessage(msg)
      })
    },
    close: () => {
      bridge.stop()
      void worker.terminate()
    },
  }
}
