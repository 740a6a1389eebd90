/**
 * The packages as an outside user gets them (issue #13, "Ready to publish, checked as an outside
 * user would"): each package is packed with `pnpm pack`, the tarballs are installed with npm into
 * a fresh project outside the workspace, and the first ```js example of every package README runs
 * there with plain `node` — no tsx, no `@honk/source` condition, no workspace links. It must exit
 * 0 and print exactly the ```text block the README shows after it.
 *
 * Needs the packages built (`pnpm build`; run here if a `dist` is missing or older than its `src`) and the npm registry
 * for third-party dependencies (@noble/*).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const packagesDir = join(root, 'packages')
const packages = readdirSync(packagesDir).filter((d) => existsSync(join(packagesDir, d, 'package.json')))

/** The README's first fenced block, which must be ```js, and the ```text block right after it (at most one line of prose between). */
export function readmeExample(readme: string): { code: string; output: string | undefined } {
  const first = /^```(\w*)\n([\s\S]*?)^```$/m.exec(readme)
  if (!first || first[1] !== 'js') throw new Error(`the first code block is ${first ? `\`\`\`${first[1]}` : 'missing'}, not \`\`\`js`)
  const rest = readme.slice(first.index + first[0].length)
  const out = /^\n*(?:[^\n`]+\n\n?)?```text\n([\s\S]*?\n)```$/m.exec(rest)
  return { code: first[2]!, output: out && out.index === 0 ? out[1]!.replace(/\n$/, '') : undefined }
}

/** The environment of a plain `node` a user runs: nothing vitest or pnpm added. */
function plainEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (k === 'NODE_OPTIONS' || k.startsWith('VITEST') || k.startsWith('npm_') || k.startsWith('PNPM')) delete env[k]
  return env
}

let work: string
let tarballs: Map<string, string> // package name → tarball path

function npmProject(dir: string, deps: readonly string[]): void {
  mkdirSync(dir, { recursive: true })
  // Every @honk/* resolves to its tarball (overrides), so nothing of ours is fetched from a registry.
  const overrides = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'outside-user', private: true, type: 'module', dependencies: Object.fromEntries(deps.map((d) => [d, overrides[d]])), overrides }, null, 2))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env: plainEnv(), stdio: 'pipe', timeout: 300_000 })
}

/** Newest modification time of the files under `dir` (0 if it does not exist). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0
  return Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)))
}

/** A package whose dist is missing or older than its sources would be packed stale. */
const stale = (p: string) => !existsSync(join(packagesDir, p, 'dist')) || newest(join(packagesDir, p, 'src')) > newest(join(packagesDir, p, 'dist'))

beforeAll(() => {
  if (packages.some(stale)) execFileSync('pnpm', ['-r', '--filter', './packages/*', 'build'], { cwd: root, stdio: 'pipe', timeout: 600_000 })
  work = mkdtempSync(join(tmpdir(), 'honk-pack-'))
  const dest = join(work, 'tarballs')
  tarballs = new Map()
  for (const p of packages) {
    const dir = join(packagesDir, p)
    const name = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name
    const before = new Set(existsSync(dest) ? readdirSync(dest) : [])
    execFileSync('pnpm', ['pack', '--pack-destination', dest], { cwd: dir, stdio: 'pipe', timeout: 120_000 })
    const made = readdirSync(dest).filter((f) => !before.has(f))
    expect(made, `pnpm pack in ${dir}`).toHaveLength(1)
    tarballs.set(name, join(dest, made[0]!))
  }
  npmProject(join(work, 'app'), [...tarballs.keys()])
}, 900_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('packed packages, installed with npm outside the workspace', () => {
  it('publish manifests carry no workspace-only parts (the @honk/source condition, workspace: ranges)', () => {
    for (const name of tarballs.keys()) {
      const manifest = JSON.parse(readFileSync(join(work, 'app', 'node_modules', name, 'package.json'), 'utf8')) as {
        exports: Record<string, Record<string, string>>
        dependencies?: Record<string, string>
      }
      const exportsMap = manifest.exports
      // publishConfig.exports replaces the whole map at pack time: a subpath added to `exports`
      // but not to it would silently vanish from the tarball.
      const dir = packages.find((p) => tarballs.get(name)!.includes(`/honk-${p}-`))!
      const workspaceExports = (JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports
      expect(Object.keys(exportsMap).sort(), `${name}'s published subpaths`).toEqual(Object.keys(workspaceExports).sort())
      expect(JSON.stringify(exportsMap), name).not.toContain('@honk/source')
      expect(JSON.stringify(manifest.dependencies ?? {}), name).not.toContain('workspace:')
      // Every file an export points at is in the tarball.
      for (const [sub, conds] of Object.entries(exportsMap))
        for (const target of Object.values(conds)) expect(existsSync(join(work, 'app', 'node_modules', name, target)), `${name} ${sub} → ${target}`).toBe(true)
    }
  })

  it.each(packages)('the first example of packages/%s/README.md runs verbatim with plain node', (p) => {
    const { code, output } = readmeExample(readFileSync(join(packagesDir, p, 'README.md'), 'utf8'))
    const file = join(work, 'app', `readme-${p}.mjs`)
    writeFileSync(file, code)
    const r = spawnSync(process.execPath, [file], { cwd: join(work, 'app'), env: plainEnv(), encoding: 'utf8', timeout: 120_000 })
    expect(r.stderr, `stderr of ${p}'s README example`).toBe('')
    expect(r.status, `exit status of ${p}'s README example`).toBe(0)
    if (output !== undefined) expect(r.stdout.replace(/\n$/, '')).toBe(output)
  })

  it('@honk/p9 installs without @honk/virtio or @honk/rv64 (it only needs their shapes)', () => {
    const dir = join(work, 'p9-only')
    npmProject(dir, ['@honk/p9'])
    const installed = readdirSync(join(dir, 'node_modules', '@honk')).sort()
    expect(installed).toEqual(['block', 'errors', 'kv', 'p9', 'vfs'])
  })
})

describe('readmeExample', () => {
  it('takes the first ```js block and the ```text block after it', () => {
    expect(readmeExample('# x\n\n```js\nconsole.log(1)\n```\n\nPrints:\n\n```text\n1\n```\n\nmore\n```js\nno\n```\n')).toEqual({ code: 'console.log(1)\n', output: '1' })
    expect(readmeExample('```js\na\n```\n\nProse.\n\n## Next\n\n```text\nfar\n```\n')).toEqual({ code: 'a\n', output: undefined })
    expect(() => readmeExample('```ts\nconst a: number = 1\n```\n')).toThrow(/not ```js/)
  })
})
