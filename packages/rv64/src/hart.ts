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
import { CAUSE, CAUSE_INTERRUPT, HSTATUS, IRQ, MENVCFG, MSTATUS } from '@honk/riscv'
import { decode, type Decoded } from './decode.js'
import { compileBlock, type BlockFn } from './block.js'
import { add64, lt64, ltu64, mul64, setNumber, setWord, sll64, sra64, srl64, sub64 } from './halves.js'
import { compileRegion } from './region.js'
import { warmUp } from './warm-up.js'
import type { BlockHost } from './block-host.js'
import { DecodeCache } from './decode-cache.js'
import { Fpu } from './fpu.js'
import { PMP_R, PMP_W, PMP_X, Pmp } from './pmp.js'
import { SharedRam } from './shared-ram.js'
import { Trap } from './trap.js'
import { AREA, AREA_TLB_SIZE, HART_AREA, type HartArena } from './wasm-arena.js'
import { compileWasmBlock, compileWasmRegion, wasmContext, type WasmContext } from './wasm-tier.js'
import { PTE_D, VS_BARE, allowedG, allowedHost, allowedVs, walk, walkV, type WalkHost } from './walk.js'
import { restoreSnapshot, takeSnapshot, type SnapshotPort } from './snapshot.js'
import { HSTATUS_VSXL64, MIDELEG_FORCED, VS_INTS, csrOp, csrRead, csrWrite, readCsrAsCode, writeCsrAsCode, type CsrPort } from './csr.js'

/*
 * The operation numbers, a copy of src/op.ts's `Op` kept equal by src/op-copies.test.ts: esbuild
 * inlines only a const enum declared in the same file, and the interpreter's switch must see
 * number literals to become a jump table (RATIONALE "Why do hart.ts and fpu.ts carry a copy of Op?").
 */
// BEGIN copy of src/op.ts (scripts/sync-op.ts)
const enum Op {
  ILLEGAL, LUI, AUIPC, JAL, JALR, BEQ, BNE, BLT, BGE, BLTU, BGEU,
  LB, LH, LW, LD, LBU, LHU, LWU, SB, SH, SW, SD,
  ADDI, SLTI, SLTIU, XORI, ORI, ANDI, SLLI, SRLI, SRAI,
  ADD, SUB, SLL, SLT, SLTU, XOR, SRL, SRA, OR, AND,
  ADDIW, SLLIW, SRLIW, SRAIW, ADDW, SUBW, SLLW, SRLW, SRAW,
  MUL, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU, MULW, DIVW, DIVUW, REMW, REMUW,
  FENCE, FENCE_I, ECALL, EBREAK, MRET, SRET, WFI, SFENCE_VMA,
  CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI,
  LR_W, SC_W, LR_D, SC_D, AMO_W, AMO_D,
  // Zba
  SH1ADD, SH2ADD, SH3ADD, ADD_UW, SH1ADD_UW, SH2ADD_UW, SH3ADD_UW, SLLI_UW,
  // Zbb
  ANDN, ORN, XNOR, CLZ, CTZ, CPOP, CLZW, CTZW, CPOPW, MAX, MAXU, MIN, MINU, SEXT_B, SEXT_H, ZEXT_H,
  ROL, ROR, RORI, ROLW, RORW, RORIW, ORC_B, REV8,
  // Zbs
  BCLR, BCLRI, BEXT, BEXTI, BINV, BINVI, BSET, BSETI,
  // F and D: everything from FLW on is executed by `Hart.execFp` (loads/stores) and `Fpu.exec`.
  FLW, FLD, FSW, FSD,
  FMADD_S, FMSUB_S, FNMSUB_S, FNMADD_S, FMADD_D, FMSUB_D, FNMSUB_D, FNMADD_D,
  FADD_S, FSUB_S, FMUL_S, FDIV_S, FSQRT_S, FADD_D, FSUB_D, FMUL_D, FDIV_D, FSQRT_D,
  FSGNJ_S, FSGNJN_S, FSGNJX_S, FSGNJ_D, FSGNJN_D, FSGNJX_D,
  FMIN_S, FMAX_S, FMIN_D, FMAX_D,
  FCVT_S_D, FCVT_D_S,
  FEQ_S, FLT_S, FLE_S, FEQ_D, FLT_D, FLE_D,
  FCLASS_S, FCLASS_D,
  FCVT_W_S, FCVT_WU_S, FCVT_L_S, FCVT_LU_S, FCVT_W_D, FCVT_WU_D, FCVT_L_D, FCVT_LU_D,
  FCVT_S_W, FCVT_S_WU, FCVT_S_L, FCVT_S_LU, FCVT_D_W, FCVT_D_WU, FCVT_D_L, FCVT_D_LU,
  FMV_X_W, FMV_W_X, FMV_X_D, FMV_D_X,
  // Zfhmin and Zfh (half precision): FP too, so they sit before HLV_B (the hart's range test).
  FLH, FSH, FMV_X_H, FMV_H_X, FCVT_S_H, FCVT_H_S, FCVT_D_H, FCVT_H_D,
  FMADD_H, FMSUB_H, FNMSUB_H, FNMADD_H, FADD_H, FSUB_H, FMUL_H, FDIV_H, FSQRT_H,
  FSGNJ_H, FSGNJN_H, FSGNJX_H, FMIN_H, FMAX_H, FEQ_H, FLT_H, FLE_H, FCLASS_H,
  FCVT_W_H, FCVT_WU_H, FCVT_L_H, FCVT_LU_H, FCVT_H_W, FCVT_H_WU, FCVT_H_L, FCVT_H_LU,
  // The hypervisor extension (privileged spec 1.12 §8.3): executed by `Hart.execH`, off the hot switch.
  HLV_B, HLV_BU, HLV_H, HLV_HU, HLVX_HU, HLV_W, HLV_WU, HLVX_WU, HLV_D, HSV_B, HSV_H, HSV_W, HSV_D, HFENCE_VVMA, HFENCE_GVMA,
  // Extensions guests probe (executed by `Hart.execExt` too): Zbc, Zicond, Svinval, Zicbom/Zicboz.
  CLMUL, CLMULH, CLMULR, CZERO_EQZ, CZERO_NEZ,
  SINVAL_VMA, SFENCE_W_INVAL, SFENCE_INVAL_IR, HINVAL_VVMA, HINVAL_GVMA,
  CBO_INVAL, CBO_CLEAN, CBO_FLUSH, CBO_ZERO,
}
// END copy of src/op.ts

/** Marks a store in `ACCESS_BYTES` (above any width). */
const STORE_ACCESS = 16
/**
 * Bytes each load and store moves, by operation, with {@link STORE_ACCESS} added for a store (the
 * interpreter's inline access path). From the operation, not from funct3 in `Decoded.inst`: `inst`
 * is a full 32-bit word, and V8 deoptimised the loop when one above 2^30 first met code optimised
 * on small ones.
 */
const ACCESS_BYTES = (() => {
  const t = new Uint8Array(1024)
  for (const [op, n] of [[Op.LB, 1], [Op.LBU, 1], [Op.LH, 2], [Op.LHU, 2], [Op.LW, 4], [Op.LWU, 4], [Op.LD, 8]] as const) t[op] = n
  for (const [op, n] of [[Op.SB, 1], [Op.SH, 2], [Op.SW, 4], [Op.SD, 8]] as const) t[op] = STORE_ACCESS | n
  return t
})()

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
  /**
   * Visits before code is compiled (Infinity = never): of a page, for the region tier (default
   * {@link DEFAULT_REGION_THRESHOLD}); of a block start, for the block tier (default {@link DEFAULT_BLOCK_THRESHOLD}).
   */
  blockThreshold?: number
  /**
   * The compiled tier: a block per straight run after 100 000 visits (`block.ts`, default), or a
   * region per page of code (`region.ts`: faster on hot loops, slower on boots, see
   * docs/RATIONALE.md "Why is the region tier not the default?"), or `'wasm-region'`: regions compiled to
   * WebAssembly (`wasm-tier.ts`; needs the bus's RAM in a WebAssembly arena, else it is the
   * region tier; slower than the block tier on boots, docs/RATIONALE.md "Why do blocks compile to
   * WebAssembly, and why regions only on request?"). The block tier's blocks are WebAssembly
   * unless `wasmBlocks` is false.
   */
  tier?: 'region' | 'block' | 'wasm-region'
  /**
   * The block tier compiles its blocks to WebAssembly (`wasm-tier.ts` compileWasmBlock) when the
   * bus's RAM is in a WebAssembly arena (default true), else to JS (`block.ts`).
   */
  wasmBlocks?: boolean
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
/** Interrupt priority, highest first (privileged spec 3.1.9): MEI, MSI, MTI, SEI, SSI, STI. */
const PRIORITY = [IRQ.MEI, IRQ.MSI, IRQ.MTI, IRQ.SEI, IRQ.SSI, IRQ.STI]
const PAGE = 4096
/** HS-level interrupt priority (chapter 8): SEI, SSI, STI, SGEI, VSEI, VSSI, VSTI after the M ones. */
const PRIORITY_H = [IRQ.MEI, IRQ.MSI, IRQ.MTI, IRQ.SEI, IRQ.SSI, IRQ.STI, IRQ.SGEI, IRQ.VSEI, IRQ.VSSI, IRQ.VSTI]
/** Causes whose tval is an address: with V = 1 it is a guest virtual address (GVA). */
const ADDRESS_CAUSES = [0, 1, 4, 5, 6, 7, 12, 13, 15, 20, 21, 23].reduce((m, c) => m | (1 << c), 0)
/**
 * Visits of a block start before it is compiled. Measured (2026-11-30): at 8 the CPU bench ran
 * at 140 M instr/s but Linux's boot (34 M instructions over ~35 000 distinct hot blocks) took 3.4×
 * longer than the interpreter alone — each new function starts in V8's bytecode interpreter,
 * slower than ours, and pays its compile cost. 20 000 until 2026-12-07; once the interpreter's
 * switch became a jump table, a boot compiled at 20 000 cost more CPU than one compiled at 100 000
 * or never (1.12 s against 0.92–0.96, V8's optimising compiles) for the same wall time, while
 * the M-mode CPU bench gives up 4–7 % (552 → 511–529 M instr/s). See docs/RATIONALE.md "Why a
 * block tier of generated JS functions, and why only after 100 000 visits?".
 */
export const DEFAULT_BLOCK_THRESHOLD = 100_000
/** Visits of a page before the region tier compiles it. */
export const DEFAULT_REGION_THRESHOLD = 64
/** Instructions run on a page before the wasm tier compiles it (a WebAssembly module costs more to make than a JS function). */
export const DEFAULT_WASM_REGION_THRESHOLD = 8192
/** The wasm tier compiles a page's instructions run at least threshold >>> this times. */
const WASM_HOT_SHIFT = 7
/** Compiles of one page before it stays interpreted (self-modifying code). */
const MAX_REGION_COMPILES = 16
/** Entries into a region at instructions it lacks before it is compiled again. */
const REGION_MISSES = 16
/** A region holds the instructions of its page run at least threshold >> this times. */
const REGION_HOT_SHIFT = 4
/** Instructions between two interrupt checks at most (asynchronous sources only: see `irqRecheck`). */
const SLICE = 4096
/** Entries of each direct-mapped TLB (1024: a Linux boot ran ~4 % faster than with 256; generated code masks with the arrays' length). */
const TLB_SIZE = AREA_TLB_SIZE
/** Recent fetch pages kept behind the fetch page (`Hart.recentBase`). */
const RECENT_PAGES = 64
/** A poll (`Hart.idleYields`): a loop of at most this many instructions… */
const POLL_LOOP = 32
/** …that saw the same values at its branch this many times in a row. */
const POLL_REPEATS = 64
/** The kind of a memory access: 0 fetch, 1 load, 2 store (the index into the fault-cause tables). */
export type Access = 0 | 1 | 2
const FETCH: Access = 0
const LOAD: Access = 1
const STORE: Access = 2
/** The PMP permission each access kind needs. */
const PMP_NEED = [PMP_X, PMP_R, PMP_W] as const
const ACCESS_FAULT = [CAUSE.FETCH_ACCESS, CAUSE.LOAD_ACCESS, CAUSE.STORE_ACCESS] as const

export class Hart implements BlockHost {
  readonly hartId: number
  /** Integer registers (x0 is kept 0). */
  readonly x: BigInt64Array
  private readonly xu: BigUint64Array
  /**
   * The same registers as 32-bit halves (little-endian host: x[i] is xw[2i] low, xw[2i + 1]
   * high): addresses, branches, loads and stores use these with plain number arithmetic and
   * allocate no BigInt (each BigInt read from the 64-bit views is a heap allocation).
   */
  private readonly xw: Int32Array
  /** F and D: f0–f31, fcsr, and mstatus.FS (which `mstatus` itself never holds). */
  readonly fpu: Fpu
  /**
   * A number from the start (and `useDefineForClassFields: false`, tsconfig.base.json): a field
   * that first holds `undefined` is kept by V8 in its generic representation, where every store of
   * a pc beyond 2^30 allocated a HeapNumber and ran the write barrier (8 % of the interpreter's
   * time). A field that holds numbers only is stored in place.
   */
  pc = 0
  privilege: Privilege = 3
  /** Set when the hart sits in WFI with nothing pending. */
  waiting = false
  /**
   * Called before each instruction when set (trace mode; slows the hart; no compiled code runs).
   * `run()` looks at it once per interrupt slice: a hook set or cleared from a callback while
   * `run()` runs (a device, `onEcall`) takes effect at the next slice, within 4 096 instructions.
   */
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
  /**
   * Instructions the current `run()` slice has completed and not yet added to `instret` (set
   * before each interpreter-run cold instruction, which includes every CSR access; 0 outside
   * `run`): counter reads add it, so a guest sees them move at every instruction (issue #18).
   */
  private sliceDone = 0
  /** Instructions that raised an exception (they take a step of `instret`, the virtual clock, but do not retire: minstret leaves them out, privileged spec 3.3.1). */
  private excepted = 0
  /** mcountinhibit's CY (bit 0) and IR (bit 2); the other bits are hardwired 0 here (hpm counters read 0, TM does not exist). */
  private countInhibit = 0
  /** mcycle and minstret while inhibited: the value they hold still. */
  private cycleHeld = 0n
  private instretHeld = 0n

  private readonly bus: Bus
  private readonly clock: Clock
  private readonly view: DataView
  /** @internal BlockHost */
  readonly ramBase: number
  /** The decode cache's code-line map (`DecodeCache.lines`, by RAM offset / 64). */
  /** @internal BlockHost */
  get codeLines(): Uint8Array {
    return this.cache.lines
  }
  private readonly ramEnd: number
  private readonly cache: DecodeCache
  /** This hart's place in the bus's WebAssembly arena (undefined: none, so no WebAssembly tier). */
  private readonly arena: HartArena | undefined
  /** @internal BlockHost */
  reservation = NaN
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
  /** RAM shared with harts on other threads (`Bus.shared`): AMOs, SC and FENCE go through `Atomics`. */
  private readonly atomics: SharedRam | undefined
  private readonly breakpoints = new Set<number>()
  /**
   * The breakpoints as a list `run` scans (a debugger sets a few): comparing numbers keeps the
   * loop's pc unboxed, where `Set.has(pc)` made V8 box it on every instruction (RATIONALE "Why does
   * nothing in the interpreter's loop pass the pc to a call?").
   */
  private breakpointList: number[] = []
  private stopExit = false
  /**
   * Set with `stopExit` after an explicit CSR write, an xRET or a host change of mip: `run` ends
   * the interrupt slice there, since the interrupt conditions "must be evaluated immediately
   * following the execution of an xRET instruction or an explicit write to a CSR on which [they]
   * depend" (privileged spec 3.1.9); the slice's length then bounds only asynchronous sources.
   */
  private irqRecheck = false

  constructor(options: HartOptions) {
    // Registers and the data TLB live in the bus's WebAssembly arena when it has room (the
    // compiled WebAssembly reads them there: wasm-tier.ts), else in buffers of their own.
    const area = options.bus.arena?.allocHart()
    this.arena = area
    const buf = area?.buffer ?? new ArrayBuffer(HART_AREA)
    const at = area?.base ?? 0
    // (An arena's areas are fresh memory, zeroed, and never handed out twice.)
    this.x = new BigInt64Array(buf, at + AREA.regs, 32)
    this.xu = new BigUint64Array(buf, at + AREA.regs, 32)
    this.xw = new Int32Array(buf, at + AREA.regs, 64)
    this.fpu = new Fpu(this.x)
    this.dtlbLoadTagLo = new Int32Array(buf, at + AREA.loadTagLo, TLB_SIZE).fill(-1)
    this.dtlbLoadTagHi = new Int32Array(buf, at + AREA.loadTagHi, TLB_SIZE)
    this.dtlbLoadOff = new Float64Array(buf, at + AREA.loadOff, TLB_SIZE)
    this.dtlbStoreTagLo = new Int32Array(buf, at + AREA.storeTagLo, TLB_SIZE).fill(-1)
    this.dtlbStoreTagHi = new Int32Array(buf, at + AREA.storeTagHi, TLB_SIZE)
    this.dtlbStoreOff = new Float64Array(buf, at + AREA.storeOff, TLB_SIZE)
    this.hartId = options.hartId
    this.bus = options.bus
    this.clock = options.clock
    this.view = options.bus.view
    this.atomics = options.bus.shared !== undefined ? new SharedRam(options.bus.shared) : undefined
    this.ramBase = options.bus.ramBase
    this.ramEnd = options.bus.ramEnd
    const ramSize = this.ramEnd - this.ramBase
    this.cache = new DecodeCache(this.ramBase, ramSize, area === undefined ? undefined : new Uint8Array(area.buffer, area.lines, Math.ceil(ramSize / 64)))
    this.pc = options.resetPc ?? options.bus.ramBase
    this.tier = options.tier ?? 'block'
    this.wasmRegions = this.tier === 'wasm-region' && area !== undefined
    this.regionTier = this.tier === 'region' || this.tier === 'wasm-region' // without an arena, 'wasm-region' is the JS region tier
    this.blockThreshold = options.blockThreshold ?? (this.wasmRegions ? DEFAULT_WASM_REGION_THRESHOLD : this.regionTier ? DEFAULT_REGION_THRESHOLD : DEFAULT_BLOCK_THRESHOLD)
    this.hotShift = this.wasmRegions ? WASM_HOT_SHIFT : REGION_HOT_SHIFT
    this.wasmCtx = area === undefined ? undefined : wasmContext(area.buffer, area.base)
    this.wasmBlocks = area !== undefined && this.tier === 'block' && (options.wasmBlocks ?? true)
    this.sv57 = options.sv57 ?? false
    this.hypervisor = options.hypervisor ?? false
    this.walkPort = new Hart.WalkView(this)
    this.csrPort = new Hart.CsrView(this)
  }

  /** The private state the page walks reach (walk.ts): built once; getters for what changes. */
  private readonly walkPort: WalkHost

  /**
   * The page walks' view of the hart (walk.ts), one class for every hart: an object literal with
   * this many accessors stayed in V8's dictionary mode (slow property lookups on every TLB miss),
   * as the CSR port's did (see CsrView). What never changes is copied into fields.
   */
  private static readonly WalkView = class implements WalkHost {
    readonly bus: Bus
    readonly view: DataView
    readonly ramBase: number
    readonly pmp: Pmp
    readonly tlbTag: Float64Array
    readonly tlbPage: Float64Array
    readonly tlbFlags: Uint8Array
    readonly vtlbTag: Float64Array
    readonly vtlbPage: Float64Array
    readonly vtlbFlags: Uint16Array
    readonly vtlbGFlags: Uint8Array
    lastGFlags = 0
    constructor(private readonly h: Hart) {
      this.bus = h.bus
      this.view = h.view
      this.ramBase = h.ramBase
      this.pmp = h.pmp
      this.tlbTag = h.tlbTag
      this.tlbPage = h.tlbPage
      this.tlbFlags = h.tlbFlags
      this.vtlbTag = h.vtlbTag
      this.vtlbPage = h.vtlbPage
      this.vtlbFlags = h.vtlbFlags
      this.vtlbGFlags = h.vtlbGFlags
    }
    get satp() { return this.h.satp }
    get mstatus() { return this.h.mstatus }
    get menvcfg() { return this.h.menvcfg }
    get vsstatus() { return this.h.vsstatus }
    get vsatp() { return this.h.vsatp }
    get vsatpMode() { return this.h.vsatpMode }
    get hgatp() { return this.h.hgatp }
    get hgatpMode() { return this.h.hgatpMode }
    get henvcfg() { return this.h.henvcfg }
    get lastAddr() { return this.h.lastAddr }
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
    this.dropFetchPages()
    this.updateXmode()
  }

  private readonly blockThreshold: number
  private readonly tier: 'region' | 'block' | 'wasm-region'
  /** Pages compile to regions: the region tier, or the wasm tier's WebAssembly regions. */
  private readonly regionTier: boolean
  /** Regions compile to WebAssembly (`wasm-tier.ts` compileWasmRegion), not to JS. */
  private readonly wasmRegions: boolean
  /** A region compiles the instructions run at least `blockThreshold >>> hotShift` times. */
  private readonly hotShift: number
  /** Blocks compile to WebAssembly (see {@link HartOptions.wasmBlocks}). */
  private readonly wasmBlocks: boolean
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
    this.breakpointList = [...this.breakpoints]
  }

  removeBreakpoint(pc: number): void {
    this.breakpoints.delete(pc)
    this.breakpointList = [...this.breakpoints]
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
    this.irqRecheck = this.stopExit = true
    // WFI is left by `run()` when an enabled interrupt is pending, not here: a level that is
    // masked (a timer left in the past) must not wake the hart over and over.
  }

  /** Whether a software-writable pending bit is set (see {@link setSoftIrq}). */
  softIrq(bit: number): boolean {
    return ((this.mipSoft >> BigInt(bit)) & 1n) === 1n
  }

  private yieldRequested = false

  /**
   * When set, a hart that is only waiting ends `run()` early (reason `yield`): right after a WFI
   * that does not put it to sleep (an enabled interrupt is already pending but masked), and after
   * a loop of at most 32 instructions that found the same two values at its closing BEQ/BNE 64
   * times in a row with no register changed meanwhile (a spin on a flag another hart will write).
   * For a host that runs several harts in turn on
   * one thread: such a hart hands the thread to the others instead of spinning through its slice
   * (OpenSBI's secondary harts wait for an HSM start in a WFI loop with the waking IPI still
   * pending, and for the boot hart in a load-and-compare loop). Only the interleaving of the harts
   * changes, which is free anyway (WFI is a hint, privileged spec 3.3.3); results never do.
   */
  idleYields = false
  /** The last backward BEQ/BNE taken (its record), when, with which operands, and how often in a row (`notePoll`). */
  private pollAt: Decoded | undefined = undefined
  private pollExecuted = 0
  private pollA = 0
  private pollAh = 0
  private pollB = 0
  private pollBh = 0
  private pollRepeats = 0
  /** The registers at a poll's second round, compared with them at its last. */
  private readonly pollRegs = new Int32Array(64)

  /**
   * A backward BEQ/BNE was taken (`a`, `b`: its operands' indices in `xw`) after `executed`
   * instructions of this `run()`: the same branch again within {@link POLL_LOOP} instructions, with
   * the same operand values, counts as one more round of a poll; enough of them in a row yield.
   */
  private notePoll(d: Decoded, a: number, b: number, executed: number): void {
    const xw = this.xw
    const since = executed - this.pollExecuted
    if (d === this.pollAt && since > 0 && since <= POLL_LOOP && xw[a] === this.pollA && xw[a + 1] === this.pollAh && xw[b] === this.pollB && xw[b + 1] === this.pollBh) {
      const regs = this.pollRegs
      const repeats = ++this.pollRepeats
      if (repeats === 1) for (let i = 0; i < 64; i++) regs[i] = xw[i]!
      else if (repeats >= POLL_REPEATS) {
        // A poll changes no register: a scan that only compares equal bytes (memchr_inv over
        // zeroes) moved its pointer meanwhile, and goes on.
        this.pollRepeats = 0
        let same = true
        for (let i = 0; i < 64; i++) if (regs[i] !== xw[i]) same = false
        if (same) this.requestYield()
      }
    } else {
      this.pollAt = d
      this.pollRepeats = 0
      this.pollA = xw[a]!
      this.pollAh = xw[a + 1]!
      this.pollB = xw[b]!
      this.pollBh = xw[b + 1]!
    }
    this.pollExecuted = executed
  }

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
    this.irqRecheck = this.stopExit = true
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

  /**
   * mip & mie as a number: every interrupt bit lies below 16 (mie and mip are WARL over the
   * implemented interrupts), so the common case makes no BigInt. `run()` asks this every slice;
   * the BigInt form (`mip() & mie`) was a fifth of a boot's allocations. Equal to mip() & mie.
   */
  private pendingBits(): number {
    const enabled = Number(this.mie) | 0
    if (enabled === 0) return 0
    let p = Number(this.mipHw) | Number(this.mipSoft)
    // menvcfg.STCE and henvcfg.STCE are bit 63: a comparison, not a mask (no BigInt made).
    if (this.menvcfg >= MENVCFG.STCE || this.menvcfg < 0n) {
      p &= ~(1 << IRQ.STI)
      if (this.clock.mtime() >= this.stimecmp) p |= 1 << IRQ.STI
      if ((this.henvcfg >= MENVCFG.STCE || this.henvcfg < 0n) && BigInt.asUintN(64, this.clock.mtime() + this.htimedelta) >= this.vstimecmp) p |= 1 << IRQ.VSTI
    }
    return p & enabled
  }

  // ---- CSR access (csr.ts, csr-hyp.ts) ---------------------------------------------------

  /** Debugger access: no privilege checks, no traps. */
  getCsr(n: number): bigint {
    const v = csrRead(this.csrPort, n)
    return v === undefined ? 0n : v
  }

  setCsr(n: number, v: bigint): void {
    csrWrite(this.csrPort, n, BigInt.asUintN(64, v))
  }

  /**
   * Reads CSR `n` as a `csrr` executed now, at the hart's current privilege, would: undefined
   * where that instruction raises an illegal-instruction exception (privileged spec §2.1: bits
   * 9:8 of the address are the lowest privilege that may access it; a CSR that does not exist, a
   * counter its enable bits hide, an FP CSR while mstatus.FS is Off).
   */
  readCsrAsCode(n: number): bigint | undefined {
    return readCsrAsCode(this.csrPort, n)
  }

  /** Writes CSR `n` as a `csrw` executed now would; false where it raises an illegal-instruction exception (also: bits 11:10 = 0b11 mark a read-only CSR). */
  writeCsrAsCode(n: number, v: bigint): boolean {
    return writeCsrAsCode(this.csrPort, n, v)
  }

  /** The private state the CSR code reaches (csr.ts): built once; accessors for what changes. */
  private readonly csrPort: CsrPort

  /**
   * The class of {@link csrPort}: one class for every hart (the CSR code's property accesses stay
   * monomorphic), with its accessors on the prototype. Not an object literal: V8 leaves one with
   * this many accessors in dictionary mode (%HasFastProperties false), and 3 M rounds of setCsr +
   * three getCsr took 1017–1056 ms CPU through it against 255–273 ms through this class (244–249
   * ms with the CSR code still inside Hart; 2026-12-06, /tmp micro-benchmark).
   */
  private static readonly CsrView = class implements CsrPort {
    // What never changes is copied: a field load, no accessor call (CSR code often runs unoptimized).
    readonly hartId: number
    readonly hypervisor: boolean
    readonly sv57: boolean
    readonly x: BigInt64Array
    readonly fpu: Fpu
    readonly pmp: Pmp
    readonly clock: Clock
    constructor(private readonly h: Hart) {
      this.hartId = h.hartId
      this.hypervisor = h.hypervisor
      this.sv57 = h.sv57
      this.x = h.x
      this.fpu = h.fpu
      this.pmp = h.pmp
      this.clock = h.clock
    }
    get privilege() { return this.h.privilege }
    get virt() { return this.h.virt }
    get instret() { return this.h.instret }
    get sliceDone() { return this.h.sliceDone }
    get excepted() { return this.h.excepted }
    get countInhibit() { return this.h.countInhibit }
    set countInhibit(v) { this.h.countInhibit = v }
    get cycleOffset() { return this.h.cycleOffset }
    set cycleOffset(v) { this.h.cycleOffset = v }
    get instretOffset() { return this.h.instretOffset }
    set instretOffset(v) { this.h.instretOffset = v }
    get cycleHeld() { return this.h.cycleHeld }
    set cycleHeld(v) { this.h.cycleHeld = v }
    get instretHeld() { return this.h.instretHeld }
    set instretHeld(v) { this.h.instretHeld = v }
    get mstatus() { return this.h.mstatus }
    set mstatus(v) { this.h.mstatus = v }
    get medeleg() { return this.h.medeleg }
    set medeleg(v) { this.h.medeleg = v }
    get mideleg() { return this.h.mideleg }
    set mideleg(v) { this.h.mideleg = v }
    get mie() { return this.h.mie }
    set mie(v) { this.h.mie = v }
    get mipSoft() { return this.h.mipSoft }
    set mipSoft(v) { this.h.mipSoft = v }
    get mtvec() { return this.h.mtvec }
    set mtvec(v) { this.h.mtvec = v }
    get mcounteren() { return this.h.mcounteren }
    set mcounteren(v) { this.h.mcounteren = v }
    get menvcfg() { return this.h.menvcfg }
    set menvcfg(v) { this.h.menvcfg = v }
    get mscratch() { return this.h.mscratch }
    set mscratch(v) { this.h.mscratch = v }
    get mepc() { return this.h.mepc }
    set mepc(v) { this.h.mepc = v }
    get mcause() { return this.h.mcause }
    set mcause(v) { this.h.mcause = v }
    get mtval() { return this.h.mtval }
    set mtval(v) { this.h.mtval = v }
    get stvec() { return this.h.stvec }
    set stvec(v) { this.h.stvec = v }
    get scounteren() { return this.h.scounteren }
    set scounteren(v) { this.h.scounteren = v }
    get senvcfg() { return this.h.senvcfg }
    set senvcfg(v) { this.h.senvcfg = v }
    get sscratch() { return this.h.sscratch }
    set sscratch(v) { this.h.sscratch = v }
    get sepc() { return this.h.sepc }
    set sepc(v) { this.h.sepc = v }
    get scause() { return this.h.scause }
    set scause(v) { this.h.scause = v }
    get stval() { return this.h.stval }
    set stval(v) { this.h.stval = v }
    get stimecmp() { return this.h.stimecmp }
    set stimecmp(v) { this.h.stimecmp = v }
    get satp() { return this.h.satp }
    set satp(v) { this.h.satp = v }
    get satpMode() { return this.h.satpMode }
    set satpMode(v) { this.h.satpMode = v }
    get hstatus() { return this.h.hstatus }
    set hstatus(v) { this.h.hstatus = v }
    get hedeleg() { return this.h.hedeleg }
    set hedeleg(v) { this.h.hedeleg = v }
    get hideleg() { return this.h.hideleg }
    set hideleg(v) { this.h.hideleg = v }
    get hcounteren() { return this.h.hcounteren }
    set hcounteren(v) { this.h.hcounteren = v }
    get htimedelta() { return this.h.htimedelta }
    set htimedelta(v) { this.h.htimedelta = v }
    get henvcfg() { return this.h.henvcfg }
    set henvcfg(v) { this.h.henvcfg = v }
    get htval() { return this.h.htval }
    set htval(v) { this.h.htval = v }
    get htinst() { return this.h.htinst }
    set htinst(v) { this.h.htinst = v }
    get hgatp() { return this.h.hgatp }
    set hgatp(v) { this.h.hgatp = v }
    get hgatpMode() { return this.h.hgatpMode }
    set hgatpMode(v) { this.h.hgatpMode = v }
    get mtval2() { return this.h.mtval2 }
    set mtval2(v) { this.h.mtval2 = v }
    get mtinst() { return this.h.mtinst }
    set mtinst(v) { this.h.mtinst = v }
    get vsstatus() { return this.h.vsstatus }
    set vsstatus(v) { this.h.vsstatus = v }
    get vsFs() { return this.h.vsFs }
    set vsFs(v) { this.h.vsFs = v }
    get vstvec() { return this.h.vstvec }
    set vstvec(v) { this.h.vstvec = v }
    get vsscratch() { return this.h.vsscratch }
    set vsscratch(v) { this.h.vsscratch = v }
    get vsepc() { return this.h.vsepc }
    set vsepc(v) { this.h.vsepc = v }
    get vscause() { return this.h.vscause }
    set vscause(v) { this.h.vscause = v }
    get vstval() { return this.h.vstval }
    set vstval(v) { this.h.vstval = v }
    get vsatp() { return this.h.vsatp }
    set vsatp(v) { this.h.vsatp = v }
    get vsatpMode() { return this.h.vsatpMode }
    set vsatpMode(v) { this.h.vsatpMode = v }
    get vstimecmp() { return this.h.vstimecmp }
    set vstimecmp(v) { this.h.vstimecmp = v }
    recheckIrq(): void { this.h.irqRecheck = this.h.stopExit = true }
    mip(): bigint { return this.h.mip() }
    updateXmode(): void { this.h.updateXmode() }
    flushTlb(): void { this.h.flushTlb() }
    flushVTlb(): void { this.h.flushVTlb() }
  }


  // ---- memory --------------------------------------------------------------------------

  /** The physical address of the last `ramOffset()` that was not plain RAM. */
  private mmioPa = 0

  /**
   * Translates a data access; returns its offset in RAM when `[pa, pa + size)` is plain RAM,
   * else -1 with the physical address in `mmioPa` (for `loadMmio` / `storeMmio`).
   */
  /** @internal BlockHost */
  /** The address of the interpreter's last load or store (`dataOffset`), for its slow path. */
  private lastVa = 0

  /**
   * The interpreter's loads and stores: the RAM offset of `d`'s access (rs1 + imm), or −1 for the
   * slow path (`ramOffset`: MMIO, a page crossing), with the address left in `lastVa`. It takes
   * the decoded record and returns a small integer, so no double crosses a call: a kernel address
   * (0xffff_ffd8_…) is a double, and passing or returning it boxed a number on every access —
   * the interpreter's largest allocation. The direct window and a data TLB hit are inline here.
   */
  private dataOffset(d: Decoded, size: number, kind: Access): number {
    const r = d.rs1 << 1
    const hi = this.xw[r + 1]!
    const l = (this.xw[r]! >>> 0) + d.immN
    const va = hi < 0x1f_ffff && hi > -0x1f_ffff ? hi * 4294967296 + l : this.toAddr(this.x[d.rs1]! + d.imm)
    this.lastVa = va
    if (va >= this.directLo && va + size <= this.directHi) return va - this.ramBase
    // The data TLB, on the address's 32-bit halves (exact for any address; see dtlbLoadTagLo).
    const vl = l | 0
    const within = vl & (PAGE - 1)
    if (within <= PAGE - size) {
      const vp = vl >>> 12
      const i = vp & (TLB_SIZE - 1)
      const vh = (hi + (l > 0xffffffff ? 1 : l < 0 ? -1 : 0)) | 0
      if (kind === LOAD) {
        if (this.dtlbLoadTagLo[i] === (vp | this.dtlbCtx) && this.dtlbLoadTagHi[i] === vh) return this.dtlbLoadOff[i]! + within
      } else if (this.dtlbStoreTagLo[i] === (vp | this.dtlbCtx) && this.dtlbStoreTagHi[i] === vh) return this.dtlbStoreOff[i]! + within
    }
    return this.ramOffset(va, size, kind)
  }

  ramOffset(va: number, size: number, kind: Access): number {
    if (va >= this.directLo && va + size <= this.directHi) return va - this.ramBase
    // A misaligned access across a page boundary: the pages need not be adjacent in physical
    // memory, so it goes to the slow path (`mmioPa` NaN), which translates each page.
    if ((va & (PAGE - 1)) > PAGE - size) {
      this.mmioPa = NaN
      return -1
    }
    if (va !== va) return this.ramOffsetWide(size, kind)
    // The data TLB: with paging on, a hit is the page's RAM offset, no permission test.
    const vl = va | 0 // ToInt32: the low 32 bits of the integer va
    const vh = Math.floor(va / 4294967296) | 0
    const off = this.dtlbHit(vh, vl, kind)
    if (off >= 0) return off
    const addr = this.translate(va, kind)
    if (addr >= this.ramBase && addr + size <= this.ramEnd && (this.bus.shadowedPages.size === 0 || !this.bus.shadowedPages.has(Math.floor(addr / PAGE)))) {
      if (this.dctx === this.dctx) this.fillDtlb(vh, vl, addr, kind)
      return addr - this.ramBase
    }
    this.mmioPa = addr
    return -1
  }

  /**
   * `ramOffset` of an address beyond ±2^53 (`va` NaN, the exact one in `lastAddr`): only a
   * canonical Sv57 address translates there, and its signed page number (|vpn| ≤ 2^44) fits a
   * number exactly: the data TLB (tagged by the address's halves) serves it like any other, filled
   * from the walks' TLBs, which tag with that page number. Others translate (and fault) every time.
   */
  private ramOffsetWide(size: number, kind: Access): number {
    const u = this.lastAddr
    const off = Number(u & 0xfffn)
    // Across a page boundary: the slow path, which translates each page.
    if (off > PAGE - size) {
      this.mmioPa = NaN
      return -1
    }
    const vpn = Number(BigInt.asIntN(64, u) >> 12n)
    const small = vpn < 2 ** 44 && vpn >= -(2 ** 44)
    const vl = Number(BigInt.asIntN(32, u))
    const vh = Number(BigInt.asIntN(32, u >> 32n))
    const hit = this.dtlbHit(vh, vl, kind)
    if (hit >= 0) return hit
    const addr = this.translate(NaN, kind)
    if (addr >= this.ramBase && addr + size <= this.ramEnd && (this.bus.shadowedPages.size === 0 || !this.bus.shadowedPages.has(Math.floor(addr / PAGE)))) {
      if (small && this.dctx === this.dctx) this.fillDtlb(vh, vl, addr, kind)
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
   *
   * Tags are int32 pairs made from the virtual address's 32-bit halves, exact for any 64-bit
   * address, so generated code checks a hit with integer operations only: `TagLo` holds the
   * address's bits 12..31 in its bits 0..19 and `dtlbCtx` (the context in bits 20..24), `TagHi`
   * the address's bits 32..63; the index is the address's bits 12..21. An empty entry's `TagLo`
   * is −1 (bit 31: in no tag and in no lookup).
   */
  /** @internal BlockHost */
  readonly dtlbLoadTagLo: Int32Array
  /** @internal BlockHost */
  readonly dtlbLoadTagHi: Int32Array
  /** @internal BlockHost */
  readonly dtlbLoadOff: Float64Array
  /** @internal BlockHost */
  readonly dtlbStoreTagLo: Int32Array
  /** @internal BlockHost */
  readonly dtlbStoreTagHi: Int32Array
  /** @internal BlockHost */
  readonly dtlbStoreOff: Float64Array
  /**
   * The data context of the data TLB's entries: with paging on for S/U data, privilege | SUM << 1 |
   * MXR << 2; for a guest (V = 1), 16 | privilege | vsstatus.SUM << 1 | (vsstatus or mstatus).MXR
   * << 2 | mstatus.MXR << 3 (the G stage follows mstatus.MXR only); NaN otherwise (M-mode data,
   * Bare, HLV/HSV, MPRV with MPV: the direct window or the full path).
   */
  private dctx = NaN
  /** `dctx` << 20 as it stands in a tag, or 1 << 30 (matches no entry) while `dctx` is NaN. */
  /** @internal BlockHost */
  dtlbCtx = 1 << 30

  /** Empties the data TLB (both kinds). */
  private flushDtlb(): void {
    this.dtlbLoadTagLo.fill(-1)
    this.dtlbStoreTagLo.fill(-1)
    this.memoGeneration++
    this.updateMemoKey()
  }

  /**
   * The key of compiled blocks' page memos (`block.ts` access): a memo holds while the data TLB
   * entry or the direct window it came from holds, in the same data context. `memoGeneration`
   * counts data TLB flushes and direct-window changes; the key is it with the context (`dctx`, or
   * 32 while the direct window serves data), so a hart that goes back to a context (a U-mode
   * program after the kernel's interrupt) finds its memos still good when nothing was flushed.
   */
  /** @internal BlockHost */
  memoKey = 0
  private memoGeneration = 0

  private updateMemoKey(): void {
    this.memoKey = this.memoGeneration * 64 + (this.dctx === this.dctx ? this.dctx : 32)
  }

  /** The RAM offset of the address with halves `vh`:`vl` from a data TLB hit (the access within its page), or −1. */
  private dtlbHit(vh: number, vl: number, kind: Access): number {
    const vp = vl >>> 12
    const i = vp & (TLB_SIZE - 1)
    if (kind === LOAD) return this.dtlbLoadTagLo[i] === (vp | this.dtlbCtx) && this.dtlbLoadTagHi[i] === vh ? this.dtlbLoadOff[i]! + (vl & (PAGE - 1)) : -1
    return this.dtlbStoreTagLo[i] === (vp | this.dtlbCtx) && this.dtlbStoreTagHi[i] === vh ? this.dtlbStoreOff[i]! + (vl & (PAGE - 1)) : -1
  }

  /** Fills the data TLB's entry for the page of `vh`:`vl` (at physical `pa`) when every access of `kind` to the whole page may skip the checks. */
  private fillDtlb(vh: number, vl: number, pa: number, kind: Access): void {
    if (this.bus.shadowedPages.size !== 0) return
    const vp = vl >>> 12
    const i = vp & (TLB_SIZE - 1)
    const vpn = vh * 1048576 + vp // the signed page number the walks' TLBs are tagged with
    if (this.dctx >= 16) {
      // A guest (V = 1) access: the guest TLB's entry holds the final page and the flags of both
      // stages (PMP folded in: a page PMP does not open wholly has its permissions cleared there).
      if (this.vtlbTag[i] !== vpn) return
      const f = this.vtlbFlags[i]!
      const g = this.vtlbGFlags[i]!
      if (!allowedVs(f, kind, this.privilege, this.vsstatus, this.mstatus) || !allowedG(g, kind, this.mstatus)) return
      if (kind === STORE && !((f & VS_BARE || f & PTE_D) && g & PTE_D)) return
    } else {
      if (this.tlbTag[i] !== vpn) return
      const f = this.tlbFlags[i]!
      if (!this.allowed(f, kind, this.dataPrivilege()) || (kind === STORE && !(f & PTE_D))) return
    }
    const page = pa - (pa & (PAGE - 1))
    if (page < this.ramBase || page + PAGE > this.ramEnd) return
    if (kind === LOAD) {
      this.dtlbLoadTagLo[i] = vp | this.dtlbCtx
      this.dtlbLoadTagHi[i] = vh
      this.dtlbLoadOff[i] = page - this.ramBase
    } else {
      this.dtlbStoreTagLo[i] = vp | this.dtlbCtx
      this.dtlbStoreTagHi[i] = vh
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
  /** @internal BlockHost */
  stored(o: number, size: number, va: number): boolean {
    if (Math.abs(va - this.reservation) < 8) this.reservation = NaN
    return this.cache.written(o + this.ramBase, size)
  }

  /** JALR's target when rs1 lies beyond ±2^53 (the block tier's slow path). */
  /** @internal BlockHost */
  jalrTarget(d: Decoded): number {
    return Number(BigInt.asIntN(64, this.x[d.rs1]! + d.imm) & ~1n)
  }

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
    let pa1: number
    let pa2: number
    let first: number
    if (va === va) {
      first = PAGE - (va & (PAGE - 1))
      pa1 = this.translate(va, kind)
      pa2 = this.translate(va + first, kind)
    } else {
      // Beyond ±2^53 (exact in `lastAddr`): the second page's address goes through `lastAddr`
      // too (left there if it faults: the tval, as for a narrow address).
      const u = this.lastAddr
      first = PAGE - Number(u & 0xfffn)
      pa1 = this.translate(NaN, kind)
      this.lastAddr = BigInt.asUintN(64, u + BigInt(first))
      pa2 = this.translate(NaN, kind)
      this.lastAddr = u
    }
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

  /**
   * Shared RAM (parallel harts): the RAM offset of an aligned AMO or SC at `va`, translated and
   * checked as the plain path would (an AMO for a load, then both: a store), or -1 when the
   * address is not plain RAM (a device, beyond ±2^53): the plain path then serves it. Like a
   * store, it drops decoded code there and this hart's reservation on it.
   */
  private atomicOffset(va: number, size: number, amo: boolean): number {
    if (va !== va) return -1
    if (amo) this.translate(va, LOAD)
    const addr = this.translate(va, STORE)
    if (addr < this.ramBase || addr + size > this.ramEnd || this.bus.shadowedPages.has(Math.floor(addr / PAGE))) return -1
    this.stored(addr - this.ramBase, size, va)
    return addr - this.ramBase
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

  private fetch(): Decoded {
    const pc = this.pc
    // A pc beyond ±2^53 may have been rounded (a jump's target is computed as a BigInt, then kept
    // as a number): with Sv57 offered such a pc could be mapped, so stop rather than run from a
    // rounded address. Never on the fetch page (it lies inside ±2^53), so this is the only check.
    if ((pc > 0x1f_ffff_ffff_ffff || pc < -0x1f_ffff_ffff_ffff) && this.sv57) throw new WidePc(pc)
    const base = pc - (pc & (PAGE - 1))
    const r = (pc >>> 12) & (RECENT_PAGES - 1)
    let pa: number
    if (this.recentBase[r] === base && this.recentEpoch[r] === this.fetchEpoch && this.recentCtx[r] === (this.privilege | (this.virt ? 4 : 0))) {
      const slots = this.recentSlots[r]!
      const d = slots[(pc & (PAGE - 1)) >>> 1]
      if (d !== undefined) {
        this.fetchSlots = slots
        this.fetchBase = base
        this.fetchPage = this.recentPage[r]!
        return d
      }
      // An instruction not decoded yet, on a page this privilege fetched from since the last
      // flush: the same translation and permissions, no walk (most of a boot's translations).
      pa = this.ramBase + this.recentPage[r]! * PAGE + (pc & (PAGE - 1))
    } else pa = this.translate(pc, FETCH)
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
    this.fetchPage = this.cache.pageIndex(pa)
    this.fetchBase = pc - (pc & (PAGE - 1))
    const r = (pc >>> 12) & (RECENT_PAGES - 1)
    this.recentBase[r] = this.fetchBase
    this.recentCtx[r] = this.privilege | (this.virt ? 4 : 0)
    this.recentEpoch[r] = this.fetchEpoch
    this.recentPage[r] = this.fetchPage
    this.recentSlots[r] = slots
  }

  // ---- address translation (Sv39/Sv48/Sv57, privileged spec 4.3–4.5) -------------------

  private readonly tlbTag = new Float64Array(TLB_SIZE).fill(NaN)
  private readonly tlbPage = new Float64Array(TLB_SIZE)
  private readonly tlbFlags = new Uint8Array(TLB_SIZE)

  private flushTlb(): void {
    this.tlbTag.fill(NaN)
    this.flushDtlb()
    this.vtlbTag.fill(NaN)
    this.dropFetchPages()
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
    // The data TLB's guest entries came from the guest TLB (its host entries go too: one array).
    this.flushDtlb()
    this.dropFetchPages()
  }

  /** Recomputes `xmode` (and `direct`) after a change of V, privilege, mstatus or satp. */
  private updateXmode(): void {
    this.irqRecheck = this.stopExit = true // a privilege or V change (xRET, trap) changes which interrupts are enabled
    const s = this.mstatus
    const mprvV = this.privilege === 3 && (s & MSTATUS.MPRV) !== 0n && (s & MSTATUS.MPV) !== 0n && (s & MSTATUS.MPP) !== MSTATUS.MPP
    this.xmode = this.virt || mprvV || this.hvAccess !== 0 ? -1 : this.satpMode
    const dp = this.xmode > 0 ? this.dataPrivilege() : 3
    if (this.virt && this.hvAccess === 0) {
      const vs = this.vsstatus
      this.dctx = 16 | this.privilege | (vs & MSTATUS.SUM ? 2 : 0) | ((vs | s) & MSTATUS.MXR ? 4 : 0) | (s & MSTATUS.MXR ? 8 : 0)
    } else this.dctx = dp === 3 ? NaN : dp | (s & MSTATUS.SUM ? 2 : 0) | (s & MSTATUS.MXR ? 4 : 0)
    this.dtlbCtx = this.dctx === this.dctx ? this.dctx << 20 : 1 << 30
    this.updateDirect()
    this.updateMemoKey()
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
  /** @internal BlockHost */
  directLo = 0
  /** @internal BlockHost */
  directHi = 0

  private updateDirect(): void {
    const lo = this.directLo
    const hi = this.directHi
    this.setDirect()
    if (this.directLo !== lo || this.directHi !== hi) {
      this.memoGeneration++ // blocks' memos may hold pages of the old window
      this.updateMemoKey()
    }
  }

  private setDirect(): void {
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
  /** The decode cache's index of the fetch page (regions, visits). */
  private fetchPage = 0

  /**
   * Recent fetch pages, behind the fetch page (direct-mapped by the page number's low bits): a
   * jump to a page fetched from lately (a call and its return across pages, a trap handler and
   * back) takes that page's slots without a translation. An entry was a fetch page, so it held
   * then; it holds now for the same privilege and V (`recentCtx`) and while `fetchEpoch` has not
   * moved: everything that drops the fetch page for another reason than a privilege change (the
   * TLB, the decode cache, V, an ecall handled by the host, a new `run()`) moves it.
   */
  private readonly recentBase = new Float64Array(RECENT_PAGES).fill(NaN)
  private readonly recentCtx = new Int32Array(RECENT_PAGES)
  private readonly recentEpoch = new Int32Array(RECENT_PAGES).fill(-1)
  private readonly recentPage = new Int32Array(RECENT_PAGES)
  private readonly recentSlots: (Decoded | undefined)[][] = Array.from({ length: RECENT_PAGES }, () => [])
  private fetchEpoch = 0

  /** Drops the fetch page and every recent one. */
  private dropFetchPages(): void {
    this.fetchBase = NaN
    this.fetchEpoch = (this.fetchEpoch + 1) | 0
  }

  // ---- the region tier (region.ts) -----------------------------------------------------

  /** What the region tier compiled (pages, instructions, source characters, milliseconds in `compileRegion`) and ran (calls); `blocks`: blocks the block tier compiled; `wasm`: how many of those blocks and regions are WebAssembly; `executed`: instructions either tier ran in compiled code. */
  readonly jitStats = { regions: 0, instructions: 0, sourceChars: 0, ms: 0, executed: 0, calls: 0, blocks: 0, wasm: 0 }

  /** The block at `off` of the fetch page: WebAssembly (see {@link HartOptions.wasmBlocks}) or JS. */
  private compileBlockAt(off: number): { fn: BlockFn; length: number } | null {
    const arena = this.arena
    if (this.wasmBlocks && arena !== undefined && this.wasmCtx !== undefined) {
      const w = compileWasmBlock(this.fetchSlots, off, arena.memory, arena.base, this.wasmCtx)
      if (w !== null) {
        this.jitStats.wasm++
        return w
      }
    }
    return compileBlock(this.fetchSlots, off, this.dctx === this.dctx)
  }

  /** The hart's context for WebAssembly regions (`wasm-tier.ts`), when it has an area in the arena. */
  private readonly wasmCtx: WasmContext | undefined

  /** Compiles the fetch page (decode-cache page `p`) into a region, at most {@link MAX_REGION_COMPILES} times. */
  private compilePage(p: number): void {
    const cache = this.cache
    if (cache.compiles[p]! >= MAX_REGION_COMPILES) {
      cache.visits[p] = -0x7fff_ffff // a page rewritten again and again stays interpreted
      return
    }
    cache.compiles[p]!++
    const t0 = performance.now()
    const slots = this.fetchSlots
    const minHits = this.blockThreshold >>> this.hotShift
    const arena = this.arena
    const r = this.wasmRegions && arena !== undefined && this.wasmCtx !== undefined ? compileWasmRegion(slots, minHits, arena.memory, arena.base, this.wasmCtx) : compileRegion(slots, minHits)
    // Marks each instruction: 2 compiled in the region (enter it there), 1 hot but not compilable,
    // 0 too cold (once hot, entering there counts towards compiling again: regionMiss).
    for (const d of slots) if (d !== undefined) d.blockLength = d.hits >= minHits ? 1 : 0
    if (r !== null) for (const d of r.ds) d.blockLength = 2
    const st = this.jitStats
    st.ms += performance.now() - t0
    cache.visits[p] = 0
    if (r === null) return
    cache.regions[p] = r.fn
    st.regions++
    if (this.wasmRegions) st.wasm++
    st.instructions += r.length
    st.sourceChars += r.sourceLength
  }

  /**
   * The interpreter ran an instruction of page `p` that its region left out as too cold and that is
   * hot now: after {@link REGION_MISSES} such visits the region is dropped and compiled again.
   */
  private regionMiss(p: number): void {
    const cache = this.cache
    if (++cache.visits[p]! >= REGION_MISSES) {
      cache.regions[p] = undefined
      cache.visits[p] = this.blockThreshold - 1
    }
  }

  /** Forgets decoded instructions (and with them the fetch page). */
  private clearDecoded(): void {
    this.cache.clear()
    this.dropFetchPages()
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
    return walk(this.walkPort, va, kind, priv, mode)
  }

  private faultAddr(va: number): bigint {
    return Number.isNaN(va) ? this.lastAddr : BigInt.asUintN(64, BigInt(va))
  }

  private allowed(flags: number, kind: Access, priv: Privilege): boolean {
    return allowedHost(flags, kind, priv, this.mstatus)
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
        if (allowedVs(f, perm, priv, this.vsstatus, this.mstatus) && allowedG(g, perm, this.mstatus) && (kind !== STORE || ((f & VS_BARE || f & PTE_D) && g & PTE_D))) return this.vtlbPage[i]! * PAGE + (va - vpn * PAGE)
      }
    }
    return walkV(this.walkPort, va, kind, perm, priv)
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
    return walk(this.walkPort, va, kind, priv, mode)
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
    const bits = this.pendingBits()
    if (bits === 0) return -1
    const pending = BigInt(bits)
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
    return this.pendingBits() !== 0
  }

  // ---- the interpreter -----------------------------------------------------------------

  /**
   * Runs up to `budget` instructions. Returns why it stopped: the budget, a WFI with nothing
   * to wake it, a breakpoint, or an exit requested on the bus (e.g. a poweroff or HTIF tohost).
   */
  run(budget: number): RunResult {
    warmUp(newHart) // once per thread, before this loop is first optimised (warm-up.ts)
    const x = this.x
    const xu = this.xu
    const xw = this.xw
    const view = this.view
    let executed = 0
    // Whether the instruction about to run was reached other than by falling through from the one
    // before (a jump, a taken branch, a trap, a cold instruction, a block's exit, a new slice):
    // only there does the block tier look for a block and count visits, so straight-line code the
    // interpreter runs pays neither (a block starts at such a point, and its exit makes another).
    let entry = true
    this.sliceDone = 0
    // The host may have changed the privilege or V since: the fetch page is looked up again (the
    // recent pages are tagged by both, and everything else they depend on drops them when it
    // changes: satp, PMP, the TLB, the decode cache).
    this.fetchBase = NaN
    this.updateXmode()
    if (this.bus.shadowedPages.size !== 0) {
      // A device may have been mapped over RAM since the data TLB's and the fetch pages' entries were filled.
      this.flushDtlb()
      this.dropFetchPages()
    }
    if (this.waiting) {
      if (!this.wakeable()) return { reason: 'wfi', executed: 0 }
      this.waiting = false
    }
    while (executed < budget) {
      // Interrupts are checked once per slice of up to SLICE instructions, and after anything that
      // may make one pending or enabled (irqRecheck).
      const irq = this.pendingInterrupt()
      if (irq >= 0) this.trap(irq, 0n, true)
      const limit = Math.min(budget, executed + SLICE)
      // Looked at once per block: a breakpoint set from a callback inside the block counts from the next.
      const breakpoints = this.breakpointList.length > 0 ? this.breakpointList : undefined
      // Likewise the trace hook and whether compiled code may run (not while a debugger watches).
      const trace = this.onTrace
      const compiled = breakpoints === undefined && trace === undefined
      const regionTier = this.regionTier
      entry = true
      try {
        while (executed < limit) {
          const pc = this.pc
          if (breakpoints !== undefined && executed > 0 && breakpoints.includes(pc)) {
            this.instret += BigInt(executed)
            this.sliceDone = 0
            return { reason: 'breakpoint', executed }
          }
          const off = pc - this.fetchBase
          let d = off >= 0 && off < PAGE ? this.fetchSlots[off >>> 1] : undefined
          if (d !== undefined) {
            // On the fetch page (so the whole page is executable): the compiled tier, unless a
            // debugger is watching (breakpoints, trace).
            if (regionTier) {
              if (compiled) {
                const p = this.fetchPage
                const region = this.cache.regions[p]
                if (region !== undefined) {
                  // Entered only where it compiled this instruction (blockLength 2, see compilePage).
                  if (d.blockLength === 2) {
                    const n = region(this, xw, view, this.fetchBase, limit - executed)
                    if (n > 0) {
                      executed += n
                      this.jitStats.executed += n
                      this.jitStats.calls++
                      continue
                    }
                  } else if (d.blockLength === 0 && d.hits >= this.blockThreshold >>> this.hotShift) this.regionMiss(p)
                } else if (++this.cache.visits[p]! >= this.blockThreshold) this.compilePage(p)
                d.hits++
              }
            } else if (entry && compiled && d.block !== null) {
              const block = d.block
              if (block === undefined) {
                if (++d.hits >= this.blockThreshold) {
                  const b = this.compileBlockAt(off)
                  if (b !== null) this.jitStats.blocks++
                  d.block = b === null ? null : b.fn
                  d.blockLength = b === null ? 0 : b.length
                }
              } else if (executed + d.blockLength <= limit) {
                const n = block(this, xw, view, limit - executed)
                if (n > 0) {
                  executed += n
                  this.jitStats.executed += n
                  // Chaining: the next compiled block on the fetch page runs at once while the
                  // interrupt slice (`limit`) holds it whole; anything else goes round the loop.
                  for (;;) {
                    const o = this.pc - this.fetchBase
                    const nd = o >= 0 && o < PAGE ? this.fetchSlots[o >>> 1] : undefined
                    if (nd === undefined) break
                    const nb = nd.block
                    if (nb === undefined || nb === null || executed + nd.blockLength > limit) break
                    const m = nb(this, xw, view, limit - executed)
                    if (m <= 0) break
                    executed += m
                    this.jitStats.executed += m
                  }
                  entry = true
                  continue
                }
              }
            }
          } else d = this.fetch()
          entry = false
          if (trace !== undefined) trace(pc, d)
          let next = pc + d.len
          const rd = d.rd
          switch (d.op) {
            case Op.LUI:
              setWord(xw, rd << 1, d.immN)
              break
            case Op.AUIPC:
              setNumber(xw, rd << 1, pc + d.immN)
              break
            case Op.JAL: {
              // The link written inline (setNumber's body): a call taking `next` would make V8 box
              // it on every instruction whenever it does not inline that call.
              const lo = next | 0
              xw[rd << 1] = lo
              xw[(rd << 1) + 1] = (next - (lo >>> 0)) / 4294967296
              next = pc + d.immN
              entry = true
              break
            }
            case Op.JALR: {
              // The target from the halves (one rounding, as Number(BigInt) would round, when it
              // lies beyond ±2^53: the fetch there reports it); bit 0 cleared (spec 2.5).
              const a = d.rs1 << 1
              const l = (xw[a]! >>> 0) + (d.immN >>> 0)
              const t = ((xw[a + 1]! + (d.immN >> 31) + (l >= 4294967296 ? 1 : 0)) | 0) * 4294967296 + ((l & ~1) >>> 0)
              const lo = next | 0 // the link, inline (see JAL)
              xw[rd << 1] = lo
              xw[(rd << 1) + 1] = (next - (lo >>> 0)) / 4294967296
              next = t
              entry = true
              break
            }
            case Op.BEQ: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a] === xw[b] && xw[a + 1] === xw[b + 1]) {
                next = pc + d.immN
                entry = true
                if (d.immN < 0 && this.idleYields) this.notePoll(d, a, b, executed)
              }
              break
            }
            case Op.BNE: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a] !== xw[b] || xw[a + 1] !== xw[b + 1]) {
                next = pc + d.immN
                entry = true
                if (d.immN < 0 && this.idleYields) this.notePoll(d, a, b, executed)
              }
              break
            }
            case Op.BLT: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! < xw[b + 1]! || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 < xw[b]! >>> 0)) {
                next = pc + d.immN
                entry = true
              }
              break
            }
            case Op.BGE: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! > xw[b + 1]! || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 >= xw[b]! >>> 0)) {
                next = pc + d.immN
                entry = true
              }
              break
            }
            case Op.BLTU: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! >>> 0 < xw[b + 1]! >>> 0 || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 < xw[b]! >>> 0)) {
                next = pc + d.immN
                entry = true
              }
              break
            }
            case Op.BGEU: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              if (xw[a + 1]! >>> 0 > xw[b + 1]! >>> 0 || (xw[a + 1] === xw[b + 1] && xw[a]! >>> 0 >= xw[b]! >>> 0)) {
                next = pc + d.immN
                entry = true
              }
              break
            }
            // Loads and stores: the direct window and the data TLB inline (what `dataOffset` tries
            // first, without its call); a miss, MMIO, a page crossing or |va| ≥ 2^53 takes `dataOffset`.
            case Op.LB:
            case Op.LH:
            case Op.LW:
            case Op.LD:
            case Op.LBU:
            case Op.LHU:
            case Op.LWU:
            case Op.SB:
            case Op.SH:
            case Op.SW:
            case Op.SD: {
              const op = d.op
              const access = ACCESS_BYTES[op]!
              const store = access > STORE_ACCESS
              const size = access & 15
              const r = d.rs1 << 1
              const hi = xw[r + 1]!
              const l = (xw[r]! >>> 0) + d.immN
              let o = -1
              if (hi < 0x1f_ffff && hi > -0x1f_ffff) {
                const va = hi * 4294967296 + l // exact: |va| < 2^53
                if (va >= this.directLo && va + size <= this.directHi) o = va - this.ramBase
                else {
                  const vl = l | 0
                  const within = vl & (PAGE - 1)
                  const vp = vl >>> 12
                  const i = vp & (TLB_SIZE - 1)
                  const vh = (hi + (l > 0xffffffff ? 1 : l < 0 ? -1 : 0)) | 0
                  if (within <= PAGE - size) {
                    if (store) {
                      if (this.dtlbStoreTagLo[i] === (vp | this.dtlbCtx) && this.dtlbStoreTagHi[i] === vh) o = this.dtlbStoreOff[i]! + within
                    } else if (this.dtlbLoadTagLo[i] === (vp | this.dtlbCtx) && this.dtlbLoadTagHi[i] === vh) o = this.dtlbLoadOff[i]! + within
                  }
                }
                this.lastVa = va // for a store's reservation test (`dataOffset` sets it on its path)
              }
              if (o < 0) o = this.dataOffset(d, size, store ? STORE : LOAD)
              if (store) {
                const s = d.rs2 << 1
                if (o < 0) {
                  this.storeMmio(this.lastVa, size as 1 | 2 | 4 | 8, x[d.rs2]!)
                  break
                }
                if (size === 8) {
                  view.setInt32(o, xw[s]!, true)
                  view.setInt32(o + 4, xw[s + 1]!, true)
                } else if (size === 4) view.setInt32(o, xw[s]!, true)
                else if (size === 2) view.setInt16(o, xw[s]!, true)
                else view.setInt8(o, xw[s]!)
                // What `stored` does: an LR reservation the store reached is gone; decoded code in the
                // lines it wrote is dropped (a store to a line without code reads one byte).
                if (Math.abs(this.lastVa - this.reservation) < 8) this.reservation = NaN
                const lines = this.cache.lines
                if (lines[o >>> 6] !== 0 || lines[(o + size - 1) >>> 6] !== 0) this.cache.written(o + this.ramBase, size)
                break
              }
              if (o < 0) {
                x[rd] = this.loadMmio(this.lastVa, size as 1 | 2 | 4 | 8, op !== Op.LBU && op !== Op.LHU && op !== Op.LWU)
                break
              }
              const rr = rd << 1
              switch (op) {
                case Op.LB: {
                  const v = view.getInt8(o)
                  xw[rr] = v
                  xw[rr + 1] = v >> 31
                  break
                }
                case Op.LH: {
                  const v = view.getInt16(o, true)
                  xw[rr] = v
                  xw[rr + 1] = v >> 31
                  break
                }
                case Op.LW: {
                  const v = view.getInt32(o, true)
                  xw[rr] = v
                  xw[rr + 1] = v >> 31
                  break
                }
                case Op.LD:
                  xw[rr] = view.getInt32(o, true)
                  xw[rr + 1] = view.getInt32(o + 4, true)
                  break
                case Op.LBU:
                  xw[rr] = view.getUint8(o)
                  xw[rr + 1] = 0
                  break
                case Op.LHU:
                  xw[rr] = view.getUint16(o, true)
                  xw[rr + 1] = 0
                  break
                default: // LWU
                  xw[rr] = view.getInt32(o, true)
                  xw[rr + 1] = 0
              }
              break
            }
            // The integer operations work on the registers' 32-bit halves (halves.ts): no BigInt.
            case Op.ADDI:
              add64(xw, rd << 1, d.rs1 << 1, d.immN, d.immN >> 31)
              break
            case Op.SLTI:
              setWord(xw, rd << 1, lt64(xw, d.rs1 << 1, d.immN, d.immN >> 31) ? 1 : 0)
              break
            case Op.SLTIU:
              setWord(xw, rd << 1, ltu64(xw, d.rs1 << 1, d.immN, d.immN >> 31) ? 1 : 0)
              break
            case Op.XORI: {
              const a = d.rs1 << 1
              const r = rd << 1
              xw[r + 1] = xw[a + 1]! ^ (d.immN >> 31)
              xw[r] = xw[a]! ^ d.immN
              break
            }
            case Op.ORI: {
              const a = d.rs1 << 1
              const r = rd << 1
              xw[r + 1] = xw[a + 1]! | (d.immN >> 31)
              xw[r] = xw[a]! | d.immN
              break
            }
            case Op.ANDI: {
              const a = d.rs1 << 1
              const r = rd << 1
              xw[r + 1] = xw[a + 1]! & (d.immN >> 31)
              xw[r] = xw[a]! & d.immN
              break
            }
            case Op.SLLI:
              sll64(xw, rd << 1, d.rs1 << 1, d.immN)
              break
            case Op.SRLI:
              srl64(xw, rd << 1, d.rs1 << 1, d.immN)
              break
            case Op.SRAI:
              sra64(xw, rd << 1, d.rs1 << 1, d.immN)
              break
            case Op.ADD: {
              const b = d.rs2 << 1
              add64(xw, rd << 1, d.rs1 << 1, xw[b]!, xw[b + 1]!)
              break
            }
            case Op.SUB:
              sub64(xw, rd << 1, d.rs1 << 1, d.rs2 << 1)
              break
            case Op.SLL:
              sll64(xw, rd << 1, d.rs1 << 1, xw[d.rs2 << 1]! & 63)
              break
            case Op.SLT: {
              const b = d.rs2 << 1
              setWord(xw, rd << 1, lt64(xw, d.rs1 << 1, xw[b]!, xw[b + 1]!) ? 1 : 0)
              break
            }
            case Op.SLTU: {
              const b = d.rs2 << 1
              setWord(xw, rd << 1, ltu64(xw, d.rs1 << 1, xw[b]!, xw[b + 1]!) ? 1 : 0)
              break
            }
            case Op.XOR: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              const r = rd << 1
              xw[r + 1] = xw[a + 1]! ^ xw[b + 1]!
              xw[r] = xw[a]! ^ xw[b]!
              break
            }
            case Op.SRL:
              srl64(xw, rd << 1, d.rs1 << 1, xw[d.rs2 << 1]! & 63)
              break
            case Op.SRA:
              sra64(xw, rd << 1, d.rs1 << 1, xw[d.rs2 << 1]! & 63)
              break
            case Op.OR: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              const r = rd << 1
              xw[r + 1] = xw[a + 1]! | xw[b + 1]!
              xw[r] = xw[a]! | xw[b]!
              break
            }
            case Op.AND: {
              const a = d.rs1 << 1
              const b = d.rs2 << 1
              const r = rd << 1
              xw[r + 1] = xw[a + 1]! & xw[b + 1]!
              xw[r] = xw[a]! & xw[b]!
              break
            }
            case Op.ADDIW:
              setWord(xw, rd << 1, (xw[d.rs1 << 1]! + d.immN) | 0)
              break
            case Op.SLLIW:
              setWord(xw, rd << 1, xw[d.rs1 << 1]! << d.immN)
              break
            case Op.SRLIW:
              setWord(xw, rd << 1, (xw[d.rs1 << 1]! >>> d.immN) | 0)
              break
            case Op.SRAIW:
              setWord(xw, rd << 1, xw[d.rs1 << 1]! >> d.immN)
              break
            case Op.ADDW:
              setWord(xw, rd << 1, (xw[d.rs1 << 1]! + xw[d.rs2 << 1]!) | 0)
              break
            case Op.SUBW:
              setWord(xw, rd << 1, (xw[d.rs1 << 1]! - xw[d.rs2 << 1]!) | 0)
              break
            case Op.SLLW:
              setWord(xw, rd << 1, xw[d.rs1 << 1]! << (xw[d.rs2 << 1]! & 31))
              break
            case Op.SRLW:
              setWord(xw, rd << 1, (xw[d.rs1 << 1]! >>> (xw[d.rs2 << 1]! & 31)) | 0)
              break
            case Op.SRAW:
              setWord(xw, rd << 1, xw[d.rs1 << 1]! >> (xw[d.rs2 << 1]! & 31))
              break
            case Op.MUL:
              mul64(xw, rd << 1, d.rs1 << 1, d.rs2 << 1)
              break
            case Op.MULW:
              setWord(xw, rd << 1, Math.imul(xw[d.rs1 << 1]!, xw[d.rs2 << 1]!))
              break
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
                this.sliceDone = 0
                return { reason: 'wfi', executed }
              }
              if (this.idleYields) {
                this.instret += BigInt(executed)
                this.sliceDone = 0
                return { reason: 'yield', executed }
              }
              continue
            default:
              // The rest (M's division, Zb*, system, CSRs, atomics, F/D, H) lives in execCold: a deopt
              // there for a path met late (boot code) recompiles that method, not this loop.
              this.sliceDone = executed // what counter reads add to `instret` (exact mid-slice)
              next = +this.execCold(d)
              entry = true
          }
          xw[0] = 0
          xw[1] = 0
          this.pc = next
          executed++
          if (this.stopExit) {
            this.stopExit = false
            if (this.irqRecheck) {
              this.irqRecheck = false
              // Only a re-check was asked: back to the interrupt check (no exit, no yield).
              if (!this.yieldRequested && this.bus.exitCode === undefined) break
            }
            this.instret += BigInt(executed)
            this.sliceDone = 0
            if (this.yieldRequested) {
              this.yieldRequested = false
              if (this.bus.exitCode === undefined) return { reason: 'yield', executed }
            }
            return { reason: 'exit', executed, code: this.bus.exitCode ?? 0 }
          }
        }
      } catch (e) {
        if (!(e instanceof Trap)) {
          this.instret += BigInt(executed)
          this.sliceDone = 0
          if (!(e instanceof WidePc)) throw e
          const message = `pc ≈ ${e.pc < 0 ? '-' : ''}0x${Math.abs(e.pc).toString(16)} lies beyond ±2^53: instruction fetch there is not supported (the pc is not exact)`
          return { reason: 'error', executed, message }
        }
        x[0] = 0n
        entry = true
        this.trap(e.cause, e.tval, false, e)
        executed++ // a trapping instruction still takes a step of the budget (never loops forever)
        this.excepted++ // but does not retire
      }
    }
    this.instret += BigInt(executed)
    this.sliceDone = 0
    return { reason: 'budget', executed }
  }

  /**
   * The interpreter's less frequent operations (see `run`): executes `d` and returns the next pc
   * (`next` unless it jumps). Traps are thrown as in `run`.
   */
  private execCold(d: Decoded): number {
    // The next pc from the hart's pc (still this instruction's): the loop passes no number here,
    // so V8 keeps its own `next` unboxed (RATIONALE "Why does nothing in the interpreter's loop
    // pass the pc to a call?").
    let next = this.pc + d.len
    const x = this.x
    const xu = this.xu
    const rd = d.rd
    switch (d.op) {
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
        if (this.atomics !== undefined) this.atomics.fence()
        break
      case Op.FENCE_I:
        this.clearDecoded()
        break
      case Op.ECALL:
        if (this.privilege === 1 && !this.virt && this.onEcall && this.onEcall(this)) {
          this.dropFetchPages() // the handler may have changed anything
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
        if (this.atomics !== undefined && a === a && this.reservation === a) {
          // Shared RAM: the SC is a compare-exchange against what the LR read (SharedRam.sc).
          const o = this.atomicOffset(a, d.op === Op.SC_W ? 4 : 8, false)
          if (o >= 0) {
            x[rd] = this.atomics.sc(o, d.op === Op.SC_W, this.reservedValue, x[d.rs2]!) ? 0n : 1n
            this.reservation = NaN
            break
          }
        }
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
        if (this.atomics !== undefined) {
          // Shared RAM: one atomic read-modify-write (SharedRam.amo), not a load then a store.
          const o = this.atomicOffset(a, size, true)
          if (o >= 0) {
            x[rd] = this.atomics.amo(o, w, d.immN, x[d.rs2]!)
            break
          }
        }
        const old = this.load(a, size, true)
        const src = w ? BigInt.asIntN(32, x[d.rs2]!) : x[d.rs2]!
        const bits = w ? 32 : 64
        let r: bigint
        switch (d.immN) {
          case 0x01: r = src; break // amoswap
          case 0x00: r = old + src; break // amoadd
          case 0x04: r = old ^ src; break // amoxor
          case 0x0c: r = old & src; break // amoand
          case 0x08: r = old | src; break // amoor
          case 0x10: r = old < src ? old : src; break // amomin
          case 0x14: r = old > src ? old : src; break // amomax
          case 0x18: r = BigInt.asUintN(bits, old) < BigInt.asUintN(bits, src) ? old : src; break // amominu
          default: r = BigInt.asUintN(bits, old) > BigInt.asUintN(bits, src) ? old : src // amomaxu
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
    return next
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

  /** A Zicsr instruction (csr.ts). */
  private csrOp(d: Decoded): void {
    csrOp(this.csrPort, d)
  }

  // ---- snapshot (snapshot.ts) ------------------------------------------------------------

  snapshot(): HartState {
    return takeSnapshot(this.snapshotPort())
  }

  restore(s: HartState): void {
    restoreSnapshot(this.snapshotPort(), s)
  }

  /** The private state snapshot.ts reaches (a view built per call: snapshots are rare). */
  private snapshotPort(): SnapshotPort {
    const h = this
    return {
      x: h.x,
      fpu: h.fpu,
      pmp: h.pmp,
      hypervisor: h.hypervisor,
      get pc() { return h.pc },
      set pc(v) { h.pc = v },
      get privilege() { return h.privilege },
      set privilege(v) { h.privilege = v },
      get virt() { return h.virt },
      set virt(v) { h.virt = v },
      get instret() { return h.instret },
      set instret(v) { h.instret = v },
      get waiting() { return h.waiting },
      set waiting(v) { h.waiting = v },
      get mipSoft() { return h.mipSoft },
      set mipSoft(v) { h.mipSoft = v },
      get mipHw() { return h.mipHw },
      set mipHw(v) { h.mipHw = v },
      get reservation() { return h.reservation },
      set reservation(v) { h.reservation = v },
      csrRead: (n) => csrRead(h.csrPort, n),
      csrWrite: (n, v) => csrWrite(h.csrPort, n, v),
      resetCounters: () => {
        h.excepted = 0
        h.countInhibit = 0
        h.cycleOffset = h.instretOffset = 0n
      },
      restored: () => {
        h.updateXmode()
        h.reservationWide = -1n
        h.clearDecoded()
        h.flushTlb()
      },
    }
  }
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

/** Builds the warm-up's scratch hart (one function, not a closure made on every `run`). */
function newHart(o: HartOptions): Hart {
  return new Hart(o)
}
