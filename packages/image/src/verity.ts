/**
 * The Merkle tree in the dm-verity layout (format version 1), so that Linux's dm-verity and
 * `veritysetup verify` accept it (kernel admin-guide/device-mapper/verity.rst):
 *  - every data block is hashed as sha256(salt ‖ block);
 *  - digests are packed into hash blocks, zero-padded to the block size;
 *  - levels repeat until a level fits in one block; root = sha256(salt ‖ that block);
 *  - on disk the levels are stored top level first, after a 512-byte superblock padded to
 *    one hash block (cryptsetup's `struct verity_sb`, little-endian).
 */
import type { Hasher } from './hash.js'

export const BLOCK = 4096
const DIGEST = 32
const PER_BLOCK = BLOCK / DIGEST

export interface TreeGeometry {
  dataBlocks: number
  /** Hash blocks per level, level 0 (data hashes) first. */
  levelBlocks: number[]
  /** Offset (in hash blocks, from the start of the tree) of each level; the top level is at 0. */
  levelStart: number[]
  treeBlocks: number
}

export function geometry(dataBlocks: number): TreeGeometry {
  const levelBlocks: number[] = []
  let n = dataBlocks
  do {
    n = Math.ceil(n / PER_BLOCK)
    levelBlocks.push(Math.max(1, n))
  } while (n > 1)
  const levelStart: number[] = new Array(levelBlocks.length)
  let at = 0
  for (let l = levelBlocks.length - 1; l >= 0; l--) {
    levelStart[l] = at
    at += levelBlocks[l]!
  }
  return { dataBlocks, levelBlocks, levelStart, treeBlocks: at }
}

/** Builds the tree over `data` (a whole number of blocks); returns the tree bytes and the root. */
export function buildTree(data: Uint8Array, salt: Uint8Array, hasher: Hasher): { tree: Uint8Array; root: Uint8Array; geo: TreeGeometry } {
  const dataBlocks = data.length / BLOCK
  const geo = geometry(dataBlocks)
  const tree = new Uint8Array(geo.treeBlocks * BLOCK)
  const salted = hasher.prefixed(salt)
  let below = data
  let belowBlocks = dataBlocks
  for (let l = 0; l < geo.levelBlocks.length; l++) {
    const base = geo.levelStart[l]! * BLOCK
    for (let i = 0; i < belowBlocks; i++) {
      tree.set(salted(below.subarray(i * BLOCK, (i + 1) * BLOCK)), base + i * DIGEST)
    }
    below = tree.subarray(base, base + geo.levelBlocks[l]! * BLOCK)
    belowBlocks = geo.levelBlocks[l]!
  }
  const top = tree.subarray(0, BLOCK)
  return { tree, root: salted(top), geo }
}

/** cryptsetup's verity superblock (512 bytes), padded to one hash block. */
export function verityHeader(dataBlocks: number, salt: Uint8Array, uuid: Uint8Array): Uint8Array {
  const b = new Uint8Array(BLOCK)
  const v = new DataView(b.buffer)
  b.set(new TextEncoder().encode('verity'), 0) // signature "verity\0\0"
  v.setUint32(8, 1, true) // superblock version
  v.setUint32(12, 1, true) // hash type 1 (normal)
  b.set(uuid.subarray(0, 16), 16)
  b.set(new TextEncoder().encode('sha256'), 32) // algorithm[32]
  v.setUint32(64, BLOCK, true) // data block size
  v.setUint32(68, BLOCK, true) // hash block size
  v.setBigUint64(72, BigInt(dataBlocks), true)
  v.setUint16(80, salt.length, true)
  b.set(salt, 88) // salt[256] after 6 bytes of padding
  return b
}

/**
 * Verifies one data block against the tree lazily: walks its hash path to the root, trusting
 * hash blocks already verified (`verified`, keyed by tree block index). `readTreeBlock` reads a
 * hash block from storage. Returns false on any mismatch.
 */
export async function verifyBlock(
  index: number,
  block: Uint8Array,
  geo: TreeGeometry,
  root: Uint8Array,
  salted: (data: Uint8Array) => Uint8Array,
  readTreeBlock: (treeBlock: number) => Promise<Uint8Array>,
  verified: Map<number, Uint8Array>,
  equal: (a: Uint8Array, b: Uint8Array) => boolean,
): Promise<boolean> {
  let digest = salted(block)
  let i = index
  // Hash blocks become trusted only once the whole path up to a trusted block or the root
  // checks out; they are cached after the walk.
  const pending: [number, Uint8Array][] = []
  for (let l = 0; l < geo.levelBlocks.length; l++) {
    const hb = geo.levelStart[l]! + Math.floor(i / PER_BLOCK)
    const cached = verified.get(hb)
    const hashBlock = cached ?? (await readTreeBlock(hb))
    const slot = (i % PER_BLOCK) * DIGEST
    if (!equal(hashBlock.subarray(slot, slot + DIGEST), digest)) return false
    if (cached) break // the rest of the path was verified when this block was
    pending.push([hb, hashBlock])
    digest = salted(hashBlock)
    i = Math.floor(i / PER_BLOCK)
    if (l === geo.levelBlocks.length - 1 && !equal(digest, root)) return false
  }
  for (const [hb, data] of pending) verified.set(hb, data)
  return true
}
