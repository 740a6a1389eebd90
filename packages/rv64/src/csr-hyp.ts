/**
 * The hypervisor extension's CSRs (privileged spec 1.12 §8.2; issue #18: out of hart.ts): hstatus,
 * hedeleg, hideleg, hie/hip/hvip, hgatp, henvcfg, hcounteren, htimedelta, htval/htinst,
 * mtval2/mtinst and the VS CSRs, with their WARL rules. `csr.ts` dispatches here when the hart
 * offers the extension; V = 1 accesses were redirected or refused before.
 */
import { CSR, HSTATUS, IRQ, MENVCFG, MSTATUS } from '@honk/riscv'
import { ENVCFG_M, ENVCFG_S, H_INTS, HSTATUS_VSXL64, VS_INTS, envcfgWarl, type CsrPort } from './csr.js'

/** hstatus's writable fields (VSXL is read-only 64-bit; VGEIN read-only 0 with GEILEN = 0; VSBE little-endian only). */
const HSTATUS_WRITABLE = HSTATUS.VTSR | HSTATUS.VTW | HSTATUS.VTVM | HSTATUS.HU | HSTATUS.SPVP | HSTATUS.SPV | HSTATUS.GVA
/** hedeleg: exceptions 0–8, 12, 13, 15 (ecalls from HS/VS/M, guest-page faults and virtual instruction are read-only 0; table 8.2). */
const HEDELEG_WRITABLE = 0xb1ffn
const VSSTATUS_WRITABLE = MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.SUM | MSTATUS.MXR

/** The hypervisor extension's CSRs (§8.2), read by HS or M (V = 1 accesses are redirected or refused before). */
export function hCsrRead(h: CsrPort, n: number): bigint | undefined {
  switch (n) {
    case CSR.hstatus:
      return h.hstatus
    case CSR.hedeleg:
      return h.hedeleg
    case CSR.hideleg:
      return h.hideleg
    case CSR.hie:
      return h.mie & H_INTS
    case CSR.hip:
      return h.mip() & H_INTS
    case CSR.hvip:
      return h.mipSoft & VS_INTS
    case CSR.hgeie:
    case CSR.hgeip:
      return 0n // GEILEN = 0
    case CSR.htval:
      return h.htval
    case CSR.htinst:
      return h.htinst
    case CSR.hgatp:
      return h.hgatp
    case CSR.henvcfg:
      return h.henvcfg & (h.menvcfg | ENVCFG_S) // STCE and PBMTE are read-only 0 while menvcfg's are 0
    case CSR.hcounteren:
      return h.hcounteren
    case CSR.htimedelta:
      return h.htimedelta
    case CSR.mtval2:
      return h.mtval2
    case CSR.mtinst:
      return h.mtinst
    case CSR.vsstatus:
      return h.vsstatus | (BigInt(h.vsFs) << 13n) | (h.vsFs === 3 ? MSTATUS.SD : 0n)
    // vsie/vsip: the VS-level bits hideleg delegates, shifted to the S positions (VSSIP → SSIP …).
    case CSR.vsie:
      return (h.mie & h.hideleg & VS_INTS) >> 1n
    case CSR.vsip:
      return (h.mip() & h.hideleg & VS_INTS) >> 1n
    case CSR.vstvec:
      return h.vstvec
    case CSR.vsscratch:
      return h.vsscratch
    case CSR.vsepc:
      return h.vsepc
    case CSR.vscause:
      return h.vscause
    case CSR.vstval:
      return h.vstval
    case CSR.vsatp:
      return h.vsatp
    case CSR.vstimecmp:
      if (h.privilege < 3 && (h.menvcfg & MENVCFG.STCE) === 0n) return undefined
      return h.vstimecmp
  }
  return undefined
}

/** Writes a hypervisor-extension CSR (WARL rules of §8.2); false when there is no such CSR. */
export function hCsrWrite(h: CsrPort, n: number, v: bigint): boolean {
  switch (n) {
    case CSR.hstatus:
      h.hstatus = (v & HSTATUS_WRITABLE) | HSTATUS_VSXL64
      return true
    case CSR.hedeleg:
      h.hedeleg = v & HEDELEG_WRITABLE
      return true
    case CSR.hideleg:
      h.hideleg = v & VS_INTS
      return true
    case CSR.hie:
      h.mie = (h.mie & ~H_INTS) | (v & H_INTS)
      return true
    case CSR.hip: {
      const m = 1n << BigInt(IRQ.VSSI) // only VSSIP is writable in hip
      h.mipSoft = (h.mipSoft & ~m) | (v & m)
      return true
    }
    case CSR.hvip:
      h.mipSoft = (h.mipSoft & ~VS_INTS) | (v & VS_INTS)
      return true
    case CSR.hgeie:
      return true // GEILEN = 0: read-only zero
    case CSR.htval:
      h.htval = v
      return true
    case CSR.htinst:
      h.htinst = v
      return true
    case CSR.hgatp: {
      // WARL (§8.2.10): an unsupported MODE keeps the current one (the write is not ignored as
      // for satp); VMID has 14 bits; the root table is 16 KiB aligned, so PPN's two low bits read 0.
      let mode = Number(v >> 60n)
      if (mode !== 0 && mode !== 8 && mode !== 9 && (mode !== 10 || !h.sv57)) mode = h.hgatpMode
      h.hgatp = (BigInt(mode) << 60n) | (v & (0x3fffn << 44n)) | (v & ((1n << 44n) - 4n))
      h.hgatpMode = mode
      h.flushVTlb()
      return true
    }
    case CSR.henvcfg: {
      const old = h.henvcfg
      h.henvcfg = envcfgWarl(v, ENVCFG_M)
      if ((old ^ h.henvcfg) & MENVCFG.PBMTE) h.flushVTlb()
      return true
    }
    case CSR.hcounteren:
      h.hcounteren = v & 0xffffffffn
      return true
    case CSR.htimedelta:
      h.htimedelta = v
      return true
    case CSR.mtval2:
      h.mtval2 = v
      return true
    case CSR.mtinst:
      h.mtinst = v
      return true
    case CSR.vsstatus:
      h.vsstatus = (h.vsstatus & ~VSSTATUS_WRITABLE) | (v & VSSTATUS_WRITABLE)
      h.vsFs = Number((v & MSTATUS.FS) >> 13n)
      h.updateXmode() // SUM and MXR: checked on every guest TLB hit, and in the data TLB's context
      return true
    case CSR.vsie: {
      const m = h.hideleg & VS_INTS
      h.mie = (h.mie & ~m) | ((v << 1n) & m)
      return true
    }
    case CSR.vsip: {
      const m = h.hideleg & (1n << BigInt(IRQ.VSSI)) // only SSIP (= VSSIP) is writable through vsip
      h.mipSoft = (h.mipSoft & ~m) | ((v << 1n) & m)
      return true
    }
    case CSR.vstvec:
      h.vstvec = v & ~2n
      return true
    case CSR.vsscratch:
      h.vsscratch = v
      return true
    case CSR.vsepc:
      h.vsepc = v & ~1n
      return true
    case CSR.vscause:
      h.vscause = v
      return true
    case CSR.vstval:
      h.vstval = v
      return true
    case CSR.vsatp: {
      // As satp: a write of an unsupported mode has no effect at all.
      const mode = Number(v >> 60n)
      if (mode !== 0 && mode !== 8 && mode !== 9 && (mode !== 10 || !h.sv57)) return true
      h.vsatp = v & ((0xfn << 60n) | (0xffffn << 44n) | ((1n << 44n) - 1n))
      h.vsatpMode = mode
      h.flushVTlb()
      return true
    }
    case CSR.vstimecmp:
      if (h.privilege < 3 && (h.menvcfg & MENVCFG.STCE) === 0n) return false
      h.vstimecmp = v
      return true
  }
  return false
}
