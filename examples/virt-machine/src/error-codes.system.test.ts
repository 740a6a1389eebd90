/**
 * Issue #13, "Typed error codes: a `code` typo should not compile" — as a user of the built
 * packages sees it: the `HonkErrorClasses` registrations must survive the .d.ts bundling, so a
 * program compiled against `dist/` (no `@honk/source` condition) gets the same checks as the
 * workspace. Builds @honk/p9 and its dependencies (errors, block, kv, vfs) and runs `tsc` on a
 * small consumer in a temporary project whose node_modules link to the packages.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
let work: string

const CONSUMER = `
import { HonkError } from '@honk/errors'
import { KvCorruptError } from '@honk/kv'
import { FsError } from '@honk/vfs'
import { P9RemoteError } from '@honk/p9'

export function where(e: unknown): string | undefined {
  // Narrowed to KvCorruptError: its own property, no cast.
  if (HonkError.is(e, 'KV_CORRUPT')) return e.where
  // A code two classes carry narrows to both.
  if (HonkError.is(e, 'ENOENT')) return e instanceof P9RemoteError ? e.op : e.path
  return undefined
}
export const classes = [KvCorruptError, FsError]
`

function compile(source: string): { status: number | null; out: string } {
  writeFileSync(join(work, 'consumer.ts'), source)
  const r = spawnSync(process.execPath, [tsc, '-p', work], { encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, out: r.stdout + r.stderr }
}

beforeAll(() => {
  execFileSync('pnpm', ['-r', '--filter', '@honk/p9...', 'build'], { cwd: root, stdio: 'pipe', timeout: 600_000 })
  work = mkdtempSync(join(tmpdir(), 'honk-codes-'))
  mkdirSync(join(work, 'node_modules', '@honk'), { recursive: true })
  for (const p of ['errors', 'block', 'kv', 'vfs', 'p9']) symlinkSync(join(root, 'packages', p), join(work, 'node_modules', '@honk', p))
  // What a user's project has: strict, bundler resolution, no @honk/source condition (so the exports' `types` → dist).
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['consumer.ts'] }),
  )
}, 900_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('error codes through the built .d.ts', () => {
  it('a registered code narrows to its class; the program compiles', () => {
    const r = compile(CONSUMER)
    expect(r.out).toBe('')
    expect(r.status).toBe(0)
  })

  it('a code typo does not compile, in is() and in a subclass', () => {
    const r = compile(`${CONSUMER}
export const typo = (e: unknown) => HonkError.is(e, 'KV_CORUPT')
export class Mine extends HonkError<'MINE'> {
  constructor() {
    super('MNIE', 'x')
  }
}
`)
    expect(r.status).not.toBe(0)
    expect(r.out).toMatch(/consumer\.ts\(\d+,\d+\): error TS2345: Argument of type '"KV_CORUPT"' is not assignable/)
    expect(r.out).toMatch(/consumer\.ts\(\d+,\d+\): error TS2345: Argument of type '"MNIE"' is not assignable to parameter of type '"MINE"'/)
  })
})
