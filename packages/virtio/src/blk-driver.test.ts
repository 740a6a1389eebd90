import { BlockAlignError, BlockClosedError, BlockIoError, BlockRangeError, MemoryBlockDevice, type BlockDevice } from '@honk/block'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkBlockDeviceContract } from '@honk/block/testing'
import { BLK_F, BLK_S, SECTOR, VirtioBlk, type VirtioBlkOptions } from './blk.js'
import { VirtioBlkStatusError, openVirtioBlk, type VirtioBlkDisk } from './blk-driver.js'
import { FEATURE, MMIO } from './constants.js'
import type { VirtioContext, VirtioDevice } from './device.js'
import { BumpAllocator, VirtioMmioDriver } from './driver.js'
import { VirtioDriverError } from './errors.js'
import { same } from './harness.test-helpers.js'
import { RamGuestMemory } from './memory.js'
import { VirtioMmio } from './mmio.js'
import { VirtioRng } from './rng.js'

const BASE = 0x8000_0000
const RAM = 8 << 20

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 9)) & 0xff)

/** A device model seen through a filter: some feature bits hidden, and its transport context kept. */
class Wrapped implements VirtioDevice {
  ctx: VirtioContext | undefined
  constructor(
    readonly inner: VirtioBlk,
    private readonly hide: bigint,
  ) {}
  get name() {
    return this.inner.name
  }
  get deviceId() {
    return this.inner.deviceId
  }
  get features() {
    return this.inner.features & ~this.hide
  }
  get queueSizes() {
    return this.inner.queueSizes
  }
  get config() {
    return this.inner.config
  }
  attach(ctx: VirtioContext): void {
    this.ctx = ctx
    this.inner.attach(ctx)
  }
  notify(queue: number): void {
    this.inner.notify(queue)
  }
  reset(): void {
    this.inner.reset()
  }
}

interface SetupOptions extends VirtioBlkOptions {
  /** 'edge': a wait resolves only on the next rising edge of the line; 'level': at once if it is high. */
  irq?: 'edge' | 'level'
  hide?: bigint
  queueSize?: number
  maxInFlight?: number
  maxRequestBytes?: number
}

/** Our driver → virtio-mmio → guest RAM → the VirtioBlk device model → `backend`, in one process. */
async function setup(backend: BlockDevice, options: SetupOptions = {}) {
  const memory = new RamGuestMemory(new Uint8Array(RAM), BASE)
  let level = false
  let wake: (() => void) | undefined
  const counts = { interrupts: 0, waits: 0 }
  const irq = {
    set(l: boolean) {
      if (l && !level) counts.interrupts++
      level = l
      if (l) {
        const w = wake
        wake = undefined
        w?.()
      }
    },
  }
  const blk = new VirtioBlk(backend, options)
  const device = new Wrapped(blk, options.hide ?? 0n)
  const transport = new VirtioMmio(device, { memory, irq })
  const alloc = new BumpAllocator(BASE, RAM)
  const driver = new VirtioMmioDriver(transport, memory, alloc)
  const disk = await openVirtioBlk({
    driver,
    memory,
    alloc,
    waitForInterrupt: () => {
      counts.waits++
      if (options.irq === 'level' && level) return Promise.resolve()
      return new Promise<void>((r) => (wake = r))
    },
    name: 'virtio-blk@10001000',
    ...(options.queueSize !== undefined ? { queueSize: options.queueSize } : {}),
    ...(options.maxInFlight !== undefined ? { maxInFlight: options.maxInFlight } : {}),
    ...(options.maxRequestBytes !== undefined ? { maxRequestBytes: options.maxRequestBytes } : {}),
  })
  return { disk, blk, device, transport, driver, counts }
}

/** A backend that answers after a macrotask and records how many requests it holds at once. */
class SlowDevice implements BlockDevice {
  current = 0
  max = 0
  constructor(readonly inner: MemoryBlockDevice) {}
  get blockSize() {
    return this.inner.blockSize
  }
  get blockCount() {
    return this.inner.blockCount
  }
  private async slow<T>(f: () => Promise<T>): Promise<T> {
    this.current++
    this.max = Math.max(this.max, this.current)
    try {
      await new Promise((r) => setImmediate(r))
      return await f()
    } finally {
      this.current--
    }
  }
  read(lba: number, buf: Uint8Array) {
    return this.slow(() => this.inner.read(lba, buf))
  }
  write(lba: number, data: Uint8Array) {
    return this.slow(() => this.inner.write(lba, data))
  }
  flush() {
    return this.slow(() => this.inner.flush())
  }
  close() {
    return this.inner.close()
  }
}

/** A backend whose reads and writes touching a bad block throw (a host I/O error). */
class FaultyDevice implements BlockDevice {
  readonly bad = new Set<number>()
  constructor(readonly inner: MemoryBlockDevice) {}
  get blockSize() {
    return this.inner.blockSize
  }
  get blockCount() {
    return this.inner.blockCount
  }
  private touch(lba: number, length: number) {
    for (let b = lba; b < lba + length / this.blockSize; b++) if (this.bad.has(b)) throw new Error(`host EIO at block ${b}`)
  }
  async read(lba: number, buf: Uint8Array) {
    this.touch(lba, buf.length)
    return this.inner.read(lba, buf)
  }
  async write(lba: number, data: Uint8Array) {
    this.touch(lba, data.length)
    return this.inner.write(lba, data)
  }
  flush() {
    return this.inner.flush()
  }
  close() {
    return this.inner.close()
  }
}

const contract = checkBlockDeviceContract

const readAll = async (disk: VirtioBlkDisk) => {
  const out = new Uint8Array(disk.blockCount * disk.blockSize)
  await disk.read(0, out)
  return out
}

describe('virtio-blk driver', () => {
  it('honours the BlockDevice contract (512 and 4096-byte blocks)', async () => {
    await contract((await setup(new MemoryBlockDevice(16))).disk)
    await contract((await setup(new MemoryBlockDevice(4, 4096))).disk)
  })

  it('takes its geometry from config space: capacity and blk_size', async () => {
    const a = await setup(new MemoryBlockDevice(100, 4096))
    expect(a.disk.blockSize).toBe(4096)
    expect(a.disk.blockCount).toBe(100)
    expect(a.disk.readOnly).toBe(false)
    expect(a.disk.features & (FEATURE.VERSION_1 | BLK_F.FLUSH | BLK_F.BLK_SIZE)).toBe(FEATURE.VERSION_1 | BLK_F.FLUSH | BLK_F.BLK_SIZE)
    expect(a.disk.features & (FEATURE.RING_EVENT_IDX | FEATURE.RING_INDIRECT_DESC | BLK_F.DISCARD)).toBe(0n)
    // Without BLK_SIZE the block size is the 512-byte sector and capacity counts sectors.
    const backend = new MemoryBlockDevice(3, 1024)
    const b = await setup(backend, { hide: BLK_F.BLK_SIZE })
    expect(b.disk.blockSize).toBe(SECTOR)
    expect(b.disk.blockCount).toBe(6)
    await b.disk.write(2, pattern(2 * SECTOR, 1))
    expect(same(backend.bytes.subarray(2 * SECTOR, 4 * SECTOR), pattern(2 * SECTOR, 1))).toBe(true)
  })

  it('refuses a device that is not a block device', async () => {
    const memory = new RamGuestMemory(new Uint8Array(1 << 20), BASE)
    const alloc = new BumpAllocator(BASE, 1 << 20)
    const driver = new VirtioMmioDriver(new VirtioMmio(new VirtioRng(), { memory, irq: { set() {} } }), memory, alloc)
    await expect(openVirtioBlk({ driver, memory, alloc, waitForInterrupt: () => Promise.resolve() })).rejects.toThrow(VirtioDriverError)
  })

  it('agrees with a byte-array model under random reads and writes (fast-check)', async () => {
    const blocks = 64
    const op = fc.record({
      write: fc.boolean(),
      lba: fc.nat(blocks - 1),
      n: fc.integer({ min: 1, max: 12 }),
      seed: fc.nat(255),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), fc.constantFrom<'edge' | 'level'>('edge', 'level'), async (ops, irq) => {
        const backend = new MemoryBlockDevice(blocks)
        const { disk } = await setup(backend, { irq, maxRequestBytes: 4 * SECTOR, maxInFlight: 3 })
        const model = new Uint8Array(blocks * SECTOR)
        for (const { write, lba, n, seed } of ops) {
          if (lba + n > blocks) {
            await expect(write ? disk.write(lba, new Uint8Array(n * SECTOR)) : disk.read(lba, new Uint8Array(n * SECTOR))).rejects.toBeInstanceOf(BlockRangeError)
          } else if (write) {
            const data = pattern(n * SECTOR, seed)
            await disk.write(lba, data)
            model.set(data, lba * SECTOR)
          } else {
            const buf = new Uint8Array(n * SECTOR)
            await disk.read(lba, buf)
            expect(same(buf, model.subarray(lba * SECTOR, (lba + n) * SECTOR))).toBe(true)
          }
        }
        expect(same(await readAll(disk), model)).toBe(true)
        expect(same(backend.bytes, model)).toBe(true)
      }),
      { numRuns: 60 },
    )
  })

  it('keeps several requests in flight, bounded by maxInFlight', async () => {
    const slow = new SlowDevice(new MemoryBlockDevice(256))
    const { disk, counts } = await setup(slow, { maxInFlight: 5 })
    await Promise.all(Array.from({ length: 60 }, (_, i) => disk.write(i * 4, pattern(4 * SECTOR, i))))
    expect(slow.max).toBe(5)
    const bufs = Array.from({ length: 60 }, () => new Uint8Array(4 * SECTOR))
    await Promise.all(bufs.map((b, i) => disk.read(i * 4, b)))
    bufs.forEach((b, i) => expect(same(b, pattern(4 * SECTOR, i))).toBe(true))
    // Completions come by interrupt: fewer interrupts than requests (several per interrupt), none missed.
    expect(counts.interrupts).toBeGreaterThan(0)
    expect(counts.interrupts).toBeLessThanOrEqual(120)
    expect(counts.waits).toBeLessThanOrEqual(counts.interrupts + 1)
  })

  it('is bounded by the queue: a tiny queue still carries many concurrent requests', async () => {
    const { disk } = await setup(new MemoryBlockDevice(64), { queueSize: 4, maxInFlight: 100 })
    expect(disk.maxInFlight).toBe(1) // 4 descriptors hold one 3-descriptor request
    await Promise.all(Array.from({ length: 20 }, (_, i) => disk.write(i, pattern(SECTOR, i))))
    const back = await readAll(disk)
    for (let i = 0; i < 20; i++) expect(same(back.subarray(i * SECTOR, (i + 1) * SECTOR), pattern(SECTOR, i))).toBe(true)
  })

  it('splits large I/O into bounded requests', async () => {
    const backend = new MemoryBlockDevice(4096) // 2 MiB
    const { disk, blk } = await setup(backend, { maxRequestBytes: 64 * 1024, maxInFlight: 4 })
    expect(disk.maxRequestBytes).toBe(64 * 1024)
    const data = pattern((1 << 20) + 3 * SECTOR, 5) // 16 full requests and a 3-sector tail
    await disk.write(100, data)
    expect(blk.stats.writes).toBe(17)
    expect(same(backend.bytes.subarray(100 * SECTOR, 100 * SECTOR + data.length), data)).toBe(true)
    const back = new Uint8Array(data.length)
    await disk.read(100, back)
    expect(blk.stats.reads).toBe(17)
    expect(same(back, data)).toBe(true)
    // A device-side limit smaller than ours would fail requests: maxRequestBytes is what keeps them under it.
    const small = await setup(new MemoryBlockDevice(64), { maxRequestBytes: 4 * SECTOR })
    await small.disk.write(0, pattern(64 * SECTOR, 1))
    expect(small.blk.stats.writes).toBe(16)
  })

  it('flush reaches the backing device; without VIRTIO_BLK_F_FLUSH it is a no-op', async () => {
    const backend = new MemoryBlockDevice(8)
    const { disk } = await setup(backend)
    await disk.write(0, pattern(SECTOR, 1))
    await disk.flush()
    await disk.flush()
    expect(backend.stats.flushes).toBe(2)

    const other = new MemoryBlockDevice(8)
    const noFlush = await setup(other, { hide: BLK_F.FLUSH })
    expect(noFlush.disk.features & BLK_F.FLUSH).toBe(0n)
    await noFlush.disk.flush()
    expect(other.stats.flushes).toBe(0)
    expect(noFlush.blk.stats.flushes).toBe(0)
  })

  it('a failing backend fails that request only, with a typed error saying where', async () => {
    const faulty = new FaultyDevice(new MemoryBlockDevice(64))
    faulty.bad.add(7)
    const { disk } = await setup(faulty, { maxRequestBytes: 2 * SECTOR })
    const results = await Promise.allSettled([disk.write(0, pattern(4 * SECTOR, 1)), disk.read(7, new Uint8Array(SECTOR)), disk.write(20, pattern(SECTOR, 2)), disk.read(0, new Uint8Array(4 * SECTOR))])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    const e = (results[1] as PromiseRejectedResult).reason as unknown
    expect(e).toBeInstanceOf(VirtioBlkStatusError)
    expect(e).toBeInstanceOf(BlockIoError)
    if (!(e instanceof VirtioBlkStatusError)) throw e
    expect(e.code).toBe('BLOCK_IO')
    expect(e).toMatchObject({ device: 'virtio-blk@10001000', op: 'read', sector: 7, sectors: 1, status: BLK_S.IOERR })
    expect(e.message).toBe('virtio-blk@10001000: read of sectors [7, 8) failed: I/O error (IOERR)')
    // A split request with one bad part fails as a whole, after every part settled.
    const big = new Uint8Array(10 * SECTOR)
    await expect(disk.write(4, big)).rejects.toMatchObject({ op: 'write', sector: 6, sectors: 2 })
    // Later requests still work.
    await disk.write(8, pattern(SECTOR, 3))
    const back = new Uint8Array(SECTOR)
    await disk.read(8, back)
    expect(same(back, pattern(SECTOR, 3))).toBe(true)
    faulty.bad.clear()
    await disk.read(7, back)
  })

  it('names UNSUPP and a missing status in its errors', () => {
    expect(new VirtioBlkStatusError('vda', 'write', 16, 8, BLK_S.UNSUPP).message).toBe('vda: write of sectors [16, 24) failed: request not supported (UNSUPP)')
    expect(new VirtioBlkStatusError('vda', 'flush', 0, 0, 0xff).message).toBe('vda: flush failed: no valid status (0xff)')
  })

  it('a read-only device refuses writes before they reach it', async () => {
    const backend = new MemoryBlockDevice(8)
    backend.bytes.set(pattern(SECTOR, 4), 2 * SECTOR)
    const { disk, blk } = await setup(backend, { readOnly: true })
    expect(disk.readOnly).toBe(true)
    await expect(disk.write(0, pattern(SECTOR, 1))).rejects.toThrow(/virtio-blk@10001000: write of blocks \[0, 1\) refused: the device is read-only/)
    await expect(disk.write(0, pattern(SECTOR, 1))).rejects.toBeInstanceOf(BlockIoError)
    expect(blk.stats.writes + blk.stats.errors).toBe(0)
    expect(backend.stats.writes).toBe(0)
    const back = new Uint8Array(SECTOR)
    await disk.read(2, back)
    expect(same(back, pattern(SECTOR, 4))).toBe(true)
    await disk.flush()
  })

  it('rejects bad input before touching the device', async () => {
    const backend = new MemoryBlockDevice(8)
    const { disk, blk, counts } = await setup(backend)
    await expect(disk.read(8, new Uint8Array(SECTOR))).rejects.toBeInstanceOf(BlockRangeError)
    await expect(disk.write(6, new Uint8Array(3 * SECTOR))).rejects.toBeInstanceOf(BlockRangeError)
    await expect(disk.write(Number.NaN, new Uint8Array(SECTOR))).rejects.toBeInstanceOf(BlockRangeError)
    await expect(disk.read(0, new Uint8Array(100))).rejects.toBeInstanceOf(BlockAlignError)
    await expect(disk.write(0, new Uint8Array(0))).rejects.toBeInstanceOf(BlockAlignError)
    expect(blk.stats).toEqual({ reads: 0, writes: 0, flushes: 0, errors: 0, unsupported: 0 })
    expect(backend.stats.reads + backend.stats.writes).toBe(0)
    expect(counts.interrupts).toBe(0)
  })

  it('close waits for requests in flight, resets the device, and fails later requests', async () => {
    const slow = new SlowDevice(new MemoryBlockDevice(16))
    const { disk, transport } = await setup(slow)
    const writes = Array.from({ length: 10 }, (_, i) => disk.write(i, pattern(SECTOR, i)))
    await disk.close()
    await Promise.all(writes)
    for (let i = 0; i < 10; i++) expect(same(slow.inner.bytes.subarray(i * SECTOR, (i + 1) * SECTOR), pattern(SECTOR, i))).toBe(true)
    expect(transport.read(MMIO.Status, 4)).toBe(0n)
    await expect(disk.read(0, new Uint8Array(SECTOR))).rejects.toBeInstanceOf(BlockClosedError)
    await expect(disk.flush()).rejects.toBeInstanceOf(BlockClosedError)
    await disk.close()
  })

  it('a device that needs a reset fails the requests waiting on it and every later one', async () => {
    const slow = new SlowDevice(new MemoryBlockDevice(16))
    const { disk, device } = await setup(slow)
    const pending = disk.read(0, new Uint8Array(SECTOR))
    for (let i = 0; i < 5; i++) await Promise.resolve() // submitted; the backend holds it
    expect(slow.current).toBe(1)
    device.ctx?.needsReset('test: the device broke')
    await expect(pending).rejects.toThrow(/virtio-blk@10001000: the device needs a reset/)
    await expect(disk.write(0, new Uint8Array(SECTOR))).rejects.toBeInstanceOf(BlockIoError)
  })
})
