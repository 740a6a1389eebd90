/**
 * The disassembler and the assembler against GNU binutils (Debian's riscv64-linux-gnu
 * `as`/`objdump`): random instructions the hart decodes must print exactly as `objdump -d
 * -M no-aliases` prints them, and our assembler must produce the same bytes as `as` for the
 * same text.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { decode, Op } from '../decode.js'
import { assemble } from './asm.js'
import { CSR_NAMES } from './names.js'
import { disassemble } from './disasm.js'
import { OPCODES } from './opcodes.js'

const AS = 'riscv64-linux-gnu-as'
const OBJDUMP = 'riscv64-linux-gnu-objdump'
const OBJCOPY = 'riscv64-linux-gnu-objcopy'
const LD = 'riscv64-linux-gnu-ld'
const ARCH = '-march=rv64gc_zfh_zba_zbb_zbs_zbc_zicbom_zicboz_svinval_h'
const present = spawnSync(AS, ['--version']).status === 0
const dir = mkdtempSync(join(tmpdir(), 'honk-binutils-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** 32-bit words the hart decodes, weighted so every table entry shows up. */
const decodable = fc
  .tuple(fc.constantFrom(...OPCODES.filter((e) => e.ext !== 'Zicond')), fc.integer({ min: 0, max: 0xffffffff })) // binutils 2.40 predates Zicond
  .map(([e, noise]) => ((noise & ~e.mask) | e.match) >>> 0)
  .map((w) => ((w & 0x7f) === 0x73 && ((w >>> 12) & 7) !== 0 ? knownCsr(w) : w))
  .filter((w) => decode(w).op !== Op.ILLEGAL && canonicalFence(w))

/** CSR instructions get a CSR number the hart implements (objdump names CSRs the hart does not have). */
const CSR_NUMBERS = [...CSR_NAMES.keys()]
function knownCsr(w: number): number {
  return ((w & 0xfffff) | (CSR_NUMBERS[(w >>> 20) % CSR_NUMBERS.length]! << 20)) >>> 0
}

/**
 * Fences whose reserved fields are not zero (fm other than TSO, rd/rs1, fence.i's immediate)
 * execute as plain fences (unprivileged spec §2.7, §3.1) but binutils shows them as data and
 * cannot assemble them; they are left out of the comparison.
 */
function canonicalFence(w: number): boolean {
  if ((w & 0x7f) !== 0x0f) return true
  if (((w >>> 12) & 7) === 1) return w === 0x0000100f
  const fm = w >>> 28
  const pred = (w >>> 24) & 15
  const succ = (w >>> 20) & 15
  return (w & 0x000f8f80) === 0 && pred !== 0 && succ !== 0 && (fm === 0 || (fm === 8 && pred === 3 && succ === 3))
}

function gasObject(source: string): string {
  const src = join(dir, 't.S')
  const obj = join(dir, 't.o')
  writeFileSync(src, `\t.text\n\t.option norelax\n\t.option norvc\n${source}\n`)
  execFileSync(AS, [ARCH, src, '-o', obj], { stdio: 'pipe' })
  return obj
}

/** The .text bytes of `source` assembled by as and linked at address 0 (relocations applied). */
function gasBytes(source: string): Uint8Array {
  const obj = gasObject(source)
  const elf = join(dir, 't.elf')
  const bin = join(dir, 't.bin')
  execFileSync(LD, ['--no-relax', '-Ttext=0', '-e', '0', obj, '-o', elf], { stdio: 'pipe' })
  execFileSync(OBJCOPY, ['-O', 'binary', '-j', '.text', elf, bin])
  return new Uint8Array(readFileSync(bin))
}

describe.skipIf(!present)('against GNU binutils', () => {
  it('disassemble() prints what objdump -M no-aliases prints', () => {
    const words = fc.sample(decodable, { numRuns: 4000, seed: 42 })
    const obj = gasObject(words.map((w) => `\t.insn 0x${w.toString(16)}`).join('\n'))
    const dump = execFileSync(OBJDUMP, ['-d', '-M', 'no-aliases', obj], { encoding: 'utf8', maxBuffer: 64 << 20 })
    const lines = dump.split('\n').filter((l) => /^\s+[0-9a-f]+:\t/.test(l))
    expect(lines).toHaveLength(words.length)
    const mismatches: string[] = []
    lines.forEach((line, i) => {
      const [, addr, , text] = /^\s+([0-9a-f]+):\t([0-9a-f]+)\s+\t(.*)$/.exec(line)!
      // objdump appends `<symbol>` to targets and `# address` hints to memory operands.
      const theirs = text!.replace(/\s+#.*$/, '').replace(/\s+<[^>]*>$/, '').trim()
      const ours = disassemble(words[i]!, BigInt(`0x${addr!}`))
      if (ours !== theirs) mismatches.push(`${words[i]!.toString(16).padStart(8, '0')}: objdump "${theirs}" ours "${ours}"`)
    })
    expect(mismatches.slice(0, 20)).toEqual([])
  })

  it('assemble() produces the bytes as produces for the same text', () => {
    const words = fc.sample(decodable, { numRuns: 4000, seed: 7 })
    const text = words.map((w) => disassemble(w, 0n, { relative: true }))
    const theirs = gasBytes(text.map((t) => `\t${t}`).join('\n'))
    const ours = assemble(text.join('\n')).bytes
    expect(ours.length).toBe(theirs.length)
    const mismatches: string[] = []
    const tv = new DataView(theirs.buffer, theirs.byteOffset)
    const ov = new DataView(ours.buffer)
    for (let i = 0; i < text.length; i++) {
      const a = tv.getUint32(i * 4, true)
      const b = ov.getUint32(i * 4, true)
      if (a !== b) mismatches.push(`"${text[i]}": as ${a.toString(16)} ours ${b.toString(16)}`)
    }
    expect(mismatches.slice(0, 20)).toEqual([])
  })

  it('pseudo-instructions and directives assemble like as', () => {
    const source = [
      'start: li a0, 0x123456789abcdef0', 'li a1, -1', 'li a2, 0x7fffffff', 'li a3, 0x80000000', 'li a4, 4096', 'li a5, -2048',
      'la t0, data', 'call fn', 'tail fn', 'mv a0, a1', 'not a0, a1', 'neg a0, a1', 'negw a0, a1', 'sext.w a0, a1', 'seqz a0, a1', 'snez a0, a1',
      'sltz a0, a1', 'sgtz a0, a1', 'beqz a0, start', 'bnez a0, start', 'blez a0, start', 'bgez a0, start', 'bltz a0, start', 'bgtz a0, start',
      'bgt a0, a1, start', 'ble a0, a1, start', 'bgtu a0, a1, start', 'bleu a0, a1, start', 'j start', 'jal start', 'jr a0', 'jalr a0', 'ret',
      'csrr a0, mstatus', 'csrw mtvec, a0', 'csrs mie, a0', 'csrc mip, a0', 'csrwi mscratch, 3', 'csrsi mstatus, 8', 'csrci mstatus, 8',
      'rdcycle a0', 'rdtime a0', 'rdinstret a0', 'fence', 'fence rw, w', 'sfence.vma', 'sfence.vma a0', 'nop', 'amoadd.w.aqrl a0, a1, (a2)', 'lr.d.aq a0, (a1)',
      'fmv.d fa0, fa1', 'fneg.s ft0, ft1', 'fabs.d fs0, fs1', 'frcsr a0', 'fscsr a1', 'fsrm a0, a1', 'frflags t0', 'fadd.d fa0, fa1, fa2, rtz', 'fmadd.s fa0, fa1, fa2, fa3', 'fld fa0, 8(sp)', 'fsw ft3, -4(a0)', 'fcvt.w.d a0, fa0, rtz', 'fcvt.d.w fa0, a0', 'fmv.x.d a0, fa0',
      'fn: ret', '.align 3', 'data: .dword 0x1122334455667788', '.word 5, 6', '.half 7', '.byte 1, 2', '.asciz "ok\\n"', '.align 2', 'end: nop', 'nop',
    ].join('\n')
    expect([...assemble(source).bytes]).toEqual([...gasBytes(source)])
  })

  it('li of arbitrary 64-bit constants matches as instruction for instruction', () => {
    const values = fc.sample(fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.bigInt({ min: -(1n << 33n), max: 1n << 33n }), fc.integer().map(BigInt)), { numRuns: 1000, seed: 3 })
    const source = values.map((v) => `li a0, ${v}`).join('\n')
    expect([...assemble(source).bytes]).toEqual([...gasBytes(source)])
  })
})
