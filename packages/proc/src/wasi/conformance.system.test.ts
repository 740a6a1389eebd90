/**
 * Conformance against Node's built-in `node:wasi`: C programs built with Debian's clang and
 * wasi-libc run under ours (a worker, the bridge, @honk/vfs HostFS) and under node:wasi, each on
 * its own copy of the same preopened host directory. stdout, the exit code and the resulting
 * tree must be equal. Needs the toolchain (scripts/guest/build-wasm-examples.sh installs it);
 * under CI=true its absence fails the tests instead of skipping them.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, lstatSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HostFS } from '@honk/vfs/node'
import { afterAll, describe, expect, it } from 'vitest'
import { spawnWasm } from '../node.js'
import { ProcessTable } from '../table.js'
import { buildPrograms, program, runNodeWasi } from './programs.js'

const built = buildPrograms()
const ci = process.env['CI'] === 'true'
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function seed(): string {
  const d = mkdtempSync(join(tmpdir(), 'honk-wasi-'))
  dirs.push(d)
  mkdirSync(join(d, 'sandbox'))
  writeFileSync(join(d, 'sandbox', 'input.txt'), 'The quick brown fox\njumps over the lazy dog\n')
  mkdirSync(join(d, 'sandbox', 'existing'))
  writeFileSync(join(d, 'sandbox', 'existing', 'file'), 'x')
  return join(d, 'sandbox')
}

/** The tree under `root`: path → "dir" | "file:<content>" | "link:<target>". */
function tree(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name
      const st = lstatSync(join(root, r))
      if (st.isSymbolicLink()) out[r] = `link:${readlinkSync(join(root, r))}`
      else if (st.isDirectory()) {
        out[r] = 'dir'
        walk(r)
      } else out[r] = `file:${readFileSync(join(root, r), 'utf8')}`
    }
  }
  walk('')
  return out
}

async function runOurs(bytes: Uint8Array, o: { args: string[]; env: Record<string, string>; dir: string }): Promise<{ code: number | undefined; stdout: string; stderr: string; error: unknown }> {
  const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
  const out: Uint8Array[] = []
  const err: Uint8Array[] = []
  const p = spawnWasm(bytes, { table, args: o.args, env: o.env, preopens: { '/sandbox': new HostFS(o.dir) }, caps: ['fs', 'console'], stdout: (b) => out.push(b), stderr: (b) => err.push(b) })
  const e = await p.exit
  return { code: e.code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), error: e.error }
}

/**
 * Where node:wasi itself is wrong, the POSIX answer, checked in our output instead: Node 20's
 * uvwasi fails poll_oneoff fd subscriptions (poll() returns -1 for a writable stdout and a
 * readable file), where POSIX and the WASI spec say the descriptors are ready.
 */
const NODE_WASI_DIVERGES: Record<string, [theirs: RegExp, posix: string][]> = {
  clockpoll: [
    [/^poll stdout: .*$/m, 'poll stdout: 1 out=1'],
    [/^poll file: .*$/m, 'poll file: 1 in=1'],
  ],
}

const CASES: { name: string; args: string[]; env?: Record<string, string> }[] = [
  { name: 'fileio', args: ['fileio', '/sandbox'] },
  { name: 'args_env', args: ['args_env', 'one', 'two words', 'ünïcödé', '42'], env: { FOO: 'bar', HOME: '/sandbox', EMPTY: '' } },
  { name: 'args_env', args: ['args_env', '0'] },
  { name: 'clockpoll', args: ['clockpoll', '/sandbox'] },
  { name: 'textool', args: ['textool', 'upper', '/sandbox/input.txt', '/sandbox/out.txt'] },
  { name: 'textool', args: ['textool', 'wc', '/sandbox/input.txt'] },
  { name: 'textool', args: ['textool', 'wc', '/sandbox/missing'] },
  { name: 'textool', args: ['textool', 'wc', '/etc/passwd'] },
  { name: 'hello', args: ['hello'] },
]

describe.skipIf(!ci && 'error' in built)('C programs under ours and node:wasi', () => {
  it('the toolchain built the programs', () => {
    expect('error' in built ? built.error : '').toBe('')
  })
  for (const c of CASES) {
    it(`${c.args.join(' ')}: same stdout, exit code and files`, async () => {
      if ('error' in built) throw new Error(built.error)
      const bytes = program(built.dir, c.name)
      const env = c.env ?? {}
      const a = seed()
      const b = seed()
      const theirs = runNodeWasi(bytes, { args: c.args, env, preopens: { '/sandbox': a }, stdoutFile: join(a, '..', 'stdout'), stderrFile: join(a, '..', 'stderr') })
      const ours = await runOurs(bytes, { args: c.args, env, dir: b })
      expect(ours.error).toBeUndefined()
      let expected = theirs.stdout
      for (const [re, posix] of NODE_WASI_DIVERGES[c.name] ?? []) {
        expect(ours.stdout).toContain(posix)
        expected = expected.replace(re, posix)
      }
      expect(ours.stdout).toBe(expected)
      expect(ours.stderr).toBe(theirs.stderr)
      expect(ours.code).toBe(theirs.code)
      expect(tree(b)).toEqual(tree(a))
      // Each case shows something: output, an exit code or a changed tree.
      expect(ours.stdout.length + ours.stderr.length + (ours.code ?? 0) + Object.keys(tree(b)).length).toBeGreaterThan(3)
    })
  }
})

describe.skipIf(!ci && 'error' in built)('the wasi-testsuite adapter (wasi-testsuite-adapter.py → cli.ts)', () => {
  const adapter = fileURLToPath(new URL('../../wasi-testsuite-adapter.py', import.meta.url))
  it('--version prints NAME VERSION', () => {
    expect(execFileSync('python3', [adapter, '--version'], { encoding: 'utf8' })).toBe('honk 0.1.0\n')
  })
  it('runs a module with exactly the given args, env and dirs; exits with its code', () => {
    if ('error' in built) throw new Error(built.error)
    const dir = seed()
    const r = spawnSync('python3', [adapter, '--test-file', join(built.dir, 'args_env.wasm'), '--arg', 'x', '--arg', '5', '--env', 'FOO=bar'], { encoding: 'utf8' })
    expect(r.status).toBe(5)
    expect(r.stdout).toContain('argv[1]=x\n')
    expect(r.stdout).toContain('env: FOO=bar\nFOO=bar\n')
    expect(r.stdout.match(/^env: /gm)).toHaveLength(1)
    const wc = spawnSync('python3', [adapter, '--test-file', join(built.dir, 'textool.wasm'), '--arg', 'wc', '--arg', '/sb/input.txt', '--dir', `${dir}::/sb`], { encoding: 'utf8' })
    expect([wc.status, wc.stdout]).toEqual([0, '2 9 44 /sb/input.txt\n'])
    const out = spawnSync('python3', [adapter, '--test-file', join(built.dir, 'textool.wasm'), '--arg', 'wc', '--arg', '/etc/passwd'], { encoding: 'utf8' })
    expect([out.status, out.stderr]).toEqual([1, 'textool: Capabilities insufficient\n'])
  })
})
