import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decode, Op } from '../decode.js'
import { createSystem } from '../system.js'
import { AsmError, assemble, liSequence } from './asm.js'
import { disassemble } from './disasm.js'
import { lookupOpcode, OPCODES } from './opcodes.js'
import { startTrace, traceLine } from './trace.js'

const word32 = fc.integer({ min: 0, max: 0xffffffff }).map((w) => (w | 3) >>> 0)

describe('opcode table', () => {
  it('every entry decodes to its own operation', () => {
    for (const e of OPCODES) expect([e.name, decode(e.match).op]).toEqual([e.name, e.op])
  })

  it('the decoder agrees with the table on arbitrary words', () => {
    fc.assert(
      fc.property(word32, (w) => {
        expect(decode(w).op).toBe(lookupOpcode(w)?.op ?? Op.ILLEGAL)
      }),
      { numRuns: 50_000 },
    )
  })

  it('names are unique', () => {
    expect(new Set(OPCODES.map((e) => e.name)).size).toBe(OPCODES.length)
  })
})

describe('the decoder built from the table', () => {
  // Words from GNU as 2.40 (`-march=rv64gc_zfh_zbb`, objdump -M no-aliases), with the operands
  // objdump printed: each immediate format of the unprivileged spec §2.3 at its extremes.
  const cases: [word: number, name: string, rd: number, rs1: number, rs2: number, immN: number][] = [
    [0xffb50513, 'addi', 10, 10, 27, -5],
    [0xfffff5b7, 'lui', 11, 31, 31, 0xfffff000 | 0],
    [0x80000617, 'auipc', 12, 0, 0, 0x80000000 | 0],
    [0x801ff0ef, 'jal', 1, 31, 1, -2048],
    [0x800302e7, 'jalr', 5, 6, 0, -2048],
    [0x80b50063, 'beq', 0, 10, 11, -4096],
    [0x7eb57fe3, 'bgeu', 31, 10, 11, 4094],
    [0x7ff12683, 'lw', 13, 2, 31, 2047],
    [0x80e13023, 'sd', 0, 2, 14, -2048],
    [0xfe051fa7, 'fsh', 31, 10, 0, -1],
    [0x40051087, 'flh', 1, 10, 0, 1024],
    [0x03f79793, 'slli', 15, 15, 31, 63],
    [0x41f8581b, 'sraiw', 16, 16, 31, 31],
    [0x6218d893, 'rori', 17, 17, 1, 33],
    [0xfff3a373, 'csrrs', 6, 7, 31, 0xfff],
    [0x340fd3f3, 'csrrwi', 7, 31, 0, 0x340],
    [0xe1df3e2f, 'amomaxu.d', 28, 30, 29, 0x1c],
    [0x19df2e2f, 'sc.w', 28, 30, 29, 0x03],
    [0x100f3e2f, 'lr.d', 28, 30, 0, 0],
    [0x0420b053, 'fadd.h', 0, 1, 2, 0],
  ]
  it("gives each format's immediate, sign-extended, and the register fields", () => {
    for (const [w, name, rd, rs1, rs2, immN] of cases) {
      const d = decode(w)
      expect([name, d.op, d.rd, d.rs1, d.rs2, d.immN, d.imm, d.len, d.inst]).toEqual([name, lookupOpcode(w)!.op, rd, rs1, rs2, immN, BigInt(immN), 4, w])
    }
  })
})

describe('assemble ∘ disassemble', () => {
  it('every instruction the hart decodes prints as text that assembles back to it (up to ignored fields)', () => {
    let checked = 0
    fc.assert(
      fc.property(word32, (w) => {
        if (decode(w).op === Op.ILLEGAL) return
        checked++
        const text = disassemble(w, 0n, { relative: true })
        const { bytes } = assemble(text)
        expect(bytes.length).toBe(4)
        const again = new DataView(bytes.buffer).getUint32(0, true)
        expect(disassemble(again, 0n, { relative: true })).toBe(text)
        expect(decode(again).op).toBe(decode(w).op)
      }),
      { numRuns: 30_000 },
    )
    expect(checked).toBeGreaterThan(1000)
  })

  it('compressed instructions print as their expansion, which assembles (with rvc) to a compressed form', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }).filter((h) => (h & 3) !== 3), (h) => {
        const d = decode(h)
        if (d.op === Op.ILLEGAL) return
        const text = disassemble(h, 0n, { relative: true })
        const hasTarget = /\.[+-]\d/.test(text)
        const { bytes } = assemble(text, { compress: true })
        expect(bytes.length).toBe(hasTarget ? 4 : 2)
        const back = bytes.length === 2 ? new DataView(bytes.buffer).getUint16(0, true) : new DataView(bytes.buffer).getUint32(0, true)
        expect(decode(back).inst).toBe(d.inst)
      }),
      { numRuns: 20_000 },
    )
  })
})

function runProgram(source: string, budget = 10_000) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  const { bytes, symbols } = assemble(`${source}\nend: j end`, { base: 0x8000_0000 })
  sys.bus.writeBytes(0x8000_0000, bytes)
  const hart = sys.harts[0]!
  hart.addBreakpoint(symbols.get('end')!)
  const r = sys.run(budget)
  return { hart, r, symbols }
}

describe('assembler', () => {
  it('li loads every 64-bit constant in at most 8 instructions', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (v) => {
        expect(liSequence(v).length).toBeLessThanOrEqual(8)
        const { hart } = runProgram(`li a0, ${v}\nli a1, ${BigInt.asUintN(64, v)}`)
        expect(hart.getX(10)).toBe(BigInt.asUintN(64, v))
        expect(hart.getX(11)).toBe(BigInt.asUintN(64, v))
      }),
      { numRuns: 300 },
    )
  })

  it('labels, numeric local labels, la, call/ret and data directives work in a running program', () => {
    const { hart, r } = runProgram(`
      # sum 1..10 with a local loop, then call a function on a table
      li a0, 0; li a1, 10
    1: add a0, a0, a1; addi a1, a1, -1; bnez a1, 1b
      la s1, table
      call load_second
      j end
    load_second:
      ld a2, 8(s1)
      ret
      .align 3
    table: .dword 1, 0x1122334455667788
      .asciz "hi"
      .align 2
    `)
    expect(r.reason).toBe('breakpoint')
    expect(hart.getX(10)).toBe(55n)
    expect(hart.getX(12)).toBe(0x1122334455667788n)
  })

  it('the pseudo-instructions mean what the manual says', () => {
    const { hart } = runProgram(`
      li t0, -5; li t1, 7
      mv a0, t0; not a1, t1; neg a2, t1; seqz a3, zero; snez a4, t1; sltz a5, t0; sgtz a6, t1
      li t2, 0xfffffffff; sext.w a7, t2; zext.w s2, t0; zext.b s3, t0; negw s4, t1
      li s5, 0
      bgt t1, t0, 1f; addi s5, s5, 1
    1: ble t0, t1, 2f; addi s5, s5, 2
    2: bgtu t0, t1, 3f; addi s5, s5, 4
    3: bleu t1, t0, 4f; addi s5, s5, 8
    4: csrr s6, mhartid; csrwi mscratch, 9; csrr s7, mscratch
    `)
    const u = (v: bigint) => BigInt.asUintN(64, v)
    expect([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23].map((r) => hart.getX(r))).toEqual(
      [u(-5n), u(~7n), u(-7n), 1n, 1n, 1n, 1n, u(-1n), 0xfffffffbn, 0xfbn, u(-7n), 0n, 0n, 9n],
    )
  })

  it('reports what and where for bad input', () => {
    const bad: [string, RegExp][] = [
      ['nop\nfoo a0, a1', /line 2: unknown instruction "foo"/],
      ['addi a0, a0, 4096', /does not fit in a signed 12-bit field/],
      ['beq a0, a1, nowhere', /undefined label "nowhere"/],
      ['add a0, a1', /takes 3 operands, got 2/],
      ['add a0, a1, q7', /"q7" is not an integer register/],
      ['x: nop\nx: nop', /label "x" defined twice/],
      ['j 1b', /no local label 1 before/],
      ['.align 3\n.foo', /unsupported directive .foo/],
      ['li a0, 0x1ffffffffffffffff', /does not fit in 64 bits/],
    ]
    for (const [src, msg] of bad) {
      const err = (() => {
        try {
          assemble(src)
        } catch (e) {
          return e
        }
        return undefined
      })()
      expect(err, src).toBeInstanceOf(AsmError)
      expect((err as AsmError).message, src).toMatch(msg)
    }
  })

  it('.option rvc compresses what it can', () => {
    const { bytes } = assemble('.option rvc\naddi a0, a0, 1\nadd a0, a0, a1\nlui a5, 0x12345\n.option norvc\naddi a0, a0, 1')
    expect(bytes.length).toBe(2 + 2 + 4 + 4)
  })
})

describe('trace', () => {
  it('prints each executed instruction objdump-style', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    sys.bus.writeBytes(0x8000_0000, assemble('.option rvc\nli a0, 3\n1: addi a0, a0, -1\nbnez a0, 1b\nebreak').bytes)
    const lines: string[] = []
    const stop = startTrace(sys.harts[0]!, (l) => lines.push(l))
    sys.run(100)
    stop()
    expect(lines[0]).toBe('0000000080000000: 450d      addi\ta0,zero,3')
    expect(lines).toHaveLength(1 + 3 * 2 + 1)
    expect(lines.at(-1)).toMatch(/ebreak$/)
    expect(traceLine(0x8000_0000, decode(0x00000073))).toBe('0000000080000000: 00000073  ecall')
  })
})
