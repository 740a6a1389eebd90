// The page of the browser test (bundled by esbuild, run in Chromium): WebAssembly processes with
// the package's core only — spawnWasm, a MemoryFS preopen, browser Workers.
import { MemoryFS } from '@honk/vfs'
import { treeOf } from '@honk/vfs/testing'
import { browserWasmWorkers, ProcessTable, spawnWasm, type BrowserWorkerLike } from '../../src/index.ts'

// The browser's globals, typed here (the repo compiles without the DOM library).
const page = globalThis as unknown as { Worker: new (url: string, options: { type: 'module' }) => BrowserWorkerLike; document: { title: string }; crossOriginIsolated?: boolean }
const workers = browserWasmWorkers(() => new page.Worker('/worker.js', { type: 'module' }))
const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
const dec = new TextDecoder()


interface Run {
  code: number | undefined
  stdout: string
  tree: Record<string, string>
  killed: boolean
  ms: number
  isolated: boolean
}

/** Runs /wasm/<name>.wasm with a MemoryFS of `files` at /sandbox; kills it after `killAfterMs` if given. */
async function run(name: string, args: string[], files: Record<string, string>, killAfterMs?: number): Promise<Run> {
  const bytes = new Uint8Array(await (await fetch(`/wasm/${name}.wasm`)).arrayBuffer())
  const fs = new MemoryFS({ files })
  const out: Uint8Array[] = []
  const t0 = performance.now()
  const p = spawnWasm(bytes, { table, workers, args, preopens: { '/sandbox': fs }, caps: ['fs', 'console'], stdout: (b) => out.push(b.slice()) })
  if (killAfterMs !== undefined) setTimeout(() => p.kill('test'), killAfterMs)
  const e = await p.exit
  table.reap()
  const stdout = out.map((b) => dec.decode(b)).join('')
  return { code: e.code, stdout, tree: await treeOf(fs), killed: e.info.state === 'killed', ms: performance.now() - t0, isolated: page.crossOriginIsolated === true }
}

;(globalThis as unknown as { honkRun: typeof run }).honkRun = run
page.document.title = 'ready'
