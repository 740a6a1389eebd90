/**
 * The storage half of honk's kernel: how the disk is laid out, which core boots, and the root
 * filesystem built over them.
 *
 * Disk layout (device blocks; `layoutDisk`):
 *
 *   [0, 2)                       A/B metadata, two copies   ┐ the `Slots` class's own layout
 *   [2, 2 + s)                   slot A (1 MiB)             │ (s = 1 MiB / block size)
 *   [2 + s, 2 + 2s)              slot B (1 MiB)             ┘
 *   [2 + 2s, blockCount - 1)     the KV store (writable layer)
 *   blockCount - 1               scratch: reserved for `blk`'s self-test, never used by anything
 *                                else (the Go honk's self-test overwrote the KV log's last block)
 *
 * The root filesystem (`mountRoot`) is overlay(KVFS(kv), [host, core]): each layer only when
 * its device is there. With no block device the root is the verified core alone (read-only).
 *
 * Durability: every write through the root is durable when its promise resolves (the KV FS is
 * opened with `durable: true`: each operation's batch waits for the device flush), so `put` then
 * a power-off keeps the data, with no sync call needed.
 */
import type { BlockDevice } from '@honk/block'
import { slice } from '@honk/block'
import { HonkError } from '@honk/errors'
import { SlotError, Slots, bytesReader, decodeMetadata, openImageFS, verifyImage, type Anchor, type CoreSource, type ImageFS, type Rejection, type VerifyOptions } from '@honk/image'
import { openKV, type KV, type KVOptions, type KVRecovery } from '@honk/kv'
import { MemoryFS, forwarding, openKvFS, overlay, type FS, type KvFSOptions } from '@honk/vfs'
import type { MountLayer, MountedRoot, Storage } from './services.js'

/** Bytes per image slot (as honk: 1 MiB). */
export const SLOT_BYTES = 1 << 20
/** The smallest KV region `layoutDisk` accepts. */
export const MIN_KV_BYTES = 1 << 20

/** A storage request that cannot be honoured (a disk too small, no writable layer…). */
export class StorageError extends HonkError<'STORAGE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORAGE', message, options)
  }
}

/**
 * The writable layer could not be opened (the KV store or its filesystem). `mountRoot` throws
 * it rather than silently running without the layer, as the Go honk did; the message is the
 * underlying error's, and `cause` is that error. The kernel prints
 * "honk: writable layer unavailable: <message>" and mounts again without `kvRegion`
 * (read-only):
 *
 * ```ts
 * let root: MountedRoot
 * try {
 *   root = await mountRoot({ kvRegion, host, core, bootCore })
 * } catch (e) {
 *   if (!(e instanceof WritableLayerError)) throw e
 *   out(`honk: writable layer unavailable: ${e.message}\n`)
 *   root = await mountRoot({ host, core, bootCore })
 * }
 * ```
 */
export class WritableLayerError extends HonkError<'STORAGE_WRITABLE_UNAVAILABLE'> {
  constructor(cause: unknown) {
    super('STORAGE_WRITABLE_UNAVAILABLE', cause instanceof Error ? cause.message : String(cause), { cause })
  }
}

// ---- layout -------------------------------------------------------------------------------

/** A run of device blocks. */
export interface Extent {
  readonly start: number
  readonly count: number
}

export interface DiskLayout {
  /** The A/B slots (metadata + slot A + slot B, from block 0). */
  readonly slots: Slots
  /** The KV store's region, addressed from 0. */
  readonly kvRegion: BlockDevice
  /** The block reserved for `blk`'s self-test: the device's last, outside slots and KV. */
  readonly scratchBlock: number
  /** Where each part lies on the device, in blocks. */
  readonly extents: { readonly slots: Extent; readonly kv: Extent; readonly scratch: Extent }
}

/**
 * Lays out a disk (see the module comment). Throws `StorageError` when the device cannot hold
 * both slots, a KV region of at least {@link MIN_KV_BYTES} and the scratch block.
 */
export function layoutDisk(dev: BlockDevice): DiskLayout {
  const bs = dev.blockSize
  const slotBlocks = Math.ceil(SLOT_BYTES / bs)
  const slotsUsed = 2 + 2 * slotBlocks
  const kvBlocks = dev.blockCount - slotsUsed - 1
  if (kvBlocks * bs < MIN_KV_BYTES) {
    const need = slotsUsed + Math.ceil(MIN_KV_BYTES / bs) + 1
    throw new StorageError(`a disk of ${dev.blockCount} blocks x ${bs} B is too small: the slots, a ${MIN_KV_BYTES >> 20} MiB KV region and a scratch block need ${need} blocks`)
  }
  const slots = new Slots(dev, SLOT_BYTES)
  if (slots.usedBlocks !== slotsUsed) throw new StorageError(`the slots use ${slots.usedBlocks} blocks, the layout expected ${slotsUsed}`)
  return {
    slots,
    kvRegion: slice(dev, slotsUsed, kvBlocks),
    scratchBlock: dev.blockCount - 1,
    extents: { slots: { start: 0, count: slotsUsed }, kv: { start: slotsUsed, count: kvBlocks }, scratch: { start: dev.blockCount - 1, count: 1 } },
  }
}

/** What a disk holds, and in words why (for the boot line). */
export interface DiskInspection {
  /**
   * `honk` — valid A/B metadata in either copy; `blank` — every block honk could ever write is
   * zero (the whole device: metadata, slots, KV region and scratch), so formatting it loses
   * nothing; `foreign` — anything else. The kernel leaves a foreign disk untouched (never lose
   * data it does not understand) and boots read-only from the factory.
   */
  readonly kind: 'honk' | 'blank' | 'foreign'
  /** For `foreign`: what was found ("it holds an ext2/3/4 filesystem (magic 0xEF53 at byte 1080)"). */
  readonly detail: string
}

/** Bytes read per request while scanning for non-zero data. */
const SCAN_BYTES = 1 << 20

/**
 * The first block in `[start, start + count)` of `dev` holding a non-zero byte, or undefined
 * when the whole run is zero. Reads in 1 MiB requests and stops at the first non-zero byte.
 */
export async function firstNonZeroBlock(dev: BlockDevice, start = 0, count = dev.blockCount - start): Promise<number | undefined> {
  const bs = dev.blockSize
  const max = Math.max(1, Math.floor(SCAN_BYTES / bs))
  const buf = new Uint8Array(max * bs)
  // Requests grow from one block to 1 MiB: a disk in use answers from its first block.
  for (let lba = start, per = 1; lba < start + count; lba += per, per = Math.min(max, per * 4)) {
    const n = Math.min(per, start + count - lba)
    const view = buf.subarray(0, n * bs)
    await dev.read(lba, view)
    // Eight bytes at a time where aligned (the buffer is fresh, so its offset is 0).
    const words = new BigUint64Array(view.buffer, view.byteOffset, view.length >>> 3)
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return lba + Math.floor((i * 8) / bs)
  }
  return undefined
}

/** Bytes at `off` equal `sig` (a string of byte values). */
function has(b: Uint8Array, off: number, sig: string): boolean {
  if (off + sig.length > b.length) return false
  for (let i = 0; i < sig.length; i++) if (b[off + i] !== sig.charCodeAt(i)) return false
  return true
}

/** How many bytes of a disk's head {@link detectSignature} looks at (the btrfs superblock ends at 64 KiB + 4 KiB). */
export const SIGNATURE_BYTES = 72 * 1024

/**
 * Names a known on-disk format whose signature `head` (a disk's first bytes, ideally
 * {@link SIGNATURE_BYTES}) holds, or undefined. Checked: LUKS, GPT (512-byte and 4 KiB
 * sectors), FAT and other boot sectors / MBR (0x55AA at 510), ext2/3/4, Linux swap (page sizes
 * 4–64 KiB), XFS, btrfs, ISO 9660.
 */
export function detectSignature(head: Uint8Array): string | undefined {
  if (has(head, 0, 'LUKS\xba\xbe')) return 'it holds a LUKS encrypted volume ("LUKS\\xba\\xbe" at byte 0)'
  for (const lba of [512, 4096]) if (has(head, lba, 'EFI PART')) return `it holds a GPT partition table ("EFI PART" at byte ${lba})`
  if (has(head, 1080, '\x53\xef')) return 'it holds an ext2/3/4 filesystem (magic 0xEF53 at byte 1080)'
  for (const page of [4096, 8192, 16384, 65536]) {
    for (const sig of ['SWAPSPACE2', 'SWAP-SPACE']) if (has(head, page - 10, sig)) return `it holds a Linux swap area ("${sig}" at byte ${page - 10})`
  }
  if (has(head, 0, 'XFSB')) return 'it holds an XFS filesystem ("XFSB" at byte 0)'
  if (has(head, 65536 + 64, '_BHRfS_M')) return 'it holds a btrfs filesystem ("_BHRfS_M" at byte 65600)'
  if (has(head, 32769, 'CD001')) return 'it holds an ISO 9660 filesystem ("CD001" at byte 32769)'
  if (has(head, 510, '\x55\xaa')) {
    if (has(head, 54, 'FAT') || has(head, 82, 'FAT32') || has(head, 3, 'MSDOS') || has(head, 3, 'mkfs.fat')) return 'it holds a FAT filesystem (a boot sector with 0x55AA at byte 510)'
    return 'it holds an MBR partition table or boot sector (0x55AA at byte 510)'
  }
  return undefined
}

/** Bytes of the A/B metadata in its block: all honk writes there (see `inspectDisk`). */
const METADATA_BYTES = 32

/**
 * Judges a disk before anything is written (see {@link DiskInspection}). Reads blocks 0-1, the
 * first {@link SIGNATURE_BYTES}, and — only when there is no honk metadata and no known
 * signature — the whole device until its first non-zero block.
 *
 * The one non-zero content still taken as blank: bytes only within the first 32 of blocks 0-1
 * and zeros everywhere else — what honk's own first write (the A/B metadata) leaves when the
 * power fails while it is being written; nothing else can be there (and LUKS, the one signature
 * there, is checked first).
 */
export async function inspectDisk(dev: BlockDevice): Promise<DiskInspection> {
  const bs = dev.blockSize
  if (dev.blockCount < 2) return { kind: 'foreign', detail: `it has ${dev.blockCount} block(s), too few for the A/B metadata` }
  const headBlocks = Math.min(dev.blockCount, Math.ceil(SIGNATURE_BYTES / bs))
  const head = new Uint8Array(headBlocks * bs)
  await dev.read(0, head)
  for (const lba of [0, 1]) if (decodeMetadata(head.subarray(lba * bs, (lba + 1) * bs))) return { kind: 'honk', detail: 'honk A/B metadata' }
  const sig = detectSignature(head)
  if (sig) return { kind: 'foreign', detail: sig }
  const meta = (lba: number) => head.subarray(lba * bs, (lba + 1) * bs)
  for (const lba of [0, 1]) {
    if (meta(lba).subarray(METADATA_BYTES).some((b) => b !== 0)) return { kind: 'foreign', detail: `block ${lba} is not zero` }
  }
  const nz = await firstNonZeroBlock(dev, 2)
  if (nz !== undefined) return { kind: 'foreign', detail: `block ${nz} is not zero` }
  return { kind: 'blank', detail: 'every block is zero' }
}

/** {@link inspectDisk}'s verdict alone. */
export async function classifyDisk(dev: BlockDevice): Promise<'honk' | 'blank' | 'foreign'> {
  return (await inspectDisk(dev)).kind
}

/** The `Storage` the kernel hands the shell for `blk`. */
export function describeStorage(device: BlockDevice, layout: DiskLayout, kind = 'virtio-blk'): Storage {
  return { device, kind, scratchBlock: layout.scratchBlock }
}

// ---- core selection -----------------------------------------------------------------------

export interface CoreSelection {
  /** The verified core, served lazily (each block checked against the signed root on read). */
  readonly fs: ImageFS
  /** "slot A v2", "slot B v1", "embedded factory v1". */
  readonly label: string
  readonly source: CoreSource
  readonly secVersion: bigint
  /**
   * Candidates that failed this boot, in order, for boot lines such as
   * "honk: slot A rejected: <reason>": a slot that did not verify, a damaged footer, a slot out
   * of tries. Slots that are merely empty or already marked unbootable are left out (a fresh
   * disk has both slots empty; a slot rejected once is marked unbootable and would otherwise be
   * reported on every later boot); {@link skipped} has every candidate passed over.
   */
  readonly rejected: readonly Rejection[]
  /** Every candidate passed over, with its reason, including empty and unbootable slots. */
  readonly skipped: readonly Rejection[]
}

/** Reasons `Slots.select` gives for a slot that holds nothing to boot (not a failure). */
const QUIET_REASONS: ReadonlySet<string> = new Set(['empty (no footer)', 'unbootable'])

/**
 * Picks the core: with a disk, `Slots.select` (A/B by priority and version, a failing slot is
 * marked unbootable, else the factory); with none, the factory. Throws `SlotError`
 * ("no verifiable core image: …") when nothing verifies — the kernel's FATAL line.
 *
 * A slot booted before it was marked successful spends one of its tries; the kernel calls
 * `slots.markSuccessful(source, anchor)` once the boot is good.
 */
export async function selectCore(slots: Slots | undefined, factory: Uint8Array, anchor: Anchor, options: VerifyOptions = {}): Promise<CoreSelection> {
  let picked: { source: CoreSource; bytes: Uint8Array; label: string; rejected: Rejection[] }
  if (slots) {
    picked = await slots.select(anchor, factory, options)
  } else {
    try {
      const image = await verifyImage(factory, anchor, options)
      picked = { source: 'factory', bytes: factory, label: `embedded factory v${image.secVersion}`, rejected: [] }
    } catch (e) {
      throw new SlotError(`no verifiable core image: factory: ${(e as Error).message}`)
    }
  }
  const fs = await openImageFS(bytesReader(picked.bytes), anchor, options)
  const rejected = picked.rejected.filter((r) => !QUIET_REASONS.has(r.reason))
  return { fs, label: picked.label, source: picked.source, secVersion: fs.secVersion, rejected, skipped: picked.rejected }
}

// ---- the root filesystem ------------------------------------------------------------------

export interface MountOptions {
  /** The KV region (from `layoutDisk`); without it there is no writable layer. */
  kvRegion?: BlockDevice
  /** The host share (9p), a read-only layer between KV and the core. */
  host?: FS
  /** The 9p mount tag, for `mount` (default "host"). */
  hostTag?: string
  /** The verified core (`selectCore(…).fs`). */
  core: FS
  /** The core's label ("embedded factory v1"), for `mount` and `reset`. */
  bootCore: string
  /** KV tuning (tests). */
  kvOptions?: KVOptions
  /** The writable layer's clock (tests). */
  clock?: () => number
  /**
   * A damaged writable layer opened read-only (instead of `kvRegion`): its readable files are
   * shown, read-only, over the lower layers so they can be copied off.
   */
  salvage?: { kv: KV; fs: FS; region?: BlockDevice }
}

/**
 * Mounts the root: overlay(KVFS(kv), [host, core]), each layer only when present. Throws
 * {@link WritableLayerError} when `kvRegion` is given but the store or its filesystem cannot be
 * opened (see there for how the kernel falls back to read-only).
 */
export async function mountRoot(options: MountOptions): Promise<MountedRoot> {
  const layers: MountLayer[] = []
  const lowers: FS[] = []
  let kv: KV | undefined
  let upper: FS | undefined
  // Every write through the root is flushed before it returns (`put` then power-off keeps it).
  const kvfsOptions: KvFSOptions = { durable: true, ...(options.clock ? { clock: options.clock } : {}) }
  if (options.kvRegion) {
    kv = await openWritableKV(options.kvRegion, options.kvOptions ?? {})
    try {
      upper = await openKvFS(kv, kvfsOptions)
    } catch (e) {
      await kv.close().catch(() => undefined)
      throw new WritableLayerError(e)
    }
    layers.push({ name: 'kv', mode: 'writable', detail: '(shadows the layers below)' })
  }
  if (options.salvage && !kv) {
    lowers.push(options.salvage.fs)
    layers.push({ name: 'kv', mode: 'read-only', detail: '(damaged: what could be read, read-only)' })
  }
  if (options.host) {
    lowers.push(options.host)
    layers.push({ name: 'host', mode: 'read-only', detail: `9p tag "${options.hostTag ?? 'host'}"` })
  }
  lowers.push(options.core)
  layers.push({ name: 'core', mode: 'read-only', detail: options.bootCore })
  return new Root(kv, upper, lowers, layers, options.bootCore, kvfsOptions, options.salvage && !kv ? options.salvage : undefined)
}

/**
 * Opens the KV store of the writable layer, never formatting data: a region that is all zero is
 * formatted (a new disk); any other region must hold a store that opens. Throws
 * {@link WritableLayerError} saying why otherwise; nothing is written then.
 *
 * The store formats on its own when neither superblock is valid and both are zero (a new
 * device). On a region whose superblock blocks were zeroed (one bad sector, a stray write) but
 * whose log still holds data, that would orphan every acknowledged record (issue #12 case 2:
 * 100 durable keys → 0), so the region's blankness is checked here first.
 */
export async function openWritableKV(region: BlockDevice, kvOptions: KVOptions = {}): Promise<KV> {
  let firstData: number | undefined
  try {
    firstData = await firstNonZeroBlock(region)
    if (firstData !== undefined) {
      const sbs = new Uint8Array(2 * region.blockSize)
      await region.read(0, sbs)
      if (sbs.every((b) => b === 0)) {
        throw new StorageError(`the KV region's superblocks (its blocks 0-1) are blank but block ${firstData} of it holds data; it is not formatted (that would lose it)`)
      }
    }
    // Never `format: true`: a damaged store is reported, not wiped. The default recovery mode
    // ('strict') refuses damage in the middle of the log (acknowledged data lost) with
    // KvCorruptError rather than opening without it.
    const kv = await openKV(region, { ...kvOptions, format: false, recovery: 'strict' })
    lastRecovery.set(region, kv.recovery)
    return kv
  } catch (e) {
    throw e instanceof WritableLayerError ? e : new WritableLayerError(e)
  }
}

/** The recovery report of the last writable open of each region (for the boot lines). */
const lastRecovery = new WeakMap<BlockDevice, KVRecovery>()

/**
 * Opens a damaged store read-only, recovering every intact record ('salvage'), with its file
 * system read-only: nothing is written. Undefined when even that fails.
 */
async function salvageLayer(region: BlockDevice): Promise<{ kv: KV; fs: FS; region: BlockDevice } | undefined> {
  let kv: KV | undefined
  try {
    kv = await openKV(region, { readOnly: true, recovery: 'salvage' })
    return { kv, fs: await openKvFS(kv, { readOnly: true }), region }
  } catch {
    await kv?.close().catch(() => undefined)
    return undefined
  }
}

export interface BringUpOptions {
  /** The block device, if the machine has one. */
  disk?: BlockDevice
  /** The host share, if mounted. */
  host?: { fs: FS; tag: string }
  factory: Uint8Array
  anchor: Anchor
  /** Prints one boot line (without its newline). */
  line: (text: string) => void
  /** KV tuning (tests). */
  kvOptions?: KVOptions
  /** The writable layer's clock (tests). */
  clock?: () => number
}

export interface BroughtUp {
  readonly root: MountedRoot
  readonly core: CoreSelection
  /** The disk as `blk` sees it (when it is honk's). */
  readonly storage?: Storage
  readonly layout?: DiskLayout
  /** What the disk was found to be (absent without a disk). */
  readonly disk?: DiskInspection
  /** Why the boot is read-only, when it is despite a disk (the boot line's text). */
  readonly readOnlyWhy?: string
}

/**
 * The storage bring-up of a boot: judge the disk, lay it out, pick the core, mount the root,
 * and mark a slot boot good. Every way the disk can be unusable ends in a read-only boot with
 * one line saying why, and nothing written to the disk:
 *
 * - "honk: disk not used: …" — the disk is not honk's and not blank (a filesystem, swap, a
 *   partition table, any non-zero block), or too small;
 * - "honk: writable layer unavailable: …" — the KV store is damaged, or its region holds data
 *   but no store (never formatted over).
 */
export async function bringUpStorage(options: BringUpOptions): Promise<BroughtUp> {
  const { disk, line } = options
  let layout: DiskLayout | undefined
  let inspection: DiskInspection | undefined
  let readOnlyWhy: string | undefined
  if (disk) {
    inspection = await inspectDisk(disk)
    if (inspection.kind === 'foreign') {
      readOnlyWhy = `disk not used: blocks 0-1 hold no honk A/B metadata and ${inspection.detail}; nothing on it is changed (read-only boot)`
      line(`honk: ${readOnlyWhy}`)
    } else {
      try {
        layout = layoutDisk(disk)
      } catch (e) {
        if (!(e instanceof StorageError)) throw e
        readOnlyWhy = `disk not used: ${e.message}`
        line(`honk: ${readOnlyWhy}`)
      }
    }
  }
  // Nothing verifiable throws SlotError("no verifiable core image: …"): the FATAL line, then power-off.
  const core = await selectCore(layout?.slots, options.factory, options.anchor)
  for (const r of core.rejected) line(`honk: core ${r.source === 'factory' ? 'factory image' : `slot ${r.source}`} rejected: ${r.reason}`)
  line(`honk: core verified - ${core.label}`)
  const storage = disk && layout ? describeStorage(disk, layout) : undefined
  const common = { ...(options.host ? { host: options.host.fs, hostTag: options.host.tag } : {}), core: core.fs, bootCore: core.label, ...(options.kvOptions ? { kvOptions: options.kvOptions } : {}), ...(options.clock ? { clock: options.clock } : {}) }
  let root: MountedRoot
  try {
    root = await mountRoot({ ...(layout ? { kvRegion: layout.kvRegion } : {}), ...common })
  } catch (e) {
    if (!(e instanceof WritableLayerError)) throw e
    readOnlyWhy = `writable layer unavailable: ${e.message}; it is left as it is (read-only boot)`
    line(`honk: ${readOnlyWhy}`)
    const salvage = layout ? await salvageLayer(layout.kvRegion) : undefined
    if (salvage) line(`honk: writable layer: its readable files are shown read-only (${salvage.kv.recovery.frames} log records read, ${salvage.kv.recovery.damage.reduce((n, d) => n + d.lostSeqs, 0)} lost); copy them off, then \`reset\``)
    root = await mountRoot({ ...common, ...(salvage ? { salvage } : {}) })
  }
  const recovery = root.writable && layout ? lastRecovery.get(layout.kvRegion) : undefined
  if (recovery && recovery.superblocks.length > 0) line(`honk: writable layer: damaged superblock copy repaired (${recovery.superblocks.join('; ')})`)
  // The boot got this far on a slot: mark it good so it stops spending tries (and the rollback floor may rise).
  if (layout && core.source !== 'factory') await layout.slots.markSuccessful(core.source, options.anchor)
  return { root, core, ...(storage ? { storage } : {}), ...(layout ? { layout } : {}), ...(inspection ? { disk: inspection } : {}), ...(readOnlyWhy ? { readOnlyWhy } : {}) }
}

class Root implements MountedRoot {
  readonly root: FS
  private view: FS
  private done: Promise<void> | undefined

  constructor(
    private kv: KV | undefined,
    private upper: FS | undefined,
    private lowers: readonly FS[],
    public layers: readonly MountLayer[],
    readonly bootCore: string,
    private readonly kvfsOptions: KvFSOptions,
    /** A damaged store opened read-only (closed with the root; it writes nothing until `reset`). */
    private salvaged?: { kv: KV; fs: FS; region?: BlockDevice },
  ) {
    this.view = this.compose()
    // One stable object for the kernel to hold: it forwards to the current overlay, which
    // `reset` replaces.
    this.root = forwarding(() => this.view)
  }

  get writable(): FS | undefined {
    return this.upper
  }

  private compose(): FS {
    if (this.upper) return overlay(this.upper, this.lowers)
    // No writable layer: the core alone, or host over core under an empty read-only top.
    if (this.lowers.length === 1) return this.lowers[0]!
    return overlay(new MemoryFS({ readOnly: true }), this.lowers)
  }

  async reset(): Promise<void> {
    const salvaged = this.salvaged
    if (!this.kv && salvaged?.region) {
      // A damaged store shown read-only: the boot line said "copy them off, then `reset`". The
      // user asked for it to be cleared, so (only now) it is formatted afresh, and the layer
      // becomes writable.
      await salvaged.kv.close()
      this.salvaged = undefined
      // A writable salvage open (it moves what it read away from the damage first), then the
      // store's own crash-safe reset.
      const kv = await openKV(salvaged.region, { recovery: 'salvage' })
      await kv.reset()
      this.kv = kv
      this.upper = await openKvFS(kv, this.kvfsOptions)
      this.lowers = this.lowers.filter((l) => l !== salvaged.fs)
      this.layers = this.layers.map((l) => (l.name === 'kv' ? { name: 'kv', mode: 'writable', detail: '(shadows the layers below)' } : l))
      this.view = this.compose()
      return
    }
    if (!this.kv) throw new StorageError('no writable layer (read-only core)')
    // The store's reset is crash-safe and durable (a new superblock, flushed); the filesystem
    // is then created afresh in the empty store. File handles opened before are stale.
    await this.kv.reset()
    this.upper = await openKvFS(this.kv, this.kvfsOptions)
    this.view = this.compose()
  }

  close(): Promise<void> {
    this.done ??= (async () => {
      await this.salvaged?.kv.close()
      if (!this.kv) return
      await this.kv.sync()
      await this.kv.close()
    })()
    return this.done
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    StorageError: StorageError
    WritableLayerError: WritableLayerError
  }
}
