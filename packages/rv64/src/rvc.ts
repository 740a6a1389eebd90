/**
 * The compressed (C) extension: each 16-bit instruction expands to the 32-bit instruction it
 * stands for (unprivileged spec, "C" chapter, RVC instruction set listings, RV64 column).
 * Returns 0 for reserved or unsupported encodings (0 is also an illegal 32-bit instruction).
 */
const I = (imm: number, rs1: number, f3: number, rd: number, op: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0
const S = (imm: number, rs2: number, rs1: number, f3: number, op: number) => ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op) >>> 0
const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number) => ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0
const B = (imm: number, rs2: number, rs1: number, f3: number) =>
  ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | 0x63) >>> 0
const J = (imm: number, rd: number) => ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0
const bit = (x: number, i: number) => (x >> i) & 1
const sext = (x: number, bits: number) => (x << (32 - bits)) >> (32 - bits)

export function expandCompressed(c: number): number {
  const op = c & 3
  const f3 = (c >> 13) & 7
  const rdp = 8 + ((c >> 2) & 7) // rd' / rs2'
  const rs1p = 8 + ((c >> 7) & 7)
  const rd = (c >> 7) & 31
  const rs2 = (c >> 2) & 31
  const imm6 = sext((bit(c, 12) << 5) | ((c >> 2) & 31), 6)
  if (op === 0) {
    switch (f3) {
      case 0: {
        const nzuimm = (((c >> 11) & 3) << 4) | (((c >> 7) & 15) << 6) | (bit(c, 6) << 2) | (bit(c, 5) << 3)
        return nzuimm === 0 ? 0 : I(nzuimm, 2, 0, rdp, 0x13) // c.addi4spn
      }
      case 2: {
        const u = (((c >> 10) & 7) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6)
        return I(u, rs1p, 2, rdp, 0x03) // c.lw
      }
      case 3: {
        const u = (((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6)
        return I(u, rs1p, 3, rdp, 0x03) // c.ld
      }
      case 6: {
        const u = (((c >> 10) & 7) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6)
        return S(u, rdp, rs1p, 2, 0x23) // c.sw
      }
      case 7: {
        const u = (((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6)
        return S(u, rdp, rs1p, 3, 0x23) // c.sd
      }
      case 1: {
        const u = (((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6)
        return I(u, rs1p, 3, rdp, 0x07) // c.fld (RV64 has no c.flw: that slot is c.ld)
      }
      case 5: {
        const u = (((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6)
        return S(u, rdp, rs1p, 3, 0x27) // c.fsd
      }
      default:
        return 0 // the reserved slot (f3 = 4)
    }
  }
  if (op === 1) {
    switch (f3) {
      case 0:
        return I(imm6, rd, 0, rd, 0x13) // c.addi / c.nop
      case 1:
        return rd === 0 ? 0 : I(imm6, rd, 0, rd, 0x1b) // c.addiw
      case 2:
        return I(imm6, 0, 0, rd, 0x13) // c.li
      case 3: {
        if (rd === 2) {
          const imm = sext((bit(c, 12) << 9) | (bit(c, 6) << 4) | (bit(c, 5) << 6) | (((c >> 3) & 3) << 7) | (bit(c, 2) << 5), 10)
          return imm === 0 ? 0 : I(imm, 2, 0, 2, 0x13) // c.addi16sp
        }
        const imm = sext((bit(c, 12) << 17) | (((c >> 2) & 31) << 12), 18)
        return imm === 0 ? 0 : ((imm & 0xfffff000) | (rd << 7) | 0x37) >>> 0 // c.lui
      }
      case 4: {
        const f2 = (c >> 10) & 3
        const shamt = (bit(c, 12) << 5) | ((c >> 2) & 31)
        if (f2 === 0) return I(shamt, rs1p, 5, rs1p, 0x13) // c.srli
        if (f2 === 1) return I(0x400 | shamt, rs1p, 5, rs1p, 0x13) // c.srai
        if (f2 === 2) return I(imm6, rs1p, 7, rs1p, 0x13) // c.andi
        const f = (c >> 5) & 3
        if (bit(c, 12) === 0) {
          if (f === 0) return R(0x20, rdp, rs1p, 0, rs1p, 0x33) // c.sub
          if (f === 1) return R(0, rdp, rs1p, 4, rs1p, 0x33) // c.xor
          if (f === 2) return R(0, rdp, rs1p, 6, rs1p, 0x33) // c.or
          return R(0, rdp, rs1p, 7, rs1p, 0x33) // c.and
        }
        if (f === 0) return R(0x20, rdp, rs1p, 0, rs1p, 0x3b) // c.subw
        if (f === 1) return R(0, rdp, rs1p, 0, rs1p, 0x3b) // c.addw
        return 0
      }
      case 5: {
        const imm = sext(
          (bit(c, 12) << 11) | (bit(c, 11) << 4) | (((c >> 9) & 3) << 8) | (bit(c, 8) << 10) | (bit(c, 7) << 6) | (bit(c, 6) << 7) | (((c >> 3) & 7) << 1) | (bit(c, 2) << 5),
          12,
        )
        return J(imm, 0) // c.j
      }
      default: {
        const imm = sext((bit(c, 12) << 8) | (((c >> 10) & 3) << 3) | (((c >> 5) & 3) << 6) | (((c >> 3) & 3) << 1) | (bit(c, 2) << 5), 9)
        return B(imm, 0, rs1p, f3 === 6 ? 0 : 1) // c.beqz / c.bnez
      }
    }
  }
  if (op === 2) {
    switch (f3) {
      case 0:
        return I((bit(c, 12) << 5) | rs2, rd, 1, rd, 0x13) // c.slli
      case 2: {
        const u = (bit(c, 12) << 5) | (((c >> 4) & 7) << 2) | (((c >> 2) & 3) << 6)
        return rd === 0 ? 0 : I(u, 2, 2, rd, 0x03) // c.lwsp
      }
      case 3: {
        const u = (bit(c, 12) << 5) | (((c >> 5) & 3) << 3) | (((c >> 2) & 7) << 6)
        return rd === 0 ? 0 : I(u, 2, 3, rd, 0x03) // c.ldsp
      }
      case 4:
        if (bit(c, 12) === 0) {
          if (rs2 === 0) return rd === 0 ? 0 : I(0, rd, 0, 0, 0x67) // c.jr
          return R(0, rs2, 0, 0, rd, 0x33) // c.mv
        }
        if (rs2 === 0) return rd === 0 ? 0x00100073 : I(0, rd, 0, 1, 0x67) // c.ebreak / c.jalr
        return R(0, rs2, rd, 0, rd, 0x33) // c.add
      case 6: {
        const u = (((c >> 9) & 15) << 2) | (((c >> 7) & 3) << 6)
        return S(u, rs2, 2, 2, 0x23) // c.swsp
      }
      case 7: {
        const u = (((c >> 10) & 7) << 3) | (((c >> 7) & 7) << 6)
        return S(u, rs2, 2, 3, 0x23) // c.sdsp
      }
      case 1: {
        const u = (bit(c, 12) << 5) | (((c >> 5) & 3) << 3) | (((c >> 2) & 7) << 6)
        return I(u, 2, 3, rd, 0x07) // c.fldsp (f0 is a valid destination, unlike c.ldsp's x0)
      }
      default: {
        const u = (((c >> 10) & 7) << 3) | (((c >> 7) & 7) << 6)
        return S(u, rs2, 2, 3, 0x27) // c.fsdsp (f3 = 5)
      }
    }
  }
  return 0
}
