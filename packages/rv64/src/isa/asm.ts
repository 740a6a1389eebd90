/**
 * The assembler: GNU-as-flavoured RISC-V assembly text → machine code, driven by the opcode
 * table (`opcodes.ts`), so every instruction the hart executes can be written and every line
 * `disassemble()` prints (in `relative` mode) assembles back to the same instruction.
 *
 * Supported: all table instructions with their operand formats, `.aq`/`.rl` suffixes on
 * atomics, labels (`name:`), numeric local labels (`1:` with `1b`/`1f`), `.±N` targets,
 * `#` comments, `;` as a statement separator, the directives `.byte .half .short .word .dword
 * .quad .ascii .asciz .string .zero .space .align .p2align .balign .option rvc/norvc` (and
 * `.globl .global .text .section .type .size`, accepted and ignored), and the pseudo-
 * instructions of the RISC-V assembly manual: `nop li la lla mv not neg negw sext.w zext.b
 * zext.w seqz snez sltz sgtz beqz bnez blez bgez bltz bgtz bgt ble bgtu bleu j jal jr jalr ret
 * call tail csrr csrw csrs csrc csrwi csrsi csrci rdcycle rdtime rdinstret fence sfence.vma`.
 * With `.option rvc` (or `{ compress: true }`), an instruction that has a compressed form and
 * no label operand is emitted as 16 bits.
 */
import { HonkError } from '@honk/errors'
import { expandCompressed } from '../rvc.js'
import { CSR_BY_NAME, REG } from './names.js'
import { BY_NAME, FP_BY_NAME, FREG, RM_NAMES, type FpOpcodeSpec, type OpcodeSpec } from './opcodes.js'

export class AsmError extends HonkError<'ASM_ERROR'> {
  constructor(
    readonly line: number,
    readonly source: string,
    message: string,
  ) {
    super('ASM_ERROR', `line ${line}: ${message} in "${source.trim()}"`)
    this.name = 'AsmError'
  }
}

export interface AssembleOptions {
  /** Address of the first byte (for absolute targets and `la`); default 0. */
  base?: number
  /** Emit compressed forms where one exists (as `.option rvc`). Default false. */
  compress?: boolean
}

export interface Assembled {
  bytes: Uint8Array
  /** Label → address. */
  symbols: Map<string, number>
}

const FREG_NUM: ReadonlyMap<string, number> = new Map([...FREG.map((n, i) => [n, i] as [string, number]), ...Array.from({ length: 32 }, (_, i) => [`f${i}`, i] as [string, number])])
const RM_NUM: ReadonlyMap<string, number> = new Map(RM_NAMES.flatMap((n, i) => (n === 'unknown' ? [] : [[n, i] as [string, number]])))
const REG_NUM: ReadonlyMap<string, number> = new Map([...REG.map((n, i) => [n, i] as [string, number]), ...Array.from({ length: 32 }, (_, i) => [`x${i}`, i] as [string, number]), ['fp', 8]])

interface Stmt {
  line: number
  text: string
  addr: number
  size: number
  /** Emits the bytes once every label is known. */
  emit: (out: Emitter) => void
}

interface Emitter {
  u8(v: number): void
  u16(v: number): void
  u32(v: number): void
  u64(v: bigint): void
}

/** Lazily built: 32-bit expansion → the compressed halfword that expands to it. */
let compressedOf: Map<number, number> | undefined
function compressedForm(inst: number): number | undefined {
  if (!compressedOf) {
    compressedOf = new Map()
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 3) === 3) continue
      const e = expandCompressed(h)
      if (e !== 0 && !compressedOf.has(e)) compressedOf.set(e, h)
    }
  }
  return compressedOf.get(inst >>> 0)
}

/** Assembles `source`. Throws `AsmError` naming the line for anything it cannot encode. */
export function assemble(source: string, options: AssembleOptions = {}): Assembled {
  const base = options.base ?? 0
  const stmts: Stmt[] = []
  const symbols = new Map<string, number>()
  const locals = new Map<string, number[]>() // numeric label → addresses in order
  let pc = base
  let compress = options.compress ?? false

  const lines = source.split('\n')
  for (let ln = 0; ln < lines.length; ln++) {
    const raw = lines[ln]!
    for (let text of splitStatements(stripComment(raw))) {
      text = text.trim()
      // Labels (several may precede one statement).
      for (let m = /^([A-Za-z_.$][\w.$]*|\d+):\s*/.exec(text); m; m = /^([A-Za-z_.$][\w.$]*|\d+):\s*/.exec(text)) {
        const name = m[1]!
        if (/^\d+$/.test(name)) {
          const list = locals.get(name) ?? []
          list.push(pc)
          locals.set(name, list)
        } else {
          if (symbols.has(name)) throw new AsmError(ln + 1, raw, `label "${name}" defined twice`)
          symbols.set(name, pc)
        }
        text = text.slice(m[0].length)
      }
      if (text === '') continue
      const ctx: Ctx = { line: ln + 1, src: raw, addr: pc, symbols, locals, compress }
      const stmt = parseStatement(text, ctx)
      if (stmt === 'rvc' || stmt === 'norvc') {
        compress = stmt === 'rvc'
        continue
      }
      stmts.push({ line: ln + 1, text: raw, addr: pc, size: stmt.size, emit: stmt.emit })
      pc += stmt.size
    }
  }

  const bytes = new Uint8Array(pc - base)
  const view = new DataView(bytes.buffer)
  for (const s of stmts) {
    let at = s.addr - base
    const end = at + s.size
    const check = (n: number) => {
      if (at + n > end) throw new AsmError(s.line, s.text, 'internal: statement emitted more than its size')
    }
    s.emit({
      u8: (v) => (check(1), view.setUint8(at, v & 0xff), (at += 1)),
      u16: (v) => (check(2), view.setUint16(at, v & 0xffff, true), (at += 2)),
      u32: (v) => (check(4), view.setUint32(at, v >>> 0, true), (at += 4)),
      u64: (v) => (check(8), view.setBigUint64(at, BigInt.asUintN(64, v), true), (at += 8)),
    })
  }
  return { bytes, symbols }
}

interface Ctx {
  line: number
  src: string
  addr: number
  symbols: Map<string, number>
  locals: Map<string, number[]>
  compress: boolean
}

type Parsed = { size: number; emit: (out: Emitter) => void } | 'rvc' | 'norvc'

function stripComment(line: string): string {
  let inString = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === '"' && line[i - 1] !== '\\') inString = !inString
    if (!inString && c === '#') return line.slice(0, i)
  }
  return line
}

function splitStatements(line: string): string[] {
  const out: string[] = []
  let inString = false
  let start = 0
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"' && line[i - 1] !== '\\') inString = !inString
    if (!inString && line[i] === ';') {
      out.push(line.slice(start, i))
      start = i + 1
    }
  }
  out.push(line.slice(start))
  return out
}

function splitOperands(s: string): string[] {
  const t = s.trim()
  return t === '' ? [] : t.split(',').map((x) => x.trim())
}

function fail(ctx: Ctx, message: string): never {
  throw new AsmError(ctx.line, ctx.src, message)
}

function reg(ctx: Ctx, s: string | undefined): number {
  const r = s === undefined ? undefined : REG_NUM.get(s.toLowerCase())
  if (r === undefined) fail(ctx, `"${s ?? ''}" is not an integer register`)
  return r
}

function freg(ctx: Ctx, s: string | undefined): number {
  const r = s === undefined ? undefined : FREG_NUM.get(s.toLowerCase())
  if (r === undefined) fail(ctx, `"${s ?? ''}" is not a floating-point register`)
  return r
}

/** The rounding-mode operand (default dyn). */
function rm(ctx: Ctx, s: string | undefined): number {
  if (s === undefined) return 7
  const r = RM_NUM.get(s.toLowerCase())
  if (r === undefined) fail(ctx, `"${s}" is not a rounding mode (rne rtz rdn rup rmm dyn)`)
  return r
}

/** A constant: decimal, 0x hex, 0b binary, 0o octal, 'c', with an optional sign. */
function constant(s: string): bigint | undefined {
  const t = s.replace(/\s+/g, '')
  const m = /^([+-]?)(0x[0-9a-f_]+|0b[01_]+|0o[0-7_]+|\d[\d_]*|'.')$/i.exec(t)
  if (!m) return undefined
  const body = m[2]!
  const v = body.startsWith("'") ? BigInt(body.charCodeAt(1)) : BigInt(body.replace(/_/g, ''))
  return m[1] === '-' ? -v : v
}

function imm(ctx: Ctx, s: string | undefined, bits: number, signed: boolean): number {
  const v = s === undefined ? undefined : constant(s)
  if (v === undefined) fail(ctx, `"${s ?? ''}" is not a constant`)
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n
  if (v < min || v > max) fail(ctx, `${s} does not fit in ${signed ? 'a signed' : 'an unsigned'} ${bits}-bit field`)
  return Number(v)
}

/** A label, `1b`/`1f`, `.±N`, a number (absolute address), or `label±N` → the address. */
function target(ctx: Ctx, s: string | undefined): (() => number) | undefined {
  if (s === undefined) return undefined
  const t = s.replace(/\s+/g, '')
  let m = /^\.([+-]\d+|[+-]0x[0-9a-f]+)?$/i.exec(t)
  if (m) {
    const here = ctx.addr
    const off = m[1] ? Number(constant(m[1])!) : 0
    return () => here + off
  }
  m = /^(\d+)([bf])$/.exec(t)
  if (m) {
    const [, name, dir] = m as unknown as [string, string, string]
    const here = ctx.addr
    const locals = ctx.locals
    return () => {
      const list = locals.get(name) ?? []
      const found = dir === 'b' ? [...list].reverse().find((a) => a <= here) : list.find((a) => a > here)
      if (found === undefined) fail(ctx, `no local label ${name} ${dir === 'b' ? 'before' : 'after'} this line`)
      return found
    }
  }
  m = /^([A-Za-z_.$][\w.$]*)([+-].+)?$/.exec(t)
  if (m && !/^\.[+-]/.test(t)) {
    const name = m[1]!
    const off = m[2] ? constant(m[2]) : 0n
    if (off === undefined) return undefined
    const symbols = ctx.symbols
    return () => {
      const a = symbols.get(name)
      if (a === undefined) fail(ctx, `undefined label "${name}"`)
      return a + Number(off)
    }
  }
  const v = constant(t)
  return v === undefined ? undefined : () => Number(BigInt.asUintN(64, v))
}

function offsetTo(ctx: Ctx, s: string | undefined, bits: number): () => number {
  const t = target(ctx, s)
  if (!t) fail(ctx, `"${s ?? ''}" is not a branch target`)
  const here = ctx.addr
  return () => {
    const off = t() - here
    if (off % 2 !== 0) fail(ctx, `target offset ${off} is odd`)
    if (off < -(2 ** (bits - 1)) || off >= 2 ** (bits - 1)) fail(ctx, `target offset ${off} does not fit in ${bits} bits`)
    return off
  }
}

/** `imm(reg)` or `(reg)`. */
function memOperand(ctx: Ctx, s: string | undefined): [number, number] {
  const m = s === undefined ? null : /^(.*)\(\s*([\w]+)\s*\)$/.exec(s.trim())
  if (!m) fail(ctx, `"${s ?? ''}" is not an offset(register) operand`)
  return [m[1]!.trim() === '' ? 0 : imm(ctx, m[1]!, 12, true), reg(ctx, m[2])]
}

function csr(ctx: Ctx, s: string | undefined): number {
  const named = s === undefined ? undefined : CSR_BY_NAME.get(s.toLowerCase())
  return named ?? imm(ctx, s, 12, false)
}

function fenceSet(ctx: Ctx, s: string | undefined): number {
  if (s === undefined) fail(ctx, 'fence needs two sets')
  if (s === '0') return 0
  let v = 0
  for (const c of s.toLowerCase()) {
    const bit = 'iorw'.indexOf(c)
    if (bit < 0) fail(ctx, `"${s}" is not a fence set (letters of iorw)`)
    v |= 8 >> bit
  }
  return v
}

const encI = (match: number, rd: number, rs1: number, i: number) => (match | (rd << 7) | (rs1 << 15) | ((i & 0xfff) << 20)) >>> 0
const encR = (match: number, rd: number, rs1: number, rs2: number) => (match | (rd << 7) | (rs1 << 15) | (rs2 << 20)) >>> 0
const encS = (match: number, rs1: number, rs2: number, i: number) => (match | ((i & 31) << 7) | (rs1 << 15) | (rs2 << 20) | (((i >> 5) & 0x7f) << 25)) >>> 0
const encB = (match: number, rs1: number, rs2: number, o: number) =>
  (match | (((o >> 11) & 1) << 7) | (((o >> 1) & 0xf) << 8) | (rs1 << 15) | (rs2 << 20) | (((o >> 5) & 0x3f) << 25) | (((o >> 12) & 1) << 31)) >>> 0
const encJ = (match: number, rd: number, o: number) =>
  (match | (rd << 7) | (((o >> 12) & 0xff) << 12) | (((o >> 11) & 1) << 20) | (((o >> 1) & 0x3ff) << 21) | (((o >> 20) & 1) << 31)) >>> 0
const encU = (match: number, rd: number, i20: number) => (match | (rd << 7) | ((i20 & 0xfffff) << 12)) >>> 0

function spec(name: string): OpcodeSpec {
  const e = BY_NAME.get(name)
  if (!e) throw new Error(`opcode table has no ${name}`)
  return e
}

/** One 32-bit instruction whose encoding may depend on labels. */
function one(ctx: Ctx, encode: () => number, hasLabel: boolean): Parsed {
  if (ctx.compress && !hasLabel) {
    const word = encode()
    const c = compressedForm(word)
    if (c !== undefined) return { size: 2, emit: (o) => o.u16(c) }
    return { size: 4, emit: (o) => o.u32(word) }
  }
  return { size: 4, emit: (o) => o.u32(encode()) }
}

function many(words: (() => number)[]): Parsed {
  return { size: 4 * words.length, emit: (o) => words.forEach((w) => o.u32(w())) }
}

/** Encodes a table instruction from its operand text. */
function instruction(ctx: Ctx, e: OpcodeSpec, ops: string[], suffixBits: number): Parsed {
  const want = (n: number) => {
    if (ops.length !== n) fail(ctx, `${e.name} takes ${n} operand${n === 1 ? '' : 's'}, got ${ops.length}`)
  }
  const m = e.match
  switch (e.format) {
    case 'R':
      want(3)
      return one(ctx, () => encR(m, reg(ctx, ops[0]), reg(ctx, ops[1]), reg(ctx, ops[2])), false)
    case 'R1':
      want(2)
      return one(ctx, () => encR(m, reg(ctx, ops[0]), reg(ctx, ops[1]), 0), false)
    case 'I':
      want(3)
      return one(ctx, () => encI(m, reg(ctx, ops[0]), reg(ctx, ops[1]), imm(ctx, ops[2], 12, true)), false)
    case 'SH': {
      want(3)
      const width = e.mask === 0xfe00707f ? 5 : 6
      return one(ctx, () => encR(m, reg(ctx, ops[0]), reg(ctx, ops[1]), 0) | (imm(ctx, ops[2], width, false) << 20), false)
    }
    case 'L':
    case 'JALR': {
      if (e.format === 'JALR' && ops.length === 3) return one(ctx, () => encI(m, reg(ctx, ops[0]), reg(ctx, ops[1]), imm(ctx, ops[2], 12, true)), false)
      want(2)
      return one(ctx, () => {
        const [off, base] = memOperand(ctx, ops[1])
        return encI(m, reg(ctx, ops[0]), base, off)
      }, false)
    }
    case 'S':
      want(2)
      return one(ctx, () => {
        const [off, base] = memOperand(ctx, ops[1])
        return encS(m, base, reg(ctx, ops[0]), off)
      }, false)
    case 'B': {
      want(3)
      const off = offsetTo(ctx, ops[2], 13)
      return one(ctx, () => encB(m, reg(ctx, ops[0]), reg(ctx, ops[1]), off()), true)
    }
    case 'U':
      want(2)
      return one(ctx, () => encU(m, reg(ctx, ops[0]), imm(ctx, ops[1], 20, false)), false)
    case 'J': {
      if (ops.length === 1) ops = ['ra', ops[0]!]
      want(2)
      const off = offsetTo(ctx, ops[1], 21)
      return one(ctx, () => encJ(m, reg(ctx, ops[0]), off()), true)
    }
    case 'CSR':
      want(3)
      return one(ctx, () => encI(m, reg(ctx, ops[0]), reg(ctx, ops[2]), csr(ctx, ops[1])), false)
    case 'CSRI':
      want(3)
      return one(ctx, () => encI(m, reg(ctx, ops[0]), imm(ctx, ops[2], 5, false), csr(ctx, ops[1])), false)
    case 'AMO':
      want(3)
      return one(ctx, () => encR(m | suffixBits, reg(ctx, ops[0]), memOperand(ctx, ops[2])[1], reg(ctx, ops[1])), false)
    case 'LR':
      want(2)
      return one(ctx, () => encR(m | suffixBits, reg(ctx, ops[0]), memOperand(ctx, ops[1])[1], 0), false)
    case 'HLV':
      want(2)
      return one(ctx, () => encR(m, reg(ctx, ops[0]), memOperand(ctx, ops[1])[1], 0), false)
    case 'CBO':
      want(1)
      return one(ctx, () => encR(m, 0, memOperand(ctx, ops[0])[1], 0), false)
    case 'HSV':
      want(2)
      return one(ctx, () => encR(m, 0, memOperand(ctx, ops[1])[1], reg(ctx, ops[0])), false)
    case 'FENCE':
      if (ops.length === 0) ops = ['iorw', 'iorw']
      want(2)
      return one(ctx, () => (m | (fenceSet(ctx, ops[0]) << 24) | (fenceSet(ctx, ops[1]) << 20)) >>> 0, false)
    case 'SFENCE':
      if (ops.length === 0) ops = ['zero', 'zero']
      if (ops.length === 1) ops = [ops[0]!, 'zero']
      want(2)
      return one(ctx, () => encR(m, 0, reg(ctx, ops[0]), reg(ctx, ops[1])), false)
    case 'NONE':
      want(0)
      return one(ctx, () => m, false)
  }
}

/** Encodes an F/D instruction (`[, rm]` operands default to dyn; exact conversions use rne, as GNU as does). */
function fpInstruction(ctx: Ctx, e: FpOpcodeSpec, ops: string[]): Parsed {
  const range = (min: number, max: number) => {
    if (ops.length < min || ops.length > max) fail(ctx, `${e.name} takes ${min === max ? min : `${min} or ${max}`} operands, got ${ops.length}`)
  }
  const m = e.match
  const withRm = (word: number, at: number) => (word | (rm(ctx, ops[at]) << 12)) >>> 0
  switch (e.format) {
    case 'FL':
      range(2, 2)
      return one(ctx, () => {
        const [off, base] = memOperand(ctx, ops[1])
        return encI(m, freg(ctx, ops[0]), base, off)
      }, false)
    case 'FS':
      range(2, 2)
      return one(ctx, () => {
        const [off, base] = memOperand(ctx, ops[1])
        return encS(m, base, freg(ctx, ops[0]), off)
      }, false)
    case 'FR':
      range(3, 3)
      return one(ctx, () => encR(m, freg(ctx, ops[0]), freg(ctx, ops[1]), freg(ctx, ops[2])), false)
    case 'FRRM':
      range(3, 4)
      return one(ctx, () => withRm(encR(m, freg(ctx, ops[0]), freg(ctx, ops[1]), freg(ctx, ops[2])), 3), false)
    case 'FR4':
      range(4, 5)
      return one(ctx, () => withRm(encR(m, freg(ctx, ops[0]), freg(ctx, ops[1]), freg(ctx, ops[2])) | (freg(ctx, ops[3]) << 27), 4), false)
    case 'FR1RM':
      range(2, 3)
      return one(ctx, () => withRm(encR(m, freg(ctx, ops[0]), freg(ctx, ops[1]), 0), 2), false)
    case 'FR1_EXACT':
      range(2, 2)
      return one(ctx, () => encR(m, freg(ctx, ops[0]), freg(ctx, ops[1]), 0), false)
    case 'XFRM':
      range(2, 3)
      return one(ctx, () => withRm(encR(m, reg(ctx, ops[0]), freg(ctx, ops[1]), 0), 2), false)
    case 'XF':
      range(2, 2)
      return one(ctx, () => encR(m, reg(ctx, ops[0]), freg(ctx, ops[1]), 0), false)
    case 'XFF':
      range(3, 3)
      return one(ctx, () => encR(m, reg(ctx, ops[0]), freg(ctx, ops[1]), freg(ctx, ops[2])), false)
    case 'FXRM':
      range(2, 3)
      return one(ctx, () => withRm(encR(m, freg(ctx, ops[0]), reg(ctx, ops[1]), 0), 2), false)
    case 'FX_EXACT':
    case 'FX':
      range(2, 2)
      return one(ctx, () => encR(m, freg(ctx, ops[0]), reg(ctx, ops[1]), 0), false)
  }
}

/** The instruction sequence that puts the 64-bit constant `v` in a register (lui/addi(w)/slli). */
export function liSequence(v: bigint, nested = false): { name: 'lui' | 'addi' | 'addiw' | 'slli'; imm: number }[] {
  v = BigInt.asIntN(64, v)
  if (v >= -(1n << 31n) && v < 1n << 31n) {
    const lo12 = Number(BigInt.asIntN(12, v))
    const hi20 = Number(((v + 0x800n) >> 12n) & 0xfffffn)
    const seq: { name: 'lui' | 'addi' | 'addiw' | 'slli'; imm: number }[] = []
    if (hi20 !== 0) seq.push({ name: 'lui', imm: hi20 })
    // GNU as starts a longer (shifted) sequence with addiw, a lone small constant with addi.
    if (lo12 !== 0 || hi20 === 0) seq.push({ name: hi20 !== 0 || nested ? 'addiw' : 'addi', imm: lo12 })
    return seq
  }
  const lo12 = BigInt.asIntN(12, v)
  let hi = BigInt.asIntN(64, v - lo12) >> 12n // wraps like 64-bit hardware (and GNU as)
  let shift = 12
  while ((hi & 1n) === 0n) {
    hi >>= 1n
    shift++
  }
  const seq = liSequence(hi, true)
  seq.push({ name: 'slli', imm: shift })
  if (lo12 !== 0n) seq.push({ name: 'addi', imm: Number(lo12) })
  return seq
}

function li(ctx: Ctx, rdText: string | undefined, valueText: string | undefined): Parsed {
  const rd = reg(ctx, rdText)
  const v = valueText === undefined ? undefined : constant(valueText)
  if (v === undefined) fail(ctx, `li needs a constant, got "${valueText ?? ''}" (use la for addresses)`)
  if (v < -(1n << 63n) || v >= 1n << 64n) fail(ctx, `${valueText} does not fit in 64 bits`)
  const words = liSequence(v).map(({ name, imm: i }, k) => {
    const e = spec(name)
    const src = k === 0 ? 0 : rd
    return name === 'lui' ? encU(e.match, rd, i) : name === 'slli' ? encR(e.match, rd, src, 0) | (i << 20) : encI(e.match, rd, src, i)
  })
  if (ctx.compress) {
    const parts = words.map((w) => compressedForm(w))
    const size = parts.reduce<number>((n, c) => n + (c === undefined ? 4 : 2), 0)
    return { size, emit: (o) => words.forEach((w, k) => (parts[k] !== undefined ? o.u16(parts[k]!) : o.u32(w))) }
  }
  return many(words.map((w) => () => w))
}

/** auipc + an I-type (addi/jalr) reaching a pc-relative target. */
function pcrel(ctx: Ctx, rdAuipc: number, second: OpcodeSpec, rdSecond: number, t: string | undefined): Parsed {
  const to = target(ctx, t)
  if (!to) fail(ctx, `"${t ?? ''}" is not an address`)
  const here = ctx.addr
  const parts = () => {
    const off = to() - here
    if (off < -(2 ** 31) - 0x800 || off >= 2 ** 31 - 0x800) fail(ctx, `target is ${off} bytes away, beyond ±2 GiB`)
    const lo = (off << 20) >> 20
    return { hi: ((off - lo) >> 12) & 0xfffff, lo }
  }
  return many([() => encU(spec('auipc').match, rdAuipc, parts().hi), () => encI(second.match, rdSecond, rdAuipc, parts().lo)])
}

function parseStatement(text: string, ctx: Ctx): Parsed {
  const m = /^(\S+)\s*(.*)$/.exec(text)!
  const mnemonic = m[1]!.toLowerCase()
  const rest = m[2]!
  if (mnemonic.startsWith('.')) return directive(ctx, mnemonic, rest)
  const ops = splitOperands(rest)
  const r = (i: number) => ops[i]
  const table = (name: string, operands: string[], bits = 0) => instruction(ctx, spec(name), operands, bits)

  switch (mnemonic) {
    case 'nop':
      return table('addi', ['zero', 'zero', '0'])
    case 'li':
      return li(ctx, r(0), r(1))
    case 'la':
    case 'lla':
      return pcrel(ctx, reg(ctx, r(0)), spec('addi'), reg(ctx, r(0)), r(1))
    case 'call':
      return pcrel(ctx, 1, spec('jalr'), 1, r(0))
    case 'tail':
      return pcrel(ctx, 6, spec('jalr'), 0, r(0))
    case 'mv':
      return table('addi', [r(0)!, r(1)!, '0'])
    case 'not':
      return table('xori', [r(0)!, r(1)!, '-1'])
    case 'neg':
      return table('sub', [r(0)!, 'zero', r(1)!])
    case 'negw':
      return table('subw', [r(0)!, 'zero', r(1)!])
    case 'sext.w':
      return table('addiw', [r(0)!, r(1)!, '0'])
    case 'zext.b':
      return table('andi', [r(0)!, r(1)!, '255'])
    case 'zext.w':
      return table('add.uw', [r(0)!, r(1)!, 'zero'])
    case 'seqz':
      return table('sltiu', [r(0)!, r(1)!, '1'])
    case 'snez':
      return table('sltu', [r(0)!, 'zero', r(1)!])
    case 'sltz':
      return table('slt', [r(0)!, r(1)!, 'zero'])
    case 'sgtz':
      return table('slt', [r(0)!, 'zero', r(1)!])
    case 'beqz':
      return table('beq', [r(0)!, 'zero', r(1)!])
    case 'bnez':
      return table('bne', [r(0)!, 'zero', r(1)!])
    case 'blez':
      return table('bge', ['zero', r(0)!, r(1)!])
    case 'bgez':
      return table('bge', [r(0)!, 'zero', r(1)!])
    case 'bltz':
      return table('blt', [r(0)!, 'zero', r(1)!])
    case 'bgtz':
      return table('blt', ['zero', r(0)!, r(1)!])
    case 'bgt':
      return table('blt', [r(1)!, r(0)!, r(2)!])
    case 'ble':
      return table('bge', [r(1)!, r(0)!, r(2)!])
    case 'bgtu':
      return table('bltu', [r(1)!, r(0)!, r(2)!])
    case 'bleu':
      return table('bgeu', [r(1)!, r(0)!, r(2)!])
    case 'j':
      return table('jal', ['zero', r(0)!])
    case 'jr':
      return table('jalr', ['zero', `0(${r(0)!})`])
    case 'jalr':
      if (ops.length === 1) return table('jalr', ['ra', /\(/.test(r(0)!) ? r(0)! : `0(${r(0)!})`])
      if (ops.length === 2 && !/\(/.test(r(1)!)) return table('jalr', [r(0)!, `0(${r(1)!})`])
      return table('jalr', ops)
    case 'ret':
      return table('jalr', ['zero', '0(ra)'])
    case 'csrr':
      return table('csrrs', [r(0)!, r(1)!, 'zero'])
    case 'csrw':
      return table('csrrw', ['zero', r(0)!, r(1)!])
    case 'csrs':
      return table('csrrs', ['zero', r(0)!, r(1)!])
    case 'csrc':
      return table('csrrc', ['zero', r(0)!, r(1)!])
    case 'csrwi':
      return table('csrrwi', ['zero', r(0)!, r(1)!])
    case 'csrsi':
      return table('csrrsi', ['zero', r(0)!, r(1)!])
    case 'csrci':
      return table('csrrci', ['zero', r(0)!, r(1)!])
    case 'rdcycle':
      return table('csrrs', [r(0)!, 'cycle', 'zero'])
    case 'rdtime':
      return table('csrrs', [r(0)!, 'time', 'zero'])
    case 'rdinstret':
      return table('csrrs', [r(0)!, 'instret', 'zero'])
    case 'frcsr':
    case 'frrm':
    case 'frflags':
      return table('csrrs', [r(0)!, { frcsr: 'fcsr', frrm: 'frm', frflags: 'fflags' }[mnemonic], 'zero'])
    case 'fscsr':
    case 'fsrm':
    case 'fsflags': {
      const csrName = { fscsr: 'fcsr', fsrm: 'frm', fsflags: 'fflags' }[mnemonic]
      return ops.length === 1 ? table('csrrw', ['zero', csrName, r(0)!]) : table('csrrw', [r(0)!, csrName, r(1)!])
    }
  }
  // fmv/fneg/fabs.{s,d}: sign injection with both sources the same register.
  const fsgn = /^f(mv|neg|abs)\.([sd])$/.exec(mnemonic)
  if (fsgn) {
    const op = { mv: 'fsgnj', neg: 'fsgnjn', abs: 'fsgnjx' }[fsgn[1] as 'mv' | 'neg' | 'abs']
    return fpInstruction(ctx, FP_BY_NAME.get(`${op}.${fsgn[2]!}`)!, [r(0)!, r(1)!, r(1)!])
  }
  const fp = FP_BY_NAME.get(mnemonic)
  if (fp) return fpInstruction(ctx, fp, ops)
  if (ops.some((o) => o === undefined || o === '')) fail(ctx, 'empty operand')
  const direct = BY_NAME.get(mnemonic)
  if (direct) return instruction(ctx, direct, ops, 0)
  // Atomics with ordering suffixes: amoadd.w.aqrl, lr.d.aq, sc.w.rl …
  const sfx = /^(.*)\.(aq|rl|aqrl)$/.exec(mnemonic)
  if (sfx) {
    const e = BY_NAME.get(sfx[1]!)
    if (e && (e.format === 'AMO' || e.format === 'LR')) {
      const bits = (sfx[2]!.includes('aq') ? 1 << 26 : 0) | (sfx[2]!.includes('rl') ? 1 << 25 : 0)
      return instruction(ctx, e, ops, bits)
    }
  }
  return fail(ctx, `unknown instruction "${mnemonic}"`)
}

function directive(ctx: Ctx, name: string, rest: string): Parsed {
  const values = () => splitOperands(rest).map((s) => {
    const v = constant(s)
    if (v === undefined) fail(ctx, `"${s}" is not a constant`)
    return v
  })
  switch (name) {
    case '.globl':
    case '.global':
    case '.text':
    case '.data':
    case '.section':
    case '.type':
    case '.size':
    case '.local':
      return { size: 0, emit: () => undefined }
    case '.option': {
      const o = rest.trim()
      if (o === 'rvc' || o === 'norvc') return o
      if (o === 'push' || o === 'pop' || o === 'norelax' || o === 'relax') return { size: 0, emit: () => undefined }
      return fail(ctx, `unsupported .option ${o}`)
    }
    case '.byte': {
      const v = values()
      return { size: v.length, emit: (o) => v.forEach((x) => o.u8(Number(BigInt.asUintN(8, x)))) }
    }
    case '.half':
    case '.short':
    case '.2byte': {
      const v = values()
      return { size: 2 * v.length, emit: (o) => v.forEach((x) => o.u16(Number(BigInt.asUintN(16, x)))) }
    }
    case '.word':
    case '.long':
    case '.4byte': {
      const v = values()
      return { size: 4 * v.length, emit: (o) => v.forEach((x) => o.u32(Number(BigInt.asUintN(32, x)))) }
    }
    case '.dword':
    case '.quad':
    case '.8byte': {
      const v = values()
      return { size: 8 * v.length, emit: (o) => v.forEach((x) => o.u64(x)) }
    }
    case '.ascii':
    case '.asciz':
    case '.string': {
      const m = /^"((?:[^"\\]|\\.)*)"$/.exec(rest.trim())
      if (!m) fail(ctx, `${name} needs one "quoted string"`)
      const text = m[1]!.replace(/\\(n|t|r|0|\\|")/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', '"': '"' })[c]!)
      const bytes = new TextEncoder().encode(name === '.ascii' ? text : text + '\0')
      return { size: bytes.length, emit: (o) => bytes.forEach((b) => o.u8(b)) }
    }
    case '.zero':
    case '.space':
    case '.skip': {
      const [n, fill = 0n] = values()
      if (n === undefined || n < 0n || n > 1n << 30n) fail(ctx, `${name} needs a size`)
      return { size: Number(n), emit: (o) => { for (let i = 0; i < n; i++) o.u8(Number(fill)) } }
    }
    case '.align':
    case '.p2align':
    case '.balign': {
      const [a] = values()
      if (a === undefined || a < 0n || a > 16n && name !== '.balign') fail(ctx, `${name} needs an alignment`)
      const align = name === '.balign' ? Number(a) : 2 ** Number(a)
      if (align <= 0 || (align & (align - 1)) !== 0) fail(ctx, `alignment ${align} is not a power of two`)
      const pad = (align - (ctx.addr % align)) % align
      // Padding in code: nops where they fit (4-byte addi zero,zero,0), else zero bytes.
      return {
        size: pad,
        emit: (o) => {
          let left = pad
          while (left % 4 !== 0) (o.u8(0), left--)
          for (; left > 0; left -= 4) o.u32(0x00000013)
        },
      }
    }
  }
  return fail(ctx, `unsupported directive ${name}`)
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    AsmError: AsmError
  }
}
