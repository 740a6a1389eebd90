/**
 * `node --conditions=@honk/source --import tsx bench/honk-stress.ts [--rounds N] [--count N]`:
 * honk's `stress N` (N processes, each yielding 3 000 times) on the running system, with the
 * secondary harts' threads (the default) and without them (every process on the boot hart's
 * event loop), at 1, 2 and 4 harts; interleaved, the best of the rounds after one warm-up
 * `stress` per boot (which starts the threads). ratio = without / with (> 1: the threads help).
 */
import { MemoryFS } from '@honk/vfs'
import { lowerIsBetter, report } from '../../../scripts/bench-report.ts'
import { coreAnchor, factoryImage } from '../src/factory-core.ts'
import { createHonk } from '../src/honk.ts'
import { ConsoleSession } from '../src/session.ts'

function intArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isSafeInteger(v) || v <= 0) {
    console.error(`${name} wants a positive integer (got ${JSON.stringify(process.argv[i + 1] ?? '')})`)
    process.exit(2)
  }
  return v
}
const ROUNDS = intArg('--rounds', 3)
const COUNT = intArg('--count', 256)
const HARTS = [1, 2, 4]

/** Boots honk and times `stress COUNT` after a warm-up one; seconds. */
async function stressSeconds(harts: number, hartThreads: boolean): Promise<number> {
  const session = new ConsoleSession()
  const h = createHonk({ harts, memory: 256 << 20, firmware: 'builtin', hartThreads, share: { fs: new MemoryFS(), tag: 'host' }, consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
  session.start(h.machine)
  await session.waitFor('honk> ', 120_000)
  const done = new RegExp(`stress: ${COUNT} processes ran across [^\\n]*\\n`)
  session.send(`stress ${COUNT}\n`)
  await session.waitFor(done, 120_000)
  const t0 = performance.now()
  session.send(`stress ${COUNT}\n`)
  const line = await session.waitFor(done, 120_000)
  const secs = (performance.now() - t0) / 1000
  if (harts > 1 && hartThreads && !/on its own thread/.test(line)) throw new Error(`no process ran on a hart's thread: ${line}`)
  session.send('exit\n')
  await session.exit
  await h.close()
  return secs
}

const best: Record<string, number> = {}
for (let r = 0; r < ROUNDS; r++) {
  for (const harts of HARTS) {
    for (const threads of [false, true]) {
      const key = `${harts}:${threads}`
      best[key] = Math.min(best[key] ?? Infinity, await stressSeconds(harts, threads))
    }
  }
  console.error(`round ${r + 1}: ` + HARTS.map((n) => `${n} hart${n > 1 ? 's' : ''} ${best[`${n}:false`]!.toFixed(3)} s → ${best[`${n}:true`]!.toFixed(3)} s`).join(', ') + ' (best so far, one event loop → hart threads)')
}
report('virt-machine-honk-stress', {
  name: `honk: stress ${COUNT} (each process yields 3 000 times) with and without the harts' own threads`,
  peer: 'the same kernel with every process on the boot hart\'s event loop',
  setup: { rounds: ROUNDS, count: COUNT },
  metrics: HARTS.map((n) => lowerIsBetter(`stress ${COUNT}, ${n} hart${n > 1 ? 's' : ''}, hart threads`, 's', best[`${n}:true`]!, best[`${n}:false`]!)),
})
