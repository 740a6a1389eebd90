/**
 * `pnpm --filter @honk/proc bench [--quick]`: WebAssembly processes under ours (`spawnWasm`: a
 * worker, the SharedArrayBuffer bridge, @honk/vfs HostFS) against Node's built-in `node:wasi`
 * (the module on the calling thread, uvwasi on the host directory), the same C programs
 * (scripts/guest/wasm, built by scripts/guest/build-wasm-examples.sh), alternately, best of R:
 *
 *   start-up hello      spawn → exit of hello.wasm (ours: fresh worker, and a prewarmed one)
 *   file I/O            iobench.wasm: writes then reads M MiB in 64 KiB blocks (MB/s moved;
 *                       ours with the defaults: HostFS files read and written by the worker
 *                       itself; and again with io.direct off, through the bridge with
 *                       write-behind and read-ahead, as any other FS is)
 *   syscalls seek       lseek in a loop (answered in the module's thread)
 *   syscalls fstat      fstat in a loop (answered from the worker's stat cache after the first)
 *   syscalls clock      clock_gettime in a loop
 *   compute             compute.wasm: a sieve and a hash, no system call (both run in V8); also
 *                       timed inside the worker against node:wasi inside a Worker
 *
 * Also measured in the same run: the floor of one bridged call, a bare postMessage +
 * Atomics.wait round trip between this thread and a worker (it depends on how busy the
 * machine's cores are).
 *
 * Ours runs its worker from dist/wasi-worker.js when `pnpm build` has made it, else from the
 * TypeScript sources (then a fresh worker also pays for tsx compiling the worker code); every other row of ours uses a worker started ahead (as `prewarm` keeps one),
 * which is the steady state a kernel sees.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HostFS } from '@honk/vfs/node'
import { higherIsBetter, lowerIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { nodeWasmWorkers, spawnWasm } from '../src/node.ts'
import { ProcessTable } from '../src/table.ts'
import { buildPrograms, program, runNodeWasi } from '../src/wasi/programs.ts'
import type { WasmIoOptions, WasmWorkerFactory } from '../src/wasi/spawn.ts'

const quick = process.argv.includes('--quick')
/** `--only io|start|syscalls|compute`: one group of rows (while working on it; the report then has only those). */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length)
const runs = (group: string): boolean => only === undefined || only === group
const ROUNDS = quick ? 2 : 3
const MB = quick ? 16 : 64
const CALLS = quick ? 200_000 : 1_000_000
const FSTAT_CALLS = quick ? 20_000 : 100_000
const STARTS = quick ? 5 : 15
// Not larger: Node 20.20's node:wasi aborts the process (SIGABRT) on the 2nd-4th run of compute.wasm
// at 20M in one process (plain node, no tsx; our runs are in workers and unaffected).
const COMPUTE_N = quick ? 5_000_000 : 10_000_000

const build = buildPrograms()
if ('error' in build) throw new Error(build.error)
const built = build
const dir = mkdtempSync(join(tmpdir(), 'honk-wasi-bench-'))
const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
// The built worker (pnpm build) when there is one: the production path. From the sources, the
// worker runs under tsx's loader, which made compute ~1.6× slower in our runs.
const builtWorker = new URL('../dist/wasi-worker.js', import.meta.url)
const useDist = existsSync(builtWorker)
const cold = nodeWasmWorkers(useDist ? { workerUrl: builtWorker } : {})
/** Time a worker is given to boot before a measured run (it compiles the worker code with tsx). */
const BOOT_MS = 1000
/**
 * A worker started ahead and given time to boot, as `prewarm` keeps one: the measured run then
 * shares the cores with nothing of ours (a prewarm refill booting during a run would).
 */
async function booted(): Promise<WasmWorkerFactory> {
  const w = cold()
  await new Promise((r) => setTimeout(r, BOOT_MS))
  return () => w
}

async function ours(name: string, args: string[], factory?: WasmWorkerFactory, io?: WasmIoOptions): Promise<{ ms: number; stdout: string; runMs: number }> {
  const workers = factory ?? (await booted())
  const bytes = program(built.dir, name)
  const out: Uint8Array[] = []
  const t0 = performance.now()
  const p = spawnWasm(bytes, { table, workers, args: [name, ...args], preopens: { '/sandbox': new HostFS(dir) }, caps: ['fs', 'console'], stdout: (b) => out.push(b), ...(io === undefined ? {} : { io }) })
  const e = await p.exit
  const ms = performance.now() - t0
  if (e.code !== 0) throw new Error(`${name} under ours: ${e.info.exitReason} ${e.error?.message ?? ''}`)
  table.reap()
  return { ms, stdout: Buffer.concat(out).toString(), runMs: e.runMs ?? NaN }
}
function theirs(name: string, args: string[]): { ms: number; stdout: string } {
  const bytes = program(built.dir, name)
  const t0 = performance.now()
  const r = runNodeWasi(bytes, { args: [name, ...args], env: {}, preopens: { '/sandbox': dir }, stdoutFile: join(dir, '..', `${name}.out`), stderrFile: join(dir, '..', `${name}.err`) })
  const ms = performance.now() - t0
  if (r.code !== 0) throw new Error(`${name} under node:wasi exited ${r.code}`)
  return { ms, stdout: r.stdout }
}

/** Best (lowest) time of R alternating rounds; the outputs must agree. */
async function best(name: string, args: string[], rounds = ROUNDS, io?: WasmIoOptions): Promise<[ours: number, peer: number]> {
  process.stderr.write(`bench: ${name} ${args.join(" ")}\n`)
  let a = Infinity
  let b = Infinity
  for (let i = 0; i < rounds; i++) {
    if (process.env['HONK_BENCH_TRACE']) process.stderr.write(`  round ${i}: ours\n`)
    const x = await ours(name, args, undefined, io)
    if (process.env['HONK_BENCH_TRACE']) process.stderr.write(`  round ${i}: node:wasi\n`)
    const y = theirs(name, args)
    if (x.stdout !== y.stdout) throw new Error(`${name}: outputs differ: ${JSON.stringify(x.stdout)} vs ${JSON.stringify(y.stdout)}`)
    a = Math.min(a, x.ms)
    b = Math.min(b, y.ms)
  }
  return [a, b]
}
/**
 * node:wasi run inside a worker_threads Worker (ms from compile to exit, measured in the worker):
 * the same place our modules run, to tell the cost of the worker from the cost of our host.
 */
async function nodeWasiInWorker(name: string, args: string[]): Promise<number> {
  const { Worker } = await import('node:worker_threads')
  const code = `const { WASI } = require('node:wasi'); const { readFileSync } = require('node:fs'); const { parentPort, workerData } = require('node:worker_threads')
    const bytes = readFileSync(workerData.path); const t0 = performance.now()
    const wasi = new WASI({ version: 'preview1', args: workerData.args, env: {}, returnOnExit: true, stdout: 2 })
    const code = wasi.start(new WebAssembly.Instance(new WebAssembly.Module(bytes), wasi.getImportObject()))
    parentPort.postMessage({ ms: performance.now() - t0, code })`
  const w = new Worker(code, { eval: true, workerData: { path: join(built.dir, `${name}.wasm`), args: [name, ...args] }, stderr: true })
  const r = await new Promise<{ ms: number; code: number }>((resolve) => w.once('message', resolve))
  await w.terminate()
  if (r.code !== 0) throw new Error(`${name} under node:wasi in a worker exited ${r.code}`)
  return r.ms
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!

/** µs of a bare worker → main → worker round trip (postMessage, then Atomics.wait/notify). */
async function bridgeFloor(n: number): Promise<number> {
  const { Worker } = await import('node:worker_threads')
  const sab = new SharedArrayBuffer(8)
  const c = new Int32Array(sab)
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads'); const c = new Int32Array(workerData);
     parentPort.once('message', () => { const t0 = performance.now();
       for (let i = 0; i < ${n}; i++) { Atomics.store(c, 0, 0); parentPort.postMessage(i); while (Atomics.load(c, 0) === 0) Atomics.wait(c, 0, 0) }
       parentPort.postMessage({ us: ((performance.now() - t0) / ${n}) * 1000 }) })`,
    { eval: true, workerData: sab },
  )
  const us = await new Promise<number>((resolve) => {
    w.on('message', (m: number | { us: number }) => {
      if (typeof m === 'object') return resolve(m.us)
      void Promise.resolve().then(() => {
        Atomics.store(c, 0, 1)
        Atomics.notify(c, 0)
      })
    })
    w.postMessage('go')
  })
  await w.terminate()
  return us
}

const metrics: BenchMetric[] = []
let floorUs = 0
try {
  floorUs = await bridgeFloor(quick ? 5000 : 20000)
  // Start-up: median of STARTS runs each.
  if (runs('start')) {
  const startCold: number[] = []
  const startWarm: number[] = []
  const startPeer: number[] = []
  for (let i = 0; i < STARTS; i++) {
    startCold.push((await ours('hello', [], cold)).ms)
    startWarm.push((await ours('hello', [])).ms)
    startPeer.push(theirs('hello', []).ms)
  }
  metrics.push(lowerIsBetter('start-up hello (fresh worker)', 'ms', median(startCold), median(startPeer)))
  metrics.push(lowerIsBetter('start-up hello (prewarmed worker)', 'ms', median(startWarm), median(startPeer)))
  }

  if (runs('io')) {
  const [io, ioPeer] = await best('iobench', ['/sandbox', String(MB)])
  const moved = 2 * MB
  metrics.push(higherIsBetter(`file I/O (${MB} MiB written + read, 64 KiB blocks)`, 'MB/s', moved / (io / 1000), moved / (ioPeer / 1000)))
  // The same through the bridge (what any FS other than HostFS gets: honk's KV root, a MemoryFS).
  const [bridged, bridgedPeer] = await best('iobench', ['/sandbox', String(MB)], ROUNDS, { direct: false })
  metrics.push(higherIsBetter(`file I/O through the bridge (io.direct off), ${MB} MiB`, 'MB/s', moved / (bridged / 1000), moved / (bridgedPeer / 1000)))
  }

  if (runs('syscalls'))
  for (const [mode, n] of [['seek', CALLS], ['clock', CALLS], ['fstat', FSTAT_CALLS]] as const) {
    const [a, b] = await best('syscalls', ['/sandbox', mode, String(n)])
    metrics.push(higherIsBetter(`syscalls: ${mode} loop`, 'calls/s', n / (a / 1000), n / (b / 1000)))
  }
  if (runs('compute')) {
  const [cpu, cpuPeer] = await best('compute', [String(COMPUTE_N)])
  metrics.push(lowerIsBetter(`compute (sieve to ${COMPUTE_N})`, 'ms', cpu, cpuPeer))
  // In the worker, against node:wasi in a Worker (best of R each; both timed inside the worker,
  // from the module's start to its exit): what our host costs, the thread hop removed. Both get
  // V8's compiled (and tiered-up) code for bytes seen before: ours from spawnWasm's compile cache,
  // node:wasi from V8's per-process cache of modules still alive (its main-thread runs above).
  let inWorker = Infinity
  let oursRun = Infinity
  for (let i = 0; i < ROUNDS; i++) {
    oursRun = Math.min(oursRun, (await ours('compute', [String(COMPUTE_N)])).runMs)
    inWorker = Math.min(inWorker, await nodeWasiInWorker('compute', [String(COMPUTE_N)]))
  }
  metrics.push(lowerIsBetter(`compute in a worker (start→exit), peer: node:wasi in a Worker`, 'ms', oursRun, inWorker))
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

report('proc', {
  name: 'WebAssembly processes (WASI preview1)',
  peer: `node:wasi (Node ${process.versions.node}, same modules, same host directory)`,
  setup: { worker: useDist ? 'dist/wasi-worker.js' : 'sources (tsx)', quick, rounds: ROUNDS, ioMiB: MB, calls: CALLS, fstatCalls: FSTAT_CALLS, starts: STARTS, bridgeFloorUs: Number(floorUs.toFixed(1)) },
  metrics,
})
process.exit(0)
