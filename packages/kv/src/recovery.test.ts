import { MemoryBlockDevice } from '@honk/block'
import { describe, expect, it } from 'vitest'
import { decodeSuperblock, FRAME_MAGIC } from './format.js'
import { KvCorruptError, KvInUseError, KvReadOnlyError, openKV, type KV, type KVRecovery } from './index.js'

const BS = 512

async function fill(dev: MemoryBlockDevice, n: number): Promise<void> {
  const kv = await openKV(dev)
  for (let i = 0; i < n; i++) await kv.put(`key-${i}`, `value-${i}`, { durable: true })
  await kv.close()
}

async function countReadable(kv: KV, n: number): Promise<number> {
  let ok = 0
  for (let i = 0; i < n; i++) if ((await kv.getString(`key-${i}`)) === `value-${i}`) ok++
  return ok
}

/** Device byte of the first frame of region 0 (the store's first write). */
const REGION0 = 2 * BS

describe('issue #12 case 2: one bad superblock sector never loses the store', () => {
  it('writes both superblock copies at format', async () => {
    const dev = new MemoryBlockDevice(64)
    await (await openKV(dev)).close()
    for (const b of [0, 1]) expect(typeof decodeSuperblock(dev.bytes.subarray(b * BS, (b + 1) * BS))).toBe('object')
  })

  for (const sector of [0, 1]) {
    it(`keeps 100 durable keys when superblock sector ${sector} is zeroed, and repairs it`, async () => {
      const dev = new MemoryBlockDevice(256)
      await fill(dev, 100)
      dev.bytes.fill(0, sector * BS, (sector + 1) * BS)
      let report: KVRecovery | undefined
      const kv = await openKV(dev, { onRecovery: (r) => (report = r) })
      expect(kv.count).toBe(100)
      expect(await countReadable(kv, 100)).toBe(100)
      expect(report?.formatted).toBe(false)
      expect(report?.superblocks.join()).toMatch(new RegExp(`block ${sector}`))
      // Repaired: both copies valid again.
      for (const b of [0, 1]) expect(typeof decodeSuperblock(dev.bytes.subarray(b * BS, (b + 1) * BS))).toBe('object')
      await kv.close()
    })
  }

  for (const sector of [0, 1]) {
    it(`with superblock sector ${sector} damaged, a power cut tearing the next superblock write loses nothing`, async () => {
      const dev = new MemoryBlockDevice(256)
      await fill(dev, 100)
      dev.bytes.fill(0x5a, sector * BS, (sector + 1) * BS)
      // The open's first superblock write is torn (half garbage) and the power goes.
      const torn = new MemoryBlockDevice(256, BS, dev.bytes)
      const write = torn.write.bind(torn)
      let cut = false
      torn.write = async (block, data) => {
        if (!cut && block < 2) {
          cut = true
          dev.bytes.fill(0xee, block * BS, block * BS + BS / 2)
          throw new Error('power cut')
        }
        return write(block, data)
      }
      await expect(openKV(torn)).rejects.toThrow(/power cut/)
      // The intact copy was not the one written first: it survived, and so did every key.
      const again = await openKV(new MemoryBlockDevice(256, BS, dev.bytes))
      expect(await countReadable(again, 100)).toBe(100)
      await again.close()
    })
  }

  it('keeps the keys when the newest copy is damaged right after a compaction', async () => {
    const dev = new MemoryBlockDevice(64)
    const kv = await openKV(dev)
    await kv.put('a', '1')
    await kv.compact()
    await kv.put('b', '2', { durable: true })
    dev.bytes.fill(0x77, 0, BS) // copy 0 (written first at every update)
    const again = await openKV(dev, { readOnly: true })
    expect(await again.getString('a')).toBe('1')
    expect(await again.getString('b')).toBe('2')
  })

  it('does not format when both superblocks are zero but the log is not: KvCorruptError', async () => {
    const dev = new MemoryBlockDevice(256)
    await fill(dev, 10)
    const before = dev.bytes.slice()
    dev.bytes.fill(0, 0, 2 * BS)
    const damaged = dev.bytes.slice()
    const err = await openKV(dev).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KvCorruptError)
    expect((err as Error).message).toMatch(/not blank/)
    expect(dev.bytes).toEqual(damaged) // nothing written
    expect(before.subarray(2 * BS)).toEqual(dev.bytes.subarray(2 * BS))
    // A second open (writable again: the failed one released the device) still refuses.
    await expect(openKV(dev)).rejects.toBeInstanceOf(KvCorruptError)
  })

  it('formats a blank device, and only with format: true a damaged one', async () => {
    const blank = new MemoryBlockDevice(64)
    const kv = await openKV(blank)
    expect(kv.recovery.formatted).toBe(true)
    await kv.close()
    const damaged = new MemoryBlockDevice(64)
    damaged.bytes[(2 + 31) * BS + 5] = 1 // region 1's first block, superblocks zero
    await expect(openKV(damaged)).rejects.toBeInstanceOf(KvCorruptError)
    expect((await openKV(damaged, { format: true })).recovery.formatted).toBe(true)
  })
})

describe('a superblock write torn inside the durableThrough extension', () => {
  it('is not trusted: the store opens from the other copy, so damage to the log the torn copy names cannot read as an empty store', async () => {
    // Found by the damage property: a compaction's superblock write torn between bytes 72 and 84
    // kept the new fields (new region, new generation) with the claim lost, and the compacted
    // region's zeroed first sector then read as an empty log: 4 durable keys gone, no damage told.
    const dev = new MemoryBlockDevice(256)
    await fill(dev, 40)
    const before = dev.bytes.slice(0, 2 * BS) // both copies: generation g, the old region
    const kv = await openKV(dev)
    await kv.compact()
    await kv.close()
    const after = decodeSuperblock(dev.bytes.subarray(0, BS))
    if (typeof after === 'string') throw new Error(after)
    // Copy 0 as a power cut leaves it mid-write: new bytes up to 76, the old copy's after.
    const torn = new Uint8Array(BS)
    torn.set(dev.bytes.subarray(0, 76))
    torn.set(before.subarray(76, BS), 76)
    expect(decodeSuperblock(torn)).toMatch(/durableThrough extension/)
    dev.bytes.set(torn, 0)
    dev.bytes.set(before.subarray(BS, 2 * BS), BS)
    // The region the torn copy points at loses its first sector (the compacted data).
    const newRegion = (after.regionStart + after.activeRegion * after.regionBlocks) * BS
    dev.bytes.fill(0, newRegion, newRegion + BS)
    const reopened = await openKV(dev)
    expect(reopened.count).toBe(40)
    expect(await countReadable(reopened, 40)).toBe(40)
    await reopened.close()
  })

  it('a store from before the extension (zeros in bytes 72..84) still opens, with no claim', async () => {
    const dev = new MemoryBlockDevice(256)
    await fill(dev, 10)
    for (const b of [0, 1]) dev.bytes.fill(0, b * BS + 72, b * BS + 84)
    const sb = decodeSuperblock(dev.bytes.subarray(0, BS))
    expect(typeof sb === 'object' && sb.durableThrough).toBe(0)
    const kv = await openKV(dev)
    expect(kv.count).toBe(10)
    await kv.close()
  })
})

describe('issue #12 case 3: mid-log damage is told apart from a torn tail', () => {
  async function damagedStore(): Promise<MemoryBlockDevice> {
    const dev = new MemoryBlockDevice(4096)
    await fill(dev, 1001)
    dev.bytes[REGION0 + 40]! ^= 0x01 // one flipped byte in the first log frame
    return dev
  }

  it('strict (default): refuses with KvCorruptError naming the byte range, writing nothing', async () => {
    const dev = await damagedStore()
    const before = dev.bytes.slice()
    const err = await openKV(dev).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KvCorruptError)
    expect((err as Error).message).toMatch(new RegExp(`device bytes \\[${REGION0}, ${REGION0 + BS}\\)`))
    expect((err as Error).message).toMatch(/seq 1…1/)
    expect(dev.bytes).toEqual(before)
  })

  it('read-only salvage recovers every intact frame after the damage and reports the loss, writing nothing', async () => {
    const dev = await damagedStore()
    const before = dev.bytes.slice()
    const writesBefore = dev.stats.writes
    const flushesBefore = dev.stats.flushes
    const kv = await openKV(dev, { readOnly: true, recovery: 'salvage' })
    expect(await countReadable(kv, 1001)).toBe(1000)
    expect(kv.has('key-0')).toBe(false)
    expect(kv.recovery.damage).toEqual([{ start: REGION0, end: REGION0 + BS, region: 0, regionStart: 0, regionEnd: BS, firstLostSeq: 1, lostSeqs: 1 }])
    expect(kv.readOnly).toBe(true)
    await expect(kv.put('x', 'y')).rejects.toBeInstanceOf(KvReadOnlyError)
    await expect(kv.batch([{ type: 'delete', key: 'x' }])).rejects.toBeInstanceOf(KvReadOnlyError)
    await expect(kv.compact()).rejects.toBeInstanceOf(KvReadOnlyError)
    await expect(kv.reset()).rejects.toBeInstanceOf(KvReadOnlyError)
    await kv.sync()
    await kv.close()
    expect(dev.stats.writes).toBe(writesBefore)
    expect(dev.stats.flushes).toBe(flushesBefore)
    expect(dev.bytes).toEqual(before)
  })

  it('writable salvage moves the survivors to the other region before writing, and they stay', async () => {
    const dev = await damagedStore()
    const region0 = dev.bytes.slice(REGION0, REGION0 + 2047 * BS)
    const kv = await openKV(dev, { recovery: 'salvage' })
    expect(kv.recovery.compacted).toBe(true)
    expect(kv.recovery.region).toBe(1)
    for (let i = 0; i < 50; i++) await kv.put(`new-${i}`, 'n', { durable: true })
    // The damaged region was not written over.
    expect(dev.bytes.slice(REGION0, REGION0 + 2047 * BS)).toEqual(region0)
    await kv.close()
    const again = await openKV(dev)
    expect(again.recovery.damage).toEqual([])
    expect(await countReadable(again, 1001)).toBe(1000)
    expect(again.count).toBe(1050)
    await again.close()
  })

  it('point-in-time stops at the damage and reports every later frame as dropped', async () => {
    const dev = await damagedStore()
    const kv = await openKV(dev, { readOnly: true, recovery: 'point-in-time' })
    expect(kv.count).toBe(0)
    expect(kv.recovery.damage).toHaveLength(1)
    expect(kv.recovery.tail?.droppedFrames).toBe(1000)
  })

  it('damage in a multi-frame group commit (frames not block-aligned) is found and skipped exactly', async () => {
    const dev = new MemoryBlockDevice(1024)
    const kv = await openKV(dev)
    await Promise.all(Array.from({ length: 300 }, (_, i) => kv.put(`key-${i}`, `value-${i}`)))
    await kv.sync()
    for (let i = 300; i < 310; i++) await kv.put(`key-${i}`, `value-${i}`, { durable: true }) // vouch for the group
    await kv.close()
    // Corrupt a byte in the middle of the group's first block: the frames there are lost.
    dev.bytes[REGION0 + 200]! ^= 0xff
    await expect(openKV(dev)).rejects.toBeInstanceOf(KvCorruptError)
    const salvage = await openKV(dev, { readOnly: true, recovery: 'salvage' })
    const [d] = salvage.recovery.damage
    expect(d!.lostSeqs).toBeGreaterThanOrEqual(1)
    expect(await countReadable(salvage, 310)).toBe(310 - d!.lostSeqs)
  })

  it('damage to frames replayed at an earlier open is caught even with nothing after them', async () => {
    const dev = new MemoryBlockDevice(256)
    await fill(dev, 5)
    await (await openKV(dev)).close() // this open vouches for all 5 (the superblock's durableThrough)
    dev.bytes.fill(0, REGION0 + 4 * BS, REGION0 + 5 * BS) // the last frame
    const err = await openKV(dev).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KvCorruptError)
    expect((err as Error).message).toMatch(/seq 5…5/)
  })

  it('the documented limit: the last flushed write, damaged with nothing after it and no open since, reads as a torn tail', async () => {
    const dev = new MemoryBlockDevice(256)
    const kv = await openKV(dev)
    for (let i = 0; i < 3; i++) await kv.put(`key-${i}`, `value-${i}`, { durable: true })
    // No close, no later write: nothing vouches for the third frame (as in LevelDB/RocksDB).
    dev.bytes.fill(0xee, REGION0 + 2 * BS, REGION0 + 3 * BS)
    const again = await openKV(dev, { readOnly: true })
    expect(await countReadable(again, 3)).toBe(2)
    expect(again.recovery.damage).toEqual([])
    expect(again.recovery.tail?.start).toBe(again.recovery.logEnd)
    expect(again.recovery.logEnd).toBeLessThan(REGION0 + 3 * BS) // the report says where the log ended
    await kv.close()
  })

  // A clean close flushed every write: the superblock then vouches for all of them, so damage to
  // the log's last frames is damage, not a torn tail. (Before, 4 zeroed sectors at the end of a
  // cleanly closed log opened as a store 4 durable keys short, with no damage and no tail.)
  for (const [what, damage] of [['zeroed', 0x00], ['garbage', 0xee]] as const) {
    it(`after a clean close, the last frames ${what} are reported as lost acknowledged writes`, async () => {
      const dev = new MemoryBlockDevice(256)
      await fill(dev, 100)
      const kv0 = await openKV(dev, { readOnly: true })
      const end = REGION0 + kv0.stats().logBytes
      await kv0.close()
      const last = Math.floor((end - 1) / BS) * BS
      dev.bytes.fill(damage, last - 3 * BS, last + BS) // the log's last 4 sectors
      const before = dev.bytes.slice()
      const err = await openKV(dev).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(KvCorruptError)
      expect(dev.bytes).toEqual(before) // nothing written
      const salvage = await openKV(dev, { readOnly: true, recovery: 'salvage' })
      const lost = salvage.recovery.damage.reduce((n, d) => n + d.lostSeqs, 0)
      expect(lost).toBeGreaterThan(0)
      expect(await countReadable(salvage, 100)).toBe(100 - lost)
    })
  }

  it('a torn tail is still discarded, reported, and written over', async () => {
    const live = new MemoryBlockDevice(256)
    const w = await openKV(live)
    for (let i = 0; i < 3; i++) await w.put(`key-${i}`, `value-${i}`, { durable: true })
    // A crash (the disk as it is, no close): nothing vouches for the last frame.
    const dev = new MemoryBlockDevice(256, BS, live.bytes.slice())
    await w.close()
    dev.bytes.fill(0xee, REGION0 + 2 * BS, REGION0 + 3 * BS) // the last frame, never vouched for
    const kv = await openKV(dev)
    expect(kv.count).toBe(2)
    expect(kv.recovery.damage).toEqual([])
    expect(kv.recovery.tail?.droppedFrames).toBe(0)
    expect(kv.recovery.tail?.start).toBe(kv.recovery.logEnd) // the log ends inside block 1, padded to block 2
    expect(kv.recovery.logEnd).toBeLessThan(REGION0 + 2 * BS)
    await kv.put('c', '3', { durable: true })
    expect(new DataView(dev.bytes.buffer, dev.bytes.byteOffset).getUint32(REGION0 + 2 * BS, true)).toBe(FRAME_MAGIC)
  })
})

describe('hostile images', () => {
  it('a region full of plausible frame heads claiming huge op tables is refused quickly, not scanned quadratically', async () => {
    const dev = new MemoryBlockDevice(4096)
    await (await openKV(dev)).close()
    const sb = decodeSuperblock(dev.bytes.subarray(0, BS))
    if (typeof sb !== 'object') throw new Error(sb)
    const regionBytes = sb.regionBlocks * BS
    const v = new DataView(dev.bytes.buffer, dev.bytes.byteOffset)
    for (let off = 0; off + 32 <= regionBytes; off += 32) {
      const at = REGION0 + off
      const length = regionBytes - off
      v.setUint32(at, FRAME_MAGIC, true)
      v.setUint32(at + 8, length, true)
      v.setUint32(at + 12, Math.floor((length - 32) / 16), true)
      v.setBigUint64(at + 16, BigInt(sb.startSeq), true)
      v.setBigUint64(at + 24, BigInt(sb.generation), true)
    }
    const t0 = performance.now()
    const err = await openKV(dev).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KvCorruptError)
    expect(performance.now() - t0).toBeLessThan(10_000)
  })
})

describe('read-only open and one writer per device', () => {
  it('a read-only open of a blank device is an empty store and writes nothing', async () => {
    const dev = new MemoryBlockDevice(64)
    const kv = await openKV(dev, { readOnly: true })
    expect(kv.count).toBe(0)
    expect(dev.stats.writes).toBe(0)
    expect(dev.bytes.every((b) => b === 0)).toBe(true)
    await expect(openKV(dev, { readOnly: true, format: true })).rejects.toBeInstanceOf(KvReadOnlyError)
  })

  it('a second writable openKV on the same device is refused with KvInUseError; read-only opens share', async () => {
    const dev = new MemoryBlockDevice(64)
    const kv = await openKV(dev)
    await kv.put('a', '1', { durable: true })
    const err = await openKV(dev).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(KvInUseError)
    expect((err as Error).message).toMatch(/already open/)
    const reader = await openKV(dev, { readOnly: true })
    expect(await reader.getString('a')).toBe('1')
    await kv.close()
    const again = await openKV(dev)
    expect(await again.getString('a')).toBe('1')
    await again.close()
  })

  it('two concurrent openKV calls on one device: exactly one wins', async () => {
    const dev = new MemoryBlockDevice(64)
    const results = await Promise.allSettled([openKV(dev), openKV(dev)])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(failed.reason).toBeInstanceOf(KvInUseError)
  })
})
