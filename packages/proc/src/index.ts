/**
 * honk's process model: a process is an async task with an `AbortController` (abort = kill),
 * a capability set (the only way to reach a service) and a fault domain (a throw is contained).
 *
 * @example
 * ```ts
 * import { ProcessTable, Channel } from '@honk/proc'
 * const table = new ProcessTable({ console: { log: (s: string) => console.log(s) } })
 * const p = table.spawn('worker', ['console'], async (ctx) => {
 *   while (true) { ctx.use('console').log(`tick from ${ctx.pid}`); await ctx.sleep(100) }
 * })
 * table.kill(p.pid)                 // aborts ctx.signal; sleep rejects; no timer is left behind
 * console.log(table.list().map((i) => `${i.pid} ${i.name} ${i.state} ${i.caps}`))
 * table.reap()                      // drops every finished process
 * ```
 *
 * WebAssembly processes (`spawnWasm`): a module runs in a worker with a capability-gated WASI
 * preview1 whose files are any `@honk/vfs` FS; `@honk/proc/node` supplies the worker_threads
 * workers (in a browser, hand `spawnWasm` a factory of Workers that call `runWasiWorker`).
 *
 * Hart threads (`HartThreads`): one thread per hart for CPU work, named tasks with kill signals
 * (`serveHartTasks` on the thread side); `@honk/proc/node` starts them as `worker_threads`.
 * @packageDocumentation
 */
export { Caps, type Cap } from './caps.js'
export { Channel } from './channel.js'
export { CapabilityError, ChannelClosedError, KilledError, NoSuchProcessError } from './errors.js'
export { ProcessTable, type Process, type ProcessContext, type ProcessInfo, type ProcessTableOptions, type ProcState, type Task } from './table.js'
export { HartThreads, HartThreadError, HartTaskError, inThreadHartThreads, type HartThread, type HartThreadFactory, type HartThreadsOptions } from './threads/pool.js'
export { browserHartThreads, serveHartTasksInBrowser, type WorkerScopeLike } from './threads/browser.js'
export { serveHartTasks, yieldMacrotask, type HartTask, type HartTaskContext, type HartTasks, type HartThreadPort } from './threads/serve.js'
export { parsePoolMessage, parseThreadMessage, type PoolMessage as HartPoolMessage, type ThreadMessage as HartThreadMessage, type ThreadValue, type WireError as HartWireError } from './threads/protocol.js'
export { spawnWasm, type SpawnWasmOptions, type WasmExit, type WasmIoOptions, type WasmLimits, type WasmProcess, type WasmWorker, type WasmWorkerFactory } from './wasi/spawn.js'
export { WasmLimitError, WasmSignalError, WasmTrapError, type WasmLimitKind } from './wasi/errors.js'
export { runWasiWorker, SharedBridge, type RunnerPort } from './wasi/runner.js'
export { browserWasmWorkers, runWasiWorkerInBrowser, type BrowserWorkerLike } from './wasi/browser.js'
export { WasiHost, WasiExit, WasiLimitExceeded, WasiRaise, errnoOfHostCode, type BridgeAnswer, type DirectFileIo, type WasiBridge, type WasiHostConfig } from './wasi/host.js'
export { WasiSocketServer, isListener, type SocketRequest as WasiSocketRequest, type WasiListener, type WasiSocket, type WasiStreamSocket } from './wasi/sockets.js'
export { WasiFsServer, errnoOf, type Answer, type Resolved as WasiResolved, type WasiFsServerOptions, type WasiStdin } from './wasi/server.js'
export { Errno, Rights, Filetype, Fdflags, Oflags, Fstflags, Whence, Clockid, WASI_FUNCTIONS, errnoName, type ErrnoName, type WasiFunction } from './wasi/abi.js'
export type { At as WasiAt, FakeClockSpec, Request as WasiRequest, WireTime as WasiWireTime, WorkerMessage as WasiWorkerMessage } from './wasi/protocol.js'
export type { WasmMemory, WasmModule } from './wasi/wasm-api.js'
