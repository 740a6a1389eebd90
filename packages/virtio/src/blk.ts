/**
 * virtio-blk (virtio 1.2 §5.2) on a `BlockDevice` of `@honk/block`. Requests run
 * asynchronously (the backend is async) and complete, with their interrupt, when the backend
 * answers — possibly out of order, which virtio allows without VIRTIO_F_IN_ORDER.
 */
import type { BlockDevice } from '@honk/block'
import { DEVICE_ID } from './constants.js'
import { VirtioDeviceBase } from './device.js'
import { VirtioConfigError, VirtioRequestError } from './errors.js'
import type { Chain } from './virtqueue.js'

/** Feature bits of §5.2.3. */
export const BLK_F = {
  SIZE_MAX: 1n << 1n,
  SEG_MAX: 1n << 2n,
  GEOMETRY: 1n << 4n,
  RO: 1n << 5n,
  BLK_SIZE: 1n << 6n,
  FLUSH: 1n << 9n,
  TOPOLOGY: 1n << 10n,
  CONFIG_WCE: 1n << 11n,
  MQ: 1n << 12n,
  DISCARD: 1n << 13n,
  WRITE_ZEROES: 1n << 14n,
} as const

/** Request types (§5.2.6). */
export const BLK_T = { IN: 0, OUT: 1, FLUSH: 4, GET_ID: 8, GET_LIFETIME: 10, DISCARD: 11, WRITE_ZEROES: 13, SECURE_ERASE: 14 } as const
/** Status byte values (§5.2.6). */
export const BLK_S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const
/** Sectors are always 512 bytes in virtio-blk, whatever the block size (§5.2.6). */
export const SECTOR = 512
/** Bytes of `struct virtio_blk_req` before the data. */
const HEADER = 16
/** `struct virtio_blk_discard_write_zeroes`. */
const SEGMENT = 16
/** WRITE_ZEROES is written in chunks of this many bytes (bounded memory per request). */
const ZERO_CHUNK = 1 << 20

export interface VirtioBlkOptions {
  /** Report VIRTIO_BLK_F_RO: writes fail with IOERR and change nothing. */
  readonly readOnly?: boolean
  /** GET_ID answer (at most 20 bytes of ASCII; shorter ones are NUL-padded). Default `'honk'`. */
  readonly serial?: string
  /** Queue size offered; default 256. */
  readonly queueSize?: number
  /**
   * Largest data part of one request, in bytes (default 32 MiB). Larger ones fail with IOERR:
   * the device holds a request's data in host memory while the backend works.
   */
  readonly maxRequestBytes?: number
}

export interface BlkStats {
  reads: number
  writes: number
  flushes: number
  errors: number
  unsupported: number
}

/**
 * A virtio block device. `capacity` (in 512-byte sectors) is the backend's size; `blk_size`
 * is the backend's block size, and requests not aligned to it fail with IOERR (Linux and U-Boot
 * honour `blk_size`, so they never send one).
 */
export class VirtioBlk extends VirtioDeviceBase {
  readonly name = 'virtio-blk'
  readonly deviceId = DEVICE_ID.BLOCK
  readonly features: bigint
  readonly queueSizes: readonly number[]
  readonly config: Uint8Array
  readonly stats: BlkStats = { reads: 0, writes: 0, flushes: 0, errors: 0, unsupported: 0 }
  private readonly serial: Uint8Array
  private readonly maxRequestBytes: number
  private readonly readOnly: boolean
  private readonly inFlight = new Set<Promise<void>>()
  private readonly maxDiscardSectors: number
  private readonly maxSegments = 16

  constructor(
    readonly backend: BlockDevice,
    options: VirtioBlkOptions = {},
  ) {
    super()
    const bs = backend.blockSize
    if (!Number.isInteger(bs) || bs < SECTOR || bs % SECTOR !== 0 || (bs & (bs - 1)) !== 0) throw new VirtioConfigError(`virtio-blk: backend block size ${bs} is not a power of 2 ≥ 512`)
    const queueSize = options.queueSize ?? 256
    this.queueSizes = [queueSize]
    this.readOnly = options.readOnly ?? false
    this.maxRequestBytes = options.maxRequestBytes ?? 32 << 20
    const serial = new TextEncoder().encode(options.serial ?? 'honk')
    if (serial.length > 20) throw new VirtioConfigError(`virtio-blk: serial "${options.serial}" is longer than 20 bytes`)
    this.serial = new Uint8Array(20)
    this.serial.set(serial)
    this.features = BLK_F.SEG_MAX | BLK_F.BLK_SIZE | BLK_F.FLUSH | BLK_F.DISCARD | BLK_F.WRITE_ZEROES | (this.readOnly ? BLK_F.RO : 0n)
    this.maxDiscardSectors = Math.min(0xffff_ffff, Math.floor((backend.blockCount * bs) / SECTOR))
    // struct virtio_blk_config (§5.2.4), up to write_zeroes_may_unmap and its padding.
    this.config = new Uint8Array(60)
    const v = new DataView(this.config.buffer)
    v.setBigUint64(0, BigInt(backend.blockCount) * BigInt(bs / SECTOR), true) // capacity
    v.setUint32(8, 0, true) // size_max (not offered)
    v.setUint32(12, Math.max(1, queueSize - 2), true) // seg_max: a chain also holds header and status
    v.setUint32(20, bs, true) // blk_size
    v.setUint32(36, this.maxDiscardSectors, true) // max_discard_sectors
    v.setUint32(40, this.maxSegments, true) // max_discard_seg
    v.setUint32(44, bs / SECTOR, true) // discard_sector_alignment
    v.setUint32(48, this.maxDiscardSectors, true) // max_write_zeroes_sectors
    v.setUint32(52, this.maxSegments, true) // max_write_zeroes_seg
    v.setUint8(56, 0) // write_zeroes_may_unmap
  }

  /** Capacity in 512-byte sectors. */
  get capacity(): number {
    return (this.backend.blockCount * this.backend.blockSize) / SECTOR
  }

  notify(queue: number): void {
    const q = this.ctx.queue(queue)
    if (!q) return
    for (let chain = q.pop(); chain; chain = q.pop()) this.start(chain)
  }

  reset(): void {
    // Requests in flight finish into dead queues: their results are dropped (Chain.write is a no-op).
  }

  /** Resolves when every request started so far has completed (for tests and orderly shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight])
  }

  private start(chain: Chain): void {
    const p = this.handle(chain).then(
      (status) => this.finish(chain, status),
      () => this.finish(chain, BLK_S.IOERR),
    )
    const tracked = p.finally(() => this.inFlight.delete(tracked))
    this.inFlight.add(tracked)
  }

  /**
   * Writes the status byte (the last writable byte) and returns the chain with the whole
   * writable part as `len` (data-in requests fill it; others have only the status byte).
   */
  private finish(chain: Chain, status: number): void {
    if (status === BLK_S.IOERR) this.stats.errors++
    if (status === BLK_S.UNSUPP) this.stats.unsupported++
    if (chain.writableLength === 0) return chain.complete(0)
    chain.write(chain.writableLength - 1, Uint8Array.of(status))
    chain.complete(chain.writableLength)
  }

  private fail(message: string): number {
    this.ctx.report(new VirtioRequestError(this.name, message))
    return BLK_S.IOERR
  }

  /** Runs one request; returns the status byte. Data-in requests write their data themselves. */
  private async handle(chain: Chain): Promise<number> {
    if (chain.writableLength < 1) return this.fail('request without a writable status byte')
    if (chain.readableLength < HEADER) return this.fail(`request header of ${chain.readableLength} bytes (16 needed)`)
    const h = new DataView(chain.read(0, HEADER).buffer)
    const type = h.getUint32(0, true)
    const sector = h.getBigUint64(8, true)
    const dataIn = chain.writableLength - 1 // bytes before the status byte
    const dataOut = chain.readableLength - HEADER
    switch (type) {
      case BLK_T.IN: {
        if (dataIn === 0) return BLK_S.OK
        const lba = this.range(sector, dataIn)
        if (typeof lba === 'string') {
          // No stale data is reported as read (bounded: a hostile length allocates nothing).
          if (dataIn <= this.maxRequestBytes) chain.write(0, new Uint8Array(dataIn))
          return this.fail(lba)
        }
        const buf = new Uint8Array(dataIn)
        await this.backend.read(lba, buf)
        this.stats.reads++
        chain.write(0, buf)
        return BLK_S.OK
      }
      case BLK_T.OUT: {
        // §5.2.6.2: a read-only device fails writes and writes nothing.
        if (this.readOnly) return this.fail('write to a read-only device')
        if (dataOut === 0) return BLK_S.OK
        const lba = this.range(sector, dataOut)
        if (typeof lba === 'string') return this.fail(lba)
        await this.backend.write(lba, chain.read(HEADER, dataOut))
        this.stats.writes++
        return BLK_S.OK
      }
      case BLK_T.FLUSH:
        await this.backend.flush()
        this.stats.flushes++
        return BLK_S.OK
      case BLK_T.GET_ID:
        chain.write(0, this.serial.subarray(0, Math.min(20, dataIn)))
        return BLK_S.OK
      case BLK_T.DISCARD:
      case BLK_T.WRITE_ZEROES:
        return this.discardOrZero(chain, type, dataOut)
      default:
        return BLK_S.UNSUPP
    }
  }

  /** DISCARD and WRITE_ZEROES (§5.2.6): a list of {sector, num_sectors, flags} segments. */
  private async discardOrZero(chain: Chain, type: number, length: number): Promise<number> {
    const zero = type === BLK_T.WRITE_ZEROES
    if (!this.negotiated(zero ? BLK_F.WRITE_ZEROES : BLK_F.DISCARD)) return BLK_S.UNSUPP
    if (this.readOnly) return this.fail(`${zero ? 'write-zeroes' : 'discard'} on a read-only device`)
    if (length === 0 || length % SEGMENT !== 0 || length / SEGMENT > this.maxSegments) return this.fail(`${length} bytes of discard/write-zeroes segments (16 each, at most ${this.maxSegments})`)
    const data = new DataView(chain.read(HEADER, length).buffer)
    const segments: { lba: number; bytes: number }[] = []
    for (let o = 0; o < length; o += SEGMENT) {
      const sector = data.getBigUint64(o, true)
      const count = data.getUint32(o + 8, true)
      const flags = data.getUint32(o + 12, true)
      // §5.2.6.2: unknown flags are UNSUPP, and so is "unmap" on a discard.
      if (flags & ~1 || (!zero && flags & 1)) return BLK_S.UNSUPP
      if (count > this.maxDiscardSectors) return this.fail(`segment of ${count} sectors (max ${this.maxDiscardSectors})`)
      const lba = this.range(sector, count * SECTOR, true)
      if (typeof lba === 'string') return this.fail(lba)
      segments.push({ lba, bytes: count * SECTOR })
    }
    // Discard is advisory (§5.2.6.2: the device MAY deallocate); having nothing to deallocate, it succeeds.
    if (!zero) return BLK_S.OK
    const bs = this.backend.blockSize
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK, Math.max(...segments.map((s) => s.bytes))))
    for (const s of segments) {
      for (let done = 0; done < s.bytes; done += zeros.length) {
        const n = Math.min(zeros.length, s.bytes - done)
        await this.backend.write(s.lba + done / bs, zeros.subarray(0, n))
      }
      this.stats.writes++
    }
    return BLK_S.OK
  }

  /** The backend LBA of `bytes` at 512-byte `sector`, or what is wrong with the request. */
  private range(sector: bigint, bytes: number, allowEmpty = false): number | string {
    const bs = this.backend.blockSize
    if (bytes % SECTOR !== 0) return `data of ${bytes} bytes is not a whole number of sectors`
    if (bytes > this.maxRequestBytes && !allowEmpty) return `request of ${bytes} bytes (limit ${this.maxRequestBytes})`
    const capacity = BigInt(this.capacity)
    if (sector > capacity || sector + BigInt(bytes / SECTOR) > capacity) return `sectors [${sector}, +${bytes / SECTOR}) are outside the ${capacity}-sector disk`
    const offset = Number(sector) * SECTOR
    if (offset % bs !== 0 || bytes % bs !== 0) return `sectors [${sector}, +${bytes / SECTOR}) are not aligned to the ${bs}-byte block size`
    if (bytes === 0 && !allowEmpty) return 'empty request'
    return offset / bs
  }
}
