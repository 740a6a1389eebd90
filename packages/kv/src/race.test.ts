import { MemoryBlockDevice, type BlockDevice } from '@honk/block'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { openKV } from './index.js'
import { valueHex } from './testing.js'

/** A device whose every read, write and flush completes when the fast-check scheduler says. */
function scheduled(dev: BlockDevice, s: fc.Scheduler): BlockDevice {
  return {
    blockSize: dev.blockSize,
    blockCount: dev.blockCount,
    read: s.scheduleFunction(async function read(lba: number, buf: Uint8Array) {
      return dev.read(lba, buf)
    }),
    write: s.scheduleFunction(async function write(lba: number, data: Uint8Array) {
      return dev.write(lba, data)
    }),
    flush: s.scheduleFunction(async function flush() {
      return dev.flush()
    }),
    close: () => dev.close(),
  }
}

describe('KV under scheduled interleavings (fc.scheduler)', () => {
  it('concurrent writers, readers, snapshots and compactions: every read sees a written value, the end state is each writer’s last', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 6 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 3 }),
        async (s, writers, compactions) => {
          // Open on a plain device first (opening needs I/O before anyone can schedule it).
          const base = new MemoryBlockDevice(128)
          await (await openKV(base)).close()
          const kvPromise = openKV(scheduled(base, s), { commitWindowMs: 0 })
          await s.waitFor(kvPromise)
          const kv = await kvPromise
          const written = new Map<string, Set<string>>() // key → every value ever written
          const lastOf = new Map<string, string>()
          const value = (w: number, i: number) => new Uint8Array(w % 2 === 0 ? 40 : 600).fill(w * 16 + i) // odd writers: disk-resident
          const work: Promise<unknown>[] = []
          writers.forEach(([keyNo, count], w) => {
            const key = `k${keyNo}`
            work.push(
              (async () => {
                for (let i = 0; i < count; i++) {
                  const v = value(w, i)
                  if (!written.has(key)) written.set(key, new Set())
                  written.get(key)!.add(valueHex(v))
                  await kv.put(key, v, { durable: i % 2 === 0 })
                }
              })(),
            )
          })
          const readsSeen: string[] = []
          for (let r = 0; r < 4; r++) {
            work.push(
              (async () => {
                const snap = kv.snapshot()
                const frozen = new Map<string, string>()
                for (const k of ['k0', 'k1', 'k2', 'k3']) {
                  const v = await snap.get(k)
                  if (v) frozen.set(k, valueHex(v))
                }
                for (const k of ['k0', 'k1', 'k2', 'k3']) {
                  const v = await kv.get(k)
                  if (v) {
                    readsSeen.push(k)
                    expect(written.get(k)?.has(valueHex(v))).toBe(true)
                  }
                  const again = await snap.get(k)
                  expect(again ? valueHex(again) : undefined).toBe(frozen.get(k))
                }
                snap.release()
              })(),
            )
          }
          for (let c = 0; c < compactions; c++) work.push(kv.compact())
          await s.waitFor(Promise.all(work))
          await Promise.all(work)
          // With several writers per key, the last one to commit wins; each writer's final value
          // must be the one stored if it was the only writer of its key.
          for (const [keyNo] of writers) {
            const key = `k${keyNo}`
            const got = await s.waitFor(kv.get(key))
            expect(got && written.get(key)!.has(valueHex(got))).toBe(true)
          }
          writers.forEach(([keyNo, count], w) => {
            if (writers.filter(([k]) => k === keyNo).length === 1) lastOf.set(`k${keyNo}`, valueHex(value(w, count - 1)))
          })
          for (const [key, v] of lastOf) {
            const got = await s.waitFor(kv.get(key))
            expect(valueHex(got!)).toBe(v)
          }
          const closing = kv.close()
          await s.waitFor(closing)
          await closing
        },
      ),
      { numRuns: 60 },
    )
  })
})
