/**
 * `node --conditions=@honk/source --import tsx bench/honk-vm-smp.ts [--rounds N] [--smp N]`: honk mode's
 * `vm linux --smp 2` (the repo's Linux 6.1 and initramfs, basic checks, virtio-blk over a file of
 * honk's FS) from the command to "vm: guest halted", on a honk of 1 hart (both vCPUs take turns
 * on it) against a honk of 2 harts (the kernel places one vCPU on each), interleaved round by
 * round. Time is this process's CPU time (`process.cpuUsage`) from the command to the halt line,
 * and wall time; harts are emulated in one thread, so this measures what placement and skipped
 * idle slices save, not parallelism. Prints each round and the median of each side.
 */
import { readFileSync } from 'node:fs'
import { MemoryFS } from '@honk/vfs'
import { coreAnchor, factoryImage } from '../src/factory-core.ts'
import { INITRAMFS, LINUX_IMAGE, patternDisk } from '../src/guest.ts'
import { createHonk } from '../src/honk.ts'
import { ConsoleSession } from '../src/session.ts'

const arg = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback)
const ROUNDS = arg('--rounds', 3)
const SMP = arg('--smp', 2)
const image = new Uint8Array(readFileSync(LINUX_IMAGE))
const initrd = new Uint8Array(readFileSync(INITRAMFS))

async function boot(harts: number): Promise<{ cpu: number; wall: number }> {
  const session = new ConsoleSession()
  const share = new MemoryFS({ files: { 'linux/Image': image, 'linux/initramfs.cpio': initrd, 'linux/disk.img': patternDisk() } })
  const honk = createHonk({ harts, memory: 256 << 20, firmware: 'builtin', share: { fs: share, tag: 'host' }, consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
  session.start(honk.machine)
  await session.waitFor('honk> ', 120_000)
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  session.send(`vm linux --smp ${SMP} --mem 128 --disk linux/disk.img\n`)
  const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 900_000)
  if (!report.includes('all checks passed')) throw new Error(`the guest's checks failed on ${harts} hart(s)`)
  await session.waitFor('vm: guest halted', 120_000)
  const c = process.cpuUsage(c0)
  const r = { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000 }
  session.send('exit\n')
  await session.exit
  await honk.close()
  return r
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rows: Record<number, { cpu: number; wall: number }[]> = { 1: [], 2: [] }
for (let round = 1; round <= ROUNDS; round++)
  for (const harts of round % 2 ? [1, 2] : [2, 1]) {
    const r = await boot(harts)
    rows[harts]!.push(r)
    console.log(`round ${round}  honk harts=${harts}  vm linux --smp ${SMP}: cpu ${r.cpu.toFixed(1)} s  wall ${r.wall.toFixed(1)} s`)
  }
for (const harts of [1, 2]) {
  const xs = rows[harts]!
  console.log(`median  honk harts=${harts}: cpu ${median(xs.map((x) => x.cpu)).toFixed(1)} s (${Math.min(...xs.map((x) => x.cpu)).toFixed(1)}–${Math.max(...xs.map((x) => x.cpu)).toFixed(1)})  wall ${median(xs.map((x) => x.wall)).toFixed(1)} s`)
}
process.exit(0)
