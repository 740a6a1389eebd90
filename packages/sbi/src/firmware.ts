/**
 * The SBI (RISC-V Supervisor Binary Interface v2.0) implemented in TypeScript: what M-mode
 * firmware does for an S-mode kernel, answered directly by the machine when a hart in S-mode
 * executes `ecall`. Every call returns an outcome; a guest can never make it throw.
 */
import {
  BASE_FID,
  CAUSE,
  CSR,
  DBCN_FID,
  EID,
  HSM_FID,
  HsmState,
  IPI_FID,
  IRQ,
  MENVCFG,
  MSTATUS,
  RESET_REASON,
  RESET_TYPE,
  RFENCE_FID,
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_FAILED,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_IMPL_ID_HONK,
  SBI_IMPL_VERSION,
  SBI_SPEC_VERSION,
  SBI_SUCCESS,
  SRST_FID,
  SUSPEND_TYPE,
  TIME_FID,
  causeMask,
  irqMask,
} from '@honk/riscv'

const U64 = (1n << 64n) - 1n
/** Bytes moved per DBCN read/write call; the caller loops on the returned count (§12.1 allows partial writes). */
export const DBCN_CHUNK = 4096
/** Load access fault / load page fault (privileged spec §3.1.15), for legacy hart-mask reads. */
export const CAUSE_LOAD_ACCESS = CAUSE.LOAD_ACCESS

/** The kind of access S-mode needs to a memory range (DBCN reads guest memory to write the console, and the reverse). */
export type Access = 'read' | 'write' | 'execute'

/** An address range for a remote SFENCE.VMA, or `null` for the whole address space. */
export type FenceRange = { start: bigint; size: bigint } | null

/** How a hart suspends: `retentive` returns from the ecall on wake-up; otherwise it resumes at `resumeAddr`. */
export interface SuspendRequest {
  type: number
  retentive: boolean
  resumeAddr: bigint
  opaque: bigint
}

/**
 * What the machine provides to the firmware. Hart ids are 0..hartCount-1. Methods are only called
 * with validated arguments; they run synchronously inside the ecall.
 */
export interface SbiPlatform {
  readonly hartCount: number
  /** Write one byte to the console (blocking is allowed; drop it if there is no console). */
  consolePutchar(byte: number): void
  /** One byte from the console input, or -1 when none is waiting. Never blocks. */
  consoleGetchar(): number
  /** Optional bulk write; returns how many bytes the console accepted. Default: `consolePutchar` each. */
  consoleWrite?(bytes: Uint8Array): number
  /** Whether S-mode may access every byte of `[addr, addr + length)` for `access` (RAM; not MMIO). */
  isAccessible(addr: bigint, length: bigint, access: Access): boolean
  /** Read guest-physical memory; only called on ranges `isAccessible` approved. */
  readPhysical(addr: bigint, length: number): Uint8Array
  /** Write guest-physical memory; only called on ranges `isAccessible` approved. */
  writePhysical(addr: bigint, data: Uint8Array): void
  /**
   * Legacy calls pass hart masks by S-mode *virtual* address. Read one 64-bit word through the
   * hart's current translation, or return the trap cause to redirect to S-mode (SBI §5).
   * Without it, the address is taken as physical.
   */
  readVirtualU64?(hartId: number, vaddr: bigint): bigint | { cause: number }
  /** stimecmp-equivalent: clear STIP of `hartId` now, and raise it once `time >= value`. */
  setTimer(hartId: number, value: bigint): void
  /** Set SSIP on each hart. */
  sendIpi(hartIds: readonly number[]): void
  /** Clear SSIP of `hartId`; return whether it was pending (legacy clear_ipi). */
  clearIpi(hartId: number): boolean
  remoteFenceI(hartIds: readonly number[]): void
  /** SFENCE.VMA on each hart, limited to `asid` when given. */
  remoteSfenceVma(hartIds: readonly number[], range: FenceRange, asid?: bigint): void
  /**
   * Start a stopped hart: S-mode at `startAddr`, a0 = hartId, a1 = opaque, satp = 0, sstatus.SIE = 0.
   * The hart is START_PENDING until the machine calls {@link Firmware.hartRunning} (or the hart makes an SBI call).
   */
  hartStart(hartId: number, startAddr: bigint, opaque: bigint): void
  /** The calling hart stops: park it until a later `hartStart`. */
  hartStop(hartId: number): void
  /**
   * The calling hart suspends until an interrupt is pending (even if masked). Retentive: the ecall
   * has returned SBI_SUCCESS and execution continues after it. Non-retentive: resume in S-mode at
   * `resumeAddr` with a0 = hartId, a1 = opaque, satp = 0, sstatus.SIE = 0. Either way the machine
   * calls {@link Firmware.hartRunning} on wake-up.
   */
  hartSuspend(hartId: number, request: SuspendRequest): void
  /** Shutdown (0), cold (1) or warm (2) reboot with a reason (0 none, 1 system failure). */
  systemReset(type: number, reason: number): void
}

/** The registers of an ecall (a0..a7 = x10..x17), as unsigned or signed 64-bit values. */
export interface SbiRegs {
  a0: bigint
  a1: bigint
  a2: bigint
  a3: bigint
  a4: bigint
  a5: bigint
  a6: bigint
  a7: bigint
}

/** The slice of a hart the firmware touches (`@honk/rv64`'s `Hart` satisfies it). */
export interface SbiHart {
  readonly hartId: number
  getX(i: number): bigint
  setX(i: number, v: bigint): void
}

/**
 * What to do after an ecall:
 * - `return`: a0 = error, a1 = value, continue after the ecall;
 * - `legacy`: a0 only (legacy extensions leave a1 alone), continue after the ecall;
 * - `noreturn`: the platform has taken the hart (stopped, reset, non-retentive suspend); write nothing;
 * - `trap`: redirect a trap to S-mode with sepc at the ecall (a legacy hart-mask read faulted).
 */
export type SbiOutcome =
  | { kind: 'return'; error: bigint; value: bigint }
  | { kind: 'legacy'; a0: bigint }
  | { kind: 'noreturn' }
  | { kind: 'trap'; cause: number; tval: bigint }

/**
 * A hart as M-mode firmware sees it when it hands the hart to S-mode: its CSRs (without privilege
 * checks, as M-mode), its pc and its privilege (`@honk/rv64`'s `Hart` satisfies it).
 */
export interface SbiMachineHart extends SbiHart {
  pc: number
  privilege: 0 | 1 | 3
  getCsr(n: number): bigint
  setCsr(n: number, v: bigint): void
}

/** CSR numbers the hand-off writes (privileged spec 1.12, table 2.2–2.5). */
export const HANDOFF_CSR = {
  sstatus: CSR.sstatus,
  sie: CSR.sie,
  stvec: CSR.stvec,
  scounteren: CSR.scounteren,
  sscratch: CSR.sscratch,
  satp: CSR.satp,
  stimecmp: CSR.stimecmp,
  mstatus: CSR.mstatus,
  medeleg: CSR.medeleg,
  mideleg: CSR.mideleg,
  mie: CSR.mie,
  mcounteren: CSR.mcounteren,
  menvcfg: CSR.menvcfg,
} as const

/** mstatus.FS = Dirty (3) and MPIE, as after OpenSBI's `mret` into S-mode; everything else 0 (MPRV, TVM, TW, TSR, SUM, MXR, SIE). */
export const HANDOFF_MSTATUS = MSTATUS.FS | MSTATUS.MPIE
/**
 * Exceptions delegated to S-mode: every delegable cause (0–8, 12, 13, 15) except ecalls from S,
 * which the TypeScript SBI answers. OpenSBI delegates fewer (0xb109) because it handles the
 * others in M-mode (emulation, or a redirect to S); nothing runs in M-mode here, so S-mode gets
 * them directly, which is what OpenSBI's redirect amounts to.
 */
export const HANDOFF_MEDELEG = [
  CAUSE.MISALIGNED_FETCH, CAUSE.FETCH_ACCESS, CAUSE.ILLEGAL, CAUSE.BREAKPOINT, CAUSE.MISALIGNED_LOAD, CAUSE.LOAD_ACCESS,
  CAUSE.MISALIGNED_STORE, CAUSE.STORE_ACCESS, CAUSE.ECALL_U, CAUSE.FETCH_PAGE, CAUSE.LOAD_PAGE, CAUSE.STORE_PAGE,
].reduce((m, c) => m | causeMask(c), 0n) // 0xb1ff
/**
 * Added to {@link HANDOFF_MEDELEG} on a hart with the H extension (misa.H): guest page faults and
 * virtual-instruction exceptions (OpenSBI delegates these four when misa has H), and ecalls from
 * VS-mode, which OpenSBI redirects to HS-mode by software: a hypervisor (Linux's KVM) takes them.
 */
export const HANDOFF_MEDELEG_H = [
  CAUSE.ECALL_VS, CAUSE.FETCH_GUEST_PAGE, CAUSE.LOAD_GUEST_PAGE, CAUSE.VIRTUAL_INSTRUCTION, CAUSE.STORE_GUEST_PAGE,
].reduce((m, c) => m | causeMask(c), 0n) // 0xf00400
const MISA_H = 1n << 7n
/** Interrupts delegated to S-mode: SSI, STI, SEI (as OpenSBI). */
export const HANDOFF_MIDELEG = irqMask(IRQ.SSI) | irqMask(IRQ.STI) | irqMask(IRQ.SEI) // 0x222
/** S-mode may read every counter (cycle, time, instret, hpmcounter3–31), as under OpenSBI (privileged spec §3.1.11). */
export const HANDOFF_MCOUNTEREN = 0xffff_ffffn
/**
 * U-mode may read cycle, time and instret until the kernel says otherwise (OpenSBI's value):
 * without it, user programs that read the clock through the vDSO (`rdtime`) get SIGILL.
 */
export const HANDOFF_SCOUNTEREN = 0x7n
/**
 * menvcfg fields asked for; the hart keeps those it implements (the fields are WARL, read-only
 * zero when their extension is absent, §3.1.18): STCE (Sstc: S-mode's own timer, stimecmp),
 * PBMTE (Svpbmt), CBZE (Zicboz), CBCFE and CBIE = 11 (Zicbom: cbo.inval invalidates, as OpenSBI
 * sets it). FIOM stays 0 as OpenSBI leaves it (I/O and memory fences stay separate).
 */
export const MENVCFG_STCE = MENVCFG.STCE
export const HANDOFF_MENVCFG_WANTED = MENVCFG.STCE | MENVCFG.PBMTE | MENVCFG.CBZE | MENVCFG.CBCFE | MENVCFG.CBIE

/**
 * Where the HSM states live. By default a plain array inside one `Firmware`; harts on several
 * threads (one `Firmware` each) share one store, whose `compareAndSet` is atomic across them —
 * so of two harts starting the same STOPPED hart at once exactly one wins (SBI §9.1).
 */
export interface HsmStateStore {
  get(hartId: number): HsmState
  set(hartId: number, state: HsmState): void
  /** Atomically: if hart `hartId` is in state `expected`, make it `next` and return true; else leave it and return false. */
  compareAndSet(hartId: number, expected: HsmState, next: HsmState): boolean
}

function arrayStore(): HsmStateStore {
  const states: HsmState[] = []
  return {
    get: (h) => states[h]!,
    set: (h, s) => void (states[h] = s),
    compareAndSet: (h, e, n) => (states[h] === e ? ((states[h] = n), true) : false),
  }
}

export interface FirmwareOptions {
  /** Harts STARTED at reset (default `[0]`, the boot hart); the others are STOPPED. */
  startedHarts?: readonly number[]
  /**
   * A shared HSM state store (harts on several threads, each with its own `Firmware`). Its
   * creator initialises it: the constructor leaves a given store as it is.
   */
  hsmStates?: HsmStateStore
  /**
   * Use a hart's Sstc when it has one (default true, as OpenSBI): the hand-off sets menvcfg.STCE
   * and SBI set_timer writes the hart's stimecmp instead of calling `SbiPlatform.setTimer`.
   */
  sstc?: boolean
  mvendorid?: bigint
  marchid?: bigint
  mimpid?: bigint
}

const ret = (error: number, value: bigint | number = 0n): SbiOutcome => ({ kind: 'return', error: BigInt(error), value: BigInt(value) })
const legacy = (a0: bigint | number): SbiOutcome => ({ kind: 'legacy', a0: BigInt(a0) })
const NORETURN: SbiOutcome = { kind: 'noreturn' }

/** Extensions this implementation answers (probe_extension → 1). */
const IMPLEMENTED = new Set<number>([
  EID.LEGACY_SET_TIMER,
  EID.LEGACY_CONSOLE_PUTCHAR,
  EID.LEGACY_CONSOLE_GETCHAR,
  EID.LEGACY_CLEAR_IPI,
  EID.LEGACY_SEND_IPI,
  EID.LEGACY_REMOTE_FENCE_I,
  EID.LEGACY_REMOTE_SFENCE_VMA,
  EID.LEGACY_REMOTE_SFENCE_VMA_ASID,
  EID.LEGACY_SHUTDOWN,
  EID.BASE,
  EID.TIME,
  EID.IPI,
  EID.RFENCE,
  EID.HSM,
  EID.SRST,
  EID.DBCN,
])

/** EIDs and FIDs are signed 32-bit values, sign-extended in the register (§3); anything else names nothing. */
function id32(reg: bigint): number | undefined {
  const v = BigInt.asIntN(64, reg)
  return v === BigInt.asIntN(32, v) ? Number(v) : undefined
}

export class Firmware {
  private readonly states: HsmStateStore
  private readonly started: readonly number[]

  constructor(
    readonly platform: SbiPlatform,
    private readonly options: FirmwareOptions = {},
  ) {
    if (!Number.isInteger(platform.hartCount) || platform.hartCount < 1) throw new RangeError(`hartCount ${platform.hartCount} must be a positive integer`)
    this.started = options.startedHarts ?? [0]
    for (const h of this.started)
      if (!Number.isInteger(h) || h < 0 || h >= platform.hartCount) throw new RangeError(`started hart ${h} is not in 0..${platform.hartCount - 1}`)
    this.states = options.hsmStates ?? arrayStore()
    if (!options.hsmStates) this.resetStates()
  }

  /** Back to the reset states (after a reboot). */
  resetStates(): void {
    for (let i = 0; i < this.platform.hartCount; i++) this.states.set(i, this.started.includes(i) ? HsmState.STARTED : HsmState.STOPPED)
  }

  /** The HSM state of a hart (what `hart_get_status` answers). */
  hartState(hartId: number): HsmState {
    const s = Number.isInteger(hartId) && hartId >= 0 && hartId < this.platform.hartCount ? this.states.get(hartId) : undefined
    if (s === undefined) throw new RangeError(`hart ${hartId} is not in 0..${this.platform.hartCount - 1}`)
    return s
  }

  /**
   * The machine reports that `hartId` executes again: a START_PENDING hart reached `start_addr`,
   * or a SUSPENDED hart woke up. Other states are left alone.
   */
  hartRunning(hartId: number): void {
    if (!Number.isInteger(hartId) || hartId < 0 || hartId >= this.platform.hartCount) return
    const s = this.states.get(hartId)
    if (s === HsmState.START_PENDING || s === HsmState.SUSPENDED || s === HsmState.RESUME_PENDING) this.states.set(hartId, HsmState.STARTED)
  }

  /**
   * What M-mode firmware does for the modes below it before it drops `hart` into S-mode at
   * `hart.pc` (OpenSBI's hart init and `mret`, measured on this machine's hart: the values of
   * the HANDOFF_* constants): trap delegation, counter access for S and U, menvcfg, mstatus
   * with FS on, and S-mode's registers cleared (stvec = the entry, as OpenSBI). Returns the
   * menvcfg the hart kept. Call it at reset for the boot hart and on every HSM start.
   */
  enterSupervisor(hart: SbiMachineHart): bigint {
    const c = HANDOFF_CSR
    hart.setCsr(c.mstatus, HANDOFF_MSTATUS)
    hart.setCsr(c.medeleg, hart.getCsr(CSR.misa) & MISA_H ? HANDOFF_MEDELEG | HANDOFF_MEDELEG_H : HANDOFF_MEDELEG)
    hart.setCsr(c.mideleg, HANDOFF_MIDELEG)
    hart.setCsr(c.mie, 0n)
    hart.setCsr(c.mcounteren, HANDOFF_MCOUNTEREN)
    hart.setCsr(c.scounteren, HANDOFF_SCOUNTEREN)
    hart.setCsr(c.menvcfg, (this.options.sstc ?? true) ? HANDOFF_MENVCFG_WANTED : HANDOFF_MENVCFG_WANTED & ~MENVCFG_STCE)
    const menvcfg = hart.getCsr(c.menvcfg)
    if (menvcfg & MENVCFG_STCE) {
      // Sstc: no timer pending until S-mode asks for one (stimecmp is WARL-wide, all ones = never).
      hart.setCsr(c.stimecmp, (1n << 64n) - 1n)
      this.sstcHarts.set(hart.hartId, hart)
    } else this.sstcHarts.delete(hart.hartId)
    hart.setCsr(c.sie, 0n)
    hart.setCsr(c.satp, 0n)
    hart.setCsr(c.sscratch, 0n)
    hart.setCsr(c.stvec, BigInt.asUintN(64, BigInt(hart.pc)))
    hart.privilege = 1
    return menvcfg
  }

  /** Harts whose timer is their own stimecmp (Sstc enabled by {@link enterSupervisor}). */
  private readonly sstcHarts = new Map<number, SbiMachineHart>()

  /** SBI set_timer (§6.1, legacy §5.1): the hart's stimecmp under Sstc (as OpenSBI), else the platform's timer. */
  private setTimer(hartId: number, value: bigint): void {
    const hart = this.sstcHarts.get(hartId)
    if (hart) hart.setCsr(HANDOFF_CSR.stimecmp, value)
    else this.platform.setTimer(hartId, value)
  }

  /** Handle the ecall of `hart`: read a0..a7, write back a0 (and a1) when the call returns. */
  ecall(hart: SbiHart): SbiOutcome {
    const r = (i: number): bigint => hart.getX(i)
    const out = this.handleEcall(hart.hartId, { a0: r(10), a1: r(11), a2: r(12), a3: r(13), a4: r(14), a5: r(15), a6: r(16), a7: r(17) })
    if (out.kind === 'return') {
      hart.setX(10, BigInt.asUintN(64, out.error))
      hart.setX(11, BigInt.asUintN(64, out.value))
    } else if (out.kind === 'legacy') hart.setX(10, BigInt.asUintN(64, out.a0))
    return out
  }

  /** Handle one SBI call from S-mode on `hartId`. Never throws for any register values. */
  handleEcall(hartId: number, regs: SbiRegs): SbiOutcome {
    if (!Number.isInteger(hartId) || hartId < 0 || hartId >= this.platform.hartCount) return ret(SBI_ERR_FAILED)
    // A hart that makes a call is executing in S-mode, so it is STARTED whatever was recorded.
    if (this.states.get(hartId) !== HsmState.STARTED) this.states.set(hartId, HsmState.STARTED)
    const a = {
      a0: BigInt.asUintN(64, regs.a0),
      a1: BigInt.asUintN(64, regs.a1),
      a2: BigInt.asUintN(64, regs.a2),
      a3: BigInt.asUintN(64, regs.a3),
      a4: BigInt.asUintN(64, regs.a4),
    }
    const eid = id32(regs.a7)
    const fid = id32(regs.a6)
    if (eid === undefined) return ret(SBI_ERR_NOT_SUPPORTED)
    if (eid >= 0 && eid <= EID.LEGACY_SHUTDOWN) return this.legacyCall(hartId, eid, a)
    if (fid === undefined) return ret(SBI_ERR_NOT_SUPPORTED)
    switch (eid) {
      case EID.BASE:
        return this.base(fid, a.a0)
      case EID.TIME:
        if (fid !== TIME_FID.SET_TIMER) return ret(SBI_ERR_NOT_SUPPORTED)
        this.setTimer(hartId, a.a0)
        return ret(SBI_SUCCESS)
      case EID.IPI: {
        if (fid !== IPI_FID.SEND_IPI) return ret(SBI_ERR_NOT_SUPPORTED)
        const harts = this.hartList(a.a0, a.a1)
        if (!harts) return ret(SBI_ERR_INVALID_PARAM)
        this.platform.sendIpi(harts)
        return ret(SBI_SUCCESS)
      }
      case EID.RFENCE:
        return this.rfence(fid, a)
      case EID.HSM:
        return this.hsm(hartId, fid, a)
      case EID.SRST:
        return this.srst(fid, a.a0, a.a1)
      case EID.DBCN:
        return this.dbcn(fid, a.a0, a.a1, a.a2)
      default:
        return ret(SBI_ERR_NOT_SUPPORTED)
    }
  }

  // §4 Base: every function succeeds.
  private base(fid: number, a0: bigint): SbiOutcome {
    switch (fid) {
      case BASE_FID.GET_SPEC_VERSION:
        return ret(SBI_SUCCESS, SBI_SPEC_VERSION)
      case BASE_FID.GET_IMPL_ID:
        return ret(SBI_SUCCESS, SBI_IMPL_ID_HONK)
      case BASE_FID.GET_IMPL_VERSION:
        return ret(SBI_SUCCESS, SBI_IMPL_VERSION)
      case BASE_FID.PROBE_EXTENSION: {
        const eid = id32(a0)
        return ret(SBI_SUCCESS, eid !== undefined && IMPLEMENTED.has(eid) ? 1 : 0)
      }
      case BASE_FID.GET_MVENDORID:
        return ret(SBI_SUCCESS, this.options.mvendorid ?? 0n)
      case BASE_FID.GET_MARCHID:
        return ret(SBI_SUCCESS, this.options.marchid ?? 0n)
      case BASE_FID.GET_MIMPID:
        return ret(SBI_SUCCESS, this.options.mimpid ?? 0n)
      default:
        return ret(SBI_ERR_NOT_SUPPORTED)
    }
  }

  /**
   * §3.1 hart list: bit i of `mask` names hart `base + i`; `base = -1` means every hart.
   * An invalid base or any named hart that does not exist → undefined (SBI_ERR_INVALID_PARAM).
   */
  private hartList(mask: bigint, base: bigint): number[] | undefined {
    const n = this.platform.hartCount
    if (base === U64) return Array.from({ length: n }, (_, i) => i)
    if (base >= BigInt(n)) return undefined
    const out: number[] = []
    for (let bit = 0; mask !== 0n; bit++, mask >>= 1n) {
      if ((mask & 1n) === 0n) continue
      const id = Number(base) + bit
      if (id >= n) return undefined
      out.push(id)
    }
    return out
  }

  /** §8: whole address space when start = size = 0 or size = 2^XLEN - 1; a range that wraps is invalid. */
  private static fenceRange(start: bigint, size: bigint): FenceRange | undefined {
    if ((start === 0n && size === 0n) || size === U64) return null
    if (start + size > U64 + 1n) return undefined
    return { start, size }
  }

  private rfence(fid: number, a: { a0: bigint; a1: bigint; a2: bigint; a3: bigint; a4: bigint }): SbiOutcome {
    if (fid >= RFENCE_FID.REMOTE_HFENCE_GVMA_VMID && fid <= RFENCE_FID.REMOTE_HFENCE_VVMA) return ret(SBI_ERR_NOT_SUPPORTED) // no H-extension below the kernel
    if (fid !== RFENCE_FID.REMOTE_FENCE_I && fid !== RFENCE_FID.REMOTE_SFENCE_VMA && fid !== RFENCE_FID.REMOTE_SFENCE_VMA_ASID) return ret(SBI_ERR_NOT_SUPPORTED)
    const harts = this.hartList(a.a0, a.a1)
    if (!harts) return ret(SBI_ERR_INVALID_PARAM)
    if (fid === RFENCE_FID.REMOTE_FENCE_I) {
      this.platform.remoteFenceI(harts)
      return ret(SBI_SUCCESS)
    }
    const range = Firmware.fenceRange(a.a2, a.a3)
    if (range === undefined) return ret(SBI_ERR_INVALID_ADDRESS)
    if (fid === RFENCE_FID.REMOTE_SFENCE_VMA) this.platform.remoteSfenceVma(harts, range)
    else this.platform.remoteSfenceVma(harts, range, a.a4)
    return ret(SBI_SUCCESS)
  }

  private validHart(id: bigint): number | undefined {
    return id < BigInt(this.platform.hartCount) ? Number(id) : undefined
  }

  // §9 Hart State Management.
  private hsm(hartId: number, fid: number, a: { a0: bigint; a1: bigint; a2: bigint }): SbiOutcome {
    switch (fid) {
      case HSM_FID.HART_START: {
        const target = this.validHart(a.a0)
        if (target === undefined) return ret(SBI_ERR_INVALID_PARAM)
        // A hart that is (or is becoming) available cannot be started again; one that is on its
        // way down cannot be started yet (unspecified by the spec: FAILED, retry later).
        const refused = (state: HsmState): SbiOutcome => ret(state === HsmState.STOP_PENDING ? SBI_ERR_FAILED : SBI_ERR_ALREADY_AVAILABLE)
        const state = this.states.get(target)
        if (state !== HsmState.STOPPED) return refused(state)
        if (!this.platform.isAccessible(a.a1, 2n, 'execute')) return ret(SBI_ERR_INVALID_ADDRESS)
        // Check-and-claim in one step: another hart (thread) may have started it meanwhile.
        if (!this.states.compareAndSet(target, HsmState.STOPPED, HsmState.START_PENDING)) return refused(this.states.get(target))
        this.platform.hartStart(target, a.a1, a.a2)
        return ret(SBI_SUCCESS)
      }
      case HSM_FID.HART_STOP:
        this.states.set(hartId, HsmState.STOP_PENDING)
        this.platform.hartStop(hartId)
        this.states.set(hartId, HsmState.STOPPED)
        return NORETURN
      case HSM_FID.HART_GET_STATUS: {
        const target = this.validHart(a.a0)
        if (target === undefined) return ret(SBI_ERR_INVALID_PARAM)
        return ret(SBI_SUCCESS, this.states.get(target))
      }
      case HSM_FID.HART_SUSPEND: {
        const type = Number(a.a0 & 0xffff_ffffn) // uint32_t: the upper register half is ignored (§3)
        const retentive = type < SUSPEND_TYPE.DEFAULT_NON_RETENTIVE
        // Only the two default types exist here; reserved and unimplemented platform types are invalid.
        if (type !== SUSPEND_TYPE.DEFAULT_RETENTIVE && type !== SUSPEND_TYPE.DEFAULT_NON_RETENTIVE) return ret(SBI_ERR_INVALID_PARAM)
        if (!retentive && !this.platform.isAccessible(a.a1, 2n, 'execute')) return ret(SBI_ERR_INVALID_ADDRESS)
        this.states.set(hartId, HsmState.SUSPENDED)
        this.platform.hartSuspend(hartId, { type, retentive, resumeAddr: a.a1, opaque: a.a2 })
        return retentive ? ret(SBI_SUCCESS) : NORETURN
      }
      default:
        return ret(SBI_ERR_NOT_SUPPORTED)
    }
  }

  // §10 System Reset.
  private srst(fid: number, a0: bigint, a1: bigint): SbiOutcome {
    if (fid !== SRST_FID.SYSTEM_RESET) return ret(SBI_ERR_NOT_SUPPORTED)
    const type = Number(a0 & 0xffff_ffffn)
    const reason = Number(a1 & 0xffff_ffffn)
    // Types 0..2 exist; reserved and vendor types are invalid. No implementation-specific or vendor reasons are defined.
    if (type > RESET_TYPE.WARM_REBOOT) return ret(SBI_ERR_INVALID_PARAM)
    if (reason !== RESET_REASON.NONE && reason !== RESET_REASON.SYSTEM_FAILURE) return ret(SBI_ERR_INVALID_PARAM)
    this.resetStates()
    this.platform.systemReset(type, reason)
    return NORETURN
  }

  /**
   * §12 Debug Console. Memory is physical `hi:lo`; on RV64 a non-zero `hi` is beyond any address.
   * A range S-mode may not access → SBI_ERR_INVALID_PARAM (the DBCN error tables, §12.1/12.2).
   */
  private dbcn(fid: number, a0: bigint, lo: bigint, hi: bigint): SbiOutcome {
    if (fid === DBCN_FID.CONSOLE_WRITE_BYTE) {
      this.platform.consolePutchar(Number(a0 & 0xffn))
      return ret(SBI_SUCCESS)
    }
    if (fid !== DBCN_FID.CONSOLE_WRITE && fid !== DBCN_FID.CONSOLE_READ) return ret(SBI_ERR_NOT_SUPPORTED)
    const num = a0
    if (num === 0n) return ret(SBI_SUCCESS, 0)
    const write = fid === DBCN_FID.CONSOLE_WRITE
    if (hi !== 0n || lo + num > U64 + 1n || !this.platform.isAccessible(lo, num, write ? 'read' : 'write')) return ret(SBI_ERR_INVALID_PARAM)
    const n = Number(num < BigInt(DBCN_CHUNK) ? num : BigInt(DBCN_CHUNK))
    if (write) {
      const bytes = this.platform.readPhysical(lo, n)
      return ret(SBI_SUCCESS, this.consoleWrite(bytes))
    }
    const got: number[] = []
    while (got.length < n) {
      const c = this.platform.consoleGetchar()
      if (c < 0) break
      got.push(c & 0xff)
    }
    if (got.length > 0) this.platform.writePhysical(lo, Uint8Array.from(got))
    return ret(SBI_SUCCESS, got.length)
  }

  private consoleWrite(bytes: Uint8Array): number {
    if (this.platform.consoleWrite) return Math.max(0, Math.min(bytes.length, this.platform.consoleWrite(bytes)))
    for (const b of bytes) this.platform.consolePutchar(b)
    return bytes.length
  }

  /**
   * §5 legacy extensions: a6 ignored, result in a0 only. Hart masks are a pointer to a bit-vector
   * of ceil(harts/64) words in S-mode virtual memory; a null pointer means every hart.
   */
  private legacyCall(hartId: number, eid: number, a: { a0: bigint; a1: bigint; a2: bigint; a3: bigint }): SbiOutcome {
    switch (eid) {
      case EID.LEGACY_SET_TIMER:
        this.setTimer(hartId, a.a0)
        return legacy(0)
      case EID.LEGACY_CONSOLE_PUTCHAR:
        this.platform.consolePutchar(Number(a.a0 & 0xffn))
        return legacy(0)
      case EID.LEGACY_CONSOLE_GETCHAR: {
        const c = this.platform.consoleGetchar()
        return legacy(c < 0 ? -1 : c & 0xff)
      }
      case EID.LEGACY_CLEAR_IPI:
        return legacy(this.platform.clearIpi(hartId) ? 1 : 0)
      case EID.LEGACY_SHUTDOWN:
        this.resetStates()
        this.platform.systemReset(RESET_TYPE.SHUTDOWN, RESET_REASON.NONE)
        return NORETURN
      default: {
        const harts = this.legacyHartMask(hartId, a.a0)
        if (harts === undefined) return legacy(SBI_ERR_INVALID_PARAM)
        if (!Array.isArray(harts)) return harts
        if (eid === EID.LEGACY_SEND_IPI) this.platform.sendIpi(harts)
        else if (eid === EID.LEGACY_REMOTE_FENCE_I) this.platform.remoteFenceI(harts)
        else {
          const range = Firmware.fenceRange(a.a1, a.a2)
          if (range === undefined) return legacy(SBI_ERR_INVALID_ADDRESS)
          if (eid === EID.LEGACY_REMOTE_SFENCE_VMA) this.platform.remoteSfenceVma(harts, range)
          else this.platform.remoteSfenceVma(harts, range, a.a3)
        }
        return legacy(0)
      }
    }
  }

  private legacyHartMask(hartId: number, ptr: bigint): number[] | SbiOutcome | undefined {
    const n = this.platform.hartCount
    if (ptr === 0n) return Array.from({ length: n }, (_, i) => i)
    const harts: number[] = []
    for (let w = 0; w * 64 < n; w++) {
      const addr = (ptr + BigInt(w * 8)) & U64
      let word: bigint
      if (this.platform.readVirtualU64) {
        const r = this.platform.readVirtualU64(hartId, addr)
        if (typeof r !== 'bigint') return { kind: 'trap', cause: r.cause, tval: addr }
        word = r
      } else {
        if (addr + 8n > U64 + 1n || !this.platform.isAccessible(addr, 8n, 'read')) return { kind: 'trap', cause: CAUSE_LOAD_ACCESS, tval: addr }
        word = new DataView(this.platform.readPhysical(addr, 8).slice().buffer).getBigUint64(0, true)
      }
      for (let bit = 0; bit < 64 && word !== 0n; bit++, word >>= 1n) {
        if ((word & 1n) === 0n) continue
        if (w * 64 + bit >= n) return undefined
        harts.push(w * 64 + bit)
      }
    }
    return harts
  }
}
