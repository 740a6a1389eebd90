/**
 * Issue #13, "Typed error codes": every error class of every package and example names its code
 * as a literal type (`extends HonkError<'X'>`) and is listed in `HonkErrorClasses`, so the code
 * checks of `super()` and `HonkError.is()` cover it. A class that extends `HonkError` without a
 * code type, or that no `HonkErrorClasses` block lists, fails here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) yield* sources(p)
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) yield p
  }
}

describe('the error class registry', () => {
  it('every HonkError subclass names its code and is registered', () => {
    const classes: { name: string; where: string; typed: boolean }[] = []
    const registered = new Set<string>()
    for (const top of ['packages', 'examples'])
      for (const pkg of readdirSync(join(root, top))) {
        const src = join(root, top, pkg, 'src')
        let files: string[]
        try {
          files = [...sources(src)]
        } catch {
          continue
        }
        for (const f of files) {
          const text = readFileSync(f, 'utf8')
          for (const m of text.matchAll(/class (\w+) extends HonkError\b(<)?/g)) classes.push({ name: m[1]!, where: relative(root, f), typed: m[2] === '<' })
          for (const block of text.matchAll(/interface HonkErrorClasses \{([^}]*)\}/g)) for (const e of block[1]!.matchAll(/^\s*(\w+)\s*:/gm)) registered.add(e[1]!)
        }
      }
    expect(classes.length).toBeGreaterThan(40)
    expect(classes.filter((c) => !c.typed).map((c) => `${c.where}: ${c.name} has no code type`)).toEqual([])
    expect(classes.filter((c) => !registered.has(c.name)).map((c) => `${c.where}: ${c.name} is not in HonkErrorClasses`)).toEqual([])
  })
})
