/**
 * The driver side of virtio-blk (virtio 1.2 §5.2): a `BlockDevice` of `@honk/block` on a
 * virtio-mmio block device — what honk's own kernel uses for its disks.
 *
 * Each request is one chain: a 16-byte header (type, reserved, sector), the data, and a
 * device-writable status byte. Buffers come from a pool allocated once in guest memory (one
 * slot per request in flight); a request waits for a free slot. Requests larger than a slot
 * are split. Completions are collected from the used ring after the device's interrupt, which
 * the caller's `waitForInterrupt()` reports (honk's kernel resolves it from the PLIC handler).
 */
import { BlockClosedError, BlockIoError, checkRequest, type BlockDevice } from '@honk/block'
import { BLK_F, BLK_S, BLK_T, SECTOR } from './blk.js'
import { DEVICE_ID, FEATURE } from './constants.js'
import type { DmaAllocator, DriverQueue, DriverSegment, VirtioMmioDriver } from './driver.js'
import { VirtioDriverError } from './errors.js'
import type { GuestMemory } from './memory.js'

export interface VirtioBlkDriverOptions {
  /** A probed driver whose device is a virtio-blk (device id 2), not yet initialised. */
  readonly driver: VirtioMmioDriver
  readonly memory: GuestMemory
  /** Where the request buffers are allocated (guest memory the device can reach). */
  readonly alloc: DmaAllocator
  /** Resolves after the device's next interrupt. Must register synchronously when called. */
  waitForInterrupt(): Promise<void>
  /** Queue 0 size wanted (default: the device's maximum). */
  readonly queueSize?: number
  /** Requests in flight at once (buffer slots); default 8, and at most a third of the queue size. */
  readonly maxInFlight?: number
  /** Largest data part of one request, in bytes (default 64 KiB); larger I/O is split. */
  readonly maxRequestBytes?: number
  /** Name used in error messages, e.g. `'virtio-blk@10001000'`; default `'virtio-blk'`. */
  readonly name?: string
}

/** The kind of a virtio-blk request, as named in errors. */
export type BlkRequestOp = 'read' | 'write' | 'flush'

/** The device answered a request with a status other than OK (IOERR, UNSUPP, or no status at all). */
export class VirtioBlkStatusError extends BlockIoError {
  constructor(
    readonly device: string,
    readonly op: BlkRequestOp,
    /** First 512-byte sector of the request, and how many (0 for a flush). */
    readonly sector: number,
    readonly sectors: number,
    /** The status byte: 1 IOERR, 2 UNSUPP, 0xFF when the device wrote none. */
    readonly status: number,
  ) {
    const what = op === 'flush' ? 'flush' : `${op} of sectors [${sector}, ${sector + sectors})`
    const why = status === BLK_S.IOERR ? 'I/O error (IOERR)' : status === BLK_S.UNSUPP ? 'request not supported (UNSUPP)' : `no valid status (0x${status.toString(16)})`
    super(`${device}: ${what} failed: ${why}`)
  }
}

interface Slot {
  /** `chunk` bytes of data, then the 16-byte header, then the status byte. */
  readonly data: number
  readonly header: number
  readonly status: number
}

interface Pending {
  resolve(len: number): void
  reject(e: Error): void
}

/** Initialises a virtio-blk device (features, queue 0, DRIVER_OK) and returns it as a `BlockDevice`. */
export async function openVirtioBlk(options: VirtioBlkDriverOptions): Promise<VirtioBlkDisk> {
  return VirtioBlkDisk.open(options)
}

export class VirtioBlkDisk implements BlockDevice {
  readonly blockSize: number
  readonly blockCount: number
  /** VIRTIO_BLK_F_RO: writes are refused before reaching the device. */
  readonly readOnly: boolean
  /** The features negotiated (transport and device bits). */
  readonly features: bigint
  /** Bytes of data per request; larger transfers are split into requests of this size. */
  readonly maxRequestBytes: number
  /** Requests the disk keeps in flight at once. */
  readonly maxInFlight: number
  readonly name: string

  private readonly driver: VirtioMmioDriver
  private readonly memory: GuestMemory
  private readonly queue: DriverQueue
  private readonly waitForInterrupt: () => Promise<void>
  private readonly free: Slot[]
  private readonly slotWaiters: ((s: Slot) => void)[] = []
  private readonly pending = new Map<number, Pending>()
  private readonly active = new Set<Promise<unknown>>()
  private readonly header = new Uint8Array(16)
  private readonly headerView = new DataView(this.header.buffer)
  private pumping = false
  private closed = false
  /** Set once the device can no longer be trusted (DEVICE_NEEDS_RESET, a failed wait). */
  private broken: Error | undefined

  /** See {@link openVirtioBlk}. */
  static async open(options: VirtioBlkDriverOptions): Promise<VirtioBlkDisk> {
    return new VirtioBlkDisk(options)
  }

  private constructor(options: VirtioBlkDriverOptions) {
    const { driver } = options
    this.name = options.name ?? 'virtio-blk'
    if (driver.deviceId !== DEVICE_ID.BLOCK) throw new VirtioDriverError(`${this.name}: device id ${driver.deviceId} is not a block device (2)`)
    this.driver = driver
    this.memory = options.memory
    this.waitForInterrupt = () => options.waitForInterrupt()
    this.features = driver.init(FEATURE.VERSION_1 | BLK_F.FLUSH | BLK_F.BLK_SIZE | BLK_F.RO | BLK_F.SIZE_MAX)
    this.readOnly = (this.features & BLK_F.RO) !== 0n

    // struct virtio_blk_config (§5.2.4): capacity u64 @0, size_max u32 @8, blk_size u32 @20.
    const cfg = new DataView(driver.readConfig(0, 24).buffer)
    let bs = SECTOR
    if (this.features & BLK_F.BLK_SIZE) {
      const b = cfg.getUint32(20, true)
      // blk_size is advice (§5.2.5); one that is no usable block size is ignored.
      if (b >= SECTOR && b <= 1 << 16 && (b & (b - 1)) === 0) bs = b
    }
    this.blockSize = bs
    this.blockCount = Number((cfg.getBigUint64(0, true) * BigInt(SECTOR)) / BigInt(bs))

    let chunk = Math.max(bs, Math.floor((options.maxRequestBytes ?? 64 * 1024) / bs) * bs)
    if (this.features & BLK_F.SIZE_MAX) {
      // The data is one descriptor, so size_max bounds a request's data.
      const sizeMax = cfg.getUint32(8, true)
      if (sizeMax < bs) throw new VirtioDriverError(`${this.name}: size_max ${sizeMax} is smaller than the ${bs}-byte block size`)
      chunk = Math.min(chunk, Math.floor(sizeMax / bs) * bs)
    }
    this.maxRequestBytes = chunk

    this.queue = driver.setupQueue(0, options.queueSize)
    // A request takes at most 3 descriptors (header, data, status): slots never outnumber them.
    this.maxInFlight = Math.min(options.maxInFlight ?? 8, Math.floor(this.queue.size / 3))
    if (!(this.maxInFlight >= 1)) throw new VirtioDriverError(`${this.name}: a queue of ${this.queue.size} descriptors cannot hold a request (3 needed)`)
    this.free = []
    for (let i = 0; i < this.maxInFlight; i++) {
      const data = options.alloc.alloc(chunk + 17, 16)
      if (!this.memory.contains(data, chunk + 17)) throw new VirtioDriverError(`${this.name}: DMA buffer at 0x${data.toString(16)} is not in guest memory`)
      this.free.push({ data, header: data + chunk, status: data + chunk + 16 })
    }
    driver.driverOk()
  }

  async read(lba: number, buf: Uint8Array): Promise<void> {
    this.check(lba, buf.length)
    await this.track(this.split(lba, buf, BLK_T.IN))
  }

  async write(lba: number, data: Uint8Array): Promise<void> {
    this.check(lba, data.length)
    if (this.readOnly) throw new BlockIoError(`${this.name}: write of blocks [${lba}, ${lba + data.length / this.blockSize}) refused: the device is read-only`)
    await this.track(this.split(lba, data, BLK_T.OUT))
  }

  /** FLUSH request; a no-op when the device did not offer VIRTIO_BLK_F_FLUSH (it has no write cache). */
  async flush(): Promise<void> {
    if (this.closed) throw new BlockClosedError()
    if (!(this.features & BLK_F.FLUSH)) return
    await this.track(this.request(BLK_T.FLUSH, 0, undefined))
  }

  /** Waits for the requests in flight, then resets the device. Later requests fail with `BlockClosedError`. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    while (this.active.size > 0) await Promise.allSettled([...this.active])
    this.driver.reset()
  }

  private check(lba: number, length: number): void {
    if (this.closed) throw new BlockClosedError()
    checkRequest(this, lba, length)
  }

  private async track<T>(p: Promise<T>): Promise<T> {
    this.active.add(p)
    try {
      return await p
    } finally {
      this.active.delete(p)
    }
  }

  /**
   * One request per `maxRequestBytes` of data, all in flight together (bounded by the slots).
   * Every part is settled before this settles, so no part writes into `buf` afterwards.
   */
  private async split(lba: number, buf: Uint8Array, type: number): Promise<void> {
    const parts: Promise<void>[] = []
    for (let off = 0; off < buf.length; off += this.maxRequestBytes) {
      parts.push(this.request(type, lba + off / this.blockSize, buf.subarray(off, Math.min(buf.length, off + this.maxRequestBytes))))
    }
    const results = await Promise.allSettled(parts)
    for (const r of results) if (r.status === 'rejected') throw r.reason
  }

  /** Runs one request in a slot: `data` is what to write (OUT) or where the data goes (IN). */
  private async request(type: number, lba: number, data: Uint8Array | undefined): Promise<void> {
    const slot = await this.takeSlot()
    try {
      if (this.broken) throw this.broken
      const sectorsPerBlock = this.blockSize / SECTOR
      const sector = lba * sectorsPerBlock
      this.headerView.setUint32(0, type, true)
      this.headerView.setUint32(4, 0, true)
      this.headerView.setBigUint64(8, BigInt(sector), true)
      this.dma(this.memory.write(slot.header, this.header), slot.header)
      this.dma(this.memory.write(slot.status, Uint8Array.of(0xff)), slot.status)
      const segments: DriverSegment[] = [{ addr: slot.header, len: 16, writable: false }]
      if (data) {
        if (type === BLK_T.OUT) this.dma(this.memory.write(slot.data, data), slot.data)
        segments.push({ addr: slot.data, len: data.length, writable: type === BLK_T.IN })
      }
      segments.push({ addr: slot.status, len: 1, writable: true })
      await new Promise<number>((resolve, reject) => {
        this.pending.set(this.queue.submit(segments), { resolve, reject })
        this.queue.kick() // notifies the device unless it asked not to be
        void this.pump()
      })
      const status = new Uint8Array(1)
      this.dma(this.memory.read(slot.status, status), slot.status)
      const op: BlkRequestOp = type === BLK_T.IN ? 'read' : type === BLK_T.OUT ? 'write' : 'flush'
      if (status[0] !== BLK_S.OK) throw new VirtioBlkStatusError(this.name, op, sector, data ? data.length / SECTOR : 0, status[0]!)
      if (data && type === BLK_T.IN) this.dma(this.memory.read(slot.data, data), slot.data)
    } finally {
      this.giveSlot(slot)
    }
  }

  /**
   * Collects used chains until nothing is pending, one pump at a time: acknowledge the
   * interrupt first, then read the used ring, so an interrupt raised after the collection is a
   * new one and wakes the next `waitForInterrupt()`.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.pending.size > 0) {
        this.driver.ackInterrupt()
        for (const used of this.queue.collect()) {
          const p = this.pending.get(used.head)
          this.pending.delete(used.head)
          p?.resolve(used.len)
        }
        if (this.pending.size === 0) break
        if (this.driver.needsReset) {
          this.fail(new BlockIoError(`${this.name}: the device needs a reset (DEVICE_NEEDS_RESET); ${this.pending.size} request(s) abandoned`))
          break
        }
        await this.waitForInterrupt()
      }
    } catch (e) {
      this.fail(new BlockIoError(`${this.name}: waiting for the device's interrupt failed`, { cause: e }))
    } finally {
      this.pumping = false
    }
  }

  /** The device is unusable: every pending request and every later one fails with `e`. */
  private fail(e: Error): void {
    this.broken = e
    for (const p of this.pending.values()) p.reject(e)
    this.pending.clear()
  }

  private takeSlot(): Promise<Slot> {
    const s = this.free.pop()
    return s ? Promise.resolve(s) : new Promise((resolve) => this.slotWaiters.push(resolve))
  }

  private giveSlot(s: Slot): void {
    const w = this.slotWaiters.shift()
    if (w) w(s)
    else this.free.push(s)
  }

  private dma(ok: boolean, addr: number): void {
    if (!ok) throw new VirtioDriverError(`${this.name}: DMA buffer at 0x${addr.toString(16)} is not in guest memory`)
  }
}
