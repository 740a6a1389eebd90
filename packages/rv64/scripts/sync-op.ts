/**
 * `pnpm --filter @honk/rv64 sync-op`: copies the `Op` enum of src/op.ts into the files that switch
 * on it at run time (COPIES), between their BEGIN/END markers. esbuild (tsx, vitest) transforms a
 * file at a time and inlines only a const enum declared in the same file: a `case Op.ADD:` on the
 * imported enum stays a property load, and V8 compiles such a switch to a chain of compares
 * instead of a jump table (docs/RATIONALE.md "Why do hart.ts and fpu.ts carry a copy of Op?").
 * `src/op-copies.test.ts` fails when a copy differs from op.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

export const COPIES: readonly string[] = ['src/hart.ts', 'src/fpu.ts']
export const BEGIN = '// BEGIN copy of src/op.ts (scripts/sync-op.ts)'
export const END = '// END copy of src/op.ts'

/** The enum's declaration in op.ts, without `export`. */
export function enumOf(opSource: string): string {
  const m = /export const enum Op \{[\s\S]*?\n\}/.exec(opSource)
  if (!m) throw new Error('src/op.ts: `export const enum Op { … }` not found')
  return m[0].replace('export const enum Op', 'const enum Op')
}

/** `source` with the text between its markers replaced by `declaration`. */
export function withCopy(source: string, declaration: string, file: string): string {
  const a = source.indexOf(BEGIN)
  const b = source.indexOf(END)
  if (a < 0 || b < a) throw new Error(`${file}: the markers ${JSON.stringify(BEGIN)} … ${JSON.stringify(END)} are missing`)
  return `${source.slice(0, a + BEGIN.length)}\n${declaration}\n${source.slice(b)}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  const declaration = enumOf(readFileSync(join(root, 'src/op.ts'), 'utf8'))
  for (const file of COPIES) {
    const path = join(root, file)
    const before = readFileSync(path, 'utf8')
    const after = withCopy(before, declaration, file)
    if (after !== before) writeFileSync(path, after)
    console.log(`${file}: ${after === before ? 'up to date' : 'updated'}`)
  }
}
