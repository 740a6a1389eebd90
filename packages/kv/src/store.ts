/**
 * The store: one appender owns the log; writers fill a shared log buffer, so concurrent
 * writers share one device write and one flush (group commit). See `format.ts` for the bytes
 * on disk and `docs/RATIONALE.md` for why it is built this way.
 */
import type { BlockDevice } from '@honk/block'
import { bytesToString, keyBytes, keyId, prefixEnd, toBytes } from './bytes.js'
import { crc32c } from './crc32c.js'
import { KvClosedError, KvCorruptError, KvFullError, KvInUseError, KvInvalidError, KvIoError, KvReadOnlyError } from './errors.js'
import {
  BLANK_CHECK_BYTES,
  FRAME_HEADER,
  FRAME_MAGIC,
  MAX_KEY,
  OP_DELETE,
  OP_HEADER,
  OP_PUT,
  decodeFrameHead,
  decodeSuperblock,
  encodeFrame,
  encodeSuperblock,
  frameSize,
  type FrameHead,
  type FrameOp,
  type Superblock,
} from './format.js'
import { MemIndex, type Entry } from './memindex.js'
import type { BatchOp, Bytes, KV, KVDamage, KVOptions, KVReader, KVRecovery, KVSnapshot, KVStats, RangeOptions, WriteOptions } from './types.js'

/** Options of {@link openKV} beyond tuning. */
export interface OpenOptions extends KVOptions {
  /**
   * Format the device even if it holds something that is not a valid store. Without it, a
   * device whose superblocks are both damaged (but not blank) fails with `KvCorruptError`
   * rather than being silently wiped.
   */
  format?: boolean
  /**
   * Open without writing a single byte: no generation bump, no superblock repair, no format (a
   * blank device reads as an empty store). Writes, `compact` and `reset` throw
   * `KvReadOnlyError`. Any number of read-only opens may share a device, also with a writer
   * (they see the store as it was at their open).
   */
  readOnly?: boolean
  /**
   * What to do with damage in the middle of the log (unreadable bytes followed by intact frames
   * that prove the missing ones had been flushed, i.e. acknowledged data lost). A torn tail (the
   * writes a crash cut short) is always discarded; it is not damage.
   *  - 'strict' (default): fail with `KvCorruptError` naming the byte range and the lost seqs;
   *    nothing is written. Like RocksDB's kTolerateCorruptedTailRecords: only a tail may be torn.
   *  - 'point-in-time': recover the log up to the damage, nothing after it (a state that
   *    existed, minus acknowledged writes). Like RocksDB's kPointInTimeRecovery.
   *  - 'salvage': recover every intact frame, skipping the unreadable ones (a state that may
   *    never have existed: later writes over a missing one). Like kSkipAnyCorruptedRecords.
   * With damage, a non-strict writable open first rewrites the recovered state into the other
   * region (a compaction), so the damaged bytes are never appended over; `kv.recovery` lists
   * what was lost.
   */
  recovery?: 'strict' | 'point-in-time' | 'salvage'
  /** Called once with the recovery report before `openKV` resolves (also on `kv.recovery`). */
  onRecovery?: (report: KVRecovery) => void
}

/** Writable stores open in this process, per device: a second writer is refused. */
const writers = new WeakMap<BlockDevice, string>()

/** Bytes searched per step when replay scans for frames after a break in the log. */
const SCAN_STEP = 64 * 1024
/** Write size of compaction. */
const CHUNK = 1 << 20
/** A log buffer starts this big and grows by doubling… */
const INITIAL_BUFFER = 16 * 1024
/** …up to this size; later writes wait for the appender (backpressure). */
const MAX_BUFFER = 4 << 20
/** Bounded retries when a disk-resident value moved under a concurrent read. */
const READ_RETRIES = 8

/** Frames encoded but not yet written, starting at block-aligned region offset `base`. */
interface LogBuffer {
  base: number
  /** Bytes before the first new frame (the rewritten partial tail block). */
  prefix: number
  /** Bytes filled from `base`. */
  used: number
  data: Uint8Array
  /** Durable writers waiting for this buffer's flush. */
  waiters: { resolve: () => void; reject: (e: unknown) => void }[]
  /** Large values served from `data` until it is written. */
  pending: { entry: Entry; at: number }[]
  /** The seq of the last frame in it. */
  lastSeq: number
}

/** A frame read back during replay. */
interface ReadFrame {
  head: FrameHead
  data: Uint8Array
}

type Request =
  | { kind: 'write'; ops: FrameOp[]; durable: boolean; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'sync' | 'compact' | 'reset' | 'close'; resolve: () => void; reject: (e: unknown) => void }

/**
 * Opens the store on `dev`: replays an existing one (discarding a torn tail) or formats a
 * blank device (both superblocks and the start of both regions zero). Throws `KvCorruptError`
 * if the device holds a damaged store it cannot recover under `options.recovery`, or data that
 * is not a store; `KvInUseError` if another writable store of this process has `dev` open.
 */
export async function openKV(dev: BlockDevice, options: OpenOptions = {}): Promise<KV> {
  const readOnly = options.readOnly ?? false
  if (!readOnly) {
    const holder = writers.get(dev)
    if (holder !== undefined) throw new KvInUseError(holder)
    writers.set(dev, `opened for writing by openKV at ${new Date().toISOString()}`)
  }
  let store: Store
  try {
    store = new Store(dev, options)
    await store.recover(options.format ?? false)
  } catch (e) {
    if (!readOnly) writers.delete(dev)
    throw e
  }
  options.onRecovery?.(store.recovery)
  return store
}

class Store implements KV {
  private readonly index = new MemIndex()
  private readonly inlineMax: number
  private readonly windowMs: number
  private readonly bs: number
  private sb!: Superblock
  /**
   * Which superblock copies (blocks 0 and 1) hold `sb` intact. An update writes a copy that
   * does not first, so a torn write can only ever hit a copy whose loss costs nothing: while
   * one copy is damaged or stale, the sole good copy is rewritten last.
   */
  private sbIntact: [boolean, boolean] = [false, false]
  /** Bytes of the active region written to the device. */
  private head = 0
  /**
   * Region offset where the next log buffer begins: `head`, or the next block boundary when the
   * tail block holds flushed bytes (a durable block is never rewritten, so a torn rewrite cannot
   * lose it).
   */
  private nextStart = 0
  /** Bytes of the partial block before `nextStart` (unflushed), rewritten with the next buffer. */
  private readonly tailBytes: Uint8Array
  /** The open log buffer (frames encoded, applied to the index, not yet written). */
  private buffer: LogBuffer | null = null
  /** A written buffer's array, recycled for the next one. */
  private spare: Uint8Array | null = null
  /** Requests that must wait for the appender, in call order. */
  private readonly slow: Request[] = []
  private appending = false
  /** Set while a control request runs: writes then queue behind it. */
  private exclusive = false
  private flushDue = false
  private flushTimer: ReturnType<typeof setTimeout> | undefined
  private unflushed = false
  private closed = false
  private failure: Error | undefined
  readonly readOnly: boolean
  private readonly mode: 'strict' | 'point-in-time' | 'salvage'
  readonly recovery: KVRecovery
  /** Highest seq whose device write completed / that a flush made durable (the durable mark). */
  private writtenSeq = 0
  private flushedSeq = 0
  /** Checksummed bytes replay may still spend (see `spend`). */
  private replayBudget = 0
  private readonly counters = { puts: 0, deletes: 0, batches: 0, commits: 0, flushes: 0, compactions: 0 }

  constructor(private readonly dev: BlockDevice, options: OpenOptions) {
    this.inlineMax = options.inlineMax ?? 256
    this.windowMs = options.commitWindowMs ?? 10
    this.bs = dev.blockSize
    this.tailBytes = new Uint8Array(this.bs)
    this.readOnly = options.readOnly ?? false
    this.mode = options.recovery ?? 'strict'
    if (this.mode !== 'strict' && this.mode !== 'point-in-time' && this.mode !== 'salvage') throw new KvInvalidError(`unknown recovery mode ${String(this.mode)}`)
    this.recovery = { mode: this.mode, readOnly: this.readOnly, formatted: false, superblocks: [], region: 0, frames: 0, damage: [], tail: undefined, logEnd: 0, compacted: false }
  }

  // ---- recovery -------------------------------------------------------------------------

  async recover(format: boolean): Promise<void> {
    const dev = this.dev
    if (dev.blockCount < 4) throw new KvInvalidError(`device has ${dev.blockCount} blocks; the store needs at least 4`)
    if (this.bs < 128) throw new KvInvalidError(`block size ${this.bs} is below the 128-byte minimum`)
    const blocks = new Uint8Array(2 * this.bs)
    await this.io(() => dev.read(0, blocks), 'reading the superblocks')
    const candidates: Superblock[] = []
    const reasons: string[] = []
    for (let i = 0; i < 2; i++) {
      const sb = decodeSuperblock(blocks.subarray(i * this.bs, (i + 1) * this.bs))
      if (typeof sb === 'string') {
        reasons.push(`block ${i}: ${sb}`)
        continue
      }
      const geometry = this.checkGeometry(sb)
      if (geometry) reasons.push(`block ${i}: ${geometry}`)
      else candidates.push(sb)
    }
    if (candidates.length === 0) {
      // Blank means every block an open reads is zero; one bad sector is never "blank".
      const blank = !blocks.some((b) => b !== 0) && (await this.regionStartsBlank())
      if (!format && !blank) {
        throw new KvCorruptError(
          'superblocks (blocks 0 and 1)',
          `${reasons.join('; ')}; neither is valid and the device is not blank (open with { readOnly: true } to inspect nothing, or { format: true } to wipe it)`,
        )
      }
      if (this.readOnly) {
        if (format) throw new KvReadOnlyError('format')
        // A blank device reads as an empty store; nothing is written.
        this.sb = { ...this.formatGeometry(), storeId: 0 }
        this.index.seq = 0
        return
      }
      await this.format()
      return
    }
    candidates.sort((a, b) => b.generation - a.generation)
    this.sb = candidates[0]!
    for (let i = 0; i < 2; i++) {
      const copy = decodeSuperblock(blocks.subarray(i * this.bs, (i + 1) * this.bs))
      this.sbIntact[i] = typeof copy !== 'string' && copy.generation === this.sb.generation && this.checkGeometry(copy) === undefined
    }
    this.recovery.superblocks = reasons
    this.recovery.region = this.sb.activeRegion
    await this.replay()
    if (this.readOnly) return
    // A new generation before anything is appended: whatever a crash left past the end of the
    // log (frames of the old generation) can then never be mistaken for what we write next.
    // Both copies are rewritten, which also repairs a damaged one. Everything replayed is
    // durable once this flush is done: the superblock says so (durableThrough).
    // (The flush first: what was replayed may still sit in a device cache of this process.)
    await this.io(() => this.dev.flush(), 'flushing before the superblock at open')
    this.counters.flushes++
    const bumped: Superblock = { ...this.sb, generation: this.sb.generation + 1, durableThrough: this.index.seq }
    await this.writeSuperblocks(bumped, 'at open')
    this.sb = bumped
    this.writtenSeq = this.flushedSeq = this.index.seq
    if (this.recovery.damage.length > 0) {
      // Non-strict mode (strict threw in replay): move what was recovered out of the damaged
      // region before anything is appended, so no byte it could not read is ever written over.
      await this.compactNow()
      this.recovery.compacted = true
      this.recovery.region = this.sb.activeRegion
      this.recovery.logEnd = this.regionBase(this.sb.activeRegion) + this.head
    }
  }

  /** True when the first bytes of both regions (at the geometry a format would use) are zero. */
  private async regionStartsBlank(): Promise<boolean> {
    const g = this.formatGeometry()
    const bytes = Math.min(roundUp(BLANK_CHECK_BYTES, this.bs), g.regionBlocks * this.bs)
    const buf = new Uint8Array(bytes)
    for (const region of [0, 1]) {
      await this.io(() => this.dev.read(g.regionStart + region * g.regionBlocks, buf), `reading the start of region ${region}`)
      if (buf.some((b) => b !== 0)) return false
    }
    return true
  }

  private formatGeometry(): Superblock {
    return {
      generation: 0,
      startSeq: 1,
      activeRegion: 0,
      storeId: randomU32(),
      blockSize: this.bs,
      regionStart: 2,
      regionBlocks: Math.floor((this.dev.blockCount - 2) / 2),
      deviceBlocks: this.dev.blockCount,
      regionGeneration: 0,
      durableThrough: 0,
    }
  }

  private checkGeometry(sb: Superblock): string | undefined {
    if (sb.blockSize !== this.bs) return `block size ${sb.blockSize} differs from the device's ${this.bs}`
    if (sb.regionStart < 2 || sb.regionStart + 2 * sb.regionBlocks > this.dev.blockCount) {
      return `regions [${sb.regionStart}, ${sb.regionStart + 2 * sb.regionBlocks}) do not fit the device's ${this.dev.blockCount} blocks`
    }
    return undefined
  }

  private async format(): Promise<void> {
    this.sb = this.formatGeometry()
    // Both copies from the start: one bad sector can never leave the store without a superblock.
    await this.writeSuperblocks(this.sb, 'formatting')
    this.recovery.formatted = true
    this.recovery.logEnd = this.regionBase(0)
    this.head = 0
    this.nextStart = 0
    this.index.seq = 0
  }

  /**
   * Replays the active region: frames with consecutive seqs from startSeq. Where that chain
   * breaks (a checksum failure, a gap, an implausible frame), the rest of the region is scanned
   * for later frames of this region's life. If none of them carries a durable mark reaching the
   * missing seq, the break is a torn tail: writes a crash cut short, never flushed, discarded
   * (later frames included: they were never flushed either). Otherwise the missing frames had
   * been flushed — acknowledged data damaged in the middle of the log — and `mode` decides.
   */
  private async replay(): Promise<void> {
    const regionBytes = this.regionBytes()
    const region = this.sb.activeRegion
    const base = this.regionBase(region)
    const reader = new RegionReader(this.dev, base, regionBytes, this.bs)
    this.replayBudget = 8 * regionBytes + (64 << 20)
    let off = 0
    let expected = this.sb.startSeq
    let minGeneration = this.sb.regionGeneration
    const apply = (frame: ReadFrame, at: number) => {
      minGeneration = frame.head.generation
      let dataAt = at + FRAME_HEADER + OP_HEADER * frame.head.ops.length
      for (const op of frame.head.ops) {
        const key = frame.data.subarray(dataAt - at, dataAt - at + op.keyLength)
        const id = keyId(key)
        if (op.type === OP_DELETE) {
          this.index.set(id, null, frame.head.seq)
        } else {
          const valueAt = dataAt + op.keyLength
          const inline = op.valueLength <= this.inlineMax ? frame.data.slice(valueAt - at, valueAt - at + op.valueLength) : null
          this.index.set(id, { seq: frame.head.seq, length: op.valueLength, inline, pos: base + valueAt, crc: op.crc }, frame.head.seq)
        }
        dataAt += op.keyLength + op.valueLength
      }
      this.recovery.frames++
      off = at + frame.head.length
      expected = frame.head.seq + 1
    }
    for (;;) {
      let at = off
      let frame = await this.readFrameAt(reader, at, regionBytes, expected, expected, minGeneration)
      if (!frame && off % this.bs !== 0) {
        // The writer pads to a block boundary after a flush: look there too.
        at = roundUp(off, this.bs)
        frame = await this.readFrameAt(reader, at, regionBytes, expected, expected, minGeneration)
      }
      if (!frame) break
      apply(frame, at)
    }
    // The chain broke at `off`. Collect every later frame of this life, in log order.
    const later: { at: number; frame: ReadFrame }[] = []
    {
      let pos = off
      let seqFloor = expected
      let gen = minGeneration
      for (;;) {
        const found = await this.scanFrame(reader, pos, regionBytes, seqFloor, gen)
        if (!found) break
        later.push(found)
        pos = found.at + found.frame.head.length
        seqFloor = found.frame.head.seq + 1
        gen = found.frame.head.generation
      }
    }
    // The highest seq known flushed: the superblock's claim, or any later frame's mark.
    let durable = this.sb.durableThrough
    for (const l of later) durable = Math.max(durable, l.frame.head.durableSeq)
    let dropped = later.length
    if (durable >= expected) {
      // Damage: frames from `expected` to at least `durable` were flushed and are unreadable.
      dropped = 0
      let stopped = false
      for (let i = 0; i < later.length && !stopped; i++) {
        const l = later[i]!
        if (l.frame.head.seq > expected) {
          if (expected > durable) {
            dropped = later.length - i // a torn tail after the damage: never flushed
            break
          }
          this.recovery.damage.push(this.damageAt(off, l.at, expected, l.frame.head.seq - expected))
          if (this.mode === 'point-in-time') {
            dropped = later.length - i
            stopped = true
            break
          }
        }
        apply(l.frame, l.at)
      }
      // Frames up to `durable` were flushed, yet nothing intact follows the last one recovered.
      if (!stopped && expected <= durable) this.recovery.damage.push(this.damageAt(off, regionBytes, expected, durable - expected + 1))
    }
    if (dropped > 0 || (await this.tornAt(reader, off, regionBytes, minGeneration))) {
      this.recovery.tail = { start: base + off, regionStart: off, droppedFrames: dropped }
    }
    this.recovery.logEnd = base + off
    if (this.recovery.damage.length > 0 && this.mode === 'strict') {
      const d = this.recovery.damage[0]!
      const lost = this.recovery.damage.reduce((n, x) => n + x.lostSeqs, 0)
      throw new KvCorruptError(
        `device bytes [${d.start}, ${d.end}) (region ${region} bytes [${d.regionStart}, ${d.regionEnd}))`,
        `${lost} flushed log frame(s) unreadable (seq ${d.firstLostSeq}…${d.firstLostSeq + d.lostSeqs - 1}${this.recovery.damage.length > 1 ? `, and ${this.recovery.damage.length - 1} more range(s)` : ''}) ` +
          `with intact frames after them: acknowledged writes are lost. Nothing was written. Open with { readOnly: true, recovery: 'salvage' } to read what survives, ` +
          `or { recovery: 'salvage' } (every intact frame) / { recovery: 'point-in-time' } (up to the damage) to accept the loss and continue`,
      )
    }
    // The fix for the Go store's bug (inventory §1.3): the next seq continues from the floor even
    // when the region is empty, so new frames are never below startSeq and never discarded.
    this.index.seq = expected - 1
    this.head = off
    this.nextStart = roundUp(off, this.bs)
  }

  private damageAt(from: number, to: number, firstLostSeq: number, lostSeqs: number): KVDamage {
    const base = this.regionBase(this.sb.activeRegion)
    return { start: base + from, end: base + to, region: this.sb.activeRegion, regionStart: from, regionEnd: to, firstLostSeq, lostSeqs }
  }

  /** Whether the bytes where the log ends look like a write of this life that did not finish. */
  private async tornAt(reader: RegionReader, off: number, regionBytes: number, minGeneration: number): Promise<boolean> {
    // The next frame would start at `off` or, after a flush, at the next block boundary.
    for (const at of off % this.bs === 0 ? [off] : [off, roundUp(off, this.bs)]) {
      const n = Math.min(FRAME_HEADER, regionBytes - at)
      if (n <= 0) continue
      const bytes = await reader.bytes(at, n)
      if (!bytes.some((b) => b !== 0)) continue
      // A frame head of an earlier life of the region (lower generation) is a leftover, not a torn write.
      const v = new DataView(bytes.buffer, bytes.byteOffset, n)
      const leftover = n === FRAME_HEADER && v.getUint32(0, true) === FRAME_MAGIC && Number(v.getBigUint64(24, true)) < minGeneration
      if (!leftover) return true
    }
    return false
  }

  /**
   * A frame with seq in [seqLo, seqHi] and a generation in [minGeneration, the superblock's] at
   * region offset `off`, checksums verified; undefined when there is none.
   */
  private async readFrameAt(reader: RegionReader, off: number, regionBytes: number, seqLo: number, seqHi: number, minGeneration: number): Promise<ReadFrame | undefined> {
    if (off + FRAME_HEADER > regionBytes) return undefined
    const storeId = this.sb.storeId
    {
      // Cheap checks before any checksum: magic, seq and generation in range.
      const b = await reader.bytes(off, FRAME_HEADER)
      const v = new DataView(b.buffer, b.byteOffset, FRAME_HEADER)
      if (v.getUint32(0, true) !== FRAME_MAGIC) return undefined
      const seq = Number(v.getBigUint64(16, true))
      const generation = Number(v.getBigUint64(24, true))
      if (seq < seqLo || seq > seqHi || generation < minGeneration || generation > this.sb.generation) return undefined
    }
    let head = decodeFrameHead(await reader.bytes(off, FRAME_HEADER), 0, FRAME_HEADER, regionBytes - off, storeId)
    if (typeof head === 'string' && head.startsWith('need ')) {
      const need = Number(head.slice(5))
      if (off + need > regionBytes) return undefined
      this.spend(need)
      head = decodeFrameHead(await reader.bytes(off, need), 0, need, regionBytes - off, storeId)
    }
    if (typeof head === 'string' || head.seq < seqLo || head.seq > seqHi) return undefined
    if (head.generation < minGeneration || head.generation > this.sb.generation) return undefined
    this.spend(head.length)
    const data = await reader.bytes(off, head.length)
    let at = FRAME_HEADER + OP_HEADER * head.ops.length
    for (const op of head.ops) {
      if (crc32c(data, storeId, at, at + op.keyLength + op.valueLength) !== op.crc) return undefined
      at += op.keyLength + op.valueLength
    }
    return { head, data: data.slice() }
  }

  /**
   * Bounds the bytes replay checksums: a log this store wrote needs about the region's size
   * (each frame once, plus leftovers of earlier lives); a crafted image full of plausible frame
   * heads claiming huge op tables would otherwise cost time quadratic in the region.
   */
  private spend(bytes: number): void {
    this.replayBudget -= bytes
    if (this.replayBudget < 0) {
      throw new KvCorruptError(`log region ${this.sb.activeRegion}`, `more frame heads that fail their checks than a log this store wrote can hold: not a log of this store (nothing was written)`)
    }
  }

  /**
   * The first frame at region offset ≥ `from` with seq ≥ `seqFloor` and generation ≥
   * `minGeneration` (frames are not aligned: every byte where the magic appears is tried).
   */
  private async scanFrame(reader: RegionReader, from: number, regionBytes: number, seqFloor: number, minGeneration: number): Promise<{ at: number; frame: ReadFrame } | undefined> {
    const m0 = FRAME_MAGIC & 0xff
    const m1 = (FRAME_MAGIC >>> 8) & 0xff
    const m2 = (FRAME_MAGIC >>> 16) & 0xff
    const m3 = FRAME_MAGIC >>> 24
    let p = from
    while (p + FRAME_HEADER <= regionBytes) {
      const n = Math.min(SCAN_STEP, regionBytes - p)
      let chunk = await reader.bytes(p, n)
      let i = chunk.indexOf(m0)
      while (i >= 0 && p + i + FRAME_HEADER <= regionBytes) {
        const magic = i + 3 < n ? chunk[i + 1] === m1 && chunk[i + 2] === m2 && chunk[i + 3] === m3 : true
        if (magic) {
          const frame = await this.readFrameAt(reader, p + i, regionBytes, seqFloor, Number.MAX_SAFE_INTEGER, minGeneration)
          if (frame) return { at: p + i, frame }
          chunk = await reader.bytes(p, n) // the reader's window may have moved
        }
        i = chunk.indexOf(m0, i + 1)
      }
      p += n
    }
    return undefined
  }

  private regionBase(region: 0 | 1): number {
    return (this.sb.regionStart + region * this.sb.regionBlocks) * this.bs
  }

  // ---- reads ----------------------------------------------------------------------------

  get count(): number {
    return this.index.size
  }

  has(key: Bytes): boolean {
    return this.index.get(keyId(toBytes(key))) !== undefined
  }

  size(key: Bytes): number | undefined {
    return this.index.get(keyId(toBytes(key)))?.length
  }

  async get(key: Bytes): Promise<Uint8Array | undefined> {
    const k = toBytes(key)
    const id = keyId(k)
    return this.readEntry(k, () => this.index.get(id))
  }

  async getString(key: Bytes): Promise<string | undefined> {
    const v = await this.get(key)
    return v === undefined ? undefined : bytesToString(v)
  }

  keys(range: RangeOptions = {}): IterableIterator<Uint8Array> {
    const r = resolveRange(range)
    const index = this.index
    return (function* () {
      let n = 0
      for (const [id] of index.ordered(r.from, r.to, r.reverse)) {
        if (!r.accept(id)) continue
        if (n++ >= r.limit) return
        yield keyBytes(id)
      }
    })()
  }

  entries(range: RangeOptions = {}): AsyncIterableIterator<[Uint8Array, Uint8Array]> {
    const r = resolveRange(range)
    return this.iterate(r, () => this.index.ordered(r.from, r.to, r.reverse), (id) => this.index.get(id))
  }

  snapshot(): KVSnapshot {
    this.ensureOpen()
    const at = this.index.pin()
    let released = false
    const index = this.index
    const view = (id: string) => (released ? undefined : index.getAt(id, at))
    const checkLive = () => {
      if (released) throw new KvInvalidError('snapshot was released')
    }
    let count = -1
    const snap: KVSnapshot = {
      get: async (key) => {
        checkLive()
        const k = toBytes(key)
        const id = keyId(k)
        return this.readEntry(k, () => view(id))
      },
      getString: async (key) => {
        const v = await snap.get(key)
        return v === undefined ? undefined : bytesToString(v)
      },
      has: (key) => (checkLive(), view(keyId(toBytes(key))) !== undefined),
      size: (key) => (checkLive(), view(keyId(toBytes(key)))?.length),
      keys: (range = {}) => {
        checkLive()
        const r = resolveRange(range)
        return (function* () {
          let n = 0
          for (const [id] of index.orderedAt(at, r.from, r.to, r.reverse)) {
            if (!r.accept(id)) continue
            if (n++ >= r.limit) return
            yield keyBytes(id)
          }
        })()
      },
      entries: (range = {}) => {
        checkLive()
        const r = resolveRange(range)
        return this.iterate(r, () => index.orderedAt(at, r.from, r.to, r.reverse), view)
      },
      get count() {
        checkLive()
        if (count < 0) {
          count = 0
          for (const _ of index.orderedAt(at)) count++
        }
        return count
      },
      release: () => {
        if (released) return
        released = true
        index.unpin(at)
      },
    }
    return snap
  }

  private async *iterate(
    r: ResolvedRange,
    source: () => IterableIterator<[string, Entry]>,
    lookup: (id: string) => Entry | undefined,
  ): AsyncIterableIterator<[Uint8Array, Uint8Array]> {
    let n = 0
    for (const [id, entry] of source()) {
      if (!r.accept(id)) continue
      if (n++ >= r.limit) return
      const key = keyBytes(id)
      const value = entry.inline ? entry.inline.slice() : await this.readEntry(key, () => lookup(id))
      if (value !== undefined) yield [key, value]
    }
  }

  /**
   * Reads a value: from RAM when inline, else from the device, verified against the op
   * checksum. A mismatch means the value moved (compaction) under us: look it up again, a few
   * times, then report corruption with its location.
   */
  private async readEntry(key: Uint8Array, lookup: () => Entry | undefined): Promise<Uint8Array | undefined> {
    for (let attempt = 0; attempt < READ_RETRIES; attempt++) {
      const e = lookup()
      if (!e) return undefined
      if (e.inline) return e.inline.slice()
      const pos = e.pos
      const value = await this.readAt(pos, e.length)
      if (crc32c(value, crc32c(key, this.sb.storeId)) === e.crc) return value
      // Compaction moves values (it updates `pos` in place); only a value that stayed put is corrupt.
      if (lookup() === e && e.pos === pos) {
        throw new KvCorruptError(`device byte ${pos} (value of ${e.length} bytes)`, 'value checksum mismatch')
      }
    }
    throw new KvCorruptError('a disk-resident value', `it moved under ${READ_RETRIES} consecutive reads`)
  }

  private async readAt(pos: number, length: number): Promise<Uint8Array> {
    const first = Math.floor(pos / this.bs)
    const last = Math.floor((pos + Math.max(length, 1) - 1) / this.bs)
    const buf = new Uint8Array((last - first + 1) * this.bs)
    await this.io(() => this.dev.read(first, buf), `reading a value at device byte ${pos}`)
    return buf.slice(pos - first * this.bs, pos - first * this.bs + length)
  }

  // ---- writes ---------------------------------------------------------------------------
  //
  // Write path (group commit with a write-behind log buffer):
  //  * A write that fits in the active region is encoded into the open log buffer at once, gets
  //    its seq, and is applied to the index (readers see it immediately). A non-durable write
  //    resolves right there; a durable one waits for the flush that covers it.
  //  * The appender (one async loop) takes the whole buffer, writes it with one device write,
  //    flushes if any write in it is durable (or the group-commit window expired), and resolves
  //    the durable waiters. Writes arriving meanwhile fill the next buffer: one write + one
  //    flush per group, however many writers.
  //  * Anything that cannot take the fast path — a control request (sync, compact, reset,
  //    close), a write that needs compaction first, a full buffer — joins the `slow` queue, and
  //    so does every write behind it, so the log order is always the call order.

  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<void> {
    let k: Uint8Array
    try {
      k = checkKey(key)
    } catch (e) {
      return Promise.reject(e)
    }
    this.counters.puts++
    return this.submit([{ type: OP_PUT, key: k, value: toBytes(value) }], options?.durable ?? false)
  }

  delete(key: Bytes, options?: WriteOptions): Promise<void> {
    let k: Uint8Array
    try {
      k = checkKey(key)
    } catch (e) {
      return Promise.reject(e)
    }
    this.counters.deletes++
    return this.submit([{ type: OP_DELETE, key: k, value: EMPTY }], options?.durable ?? false)
  }

  batch(ops: readonly BatchOp[], options?: WriteOptions): Promise<void> {
    if (ops.length === 0) return Promise.resolve()
    let frameOps: FrameOp[]
    try {
      frameOps = ops.map((op) =>
        op.type === 'put' ? { type: OP_PUT, key: checkKey(op.key), value: toBytes(op.value) } : { type: OP_DELETE, key: checkKey(op.key), value: EMPTY },
      )
    } catch (e) {
      return Promise.reject(e)
    }
    this.counters.batches++
    return this.submit(frameOps, options?.durable ?? false)
  }

  sync(): Promise<void> {
    return this.request('sync')
  }

  compact(): Promise<void> {
    return this.request('compact')
  }

  reset(): Promise<void> {
    return this.request('reset')
  }

  async close(): Promise<void> {
    if (this.closed) return
    const done = this.request('close')
    this.closed = true
    try {
      await done
    } finally {
      // The device may be opened for writing again (even if this close failed: the store is done).
      if (!this.readOnly && writers.has(this.dev)) writers.delete(this.dev)
    }
  }

  stats(): KVStats {
    let disk = 0
    for (const e of this.index.values()) if (!e.inline) disk++
    return {
      keys: this.index.size,
      logBytes: this.head,
      regionBytes: this.sb.regionBlocks * this.bs,
      generation: BigInt(this.sb.generation),
      seq: BigInt(this.index.seq),
      ...this.counters,
      diskResidentValues: disk,
    }
  }

  private submit(ops: FrameOp[], durable: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) return reject(new KvClosedError())
      if (this.readOnly) return reject(new KvReadOnlyError(ops.length > 1 ? 'batch' : ops[0]!.type === OP_PUT ? 'put' : 'delete'))
      if (this.failure) return reject(this.failure)
      if (this.slow.length > 0 || this.exclusive || this.tryAppend(ops, durable, resolve, reject) !== 'ok') {
        this.slow.push({ kind: 'write', ops, durable, resolve, reject })
      }
      this.kick()
    })
  }

  private request(kind: 'sync' | 'compact' | 'reset' | 'close'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) return reject(new KvClosedError())
      if (this.readOnly && (kind === 'compact' || kind === 'reset')) return reject(new KvReadOnlyError(kind))
      this.slow.push({ kind, resolve, reject })
      this.kick()
    })
  }

  private ensureOpen(): void {
    if (this.closed) throw new KvClosedError()
  }

  /**
   * Encodes a write into the open log buffer and applies it to the index. 'region' means it
   * does not fit in the active region (compaction first); 'buffer' means the buffer is at its
   * cap (wait for the appender).
   */
  private tryAppend(ops: FrameOp[], durable: boolean, resolve: () => void, reject: (e: unknown) => void): 'ok' | 'region' | 'buffer' {
    const size = frameSize(ops)
    let buf = this.buffer
    if (buf && buf.used + size > MAX_BUFFER && buf.used > buf.prefix) return 'buffer'
    const base = buf ? buf.base : Math.floor(this.nextStart / this.bs) * this.bs
    const used = buf ? buf.used : this.nextStart - base
    if (base + used + size > this.regionBytes()) return 'region'
    if (!buf) {
      const want = roundUp(used + size, this.bs)
      const spare = this.spare
      this.spare = null
      const data = spare && spare.length >= want ? spare : new Uint8Array(Math.max(INITIAL_BUFFER, want))
      if (used > 0) data.set(this.tailBytes.subarray(0, used))
      buf = this.buffer = { base, prefix: used, used, data, waiters: [], pending: [], lastSeq: 0 }
    }
    if (buf.used + size > buf.data.length) {
      const grown = new Uint8Array(roundUp(Math.max(buf.data.length * 2, buf.used + size), this.bs))
      grown.set(buf.data.subarray(0, buf.used))
      // Values still waiting for the device point into the old array; repoint them.
      for (const p of buf.pending) p.entry.inline = grown.subarray(p.at, p.at + p.entry.length)
      buf.data = grown
    }
    const seq = this.index.seq + 1
    const valueOffsets: number[] = []
    const crcs: number[] = []
    const frameAt = buf.used
    // The durable mark: what was flushed before this frame existed (replay tells torn tails from damage by it).
    encodeFrame(buf.data, frameAt, seq, this.sb.generation, ops, this.sb.storeId, valueOffsets, crcs, this.flushedSeq)
    buf.used += size
    buf.lastSeq = seq
    const regionBase = this.regionBase(this.sb.activeRegion)
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      const id = keyId(op.key)
      if (op.type === OP_DELETE) {
        this.index.set(id, null, seq)
        continue
      }
      const at = frameAt + valueOffsets[i]!
      const small = op.value.length <= this.inlineMax
      // A large value is served from the buffer until the device holds it.
      const entry: Entry = { seq, length: op.value.length, inline: small ? op.value.slice() : buf.data.subarray(at, at + op.value.length), pos: regionBase + buf.base + at, crc: crcs[i]! }
      if (!small) buf.pending.push({ entry, at })
      this.index.set(id, entry, seq)
    }
    this.index.seq = seq
    if (durable) buf.waiters.push({ resolve, reject })
    else resolve()
    return 'ok'
  }

  private kick(): void {
    if (this.appending) return
    this.appending = true
    // A microtask lets every write issued in the same tick join one group commit.
    queueMicrotask(() => void this.appendLoop())
  }

  /** The appender: the only code that writes the device. */
  private async appendLoop(): Promise<void> {
    try {
      for (;;) {
        if (this.failure) {
          this.failAll(this.failure)
          break
        }
        // Queued writes join the buffer while they fit: one device write for all of them.
        while (!this.exclusive && this.slow[0]?.kind === 'write') {
          const w = this.slow[0]
          if (this.tryAppend(w.ops, w.durable, w.resolve, w.reject) !== 'ok') break
          this.slow.shift()
        }
        const buf = this.buffer
        if (buf && buf.used > buf.prefix) {
          this.buffer = null
          await this.writeBuffer(buf)
          continue
        }
        const req = this.slow.shift()
        if (req) {
          this.exclusive = true
          try {
            await this.serveSlow(req)
          } finally {
            this.exclusive = false
          }
          continue
        }
        if (this.flushDue && this.unflushed) {
          this.flushDue = false
          this.nextStart = roundUp(this.head, this.bs) // decided before awaiting: new frames start past the durable tail
          await this.flushNow()
          continue
        }
        break
      }
    } catch (e) {
      this.failure = e instanceof KvIoError ? e : new KvIoError(`kv: appender failed: ${(e as Error).message}`, { cause: e })
      this.failAll(this.failure)
    } finally {
      this.appending = false
    }
  }

  private async writeBuffer(buf: LogBuffer): Promise<void> {
    const flush = buf.waiters.length > 0 || this.windowMs === 0 || this.flushDue
    const end = buf.base + buf.used
    // Where the next buffer starts is decided now, before any await, because writers keep
    // filling a new buffer while this one is on its way to the device.
    if (flush) {
      this.nextStart = roundUp(end, this.bs)
    } else {
      this.nextStart = end
      const blockStart = Math.floor(end / this.bs) * this.bs
      this.tailBytes.fill(0)
      this.tailBytes.set(buf.data.subarray(blockStart - buf.base, end - buf.base))
    }
    const regionBase = this.regionBase(this.sb.activeRegion)
    try {
      const lba = (regionBase + buf.base) / this.bs
      const bytes = buf.data.subarray(0, roundUp(buf.used, this.bs))
      const where = `appending at region byte ${buf.base + buf.prefix}`
      if (flush && this.dev.writeAndFlush) {
        // One request for write + flush where the device offers it.
        await this.io(() => this.dev.writeAndFlush!(lba, bytes), where)
        this.counters.flushes++
        this.unflushed = false
        this.flushDue = false
        this.writtenSeq = this.flushedSeq = Math.max(this.flushedSeq, buf.lastSeq)
      } else {
        await this.io(() => this.dev.write(lba, bytes), where)
        this.writtenSeq = Math.max(this.writtenSeq, buf.lastSeq)
        this.unflushed = true
        if (flush) {
          this.flushDue = false
          await this.flushNow()
        } else {
          this.armFlushTimer()
        }
      }
      this.counters.commits++
      this.head = end
    } catch (e) {
      for (const w of buf.waiters) w.reject(e)
      throw e
    }
    // On the device now: large values go back to being read from there.
    for (const p of buf.pending) if (p.entry.inline && p.entry.inline.buffer === buf.data.buffer) p.entry.inline = null
    for (const w of buf.waiters) w.resolve()
    // Nothing refers to the bytes any more: keep the array for the next buffer (zeroed, since
    // the bytes past a buffer's end are the padding written to the device).
    if (buf.data.length <= 2 * MAX_BUFFER) {
      buf.data.fill(0, 0, roundUp(buf.used, this.bs))
      this.spare = buf.data
    }
  }

  private async serveSlow(req: Request): Promise<void> {
    try {
      if (req.kind === 'write') {
        let fit = this.tryAppend(req.ops, req.durable, req.resolve, req.reject)
        if (fit === 'region') {
          await this.compactNow()
          fit = this.tryAppend(req.ops, req.durable, req.resolve, req.reject)
          if (fit === 'region') req.reject(new KvFullError(roundUp(this.nextStart, this.bs) + frameSize(req.ops), this.regionBytes()))
        }
        return // a durable write resolves when its buffer is flushed
      }
      switch (req.kind) {
        case 'sync':
          this.nextStart = roundUp(this.head, this.bs)
          await this.flushNow()
          break
        case 'compact':
          await this.compactNow()
          break
        case 'reset':
          await this.resetNow()
          break
        case 'close':
          this.nextStart = roundUp(this.head, this.bs)
          await this.flushNow()
          if (this.flushTimer) clearTimeout(this.flushTimer)
          this.flushTimer = undefined
          // A clean close vouches for everything it flushed (durableThrough): without it, the
          // log's last frames zeroed or garbled after the close read as a torn tail at the next
          // open — acknowledged writes dropped with no word. (After a crash, only later frames
          // and the superblock of the last open can vouch: the documented limit.)
          if (!this.readOnly && !this.failure && this.flushedSeq > this.sb.durableThrough) {
            const closing: Superblock = { ...this.sb, generation: this.sb.generation + 1, durableThrough: this.flushedSeq }
            await this.writeSuperblocks(closing, 'at close')
            this.sb = closing
          }
          break
      }
      req.resolve()
    } catch (e) {
      req.reject(e)
      if (e instanceof KvIoError) throw e
    }
  }

  private failAll(e: Error): void {
    for (const r of this.slow.splice(0)) r.reject(e)
    const buf = this.buffer
    this.buffer = null
    if (buf) for (const w of buf.waiters) w.reject(e)
  }

  private regionBytes(): number {
    return this.sb.regionBlocks * this.bs
  }

  private armFlushTimer(): void {
    if (this.flushTimer) return
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined
      if (this.unflushed && !this.closed) {
        this.flushDue = true
        this.kick()
      }
    }, this.windowMs)
    // A pending group-commit flush must not keep a process alive on its own.
    ;(this.flushTimer as { unref?: () => void }).unref?.()
  }

  private async flushNow(): Promise<void> {
    if (!this.unflushed) return
    const written = this.writtenSeq
    await this.io(() => this.dev.flush(), 'flushing the log')
    this.counters.flushes++
    this.unflushed = false
    this.flushedSeq = Math.max(this.flushedSeq, written)
  }

  /**
   * Compaction: rewrite the live set into the other region, flush, then switch superblocks.
   * A crash anywhere before the superblock write leaves the old state whole.
   */
  private async compactNow(): Promise<void> {
    await this.flushNow()
    const target: 0 | 1 = this.sb.activeRegion === 0 ? 1 : 0
    const base = this.regionBase(target)
    const regionBytes = this.regionBytes()
    await this.materializeHistory(target)
    const startSeq = this.index.seq + 1
    let seq = startSeq
    let off = 0
    const moves: { entry: Entry; pos: number }[] = []
    let buf = new Uint8Array(CHUNK)
    let bufStart = 0 // region offset of buf[0]
    let used = 0
    let ops: FrameOp[] = []
    let opEntries: Entry[] = []
    let opBytes = FRAME_HEADER
    const writeOut = async (final: boolean) => {
      const len = final ? roundUp(used, this.bs) : Math.floor(used / this.bs) * this.bs
      if (len === 0) return
      await this.io(() => this.dev.write((base + bufStart) / this.bs, buf.subarray(0, len)), `compacting into region ${target} at byte ${bufStart}`)
      buf.copyWithin(0, len, used)
      buf.fill(0, used - len)
      used -= len
      bufStart += len
    }
    const emit = async () => {
      if (ops.length === 0) return
      const size = frameSize(ops)
      if (off + size > regionBytes) throw new KvFullError(off + size, regionBytes)
      if (used + size > buf.length) {
        await writeOut(false)
        if (used + size > buf.length) {
          const bigger = new Uint8Array(roundUp(used + size, this.bs))
          bigger.set(buf.subarray(0, used))
          buf = bigger
        }
      }
      const valueOffsets: number[] = []
      const crcs: number[] = []
      encodeFrame(buf, used, seq++, this.sb.generation + 1, ops, this.sb.storeId, valueOffsets, crcs)
      for (let i = 0; i < ops.length; i++) moves.push({ entry: opEntries[i]!, pos: base + off + valueOffsets[i]! })
      used += size
      off += size
      ops = []
      opEntries = []
      opBytes = FRAME_HEADER
    }
    for (const [id, entry] of this.index.ordered()) {
      const key = keyBytes(id)
      const value = entry.inline ?? (await this.readVerified(key, entry))
      const size = OP_HEADER + key.length + value.length
      if (ops.length > 0 && opBytes + size > CHUNK / 4) await emit()
      ops.push({ type: OP_PUT, key, value })
      opEntries.push(entry)
      opBytes += size
    }
    await emit()
    await writeOut(true)
    await this.io(() => this.dev.flush(), 'flushing the compacted region')
    this.counters.flushes++
    // Every frame just written is flushed: the superblock vouches for them (durableThrough).
    const next: Superblock = { ...this.sb, generation: this.sb.generation + 1, activeRegion: target, startSeq, regionGeneration: this.sb.generation + 1, durableThrough: seq - 1 }
    await this.writeSuperblocks(next, 'switching to the compacted region')
    // Switched. Point the index at the new copies.
    this.sb = next
    for (const m of moves) m.entry.pos = m.pos
    this.index.seq = seq - 1
    this.writtenSeq = this.flushedSeq = seq - 1
    this.head = off
    this.nextStart = roundUp(off, this.bs)
    this.unflushed = false
    this.counters.compactions++
  }

  /** Stateless reset: switch to the other region, empty, with a floor above every old frame. */
  private async resetNow(): Promise<void> {
    await this.flushNow()
    const target: 0 | 1 = this.sb.activeRegion === 0 ? 1 : 0
    await this.materializeHistory(target)
    // The reset itself takes a seq (so a snapshot taken after it sees the empty store); old
    // frames in the target region have older generations, so replay ignores them.
    const resetSeq = this.index.seq + 1
    const startSeq = resetSeq + 1
    const next: Superblock = { ...this.sb, generation: this.sb.generation + 1, activeRegion: target, startSeq, regionGeneration: this.sb.generation + 1, durableThrough: resetSeq }
    await this.writeSuperblocks(next, 'resetting')
    this.sb = next
    this.index.clear(resetSeq)
    this.index.seq = resetSeq
    this.writtenSeq = this.flushedSeq = resetSeq
    this.head = 0
    this.nextStart = 0
  }

  /** Snapshots may still reference values in the region about to be overwritten: pull them into RAM. */
  private async materializeHistory(region: 0 | 1): Promise<void> {
    const lo = this.regionBase(region)
    const hi = lo + this.regionBytes()
    for (const e of this.index.historyEntries()) {
      if (!e.inline && e.pos >= lo && e.pos < hi) e.inline = await this.readAt(e.pos, e.length)
    }
  }

  private async readVerified(key: Uint8Array, e: Entry): Promise<Uint8Array> {
    const value = await this.readAt(e.pos, e.length)
    if (crc32c(value, crc32c(key, this.sb.storeId)) !== e.crc) {
      throw new KvCorruptError(`device byte ${e.pos} (value of ${e.length} bytes)`, 'value checksum mismatch during compaction')
    }
    return value
  }

  /**
   * Writes both superblock copies, each followed by a flush: block 0, then block 1. A crash or
   * a torn write can spoil at most the copy being written; the other is whole (old or new).
   */
  private async writeSuperblocks(sb: Superblock, why: string): Promise<void> {
    const bytes = encodeSuperblock(sb, this.bs)
    // The copy that does not hold the current state first (block 0 when both do): the only
    // intact copy is never the one a torn write can hit.
    const order = !this.sbIntact[0] || this.sbIntact[1] ? [0, 1] : [1, 0]
    for (const block of order) {
      this.sbIntact[block] = false
      await this.io(() => this.dev.write(block, bytes), `writing superblock copy ${block} (${why})`)
      await this.io(() => this.dev.flush(), `flushing superblock copy ${block} (${why})`)
      this.counters.flushes++
    }
    this.sbIntact = [true, true]
  }

  private async io<T>(op: () => Promise<T>, what: string): Promise<T> {
    try {
      return await op()
    } catch (e) {
      if (e instanceof KvIoError) throw e
      throw new KvIoError(`kv: device failed while ${what}: ${(e as Error).message}`, { cause: e })
    }
  }
}


const EMPTY = new Uint8Array(0)

function checkKey(key: Bytes): Uint8Array {
  const k = toBytes(key)
  if (k.length === 0) throw new KvInvalidError('empty key')
  if (k.length > MAX_KEY) throw new KvInvalidError(`key of ${k.length} bytes exceeds the ${MAX_KEY}-byte limit`)
  return k
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to
}

function randomU32(): number {
  const a = new Uint32Array(1)
  globalThis.crypto.getRandomValues(a)
  return a[0]!
}

interface ResolvedRange {
  from: string | undefined
  to: string | undefined
  reverse: boolean
  limit: number
  accept: (id: string) => boolean
}

function resolveRange(r: RangeOptions): ResolvedRange {
  let from: string | undefined
  let to: string | undefined
  const checks: ((id: string) => boolean)[] = []
  const lower = (id: string) => (from === undefined || id > from ? (from = id) : undefined)
  const upper = (id: string) => (to === undefined || id < to ? (to = id) : undefined)
  if (r.gte !== undefined) lower(keyId(toBytes(r.gte)))
  if (r.gt !== undefined) {
    const g = keyId(toBytes(r.gt))
    lower(g)
    checks.push((id) => id > g)
  }
  if (r.lt !== undefined) upper(keyId(toBytes(r.lt)))
  if (r.lte !== undefined) {
    const l = keyId(toBytes(r.lte))
    upper(l + '\u0000') // the smallest id above l
    checks.push((id) => id <= l)
  }
  if (r.prefix !== undefined) {
    const p = keyId(toBytes(r.prefix))
    lower(p)
    const end = prefixEnd(p)
    if (end !== undefined) upper(end)
    checks.push((id) => id.startsWith(p))
  }
  return {
    from,
    to,
    reverse: r.reverse ?? false,
    limit: r.limit ?? Infinity,
    accept: (id) => checks.every((c) => c(id)),
  }
}

/** Sequential reader of a log region with a large read-ahead buffer. */
class RegionReader {
  private buf = new Uint8Array(0)
  private store = new Uint8Array(0)
  private bufStart = 0 // region offset of buf[0]
  private static readonly WINDOW = 4 << 20

  constructor(
    private readonly dev: BlockDevice,
    private readonly base: number,
    private readonly regionBytes: number,
    private readonly bs: number,
  ) {}

  /** `length` bytes at region offset `off` (a view valid until the next call). */
  async bytes(off: number, length: number): Promise<Uint8Array> {
    if (off < this.bufStart || off + length > this.bufStart + this.buf.length) {
      const start = Math.floor(off / this.bs) * this.bs
      const want = Math.min(this.regionBytes - start, Math.max(RegionReader.WINDOW, roundUp(off + length - start, this.bs)))
      // One array, reused while big enough (views handed out are valid until the next call).
      if (this.store.length < want) this.store = new Uint8Array(want)
      const buf = this.store.subarray(0, want)
      this.buf = buf.subarray(0, 0)
      try {
        await this.dev.read((this.base + start) / this.bs, buf)
      } catch (e) {
        throw new KvIoError(`kv: device failed while replaying the log at region byte ${start}: ${(e as Error).message}`, { cause: e })
      }
      this.buf = buf
      this.bufStart = start
    }
    return this.buf.subarray(off - this.bufStart, off - this.bufStart + length)
  }
}

export type { KVReader }
