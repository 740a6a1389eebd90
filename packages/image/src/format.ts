/**
 * The image format (all integers little-endian), laid out so that Linux dm-verity and
 * `veritysetup verify <img> <img> <root> --data-blocks N --hash-offset H` check it directly:
 *
 *   [0, D)          data: the file table, then file contents; D = dataBlocks · 4096
 *   [D, D+4096)     the verity superblock (cryptsetup `struct verity_sb`), padded
 *   [D+4096, T)     the hash tree, top level first
 *   [T, T+4096)     the header, signed: the image's last block (like an AVB footer, it is
 *                   found from the end)
 *
 * Header:
 *    0  8  magic "HONKIMG2"          8  u32 format version (2)
 *   12  u32 block size (4096)       16  u64 security version (anti-rollback)
 *   24  u64 data blocks             32  u64 data bytes used (table + contents)
 *   40  u32 file count              44  u32 table bytes (the table starts at data byte 0)
 *   48  32  salt                    80  32  Merkle root (dm-verity v1)
 *  112  32  sha256 of the table    144  u64 tree blocks (after the superblock)
 *  152  32  compatible string (NUL-padded): refuses images built for other hardware
 *  184  16  verity superblock uuid
 *  200 … 4031 zero
 * 4032  64  ed25519 signature over bytes [0, 4032)
 *
 * File table, sorted by path: u16 path length, path (UTF-8), u8 type (0 file, 1 dir,
 * 2 symlink), u32 mode, u64 offset into data, u64 length. Symlink contents are the target.
 */
import { ImageVerifyError } from './errors.js'
import { BLOCK } from './verity.js'

export const MAGIC = 'HONKIMG2'
export const FORMAT_VERSION = 2
export const HEADER_SIGNED_BYTES = 4032
export const SIGNATURE_OFFSET = 4032

export interface Header {
  secVersion: bigint
  dataBlocks: number
  dataBytes: number
  fileCount: number
  tableBytes: number
  salt: Uint8Array
  root: Uint8Array
  tableHash: Uint8Array
  treeBlocks: number
  compatible: string
  uuid: Uint8Array
  signature: Uint8Array
}

export type EntryType = 'file' | 'dir' | 'symlink'

export interface TableEntry {
  path: string
  type: EntryType
  mode: number
  offset: number
  length: number
}

const TYPE_CODE: Record<EntryType, number> = { file: 0, dir: 1, symlink: 2 }
const CODE_TYPE: EntryType[] = ['file', 'dir', 'symlink']

export function encodeHeader(h: Omit<Header, 'signature'>): Uint8Array {
  const b = new Uint8Array(BLOCK)
  const v = new DataView(b.buffer)
  b.set(new TextEncoder().encode(MAGIC), 0)
  v.setUint32(8, FORMAT_VERSION, true)
  v.setUint32(12, BLOCK, true)
  v.setBigUint64(16, h.secVersion, true)
  v.setBigUint64(24, BigInt(h.dataBlocks), true)
  v.setBigUint64(32, BigInt(h.dataBytes), true)
  v.setUint32(40, h.fileCount, true)
  v.setUint32(44, h.tableBytes, true)
  b.set(h.salt, 48)
  b.set(h.root, 80)
  b.set(h.tableHash, 112)
  v.setBigUint64(144, BigInt(h.treeBlocks), true)
  const compat = new TextEncoder().encode(h.compatible)
  if (compat.length > 32) throw new RangeError(`compatible string "${h.compatible}" is longer than 32 bytes`)
  b.set(compat, 152)
  b.set(h.uuid.subarray(0, 16), 184)
  return b
}

/** Parses the header block (the signature is checked elsewhere). Format errors only. */
export function decodeHeader(b: Uint8Array): Header {
  if (b.length !== BLOCK) throw new ImageVerifyError('format', `header is ${b.length} bytes, want ${BLOCK}`)
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  if (new TextDecoder().decode(b.subarray(0, 8)) !== MAGIC) throw new ImageVerifyError('format', 'bad magic in the last block')
  const version = v.getUint32(8, true)
  if (version !== FORMAT_VERSION) throw new ImageVerifyError('format', `format version ${version}, want ${FORMAT_VERSION}`)
  if (v.getUint32(12, true) !== BLOCK) throw new ImageVerifyError('format', `block size ${v.getUint32(12, true)}, want ${BLOCK}`)
  const big = (o: number, what: string) => {
    const x = v.getBigUint64(o, true)
    if (x > BigInt(2 ** 40)) throw new ImageVerifyError('format', `${what} ${x} is implausible`)
    return Number(x)
  }
  const compatBytes = b.subarray(152, 184)
  const end = compatBytes.indexOf(0)
  return {
    secVersion: v.getBigUint64(16, true),
    dataBlocks: big(24, 'data blocks'),
    dataBytes: big(32, 'data bytes'),
    fileCount: v.getUint32(40, true),
    tableBytes: v.getUint32(44, true),
    salt: b.slice(48, 80),
    root: b.slice(80, 112),
    tableHash: b.slice(112, 144),
    treeBlocks: big(144, 'tree blocks'),
    compatible: new TextDecoder().decode(end < 0 ? compatBytes : compatBytes.subarray(0, end)),
    uuid: b.slice(184, 200),
    signature: b.slice(SIGNATURE_OFFSET, SIGNATURE_OFFSET + 64),
  }
}

export function encodeTable(entries: readonly TableEntry[]): Uint8Array {
  const enc = new TextEncoder()
  const parts = entries.map((e) => enc.encode(e.path))
  const size = parts.reduce((n, p) => n + 2 + p.length + 1 + 4 + 8 + 8, 0)
  const b = new Uint8Array(size)
  const v = new DataView(b.buffer)
  let at = 0
  entries.forEach((e, i) => {
    const p = parts[i]!
    if (p.length > 0xffff) throw new RangeError(`path ${e.path.slice(0, 40)}… is too long`)
    v.setUint16(at, p.length, true)
    b.set(p, at + 2)
    at += 2 + p.length
    v.setUint8(at, TYPE_CODE[e.type])
    v.setUint32(at + 1, e.mode, true)
    v.setBigUint64(at + 5, BigInt(e.offset), true)
    v.setBigUint64(at + 13, BigInt(e.length), true)
    at += 21
  })
  return b
}

/** Parses the table, checking every entry's bounds against the data bytes. */
export function decodeTable(b: Uint8Array, count: number, dataBytes: number): TableEntry[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const dec = new TextDecoder('utf-8', { fatal: true })
  const out: TableEntry[] = []
  let at = 0
  let prev = ''
  for (let i = 0; i < count; i++) {
    if (at + 2 > b.length) throw new ImageVerifyError('bounds', `table entry ${i} runs past the table`)
    const n = v.getUint16(at, true)
    if (at + 2 + n + 21 > b.length) throw new ImageVerifyError('bounds', `table entry ${i} runs past the table`)
    let path: string
    try {
      path = dec.decode(b.subarray(at + 2, at + 2 + n))
    } catch {
      throw new ImageVerifyError('bounds', `table entry ${i} has a path that is not UTF-8`)
    }
    at += 2 + n
    const type = CODE_TYPE[v.getUint8(at)]
    if (!type) throw new ImageVerifyError('bounds', `table entry ${i} (${path}) has type ${v.getUint8(at)}`)
    const offset = Number(v.getBigUint64(at + 5, true))
    const length = Number(v.getBigUint64(at + 13, true))
    if (!Number.isSafeInteger(offset + length) || offset + length > dataBytes) {
      throw new ImageVerifyError('bounds', `file ${path} [${offset}, ${offset + length}) lies outside the ${dataBytes} data bytes`)
    }
    if (path === '' || path.startsWith('/') || path.split('/').some((c) => c === '' || c === '.' || c === '..')) {
      throw new ImageVerifyError('bounds', `table entry ${i} has an invalid path "${path}"`)
    }
    if (i > 0 && !(prev < path)) throw new ImageVerifyError('bounds', `table is not strictly sorted at "${path}"`)
    prev = path
    out.push({ path, type, mode: v.getUint32(at + 1, true) & 0o7777, offset, length })
    at += 21
  }
  if (at !== b.length) throw new ImageVerifyError('bounds', `table has ${b.length - at} bytes after its ${count} entries`)
  return out
}
