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
import { openKV, type KV, type KVOptions } from '@honk/kv'
import { MemoryFS, openKvFS, overlay, type DirEntry, type FS, type FileHandle, type KvFSOptions, type OpenOptions, type SetAttr, type Stat } from '@honk/vfs'
import type { MountLayer, MountedRoot, Storage } from './services.js'

/** Bytes per image slot (as honk: 1 MiB). */
export const SLOT_BYTES = 1 << 20
/** The smallest KV region `layoutDisk` accepts. */
export const MIN_KV_BYTES = 1 << 20

/** A storage request that cannot be honoured (a disk too small, no writable layer…). */
export class StorageError extends HonkError {
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
export class WritableLayerError extends HonkError {
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

/**
 * What a disk holds, judged from its first two blocks (the A/B metadata copies) before anything
 * is written: `honk` — valid metadata in either copy; `blank` — both blocks all zero (a new
 * disk, formatted on first boot); `foreign` — anything else. The kernel leaves a foreign disk
 * untouched (never lose data it does not understand) and boots read-only from the factory.
 */
export async function classifyDisk(dev: BlockDevice): Promise<'honk' | 'blank' | 'foreign'> {
  if (dev.blockCount < 2) return 'foreign'
  const head = new Uint8Array(2 * dev.blockSize)
  await dev.read(0, head)
  for (const lba of [0, 1]) if (decodeMetadata(head.subarray(lba * dev.blockSize, (lba + 1) * dev.blockSize))) return 'honk'
  return head.every((b) => b === 0) ? 'blank' : 'foreign'
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
    try {
      kv = await openKV(options.kvRegion, options.kvOptions ?? {})
    } catch (e) {
      throw new WritableLayerError(e)
    }
    try {
      upper = await openKvFS(kv, kvfsOptions)
    } catch (e) {
      await kv.close().catch(() => undefined)
      throw new WritableLayerError(e)
    }
    layers.push({ name: 'kv', mode: 'writable', detail: '(shadows the layers below)' })
  }
  if (options.host) {
    lowers.push(options.host)
    layers.push({ name: 'host', mode: 'read-only', detail: `9p tag "${options.hostTag ?? 'host'}"` })
  }
  lowers.push(options.core)
  layers.push({ name: 'core', mode: 'read-only', detail: options.bootCore })
  return new Root(kv, upper, lowers, layers, options.bootCore, kvfsOptions)
}

class Root implements MountedRoot {
  readonly root: FS
  private view: FS
  private done: Promise<void> | undefined

  constructor(
    private readonly kv: KV | undefined,
    private upper: FS | undefined,
    private readonly lowers: readonly FS[],
    readonly layers: readonly MountLayer[],
    readonly bootCore: string,
    private readonly kvfsOptions: KvFSOptions,
  ) {
    this.view = this.compose()
    // One stable object for the kernel to hold: it forwards to the current overlay, which
    // `reset` replaces.
    this.root = new ForwardingFS(() => this.view)
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
    if (!this.kv) throw new StorageError('no writable layer (read-only core)')
    // The store's reset is crash-safe and durable (a new superblock, flushed); the filesystem
    // is then created afresh in the empty store. File handles opened before are stale.
    await this.kv.reset()
    this.upper = await openKvFS(this.kv, this.kvfsOptions)
    this.view = this.compose()
  }

  close(): Promise<void> {
    this.done ??= (async () => {
      if (!this.kv) return
      await this.kv.sync()
      await this.kv.close()
    })()
    return this.done
  }
}

/** An FS that forwards every call to whatever `target()` returns at the time of the call. */
class ForwardingFS implements FS {
  constructor(private readonly target: () => FS) {}

  get readOnly(): boolean {
    return this.target().readOnly
  }
  stat(path: string): Promise<Stat> {
    return this.target().stat(path)
  }
  readDir(path: string): Promise<DirEntry[]> {
    return this.target().readDir(path)
  }
  open(path: string, options?: OpenOptions): Promise<FileHandle> {
    return this.target().open(path, options)
  }
  mkdir(path: string, mode?: number): Promise<void> {
    return this.target().mkdir(path, mode)
  }
  remove(path: string): Promise<void> {
    return this.target().remove(path)
  }
  rename(from: string, to: string): Promise<void> {
    return this.target().rename(from, to)
  }
  symlink(target: string, path: string): Promise<void> {
    return this.target().symlink(target, path)
  }
  readlink(path: string): Promise<string> {
    return this.target().readlink(path)
  }
  setattr(path: string, attrs: SetAttr): Promise<void> {
    return this.target().setattr(path, attrs)
  }
  sync(): Promise<void> {
    return this.target().sync()
  }
}
