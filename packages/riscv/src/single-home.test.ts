/**
 * Issue #13, "One home for each fact": the machine's numbers are written once, here, and read
 * by everyone else. This scans the code (not comments, not tests) of every other package and
 * example for the fingerprints of a copied table — a CSR map, an SBI extension ID, a board
 * address, a finisher value, a bare interrupt number, the PLIC's register offsets — so a copy
 * that would drift from this one fails here instead.
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
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.includes('test-helpers')) yield p
  }
}

/** The code of a file with comments blanked out (line numbers kept). */
export function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => c.replace(/[^\n]/g, ' '))
}

const FINGERPRINTS: readonly [string, RegExp][] = [
  ['an SBI extension ID', /\b0x(54494d45|735049|52464e43|48534d|53525354|4442434e|504d55)n?\b/i],
  ['a virt board address', /\b0x(1000_?1000|0?c00_?0000|1000_?0000|0?200_?0000|0?010_?0000|0?010_?1000)n?\b/i],
  ['the timebase', /\b10_?000_?000n?\b/],
  ['a SiFive finisher value', /\b0x(3333|5555|7777)\b/i],
  ['a CSR table', /\b(sstatus|sie|sip|scause|sepc|stval|stvec|satp|mstatus|mcause|mepc|mtval|mie|mip|time)\s*:\s*0x/],
  ['a CSR number', /\b(getCsr|setCsr|csrRead|csrWrite)\([^)]*\b0x[0-9a-f]{3}\b/i],
  ['a bare interrupt number', /\b(setIrq|setSoftIrq|softIrq)\((\s*\d|[^,]*\?\s*\d+\s*:\s*\d)|\bIRQ_\w+\s*=\s*\d/],
  ['a PLIC register offset', /0x20_?0004|0x20_?0000\s*\+\s*0x1000|0x2000\s*\+\s*0x80/],
]

describe('one home for each fact', () => {
  it('no package or example outside @honk/riscv writes a machine fact as a literal', () => {
    const found: string[] = []
    for (const top of ['packages', 'examples'])
      for (const pkg of readdirSync(join(root, top))) {
        const src = join(root, top, pkg, 'src')
        if (pkg === 'riscv' || !statSync(join(root, top, pkg)).isDirectory()) continue
        let files: string[]
        try {
          files = [...sources(src)]
        } catch {
          continue // no src
        }
        for (const f of files)
          code(readFileSync(f, 'utf8'))
            .split('\n')
            .forEach((line, i) => {
              for (const [what, re] of FINGERPRINTS) if (re.test(line)) found.push(`${relative(root, f)}:${i + 1}: ${what}: ${line.trim()}`)
            })
      }
    expect(found).toEqual([])
  })

  it('the scan sees a copy when there is one (and not in comments)', () => {
    const hits = (text: string) => code(text).split('\n').filter((l) => FINGERPRINTS.some(([, re]) => re.test(l))).length
    expect(hits("const CSR = { sstatus: 0x100, sie: 0x104 }")).toBe(1)
    expect(hits('h.setIrq(ctx & 1 ? 9 : 11, level)')).toBe(1)
    expect(hits('const IRQ_SEI = 9')).toBe(1)
    expect(hits("port.sbi(h, 0x54494d45, 0, [t])")).toBe(1)
    expect(hits('bus.map(0x1000_0000, uart)')).toBe(1)
    expect(hits('// sifive,test: 0x5555 = pass\n/* getCsr(0x342) */')).toBe(0)
  })
})
