/**
 * `honk-wasi`: runs one WebAssembly module under our WASI (Node). The command line the
 * WebAssembly/wasi-testsuite runner's adapters produce (see wasi-testsuite-adapter.py):
 *
 *   honk-wasi [--env NAME=VALUE]… [--dir HOST[::GUEST]]… [--mount HOST:GUEST]… FILE.wasm [ARG]…
 *
 * The module gets exactly the given environment, each directory preopened (through @honk/vfs
 * HostFS) under its guest name (default: as given), argv = [FILE, ARG…], this process's stdin,
 * stdout and stderr. Exits with the module's exit code; a trap is 134 (as an abort), a signal
 * 128 + N, a broken limit 137, all with the reason on stderr.
 */
import { HostFS } from '@honk/vfs/node'
import { readFileSync } from 'node:fs'
import type { FS } from '@honk/vfs'
import { spawnWasm } from '../node.js'
import { ProcessTable } from '../table.js'
import type { WasiStdin } from './server.js'

/** process.stdin as a WasiStdin, read only when the module asks. */
function processStdin(): WasiStdin {
  const chunks: Buffer[] = []
  let ended = false
  let waiters: (() => void)[] = []
  let started = false
  const start = (): void => {
    if (started) return
    started = true
    process.stdin.on('data', (b: Buffer) => {
      chunks.push(b)
      for (const w of waiters.splice(0)) w()
    })
    process.stdin.on('end', () => {
      ended = true
      for (const w of waiters.splice(0)) w()
    })
  }
  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      waiters.push(resolve)
      if (ms >= 0) setTimeout(() => {
        waiters = waiters.filter((w) => w !== resolve)
        resolve()
      }, ms)
    })
  return {
    async read(max) {
      start()
      while (chunks.length === 0 && !ended) await wait(-1)
      const first = chunks[0]
      if (!first) return new Uint8Array(0)
      const out = first.subarray(0, max)
      if (out.length === first.length) chunks.shift()
      else chunks[0] = first.subarray(max)
      process.stdin.unref?.()
      return new Uint8Array(out)
    },
    async ready(timeoutMs) {
      start()
      if (chunks.length > 0 || ended) return true
      if (timeoutMs === 0) return false
      await wait(timeoutMs)
      return chunks.length > 0 || ended
    },
  }
}

export interface CliArgs {
  env: Record<string, string>
  dirs: [host: string, guest: string][]
  file: string
  args: string[]
}

/** Parses the command line (throws on a malformed one). */
export function parseArgs(argv: readonly string[]): CliArgs {
  const env: Record<string, string> = {}
  const dirs: [string, string][] = []
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]!
    const next = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--env') {
      const kv = next()
      const eq = kv.indexOf('=')
      if (eq <= 0) throw new Error(`--env ${kv}: expected NAME=VALUE`)
      env[kv.slice(0, eq)] = kv.slice(eq + 1)
    } else if (a === '--dir') {
      const d = next()
      const sep = d.indexOf('::')
      dirs.push(sep >= 0 ? [d.slice(0, sep), d.slice(sep + 2)] : [d, d])
    } else if (a === '--mount') {
      const d = next()
      const sep = d.lastIndexOf(':')
      if (sep <= 0) throw new Error(`--mount ${d}: expected HOST:GUEST`)
      dirs.push([d.slice(0, sep), d.slice(sep + 1)])
    } else if (a === '--') {
      i++
      break
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}`)
    else break
  }
  const file = argv[i]
  if (file === undefined) throw new Error('usage: honk-wasi [--env NAME=VALUE]… [--dir HOST[::GUEST]]… FILE.wasm [ARG]…')
  return { env, dirs, file, args: argv.slice(i + 1) as string[] }
}

/** Runs the module; resolves with the exit status for this process. */
export async function runCli(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--version') {
    process.stdout.write('honk-wasi 0.1.0\n')
    return 0
  }
  const a = parseArgs(argv)
  const preopens: Record<string, FS> = {}
  for (const [host, guest] of a.dirs) preopens[guest] = new HostFS(host)
  const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
  const p = spawnWasm(new Uint8Array(readFileSync(a.file)), {
    table, args: [a.file, ...a.args], env: a.env, preopens, caps: ['fs', 'console'], stdin: processStdin(),
    stdout: (b) => process.stdout.write(b), stderr: (b) => process.stderr.write(b),
  })
  const e = await p.exit
  if (e.code !== undefined) return e.code
  process.stderr.write(`honk-wasi: ${e.info.exitReason ?? 'ended'}\n`)
  if (e.error?.code === 'WASM_SIGNAL') return 128 + (e.error as { signal: number }).signal
  if (e.error?.code?.startsWith('WASM_LIMIT')) return 137
  return 134
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))
if (isMain) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      // Let stdout and stderr drain before leaving.
      process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
    },
    (err: unknown) => {
      process.stderr.write(`honk-wasi: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(2)
    },
  )
}
