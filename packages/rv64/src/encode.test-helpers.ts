/** Minimal instruction encoders for unit tests (the full assembler is a later step). */
export const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op = 0x33) => ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0
export const I = (imm: number, rs1: number, f3: number, rd: number, op = 0x13) => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0
export const S = (imm: number, rs2: number, rs1: number, f3: number) => ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | 0x23) >>> 0
export const J = (imm: number, rd: number) => ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0
export const CSRRW = (csr: number, rs1: number, rd: number) => ((csr << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x73) >>> 0
export const CSRRS = (csr: number, rs1: number, rd: number) => ((csr << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x73) >>> 0
export const ADDI = (rd: number, rs1: number, imm: number) => I(imm, rs1, 0, rd)
export const LUI = (rd: number, imm20: number) => (((imm20 & 0xfffff) << 12) | (rd << 7) | 0x37) >>> 0
export const ECALL = 0x00000073
export const MRET = 0x30200073
export const SRET = 0x10200073
export const WFI = 0x10500073
export const NOP = ADDI(0, 0, 0)

/** Little-endian bytes of 32-bit instruction words. */
export function words(ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4)
  const v = new DataView(b.buffer)
  ws.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true))
  return b
}
