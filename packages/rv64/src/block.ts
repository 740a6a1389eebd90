/**
 * The block tier (DESIGN §4): a straight run of decoded instructions inside one 64-byte line
 * becomes one JS function (`new Function`), with registers as 32-bit halves in an Int32Array,
 * operands and offsets as constants, and no per-instruction dispatch or bookkeeping. A block
 * ends at a branch or jump (included), at the end of its line, or before an instruction it does
 * not compile (the interpreter runs that one).
 *
 * Contract with the hart (`Hart.run`): `fn(h, xw, view, pc0)` runs the block whose first
 * instruction is at `pc0` and returns how many instructions it completed; it leaves `h.pc` at
 * the next instruction to run. Before an instruction that may trap it sets `h.pc` to it and
 * `h.blockDone` to the instructions completed before it, so a trap is taken exactly there. A
 * load or store that is not plain RAM returns early (`h.pc` at it) for the interpreter to do;
 * a store into a line holding decoded code returns right after the store.
 *
 * Keeping a block on the decoded record of its first instruction makes invalidation free: a
 * store into the line drops every decoded record of the line (`DecodeCache.written`), FENCE.I
 * drops them all, and the block goes with them. Blocks use the pc only relative to `pc0`, so a
 * physical page mapped at two virtual addresses shares its blocks.
 */
import { Op, type Decoded } from './decode.js'

/** A compiled block: runs from `pc0`, returns the instructions completed. */
export type BlockFn = (h: unknown, xw: Int32Array, view: DataView, pc0: number) => number

const MAX_LENGTH = 32
const LINE = 64

/** Compiles the block starting at page offset `start` of a decode-cache page, or null when it is not worth it. */
export function compileBlock(slots: readonly (Decoded | undefined)[], start: number): { fn: BlockFn; length: number } | null {
  const lineEnd = (start | (LINE - 1)) + 1
  const ds: Decoded[] = []
  const body: string[] = []
  let off = start
  let terminal = false
  while (ds.length < MAX_LENGTH) {
    const d = slots[off >>> 1]
    if (d === undefined || off + d.len > lineEnd) break
    const code = gen(d, ds.length, off - start)
    if (code === undefined) break
    body.push(code.text)
    ds.push(d)
    off += d.len
    if (code.terminal) {
      terminal = true
      break
    }
  }
  if (ds.length < 2) return null
  if (!terminal) body.push(`h.pc = pc0 + ${off - start}\nreturn ${ds.length}`)
  // The direct window, ramBase and the data context: constant while a block runs (it writes no CSR, maps nothing, fences nothing).
  const source = `"use strict"\nreturn function block(h, xw, view, pc0) {\nconst dlo = h.directLo, dhi = h.directHi, ramBase = h.ramBase, dctx = h.dctx, ldTag = h.dtlbLoadTag, ldOff = h.dtlbLoadOff, stTag = h.dtlbStoreTag, stOff = h.dtlbStoreOff\n${body.join('\n')}\n}`
  const fn = new Function('ds', 'mul64', source)(ds, mul64) as BlockFn
  return { fn, length: ds.length }
}

/**
 * MUL on register halves: xw[rd] ← the low 64 bits of xw[a] × xw[b] (indices of the low
 * halves). The 32 × 32 → 64-bit product of the low words is built from 16-bit pieces (each
 * partial product is exact in a double); the cross terms only matter modulo 2^32 (Math.imul).
 */
function mul64(xw: Int32Array, rd: number, a: number, b: number): void {
  const al = xw[a]! >>> 0
  const bl = xw[b]! >>> 0
  const ah = xw[a + 1]!
  const bh = xw[b + 1]!
  const a0 = al & 0xffff
  const a1 = al >>> 16
  const b0 = bl & 0xffff
  const b1 = bl >>> 16
  const p00 = a0 * b0
  const mid = a0 * b1 + a1 * b0 + (p00 >>> 16)
  xw[rd] = ((mid & 0xffff) << 16) | (p00 & 0xffff)
  xw[rd + 1] = (a1 * b1 + Math.floor(mid / 65536) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0
}

const lo = (r: number) => `xw[${r << 1}]`
const hi = (r: number) => `xw[${(r << 1) + 1}]`

/** rd ← a 32-bit value, sign-extended (`v` an int32 expression). */
const setW = (rd: number, v: string) => (rd === 0 ? '' : `{ const v = ${v}\n${lo(rd)} = v\n${hi(rd)} = v >> 31 }`)
/** rd ← a number inside ±2^53. */
const setNum = (rd: number, v: string) => (rd === 0 ? '' : `{ const v = ${v}\n${lo(rd)} = v | 0\n${hi(rd)} = Math.floor(v / 4294967296) | 0 }`)
/** rd ← 0 or 1. */
const setBool = (rd: number, c: string) => (rd === 0 ? '' : `${lo(rd)} = (${c}) ? 1 : 0\n${hi(rd)} = 0`)

/** Signed and unsigned 64-bit less-than on register halves (`bh`/`bl` may be constants). */
const lt = (ah: string, al: string, bh: string, bl: string) => `(${ah} < ${bh} || (${ah} === ${bh} && (${al} >>> 0) < (${bl} >>> 0)))`
const ltu = (ah: string, al: string, bh: string, bl: string) => `((${ah} >>> 0) < (${bh} >>> 0) || (${ah} === ${bh} && (${al} >>> 0) < (${bl} >>> 0)))`

/** The effective address of a load or store: number arithmetic on the halves, the hart's BigInt path beyond ±2^53. */
const ea = (d: Decoded, i: number) => `const ah = ${hi(d.rs1)}\nconst va = ah < 0x1fffff && ah > -0x1fffff ? ah * 4294967296 + (${lo(d.rs1)} >>> 0) + ${d.immN} : h.addr(ds[${i}])`

/**
 * `o`, the RAM offset of the access: straight from `va` inside the hart's direct window (nothing
 * can trap there), else through the hart's translation, which may trap (so `h.pc` and `h.blockDone`
 * are set first) or find MMIO (then the block returns, for the interpreter to do it).
 */
const offset = (size: number, kind: number, pcHere: string, i: number) => {
  const [tag, off] = kind === 1 ? ['ldTag', 'ldOff'] : ['stTag', 'stOff']
  // Else the hart's data TLB (paging on), inline: a hit for the page in this data context, the
  // access not crossing the page, is the page's RAM offset (see Hart.fillDtlb).
  return `let o\nif (va >= dlo && va + ${size} <= dhi) o = va - ramBase\nelse {\nconst vp = Math.floor(va / 4096), ti = vp & 255\nif (${tag}[ti] === vp * 8 + dctx && (va & 4095) <= ${4096 - size}) o = ${off}[ti] + (va - vp * 4096)\nelse {\nh.pc = ${pcHere}\nh.blockDone = ${i}\no = h.ramOffset(va, ${size}, ${kind})\nif (o < 0) return ${i}\n}\n}`
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
  if (sh < 32) return `{ const h = ${hi(rs)}\n${lo(rd)} = (${lo(rs)} >>> ${sh}) | (h << ${32 - sh})\n${hi(rd)} = (h ${op} ${sh}) | 0 }`
  return `{ const h = ${hi(rs)}\n${lo(rd)} = (h ${op} ${sh - 32}) | 0\n${hi(rd)} = ${arith ? 'h >> 31' : '0'} }`
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

/** The code of one instruction (index `i`, at `rel` bytes from the block start), or undefined when it is not compiled. */
function gen(d: Decoded, i: number, rel: number): { text: string; terminal: boolean } | undefined {
  const { rd, rs1, rs2, immN: imm } = d
  const pcHere = `pc0 + ${rel}`
  const pcNext = `pc0 + ${rel + d.len}`
  const plain = (text: string) => ({ text, terminal: false })
  const branch = (cond: string) => ({ text: `h.pc = (${cond}) ? pc0 + ${rel + imm} : ${pcNext}\nreturn ${i + 1}`, terminal: true })
  const load = LOADS[d.op]
  if (load) return plain(`{ ${ea(d, i)}\n${offset(load[0], 1, pcHere, i)}\n${load[1](rd)} }`)
  const store = STORES[d.op]
  if (store) return plain(`{ ${ea(d, i)}\n${offset(store[0], 2, pcHere, i)}\n${store[1](rs2)}\nif (h.stored(o, ${store[0]}, va)) { h.pc = ${pcNext}\nreturn ${i + 1} } }`)
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
      return plain(rd === 0 ? '' : `mul64(xw, ${rd << 1}, ${rs1 << 1}, ${rs2 << 1})`)
    case Op.MULW:
      return plain(setW(rd, `Math.imul(${lo(rs1)}, ${lo(rs2)})`))
    case Op.BEQ:
      return branch(`${lo(rs1)} === ${lo(rs2)} && ${hi(rs1)} === ${hi(rs2)}`)
    case Op.BNE:
      return branch(`${lo(rs1)} !== ${lo(rs2)} || ${hi(rs1)} !== ${hi(rs2)}`)
    case Op.BLT:
      return branch(lt(hi(rs1), lo(rs1), hi(rs2), lo(rs2)))
    case Op.BGE:
      return branch(`!${lt(hi(rs1), lo(rs1), hi(rs2), lo(rs2))}`)
    case Op.BLTU:
      return branch(ltu(hi(rs1), lo(rs1), hi(rs2), lo(rs2)))
    case Op.BGEU:
      return branch(`!${ltu(hi(rs1), lo(rs1), hi(rs2), lo(rs2))}`)
    case Op.JAL:
      return { text: `${setNum(rd, pcNext)}\nh.pc = pc0 + ${rel + imm}\nreturn ${i + 1}`, terminal: true }
    case Op.JALR:
      return {
        text: `{ const ah = ${hi(rs1)}\nlet t\nif (ah < 0x1fffff && ah > -0x1fffff) { t = ah * 4294967296 + (${lo(rs1)} >>> 0) + ${imm}\nt -= t & 1 } else t = h.jalrTarget(ds[${i}])\n${setNum(rd, pcNext)}\nh.pc = t\nreturn ${i + 1} }`,
        terminal: true,
      }
    default:
      return undefined
  }
}
