import { CrashSimulatingDevice } from '@honk/block'
import fc from 'fast-check'
import { decodeSuperblock } from './format.js'
import { KvFullError, openKV, type KV } from './index.js'
import { describeMap, dump, prng, recordOutcomes, sameMap, valueHex } from './testing.js'

/**
 * Crash consistency. Each run drives a store through several "lives" on a crash-simulating
 * device: random writes (single puts/deletes, atomic batches, concurrent groups, durable or
 * not), compactions and resets, with a power cut armed after a random number of device writes
 * — so cuts land mid-batch (a multi-block frame partly written), mid-group-commit, and
 * mid-compaction (between the region write and the superblock switch). At the cut, many crash
 * images are made (any subset of unflushed block writes, any order, one torn block); each is
 * reopened and checked, and the run continues on one of them, writing through the reopened
 * store before the next crash.
 *
 * The log is ordered, so the recovered state must equal the model after some prefix of the
 * operations issued, and that prefix must include every acknowledged durable operation. That
 * one check covers: durable writes survive, batches are all-or-nothing, deleted keys never
 * come back, and reopen always succeeds.
 */
export async function crashRuns(runs: number, lives: number, imagesPerCrash: number, stats: CrashStats = { holes: 0 }): Promise<number> {
  let explored = 0
  await fc.assert(
    fc.asyncProperty(fc.integer(), async (seed) => {
      explored += await crashRun(seed, lives, imagesPerCrash, undefined, stats)
    }),
    { numRuns: runs },
  )
  return explored
}

/** One run of {@link crashRuns} from one seed; returns the crash states it explored. */
/** What the crash images looked like to recovery. */
export interface CrashStats {
  /**
   * Images where intact frames followed a hole (unflushed writes that landed out of order):
   * recovery must call that a torn tail, not damage, which the strict default would refuse.
   */
  holes: number
}

export async function crashRun(seed: number, lives: number, imagesPerCrash: number, trace?: (line: string) => void, stats?: CrashStats): Promise<number> {
  let explored = 0
  {
    {
      const rnd = prng(seed)
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!
      // Half the runs use the optional one-request write + flush, half the two-request path.
      let dev = new CrashSimulatingDevice(80, 512, undefined, { writeAndFlush: (seed & 1) === 0 })
      await (await openKV(dev, { commitWindowMs: 1_000_000 })).close()
      let current = new Map<string, string>() // the state the device holds (as far as the model knows)
      for (let life = 0; life < lives; life++) {
        const kv: KV = await openKV(dev, { commitWindowMs: 1_000_000 })
        const recovered = await dump(kv)
        if (!sameMap(recovered, current)) throw new Error(`seed ${seed} life ${life}: reopen gave ${describeMap(recovered)}, expected ${describeMap(current)}`)
        // states[i]: the model after the first i operations of this life; `floor`: the index
        // of the last acknowledged durable operation (recovery may not fall below it).
        const states: Map<string, string>[] = [new Map(current)]
        let floor = 0
        dev.cutPowerAfter(Math.floor(rnd() * 24))
        const keys = ['a', 'b', 'c', 'big1', 'big2', 'deep/x', 'deep/y', 'z']
        const value = (k: string) => new Uint8Array(k.startsWith('big') ? 700 + Math.floor(rnd() * 900) : Math.floor(rnd() * 60)).fill(Math.floor(rnd() * 256))
        let alive = true
        for (let step = 0; step < 30 && alive; step++) {
          const r = rnd()
          type Planned = { run: () => Promise<void>; apply: (m: Map<string, string>) => void; durable: boolean }
          const plans: Planned[] = []
          if (r < 0.45) {
            const k = pick(keys)
            const v = value(k)
            const durable = rnd() < 0.5
            plans.push({ run: () => kv.put(k, v, { durable }), apply: (m) => m.set(k, valueHex(v)), durable })
          } else if (r < 0.6) {
            const k = pick(keys)
            const durable = rnd() < 0.5
            plans.push({ run: () => kv.delete(k, { durable }), apply: (m) => m.delete(k), durable })
          } else if (r < 0.75) {
            const ops = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => {
              const k = pick(keys)
              return rnd() < 0.3 ? ({ type: 'delete', key: k } as const) : ({ type: 'put', key: k, value: value(k) } as const)
            })
            const durable = rnd() < 0.5
            plans.push({
              run: () => kv.batch(ops, { durable }),
              apply: (m) => {
                for (const o of ops) o.type === 'put' ? m.set(o.key, valueHex(o.value)) : m.delete(o.key)
              },
              durable,
            })
          } else if (r < 0.85) {
            // A concurrent group: commits in call order, shares one write and at most one flush.
            for (let i = 0, n = 2 + Math.floor(rnd() * 4); i < n; i++) {
              const k = pick(keys)
              const v = value(k)
              const durable = rnd() < 0.3
              plans.push({ run: () => kv.put(k, v, { durable }), apply: (m) => m.set(k, valueHex(v)), durable })
            }
          } else if (r < 0.93) {
            plans.push({ run: () => kv.compact(), apply: () => {}, durable: true })
          } else if (r < 0.97) {
            plans.push({ run: () => kv.reset(), apply: (m) => m.clear(), durable: true })
          } else {
            plans.push({ run: () => kv.sync(), apply: () => {}, durable: true })
          }
          const results = await Promise.allSettled(plans.map((p) => p.run()))
          trace?.(`life ${life} step ${step}: r=${r.toFixed(2)} ${plans.length} ops -> ${results.map((x) => (x.status === 'fulfilled' ? 'ok' : (x.reason as Error).name)).join(',')} floor=${floor} states=${states.length}`)
          // A failure means the power is cut: that op and every later one may or may not have landed.
          ;({ floor, alive } = recordOutcomes(plans, results, states, floor, (e) => e instanceof KvFullError))
          // A group's durable write makes the whole group durable (they share the flush).
        }
        if (alive) {
          // No cut came: cut now (whatever is unflushed is at the mercy of the crash).
          dev.cutPowerAfter(0)
        }
        // Explore many crash images of this moment; all must recover to an allowed prefix.
        const allowed = states.slice(floor)
        let next: { dev: CrashSimulatingDevice; state: Map<string, string> } | undefined
        for (let i = 0; i < imagesPerCrash; i++) {
          const image = dev.crash(dev.randomPlan(rnd))
          const kv2 = await openKV(image, { commitWindowMs: 1_000_000 })
          if (stats && (kv2.recovery.tail?.droppedFrames ?? 0) > 0) stats.holes++
          const got = await dump(kv2)
          const match = allowed.find((s) => sameMap(s, got))
          if (!match) {
            if (trace) {
              const img = image.durableBytes()
              for (let b = 0; b < 2; b++) trace(`superblock ${b}: ${JSON.stringify(decodeSuperblock(img.subarray(b * 512, b * 512 + 512)))}`)
              const live = dev.durableBytes()
              for (let b = 0; b < 2; b++) trace(`pre-crash durable superblock ${b}: ${JSON.stringify(decodeSuperblock(live.subarray(b * 512, b * 512 + 512)))}`)
              trace(`pending: ${dev.pending.map((p) => p.lba).join(',')}`)
            }
            throw new Error(
              `seed ${seed} life ${life}: crash image ${i} recovered ${describeMap(got)}, not one of the ${allowed.length} allowed states from the last durable op; last: ${describeMap(allowed[allowed.length - 1]!)}`,
            )
          }
          await kv2.close()
          explored++
          if (!next || rnd() < 0.3) next = { dev: image, state: match }
        }
        dev = next!.dev
        current = next!.state
      }
    }
  }
  return explored
}

