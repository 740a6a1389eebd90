/**
 * `node --conditions=@honk/source --import tsx bench/block-threshold.ts [thresholds…] [--rounds N]`:
 * Linux 6.1's boot to init (the same Image, initramfs and command line as bench/run.ts; 1 hart,
 * 256 MiB, our TypeScript SBI) at several block-tier compile thresholds, interleaved round by
 * round, beside qemu-system-riscv64 (TCG, OpenSBI) in the same run. Wall time from creating the
 * machine to the init's first line, so the time spent compiling blocks is counted. Prints the
 * median of the rounds per threshold and the CPU time of the process per boot. The board does not
 * expose `HartOptions.blockThreshold`, so the harts' threshold is set after construction.
 * A threshold may name the compiled tier too (`HartOptions.tier`): `region:20000`, `block:20000`.
 */
import { readFileSync } from 'node:fs'
import { cpuUsage } from 'node:process'
import { MemoryBlockDevice } from '@honk/block'
import { loopbackPair } from '@honk/virtio'
import { VirtMachine } from '../src/board.ts'
import { boot } from '../src/boot.ts'
import { INITRAMFS, LINUX_IMAGE, OPENSBI_FW_JUMP, guestBuilt, patternDisk } from '../src/guest.ts'
import { ConsoleSession } from '../src/session.ts'
import { timeQemuUntil } from './qemu.ts'

const APPEND = 'console=ttyS0 earlycon=sbi'
const MARK = 'honk-init: hello from init'
const args = process.argv.slice(2)
const ri = args.indexOf('--rounds')
const ROUNDS = ri >= 0 ? Number(args[ri + 1]) : 3
const thresholds = args.filter((a, i) => !a.startsWith('--') && (ri < 0 || i !== ri + 1))
if (thresholds.length === 0) thresholds.push('20000', '2000', '200', '50')
if (!guestBuilt()) {
  console.error('the guest is not built: bash scripts/guest/build-linux.sh && bash scripts/guest/build-initramfs.sh')
  process.exit(1)
}

async function ours(config: string): Promise<{ wall: number; cpu: number }> {
  const [tier, threshold] = config.includes(':') ? [config.split(':')[0]!, Number(config.split(':')[1])] : [undefined, Number(config)]
  const c0 = cpuUsage()
  const t0 = performance.now()
  const session = new ConsoleSession()
  const machine = new VirtMachine({ harts: 1, memory: 256 << 20, bios: 'builtin', consoleOut: session.out, bootargs: APPEND, drives: [new MemoryBlockDevice(16384, 512, patternDisk())], net: loopbackPair()[0] })
  for (const h of machine.harts) (h as unknown as { blockThreshold: number }).blockThreshold = threshold
  if (tier !== undefined) for (const h of machine.harts) (h as unknown as { tier: string }).tier = tier
  boot(machine, { kernel: new Uint8Array(readFileSync(LINUX_IMAGE)), initrd: new Uint8Array(readFileSync(INITRAMFS)) })
  session.start(machine)
  await session.waitFor(MARK, 900_000)
  const wall = (performance.now() - t0) / 1000
  const c = cpuUsage(c0)
  const st = (machine.harts[0] as unknown as { jitStats?: Record<string, number> }).jitStats
  if (st !== undefined && st.regions! > 0) console.error(`  ${config}: compiled ${JSON.stringify(st)}`)
  machine.stop()
  await session.exit
  return { wall, cpu: (c.user + c.system) / 1e6 }
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!
const qemu: number[] = []
const wall = new Map<string, number[]>(thresholds.map((t) => [t, []]))
const cpu = new Map<string, number[]>(thresholds.map((t) => [t, []]))
for (let r = 0; r < ROUNDS; r++) {
  qemu.push(await timeQemuUntil(['-M', 'virt', '-cpu', 'rv64,h=false', '-smp', '1', '-m', '256M', '-bios', OPENSBI_FW_JUMP, '-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', APPEND], MARK))
  // Alternate the order each round so neither end of the round is favoured by the machine's load.
  for (const t of r % 2 === 0 ? thresholds : [...thresholds].reverse()) {
    const o = await ours(t)
    wall.get(t)!.push(o.wall)
    cpu.get(t)!.push(o.cpu)
  }
  console.error(`round ${r + 1}: qemu ${qemu[r]!.toFixed(2)} s; ${thresholds.map((t) => `${t}: ${wall.get(t)!.at(-1)!.toFixed(2)} s`).join(', ')}`)
}
console.log(`QEMU (OpenSBI) median ${median(qemu).toFixed(2)} s`)
for (const t of thresholds) {
  const w = median(wall.get(t)!)
  console.log(`threshold ${t}: median ${w.toFixed(2)} s wall (${median(cpu.get(t)!).toFixed(2)} s CPU), ${(w / median(qemu)).toFixed(1)}× QEMU; rounds ${wall.get(t)!.map((x) => x.toFixed(2)).join(' ')}`)
}
