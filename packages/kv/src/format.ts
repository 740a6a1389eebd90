/**
 * The on-disk format of @honk/kv (all integers little-endian).
 *
 * Device layout, in device blocks:
 *   block 0, block 1   two copies of the superblock, written at format and at every update:
 *                      block 0, flush, block 1, flush. One torn or damaged copy therefore
 *                      always leaves a valid one (the higher generation wins when both are
 *                      valid; they differ only inside an update a crash interrupted). Stores
 *                      written before both copies were kept held generation g in block g % 2;
 *                      they open the same way (the highest valid generation wins).
 *   region 0, region 1 two log regions of `regionBlocks` blocks each, from `regionStart`
 *
 * A device is blank (and formatted without `format: true`) only when both superblock blocks
 * and the first {@link BLANK_CHECK_BYTES} of each region (at the geometry a format would use)
 * are all zero; anything else without a valid superblock is damage, never formatted over.
 *
 * Superblock (84 bytes used, rest zero; both copies hold the same bytes):
 *   0  u32 magic 'HKSB'         4  u32 crc32c of bytes [8, 72)
 *   8  u16 format version (2)  10  u16 0
 *  12  u32 block size           16  u64 generation
 *  24  u64 startSeq: the first frame seq of the active region's current life
 *  32  u32 active region        36  u32 store id (random; seeds every frame checksum)
 *  40  u64 regionStart          48  u64 regionBlocks        56  u64 device blocks at format
 *  64  u64 regionGeneration: the generation that activated the active region
 *  72  u64 durableThrough: every frame of the active region with seq ≤ this was flushed before
 *      this superblock was written (the frames a compaction wrote, or those replayed at open)
 *  80  u32 crc32c of bytes [8, 80) (so a torn write cannot pair old fields with a new claim).
 *      Stores written before this field have zeros in [72, 84): no claim (durableThrough 0).
 *      Anything else that does not match makes the whole copy invalid, like a bad main
 *      checksum: a write torn between bytes 72 and 84 has new fields and a lost claim, and
 *      trusting its fields without the claim let damage to the log it points at read as an
 *      empty log (the other copy, of the update before, is the one to use). Readers that predate
 *      it check only [8, 72), so the format version did not change.
 *
 * The generation rises with every superblock update: at every writable open (before anything is
 * appended), every compaction and every reset. Each frame records the generation it was
 * written in, and replay accepts a frame only if regionGeneration ≤ its generation ≤ the
 * superblock's, and no lower than the previous frame's. So a frame left over from an aborted
 * compaction (its generation never became durable), from an earlier life of the region, or
 * from a tail that a crash cut short before the store was reopened and appended to again, can
 * never be spliced into the log — even when its sequence number happens to be the expected one.
 *
 * A log region holds frames, back to back, from byte 0. One frame is one atomic unit (a put, a
 * delete or a whole batch). A writer that flushed pads to the next block boundary before the
 * next frame, so a durable block is never rewritten (a torn rewrite cannot lose it); replay
 * therefore looks for the next frame at the end of the last one and, failing that, at the next
 * block boundary.
 *
 * Where that fails, replay scans the rest of the region, byte by byte, for later frames of the
 * region's life (magic, header checksum, generation in range, higher seq). Each frame carries a
 * durable mark (below): the seq up to which every frame had been flushed before it was encoded.
 * A later frame whose mark reaches the missing seq proves the unreadable bytes held flushed
 * (acknowledged) frames: damage in the middle of the log, which recovery reports and never
 * writes over. Without such a frame the unreadable bytes are a torn tail (writes a crash cut
 * short, never flushed), discarded as before. See `store.ts` (`replay`).
 *
 * Frame:
 *   0  u32 magic 'HKF2'          4  u32 crc32c(seed = store id) of the header and op table, bytes [8, 32 + 16·ops)
 *   8  u32 frame length (bytes)  12  u32 op count (≥ 1)
 *  16  u64 seq (exactly one more than the previous frame's; the first is startSeq)
 *  24  u64 generation the frame was written in
 *  32  op table, 16 bytes per op:  u8 type (1 put, 2 delete), u24 mark (op 0 only, else 0),
 *      u32 key length, u32 value length, u32 crc32c(seed = store id) of key ‖ value
 *      mark (the durable mark): 0 = no claim; d > 0 = every frame with seq ≤ seq − d was flushed
 *      before this frame was encoded. Readers that predate it ignore these bytes (they read the
 *      type byte alone), so the format version did not change.
 *  then the keys and values, op after op: key bytes, value bytes
 * The per-op checksum lets a disk-resident value be verified by reading only that op's bytes.
 */
import { crc32c } from './crc32c.js'

export const SUPER_MAGIC = 0x4253_4b48 // 'HKSB'
export const FRAME_MAGIC = 0x3246_4b48 // 'HKF2'
export const FORMAT_VERSION = 2
export const SUPER_BYTES = 72
/** Bytes of a superblock including the durableThrough extension. */
export const SUPER_EXT_BYTES = 84
export const FRAME_HEADER = 32
export const OP_HEADER = 16
export const OP_PUT = 1
export const OP_DELETE = 2
/** Bytes at the start of each region that must be zero (with both superblocks) for a device to be blank. */
export const BLANK_CHECK_BYTES = 4096
/** The largest durable mark a frame can carry (24 bits); a larger distance is recorded as 0 (no claim). */
export const MAX_MARK = 0xff_ffff
/** Upper bound on a key; keys live in RAM in the index. */
export const MAX_KEY = 64 * 1024

export interface Superblock {
  generation: number
  startSeq: number
  activeRegion: 0 | 1
  storeId: number
  blockSize: number
  regionStart: number
  regionBlocks: number
  deviceBlocks: number
  regionGeneration: number
  /** Every frame with seq ≤ this in the active region is durable (0: no claim). */
  durableThrough: number
}

export function encodeSuperblock(sb: Superblock, blockSize: number): Uint8Array {
  const buf = new Uint8Array(blockSize)
  const v = new DataView(buf.buffer)
  v.setUint32(0, SUPER_MAGIC, true)
  v.setUint16(8, FORMAT_VERSION, true)
  v.setUint32(12, sb.blockSize, true)
  v.setBigUint64(16, BigInt(sb.generation), true)
  v.setBigUint64(24, BigInt(sb.startSeq), true)
  v.setUint32(32, sb.activeRegion, true)
  v.setUint32(36, sb.storeId, true)
  v.setBigUint64(40, BigInt(sb.regionStart), true)
  v.setBigUint64(48, BigInt(sb.regionBlocks), true)
  v.setBigUint64(56, BigInt(sb.deviceBlocks), true)
  v.setBigUint64(64, BigInt(sb.regionGeneration), true)
  v.setUint32(4, crc32c(buf, 0, 8, SUPER_BYTES), true)
  v.setBigUint64(72, BigInt(sb.durableThrough), true)
  v.setUint32(80, crc32c(buf, 0, 8, 80), true)
  return buf
}

/** Decodes a superblock, or returns a reason it is not one. */
export function decodeSuperblock(buf: Uint8Array): Superblock | string {
  if (buf.length < SUPER_EXT_BYTES) return 'block too small'
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  if (v.getUint32(0, true) !== SUPER_MAGIC) return 'bad magic'
  if (v.getUint32(4, true) !== crc32c(buf, 0, 8, SUPER_BYTES)) return 'checksum mismatch'
  if (v.getUint16(8, true) !== FORMAT_VERSION) return `unsupported format version ${v.getUint16(8, true)}`
  const active = v.getUint32(32, true)
  if (active !== 0 && active !== 1) return `active region ${active} is neither 0 nor 1`
  const big = (off: number) => {
    const x = v.getBigUint64(off, true)
    return x > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(x)
  }
  // The durableThrough extension: all zero (a store from before it), or checked (see above).
  const extCrc = v.getUint32(80, true)
  const extZero = extCrc === 0 && v.getBigUint64(72, true) === 0n
  if (!extZero && extCrc !== crc32c(buf, 0, 8, 80)) return 'checksum mismatch in the durableThrough extension (a torn or damaged write)'
  const sb: Superblock = {
    blockSize: v.getUint32(12, true),
    generation: big(16),
    startSeq: big(24),
    activeRegion: active,
    storeId: v.getUint32(36, true),
    regionStart: big(40),
    regionBlocks: big(48),
    deviceBlocks: big(56),
    regionGeneration: big(64),
    durableThrough: extZero ? 0 : Math.max(0, big(72)),
  }
  if (sb.regionGeneration < 0 || sb.regionGeneration > sb.generation) return 'region generation out of range'
  if (sb.generation < 0 || sb.startSeq < 1 || sb.regionStart < 0 || sb.regionBlocks < 1 || sb.deviceBlocks < 0) return 'field out of range'
  return sb
}

/** One operation as encoded in a frame. */
export interface FrameOp {
  type: typeof OP_PUT | typeof OP_DELETE
  key: Uint8Array
  value: Uint8Array
}

/** Encoded size of a frame holding `ops`. */
export function frameSize(ops: readonly FrameOp[]): number {
  let n = FRAME_HEADER + OP_HEADER * ops.length
  for (const op of ops) n += op.key.length + op.value.length
  return n
}

/**
 * Encodes a frame into `out` at `at` (which must have room for {@link frameSize}); returns,
 * per op, the byte offset of its value relative to the frame start and its checksum.
 */
export function encodeFrame(
  out: Uint8Array,
  at: number,
  seq: number,
  generation: number,
  ops: readonly FrameOp[],
  storeId: number,
  valueOffsets: number[],
  crcs: number[],
  durableSeq = 0,
): number {
  const size = frameSize(ops)
  const v = new DataView(out.buffer, out.byteOffset + at, size)
  v.setUint32(0, FRAME_MAGIC, true)
  v.setUint32(8, size, true)
  v.setUint32(12, ops.length, true)
  v.setBigUint64(16, BigInt(seq), true)
  v.setBigUint64(24, BigInt(generation), true)
  let data = FRAME_HEADER + OP_HEADER * ops.length
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!
    const h = FRAME_HEADER + OP_HEADER * i
    out.set(op.key, at + data)
    out.set(op.value, at + data + op.key.length)
    const c = crc32c(out, storeId, at + data, at + data + op.key.length + op.value.length)
    // Type in the low byte; op 0's upper three bytes hold the durable mark.
    const mark = i === 0 && durableSeq > 0 && seq - durableSeq <= MAX_MARK ? seq - durableSeq : 0
    v.setUint32(h, (op.type | (mark << 8)) >>> 0, true)
    v.setUint32(h + 4, op.key.length, true)
    v.setUint32(h + 8, op.value.length, true)
    v.setUint32(h + 12, c, true)
    valueOffsets.push(data + op.key.length)
    crcs.push(c)
    data += op.key.length + op.value.length
  }
  v.setUint32(4, crc32c(out, storeId, at + 8, at + FRAME_HEADER + OP_HEADER * ops.length), true)
  return size
}

/** A frame header and op table that passed their checksum. */
export interface FrameHead {
  length: number
  seq: number
  generation: number
  /** Every frame with seq ≤ this was flushed before this frame was encoded (0: no claim). */
  durableSeq: number
  ops: { type: number; keyLength: number; valueLength: number; crc: number }[]
}

/**
 * Decodes and checks a frame's header and op table from `buf` at `at`. `avail` bounds the frame
 * (bytes left in the region). Returns a reason string when it is not a valid frame head, or
 * 'need N' when N bytes are needed to decide.
 */
export function decodeFrameHead(buf: Uint8Array, at: number, end: number, avail: number, storeId: number): FrameHead | string {
  if (end - at < FRAME_HEADER) return `need ${FRAME_HEADER}`
  const v = new DataView(buf.buffer, buf.byteOffset + at, end - at)
  if (v.getUint32(0, true) !== FRAME_MAGIC) return 'no frame magic'
  const length = v.getUint32(8, true)
  const count = v.getUint32(12, true)
  if (count < 1 || FRAME_HEADER + OP_HEADER * count > length || length > avail) return `implausible frame (length ${length}, ops ${count})`
  const headLen = FRAME_HEADER + OP_HEADER * count
  if (end - at < headLen) return `need ${headLen}`
  if (v.getUint32(4, true) !== crc32c(buf, storeId, at + 8, at + headLen)) return 'frame header checksum mismatch'
  const seqBig = v.getBigUint64(16, true)
  const genBig = v.getBigUint64(24, true)
  if (seqBig > BigInt(Number.MAX_SAFE_INTEGER) || genBig > BigInt(Number.MAX_SAFE_INTEGER)) return 'sequence number or generation out of range'
  const ops: FrameHead['ops'] = []
  let dataLen = 0
  for (let i = 0; i < count; i++) {
    const h = FRAME_HEADER + OP_HEADER * i
    const type = v.getUint8(h)
    const keyLength = v.getUint32(h + 4, true)
    const valueLength = v.getUint32(h + 8, true)
    if ((type !== OP_PUT && type !== OP_DELETE) || keyLength === 0 || keyLength > MAX_KEY || (type === OP_DELETE && valueLength !== 0)) {
      return `bad op ${i} (type ${type}, key ${keyLength}, value ${valueLength})`
    }
    dataLen += keyLength + valueLength
    ops.push({ type, keyLength, valueLength, crc: v.getUint32(h + 12, true) })
  }
  if (headLen + dataLen !== length) return `frame length ${length} disagrees with its ops (${headLen + dataLen})`
  const mark = v.getUint32(FRAME_HEADER, true) >>> 8
  const seq = Number(seqBig)
  return { length, seq, generation: Number(genBig), durableSeq: mark > 0 && mark < seq ? seq - mark : 0, ops }
}
