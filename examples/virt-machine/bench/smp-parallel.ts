/**
 * `node --conditions=@honk/source --import tsx bench/smp-parallel.ts [--rounds N] [--loops N]`:
 * issue #18's goal for parallel harts — a CPU-bound program with 2 threads in the Linux guest
 * runs ≥ 1.7× faster at --smp 2 than at --smp 1. The repo's Linux 6.1 boots under OpenSBI
 * fw_jump with the BusyBox initramfs and `rdinit=/bin/sh`; the shell then runs two copies of a
 * loop (`i=$((i+1))` to --loops, all in ash's builtins: no fork, no syscall in the loop) in the
 * background and waits for both. Time is host wall time between two markers the guest prints
 * around the pair (`B-101`, `B-102`), and the process's CPU time (user + system, all threads)
 * over the same span. Configurations, interleaved round by round:
 *   par1  ParallelMachine, 1 hart (1 worker)          — the --smp 1 side of the goal
 *   par2  ParallelMachine, 2 harts (2 workers)        — the --smp 2 side
 *   st1   VirtMachine.run, 1 hart, realtime clock     — the single-thread machine, the peer
 * Prints each run, then per configuration the median (min–max), and the ratio par1 / par2 per
 * round (median and spread). The host is shared: its load average is printed with every run.
 */
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockDevice } from '@honk/block'
import { clearCompiledBlocks } from '@honk/rv64'
import { VirtMachine } from '../src/board.ts'
import { boot } from '../src/boot.ts'
import { GUEST_CACHE, LINUX_IMAGE, OPENSBI_FW_JUMP, patternDisk } from '../src/guest.ts'
import { ParallelMachine } from '../src/parallel.ts'
import { ConsoleSession } from '../src/session.ts'
import { shellReady } from '../src/parallel.system.test-helpers.ts'

const arg = (name: string, d: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : d)
const ROUNDS = arg('--rounds', 3)
const LOOPS = arg('--loops', 20000)
const INITRAMFS_BUSYBOX = join(GUEST_CACHE, 'initramfs-display.cpio')

type Config = 'par1' | 'par2' | 'st1'
interface Run { wall: number; cpu: number; boot: number; load: number }

async function once(config: Config): Promise<Run | undefined> {
  clearCompiledBlocks() // each run compiles its own blocks, as a process's first run does (three-way.ts)
  const harts = config === 'par2' ? 2 : 1
  const parallel = config !== 'st1'
  const session = new ConsoleSession()
  const machine = new VirtMachine({
    harts,
    memory: 256 << 20,
    bios: 'firmware',
    clock: 'realtime',
    consoleOut: session.out,
    bootargs: 'console=ttyS0 rdinit=/bin/sh',
    drives: [new MemoryBlockDevice(16384, 512, patternDisk())],
    ...(parallel ? { sharedMemory: true } : {}),
  })
  boot(machine, { kernel: new Uint8Array(readFileSync(LINUX_IMAGE)), initrd: new Uint8Array(readFileSync(INITRAMFS_BUSYBOX)), firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) })
  const pm = parallel ? new ParallelMachine(machine) : undefined
  const t0 = performance.now()
  session.start(machine, pm ? { run: () => pm.run() } : {})
  try {
    await shellReady(session, 300_000)
  } catch (e) {
    // A stalled boot is reported (with where the harts are) and counted, not hidden.
    const where = pm ? Array.from({ length: harts }, (_, h) => `hart ${h} pc 0x${pm.hartPc(h).toString(16)} instret ${pm.hartInstret(h)}`).join(', ') : ''
    if (pm) pm.stop()
    else machine.stop()
    const exit = await session.exit
    console.log(`${config}: boot stalled: ${(e as Error).message.split('\n')[0]} ${where}; the run ended with ${JSON.stringify(exit)}`)
    return undefined
  }
  const booted = (performance.now() - t0) / 1000
  session.send(`mount -t devtmpfs dev /dev; w() { i=0; while [ $i -lt ${LOOPS} ]; do i=$((i+1)); done; }; echo B-$((100+1)); w & w & wait; echo B-$((100+2))\n`)
  await session.waitFor('B-101', 600_000)
  const c0 = process.cpuUsage()
  const w0 = performance.now()
  await session.waitFor('B-102', 1_800_000)
  const wall = (performance.now() - w0) / 1000
  const c = process.cpuUsage(c0)
  session.send('poweroff -f\n')
  const exit = await session.exit
  if (exit.reason !== 'poweroff') throw new Error(`${config} ended with ${JSON.stringify(exit)}`)
  return { wall, cpu: (c.user + c.system) / 1e6, boot: booted, load: loadavg()[0]! }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (xs: number[], unit = 's') => `${median(xs).toFixed(2)}${unit} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`

const configs: Config[] = process.argv.includes('--no-peer') ? ['par1', 'par2'] : ['par1', 'par2', 'st1']
const runs: Record<Config, Run[]> = { par1: [], par2: [], st1: [] }
const ratios: number[] = []
let stalls = 0
for (let r = 1; r <= ROUNDS; r++) {
  for (const c of configs) {
    let x = await once(c)
    for (let retry = 0; x === undefined && retry < 2; retry++) {
      stalls++
      x = await once(c)
    }
    if (x === undefined) throw new Error(`${c}: three boots in a row stalled`)
    runs[c].push(x)
    console.log(`round ${r} ${c}: 2 × ${LOOPS} loops in ${x.wall.toFixed(2)} s wall, ${x.cpu.toFixed(2)} s CPU (boot ${x.boot.toFixed(1)} s; host load ${x.load.toFixed(2)})`)
  }
  ratios.push(runs.par1.at(-1)!.wall / runs.par2.at(-1)!.wall)
  console.log(`round ${r}: speedup --smp 2 over --smp 1 (parallel) ${ratios.at(-1)!.toFixed(2)}×`)
}
for (const c of configs) console.log(`${c}: wall ${fmt(runs[c].map((x) => x.wall))}, CPU ${fmt(runs[c].map((x) => x.cpu))}`)
console.log(`speedup par1/par2: ${fmt(ratios, '×')} over ${ROUNDS} rounds; boots that stalled and were retried: ${stalls}`)
