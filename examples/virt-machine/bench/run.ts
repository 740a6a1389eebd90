/**
 * `pnpm --filter @honk/virt-machine bench [--quick]`: time from start to the guest init's first
 * line ("honk-init: hello from init"), our machine beside qemu-system-riscv64 (TCG) booting the
 * same Linux Image, initramfs and command line, 1 hart, 256 MiB, in the same run, interleaved.
 * Rows: under OpenSBI fw_jump on both; and our TypeScript SBI beside QEMU under OpenSBI (the
 * configuration a user picks for speed). ratio = QEMU time / our time (> 1: we boot faster).
 * Time is CPU time (ours: `process.cpuUsage` around each boot; QEMU: its CPU time up to the mark,
 * from /proc), the median of the rounds with the spread; wall times are printed beside.
 * `--harts N` boots N harts on both sides (default 1); `--rounds N` (default 5, `--quick` 1).
 */
import { readFileSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { loopbackPair } from '@honk/virtio'
import { lowerIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { VirtMachine } from '../src/board.ts'
import { boot } from '../src/boot.ts'
import { INITRAMFS, LINUX_IMAGE, OPENSBI_FW_JUMP, guestBuilt, patternDisk } from '../src/guest.ts'
import { ConsoleSession } from '../src/session.ts'
import { runQemuUntil } from './qemu.ts'
import { countArg, interleave, stats, type Time, timeOurs } from './three-way.ts'

const quick = process.argv.includes('--quick')
const arg = (name: string, fallback: number) => countArg('bench/run.ts', name, fallback)
const ROUNDS = arg('--rounds', quick ? 1 : 5)
const HARTS = arg('--harts', 1)
const APPEND = 'console=ttyS0 earlycon=sbi'
const MARK = 'honk-init: hello from init'
if (!guestBuilt()) {
  console.error('the guest is not built: bash scripts/guest/build-linux.sh && bash scripts/guest/build-initramfs.sh')
  process.exit(1)
}

function ours(bios: 'builtin' | 'firmware'): Promise<Time> {
  return timeOurs(
    () => {
      const session = new ConsoleSession()
      const machine = new VirtMachine({ harts: HARTS, memory: 256 << 20, bios, consoleOut: session.out, bootargs: APPEND, drives: [new MemoryBlockDevice(16384, 512, patternDisk())], net: loopbackPair()[0] })
      boot(machine, {
        kernel: new Uint8Array(readFileSync(LINUX_IMAGE)),
        initrd: new Uint8Array(readFileSync(INITRAMFS)),
        ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}),
      })
      session.start(machine)
      return { session, machine }
    },
    (session) => session.waitFor(MARK, 900_000),
  )
}

function qemu(): Promise<Time> {
  return runQemuUntil(['-M', 'virt', '-cpu', 'rv64,h=false', '-smp', String(HARTS), '-m', '256M', '-bios', OPENSBI_FW_JUMP, '-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', APPEND], MARK)
}

const times = await interleave(ROUNDS, { qemu, opensbi: () => ours('firmware'), builtin: () => ours('builtin') })
const { cpu, spread, summary } = stats(times)
console.error(summary())
const metrics: BenchMetric[] = [
  lowerIsBetter('start → init, both under OpenSBI fw_jump (CPU, median)', 's', cpu('opensbi'), cpu('qemu')),
  lowerIsBetter('start → init, ours with the TS SBI vs QEMU with OpenSBI (CPU, median)', 's', cpu('builtin'), cpu('qemu')),
]
report(HARTS === 1 ? 'virt-machine' : `virt-machine-smp${HARTS}`, {
  name: `virt machine: Linux 6.1 boot to init (${HARTS} hart${HARTS > 1 ? 's' : ''}, 256 MiB, same Image/initramfs/cmdline), CPU time`,
  peer: 'qemu-system-riscv64 (TCG)',
  setup: { rounds: ROUNDS, harts: HARTS, quick, append: APPEND, qemuSpread: spread('qemu'), opensbiSpread: spread('opensbi'), builtinSpread: spread('builtin') },
  metrics,
})
