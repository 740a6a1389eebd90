/**
 * `node --conditions=@honk/source --import tsx bench/linux-vmm.ts [--quick] [--rounds N] [--no-warmup]`: the
 * repo's Linux 6.1 booted to its init's "all checks passed" and power-off (1 hart / 1 vCPU,
 * virtio-blk, rng, net) as a VS-mode guest under `@honk/vmm` on an H hart, against the peer
 * measured in the same run, interleaved round by round: the same Image and initramfs on the bare
 * machine's hart (TypeScript SBI). Time is this process's CPU time (`process.cpuUsage`, user +
 * system) for each boot, not wall time (the machine is shared). Prints each round, then the
 * median (min–max) of each side and of the per-round ratio guest / bare (the goal:
 * within 1.5×). A warm-up boot of each side comes first and is not counted (`--no-warmup`).
 * The two sides do not retire the same instructions (the guest's SBI is @honk/vmm's, its RAM
 * 192 MiB): the ratio is of boot costs, not of per-instruction speed.
 */
import { bootLinux } from '../src/guest.ts'
import { bootLinuxGuest } from '../src/guest-hart-linux.ts'

const quick = process.argv.includes('--quick')
const ROUNDS = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : quick ? 1 : 5

interface Boot { cpu: number; wall: number; instructions: number }

async function timed(f: () => Promise<number>): Promise<Boot> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const instructions = await f()
  const c = process.cpuUsage(c0)
  return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000, instructions }
}

const bare = () =>
  timed(async () => {
    const { session, machine } = bootLinux({ bios: 'builtin', harts: 1 })
    await session.waitFor('honk-init: all checks passed', 600_000)
    const exit = await session.exit
    if (exit.reason !== 'poweroff') throw new Error(`bare boot ended with ${JSON.stringify(exit)}`)
    return machine.executed
  })

const guest = () =>
  timed(async () => {
    const r = await bootLinuxGuest(1)
    if (!r.out.includes('honk-init: all checks passed')) throw new Error(`the guest did not pass its checks: ${r.out.slice(-300)}`)
    return r.outcome.executed
  })

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const spread = (xs: number[], d: number) => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`

const rows: { bare: Boot; guest: Boot }[] = []
if (!process.argv.includes('--no-warmup')) {
  // One boot of each first, not counted: the first boot in a process also pays for V8 compiling
  // the emulator (about 2.5 s CPU here), which would land on whichever side went first.
  const b = await bare()
  const g = await guest()
  console.log(`warm-up (not counted): bare ${b.cpu.toFixed(2)} s CPU, under @honk/vmm ${g.cpu.toFixed(2)} s CPU`)
}
for (let i = 0; i < ROUNDS; i++) {
  // Alternate which side goes first, so neither always meets a warmer (or busier) process.
  let b: Boot, g: Boot
  if (i % 2 === 0) {
    b = await bare()
    g = await guest()
  } else {
    g = await guest()
    b = await bare()
  }
  rows.push({ bare: b, guest: g })
  console.log(`round ${i + 1}/${ROUNDS}: bare ${b.cpu.toFixed(2)} s CPU (${b.wall.toFixed(2)} s wall, ${b.instructions} instructions), under @honk/vmm ${g.cpu.toFixed(2)} s CPU (${g.wall.toFixed(2)} s wall, ${g.instructions} guest instructions), ratio ${(g.cpu / b.cpu).toFixed(2)}`)
}
console.log(`linux boot to init + poweroff, CPU seconds, median (min–max) of ${ROUNDS} interleaved rounds:`)
console.log(`  bare hart (TS SBI)   ${spread(rows.map((r) => r.bare.cpu), 2)} s`)
console.log(`  under @honk/vmm      ${spread(rows.map((r) => r.guest.cpu), 2)} s`)
console.log(`  ratio guest / bare   ${spread(rows.map((r) => r.guest.cpu / r.bare.cpu), 2)}`)
process.exit(0)
