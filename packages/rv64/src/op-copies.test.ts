import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BEGIN, COPIES, END, enumOf, withCopy } from '../scripts/sync-op.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const read = (file: string) => readFileSync(join(root, file), 'utf8')

describe('the same-file copies of Op (scripts/sync-op.ts)', () => {
  const declaration = enumOf(read('src/op.ts'))

  it.each(COPIES)('%s holds exactly the enum of src/op.ts (run `pnpm --filter @honk/rv64 sync-op` after changing op.ts)', (file) => {
    const source = read(file)
    expect(source.includes(BEGIN) && source.includes(END)).toBe(true)
    expect(withCopy(source, declaration, file)).toBe(source)
  })

  it('detects a copy that drifted: an operation added to op.ts only', () => {
    const source = read('src/hart.ts')
    const drifted = declaration.replace('LUI, AUIPC,', 'LUI, NEW_OP, AUIPC,')
    expect(withCopy(source, drifted, 'src/hart.ts')).not.toBe(source)
  })

  it('names a file without its markers', () => {
    expect(() => withCopy('const x = 1\n', declaration, 'src/other.ts')).toThrow(/src\/other\.ts: the markers/)
  })
})
