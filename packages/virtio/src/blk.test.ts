import { MemoryBlockDevice, type BlockDevice } from '@honk/block'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BLK_F, BLK_S, BLK_T, SECTOR, VirtioBlk } from './blk.js'
import { FEATURE, INTERRUPT, MMIO, STATUS } from './constants.js'
import { blkHeader, collect, readWritable, rig, same, split, submit, type Rig } from './harness.test-helpers.js'

const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

/** Runs one request to completion: returns the data read (if any) and the status byte. */
async function request(r: Rig<VirtioBlk>, readable: Uint8Array[], dataIn: number, options: { indirect?: boolean } = {}) {
  const s = submit(r, r.queues[0]!, readable, dataIn > 0 ? [dataIn, 1] : [1], options)
  await r.device.drain()
  const used = collect(r.queues[0]!)
  expect(used.has(s.head)).toBe(true)
  const bytes = readWritable(r, s)
  return { data: bytes.subarray(0, bytes.length - 1), status: bytes[bytes.length - 1], len: used.get(s.head) }
}

const write = (r: Rig<VirtioBlk>, sector: number, data: Uint8Array) => request(r, [blkHeader(BLK_T.OUT, sector), data], 0)
const read = (r: Rig<VirtioBlk>, sector: number | bigint, n: number) => request(r, [blkHeader(BLK_T.IN, sector)], n)

/** A device whose reads wait until their gate is opened (gates[i]() completes the i-th read). */
function gatedReads(inner: MemoryBlockDevice): { slow: BlockDevice; gates: (() => void)[] } {
  const gates: (() => void)[] = []
  const slow: BlockDevice = {
    blockSize: inner.blockSize,
    blockCount: inner.blockCount,
    read: (lba, buf) => new Promise<void>((res) => gates.push(() => res(inner.read(lba, buf)))),
    write: (lba, data) => inner.write(lba, data),
    flush: () => inner.flush(),
    close: () => inner.close(),
  }
  return { slow, gates }
}

describe('virtio-blk', () => {
  it('writes, reads back, flushes and answers GET_ID', async () => {
    const disk = new MemoryBlockDevice(64)
    const r = rig(new VirtioBlk(disk, { serial: 'disk-0' }))
    const data = pattern(3 * SECTOR, 7)
    expect((await write(r, 5, data)).status).toBe(BLK_S.OK)
    expect(disk.bytes.subarray(5 * SECTOR, 8 * SECTOR)).toEqual(data)
    const back = await read(r, 5, 3 * SECTOR)
    expect(back.status).toBe(BLK_S.OK)
    expect(back.data).toEqual(data)
    expect(back.len).toBe(3 * SECTOR + 1)
    expect((await request(r, [blkHeader(BLK_T.FLUSH, 0)], 0)).status).toBe(BLK_S.OK)
    expect(disk.stats.flushes).toBe(1)
    const id = await request(r, [blkHeader(BLK_T.GET_ID, 0)], 20)
    expect(id.status).toBe(BLK_S.OK)
    expect(new TextDecoder().decode(id.data).replace(/\0+$/, '')).toBe('disk-0')
    expect(r.errors).toEqual([])
  })

  it('describes the disk in config space', () => {
    const r = rig(new VirtioBlk(new MemoryBlockDevice(100, 4096), { queueSize: 128 }))
    const cfg = new DataView(r.driver.readConfig(0, 60).buffer)
    expect(cfg.getBigUint64(0, true)).toBe(800n) // 100 × 4096 / 512
    expect(cfg.getUint32(12, true)).toBe(126) // seg_max
    expect(cfg.getUint32(20, true)).toBe(4096) // blk_size
    const f = r.driver.deviceFeatures()
    for (const bit of [FEATURE.VERSION_1, FEATURE.RING_INDIRECT_DESC, FEATURE.RING_EVENT_IDX, BLK_F.FLUSH, BLK_F.BLK_SIZE, BLK_F.SEG_MAX, BLK_F.DISCARD, BLK_F.WRITE_ZEROES]) expect(f & bit).toBe(bit)
    expect(f & BLK_F.RO).toBe(0n)
    expect(r.transport.read(MMIO.DeviceID, 4)).toBe(2n)
  })

  it('takes any framing: header split over descriptors, data in many pieces, indirect tables', async () => {
    const disk = new MemoryBlockDevice(16)
    const r = rig(new VirtioBlk(disk))
    const data = pattern(2 * SECTOR, 3)
    const header = blkHeader(BLK_T.OUT, 2)
    const s = submit(r, r.queues[0]!, [header.subarray(0, 3), header.subarray(3, 16), data.subarray(0, 100), data.subarray(100)], [1], { indirect: true })
    await r.device.drain()
    expect(collect(r.queues[0]!).get(s.head)).toBe(1)
    expect(readWritable(r, s)[0]).toBe(BLK_S.OK)
    expect(disk.bytes.subarray(2 * SECTOR, 4 * SECTOR)).toEqual(data)
    // Read back into 3 writable pieces where the last one also holds the status byte.
    const t = submit(r, r.queues[0]!, [blkHeader(BLK_T.IN, 2)], [1, 1000, 2 * SECTOR - 1001 + 1])
    await r.device.drain()
    collect(r.queues[0]!)
    const got = readWritable(r, t)
    expect(got.subarray(0, 2 * SECTOR)).toEqual(data)
    expect(got[2 * SECTOR]).toBe(BLK_S.OK)
  })

  it('fails bad requests with IOERR or UNSUPP and keeps going', async () => {
    const disk = new MemoryBlockDevice(16)
    const r = rig(new VirtioBlk(disk))
    expect((await read(r, 15, 2 * SECTOR)).status).toBe(BLK_S.IOERR) // runs past the end
    expect((await read(r, 2n ** 63n, SECTOR)).status).toBe(BLK_S.IOERR)
    expect((await read(r, 0, 100)).status).toBe(BLK_S.IOERR) // not whole sectors
    expect((await write(r, 16, pattern(SECTOR, 1))).status).toBe(BLK_S.IOERR)
    expect((await request(r, [blkHeader(99, 0)], 0)).status).toBe(BLK_S.UNSUPP)
    expect((await request(r, [blkHeader(BLK_T.IN, 0).subarray(0, 10)], SECTOR)).status).toBe(BLK_S.IOERR) // short header
    const failed = await read(r, 15, 2 * SECTOR)
    expect(failed.data.every((b) => b === 0)).toBe(true) // no stale bytes reported as read
    expect(disk.stats.writes).toBe(0)
    expect(r.errors.length).toBeGreaterThan(0)
    expect((await write(r, 1, pattern(SECTOR, 9))).status).toBe(BLK_S.OK)
  })

  it('refuses requests larger than maxRequestBytes', async () => {
    const r = rig(new VirtioBlk(new MemoryBlockDevice(64), { maxRequestBytes: 4 * SECTOR }))
    expect((await read(r, 0, 8 * SECTOR)).status).toBe(BLK_S.IOERR)
    expect((await read(r, 0, 4 * SECTOR)).status).toBe(BLK_S.OK)
  })

  it('is read-only when asked: writes fail and change nothing', async () => {
    const disk = new MemoryBlockDevice(8)
    const r = rig(new VirtioBlk(disk, { readOnly: true }))
    expect(r.driver.deviceFeatures() & BLK_F.RO).toBe(BLK_F.RO)
    expect((await write(r, 0, pattern(SECTOR, 1))).status).toBe(BLK_S.IOERR)
    expect(disk.bytes.every((b) => b === 0)).toBe(true)
    expect((await read(r, 0, SECTOR)).status).toBe(BLK_S.OK)
  })

  it('honours a 4096-byte backend block size', async () => {
    const disk = new MemoryBlockDevice(8, 4096)
    const r = rig(new VirtioBlk(disk))
    expect((await write(r, 8, pattern(4096, 2))).status).toBe(BLK_S.OK)
    expect(disk.bytes.subarray(4096, 8192)).toEqual(pattern(4096, 2))
    expect((await read(r, 1, 4096)).status).toBe(BLK_S.IOERR) // not block-aligned
    expect((await read(r, 8, SECTOR)).status).toBe(BLK_S.IOERR) // not a whole block
  })

  it('discards and writes zeroes', async () => {
    const disk = new MemoryBlockDevice(32)
    disk.bytes.fill(0xab)
    const r = rig(new VirtioBlk(disk))
    const seg = (sector: number, n: number, flags: number) => {
      const b = new Uint8Array(16)
      const v = new DataView(b.buffer)
      v.setBigUint64(0, BigInt(sector), true)
      v.setUint32(8, n, true)
      v.setUint32(12, flags, true)
      return b
    }
    expect((await request(r, [blkHeader(BLK_T.WRITE_ZEROES, 0), seg(2, 3, 0), seg(10, 1, 1)], 0)).status).toBe(BLK_S.OK)
    expect(disk.bytes.subarray(2 * SECTOR, 5 * SECTOR).every((b) => b === 0)).toBe(true)
    expect(disk.bytes.subarray(10 * SECTOR, 11 * SECTOR).every((b) => b === 0)).toBe(true)
    expect(disk.bytes[5 * SECTOR]).toBe(0xab)
    expect(disk.bytes[SECTOR]).toBe(0xab)
    expect((await request(r, [blkHeader(BLK_T.DISCARD, 0), seg(0, 4, 0)], 0)).status).toBe(BLK_S.OK)
    expect((await request(r, [blkHeader(BLK_T.DISCARD, 0), seg(0, 4, 1)], 0)).status).toBe(BLK_S.UNSUPP) // unmap on discard
    expect((await request(r, [blkHeader(BLK_T.WRITE_ZEROES, 0), seg(0, 4, 2)], 0)).status).toBe(BLK_S.UNSUPP) // unknown flag
    expect((await request(r, [blkHeader(BLK_T.WRITE_ZEROES, 0), seg(30, 4, 0)], 0)).status).toBe(BLK_S.IOERR) // past the end
    expect((await request(r, [blkHeader(BLK_T.WRITE_ZEROES, 0), new Uint8Array(10)], 0)).status).toBe(BLK_S.IOERR) // not a segment
  })

  it('answers UNSUPP to DISCARD when the driver did not negotiate it', async () => {
    const r = rig(new VirtioBlk(new MemoryBlockDevice(8)), { features: FEATURE.RING_INDIRECT_DESC })
    const seg = new Uint8Array(16)
    seg[8] = 1
    expect((await request(r, [blkHeader(BLK_T.DISCARD, 0), seg], 0)).status).toBe(BLK_S.UNSUPP)
  })

  it('raises the used-buffer interrupt on completion, and InterruptACK lowers it', async () => {
    const r = rig(new VirtioBlk(new MemoryBlockDevice(8)))
    submit(r, r.queues[0]!, [blkHeader(BLK_T.IN, 0)], [SECTOR, 1])
    expect(r.irq.level).toBe(false) // async: nothing completed yet
    await r.device.drain()
    expect(r.irq.level).toBe(true)
    expect(r.transport.interruptStatus & INTERRUPT.USED_BUFFER).toBe(INTERRUPT.USED_BUFFER)
    expect(r.driver.ackInterrupt()).toBe(INTERRUPT.USED_BUFFER)
    expect(r.irq.level).toBe(false)
  })

  it('drops completions that arrive after a reset (no DMA into reused memory)', async () => {
    const inner = new MemoryBlockDevice(8)
    inner.bytes.fill(0x55)
    const { slow, gates } = gatedReads(inner)
    const r = rig(new VirtioBlk(slow))
    const s = submit(r, r.queues[0]!, [blkHeader(BLK_T.IN, 0)], [SECTOR, 1])
    expect(gates.length).toBe(1)
    r.transport.write(MMIO.Status, 4, 0n) // reset while the read is in flight
    gates[0]!()
    await r.device.drain()
    expect(readWritable(r, s).every((b) => b === 0xee)).toBe(true)
    expect(r.irq.level).toBe(false)
    expect(r.transport.status).toBe(0)
  })

  it('completes requests out of order when the backend does', async () => {
    const inner = new MemoryBlockDevice(8)
    const { slow, gates } = gatedReads(inner)
    const r = rig(new VirtioBlk(slow))
    const a = submit(r, r.queues[0]!, [blkHeader(BLK_T.IN, 0)], [SECTOR, 1])
    const b = submit(r, r.queues[0]!, [blkHeader(BLK_T.IN, 1)], [SECTOR, 1])
    gates[1]!()
    await new Promise((res) => setTimeout(res, 0))
    expect(r.queues[0]!.collect().map((e) => e.head)).toEqual([b.head])
    gates[0]!()
    await r.device.drain()
    expect(r.queues[0]!.collect().map((e) => e.head)).toEqual([a.head])
  })

  it('concurrent requests finish right in any backend order, and nothing lands after a reset (fc.scheduler)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.uniqueArray(fc.nat(15), { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), fc.boolean(), async (sched, sectors, writes, withReset) => {
        const inner = new MemoryBlockDevice(16)
        for (let i = 0; i < 16; i++) inner.bytes.fill(i, i * SECTOR, (i + 1) * SECTOR)
        const later = <T>(f: () => T) => sched.schedule(Promise.resolve()).then(f)
        const dev: BlockDevice = {
          blockSize: SECTOR,
          blockCount: 16,
          read: (lba, buf) => later(() => inner.readSync(lba, buf)),
          write: (lba, data) => later(() => inner.writeSync(lba, data)),
          flush: () => later(() => undefined),
          close: () => inner.close(),
        }
        const blk = new VirtioBlk(dev)
        const r = rig(blk, { ramSize: 1 << 20, queueSize: 16 })
        // Distinct sectors, so every order of completion has the same right answer.
        const reqs = sectors.map((sector, i) =>
          writes[i]
            ? { sector, write: true, s: submit(r, r.queues[0]!, [blkHeader(BLK_T.OUT, sector), new Uint8Array(SECTOR).fill(0x80 + i)], [1], { indirect: true }) }
            : { sector, write: false, s: submit(r, r.queues[0]!, [blkHeader(BLK_T.IN, sector)], [SECTOR, 1], { indirect: true }) },
        )
        let snapshot: Uint8Array | undefined
        if (withReset) {
          void later(() => {
            r.transport.write(MMIO.Status, 4, 0n)
            snapshot = r.memory.ram.slice()
          })
        }
        await sched.waitAll()
        await blk.drain()
        if (snapshot) {
          expect(same(r.memory.ram, snapshot)).toBe(true) // no DMA, no used entry after the reset
          return
        }
        const used = collect(r.queues[0]!)
        for (const q of reqs) {
          expect(used.has(q.s.head)).toBe(true)
          const got = readWritable(r, q.s)
          expect(got[got.length - 1]).toBe(BLK_S.OK)
          if (!q.write) expect(got.subarray(0, SECTOR).every((b) => b === q.sector)).toBe(true)
        }
        reqs.forEach((q, i) => {
          if (q.write) expect(inner.bytes.subarray(q.sector * SECTOR, (q.sector + 1) * SECTOR).every((b) => b === 0x80 + i)).toBe(true)
        })
      }),
      { numRuns: 100 },
    )
  })

  it('valid requests always complete with the right data (property, random framing)', async () => {
    const op = fc.record({
      write: fc.boolean(),
      sector: fc.nat(31),
      sectors: fc.integer({ min: 1, max: 4 }),
      seed: fc.nat(255),
      cuts: fc.array(fc.nat(4096), { maxLength: 5 }),
      indirect: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.boolean(), async (ops, eventIdx) => {
        const disk = new MemoryBlockDevice(32)
        const model = new Uint8Array(32 * SECTOR)
        const r = rig(new VirtioBlk(disk), { ramSize: 1 << 20, features: FEATURE.RING_INDIRECT_DESC | (eventIdx ? FEATURE.RING_EVENT_IDX : 0n), queueSize: 16 })
        for (const o of ops) {
          const n = Math.min(o.sectors, 32 - o.sector) * SECTOR
          if (o.write) {
            const data = pattern(n, o.seed)
            const res = await request(r, [blkHeader(BLK_T.OUT, o.sector), ...split(data, o.cuts)], 0, { indirect: o.indirect })
            expect(res.status).toBe(BLK_S.OK)
            model.set(data, o.sector * SECTOR)
          } else {
            const pieces = split(new Uint8Array(n), o.cuts).map((p) => p.length)
            const s = submit(r, r.queues[0]!, [blkHeader(BLK_T.IN, o.sector)], [...pieces, 1], { indirect: o.indirect })
            await r.device.drain()
            expect(collect(r.queues[0]!).get(s.head)).toBe(n + 1)
            const got = readWritable(r, s)
            expect(got[n]).toBe(BLK_S.OK)
            expect(same(got.subarray(0, n), model.subarray(o.sector * SECTOR, o.sector * SECTOR + n))).toBe(true)
          }
          r.driver.ackInterrupt()
        }
        expect(same(disk.bytes, model)).toBe(true)
        expect(r.errors).toEqual([])
        expect(r.transport.status & STATUS.DEVICE_NEEDS_RESET).toBe(0)
      }),
      { numRuns: 60 },
    )
  })
})
