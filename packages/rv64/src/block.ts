/**
 * The block tier (DESIGN §4): a trace of decoded instructions inside one 4 KiB page becomes one
 * JS function (`new Function`), with registers as 32-bit halves in locals (loaded from the hart's
 * Int32Array at entry, written back at exits: see {@link FLUSH}), operands and offsets as
 * constants, and no per-instruction dispatch or bookkeeping. The trace runs across 64-byte lines
 * and through direct jumps (JAL) to code of the page it does not hold yet; when it reaches a
 * branch or jump back to its start, it runs on past the conditional branches before it (taken:
 * the block exits there; a superblock) and goes round that loop inside the function (chaining
 * inside generated code) while the budget holds; else it ends at its first conditional branch
 * (included). A block ends at an indirect jump (JALR), at a jump it does not follow, at the page's end,
 * after {@link MAX_LENGTH} instructions, or before an instruction it does not compile (the
 * interpreter runs that one).
 *
 * Contract with the hart (`Hart.run`): `fn(h, xw, view, budget)` runs the block whose first
 * instruction is at `h.pc` (`pc0`, read at entry: the hart passes no pc, see RATIONALE "Why does
 * nothing in the interpreter's loop pass the pc to a call?") and returns how many instructions it completed, at most `budget`: the
 * hart enters it only when the budget holds its first segment (`length`, the instructions up to
 * its first conditional branch), and it goes on past a branch or round its loop only when the
 * budget holds the next segment, so it completes no more than the budget; it leaves `h.pc` at
 * the next instruction to run. 0: it ran nothing and left everything as it was (it found itself
 * stale, see {@link lineChecks}); the interpreter runs the instruction. Generated code never
 * traps: a load or store it cannot do from the direct window or a data-TLB hit (a miss, MMIO, a
 * page crossing, an address beyond ±2^53) returns early (`h.pc` at it) for the interpreter to do,
 * where a fault is taken exactly; a store into a line holding decoded code returns right after
 * the store.
 *
 * A block lives on the decoded record of its first instruction: a store into that line drops
 * every decoded record of the line (`DecodeCache.written`), FENCE.I drops them all, and the block
 * goes with them; a store into a later line it covers is caught at its entry ({@link lineChecks}).
 * Blocks use the pc only relative to `pc0`, so a physical page mapped at two virtual addresses
 * shares its blocks.
 */
import { Op, type Decoded } from './decode.js'
import type { BlockHost } from './block-host.js'

/** A compiled block: runs from `pc0`, returns the instructions completed. */
export type BlockFn = (h: BlockHost, xw: Int32Array, view: DataView, budget: number) => number

/**
 * The most instructions a block holds. Measured (bench/run.ts, 2026-12-06, interleaved, traces
 * then running past every branch): 8 → 227, 12 → 250–256, 16 → 231, 32 → 190 M instr/s, with
 * `--quick` (cold code) no worse at 12 than at 16 or 32: longer traces duplicate more code between
 * overlapping blocks (each block start compiles its own trace) and leave longer tails to the
 * interpreter where the slice's budget cannot hold a segment.
 */
const MAX_LENGTH = 12
const LINE_SHIFT = 6
const PAGE = 4096

/**
 * How an instruction's code refers to the pc, to the count of completed instructions and to the
 * way out: a block counts from its start and returns; a region (`region.ts`) counts from its
 * entry and jumps through its dispatcher.
 */
export interface Emit {
  /** The pc of the instruction at `rel` (block: bytes from `pc0`; region: the page offset). */
  pc(rel: number): string
  /** Instructions completed before instruction `i` (its index in `ds`). */
  done(i: number): string
  /** Statements that leave the generated code with `h.pc` = `pc` and `count` instructions completed. */
  exit(pc: string, count: string): string
  /** Statements after instruction `i` completed: control goes to `pc`. */
  jump(pc: string, i: number): string
  /** Loads and stores memoise their page in closure variables of the function (see {@link access}). */
  memo?: true
}

/**
 * How a block's code refers to its pc and count. It leaves through one way out: every exit breaks
 * out of its loop (see {@link ExitTable}), where the registers it wrote are written back once and
 * it returns. With the write-backs at each exit instead, they made most of a block's code (and of
 * V8's work compiling it).
 */
const BLOCK_PLACES = {
  pc: (rel: number) => `pc0 + ${rel}`,
  done: (i: number) => `n + ${i}`,
}

/**
 * A block's ways out, as a table: an exit to a pc at a fixed offset from the block's start after a
 * fixed count of this pass's instructions is `ex = <its index>; break out`, and the one epilogue
 * computes `h.pc = ep + xr[ex]` and returns `n + xc[ex]` (`ep` is `pc0`); an exit to a computed pc
 * (JALR) sets `ep` to it, its offset 0. So a way out that has not been taken yet when V8 optimises
 * the block holds no arithmetic of its own: taking it later does not deoptimise the block for want
 * of type feedback there. Measured in a Linux boot (`--trace-deopt`), with BEQ/BNE and the shifts
 * by a register made branch-free too: 24 of the blocks' 49 optimisations undone that way, each
 * sending the block back to V8's bytecode interpreter until it was hot again; after, 5 of 31.
 */
class ExitTable {
  private readonly rels: number[] = []
  private readonly counts: number[] = []

  /** The statements of an exit to `pc` (`pc0 + <rel>` or any expression) with `count` (`n + <k>`) instructions done. */
  exit(pc: string, count: string): string {
    const k = /^n \+ (\d+)$/.exec(count)
    if (k === null) throw new Error(`block exit count ${count}`)
    const fixed = /^pc0 \+ (-?\d+)$/.exec(pc)
    const i = this.index(fixed === null ? 0 : Number(fixed[1]), Number(k[1]))
    return fixed === null ? `ep = ${pc}; ex = ${i}; break out` : `ex = ${i}; break out`
  }

  /** The table's declarations (in the function that makes the block). */
  decl(): string {
    return `const xr = [${this.rels.join(', ')}], xc = [${this.counts.join(', ')}]`
  }

  private index(rel: number, count: number): number {
    for (let i = 0; i < this.rels.length; i++) if (this.rels[i] === rel && this.counts[i] === count) return i
    this.rels.push(rel)
    this.counts.push(count)
    return this.rels.length - 1
  }
}

/**
 * Registers live in locals (`xl5`/`xh5`: the low and high halves of x5) while generated code
 * runs: each register the code names is loaded from `xw` once, at entry, and each one it assigns
 * is written back where it leaves (the one way out, see ExitTable) and before anything that
 * reads registers (`h.jalrTarget`): the hart then sees the architectural registers as of that
 * instruction. `FLUSH` marks those places in an instruction's code; {@link withLocals}
 * puts the write-backs there once the function's code is known. x0 is the constant 0.
 */
export const FLUSH = '/*flush*/'

/**
 * The function's body with registers in the hart's array instead of locals (each `xl5` becomes
 * `xw[10]`; nothing to write back). The region tier uses it: loading and writing back every
 * register a page names at each entry and exit measured slower there (bench/run.ts --tier
 * region, 2026-12-06: 162/151 M instr/s in the array, 140/137 in locals).
 */
export function inArray(body: string): string {
  return body.split(FLUSH).join('').replace(/\bx([lh])(\d+)\b/g, (_, half: string, r: string) => `xw[${(Number(r) << 1) + (half === 'h' ? 1 : 0)}]`)
}

/** The function's body with its register locals: declared and loaded first, written back at each {@link FLUSH} (`flush`: those write-backs). */
export function withLocals(body: string): { decl: string; body: string; flush: string } {
  const used = new Set<number>()
  const written = new Set<number>()
  for (const m of body.matchAll(/\bx[lh](\d+)\b/g)) used.add(Number(m[1]))
  for (const m of body.matchAll(/\bx[lh](\d+) =(?!=)/g)) written.add(Number(m[1]))
  const regs = [...used].sort((a, b) => a - b)
  const decl = regs.length === 0 ? '' : `let ${regs.map((r) => `xl${r} = xw[${r << 1}], xh${r} = xw[${(r << 1) + 1}]`).join(', ')}`
  const flush = [...written].sort((a, b) => a - b).map((r) => `xw[${r << 1}] = xl${r}; xw[${(r << 1) + 1}] = xh${r}`).join('\n')
  return { decl, body: body.split(FLUSH).join(flush), flush }
}

/** The constants of a compiled function's prologue: the direct window, ramBase and the data TLB (constant while it runs: it writes no CSR, maps nothing, fences nothing). */
export const PROLOGUE = 'const dlo = h.directLo, dhi = h.directHi, ramBase = h.ramBase, dc = h.dtlbCtx, ldLo = h.dtlbLoadTagLo, ldHi = h.dtlbLoadTagHi, ldOff = h.dtlbLoadOff, stLo = h.dtlbStoreTagLo, stHi = h.dtlbStoreTagHi, stOff = h.dtlbStoreOff, tm = ldLo.length - 1, cl = h.codeLines, rsv = h.reservation'

/**
 * Compiles the block starting at page offset `start` of a decode-cache page, or null when it is
 * not worth it. `memo`: its loads and stores memoise their pages ({@link access}) — for code
 * compiled while the data TLB serves data (paging on); where the direct window does, its one range
 * test is cheaper than a memo, and measured, the memo's code made M-mode and S-mode bare code
 * slower (packages/rv64/bench/nested.ts, 486/493 → 402/313 M instr/s).
 */
export function compileBlock(slots: readonly (Decoded | undefined)[], start: number, memo = false): { fn: BlockFn; length: number } | null {
  const exits = new ExitTable()
  const emit: Emit = { ...BLOCK_PLACES, exit: (pc, count) => exits.exit(pc, count), jump: (pc, i) => exits.exit(pc, `n + ${i + 1}`), ...(memo ? { memo: true as const } : {}) }
  const ds: Decoded[] = []
  const offs: number[] = []
  const codes: Generated[] = []
  const nexts: number[] = [] // where control goes after each instruction (when it does not branch)
  let off = start
  while (ds.length < MAX_LENGTH) {
    const d = slots[off >>> 1]
    if (d === undefined || off + d.len > PAGE) break
    const code = gen(d, ds.length, off - start, emit)
    if (code === undefined) break
    ds.push(d)
    offs.push(off)
    if (code.link !== undefined) {
      // A direct jump: followed when its target lies in the page and not yet in the block (the
      // block's start: round the loop, see go()); else it ends the block.
      const target = off + d.immN
      if (target === start) {
        codes.push({ text: code.link, terminal: true, loop: true })
        nexts.push(target)
        break
      }
      if (target >= 0 && target < PAGE && !offs.includes(target) && ds.length < MAX_LENGTH) {
        codes.push({ text: code.link, terminal: false })
        nexts.push(target)
        off = target
        continue
      }
    }
    codes.push(code)
    off += d.len
    nexts.push(off)
    if (code.terminal && code.cond === undefined) break // a jump ends the block
  }
  // A trace runs on past conditional branches only to a branch or jump back to its start (a loop
  // it can go round inside the function); without one, it ends at its first conditional branch.
  // Measured with bench/run.ts --quick (cold code): traces past every branch cost a third of its
  // speed (47 against 68–79 M instr/s), longer code compiled for each block start that rarely runs
  // its tail.
  let end = -1
  for (let i = 0; i < codes.length; i++) if (codes[i]!.loop === true || (codes[i]!.cond !== undefined && offs[i]! + ds[i]!.immN === start)) end = i
  if (end < 0) end = codes.findIndex((c) => c.cond !== undefined)
  if (end >= 0) {
    ds.length = offs.length = codes.length = nexts.length = end + 1
  }
  if (ds.length < 2) return null
  const last = ds.length - 1
  // Segments: the runs between conditional branches. segment(i): the instructions from i to the
  // end of its segment (the next conditional branch, included, or the block's end).
  const segment = (i: number) => {
    let j = i
    while (j < last && codes[j]!.cond === undefined) j++
    return j + 1 - i
  }
  const first = segment(0)
  const exit = (rel: number, count: number) => emit.exit(`pc0 + ${rel}`, `n + ${count}`)
  // Control to `rel` after `count` instructions of this pass: round the loop again when it is the
  // block's start and the budget holds the first segment, else out.
  const go = (rel: number, count: number) => (rel === 0 ? `if (n + ${count + first} <= budget) {\nn += ${count}\ncontinue\n}\n${exit(rel, count)}` : exit(rel, count))
  const body: string[] = []
  for (let i = 0; i <= last; i++) {
    const code = codes[i]!
    const rel = offs[i]! - start
    const next = nexts[i]! - start
    if (code.loop === true) body.push(code.text, go(0, i + 1))
    else if (code.cond !== undefined) {
      body.push(`if (${code.cond}) {\n${go(rel + ds[i]!.immN, i + 1)}\n}`)
      body.push(i < last ? `if (n + ${i + 1 + segment(i + 1)} > budget) {\n${exit(next, i + 1)}\n}` : go(next, i + 1))
    } else {
      body.push(code.text)
      if (i === last && !code.terminal) body.push(go(next, i + 1))
    }
  }
  const code = withLocals(body.join('\n'))
  const checks = lineChecks(ds, offs)
  const guard = checks.length === 0 ? '' : `if (${checks.join(' || ')}) {\nds[0].block = undefined\nds[0].hits = 0\nreturn 0\n}`
  const memos = memoVariables(code.body)
  const source = `"use strict"\n${memos.decl}\n${exits.decl()}\nreturn function block(h, xw, view, budget) {\nconst pc0 = h.pc\n${guard}\n${memos.reset}\n${PROLOGUE}\n${code.decl}\nlet n = 0, ep = pc0, ex = 0\nout: for (;;) {\n${code.body}\n}\n${code.flush}\nh.pc = ep + xr[ex]\nreturn n + xc[ex]\n}`
  const fn = blockFactory(source)(ds, slots)
  return { fn, length: first }
}

/** How many distinct block sources this thread has compiled and keeps (for tests and benchmarks). */
export function compiledSources(): number {
  return factories.size
}

/**
 * Forgets this thread's compiled block sources: later blocks are compiled (and optimised by V8)
 * anew, as in a new process; blocks that exist keep working. For memory in a long-lived host, and
 * for benchmarks that time one boot as a first boot would run.
 */
export function clearCompiledBlocks(): void {
  factories.clear()
}

/** Compiled block sources of this thread, by source text (see {@link blockFactory}). */
const factories = new Map<string, (ds: readonly Decoded[], slots: readonly (Decoded | undefined)[]) => BlockFn>()
/**
 * The most sources {@link factories} keeps, oldest dropped first: three Linux boots in one process
 * left 199, holding 4.2 MiB of V8's heap (21 KiB each, with their bytecode and optimised code), so
 * the cache stays within ~21 MiB.
 */
const MAX_FACTORIES = 1024

/**
 * The function that makes a block of this source for its records (`ds`, `slots`). One per
 * distinct source in the thread: the blocks it makes are closures of one function literal, so V8
 * compiles and optimises their code once, and every hart, machine or page holding the same code
 * (the same instructions at the same offsets from the block's start) reuses it. Without it each
 * hart of an SMP guest, and each boot in a process, paid V8's optimising compile of every block again.
 */
function blockFactory(source: string): (ds: readonly Decoded[], slots: readonly (Decoded | undefined)[]) => BlockFn {
  let factory = factories.get(source)
  if (factory === undefined) {
    factory = new Function('ds', 'slots', source) as (ds: readonly Decoded[], slots: readonly (Decoded | undefined)[]) => BlockFn
    if (factories.size >= MAX_FACTORIES) factories.delete(factories.keys().next().value!)
    factories.set(source, factory)
  }
  return factory
}

/**
 * A block may run past the end of its first 64-byte line and follow jumps (within the page), but
 * it lives on the record of its first instruction, which a store into another line does not drop.
 * So it checks, at entry, one record per other line it covers: the first of its instructions
 * that touches the line (one starting there, or one reaching into it from the line before), which
 * `DecodeCache.written` drops with the line (it empties the line's slots and the slot just
 * before it). A record gone or decoded anew (another object) means the line was written since
 * compiling: the block then unhooks itself from its first record (to be compiled again after
 * as many visits as a new one) and returns 0, and the interpreter runs the instruction.
 */
function lineChecks(ds: readonly Decoded[], offs: readonly number[]): string[] {
  return lineCheckPairs(ds, offs).map(([slot, j]) => `slots[${slot}] !== ds[${j}]`)
}

/** The records a block checks at entry (see {@link lineChecks}): `[slot index, index in ds]`, one per line after its first. */
export function lineCheckPairs(ds: readonly Decoded[], offs: readonly number[]): [number, number][] {
  const checks: [number, number][] = []
  const lines = (j: number) => {
    const a = offs[j]! >>> LINE_SHIFT
    const b = (offs[j]! + ds[j]!.len - 1) >>> LINE_SHIFT
    return a === b ? [a] : [a, b]
  }
  const covered = new Set(lines(0))
  for (let j = 1; j < ds.length; j++) {
    for (const line of lines(j)) {
      if (covered.has(line)) continue
      covered.add(line)
      checks.push([offs[j]! >>> 1, j])
    }
  }
  return checks
}

/**
 * MUL on register halves: rd ← the low 64 bits of a × b. The 32 × 32 → 64-bit product of the
 * low words is built from 16-bit pieces (each partial product is exact in a double); the cross
 * terms only matter modulo 2^32 (Math.imul). The operands are read before rd is written.
 */
function mul(rd: number, a: number, b: number): string {
  if (rd === 0) return ''
  return `{ const al = ${lo(a)} >>> 0, bl = ${lo(b)} >>> 0, ah = ${hi(a)}, bh = ${hi(b)}
const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16, p00 = a0 * b0, mid = a0 * b1 + a1 * b0 + (p00 >>> 16)
${lo(rd)} = ((mid & 0xffff) << 16) | (p00 & 0xffff)
${hi(rd)} = (a1 * b1 + Math.floor(mid / 65536) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0 }`
}

const lo = (r: number) => (r === 0 ? '0' : `xl${r}`)
const hi = (r: number) => (r === 0 ? '0' : `xh${r}`)

/** rd ← a 32-bit value, sign-extended (`v` an int32 expression). */
const setW = (rd: number, v: string) => (rd === 0 ? '' : `{ const v = ${v}\n${lo(rd)} = v\n${hi(rd)} = v >> 31 }`)
/** rd ← a number inside ±2^53. */
const setNum = (rd: number, v: string) => (rd === 0 ? '' : `{ const v = ${v}\n${lo(rd)} = v | 0\n${hi(rd)} = Math.floor(v / 4294967296) | 0 }`)
/** rd ← 0 or 1. */
const setBool = (rd: number, c: string) => (rd === 0 ? '' : `${lo(rd)} = (${c}) ? 1 : 0\n${hi(rd)} = 0`)

/** Signed and unsigned 64-bit less-than on register halves (`bh`/`bl` may be constants). */
const lt = (ah: string, al: string, bh: string, bl: string) => `(${ah} < ${bh} || (${ah} === ${bh} && (${al} >>> 0) < (${bl} >>> 0)))`
const ltu = (ah: string, al: string, bh: string, bl: string) => `((${ah} >>> 0) < (${bh} >>> 0) || (${ah} === ${bh} && (${al} >>> 0) < (${bl} >>> 0)))`

/**
 * The effective address of a load or store, from rs1's halves: `ah` (rs1's high word) and `al`
 * (its low word as unsigned plus the immediate, carry not yet taken), and `va` as a number. An
 * address beyond ±2^53 (not exact as a number) leaves the block at this instruction for the
 * interpreter, which has the exact path.
 */
const ea = (d: Decoded, i: number, rel: number, x: Emit) => `const ah = ${hi(d.rs1)}, al = (${lo(d.rs1)} >>> 0) + ${d.immN}\nif (ah >= 0x1fffff || ah <= -0x1fffff) { ${x.exit(x.pc(rel), x.done(i))} }\nconst va = ah * 4294967296 + al`

/**
 * `o`, the RAM offset of the access: straight from `va` inside the hart's direct window, else
 * from the hart's data TLB (paging on), inline and in int32 arithmetic on the address's halves: a
 * hit for the page in this data context, the access not crossing the page, is the page's RAM
 * offset (see Hart.fillDtlb). Anything else — a miss, MMIO, a page crossing — leaves the block at
 * this instruction (`h.pc` at it, the instructions before it counted), and the interpreter runs
 * it: it may fault there, exactly, or fill the TLB for the next pass. So generated code never
 * calls anything that can trap, and carries no slow path of its own: measured, a block's slow
 * paths (a call, its write-backs, its exits) made most of its code and of V8's time compiling it.
 */
const offset = (size: number, kind: number, rel: number, i: number, x: Emit) => {
  const [tagLo, tagHi, off] = kind === 1 ? ['ldLo', 'ldHi', 'ldOff'] : ['stLo', 'stHi', 'stOff']
  return `let o\nif (va >= dlo && va + ${size} <= dhi) o = va - ramBase\nelse {\nconst vl = al | 0, vp = vl >>> 12, ti = vp & tm, w = vl & 4095\nif (${tagLo}[ti] === (vp | dc) && ${tagHi}[ti] === ((ah + (al > 0xffffffff ? 1 : al < 0 ? -1 : 0)) | 0) && w <= ${4096 - size}) o = ${off}[ti] + w\nelse { ${x.exit(x.pc(rel), x.done(i))} }\n}`
}

const LOAD_KIND = 1
const STORE_KIND = 2

/** The closure variable that memoises access site `i`'s page: `mp` the base register's page bits (its low word >> 12), `mh` its high word, `mo` the page's RAM offset. */
export const MEMO_EMPTY = 0x40000000 // no low word >> 12 equals it

/**
 * `o`, the RAM offset of a load's or store's access (see {@link offset}), declared in the
 * enclosing block. With `x.memo` (the block tier), first from the site's memo: the page of the
 * base register's value this site last reached, and that page's RAM offset, kept in closure
 * variables of the block function (`mp<i>`, `mh<i>`, `mo<i>`) across its calls. A hit is the base
 * register in that page and the access inside it (`w`, the access's offset from the base
 * register's page, in [0, 4096 − size]): int32 compares of the register's halves, no effective
 * address, no TLB lookup. A miss takes {@link offset}'s path and memoises what it found — a data
 * TLB hit, or the direct window when it holds the whole page. A memo is as valid as the TLB entry
 * or window it came from: the block drops its memos at entry when `h.memoKey` changed (any data
 * TLB flush, a change of the direct window, of the data context), and nothing inside a block
 * changes them. A TLB entry evicted by another page's fill stays a valid translation until a flush.
 */
const access = (d: Decoded, size: number, kind: number, rel: number, i: number, x: Emit) => {
  if (x.memo !== true) return `${ea(d, i, rel, x)}\n${offset(size, kind, rel, i, x)}`
  const max = 4096 - size
  const inPage = d.immN >= 0 ? `w <= ${max}` : `w >= 0 && w <= ${max}`
  const memo = `mp${i} = bl >> 12; mh${i} = bh; mo${i} = o - w`
  const [tagLo, tagHi, off] = kind === LOAD_KIND ? ['ldLo', 'ldHi', 'ldOff'] : ['stLo', 'stHi', 'stOff']
  return `const bl = ${lo(d.rs1)}, bh = ${hi(d.rs1)}, w = (bl & 4095) + ${d.immN}
let o
if ((bl >> 12) === mp${i} && bh === mh${i} && ${inPage}) o = mo${i} + w
else {
const ah = bh, al = (bl >>> 0) + ${d.immN}
if (ah >= 0x1fffff || ah <= -0x1fffff) { ${x.exit(x.pc(rel), x.done(i))} }
const va = ah * 4294967296 + al
if (va >= dlo && va + ${size} <= dhi) {
o = va - ramBase
if (${inPage} && va - w >= dlo && va - w + 4096 <= dhi) { ${memo} }
} else {
const vl = al | 0, vp = vl >>> 12, ti = vp & tm, wv = vl & 4095
if (${tagLo}[ti] === (vp | dc) && ${tagHi}[ti] === ((ah + (al > 0xffffffff ? 1 : al < 0 ? -1 : 0)) | 0) && wv <= ${max}) {
o = ${off}[ti] + wv
if (${inPage}) { ${memo} }
} else { ${x.exit(x.pc(rel), x.done(i))} }
}
}`
}

/** The declarations of the memo variables `body` names (see {@link access}), and the statement that empties them all. */
export function memoVariables(body: string): { decl: string; reset: string } {
  const sites = [...new Set([...body.matchAll(/\bmp(\d+)\b/g)].map((m) => Number(m[1])))].sort((a, b) => a - b)
  if (sites.length === 0) return { decl: '', reset: '' }
  return {
    decl: `let mk = NaN, ${sites.map((s) => `mp${s} = ${MEMO_EMPTY}, mh${s} = 0, mo${s} = 0`).join(', ')}`,
    reset: `if (mk !== h.memoKey) { mk = h.memoKey; ${sites.map((s) => `mp${s} = ${MEMO_EMPTY}`).join('; ')} }`,
  }
}

function shiftLeft(rd: number, rs: number, sh: number): string {
  if (rd === 0) return ''
  if (sh === 0) return `${lo(rd)} = ${lo(rs)}\n${hi(rd)} = ${hi(rs)}`
  if (sh < 32) return `{ const l = ${lo(rs)}\n${hi(rd)} = (${hi(rs)} << ${sh}) | (l >>> ${32 - sh})\n${lo(rd)} = l << ${sh} }`
  return `${hi(rd)} = ${lo(rs)} << ${sh - 32}\n${lo(rd)} = 0`
}

function shiftRight(rd: number, rs: number, sh: number, arith: boolean): string {
  if (rd === 0) return ''
  if (sh === 0) return `${lo(rd)} = ${lo(rs)}\n${hi(rd)} = ${hi(rs)}`
  const op = arith ? '>>' : '>>>'
  if (sh < 32) return `{ const g = ${hi(rs)}\n${lo(rd)} = (${lo(rs)} >>> ${sh}) | (g << ${32 - sh})\n${hi(rd)} = (g ${op} ${sh}) | 0 }`
  return `{ const g = ${hi(rs)}\n${lo(rd)} = (g ${op} ${sh - 32}) | 0\n${hi(rd)} = ${arith ? 'g >> 31' : '0'} }`
}

const LOADS: Partial<Record<Op, [number, (rd: number) => string]>> = {
  [Op.LB]: [1, (rd) => setW(rd, 'view.getInt8(o)')],
  [Op.LH]: [2, (rd) => setW(rd, 'view.getInt16(o, true)')],
  [Op.LW]: [4, (rd) => setW(rd, 'view.getInt32(o, true)')],
  [Op.LD]: [8, (rd) => (rd === 0 ? '' : `${lo(rd)} = view.getInt32(o, true)\n${hi(rd)} = view.getInt32(o + 4, true)`)],
  [Op.LBU]: [1, (rd) => (rd === 0 ? '' : `${lo(rd)} = view.getUint8(o)\n${hi(rd)} = 0`)],
  [Op.LHU]: [2, (rd) => (rd === 0 ? '' : `${lo(rd)} = view.getUint16(o, true)\n${hi(rd)} = 0`)],
  [Op.LWU]: [4, (rd) => (rd === 0 ? '' : `${lo(rd)} = view.getInt32(o, true)\n${hi(rd)} = 0`)],
}

const STORES: Partial<Record<Op, [number, (rs: number) => string]>> = {
  [Op.SB]: [1, (rs) => `view.setInt8(o, ${lo(rs)})`],
  [Op.SH]: [2, (rs) => `view.setInt16(o, ${lo(rs)}, true)`],
  [Op.SW]: [4, (rs) => `view.setInt32(o, ${lo(rs)}, true)`],
  [Op.SD]: [8, (rs) => `view.setInt32(o, ${lo(rs)}, true)\nview.setInt32(o + 4, ${hi(rs)}, true)`],
}

/** An instruction's code: `terminal` when control leaves it other than to the next instruction; `cond`, a conditional branch's condition (taken when true). */
export interface Generated {
  text: string
  terminal: boolean
  cond?: string
  /** JAL: its code without the jump (rd ← the return address). */
  link?: string
  /** A jump back to the block's start (compileBlock). */
  loop?: boolean
}

/** The code of one instruction (index `i` in `ds`, at `rel`; see {@link Emit}), or undefined when it is not compiled. */
export function gen(d: Decoded, i: number, rel: number, x: Emit): Generated | undefined {
  const { rd, rs1, rs2, immN: imm } = d
  const pcHere = x.pc(rel)
  const pcNext = x.pc(rel + d.len)
  const plain = (text: string) => ({ text, terminal: false })
  const branch = (cond: string) => ({ text: x.jump(`(${cond}) ? ${x.pc(rel + imm)} : ${pcNext}`, i), terminal: true, cond })
  const load = LOADS[d.op as Op]
  if (load) return plain(`{ ${access(d, load[0], LOAD_KIND, rel, i, x)}\n${load[1](rd)} }`)
  const store = STORES[d.op as Op]
  // After the store, `h.stored` (drop decoded code it overwrote, clear an LR reservation it hit)
  // only when the line map says code lives in a line it touched or a reservation is held.
  if (store) return plain(`{ ${access(d, store[0], STORE_KIND, rel, i, x)}\n${store[1](rs2)}\nif ((cl[o >>> 6] | cl[(o + ${store[0] - 1}) >>> 6]) !== 0 || rsv === rsv) { if (h.stored(o, ${store[0]}, ${hi(d.rs1)} * 4294967296 + ((${lo(d.rs1)} >>> 0) + ${d.immN}))) { ${x.exit(pcNext, x.done(i + 1))} } } }`)
  switch (d.op) {
    case Op.LUI:
      return plain(rd === 0 ? '' : `${lo(rd)} = ${imm}\n${hi(rd)} = ${imm >> 31}`)
    case Op.AUIPC:
      return plain(setNum(rd, `${pcHere} + ${imm}`))
    case Op.ADDI:
      return plain(rd === 0 ? '' : `{ const l = (${lo(rs1)} >>> 0) + ${imm}\n${hi(rd)} = (${hi(rs1)} + (l > 0xffffffff ? 1 : l < 0 ? -1 : 0)) | 0\n${lo(rd)} = l | 0 }`)
    case Op.XORI:
      return plain(rd === 0 ? '' : `${hi(rd)} = ${hi(rs1)} ^ ${imm >> 31}\n${lo(rd)} = ${lo(rs1)} ^ ${imm}`)
    case Op.ORI:
      return plain(rd === 0 ? '' : `${hi(rd)} = ${hi(rs1)} | ${imm >> 31}\n${lo(rd)} = ${lo(rs1)} | ${imm}`)
    case Op.ANDI:
      return plain(rd === 0 ? '' : `${hi(rd)} = ${hi(rs1)} & ${imm >> 31}\n${lo(rd)} = ${lo(rs1)} & ${imm}`)
    case Op.SLTI:
      return plain(setBool(rd, lt(hi(rs1), lo(rs1), `${imm >> 31}`, `${imm}`)))
    case Op.SLTIU:
      return plain(setBool(rd, ltu(hi(rs1), lo(rs1), `${imm >> 31}`, `${imm}`)))
    case Op.SLLI:
      return plain(shiftLeft(rd, rs1, imm))
    case Op.SRLI:
      return plain(shiftRight(rd, rs1, imm, false))
    case Op.SRAI:
      return plain(shiftRight(rd, rs1, imm, true))
    case Op.ADD:
      return plain(rd === 0 ? '' : `{ const l = (${lo(rs1)} >>> 0) + (${lo(rs2)} >>> 0)\n${hi(rd)} = (${hi(rs1)} + ${hi(rs2)} + (l > 0xffffffff ? 1 : 0)) | 0\n${lo(rd)} = l | 0 }`)
    case Op.SUB:
      return plain(rd === 0 ? '' : `{ const l = (${lo(rs1)} >>> 0) - (${lo(rs2)} >>> 0)\n${hi(rd)} = (${hi(rs1)} - ${hi(rs2)} - (l < 0 ? 1 : 0)) | 0\n${lo(rd)} = l | 0 }`)
    case Op.XOR:
      return plain(rd === 0 ? '' : `${hi(rd)} = ${hi(rs1)} ^ ${hi(rs2)}\n${lo(rd)} = ${lo(rs1)} ^ ${lo(rs2)}`)
    case Op.OR:
      return plain(rd === 0 ? '' : `${hi(rd)} = ${hi(rs1)} | ${hi(rs2)}\n${lo(rd)} = ${lo(rs1)} | ${lo(rs2)}`)
    case Op.AND:
      return plain(rd === 0 ? '' : `${hi(rd)} = ${hi(rs1)} & ${hi(rs2)}\n${lo(rd)} = ${lo(rs1)} & ${lo(rs2)}`)
    case Op.SLT:
      return plain(setBool(rd, lt(hi(rs1), lo(rs1), hi(rs2), lo(rs2))))
    case Op.SLTU:
      return plain(setBool(rd, ltu(hi(rs1), lo(rs1), hi(rs2), lo(rs2))))
    // Shifts by a register: both shapes (amount below 32, and 32–63) computed, one picked, so no
    // arithmetic runs only for some amounts (an amount class first met after V8 optimised the
    // block would deoptimise it: see ExitTable). JS masks a shift amount to 5 bits; the bits
    // crossing the halves move in two steps, so an amount of 0 moves none.
    case Op.SLL:
      return plain(rd === 0 ? '' : `{ const s = ${lo(rs2)} & 63, l = ${lo(rs1)}, g = ${hi(rs1)}, small = s < 32, ls = l << s, hs = (g << s) | ((l >>> 1) >>> (31 - s))\n${hi(rd)} = small ? hs : ls\n${lo(rd)} = small ? ls : 0 }`)
    case Op.SRL:
    case Op.SRA: {
      const op = d.op === Op.SRA ? '>>' : '>>>'
      return plain(rd === 0 ? '' : `{ const s = ${lo(rs2)} & 63, l = ${lo(rs1)}, g = ${hi(rs1)}, small = s < 32, gs = (g ${op} s) | 0, ls = (l >>> s) | ((g << 1) << (31 - s))\n${lo(rd)} = small ? ls : gs\n${hi(rd)} = small ? gs : ${d.op === Op.SRA ? 'g >> 31' : '0'} }`)
    }
    case Op.SLLW:
      return plain(setW(rd, `${lo(rs1)} << (${lo(rs2)} & 31)`))
    case Op.SRLW:
      return plain(setW(rd, `(${lo(rs1)} >>> (${lo(rs2)} & 31)) | 0`))
    case Op.SRAW:
      return plain(setW(rd, `${lo(rs1)} >> (${lo(rs2)} & 31)`))
    case Op.ADDIW:
      return plain(setW(rd, `(${lo(rs1)} + ${imm}) | 0`))
    case Op.SLLIW:
      return plain(setW(rd, `${lo(rs1)} << ${imm}`))
    case Op.SRLIW:
      return plain(setW(rd, `(${lo(rs1)} >>> ${imm}) | 0`))
    case Op.SRAIW:
      return plain(setW(rd, `${lo(rs1)} >> ${imm}`))
    case Op.ADDW:
      return plain(setW(rd, `(${lo(rs1)} + ${lo(rs2)}) | 0`))
    case Op.SUBW:
      return plain(setW(rd, `(${lo(rs1)} - ${lo(rs2)}) | 0`))
    case Op.MUL:
      return plain(mul(rd, rs1, rs2))
    case Op.MULW:
      return plain(setW(rd, `Math.imul(${lo(rs1)}, ${lo(rs2)})`))
    // The W divisions on int32 halves (spec M chapter: by zero all ones / the dividend; the
    // overflow MIN / -1 gives MIN, remainder 0: 2^31 | 0 and -0 | 0 are just that). A quotient of
    // 32-bit integers as a double is never rounded onto an integer it is not, so `| 0` truncates
    // it exactly (and wraps DIVUW's unsigned 32-bit result to the sign-extended one).
    case Op.DIVW:
      return plain(setW(rd, `${lo(rs2)} === 0 ? -1 : (${lo(rs1)} / ${lo(rs2)}) | 0`))
    case Op.DIVUW:
      return plain(setW(rd, `${lo(rs2)} === 0 ? -1 : ((${lo(rs1)} >>> 0) / (${lo(rs2)} >>> 0)) | 0`))
    case Op.REMW:
      return plain(setW(rd, `${lo(rs2)} === 0 ? ${lo(rs1)} : (${lo(rs1)} % ${lo(rs2)}) | 0`))
    case Op.REMUW:
      return plain(setW(rd, `${lo(rs2)} === 0 ? ${lo(rs1)} : ((${lo(rs1)} >>> 0) % (${lo(rs2)} >>> 0)) | 0`))
    case Op.BEQ:
      return branch(`((${lo(rs1)} ^ ${lo(rs2)}) | (${hi(rs1)} ^ ${hi(rs2)})) === 0`)
    case Op.BNE:
      return branch(`((${lo(rs1)} ^ ${lo(rs2)}) | (${hi(rs1)} ^ ${hi(rs2)})) !== 0`)
    case Op.BLT:
      return branch(lt(hi(rs1), lo(rs1), hi(rs2), lo(rs2)))
    case Op.BGE:
      return branch(`!${lt(hi(rs1), lo(rs1), hi(rs2), lo(rs2))}`)
    case Op.BLTU:
      return branch(ltu(hi(rs1), lo(rs1), hi(rs2), lo(rs2)))
    case Op.BGEU:
      return branch(`!${ltu(hi(rs1), lo(rs1), hi(rs2), lo(rs2))}`)
    case Op.JAL:
      return { text: `${setNum(rd, pcNext)}\n${x.jump(x.pc(rel + imm), i)}`, terminal: true, link: setNum(rd, pcNext) }
    case Op.JALR:
      return {
        text: `{ const ah = ${hi(rs1)}\nlet t\nif (ah < 0x1fffff && ah > -0x1fffff) { t = ah * 4294967296 + (${lo(rs1)} >>> 0) + ${imm}\nt -= t & 1 } else {\n${FLUSH}\nt = h.jalrTarget(ds[${i}]) }\n${setNum(rd, pcNext)}\n${x.jump('t', i)} }`,
        terminal: true,
      }
    default:
      return undefined
  }
}
