/**
 * `pnpm --filter @honk/kv bench [--quick] [--keys N]`: @honk/kv against LevelDB
 * (classic-level, the Node binding of Google's LevelDB) in the same process, file-backed,
 * 16-byte keys and 100-byte values, rows in the db_bench style:
 *
 *   fillseq           N puts in key order
 *   fillrandom        N puts in random key order
 *   readrandom        N gets of random present keys (after fillrandom)
 *   fillrandom-sync   N/100 durable puts (flush/fsync each), random order
 *   fillrandom-sync-c N/100 durable puts from 64 concurrent writers (group commit vs LevelDB's)
 *
 * Every row runs ours and LevelDB alternately (ours, peer, ours, peer… best of R rounds), each
 * on a fresh store in its own temp directory, each op awaited as a user would.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileBlockDevice } from '@honk/block/node'
import { ClassicLevel } from 'classic-level'
import { higherIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { openKV, type KV } from '../src/index.ts'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const keysArg = args.indexOf('--keys')
const N = keysArg >= 0 ? Number(args[keysArg + 1]) : quick ? 100_000 : 1_000_000
const ROUNDS = quick ? 1 : 2
const SYNC_N = Math.max(200, Math.floor(N / 100))
const BLOCK = Number(process.env['HONK_KV_BLOCK'] ?? 512)

function key(i: number): Uint8Array {
  const k = new Uint8Array(16)
  const s = i.toString().padStart(16, '0')
  for (let j = 0; j < 16; j++) k[j] = s.charCodeAt(j)
  return k
}
const value = new Uint8Array(100).map((_, i) => (i * 31) & 0xff)
function shuffled(n: number, seed: number): Uint32Array {
  const a = new Uint32Array(n).map((_, i) => i)
  let s = seed
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    const j = s % (i + 1)
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
  return a
}

interface Store {
  put(k: Uint8Array, v: Uint8Array, durable: boolean): Promise<void>
  get(k: Uint8Array): Promise<Uint8Array | undefined>
  close(): Promise<void>
}

async function ours(dir: string): Promise<Store> {
  // Room for the data twice over (two regions) plus headroom; the file is sparse.
  const blocks = Math.ceil((N * 200 * 2.5) / BLOCK) + 1024
  const dev = await FileBlockDevice.open(join(dir, 'kv.img'), { blockSize: BLOCK, blockCount: blocks })
  const kv: KV = await openKV(dev)
  return {
    put: (k, v, durable) => kv.put(k, v, { durable }),
    get: (k) => kv.get(k),
    close: async () => {
      await kv.close()
      await dev.close()
    },
  }
}

async function leveldb(dir: string): Promise<Store> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'ldb'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  return {
    put: (k, v, durable) => db.put(k, v, { sync: durable }),
    get: (k) => db.get(k),
    close: () => db.close(),
  }
}

type Row = { name: string; ops: number; prepare?: (s: Store) => Promise<void>; run: (s: Store) => Promise<void> }
const seqOrder = new Uint32Array(N).map((_, i) => i)
const randOrder = shuffled(N, 42)
const readOrder = shuffled(N, 7)
const keys = Array.from({ length: N }, (_, i) => key(i))

async function fill(s: Store, order: Uint32Array, count: number, durable: boolean): Promise<void> {
  for (let i = 0; i < count; i++) await s.put(keys[order[i]!]!, value, durable)
}

const rows: Row[] = [
  { name: 'fillseq', ops: N, run: (s) => fill(s, seqOrder, N, false) },
  { name: 'fillrandom', ops: N, run: (s) => fill(s, randOrder, N, false) },
  {
    name: 'readrandom',
    ops: N,
    prepare: (s) => fill(s, randOrder, N, false),
    run: async (s) => {
      for (let i = 0; i < N; i++) if ((await s.get(keys[readOrder[i]!]!)) === undefined) throw new Error('missing key')
    },
  },
  { name: 'fillrandom-sync', ops: SYNC_N, run: (s) => fill(s, randOrder, SYNC_N, true) },
  {
    name: 'fillrandom-sync-c64',
    ops: SYNC_N,
    run: async (s) => {
      let next = 0
      const worker = async () => {
        while (next < SYNC_N) await s.put(keys[randOrder[next++]!]!, value, true)
      }
      await Promise.all(Array.from({ length: 64 }, worker))
    },
  },
]

async function measure(make: (dir: string) => Promise<Store>, row: Row): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'honk-kv-bench-'))
  try {
    const s = await make(dir)
    if (row.prepare) await row.prepare(s)
    const t0 = performance.now()
    await row.run(s)
    const secs = (performance.now() - t0) / 1000
    await s.close()
    return row.ops / secs
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const metrics: BenchMetric[] = []
for (const row of rows) {
  let best = { ours: 0, peer: 0 }
  for (let r = 0; r < ROUNDS; r++) {
    best.ours = Math.max(best.ours, await measure(ours, row))
    best.peer = Math.max(best.peer, await measure(leveldb, row))
  }
  metrics.push(higherIsBetter(row.name, 'ops/s', best.ours, best.peer))
  console.log(`${row.name}: ours ${best.ours.toFixed(0)} ops/s, leveldb ${best.peer.toFixed(0)} ops/s`)
}
report('kv', {
  name: '@honk/kv vs LevelDB (classic-level), file-backed, 16-byte keys, 100-byte values',
  peer: 'leveldb',
  setup: { keys: N, syncKeys: SYNC_N, rounds: ROUNDS, quick, node: process.version },
  metrics,
})
