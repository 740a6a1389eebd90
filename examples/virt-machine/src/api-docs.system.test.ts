/**
 * `pnpm api-docs` (issue #13): TypeDoc over every package prints no warning (typedoc.json sets
 * treatWarningsAsErrors, so a type used but not exported fails it), documents every subpath a
 * package exports, and every "Defined in" source link points at a file that exists.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
let out: string
let run: ReturnType<typeof spawnSync>

function htmlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? htmlFiles(join(dir, e.name)) : e.name.endsWith('.html') ? [join(dir, e.name)] : []))
}

beforeAll(() => {
  // Written where docs/api would be (same depth), so the relative source links resolve the same way.
  out = mkdtempSync(join(root, 'docs', '.api-test-'))
  run = spawnSync('pnpm', ['exec', 'typedoc', '--out', out], { cwd: root, encoding: 'utf8', timeout: 300_000 })
}, 300_000)

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true })
})

describe('pnpm api-docs', () => {
  it('prints no warning and no error', () => {
    const text = `${String(run.stdout)}${String(run.stderr)}`
    expect(text).not.toMatch(/\[warning\]|\[error\]/)
    expect(run.status, text).toBe(0)
  })

  it('documents every subpath each package exports', () => {
    for (const dir of readdirSync(join(root, 'packages'))) {
      const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> }
      const entries = (JSON.parse(readFileSync(join(root, 'packages', dir, 'typedoc.json'), 'utf8')) as { entryPoints: string[] }).entryPoints.map((e) => `./${e}`)
      for (const [sub, conds] of Object.entries(pkg.exports)) expect(entries, `${dir} ${sub}`).toContain(conds['@honk/source'])
    }
  })

  it('every source link points at a file that exists', () => {
    let links = 0
    const broken: string[] = []
    for (const page of htmlFiles(out))
      for (const m of readFileSync(page, 'utf8').matchAll(/href="([^"#]+)#L\d+"/g)) {
        links++
        if (!existsSync(resolve(dirname(page), m[1]!))) broken.push(`${page.slice(out.length)} → ${m[1]}`)
      }
    expect(links).toBeGreaterThan(1000)
    expect(broken.slice(0, 10)).toEqual([])
  })
})
