/**
 * Verification, failing closed with a typed error naming the check. Full verification
 * (`verifyImage`) checks everything up front; `openImageFS` checks the header, signature,
 * rollback floor and table at open, then each data block when it is first read (dm-verity
 * style: hash blocks on the path are verified once and cached).
 */
import type { Anchor } from './anchor.js'
import { ImageVerifyError } from './errors.js'
import { SIGNATURE_OFFSET, decodeHeader, decodeTable, type Header, type TableEntry } from './format.js'
import { equalBytes, nobleHasher, toHex, type Hasher } from './hash.js'
import { verifySignature } from './sign.js'
import { BLOCK, buildTree, geometry, verityHeader, type TreeGeometry } from './verity.js'

export interface VerifyOptions {
  /** Require this compatible string (refuses images built for other hardware). */
  compatible?: string
  hasher?: Hasher
}

/** Random access to an image's bytes (a `Uint8Array`, a slot on a block device…). */
export interface ImageReader {
  readonly size: number
  read(offset: number, length: number): Promise<Uint8Array>
}

export function bytesReader(bytes: Uint8Array): ImageReader {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  }
}

/** What a verified image is. */
export interface VerifiedImage {
  readonly secVersion: bigint
  readonly compatible: string
  readonly root: string
  readonly entries: readonly TableEntry[]
  readonly header: Header
}

export interface Layout {
  header: Header
  geo: TreeGeometry
  /** Byte offset of the verity superblock (= the data size). */
  hashOffset: number
  /** Byte offset of the tree. */
  treeOffset: number
}

/**
 * The checks that need only the header: format, signature, compatibility, rollback floor and
 * geometry. Every other check hangs off the signed root and table hash.
 */
export async function checkHeader(reader: ImageReader, anchor: Anchor, options: VerifyOptions = {}): Promise<Layout> {
  if (reader.size < 3 * BLOCK || reader.size % BLOCK !== 0) throw new ImageVerifyError('format', `image of ${reader.size} bytes is not a whole number (≥ 3) of ${BLOCK}-byte blocks`)
  const headerBytes = await reader.read(reader.size - BLOCK, BLOCK)
  const header = decodeHeader(headerBytes)
  if (!verifySignature(header.signature, headerBytes.subarray(0, SIGNATURE_OFFSET), anchor.publicKey())) {
    throw new ImageVerifyError('signature', 'the header signature does not verify against the anchor key')
  }
  if (options.compatible !== undefined && header.compatible !== options.compatible) {
    throw new ImageVerifyError('compatible', `image is for "${header.compatible}", this machine is "${options.compatible}"`)
  }
  const floor = await anchor.floor()
  if (header.secVersion < floor) throw new ImageVerifyError('rollback', `security version ${header.secVersion} is below the floor ${floor}`)
  const geo = geometry(header.dataBlocks)
  if (header.dataBlocks < 1 || geo.treeBlocks !== header.treeBlocks) throw new ImageVerifyError('format', `tree of ${header.treeBlocks} blocks does not fit ${header.dataBlocks} data blocks`)
  const expected = (header.dataBlocks + 1 + header.treeBlocks + 1) * BLOCK
  if (expected !== reader.size) throw new ImageVerifyError('format', `image is ${reader.size} bytes, its header describes ${expected}`)
  if (header.dataBytes > header.dataBlocks * BLOCK || header.tableBytes > header.dataBytes) {
    throw new ImageVerifyError('format', `data bytes ${header.dataBytes} / table bytes ${header.tableBytes} exceed the ${header.dataBlocks} data blocks`)
  }
  const hashOffset = header.dataBlocks * BLOCK
  const sb = await reader.read(hashOffset, BLOCK)
  if (!equalBytes(sb, verityHeader(header.dataBlocks, header.salt, header.uuid))) throw new ImageVerifyError('merkle', 'the verity superblock does not match the header')
  return { header, geo, hashOffset, treeOffset: hashOffset + BLOCK }
}

/** Verifies a whole image in memory. */
export async function verifyImage(image: Uint8Array, anchor: Anchor, options: VerifyOptions = {}): Promise<VerifiedImage> {
  const hasher = options.hasher ?? nobleHasher
  const { header, hashOffset, treeOffset } = await checkHeader(bytesReader(image), anchor, options)
  const data = image.subarray(0, hashOffset)
  const table = data.subarray(0, header.tableBytes)
  if (!equalBytes(hasher.sha256(table), header.tableHash)) throw new ImageVerifyError('table', 'the file table does not match its signed hash')
  const { tree, root } = buildTree(data, header.salt, hasher)
  if (!equalBytes(root, header.root)) throw new ImageVerifyError('merkle', `data Merkle root ${toHex(root)} ≠ signed root ${toHex(header.root)}`)
  if (!equalBytes(tree, image.subarray(treeOffset, treeOffset + tree.length))) throw new ImageVerifyError('merkle', 'the stored hash tree differs from the data')
  const entries = decodeTable(table, header.fileCount, header.dataBytes)
  return { secVersion: header.secVersion, compatible: header.compatible, root: toHex(header.root), entries, header }
}
