/**
 * Acceptance 2 of the machine issue: a Linux 6.1 Image built from Debian's linux-source-6.1
 * (scripts/guest/build-linux.sh) with our initramfs boots on the machine with 1 and 4 harts,
 * under the SBI in TypeScript and under OpenSBI fw_jump. Its init reports the hart count from
 * /proc/cpuinfo, reads the host's pattern from sector 1 of /dev/vda, reads /dev/hwrng, brings
 * eth0 up, and powers off through SBI SRST.
 */
import { existsSync, readFileSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { loopbackPair } from '@honk/virtio'
import { describe, expect, it } from 'vitest'
import { VirtMachine } from './board.js'
import { boot } from './boot.js'
import { INITRAMFS, LINUX_IMAGE, OPENSBI_FW_JUMP, guestBuilt, patternDisk } from './guest.js'
import { ConsoleSession } from './session.js'

// In CI the guest is built by .ci/run before the system tests: missing there is a failure.
const run = guestBuilt() || process.env['CI'] === 'true'

export function bootLinux(options: { bios: 'builtin' | 'firmware'; harts: number; bootargs?: string; share?: VirtMachine['config']['share'] }) {
  const session = new ConsoleSession()
  const machine = new VirtMachine({
    harts: options.harts,
    memory: 256 << 20,
    bios: options.bios,
    consoleOut: session.out,
    bootargs: options.bootargs ?? 'console=ttyS0 earlycon=sbi',
    drives: [new MemoryBlockDevice(16384, 512, patternDisk())],
    net: loopbackPair()[0],
    ...(options.share ? { share: options.share } : {}),
  })
  boot(machine, {
    kernel: new Uint8Array(readFileSync(LINUX_IMAGE)),
    initrd: new Uint8Array(readFileSync(INITRAMFS)),
    ...(options.bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}),
  })
  session.start(machine)
  return { session, machine }
}

describe.skipIf(!run)('Linux 6.1 on the virt machine', () => {
  it('the guest was built (scripts/guest/build-linux.sh, build-initramfs.sh)', () => {
    expect(existsSync(LINUX_IMAGE), LINUX_IMAGE).toBe(true)
    expect(existsSync(INITRAMFS), INITRAMFS).toBe(true)
  })

  for (const [bios, harts] of [['builtin', 1], ['builtin', 4], ['firmware', 1], ['firmware', 4]] as const) {
    it(`boots to init and powers off — ${bios === 'builtin' ? 'TypeScript SBI' : 'OpenSBI fw_jump'}, ${harts} hart(s)`, async () => {
      const { session } = bootLinux({ bios, harts })
      if (bios === 'firmware') await session.waitFor('OpenSBI', 60_000)
      await session.waitFor('Linux version 6.1', 600_000)
      await session.waitFor('honk-init: hello from init', 600_000)
      const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 120_000)
      expect(report).toContain(`honk-init: harts: ${harts}`)
      expect(report).toMatch(/honk-init: vda: sector 1 ok, hash [0-9a-f]{16}/)
      expect(report).toContain('honk-init: hwrng: ok')
      expect(report).toContain('honk-init: eth0: up')
      expect(report).toContain('honk-init: all checks passed')
      if (harts > 1) expect(session.text).toMatch(new RegExp(`smp: Brought up 1 node, ${harts} CPUs`))
      expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
      expect(session.text).toContain('reboot: Power down')
    }, 1_200_000)
  }
})
