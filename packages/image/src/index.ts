/**
 * The verified immutable core of honk: build and sign an image, verify it through an anchor
 * (signature, rollback floor, table hash, dm-verity Merkle root, file bounds), serve it as a
 * lazily verified read-only FS, and keep it in A/B slots.
 *
 * @example
 * ```ts
 * import { buildImage, generateKeyPair, openImageFS, bytesReader, SoftwareAnchor } from '@honk/image'
 * const keys = generateKeyPair()
 * const img = buildImage({ 'etc/motd': 'Welcome to honk' }, { secVersion: 2n, secretKey: keys.secretKey })
 * const anchor = new SoftwareAnchor(keys.publicKey, 1n)          // rollback floor 1
 * const core = await openImageFS(bytesReader(img), anchor)       // verifies header, table; blocks on read
 * console.log(new TextDecoder().decode(await (await core.open('etc/motd')).read(0, 100)))
 * ```
 * @packageDocumentation
 */
export { SoftwareAnchor, type Anchor, type FloorStore } from './anchor.js'
export { buildImage, entriesFromFS, type BuildOptions, type ImageEntry } from './build.js'
export { ImageCorruptBlockError, ImageVerifyError, SlotError, type ImageCheck, type ImageVerifyCode } from './errors.js'
export { FORMAT_VERSION, MAGIC, decodeHeader, type EntryType, type Header, type TableEntry } from './format.js'
export { equalBytes, fromHex, nobleHasher, toHex, type Hasher } from './hash.js'
export { openImageFS, type ImageFS, type ImageFSOptions } from './imagefs.js'
export { generateKeyPair, sign, verifySignature, type KeyPair } from './sign.js'
export { MAX_PRIORITY, MAX_TRIES, Slots, crc32, decodeMetadata, defaultMetadata, encodeMetadata, type AbMetadata, type CoreSource, type Rejection, type SelectedCore, type SlotName, type SlotState } from './slots.js'
export { BLOCK, buildTree, geometry, verityHeader, type TreeGeometry } from './verity.js'
export { bytesReader, checkHeader, verifyImage, type ImageReader, type Layout, type VerifiedImage, type VerifyOptions } from './verify.js'
