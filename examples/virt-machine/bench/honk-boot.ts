/**
 * `pnpm --filter @honk/virt-machine bench:honk [--quick]`: honk's boot time, from creating the
 * machine to the shell prompt ("honk> "), 4 harts and 512 MiB with a 64 MiB disk and a 9P share
 * (the `pnpm start` defaults), under the TypeScript SBI and under Debian's OpenSBI fw_jump.
 *
 * The peer, in the same run and interleaved: qemu-system-riscv64 booting Debian's OpenSBI and
 * U-Boot (qemu-riscv64_smode) to U-Boot's prompt, also 4 harts and 512 MiB — another system's
 * boot to its shell on the same virt board. ratio = QEMU time / our time (> 1: we are faster).
 */
import { MemoryBlockDevice } from '@honk/block'
import { MemoryFS } from '@honk/vfs'
import { lowerIsBetter, report } from '../../../scripts/bench-report.ts'
import { OPENSBI_FW_JUMP } from '../src/guest.ts'
import { createHonk } from '../src/honk.ts'
import { coreAnchor, factoryImage } from '../src/factory-core.ts'
import { ConsoleSession } from '../src/session.ts'
import { timeQemuUntil } from './qemu.ts'

const UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin'
const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 5

async function honk(firmware: 'builtin' | 'opensbi'): Promise<number> {
  const t0 = performance.now()
  const session = new ConsoleSession()
  const h = createHonk({
    harts: 4,
    memory: 512 << 20,
    firmware,
    disk: new MemoryBlockDevice(131072, 512),
    share: { fs: new MemoryFS({ files: { 'hostfile.txt': 'hello\n' } }), tag: 'host' },
    consoleOut: session.out,
    factory: factoryImage(),
    anchor: coreAnchor(),
  })
  session.start(h.machine)
  await session.waitFor('honk> ', 120_000)
  const secs = (performance.now() - t0) / 1000
  session.send('exit\n')
  await session.exit
  await h.close()
  return secs
}

function qemuUboot(): Promise<number> {
  let stopped = false
  return timeQemuUntil(['-M', 'virt', '-smp', '4', '-m', '512M', '-bios', OPENSBI_FW_JUMP, '-kernel', UBOOT], '=> ', {
    timeoutMs: 120_000,
    // U-Boot counts down before autoboot; a key stops it, as a person at the console would.
    reply: (text) => (!stopped && text.includes('Hit any key to stop autoboot') ? ((stopped = true), ' ') : undefined),
  })
}

const best = { qemu: Infinity, builtin: Infinity, opensbi: Infinity }
for (let r = 0; r < ROUNDS; r++) {
  best.qemu = Math.min(best.qemu, await qemuUboot())
  best.builtin = Math.min(best.builtin, await honk('builtin'))
  best.opensbi = Math.min(best.opensbi, await honk('opensbi'))
  console.error(`round ${r + 1}: QEMU+OpenSBI+U-Boot ${best.qemu.toFixed(2)} s, honk+TS SBI ${best.builtin.toFixed(2)} s, honk+OpenSBI ${best.opensbi.toFixed(2)} s (best so far)`)
}
report('virt-machine-honk', {
  name: 'honk: boot to the shell prompt (4 harts, 512 MiB, 64 MiB disk, 9P share)',
  peer: 'QEMU TCG: OpenSBI + U-Boot to "=> "',
  setup: { rounds: ROUNDS, quick },
  metrics: [
    lowerIsBetter('start → "honk> ", TS SBI', 's', best.builtin, best.qemu),
    lowerIsBetter('start → "honk> ", OpenSBI fw_jump', 's', best.opensbi, best.qemu),
  ],
})
