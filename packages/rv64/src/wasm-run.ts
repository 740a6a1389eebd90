/**
 * The WebAssembly tier (issue #18): a trace of decoded instructions inside one 4 KiB page becomes
 * one WebAssembly function over the bus's arena (`wasm-arena.ts`: RAM at address 0, the hart's
 * registers and data TLB in its area). Registers are i64 locals (loaded at entry, the written
 * ones stored at the one way out), so 64-bit arithmetic is one Wasm operation, and V8 compiles a
 * function in ~0.1 µs an instruction (its baseline compiler; hot functions are optimised in the
 * background), where its optimising compile of a long JS block cost milliseconds (RATIONALE
 * "Why is WebAssembly the next compiled tier?").
 *
 * It keeps the block tier's contract (`block.ts`, {@link BlockFn}): it starts at `h.pc`, returns
 * how many instructions it completed (at most the budget, which the hart lets it enter only when
 * it holds the first segment) and leaves `h.pc` at the next one; 0 means it ran nothing (it found
 * itself stale, or its first instruction needs the interpreter). It never traps: a load or store
 * it cannot serve from the direct window or a data-TLB hit, a store into a line holding decoded
 * code or while an LR reservation is held, leaves the function before that instruction, and the
 * interpreter runs it (faulting exactly, filling the TLB, dropping the code it overwrites). A trace
 * runs on past conditional branches (a taken one leaves the function, a branch or jump back to
 * the start goes round inside it while the budget holds the next pass) and follows JAL within
 * the page; it ends before anything it does not compile (JALR, CSR, FP, AMO, system).
 */
import { Op, type Decoded } from './decode.js'
import { lineCheckPairs, type BlockFn } from './block.js'
import type { BlockHost } from './block-host.js'
import { AREA, AREA_TLB_SIZE, wasmApi, type WasmMemory, type WasmTable } from './wasm-arena.js'

const PAGE = 4096
/** The most instructions a trace holds. */
const MAX_RUN = 1024
/**
 * A budget check every this many straight instructions: the hart enters a trace only when its
 * budget holds the first segment, and the interrupt slice is 4096 instructions, so segments stay short.
 */
const SEGMENT = 64

/** What a compile gives the hart: the function, its first segment's length, its instructions. */
export interface WasmRun {
  fn: BlockFn
  length: number
  instructions: number
}

// ---- the binary format (WebAssembly core spec §5) ---------------------------------------------
const I32 = 0x7f
const I64 = 0x7e
const F64 = 0x7c
const VOID = 0x40

function uleb(out: number[], n: number): void {
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
}

function sleb(out: number[], v: bigint): void {
  for (;;) {
    const b = Number(v & 0x7fn)
    v >>= 7n
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b)
      return
    }
    out.push(b | 0x80)
  }
}

function section(out: number[], id: number, body: number[]): void {
  out.push(id)
  uleb(out, body.length)
  for (const b of body) out.push(b)
}

function name(out: number[], s: string): void {
  uleb(out, s.length)
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i))
}

/** A trace function's parameters: its hart's area in the arena, and the budget. */
const PARAMS = [I32, I32]
const P_BASE = 0
const P_BUDGET = 1
/**
 * A trace's locals: the effective address (i64), x1–x31 (i64, `X + r − 1`: the registers it names
 * are loaded from the hart's area at entry and the ones it writes stored back at its one way out),
 * the count of completed instructions, the result and an access's RAM offset (i32). Measured on the
 * CPU benchmark guest, with every trace in WebAssembly: 531 M instr/s with the registers in locals
 * (V8's optimising compiler keeps them in machine registers), 290 with each access an i64 load or
 * store of the hart's area.
 */
const L_EA = 2
const X = 3
const L_N = X + 31
const L_RET = L_N + 1
const L_O = L_N + 2
const I64_LOCALS = 1 + 31
const I32_LOCALS = 3

/** One function's code and its control depth (for `br` targets: `out` is depth 1, the loop depth 2). */
class Code {
  readonly b: number[] = []
  depth = 0

  op(...bytes: number[]): this {
    for (const x of bytes) this.b.push(x)
    return this
  }
  get(l: number): this {
    this.b.push(0x20)
    uleb(this.b, l)
    return this
  }
  set(l: number): this {
    this.b.push(0x21)
    uleb(this.b, l)
    return this
  }
  tee(l: number): this {
    this.b.push(0x22)
    uleb(this.b, l)
    return this
  }
  i32(v: number): this {
    this.b.push(0x41)
    sleb(this.b, BigInt(v | 0))
    return this
  }
  i64(v: number | bigint): this {
    this.b.push(0x42)
    sleb(this.b, BigInt.asIntN(64, BigInt(v)))
    return this
  }
  /** A load or store (alignment hint 0: RISC-V's misaligned RAM accesses are served here too) at `offset`. */
  mem(opcode: number, offset = 0): this {
    this.b.push(opcode, 0)
    uleb(this.b, offset)
    return this
  }
  open(kind: number, type: number = VOID): this {
    this.b.push(kind, type)
    this.depth++
    return this
  }
  else(): this {
    this.b.push(0x05)
    return this
  }
  end(): this {
    this.b.push(0x0b)
    this.depth--
    return this
  }
  /** A branch to the construct opened at `toDepth`. */
  br(toDepth: number): this {
    this.b.push(0x0c)
    uleb(this.b, this.depth - toDepth)
    return this
  }
  brIf(toDepth: number): this {
    this.b.push(0x0d)
    uleb(this.b, this.depth - toDepth)
    return this
  }
}

const BLOCK = 0x02
const LOOP = 0x03
const IF = 0x04
const OUT = 1
const TOP = 2
const RETURN = 0x0f
const CALL = 0x10
/** The module's functions: the two address helpers (see {@link addressHelper}), then the traces. */
const F_LOAD_ADDR = 0
const F_STORE_ADDR = 1
const HELPERS = 2

// Opcodes (WebAssembly core spec §5.4).
const I32_LOAD = 0x28
const I64_LOAD = 0x29
const F64_LOAD = 0x2b
const I32_LOAD8_U = 0x2d
const I64_STORE = 0x37
const I32_EQZ = 0x45
const I32_EQ = 0x46
const I32_LE_U = 0x4d
const I64_EQZ = 0x50
const I64_EQ = 0x51
const I64_NE = 0x52
const I64_LT_S = 0x53
const I64_LT_U = 0x54
const I64_GT_S = 0x55
const I64_GT_U = 0x56
const I64_LE_S = 0x57
const I64_GE_S = 0x59
const I64_GE_U = 0x5a
const I32_CLZ = 0x67
const I32_CTZ = 0x68
const I32_POPCNT = 0x69
const I32_ADD = 0x6a
const I32_SUB = 0x6b
const I32_MUL = 0x6c
const I32_DIV_S = 0x6d
const I32_DIV_U = 0x6e
const I32_REM_S = 0x6f
const I32_REM_U = 0x70
const I32_AND = 0x71
const I32_OR = 0x72
const I32_SHL = 0x74
const I32_SHR_S = 0x75
const I32_SHR_U = 0x76
const I32_ROTL = 0x77
const I32_ROTR = 0x78
const I64_CLZ = 0x79
const I64_CTZ = 0x7a
const I64_POPCNT = 0x7b
const I64_ADD = 0x7c
const I64_SUB = 0x7d
const I64_MUL = 0x7e
const I64_DIV_S = 0x7f
const I64_DIV_U = 0x80
const I64_REM_S = 0x81
const I64_REM_U = 0x82
const I64_AND = 0x83
const I64_OR = 0x84
const I64_XOR = 0x85
const I64_SHL = 0x86
const I64_SHR_S = 0x87
const I64_SHR_U = 0x88
const I64_ROTL = 0x89
const I64_ROTR = 0x8a
const I32_WRAP = 0xa7
const I32_TRUNC_F64_U = 0xab
const I64_EXTEND_I32_S = 0xac
const I64_EXTEND_I32_U = 0xad
const I64_EXTEND8_S = 0xc2
const I64_EXTEND16_S = 0xc3
const SELECT = 0x1b
/** i64.trunc_sat_f64_s (non-trapping float-to-int: NaN → 0). */
const I64_TRUNC_SAT_F64_S = [0xfc, 0x06] as const

const LOADS: Partial<Record<Op, [size: number, opcode: number]>> = {
  [Op.LB]: [1, 0x30],
  [Op.LH]: [2, 0x32],
  [Op.LW]: [4, 0x34],
  [Op.LD]: [8, I64_LOAD],
  [Op.LBU]: [1, 0x31],
  [Op.LHU]: [2, 0x33],
  [Op.LWU]: [4, 0x35],
}
const STORES: Partial<Record<Op, [size: number, opcode: number]>> = {
  [Op.SB]: [1, 0x3c],
  [Op.SH]: [2, 0x3d],
  [Op.SW]: [4, 0x3e],
  [Op.SD]: [8, I64_STORE],
}
/** R-type operations that are one i64 instruction on the two registers. */
const R64: Partial<Record<Op, number>> = {
  [Op.ADD]: I64_ADD,
  [Op.SUB]: I64_SUB,
  [Op.XOR]: I64_XOR,
  [Op.OR]: I64_OR,
  [Op.AND]: I64_AND,
  [Op.SLL]: I64_SHL, // Wasm takes the shift amount modulo 64, as RV64 does
  [Op.SRL]: I64_SHR_U,
  [Op.SRA]: I64_SHR_S,
  [Op.MUL]: I64_MUL,
  [Op.ROL]: I64_ROTL,
  [Op.ROR]: I64_ROTR,
}
/** I-type operations: one i64 instruction on the register and the immediate. */
const I64_IMM: Partial<Record<Op, number>> = {
  [Op.ADDI]: I64_ADD,
  [Op.XORI]: I64_XOR,
  [Op.ORI]: I64_OR,
  [Op.ANDI]: I64_AND,
  [Op.SLLI]: I64_SHL,
  [Op.SRLI]: I64_SHR_U,
  [Op.SRAI]: I64_SHR_S,
  [Op.RORI]: I64_ROTR,
}
/** W operations on the low words, the result sign-extended (i32 shifts take the amount modulo 32, as RV64's W shifts do). */
const R32: Partial<Record<Op, number>> = {
  [Op.ADDW]: I32_ADD,
  [Op.SUBW]: I32_SUB,
  [Op.SLLW]: I32_SHL,
  [Op.SRLW]: I32_SHR_U,
  [Op.SRAW]: I32_SHR_S,
  [Op.MULW]: I32_MUL,
  [Op.ROLW]: I32_ROTL,
  [Op.RORW]: I32_ROTR,
}
const I32_IMM: Partial<Record<Op, number>> = {
  [Op.ADDIW]: I32_ADD,
  [Op.SLLIW]: I32_SHL,
  [Op.SRLIW]: I32_SHR_U,
  [Op.SRAIW]: I32_SHR_S,
  [Op.RORIW]: I32_ROTR,
}
/** Conditional branches: the i64 comparison that is true when taken. */
const BRANCHES: Partial<Record<Op, number>> = {
  [Op.BEQ]: I64_EQ,
  [Op.BNE]: I64_NE,
  [Op.BLT]: I64_LT_S,
  [Op.BGE]: I64_GE_S,
  [Op.BLTU]: I64_LT_U,
  [Op.BGEU]: I64_GE_U,
}
/** Operations with code of their own below (see emit()). */
const OTHERS = new Set<number>([
  Op.LUI, Op.AUIPC, Op.JAL, Op.SLTI, Op.SLTIU, Op.SLT, Op.SLTU,
  Op.DIV, Op.DIVU, Op.REM, Op.REMU, Op.DIVW, Op.DIVUW, Op.REMW, Op.REMUW,
  Op.SH1ADD, Op.SH2ADD, Op.SH3ADD, Op.ADD_UW, Op.SH1ADD_UW, Op.SH2ADD_UW, Op.SH3ADD_UW, Op.SLLI_UW,
  Op.ANDN, Op.ORN, Op.XNOR, Op.CLZ, Op.CTZ, Op.CPOP, Op.CLZW, Op.CTZW, Op.CPOPW,
  Op.MAX, Op.MAXU, Op.MIN, Op.MINU, Op.SEXT_B, Op.SEXT_H, Op.ZEXT_H,
  Op.CZERO_EQZ, Op.CZERO_NEZ,
])

/** Whether the trace compiles `d` (else it ends before it). */
export function wasmCompiles(d: Decoded): boolean {
  const op = d.op as Op
  return LOADS[op] !== undefined || STORES[op] !== undefined || R64[op] !== undefined || I64_IMM[op] !== undefined || R32[op] !== undefined || I32_IMM[op] !== undefined || BRANCHES[op] !== undefined || OTHERS.has(op)
}

/**
 * Emits the code of instructions that do not branch, into `c`: registers as i64 locals (`X + r − 1`,
 * x0 a constant), the ones named and written collected for the caller's prologue and way out;
 * `pcAt(rel)` pushes the pc of the instruction at `rel` (an i64), `miss(rel, i)` leaves before
 * instruction `i` at `rel` (an access the helpers cannot serve).
 */
class Emitter {
  readonly used = new Set<number>()
  readonly written = new Set<number>()

  constructor(
    private readonly c: Code,
    readonly pcAt: (rel: number) => void,
    private readonly miss: (rel: number, i: number) => void,
  ) {}

  reg(r: number): void {
    if (r === 0) this.c.i64(0)
    else {
      this.used.add(r)
      this.c.get(X + r - 1)
    }
  }

  low(r: number): void {
    this.reg(r)
    this.c.op(I32_WRAP)
  }

  /** rd ← the i64 on the stack (x0: dropped). */
  setReg(rd: number): void {
    if (rd === 0) this.c.op(0x1a) // drop
    else {
      this.used.add(rd)
      this.written.add(rd)
      this.c.set(X + rd - 1)
    }
  }

  /**
   * `o` ← the RAM offset of an access of `size` bytes at rs1 + imm (a helper: the direct window,
   * else a data-TLB hit; a store also not into a code line nor while a reservation is held); −1
   * leaves before the instruction for the interpreter.
   */
  private offset(d: Decoded, size: number, store: boolean, rel: number, i: number): void {
    const c = this.c
    this.reg(d.rs1)
    c.i64(d.immN).op(I64_ADD).set(L_EA)
    c.get(P_BASE).get(L_EA).i32(size).op(CALL, store ? F_STORE_ADDR : F_LOAD_ADDR).tee(L_O).i32(0).op(0x48 /* i32.lt_s */).open(IF)
    this.miss(rel, i)
    c.end()
  }

  /** The code of `d` (instruction `i`, at `rel`), which is not a branch or jump. */
  data(d: Decoded, rel: number, i: number): void {
    const c = this.c
    const { rd, rs1, rs2, immN: imm } = d
    const op = d.op as Op
    const load = LOADS[op]
    const store = STORES[op]
    const r64 = R64[op]
    const i64op = I64_IMM[op]
    const r32 = R32[op]
    const i32op = I32_IMM[op]
    if (load !== undefined) {
      this.offset(d, load[0], false, rel, i)
      if (rd !== 0) {
        c.get(L_O).mem(load[1])
        this.setReg(rd)
      }
    } else if (store !== undefined) {
      this.offset(d, store[0], true, rel, i)
      c.get(L_O)
      this.reg(rs2)
      c.mem(store[1])
    } else if (rd === 0) {
      // no effect (a hint): nothing to do
    } else if (r64 !== undefined) {
      this.reg(rs1)
      this.reg(rs2)
      c.op(r64)
      this.setReg(rd)
    } else if (i64op !== undefined) {
      this.reg(rs1)
      c.i64(imm).op(i64op)
      this.setReg(rd)
    } else if (r32 !== undefined) {
      this.low(rs1)
      this.low(rs2)
      c.op(r32, I64_EXTEND_I32_S)
      this.setReg(rd)
    } else if (i32op !== undefined) {
      this.low(rs1)
      c.i32(imm).op(i32op, I64_EXTEND_I32_S)
      this.setReg(rd)
    } else this.other(d, rel)
  }

  private other(d: Decoded, rel: number): void {
    const c = this.c
    const { rd, rs1, rs2, immN: imm } = d
    const op = d.op as Op
    const shadd = (sh: number, uw: boolean) => {
      this.reg(rs1)
      if (uw) c.i64(0xffffffff).op(I64_AND)
      c.i64(sh).op(I64_SHL)
      this.reg(rs2)
      c.op(I64_ADD)
      this.setReg(rd)
    }
    switch (op) {
      case Op.LUI:
        c.i64(imm)
        return this.setReg(rd)
      case Op.AUIPC:
        this.pcAt(rel + imm)
        return this.setReg(rd)
      case Op.SLTI:
      case Op.SLTIU:
        this.reg(rs1)
        c.i64(imm).op(op === Op.SLTI ? I64_LT_S : I64_LT_U, I64_EXTEND_I32_U)
        return this.setReg(rd)
      case Op.SLT:
      case Op.SLTU:
        this.reg(rs1)
        this.reg(rs2)
        c.op(op === Op.SLT ? I64_LT_S : I64_LT_U, I64_EXTEND_I32_U)
        return this.setReg(rd)
      // Division by zero and overflow as the M extension defines them (no trap): by zero, the
      // quotient is all ones and the remainder the dividend; MIN / −1 is MIN, remainder 0.
      case Op.DIV:
      case Op.REM:
        this.reg(rs2)
        c.op(I64_EQZ).open(IF, I64)
        if (op === Op.DIV) c.i64(-1)
        else this.reg(rs1)
        c.else()
        this.reg(rs2)
        c.i64(-1).op(I64_EQ).open(IF, I64)
        if (op === Op.DIV) {
          c.i64(0)
          this.reg(rs1)
          c.op(I64_SUB)
        } else c.i64(0)
        c.else()
        this.reg(rs1)
        this.reg(rs2)
        c.op(op === Op.DIV ? I64_DIV_S : I64_REM_S)
        c.end().end()
        return this.setReg(rd)
      case Op.DIVU:
      case Op.REMU:
        this.reg(rs2)
        c.op(I64_EQZ).open(IF, I64)
        if (op === Op.DIVU) c.i64(-1)
        else this.reg(rs1)
        c.else()
        this.reg(rs1)
        this.reg(rs2)
        c.op(op === Op.DIVU ? I64_DIV_U : I64_REM_U)
        c.end()
        return this.setReg(rd)
      case Op.DIVW:
      case Op.REMW:
        this.low(rs2)
        c.op(I32_EQZ).open(IF, I32)
        if (op === Op.DIVW) c.i32(-1)
        else this.low(rs1)
        c.else()
        this.low(rs2)
        c.i32(-1).op(I32_EQ).open(IF, I32)
        if (op === Op.DIVW) {
          c.i32(0)
          this.low(rs1)
          c.op(I32_SUB)
        } else c.i32(0)
        c.else()
        this.low(rs1)
        this.low(rs2)
        c.op(op === Op.DIVW ? I32_DIV_S : I32_REM_S)
        c.end().end()
        c.op(I64_EXTEND_I32_S)
        return this.setReg(rd)
      case Op.DIVUW:
      case Op.REMUW:
        this.low(rs2)
        c.op(I32_EQZ).open(IF, I32)
        if (op === Op.DIVUW) c.i32(-1)
        else this.low(rs1)
        c.else()
        this.low(rs1)
        this.low(rs2)
        c.op(op === Op.DIVUW ? I32_DIV_U : I32_REM_U)
        c.end()
        c.op(I64_EXTEND_I32_S)
        return this.setReg(rd)
      case Op.SH1ADD:
        return shadd(1, false)
      case Op.SH2ADD:
        return shadd(2, false)
      case Op.SH3ADD:
        return shadd(3, false)
      case Op.ADD_UW:
        return shadd(0, true)
      case Op.SH1ADD_UW:
        return shadd(1, true)
      case Op.SH2ADD_UW:
        return shadd(2, true)
      case Op.SH3ADD_UW:
        return shadd(3, true)
      case Op.SLLI_UW:
        this.reg(rs1)
        c.i64(0xffffffff).op(I64_AND).i64(imm).op(I64_SHL)
        return this.setReg(rd)
      case Op.ANDN:
      case Op.ORN:
        this.reg(rs1)
        this.reg(rs2)
        c.i64(-1).op(I64_XOR, op === Op.ANDN ? I64_AND : I64_OR)
        return this.setReg(rd)
      case Op.XNOR:
        this.reg(rs1)
        this.reg(rs2)
        c.op(I64_XOR).i64(-1).op(I64_XOR)
        return this.setReg(rd)
      case Op.CLZ:
      case Op.CTZ:
      case Op.CPOP:
        this.reg(rs1)
        c.op(op === Op.CLZ ? I64_CLZ : op === Op.CTZ ? I64_CTZ : I64_POPCNT)
        return this.setReg(rd)
      case Op.CLZW:
      case Op.CTZW:
      case Op.CPOPW:
        this.low(rs1)
        c.op(op === Op.CLZW ? I32_CLZ : op === Op.CTZW ? I32_CTZ : I32_POPCNT, I64_EXTEND_I32_U)
        return this.setReg(rd)
      case Op.MAX:
      case Op.MAXU:
      case Op.MIN:
      case Op.MINU:
        this.reg(rs1)
        this.reg(rs2)
        this.reg(rs1)
        this.reg(rs2)
        c.op(op === Op.MAX ? I64_GT_S : op === Op.MAXU ? I64_GT_U : op === Op.MIN ? I64_LT_S : I64_LT_U, SELECT)
        return this.setReg(rd)
      case Op.SEXT_B:
      case Op.SEXT_H:
        this.reg(rs1)
        c.op(op === Op.SEXT_B ? I64_EXTEND8_S : I64_EXTEND16_S)
        return this.setReg(rd)
      case Op.ZEXT_H:
        this.reg(rs1)
        c.i64(0xffff).op(I64_AND)
        return this.setReg(rd)
      case Op.CZERO_EQZ:
      case Op.CZERO_NEZ:
        // Zicond: rd ← 0 when rs2 is (EQZ) / is not (NEZ) zero, else rs1 (select takes rs1 when its condition is non-zero).
        this.reg(rs1)
        c.i64(0)
        this.reg(rs2)
        c.op(I64_EQZ)
        if (op === Op.CZERO_EQZ) c.op(I32_EQZ)
        c.op(SELECT)
        return this.setReg(rd)
      default:
        throw new Error(`wasm-run: no code for op ${op}`)
    }
  }}

interface Trace {
  ds: Decoded[]
  offs: number[]
  /** Where control goes after each instruction when it does not branch (a followed JAL: its target). */
  nexts: number[]
}

/**
 * The trace from `start`: straight on, past conditional branches, through JAL to code of the page
 * not yet in it; it ends at a JAL back to its start (the loop), at a jump it does not follow,
 * before an instruction it does not compile or not yet decoded, at the page's end, or after
 * {@link MAX_RUN} instructions. Then cut after its last branch or jump back to the start, if any.
 */
function traceFrom(slots: readonly (Decoded | undefined)[], start: number): Trace {
  const ds: Decoded[] = []
  const offs: number[] = []
  const nexts: number[] = []
  const seen = new Set<number>()
  let off = start
  while (ds.length < MAX_RUN) {
    const d = slots[off >>> 1]
    if (d === undefined || off + d.len > PAGE || seen.has(off) || !wasmCompiles(d)) break
    ds.push(d)
    offs.push(off)
    seen.add(off)
    if (d.op === Op.JAL) {
      const target = off + d.immN
      nexts.push(target)
      if (target === start || target < 0 || target >= PAGE || seen.has(target)) break
      off = target
      continue
    }
    off += d.len
    nexts.push(off)
  }
  let loopEnd = -1
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]!
    if ((d.op === Op.JAL || BRANCHES[d.op as Op] !== undefined) && offs[i]! + d.immN === start) loopEnd = i
  }
  if (loopEnd >= 0) ds.length = offs.length = nexts.length = loopEnd + 1
  return { ds, offs, nexts }
}

/** The length of a trace's straight start: up to its first conditional branch (included), or a loop's whole body. */
export function wasmTraceLength(slots: readonly (Decoded | undefined)[], start: number): number {
  return traceFrom(slots, start).ds.length
}

/**
 * The WebAssembly code of the trace at `start` (a page offset; `slots` the page's decoded records
 * by offset / 2), or null when it holds fewer than `minLength` instructions. {@link compileTraces}
 * compiles a batch of them.
 */
export function traceCode(slots: readonly (Decoded | undefined)[], start: number, minLength: number): TraceCode | null {
  const { ds, offs, nexts } = traceFrom(slots, start)
  if (ds.length < Math.max(minLength, 1)) return null
  const last = ds.length - 1
  // Segments: a budget check before instruction i when the one before was a conditional branch
  // (not taken) or SEGMENT instructions passed since the last check.
  const checkAt: boolean[] = new Array<boolean>(ds.length).fill(false)
  let since = 0
  for (let i = 1; i <= last; i++) {
    since++
    if (BRANCHES[ds[i - 1]!.op as Op] !== undefined || since >= SEGMENT) {
      checkAt[i] = true
      since = 0
    }
  }
  const segment = (i: number) => {
    let j = i + 1
    while (j <= last && !checkAt[j]) j++
    return j - i
  }
  const first = segment(0)

  const rels: number[] = []
  const exitIndex = (rel: number) => {
    let k = rels.indexOf(rel)
    if (k < 0) k = rels.push(rel) - 1
    return k
  }
  const c = new Code()
  /** Leaves with `h.pc` = pc0 + rel after `count` instructions of this pass. */
  const exit = (rel: number, count: number) => {
    c.get(L_N).i32(count).op(I32_ADD).i32(16).op(I32_SHL).i32(exitIndex(rel)).op(I32_OR).set(L_RET).br(OUT)
  }
  /** Control to `rel` after `count` instructions: round the loop when it is the start and the budget holds the first segment. */
  const go = (rel: number, count: number) => {
    if (rel === 0) {
      c.get(L_N).i32(count + first).op(I32_ADD).get(P_BUDGET).op(I32_LE_U).open(IF)
      c.get(L_N).i32(count).op(I32_ADD).set(L_N).br(TOP)
      c.end()
    }
    exit(rel, count)
  }
  const e = new Emitter(c, (rel) => c.get(P_BASE).mem(I64_LOAD, AREA.ctx + 24).i64(rel).op(I64_ADD), exit)
  c.open(BLOCK) // out
  c.open(LOOP) // top
  for (let i = 0; i <= last; i++) {
    const d = ds[i]!
    const rel = offs[i]! - start
    const op = d.op as Op
    const { rd, rs1, rs2, immN: imm } = d
    if (checkAt[i]) {
      c.get(L_N).i32(i + segment(i)).op(I32_ADD).get(P_BUDGET).op(0x4b /* i32.gt_u */).open(IF)
      exit(rel, i)
      c.end()
    }
    const cmp = BRANCHES[op]
    if (cmp !== undefined) {
      e.reg(rs1)
      e.reg(rs2)
      c.op(cmp).open(IF)
      go(rel + imm, i + 1)
      c.end()
    } else if (op === Op.JAL) {
      if (rd !== 0) {
        e.pcAt(rel + d.len)
        e.setReg(rd)
      }
    } else e.data(d, rel, i)
    // Where control goes after it.
    if (op === Op.JAL) {
      const target = nexts[i]! - start
      if (i === last) go(target, i + 1)
    } else if (i === last) go(nexts[i]! - start, i + 1)
  }
  c.end() // top
  c.end() // out



  // The prologue loads the registers the trace names; the one way out (after `out`) stores the
  // ones it wrote and returns the exit.
  const pro = new Code()
  for (const r of [...e.used].sort((a, b) => a - b)) pro.get(P_BASE).mem(I64_LOAD, AREA.regs + 8 * r).set(X + r - 1)
  const epi = new Code()
  for (const r of [...e.written].sort((a, b) => a - b)) epi.get(P_BASE).get(X + r - 1).mem(I64_STORE, AREA.regs + 8 * r)
  epi.get(L_RET)
  const body: number[] = []
  uleb(body, 2)
  uleb(body, I64_LOCALS)
  body.push(I64)
  uleb(body, I32_LOCALS)
  body.push(I32)
  for (const part of [pro.b, c.b, epi.b]) for (const x of part) body.push(x)
  body.push(0x0b)
  return { body, rels, first, ds, offs, slots }
}

/** A trace's function body and what its caller needs: exits' pc offsets, its first segment, its records. */
export interface TraceCode {
  readonly body: number[]
  readonly rels: readonly number[]
  readonly first: number
  readonly ds: readonly Decoded[]
  readonly offs: readonly number[]
  readonly slots: readonly (Decoded | undefined)[]
}

/**
 * The body of the helper that finds the RAM offset of an access (params: the hart's area `base`,
 * the address `ea`, the `size`): inside the direct window (the context's i64 bounds), `ea − ramBase`;
 * else from a data-TLB hit (tags as int32 pairs of the address's halves, `Hart.dtlbLoadTagLo`) when
 * the access stays in its page; else −1. A store's also −1 when a line it touches holds decoded
 * code or an LR reservation is held: the interpreter stores then (it drops the code and clears the
 * reservation, `Hart.stored`).
 */
function addressHelper(store: boolean): number[] {
  const [tagLo, tagHi, off] = store ? [AREA.storeTagLo, AREA.storeTagHi, AREA.storeOff] : [AREA.loadTagLo, AREA.loadTagHi, AREA.loadOff]
  const BASE = 0, EA = 1, SIZE = 2, VL = 3, TI = 4, W = 5, O = 6
  const c = new Code()
  // the window: dlo <= ea && ea <= dhi − size (no overflow: the bounds lie within ±2^53)
  c.get(EA).get(BASE).mem(I64_LOAD, AREA.ctx).op(I64_GE_S)
  c.get(EA).get(BASE).mem(I64_LOAD, AREA.ctx + 8).get(SIZE).op(I64_EXTEND_I32_U, I64_SUB).op(I64_LE_S).op(I32_AND)
  c.open(IF)
  c.get(EA).get(BASE).mem(I64_LOAD, AREA.ctx + 16).op(I64_SUB, I32_WRAP).set(O)
  c.else()
  c.get(EA).op(I32_WRAP).tee(VL).i32(12).op(I32_SHR_U).i32(AREA_TLB_SIZE - 1).op(I32_AND).i32(2).op(I32_SHL).get(BASE).op(I32_ADD).set(TI)
  c.get(TI).mem(I32_LOAD, tagLo).get(VL).i32(12).op(I32_SHR_U).get(BASE).mem(I32_LOAD, AREA.ctx + 32).op(I32_OR).op(I32_EQ)
  c.get(TI).mem(I32_LOAD, tagHi).get(EA).i64(32).op(I64_SHR_U, I32_WRAP).op(I32_EQ).op(I32_AND)
  c.get(VL).i32(PAGE - 1).op(I32_AND).tee(W).i32(PAGE).get(SIZE).op(I32_SUB).op(I32_LE_U).op(I32_AND)
  c.op(I32_EQZ).open(IF)
  c.i32(-1).op(RETURN)
  c.end()
  // the entry's f64 RAM offset: at base + 8·index, i.e. 2·TI − base
  c.get(TI).get(TI).op(I32_ADD).get(BASE).op(I32_SUB).mem(F64_LOAD, off).op(I32_TRUNC_F64_U).get(W).op(I32_ADD).set(O)
  c.end()
  if (store) {
    c.get(BASE).mem(I32_LOAD, AREA.ctx + 36)
    c.get(BASE).mem(I32_LOAD, AREA.ctx + 40).get(O).i32(6).op(I32_SHR_U).op(I32_ADD).mem(I32_LOAD8_U).op(I32_OR)
    c.get(BASE).mem(I32_LOAD, AREA.ctx + 40).get(O).get(SIZE).op(I32_ADD).i32(1).op(I32_SUB).i32(6).op(I32_SHR_U).op(I32_ADD).mem(I32_LOAD8_U).op(I32_OR)
    c.open(IF)
    c.i32(-1).op(RETURN)
    c.end()
  }
  c.get(O)
  const body: number[] = [1, 4, I32]
  for (const x of c.b) body.push(x)
  body.push(0x0b)
  return body
}

/** The helpers' function type: (base, ea, size) → RAM offset or −1. */
function helperType(out: number[]): void {
  out.push(0x60, 3, I32, I64, I32, 1, I32)
}

/** The function type of every trace: (area base, budget) → (count << 16 | exit). */
function traceType(out: number[]): void {
  out.push(0x60)
  uleb(out, PARAMS.length)
  for (const t of PARAMS) out.push(t)
  out.push(1, I32)
}

/**
 * One thread's traces: a table of every compiled trace function and one exported `run(index,
 * base, budget)` that calls the indexed one. JS calls only `run`, one function of one signature of
 * three integers, so V8 keeps one fast JS-to-Wasm call for it (a call straight into each trace's own
 * export went through V8's generic wrapper: ~0.3 µs a call in a Linux boot). A trace's table slot
 * is freed when its block function is collected.
 */
class WasmTraces {
  private readonly table: WasmTable
  readonly run: (index: number, base: number, budget: number) => number
  private readonly free: number[] = []
  private readonly registry: FinalizationRegistry<number>

  constructor(private readonly api: NonNullable<ReturnType<typeof wasmApi>>) {
    this.table = new api.Table({ element: 'anyfunc', initial: 64 })
    for (let i = 63; i >= 1; i--) this.free.push(i) // slot 0 stays empty
    const mod: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
    const types: number[] = [2]
    traceType(types)
    types.push(0x60, 3, I32, I32, I32, 1, I32)
    section(mod, 1, types)
    const imports: number[] = [1]
    name(imports, 'm')
    name(imports, 'table')
    imports.push(0x01, 0x70, 0x00, 0x00) // a table of funcref, at least 0 entries
    section(mod, 2, imports)
    section(mod, 3, [1, 1])
    const exports: number[] = [1]
    name(exports, 'run')
    exports.push(0x00, 0)
    section(mod, 7, exports)
    // run: call_indirect (type 0) with (base, budget) on the table's entry `index`.
    const body = [0, 0x20, 1, 0x20, 2, 0x20, 0, 0x11, 0, 0, 0x0b]
    const code: number[] = [1]
    uleb(code, body.length)
    for (const b of body) code.push(b)
    section(mod, 10, code)
    const instance = new api.Instance(new api.Module(new Uint8Array(mod)), { m: { table: this.table } })
    this.run = instance.exports['run'] as (index: number, base: number, budget: number) => number
    this.registry = new FinalizationRegistry((index: number) => {
      this.table.set(index, null)
      this.free.push(index)
    })
  }

  /** Compiles `traces` into one module over `memory` and gives each its table index. */
  compile(traces: readonly TraceCode[], memory: WasmMemory): number[] {
    const mod: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
    const types: number[] = [2]
    traceType(types)
    helperType(types)
    section(mod, 1, types)
    const imports: number[] = [1]
    name(imports, 'm')
    name(imports, 'mem')
    imports.push(0x02, 0x00, 0x00) // a memory, at least 0 pages, no maximum
    section(mod, 2, imports)
    const funcs: number[] = []
    uleb(funcs, HELPERS + traces.length)
    funcs.push(1, 1)
    for (let i = 0; i < traces.length; i++) funcs.push(0)
    section(mod, 3, funcs)
    const exports: number[] = []
    uleb(exports, traces.length)
    for (let i = 0; i < traces.length; i++) {
      name(exports, `t${i}`)
      exports.push(0x00)
      uleb(exports, HELPERS + i)
    }
    section(mod, 7, exports)
    const code: number[] = []
    uleb(code, HELPERS + traces.length)
    for (const helper of [LOAD_HELPER, STORE_HELPER]) {
      uleb(code, helper.length)
      for (const b of helper) code.push(b)
    }
    for (const t of traces) {
      uleb(code, t.body.length)
      for (const b of t.body) code.push(b)
    }
    section(mod, 10, code)
    let instance: { readonly exports: Record<string, unknown> }
    try {
      instance = new this.api.Instance(new this.api.Module(new Uint8Array(mod)), { m: { mem: memory } })
    } catch (e) {
      // A module we built that does not validate is our bug; anything else is the host's refusal.
      if (e instanceof Error && (e.name === 'CompileError' || e.name === 'LinkError')) throw new Error(`wasm-run: ${traces.length} traces did not compile: ${e.message}`)
      throw e
    }
    return traces.map((_, i) => {
      if (this.free.length === 0) {
        const n = this.table.length
        this.table.grow(n)
        for (let k = 2 * n - 1; k >= n; k--) this.free.push(k)
      }
      const index = this.free.pop()!
      this.table.set(index, instance.exports[`t${i}`])
      return index
    })
  }

  /** Frees `index` when `owner` is collected. */
  hold(owner: object, index: number): void {
    this.registry.register(owner, index)
  }
}

const LOAD_HELPER = addressHelper(false)
const STORE_HELPER = addressHelper(true)
let threadTraces: WasmTraces | null | undefined

function traces(): WasmTraces | undefined {
  if (threadTraces === undefined) {
    const api = wasmApi()
    threadTraces = api === undefined ? null : new WasmTraces(api)
  }
  return threadTraces ?? undefined
}

/** A hart's view of its context in the arena (`AREA.ctx`, as int32 words), which a trace's caller fills. */
export type TraceContext = Int32Array

/** The context view of the hart whose area starts at `base` of `buffer`. */
export function traceContext(buffer: ArrayBuffer, base: number): TraceContext {
  return new Int32Array(buffer, base + AREA.ctx, 16)
}

/**
 * Compiles the traces (one module) for the hart whose area is at `base` of `memory`, and gives each
 * its block function, or undefined where the host has no WebAssembly.
 */
export function compileTraces(codes: readonly TraceCode[], memory: WasmMemory, base: number, ctx: TraceContext): WasmRun[] | undefined {
  const t = traces()
  if (t === undefined || codes.length === 0) return undefined
  const indices = t.compile(codes, memory)
  const run = t.run
  return codes.map((code, k) => {
    const index = indices[k]!
    const { rels, ds, slots } = code
    const checks = lineCheckPairs(ds, code.offs)
    const checkSlots = checks.map(([slot]) => slot)
    const checkRecords = checks.map(([, j]) => ds[j]!)
    const head = ds[0]!
    const w = ctx
    const fn: BlockFn = (h: BlockHost, _xw: Int32Array, _view: DataView, budget: number) => {
      for (let i = 0; i < checkSlots.length; i++) {
        if (slots[checkSlots[i]!] !== checkRecords[i]) {
          // A store dropped a later line since compiling (see block.ts lineChecks).
          head.block = undefined
          head.hits = 0
          return 0
        }
      }
      const pc0 = h.pc
      // i64s as int32 halves (every one lies within ±2^53): `| 0` keeps the low word, the floor of
      // the quotient the high word.
      const dlo = h.directLo, dhi = h.directHi, rb = h.ramBase
      w[0] = dlo | 0
      w[1] = Math.floor(dlo / 4294967296) | 0
      w[2] = dhi | 0
      w[3] = Math.floor(dhi / 4294967296) | 0
      w[4] = rb | 0
      w[5] = Math.floor(rb / 4294967296) | 0
      w[6] = pc0 | 0
      w[7] = Math.floor(pc0 / 4294967296) | 0
      w[8] = h.dtlbCtx
      w[9] = h.reservation === h.reservation ? 1 : 0
      w[10] = h.codeLines.byteOffset
      const r = run(index, base, budget > 0x7fff ? 0x7fff : budget)
      h.pc = pc0 + rels[r & 0xffff]!
      return r >>> 16
    }
    t.hold(fn, index)
    return { fn, length: code.first, instructions: ds.length }
  })
}
