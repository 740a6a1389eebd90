/**
 * Decoding: a 32-bit instruction (C instructions are expanded first) becomes a `Decoded`
 * record — an operation number and its operands, immediates already sign-extended — so the
 * interpreter's hot loop is one `switch` on a small integer. Decoded records are cached per
 * address by the hart (decode once).
 *
 * The decoder is built from THE opcode table (`isa/opcodes.ts`) when this module loads: the
 * table is the single source of which words are which instruction; nothing here lists opcodes.
 */
import type { BlockFn } from './block.js'
import { RM_FORMATS, OPCODES_BY_SPECIFICITY, type AnyOpcodeSpec } from './isa/opcodes.js'
import { Op } from './op.js'
import { expandCompressed } from './rvc.js'

export { Op } from './op.js'


export interface Decoded {
  /**
   * The operation, an {@link Op} as a plain number: hart.ts and fpu.ts switch on it with their own
   * same-file copy of the enum (RATIONALE "Why do hart.ts and fpu.ts carry a copy of Op?").
   */
  op: number
  rd: number
  rs1: number
  rs2: number
  /** Sign-extended immediate (shift amount for shifts, CSR number for CSR ops, funct5 for AMOs). */
  imm: bigint
  /** The same immediate as a number (branch/jump offsets, CSR numbers). */
  immN: number
  /** 2 for a compressed instruction, else 4. */
  len: 2 | 4
  /** The 32-bit instruction (the expansion, for a compressed one); mtval of an illegal instruction is `raw`. */
  inst: number
  raw: number
  /** The hart's block tier: the compiled block starting here (undefined: not yet, null: none). */
  block: BlockFn | null | undefined
  /** Instructions in `block`. */
  blockLength: number
  /** Times the interpreter reached this instruction at a block boundary before compiling. */
  hits: number
}

/**
 * Every decoded record is built by this one constructor, so all of them share one hidden class
 * (object literals from several sites and a spread gave V8 four) and carry the block tier's
 * fields from the start.
 */
class DecodedRecord implements Decoded {
  // Small integers from the start (not parameter properties): under ES2022 [[Define]] semantics
  // (a tool that ignores useDefineForClassFields) a field would begin as `undefined`, and V8 would
  // keep it in the generic representation; these stay small-integer fields either way.
  readonly op: number = Op.ILLEGAL
  readonly rd: number = 0
  readonly rs1: number = 0
  readonly rs2: number = 0
  readonly len: 2 | 4 = 4
  readonly immN: number
  readonly inst: number
  readonly raw: number

  constructor(op: Op, rd: number, rs1: number, rs2: number, immN: number, len: 2 | 4, inst: number, raw: number) {
    this.op = op
    this.rd = rd
    this.rs1 = rs1
    this.rs2 = rs2
    this.len = len
    this.immN = immN
    this.inst = inst
    this.raw = raw
  }

  /** The immediate as a BigInt, made when asked (only cold paths do): not one per decode. */
  get imm(): bigint {
    return BigInt(this.immN)
  }

  block: BlockFn | null | undefined = undefined
  blockLength = 0
  hits = 0
}

const ILLEGAL = (raw: number, len: 2 | 4): Decoded => new DecodedRecord(Op.ILLEGAL, 0, 0, 0, 0, len, raw, raw)

/** Decodes the instruction whose low 16 bits are `lo` and high 16 bits `hi` (hi unused if compressed). */
export function decode(word: number): Decoded {
  if ((word & 3) !== 3) {
    const raw = word & 0xffff
    const inst = expandCompressed(raw)
    if (inst === 0) return ILLEGAL(raw, 2)
    return decode32(inst, raw, 2) // one record: the expansion's fields, the compressed raw bits
  }
  const inst = word >>> 0
  return decode32(inst, inst, 4)
}


/** How an entry's immediate is extracted, by its operand format. */
const enum Imm { NONE, I, S, B, U, J, SHAMT, CSR, F5 }

function immKind(e: AnyOpcodeSpec): Imm {
  switch (e.format) {
    case 'I': case 'L': case 'JALR': case 'FL': return Imm.I
    case 'S': case 'FS': return Imm.S
    case 'B': return Imm.B
    case 'U': return Imm.U
    case 'J': return Imm.J
    case 'SH': return Imm.SHAMT
    case 'CSR': case 'CSRI': return Imm.CSR
    case 'AMO': return Imm.F5
    default: return Imm.NONE
  }
}

/** One table entry as the decoder uses it. */
interface Entry {
  readonly mask: number
  readonly match: number
  readonly op: Op
  readonly imm: Imm
  /** funct3 is a rounding mode: the reserved static modes 5 and 6 make the word illegal. */
  readonly rm: boolean
}

/**
 * Dispatch by major opcode and funct3 (10 bits, 1024 buckets): each bucket lists the entries
 * that can match a word with those bits, most specific mask first (the table's own lookup
 * order, so the decoder and `lookupOpcode` agree by construction). The longest bucket is a
 * handful of entries.
 */
const KEY_MASK = 0x707f
const key = (w: number): number => (w & 0x7f) | ((w >>> 5) & 0x380)
const BUCKETS: readonly (readonly Entry[])[] = (() => {
  const buckets: Entry[][] = Array.from({ length: 1024 }, () => [])
  for (const e of OPCODES_BY_SPECIFICITY) {
    const entry: Entry = { mask: e.mask >>> 0, match: e.match >>> 0, op: e.op, imm: immKind(e), rm: RM_FORMATS.has(e.format) }
    const km = key(e.mask & KEY_MASK)
    const kv = key(e.match)
    for (let k = 0; k < 1024; k++) if ((k & km) === kv) buckets[k]!.push(entry)
  }
  return buckets
})()

function decode32(inst: number, raw: number, len: 2 | 4): Decoded {
  const bucket = BUCKETS[key(inst)]!
  for (let i = 0; i < bucket.length; i++) {
    const e = bucket[i]!
    if (((inst & e.mask) >>> 0) !== e.match) continue
    if (e.rm) {
      const rm = (inst >>> 12) & 7
      if (rm === 5 || rm === 6) return new DecodedRecord(Op.ILLEGAL, 0, 0, 0, 0, len, inst, raw)
    }
    const immN = immediate(inst, e.imm)
    return new DecodedRecord(e.op, (inst >>> 7) & 31, (inst >>> 15) & 31, (inst >>> 20) & 31, immN, len, inst, raw)
  }
  return new DecodedRecord(Op.ILLEGAL, 0, 0, 0, 0, len, inst, raw)
}

/** The immediate of `inst` in its format's encoding (unprivileged spec §2.3, sign-extended). */
function immediate(inst: number, kind: Imm): number {
  switch (kind) {
    case Imm.NONE: return 0
    case Imm.I: return inst >> 20
    case Imm.S: return ((inst >> 25) << 5) | ((inst >>> 7) & 31)
    case Imm.B: return ((inst >> 31) << 12) | (((inst >>> 7) & 1) << 11) | (((inst >>> 25) & 0x3f) << 5) | (((inst >>> 8) & 0xf) << 1)
    case Imm.U: return inst & 0xfffff000 | 0
    case Imm.J: return ((inst >> 31) << 20) | (((inst >>> 12) & 0xff) << 12) | (((inst >>> 20) & 1) << 11) | (((inst >>> 21) & 0x3ff) << 1)
    // RV64 shifts: 6-bit shamt; the 32-bit (W) shifts' table masks pin bit 25 to 0.
    case Imm.SHAMT: return (inst >>> 20) & 63
    case Imm.CSR: return inst >>> 20
    case Imm.F5: return inst >>> 27
  }
}

