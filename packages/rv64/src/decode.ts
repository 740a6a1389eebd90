/**
 * Decoding: a 32-bit instruction (C instructions are expanded first) becomes a `Decoded`
 * record — an operation number and its operands, immediates already sign-extended — so the
 * interpreter's hot loop is one `switch` on a small integer. Decoded records are cached per
 * address by the hart (decode once).
 */
import type { BlockFn } from './block.js'
import { expandCompressed } from './rvc.js'

export const enum Op {
  ILLEGAL, LUI, AUIPC, JAL, JALR, BEQ, BNE, BLT, BGE, BLTU, BGEU,
  LB, LH, LW, LD, LBU, LHU, LWU, SB, SH, SW, SD,
  ADDI, SLTI, SLTIU, XORI, ORI, ANDI, SLLI, SRLI, SRAI,
  ADD, SUB, SLL, SLT, SLTU, XOR, SRL, SRA, OR, AND,
  ADDIW, SLLIW, SRLIW, SRAIW, ADDW, SUBW, SLLW, SRLW, SRAW,
  MUL, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU, MULW, DIVW, DIVUW, REMW, REMUW,
  FENCE, FENCE_I, ECALL, EBREAK, MRET, SRET, WFI, SFENCE_VMA,
  CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI,
  LR_W, SC_W, LR_D, SC_D, AMO_W, AMO_D,
  // Zba
  SH1ADD, SH2ADD, SH3ADD, ADD_UW, SH1ADD_UW, SH2ADD_UW, SH3ADD_UW, SLLI_UW,
  // Zbb
  ANDN, ORN, XNOR, CLZ, CTZ, CPOP, CLZW, CTZW, CPOPW, MAX, MAXU, MIN, MINU, SEXT_B, SEXT_H, ZEXT_H,
  ROL, ROR, RORI, ROLW, RORW, RORIW, ORC_B, REV8,
  // Zbs
  BCLR, BCLRI, BEXT, BEXTI, BINV, BINVI, BSET, BSETI,
  // F and D: everything from FLW on is executed by `Hart.execFp` (loads/stores) and `Fpu.exec`.
  FLW, FLD, FSW, FSD,
  FMADD_S, FMSUB_S, FNMSUB_S, FNMADD_S, FMADD_D, FMSUB_D, FNMSUB_D, FNMADD_D,
  FADD_S, FSUB_S, FMUL_S, FDIV_S, FSQRT_S, FADD_D, FSUB_D, FMUL_D, FDIV_D, FSQRT_D,
  FSGNJ_S, FSGNJN_S, FSGNJX_S, FSGNJ_D, FSGNJN_D, FSGNJX_D,
  FMIN_S, FMAX_S, FMIN_D, FMAX_D,
  FCVT_S_D, FCVT_D_S,
  FEQ_S, FLT_S, FLE_S, FEQ_D, FLT_D, FLE_D,
  FCLASS_S, FCLASS_D,
  FCVT_W_S, FCVT_WU_S, FCVT_L_S, FCVT_LU_S, FCVT_W_D, FCVT_WU_D, FCVT_L_D, FCVT_LU_D,
  FCVT_S_W, FCVT_S_WU, FCVT_S_L, FCVT_S_LU, FCVT_D_W, FCVT_D_WU, FCVT_D_L, FCVT_D_LU,
  FMV_X_W, FMV_W_X, FMV_X_D, FMV_D_X,
  // The hypervisor extension (privileged spec 1.12 §8.3): executed by `Hart.execH`, off the hot switch.
  HLV_B, HLV_BU, HLV_H, HLV_HU, HLVX_HU, HLV_W, HLV_WU, HLVX_WU, HLV_D, HSV_B, HSV_H, HSV_W, HSV_D, HFENCE_VVMA, HFENCE_GVMA,
  // Extensions guests probe (executed by `Hart.execExt` too): Zbc, Zicond, Svinval, Zicbom/Zicboz.
  CLMUL, CLMULH, CLMULR, CZERO_EQZ, CZERO_NEZ,
  SINVAL_VMA, SFENCE_W_INVAL, SFENCE_INVAL_IR, HINVAL_VVMA, HINVAL_GVMA,
  CBO_INVAL, CBO_CLEAN, CBO_FLUSH, CBO_ZERO,
}

export interface Decoded {
  op: Op
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
  constructor(
    readonly op: Op,
    readonly rd: number,
    readonly rs1: number,
    readonly rs2: number,
    readonly imm: bigint,
    readonly immN: number,
    readonly len: 2 | 4,
    readonly inst: number,
    readonly raw: number,
  ) {}

  block: BlockFn | null | undefined = undefined
  blockLength = 0
  hits = 0
}

const ILLEGAL = (raw: number, len: 2 | 4): Decoded => new DecodedRecord(Op.ILLEGAL, 0, 0, 0, 0n, 0, len, raw, raw)

/** Decodes the instruction whose low 16 bits are `lo` and high 16 bits `hi` (hi unused if compressed). */
export function decode(word: number): Decoded {
  if ((word & 3) !== 3) {
    const raw = word & 0xffff
    const inst = expandCompressed(raw)
    if (inst === 0) return ILLEGAL(raw, 2)
    const d = decode32(inst)
    return new DecodedRecord(d.op, d.rd, d.rs1, d.rs2, d.imm, d.immN, 2, d.inst, raw)
  }
  return decode32(word >>> 0)
}

function decode32(inst: number): Decoded {
  const opcode = inst & 0x7f
  const rd = (inst >>> 7) & 31
  const f3 = (inst >>> 12) & 7
  const rs1 = (inst >>> 15) & 31
  const rs2 = (inst >>> 20) & 31
  const f7 = inst >>> 25
  const immI = inst >> 20
  const d = (op: Op, immN = 0): Decoded => new DecodedRecord(op, rd, rs1, rs2, BigInt(immN), immN, 4, inst, inst)
  switch (opcode) {
    case 0x37:
      return d(Op.LUI, inst & 0xfffff000 | 0)
    case 0x17:
      return d(Op.AUIPC, inst & 0xfffff000 | 0)
    case 0x6f: {
      const imm = ((inst >> 31) << 20) | (((inst >>> 12) & 0xff) << 12) | (((inst >>> 20) & 1) << 11) | (((inst >>> 21) & 0x3ff) << 1)
      return d(Op.JAL, imm)
    }
    case 0x67:
      return f3 === 0 ? d(Op.JALR, immI) : ILLEGAL(inst, 4)
    case 0x63: {
      const imm = ((inst >> 31) << 12) | (((inst >>> 7) & 1) << 11) | (((inst >>> 25) & 0x3f) << 5) | (((inst >>> 8) & 0xf) << 1)
      const ops = [Op.BEQ, Op.BNE, Op.ILLEGAL, Op.ILLEGAL, Op.BLT, Op.BGE, Op.BLTU, Op.BGEU]
      return ops[f3] === Op.ILLEGAL ? ILLEGAL(inst, 4) : d(ops[f3]!, imm)
    }
    case 0x03: {
      const ops = [Op.LB, Op.LH, Op.LW, Op.LD, Op.LBU, Op.LHU, Op.LWU, Op.ILLEGAL]
      return ops[f3] === Op.ILLEGAL ? ILLEGAL(inst, 4) : d(ops[f3]!, immI)
    }
    case 0x23: {
      const imm = ((inst >> 25) << 5) | ((inst >>> 7) & 31)
      return f3 <= 3 ? d([Op.SB, Op.SH, Op.SW, Op.SD][f3]!, imm) : ILLEGAL(inst, 4)
    }
    case 0x13: {
      const shamt = (inst >>> 20) & 63
      const top6 = inst >>> 26
      switch (f3) {
        case 0:
          return d(Op.ADDI, immI)
        case 2:
          return d(Op.SLTI, immI)
        case 3:
          return d(Op.SLTIU, immI)
        case 4:
          return d(Op.XORI, immI)
        case 6:
          return d(Op.ORI, immI)
        case 7:
          return d(Op.ANDI, immI)
        case 1:
          if (top6 === 0) return d(Op.SLLI, shamt)
          if (top6 === 0x12) return d(Op.BCLRI, shamt)
          if (top6 === 0x1a) return d(Op.BINVI, shamt)
          if (top6 === 0x0a) return d(Op.BSETI, shamt)
          if (f7 === 0x30) {
            if (rs2 === 0) return d(Op.CLZ)
            if (rs2 === 1) return d(Op.CTZ)
            if (rs2 === 2) return d(Op.CPOP)
            if (rs2 === 4) return d(Op.SEXT_B)
            if (rs2 === 5) return d(Op.SEXT_H)
          }
          return ILLEGAL(inst, 4)
        default:
          if (top6 === 0) return d(Op.SRLI, shamt)
          if (top6 === 0x10) return d(Op.SRAI, shamt)
          if (top6 === 0x18) return d(Op.RORI, shamt)
          if (top6 === 0x12) return d(Op.BEXTI, shamt)
          if ((inst >>> 20) === 0x287) return d(Op.ORC_B)
          if ((inst >>> 20) === 0x6b8) return d(Op.REV8)
          return ILLEGAL(inst, 4)
      }
    }
    case 0x1b: {
      const shamt = (inst >>> 20) & 31
      if (f3 === 0) return d(Op.ADDIW, immI)
      if (f3 === 1 && f7 === 0) return d(Op.SLLIW, shamt)
      if (f3 === 1 && (inst >>> 26) === 0x02) return d(Op.SLLI_UW, (inst >>> 20) & 63)
      if (f3 === 1 && f7 === 0x30) {
        if (rs2 === 0) return d(Op.CLZW)
        if (rs2 === 1) return d(Op.CTZW)
        if (rs2 === 2) return d(Op.CPOPW)
        return ILLEGAL(inst, 4)
      }
      if (f3 === 5 && f7 === 0) return d(Op.SRLIW, shamt)
      if (f3 === 5 && f7 === 0x20) return d(Op.SRAIW, shamt)
      if (f3 === 5 && f7 === 0x30) return d(Op.RORIW, shamt)
      return ILLEGAL(inst, 4)
    }
    case 0x33: {
      const key = (f7 << 3) | f3
      const op = OP_TABLE.get(key)
      return op === undefined ? ILLEGAL(inst, 4) : d(op)
    }
    case 0x3b: {
      if (f7 === 0x04 && f3 === 4 && rs2 === 0) return d(Op.ZEXT_H)
      const op = OP32_TABLE.get((f7 << 3) | f3)
      return op === undefined ? ILLEGAL(inst, 4) : d(op)
    }
    case 0x0f:
      if (f3 === 0) return d(Op.FENCE)
      if (f3 === 1) return d(Op.FENCE_I)
      if (f3 === 2 && rd === 0) {
        // Zicbom/Zicboz (CMO 1.0): cbo.inval/clean/flush/zero by the immediate; the address is rs1.
        const cbo = [Op.CBO_INVAL, Op.CBO_CLEAN, Op.CBO_FLUSH, undefined, Op.CBO_ZERO][inst >>> 20]
        if (cbo !== undefined) return d(cbo)
      }
      return ILLEGAL(inst, 4)
    case 0x73: {
      if (f3 === 0) {
        if (inst === 0x00000073) return d(Op.ECALL)
        if (inst === 0x00100073) return d(Op.EBREAK)
        if (inst === 0x30200073) return d(Op.MRET)
        if (inst === 0x10200073) return d(Op.SRET)
        if (inst === 0x10500073) return d(Op.WFI)
        if (f7 === 0x09 && rd === 0) return d(Op.SFENCE_VMA)
        if (f7 === 0x11 && rd === 0) return d(Op.HFENCE_VVMA)
        if (f7 === 0x31 && rd === 0) return d(Op.HFENCE_GVMA)
        if (f7 === 0x0b && rd === 0) return d(Op.SINVAL_VMA)
        if (f7 === 0x13 && rd === 0) return d(Op.HINVAL_VVMA)
        if (f7 === 0x33 && rd === 0) return d(Op.HINVAL_GVMA)
        if (inst === 0x18000073) return d(Op.SFENCE_W_INVAL)
        if (inst === 0x18100073) return d(Op.SFENCE_INVAL_IR)
        return ILLEGAL(inst, 4)
      }
      if (f3 === 4) {
        // HLV/HLVX (funct7 0x30/0x32/0x34/0x36, rs2 selects the variant) and HSV (odd funct7, rd = 0).
        const op = f7 & 1 ? (rd === 0 ? HSV_OPS[f7] : undefined) : HLV_OPS.get((f7 << 5) | rs2)
        return op === undefined ? ILLEGAL(inst, 4) : d(op)
      }
      const csr = inst >>> 20
      const ops = [Op.ILLEGAL, Op.CSRRW, Op.CSRRS, Op.CSRRC, Op.ILLEGAL, Op.CSRRWI, Op.CSRRSI, Op.CSRRCI]
      return ops[f3] === Op.ILLEGAL ? ILLEGAL(inst, 4) : d(ops[f3]!, csr)
    }
    case 0x2f: {
      const f5 = inst >>> 27
      if (f3 !== 2 && f3 !== 3) return ILLEGAL(inst, 4)
      const w = f3 === 2
      if (f5 === 0x02) return rs2 === 0 ? d(w ? Op.LR_W : Op.LR_D) : ILLEGAL(inst, 4)
      if (f5 === 0x03) return d(w ? Op.SC_W : Op.SC_D)
      if ([0x00, 0x01, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c].includes(f5)) return d(w ? Op.AMO_W : Op.AMO_D, f5)
      return ILLEGAL(inst, 4)
    }
    case 0x07: // LOAD-FP
      if (f3 === 2) return d(Op.FLW, immI)
      if (f3 === 3) return d(Op.FLD, immI)
      return ILLEGAL(inst, 4)
    case 0x27: { // STORE-FP
      const imm = ((inst >> 25) << 5) | ((inst >>> 7) & 31)
      if (f3 === 2) return d(Op.FSW, imm)
      if (f3 === 3) return d(Op.FSD, imm)
      return ILLEGAL(inst, 4)
    }
    case 0x43:
    case 0x47:
    case 0x4b:
    case 0x4f: {
      // R4 type: fmt (bits 26:25) 0 = S, 1 = D; H and Q are not implemented.
      const fmt = (inst >>> 25) & 3
      if (fmt > 1 || f3 === 5 || f3 === 6) return ILLEGAL(inst, 4)
      const i = (opcode - 0x43) >> 2
      return d(fmt === 0 ? [Op.FMADD_S, Op.FMSUB_S, Op.FNMSUB_S, Op.FNMADD_S][i]! : [Op.FMADD_D, Op.FMSUB_D, Op.FNMSUB_D, Op.FNMADD_D][i]!)
    }
    case 0x53: {
      const op = decodeOpFp(f7, f3, rs2)
      // Static rounding modes 5 and 6 are reserved: illegal (a dynamic rm is checked when it runs).
      if (op === Op.ILLEGAL || ((f3 === 5 || f3 === 6) && opFpHasRm(f7))) return ILLEGAL(inst, 4)
      return d(op)
    }
    default:
      return ILLEGAL(inst, 4)
  }
}

/** Whether an OP-FP instruction's funct3 is a rounding mode: arithmetic, square root, conversions. */
export function opFpHasRm(f7: number): boolean {
  const f5 = f7 >> 2
  return f5 <= 3 || f5 === 0x0b || f5 === 0x08 || f5 === 0x18 || f5 === 0x1a
}

/** OP-FP (0x53) by funct7, funct3 (or rm) and the rs2 field where it selects the operation. */
function decodeOpFp(f7: number, f3: number, rs2: number): Op {
  switch (f7) {
    case 0x00: return Op.FADD_S
    case 0x01: return Op.FADD_D
    case 0x04: return Op.FSUB_S
    case 0x05: return Op.FSUB_D
    case 0x08: return Op.FMUL_S
    case 0x09: return Op.FMUL_D
    case 0x0c: return Op.FDIV_S
    case 0x0d: return Op.FDIV_D
    case 0x2c: return rs2 === 0 ? Op.FSQRT_S : Op.ILLEGAL
    case 0x2d: return rs2 === 0 ? Op.FSQRT_D : Op.ILLEGAL
    case 0x10: return f3 <= 2 ? [Op.FSGNJ_S, Op.FSGNJN_S, Op.FSGNJX_S][f3]! : Op.ILLEGAL
    case 0x11: return f3 <= 2 ? [Op.FSGNJ_D, Op.FSGNJN_D, Op.FSGNJX_D][f3]! : Op.ILLEGAL
    case 0x14: return f3 <= 1 ? [Op.FMIN_S, Op.FMAX_S][f3]! : Op.ILLEGAL
    case 0x15: return f3 <= 1 ? [Op.FMIN_D, Op.FMAX_D][f3]! : Op.ILLEGAL
    case 0x20: return rs2 === 1 ? Op.FCVT_S_D : Op.ILLEGAL
    case 0x21: return rs2 === 0 ? Op.FCVT_D_S : Op.ILLEGAL
    case 0x50: return f3 <= 2 ? [Op.FLE_S, Op.FLT_S, Op.FEQ_S][f3]! : Op.ILLEGAL
    case 0x51: return f3 <= 2 ? [Op.FLE_D, Op.FLT_D, Op.FEQ_D][f3]! : Op.ILLEGAL
    case 0x60: return rs2 <= 3 ? [Op.FCVT_W_S, Op.FCVT_WU_S, Op.FCVT_L_S, Op.FCVT_LU_S][rs2]! : Op.ILLEGAL
    case 0x61: return rs2 <= 3 ? [Op.FCVT_W_D, Op.FCVT_WU_D, Op.FCVT_L_D, Op.FCVT_LU_D][rs2]! : Op.ILLEGAL
    case 0x68: return rs2 <= 3 ? [Op.FCVT_S_W, Op.FCVT_S_WU, Op.FCVT_S_L, Op.FCVT_S_LU][rs2]! : Op.ILLEGAL
    case 0x69: return rs2 <= 3 ? [Op.FCVT_D_W, Op.FCVT_D_WU, Op.FCVT_D_L, Op.FCVT_D_LU][rs2]! : Op.ILLEGAL
    case 0x70: return rs2 !== 0 ? Op.ILLEGAL : f3 === 0 ? Op.FMV_X_W : f3 === 1 ? Op.FCLASS_S : Op.ILLEGAL
    case 0x71: return rs2 !== 0 ? Op.ILLEGAL : f3 === 0 ? Op.FMV_X_D : f3 === 1 ? Op.FCLASS_D : Op.ILLEGAL
    case 0x78: return rs2 === 0 && f3 === 0 ? Op.FMV_W_X : Op.ILLEGAL
    case 0x79: return rs2 === 0 && f3 === 0 ? Op.FMV_D_X : Op.ILLEGAL
    default: return Op.ILLEGAL
  }
}

/** HLV and HLVX by (funct7 << 5 | rs2). */
const HLV_OPS = new Map<number, Op>([
  [(0x30 << 5) | 0, Op.HLV_B], [(0x30 << 5) | 1, Op.HLV_BU], [(0x32 << 5) | 0, Op.HLV_H], [(0x32 << 5) | 1, Op.HLV_HU], [(0x32 << 5) | 3, Op.HLVX_HU],
  [(0x34 << 5) | 0, Op.HLV_W], [(0x34 << 5) | 1, Op.HLV_WU], [(0x34 << 5) | 3, Op.HLVX_WU], [(0x36 << 5) | 0, Op.HLV_D],
])
/** HSV by funct7. */
const HSV_OPS: Partial<Record<number, Op>> = { 0x31: Op.HSV_B, 0x33: Op.HSV_H, 0x35: Op.HSV_W, 0x37: Op.HSV_D }

// OP (0x33) by (funct7 << 3 | funct3).
const OP_TABLE = new Map<number, Op>([
  [0x000, Op.ADD], [0x100, Op.SUB], [0x001, Op.SLL], [0x002, Op.SLT], [0x003, Op.SLTU], [0x004, Op.XOR], [0x005, Op.SRL], [0x105, Op.SRA], [0x006, Op.OR], [0x007, Op.AND],
  [0x008, Op.MUL], [0x009, Op.MULH], [0x00a, Op.MULHSU], [0x00b, Op.MULHU], [0x00c, Op.DIV], [0x00d, Op.DIVU], [0x00e, Op.REM], [0x00f, Op.REMU],
  [(0x10 << 3) | 2, Op.SH1ADD], [(0x10 << 3) | 4, Op.SH2ADD], [(0x10 << 3) | 6, Op.SH3ADD],
  [(0x20 << 3) | 7, Op.ANDN], [(0x20 << 3) | 6, Op.ORN], [(0x20 << 3) | 4, Op.XNOR],
  [(0x05 << 3) | 6, Op.MAX], [(0x05 << 3) | 7, Op.MAXU], [(0x05 << 3) | 4, Op.MIN], [(0x05 << 3) | 5, Op.MINU],
  [(0x30 << 3) | 1, Op.ROL], [(0x30 << 3) | 5, Op.ROR],
  [(0x24 << 3) | 1, Op.BCLR], [(0x24 << 3) | 5, Op.BEXT], [(0x34 << 3) | 1, Op.BINV], [(0x14 << 3) | 1, Op.BSET],
  [(0x05 << 3) | 1, Op.CLMUL], [(0x05 << 3) | 3, Op.CLMULH], [(0x05 << 3) | 2, Op.CLMULR],
  [(0x07 << 3) | 5, Op.CZERO_EQZ], [(0x07 << 3) | 7, Op.CZERO_NEZ],
])

// OP-32 (0x3b).
const OP32_TABLE = new Map<number, Op>([
  [0x000, Op.ADDW], [0x100, Op.SUBW], [0x001, Op.SLLW], [0x005, Op.SRLW], [0x105, Op.SRAW],
  [0x008, Op.MULW], [0x00c, Op.DIVW], [0x00d, Op.DIVUW], [0x00e, Op.REMW], [0x00f, Op.REMUW],
  [(0x04 << 3) | 0, Op.ADD_UW], [(0x10 << 3) | 2, Op.SH1ADD_UW], [(0x10 << 3) | 4, Op.SH2ADD_UW], [(0x10 << 3) | 6, Op.SH3ADD_UW],
  [(0x30 << 3) | 1, Op.ROLW], [(0x30 << 3) | 5, Op.RORW],
])
