/**
 * The hart: an RV64IMAFDC + Zicsr/Zifencei/Zicntr + Zba/Zbb/Zbs interpreter with machine,
 * supervisor and user modes (privileged spec 1.12): traps with delegation, interrupts with
 * priority, CSRs, WFI, LR/SC and AMOs, Sv39/Sv48 translation (Sv57 as an option,
 * `HartOptions.sv57`). F and D live in `fpu.ts` (registers, fcsr, mstatus.FS, arithmetic); PMP
 * (TOR/NA4/NAPOT, locks) is enforced on every access and page-table walk (`pmp.ts`; the TLB
 * carries the permissions).
 *
 * Registers live in a BigInt64Array with a BigUint64Array view of the same memory: V8 compiles
 * BigInt arithmetic whose result is stored straight into such an array to native 64-bit code,
 * and the unsigned view gives unsigned comparisons and shifts for free. An Int32Array view of
 * the same registers serves addresses, branches, loads and stores with number arithmetic (no
 * BigInt allocated). Decoded instructions are cached per address (decode once); stores to a
 * line holding cached code drop that line's entries, and `fence.i` drops everything. Hot
 * straight-line runs are compiled into JS functions (`block.ts`), entered from the fetch page.
 */
import { HonkError } from '@honk/errors'
import { type Bus, type Clock } from './bus.js'
import { CAUSE, CAUSE_INTERRUPT, CSR, HSTATUS, IRQ, MENVCFG, MSTATUS } from '@honk/riscv'
import { Op, decode, type Decoded } from './decode.js'
import { compileBlock } from './block.js'
import { DecodeCache } from './decode-cache.js'
import { Fpu } from './fpu.js'
import { PMP_R, PMP_W, PMP_X, Pmp } from './pmp.js'

/** Why `run()` returned; `yield` = the host asked the hart to stop after the current instruction ({@link Hart.requestYield}). */
export type StopReason = 'budget' | 'wfi' | 'breakpoint' | 'exit' | 'error' | 'yield'
export interface RunResult {
  reason: StopReason
  executed: number
  code?: number
  message?: string
}

export type Privilege = 0 | 1 | 3

export interface HartOptions {
  hartId: number
  bus: Bus
  clock: Clock
  resetPc?: number
  /** Visits before a block is compiled (default {@link DEFAULT_BLOCK_THRESHOLD}; Infinity = never). */
  blockThreshold?: number
  /**
   * Offer Sv57 (satp.MODE 10) besides Sv39 and Sv48 (default false: a write of mode 10 to `satp`
   * has no effect, as today). Data accesses beyond ±2^53 are translated exactly; an instruction
   * fetch from a pc beyond ±2^53 is refused: `run()` stops with reason `error` (see
   * docs/RATIONALE.md "Why is Sv57 an option, off by default?").
   */
  sv57?: boolean
  /**
   * Offer the hypervisor extension (privileged spec 1.12 chapter 8; misa.H): V mode (VS, VU), the
   * hypervisor and VS CSRs, two-stage translation, HLV/HSV/HFENCE (default false: misa.H clear, the
   * H CSRs and instructions illegal, as before). GEILEN is 0 (no guest external interrupt files).
   */
  hypervisor?: boolean
}

/** The state of a hart, for snapshot/restore. */
export interface HartState {
  x: bigint[]
  /** f0–f31, raw 64-bit contents. */
  f: bigint[]
  /** frm << 5 | fflags. */
  fcsr: number
  pc: number
  privilege: Privilege
  csrs: Record<string, bigint>
  instret: bigint
  /** pmpcfg0–15 (the odd ones stay 0 on RV64) and pmpaddr0–63: every PMP entry, locked or not. */
  pmpcfg: bigint[]
  pmpaddr: bigint[]
  /** Pending bits of mip: the software-writable ones (SSIP, STIP, SEIP) and the device lines. */
  mipSoft: bigint
  mipHw: bigint
  /** The LR reservation's address, null when there is none. */
  reservation: number | null
  /** Sitting in WFI. */
  waiting: boolean
  /** V, the virtualization mode (hypervisor extension): the hart runs a guest in VS or VU mode. Absent = false. */
  virt?: boolean
}

/** Raised inside the interpreter to take a trap; never escapes `run()`. */
class Trap {
  constructor(
    readonly cause: number,
    readonly tval: bigint,
    /** htval/mtval2: a guest physical address >> 2 (guest-page faults), else 0. */
    readonly tval2: bigint = 0n,
    /** htinst/mtinst: a (pseudo)instruction, or 0. */
    readonly tinst: bigint = 0n,
    /** tval is a guest virtual address (hstatus.GVA / mstatus.GVA). */
    readonly gva: boolean = false,
  ) {}
}

/**
 * Raised inside the interpreter (Sv57 offered) when the pc lies beyond ±2^53, where a number
 * may not hold it exactly; `run()` stops with reason `error`. Never escapes `run()`.
 */
class WidePc {
  constructor(readonly pc: number) {}
}

/** A hart-level host error (never a guest action): e.g. a snapshot of another shape. */
export class HartError extends HonkError<'RV64_HART'> {
  constructor(message: string) {
    super('RV64_HART', message)
  }
}

const MASK64 = (1n << 64n) - 1n
/** senvcfg's fields (chapter 4): FIOM, CBIE, CBCFE, CBZE. menvcfg and henvcfg add PBMTE and STCE. */
const ENVCFG_S = MENVCFG.FIOM | MENVCFG.CBIE | MENVCFG.CBCFE | MENVCFG.CBZE
const ENVCFG_M = ENVCFG_S | MENVCFG.PBMTE | MENVCFG.STCE
/** An xenvcfg write: the fields in `mask`; CBIE's reserved value 10 reads as 00 (WARL). */
function envcfgWarl(v: bigint, mask: bigint): bigint {
  let w = v & mask
  if ((w & MENVCFG.CBIE) === 2n << 4n) w &= ~MENVCFG.CBIE
  return w
}
const MISA = (2n << 62n) | (1n << 0n) | (1n << 2n) | (1n << 3n) | (1n << 5n) | (1n << 8n) | (1n << 12n) | (1n << 18n) | (1n << 20n) // RV64 A C D F I M S U
const SSTATUS_MASK = MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.UBE | MSTATUS.SPP | MSTATUS.FS | MSTATUS.SUM | MSTATUS.MXR | MSTATUS.UXL | MSTATUS.SD
const MSTATUS_WRITABLE = MSTATUS.SIE | MSTATUS.MIE | MSTATUS.SPIE | MSTATUS.MPIE | MSTATUS.SPP | MSTATUS.MPP | MSTATUS.MPRV | MSTATUS.SUM | MSTATUS.MXR | MSTATUS.TVM | MSTATUS.TW | MSTATUS.TSR
const S_INTS = (1n << BigInt(IRQ.SSI)) | (1n << BigInt(IRQ.STI)) | (1n << BigInt(IRQ.SEI))
const ALL_INTS = S_INTS | (1n << BigInt(IRQ.MSI)) | (1n << BigInt(IRQ.MTI)) | (1n << BigInt(IRQ.MEI))
/** Interrupt priority, highest first (privileged spec 3.1.9): MEI, MSI, MTI, SEI, SSI, STI. */
const PRIORITY = [IRQ.MEI, IRQ.MSI, IRQ.MTI, IRQ.SEI, IRQ.SSI, IRQ.STI]
const PAGE = 4096
// The hypervisor extension (privileged spec 1.12 chapter 8).
const MISA_H = 1n << 7n
/** VSSIP, VSTIP, VSEIP: the VS-level interrupts (hvip, hideleg, mideleg's read-only ones). */
const VS_INTS = (1n << BigInt(IRQ.VSSI)) | (1n << BigInt(IRQ.VSTI)) | (1n << BigInt(IRQ.VSEI))
/** hie/hip: the VS-level interrupts and SGEI. */
const H_INTS = VS_INTS | (1n << BigInt(IRQ.SGEI))
/** mideleg bits that read as one with H (chapter 8, "mideleg": VS-level and SGEI interrupts go at least to HS). */
const MIDELEG_FORCED = H_INTS
/** hstatus's writable fields (VSXL is read-only 64-bit; VGEIN read-only 0 with GEILEN = 0; VSBE little-endian only). */
const HSTATUS_WRITABLE = HSTATUS.VTSR | HSTATUS.VTW | HSTATUS.VTVM | HSTATUS.HU | HSTATUS.SPVP | HSTATUS.SPV | HSTATUS.GVA
const HSTATUS_VSXL64 = 2n << 32n
/** hedeleg: exceptions 0–8, 12, 13, 15 (ecalls from HS/VS/M, guest-page faults and virtual instruction are read-only 0; table 8.2). */
const HEDELEG_WRITABLE = 0xb1ffn
/** medeleg with H: also ecall from VS (10), guest-page faults (20, 21, 23) and virtual instruction (22). */
const MEDELEG_WRITABLE_H = 0xb3ffn | (1n << 10n) | (0xfn << 20n)
const VSSTATUS_WRITABLE = MSTATUS.SIE | MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.SUM | MSTATUS.MXR
/** HS-level interrupt priority (chapter 8): SEI, SSI, STI, SGEI, VSEI, VSSI, VSTI after the M ones. */
const PRIORITY_H = [IRQ.MEI, IRQ.MSI, IRQ.MTI, IRQ.SEI, IRQ.SSI, IRQ.STI, IRQ.SGEI, IRQ.VSEI, IRQ.VSSI, IRQ.VSTI]
/** Causes whose tval is an address: with V = 1 it is a guest virtual address (GVA). */
const ADDRESS_CAUSES = [0, 1, 4, 5, 6, 7, 12, 13, 15, 20, 21, 23].reduce((m, c) => m | (1 << c), 0)
/** S CSRs that V = 1 redirects to their VS counterparts (CSR + 0x100; chapter 8): sstatus…satp, not scounteren/senvcfg. */
const VS_REDIRECT = new Set<number>([CSR.sstatus, CSR.sie, CSR.stvec, CSR.sscratch, CSR.sepc, CSR.scause, CSR.stval, CSR.sip, CSR.stimecmp, CSR.satp])
/** The S CSRs this hart has (a VU-mode access to one is a virtual-instruction exception). */
const S_CSRS = new Set<number>([...VS_REDIRECT, CSR.scounteren, CSR.senvcfg])
/** The hypervisor and VS CSRs (a VS/VU-mode access is a virtual-instruction exception). */
const H_CSRS = new Set<number>([CSR.hstatus, CSR.hedeleg, CSR.hideleg, CSR.hie, CSR.htimedelta, CSR.hcounteren, CSR.hgeie, CSR.henvcfg, CSR.htval, CSR.hip, CSR.hvip, CSR.htinst, CSR.hgatp, CSR.hgeip,
  CSR.vsstatus, CSR.vsie, CSR.vstvec, CSR.vsscratch, CSR.vsepc, CSR.vscause, CSR.vstval, CSR.vsip, CSR.vstimecmp, CSR.vsatp])
/** The guest-page fault of each access kind. */
const GUEST_PAGE_FAULT = [CAUSE.FETCH_GUEST_PAGE, CAUSE.LOAD_GUEST_PAGE, CAUSE.STORE_GUEST_PAGE] as const
/**
 * htinst/mtinst for a guest-page fault on an implicit access of the VS-stage walk (§8.6.3, table
 * 8.12): the pseudoinstructions of a 64-bit read (0x3000) and write (0x3020, an A/D update).
 */
const TINST_PTE_READ = 0x3000n
const TINST_PTE_WRITE = 0x3020n
/** A VS-stage TLB flag: the VS stage is Bare (every permission, no U check). */
const VS_BARE = 256
/** Times a block start is reached before it is compiled (most code that runs once stays interpreted). */
/**
 * Visits of a block start before it is compiled. Measured (2026-11-30): at 8 the CPU bench ran
 * at 140 M instr/s but Linux's boot (34 M instructions over ~35 000 distinct hot blocks) took 3.4×
 * longer than the interpreter alone — each new function starts in V8's bytecode interpreter,
 * slower than ours, and pays its compile cost; at 20 000 the bench keeps 136 and the boot is as
 * fast as the interpreter's. See docs/RATIONALE.md "Why compile a block only after 20 000 visits?".
 */
export const DEFAULT_BLOCK_THRESHOLD = 20_000
const TLB_SIZE = 256
type Access = 0 | 1 | 2
const FETCH: Access = 0
const LOAD: Access = 1
const STORE: Access = 2
/** The PMP permission each access kind needs. */
const PMP_NEED = [PMP_X, PMP_R, PMP_W] as const
const PAGE_FAULT = [CAUSE.FETCH_PAGE, CAUSE.LOAD_PAGE, CAUSE.STORE_PAGE] as const
const ACCESS_FAULT = [CAUSE.FETCH_ACCESS, CAUSE.LOAD_ACCESS, CAUSE.STORE_ACCESS] as const
const PTE_V = 1
const PTE_R = 2
const PTE_W = 4
const PTE_X = 8
const PTE_U = 16
const PTE_A = 64
const PTE_D = 128

export class Hart {
  readonly hartId: number
  /** Integer registers (x0 is kept 0). */
  readonly x = new BigInt64Array(32)
  private readonly xu = new BigUint64Array(this.x.buffer)
  /**
   * The same registers as 32-bit halves (little-endian host: x[i] is xw[2i] low, xw[2i + 1]
   * high): addresses, branches, loads and stores use these with plain number arithmetic and
   * allocate no BigInt (each BigInt read from the 64-bit views is a heap allocation).
   */
  private readonly xw = new Int32Array(this.x.buffer)
  /** F and D: f0–f31, fcsr, and mstatus.FS (which `mstatus` itself never holds). */
  readonly fpu = new Fpu(this.x)
  pc: number
  privilege: Privilege = 3
  /** Set when the hart sits in WFI with nothing pending. */
  waiting = false
  /** Called before each instruction when set (trace mode; slows the hart). */
  onTrace: ((pc: number, d: Decoded) => void) | undefined

  // CSRs
  private mstatus = (2n << 32n) | (2n << 34n) // UXL = SXL = 64-bit
  private medeleg = 0n
  private mideleg = 0n
  private mie = 0n
  /** Software-writable pending bits (SSIP, STIP, SEIP). */
  private mipSoft = 0n
  /** Pending bits driven by devices (MSIP, MTIP, MEIP, SEIP). */
  private mipHw = 0n
  private mtvec = 0n
  private mcounteren = 0n
  private menvcfg = 0n
  private mscratch = 0n
  private mepc = 0n
  private mcause = 0n
  private mtval = 0n
  private stvec = 0n
  private scounteren = 0n
  private senvcfg = 0n
  private sscratch = 0n
  private sepc = 0n
  private scause = 0n
  private stval = 0n
  private stimecmp = MASK64
  private satp = 0n
  /** satp.MODE as a number (0 bare, 8 Sv39, 9 Sv48, 10 Sv57 when offered), kept with every satp write. */
  private satpMode = 0
  /**
   * What `translate` switches on: satp's mode while accesses are not virtualized, -1 while some may
   * be (V = 1, M-mode with MPRV and MPV, an HLV/HSV running): then `translateV` decides. Kept by
   * `updateXmode` (privilege changes, mstatus and satp writes).
   */
  private xmode = 0
  /** The hypervisor extension is offered (HartOptions.hypervisor). */
  readonly hypervisor: boolean
  /** V: the hart runs a guest (VS mode at privilege 1, VU at 0). Set with {@link setVirt}. */
  private virt = false
  private hstatus = HSTATUS_VSXL64
  private hedeleg = 0n
  private hideleg = 0n
  private hcounteren = 0n
  private htimedelta = 0n
  private henvcfg = 0n
  private htval = 0n
  private htinst = 0n
  private hgatp = 0n
  private hgatpMode = 0
  private mtval2 = 0n
  private mtinst = 0n
  /** vsstatus without FS (kept in `vsFs`) and SD (derived); UXL reads 64-bit. */
  private vsstatus = 2n << 32n
  private vsFs = 0
  private vstvec = 0n
  private vsscratch = 0n
  private vsepc = 0n
  private vscause = 0n
  private vstval = 0n
  private vsatp = 0n
  private vsatpMode = 0
  private vstimecmp = MASK64
  /** While an HLV/HSV runs: 1, or 2 for HLVX (execute permission instead of read). */
  private hvAccess = 0
  private readonly pmp = new Pmp()
  /** Instructions retired: never written by the guest (the virtual clock counts these). */
  instret = 0n
  /** mcycle and minstret as the guest last set them, relative to `instret` (both count retired instructions here). */
  private cycleOffset = 0n
  private instretOffset = 0n

  private readonly bus: Bus
  private readonly clock: Clock
  private readonly view: DataView
  private readonly ramBase: number
  private readonly ramEnd: number
  private readonly cache: DecodeCache
  private reservation = NaN
  /**
   * An LR reservation at an address beyond ±2^53 (Sv57): `reservation` is NaN then and this holds
   * the exact address (-1n: none). SC, traps and restore clear it; this hart's own stores do not
   * (they break only a reservation inside ±2^53); snapshots do not carry it.
   */
  private reservationWide = -1n
  /**
   * What the LR read. Harts run in slices, and another hart's store into the reserved word does
   * not reach this hart's `reservation`; so the SC also checks that memory still holds this
   * value (the A extension: a store by any hart to the reservation set makes the SC fail; QEMU
   * checks the same way). A store of the very same value in between is not seen (ABA): the
   * compromise QEMU makes too.
   */
  private reservedValue = 0n
  private readonly breakpoints = new Set<number>()
  private stopExit = false

  constructor(options: HartOptions) {
    this.hartId = options.hartId
    this.bus = options.bus
    this.clock = options.clock
    this.view = options.bus.view
    this.ramBase = options.bus.ramBase
    this.ramEnd = options.bus.ramEnd
    this.cache = new DecodeCache(this.ramBase, this.ramEnd - this.ramBase)
    this.pc = options.resetPc ?? options.bus.ramBase
    this.blockThreshold = options.blockThreshold ?? DEFAULT_BLOCK_THRESHOLD
    this.sv57 = options.sv57 ?? false
    this.hypervisor = options.hypervisor ?? false
  }

  /** V, the virtualization mode: true while the hart runs a guest (VS or VU mode). */
  get virtualized(): boolean {
    return this.virt
  }

  /**
   * Sets V and the privilege at once, as a debugger or a VMM host would (no trap, no CSR change):
   * `setVirt(true, 1)` puts the hart in VS mode, `setVirt(true, 0)` in VU. Requires the hypervisor
   * extension for V = 1.
   */
  setVirt(virt: boolean, privilege: Privilege = this.privilege): void {
    if (virt && (!this.hypervisor || privilege === 3)) throw new HartError(virt && privilege === 3 ? 'V = 1 needs privilege 0 (VU) or 1 (VS), not 3' : 'V = 1 needs the hypervisor extension (HartOptions.hypervisor)')
    this.virt = virt
    this.privilege = privilege
    this.fetchBase = NaN
    this.updateXmode()
  }

  private readonly blockThreshold: number
  /** Whether satp accepts Sv57 (HartOptions.sv57). */
  readonly sv57: boolean

  getX(i: number): bigint {
    return i === 0 ? 0n : BigInt.asUintN(64, this.x[i]!)
  }

  setX(i: number, v: bigint): void {
    if (i !== 0) this.x[i] = BigInt.asIntN(64, v)
  }

  addBreakpoint(pc: number): void {
    this.breakpoints.add(pc)
  }

  removeBreakpoint(pc: number): void {
    this.breakpoints.delete(pc)
  }

  /**
   * Called for an `ecall` from S-mode when set: return true when the call was handled (the hart
   * continues after the ecall, like an SBI return), false to take the architectural trap. This is
   * how firmware written in TypeScript (`@honk/sbi`) sits where M-mode firmware would.
   */
  onEcall: ((hart: Hart) => boolean) | undefined

  /**
   * Sets or clears a software-writable pending bit (1 SSIP, 5 STIP, 9 SEIP) as M-mode firmware
   * would by writing mip: S-mode can clear SSIP itself through sip afterwards.
   */
  setSoftIrq(bit: number, level: boolean): void {
    const m = 1n << BigInt(bit)
    this.mipSoft = level ? this.mipSoft | m : this.mipSoft & ~m
    // WFI is left by `run()` when an enabled interrupt is pending, not here: a level that is
    // masked (a timer left in the past) must not wake the hart over and over.
  }

  /** Whether a software-writable pending bit is set (see {@link setSoftIrq}). */
  softIrq(bit: number): boolean {
    return ((this.mipSoft >> BigInt(bit)) & 1n) === 1n
  }

  private yieldRequested = false

  /**
   * Makes `run()` return (reason `yield`) after the instruction being executed — for a device or
   * firmware callback that changed what the machine should run next (a hart stopped itself, a
   * reset was requested).
   */
  requestYield(): void {
    this.yieldRequested = true
    this.stopExit = true
  }

  /** Sstc: when `stimecmp` raises STIP (menvcfg.STCE set), else never (2^64 - 1). */
  supervisorTimerDeadline(): bigint {
    if ((this.menvcfg & MENVCFG.STCE) === 0n) return MASK64
    // A guest's vstimecmp (henvcfg.STCE) compares against mtime + htimedelta.
    if ((this.henvcfg & MENVCFG.STCE) !== 0n) {
      const v = BigInt.asUintN(64, this.vstimecmp - this.htimedelta)
      if (v < this.stimecmp) return v
    }
    return this.stimecmp
  }

  /** What a remote SFENCE.VMA does: drop cached translations (all of them: always correct). */
  flushTranslations(): void {
    this.flushTlb()
  }

  /** What a remote FENCE.I does: forget decoded instructions. */
  flushDecodedInstructions(): void {
    this.clearDecoded()
  }

  /** Drives a device interrupt line in mip (3 MSIP, 7 MTIP, 11 MEIP, 9 SEIP). */
  setIrq(bit: number, level: boolean): void {
    const m = 1n << BigInt(bit)
    this.mipHw = level ? this.mipHw | m : this.mipHw & ~m
    // As for setSoftIrq: `run()` wakes a waiting hart when an enabled interrupt is pending.
  }

  /**
   * In WFI with no enabled interrupt pending (mip & mie = 0): `run()` would execute nothing.
   * When every hart is asleep, only time (the next timer deadline) or a device can wake one.
   */
  get asleep(): boolean {
    return this.waiting && !this.wakeable()
  }

  /** Current mip: device lines, software bits, and Sstc's STIP when enabled (menvcfg.STCE). */
  private mip(): bigint {
    let p = this.mipHw | this.mipSoft
    if ((this.menvcfg & MENVCFG.STCE) !== 0n) {
      p &= ~(1n << BigInt(IRQ.STI))
      if (this.clock.mtime() >= this.stimecmp) p |= 1n << BigInt(IRQ.STI)
      // Sstc in a guest: VSTIP is also raised by vstimecmp against the guest's time (henvcfg.STCE).
      if ((this.henvcfg & MENVCFG.STCE) !== 0n && BigInt.asUintN(64, this.clock.mtime() + this.htimedelta) >= this.vstimecmp) p |= 1n << BigInt(IRQ.VSTI)
    }
    return p
  }

  // ---- CSR access ----------------------------------------------------------------------

  /** Debugger access: no privilege checks, no traps. */
  getCsr(n: number): bigint {
    const v = this.csrRead(n)
    return v === undefined ? 0n : v
  }

  setCsr(n: number, v: bigint): void {
    this.csrWrite(n, BigInt.asUintN(64, v))
  }

  /**
   * Reads CSR `n` as a `csrr` executed now, at the hart's current privilege, would: undefined
   * where that instruction raises an illegal-instruction exception (privileged spec §2.1: bits
   * 9:8 of the address are the lowest privilege that may access it; a CSR that does not exist, a
   * counter its enable bits hide, an FP CSR while mstatus.FS is Off).
   */
  readCsrAsCode(n: number): bigint | undefined {
    if (this.csrAccess(n, false) >= 0) return undefined
    return this.csrRead(this.virt && VS_REDIRECT.has(n) ? n + 0x100 : n)
  }

  /** Writes CSR `n` as a `csrw` executed now would; false where it raises an illegal-instruction exception (also: bits 11:10 = 0b11 mark a read-only CSR). */
  writeCsrAsCode(n: number, v: bigint): boolean {
    if (this.csrAccess(n, true) >= 0) return false
    return this.csrWrite(this.virt && VS_REDIRECT.has(n) ? n + 0x100 : n, BigInt.asUintN(64, v))
  }

  /**
   * -1 when CSR `n` may be accessed now (read, or written when `write`), else the exception an
   * instruction doing so raises: illegal instruction, or virtual instruction (§8.6.1) for a V = 1
   * access to an H/VS CSR, to an S CSR from VU, to a counter hcounteren hides, to satp under
   * hstatus.VTVM, to stimecmp without henvcfg.STCE and hcounteren.TM. Whether the CSR exists at all
   * is `csrRead`'s answer (undefined: illegal).
   */
  private csrAccess(n: number, write: boolean): number {
    const level = (n >> 8) & 3
    if (write && n >> 10 === 3) return CAUSE.ILLEGAL
    if (!this.virt) return (level === 2 && this.hypervisor ? 1 : level) > this.privilege ? CAUSE.ILLEGAL : -1
    if (level === 3) return CAUSE.ILLEGAL
    if (level === 2) return H_CSRS.has(n) ? CAUSE.VIRTUAL_INSTRUCTION : CAUSE.ILLEGAL
    if (level === 1) {
      if (!S_CSRS.has(n)) return CAUSE.ILLEGAL
      const tm = 1n << 1n
      if (n === CSR.stimecmp && ((this.menvcfg & MENVCFG.STCE) === 0n || (this.mcounteren & tm) === 0n)) return CAUSE.ILLEGAL
      if (this.privilege === 0) return CAUSE.VIRTUAL_INSTRUCTION
      if (n === CSR.satp && (this.hstatus & HSTATUS.VTVM) !== 0n) return CAUSE.VIRTUAL_INSTRUCTION
      if (n === CSR.stimecmp && ((this.henvcfg & MENVCFG.STCE) === 0n || (this.hcounteren & tm) === 0n)) return CAUSE.VIRTUAL_INSTRUCTION
      return -1
    }
    if (n >= CSR.cycle && n <= 0xc1f) {
      // Counters (chapter 8, hcounteren): mcounteren hides → illegal; hcounteren, or scounteren in VU → virtual.
      const bit = 1n << BigInt(n & 31)
      if ((this.mcounteren & bit) === 0n) return CAUSE.ILLEGAL
      if ((this.hcounteren & bit) === 0n || (this.privilege === 0 && (this.scounteren & bit) === 0n)) return CAUSE.VIRTUAL_INSTRUCTION
    }
    return -1
  }

  private counter(n: number): bigint | undefined {
    // Counter-enable rules (privileged spec 3.1.11): S needs mcounteren, U needs both.
    const bit = 1n << BigInt(n & 31)
    if (this.privilege < 3 && !(this.mcounteren & bit)) return undefined
    if (this.privilege < 1 && !(this.scounteren & bit)) return undefined
    if (n === CSR.cycle) return BigInt.asUintN(64, this.instret + this.cycleOffset)
    if (n === CSR.instret) return BigInt.asUintN(64, this.instret + this.instretOffset)
    if (n === CSR.time) return this.virt ? BigInt.asUintN(64, this.clock.mtime() + this.htimedelta) : this.clock.mtime()
    return 0n // hpmcounter3–31
  }

  private csrRead(n: number): bigint | undefined {
    switch (n) {
      // fcsr and its fields: illegal while mstatus.FS is Off (privileged spec 3.1.6.6).
      case CSR.fflags:
        return this.fpOff() ? undefined : BigInt(this.fpu.fflags)
      case CSR.frm:
        return this.fpOff() ? undefined : BigInt(this.fpu.frm)
      case CSR.fcsr:
        return this.fpOff() ? undefined : BigInt(this.fpu.fcsr)
      case CSR.sstatus:
        return this.mstatusRead() & SSTATUS_MASK
      case CSR.sie:
        return this.mie & this.mideleg & S_INTS
      case CSR.stvec:
        return this.stvec
      case CSR.scounteren:
        return this.scounteren
      case CSR.senvcfg:
        return this.senvcfg
      case CSR.sscratch:
        return this.sscratch
      case CSR.sepc:
        return this.sepc
      case CSR.scause:
        return this.scause
      case CSR.stval:
        return this.stval
      case CSR.sip:
        return this.mip() & this.mideleg & S_INTS
      case CSR.stimecmp:
        // Sstc: S-mode access needs menvcfg.STCE (else illegal).
        if (this.privilege < 3 && (this.menvcfg & MENVCFG.STCE) === 0n) return undefined
        return this.stimecmp
      case CSR.satp:
        if (this.privilege === 1 && this.mstatus & MSTATUS.TVM) return undefined
        return this.satp
      case CSR.mstatus:
        return this.mstatusRead()
      case CSR.misa:
        return this.hypervisor ? MISA | MISA_H : MISA
      case CSR.medeleg:
        return this.medeleg
      case CSR.mideleg:
        return this.hypervisor ? this.mideleg | MIDELEG_FORCED : this.mideleg
      case CSR.mie:
        return this.mie
      case CSR.mtvec:
        return this.mtvec
      case CSR.mcounteren:
        return this.mcounteren
      case CSR.menvcfg:
        return this.menvcfg
      case CSR.mcountinhibit:
        return 0n
      case CSR.mscratch:
        return this.mscratch
      case CSR.mepc:
        return this.mepc
      case CSR.mcause:
        return this.mcause
      case CSR.mtval:
        return this.mtval
      case CSR.mip:
        return this.mip()
      case CSR.mcycle:
        return BigInt.asUintN(64, this.instret + this.cycleOffset)
      case CSR.minstret:
        return BigInt.asUintN(64, this.instret + this.instretOffset)
      case CSR.mvendorid:
      case CSR.marchid:
      case CSR.mimpid:
      case CSR.mconfigptr:
        return 0n
      case CSR.mhartid:
        return BigInt(this.hartId)
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
    if (n >= CSR.pmpcfg0 && n <= CSR.pmpcfg0 + 15) return n % 2 === 0 ? this.pmp.cfg[n - CSR.pmpcfg0]! : undefined // RV64: odd pmpcfg do not exist
    if (n >= CSR.pmpaddr0 && n < CSR.pmpaddr0 + 64) return this.pmp.addr[n - CSR.pmpaddr0]!
    if (n >= 0xb03 && n <= 0xb1f) return 0n // mhpmcounter3–31
    if (n >= 0x323 && n <= 0x33f) return 0n // mhpmevent3–31
    if (n >= CSR.cycle && n <= 0xc1f) return this.counter(n)
    return this.hypervisor ? this.hCsrRead(n) : undefined
  }

  /** FP instructions and CSRs are illegal: mstatus.FS is Off, or (V = 1) vsstatus.FS is. */
  private fpOff(): boolean {
    return this.fpu.fs === 0 || (this.virt && this.vsFs === 0)
  }

  /** The hypervisor extension's CSRs (§8.2), read by HS or M (V = 1 accesses are redirected or refused before). */
  private hCsrRead(n: number): bigint | undefined {
    switch (n) {
      case CSR.hstatus:
        return this.hstatus
      case CSR.hedeleg:
        return this.hedeleg
      case CSR.hideleg:
        return this.hideleg
      case CSR.hie:
        return this.mie & H_INTS
      case CSR.hip:
        return this.mip() & H_INTS
      case CSR.hvip:
        return this.mipSoft & VS_INTS
      case CSR.hgeie:
      case CSR.hgeip:
        return 0n // GEILEN = 0
      case CSR.htval:
        return this.htval
      case CSR.htinst:
        return this.htinst
      case CSR.hgatp:
        return this.hgatp
      case CSR.henvcfg:
        return this.henvcfg & (this.menvcfg | ENVCFG_S) // STCE and PBMTE are read-only 0 while menvcfg's are 0
      case CSR.hcounteren:
        return this.hcounteren
      case CSR.htimedelta:
        return this.htimedelta
      case CSR.mtval2:
        return this.mtval2
      case CSR.mtinst:
        return this.mtinst
      case CSR.vsstatus:
        return this.vsstatus | (BigInt(this.vsFs) << 13n) | (this.vsFs === 3 ? MSTATUS.SD : 0n)
      // vsie/vsip: the VS-level bits hideleg delegates, shifted to the S positions (VSSIP → SSIP …).
      case CSR.vsie:
        return (this.mie & this.hideleg & VS_INTS) >> 1n
      case CSR.vsip:
        return (this.mip() & this.hideleg & VS_INTS) >> 1n
      case CSR.vstvec:
        return this.vstvec
      case CSR.vsscratch:
        return this.vsscratch
      case CSR.vsepc:
        return this.vsepc
      case CSR.vscause:
        return this.vscause
      case CSR.vstval:
        return this.vstval
      case CSR.vsatp:
        return this.vsatp
      case CSR.vstimecmp:
        if (this.privilege < 3 && (this.menvcfg & MENVCFG.STCE) === 0n) return undefined
        return this.vstimecmp
    }
    return undefined
  }

  /** Writes a hypervisor-extension CSR (WARL rules of §8.2); false when there is no such CSR. */
  private hCsrWrite(n: number, v: bigint): boolean {
    switch (n) {
      case CSR.hstatus:
        this.hstatus = (v & HSTATUS_WRITABLE) | HSTATUS_VSXL64
        return true
      case CSR.hedeleg:
        this.hedeleg = v & HEDELEG_WRITABLE
        return true
      case CSR.hideleg:
        this.hideleg = v & VS_INTS
        return true
      case CSR.hie:
        this.mie = (this.mie & ~H_INTS) | (v & H_INTS)
        return true
      case CSR.hip: {
        const m = 1n << BigInt(IRQ.VSSI) // only VSSIP is writable in hip
        this.mipSoft = (this.mipSoft & ~m) | (v & m)
        return true
      }
      case CSR.hvip:
        this.mipSoft = (this.mipSoft & ~VS_INTS) | (v & VS_INTS)
        return true
      case CSR.hgeie:
        return true // GEILEN = 0: read-only zero
      case CSR.htval:
        this.htval = v
        return true
      case CSR.htinst:
        this.htinst = v
        return true
      case CSR.hgatp: {
        // WARL (§8.2.10): an unsupported MODE keeps the current one (the write is not ignored as
        // for satp); VMID has 14 bits; the root table is 16 KiB aligned, so PPN's two low bits read 0.
        let mode = Number(v >> 60n)
        if (mode !== 0 && mode !== 8 && mode !== 9 && (mode !== 10 || !this.sv57)) mode = this.hgatpMode
        this.hgatp = (BigInt(mode) << 60n) | (v & (0x3fffn << 44n)) | (v & ((1n << 44n) - 4n))
        this.hgatpMode = mode
        this.flushVTlb()
        return true
      }
      case CSR.henvcfg: {
        const old = this.henvcfg
        this.henvcfg = envcfgWarl(v, ENVCFG_M)
        if ((old ^ this.henvcfg) & MENVCFG.PBMTE) this.flushVTlb()
        return true
      }
      case CSR.hcounteren:
        this.hcounteren = v & 0xffffffffn
        return true
      case CSR.htimedelta:
        this.htimedelta = v
        return true
      case CSR.mtval2:
        this.mtval2 = v
        return true
      case CSR.mtinst:
        this.mtinst = v
        return true
      case CSR.vsstatus:
        this.vsstatus = (this.vsstatus & ~VSSTATUS_WRITABLE) | (v & VSSTATUS_WRITABLE)
        this.vsFs = Number((v & MSTATUS.FS) >> 13n)
        return true // SUM and MXR are checked on every guest TLB hit: no flush
      case CSR.vsie: {
        const m = this.hideleg & VS_INTS
        this.mie = (this.mie & ~m) | ((v << 1n) & m)
        return true
      }
      case CSR.vsip: {
        const m = this.hideleg & (1n << BigInt(IRQ.VSSI)) // only SSIP (= VSSIP) is writable through vsip
        this.mipSoft = (this.mipSoft & ~m) | ((v << 1n) & m)
        return true
      }
      case CSR.vstvec:
        this.vstvec = v & ~2n
        return true
      case CSR.vsscratch:
        this.vsscratch = v
        return true
      case CSR.vsepc:
        this.vsepc = v & ~1n
        return true
      case CSR.vscause:
        this.vscause = v
        return true
      case CSR.vstval:
        this.vstval = v
        return true
      case CSR.vsatp: {
        // As satp: a write of an unsupported mode has no effect at all.
        const mode = Number(v >> 60n)
        if (mode !== 0 && mode !== 8 && mode !== 9 && (mode !== 10 || !this.sv57)) return true
        this.vsatp = v & ((0xfn << 60n) | (0xffffn << 44n) | ((1n << 44n) - 1n))
        this.vsatpMode = mode
        this.flushVTlb()
        return true
      }
      case CSR.vstimecmp:
        if (this.privilege < 3 && (this.menvcfg & MENVCFG.STCE) === 0n) return false
        this.vstimecmp = v
        return true
    }
    return false
  }

  private mstatusRead(): bigint {
    const fs = this.fpu.fs
    let s = this.mstatus | (BigInt(fs) << 13n)
    if (fs === 3) s |= MSTATUS.SD // SD summarizes FS (no XS/VS here)
    return s
  }

  /** Returns false for a CSR that does not exist or cannot be written. */
  private csrWrite(n: number, v: bigint): boolean {
    switch (n) {
      // Writing any part of fcsr makes the FP state Dirty.
      case CSR.fflags:
        if (this.fpOff()) return false
        this.fpu.fflags = Number(v & 31n)
        this.fpDirty()
        return true
      case CSR.frm:
        if (this.fpOff()) return false
        this.fpu.frm = Number(v & 7n)
        this.fpDirty()
        return true
      case CSR.fcsr:
        if (this.fpOff()) return false
        this.fpu.fcsr = Number(v & 0xffn)
        this.fpDirty()
        return true
      case CSR.sstatus:
        // Only the writable sstatus bits change (UXL, read-only here, must survive).
        this.mstatus = (this.mstatus & ~(SSTATUS_MASK & MSTATUS_WRITABLE)) | (v & SSTATUS_MASK & MSTATUS_WRITABLE)
        this.fpu.fs = Number((v & MSTATUS.FS) >> 13n)
        this.updateXmode() // SUM and MXR are in the data TLB's context
        return true
      case CSR.sie:
        this.mie = (this.mie & ~this.mideleg) | (v & this.mideleg)
        return true
      case CSR.stvec:
        this.stvec = v & ~2n // mode 0 (direct) or 1 (vectored); 2/3 reserved
        return true
      case CSR.scounteren:
        this.scounteren = v & 0xffffffffn
        return true
      case CSR.senvcfg:
        this.senvcfg = envcfgWarl(v, ENVCFG_S)
        return true
      case CSR.sscratch:
        this.sscratch = v
        return true
      case CSR.sepc:
        this.sepc = v & ~1n
        return true
      case CSR.scause:
        this.scause = v
        return true
      case CSR.stval:
        this.stval = v
        return true
      case CSR.sip: {
        const m = this.mideleg & (1n << BigInt(IRQ.SSI)) // only SSIP is writable through sip
        this.mipSoft = (this.mipSoft & ~m) | (v & m)
        return true
      }
      case CSR.stimecmp:
        if (this.privilege < 3 && (this.menvcfg & MENVCFG.STCE) === 0n) return false
        this.stimecmp = v
        return true
      case CSR.satp: {
        if (this.privilege === 1 && this.mstatus & MSTATUS.TVM) return false
        // WARL: a write of an unsupported mode has no effect at all (Linux probes Sv57, Sv48, Sv39 this way).
        // Sv57 only with HartOptions.sv57: its addresses have 57 significant bits, beyond the 2^53
        // of the numbers the hart keeps them in; the exact paths are in `walk` (see RATIONALE
        // "Why is Sv57 an option, off by default?").
        const mode = Number(v >> 60n)
        if (mode !== 0 && mode !== 8 && mode !== 9 && (mode !== 10 || !this.sv57)) return true
        this.satp = v & ((0xfn << 60n) | (0xffffn << 44n) | ((1n << 44n) - 1n))
        this.satpMode = Number(this.satp >> 60n)
        this.updateXmode()
        this.flushTlb()
        return true
      }
      case CSR.mstatus: {
        // With H, MPV and GVA are writable too (chapter 8).
        const writable = this.hypervisor ? MSTATUS_WRITABLE | MSTATUS.MPV | MSTATUS.GVA : MSTATUS_WRITABLE
        let w = v & writable
        if (((w & MSTATUS.MPP) >> 11n) === 2n) w &= ~MSTATUS.MPP // MPP is WARL: 2 is reserved → U
        this.mstatus = (this.mstatus & ~writable) | w
        this.fpu.fs = Number((v & MSTATUS.FS) >> 13n)
        this.updateXmode() // MPRV, MPV, MPP decide whether M-mode's data accesses are virtualized
        return true
      }
      case CSR.misa:
        return true // WARL, read-only here
      case CSR.medeleg:
        this.medeleg = v & (this.hypervisor ? MEDELEG_WRITABLE_H : 0xb3ffn) & ~(1n << BigInt(CAUSE.ECALL_M)) // causes 0–15 delegable, not ecall-from-M
        return true
      case CSR.mideleg:
        this.mideleg = v & S_INTS
        return true
      case CSR.mie:
        this.mie = v & (this.hypervisor ? ALL_INTS | H_INTS : ALL_INTS)
        return true
      case CSR.mtvec:
        this.mtvec = v & ~2n
        return true
      case CSR.mcounteren:
        this.mcounteren = v & 0xffffffffn
        return true
      case CSR.menvcfg: {
        const old = this.menvcfg
        this.menvcfg = envcfgWarl(v, ENVCFG_M) // Sstc, Svpbmt, Zicbom/Zicboz, FIOM
        if ((old ^ this.menvcfg) & MENVCFG.PBMTE) this.flushTlb() // cached pages were checked under the old PBMTE
        return true
      }
      case CSR.mcountinhibit:
        return true
      case CSR.mscratch:
        this.mscratch = v
        return true
      case CSR.mepc:
        this.mepc = v & ~1n
        return true
      case CSR.mcause:
        this.mcause = v
        return true
      case CSR.mtval:
        this.mtval = v
        return true
      case CSR.mip: {
        // Sstc: with menvcfg.STCE, STIP is stimecmp's comparator and read-only in mip.
        let m = (this.menvcfg & MENVCFG.STCE) !== 0n ? S_INTS & ~(1n << BigInt(IRQ.STI)) : S_INTS
        if (this.hypervisor) m |= 1n << BigInt(IRQ.VSSI) // mip.VSSIP aliases hvip.VSSIP
        this.mipSoft = (this.mipSoft & ~m) | (v & m)
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
      case CSR.mcycle:
        this.cycleOffset = v - this.instret
        return true
      case CSR.minstret:
        this.instretOffset = v - this.instret
        return true
    }
    if (n >= CSR.pmpcfg0 && n <= CSR.pmpcfg0 + 15) {
      if (n % 2) return false
      this.pmp.writeCfg(n - CSR.pmpcfg0, v)
      this.flushTlb() // TLB entries carry PMP permissions
      return true
    }
    if (n >= CSR.pmpaddr0 && n < CSR.pmpaddr0 + 64) {
      this.pmp.writeAddr(n - CSR.pmpaddr0, v)
      this.flushTlb()
      return true
    }
    if ((n >= 0xb03 && n <= 0xb1f) || (n >= 0x323 && n <= 0x33f)) return true
    return this.hypervisor && this.hCsrWrite(n, v)
  }

  /** An FP instruction or CSR write changed FP state: mstatus.FS (and vsstatus.FS with V = 1) become Dirty. */
  private fpDirty(): void {
    this.fpu.fs = 3
    if (this.virt) this.vsFs = 3
  }

  // ---- memory --------------------------------------------------------------------------

  /** The physical address of the last `ramOffset()` that was not plain RAM. */
  private mmioPa = 0

  /**
   * Translates a data access; returns its offset in RAM when `[pa, pa + size)` is plain RAM,
   * else -1 with the physical address in `mmioPa` (for `loadMmio` / `storeMmio`).
   */
  private ramOffset(va: number, size: number, kind: Access): number {
    if (va >= this.directLo && va + size <= this.directHi) return va - this.ramBase
    // A misaligned access across a page boundary: the pages need not be adjacent in physical
    // memory, so it goes to the slow path (`mmioPa` NaN), which translates each page.
    if ((va & (PAGE - 1)) > PAGE - size) {
      this.mmioPa = NaN
      return -1
    }
    // The data TLB: with paging on, a hit is the page's RAM offset, no permission test.
    const vpn = Math.floor(va / PAGE)
    const i = vpn & (TLB_SIZE - 1)
    const key = vpn * 8 + this.dctx
    if (kind === LOAD ? this.dtlbLoadTag[i] === key : this.dtlbStoreTag[i] === key) return (kind === LOAD ? this.dtlbLoadOff[i]! : this.dtlbStoreOff[i]!) + (va - vpn * PAGE)
    const addr = this.translate(va, kind)
    if (addr >= this.ramBase && addr + size <= this.ramEnd && (this.bus.shadowedPages.size === 0 || !this.bus.shadowedPages.has(Math.floor(addr / PAGE)))) {
      if (key === key) this.fillDtlb(vpn, i, key, addr, kind)
      return addr - this.ramBase
    }
    this.mmioPa = addr
    return -1
  }

  /**
   * The data TLB (loads, stores): per kind, the RAM offset of a virtual page's first byte, tagged
   * with the page and the data context `dctx` (privilege, SUM, MXR), so a hit needs no
   * permission test: everything the access needs was checked once, when the entry was filled —
   * the PTE's permissions (and D for a store), PMP (an entry whose page PMP does not open wholly
   * has its permissions cleared in the TLB, so it never gets here), the whole page plain RAM.
   * Only while paging is on for S/U data (`dctx` NaN otherwise: the direct window serves
   * identity-mapped accesses). Emptied with the TLB (satp, SFENCE.VMA, PMP, restore) and when a
   * device sits over RAM at the start of `run()`.
   */
  private readonly dtlbLoadTag = new Float64Array(TLB_SIZE).fill(NaN)
  private readonly dtlbLoadOff = new Float64Array(TLB_SIZE)
  private readonly dtlbStoreTag = new Float64Array(TLB_SIZE).fill(NaN)
  private readonly dtlbStoreOff = new Float64Array(TLB_SIZE)
  /** The data context of the data TLB's tags: data privilege | SUM << 1 | MXR << 2; NaN unless paging is on for S/U data. */
  private dctx = NaN

  private fillDtlb(vpn: number, i: number, key: number, pa: number, kind: Access): void {
    if (this.tlbTag[i] !== vpn || this.bus.shadowedPages.size !== 0) return
    const f = this.tlbFlags[i]!
    if (!this.allowed(f, kind, this.dataPrivilege()) || (kind === STORE && !(f & PTE_D))) return
    const page = pa - (pa & (PAGE - 1))
    if (page < this.ramBase || page + PAGE > this.ramEnd) return
    if (kind === LOAD) {
      this.dtlbLoadTag[i] = key
      this.dtlbLoadOff[i] = page - this.ramBase
    } else {
      this.dtlbStoreTag[i] = key
      this.dtlbStoreOff[i] = page - this.ramBase
    }
  }

  /** The rest of a load that `ramOffset` found outside RAM. */
  private loadMmio(va: number, size: 1 | 2 | 4 | 8, signed: boolean): bigint {
    if (Number.isNaN(this.mmioPa)) return this.loadSplit(va, size, signed)
    const r = this.bus.read(this.mmioPa, size)
    if (r === undefined) throw new Trap(CAUSE.LOAD_ACCESS, this.faultAddr(va))
    return signed ? BigInt.asIntN(size * 8, r) : r
  }

  /** What follows a store into RAM at offset `o`: decoded code there is dropped (then true), a reservation broken. */
  private stored(o: number, size: number, va: number): boolean {
    if (Math.abs(va - this.reservation) < 8) this.reservation = NaN
    return this.cache.written(o + this.ramBase, size)
  }

  /** JALR's target when rs1 lies beyond ±2^53 (the block tier's slow path). */
  private jalrTarget(d: Decoded): number {
    return Number(BigInt.asIntN(64, this.x[d.rs1]! + d.imm) & ~1n)
  }

  /** Instructions a compiled block completed before the one that trapped (see block.ts). */
  private blockDone = 0

  /** The rest of a store that `ramOffset` found outside RAM. */
  private storeMmio(va: number, size: 1 | 2 | 4 | 8, value: bigint): void {
    if (Number.isNaN(this.mmioPa)) return this.storeSplit(va, size, value)
    if (!this.bus.write(this.mmioPa, size, value)) throw new Trap(CAUSE.STORE_ACCESS, this.faultAddr(va))
    if (this.bus.exitCode !== undefined) this.stopExit = true
  }

  /**
   * The physical address of each byte of a misaligned access that crosses a page boundary. The
   * privileged spec lets such an access be split into parts (§3.6.4, "Misaligned accesses"):
   * each page is translated and checked on its own, both before any byte moves, so a store that
   * faults on its second page writes nothing (stval is then that page's first address).
   */
  private splitAddresses(va: number, size: number, kind: Access): number[] {
    const first = PAGE - (va & (PAGE - 1))
    const pa1 = this.translate(va, kind)
    const pa2 = this.translate(va + first, kind)
    const pa: number[] = []
    for (let i = 0; i < size; i++) pa.push(i < first ? pa1 + i : pa2 + (i - first))
    return pa
  }

  private loadSplit(va: number, size: number, signed: boolean): bigint {
    const pa = this.splitAddresses(va, size, LOAD)
    let v = 0n
    for (let i = size - 1; i >= 0; i--) {
      const b = this.bus.read(pa[i]!, 1)
      if (b === undefined) throw new Trap(CAUSE.LOAD_ACCESS, this.faultAddr(va))
      v = (v << 8n) | b
    }
    return signed ? BigInt.asIntN(size * 8, v) : v
  }

  private storeSplit(va: number, size: number, value: bigint): void {
    const pa = this.splitAddresses(va, size, STORE)
    for (let i = 0; i < size; i++) {
      const a = pa[i]!
      if (!this.bus.write(a, 1, (value >> BigInt(8 * i)) & 0xffn)) throw new Trap(CAUSE.STORE_ACCESS, this.faultAddr(va))
      if (a >= this.ramBase && a < this.ramEnd) this.cache.written(a, 1)
    }
    if (Math.abs(va - this.reservation) < 8) this.reservation = NaN
    if (this.bus.exitCode !== undefined) this.stopExit = true
  }

  /**
   * LR, SC and AMOs need a naturally aligned address (unprivileged spec, "A" chapter: otherwise
   * an address-misaligned exception — load-misaligned for LR, store/AMO-misaligned for SC and
   * AMOs — as Linux expects, which answers with SIGBUS). Ordinary loads and stores do not.
   */
  private atomicAligned(va: number, size: number, cause: number): void {
    const low = va === va ? va & (size - 1) : Number(this.lastAddr & BigInt(size - 1))
    if (low !== 0) throw new Trap(cause, this.faultAddr(va))
  }

  private load(va: number, size: 1 | 2 | 4 | 8, signed: boolean): bigint {
    if ((va & (PAGE - 1)) > PAGE - size) return this.loadSplit(va, size, signed)
    const addr = this.translate(va, LOAD)
    if (addr >= this.ramBase && addr + size <= this.ramEnd && (this.bus.shadowedPages.size === 0 || !this.bus.shadowedPages.has(Math.floor(addr / PAGE)))) {
      const o = addr - this.ramBase
      const v = this.view
      switch (size) {
        case 1:
          return BigInt(signed ? v.getInt8(o) : v.getUint8(o))
        case 2:
          return BigInt(signed ? v.getInt16(o, true) : v.getUint16(o, true))
        case 4:
          return BigInt(signed ? v.getInt32(o, true) : v.getUint32(o, true))
        default:
          return signed ? v.getBigInt64(o, true) : v.getBigUint64(o, true)
      }
    }
    const r = this.bus.read(addr, size)
    if (r === undefined) throw new Trap(CAUSE.LOAD_ACCESS, this.faultAddr(va))
    return signed ? BigInt.asIntN(size * 8, r) : r
  }

  private store(va: number, size: 1 | 2 | 4 | 8, value: bigint): void {
    if ((va & (PAGE - 1)) > PAGE - size) return this.storeSplit(va, size, value)
    const addr = this.translate(va, STORE)
    if (addr >= this.ramBase && addr + size <= this.ramEnd && (this.bus.shadowedPages.size === 0 || !this.bus.shadowedPages.has(Math.floor(addr / PAGE)))) {
      const o = addr - this.ramBase
      const v = this.view
      switch (size) {
        case 1:
          v.setUint8(o, Number(value & 0xffn))
          break
        case 2:
          v.setUint16(o, Number(value & 0xffffn), true)
          break
        case 4:
          v.setUint32(o, Number(value & 0xffffffffn), true)
          break
        default:
          v.setBigUint64(o, BigInt.asUintN(64, value), true)
      }
      // Stores into lines holding decoded code drop those lines (data often shares a page with code).
      this.cache.written(addr, size)
      if (Math.abs(va - this.reservation) < 8) this.reservation = NaN
      return
    }
    if (!this.bus.write(addr, size, value)) throw new Trap(CAUSE.STORE_ACCESS, this.faultAddr(va))
    if (this.bus.exitCode !== undefined) this.stopExit = true
  }

  private fetch(pc: number): Decoded {
    // A pc beyond ±2^53 may have been rounded (a jump's target is computed as a BigInt, then kept
    // as a number): with Sv57 offered such a pc could be mapped, so stop rather than run from a
    // rounded address. Never on the fetch page (it lies inside ±2^53), so this is the only check.
    if ((pc > 0x1f_ffff_ffff_ffff || pc < -0x1f_ffff_ffff_ffff) && this.sv57) throw new WidePc(pc)
    const pa = this.translate(pc, FETCH)
    const hit = this.cache.get(pa)
    if (hit) {
      this.setFetchPage(pc, pa)
      return hit
    }
    let word: number
    if (pa >= this.ramBase && pa + 2 <= this.ramEnd && !this.bus.shadowedPages.has(Math.floor(pa / PAGE))) {
      const lo = this.view.getUint16(pa - this.ramBase, true)
      if ((lo & 3) === 3) {
        // The upper half may sit on the next page, translated on its own.
        const pa2 = (pa & (PAGE - 1)) === PAGE - 2 ? this.translate(pc + 2, FETCH) : pa + 2
        if (pa2 < this.ramBase || pa2 + 2 > this.ramEnd) throw new Trap(CAUSE.FETCH_ACCESS, BigInt.asUintN(64, BigInt(pc + 2)))
        word = (lo | (this.view.getUint16(pa2 - this.ramBase, true) << 16)) >>> 0
      } else word = lo
    } else {
      // Executing from a device (or nothing) is an access fault: no instruction fetch from MMIO.
      throw new Trap(CAUSE.FETCH_ACCESS, BigInt.asUintN(64, BigInt(pc)))
    }
    const d = decode(word)
    // Instructions that straddle a page are not cached (their halves translate separately).
    if ((pa & (PAGE - 1)) !== PAGE - 2 || d.len === 2) {
      this.cache.set(pa, d)
      this.setFetchPage(pc, pa)
    }
    return d
  }

  /**
   * Makes the page of `pc` (at physical `pa`) the fetch page, when PMP cannot tell its bytes
   * apart: no active entry, M-mode with no lock, or S/U with X on the whole page.
   */
  private setFetchPage(pc: number, pa: number): void {
    const pmp = this.pmp
    if (pmp.active && (this.privilege === 3 ? pmp.locked : (pmp.pagePerms(pa - (pa & (PAGE - 1))) & PMP_X) === 0)) return
    const slots = this.cache.pageSlots(pa)
    if (slots === undefined) return
    this.fetchSlots = slots
    this.fetchBase = pc - (pc & (PAGE - 1))
  }

  // ---- address translation (Sv39/Sv48/Sv57, privileged spec 4.3–4.5) -------------------

  private readonly tlbTag = new Float64Array(TLB_SIZE).fill(NaN)
  private readonly tlbPage = new Float64Array(TLB_SIZE)
  private readonly tlbFlags = new Uint8Array(TLB_SIZE)

  private flushTlb(): void {
    this.tlbTag.fill(NaN)
    this.dtlbLoadTag.fill(NaN)
    this.dtlbStoreTag.fill(NaN)
    this.vtlbTag.fill(NaN)
    this.fetchBase = NaN
    this.updateDirect()
  }

  /**
   * The guest TLB (V = 1 translations: VS stage over G stage, the final guest-virtual → physical
   * page): its own arrays, so a guest's entries and the host's never mix and entering or leaving
   * V mode flushes nothing. Emptied by vsatp, hgatp and vsstatus writes, HFENCE.*, SFENCE.VMA in
   * VS mode, and with the host TLB (PMP, satp, SFENCE.VMA, restore).
   */
  private readonly vtlbTag = new Float64Array(TLB_SIZE).fill(NaN)
  private readonly vtlbPage = new Float64Array(TLB_SIZE)
  /** VS-stage PTE flags (VS_BARE: the VS stage is Bare). */
  private readonly vtlbFlags = new Uint16Array(TLB_SIZE)
  /** G-stage PTE flags (0xff: the G stage is Bare). */
  private readonly vtlbGFlags = new Uint8Array(TLB_SIZE)

  private flushVTlb(): void {
    this.vtlbTag.fill(NaN)
    this.fetchBase = NaN
  }

  /** Recomputes `xmode` (and `direct`) after a change of V, privilege, mstatus or satp. */
  private updateXmode(): void {
    const s = this.mstatus
    const mprvV = this.privilege === 3 && (s & MSTATUS.MPRV) !== 0n && (s & MSTATUS.MPV) !== 0n && (s & MSTATUS.MPP) !== MSTATUS.MPP
    this.xmode = this.virt || mprvV || this.hvAccess !== 0 ? -1 : this.satpMode
    const dp = this.xmode > 0 ? this.dataPrivilege() : 3
    this.dctx = dp === 3 ? NaN : dp | (s & MSTATUS.SUM ? 2 : 0) | (s & MSTATUS.MXR ? 4 : 0)
    this.updateDirect()
  }

  /**
   * The direct window `[directLo, directHi)`: RAM where a data access's virtual address is its
   * physical address and needs no check, so the interpreter and compiled blocks reach it with one
   * range test. Open while translation is the identity (satp.MODE 0, or M-mode data without
   * MPRV to a lower privilege; not V) and no device sits over RAM; PMP then narrows it to the
   * longest stretch of RAM it opens wholly to the data privilege (`Pmp.window`, computed once per
   * PMP write: with OpenSBI's entries, all RAM past the firmware). Accesses outside it take the
   * checked path. Kept with every satp and PMP write (both flush the TLB), every privilege or
   * mstatus change (`updateXmode`) and at the start of every `run()` (the host may map devices).
   * Empty: [0, 0).
   */
  private directLo = 0
  private directHi = 0

  private updateDirect(): void {
    if (this.bus.shadowedPages.size !== 0 || this.xmode < 0) {
      this.directLo = this.directHi = 0
      return
    }
    const priv = this.dataPrivilege()
    if (this.xmode > 0 && priv !== 3) {
      this.directLo = this.directHi = 0
      return
    }
    const pmp = this.pmp
    if (!pmp.active || (priv === 3 && !pmp.locked)) {
      this.directLo = this.ramBase
      this.directHi = this.ramEnd
      return
    }
    const w = pmp.window(this.ramBase, this.ramEnd, priv)
    this.directLo = w.lo
    this.directHi = w.hi
  }

  /**
   * The fetch page: the virtual page `[fetchBase, fetchBase + 4096)` the hart last fetched from,
   * and the decode cache's slots for its physical page. While it holds, fetching an instruction
   * there is one subtraction and one array read (no translation, no PMP scan). It holds only
   * while nothing that the fetch depended on changes: it is dropped with the TLB (satp, PMP,
   * SFENCE.VMA), with the decode cache (FENCE.I, restore), on every privilege change (traps,
   * MRET, SRET) and at the start of every `run()`. NaN = none.
   */
  private fetchBase = NaN
  private fetchSlots: (Decoded | undefined)[] = []

  /** Forgets decoded instructions (and with them the fetch page). */
  private clearDecoded(): void {
    this.cache.clear()
    this.fetchBase = NaN
  }

  /** The privilege loads and stores run with (MPRV lets M-mode use MPP's). */
  private dataPrivilege(): Privilege {
    return this.privilege === 3 && this.mstatus & MSTATUS.MPRV ? (Number((this.mstatus & MSTATUS.MPP) >> 11n) as Privilege) : this.privilege
  }

  /** Virtual → physical, or a page/access fault. `va` is the signed 64-bit value as a number (NaN: beyond ±2^53). */
  private translate(va: number, kind: Access): number {
    const mode = this.xmode // cached: a BigInt shift per fetch cost ~10 % of the interpreter
    // Bare and no PMP: physical whatever the privilege (no MPRV look-up, no BigInt).
    if (mode === 0 && !this.pmp.active) {
      if (!(va >= 0)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
      return va
    }
    if (mode < 0) return this.translateV(va, kind)
    const priv = kind === FETCH ? this.privilege : this.dataPrivilege()
    if (priv === 3 || mode === 0) {
      if (!(va >= 0)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
      // PMP (§3.7): S/U always, M only against locked entries. Checked on the first byte.
      if (this.pmp.active && (priv < 3 || this.pmp.locked) && !this.pmp.check(va, 1, PMP_NEED[kind], priv)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
      return va
    }
    const vpn = Math.floor(va / PAGE)
    const i = vpn & (TLB_SIZE - 1)
    if (this.tlbTag[i] === vpn) {
      const f = this.tlbFlags[i]!
      if (this.allowed(f, kind, priv) && (kind !== STORE || f & PTE_D)) return this.tlbPage[i]! * PAGE + (va - vpn * PAGE)
    }
    return this.walk(va, kind, priv, mode)
  }

  private faultAddr(va: number): bigint {
    return Number.isNaN(va) ? this.lastAddr : BigInt.asUintN(64, BigInt(va))
  }

  private allowed(flags: number, kind: Access, priv: Privilege): boolean {
    if (flags & PTE_U) {
      if (priv === 1 && (kind === FETCH || !(this.mstatus & MSTATUS.SUM))) return false
    } else if (priv === 0) return false
    if (kind === FETCH) return (flags & PTE_X) !== 0
    if (kind === LOAD) return (flags & PTE_R) !== 0 || ((flags & PTE_X) !== 0 && (this.mstatus & MSTATUS.MXR) !== 0n)
    return (flags & PTE_W) !== 0
  }

  private walk(va: number, kind: Access, priv: Privilege, mode: number): number {
    const levels = mode - 5 // Sv39 = 8 → 3, Sv48 = 9 → 4, Sv57 = 10 → 5
    const bits = 12 + 9 * levels
    const fault = () => new Trap(PAGE_FAULT[kind], this.faultAddr(va))
    // The virtual page number (signed) and the page offset. Both fit a number exactly even when
    // `va` does not: then (NaN, only ever a data access) they come from the exact address in
    // `lastAddr`. Only Sv57 has canonical addresses that large.
    let vpn: number
    let off: number
    let u: bigint
    if (va === va) {
      // The address must be canonical: bits above `bits` copy bit bits-1.
      if (va >= 2 ** (bits - 1) || va < -(2 ** (bits - 1))) throw fault()
      u = BigInt.asUintN(64, BigInt(va))
      vpn = Math.floor(va / PAGE)
      off = va - vpn * PAGE
    } else {
      if (mode !== 10) throw fault()
      u = this.lastAddr
      const s = BigInt.asIntN(64, u)
      if (s >= 1n << 56n || s < -(1n << 56n)) throw fault()
      vpn = Number(s >> 12n)
      off = Number(u & 0xfffn)
      const i = vpn & (TLB_SIZE - 1)
      if (this.tlbTag[i] === vpn) {
        const f = this.tlbFlags[i]!
        if (this.allowed(f, kind, priv) && (kind !== STORE || f & PTE_D)) return this.tlbPage[i]! * PAGE + off
      }
    }
    let table = (this.satp & ((1n << 44n) - 1n)) * 4096n
    for (let level = levels - 1; level >= 0; level--) {
      const pteAddr = Number(table + ((u >> BigInt(12 + 9 * level)) & 511n) * 8n)
      if (!this.bus.isRam(pteAddr, 8)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
      // The walk's own reads are S-mode reads for PMP (§3.7.1).
      if (this.pmp.active && !this.pmp.check(pteAddr, 8, PMP_R, 1)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
      let pte = this.view.getBigUint64(pteAddr - this.ramBase, true)
      const flags = Number(pte & 0xffn)
      // Invalid, W without R, reserved high bits (Svpbmt's PBMT only with menvcfg.PBMTE, on a leaf, not 3; no Svnapot): a page fault.
      if (!(flags & PTE_V) || (!(flags & PTE_R) && flags & PTE_W) || (pte >> 54n && badHigh(pte, this.menvcfg))) throw fault()
      const ppn = (pte >> 10n) & ((1n << 44n) - 1n)
      if (!(flags & (PTE_R | PTE_X))) {
        if (level === 0) throw fault()
        table = ppn * 4096n
        continue
      }
      // A superpage's PPN must be aligned to its size.
      if (level > 0 && ppn & ((1n << BigInt(9 * level)) - 1n)) throw fault()
      if (!this.allowed(flags, kind, priv)) throw fault()
      // A and D are updated by the hart (as QEMU does), written back to the PTE.
      const want = PTE_A | (kind === STORE ? PTE_D : 0)
      if ((flags & want) !== want) {
        pte |= BigInt(want)
        this.view.setBigUint64(pteAddr - this.ramBase, pte, true)
      }
      const pageMask = (1n << BigInt(9 * level)) - 1n
      const ppage = Number((ppn & ~pageMask) | ((u >> 12n) & pageMask))
      const i = vpn & (TLB_SIZE - 1)
      let tlbFlags = Number(pte & 0xffn)
      if (this.pmp.active) {
        const pa = ppage * PAGE + off
        if (!this.pmp.check(pa, 1, PMP_NEED[kind], priv)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
        // Only a page PMP grants wholly to S/U may be served from the TLB without a check.
        if (this.pmp.pagePerms(ppage * PAGE) !== (PMP_R | PMP_W | PMP_X)) tlbFlags &= ~(PTE_R | PTE_W | PTE_X)
      }
      this.tlbTag[i] = vpn
      this.tlbPage[i] = ppage
      this.tlbFlags[i] = tlbFlags
      return ppage * PAGE + off
    }
    throw fault()
  }

  // ---- two-stage translation (hypervisor extension, §8.5) -------------------------------

  /**
   * Translation when an access may be virtualized (`xmode` -1): V = 1, M-mode data with MPRV and
   * MPV, or an HLV/HSV (privilege hstatus.SPVP). A non-virtualized access (M-mode's fetch under
   * MPRV) goes the host way.
   */
  private translateV(va: number, kind: Access): number {
    let priv: Privilege
    let v: boolean
    if (this.hvAccess !== 0) {
      priv = (this.hstatus & HSTATUS.SPVP) !== 0n ? 1 : 0
      v = true
    } else if (kind !== FETCH && this.privilege === 3 && (this.mstatus & MSTATUS.MPRV) !== 0n) {
      priv = Number((this.mstatus & MSTATUS.MPP) >> 11n) as Privilege
      v = priv !== 3 && (this.mstatus & MSTATUS.MPV) !== 0n
    } else {
      priv = this.privilege
      v = this.virt
    }
    if (!v) return this.translateHost(va, kind, priv)
    // HLVX reads need execute permission (not read) at both stages; a fault is still a load fault.
    const perm = this.hvAccess === 2 ? FETCH : kind
    if (va === va) {
      const vpn = Math.floor(va / PAGE)
      const i = vpn & (TLB_SIZE - 1)
      if (this.vtlbTag[i] === vpn) {
        const f = this.vtlbFlags[i]!
        const g = this.vtlbGFlags[i]!
        if (this.allowedVs(f, perm, priv) && this.allowedG(g, perm) && (kind !== STORE || ((f & VS_BARE || f & PTE_D) && g & PTE_D))) return this.vtlbPage[i]! * PAGE + (va - vpn * PAGE)
      }
    }
    return this.walkV(va, kind, perm, priv)
  }

  /** The host's (V = 0) translation at privilege `priv` with satp's mode: what `translate` does past its fast path. */
  private translateHost(va: number, kind: Access, priv: Privilege): number {
    const mode = this.satpMode
    if (priv === 3 || mode === 0) {
      if (!(va >= 0)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
      if (this.pmp.active && (priv < 3 || this.pmp.locked) && !this.pmp.check(va, 1, PMP_NEED[kind], priv)) throw new Trap(ACCESS_FAULT[kind], this.faultAddr(va))
      return va
    }
    const vpn = Math.floor(va / PAGE)
    const i = vpn & (TLB_SIZE - 1)
    if (va === va && this.tlbTag[i] === vpn) {
      const f = this.tlbFlags[i]!
      if (this.allowed(f, kind, priv) && (kind !== STORE || f & PTE_D)) return this.tlbPage[i]! * PAGE + (va - vpn * PAGE)
    }
    return this.walk(va, kind, priv, mode)
  }

  /** VS-stage permissions (§8.5: vsstatus.SUM; MXR of vsstatus or mstatus). */
  private allowedVs(flags: number, kind: Access, priv: Privilege): boolean {
    if (flags & VS_BARE) return true
    if (flags & PTE_U) {
      if (priv === 1 && (kind === FETCH || !(this.vsstatus & MSTATUS.SUM))) return false
    } else if (priv === 0) return false
    if (kind === FETCH) return (flags & PTE_X) !== 0
    if (kind === LOAD) return (flags & PTE_R) !== 0 || ((flags & PTE_X) !== 0 && ((this.vsstatus | this.mstatus) & MSTATUS.MXR) !== 0n)
    return (flags & PTE_W) !== 0
  }

  /** G-stage permissions (§8.5.1): every access counts as a U-mode one (U required); mstatus.MXR. */
  private allowedG(flags: number, kind: Access): boolean {
    if (!(flags & PTE_U)) return false
    if (kind === FETCH) return (flags & PTE_X) !== 0
    if (kind === LOAD) return (flags & PTE_R) !== 0 || ((flags & PTE_X) !== 0 && (this.mstatus & MSTATUS.MXR) !== 0n)
    return (flags & PTE_W) !== 0
  }

  /** The G-stage flags of the last `gStage` translation. */
  private lastGFlags = 0

  /**
   * The two-stage walk (§8.5): the VS stage (vsatp: Sv39/Sv48/Sv57) whose every PTE address is a
   * guest physical address translated by the G stage, then the G stage of the result. A VS-stage
   * fault is a page fault (tval the guest virtual address); a G-stage one a guest-page fault
   * (htval/mtval2 = GPA >> 2; an implicit PTE access also writes its pseudoinstruction to htinst).
   * A/D are set at both stages. The final page goes into the guest TLB.
   */
  private walkV(va: number, kind: Access, perm: Access, priv: Privilege): number {
    const u = va === va ? BigInt.asUintN(64, BigInt(va)) : this.lastAddr
    const fault = () => new Trap(PAGE_FAULT[kind], u, 0n, 0n, true)
    let gpa: bigint
    let vsFlags: number
    const mode = this.vsatpMode
    if (mode === 0) {
      gpa = u
      vsFlags = VS_BARE
    } else {
      const levels = mode - 5
      const bits = BigInt(12 + 9 * levels)
      const sv = BigInt.asIntN(64, u)
      if (sv >= 1n << (bits - 1n) || sv < -(1n << (bits - 1n))) throw fault()
      let table = (this.vsatp & ((1n << 44n) - 1n)) * 4096n
      for (let level = levels - 1; ; level--) {
        const pteGpa = table + ((u >> BigInt(12 + 9 * level)) & 511n) * 8n
        const pteAddr = this.gStage(pteGpa, LOAD, kind, u, TINST_PTE_READ)
        if (!this.bus.isRam(pteAddr, 8) || (this.pmp.active && !this.pmp.check(pteAddr, 8, PMP_R, 1))) throw new Trap(ACCESS_FAULT[kind], u, 0n, 0n, true)
        let pte = this.view.getBigUint64(pteAddr - this.ramBase, true)
        const flags = Number(pte & 0xffn)
        // The VS stage's PBMT needs henvcfg.PBMTE (Svpbmt).
        if (!(flags & PTE_V) || (!(flags & PTE_R) && flags & PTE_W) || (pte >> 54n && badHigh(pte, this.henvcfg & this.menvcfg))) throw fault()
        const ppn = (pte >> 10n) & ((1n << 44n) - 1n)
        if (!(flags & (PTE_R | PTE_X))) {
          if (level === 0) throw fault()
          table = ppn * 4096n
          continue
        }
        const pageMask = (1n << BigInt(9 * level)) - 1n
        if (level > 0 && ppn & pageMask) throw fault()
        if (!this.allowedVs(flags, perm, priv)) throw fault()
        const want = PTE_A | (kind === STORE ? PTE_D : 0)
        if ((flags & want) !== want) {
          // The A/D update is a store to the PTE's guest physical address: the G stage must allow it.
          const wAddr = this.gStage(pteGpa, STORE, kind, u, TINST_PTE_WRITE)
          pte |= BigInt(want)
          this.view.setBigUint64(wAddr - this.ramBase, pte, true)
        }
        vsFlags = Number(pte & 0xffn)
        gpa = (((ppn & ~pageMask) | ((u >> 12n) & pageMask)) << 12n) | (u & 0xfffn)
        break
      }
    }
    const pa = this.gStage(gpa, perm, kind, u, 0n)
    let gFlags = this.lastGFlags
    if (this.pmp.active) {
      if (!this.pmp.check(pa, 1, PMP_NEED[kind], priv)) throw new Trap(ACCESS_FAULT[kind], u, 0n, 0n, true)
      if (this.pmp.pagePerms(pa - (pa % PAGE)) !== (PMP_R | PMP_W | PMP_X)) {
        vsFlags &= ~(PTE_R | PTE_W | PTE_X)
        gFlags &= ~(PTE_R | PTE_W | PTE_X)
        if (vsFlags & VS_BARE) vsFlags = PTE_V // no permission: every access walks again
      }
    }
    if (va === va) {
      const vpn = Math.floor(va / PAGE)
      const i = vpn & (TLB_SIZE - 1)
      this.vtlbTag[i] = vpn
      this.vtlbPage[i] = Math.floor(pa / PAGE)
      this.vtlbFlags[i] = vsFlags
      this.vtlbGFlags[i] = gFlags
    }
    return pa
  }

  /**
   * The G stage (§8.5.1, Sv39x4/Sv48x4/Sv57x4 under hgatp): guest physical `gpa` → physical, with
   * permission `perm`. A fault is a guest-page fault of access kind `kind`, tval the guest virtual
   * address `va`, htval GPA >> 2, htinst `tinst` (a pseudoinstruction for an implicit access).
   */
  private gStage(gpa: bigint, perm: Access, kind: Access, va: bigint, tinst: bigint): number {
    const mode = this.hgatpMode
    if (mode === 0) {
      this.lastGFlags = 0xff
      if (gpa >= 1n << 53n) throw new Trap(ACCESS_FAULT[kind], va, 0n, 0n, true)
      return Number(gpa)
    }
    const gfault = () => new Trap(GUEST_PAGE_FAULT[kind], va, gpa >> 2n, tinst, true)
    const levels = mode - 5
    // The guest physical address has 2 more bits than the VS stage's virtual one (the "x4").
    if (gpa >> BigInt(12 + 9 * levels + 2)) throw gfault()
    let table = (this.hgatp & ((1n << 44n) - 1n)) * 4096n
    for (let level = levels - 1; ; level--) {
      const index = (gpa >> BigInt(12 + 9 * level)) & (level === levels - 1 ? 2047n : 511n) // the root has 2048 entries (16 KiB)
      const pteAddr = Number(table + index * 8n)
      if (!this.bus.isRam(pteAddr, 8) || (this.pmp.active && !this.pmp.check(pteAddr, 8, PMP_R, 1))) throw new Trap(ACCESS_FAULT[kind], va, 0n, 0n, true)
      let pte = this.view.getBigUint64(pteAddr - this.ramBase, true)
      const flags = Number(pte & 0xffn)
      if (!(flags & PTE_V) || (!(flags & PTE_R) && flags & PTE_W) || (pte >> 54n && badHigh(pte, this.menvcfg))) throw gfault()
      const ppn = (pte >> 10n) & ((1n << 44n) - 1n)
      if (!(flags & (PTE_R | PTE_X))) {
        if (level === 0) throw gfault()
        table = ppn * 4096n
        continue
      }
      const pageMask = (1n << BigInt(9 * level)) - 1n
      if (level > 0 && ppn & pageMask) throw gfault()
      if (!this.allowedG(flags, perm)) throw gfault()
      const want = PTE_A | (perm === STORE ? PTE_D : 0)
      if ((flags & want) !== want) {
        pte |= BigInt(want)
        this.view.setBigUint64(pteAddr - this.ramBase, pte, true)
      }
      this.lastGFlags = Number(pte & 0xffn)
      return Number((((ppn & ~pageMask) | ((gpa >> 12n) & pageMask)) << 12n) | (gpa & 0xfffn))
    }
  }

  /**
   * The instructions past the hot switch: the hypervisor extension's, Zbc, Zicond, Svinval and
   * Zicbom/Zicboz.
   */
  private execExt(d: Decoded): void {
    const x = this.x
    const xu = this.xu
    switch (d.op) {
      case Op.CLMUL:
      case Op.CLMULH:
      case Op.CLMULR: {
        // Carry-less products (Zbc): the low, high and "reversed" (bits 126:63) halves.
        const a = xu[d.rs1]!
        const b = xu[d.rs2]!
        let r = 0n
        for (let i = 0n; i < 64n; i++) {
          if (!((b >> i) & 1n)) continue
          if (d.op === Op.CLMUL) r ^= a << i
          else if (d.op === Op.CLMULH) r ^= i === 0n ? 0n : a >> (64n - i)
          else r ^= a >> (63n - i)
        }
        x[d.rd] = BigInt.asIntN(64, r)
        return
      }
      case Op.CZERO_EQZ:
        x[d.rd] = xu[d.rs2] === 0n ? 0n : x[d.rs1]!
        return
      case Op.CZERO_NEZ:
        x[d.rd] = xu[d.rs2] !== 0n ? 0n : x[d.rs1]!
        return
      case Op.SINVAL_VMA:
        // As SFENCE.VMA (Svinval): the same exceptions, and flushing everything is always correct.
        if (this.virt) {
          if (this.privilege === 0 || this.hstatus & HSTATUS.VTVM) throw new Trap(CAUSE.VIRTUAL_INSTRUCTION, BigInt(d.raw))
          this.flushVTlb()
          return
        }
        if (this.privilege < 1 || (this.privilege === 1 && this.mstatus & MSTATUS.TVM)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
        this.flushTlb()
        return
      case Op.SFENCE_W_INVAL:
      case Op.SFENCE_INVAL_IR:
        // Orderings around SINVAL.VMA: nothing to order here; not in U (VU: virtual instruction).
        if (this.privilege === 0) throw new Trap(this.virt ? CAUSE.VIRTUAL_INSTRUCTION : CAUSE.ILLEGAL, BigInt(d.raw))
        return
      case Op.CBO_INVAL:
      case Op.CBO_CLEAN:
      case Op.CBO_FLUSH:
      case Op.CBO_ZERO:
        return this.cbo(d)
    }
    this.execH(d)
  }

  /**
   * Zicbom/Zicboz (CMO 1.0): below M, the envcfg field of every level above must allow it
   * (CBZE for cbo.zero, CBCFE for clean/flush, CBIE for inval): menvcfg → illegal instruction,
   * then henvcfg (V = 1) → virtual instruction, then senvcfg (U/VU) → illegal or virtual. The
   * block is 64 bytes at rs1 rounded down. cbo.zero stores zeros; the others (no cache here) only
   * need load or store permission, else a store fault.
   */
  private cbo(d: Decoded): void {
    const field = d.op === Op.CBO_ZERO ? MENVCFG.CBZE : d.op === Op.CBO_INVAL ? MENVCFG.CBIE : MENVCFG.CBCFE
    if (this.privilege < 3) {
      if ((this.menvcfg & field) === 0n) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
      if (this.virt && (this.henvcfg & field) === 0n) throw new Trap(CAUSE.VIRTUAL_INSTRUCTION, BigInt(d.raw))
      if (this.privilege === 0 && (this.senvcfg & field) === 0n) throw new Trap(this.virt ? CAUSE.VIRTUAL_INSTRUCTION : CAUSE.ILLEGAL, BigInt(d.raw))
    }
    const a = this.addrOf(d.rs1)
    const block = a === a ? a - (((a % 64) + 64) % 64) : NaN
    if (block !== block) this.lastAddr &= ~63n
    if (d.op === Op.CBO_ZERO) {
      for (let i = 0; i < 64; i += 8) this.store(block + i, 8, 0n)
      return
    }
    try {
      this.translate(block, LOAD)
    } catch (e) {
      if (!(e instanceof Trap)) throw e
      this.translate(block, STORE)
    }
  }

  /** HLV, HLVX, HSV (§8.3) and HFENCE (HINVAL): from M, HS, or U with hstatus.HU; a virtual-instruction exception with V = 1. */
  private execH(d: Decoded): void {
    if (!this.hypervisor) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
    if (this.virt) throw new Trap(CAUSE.VIRTUAL_INSTRUCTION, BigInt(d.raw))
    if (d.op === Op.HFENCE_VVMA || d.op === Op.HFENCE_GVMA || d.op === Op.HINVAL_VVMA || d.op === Op.HINVAL_GVMA) {
      // HFENCE.GVMA from HS under mstatus.TVM is illegal; neither runs in U.
      const g = d.op === Op.HFENCE_GVMA || d.op === Op.HINVAL_GVMA
      if (this.privilege === 0 || (g && this.privilege === 1 && this.mstatus & MSTATUS.TVM)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
      this.flushVTlb() // by address or VMID too: flushing every guest translation is always correct
      return
    }
    if (this.privilege === 0 && !(this.hstatus & HSTATUS.HU)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
    const a = this.addrOf(d.rs1)
    this.hvAccess = d.op === Op.HLVX_HU || d.op === Op.HLVX_WU ? 2 : 1
    this.updateXmode()
    try {
      const x = this.x
      switch (d.op) {
        case Op.HLV_B: x[d.rd] = this.load(a, 1, true); break
        case Op.HLV_BU: x[d.rd] = this.load(a, 1, false); break
        case Op.HLV_H: x[d.rd] = this.load(a, 2, true); break
        case Op.HLV_HU: case Op.HLVX_HU: x[d.rd] = this.load(a, 2, false); break
        case Op.HLV_W: x[d.rd] = this.load(a, 4, true); break
        case Op.HLV_WU: case Op.HLVX_WU: x[d.rd] = this.load(a, 4, false); break
        case Op.HLV_D: x[d.rd] = this.load(a, 8, true); break
        case Op.HSV_B: this.store(a, 1, this.x[d.rs2]!); break
        case Op.HSV_H: this.store(a, 2, this.x[d.rs2]!); break
        case Op.HSV_W: this.store(a, 4, this.x[d.rs2]!); break
        default: this.store(a, 8, this.x[d.rs2]!)
      }
    } catch (e) {
      // Any address fault of a guest access carries a guest virtual address (GVA).
      if (e instanceof Trap && !e.gva && (ADDRESS_CAUSES >> e.cause) & 1) throw new Trap(e.cause, e.tval, e.tval2, e.tinst, true)
      throw e
    } finally {
      this.hvAccess = 0
      this.updateXmode()
    }
  }

  // ---- traps ---------------------------------------------------------------------------

  private trap(cause: number, tval: bigint, interrupt: boolean, e?: Trap): void {
    this.fetchBase = NaN
    const bit = 1n << BigInt(cause)
    const delegated = this.privilege <= 1 && (interrupt ? (this.hypervisor ? this.mideleg | MIDELEG_FORCED : this.mideleg) & bit : this.medeleg & bit)
    const causeValue = interrupt ? CAUSE_INTERRUPT | BigInt(cause) : BigInt(cause)
    const epc = BigInt.asUintN(64, BigInt(this.pc))
    if (this.hypervisor) return this.trapH(cause, tval, interrupt, e, delegated !== 0n && delegated !== false, causeValue, epc)
    if (delegated) {
      this.scause = causeValue
      this.sepc = epc
      this.stval = tval
      const sie = (this.mstatus & MSTATUS.SIE) !== 0n
      this.mstatus = (this.mstatus & ~(MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.SIE)) | (sie ? MSTATUS.SPIE : 0n) | (this.privilege === 1 ? MSTATUS.SPP : 0n)
      this.privilege = 1
      this.pc = this.vector(this.stvec, cause, interrupt)
    } else {
      this.mcause = causeValue
      this.mepc = epc
      this.mtval = tval
      const mie = (this.mstatus & MSTATUS.MIE) !== 0n
      this.mstatus = (this.mstatus & ~(MSTATUS.MPIE | MSTATUS.MPP | MSTATUS.MIE)) | (mie ? MSTATUS.MPIE : 0n) | (BigInt(this.privilege) << 11n)
      this.privilege = 3
      this.pc = this.vector(this.mtvec, cause, interrupt)
    }
    this.reservation = NaN
    this.reservationWide = -1n
  }

  /**
   * A trap with the hypervisor extension (§8.6.4): M unless medeleg/mideleg delegate it; then HS
   * unless the hart was in V mode and hedeleg/hideleg delegate it further, to VS (which sees a
   * VS-level interrupt as its S-level one: 2 → 1, 6 → 5, 10 → 9). Entering HS or M leaves V mode
   * and records it (hstatus.SPV/SPVP, mstatus.MPV), with GVA and htval/htinst or mtval2/mtinst.
   */
  private trapH(cause: number, tval: bigint, interrupt: boolean, e: Trap | undefined, delegated: boolean, causeValue: bigint, epc: bigint): void {
    const bit = 1n << BigInt(cause)
    const prevVirt = this.virt
    const gva = !interrupt && (e?.gva === true || (prevVirt && ((ADDRESS_CAUSES >> cause) & 1) === 1))
    if (delegated && prevVirt && (interrupt ? this.hideleg : this.hedeleg) & bit) {
      const code = interrupt && VS_INTS & bit ? cause - 1 : cause
      this.vscause = interrupt ? CAUSE_INTERRUPT | BigInt(code) : BigInt(code)
      this.vsepc = epc
      this.vstval = tval
      const sie = (this.vsstatus & MSTATUS.SIE) !== 0n
      this.vsstatus = (this.vsstatus & ~(MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.SIE)) | (sie ? MSTATUS.SPIE : 0n) | (this.privilege === 1 ? MSTATUS.SPP : 0n)
      this.privilege = 1
      this.pc = this.vector(this.vstvec, code, interrupt)
    } else if (delegated) {
      this.scause = causeValue
      this.sepc = epc
      this.stval = tval
      let h = this.hstatus & ~(HSTATUS.SPV | HSTATUS.GVA)
      if (prevVirt) h = (h & ~HSTATUS.SPVP) | HSTATUS.SPV | (this.privilege === 1 ? HSTATUS.SPVP : 0n)
      this.hstatus = h | (gva ? HSTATUS.GVA : 0n)
      this.htval = e?.tval2 ?? 0n
      this.htinst = e?.tinst ?? 0n
      const sie = (this.mstatus & MSTATUS.SIE) !== 0n
      this.mstatus = (this.mstatus & ~(MSTATUS.SPIE | MSTATUS.SPP | MSTATUS.SIE)) | (sie ? MSTATUS.SPIE : 0n) | (this.privilege === 1 ? MSTATUS.SPP : 0n)
      this.privilege = 1
      this.virt = false
      this.pc = this.vector(this.stvec, cause, interrupt)
    } else {
      this.mcause = causeValue
      this.mepc = epc
      this.mtval = tval
      this.mtval2 = e?.tval2 ?? 0n
      this.mtinst = e?.tinst ?? 0n
      const mie = (this.mstatus & MSTATUS.MIE) !== 0n
      this.mstatus = (this.mstatus & ~(MSTATUS.MPIE | MSTATUS.MPP | MSTATUS.MIE | MSTATUS.MPV | MSTATUS.GVA)) | (mie ? MSTATUS.MPIE : 0n) | (BigInt(this.privilege) << 11n) | (prevVirt ? MSTATUS.MPV : 0n) | (gva ? MSTATUS.GVA : 0n)
      this.privilege = 3
      this.virt = false
      this.pc = this.vector(this.mtvec, cause, interrupt)
    }
    this.reservation = NaN
    this.reservationWide = -1n
    this.updateXmode()
  }

  private vector(tvec: bigint, cause: number, interrupt: boolean): number {
    const base = Number(BigInt.asIntN(64, tvec & ~3n))
    return (tvec & 1n) === 1n && interrupt ? base + 4 * cause : base
  }

  /** The highest-priority interrupt that is pending, enabled and allowed now, or -1. */
  private pendingInterrupt(): number {
    const pending = this.mip() & this.mie
    if (pending === 0n) return -1
    if (this.hypervisor) return this.pendingInterruptH(pending)
    const mEnabled = this.privilege < 3 || (this.mstatus & MSTATUS.MIE) !== 0n
    const sEnabled = this.privilege < 1 || (this.privilege === 1 && (this.mstatus & MSTATUS.SIE) !== 0n)
    for (const irq of PRIORITY) {
      const bit = 1n << BigInt(irq)
      if (!(pending & bit)) continue
      if (this.mideleg & bit) {
        if (sEnabled) return irq
      } else if (mEnabled) return irq
    }
    return -1
  }

  /**
   * With H (chapter 8): M-level interrupts as before; HS-level ones (mideleg, not hideleg) are always
   * enabled with V = 1 or in U, else with sstatus.SIE; VS-level ones (hideleg) only with V = 1,
   * in VU or with vsstatus.SIE.
   */
  private pendingInterruptH(pending: bigint): number {
    const mideleg = this.mideleg | MIDELEG_FORCED
    const mEnabled = this.privilege < 3 || (this.mstatus & MSTATUS.MIE) !== 0n
    const hsEnabled = this.virt || this.privilege === 0 || (this.privilege === 1 && (this.mstatus & MSTATUS.SIE) !== 0n)
    const vsEnabled = this.virt && (this.privilege === 0 || (this.vsstatus & MSTATUS.SIE) !== 0n)
    for (const irq of PRIORITY_H) {
      const bit = 1n << BigInt(irq)
      if (!(pending & bit)) continue
      if (!(mideleg & bit)) {
        if (mEnabled) return irq
      } else if (!(this.hideleg & bit)) {
        if (hsEnabled) return irq
      } else if (vsEnabled) return irq
    }
    return -1
  }

  /** True when an interrupt is pending and enabled in mie (whatever the global enables): what wakes WFI. */
  private wakeable(): boolean {
    return (this.mip() & this.mie) !== 0n
  }

  // ---- the interpreter -----------------------------------------------------------------

  /**
   * Runs up to `budget` instructions. Returns why it stopped: the budget, a WFI with nothing
   * to wake it, a breakpoint, or an exit requested on the bus (e.g. a poweroff or HTIF tohost).
   */
  run(budget: number): RunResult {
    const x = this.x
    const xu = this.xu
    const xw = this.xw
    const view = this.view
    let executed = 0
    this.fetchBase = NaN // the host may have changed the privilege or anything else since
    this.updateXmode()
    if (this.bus.shadowedPages.size !== 0) {
      // A device may have been mapped over RAM since the data TLB's entries were filled.
      this.dtlbLoadTag.fill(NaN)
      this.dtlbStoreTag.fill(NaN)
    }
    if (this.waiting) {
      if (!this.wakeable()) return { reason: 'wfi', executed: 0 }
      this.waiting = false
    }
    while (executed < budget) {
      // Interrupts are checked once per block of up to 64 instructions.
      const irq = this.pendingInterrupt()
      if (irq >= 0) this.trap(irq, 0n, true)
      const limit = Math.min(budget, executed + 64)
      // Looked at once per block: a breakpoint set from a callback inside the block counts from the next.
      const breakpoints = this.breakpoints.size > 0 ? this.breakpoints : undefined
      try {
        while (executed < limit) {
          const pc = this.pc
          if (breakpoints !== undefined && breakpoints.has(pc) && executed > 0) {
            this.instret += BigInt(executed)
            return { reason: 'breakpoint', executed }
          }
          const off = pc - this.fetchBase
          let d = off >= 0 && off < PAGE ? this.fetchSlots[off >>> 1] : undefined
          if (d !== undefined) {
            // On the fetch page (so the whole page is executable): the block tier, unless a
            // debugger is watching (breakpoints, trace).
            if (d.block !== null && breakpoints === undefined && this.onTrace === undefined) {
              const block = d.block
              if (block === undefined) {
                if (++d.hits >= this.blockThreshold) {
                  const b = compileBlock(this.fetchSlots, off)
                  d.block = b === null ? null : b.fn
                  d.blockLength = b === null ? 0 : b.length
                }
              } else if (executed + d.blockLength <= limit) {
                const n = block(this, xw, view, pc)
                if (n > 0) {
                  executed += n
                  this.blockDone = 0
                  continue
                }
              }
            }
          } else d = this.fetch(pc)
          if (this.onTrace) this.onTrace(pc, d)
          let next = pc + d.len
          const rd = d.rd
          switch (d.op) {
            case Op.LUI:
              x[rd] = d.imm
              break
            case Op.AUIPC:
              x[rd] = BigInt(pc) + d.imm
              break
            case Op.JAL:
              x[rd] = BigInt(next)
              next = pc + d.immN
              break
            case Op.JALR: {
              const t = Number(BigInt.asIntN(64, x[d.rs1]! + d.imm) & ~1n)
              x[rd] = BigInt(next)
              next = t
              break
            }
            case Op.BEQ: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a] === xw[b] && xw[a + 1] === xw[b + 1]) next = pc + d.immN
              break
            }
            case Op.BNE: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a] !== xw[b] || xw[a + 1] !== xw[b + 1]) next = pc + d.immN
              break
            }
            case Op.BLT: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! < xw[b + 1]! || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 < xw[b]! >>> 0)) next = pc + d.immN
              break
            }
            case Op.BGE: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! > xw[b + 1]! || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 >= xw[b]! >>> 0)) next = pc + d.immN
              break
            }
            case Op.BLTU: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! >>> 0 < xw[b + 1]! >>> 0 || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 < xw[b]! >>> 0)) next = pc + d.immN
              break
            }
            case Op.BGEU: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! >>> 0 > xw[b + 1]! >>> 0 || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 >= xw[b]! >>> 0)) next = pc + d.immN
              break
            }
            case Op.LB: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 1, LOAD)
              if (o >= 0) {
                const v = view.getInt8(o)
                xw[rd << 1] = v
                xw[(rd << 1) + 1] = v >> 31
              } else x[rd] = this.loadMmio(va, 1, true)
              break
            }
            case Op.LH: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 2, LOAD)
              if (o >= 0) {
                const v = view.getInt16(o, true)
                xw[rd << 1] = v
                xw[(rd << 1) + 1] = v >> 31
              } else x[rd] = this.loadMmio(va, 2, true)
              break
            }
            case Op.LW: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 4, LOAD)
              if (o >= 0) {
                const v = view.getInt32(o, true)
                xw[rd << 1] = v
                xw[(rd << 1) + 1] = v >> 31
              } else x[rd] = this.loadMmio(va, 4, true)
              break
            }
            case Op.LD: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 8, LOAD)
              if (o >= 0) {
                xw[rd << 1] = view.getInt32(o, true)
                xw[(rd << 1) + 1] = view.getInt32(o + 4, true)
              } else x[rd] = this.loadMmio(va, 8, true)
              break
            }
            case Op.LBU: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 1, LOAD)
              if (o >= 0) {
                xw[rd << 1] = view.getUint8(o)
                xw[(rd << 1) + 1] = 0
              } else x[rd] = this.loadMmio(va, 1, false)
              break
            }
            case Op.LHU: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 2, LOAD)
              if (o >= 0) {
                xw[rd << 1] = view.getUint16(o, true)
                xw[(rd << 1) + 1] = 0
              } else x[rd] = this.loadMmio(va, 2, false)
              break
            }
            case Op.LWU: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 4, LOAD)
              if (o >= 0) {
                xw[rd << 1] = view.getInt32(o, true)
                xw[(rd << 1) + 1] = 0
              } else x[rd] = this.loadMmio(va, 4, false)
              break
            }
            case Op.SB: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 1, STORE)
              if (o >= 0) {
                view.setInt8(o, xw[d.rs2 << 1]!)
                this.stored(o, 1, va)
              } else this.storeMmio(va, 1, x[d.rs2]!)
              break
            }
            case Op.SH: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 2, STORE)
              if (o >= 0) {
                view.setInt16(o, xw[d.rs2 << 1]!, true)
                this.stored(o, 2, va)
              } else this.storeMmio(va, 2, x[d.rs2]!)
              break
            }
            case Op.SW: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 4, STORE)
              if (o >= 0) {
                view.setInt32(o, xw[d.rs2 << 1]!, true)
                this.stored(o, 4, va)
              } else this.storeMmio(va, 4, x[d.rs2]!)
              break
            }
            case Op.SD: {
              const va = this.addr(d)
              const o = this.ramOffset(va, 8, STORE)
              if (o >= 0) {
                view.setInt32(o, xw[d.rs2 << 1]!, true)
                view.setInt32(o + 4, xw[(d.rs2 << 1) + 1]!, true)
                this.stored(o, 8, va)
              } else this.storeMmio(va, 8, x[d.rs2]!)
              break
            }
            case Op.ADDI:
              x[rd] = x[d.rs1]! + d.imm
              break
            case Op.SLTI:
              x[rd] = x[d.rs1]! < d.imm ? 1n : 0n
              break
            case Op.SLTIU:
              x[rd] = xu[d.rs1]! < BigInt.asUintN(64, d.imm) ? 1n : 0n
              break
            case Op.XORI:
              x[rd] = x[d.rs1]! ^ d.imm
              break
            case Op.ORI:
              x[rd] = x[d.rs1]! | d.imm
              break
            case Op.ANDI:
              x[rd] = x[d.rs1]! & d.imm
              break
            case Op.SLLI:
              x[rd] = x[d.rs1]! << d.imm
              break
            case Op.SRLI:
              x[rd] = xu[d.rs1]! >> d.imm
              break
            case Op.SRAI:
              x[rd] = x[d.rs1]! >> d.imm
              break
            case Op.ADD:
              x[rd] = x[d.rs1]! + x[d.rs2]!
              break
            case Op.SUB:
              x[rd] = x[d.rs1]! - x[d.rs2]!
              break
            case Op.SLL:
              x[rd] = x[d.rs1]! << (xu[d.rs2]! & 63n)
              break
            case Op.SLT:
              x[rd] = x[d.rs1]! < x[d.rs2]! ? 1n : 0n
              break
            case Op.SLTU:
              x[rd] = xu[d.rs1]! < xu[d.rs2]! ? 1n : 0n
              break
            case Op.XOR:
              x[rd] = x[d.rs1]! ^ x[d.rs2]!
              break
            case Op.SRL:
              x[rd] = xu[d.rs1]! >> (xu[d.rs2]! & 63n)
              break
            case Op.SRA:
              x[rd] = x[d.rs1]! >> (xu[d.rs2]! & 63n)
              break
            case Op.OR:
              x[rd] = x[d.rs1]! | x[d.rs2]!
              break
            case Op.AND:
              x[rd] = x[d.rs1]! & x[d.rs2]!
              break
            case Op.ADDIW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]! + d.imm)
              break
            case Op.SLLIW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]! << d.imm)
              break
            case Op.SRLIW:
              x[rd] = BigInt.asIntN(32, BigInt.asUintN(32, x[d.rs1]!) >> d.imm)
              break
            case Op.SRAIW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]!) >> d.imm
              break
            case Op.ADDW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]! + x[d.rs2]!)
              break
            case Op.SUBW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]! - x[d.rs2]!)
              break
            case Op.SLLW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]! << (xu[d.rs2]! & 31n))
              break
            case Op.SRLW:
              x[rd] = BigInt.asIntN(32, BigInt.asUintN(32, x[d.rs1]!) >> (xu[d.rs2]! & 31n))
              break
            case Op.SRAW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]!) >> (xu[d.rs2]! & 31n)
              break
            case Op.MUL:
              x[rd] = x[d.rs1]! * x[d.rs2]!
              break
            case Op.MULH:
              x[rd] = (x[d.rs1]! * x[d.rs2]!) >> 64n
              break
            case Op.MULHSU:
              x[rd] = (x[d.rs1]! * xu[d.rs2]!) >> 64n
              break
            case Op.MULHU:
              x[rd] = (xu[d.rs1]! * xu[d.rs2]!) >> 64n
              break
            case Op.DIV: {
              const a = x[d.rs1]!
              const b = x[d.rs2]!
              // Division by zero gives all ones; the overflow MIN / -1 gives MIN (spec M chapter).
              x[rd] = b === 0n ? -1n : a === -(1n << 63n) && b === -1n ? a : a / b
              break
            }
            case Op.DIVU: {
              const b = xu[d.rs2]!
              x[rd] = b === 0n ? -1n : xu[d.rs1]! / b
              break
            }
            case Op.REM: {
              const a = x[d.rs1]!
              const b = x[d.rs2]!
              x[rd] = b === 0n ? a : a === -(1n << 63n) && b === -1n ? 0n : a % b
              break
            }
            case Op.REMU: {
              const b = xu[d.rs2]!
              x[rd] = b === 0n ? x[d.rs1]! : xu[d.rs1]! % b
              break
            }
            case Op.MULW:
              x[rd] = BigInt.asIntN(32, x[d.rs1]! * x[d.rs2]!)
              break
            case Op.DIVW: {
              const a = BigInt.asIntN(32, x[d.rs1]!)
              const b = BigInt.asIntN(32, x[d.rs2]!)
              x[rd] = b === 0n ? -1n : a === -(1n << 31n) && b === -1n ? a : BigInt.asIntN(32, a / b)
              break
            }
            case Op.DIVUW: {
              const b = BigInt.asUintN(32, x[d.rs2]!)
              x[rd] = b === 0n ? -1n : BigInt.asIntN(32, BigInt.asUintN(32, x[d.rs1]!) / b)
              break
            }
            case Op.REMW: {
              const a = BigInt.asIntN(32, x[d.rs1]!)
              const b = BigInt.asIntN(32, x[d.rs2]!)
              x[rd] = b === 0n ? a : a === -(1n << 31n) && b === -1n ? 0n : BigInt.asIntN(32, a % b)
              break
            }
            case Op.REMUW: {
              const a = BigInt.asUintN(32, x[d.rs1]!)
              const b = BigInt.asUintN(32, x[d.rs2]!)
              x[rd] = BigInt.asIntN(32, b === 0n ? a : a % b)
              break
            }
            case Op.SH1ADD:
              x[rd] = (x[d.rs1]! << 1n) + x[d.rs2]!
              break
            case Op.SH2ADD:
              x[rd] = (x[d.rs1]! << 2n) + x[d.rs2]!
              break
            case Op.SH3ADD:
              x[rd] = (x[d.rs1]! << 3n) + x[d.rs2]!
              break
            case Op.ADD_UW:
              x[rd] = BigInt.asUintN(32, x[d.rs1]!) + x[d.rs2]!
              break
            case Op.SH1ADD_UW:
              x[rd] = (BigInt.asUintN(32, x[d.rs1]!) << 1n) + x[d.rs2]!
              break
            case Op.SH2ADD_UW:
              x[rd] = (BigInt.asUintN(32, x[d.rs1]!) << 2n) + x[d.rs2]!
              break
            case Op.SH3ADD_UW:
              x[rd] = (BigInt.asUintN(32, x[d.rs1]!) << 3n) + x[d.rs2]!
              break
            case Op.SLLI_UW:
              x[rd] = BigInt.asUintN(32, x[d.rs1]!) << d.imm
              break
            case Op.ANDN:
              x[rd] = x[d.rs1]! & ~x[d.rs2]!
              break
            case Op.ORN:
              x[rd] = x[d.rs1]! | ~x[d.rs2]!
              break
            case Op.XNOR:
              x[rd] = ~(x[d.rs1]! ^ x[d.rs2]!)
              break
            case Op.CLZ:
              x[rd] = BigInt(clz64(xu[d.rs1]!))
              break
            case Op.CTZ:
              x[rd] = BigInt(ctz64(xu[d.rs1]!))
              break
            case Op.CPOP:
              x[rd] = BigInt(popcount(xu[d.rs1]!))
              break
            case Op.CLZW:
              x[rd] = BigInt(Math.clz32(Number(xu[d.rs1]! & 0xffffffffn)))
              break
            case Op.CTZW: {
              const v = Number(xu[d.rs1]! & 0xffffffffn)
              x[rd] = BigInt(v === 0 ? 32 : 31 - Math.clz32(v & -v))
              break
            }
            case Op.CPOPW:
              x[rd] = BigInt(popcount(xu[d.rs1]! & 0xffffffffn))
              break
            case Op.MAX:
              x[rd] = x[d.rs1]! > x[d.rs2]! ? x[d.rs1]! : x[d.rs2]!
              break
            case Op.MAXU:
              x[rd] = xu[d.rs1]! > xu[d.rs2]! ? x[d.rs1]! : x[d.rs2]!
              break
            case Op.MIN:
              x[rd] = x[d.rs1]! < x[d.rs2]! ? x[d.rs1]! : x[d.rs2]!
              break
            case Op.MINU:
              x[rd] = xu[d.rs1]! < xu[d.rs2]! ? x[d.rs1]! : x[d.rs2]!
              break
            case Op.SEXT_B:
              x[rd] = BigInt.asIntN(8, x[d.rs1]!)
              break
            case Op.SEXT_H:
              x[rd] = BigInt.asIntN(16, x[d.rs1]!)
              break
            case Op.ZEXT_H:
              x[rd] = BigInt.asUintN(16, x[d.rs1]!)
              break
            case Op.ROL: {
              const s = xu[d.rs2]! & 63n
              x[rd] = s === 0n ? x[d.rs1]! : (xu[d.rs1]! << s) | (xu[d.rs1]! >> (64n - s))
              break
            }
            case Op.ROR:
            case Op.RORI: {
              const s = d.op === Op.RORI ? d.imm : xu[d.rs2]! & 63n
              x[rd] = s === 0n ? x[d.rs1]! : (xu[d.rs1]! >> s) | (xu[d.rs1]! << (64n - s))
              break
            }
            case Op.ROLW:
            case Op.RORW:
            case Op.RORIW: {
              const v = BigInt.asUintN(32, x[d.rs1]!)
              let s = d.op === Op.RORIW ? d.imm : xu[d.rs2]! & 31n
              if (d.op === Op.ROLW) s = (32n - s) & 31n
              x[rd] = BigInt.asIntN(32, s === 0n ? v : (v >> s) | (v << (32n - s)))
              break
            }
            case Op.ORC_B: {
              let r = 0n
              const v = xu[d.rs1]!
              for (let i = 0n; i < 64n; i += 8n) if ((v >> i) & 0xffn) r |= 0xffn << i
              x[rd] = r
              break
            }
            case Op.REV8: {
              let r = 0n
              const v = xu[d.rs1]!
              for (let i = 0n; i < 64n; i += 8n) r = (r << 8n) | ((v >> i) & 0xffn)
              x[rd] = r
              break
            }
            case Op.BCLR:
              x[rd] = x[d.rs1]! & ~(1n << (xu[d.rs2]! & 63n))
              break
            case Op.BCLRI:
              x[rd] = x[d.rs1]! & ~(1n << d.imm)
              break
            case Op.BEXT:
              x[rd] = (xu[d.rs1]! >> (xu[d.rs2]! & 63n)) & 1n
              break
            case Op.BEXTI:
              x[rd] = (xu[d.rs1]! >> d.imm) & 1n
              break
            case Op.BINV:
              x[rd] = x[d.rs1]! ^ (1n << (xu[d.rs2]! & 63n))
              break
            case Op.BINVI:
              x[rd] = x[d.rs1]! ^ (1n << d.imm)
              break
            case Op.BSET:
              x[rd] = x[d.rs1]! | (1n << (xu[d.rs2]! & 63n))
              break
            case Op.BSETI:
              x[rd] = x[d.rs1]! | (1n << d.imm)
              break
            case Op.FENCE:
              break
            case Op.FENCE_I:
              this.clearDecoded()
              break
            case Op.ECALL:
              if (this.privilege === 1 && !this.virt && this.onEcall && this.onEcall(this)) {
                this.fetchBase = NaN // the handler may have changed anything
                this.updateXmode()
                break
              }
              throw new Trap(this.privilege === 3 ? CAUSE.ECALL_M : this.privilege === 1 ? (this.virt ? CAUSE.ECALL_VS : CAUSE.ECALL_S) : CAUSE.ECALL_U, 0n)
            case Op.EBREAK:
              throw new Trap(CAUSE.BREAKPOINT, 0n) // mtval may be 0 for ebreak (priv. 3.1.16); QEMU writes 0
            case Op.MRET: {
              if (this.privilege < 3) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
              const mpp = Number((this.mstatus & MSTATUS.MPP) >> 11n) as Privilege
              const mpie = (this.mstatus & MSTATUS.MPIE) !== 0n
              this.mstatus = (this.mstatus & ~(MSTATUS.MIE | MSTATUS.MPP)) | (mpie ? MSTATUS.MIE : 0n) | MSTATUS.MPIE
              if (mpp !== 3) this.mstatus &= ~MSTATUS.MPRV
              this.privilege = mpp
              if (this.hypervisor) {
                // V ← MPV (unless MPP is M), MPV ← 0 (§8.6.4).
                this.virt = mpp !== 3 && (this.mstatus & MSTATUS.MPV) !== 0n
                this.mstatus &= ~MSTATUS.MPV
              }
              this.updateXmode()
              this.fetchBase = NaN
              next = Number(BigInt.asIntN(64, this.mepc))
              break
            }
            case Op.SRET: {
              if (this.virt) {
                next = this.sretV(d)
                break
              }
              if (this.privilege < 1 || (this.privilege === 1 && this.mstatus & MSTATUS.TSR)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
              const spp = (this.mstatus & MSTATUS.SPP) !== 0n ? 1 : 0
              const spie = (this.mstatus & MSTATUS.SPIE) !== 0n
              this.mstatus = (this.mstatus & ~(MSTATUS.SIE | MSTATUS.SPP)) | (spie ? MSTATUS.SIE : 0n) | MSTATUS.SPIE
              this.mstatus &= ~MSTATUS.MPRV
              this.privilege = spp
              if (this.hypervisor) {
                // From HS: V ← hstatus.SPV, SPV ← 0 (§8.6.4).
                this.virt = (this.hstatus & HSTATUS.SPV) !== 0n
                this.hstatus &= ~HSTATUS.SPV
              }
              this.updateXmode()
              this.fetchBase = NaN
              next = Number(BigInt.asIntN(64, this.sepc))
              break
            }
            case Op.WFI:
              if (this.privilege < 3 && this.mstatus & MSTATUS.TW) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
              // V = 1 (§8.6.1): VU, or VS under hstatus.VTW, raise a virtual-instruction exception.
              if (this.virt && (this.privilege === 0 || this.hstatus & HSTATUS.VTW)) throw new Trap(CAUSE.VIRTUAL_INSTRUCTION, BigInt(d.raw))
              if (this.privilege === 0) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
              this.pc = next
              executed++
              if (!this.wakeable()) {
                this.waiting = true
                this.instret += BigInt(executed)
                return { reason: 'wfi', executed }
              }
              continue
            case Op.SFENCE_VMA:
              if (this.virt) {
                // VU, or VS under hstatus.VTVM: virtual instruction; else it fences the guest's translations.
                if (this.privilege === 0 || this.hstatus & HSTATUS.VTVM) throw new Trap(CAUSE.VIRTUAL_INSTRUCTION, BigInt(d.raw))
                this.flushVTlb()
                break
              }
              if (this.privilege < 1 || (this.privilege === 1 && this.mstatus & MSTATUS.TVM)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
              this.flushTlb() // by address or ASID too: flushing everything is always correct
              break
            case Op.CSRRW:
            case Op.CSRRS:
            case Op.CSRRC:
            case Op.CSRRWI:
            case Op.CSRRSI:
            case Op.CSRRCI:
              this.csrOp(d)
              break
            case Op.LR_W:
            case Op.LR_D: {
              const a = this.addrOf(d.rs1)
              this.atomicAligned(a, d.op === Op.LR_W ? 4 : 8, CAUSE.MISALIGNED_LOAD)
              x[rd] = this.reservedValue = this.load(a, d.op === Op.LR_W ? 4 : 8, true)
              this.reservation = a
              this.reservationWide = a === a ? -1n : this.lastAddr
              break
            }
            case Op.SC_W:
            case Op.SC_D: {
              const a = this.addrOf(d.rs1)
              this.atomicAligned(a, d.op === Op.SC_W ? 4 : 8, CAUSE.MISALIGNED_STORE)
              if ((a === a ? this.reservation === a : this.reservationWide === this.lastAddr) && this.load(a, d.op === Op.SC_W ? 4 : 8, true) === this.reservedValue) {
                this.store(a, d.op === Op.SC_W ? 4 : 8, x[d.rs2]!)
                x[rd] = 0n
              } else x[rd] = 1n
              this.reservation = NaN
              this.reservationWide = -1n
              break
            }
            case Op.AMO_W:
            case Op.AMO_D: {
              const a = this.addrOf(d.rs1)
              const w = d.op === Op.AMO_W
              const size = w ? 4 : 8
              this.atomicAligned(a, size, CAUSE.MISALIGNED_STORE)
              const old = this.load(a, size, true)
              const src = w ? BigInt.asIntN(32, x[d.rs2]!) : x[d.rs2]!
              const u = (v: bigint) => (w ? BigInt.asUintN(32, v) : BigInt.asUintN(64, v))
              let r: bigint
              switch (d.immN) {
                case 0x01: r = src; break // amoswap
                case 0x00: r = old + src; break // amoadd
                case 0x04: r = old ^ src; break // amoxor
                case 0x0c: r = old & src; break // amoand
                case 0x08: r = old | src; break // amoor
                case 0x10: r = old < src ? old : src; break // amomin
                case 0x14: r = old > src ? old : src; break // amomax
                case 0x18: r = u(old) < u(src) ? old : src; break // amominu
                default: r = u(old) > u(src) ? old : src // amomaxu
              }
              this.store(a, size, r)
              x[rd] = old
              break
            }
            default:
              // F and D sit past the integer operations, off this switch (it stays small and hot).
              if (d.op >= Op.HLV_B) this.execExt(d)
              else if (d.op < Op.FLW || !this.execFp(d)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
          }
          x[0] = 0n
          this.pc = next
          executed++
          if (this.stopExit) {
            this.stopExit = false
            this.instret += BigInt(executed)
            if (this.yieldRequested) {
              this.yieldRequested = false
              if (this.bus.exitCode === undefined) return { reason: 'yield', executed }
            }
            return { reason: 'exit', executed, code: this.bus.exitCode ?? 0 }
          }
        }
      } catch (e) {
        if (!(e instanceof Trap)) {
          if (!(e instanceof WidePc)) throw e
          this.instret += BigInt(executed)
          const message = `pc ≈ ${e.pc < 0 ? '-' : ''}0x${Math.abs(e.pc).toString(16)} lies beyond ±2^53: instruction fetch there is not supported (the pc is not exact)`
          return { reason: 'error', executed, message }
        }
        x[0] = 0n
        executed += this.blockDone // the instructions of a compiled block before the trapping one
        this.blockDone = 0
        this.trap(e.cause, e.tval, false, e)
        executed++ // a trapping instruction still takes a step of the budget (never loops forever)
      }
    }
    this.instret += BigInt(executed)
    return { reason: 'budget', executed }
  }

  /**
   * SRET with V = 1 (§8.6.4): from VS it returns through vsstatus/vsepc and stays in V mode; in VU,
   * or in VS under hstatus.VTSR, it is a virtual-instruction exception. Returns the next pc.
   */
  private sretV(d: Decoded): number {
    if (this.privilege === 0 || this.hstatus & HSTATUS.VTSR) throw new Trap(CAUSE.VIRTUAL_INSTRUCTION, BigInt(d.raw))
    const spp = (this.vsstatus & MSTATUS.SPP) !== 0n ? 1 : 0
    const spie = (this.vsstatus & MSTATUS.SPIE) !== 0n
    this.vsstatus = (this.vsstatus & ~(MSTATUS.SIE | MSTATUS.SPP)) | (spie ? MSTATUS.SIE : 0n) | MSTATUS.SPIE
    this.privilege = spp
    this.fetchBase = NaN
    return Number(BigInt.asIntN(64, this.vsepc))
  }

  /** The last effective address, for the tval of a fault at an address beyond 2^53. */
  private lastAddr = 0n

  /**
   * The effective address as a signed number (canonical virtual addresses are small in
   * magnitude); NaN when it does not fit ±2^53 — no RAM or device lives there, and no
   * canonical Sv39/Sv48 address is that large — so it faults, with `lastAddr` as tval.
   */
  private addr(d: Decoded): number {
    // From the 32-bit halves while the register is well inside ±2^53 (every real address).
    const r = d.rs1 << 1
    const hi = this.xw[r + 1]!
    if (hi < 0x1f_ffff && hi > -0x1f_ffff) return hi * 4294967296 + (this.xw[r]! >>> 0) + d.immN
    return this.toAddr(this.x[d.rs1]! + d.imm)
  }

  private addrOf(reg: number): number {
    return this.toAddr(this.x[reg]!)
  }

  private toAddr(v: bigint): number {
    // v is a register plus an immediate: past ±2^63 only when the register is near ±2^63, where
    // the wrapped value is too, so the range test on v itself decides. Number(v) is exact inside
    // ±2^53 and rounds to at least 2^53 in magnitude outside it.
    const a = Number(v)
    if (a > 0x1f_ffff_ffff_ffff || a < -0x1f_ffff_ffff_ffff) {
      this.lastAddr = BigInt.asUintN(64, v)
      return NaN
    }
    return a
  }

  /** An F/D instruction; false when it is illegal (FS Off, or a reserved rounding mode). */
  private execFp(d: Decoded): boolean {
    const f = this.fpu
    if (f.fs === 0) return false
    if (this.virt) {
      // V = 1: vsstatus.FS must be on too, and a change of FP state dirties both (chapter 8).
      if (this.vsFs === 0) return false
      const fs = f.fs
      f.fs = 1
      try {
        return this.execFpOn(d)
      } finally {
        if (f.fs === 3) this.vsFs = 3
        else f.fs = fs
      }
    }
    return this.execFpOn(d)
  }

  private execFpOn(d: Decoded): boolean {
    const f = this.fpu
    switch (d.op) {
      case Op.FLW:
        f.loadS(d.rd, Number(this.load(this.addr(d), 4, false)))
        return true
      case Op.FLD:
        f.loadD(d.rd, this.load(this.addr(d), 8, false))
        return true
      case Op.FSW:
        this.store(this.addr(d), 4, f.storeS(d.rs2))
        return true
      case Op.FSD:
        this.store(this.addr(d), 8, f.storeD(d.rs2))
        return true
      case Op.FLH:
        f.loadH(d.rd, Number(this.load(this.addr(d), 2, false)))
        return true
      case Op.FSH:
        this.store(this.addr(d), 2, f.storeH(d.rs2))
        return true
      default:
        return f.exec(d)
    }
  }

  private csrOp(d: Decoded): void {
    let n = d.immN
    const imm = d.op === Op.CSRRWI || d.op === Op.CSRRSI || d.op === Op.CSRRCI
    const src = imm ? BigInt(d.rs1) : BigInt.asUintN(64, this.x[d.rs1]!)
    const writes = d.op === Op.CSRRW || d.op === Op.CSRRWI || d.rs1 !== 0
    const reads = !(d.op === Op.CSRRW || d.op === Op.CSRRWI) || d.rd !== 0
    const denied = this.csrAccess(n, writes)
    if (denied >= 0) throw new Trap(denied, BigInt(d.raw))
    // V = 1: the S CSRs that have VS counterparts are those (chapter 8).
    if (this.virt && VS_REDIRECT.has(n)) n += 0x100
    const old = this.csrRead(n)
    if (old === undefined) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
    if (writes) {
      // mip's read-modify-write starts from the software-writable bits only (privileged spec
      // 3.1.9: "only the software-writable SEIP bit participates in the read-sets-write
      // sequence of a CSRRS or CSRRC"): firmware's `csrs mip, SSIP` while the PLIC holds SEIP
      // must not latch SEIP on for good (an SEI storm that starves the timer, issue #12 case 12).
      const base = n === CSR.mip ? this.mipSoft : n === CSR.hip || n === CSR.hvip ? this.mipSoft & VS_INTS : old
      let v = src
      if (d.op === Op.CSRRS || d.op === Op.CSRRSI) v = base | src
      else if (d.op === Op.CSRRC || d.op === Op.CSRRCI) v = base & ~src
      if (!this.csrWrite(n, v)) throw new Trap(CAUSE.ILLEGAL, BigInt(d.raw))
    }
    if (reads) this.x[d.rd] = BigInt.asIntN(64, old)
  }

  // ---- snapshot ------------------------------------------------------------------------

  snapshot(): HartState {
    // Read as M-mode: some CSRs (satp under TVM, stimecmp without STCE) are not readable from S.
    const privilege = this.privilege
    const virt = this.virt
    this.privilege = 3
    this.virt = false
    const csrs: Record<string, bigint> = {}
    for (const [name, n] of Object.entries(CSR)) {
      const v = this.csrRead(n)
      if (v !== undefined) csrs[name] = v
    }
    this.privilege = privilege
    this.virt = virt
    return {
      x: Array.from(this.x, (v) => BigInt.asUintN(64, v)),
      f: this.fpu.getRaw(),
      fcsr: this.fpu.fcsr,
      pc: this.pc,
      privilege,
      csrs,
      instret: this.instret,
      pmpcfg: Array.from(this.pmp.cfg),
      pmpaddr: Array.from(this.pmp.addr),
      mipSoft: this.mipSoft,
      mipHw: this.mipHw,
      reservation: Number.isNaN(this.reservation) ? null : this.reservation,
      waiting: this.waiting,
      ...(this.virt ? { virt: true } : {}),
    }
  }

  /** CSRs a snapshot lists that restore does not write: read-only, derived, or restored on their own. */
  private static readonly NOT_RESTORED = new Set(['mip', 'sip', 'time', 'cycle', 'instret', 'mcycle', 'minstret', 'misa', 'mhartid', 'mvendorid', 'marchid', 'mimpid', 'mconfigptr', 'fflags', 'frm', 'fcsr', 'pmpcfg0', 'pmpaddr0', 'hip', 'hgeip', 'vsip', 'tinfo'])

  restore(s: HartState): void {
    if (s.x.length !== 32) throw new HartError(`snapshot has ${s.x.length} registers, want 32`)
    if (s.f.length !== 32) throw new HartError(`snapshot has ${s.f.length} FP registers, want 32`)
    if (s.pmpcfg?.length !== 16 || s.pmpaddr?.length !== 64) throw new HartError(`snapshot has ${s.pmpcfg?.length ?? 0} pmpcfg and ${s.pmpaddr?.length ?? 0} pmpaddr registers, want 16 and 64`)
    if (s.virt === true && !this.hypervisor) throw new HartError('snapshot is in V mode but this hart has no hypervisor extension')
    this.privilege = 3
    this.virt = false
    for (const [name, v] of Object.entries(s.csrs)) {
      const n = (CSR as Record<string, number>)[name]
      if (n !== undefined && !Hart.NOT_RESTORED.has(name)) this.csrWrite(n, v)
    }
    // PMP as a whole, past the locks (a CSR write to a locked entry would be ignored).
    this.pmp.load(s.pmpcfg, s.pmpaddr)
    this.mipSoft = s.mipSoft
    this.mipHw = s.mipHw
    // After mstatus (which restored FS): fcsr directly, since a CSR write would make FS Dirty.
    this.fpu.setRaw(s.f)
    this.fpu.fcsr = s.fcsr
    s.x.forEach((v, i) => (this.x[i] = BigInt.asIntN(64, v)))
    this.x[0] = 0n
    this.pc = s.pc
    this.privilege = s.privilege
    this.virt = s.virt === true
    this.updateXmode()
    this.instret = s.instret
    this.reservation = s.reservation ?? NaN
    this.reservationWide = -1n
    this.waiting = s.waiting
    this.clearDecoded()
    this.flushTlb()
  }
}

/**
 * A PTE's bits 63:54 (given some are set) make it invalid: Svpbmt's PBMT (62:61) is allowed only
 * when `envcfg` has PBMTE, on a leaf, and not 3; N (63, Svnapot) and 60:54 are reserved here.
 */
function badHigh(pte: bigint, envcfg: bigint): boolean {
  const high = pte >> 54n
  if ((envcfg & MENVCFG.PBMTE) === 0n || (high & ~0x180n) !== 0n) return true
  return (high >> 7n) === 3n || (pte & BigInt(PTE_R | PTE_X)) === 0n
}

function popcount(v: bigint): number {
  let n = 0
  for (let w = v; w; w &= w - 1n) n++
  return n
}

function clz64(v: bigint): number {
  const hi = Number(v >> 32n)
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(Number(v & 0xffffffffn))
}

function ctz64(v: bigint): number {
  if (v === 0n) return 64
  const lo = Number(v & 0xffffffffn)
  if (lo !== 0) return 31 - Math.clz32(lo & -lo)
  const hi = Number(v >> 32n)
  return 32 + 31 - Math.clz32(hi & -hi)
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    HartError: HartError
  }
}
