/**
 * Decoding the guest's faulting load or store for MMIO trap-and-emulate: the 32-bit loads and
 * stores (integer and FP) and the compressed ones (C.LW, C.LD, C.SW, C.SD, their SP forms, and
 * C.FLD/C.FSD[SP]). Unprivileged spec chapters 2, 11–12 and 16 (RVC, table 16.5–16.6).
 */

/** One decoded guest memory access. */
export interface MmioAccess {
  readonly store: boolean
  /** 1, 2, 4 or 8 bytes. */
  readonly width: 1 | 2 | 4 | 8
  /** rd for a load, rs2 for a store. */
  readonly reg: number
  /** Sign-extend a load (LB, LH, LW); false for LBU, LHU, LWU, LD. */
  readonly signed: boolean
  /** The register is an FP one (FLW, FLD, FSW, FSD and the compressed FP forms). */
  readonly fp: boolean
  /** 2 for a compressed instruction, else 4: how far sepc advances. */
  readonly length: 2 | 4
}

const WIDTH = [1, 2, 4, 8] as const

/**
 * `insn` (the low 16 bits are enough for a compressed one) as a load or store, or undefined for
 * anything else. Loads: funct3 0–6 (LB LH LW LD LBU LHU LWU), 7 rejected; stores: funct3 0–3.
 */
export function decodeMmio(insn: number): MmioAccess | undefined {
  if ((insn & 3) !== 3) return decodeCompressed(insn & 0xffff)
  const opcode = insn & 0x7f
  const f3 = (insn >>> 12) & 7
  const rd = (insn >>> 7) & 31
  const rs2 = (insn >>> 20) & 31
  switch (opcode) {
    case 0x03:
      if (f3 === 7) return undefined
      return { store: false, width: WIDTH[f3 & 3]!, reg: rd, signed: f3 < 4, fp: false, length: 4 }
    case 0x23:
      if (f3 > 3) return undefined
      return { store: true, width: WIDTH[f3]!, reg: rs2, signed: false, fp: false, length: 4 }
    case 0x07: // FLW, FLD
      if (f3 !== 2 && f3 !== 3) return undefined
      return { store: false, width: WIDTH[f3]!, reg: rd, signed: false, fp: true, length: 4 }
    case 0x27: // FSW, FSD
      if (f3 !== 2 && f3 !== 3) return undefined
      return { store: true, width: WIDTH[f3]!, reg: rs2, signed: false, fp: true, length: 4 }
    default:
      return undefined
  }
}

function decodeCompressed(c: number): MmioAccess | undefined {
  const op = c & 3
  const f3 = c >>> 13
  const rdp = 8 + ((c >>> 2) & 7) // rd' / rs2' of the CL/CS formats
  const rd = (c >>> 7) & 31 // rd of C.LWSP/C.LDSP
  const rs2 = (c >>> 2) & 31 // rs2 of C.SWSP/C.SDSP
  const load = (width: 4 | 8, reg: number, fp = false, signed = width === 4 && !fp): MmioAccess => ({ store: false, width, reg, signed, fp, length: 2 })
  const store = (width: 4 | 8, reg: number, fp = false): MmioAccess => ({ store: true, width, reg, signed: false, fp, length: 2 })
  if (op === 0) {
    switch (f3) {
      case 1:
        return load(8, rdp, true) // C.FLD
      case 2:
        return load(4, rdp) // C.LW
      case 3:
        return load(8, rdp) // C.LD
      case 5:
        return store(8, rdp, true) // C.FSD
      case 6:
        return store(4, rdp) // C.SW
      case 7:
        return store(8, rdp) // C.SD
    }
    return undefined
  }
  if (op === 2) {
    switch (f3) {
      case 1:
        return load(8, rd, true) // C.FLDSP
      case 2:
        return rd === 0 ? undefined : load(4, rd) // C.LWSP (rd = 0 reserved)
      case 3:
        return rd === 0 ? undefined : load(8, rd) // C.LDSP (rd = 0 reserved)
      case 5:
        return store(8, rs2, true) // C.FSDSP
      case 6:
        return store(4, rs2) // C.SWSP
      case 7:
        return store(8, rs2) // C.SDSP
    }
  }
  return undefined
}

/**
 * A transformed instruction in htinst (privileged spec §8.6.3): bit 0 set, bit 1 clear when the
 * trapping instruction was compressed. Returns the access, or undefined when htinst holds 0, a
 * pseudoinstruction (an implicit VS-stage page-table access) or something that is no load/store.
 */
export function decodeTransformed(htinst: bigint): MmioAccess | undefined {
  const v = Number(htinst & 0xffff_ffffn)
  if ((v & 1) === 0) return undefined
  const a = decodeMmio(v | 2)
  if (a === undefined) return undefined
  return { ...a, length: (v & 2) !== 0 ? 4 : 2 }
}

/** The Go honk's `SignExtend`: truncate to `width` bytes, then sign-extend when `signed`; width 8 passes through. */
export function signExtend(value: bigint, width: 1 | 2 | 4 | 8, signed: boolean): bigint {
  if (width === 8) return BigInt.asUintN(64, value)
  const bits = BigInt(width * 8)
  const t = BigInt.asUintN(Number(bits), value)
  return signed ? BigInt.asUintN(64, BigInt.asIntN(Number(bits), t)) : t
}
