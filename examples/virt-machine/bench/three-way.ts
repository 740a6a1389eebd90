/**
 * The boot benchmarks' three-way comparison (bench/run.ts, bench/uboot.ts): QEMU under OpenSBI,
 * ours under OpenSBI and ours under the TypeScript SBI, interleaved round by round (so a change
 * in the shared host's load hits all three alike), then medians and spreads of CPU and wall time.
 */
import { clearCompiledBlocks } from '@honk/rv64'
import type { VirtMachine } from '../src/board.ts'
import type { ConsoleSession } from '../src/session.ts'

/** One boot's cost: CPU seconds (all threads of the process that ran it) and wall seconds. */
export interface Time {
  cpu: number
  wall: number
}

export type Side = 'qemu' | 'opensbi' | 'builtin'

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Runs `rounds` rounds of QEMU, ours + OpenSBI, ours + TS SBI (in that order), printing each round. */
export async function interleave(rounds: number, run: Record<Side, () => Promise<Time>>): Promise<Record<Side, Time[]>> {
  const times: Record<Side, Time[]> = { qemu: [], opensbi: [], builtin: [] }
  const fmt = (t: Time) => `${t.cpu.toFixed(2)} s CPU (${t.wall.toFixed(2)} s wall)`
  for (let r = 0; r < rounds; r++) {
    const q = await run.qemu()
    const o = await run.opensbi()
    const b = await run.builtin()
    times.qemu.push(q)
    times.opensbi.push(o)
    times.builtin.push(b)
    console.error(`round ${r + 1}/${rounds}: qemu ${fmt(q)}, ours+OpenSBI ${fmt(o)}, ours+TS SBI ${fmt(b)}`)
  }
  return times
}

/** Medians and spreads of interleaved times; `summary()` is the line both benchmarks print. */
export function stats(times: Record<Side, Time[]>) {
  const cpu = (k: Side) => median(times[k].map((t) => t.cpu))
  const wall = (k: Side) => median(times[k].map((t) => t.wall))
  const spread = (k: Side) => `${cpu(k).toFixed(2)} (${Math.min(...times[k].map((t) => t.cpu)).toFixed(2)}–${Math.max(...times[k].map((t) => t.cpu)).toFixed(2)})`
  const summary = () =>
    `CPU s, median (min–max) of ${times.qemu.length}: qemu ${spread('qemu')}, ours+OpenSBI ${spread('opensbi')}, ours+TS SBI ${spread('builtin')}; wall medians ${wall('qemu').toFixed(2)} / ${wall('opensbi').toFixed(2)} / ${wall('builtin').toFixed(2)} s`
  return { cpu, wall, spread, summary }
}

/** The whole number ≥ 1 after `name` on the command line, else `fallback`; anything else ends the process with a one-line error (exit 2). */
export function countArg(tool: string, name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < 1) {
    console.error(`${tool}: ${name} wants a whole number ≥ 1, not "${process.argv[i + 1] ?? ''}"`)
    process.exit(2)
  }
  return v
}

/**
 * Blocks compiled by an earlier boot in this process are reused by the next (`@honk/rv64`
 * compiles each distinct block source once per thread). Each boot timed here starts without them,
 * as a process's first boot does, unless `--keep-code` is given (what a host booting guest after
 * guest sees). V8's optimised code for the emulator itself stays: rounds after the first are warm.
 */
const keepCode = process.argv.includes('--keep-code')

/**
 * Times one boot of ours: from `start` (which builds the machine and starts its session) until
 * `until` resolves, in the process's CPU time (V8's compiler threads included) and wall time;
 * then stops the machine.
 */
export async function timeOurs(start: () => { session: ConsoleSession; machine: VirtMachine }, until: (session: ConsoleSession) => Promise<unknown>): Promise<Time> {
  if (!keepCode) clearCompiledBlocks()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const { session, machine } = start()
  await until(session)
  const wall = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  machine.stop()
  await session.exit
  return { cpu: (c.user + c.system) / 1e6, wall }
}
