import { MemoryBlockDevice } from '@honk/block'
import fc from 'fast-check'
import { KvFullError, openKV, type KV, type KVSnapshot } from './index.js'
import { describeMap, dump, sameMap, valueHex } from './testing.js'

type Op =
  | { t: 'put'; key: string; size: number; fill: number; durable: boolean }
  | { t: 'delete'; key: string }
  | { t: 'batch'; ops: { key: string; size: number; fill: number; del: boolean }[] }
  | { t: 'snapshot' }
  | { t: 'release' }
  | { t: 'compact' }
  | { t: 'reset' }
  | { t: 'reopen' }

const KEYS = ['a', 'b', 'c', 'deep/x', 'deep/y', 'big1', 'big2', 'z']
const key = fc.constantFrom(...KEYS)
// Sizes straddle the 256-byte inline threshold so both residencies are exercised.
const size = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 200, max: 300 }), fc.integer({ min: 1000, max: 1800 }))
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('put' as const), key, size, fill: fc.nat(255), durable: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('delete' as const), key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('batch' as const),
      ops: fc.array(fc.record({ key, size, fill: fc.nat(255), del: fc.boolean() }), { minLength: 1, maxLength: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'release' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reset' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'reopen' as const }) },
)

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

/** Random operation sequences against a Map model; throws on the first disagreement. */
export async function modelRuns(runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
      const dev = new MemoryBlockDevice(96) // regions of 47 blocks: compaction happens often
      let kv: KV = await openKV(dev)
      const model = new Map<string, string>()
      const snaps: { snap: KVSnapshot; frozen: Map<string, string> }[] = []
      for (const o of ops) {
        try {
          switch (o.t) {
            case 'put':
              await kv.put(o.key, bytes(o.size, o.fill), { durable: o.durable })
              model.set(o.key, valueHex(bytes(o.size, o.fill)))
              break
            case 'delete':
              await kv.delete(o.key)
              model.delete(o.key)
              break
            case 'batch': {
              await kv.batch(o.ops.map((b) => (b.del ? { type: 'delete', key: b.key } : { type: 'put', key: b.key, value: bytes(b.size, b.fill) })))
              for (const b of o.ops) b.del ? model.delete(b.key) : model.set(b.key, valueHex(bytes(b.size, b.fill)))
              break
            }
            case 'snapshot':
              snaps.push({ snap: kv.snapshot(), frozen: new Map(model) })
              break
            case 'release':
              snaps.shift()?.snap.release()
              break
            case 'compact':
              await kv.compact()
              break
            case 'reset':
              await kv.reset()
              model.clear()
              break
            case 'reopen':
              await kv.close()
              snaps.length = 0 // snapshots end with their store
              kv = await openKV(dev)
              break
          }
        } catch (e) {
          // The only acceptable failure: the live set plus this write does not fit. Then the
          // store must be unchanged, which the comparison below checks.
          if (!(e instanceof KvFullError)) throw e
        }
        const got = await dump(kv)
        if (!sameMap(got, model)) throw new Error(`after ${JSON.stringify(o)}: store ${describeMap(got)} ≠ model ${describeMap(model)}`)
        for (const s of snaps) {
          const seen = await dump(s.snap)
          if (!sameMap(seen, s.frozen)) throw new Error(`snapshot changed after ${JSON.stringify(o)}: ${describeMap(seen)} ≠ ${describeMap(s.frozen)}`)
        }
        if (kv.count !== model.size) throw new Error(`count ${kv.count} ≠ model ${model.size}`)
      }
      await kv.close()
    }),
    { numRuns: runs },
  )
}
