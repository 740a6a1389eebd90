/**
 * WebAssembly processes in a real browser (Debian's Chromium through playwright-core): the
 * package's core — spawnWasm, the SharedArrayBuffer bridge, browser Workers, a MemoryFS — on a
 * cross-origin-isolated page. The C conformance programs must give the same stdout, exit code
 * and files as the same runs in Node; a module spinning forever is killed at once. Under
 * CI=true a missing Chromium or toolchain fails the test; elsewhere it skips.
 */
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { MemoryFS } from '@honk/vfs'
import { treeOf } from '@honk/vfs/testing'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnWasm } from '../node.js'
import { ProcessTable } from '../table.js'
import { buildPrograms, program } from './programs.js'

const CHROMIUM = '/usr/bin/chromium'
const ci = process.env['CI'] === 'true'
const built = buildPrograms()
const ready = existsSync(CHROMIUM) && !('error' in built)
const here = fileURLToPath(new URL('.', import.meta.url))

/** Bundles the test's page and worker for the browser (the package's sources, ESM). */
async function bundle(entry: string): Promise<string> {
  const r = await build({ entryPoints: [join(here, '../../test/browser', entry)], bundle: true, format: 'esm', platform: 'browser', target: 'chrome110', write: false, conditions: ['@honk/source'], logLevel: 'silent' })
  return r.outputFiles[0]!.text
}

let server: Server | undefined
let browser: Browser | undefined
let page: Page | undefined
beforeAll(async () => {
  if (!ready) return
  const files = new Map<string, { type: string; body: string | Buffer }>([
    ['/', { type: 'text/html', body: '<!doctype html><title>loading</title><script type="module" src="/page.js"></script>' }],
    ['/page.js', { type: 'text/javascript', body: await bundle('page.ts') }],
    ['/worker.js', { type: 'text/javascript', body: await bundle('worker.ts') }],
  ])
  server = createServer((req, res) => {
    const url = req.url ?? '/'
    const wasm = /^\/wasm\/(\w+)\.wasm$/.exec(url)
    const f = wasm && !('error' in built) ? { type: 'application/wasm', body: readFileSync(join(built.dir, `${wasm[1]}.wasm`)) } : files.get(url)
    if (f === undefined) return void res.writeHead(404).end()
    // Cross-origin isolation: without it the page has no SharedArrayBuffer.
    res.writeHead(200, { 'content-type': f.type, 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }).end(f.body)
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${a.port}/`)
  await page.waitForFunction(() => (globalThis as unknown as { document: { title: string } }).document.title === 'ready', undefined, { timeout: 30_000 })
}, 120_000)
afterAll(async () => {
  await browser?.close()
  server?.close()
})

interface Run {
  code: number | undefined
  stdout: string
  tree: Record<string, string>
  killed: boolean
  ms: number
  isolated: boolean
}
function inBrowser(name: string, args: string[], files: Record<string, string>, killAfterMs?: number): Promise<Run> {
  return page!.evaluate(([n, a, f, k]) => (globalThis as unknown as { honkRun: (...x: unknown[]) => Promise<Run> }).honkRun(n, a, f, k), [name, args, files, killAfterMs] as const)
}

async function inNode(name: string, args: string[], files: Record<string, string>): Promise<{ code: number | undefined; stdout: string; tree: Record<string, string> }> {
  if ('error' in built) throw new Error(built.error)
  const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
  const fs = new MemoryFS({ files })
  const out: Uint8Array[] = []
  const e = await spawnWasm(program(built.dir, name), { table, args, preopens: { '/sandbox': fs }, caps: ['fs', 'console'], stdout: (b) => out.push(b) }).exit
  return { code: e.code, stdout: Buffer.concat(out).toString(), tree: await treeOf(fs) }
}

const SEED = { 'input.txt': 'The quick brown fox\njumps over the lazy dog\n', 'existing/file': 'x' }
const CASES: [string, string[]][] = [
  ['fileio', ['fileio', '/sandbox']],
  ['textool', ['textool', 'upper', '/sandbox/input.txt', '/sandbox/out.txt']],
  ['args_env', ['args_env', 'one', 'two words']],
  ['clockpoll', ['clockpoll', '/sandbox']],
]

describe.skipIf(!ci && !ready)('WebAssembly processes in Chromium (core only: browser Workers, a MemoryFS)', () => {
  it('the page is cross-origin isolated, so SharedArrayBuffer exists', async () => {
    expect(ready, `Chromium at ${CHROMIUM} and the wasm toolchain are needed`).toBe(true)
    const r = await inBrowser('hello', ['hello'], {})
    expect(r.isolated).toBe(true)
    expect([r.code, r.stdout]).toEqual([0, (await inNode('hello', ['hello'], {})).stdout])
  }, 60_000)

  it.each(CASES)('%s: the same stdout, exit code and files as in Node', async (name, args) => {
    const theirs = await inNode(name, args, SEED)
    const ours = await inBrowser(name, args, SEED)
    expect({ code: ours.code, stdout: ours.stdout, tree: ours.tree }).toEqual(theirs)
  }, 60_000)

  it('kill stops a module spinning forever at once (the page stays responsive)', async () => {
    const r = await inBrowser('loop', ['loop'], {}, 300)
    expect(r.killed).toBe(true)
    expect(r.ms).toBeLessThan(3000)
  }, 60_000)
})
