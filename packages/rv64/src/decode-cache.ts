/**
 * Decoded instructions cached per physical page of RAM (DESIGN §4: decode once). A lookup is
 * two array indexings on small integers — no hashing of 64-bit addresses. Stores into code
 * invalidate at 64-byte-line granularity: a per-line byte map says which lines hold decoded
 * instructions, so a store to plain data costs one array read.
 */
import type { Decoded } from './decode.js'
import type { RegionFn } from './region.js'

const PAGE_SHIFT = 12
const LINE_SHIFT = 6
const SLOTS = 1 << (PAGE_SHIFT - 1) // one slot per 2-byte parcel
const LINES_PER_PAGE = 1 << (PAGE_SHIFT - LINE_SHIFT)

export class DecodeCache {
  private readonly pages: ((Decoded | undefined)[] | undefined)[]
  /**
   * 1 where a 64-byte line holds (the start or end of) a cached instruction, by RAM offset / 64.
   * Generated code reads it to skip `written` for a store into a line without code.
   */
  readonly lines: Uint8Array
  /** Pages with a slot array, so `clear()` touches only those. */
  private readonly populated: number[] = []
  /**
   * The region tier (`region.ts`), per page: the compiled page, visits counted towards compiling
   * it, and how often it was compiled. A store that drops decoded code of a page drops its region
   * and restarts the count (FENCE.I and restore drop all).
   */
  readonly regions: (RegionFn | undefined)[]
  readonly visits: Int32Array
  readonly compiles: Uint8Array

  constructor(
    private readonly base: number,
    private readonly size: number,
    lines?: Uint8Array,
  ) {
    this.pages = new Array<(Decoded | undefined)[] | undefined>(Math.ceil(size / 4096)).fill(undefined)
    if (lines !== undefined && lines.length < Math.ceil(size / 64)) throw new RangeError(`a code-line map of ${lines.length} lines for ${size} bytes`)
    this.lines = lines ?? new Uint8Array(Math.ceil(size / 64))
    this.regions = new Array<RegionFn | undefined>(this.pages.length).fill(undefined)
    this.visits = new Int32Array(this.pages.length)
    this.compiles = new Uint8Array(this.pages.length)
  }

  /** The page index of `pa` (for `regions`, `visits`, `compiles`); -1 outside RAM. */
  pageIndex(pa: number): number {
    const o = pa - this.base
    return o < 0 || o >= this.size ? -1 : o >>> PAGE_SHIFT
  }

  get(pa: number): Decoded | undefined {
    const o = pa - this.base
    const page = this.pages[o >>> PAGE_SHIFT]
    return page === undefined || o < 0 ? undefined : page[(o & 4095) >>> 1]
  }

  /**
   * The slot array of the page holding `pa` (index: page offset / 2), or undefined. It stays
   * valid until `clear()`, which drops the arrays themselves; `written()` only empties slots.
   */
  pageSlots(pa: number): (Decoded | undefined)[] | undefined {
    const o = pa - this.base
    return o < 0 || o >= this.size ? undefined : this.pages[o >>> PAGE_SHIFT]
  }

  /** Caches `d` at `pa` (RAM only; the caller never caches an instruction straddling a page). */
  set(pa: number, d: Decoded): void {
    const o = pa - this.base
    if (o < 0 || o >= this.size) return
    const p = o >>> PAGE_SHIFT
    let page = this.pages[p]
    if (page === undefined) {
      page = new Array<Decoded | undefined>(SLOTS).fill(undefined)
      this.pages[p] = page
      this.populated.push(p)
    }
    page[(o & 4095) >>> 1] = d
    this.lines[o >>> LINE_SHIFT] = 1
    this.lines[(o + d.len - 1) >>> LINE_SHIFT] = 1
  }

  /** A store to `[pa, pa + size)` of RAM: drops the decoded instructions it may have changed; true when it did. */
  written(pa: number, size: number): boolean {
    const o = pa - this.base
    const first = o >>> LINE_SHIFT
    const last = (o + size - 1) >>> LINE_SHIFT
    let dropped = false
    if (this.lines[first]) {
      this.dropLine(first)
      dropped = true
    }
    if (last !== first && this.lines[last]) {
      this.dropLine(last)
      dropped = true
    }
    return dropped
  }

  private dropLine(line: number): void {
    this.lines[line] = 0
    const p = line >>> (PAGE_SHIFT - LINE_SHIFT)
    const page = this.pages[p]
    if (this.regions[p] !== undefined) {
      this.regions[p] = undefined
      this.visits[p] = 0
    }
    const start = (line & (LINES_PER_PAGE - 1)) << (LINE_SHIFT - 1)
    if (page) page.fill(undefined, start, start + (1 << (LINE_SHIFT - 1)))
    // An instruction starting in the last parcel before the line may reach into it.
    const o = (line << LINE_SHIFT) - 2
    if (o >= 0) {
      const prev = this.pages[o >>> PAGE_SHIFT]
      if (prev) prev[(o & 4095) >>> 1] = undefined
    }
  }

  /** Forgets everything (FENCE.I, snapshot restore). */
  clear(): void {
    for (const p of this.populated) {
      this.pages[p] = undefined
      this.regions[p] = undefined
      this.visits[p] = 0
      this.compiles[p] = 0
      this.lines.fill(0, p * LINES_PER_PAGE, (p + 1) * LINES_PER_PAGE)
    }
    this.populated.length = 0
  }
}
