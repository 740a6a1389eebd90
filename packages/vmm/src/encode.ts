/**
 * A mini assembler for the demo guests (the Go honk's `encode.go`): just the instructions they
 * use, encoded per the unprivileged spec's base formats (R, I, S, B, U, J; chapter 2). `@honk/vmm`
 * does not depend on the emulator, so it carries its own.
 */
import { VmError } from './errors.js'

/** ABI register numbers. */
export const R = { zero: 0, ra: 1, sp: 2, t0: 5, t1: 6, t2: 7, s0: 8, s1: 9, a0: 10, a1: 11, a2: 12, a6: 16, a7: 17, t3: 28 } as const

function imm12(v: number, what: string): number {
  if (!Number.isInteger(v) || v < -2048 || v > 2047) throw new VmError('VM_CONFIG', `${what}: immediate ${v} does not fit 12 signed bits`)
  return v & 0xfff
}

const u32 = (v: number): number => v >>> 0
const rType = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number): number => u32((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op)
const iType = (imm: number, rs1: number, f3: number, rd: number, op: number, what: string): number => u32((imm12(imm, what) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op)
function sType(imm: number, rs2: number, rs1: number, f3: number, what: string): number {
  const i = imm12(imm, what)
  return u32(((i >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((i & 31) << 7) | 0x23)
}

export const addi = (rd: number, rs1: number, imm: number): number => iType(imm, rs1, 0, rd, 0x13, 'addi')
export const li = (rd: number, imm: number): number => addi(rd, 0, imm)
export const add = (rd: number, rs1: number, rs2: number): number => rType(0, rs2, rs1, 0, rd, 0x33)
export const or = (rd: number, rs1: number, rs2: number): number => rType(0, rs2, rs1, 6, rd, 0x33)
export const slli = (rd: number, rs1: number, shamt: number): number => u32(((shamt & 63) << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x13)
export function lui(rd: number, imm20: number): number {
  if (!Number.isInteger(imm20) || imm20 < 0 || imm20 > 0xfffff) throw new VmError('VM_CONFIG', `lui: immediate 0x${imm20.toString(16)} does not fit 20 bits`)
  return u32((imm20 << 12) | (rd << 7) | 0x37)
}
/** csrrw rd, csr, rs1 (`csrw csr, rs1` with rd = 0). */
export const csrrw = (rd: number, csr: number, rs1: number): number => u32((csr << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x73)
/** csrrs rd, csr, rs1 (`csrs csr, rs1` with rd = 0; `csrr rd, csr` with rs1 = 0). */
export const csrrs = (rd: number, csr: number, rs1: number): number => u32((csr << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x73)
export const csrw = (csr: number, rs1: number): number => csrrw(0, csr, rs1)
export const csrs = (csr: number, rs1: number): number => csrrs(0, csr, rs1)
/** rdtime rd: csrrs rd, time, x0. */
export const rdtime = (rd: number): number => csrrs(rd, 0xc01, 0)

export const lb = (rd: number, rs1: number, off: number): number => iType(off, rs1, 0, rd, 0x03, 'lb')
export const lbu = (rd: number, rs1: number, off: number): number => iType(off, rs1, 4, rd, 0x03, 'lbu')
export const lw = (rd: number, rs1: number, off: number): number => iType(off, rs1, 2, rd, 0x03, 'lw')
export const ld = (rd: number, rs1: number, off: number): number => iType(off, rs1, 3, rd, 0x03, 'ld')
export const sb = (rs2: number, rs1: number, off: number): number => sType(off, rs2, rs1, 0, 'sb')
export const sw = (rs2: number, rs1: number, off: number): number => sType(off, rs2, rs1, 2, 'sw')
export const sd = (rs2: number, rs1: number, off: number): number => sType(off, rs2, rs1, 3, 'sd')

export function jal(rd: number, off: number): number {
  if (off % 2 !== 0 || off < -(1 << 20) || off >= 1 << 20) throw new VmError('VM_CONFIG', `jal: offset ${off} is odd or beyond ±1 MiB`)
  const i = off & 0x1fffff
  return u32((((i >> 20) & 1) << 31) | (((i >> 1) & 0x3ff) << 21) | (((i >> 11) & 1) << 20) | (((i >> 12) & 0xff) << 12) | (rd << 7) | 0x6f)
}
function branch(f3: number, rs1: number, rs2: number, off: number, what: string): number {
  if (off % 2 !== 0 || off < -4096 || off > 4094) throw new VmError('VM_CONFIG', `${what}: offset ${off} is odd or beyond ±4 KiB`)
  const i = off & 0x1fff
  return u32((((i >> 12) & 1) << 31) | (((i >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((i >> 1) & 0xf) << 8) | (((i >> 11) & 1) << 7) | 0x63)
}
export const beq = (rs1: number, rs2: number, off: number): number => branch(0, rs1, rs2, off, 'beq')
export const bne = (rs1: number, rs2: number, off: number): number => branch(1, rs1, rs2, off, 'bne')

export const ECALL = 0x0000_0073
export const WFI = 0x1050_0073
export const SRET = 0x1020_0073
export const SFENCE_VMA = 0x1200_0073
/** `j .`: jal x0, 0. */
export const J_SELF = 0x0000_006f

/**
 * The Go honk's `loadImm32`: `lui rd, hi; addi rd, rd, lo` for a value with bit 31 clear, `hi`
 * rounded so that the sign-extended `lo` corrects it exactly. Always two instructions; values from
 * 0x7fff_f800 up would need lui 0x80000, which sign-extends on RV64, and are refused.
 */
export function loadImm32(rd: number, value: number): number[] {
  // Above 0x7fff_f7ff the rounded lui immediate is 0x80000, which RV64 sign-extends: not reachable in two instructions.
  if (!Number.isInteger(value) || value < 0 || value > 0x7fff_f7ff) throw new VmError('VM_CONFIG', `loadImm32: 0x${value.toString(16)} is not a 31-bit value below 0x7ffff800`)
  const hi = ((value + 0x800) >>> 12) & 0xfffff
  const lo = value - hi * 4096
  return [lui(rd, hi), addi(rd, rd, lo)]
}

/** The Go honk's `loadAddr`: `(1 << 31) + off` as `li rd, 1; slli rd, rd, 31; addi rd, rd, off` (lui would sign-extend bit 31). */
export function loadAddr(rd: number, off: number): number[] {
  return [li(rd, 1), slli(rd, rd, 31), addi(rd, rd, off)]
}

/** Little-endian machine code from instruction words. */
export function words(ws: readonly number[]): Uint8Array {
  const out = new Uint8Array(ws.length * 4)
  const v = new DataView(out.buffer)
  ws.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true))
  return out
}
