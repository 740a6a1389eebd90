/**
 * The driver side of virtio over MMIO with split virtqueues: what honk's own kernel uses to
 * drive a device (and what this package's tests use to drive its device models). It follows
 * §3.1.1 (driver initialization), §4.2.3 (MMIO specifics) and §2.7.13 (supplying buffers).
 * Unlike the device side it trusts the device, and throws `VirtioDriverError` on surprises.
 */
import type { AccessSize } from '@honk/riscv'
import { FEATURE, MMIO, STATUS, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VIRTQ_DESC_F, VIRTQ_USED_F_NO_NOTIFY, needEvent, splitRingSizes } from './constants.js'
import { VirtioDriverError } from './errors.js'
import type { GuestMemory } from './memory.js'

/** A device's register window, as a driver reaches it (an `MmioDevice`, or a bus at a base). */
export interface RegisterWindow {
  read(offset: number, size: AccessSize): bigint
  write(offset: number, size: AccessSize, value: bigint): void
}

/** Hands out guest-physical memory for rings, indirect tables and buffers. */
export interface DmaAllocator {
  /** `size` bytes aligned to `align` (a power of 2); throws when memory is exhausted. */
  alloc(size: number, align: number): number
}

/** Allocates upwards from `base`, never frees; `reset()` starts over. */
export class BumpAllocator implements DmaAllocator {
  private next: number
  constructor(
    readonly base: number,
    readonly size: number,
  ) {
    this.next = base
  }
  alloc(size: number, align: number): number {
    const addr = Math.ceil(this.next / align) * align
    if (addr + size > this.base + this.size) throw new VirtioDriverError(`DMA allocator out of memory (${size} bytes wanted, ${this.base + this.size - addr} left)`)
    this.next = addr + size
    return addr
  }
  reset(): void {
    this.next = this.base
  }
  /** Bytes handed out so far (alignment padding included). */
  get used(): number {
    return this.next - this.base
  }
}

/** One buffer of a chain, from the driver's point of view. */
export interface DriverSegment {
  readonly addr: number
  readonly len: number
  /** Device-writable (the device fills it) rather than device-readable. */
  readonly writable: boolean
}

/** A used-ring entry: chain `head` came back with `len` bytes written. */
export interface UsedEntry {
  readonly head: number
  readonly len: number
}

/** What {@link VirtioMmioDriver.probe} finds in a register window. */
export interface ProbeResult {
  readonly deviceId: number
  readonly vendorId: number
}

const u32 = (regs: RegisterWindow, offset: number) => Number(regs.read(offset, 4) & 0xffff_ffffn)
const w32 = (regs: RegisterWindow, offset: number, v: number) => regs.write(offset, 4, BigInt(v >>> 0))

export class VirtioMmioDriver {
  readonly deviceId: number
  readonly vendorId: number
  private features = 0n

  constructor(
    readonly regs: RegisterWindow,
    readonly memory: GuestMemory,
    readonly alloc: DmaAllocator,
  ) {
    const found = VirtioMmioDriver.probe(regs)
    if (!found) throw new VirtioDriverError('no virtio-mmio version 2 device in this register window')
    this.deviceId = found.deviceId
    this.vendorId = found.vendorId
  }

  /** Magic, version 2 and a non-zero DeviceID (0 = an empty slot, §4.2.3.1.1), or undefined. */
  static probe(regs: RegisterWindow): ProbeResult | undefined {
    if (u32(regs, MMIO.MagicValue) !== VIRTIO_MMIO_MAGIC || u32(regs, MMIO.Version) !== VIRTIO_MMIO_VERSION) return undefined
    const deviceId = u32(regs, MMIO.DeviceID)
    return deviceId === 0 ? undefined : { deviceId, vendorId: u32(regs, MMIO.VendorID) }
  }

  get status(): number {
    return u32(this.regs, MMIO.Status)
  }

  /** The device set DEVICE_NEEDS_RESET. */
  get needsReset(): boolean {
    return (this.status & STATUS.DEVICE_NEEDS_RESET) !== 0
  }

  /** The features negotiated by {@link init}. */
  get negotiated(): bigint {
    return this.features
  }

  /** Writes 0 to Status and waits for it to read back 0 (§4.2.3.1, §2.4). */
  reset(): void {
    w32(this.regs, MMIO.Status, 0)
    for (let i = 0; i < 1000; i++) if (this.status === 0) return
    throw new VirtioDriverError('device did not complete its reset')
  }

  /** The 64 feature bits the device offers. */
  deviceFeatures(): bigint {
    w32(this.regs, MMIO.DeviceFeaturesSel, 0)
    const lo = u32(this.regs, MMIO.DeviceFeatures)
    w32(this.regs, MMIO.DeviceFeaturesSel, 1)
    const hi = u32(this.regs, MMIO.DeviceFeatures)
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  /**
   * §3.1.1 steps 1–6: reset, ACKNOWLEDGE, DRIVER, accept `wanted ∩ offered` (VERSION_1 is
   * required), FEATURES_OK and check it stuck. Returns the negotiated features. Then set up
   * queues and call {@link driverOk}.
   */
  init(wanted: bigint): bigint {
    this.reset()
    w32(this.regs, MMIO.Status, STATUS.ACKNOWLEDGE)
    w32(this.regs, MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER)
    const offered = this.deviceFeatures()
    if (!(offered & FEATURE.VERSION_1)) return this.failed('device does not offer VIRTIO_F_VERSION_1')
    const accepted = (wanted | FEATURE.VERSION_1) & offered
    w32(this.regs, MMIO.DriverFeaturesSel, 0)
    w32(this.regs, MMIO.DriverFeatures, Number(accepted & 0xffff_ffffn))
    w32(this.regs, MMIO.DriverFeaturesSel, 1)
    w32(this.regs, MMIO.DriverFeatures, Number(accepted >> 32n))
    w32(this.regs, MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK)
    if (!(this.status & STATUS.FEATURES_OK)) return this.failed(`device refused features 0x${accepted.toString(16)}`)
    this.features = accepted
    return accepted
  }

  /** §3.1.1 step 8: the driver is ready; the device may now use its queues. */
  driverOk(): void {
    w32(this.regs, MMIO.Status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK)
  }

  /** §4.2.3.2: allocates and enables queue `index` with at most `size` entries (default: the device's maximum). */
  setupQueue(index: number, size?: number): DriverQueue {
    w32(this.regs, MMIO.QueueSel, index)
    if (u32(this.regs, MMIO.QueueReady) !== 0) throw new VirtioDriverError(`queue ${index} is already in use`)
    const max = u32(this.regs, MMIO.QueueNumMax)
    if (max === 0) throw new VirtioDriverError(`queue ${index} does not exist`)
    let n = Math.min(size ?? max, max)
    while (n & (n - 1)) n &= n - 1 // round down to a power of 2 (§2.7)
    const sizes = splitRingSizes(n)
    const desc = this.alloc.alloc(sizes.desc, 16)
    const avail = this.alloc.alloc(sizes.avail, 2)
    const used = this.alloc.alloc(sizes.used, 4)
    this.memory.write(desc, new Uint8Array(sizes.desc))
    this.memory.write(avail, new Uint8Array(sizes.avail))
    this.memory.write(used, new Uint8Array(sizes.used))
    w32(this.regs, MMIO.QueueNum, n)
    const set64 = (lo: number, v: number) => {
      w32(this.regs, lo, v % 0x1_0000_0000)
      w32(this.regs, lo + 4, Math.floor(v / 0x1_0000_0000))
    }
    set64(MMIO.QueueDescLow, desc)
    set64(MMIO.QueueDriverLow, avail)
    set64(MMIO.QueueDeviceLow, used)
    w32(this.regs, MMIO.QueueReady, 1)
    if (u32(this.regs, MMIO.QueueReady) !== 1) throw new VirtioDriverError(`device refused queue ${index}`)
    return new DriverQueue(this, index, n, desc, avail, used)
  }

  /**
   * Reads `length` bytes of config space at `offset`, consistently: retried until
   * ConfigGeneration is the same before and after (§2.5.1).
   */
  readConfig(offset: number, length: number): Uint8Array {
    for (;;) {
      const before = u32(this.regs, MMIO.ConfigGeneration)
      const out = new Uint8Array(length)
      for (let i = 0; i < length; i++) out[i] = Number(this.regs.read(MMIO.Config + offset + i, 1) & 0xffn)
      if (u32(this.regs, MMIO.ConfigGeneration) === before) return out
    }
  }

  /** Writes a config field of 1, 2, 4 or 8 bytes. */
  writeConfig(offset: number, size: AccessSize, value: bigint): void {
    this.regs.write(MMIO.Config + offset, size, value)
  }

  /** Reads InterruptStatus and acknowledges those bits (what an interrupt handler does first). */
  ackInterrupt(): number {
    const bits = u32(this.regs, MMIO.InterruptStatus)
    if (bits) w32(this.regs, MMIO.InterruptACK, bits)
    return bits
  }

  /** @internal */
  notify(index: number): void {
    w32(this.regs, MMIO.QueueNotify, index)
  }

  private failed(message: string): never {
    w32(this.regs, MMIO.Status, this.status | STATUS.FAILED)
    throw new VirtioDriverError(message)
  }
}

/** A split virtqueue seen from the driver: descriptors, available ring out, used ring in. */
export class DriverQueue {
  /** Free descriptors, as a stack of indices. */
  private readonly freeList: number[] = []
  /** Per in-flight head: the descriptor indices its chain holds. */
  private readonly chains = new Map<number, number[]>()
  /** Per head: an indirect table kept for reuse (address, capacity in entries). */
  private readonly indirectTables = new Map<number, { addr: number; entries: number }>()
  private availIdx = 0
  private kickedIdx = 0
  private lastUsed = 0
  private readonly buf = new Uint8Array(16)
  private readonly view = new DataView(this.buf.buffer)
  private readonly eventIdx: boolean
  private readonly indirect: boolean

  constructor(
    private readonly driver: VirtioMmioDriver,
    readonly index: number,
    readonly size: number,
    readonly descAddr: number,
    readonly availAddr: number,
    readonly usedAddr: number,
  ) {
    for (let i = size - 1; i >= 0; i--) this.freeList.push(i)
    this.eventIdx = (driver.negotiated & FEATURE.RING_EVENT_IDX) !== 0n
    this.indirect = (driver.negotiated & FEATURE.RING_INDIRECT_DESC) !== 0n
  }

  /** Descriptors not in use. */
  get free(): number {
    return this.freeList.length
  }

  /** Chains submitted and not yet collected. */
  get inFlight(): number {
    return this.chains.size
  }

  /**
   * Makes a chain available: readable segments first, then writable ones (§2.7.4.2). With
   * `indirect` (needs VIRTIO_F_RING_INDIRECT_DESC) the chain takes one ring descriptor and an
   * indirect table. Returns the head index (the id the used ring will give back). Call
   * {@link kick} after a batch.
   */
  submit(segments: readonly DriverSegment[], options: { indirect?: boolean } = {}): number {
    if (segments.length === 0) throw new VirtioDriverError('a chain needs at least one buffer')
    for (let i = 1; i < segments.length; i++) {
      if (!segments[i]!.writable && segments[i - 1]!.writable) throw new VirtioDriverError('readable buffers must come before writable ones')
    }
    const useIndirect = options.indirect === true && segments.length > 1
    if (useIndirect && !this.indirect) throw new VirtioDriverError('VIRTIO_F_RING_INDIRECT_DESC was not negotiated')
    const need = useIndirect ? 1 : segments.length
    if (need > this.freeList.length) throw new VirtioDriverError(`queue ${this.index}: ${need} descriptors wanted, ${this.freeList.length} free`)
    const taken = this.freeList.splice(this.freeList.length - need, need).reverse()
    const head = taken[0]!
    if (useIndirect) {
      let table = this.indirectTables.get(head)
      if (!table || table.entries < segments.length) {
        table = { addr: this.driver.alloc.alloc(16 * segments.length, 16), entries: segments.length }
        this.indirectTables.set(head, table)
      }
      segments.forEach((s, i) => this.writeDesc(table.addr, i, s.addr, s.len, (s.writable ? VIRTQ_DESC_F.WRITE : 0) | (i + 1 < segments.length ? VIRTQ_DESC_F.NEXT : 0), i + 1))
      this.writeDesc(this.descAddr, head, table.addr, 16 * segments.length, VIRTQ_DESC_F.INDIRECT, 0)
    } else {
      segments.forEach((s, i) => this.writeDesc(this.descAddr, taken[i]!, s.addr, s.len, (s.writable ? VIRTQ_DESC_F.WRITE : 0) | (i + 1 < segments.length ? VIRTQ_DESC_F.NEXT : 0), taken[i + 1] ?? 0))
    }
    this.chains.set(head, taken)
    // §2.7.13.2 then §2.7.13.3: the ring entry, then (after it) the index.
    this.write16(this.availAddr + 4 + 2 * (this.availIdx % this.size), head)
    this.availIdx = (this.availIdx + 1) & 0xffff
    this.write16(this.availAddr + 2, this.availIdx)
    return head
  }

  /**
   * Notifies the device of new buffers, unless it said it does not need one
   * (VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX — §2.7.13.4). Returns whether it did.
   */
  kick(): boolean {
    const old = this.kickedIdx
    this.kickedIdx = this.availIdx
    if (old === this.availIdx) return false
    const wanted = this.eventIdx ? needEvent(this.read16(this.usedAddr + 4 + 8 * this.size), this.availIdx, old) : (this.read16(this.usedAddr) & VIRTQ_USED_F_NO_NOTIFY) === 0
    if (wanted) this.driver.notify(this.index)
    return wanted
  }

  /** Takes the chains the device returned since the last call and frees their descriptors. */
  collect(): UsedEntry[] {
    const out: UsedEntry[] = []
    const usedIdx = this.read16(this.usedAddr + 2)
    while (this.lastUsed !== usedIdx) {
      const slot = this.usedAddr + 4 + 8 * (this.lastUsed % this.size)
      if (!this.driver.memory.read(slot, this.buf.subarray(0, 8))) throw new VirtioDriverError('used ring is not in memory')
      const head = this.view.getUint32(0, true)
      const len = this.view.getUint32(4, true)
      const descs = this.chains.get(head)
      if (!descs) throw new VirtioDriverError(`queue ${this.index}: device returned ${head}, which is not in flight`)
      this.chains.delete(head)
      this.freeList.push(...descs)
      out.push({ head, len })
      this.lastUsed = (this.lastUsed + 1) & 0xffff
    }
    // With EVENT_IDX: interrupt me when the next entry is used (§2.7.10).
    if (this.eventIdx) this.write16(this.availAddr + 4 + 2 * this.size, this.lastUsed)
    return out
  }

  /** Sets or clears VIRTQ_AVAIL_F_NO_INTERRUPT (meaningful without EVENT_IDX). */
  suppressInterrupts(on: boolean): void {
    this.write16(this.availAddr, on ? 1 : 0)
  }

  private writeDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    this.view.setUint32(0, addr % 0x1_0000_0000, true)
    this.view.setUint32(4, Math.floor(addr / 0x1_0000_0000), true)
    this.view.setUint32(8, len, true)
    this.view.setUint16(12, flags, true)
    this.view.setUint16(14, next, true)
    if (!this.driver.memory.write(table + 16 * i, this.buf)) throw new VirtioDriverError(`descriptor table at 0x${table.toString(16)} is not in memory`)
  }

  private read16(addr: number): number {
    const b = new Uint8Array(2)
    if (!this.driver.memory.read(addr, b)) throw new VirtioDriverError(`ring at 0x${addr.toString(16)} is not in memory`)
    return b[0]! | (b[1]! << 8)
  }

  private write16(addr: number, v: number): void {
    if (!this.driver.memory.write(addr, Uint8Array.of(v & 0xff, v >>> 8))) throw new VirtioDriverError(`ring at 0x${addr.toString(16)} is not in memory`)
  }
}
