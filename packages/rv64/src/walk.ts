/**
 * The page walks (issue #18: out of hart.ts): the host's Sv39/Sv48/Sv57 walk (privileged spec
 * 4.3–4.5) and the hypervisor's two-stage walk (VS stage over G stage, §8.5), each filling its
 * TLB. They run on a TLB miss only; the hits stay inline in `Hart`. They reach the hart through
 * {@link WalkHost}, a view `Hart` builds once over its private state (getters for what changes).
 */
import { CAUSE, MENVCFG, MSTATUS } from '@honk/riscv'
import type { Bus } from './bus.js'
import type { Privilege } from './hart.js'
import { PMP_R, PMP_W, PMP_X, type Pmp } from './pmp.js'
import { Trap } from './trap.js'

/** @internal What the walks read and write on a hart. */
export interface WalkHost {
  readonly bus: Bus
  readonly view: DataView
  readonly ramBase: number
  readonly pmp: Pmp
  /** The host TLB (V = 0): tag = virtual page number, the physical page, the PTE flags (PMP-restricted). */
  readonly tlbTag: Float64Array
  readonly tlbPage: Float64Array
  readonly tlbFlags: Uint8Array
  /** The guest TLB (V = 1): the final page, VS-stage flags (VS_BARE: Bare), G-stage flags (0xff: Bare). */
  readonly vtlbTag: Float64Array
  readonly vtlbPage: Float64Array
  readonly vtlbFlags: Uint16Array
  readonly vtlbGFlags: Uint8Array
  readonly satp: bigint
  readonly mstatus: bigint
  readonly menvcfg: bigint
  readonly vsstatus: bigint
  readonly vsatp: bigint
  readonly vsatpMode: number
  readonly hgatp: bigint
  readonly hgatpMode: number
  readonly henvcfg: bigint
  /** The exact address of the access when `va` is NaN (beyond ±2^53). */
  readonly lastAddr: bigint
  /** The G-stage flags of the last `gStage` translation. */
  lastGFlags: number
}

export type Access = 0 | 1 | 2
const FETCH: Access = 0
const LOAD: Access = 1
const STORE: Access = 2
const PAGE = 4096
/** The PMP permission each access kind needs. */
const PMP_NEED = [PMP_X, PMP_R, PMP_W] as const
const PAGE_FAULT = [CAUSE.FETCH_PAGE, CAUSE.LOAD_PAGE, CAUSE.STORE_PAGE] as const
const ACCESS_FAULT = [CAUSE.FETCH_ACCESS, CAUSE.LOAD_ACCESS, CAUSE.STORE_ACCESS] as const
/** The guest-page fault of each access kind. */
const GUEST_PAGE_FAULT = [CAUSE.FETCH_GUEST_PAGE, CAUSE.LOAD_GUEST_PAGE, CAUSE.STORE_GUEST_PAGE] as const
/**
 * htinst/mtinst for a guest-page fault on an implicit access of the VS-stage walk (§8.6.3, table
 * 8.12): the pseudoinstructions of a 64-bit read (0x3000) and write (0x3020, an A/D update).
 */
const TINST_PTE_READ = 0x3000n
const TINST_PTE_WRITE = 0x3020n
const PTE_V = 1
const PTE_R = 2
const PTE_W = 4
const PTE_X = 8
const PTE_U = 16
const PTE_A = 64
/** The PTE's dirty bit (also tested by the hart's TLB hit paths). */
export const PTE_D = 128
/** A VS-stage TLB flag: the VS stage is Bare (every permission, no U check). */
export const VS_BARE = 256

function faultAddr(h: WalkHost, va: number): bigint {
  return Number.isNaN(va) ? h.lastAddr : BigInt.asUintN(64, BigInt(va))
}

/** Host-stage permissions of a leaf's `flags` for an access at `priv` (mstatus.SUM, MXR). */
export function allowedHost(flags: number, kind: Access, priv: Privilege, mstatus: bigint): boolean {
  if (flags & PTE_U) {
    if (priv === 1 && (kind === FETCH || !(mstatus & MSTATUS.SUM))) return false
  } else if (priv === 0) return false
  if (kind === FETCH) return (flags & PTE_X) !== 0
  if (kind === LOAD) return (flags & PTE_R) !== 0 || ((flags & PTE_X) !== 0 && (mstatus & MSTATUS.MXR) !== 0n)
  return (flags & PTE_W) !== 0
}

/** VS-stage permissions (§8.5: vsstatus.SUM; MXR of vsstatus or mstatus). */
export function allowedVs(flags: number, kind: Access, priv: Privilege, vsstatus: bigint, mstatus: bigint): boolean {
  if (flags & VS_BARE) return true
  if (flags & PTE_U) {
    if (priv === 1 && (kind === FETCH || !(vsstatus & MSTATUS.SUM))) return false
  } else if (priv === 0) return false
  if (kind === FETCH) return (flags & PTE_X) !== 0
  if (kind === LOAD) return (flags & PTE_R) !== 0 || ((flags & PTE_X) !== 0 && ((vsstatus | mstatus) & MSTATUS.MXR) !== 0n)
  return (flags & PTE_W) !== 0
}

/** G-stage permissions (§8.5.1): every access counts as a U-mode one (U required); mstatus.MXR. */
export function allowedG(flags: number, kind: Access, mstatus: bigint): boolean {
  if (!(flags & PTE_U)) return false
  if (kind === FETCH) return (flags & PTE_X) !== 0
  if (kind === LOAD) return (flags & PTE_R) !== 0 || ((flags & PTE_X) !== 0 && (mstatus & MSTATUS.MXR) !== 0n)
  return (flags & PTE_W) !== 0
}

// The faults of the walks, as functions (not closures made on every walk: a walk runs on every
// TLB miss, and a closure per call was a measurable share of a boot's allocation).
function hostPageFault(h: WalkHost, va: number, kind: Access): Trap {
  return new Trap(PAGE_FAULT[kind], faultAddr(h, va))
}
function vsPageFault(kind: Access, u: bigint): Trap {
  return new Trap(PAGE_FAULT[kind], u, 0n, 0n, true)
}
function guestPageFault(kind: Access, va: bigint, gpa: bigint, tinst: bigint): Trap {
  return new Trap(GUEST_PAGE_FAULT[kind], va, gpa >> 2n, tinst, true)
}

/** The host walk (satp's mode `mode`) after a TLB miss: fills the TLB, returns the physical address or throws the fault. */
export function walk(h: WalkHost, va: number, kind: Access, priv: Privilege, mode: number): number {
  const levels = mode - 5 // Sv39 = 8 → 3, Sv48 = 9 → 4, Sv57 = 10 → 5
  const bits = 12 + 9 * levels
  // The virtual page number (signed) and the page offset. Both fit a number exactly even when
  // `va` does not: then (NaN, only ever a data access) they come from the exact address in
  // `lastAddr`. Only Sv57 has canonical addresses that large.
  let vpn: number
  let off: number
  let u: bigint
  if (va === va) {
    // The address must be canonical: bits above `bits` copy bit bits-1.
    if (va >= 2 ** (bits - 1) || va < -(2 ** (bits - 1))) throw hostPageFault(h, va, kind)
    u = BigInt.asUintN(64, BigInt(va))
    vpn = Math.floor(va / PAGE)
    off = va - vpn * PAGE
  } else {
    if (mode !== 10) throw hostPageFault(h, va, kind)
    u = h.lastAddr
    const s = BigInt.asIntN(64, u)
    if (s >= 1n << 56n || s < -(1n << 56n)) throw hostPageFault(h, va, kind)
    vpn = Number(s >> 12n)
    off = Number(u & 0xfffn)
    const i = vpn & (h.tlbTag.length - 1)
    if (h.tlbTag[i] === vpn) {
      const f = h.tlbFlags[i]!
      if (allowedHost(f, kind, priv, h.mstatus) && (kind !== STORE || f & PTE_D)) return h.tlbPage[i]! * PAGE + off
    }
  }
  let table = (h.satp & ((1n << 44n) - 1n)) * 4096n
  for (let level = levels - 1; level >= 0; level--) {
    const pteAddr = Number(table + ((u >> BigInt(12 + 9 * level)) & 511n) * 8n)
    if (!h.bus.isRam(pteAddr, 8)) throw new Trap(ACCESS_FAULT[kind], faultAddr(h, va))
    // The walk's own reads are S-mode reads for PMP (§3.7.1).
    if (h.pmp.active && !h.pmp.check(pteAddr, 8, PMP_R, 1)) throw new Trap(ACCESS_FAULT[kind], faultAddr(h, va))
    let pte = h.view.getBigUint64(pteAddr - h.ramBase, true)
    const flags = Number(pte & 0xffn)
    // Invalid, W without R, reserved high bits (Svpbmt's PBMT only with menvcfg.PBMTE, on a leaf, not 3; no Svnapot): a page fault.
    if (!(flags & PTE_V) || (!(flags & PTE_R) && flags & PTE_W) || (pte >> 54n && badHigh(pte, h.menvcfg))) throw hostPageFault(h, va, kind)
    const ppn = (pte >> 10n) & ((1n << 44n) - 1n)
    if (!(flags & (PTE_R | PTE_X))) {
      if (level === 0) throw hostPageFault(h, va, kind)
      table = ppn * 4096n
      continue
    }
    // A superpage's PPN must be aligned to its size.
    if (level > 0 && ppn & ((1n << BigInt(9 * level)) - 1n)) throw hostPageFault(h, va, kind)
    if (!allowedHost(flags, kind, priv, h.mstatus)) throw hostPageFault(h, va, kind)
    // A and D are updated by the hart (as QEMU does), written back to the PTE.
    const want = PTE_A | (kind === STORE ? PTE_D : 0)
    if ((flags & want) !== want) {
      const read = pte
      pte |= BigInt(want)
      if (!setAccessedDirty(h, pteAddr - h.ramBase, read, pte)) return walk(h, va, kind, priv, mode)
    }
    const pageMask = (1n << BigInt(9 * level)) - 1n
    const ppage = Number((ppn & ~pageMask) | ((u >> 12n) & pageMask))
    const i = vpn & (h.tlbTag.length - 1)
    let tlbFlags = Number(pte & 0xffn)
    if (h.pmp.active) {
      const pa = ppage * PAGE + off
      if (!h.pmp.check(pa, 1, PMP_NEED[kind], priv)) throw new Trap(ACCESS_FAULT[kind], faultAddr(h, va))
      // Only a page PMP grants wholly to S/U may be served from the TLB without a check.
      if (h.pmp.pagePerms(ppage * PAGE) !== (PMP_R | PMP_W | PMP_X)) tlbFlags &= ~(PTE_R | PTE_W | PTE_X)
    }
    h.tlbTag[i] = vpn
    h.tlbPage[i] = ppage
    h.tlbFlags[i] = tlbFlags
    return ppage * PAGE + off
  }
  throw hostPageFault(h, va, kind)
}


/**
 * The two-stage walk (§8.5): the VS stage (vsatp: Sv39/Sv48/Sv57) whose every PTE address is a
 * guest physical address translated by the G stage, then the G stage of the result. A VS-stage
 * fault is a page fault (tval the guest virtual address); a G-stage one a guest-page fault
 * (htval/mtval2 = GPA >> 2; an implicit PTE access also writes its pseudoinstruction to htinst).
 * A/D are set at both stages. The final page goes into the guest TLB.
 */
export function walkV(h: WalkHost, va: number, kind: Access, perm: Access, priv: Privilege): number {
  const u = va === va ? BigInt.asUintN(64, BigInt(va)) : h.lastAddr
  let gpa: bigint
  let vsFlags: number
  const mode = h.vsatpMode
  // The guest TLB's tag is the signed virtual page number, which fits a number exactly even when
  // `va` does not (an Sv57 guest's address beyond ±2^53, NaN here, exact in `lastAddr`): such an
  // access is looked up (and below, filled) by that page number, as the host's walk does. Only a
  // canonical Sv57 address gets a page number; anything else walks (and faults).
  let vpn = NaN
  if (va === va) vpn = Math.floor(va / PAGE)
  else if (mode === 10) {
    const s = BigInt.asIntN(64, u)
    if (s < 1n << 56n && s >= -(1n << 56n)) {
      vpn = Number(s >> 12n)
      const i = vpn & (h.vtlbTag.length - 1)
      if (h.vtlbTag[i] === vpn) {
        const f = h.vtlbFlags[i]!
        const g = h.vtlbGFlags[i]!
        if (allowedVs(f, perm, priv, h.vsstatus, h.mstatus) && allowedG(g, perm, h.mstatus) && (kind !== STORE || ((f & VS_BARE || f & PTE_D) && g & PTE_D))) return h.vtlbPage[i]! * PAGE + Number(u & 0xfffn)
      }
    }
  }
  if (mode === 0) {
    gpa = u
    vsFlags = VS_BARE
  } else {
    const levels = mode - 5
    const bits = BigInt(12 + 9 * levels)
    const sv = BigInt.asIntN(64, u)
    if (sv >= 1n << (bits - 1n) || sv < -(1n << (bits - 1n))) throw vsPageFault(kind, u)
    let table = (h.vsatp & ((1n << 44n) - 1n)) * 4096n
    for (let level = levels - 1; ; level--) {
      const pteGpa = table + ((u >> BigInt(12 + 9 * level)) & 511n) * 8n
      const pteAddr = gStage(h, pteGpa, LOAD, kind, u, TINST_PTE_READ)
      if (!h.bus.isRam(pteAddr, 8) || (h.pmp.active && !h.pmp.check(pteAddr, 8, PMP_R, 1))) throw new Trap(ACCESS_FAULT[kind], u, 0n, 0n, true)
      let pte = h.view.getBigUint64(pteAddr - h.ramBase, true)
      const flags = Number(pte & 0xffn)
      // The VS stage's PBMT needs henvcfg.PBMTE (Svpbmt).
      if (!(flags & PTE_V) || (!(flags & PTE_R) && flags & PTE_W) || (pte >> 54n && badHigh(pte, h.henvcfg & h.menvcfg))) throw vsPageFault(kind, u)
      const ppn = (pte >> 10n) & ((1n << 44n) - 1n)
      if (!(flags & (PTE_R | PTE_X))) {
        if (level === 0) throw vsPageFault(kind, u)
        table = ppn * 4096n
        continue
      }
      const pageMask = (1n << BigInt(9 * level)) - 1n
      if (level > 0 && ppn & pageMask) throw vsPageFault(kind, u)
      if (!allowedVs(flags, perm, priv, h.vsstatus, h.mstatus)) throw vsPageFault(kind, u)
      const want = PTE_A | (kind === STORE ? PTE_D : 0)
      if ((flags & want) !== want) {
        // The A/D update is a store to the PTE's guest physical address: the G stage must allow it.
        const wAddr = gStage(h, pteGpa, STORE, kind, u, TINST_PTE_WRITE)
        const read = pte
        pte |= BigInt(want)
        if (!setAccessedDirty(h, wAddr - h.ramBase, read, pte)) return walkV(h, va, kind, perm, priv)
      }
      vsFlags = Number(pte & 0xffn)
      gpa = (((ppn & ~pageMask) | ((u >> 12n) & pageMask)) << 12n) | (u & 0xfffn)
      break
    }
  }
  const pa = gStage(h, gpa, perm, kind, u, 0n)
  let gFlags = h.lastGFlags
  if (h.pmp.active) {
    if (!h.pmp.check(pa, 1, PMP_NEED[kind], priv)) throw new Trap(ACCESS_FAULT[kind], u, 0n, 0n, true)
    if (h.pmp.pagePerms(pa - (pa % PAGE)) !== (PMP_R | PMP_W | PMP_X)) {
      vsFlags &= ~(PTE_R | PTE_W | PTE_X)
      gFlags &= ~(PTE_R | PTE_W | PTE_X)
      if (vsFlags & VS_BARE) vsFlags = PTE_V // no permission: every access walks again
    }
  }
  if (vpn === vpn) {
    const i = vpn & (h.vtlbTag.length - 1)
    h.vtlbTag[i] = vpn
    h.vtlbPage[i] = Math.floor(pa / PAGE)
    h.vtlbFlags[i] = vsFlags
    h.vtlbGFlags[i] = gFlags
  }
  return pa
}

/**
 * The G stage (§8.5.1, Sv39x4/Sv48x4/Sv57x4 under hgatp): guest physical `gpa` → physical, with
 * permission `perm`. A fault is a guest-page fault of access kind `kind`, tval the guest virtual
 * address `va`, htval GPA >> 2, htinst `tinst` (a pseudoinstruction for an implicit access).
 */
export function gStage(h: WalkHost, gpa: bigint, perm: Access, kind: Access, va: bigint, tinst: bigint): number {
  const mode = h.hgatpMode
  if (mode === 0) {
    h.lastGFlags = 0xff
    if (gpa >= 1n << 53n) throw new Trap(ACCESS_FAULT[kind], va, 0n, 0n, true)
    return Number(gpa)
  }
  const levels = mode - 5
  // The guest physical address has 2 more bits than the VS stage's virtual one (the "x4").
  if (gpa >> BigInt(12 + 9 * levels + 2)) throw guestPageFault(kind, va, gpa, tinst)
  let table = (h.hgatp & ((1n << 44n) - 1n)) * 4096n
  for (let level = levels - 1; ; level--) {
    const index = (gpa >> BigInt(12 + 9 * level)) & (level === levels - 1 ? 2047n : 511n) // the root has 2048 entries (16 KiB)
    const pteAddr = Number(table + index * 8n)
    if (!h.bus.isRam(pteAddr, 8) || (h.pmp.active && !h.pmp.check(pteAddr, 8, PMP_R, 1))) throw new Trap(ACCESS_FAULT[kind], va, 0n, 0n, true)
    let pte = h.view.getBigUint64(pteAddr - h.ramBase, true)
    const flags = Number(pte & 0xffn)
    if (!(flags & PTE_V) || (!(flags & PTE_R) && flags & PTE_W) || (pte >> 54n && badHigh(pte, h.menvcfg))) throw guestPageFault(kind, va, gpa, tinst)
    const ppn = (pte >> 10n) & ((1n << 44n) - 1n)
    if (!(flags & (PTE_R | PTE_X))) {
      if (level === 0) throw guestPageFault(kind, va, gpa, tinst)
      table = ppn * 4096n
      continue
    }
    const pageMask = (1n << BigInt(9 * level)) - 1n
    if (level > 0 && ppn & pageMask) throw guestPageFault(kind, va, gpa, tinst)
    if (!allowedG(flags, perm, h.mstatus)) throw guestPageFault(kind, va, gpa, tinst)
    const want = PTE_A | (perm === STORE ? PTE_D : 0)
    if ((flags & want) !== want) {
      const read = pte
      pte |= BigInt(want)
      if (!setAccessedDirty(h, pteAddr - h.ramBase, read, pte)) return gStage(h, gpa, perm, kind, va, tinst)
    }
    h.lastGFlags = Number(pte & 0xffn)
    return Number((((ppn & ~pageMask) | ((gpa >> 12n) & pageMask)) << 12n) | (gpa & 0xfffn))
  }
}

/**
 * A PTE's bits 63:54 (given some are set) make it invalid: Svpbmt's PBMT (62:61) is allowed only
 * when `envcfg` has PBMTE, on a leaf, and not 3; N (63, Svnapot) and 60:54 are reserved here.
 */
/**
 * Writes back a PTE read as `read` with A (and D) set, as `updated`, at RAM offset `o`. The update
 * must be atomic with respect to other accesses to the PTE and happen only if the PTE still
 * holds what the walk read (privileged spec 1.12, 4.3.2 step 7): on a RAM shared with harts on other
 * threads, a compare-and-swap; false when another hart changed the PTE meanwhile, and the walk
 * starts again. (A plain read-modify-write could put back a PTE that the other hart had just
 * replaced — Linux changing a mapping while a hart on another thread sets its A bit.)
 */
function setAccessedDirty(h: WalkHost, o: number, read: bigint, updated: bigint): boolean {
  const shared = h.bus.shared
  if (shared === undefined || (o & 7) !== 0) {
    h.view.setBigUint64(o, updated, true)
    return true
  }
  const words = new BigUint64Array(shared, 0, shared.byteLength >>> 3)
  return Atomics.compareExchange(words, o >>> 3, read, updated) === read
}

export function badHigh(pte: bigint, envcfg: bigint): boolean {
  const high = pte >> 54n
  if ((envcfg & MENVCFG.PBMTE) === 0n || (high & ~0x180n) !== 0n) return true
  return (high >> 7n) === 3n || (pte & BigInt(PTE_R | PTE_X)) === 0n
}
