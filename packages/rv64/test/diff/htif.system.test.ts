/**
 * A program in the riscv-tests style (a `.tohost` section; RVTEST_PASS stores 1 to `tohost`,
 * RVTEST_FAIL stores (n << 1) | 1), built with Debian's cross gcc, runs unchanged: the ELF
 * loader finds `tohost` and the HTIF device there ends the run with the test's code.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createSystem, loadElf, mapHtif } from '../../src/index.js'
import { GCC, MARCH, toolsPresent } from './runner.js'

const SOURCE = (check: string) => `
  .section .text.init, "ax"
  .globl _start
_start:
  li a0, 6
  li a1, 7
  mul a2, a0, a1
  li a3, ${check}
  bne a2, a3, fail
pass:
  li t0, 1
  la t1, tohost
  sd t0, 0(t1)
1: j 1b
fail:
  li t0, (3 << 1) | 1   # test number 3 failed
  la t1, tohost
  sd t0, 0(t1)
2: j 2b

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .align 6
  .globl fromhost
fromhost: .dword 0
`

function run(check: number) {
  const dir = mkdtempSync(join(tmpdir(), 'honk-htif-'))
  writeFileSync(join(dir, 't.S'), SOURCE(String(check)))
  // The layout of riscv-tests' env/p/link.ld: code at 0x8000_0000, .tohost on its own page after it.
  writeFileSync(join(dir, 'link.ld'), 'OUTPUT_ARCH(riscv)\nENTRY(_start)\nSECTIONS {\n  . = 0x80000000;\n  .text.init : { *(.text.init) }\n  . = ALIGN(0x1000);\n  .tohost : { *(.tohost) }\n  .text : { *(.text) }\n}\n')
  execFileSync(GCC, [`-march=${MARCH}`, '-mabi=lp64', '-nostdlib', '-nostartfiles', '-static', '-fno-pie', '-no-pie', '-mcmodel=medany', '-T', join(dir, 'link.ld'), '-Wl,--no-warn-rwx-segments', '-Wl,--build-id=none', join(dir, 't.S'), '-o', join(dir, 't.elf')])
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  const elf = loadElf(sys.bus, new Uint8Array(readFileSync(join(dir, 't.elf'))))
  expect(mapHtif(sys.bus, elf.symbols)).toBeDefined()
  sys.harts[0]!.pc = elf.entry
  return sys.run(100_000)
}

describe.skipIf(!toolsPresent())('riscv-tests convention (tohost)', () => {
  it('RVTEST_PASS ends with code 0, RVTEST_FAIL with the failing test number', () => {
    expect(run(42)).toMatchObject({ reason: 'exit', code: 0 })
    expect(run(41)).toMatchObject({ reason: 'exit', code: 3 })
  })
})
