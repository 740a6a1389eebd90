/**
 * Issue #13 acceptance: `@honk/kernel` imports no emulator package. The kernel reaches the
 * machine only through its port, so neither its code nor anything it installs may be
 * `@honk/rv64` (the machine facts it needs come from `@honk/riscv`, data only).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const packages = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const EMULATOR = '@honk/rv64'

/** name → runtime dependencies, for every workspace package. */
function workspace(): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const dir of readdirSync(packages)) {
    try {
      const pkg = JSON.parse(readFileSync(join(packages, dir, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> }
      m.set(pkg.name, Object.keys(pkg.dependencies ?? {}))
    } catch {
      // not a package
    }
  }
  return m
}

describe('@honk/kernel layering', () => {
  it('installs no emulator: @honk/rv64 is not among its dependencies, direct or transitive', () => {
    const deps = workspace()
    const seen = new Set<string>()
    const visit = (name: string) => {
      for (const d of deps.get(name) ?? []) if (!seen.has(d)) (seen.add(d), visit(d))
    }
    visit('@honk/kernel')
    expect(seen.has('@honk/riscv')).toBe(true)
    expect(seen.has(EMULATOR)).toBe(false)
  })

  it('imports no emulator in its code', () => {
    const offenders = readdirSync(dirname(fileURLToPath(import.meta.url)))
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => new RegExp(`from '${EMULATOR}`).test(readFileSync(join(dirname(fileURLToPath(import.meta.url)), f), 'utf8')))
    expect(offenders).toEqual([])
  })
})
