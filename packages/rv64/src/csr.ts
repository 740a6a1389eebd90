/**
 * The hart's CSRs (issue #18: out of hart.ts): the access rules (privilege levels, counter
 * enables, the hypervisor's virtual-instruction cases), every M/S/U CSR's read and WARL write
 * with its side effects (TLB flushes, the interrupt re-check, the FP state), the counters, the
 * V = 1 redirection of S CSRs to their VS counterparts, and the Zicsr instructions themselves.
 * The hypervisor and VS CSRs are in `csr-hyp.ts`. They reach the hart through {@link CsrPort},
 * a view `Hart` builds once over its private state (accessors for what changes), so the hart's
 * public API does not grow; CSR accesses are cold instructions (`execCold`), never the hot loop.
 */
import { CAUSE, CSR, HSTATUS, IRQ, MENVCFG, MSTATUS } from '@honk/riscv'
import type { Clock } from './bus.js'
import { Op, type Decoded } from './decode.js'
import type { Fpu } from './fpu.js'
import type { Privilege } from './hart.js'
import type { Pmp } from './pmp.js'
import { Trap } from './trap.js'
import { hCsrRead, hCsrWrite } from './csr-hyp.js'

/** @internal What the CSR code reads and writes on a hart (built once by `Hart`). */
export interface CsrPort {
  readonly hartId: number
  /** HartOptions.hypervisor: misa.H, the H and VS CSRs exist. */
  readonly hypervisor: boolean
  /** HartOptions.sv57: satp, vsatp and hgatp accept mode 10. */
  readonly sv57: boolean
  /** The integer registers (the Zicsr instructions' rs1 and rd). */
  readonly x: BigInt64Array
  /** fcsr and mstatus.FS live there. */
  readonly fpu: Fpu
  readonly pmp: Pmp
  readonly clock: Clock
  readonly privilege: Privilege
  /** V, the virtualization mode. */
  readonly virt: boolean
  /** The counters: `instret` is the virtual clock; the slice's completed and excepted instructions not yet added to it. */
  readonly instret: bigint
  readonly sliceDone: number
  readonly excepted: number
  countInhibit: number
  cycleOffset: bigint
  instretOffset: bigint
  cycleHeld: bigint
  instretHeld: bigint
  // Machine level.
  mstatus: bigint
  medeleg: bigint
  mideleg: bigint
  mie: bigint
  /** The software-writable pending bits of mip (SSIP, STIP, SEIP, and with H the VS ones). */
  mipSoft: bigint
  mtvec: bigint
  mcounteren: bigint
  menvcfg: bigint
  mscratch: bigint
  mepc: bigint
  mcause: bigint
  mtval: bigint
  // Supervisor level.
  stvec: bigint
  scounteren: bigint
  senvcfg: bigint
  sscratch: bigint
  sepc: bigint
  scause: bigint
  stval: bigint
  stimecmp: bigint
  satp: bigint
  satpMode: number
  // The hypervisor extension (chapter 8).
  hstatus: bigint
  hedeleg: bigint
  hideleg: bigint
  hcounteren: bigint
  htimedelta: bigint
  henvcfg: bigint
  htval: bigint
  htinst: bigint
  hgatp: bigint
  hgatpMode: number
  mtval2: bigint
  mtinst: bigint
  /** vsstatus without FS (kept in `vsFs`) and SD (derived). */
  vsstatus: bigint
  vsFs: number
  vstvec: bigint
  vsscratch: bigint
  vsepc: bigint
  vscause: bigint
  vstval: bigint
  vsatp: bigint
  vsatpMode: number
  vstimecmp: bigint
  /** Called by every CSR write: `run` ends its slice and evaluates the interrupt conditions again (privileged spec 3.1.9). */
  recheckIrq(): void
  /** Current mip: device lines, software bits, Sstc's STIP/VSTIP. */
  mip(): bigint
  /** After a change of mstatus, vsstatus or satp: recompute the translation mode and the data TLB's context. */
  updateXmode(): void
  /** Drop every cached translation (host and guest TLBs, the data TLB, the fetch page). */
  flushTlb(): void
  /** Drop the guest's cached translations. */
  flushVTlb(): void
}

/** senvcfg's fields (chapter 4): FIOM, CBIE, CBCFE, CBZE. menvcfg and henvcfg add PBMTE and STCE. */
export const ENVCFG_S = MENVCFG.FIOM | MENVCFG.CBIE | MENVCFG.CBCFE | MENVCFG.CBZE
export const ENVCFG_M = ENVCFG_S | MENVCFG.PBMTE | MENVCFG.STCE
/** An xenvcfg write: the fields in `mask`; CBIE's reserved value 10 reads as 00 (WARL). */
export function envcfgWarl(v: bigint, mask: bigint): bigint {
  let w = v & mask
  if ((w & MENVCFG.CBIE) === 2n << 4n) w &= ~MENVCFG.CBIE
  return w
}
const MISA = (2n << 62n) | (1n << 0n) | (1n << 2n) | (1n << 3n) | (1n << 5n) | (1n << 8n) | (1n << 12n) | (1n << 18n) | (1n << 20n) // RV64 A C D F I M S U
const SSTATUS_MASK = MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.UBE | MSTATUS.SPP | MSTATUS.FS | MSTATUS.SUM | MSTATUS.MXR | MSTATUS.UXL | MSTATUS.SD
const MSTATUS_WRITABLE = MSTATUS.SIE | MSTATUS.MIE | MSTATUS.SPIE | MSTATUS.MPIE | MSTATUS.SPP | MSTATUS.MPP | MSTATUS.MPRV | MSTATUS.SUM | MSTATUS.MXR | MSTATUS.TVM | MSTATUS.TW | MSTATUS.TSR
const S_INTS = (1n << BigInt(IRQ.SSI)) | (1n << BigInt(IRQ.STI)) | (1n << BigInt(IRQ.SEI))
const ALL_INTS = S_INTS | (1n << BigInt(IRQ.MSI)) | (1n << BigInt(IRQ.MTI)) | (1n << BigInt(IRQ.MEI))
// The hypervisor extension (privileged spec 1.12 chapter 8).
const MISA_H = 1n << 7n
/** VSSIP, VSTIP, VSEIP: the VS-level interrupts (hvip, hideleg, mideleg's read-only ones). */
export const VS_INTS = (1n << BigInt(IRQ.VSSI)) | (1n << BigInt(IRQ.VSTI)) | (1n << BigInt(IRQ.VSEI))
/** hie/hip: the VS-level interrupts and SGEI. */
export const H_INTS = VS_INTS | (1n << BigInt(IRQ.SGEI))
/** mideleg bits that read as one with H (chapter 8, "mideleg": VS-level and SGEI interrupts go at least to HS). */
export const MIDELEG_FORCED = H_INTS
/** hstatus.VSXL: read-only 64-bit. */
export const HSTATUS_VSXL64 = 2n << 32n
/** medeleg with H: also ecall from VS (10), guest-page faults (20, 21, 23) and virtual instruction (22). */
const MEDELEG_WRITABLE_H = 0xb3ffn | (1n << 10n) | (0xfn << 20n)
/** S CSRs that V = 1 redirects to their VS counterparts (CSR + 0x100; chapter 8): sstatus…satp, not scounteren/senvcfg. */
const VS_REDIRECT = new Set<number>([CSR.sstatus, CSR.sie, CSR.stvec, CSR.sscratch, CSR.sepc, CSR.scause, CSR.stval, CSR.sip, CSR.stimecmp, CSR.satp])
/** The S CSRs this hart has (a VU-mode access to one is a virtual-instruction exception). */
const S_CSRS = new Set<number>([...VS_REDIRECT, CSR.scounteren, CSR.senvcfg])
/** The hypervisor and VS CSRs (a VS/VU-mode access is a virtual-instruction exception). */
const H_CSRS = new Set<number>([CSR.hstatus, CSR.hedeleg, CSR.hideleg, CSR.hie, CSR.htimedelta, CSR.hcounteren, CSR.hgeie, CSR.henvcfg, CSR.htval, CSR.hip, CSR.hvip, CSR.htinst, CSR.hgatp, CSR.hgeip,
  CSR.vsstatus, CSR.vsie, CSR.vstvec, CSR.vsscratch, CSR.vsepc, CSR.vscause, CSR.vstval, CSR.vsip, CSR.vstimecmp, CSR.vsatp])

/**
 * Reads CSR `n` as a `csrr` executed now, at the hart's current privilege, would: undefined
 * where that instruction raises an illegal-instruction exception (privileged spec §2.1: bits
 * 9:8 of the address are the lowest privilege that may access it; a CSR that does not exist, a
 * counter its enable bits hide, an FP CSR while mstatus.FS is Off).
 */
export function readCsrAsCode(h: CsrPort, n: number): bigint | undefined {
  if (csrAccess(h, n, false) >= 0) return undefined
  return csrRead(h, h.virt && VS_REDIRECT.has(n) ? n + 0x100 : n)
}

/** Writes CSR `n` as a `csrw` executed now would; false where it raises an illegal-instruction exception (also: bits 11:10 = 0b11 mark a read-only CSR). */
export function writeCsrAsCode(h: CsrPort, n: number, v: bigint): boolean {
  if (csrAccess(h, n, true) >= 0) return false
  return csrWrite(h, h.virt && VS_REDIRECT.has(n) ? n + 0x100 : n, BigInt.asUintN(64, v))
}

/**
 * -1 when CSR `n` may be accessed now (read, or written when `write`), else the exception an
 * instruction doing so raises: illegal instruction, or virtual instruction (§8.6.1) for a V = 1
 * access to an H/VS CSR, to an S CSR from VU, to a counter hcounteren hides, to satp under
 * hstatus.VTVM, to stimecmp without henvcfg.STCE and hcounteren.TM. Whether the CSR exists at all
 * is `csrRead`'s answer (undefined: illegal).
 */
export function csrAccess(h: CsrPort, n: number, write: boolean): number {
  const level = (n >> 8) & 3
  if (write && n >> 10 === 3) return CAUSE.ILLEGAL
  if (!h.virt) return (level === 2 && h.hypervisor ? 1 : level) > h.privilege ? CAUSE.ILLEGAL : -1
  if (level === 3) return CAUSE.ILLEGAL
  if (level === 2) return H_CSRS.has(n) ? CAUSE.VIRTUAL_INSTRUCTION : CAUSE.ILLEGAL
  if (level === 1) {
    if (!S_CSRS.has(n)) return CAUSE.ILLEGAL
    const tm = 1n << 1n
    if (n === CSR.stimecmp && ((h.menvcfg & MENVCFG.STCE) === 0n || (h.mcounteren & tm) === 0n)) return CAUSE.ILLEGAL
    if (h.privilege === 0) return CAUSE.VIRTUAL_INSTRUCTION
    if (n === CSR.satp && (h.hstatus & HSTATUS.VTVM) !== 0n) return CAUSE.VIRTUAL_INSTRUCTION
    if (n === CSR.stimecmp && ((h.henvcfg & MENVCFG.STCE) === 0n || (h.hcounteren & tm) === 0n)) return CAUSE.VIRTUAL_INSTRUCTION
    return -1
  }
  if (n >= CSR.cycle && n <= 0xc1f) {
    // Counters (chapter 8, hcounteren): mcounteren hides → illegal; hcounteren, or scounteren in VU → virtual.
    const bit = 1n << BigInt(n & 31)
    if ((h.mcounteren & bit) === 0n) return CAUSE.ILLEGAL
    if ((h.hcounteren & bit) === 0n || (h.privilege === 0 && (h.scounteren & bit) === 0n)) return CAUSE.VIRTUAL_INSTRUCTION
  }
  return -1
}

function counter(h: CsrPort, n: number): bigint | undefined {
  // Counter-enable rules (privileged spec 3.1.11): S needs mcounteren, U needs both.
  const bit = 1n << BigInt(n & 31)
  if (h.privilege < 3 && !(h.mcounteren & bit)) return undefined
  if (h.privilege < 1 && !(h.scounteren & bit)) return undefined
  if (n === CSR.cycle) return mcycle(h)
  if (n === CSR.instret) return minstret(h)
  if (n === CSR.time) return h.virt ? BigInt.asUintN(64, h.clock.mtime() + h.htimedelta) : h.clock.mtime()
  return 0n // hpmcounter3–31
}

export function csrRead(h: CsrPort, n: number): bigint | undefined {
  switch (n) {
    // fcsr and its fields: illegal while mstatus.FS is Off (privileged spec 3.1.6.6).
    case CSR.fflags:
      return fpOff(h) ? undefined : BigInt(h.fpu.fflags)
    case CSR.frm:
      return fpOff(h) ? undefined : BigInt(h.fpu.frm)
    case CSR.fcsr:
      return fpOff(h) ? undefined : BigInt(h.fpu.fcsr)
    case CSR.sstatus:
      return mstatusRead(h) & SSTATUS_MASK
    case CSR.sie:
      return h.mie & h.mideleg & S_INTS
    case CSR.stvec:
      return h.stvec
    case CSR.scounteren:
      return h.scounteren
    case CSR.senvcfg:
      return h.senvcfg
    case CSR.sscratch:
      return h.sscratch
    case CSR.sepc:
      return h.sepc
    case CSR.scause:
      return h.scause
    case CSR.stval:
      return h.stval
    case CSR.sip:
      return h.mip() & h.mideleg & S_INTS
    case CSR.stimecmp:
      // Sstc: S-mode access needs menvcfg.STCE (else illegal).
      if (h.privilege < 3 && (h.menvcfg & MENVCFG.STCE) === 0n) return undefined
      return h.stimecmp
    case CSR.satp:
      if (h.privilege === 1 && h.mstatus & MSTATUS.TVM) return undefined
      return h.satp
    case CSR.mstatus:
      return mstatusRead(h)
    case CSR.misa:
      return h.hypervisor ? MISA | MISA_H : MISA
    case CSR.medeleg:
      return h.medeleg
    case CSR.mideleg:
      return h.hypervisor ? h.mideleg | MIDELEG_FORCED : h.mideleg
    case CSR.mie:
      return h.mie
    case CSR.mtvec:
      return h.mtvec
    case CSR.mcounteren:
      return h.mcounteren
    case CSR.menvcfg:
      return h.menvcfg
    case CSR.mcountinhibit:
      return BigInt(h.countInhibit)
    case CSR.mscratch:
      return h.mscratch
    case CSR.mepc:
      return h.mepc
    case CSR.mcause:
      return h.mcause
    case CSR.mtval:
      return h.mtval
    case CSR.mip:
      return h.mip()
    case CSR.mcycle:
      return mcycle(h)
    case CSR.minstret:
      return minstret(h)
    case CSR.mvendorid:
    case CSR.marchid:
    case CSR.mimpid:
    case CSR.mconfigptr:
      return 0n
    case CSR.mhartid:
      return BigInt(h.hartId)
    // The debug trigger module (Sdtrig) with no trigger: tselect is WARL 0, tdata1 reads type 0
    // ("no trigger here"), tinfo says only type 0 exists. Writes are ignored (§5.7 of debug 1.0).
    case CSR.tselect:
    case CSR.tdata1:
    case CSR.tdata2:
    case CSR.tdata3:
      return 0n
    case CSR.tinfo:
      return 1n
  }
  if (n >= CSR.pmpcfg0 && n <= CSR.pmpcfg0 + 15) return n % 2 === 0 ? h.pmp.cfg[n - CSR.pmpcfg0]! : undefined // RV64: odd pmpcfg do not exist
  if (n >= CSR.pmpaddr0 && n < CSR.pmpaddr0 + 64) return h.pmp.addr[n - CSR.pmpaddr0]!
  if (n >= 0xb03 && n <= 0xb1f) return 0n // mhpmcounter3–31
  if (n >= 0x323 && n <= 0x33f) return 0n // mhpmevent3–31
  if (n >= CSR.cycle && n <= 0xc1f) return counter(h, n)
  return h.hypervisor ? hCsrRead(h, n) : undefined
}

/** FP instructions and CSRs are illegal: mstatus.FS is Off, or (V = 1) vsstatus.FS is. */
function fpOff(h: CsrPort): boolean {
  return h.fpu.fs === 0 || (h.virt && h.vsFs === 0)
}

function mstatusRead(h: CsrPort): bigint {
  const fs = h.fpu.fs
  let s = h.mstatus | (BigInt(fs) << 13n)
  if (fs === 3) s |= MSTATUS.SD // SD summarizes FS (no XS/VS here)
  return s
}

/** mcycle now (cycles here are instructions stepped, trapping ones included). */
function mcycle(h: CsrPort): bigint {
  return BigInt.asUintN(64, h.countInhibit & 1 ? h.cycleHeld : cyclesNow(h, false) + h.cycleOffset)
}

/** minstret now: instructions retired (those that raised an exception left out). */
function minstret(h: CsrPort): bigint {
  return BigInt.asUintN(64, h.countInhibit & 4 ? h.instretHeld : retiredNow(h, false) + h.instretOffset)
}

/** Cycles stepped before the instruction running now, or after it when `instr` (a CSR write by it takes effect after it completed). */
function cyclesNow(h: CsrPort, instr: boolean): bigint {
  return h.instret + BigInt(h.sliceDone + (instr ? 1 : 0))
}

/** Instructions retired before the one running now, or including it when `instr`. */
function retiredNow(h: CsrPort, instr: boolean): bigint {
  return h.instret + BigInt(h.sliceDone - h.excepted + (instr ? 1 : 0))
}

/**
 * Returns false for a CSR that does not exist or cannot be written. `instr`: written by a CSR
 * instruction (inside `run`), which counts in mcycle/minstret before the write takes effect.
 */
export function csrWrite(h: CsrPort, n: number, v: bigint, instr = false): boolean {
  h.recheckIrq() // the interrupt conditions are evaluated again after it
  switch (n) {
    // Writing any part of fcsr makes the FP state Dirty.
    case CSR.fflags:
      if (fpOff(h)) return false
      h.fpu.fflags = Number(v & 31n)
      fpDirty(h)
      return true
    case CSR.frm:
      if (fpOff(h)) return false
      h.fpu.frm = Number(v & 7n)
      fpDirty(h)
      return true
    case CSR.fcsr:
      if (fpOff(h)) return false
      h.fpu.fcsr = Number(v & 0xffn)
      fpDirty(h)
      return true
    case CSR.sstatus:
      // Only the writable sstatus bits change (UXL, read-only here, must survive).
      h.mstatus = (h.mstatus & ~(SSTATUS_MASK & MSTATUS_WRITABLE)) | (v & SSTATUS_MASK & MSTATUS_WRITABLE)
      h.fpu.fs = Number((v & MSTATUS.FS) >> 13n)
      h.updateXmode() // SUM and MXR are in the data TLB's context
      return true
    case CSR.sie:
      h.mie = (h.mie & ~h.mideleg) | (v & h.mideleg)
      return true
    case CSR.stvec:
      h.stvec = v & ~2n // mode 0 (direct) or 1 (vectored); 2/3 reserved
      return true
    case CSR.scounteren:
      h.scounteren = v & 0xffffffffn
      return true
    case CSR.senvcfg:
      h.senvcfg = envcfgWarl(v, ENVCFG_S)
      return true
    case CSR.sscratch:
      h.sscratch = v
      return true
    case CSR.sepc:
      h.sepc = v & ~1n
      return true
    case CSR.scause:
      h.scause = v
      return true
    case CSR.stval:
      h.stval = v
      return true
    case CSR.sip: {
      const m = h.mideleg & (1n << BigInt(IRQ.SSI)) // only SSIP is writable through sip
      h.mipSoft = (h.mipSoft & ~m) | (v & m)
      return true
    }
    case CSR.stimecmp:
      if (h.privilege < 3 && (h.menvcfg & MENVCFG.STCE) === 0n) return false
      h.stimecmp = v
      return true
    case CSR.satp: {
      if (h.privilege === 1 && h.mstatus & MSTATUS.TVM) return false
      // WARL: a write of an unsupported mode has no effect at all (Linux probes Sv57, Sv48, Sv39 this way).
      // Sv57 only with HartOptions.sv57: its addresses have 57 significant bits, beyond the 2^53
      // of the numbers the hart keeps them in; the exact paths are in `walk` (see RATIONALE
      // "Why is Sv57 an option, off by default?").
      const mode = Number(v >> 60n)
      if (mode !== 0 && mode !== 8 && mode !== 9 && (mode !== 10 || !h.sv57)) return true
      h.satp = v & ((0xfn << 60n) | (0xffffn << 44n) | ((1n << 44n) - 1n))
      h.satpMode = Number(h.satp >> 60n)
      h.updateXmode()
      h.flushTlb()
      return true
    }
    case CSR.mstatus: {
      // With H, MPV and GVA are writable too (chapter 8).
      const writable = h.hypervisor ? MSTATUS_WRITABLE | MSTATUS.MPV | MSTATUS.GVA : MSTATUS_WRITABLE
      let w = v & writable
      if (((w & MSTATUS.MPP) >> 11n) === 2n) w &= ~MSTATUS.MPP // MPP is WARL: 2 is reserved → U
      h.mstatus = (h.mstatus & ~writable) | w
      h.fpu.fs = Number((v & MSTATUS.FS) >> 13n)
      h.updateXmode() // MPRV, MPV, MPP decide whether M-mode's data accesses are virtualized
      return true
    }
    case CSR.misa:
      return true // WARL, read-only here
    case CSR.medeleg:
      h.medeleg = v & (h.hypervisor ? MEDELEG_WRITABLE_H : 0xb3ffn) & ~(1n << BigInt(CAUSE.ECALL_M)) // causes 0–15 delegable, not ecall-from-M
      return true
    case CSR.mideleg:
      h.mideleg = v & S_INTS
      return true
    case CSR.mie:
      h.mie = v & (h.hypervisor ? ALL_INTS | H_INTS : ALL_INTS)
      return true
    case CSR.mtvec:
      h.mtvec = v & ~2n
      return true
    case CSR.mcounteren:
      h.mcounteren = v & 0xffffffffn
      return true
    case CSR.menvcfg: {
      const old = h.menvcfg
      h.menvcfg = envcfgWarl(v, ENVCFG_M) // Sstc, Svpbmt, Zicbom/Zicboz, FIOM
      if ((old ^ h.menvcfg) & MENVCFG.PBMTE) h.flushTlb() // cached pages were checked under the old PBMTE
      return true
    }
    case CSR.mcountinhibit: {
      // A CSR write takes effect after the writing instruction completed: it counts (or not) under the old bits.
      const bits = Number(v & 5n)
      const was = h.countInhibit
      const cycles = cyclesNow(h, instr)
      const retired = retiredNow(h, instr)
      if (bits & ~was & 1) h.cycleHeld = cycles + h.cycleOffset
      if (~bits & was & 1) h.cycleOffset = h.cycleHeld - cycles
      if (bits & ~was & 4) h.instretHeld = retired + h.instretOffset
      if (~bits & was & 4) h.instretOffset = h.instretHeld - retired
      h.countInhibit = bits
      return true
    }
    case CSR.mscratch:
      h.mscratch = v
      return true
    case CSR.mepc:
      h.mepc = v & ~1n
      return true
    case CSR.mcause:
      h.mcause = v
      return true
    case CSR.mtval:
      h.mtval = v
      return true
    case CSR.mip: {
      // Sstc: with menvcfg.STCE, STIP is stimecmp's comparator and read-only in mip.
      let m = (h.menvcfg & MENVCFG.STCE) !== 0n ? S_INTS & ~(1n << BigInt(IRQ.STI)) : S_INTS
      if (h.hypervisor) m |= 1n << BigInt(IRQ.VSSI) // mip.VSSIP aliases hvip.VSSIP
      h.mipSoft = (h.mipSoft & ~m) | (v & m)
      return true
    }
    // A write moves what the counter reads, not `instret`: that is the retired count the
    // virtual clock is made of, and firmware setting a counter (OpenSBI's PMU starting one
    // for perf) must not move time and strand every timer deadline.
    case CSR.tselect:
    case CSR.tdata1:
    case CSR.tdata2:
    case CSR.tdata3:
      return true // no trigger: writes have no effect
    // Written by an instruction, "the write is done instead of the increment" (unprivileged
    // spec, Zicsr): the next instruction reads `v`, so the writer's own step is counted in.
    case CSR.mcycle:
      if (h.countInhibit & 1) h.cycleHeld = v
      else h.cycleOffset = v - cyclesNow(h, instr)
      return true
    case CSR.minstret:
      if (h.countInhibit & 4) h.instretHeld = v
      else h.instretOffset = v - retiredNow(h, instr)
      return true
  }
  if (n >= CSR.pmpcfg0 && n <= CSR.pmpcfg0 + 15) {
    if (n % 2) return false
    h.pmp.writeCfg(n - CSR.pmpcfg0, v)
    h.flushTlb() // TLB entries carry PMP permissions
    return true
  }
  if (n >= CSR.pmpaddr0 && n < CSR.pmpaddr0 + 64) {
    h.pmp.writeAddr(n - CSR.pmpaddr0, v)
    h.flushTlb()
    return true
  }
  if ((n >= 0xb03 && n <= 0xb1f) || (n >= 0x323 && n <= 0x33f)) return true
  return h.hypervisor && hCsrWrite(h, n, v)
}

/** An FP instruction or CSR write changed FP state: mstatus.FS (and vsstatus.FS with V = 1) become Dirty. */
function fpDirty(h: CsrPort): void {
  h.fpu.fs = 3
  if (h.virt) h.vsFs = 3
}

/** CSRRW, CSRRS, CSRRC and their immediate forms (Zicsr), executed: raises their exceptions as traps. */
export function csrOp(h: CsrPort, d: Decoded): void {
  let n = d.immN
  const imm = d.op === Op.CSRRWI || d.op === Op.CSRRSI || d.op === Op.CSRRCI
  const src = imm ? BigInt(d.rs1) : BigInt.asUintN(64, h.x[d.rs1]!)
  const writes = d.op === Op.CSRRW || d.op === Op.CSRRWI || d.rs1 !== 0
  const reads = !(d.op === Op.CSRRW || d.op === Op.CSRRWI) || d.rd !== 0
  const denied = csrAccess(h, n, writes)
  if (denied >= 0) throw new Trap(denied, BigInt(d.raw))
  // V = 1: the S CSRs that have VS counterparts are those (chapter 8).
  if (h.virt && VS_REDIRECT.has(n)) n += 0x100
  const old = csrRead(h, n)
  if (old === undefined) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
  if (writes) {
    // mip's read-modify-write starts from the software-writable bits only (privileged spec
    // 3.1.9: "only the software-writable SEIP bit participates in the read-sets-write
    // sequence of a CSRRS or CSRRC"): firmware's `csrs mip, SSIP` while the PLIC holds SEIP
    // must not latch SEIP on for good (an SEI storm that starves the timer, issue #12 case 12).
    const base = n === CSR.mip ? h.mipSoft : n === CSR.hip || n === CSR.hvip ? h.mipSoft & VS_INTS : old
    let v = src
    if (d.op === Op.CSRRS || d.op === Op.CSRRSI) v = base | src
    else if (d.op === Op.CSRRC || d.op === Op.CSRRCI) v = base & ~src
    if (!csrWrite(h, n, v, true)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
  }
  if (reads) h.x[d.rd] = BigInt.asIntN(64, old)
}
