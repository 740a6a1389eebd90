import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { enter, EPILOGUE, PRELUDE, pte, toM } from './hyp-asm.js'
import { CASES, EXT_CASES } from './hyp-cases.js'
import { compare, toolsPresent } from './runner.js'

/**
 * A guest for random streams: G stage Sv39x4 and VS stage Sv39, both mapping RAM 1:1 with
 * gigapages (A and D clear in the VS stage: the hart sets them), the stream in VS mode.
 */
const guest = (stream: string): string => `${PRELUDE}
    ${pte('rg_root', 0, 'li t2, 0', 0xd7)}
    ${pte('rg_root', 2, 'li t2, 0x80000000', 0xdf)}
    ${pte('rv_root', 2, 'li t2, 0x80000000', 0x0f)}
    la t0, rg_root; srli t0, t0, 12; li t1, 8; slli t1, t1, 60; or t0, t0, t1; csrw hgatp, t0
    la t0, rv_root; srli t0, t0, 12; li t1, 8; slli t1, t1, 60; or t0, t0, t1; csrw vsatp, t0
    hfence.gvma
    ${enter('vs', '1f')}
    1: ${stream}
    ${toM(2)}
    csrw hgatp, zero; csrw vsatp, zero; hfence.gvma
    la t0, rv_root; ld s6, 16(t0)
    ${EPILOGUE}
    .section .bss
    .align 14
rg_root: .space 16384
rv_root: .space 4096
    .text`

/**
 * The hypervisor extension against QEMU (`-cpu rv64,h=true`; ours `hypervisor: true`): the trap
 * log (every trap's handler, cause, tval, htval/mtval2, htinst/mtinst, SPV/SPVP/MPV/MPP), every
 * register and the harness's trap CSRs must match.
 */
describe.skipIf(!toolsPresent())('the H extension against QEMU (differential)', () => {
  for (const [name, body] of Object.entries(CASES)) {
    it(name, () => {
      const { qemu, diff } = compare(body, { hypervisor: true })
      expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/) // QEMU ran the whole harness
      expect(qemu.split('\n').length).toBeGreaterThan(70)
      expect(diff).toEqual([])
    })
  }

  for (const [name, body] of Object.entries(EXT_CASES)) {
    it(name, () => {
      const { qemu, diff } = compare(body, { hypervisor: true, qemuCpu: ',svinval=true,svpbmt=true' })
      expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/)
      expect(diff).toEqual([])
    })
  }

  it('random instruction streams in VS mode over two-stage translation (fast-check)', () => {
    const regs = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 's2', 's3', 's4', 's5']
    const reg = fc.constantFrom(...regs)
    const rr = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw', 'mul', 'mulh', 'mulhu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'remuw', 'sh1add', 'andn', 'max', 'minu', 'rol', 'bext']
    const ins = fc.oneof(
      fc.tuple(fc.constantFrom(...rr), reg, reg, reg).map(([o, d, a, b]) => `${o} ${d}, ${a}, ${b}`),
      fc.tuple(fc.constantFrom('addi', 'xori', 'andi', 'slti', 'addiw'), reg, reg, fc.integer({ min: -2048, max: 2047 })).map(([o, d, a, i]) => `${o} ${d}, ${a}, ${i}`),
      fc.tuple(fc.constantFrom('slli', 'srli', 'srai', 'rori'), reg, reg, fc.nat(63)).map(([o, d, a, i]) => `${o} ${d}, ${a}, ${i}`),
      fc.tuple(reg, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })).map(([d, v]) => `li ${d}, 0x${v.toString(16)}`),
      fc.tuple(fc.constantFrom('sd', 'sw', 'sh', 'sb'), reg, fc.nat(500)).map(([o, r, off]) => `${o} ${r}, ${off}(s1)`),
      fc.tuple(fc.constantFrom('ld', 'lw', 'lwu', 'lh', 'lhu', 'lb', 'lbu'), reg, fc.nat(500)).map(([o, r, off]) => `${o} ${r}, ${off}(s1)`),
      fc.tuple(fc.constantFrom('amoadd.d', 'amoswap.w', 'amomaxu.d'), reg, reg).map(([o, d, a]) => `${o} ${d}, ${a}, (s1)`),
      fc.tuple(fc.constantFrom('beq', 'bne', 'blt', 'bgeu'), reg, reg).map(([o, a, b]) => `${o} ${a}, ${b}, 1f; addi a0, a0, 1; 1:`),
      fc.tuple(reg, reg).map(([a, b]) => `csrw sscratch, ${a}; csrr ${b}, sscratch`), // vsscratch
      fc.constant('csrr a5, sstatus'), // vsstatus (SD, FS, SPP …)
    )
    fc.assert(
      fc.property(fc.array(ins, { minLength: 5, maxLength: 60 }), (program) => {
        const stream = ['la s1, scratch', ...regs.map((r, i) => `li ${r}, ${(0x9e3779b97f4a7c15n * BigInt(i + 1)) & ((1n << 64n) - 1n)}`), ...program, 'sub s1, s1, s1'].join('\n')
        const { qemu, diff } = compare(guest(stream), { hypervisor: true })
        expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/)
        expect(diff).toEqual([])
      }),
      { numRuns: 25 },
    )
  })
})
