/**
 * A/B slots on a block device, in the Android Verified Boot style.
 *
 * Layout (in device blocks): blocks 0 and 1 hold two copies of the A/B metadata (written one
 * after the other, each flushed, so a torn write leaves the other); slot A and slot B follow,
 * `slotBlocks` each. A slot holds an image from its first block and, in its last block, a footer
 * with the image size.
 *
 * Metadata (32 bytes, big-endian, the libavb_ab layout): magic "\0AB0", version 1.0, 2 reserved,
 * per slot {priority 0–15 (0 = unbootable), tries remaining 0–7, successful boot, reserved},
 * 1 + 11 reserved, CRC-32 (IEEE) of the first 28 bytes. Invalid metadata resets to the
 * defaults (both slots priority 15 for A / 14 for B, 7 tries).
 */
import type { BlockDevice } from '@honk/block'
import type { Anchor } from './anchor.js'
import { SlotError } from './errors.js'
import { BLOCK } from './verity.js'
import { verifyImage, type VerifiedImage, type VerifyOptions } from './verify.js'

export type SlotName = 'A' | 'B'
export type CoreSource = SlotName | 'factory'

export interface SlotState {
  priority: number
  triesRemaining: number
  successfulBoot: boolean
}

export interface AbMetadata {
  slots: Record<SlotName, SlotState>
}

const MAGIC = [0, 0x41, 0x42, 0x30] // "\0AB0"
const FOOTER_MAGIC = 'HKSLOTF1'
export const MAX_TRIES = 7
export const MAX_PRIORITY = 15

export function defaultMetadata(): AbMetadata {
  return {
    slots: {
      A: { priority: MAX_PRIORITY, triesRemaining: MAX_TRIES, successfulBoot: false },
      B: { priority: MAX_PRIORITY - 1, triesRemaining: MAX_TRIES, successfulBoot: false },
    },
  }
}

const CRC_TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

/** CRC-32 (IEEE 802.3), as libavb_ab uses. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

export function encodeMetadata(m: AbMetadata): Uint8Array {
  const b = new Uint8Array(32)
  const v = new DataView(b.buffer)
  b.set(MAGIC, 0)
  b[4] = 1 // version major
  b[5] = 0 // version minor
  ;(['A', 'B'] as const).forEach((s, i) => {
    const st = m.slots[s]
    b[8 + i * 4] = Math.max(0, Math.min(MAX_PRIORITY, st.priority))
    b[9 + i * 4] = Math.max(0, Math.min(MAX_TRIES, st.triesRemaining))
    b[10 + i * 4] = st.successfulBoot ? 1 : 0
  })
  v.setUint32(28, crc32(b.subarray(0, 28)), false)
  return b
}

/** Decodes metadata; undefined when the magic, version or CRC is wrong. */
export function decodeMetadata(b: Uint8Array): AbMetadata | undefined {
  if (b.length < 32 || MAGIC.some((x, i) => b[i] !== x) || b[4] !== 1) return undefined
  if (new DataView(b.buffer, b.byteOffset, 32).getUint32(28, false) !== crc32(b.subarray(0, 28))) return undefined
  const slot = (i: number): SlotState => ({
    priority: Math.min(MAX_PRIORITY, b[8 + i * 4]!),
    triesRemaining: Math.min(MAX_TRIES, b[9 + i * 4]!),
    successfulBoot: b[10 + i * 4] === 1,
  })
  return { slots: { A: slot(0), B: slot(1) } }
}

/** Why a candidate was passed over during selection. */
export interface Rejection {
  source: CoreSource
  reason: string
}

export interface SelectedCore {
  source: CoreSource
  image: VerifiedImage
  bytes: Uint8Array
  /** "slot A v2", "embedded factory v1" — the boot line's wording. */
  label: string
  rejected: Rejection[]
}

export class Slots {
  readonly slotBlocks: number
  private readonly bs: number

  constructor(
    private readonly dev: BlockDevice,
    slotBytes = 1 << 20,
  ) {
    this.bs = dev.blockSize
    this.slotBlocks = Math.ceil(slotBytes / this.bs)
    if (2 + 2 * this.slotBlocks > dev.blockCount) throw new SlotError(`a device of ${dev.blockCount} blocks cannot hold two slots of ${this.slotBlocks} blocks`)
    if (this.slotBlocks * this.bs < 4 * BLOCK) throw new SlotError(`slots of ${slotBytes} bytes are too small for an image`)
  }

  /** Blocks used by the metadata and both slots; the rest of the device is free for other use. */
  get usedBlocks(): number {
    return 2 + 2 * this.slotBlocks
  }

  private start(slot: SlotName): number {
    return 2 + (slot === 'A' ? 0 : this.slotBlocks)
  }

  async readMetadata(): Promise<AbMetadata> {
    for (const lba of [0, 1]) {
      const b = new Uint8Array(this.bs)
      await this.dev.read(lba, b)
      const m = decodeMetadata(b)
      if (m) return m
    }
    return defaultMetadata()
  }

  async writeMetadata(m: AbMetadata): Promise<void> {
    const b = new Uint8Array(this.bs)
    b.set(encodeMetadata(m))
    for (const lba of [0, 1]) {
      await this.dev.write(lba, b)
      await this.dev.flush()
    }
  }

  /** Installs an image in a slot (not yet successful, full tries) at `priority`. */
  async writeImage(slot: SlotName, image: Uint8Array, priority = MAX_PRIORITY): Promise<void> {
    const room = (this.slotBlocks - 1) * this.bs
    if (image.length > room) throw new SlotError(`image of ${image.length} bytes does not fit slot ${slot} (${room} bytes)`)
    const m = await this.readMetadata()
    m.slots[slot] = { priority: 0, triesRemaining: 0, successfulBoot: false }
    await this.writeMetadata(m) // unbootable while it is being written
    const padded = new Uint8Array(Math.ceil(image.length / this.bs) * this.bs)
    padded.set(image)
    await this.dev.write(this.start(slot), padded)
    const footer = new Uint8Array(this.bs)
    footer.set(new TextEncoder().encode(FOOTER_MAGIC))
    new DataView(footer.buffer).setBigUint64(8, BigInt(image.length), true)
    new DataView(footer.buffer).setUint32(16, crc32(footer.subarray(0, 16)), true)
    await this.dev.write(this.start(slot) + this.slotBlocks - 1, footer)
    await this.dev.flush()
    m.slots[slot] = { priority, triesRemaining: MAX_TRIES, successfulBoot: false }
    await this.writeMetadata(m)
  }

  /** The image bytes in a slot, or a reason there are none. */
  async readImage(slot: SlotName): Promise<Uint8Array | string> {
    const footer = new Uint8Array(this.bs)
    await this.dev.read(this.start(slot) + this.slotBlocks - 1, footer)
    if (new TextDecoder().decode(footer.subarray(0, 8)) !== FOOTER_MAGIC) return 'empty (no footer)'
    const v = new DataView(footer.buffer)
    if (v.getUint32(16, true) !== crc32(footer.subarray(0, 16))) return 'footer checksum mismatch'
    const size = Number(v.getBigUint64(8, true))
    if (size <= 0 || size > (this.slotBlocks - 1) * this.bs) return `footer size ${size} does not fit the slot`
    const buf = new Uint8Array(Math.ceil(size / this.bs) * this.bs)
    await this.dev.read(this.start(slot), buf)
    return buf.subarray(0, size)
  }

  /**
   * Picks the core to boot: among bootable slots (priority > 0, and successful or with tries
   * left) that verify, the highest priority, then the highest security version, then A before
   * B; else the factory image. A slot that fails verification is marked unbootable; a slot
   * chosen before it was marked successful spends one try.
   */
  async select(anchor: Anchor, factory: Uint8Array | undefined, options: VerifyOptions = {}): Promise<SelectedCore> {
    const m = await this.readMetadata()
    const rejected: Rejection[] = []
    const good: { slot: SlotName; image: VerifiedImage; bytes: Uint8Array }[] = []
    let dirty = false
    for (const slot of ['A', 'B'] as const) {
      const st = m.slots[slot]
      if (st.priority === 0 || (!st.successfulBoot && st.triesRemaining === 0)) {
        rejected.push({ source: slot, reason: st.priority === 0 ? 'unbootable' : 'no tries left' })
        continue
      }
      const bytes = await this.readImage(slot)
      if (typeof bytes === 'string') {
        rejected.push({ source: slot, reason: bytes })
        m.slots[slot] = { priority: 0, triesRemaining: 0, successfulBoot: false }
        dirty = true
        continue
      }
      try {
        good.push({ slot, image: await verifyImage(bytes, anchor, options), bytes })
      } catch (e) {
        rejected.push({ source: slot, reason: (e as Error).message })
        m.slots[slot] = { priority: 0, triesRemaining: 0, successfulBoot: false }
        dirty = true
      }
    }
    good.sort((a, b) => m.slots[b.slot].priority - m.slots[a.slot].priority || (b.image.secVersion > a.image.secVersion ? 1 : b.image.secVersion < a.image.secVersion ? -1 : 0) || (a.slot < b.slot ? -1 : 1))
    const best = good[0]
    if (best) {
      const st = m.slots[best.slot]
      if (!st.successfulBoot) {
        st.triesRemaining--
        dirty = true
      }
      if (dirty) await this.writeMetadata(m)
      return { source: best.slot, image: best.image, bytes: best.bytes, label: `slot ${best.slot} v${best.image.secVersion}`, rejected }
    }
    if (dirty) await this.writeMetadata(m)
    if (!factory) throw new SlotError(`no verifiable core image: ${rejected.map((r) => `${r.source}: ${r.reason}`).join('; ')}`)
    try {
      const image = await verifyImage(factory, anchor, options)
      return { source: 'factory', image, bytes: factory, label: `embedded factory v${image.secVersion}`, rejected }
    } catch (e) {
      rejected.push({ source: 'factory', reason: (e as Error).message })
      throw new SlotError(`no verifiable core image: ${rejected.map((r) => `${r.source}: ${r.reason}`).join('; ')}`)
    }
  }

  /**
   * Marks a slot's boot successful and only then raises the anchor's rollback floor to its
   * version, so falling back to the other slot stays possible until the new one is proven.
   */
  async markSuccessful(slot: SlotName, anchor: Anchor, options: VerifyOptions = {}): Promise<void> {
    const bytes = await this.readImage(slot)
    if (typeof bytes === 'string') throw new SlotError(`slot ${slot} holds no image: ${bytes}`)
    const image = await verifyImage(bytes, anchor, options)
    const m = await this.readMetadata()
    m.slots[slot] = { ...m.slots[slot], successfulBoot: true, triesRemaining: 0, priority: Math.max(1, m.slots[slot].priority) }
    await this.writeMetadata(m)
    await anchor.raiseFloor(image.secVersion)
  }

  async markUnbootable(slot: SlotName): Promise<void> {
    const m = await this.readMetadata()
    m.slots[slot] = { priority: 0, triesRemaining: 0, successfulBoot: false }
    await this.writeMetadata(m)
  }
}
