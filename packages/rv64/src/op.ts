/**
 * The decoder's operation numbers, on their own so the opcode table (`isa/opcodes.ts`) and the
 * decoder built from it (`decode.ts`) can both import them without an import cycle.
 */
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
  // Zfhmin and Zfh (half precision): FP too, so they sit before HLV_B (the hart's range test).
  FLH, FSH, FMV_X_H, FMV_H_X, FCVT_S_H, FCVT_H_S, FCVT_D_H, FCVT_H_D,
  FMADD_H, FMSUB_H, FNMSUB_H, FNMADD_H, FADD_H, FSUB_H, FMUL_H, FDIV_H, FSQRT_H,
  FSGNJ_H, FSGNJN_H, FSGNJX_H, FMIN_H, FMAX_H, FEQ_H, FLT_H, FLE_H, FCLASS_H,
  FCVT_W_H, FCVT_WU_H, FCVT_L_H, FCVT_LU_H, FCVT_H_W, FCVT_H_WU, FCVT_H_L, FCVT_H_LU,
  // The hypervisor extension (privileged spec 1.12 §8.3): executed by `Hart.execH`, off the hot switch.
  HLV_B, HLV_BU, HLV_H, HLV_HU, HLVX_HU, HLV_W, HLV_WU, HLVX_WU, HLV_D, HSV_B, HSV_H, HSV_W, HSV_D, HFENCE_VVMA, HFENCE_GVMA,
  // Extensions guests probe (executed by `Hart.execExt` too): Zbc, Zicond, Svinval, Zicbom/Zicboz.
  CLMUL, CLMULH, CLMULR, CZERO_EQZ, CZERO_NEZ,
  SINVAL_VMA, SFENCE_W_INVAL, SFENCE_INVAL_IR, HINVAL_VVMA, HINVAL_GVMA,
  CBO_INVAL, CBO_CLEAN, CBO_FLUSH, CBO_ZERO,
}
