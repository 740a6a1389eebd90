/**
 * `pnpm --filter @honk/virt-machine bench [--quick]`: time from start to the guest init's first
 * line ("honk-init: hello from init"), our machine beside qemu-system-riscv64 (TCG) booting the
 * same Linux Image, initramfs and command line, 1 hart, 256 MiB, in the same run, interleaved.
 * Rows: under OpenSBI fw_jump on both; and our TypeScript SBI beside QEMU under OpenSBI (the
 * configuration a user picks for speed). ratio = QEMU time / our time (> 1: we boot faster).
 */
import { readFileSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { loopbackPair } from '@honk/virtio'
import { lowerIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { VirtMachine } from '../src/board.ts'
import { boot } from '../src/boot.ts'
import { INITRAMFS, LINUX_IMAGE, OPENSBI_FW_JUMP, guestBuilt, patternDisk } from '../src/guest.ts'
import { ConsoleSession } from '../src/session.ts'
import { timeQemuUntil } from './qemu.ts'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3
const APPEND = 'console=ttyS0 earlycon=sbi'
const MARK = 'honk-init: hello from init'
if (!guestBuilt()) {
  console.error('the guest is not built: bash scripts/guest/build-linux.sh && bash scripts/guest/build-initramfs.sh')
  process.exit(1)
}

async function ours(bios: 'builtin' | 'firmware'): Promise<number> {
  const t0 = performance.now()
  const session = new ConsoleSession()
  const machine = new VirtMachine({ harts: 1, memory: 256 << 20, bios, consoleOut: session.out, bootargs: APPEND, drives: [new MemoryBlockDevice(16384, 512, patternDisk())], net: loopbackPair()[0] })
  boot(machine, {
    kernel: new Uint8Array(readFileSync(LINUX_IMAGE)),
    initrd: new Uint8Array(readFileSync(INITRAMFS)),
    ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}),
  })
  session.start(machine)
  await session.waitFor(MARK, 900_000)
  const secs = (performance.now() - t0) / 1000
  machine.stop()
  await session.exit
  return secs
}

function qemu(): Promise<number> {
  return timeQemuUntil(['-M', 'virt', '-cpu', 'rv64,h=false', '-smp', '1', '-m', '256M', '-bios', OPENSBI_FW_JUMP, '-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', APPEND], MARK)
}

const best = { qemu: Infinity, opensbi: Infinity, builtin: Infinity }
for (let r = 0; r < ROUNDS; r++) {
  best.qemu = Math.min(best.qemu, await qemu())
  best.opensbi = Math.min(best.opensbi, await ours('firmware'))
  best.builtin = Math.min(best.builtin, await ours('builtin'))
  console.error(`round ${r + 1}: qemu ${best.qemu.toFixed(2)} s, ours+OpenSBI ${best.opensbi.toFixed(2)} s, ours+TS SBI ${best.builtin.toFixed(2)} s (best so far)`)
}
const metrics: BenchMetric[] = [
  lowerIsBetter('start → init, both under OpenSBI fw_jump', 's', best.opensbi, best.qemu),
  lowerIsBetter('start → init, ours with the TS SBI vs QEMU with OpenSBI', 's', best.builtin, best.qemu),
]
report('virt-machine', {
  name: 'virt machine: Linux 6.1 boot to init (1 hart, 256 MiB, same Image/initramfs/cmdline)',
  peer: 'qemu-system-riscv64 (TCG)',
  setup: { rounds: ROUNDS, quick, append: APPEND },
  metrics,
})
