/**
 * The in-memory index: key → where the value is, with multi-version history kept only while
 * snapshots need it.
 *
 * Keys are {@link keyId} strings (one code unit per byte, so string order = byte order).
 * Iteration in key order uses a sorted array of ids that is rebuilt lazily: new keys are
 * appended to an unsorted side list and merged in (sort + merge) at the next ordered read, and
 * ids whose key has gone are skipped and purged then. Point reads and writes are one `Map`
 * operation.
 */
import { keyId } from './bytes.js'

/** Where a value lives. */
export interface Entry {
  /** Sequence number of the frame that wrote it (its version). */
  readonly seq: number
  readonly length: number
  /** The value, when small enough to keep in RAM (or materialised for a snapshot). */
  inline: Uint8Array | null
  /** Device byte offset of the value (valid when `inline` is null). */
  pos: number
  /** crc32c(store id; key ‖ value), checked on every disk read. */
  crc: number
}

interface Superseded {
  readonly entry: Entry | null // null: the key did not exist
  readonly until: number // the seq of the write that replaced it
}

export class MemIndex {
  private readonly map = new Map<string, Entry>()
  private sorted: string[] = []
  private added: string[] = []
  private dirty = false
  /** id → versions replaced while a snapshot was live, oldest first. */
  private readonly history = new Map<string, Superseded[]>()
  /** seq of each live snapshot → how many snapshots hold it. */
  private readonly pins = new Map<number, number>()
  /** Seq of the last write applied. */
  seq = 0

  get size(): number {
    return this.map.size
  }

  get(id: string): Entry | undefined {
    return this.map.get(id)
  }

  /** Records `entry` (or a deletion when null) for `id`, written by frame `seq`. */
  set(id: string, entry: Entry | null, seq: number): void {
    const old = this.map.get(id)
    if (this.pins.size > 0) this.remember(id, old ?? null, seq)
    if (entry) {
      this.map.set(id, entry)
      if (!old) {
        this.added.push(id)
        this.dirty = true
      }
    } else if (old) {
      this.map.delete(id)
      this.dirty = true
    }
    if (seq > this.seq) this.seq = seq
  }

  /** Drops every key (reset), keeping history for live snapshots. */
  clear(seq: number): void {
    if (this.pins.size > 0) for (const [id, e] of this.map) this.remember(id, e, seq)
    this.map.clear()
    this.sorted = []
    this.added = []
    this.dirty = false
    if (seq > this.seq) this.seq = seq
  }

  /** Live entries in key order (the current state). */
  *ordered(from?: string, to?: string, reverse = false): IterableIterator<[string, Entry]> {
    for (const id of this.orderedIds(this.currentIds(), from, to, reverse)) {
      const e = this.map.get(id)
      if (e) yield [id, e]
    }
  }

  /** Pins the current state for a snapshot; returns its seq. */
  pin(): number {
    const s = this.seq
    this.pins.set(s, (this.pins.get(s) ?? 0) + 1)
    return s
  }

  unpin(seq: number): void {
    const n = this.pins.get(seq)
    if (n === undefined) return
    if (n > 1) this.pins.set(seq, n - 1)
    else this.pins.delete(seq)
    this.prune()
  }

  /** The entry `id` had at snapshot `at` (undefined: absent then). */
  getAt(id: string, at: number): Entry | undefined {
    const cur = this.map.get(id)
    if (cur && cur.seq <= at) return cur
    const versions = this.history.get(id)
    if (versions) {
      // The version visible at `at` is the first one replaced after `at`.
      for (const v of versions) if (v.until > at) return v.entry ?? undefined
    }
    return cur && cur.seq <= at ? cur : undefined
  }

  /** Entries visible at snapshot `at`, in key order. */
  *orderedAt(at: number, from?: string, to?: string, reverse = false): IterableIterator<[string, Entry]> {
    const ids = this.currentIds()
    let all = ids
    if (this.history.size > 0) {
      const extra = [...this.history.keys()].filter((id) => !this.map.has(id)).sort()
      all = mergeSorted(ids, extra)
    }
    for (const id of this.orderedIds(all, from, to, reverse)) {
      const e = this.getAt(id, at)
      if (e) yield [id, e]
    }
  }

  /** Every entry still reachable by a snapshot but no longer current (for compaction). */
  *historyEntries(): IterableIterator<Entry> {
    for (const versions of this.history.values()) for (const v of versions) if (v.entry) yield v.entry
  }

  /** Every current entry. */
  values(): IterableIterator<Entry> {
    return this.map.values()
  }

  /** Number of live snapshots. */
  get snapshots(): number {
    let n = 0
    for (const c of this.pins.values()) n += c
    return n
  }

  private remember(id: string, entry: Entry | null, until: number): void {
    let versions = this.history.get(id)
    if (!versions) this.history.set(id, (versions = []))
    versions.push({ entry, until })
  }

  /** Forgets versions no live snapshot can see. */
  private prune(): void {
    if (this.pins.size === 0) {
      this.history.clear()
      return
    }
    const oldest = Math.min(...this.pins.keys())
    for (const [id, versions] of this.history) {
      const keep = versions.filter((v) => v.until > oldest)
      if (keep.length === 0) this.history.delete(id)
      else if (keep.length !== versions.length) this.history.set(id, keep)
    }
  }

  /** The sorted ids of current keys (merging new ones in, dropping gone ones). */
  private currentIds(): string[] {
    if (this.dirty) {
      const fresh = this.added.filter((id) => this.map.has(id)).sort()
      const kept = this.sorted.filter((id) => this.map.has(id))
      this.sorted = mergeSorted(kept, dedupe(fresh))
      this.added = []
      this.dirty = false
    }
    return this.sorted
  }

  private *orderedIds(ids: string[], from: string | undefined, to: string | undefined, reverse: boolean): IterableIterator<string> {
    let lo = from === undefined ? 0 : lowerBound(ids, from)
    let hi = to === undefined ? ids.length : lowerBound(ids, to)
    if (!reverse) for (; lo < hi; lo++) yield ids[lo]!
    else for (hi--; hi >= lo; hi--) yield ids[hi]!
  }
}

/** First index whose id is ≥ `id`. */
function lowerBound(ids: string[], id: string): number {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid]! < id) lo = mid + 1
    else hi = mid
  }
  return lo
}

function mergeSorted(a: string[], b: string[]): string[] {
  if (b.length === 0) return a
  if (a.length === 0) return b
  const out: string[] = new Array(a.length + b.length)
  let i = 0
  let j = 0
  let k = 0
  while (i < a.length && j < b.length) {
    const x = a[i]!
    const y = b[j]!
    if (x < y) out[k++] = a[i++]!
    else if (y < x) out[k++] = b[j++]!
    else {
      out[k++] = x
      i++
      j++
    }
  }
  while (i < a.length) out[k++] = a[i++]!
  while (j < b.length) out[k++] = b[j++]!
  out.length = k
  return out
}

function dedupe(sorted: string[]): string[] {
  const out: string[] = []
  for (const id of sorted) if (out[out.length - 1] !== id) out.push(id)
  return out
}

export { keyId }
