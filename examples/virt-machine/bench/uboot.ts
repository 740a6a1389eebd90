/**
 * `node --conditions=@honk/source --import tsx bench/uboot.ts [--rounds N] [--harts N]`: issue
 * #18's U-Boot goal — Debian's U-Boot (qemu-riscv64_smode, 2023.01) from power-on to its `=> `
 * prompt, on our machine under Debian's OpenSBI fw_jump and under our TypeScript SBI, beside
 * qemu-system-riscv64 (TCG) under the same OpenSBI, interleaved round by round. Each side answers
 * "Hit any key to stop autoboot" with a space and is timed to the `=> ` after it. 256 MiB, a
 * 8 MiB virtio-blk disk on ours (as uboot.system.test.ts boots it; QEMU has none: U-Boot does not
 * scan disks before its prompt). Time is CPU time (ours: `process.cpuUsage` around each boot, all
 * threads, V8's compiler threads included; QEMU: its CPU time from /proc up to the mark), median
 * of the rounds with the spread; wall time is printed beside. ratio = QEMU / ours (> 1: ours faster).
 */
import { existsSync, readFileSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { type BenchMetric, lowerIsBetter, report } from '../../../scripts/bench-report.ts'
import { VirtMachine } from '../src/board.ts'
import { boot } from '../src/boot.ts'
import { OPENSBI_FW_JUMP } from '../src/guest.ts'
import { ConsoleSession } from '../src/session.ts'
import { runQemuUntil } from './qemu.ts'
import { countArg, interleave, stats, type Time, timeOurs } from './three-way.ts'

const UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin'
const STOP = 'Hit any key to stop autoboot'
const PROMPT = '=> '
const arg = (name: string, fallback: number) => countArg('bench/uboot.ts', name, fallback)
const ROUNDS = arg('--rounds', 5)
const HARTS = arg('--harts', 1)
for (const [name, value] of [['--rounds', ROUNDS], ['--harts', HARTS]] as const) {
  if (!Number.isInteger(value) || value < 1 || value > 64) {
    console.error(`bench/uboot.ts: ${name} wants a whole number from 1 to 64, got ${process.argv[process.argv.indexOf(name) + 1]}`)
    process.exit(2)
  }
}
if (!existsSync(UBOOT) || !existsSync(OPENSBI_FW_JUMP)) {
  console.error(`bench/uboot.ts: needs Debian's u-boot-qemu and opensbi (${UBOOT}, ${OPENSBI_FW_JUMP}): apt-get install u-boot-qemu opensbi`)
  process.exit(2)
}

function ours(bios: 'builtin' | 'firmware'): Promise<Time> {
  return timeOurs(
    () => {
      const session = new ConsoleSession()
      const machine = new VirtMachine({ harts: HARTS, memory: 256 << 20, bios, consoleOut: session.out, drives: [new MemoryBlockDevice(16384, 512)] })
      boot(machine, { kernel: new Uint8Array(readFileSync(UBOOT)), ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}) })
      session.start(machine)
      return { session, machine }
    },
    async (session) => {
      await session.waitFor(STOP, 300_000)
      session.send(' ')
      await session.waitFor(PROMPT, 60_000)
    },
  )
}

/** QEMU to its prompt: answers the countdown with a space, timed to the `=> ` that follows. */
function runQemuPrompt(): Promise<Time> {
  let answered = false
  let stopAt = -1
  return runQemuUntil(['-M', 'virt', '-cpu', 'rv64,h=false', '-smp', String(HARTS), '-m', '256M', '-bios', OPENSBI_FW_JUMP, '-kernel', UBOOT], `\n${PROMPT}`, {
    reply: (text) => {
      if (!answered && text.includes(STOP)) {
        answered = true
        stopAt = text.length
        return ' '
      }
      return undefined
    },
  }).then((t) => {
    if (stopAt < 0) throw new Error('QEMU printed the prompt before its autoboot countdown')
    return t
  })
}

const times = await interleave(ROUNDS, { qemu: runQemuPrompt, opensbi: () => ours('firmware'), builtin: () => ours('builtin') })
const { cpu, wall, summary } = stats(times)
console.error(summary())
const metrics: BenchMetric[] = [
  lowerIsBetter('power-on → U-Boot `=> `, both under OpenSBI fw_jump (CPU, median)', 's', cpu('opensbi'), cpu('qemu')),
  lowerIsBetter('power-on → U-Boot `=> `, ours with the TS SBI vs QEMU with OpenSBI (CPU, median)', 's', cpu('builtin'), cpu('qemu')),
  lowerIsBetter('power-on → U-Boot `=> `, both under OpenSBI fw_jump (wall, median)', 's', wall('opensbi'), wall('qemu')),
  lowerIsBetter('power-on → U-Boot `=> `, ours with the TS SBI vs QEMU with OpenSBI (wall, median)', 's', wall('builtin'), wall('qemu')),
]
report(HARTS === 1 ? 'virt-machine-uboot' : `virt-machine-uboot-smp${HARTS}`, {
  name: `virt machine: Debian U-Boot 2023.01 (S-mode) to its prompt (${HARTS} hart${HARTS > 1 ? 's' : ''}, 256 MiB), CPU time`,
  peer: 'qemu',
  setup: { rounds: ROUNDS, harts: HARTS },
  metrics,
})
