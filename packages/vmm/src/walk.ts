/**
 * The guest's own translation, walked by the VMM over guest RAM (what HLVX does on hardware): to
 * read the instruction that faulted when htinst does not carry it, and the legacy SBI hart masks
 * guests pass by virtual address. VS stage Sv39/Sv48 (privileged spec §4.3–4.4); the G stage maps
 * guest RAM and nothing else, so a guest-physical address is usable exactly when it is RAM.
 */
import { PTE } from './constants.js'
import type { GuestRam } from './memory.js'

/** Why a walk failed: the guest's tables are broken or the page is not accessible. */
export type WalkFault = 'page-fault' | 'not-ram'

/**
 * Guest-physical address of guest-virtual `va` under `vsatp`, for an execute (`fetch`) or read
 * access at VS privilege (U pages need SUM for reads and are never executable from VS), or a fault.
 */
export function vsTranslate(ram: GuestRam, vsatp: bigint, va: bigint, access: 'fetch' | 'read', vsstatus = 0n, privilege: 0 | 1 = 1): bigint | WalkFault {
  const mode = Number(vsatp >> 60n)
  if (mode === 0) return BigInt.asUintN(64, va)
  const levels = mode === 8 ? 3 : mode === 9 ? 4 : mode === 10 ? 5 : 0
  if (levels === 0) return 'page-fault'
  const vaBits = 12 + 9 * levels
  // The upper bits must copy bit vaBits-1 (canonical form).
  const signed = BigInt.asIntN(64, va)
  if (BigInt.asIntN(vaBits, signed) !== signed) return 'page-fault'
  let table = (vsatp & ((1n << 44n) - 1n)) << 12n
  for (let level = levels - 1; level >= 0; level--) {
    const vpn = (va >> BigInt(12 + 9 * level)) & 0x1ffn
    const e = ram.load(table + vpn * 8n, 8)
    if (e === undefined) return 'not-ram'
    const flags = Number(e & 0x3ffn)
    if ((flags & PTE.V) === 0 || ((flags & PTE.R) === 0 && (flags & PTE.W) !== 0)) return 'page-fault'
    const ppn = (e >> 10n) & ((1n << 44n) - 1n)
    if ((flags & (PTE.R | PTE.X)) === 0) {
      table = ppn << 12n
      continue
    }
    // A leaf: superpage alignment, permission, A (the VMM never sets A/D for the guest: it reports a fault the guest sees on its own retry).
    const low = BigInt(12 + 9 * level)
    if (level > 0 && (ppn & ((1n << BigInt(9 * level)) - 1n)) !== 0n) return 'page-fault'
    const user = (flags & PTE.U) !== 0
    if (access === 'fetch') {
      if ((flags & PTE.X) === 0 || (privilege === 1 && user) || (privilege === 0 && !user)) return 'page-fault'
    } else {
      const mxr = (vsstatus & (1n << 19n)) !== 0n
      const sum = (vsstatus & (1n << 18n)) !== 0n
      if (!((flags & PTE.R) !== 0 || (mxr && (flags & PTE.X) !== 0))) return 'page-fault'
      if (privilege === 1 && user && !sum) return 'page-fault'
      if (privilege === 0 && !user) return 'page-fault'
    }
    if ((flags & PTE.A) === 0) return 'page-fault'
    return ((ppn << 12n) & ~((1n << low) - 1n)) | (va & ((1n << low) - 1n))
  }
  return 'page-fault'
}

/** The instruction at guest-virtual `pc` (16 or 32 bits, each half translated on its own), or a fault. */
export function fetchGuestInstruction(ram: GuestRam, vsatp: bigint, pc: bigint, privilege: 0 | 1 = 1): number | WalkFault {
  const lo = vsTranslate(ram, vsatp, pc, 'fetch', 0n, privilege)
  if (typeof lo === 'string') return lo
  const h0 = ram.load(lo, 2)
  if (h0 === undefined) return 'not-ram'
  if ((h0 & 3n) !== 3n) return Number(h0)
  const hiVa = BigInt.asUintN(64, pc + 2n)
  const hi = vsTranslate(ram, vsatp, hiVa, 'fetch', 0n, privilege)
  if (typeof hi === 'string') return hi
  const h1 = ram.load(hi, 2)
  if (h1 === undefined) return 'not-ram'
  return Number(h0 | (h1 << 16n)) >>> 0
}
