/**
 * THE opcode table: one entry per 32-bit instruction the hart executes (name, mask, match,
 * operand format, extension, and the decoder's operation). The disassembler and the assembler
 * are driven by it, and a test checks that the decoder agrees with it for every entry.
 * Compressed (C) instructions are handled by expansion (`rvc.ts`) into these.
 */
import { Op } from '../op.js'

export type Ext = 'I' | 'M' | 'A' | 'F' | 'D' | 'Zicsr' | 'Zifencei' | 'Zba' | 'Zbb' | 'Zbs' | 'Priv' | 'H' | 'Zbc' | 'Zicond' | 'Svinval' | 'Zicbom' | 'Zicboz' | 'Zfh' | 'Zfhmin'

/** Operand formats (GNU assembler syntax). */
export type Format =
  | 'R' // rd, rs1, rs2
  | 'I' // rd, rs1, imm12
  | 'SH' // rd, rs1, shamt (hex, as objdump prints it)
  | 'R1' // rd, rs1
  | 'L' // rd, imm(rs1)
  | 'S' // rs2, imm(rs1)
  | 'B' // rs1, rs2, target
  | 'U' // rd, imm20 (hex)
  | 'J' // rd, target
  | 'JALR' // rd, imm(rs1)
  | 'CSR' // rd, csr, rs1
  | 'CSRI' // rd, csr, uimm5
  | 'AMO' // rd, rs2, (rs1)
  | 'LR' // rd, (rs1)
  | 'FENCE' // pred, succ
  | 'SFENCE' // rs1, rs2
  | 'HLV' // rd, (rs1)
  | 'HSV' // rs2, (rs1)
  | 'CBO' // (rs1)
  | 'NONE'

/**
 * Operand formats of the F and D instructions (objdump syntax; `[, rm]` is printed unless the
 * rounding mode is dyn). A separate type from `Format`, so code that handles only the integer
 * formats keeps type-checking; `AnyOpcodeSpec` is an entry of either kind.
 */
export type FpFormat =
  | 'FL' // fd, imm(rs1)                 flw fld
  | 'FS' // fs2, imm(rs1)                fsw fsd
  | 'FR' // fd, fs1, fs2                 fsgnj* fmin fmax
  | 'FRRM' // fd, fs1, fs2[, rm]         fadd fsub fmul fdiv
  | 'FR4' // fd, fs1, fs2, fs3[, rm]     fmadd fmsub fnmsub fnmadd
  | 'FR1RM' // fd, fs1[, rm]             fsqrt fcvt.s.d
  | 'FR1_EXACT' // fd, fs1               fcvt.d.s: has an rm field, but objdump decodes it only when rm = rne
  | 'XFRM' // rd, fs1[, rm]              fcvt.{w,wu,l,lu}.{s,d}
  | 'XF' // rd, fs1                      fmv.x.w fmv.x.d fclass
  | 'XFF' // rd, fs1, fs2                feq flt fle
  | 'FXRM' // fd, rs1[, rm]              fcvt.s.{w,wu,l,lu} fcvt.d.{l,lu}
  | 'FX_EXACT' // fd, rs1                fcvt.d.{w,wu}: rm field, objdump decodes it only when rm = rne
  | 'FX' // fd, rs1                      fmv.w.x fmv.d.x

export interface OpcodeSpec {
  readonly name: string
  readonly mask: number
  readonly match: number
  readonly format: Format
  readonly ext: Ext
  readonly op: Op
}

export interface FpOpcodeSpec {
  readonly name: string
  readonly mask: number
  readonly match: number
  readonly format: FpFormat
  readonly ext: 'F' | 'D' | 'Zfh' | 'Zfhmin'
  readonly op: Op
}

export type AnyOpcodeSpec = OpcodeSpec | FpOpcodeSpec

/** ABI names of f0–f31, as objdump prints them. */
export const FREG = ['ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3', 'fa4', 'fa5', 'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11', 'ft8', 'ft9', 'ft10', 'ft11'] as const

/** Rounding-mode operand names by the rm field (dyn, 7, is not printed; 5 and 6 are reserved). */
export const RM_NAMES = ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'unknown', 'unknown', 'dyn'] as const

const R = (name: string, f7: number, f3: number, opc: number, ext: Ext, op: Op): OpcodeSpec => ({ name, mask: 0xfe00707f, match: ((f7 << 25) | (f3 << 12) | opc) >>> 0, format: 'R', ext, op })
const I = (name: string, f3: number, opc: number, format: Format, ext: Ext, op: Op): OpcodeSpec => ({ name, mask: 0x707f, match: (f3 << 12) | opc, format, ext, op })
const SH6 = (name: string, top6: number, f3: number, opc: number, ext: Ext, op: Op): OpcodeSpec => ({ name, mask: 0xfc00707f, match: ((top6 << 26) | (f3 << 12) | opc) >>> 0, format: 'SH', ext, op })
const SH5 = (name: string, f7: number, f3: number, opc: number, ext: Ext, op: Op): OpcodeSpec => ({ name, mask: 0xfe00707f, match: ((f7 << 25) | (f3 << 12) | opc) >>> 0, format: 'SH', ext, op })
const UN = (name: string, imm12: number, f3: number, opc: number, ext: Ext, op: Op): OpcodeSpec => ({ name, mask: 0xfff0707f, match: ((imm12 << 20) | (f3 << 12) | opc) >>> 0, format: 'R1', ext, op })
const FIX = (name: string, word: number, ext: Ext, op: Op): OpcodeSpec => ({ name, mask: 0xffffffff, match: word >>> 0, format: 'NONE', ext, op })
const AMO = (name: string, f5: number, f3: number, op: Op): OpcodeSpec => ({ name, mask: 0xf800707f, match: ((f5 << 27) | (f3 << 12) | 0x2f) >>> 0, format: 'AMO', ext: 'A', op })

type P = 'S' | 'D' | 'H'
const FEXT = (p: P) => (p === 'S' ? 'F' : p === 'D' ? 'D' : 'Zfh')
/** The fmt field (bits 26:25): S 0, D 1, H 2. */
const FMT = (p: P) => (p === 'S' ? 0 : p === 'D' ? 1 : 2)
/** OP-FP with funct7 = (f5 << 2 | fmt); `rs2` fixed when not undefined; funct3 fixed when not undefined (else it is rm). */
const FOP = (name: string, p: P, f5: number, format: FpFormat, op: Op, rs2?: number, f3?: number): FpOpcodeSpec => ({
  name,
  mask: (0xfe00007f | (rs2 === undefined ? 0 : 0x1f00000) | (f3 === undefined ? 0 : 0x7000)) >>> 0,
  match: (((f5 << 2) | FMT(p)) << 25 | ((rs2 ?? 0) << 20) | ((f3 ?? 0) << 12) | 0x53) >>> 0,
  format,
  ext: FEXT(p),
  op,
})
const FR4 = (name: string, p: P, opc: number, op: Op): FpOpcodeSpec => ({ name, mask: 0x0600007f, match: ((FMT(p) << 25) | opc) >>> 0, format: 'FR4', ext: FEXT(p), op })
const FMEM = (name: string, p: P, opc: number, format: 'FL' | 'FS', op: Op): FpOpcodeSpec => ({ name, mask: 0x707f, match: ((p === 'S' ? 2 : p === 'D' ? 3 : 1) << 12) | opc, format, ext: p === 'H' ? 'Zfhmin' : FEXT(p), op })
/** A Zfhmin entry (the moves and conversions Zfh shares with it). */
const MIN = (e: FpOpcodeSpec): FpOpcodeSpec => ({ ...e, ext: 'Zfhmin' })

/** F and D (unprivileged spec, RV32F/RV64F/RV32D/RV64D opcode listings). */
const FP: readonly FpOpcodeSpec[] = [
  FMEM('flw', 'S', 0x07, 'FL', Op.FLW), FMEM('fld', 'D', 0x07, 'FL', Op.FLD), FMEM('fsw', 'S', 0x27, 'FS', Op.FSW), FMEM('fsd', 'D', 0x27, 'FS', Op.FSD),
  FR4('fmadd.s', 'S', 0x43, Op.FMADD_S), FR4('fmsub.s', 'S', 0x47, Op.FMSUB_S), FR4('fnmsub.s', 'S', 0x4b, Op.FNMSUB_S), FR4('fnmadd.s', 'S', 0x4f, Op.FNMADD_S),
  FR4('fmadd.d', 'D', 0x43, Op.FMADD_D), FR4('fmsub.d', 'D', 0x47, Op.FMSUB_D), FR4('fnmsub.d', 'D', 0x4b, Op.FNMSUB_D), FR4('fnmadd.d', 'D', 0x4f, Op.FNMADD_D),
  FOP('fadd.s', 'S', 0x00, 'FRRM', Op.FADD_S), FOP('fsub.s', 'S', 0x01, 'FRRM', Op.FSUB_S), FOP('fmul.s', 'S', 0x02, 'FRRM', Op.FMUL_S), FOP('fdiv.s', 'S', 0x03, 'FRRM', Op.FDIV_S),
  FOP('fadd.d', 'D', 0x00, 'FRRM', Op.FADD_D), FOP('fsub.d', 'D', 0x01, 'FRRM', Op.FSUB_D), FOP('fmul.d', 'D', 0x02, 'FRRM', Op.FMUL_D), FOP('fdiv.d', 'D', 0x03, 'FRRM', Op.FDIV_D),
  FOP('fsqrt.s', 'S', 0x0b, 'FR1RM', Op.FSQRT_S, 0), FOP('fsqrt.d', 'D', 0x0b, 'FR1RM', Op.FSQRT_D, 0),
  FOP('fsgnj.s', 'S', 0x04, 'FR', Op.FSGNJ_S, undefined, 0), FOP('fsgnjn.s', 'S', 0x04, 'FR', Op.FSGNJN_S, undefined, 1), FOP('fsgnjx.s', 'S', 0x04, 'FR', Op.FSGNJX_S, undefined, 2),
  FOP('fsgnj.d', 'D', 0x04, 'FR', Op.FSGNJ_D, undefined, 0), FOP('fsgnjn.d', 'D', 0x04, 'FR', Op.FSGNJN_D, undefined, 1), FOP('fsgnjx.d', 'D', 0x04, 'FR', Op.FSGNJX_D, undefined, 2),
  FOP('fmin.s', 'S', 0x05, 'FR', Op.FMIN_S, undefined, 0), FOP('fmax.s', 'S', 0x05, 'FR', Op.FMAX_S, undefined, 1),
  FOP('fmin.d', 'D', 0x05, 'FR', Op.FMIN_D, undefined, 0), FOP('fmax.d', 'D', 0x05, 'FR', Op.FMAX_D, undefined, 1),
  FOP('fcvt.s.d', 'S', 0x08, 'FR1RM', Op.FCVT_S_D, 1), FOP('fcvt.d.s', 'D', 0x08, 'FR1_EXACT', Op.FCVT_D_S, 0),
  FOP('fle.s', 'S', 0x14, 'XFF', Op.FLE_S, undefined, 0), FOP('flt.s', 'S', 0x14, 'XFF', Op.FLT_S, undefined, 1), FOP('feq.s', 'S', 0x14, 'XFF', Op.FEQ_S, undefined, 2),
  FOP('fle.d', 'D', 0x14, 'XFF', Op.FLE_D, undefined, 0), FOP('flt.d', 'D', 0x14, 'XFF', Op.FLT_D, undefined, 1), FOP('feq.d', 'D', 0x14, 'XFF', Op.FEQ_D, undefined, 2),
  FOP('fcvt.w.s', 'S', 0x18, 'XFRM', Op.FCVT_W_S, 0), FOP('fcvt.wu.s', 'S', 0x18, 'XFRM', Op.FCVT_WU_S, 1), FOP('fcvt.l.s', 'S', 0x18, 'XFRM', Op.FCVT_L_S, 2), FOP('fcvt.lu.s', 'S', 0x18, 'XFRM', Op.FCVT_LU_S, 3),
  FOP('fcvt.w.d', 'D', 0x18, 'XFRM', Op.FCVT_W_D, 0), FOP('fcvt.wu.d', 'D', 0x18, 'XFRM', Op.FCVT_WU_D, 1), FOP('fcvt.l.d', 'D', 0x18, 'XFRM', Op.FCVT_L_D, 2), FOP('fcvt.lu.d', 'D', 0x18, 'XFRM', Op.FCVT_LU_D, 3),
  FOP('fcvt.s.w', 'S', 0x1a, 'FXRM', Op.FCVT_S_W, 0), FOP('fcvt.s.wu', 'S', 0x1a, 'FXRM', Op.FCVT_S_WU, 1), FOP('fcvt.s.l', 'S', 0x1a, 'FXRM', Op.FCVT_S_L, 2), FOP('fcvt.s.lu', 'S', 0x1a, 'FXRM', Op.FCVT_S_LU, 3),
  FOP('fcvt.d.w', 'D', 0x1a, 'FX_EXACT', Op.FCVT_D_W, 0), FOP('fcvt.d.wu', 'D', 0x1a, 'FX_EXACT', Op.FCVT_D_WU, 1), FOP('fcvt.d.l', 'D', 0x1a, 'FXRM', Op.FCVT_D_L, 2), FOP('fcvt.d.lu', 'D', 0x1a, 'FXRM', Op.FCVT_D_LU, 3),
  FOP('fmv.x.w', 'S', 0x1c, 'XF', Op.FMV_X_W, 0, 0), FOP('fclass.s', 'S', 0x1c, 'XF', Op.FCLASS_S, 0, 1),
  FOP('fmv.x.d', 'D', 0x1c, 'XF', Op.FMV_X_D, 0, 0), FOP('fclass.d', 'D', 0x1c, 'XF', Op.FCLASS_D, 0, 1),
  FOP('fmv.w.x', 'S', 0x1e, 'FX', Op.FMV_W_X, 0, 0), FOP('fmv.d.x', 'D', 0x1e, 'FX', Op.FMV_D_X, 0, 0),
  // Zfhmin and Zfh (unprivileged spec, "Zfh" chapter; fmt = 2 is H). A conversion's fmt is its
  // destination's and rs2 names its source's (0 S, 1 D, 2 H), as for fcvt.s.d.
  FMEM('flh', 'H', 0x07, 'FL', Op.FLH), FMEM('fsh', 'H', 0x27, 'FS', Op.FSH),
  MIN(FOP('fmv.x.h', 'H', 0x1c, 'XF', Op.FMV_X_H, 0, 0)), MIN(FOP('fmv.h.x', 'H', 0x1e, 'FX', Op.FMV_H_X, 0, 0)),
  MIN(FOP('fcvt.s.h', 'S', 0x08, 'FR1_EXACT', Op.FCVT_S_H, 2)), MIN(FOP('fcvt.h.s', 'H', 0x08, 'FR1RM', Op.FCVT_H_S, 0)),
  MIN(FOP('fcvt.d.h', 'D', 0x08, 'FR1_EXACT', Op.FCVT_D_H, 2)), MIN(FOP('fcvt.h.d', 'H', 0x08, 'FR1RM', Op.FCVT_H_D, 1)),
  FR4('fmadd.h', 'H', 0x43, Op.FMADD_H), FR4('fmsub.h', 'H', 0x47, Op.FMSUB_H), FR4('fnmsub.h', 'H', 0x4b, Op.FNMSUB_H), FR4('fnmadd.h', 'H', 0x4f, Op.FNMADD_H),
  FOP('fadd.h', 'H', 0x00, 'FRRM', Op.FADD_H), FOP('fsub.h', 'H', 0x01, 'FRRM', Op.FSUB_H), FOP('fmul.h', 'H', 0x02, 'FRRM', Op.FMUL_H), FOP('fdiv.h', 'H', 0x03, 'FRRM', Op.FDIV_H),
  FOP('fsqrt.h', 'H', 0x0b, 'FR1RM', Op.FSQRT_H, 0),
  FOP('fsgnj.h', 'H', 0x04, 'FR', Op.FSGNJ_H, undefined, 0), FOP('fsgnjn.h', 'H', 0x04, 'FR', Op.FSGNJN_H, undefined, 1), FOP('fsgnjx.h', 'H', 0x04, 'FR', Op.FSGNJX_H, undefined, 2),
  FOP('fmin.h', 'H', 0x05, 'FR', Op.FMIN_H, undefined, 0), FOP('fmax.h', 'H', 0x05, 'FR', Op.FMAX_H, undefined, 1),
  FOP('fle.h', 'H', 0x14, 'XFF', Op.FLE_H, undefined, 0), FOP('flt.h', 'H', 0x14, 'XFF', Op.FLT_H, undefined, 1), FOP('feq.h', 'H', 0x14, 'XFF', Op.FEQ_H, undefined, 2),
  FOP('fclass.h', 'H', 0x1c, 'XF', Op.FCLASS_H, 0, 1),
  FOP('fcvt.w.h', 'H', 0x18, 'XFRM', Op.FCVT_W_H, 0), FOP('fcvt.wu.h', 'H', 0x18, 'XFRM', Op.FCVT_WU_H, 1), FOP('fcvt.l.h', 'H', 0x18, 'XFRM', Op.FCVT_L_H, 2), FOP('fcvt.lu.h', 'H', 0x18, 'XFRM', Op.FCVT_LU_H, 3),
  FOP('fcvt.h.w', 'H', 0x1a, 'FXRM', Op.FCVT_H_W, 0), FOP('fcvt.h.wu', 'H', 0x1a, 'FXRM', Op.FCVT_H_WU, 1), FOP('fcvt.h.l', 'H', 0x1a, 'FXRM', Op.FCVT_H_L, 2), FOP('fcvt.h.lu', 'H', 0x1a, 'FXRM', Op.FCVT_H_LU, 3),
]

/* @__PURE__ */
export const OPCODES: readonly AnyOpcodeSpec[] = [
  { name: 'lui', mask: 0x7f, match: 0x37, format: 'U', ext: 'I', op: Op.LUI },
  { name: 'auipc', mask: 0x7f, match: 0x17, format: 'U', ext: 'I', op: Op.AUIPC },
  { name: 'jal', mask: 0x7f, match: 0x6f, format: 'J', ext: 'I', op: Op.JAL },
  I('jalr', 0, 0x67, 'JALR', 'I', Op.JALR),
  I('beq', 0, 0x63, 'B', 'I', Op.BEQ), I('bne', 1, 0x63, 'B', 'I', Op.BNE), I('blt', 4, 0x63, 'B', 'I', Op.BLT),
  I('bge', 5, 0x63, 'B', 'I', Op.BGE), I('bltu', 6, 0x63, 'B', 'I', Op.BLTU), I('bgeu', 7, 0x63, 'B', 'I', Op.BGEU),
  I('lb', 0, 0x03, 'L', 'I', Op.LB), I('lh', 1, 0x03, 'L', 'I', Op.LH), I('lw', 2, 0x03, 'L', 'I', Op.LW), I('ld', 3, 0x03, 'L', 'I', Op.LD),
  I('lbu', 4, 0x03, 'L', 'I', Op.LBU), I('lhu', 5, 0x03, 'L', 'I', Op.LHU), I('lwu', 6, 0x03, 'L', 'I', Op.LWU),
  I('sb', 0, 0x23, 'S', 'I', Op.SB), I('sh', 1, 0x23, 'S', 'I', Op.SH), I('sw', 2, 0x23, 'S', 'I', Op.SW), I('sd', 3, 0x23, 'S', 'I', Op.SD),
  I('addi', 0, 0x13, 'I', 'I', Op.ADDI), I('slti', 2, 0x13, 'I', 'I', Op.SLTI), I('sltiu', 3, 0x13, 'I', 'I', Op.SLTIU),
  I('xori', 4, 0x13, 'I', 'I', Op.XORI), I('ori', 6, 0x13, 'I', 'I', Op.ORI), I('andi', 7, 0x13, 'I', 'I', Op.ANDI),
  SH6('slli', 0x00, 1, 0x13, 'I', Op.SLLI), SH6('srli', 0x00, 5, 0x13, 'I', Op.SRLI), SH6('srai', 0x10, 5, 0x13, 'I', Op.SRAI),
  R('add', 0x00, 0, 0x33, 'I', Op.ADD), R('sub', 0x20, 0, 0x33, 'I', Op.SUB), R('sll', 0x00, 1, 0x33, 'I', Op.SLL), R('slt', 0x00, 2, 0x33, 'I', Op.SLT),
  R('sltu', 0x00, 3, 0x33, 'I', Op.SLTU), R('xor', 0x00, 4, 0x33, 'I', Op.XOR), R('srl', 0x00, 5, 0x33, 'I', Op.SRL), R('sra', 0x20, 5, 0x33, 'I', Op.SRA),
  R('or', 0x00, 6, 0x33, 'I', Op.OR), R('and', 0x00, 7, 0x33, 'I', Op.AND),
  I('addiw', 0, 0x1b, 'I', 'I', Op.ADDIW), SH5('slliw', 0x00, 1, 0x1b, 'I', Op.SLLIW), SH5('srliw', 0x00, 5, 0x1b, 'I', Op.SRLIW), SH5('sraiw', 0x20, 5, 0x1b, 'I', Op.SRAIW),
  R('addw', 0x00, 0, 0x3b, 'I', Op.ADDW), R('subw', 0x20, 0, 0x3b, 'I', Op.SUBW), R('sllw', 0x00, 1, 0x3b, 'I', Op.SLLW), R('srlw', 0x00, 5, 0x3b, 'I', Op.SRLW), R('sraw', 0x20, 5, 0x3b, 'I', Op.SRAW),
  R('mul', 0x01, 0, 0x33, 'M', Op.MUL), R('mulh', 0x01, 1, 0x33, 'M', Op.MULH), R('mulhsu', 0x01, 2, 0x33, 'M', Op.MULHSU), R('mulhu', 0x01, 3, 0x33, 'M', Op.MULHU),
  R('div', 0x01, 4, 0x33, 'M', Op.DIV), R('divu', 0x01, 5, 0x33, 'M', Op.DIVU), R('rem', 0x01, 6, 0x33, 'M', Op.REM), R('remu', 0x01, 7, 0x33, 'M', Op.REMU),
  R('mulw', 0x01, 0, 0x3b, 'M', Op.MULW), R('divw', 0x01, 4, 0x3b, 'M', Op.DIVW), R('divuw', 0x01, 5, 0x3b, 'M', Op.DIVUW), R('remw', 0x01, 6, 0x3b, 'M', Op.REMW), R('remuw', 0x01, 7, 0x3b, 'M', Op.REMUW),
  // The fm field's reserved values execute as a plain fence (unprivileged spec §2.7).
  { name: 'fence', mask: 0x0000707f, match: 0x0000000f, format: 'FENCE', ext: 'I', op: Op.FENCE },
  I('fence.i', 1, 0x0f, 'NONE', 'Zifencei', Op.FENCE_I),
  FIX('ecall', 0x00000073, 'I', Op.ECALL), FIX('ebreak', 0x00100073, 'I', Op.EBREAK),
  FIX('mret', 0x30200073, 'Priv', Op.MRET), FIX('sret', 0x10200073, 'Priv', Op.SRET), FIX('wfi', 0x10500073, 'Priv', Op.WFI),
  { name: 'sfence.vma', mask: 0xfe007fff, match: 0x12000073, format: 'SFENCE', ext: 'Priv', op: Op.SFENCE_VMA },
  R('clmul', 0x05, 1, 0x33, 'Zbc', Op.CLMUL), R('clmulh', 0x05, 3, 0x33, 'Zbc', Op.CLMULH), R('clmulr', 0x05, 2, 0x33, 'Zbc', Op.CLMULR),
  R('czero.eqz', 0x07, 5, 0x33, 'Zicond', Op.CZERO_EQZ), R('czero.nez', 0x07, 7, 0x33, 'Zicond', Op.CZERO_NEZ),
  { name: 'sinval.vma', mask: 0xfe007fff, match: 0x16000073, format: 'SFENCE', ext: 'Svinval', op: Op.SINVAL_VMA },
  { name: 'hinval.vvma', mask: 0xfe007fff, match: 0x26000073, format: 'SFENCE', ext: 'Svinval', op: Op.HINVAL_VVMA },
  { name: 'hinval.gvma', mask: 0xfe007fff, match: 0x66000073, format: 'SFENCE', ext: 'Svinval', op: Op.HINVAL_GVMA },
  FIX('sfence.w.inval', 0x18000073, 'Svinval', Op.SFENCE_W_INVAL), FIX('sfence.inval.ir', 0x18100073, 'Svinval', Op.SFENCE_INVAL_IR),
  ...([['cbo.inval', 0, Op.CBO_INVAL], ['cbo.clean', 1, Op.CBO_CLEAN], ['cbo.flush', 2, Op.CBO_FLUSH], ['cbo.zero', 4, Op.CBO_ZERO]] as const).map(
    ([name, imm, op]): OpcodeSpec => ({ name, mask: 0xfff07fff, match: ((imm << 20) | (2 << 12) | 0x0f) >>> 0, format: 'CBO', ext: imm === 4 ? 'Zicboz' : 'Zicbom', op }),
  ),
  // The hypervisor extension (§8.3).
  { name: 'hfence.vvma', mask: 0xfe007fff, match: 0x22000073, format: 'SFENCE', ext: 'H', op: Op.HFENCE_VVMA },
  { name: 'hfence.gvma', mask: 0xfe007fff, match: 0x62000073, format: 'SFENCE', ext: 'H', op: Op.HFENCE_GVMA },
  ...([['hlv.b', 0x30, 0, Op.HLV_B], ['hlv.bu', 0x30, 1, Op.HLV_BU], ['hlv.h', 0x32, 0, Op.HLV_H], ['hlv.hu', 0x32, 1, Op.HLV_HU], ['hlvx.hu', 0x32, 3, Op.HLVX_HU],
    ['hlv.w', 0x34, 0, Op.HLV_W], ['hlv.wu', 0x34, 1, Op.HLV_WU], ['hlvx.wu', 0x34, 3, Op.HLVX_WU], ['hlv.d', 0x36, 0, Op.HLV_D]] as const).map(
    ([name, f7, rs2, op]): OpcodeSpec => ({ name, mask: 0xfff0707f, match: ((f7 << 25) | (rs2 << 20) | (4 << 12) | 0x73) >>> 0, format: 'HLV', ext: 'H', op }),
  ),
  ...([['hsv.b', 0x31, Op.HSV_B], ['hsv.h', 0x33, Op.HSV_H], ['hsv.w', 0x35, Op.HSV_W], ['hsv.d', 0x37, Op.HSV_D]] as const).map(
    ([name, f7, op]): OpcodeSpec => ({ name, mask: 0xfe007fff, match: ((f7 << 25) | (4 << 12) | 0x73) >>> 0, format: 'HSV', ext: 'H', op }),
  ),
  I('csrrw', 1, 0x73, 'CSR', 'Zicsr', Op.CSRRW), I('csrrs', 2, 0x73, 'CSR', 'Zicsr', Op.CSRRS), I('csrrc', 3, 0x73, 'CSR', 'Zicsr', Op.CSRRC),
  I('csrrwi', 5, 0x73, 'CSRI', 'Zicsr', Op.CSRRWI), I('csrrsi', 6, 0x73, 'CSRI', 'Zicsr', Op.CSRRSI), I('csrrci', 7, 0x73, 'CSRI', 'Zicsr', Op.CSRRCI),
  { name: 'lr.w', mask: 0xf9f0707f, match: 0x1000202f, format: 'LR', ext: 'A', op: Op.LR_W },
  { name: 'lr.d', mask: 0xf9f0707f, match: 0x1000302f, format: 'LR', ext: 'A', op: Op.LR_D },
  AMO('sc.w', 0x03, 2, Op.SC_W), AMO('sc.d', 0x03, 3, Op.SC_D),
  ...(['w', 'd'] as const).flatMap((s) => {
    const f3 = s === 'w' ? 2 : 3
    const op = s === 'w' ? Op.AMO_W : Op.AMO_D
    return [AMO(`amoswap.${s}`, 0x01, f3, op), AMO(`amoadd.${s}`, 0x00, f3, op), AMO(`amoxor.${s}`, 0x04, f3, op), AMO(`amoand.${s}`, 0x0c, f3, op), AMO(`amoor.${s}`, 0x08, f3, op),
      AMO(`amomin.${s}`, 0x10, f3, op), AMO(`amomax.${s}`, 0x14, f3, op), AMO(`amominu.${s}`, 0x18, f3, op), AMO(`amomaxu.${s}`, 0x1c, f3, op)]
  }),
  R('sh1add', 0x10, 2, 0x33, 'Zba', Op.SH1ADD), R('sh2add', 0x10, 4, 0x33, 'Zba', Op.SH2ADD), R('sh3add', 0x10, 6, 0x33, 'Zba', Op.SH3ADD),
  R('add.uw', 0x04, 0, 0x3b, 'Zba', Op.ADD_UW), R('sh1add.uw', 0x10, 2, 0x3b, 'Zba', Op.SH1ADD_UW), R('sh2add.uw', 0x10, 4, 0x3b, 'Zba', Op.SH2ADD_UW), R('sh3add.uw', 0x10, 6, 0x3b, 'Zba', Op.SH3ADD_UW),
  SH6('slli.uw', 0x02, 1, 0x1b, 'Zba', Op.SLLI_UW),
  R('andn', 0x20, 7, 0x33, 'Zbb', Op.ANDN), R('orn', 0x20, 6, 0x33, 'Zbb', Op.ORN), R('xnor', 0x20, 4, 0x33, 'Zbb', Op.XNOR),
  UN('clz', 0x600, 1, 0x13, 'Zbb', Op.CLZ), UN('ctz', 0x601, 1, 0x13, 'Zbb', Op.CTZ), UN('cpop', 0x602, 1, 0x13, 'Zbb', Op.CPOP),
  UN('clzw', 0x600, 1, 0x1b, 'Zbb', Op.CLZW), UN('ctzw', 0x601, 1, 0x1b, 'Zbb', Op.CTZW), UN('cpopw', 0x602, 1, 0x1b, 'Zbb', Op.CPOPW),
  R('max', 0x05, 6, 0x33, 'Zbb', Op.MAX), R('maxu', 0x05, 7, 0x33, 'Zbb', Op.MAXU), R('min', 0x05, 4, 0x33, 'Zbb', Op.MIN), R('minu', 0x05, 5, 0x33, 'Zbb', Op.MINU),
  UN('sext.b', 0x604, 1, 0x13, 'Zbb', Op.SEXT_B), UN('sext.h', 0x605, 1, 0x13, 'Zbb', Op.SEXT_H), UN('zext.h', 0x080, 4, 0x3b, 'Zbb', Op.ZEXT_H),
  R('rol', 0x30, 1, 0x33, 'Zbb', Op.ROL), R('ror', 0x30, 5, 0x33, 'Zbb', Op.ROR), SH6('rori', 0x18, 5, 0x13, 'Zbb', Op.RORI),
  R('rolw', 0x30, 1, 0x3b, 'Zbb', Op.ROLW), R('rorw', 0x30, 5, 0x3b, 'Zbb', Op.RORW), SH5('roriw', 0x30, 5, 0x1b, 'Zbb', Op.RORIW),
  UN('orc.b', 0x287, 5, 0x13, 'Zbb', Op.ORC_B), UN('rev8', 0x6b8, 5, 0x13, 'Zbb', Op.REV8),
  R('bclr', 0x24, 1, 0x33, 'Zbs', Op.BCLR), SH6('bclri', 0x12, 1, 0x13, 'Zbs', Op.BCLRI), R('bext', 0x24, 5, 0x33, 'Zbs', Op.BEXT), SH6('bexti', 0x12, 5, 0x13, 'Zbs', Op.BEXTI),
  R('binv', 0x34, 1, 0x33, 'Zbs', Op.BINV), SH6('binvi', 0x1a, 1, 0x13, 'Zbs', Op.BINVI), R('bset', 0x14, 1, 0x33, 'Zbs', Op.BSET), SH6('bseti', 0x0a, 1, 0x13, 'Zbs', Op.BSETI),
  ...FP,
]

/** Most specific masks first, so a lookup finds e.g. `clz` before a generic I-type shape. */
export const OPCODES_BY_SPECIFICITY: readonly AnyOpcodeSpec[] = [...OPCODES].sort((a, b) => popcount(b.mask) - popcount(a.mask))

function popcount(x: number): number {
  let n = 0
  for (let v = x >>> 0; v; v &= v - 1) n++
  return n
}

export const RM_FORMATS: ReadonlySet<string> = new Set<FpFormat>(['FRRM', 'FR4', 'FR1RM', 'FR1_EXACT', 'XFRM', 'FXRM', 'FX_EXACT'])

/**
 * The table entry whose (mask, match) the 32-bit instruction fits, or undefined, exactly as the
 * decoder sees it: an FP instruction with a reserved static rounding mode (5, 6) is illegal.
 */
export function lookupOpcode(inst: number): AnyOpcodeSpec | undefined {
  const e = matchOpcode(inst)
  if (e && RM_FORMATS.has(e.format)) {
    const rm = (inst >>> 12) & 7
    if (rm === 5 || rm === 6) return undefined
  }
  return e
}

/** The entry by (mask, match) alone (the disassembler shows reserved rounding modes, as objdump does). */
export function matchOpcode(inst: number): AnyOpcodeSpec | undefined {
  const w = inst >>> 0
  for (const e of OPCODES_BY_SPECIFICITY) if (((w & e.mask) >>> 0) === e.match) return e
  return undefined
}

function isFp(e: AnyOpcodeSpec): e is FpOpcodeSpec {
  return e.ext === 'F' || e.ext === 'D' || e.ext === 'Zfh' || e.ext === 'Zfhmin'
}

/** Integer-format entries by name (for the assembler). */
export const BY_NAME: ReadonlyMap<string, OpcodeSpec> = new Map(OPCODES.flatMap((e) => (isFp(e) ? [] : [[e.name, e] as const])))

/** F and D entries by name. */
export const FP_BY_NAME: ReadonlyMap<string, FpOpcodeSpec> = new Map(FP.map((e) => [e.name, e]))
