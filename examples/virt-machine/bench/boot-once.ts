/**
 * `node [--cpu-prof] --conditions=@honk/source --import tsx bench/boot-once.ts [--firmware] [--harts N] [--translations]`:
 * boots the repo's Linux to its init's first line once and prints what it cost: CPU time, wall
 * time, instructions, and how the time splits between the harts (`Hart.run`) and everything
 * around them (the board's run loop, devices, console, host event loop, GC pauses), by the main
 * thread's wall time inside and between slices (with the distribution of those gaps).
 *
 * `--translations` also counts the harts' address translations (calls of the private
 * `translate`: fetches off the fetch and recent pages, data accesses off the data TLB), at a cost
 * in time; the count, not the time, is then the figure.
 *
 * Measure the board's own share with this split, not with a V8 CPU profile alone: the sampler
 * charges a large part of `Hart.run`'s time to whichever function called it (with a wrapper
 * around `Hart.run` that does nothing but call it, the wrapper gets that share as "self" time),
 * which made the board's loop look like 13–19 % of a boot.
 */
import { Hart } from '@honk/rv64'
import { bootLinux } from '../src/guest.ts'

const harts = process.argv.includes('--harts') ? Number(process.argv[process.argv.indexOf('--harts') + 1]) : 1
const bios = process.argv.includes('--firmware') ? 'firmware' : 'builtin'
const cpuNow = () => {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1e6
}
// Everything before the first slice (reading the images, the device tree, the machine): set-up.
let setup = 0
let slices = 0
let wallIn = 0
let lastEnd = -1
const gaps: number[] = []
const run = Hart.prototype.run
// Wrapped before the machine exists (the session starts its loop at once). The main thread's
// wall time inside slices and between them (the board's loop itself, devices, the host's event
// loop turns, GC pauses that fall there; preemption by a busy host too). Not the process's CPU
// time per slice: getrusage costs tens of µs here, and would itself be a tenth of the boot.
Hart.prototype.run = function (this: Hart, budget: number) {
  const w = performance.now()
  if (slices === 0) setup = cpuNow() - c0
  if (lastEnd >= 0) gaps.push(w - lastEnd)
  try {
    return run.call(this, budget)
  } finally {
    lastEnd = performance.now()
    wallIn += lastEnd - w
    slices++
  }
}
let translations = 0
if (process.argv.includes('--translations')) {
  const proto = Hart.prototype as unknown as { translate: (...args: unknown[]) => unknown }
  const translate = proto.translate
  proto.translate = function (this: unknown, ...args: unknown[]) {
    translations++
    return translate.apply(this, args)
  }
}
const c0 = cpuNow()
const t0 = performance.now()
const tierArg = process.argv.includes('--tier') ? (process.argv[process.argv.indexOf('--tier') + 1] as 'block' | 'region' | 'wasm-region') : undefined
const { session, machine } = bootLinux({ bios, harts, ...(tierArg !== undefined ? { tier: tierArg } : {}) })
await session.waitFor('honk-init: hello from init', 900_000)
const cpu = cpuNow() - c0
const wall = (performance.now() - t0) / 1000
gaps.sort((a, b) => a - b)
const gapSum = gaps.reduce((a, b) => a + b, 0) / 1000
const q = (f: number) => (gaps[Math.min(gaps.length - 1, Math.floor(f * gaps.length))]! * 1000).toFixed(1)
console.log(`boot to init (${harts} hart${harts > 1 ? 's' : ''}, ${bios === 'builtin' ? 'TS SBI' : 'OpenSBI fw_jump'}): ${cpu.toFixed(2)} s CPU, ${wall.toFixed(2)} s wall, ${machine.executed} instructions, ${slices} slices`)
console.log(`  set-up before the first slice ${setup.toFixed(3)} s CPU`)
if (translations > 0) console.log(`  address translations (translate calls): ${translations}`)
console.log(`  main thread: in Hart.run ${(wallIn / 1000).toFixed(3)} s, between slices ${gapSum.toFixed(3)} s (${((100 * gapSum) / (wallIn / 1000 + gapSum)).toFixed(1)} %); a gap's median ${q(0.5)} µs, p90 ${q(0.9)} µs, p99 ${q(0.99)} µs, max ${q(1)} µs`)
machine.stop()
await session.exit
process.exit(0)
