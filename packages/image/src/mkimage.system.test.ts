/**
 * `honk-mkimage` as a real program (issue #12 case 15): the hostile-input table of
 * mkimage.test-helpers.ts, each case a child process of the entry point, so an exception that
 * escaped `main` (a stack trace, an unhandled rejection, exit code 0) would show here.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { HOSTILE, makeFixtures, resolveArgv, snapshot } from './mkimage.test-helpers.js'

const PACKAGE = join(__dirname, '..')

function cli(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/cli.ts', ...argv], { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'honk-mkimage-sys-'))
  await makeFixtures(dir)
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('honk-mkimage child process: hostile input', () => {
  it.each(HOSTILE.filter((c) => !c.inProcessOnly).map((c) => [c.name, c] as const))('%s', async (_, c) => {
    await c.setup?.(dir)
    const before = await snapshot(dir)
    const r = await cli(resolveArgv(c.argv, dir))
    expect(r.code, r.stderr).toBe(c.code)
    expect(r.stdout).toBe('')
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1)
    expect(r.stderr).not.toMatch(/^\s+at |Error:|node:internal/m)
    expect(r.stderr.trimEnd()).toMatch(c.stderr)
    expect(await snapshot(dir)).toEqual(before)
  })

  it('keygen, build, inspect, verify: the whole flow', async () => {
    const key = join(dir, 'dev.key')
    expect((await cli(['keygen', key])).code).toBe(0)
    const build = await cli(['build', '--key', key, join(dir, 'src'), join(dir, 'new.img'), '--version', '3'])
    expect(build.code, build.stderr).toBe(0)
    expect(build.stdout).toMatch(/honk-mkimage: .* -> .*new\.img \(1 files, \d+ bytes, version 3\)/)
    expect((await cli(['inspect', join(dir, 'new.img')])).stdout).toMatch(/version\s+3/)
    expect((await cli(['verify', join(dir, 'new.img'), '--pub', key + '.pub'])).code).toBe(0)
  })
})
