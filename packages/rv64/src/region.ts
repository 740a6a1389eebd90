/**
 * The region tier (issue #18): every decoded instruction of one 4 KiB page of code becomes one JS
 * function. V8 then sees a few big functions (one per page of hot code) instead of thousands of
 * tiny ones, so compiling early is cheap and V8's own tiers (bytecode → baseline → optimised)
 * take the hot pages up on their own, by how much of each function runs.
 *
 * Shape: a dispatcher loop, `for (;;) { e = ord[(pc − base) / 2]; switch (e) { case 0: … } }`.
 * Every compiled instruction is a `case` (any of them can be entered); straight-line code falls
 * through from one case to the next, and a branch or jump inside the page sets `pc` and goes
 * round the loop (chaining inside the generated code). It returns when `pc` leaves the page or
 * lands on an instruction it did not compile (the interpreter runs that one).
 *
 * Exactness, as in `block.ts`: `n` counts completed instructions; on entering at ordinal `e` it
 * becomes `n − e`, so before instruction `k` exactly `n + k` completed — a constant offset, no
 * per-instruction counting. Its code never traps (a load or store it cannot do inline returns
 * with `h.pc` at it, for the interpreter). A run of straight-line code starts only when the budget holds all of it (`rl[e]`), so the
 * function never exceeds its budget and `instret` and the interrupt checks fall exactly where
 * the interpreter's do. A store into a line holding decoded code returns at once (the region
 * itself is dropped with the line: `DecodeCache.written`).
 *
 * Registers stay in the hart's array here (`inArray`), unlike the block tier's locals: a page
 * names most registers, and loading and writing back all of them at every entry and exit measured
 * slower.
 *
 * The pc is used relative to `base` (the page's virtual address), so a physical page mapped at
 * two virtual addresses shares its region.
 */
import type { BlockHost } from './block-host.js'
import { FLUSH, PROLOGUE, gen, inArray, type Emit } from './block.js'
import type { Decoded } from './decode.js'

/**
 * A compiled page: runs from `pc` (inside the page at virtual `base`) for at most `budget`
 * instructions; returns those completed (leaving `h.pc` at the next), or -1 when `pc` is not
 * an instruction it compiled (nothing ran).
 */
export type RegionFn = (h: BlockHost, xw: Int32Array, view: DataView, base: number, budget: number) => number

/** The longest straight run the budget test covers at once (a longer one is split). */
const MAX_RUN = 32
const PAGE = 4096

const REGION_EMIT: Emit = {
  pc: (off) => `base + ${off}`,
  done: (k) => `n + ${k}`,
  exit: (pc, count) => `${FLUSH}\nh.pc = ${pc}\nreturn ${count}`,
  jump: (pc, k) => `pc = ${pc}\nn += ${k + 1}\ncontinue`,
}

export interface Region {
  fn: RegionFn
  /** Instructions compiled. */
  length: number
  /** The compiled instructions. */
  ds: readonly Decoded[]
  /** The generated source's length in characters (what compiling costs grows with it). */
  sourceLength: number
}

/** Compiles the decoded instructions of one page (`slots`: a decode-cache page, index = offset / 2) run at least `minHits` times (`Decoded.hits`); null when none compiles. */
export function compileRegion(slots: readonly (Decoded | undefined)[], minHits = 0): Region | null {
  const ord = new Int16Array(PAGE / 2).fill(-1)
  const ds: Decoded[] = []
  const offs: number[] = []
  const texts: string[] = []
  const terminal: boolean[] = []
  for (let off = 0; off < PAGE; off += 2) {
    const d = slots[off >>> 1]
    if (d === undefined || off + d.len > PAGE || d.hits < minHits) continue
    const code = gen(d, ds.length, off, REGION_EMIT)
    if (code === undefined) continue
    ord[off >>> 1] = ds.length
    ds.push(d)
    offs.push(off)
    texts.push(code.text)
    terminal.push(code.terminal)
  }
  if (ds.length === 0) return null
  // Runs: fall through to the next case only when it is the next instruction in memory.
  const rl = new Uint8Array(ds.length)
  const cases: string[] = []
  let runStart = 0
  for (let k = 0; k < ds.length; k++) {
    let text = `case ${k}:\n${texts[k]}`
    const next = offs[k]! + ds[k]!.len
    let ends = terminal[k]!
    if (!ends && (offs[k + 1] !== next || k + 1 - runStart >= MAX_RUN)) {
      text += `\n${REGION_EMIT.jump(REGION_EMIT.pc(next), k)}`
      ends = true
    }
    cases.push(text)
    if (ends) {
      for (let j = runStart; j <= k; j++) rl[j] = k + 1 - j
      runStart = k + 1
    }
  }
  const body = inArray(`for (;;) {
const off = pc - base
const e = off >= 0 && off < ${PAGE} && (off & 1) === 0 ? ord[off >>> 1] : -1
if (e < 0 || n + rl[e] > budget) {
${FLUSH}
h.pc = pc
return n === 0 && e < 0 ? -1 : n
}
n -= e
switch (e) {
${cases.join('\n')}
}
}`)
  const source = `"use strict"
return function region(h, xw, view, base, budget) {\nlet pc = h.pc
${PROLOGUE}
let n = 0
${body}
}`

  const fn = new Function('ds', 'ord', 'rl', source)(ds, ord, rl) as RegionFn
  return { fn, length: ds.length, ds, sourceLength: source.length }
}
