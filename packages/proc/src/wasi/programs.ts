/**
 * Test and benchmark support (not exported from the package): the C programs of
 * scripts/guest/wasm, built by scripts/guest/build-wasm-examples.sh, and runs of a module under
 * Node's own `node:wasi` for comparison.
 */
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { WASI } from 'node:wasi'
import { wasmApi, type WasmMemory } from './wasm-api.js'

const SCRIPT = fileURLToPath(new URL('../../../../scripts/guest/build-wasm-examples.sh', import.meta.url))

/**
 * Builds (or finds in the cache) the programs; returns their directory, or the reason it could
 * not. Under CI=true a missing toolchain is an error for the caller to fail on, not a skip.
 */
export function buildPrograms(): { dir: string } | { error: string } {
  try {
    const out = execFileSync('bash', [SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 })
    return { dir: out.trim().split('\n').pop()! }
  } catch (e) {
    return { error: `scripts/guest/build-wasm-examples.sh failed: ${(e as Error).message}` }
  }
}

export function program(dir: string, name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${dir}/${name}.wasm`))
}

export interface NodeWasiRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs `bytes` under node:wasi on this thread, stdout into `stdoutFile`. */
export function runNodeWasi(bytes: Uint8Array, o: { args: string[]; env: Record<string, string>; preopens: Record<string, string>; stdoutFile: string; stderrFile: string }): NodeWasiRun {
  const fd = openSync(o.stdoutFile, 'w')
  const efd = openSync(o.stderrFile, 'w')
  try {
    const wasi = new WASI({ version: 'preview1', args: o.args, env: o.env, preopens: o.preopens, returnOnExit: true, stdout: fd, stderr: efd })
    const mod = new wasmApi.Module(bytes)
    const instance = new wasmApi.Instance(mod, wasi.getImportObject() as unknown as Record<string, Record<string, unknown>>)
    void (instance.exports['memory'] as WasmMemory)
    const code = wasi.start(instance as never)
    return { code, stdout: readFileSync(o.stdoutFile, 'utf8'), stderr: readFileSync(o.stderrFile, 'utf8') }
  } finally {
    // Not closed here: node:wasi (uvwasi) closes its descriptors itself when the WASI object is
    // collected, and closing them first let a later file reuse the number (Node aborted).
    void closeSync
  }
}
