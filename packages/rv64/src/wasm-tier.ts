/**
 * Code compiled to WebAssembly (issue #18), over the bus's arena (`wasm-arena.ts`: RAM at address
 * 0, each hart's registers, data TLB and code-line map in its area):
 *
 * - blocks ({@link compileWasmBlock}), the block tier's default: the trace `block.ts` takes, with
 *   registers in i64 locals (64-bit arithmetic one operation; V8's optimising compiler keeps them
 *   in machine registers) and each load's and store's page memoised per site;
 * - regions ({@link compileWasmRegion}), opt-in (`HartOptions.tier: 'wasm-region'`): a page's hot
 *   instructions in one function with a dispatcher, as `region.ts` in JS; registers in the hart's
 *   area. Slower than the block tier on boots (docs/RATIONALE.md "Why do blocks compile to
 *   WebAssembly, and why regions only on request?").
 *
 * Both reach RAM through the direct window and the data TLB inline, and leave for the interpreter
 * before anything else (a miss, MMIO, a page crossing, a store into a line holding decoded code or
 * while an LR reservation is held): the code never traps, and a fault is taken exactly by the
 * interpreter. Every compiled function sits in one thread-wide table; JS calls one exported
 * dispatcher (`run(index, base, budget)`), which V8 keeps one fast call for.
 */
import { Op, type Decoded } from './decode.js'
import type { BlockHost } from './block-host.js'
import { AREA, AREA_TLB_SIZE, wasmApi, type WasmMemory, type WasmTable } from './wasm-arena.js'
import type { Region, RegionFn } from './region.js'
import { lineCheckPairs, type BlockFn } from './block.js'

const PAGE = 4096
// ---- the binary format (WebAssembly core spec §5) ---------------------------------------------
const I32 = 0x7f
const I64 = 0x7e
const VOID = 0x40

function uleb(out: number[], n: number): void {
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
}

/** Signed LEB128 of a safe integer (division, not 32-bit shifts, so values beyond int32 encode too). */
function slebNumber(out: number[], v: number): void {
  for (;;) {
    const b = ((v % 128) + 128) % 128
    v = Math.floor(v / 128)
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
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

/** A compiled function's parameters: its hart's area in the arena, and the budget. */
const PARAMS = [I32, I32]
const P_BASE = 0
const P_BUDGET = 1
/**
 * A compiled function's locals: the effective address, a value on its way to a register, the
 * direct window's bounds and RAM's base (loaded from the context at entry), the pc and the page's
 * virtual base (i64); the count of completed instructions, the result and an access's RAM offset
 * (i32). The registers stay in the hart's area (`AREA.regs`, an i64 load or store each): with them
 * in 31 locals, V8's baseline code for a region (a block per run, each run's end a merge of every
 * local) ran a boot's code at ~24 ns an instruction, slower than the interpreter.
 */
const L_EA = 2
const L_TMP = 3
const L_DLO = 4
const L_DHI = 5
const L_RB = 6
const L_PC = 7
const L_PB = 8
const I64_LOCALS = 7
const L_N = 9
const L_RET = 10
const L_O = 11
const L_LINES = 12
const L_RSV = 13
const L_DC = 14
const L_W = 15
const I32_LOCALS = 7
/** A hot trace's registers x1–x31 as i64 locals (`X + r − 1`), declared after the others. */
const X = 16

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
    slebNumber(this.b, v | 0)
    return this
  }
  /** An i64 constant: `v` a safe integer (every constant here: immediates, offsets, pcs within ±2^53). */
  i64(v: number): this {
    this.b.push(0x42)
    slebNumber(this.b, v)
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

/** Whether `d` compiles to WebAssembly here (JALR too, in a region). */
function wasmCompiles(d: Decoded): boolean {
  const op = d.op as Op
  return LOADS[op] !== undefined || STORES[op] !== undefined || R64[op] !== undefined || I64_IMM[op] !== undefined || R32[op] !== undefined || I32_IMM[op] !== undefined || BRANCHES[op] !== undefined || OTHERS.has(op)
}

/**
 * Emits the code of instructions that do not branch, into `c`: registers in i64 locals (a block)
 * or read and written in the hart's area (a region), x0 a constant; `pcAt(rel)` pushes the pc of
 * the instruction at `rel` (an i64), `miss(rel, i)` leaves before instruction `i` at `rel` (an
 * access only the interpreter can do).
 */
class Emitter {
  /** With `inLocals`: the registers read (loaded at entry) and written (stored at the way out). */
  readonly used = new Set<number>()
  readonly written = new Set<number>()
  /** With `inLocals`: memo sites so far (each a pair of globals: see {@link memoSite}). */
  sites = 0

  constructor(
    private readonly c: Code,
    readonly pcAt: (rel: number) => void,
    private readonly miss: (rel: number, i: number) => void,
    /** Registers in i64 locals (a hot trace, optimised by V8: they live in machine registers), else in the hart's area (a region). */
    private readonly inLocals = false,
  ) {}

  reg(r: number): void {
    if (r === 0) this.c.i64(0)
    else if (this.inLocals) {
      this.used.add(r)
      this.c.get(X + r - 1)
    } else this.c.get(P_BASE).mem(I64_LOAD, AREA.regs + 8 * r)
  }

  low(r: number): void {
    this.reg(r)
    this.c.op(I32_WRAP)
  }

  /** rd ← the i64 on the stack (x0: dropped). */
  setReg(rd: number): void {
    if (rd === 0) this.c.op(0x1a) // drop
    else if (this.inLocals) {
      this.used.add(rd)
      this.written.add(rd)
      this.c.set(X + rd - 1)
    } else this.c.set(L_TMP).get(P_BASE).get(L_TMP).mem(I64_STORE, AREA.regs + 8 * rd)
  }

  /**
   * `o` ← the RAM offset of an access of `size` bytes at rs1 + imm: the direct window, else a
   * data-TLB hit (a store also not into a code line nor while a reservation is held); else it
   * leaves before the instruction for the interpreter.
   */
  private offset(d: Decoded, size: number, store: boolean, rel: number, i: number): void {
    const c = this.c
    this.reg(d.rs1)
    c.i64(d.immN).op(I64_ADD).set(L_EA)
    // Inside the direct window (M-mode, or S-mode with paging off): ea − ramBase (the window's
    // bounds: no overflow, they lie within ±2^53); else the data TLB (a hot trace through its memo).
    c.get(L_EA).get(L_DLO).op(I64_GE_S).get(L_EA).get(L_DHI).i64(size).op(I64_SUB).op(I64_LE_S).op(I32_AND).open(IF)
    c.get(L_EA).get(L_RB).op(I64_SUB, I32_WRAP).set(L_O)
    c.else()
    if (this.inLocals) this.memoSite(d, size, store, rel, i)
    else this.tlbInline(size, store, rel, i)
    c.end()
    if (store) this.storeChecks(size, rel, i)
  }

  /**
   * A hot trace's access with paging on, memoised per site (as the JS blocks' page memos,
   * `block.ts` access): globals 2k (i64: the base register's page, its value >> 12) and 2k + 1
   * (i32: that page's RAM offset) remember the page this site last reached; a hit is the base
   * register in that page and the access inside it (`w`, its offset from the register's page, in
   * [0, 4096 − size]): one compare, no TLB lookup. A miss takes the data TLB and memoises what it
   * found. A memo is as valid as the TLB entry it came from: the prologue empties every site when
   * `Hart.memoKey` changed (any TLB flush, window or context change).
   */
  private memoSite(d: Decoded, size: number, store: boolean, rel: number, i: number): void {
    const c = this.c
    const k = this.sites++
    this.reg(d.rs1)
    c.op(I32_WRAP).i32(PAGE - 1).op(I32_AND).i32(d.immN).op(I32_ADD).set(L_W)
    this.reg(d.rs1)
    c.i64(12).op(I64_SHR_S).op(0x23 /* global.get */)
    uleb(c.b, 2 * k)
    c.op(I64_EQ).get(L_W).i32(PAGE - size).op(I32_LE_U).op(I32_AND).open(IF)
    c.op(0x23)
    uleb(c.b, 2 * k + 1)
    c.get(L_W).op(I32_ADD).set(L_O)
    c.else()
    this.tlbInline(size, store, rel, i)
    c.get(L_W).i32(PAGE - size).op(I32_LE_U).open(IF)
    this.reg(d.rs1)
    c.i64(12).op(I64_SHR_S).op(0x24 /* global.set */)
    uleb(c.b, 2 * k)
    c.get(L_O).get(L_W).op(I32_SUB).op(0x24)
    uleb(c.b, 2 * k + 1)
    c.end()
    c.end()
  }

  /** A store leaves before it when a line it touches holds decoded code or a reservation is held (the interpreter stores: `Hart.stored`). */
  private storeChecks(size: number, rel: number, i: number): void {
    const c = this.c
    c.get(L_RSV)
    c.get(L_LINES).get(L_O).i32(6).op(I32_SHR_U).op(I32_ADD).mem(I32_LOAD8_U).op(I32_OR)
    c.get(L_LINES).get(L_O).i32(size - 1).op(I32_ADD).i32(6).op(I32_SHR_U).op(I32_ADD).mem(I32_LOAD8_U).op(I32_OR)
    c.open(IF)
    this.miss(rel, i)
    c.end()
  }

  /**
   * The data-TLB lookup, inline (tags as int32 pairs of the address's halves, `Hart.dtlbLoadTagLo`;
   * a helper function called per access cost a Linux user program a fifth of its speed): `o` ←
   * the entry's RAM offset + the access's offset in its page on a hit that keeps the access inside
   * the page; else leaves before instruction `i`.
   */
  private tlbInline(size: number, store: boolean, rel: number, i: number): void {
    const c = this.c
    const [tagLo, tagHi, off] = store ? [AREA.storeTagLo, AREA.storeTagHi, AREA.storeOff] : [AREA.loadTagLo, AREA.loadTagHi, AREA.loadOff]
    // L_O holds the entry's address (base + 4·index) until the hit replaces it with the offset.
    c.get(L_EA).op(I32_WRAP).i32(12).op(I32_SHR_U).i32(AREA_TLB_SIZE - 1).op(I32_AND).i32(2).op(I32_SHL).get(P_BASE).op(I32_ADD).tee(L_O)
    c.mem(I32_LOAD, tagLo).get(L_EA).op(I32_WRAP).i32(12).op(I32_SHR_U).get(L_DC).op(I32_OR).op(I32_EQ)
    c.get(L_O).mem(I32_LOAD, tagHi).get(L_EA).i64(32).op(I64_SHR_U, I32_WRAP).op(I32_EQ).op(I32_AND)
    c.get(L_EA).op(I32_WRAP).i32(PAGE - 1).op(I32_AND).i32(PAGE - size).op(I32_LE_U).op(I32_AND)
    c.op(I32_EQZ).open(IF)
    this.miss(rel, i)
    c.end()
    c.get(L_O).get(L_O).op(I32_ADD).get(P_BASE).op(I32_SUB).mem(F64_LOAD, off).op(I32_TRUNC_F64_U).get(L_EA).op(I32_WRAP).i32(PAGE - 1).op(I32_AND).op(I32_ADD).set(L_O)
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
        throw new Error(`wasm-tier: no code for op ${op}`)
    }
  }
}

/** The function type of every compiled function: (area base, budget) → instructions completed. */
function functionType(out: number[]): void {
  out.push(0x60)
  uleb(out, PARAMS.length)
  for (const t of PARAMS) out.push(t)
  out.push(1, I32)
}

/**
 * One thread's compiled functions: a table of them all and one exported `run(index, base, budget)`
 * that calls the indexed one. JS calls only `run`, one function of one signature of three
 * integers, so V8 keeps one fast JS-to-Wasm call for it (a call straight into each function's own
 * export went through V8's generic wrapper: ~0.3 µs a call in a Linux boot). A function's table
 * slot is freed when its JS wrapper is collected.
 */
class WasmFunctions {
  private readonly table: WasmTable
  readonly run: (index: number, base: number, budget: number) => number
  private readonly free: number[] = []
  private readonly registry: FinalizationRegistry<number>

  constructor(private readonly api: NonNullable<ReturnType<typeof wasmApi>>) {
    this.table = new api.Table({ element: 'anyfunc', initial: 64 })
    for (let i = 63; i >= 1; i--) this.free.push(i) // slot 0 stays empty
    const mod: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
    const types: number[] = [2]
    functionType(types)
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

  /**
   * Compiles `bodies` into one module over `memory` and gives each its table index; undefined when
   * the host refuses (a browser's main thread compiles at most 4 KiB synchronously): the thread
   * then compiles no more WebAssembly, and the hart keeps to its JS tiers.
   */
  compile(bodies: readonly { readonly body: number[] }[], memory: WasmMemory, globals: readonly number[][] = []): number[] | undefined {
    const mod: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
    const types: number[] = [1]
    functionType(types)
    section(mod, 1, types)
    const imports: number[] = [1]
    name(imports, 'm')
    name(imports, 'mem')
    imports.push(0x02, 0x00, 0x00) // a memory, at least 0 pages, no maximum
    section(mod, 2, imports)
    const funcs: number[] = []
    uleb(funcs, bodies.length)
    for (let i = 0; i < bodies.length; i++) funcs.push(0)
    section(mod, 3, funcs)
    const exports: number[] = []
    uleb(exports, bodies.length)
    for (let i = 0; i < bodies.length; i++) {
      name(exports, `t${i}`)
      exports.push(0x00)
      uleb(exports, i)
    }
    if (globals.length > 0) {
      const g: number[] = []
      uleb(g, globals.length)
      for (const entry of globals) for (const b of entry) g.push(b)
      section(mod, 6, g)
    }
    section(mod, 7, exports)
    const code: number[] = []
    uleb(code, bodies.length)
    for (const t of bodies) {
      uleb(code, t.body.length)
      for (const b of t.body) code.push(b)
    }
    section(mod, 10, code)
    let instance: { readonly exports: Record<string, unknown> }
    try {
      instance = new this.api.Instance(new this.api.Module(new Uint8Array(mod)), { m: { mem: memory } })
    } catch (e) {
      // A module we built that does not validate is our bug; anything else is the host's refusal.
      if (e instanceof Error && (e.name === 'CompileError' || e.name === 'LinkError')) throw new Error(`wasm-tier: ${bodies.length} functions did not compile: ${e.message}`)
      threadFunctions = null
      return undefined
    }
    return bodies.map((_, i) => {
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

let threadFunctions: WasmFunctions | null | undefined

function wasmFunctions(): WasmFunctions | undefined {
  if (threadFunctions === undefined) {
    const api = wasmApi()
    threadFunctions = api === undefined ? null : new WasmFunctions(api)
  }
  return threadFunctions ?? undefined
}

/** A hart's view of its context in the arena (`AREA.ctx`, as int32 words), which a compiled function's caller fills. */
export type WasmContext = Int32Array

/** The context view of the hart whose area starts at `base` of `buffer`. */
export function wasmContext(buffer: ArrayBuffer, base: number): WasmContext {
  return new Int32Array(buffer, base + AREA.ctx, 32)
}

// ---- the region form: a page's code in one function -------------------------------------------

/** The longest straight run a region's budget test covers at once (as region.ts). */
const REGION_RUN = 32

/**
 * Compiles the decoded instructions of one page run at least `minHits` times (`slots`: a decode-cache
 * page, index = offset / 2) into one WebAssembly function with the JS region tier's contract
 * (`region.ts`, {@link RegionFn}): a dispatcher loop (`br_table` on the pc's page offset) enters
 * any compiled instruction; straight-line code falls through; branches and jumps set the pc and go
 * round the dispatcher; it leaves when the pc is not a compiled instruction of the page, when a run
 * would overstep the budget (each entry's run length is checked before it starts), or before an
 * access it cannot serve. Counting as region.ts: entering at ordinal e, `n` becomes n − e, so
 * before instruction k exactly n + k completed. Null when nothing compiles.
 */
export function compileWasmRegion(slots: readonly (Decoded | undefined)[], minHits: number, memory: WasmMemory, areaBase: number, ctx: WasmContext): Region | null {
  const t = wasmFunctions()
  if (t === undefined) return null
  const ds: Decoded[] = []
  const offs: number[] = []
  const ord = new Int32Array(PAGE / 2).fill(-1)
  for (let off = 0; off < PAGE; off += 2) {
    const d = slots[off >>> 1]
    if (d === undefined || off + d.len > PAGE || d.hits < minHits || !(wasmCompiles(d) || d.op === Op.JALR)) continue
    ord[off >>> 1] = ds.length
    ds.push(d)
    offs.push(off)
  }
  const K = ds.length
  if (K === 0) return null
  const terminal = (k: number) => BRANCHES[ds[k]!.op as Op] !== undefined || ds[k]!.op === Op.JAL || ds[k]!.op === Op.JALR
  // Runs: fall through to the next case only when it is the next instruction in memory.
  const rl = new Int32Array(K)
  const ends = new Array<boolean>(K).fill(false)
  let runStart = 0
  for (let k = 0; k < K; k++) {
    if (terminal(k) || offs[k + 1] !== offs[k]! + ds[k]!.len || k + 1 - runStart >= REGION_RUN) {
      ends[k] = true
      for (let j = runStart; j <= k; j++) rl[j] = k + 1 - j
      runStart = k + 1
    }
  }

  // Entries: the first instruction of each run (a jump, a branch, a return lands there, and the
  // hart enters a region only where `blockLength` is 2, see Hart.compilePage). Fewer entries than
  // instructions keep the dispatcher's block nest shallow, which is what V8's compile time grows with.
  const entries: number[] = []
  const entryOf = new Int32Array(K).fill(-1)
  for (let k = 0; k < K; k++) {
    if (k === 0 || ends[k - 1]) {
      entryOf[k] = entries.length
      entries.push(k)
    }
  }
  const E = entries.length
  const c = new Code()
  const OUT_PC = AREA.ctx + 48
  /** Leaves with the pc at page offset `off` (or the pc local when undefined) after n + `count` instructions. */
  const exitAt = (off: number | undefined, count: number) => {
    c.get(P_BASE)
    if (off === undefined) c.get(L_PC)
    else c.get(L_PB).i64(off).op(I64_ADD)
    c.mem(I64_STORE, OUT_PC)
    c.get(L_N)
    if (count !== 0) c.i32(count).op(I32_ADD)
    c.set(L_RET).br(OUT)
  }
  /** After instruction k, control to the pc on the stack (an i64): round the dispatcher. */
  const toDispatch = (k: number) => {
    c.set(L_PC).get(L_N).i32(k + 1).op(I32_ADD).set(L_N).br(TOP)
  }
  const e = new Emitter(c, (off) => c.get(L_PB).i64(off).op(I64_ADD), (off, k) => exitAt(off, k))

  c.open(BLOCK) // out: depth 1
  c.open(LOOP) // the dispatcher: depth 2
  // A block per run (its code follows the block's end) and a stub per run (entered by the
  // br_table: the budget test, then a branch to the run).
  const caseDepth: number[] = new Array<number>(E)
  for (let r = E - 1; r >= 0; r--) {
    c.open(BLOCK)
    caseDepth[r] = c.depth
  }
  const stubDepth: number[] = new Array<number>(E)
  for (let r = E - 1; r >= 0; r--) {
    c.open(BLOCK)
    stubDepth[r] = c.depth
  }
  c.open(BLOCK) // default
  // off = pc − page base; outside the page or odd: the default
  c.get(L_PC).get(L_PB).op(I64_SUB).tee(L_EA).i64(PAGE).op(I64_GE_U).brIf(c.depth)
  c.get(L_EA).op(I32_WRAP).tee(L_O).i32(1).op(I32_AND).brIf(c.depth)
  c.get(L_O).i32(1).op(I32_SHR_U)
  c.op(0x0e) // br_table
  uleb(c.b, PAGE / 2)
  for (let i = 0; i < PAGE / 2; i++) {
    const r = ord[i]! < 0 ? -1 : entryOf[ord[i]!]!
    uleb(c.b, r < 0 ? 0 : c.depth - stubDepth[r]!)
  }
  uleb(c.b, 0)
  c.end()
  exitAt(undefined, 0) // not an instruction this region compiled
  for (let r = 0; r < E; r++) {
    const k = entries[r]!
    c.end() // stub r
    // Enter the run at k only when the budget holds it all.
    c.get(L_N).i32(rl[k]!).op(I32_ADD).get(P_BUDGET).op(0x4b /* i32.gt_u */).open(IF)
    exitAt(undefined, 0)
    c.end()
    c.get(L_N).i32(k).op(I32_SUB).set(L_N).br(caseDepth[r]!)
  }
  for (let k = 0; k < K; k++) {
    if (entryOf[k]! >= 0) c.end() // the run starting at k
    const d = ds[k]!
    const off = offs[k]!
    const { rd, rs1, rs2, immN: imm } = d
    const next = off + d.len
    const cmp = BRANCHES[d.op as Op]
    if (cmp !== undefined) {
      e.reg(rs1)
      e.reg(rs2)
      c.op(cmp).open(IF, I64)
      c.get(L_PB).i64(off + imm).op(I64_ADD)
      c.else()
      c.get(L_PB).i64(next).op(I64_ADD)
      c.end()
      toDispatch(k)
    } else if (d.op === Op.JAL) {
      if (rd !== 0) {
        e.pcAt(next)
        e.setReg(rd)
      }
      c.get(L_PB).i64(off + imm).op(I64_ADD)
      toDispatch(k)
    } else if (d.op === Op.JALR) {
      // the target before the link (rd may be rs1)
      e.reg(rs1)
      c.i64(imm).op(I64_ADD).i64(-2).op(I64_AND).set(L_EA)
      if (rd !== 0) {
        e.pcAt(next)
        e.setReg(rd)
      }
      c.get(L_EA)
      toDispatch(k)
    } else {
      e.data(d, off, k)
      if (ends[k]) {
        c.get(L_PB).i64(next).op(I64_ADD)
        toDispatch(k)
      }
    }
  }
  c.end() // the dispatcher (not reached: the last case jumps)
  c.end() // out

  const pro = new Code()
  loadContext(pro)
  pro.get(P_BASE).mem(I64_LOAD, AREA.ctx + 24).set(L_PC)
  pro.get(P_BASE).mem(I64_LOAD, AREA.ctx + 56).set(L_PB)
  const body: number[] = []
  uleb(body, 2)
  uleb(body, I64_LOCALS)
  body.push(I64)
  uleb(body, I32_LOCALS)
  body.push(I32)
  for (const part of [pro.b, c.b]) for (const x of part) body.push(x)
  body.push(0x20, L_RET) // local.get ret
  body.push(0x0b)

  const index = t.compile([{ body }], memory)?.[0]
  if (index === undefined) return null
  const run = t.run
  const w = ctx
  const fn: RegionFn = (h: BlockHost, _xw: Int32Array, _view: DataView, base: number, budget: number) => {
    writeContext(w, h, h.pc)
    w[14] = base | 0
    w[15] = Math.floor(base / 4294967296) | 0
    const n = run(index, areaBase, budget > 0x7fffffff ? 0x7fffffff : budget)
    h.pc = w[13]! * 4294967296 + (w[12]! >>> 0)
    return n
  }
  t.hold(fn, index)
  return { fn, length: K, ds: entries.map((k) => ds[k]!), sourceLength: body.length }
}

// ---- the hot form: a block as the block tier traces it ----------------------------------------

/** The most instructions a hot trace holds. */
const HOT_MAX = 64
/** A memo site's empty page: no register's value >> 12 is 2^60. */
const MEMO_EMPTY_PAGE = 2 ** 60

/**
 * Compiles the block at `start` (a page offset of `slots`, a decode-cache page) to WebAssembly with
 * the block tier's contract (`block.ts`, {@link BlockFn}), for a block start visited as often as
 * the block tier's threshold: the trace runs on past conditional branches only to a branch or jump
 * back to its start (round that loop inside the function while the budget holds the first
 * segment), else it ends at its first conditional branch; it follows JAL within the page. Registers
 * live in i64 locals (V8's optimising compiler keeps them in machine registers); loads and stores
 * reach the direct window and the data TLB inline, through a page memo per site. Null when fewer than two
 * instructions compile.
 */
export function compileWasmBlock(slots: readonly (Decoded | undefined)[], start: number, memory: WasmMemory, areaBase: number, ctx: WasmContext): { fn: BlockFn; length: number } | null {
  const t = wasmFunctions()
  if (t === undefined) return null
  const ds: Decoded[] = []
  const offs: number[] = []
  const nexts: number[] = []
  const seen = new Set<number>()
  let off = start
  while (ds.length < HOT_MAX) {
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
  let end = -1
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]!
    if ((d.op === Op.JAL || BRANCHES[d.op as Op] !== undefined) && offs[i]! + d.immN === start) end = i
  }
  if (end < 0) end = ds.findIndex((d) => BRANCHES[d.op as Op] !== undefined)
  if (end >= 0) ds.length = offs.length = nexts.length = end + 1
  if (ds.length < 2) return null
  const last = ds.length - 1
  // Segments: the runs between conditional branches; a budget check before each after the first.
  const segment = (i: number) => {
    let j = i
    while (j < last && BRANCHES[ds[j]!.op as Op] === undefined) j++
    return j + 1 - i
  }
  const first = segment(0)
  const rels: number[] = []
  const exitIndex = (rel: number) => {
    let k = rels.indexOf(rel)
    if (k < 0) k = rels.push(rel) - 1
    return k
  }
  const c = new Code()
  /** Leaves with `h.pc` = pc0 + rel after n + `count` instructions. */
  const exit = (rel: number, count: number) => {
    c.get(L_N).i32(count).op(I32_ADD).i32(16).op(I32_SHL).i32(exitIndex(rel)).op(I32_OR).set(L_RET).br(OUT)
  }
  /** Control to `rel` after `count` instructions: round the loop when it is the start and the budget holds the first segment, else out. */
  const go = (rel: number, count: number) => {
    if (rel === 0) {
      c.get(L_N).i32(count + first).op(I32_ADD).get(P_BUDGET).op(I32_LE_U).open(IF)
      c.get(L_N).i32(count).op(I32_ADD).set(L_N).br(TOP)
      c.end()
    }
    exit(rel, count)
  }
  let needPc = false
  const e = new Emitter(
    c,
    (rel) => {
      needPc = true
      c.get(L_PC).i64(rel).op(I64_ADD)
    },
    exit,
    true,
  )
  c.open(BLOCK) // out
  c.open(LOOP) // top
  for (let i = 0; i <= last; i++) {
    const d = ds[i]!
    const rel = offs[i]! - start
    const cmp = BRANCHES[d.op as Op]
    if (i > 0 && BRANCHES[ds[i - 1]!.op as Op] !== undefined) {
      c.get(L_N).i32(i + segment(i)).op(I32_ADD).get(P_BUDGET).op(0x4b /* i32.gt_u */).open(IF)
      exit(rel, i)
      c.end()
    }
    if (cmp !== undefined) {
      e.reg(d.rs1)
      e.reg(d.rs2)
      c.op(cmp).open(IF)
      go(rel + d.immN, i + 1)
      c.end()
    } else if (d.op === Op.JAL) {
      if (d.rd !== 0) {
        e.pcAt(rel + d.len)
        e.setReg(d.rd)
      }
    } else e.data(d, rel, i)
    if (i === last) go(nexts[i]! - start, i + 1)
  }
  c.end() // top
  c.end() // out

  const pro = new Code()
  for (const r of [...e.used].sort((a, b) => a - b)) pro.get(P_BASE).mem(I64_LOAD, AREA.regs + 8 * r).set(X + r - 1)
  loadContext(pro)
  if (needPc) pro.get(P_BASE).mem(I64_LOAD, AREA.ctx + 24).set(L_PC)
  // Memo sites (Emitter.memoSite): globals 2k, 2k + 1 per site, then the memo key they hold for;
  // all emptied when Hart.memoKey changed since.
  const globals: number[][] = []
  if (e.sites > 0) {
    const key = 2 * e.sites
    for (let k = 0; k < e.sites; k++) {
      const mp = [I64, 1, 0x42]
      slebNumber(mp, MEMO_EMPTY_PAGE)
      mp.push(0x0b)
      globals.push(mp, [I32, 1, 0x41, 0, 0x0b])
    }
    globals.push([I64, 1, 0x42, 0x7f, 0x0b]) // key −1: no memo key is negative
    pro.get(P_BASE).mem(I64_LOAD, AREA.ctx + 64).set(L_EA).get(L_EA).op(0x23)
    uleb(pro.b, key)
    pro.op(I64_NE).open(IF)
    pro.get(L_EA).op(0x24)
    uleb(pro.b, key)
    for (let k = 0; k < e.sites; k++) {
      pro.i64(MEMO_EMPTY_PAGE).op(0x24)
      uleb(pro.b, 2 * k)
    }
    pro.end()
  }
  const epi = new Code()
  for (const r of [...e.written].sort((a, b) => a - b)) epi.get(P_BASE).get(X + r - 1).mem(I64_STORE, AREA.regs + 8 * r)
  epi.get(L_RET)
  const body: number[] = []
  uleb(body, 3)
  uleb(body, I64_LOCALS)
  body.push(I64)
  uleb(body, I32_LOCALS)
  body.push(I32)
  uleb(body, 31)
  body.push(I64)
  for (const part of [pro.b, c.b, epi.b]) for (const x of part) body.push(x)
  body.push(0x0b)

  const index = t.compile([{ body }], memory, globals)?.[0]
  if (index === undefined) return null
  const run = t.run
  const checks = lineCheckPairs(ds, offs)
  const checkSlots = checks.map(([slot]) => slot)
  const checkRecords = checks.map(([, j]) => ds[j]!)
  const head = ds[0]!
  const w = ctx
  const fn: BlockFn = (h: BlockHost, _xw: Int32Array, _view: DataView, budget: number) => {
    for (let k = 0; k < checkSlots.length; k++) {
      if (slots[checkSlots[k]!] !== checkRecords[k]) {
        // A store dropped a later line since compiling (block.ts lineChecks).
        head.block = undefined
        head.hits = 0
        return 0
      }
    }
    const pc0 = h.pc
    writeContext(w, h, pc0)
    const r = run(index, areaBase, budget > 0x7fff ? 0x7fff : budget)
    h.pc = pc0 + rels[r & 0xffff]!
    return r >>> 16
  }
  t.hold(fn, index)
  return { fn, length: first }
}

/** The prologue's part that every compiled function shares: the context's fields the Emitter's code reads (window, RAM base, TLB context, reservation, code lines). */
function loadContext(pro: Code): void {
  pro.get(P_BASE).mem(I64_LOAD, AREA.ctx).set(L_DLO).get(P_BASE).mem(I64_LOAD, AREA.ctx + 8).set(L_DHI).get(P_BASE).mem(I64_LOAD, AREA.ctx + 16).set(L_RB)
  pro.get(P_BASE).mem(I32_LOAD, AREA.ctx + 32).set(L_DC).get(P_BASE).mem(I32_LOAD, AREA.ctx + 36).set(L_RSV).get(P_BASE).mem(I32_LOAD, AREA.ctx + 40).set(L_LINES)
}

/** Writes what compiled code reads from the context (`AREA.ctx`): i64s as int32 halves (each lies within ±2^53). */
function writeContext(w: Int32Array, h: BlockHost, pc: number): void {
  const dlo = h.directLo, dhi = h.directHi, rb = h.ramBase
  w[0] = dlo | 0
  w[1] = Math.floor(dlo / 4294967296) | 0
  w[2] = dhi | 0
  w[3] = Math.floor(dhi / 4294967296) | 0
  w[4] = rb | 0
  w[5] = Math.floor(rb / 4294967296) | 0
  w[6] = pc | 0
  w[7] = Math.floor(pc / 4294967296) | 0
  w[8] = h.dtlbCtx
  w[9] = h.reservation === h.reservation ? 1 : 0
  w[10] = h.codeLines.byteOffset
  const mk = h.memoKey
  w[16] = mk | 0
  w[17] = Math.floor(mk / 4294967296) | 0
}
