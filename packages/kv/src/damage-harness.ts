import { CrashSimulatingDevice, MemoryBlockDevice } from '@honk/block'
import fc from 'fast-check'
import { decodeSuperblock } from './format.js'
import { KvCorruptError, KvFullError, openKV, type KV } from './index.js'
import { describeMap, dump, prng, recordOutcomes, sameMap, valueHex } from './testing.js'

/**
 * Issue #12 case 5 (the KV half): fast-check over (operation sequence, one damaged sector,
 * crash point). Each case drives a store through two lives on a crash-simulating device — the
 * first closed cleanly, the second cut by a power failure after a random number of device
 * requests — then takes a crash image, damages one sector of it (zeroed, one byte flipped, or
 * random bytes; anywhere on the device, or, half the time, inside the active log) and reopens.
 *
 * The promise checked: after reopen, either
 *  - every acknowledged write is readable: the state is the model after some prefix of the
 *    operations that includes every acknowledged durable one; or
 *  - the open refuses (`KvCorruptError`), names a byte range covering the damaged sector (or the
 *    superblocks), and has written nothing; a read-only salvage open then works and writes
 *    nothing, and a writable salvage open never writes over the damaged region; or
 *  - the documented limit: the damaged sector is at or past the end of the recovered log, no
 *    intact frame follows it, and nothing vouched for what it held (a torn tail and a damaged
 *    last write look the same on disk; `kv.recovery.logEnd` says where the log ended). Then the
 *    state is still a prefix of the operations (never a state that did not exist).
 * And a writable open changes no byte outside the two superblock blocks; later appends never
 * rewrite a byte of the recovered log (so none of the damaged sector's neighbours in it).
 */
export interface DamageCase {
  seed: number
  writeAndFlush: boolean
  /** Device requests before the power cut in the second life (undefined: cut after the last op). */
  cut: number | undefined
  /** Where the damaged sector is: a fraction of the device, or of the active log. */
  where: { inLog: boolean; at: number }
  kind: 'zero' | 'flip' | 'random'
}

export const damageCase: fc.Arbitrary<DamageCase> = fc.record({
  seed: fc.integer(),
  writeAndFlush: fc.boolean(),
  cut: fc.option(fc.nat(60), { nil: undefined }),
  where: fc.record({ inLog: fc.boolean(), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) }),
  kind: fc.constantFrom('zero' as const, 'flip' as const, 'random' as const),
})

/** Counts of the outcomes, so a test can show every branch was reached. */
export interface DamageOutcomes {
  intact: number
  refused: number
  tailLimit: number
}

export async function damageRuns(runs: number, seed?: number): Promise<DamageOutcomes> {
  const outcomes: DamageOutcomes = { intact: 0, refused: 0, tailLimit: 0 }
  await fc.assert(
    fc.asyncProperty(damageCase, async (c) => {
      const o = await damageRun(c)
      outcomes[o]++
    }),
    { numRuns: runs, ...(seed !== undefined ? { seed } : {}) },
  )
  return outcomes
}

const BS = 512
const BLOCKS = 96
const OPTS = { commitWindowMs: 1_000_000 } as const

export async function damageRun(c: DamageCase): Promise<keyof DamageOutcomes> {
  const rnd = prng(c.seed)
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!
  const keys = ['a', 'b', 'c', 'big1', 'big2', 'deep/x', 'z']
  const value = (k: string) => new Uint8Array(k.startsWith('big') ? 600 + Math.floor(rnd() * 900) : 1 + Math.floor(rnd() * 60)).fill(Math.floor(rnd() * 256))
  const dev = new CrashSimulatingDevice(BLOCKS, BS, undefined, { writeAndFlush: c.writeAndFlush })

  type Plan = { run: (kv: KV) => Promise<void>; apply: (m: Map<string, string>) => void; durable: boolean }
  const plan = (): Plan[] => {
    const r = rnd()
    const durable = rnd() < 0.5
    if (r < 0.5) {
      const k = pick(keys)
      const v = value(k)
      return [{ run: (kv) => kv.put(k, v, { durable }), apply: (m) => void m.set(k, valueHex(v)), durable }]
    }
    if (r < 0.62) {
      const k = pick(keys)
      return [{ run: (kv) => kv.delete(k, { durable }), apply: (m) => void m.delete(k), durable }]
    }
    if (r < 0.75) {
      const ops = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => {
        const k = pick(keys)
        return rnd() < 0.3 ? ({ type: 'delete', key: k } as const) : ({ type: 'put', key: k, value: value(k) } as const)
      })
      return [{ run: (kv) => kv.batch(ops, { durable }), apply: (m) => ops.forEach((o) => (o.type === 'put' ? m.set(o.key, valueHex(o.value)) : m.delete(o.key))), durable }]
    }
    if (r < 0.88) {
      // A concurrent group: one device write, at most one flush.
      return Array.from({ length: 2 + Math.floor(rnd() * 4) }, () => {
        const k = pick(keys)
        const v = value(k)
        const d = rnd() < 0.3
        return { run: (kv: KV) => kv.put(k, v, { durable: d }), apply: (m: Map<string, string>) => void m.set(k, valueHex(v)), durable: d }
      })
    }
    if (r < 0.95) return [{ run: (kv) => kv.compact(), apply: () => {}, durable: true }]
    return [{ run: (kv) => kv.reset(), apply: (m) => m.clear(), durable: true }]
  }

  // Life 1: written and closed cleanly (then everything in it is acknowledged and durable).
  let model = new Map<string, string>()
  {
    const kv = await openKV(dev, OPTS)
    for (let i = 0, n = 5 + Math.floor(rnd() * 20); i < n; i++) {
      for (const p of plan()) {
        try {
          await p.run(kv)
          p.apply(model)
        } catch (e) {
          if (!(e instanceof KvFullError)) throw e
        }
      }
    }
    await kv.close()
  }
  // Life 2: cut by a power failure.
  const states: Map<string, string>[] = [new Map(model)]
  let floor = 0
  {
    const kv = await openKV(dev, OPTS)
    dev.cutPowerAfter(c.cut ?? Infinity)
    let alive = true
    for (let step = 0, n = 5 + Math.floor(rnd() * 20); step < n && alive; step++) {
      const plans = plan()
      const results = await Promise.allSettled(plans.map((p) => p.run(kv)))
      ;({ floor, alive } = recordOutcomes(plans, results, states, floor, (e) => e instanceof KvFullError))
    }
    if (alive) dev.cutPowerAfter(0)
  }
  const image = dev.crash(dev.randomPlan(rnd)).durableBytes()

  // One damaged sector: anywhere, or inside the active log of the image.
  let sector = Math.floor(c.where.at * BLOCKS)
  const sb0 = decodeSuperblock(image.subarray(0, BS))
  const sb1 = decodeSuperblock(image.subarray(BS, 2 * BS))
  const sb = typeof sb0 === 'object' && (typeof sb1 !== 'object' || sb0.generation >= sb1.generation) ? sb0 : typeof sb1 === 'object' ? sb1 : undefined
  if (c.where.inLog && sb) {
    const probe = await openKV(new MemoryBlockDevice(BLOCKS, BS, image.slice()), { readOnly: true, recovery: 'salvage' })
    const first = sb.regionStart + sb.activeRegion * sb.regionBlocks
    const last = Math.max(first, Math.floor((probe.recovery.logEnd - 1) / BS))
    sector = first + Math.floor(c.where.at * (last - first + 1))
  }
  const at = sector * BS
  if (c.kind === 'zero') image.fill(0, at, at + BS)
  else if (c.kind === 'flip') image[at + Math.floor(rnd() * BS)]! ^= 1 << Math.floor(rnd() * 8)
  else for (let i = at; i < at + BS; i++) image[i] = Math.floor(rnd() * 256)
  const damaged = image.slice()
  const what = `case ${JSON.stringify(c)}: sector ${sector} (${c.kind})`

  const disk = new MemoryBlockDevice(BLOCKS, BS, image)
  let kv: KV
  try {
    kv = await openKV(disk, OPTS)
  } catch (e) {
    if (!(e instanceof KvCorruptError)) throw new Error(`${what}: open threw ${String(e)}`)
    if (!bytesEqual(disk.bytes, damaged)) throw new Error(`${what}: a refused open wrote to the device`)
    const range = /device bytes \[(\d+), (\d+)\)/.exec(e.message)
    const covers = range ? Number(range[1]) < at + BS && Number(range[2]) > at : /blocks 0 and 1/.test(e.message)
    if (!covers) throw new Error(`${what}: the refusal does not name the damaged sector: ${e.message}`)
    await checkSalvage(disk, damaged, what)
    return 'refused'
  }
  // A writable open writes the two superblock copies and nothing else.
  if (!bytesEqual(disk.bytes.subarray(2 * BS), damaged.subarray(2 * BS))) throw new Error(`${what}: the open wrote outside the superblocks`)
  const got = await dump(kv)
  let outcome: keyof DamageOutcomes = 'intact'
  if (!states.slice(floor).some((s) => sameMap(s, got))) {
    const prefix = states.slice(0, floor).some((s) => sameMap(s, got))
    const logEndBlock = Math.floor(kv.recovery.logEnd / BS)
    const active = activeRegion(disk.bytes)
    if (!prefix || sector < logEndBlock || sector >= active.end / BS || kv.recovery.damage.length > 0) {
      throw new Error(`${what}: reopen gave ${describeMap(got)}, not one of the ${states.length - floor} allowed states (last: ${describeMap(states[states.length - 1]!)}); recovery ${JSON.stringify(kv.recovery)}`)
    }
    outcome = 'tailLimit'
  }
  // Appending never rewrites the recovered log (nor, so, any neighbour of the damage in it).
  const logStart = activeRegion(disk.bytes).start
  const protectedEnd = Math.ceil(kv.recovery.logEnd / BS) * BS
  const expected = new Map(got)
  for (let i = 0; i < 3; i++) {
    const k = `after-${i}`
    const v = new Uint8Array(10 + i).fill(i)
    try {
      await kv.put(k, v, { durable: true })
      expected.set(k, valueHex(v))
    } catch (e) {
      if (!(e instanceof KvFullError)) throw e
    }
  }
  if (kv.stats().compactions === 0 && !bytesEqual(disk.bytes.subarray(logStart, protectedEnd), damaged.subarray(logStart, protectedEnd))) {
    throw new Error(`${what}: appending rewrote bytes of the recovered log [${logStart}, ${protectedEnd})`)
  }
  await kv.close()
  const again = await openKV(disk, OPTS)
  const final = await dump(again)
  if (!sameMap(final, expected)) throw new Error(`${what}: after appending and reopening ${describeMap(final)} ≠ ${describeMap(expected)}`)
  await again.close()
  return outcome
}

/** After a refusal: read-only salvage writes nothing; writable salvage moves off the damaged region. */
async function checkSalvage(disk: MemoryBlockDevice, damaged: Uint8Array, what: string): Promise<void> {
  let ro: KV
  try {
    ro = await openKV(disk, { readOnly: true, recovery: 'salvage' })
  } catch (e) {
    // Both superblocks unusable: nothing to salvage from, and nothing was written.
    if (e instanceof KvCorruptError && /blocks 0 and 1/.test(e.message) && bytesEqual(disk.bytes, damaged)) return
    throw new Error(`${what}: read-only salvage failed: ${String(e)}`)
  }
  const salvaged = await dump(ro)
  await ro.close()
  if (!bytesEqual(disk.bytes, damaged)) throw new Error(`${what}: a read-only open wrote to the device`)
  if (ro.recovery.damage.length === 0) return
  const old = ro.recovery.damage[0]!
  const sb = decodeSuperblock(damaged.subarray(0, BS))
  const regionBytes = typeof sb === 'object' ? sb.regionBlocks * BS : 0
  const oldStart = old.start - old.regionStart
  const kv = await openKV(disk, { ...OPTS, recovery: 'salvage' })
  if (!kv.recovery.compacted) throw new Error(`${what}: a writable salvage open did not move off the damaged region`)
  if (!sameMap(await dump(kv), salvaged)) throw new Error(`${what}: writable salvage recovered another state than read-only salvage`)
  await kv.put('after', 'x', { durable: true })
  if (regionBytes > 0 && !bytesEqual(disk.bytes.subarray(oldStart, oldStart + regionBytes), damaged.subarray(oldStart, oldStart + regionBytes))) {
    throw new Error(`${what}: salvage wrote over the damaged region`)
  }
  await kv.close()
  const again = await openKV(disk, OPTS)
  if (again.recovery.damage.length > 0) throw new Error(`${what}: damage still reported after a salvage`)
  salvaged.set('after', valueHex(new TextEncoder().encode('x')))
  if (!sameMap(await dump(again), salvaged)) throw new Error(`${what}: salvaged state not kept`)
  await again.close()
}

/** Device byte range of the active region, from (repaired, so valid) superblock 0. */
function activeRegion(bytes: Uint8Array): { start: number; end: number } {
  const s = decodeSuperblock(bytes.subarray(0, BS))
  if (typeof s !== 'object') throw new Error(`superblock 0 not valid after a writable open: ${s}`)
  const start = (s.regionStart + s.activeRegion * s.regionBlocks) * BS
  return { start, end: start + s.regionBlocks * BS }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
