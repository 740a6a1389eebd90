/**
 * Acceptance 2 of the machine issue: a Linux 6.1 Image built from Debian's linux-source-6.1
 * (scripts/guest/build-linux.sh) with our initramfs boots on the machine with 1 and 4 harts,
 * under the SBI in TypeScript and under OpenSBI fw_jump. Its init reports the hart count from
 * /proc/cpuinfo, reads the host's pattern from sector 1 of /dev/vda, reads /dev/hwrng, brings
 * eth0 up, and powers off through SBI SRST.
 */
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { INITRAMFS, LINUX_IMAGE, bootLinux, guestBuilt } from './guest.js'

// In CI the guest is built by .ci/run before the system tests: missing there is a failure.
const run = guestBuilt() || process.env['CI'] === 'true'

describe.skipIf(!run)('Linux 6.1 on the virt machine', () => {
  it('the guest was built (scripts/guest/build-linux.sh, build-initramfs.sh)', () => {
    expect(existsSync(LINUX_IMAGE), LINUX_IMAGE).toBe(true)
    expect(existsSync(INITRAMFS), INITRAMFS).toBe(true)
  })

  for (const [bios, harts] of [['builtin', 1], ['builtin', 4], ['firmware', 1], ['firmware', 4]] as const) {
    it(`boots to init and powers off — ${bios === 'builtin' ? 'TypeScript SBI' : 'OpenSBI fw_jump'}, ${harts} hart(s)`, async () => {
      const { session } = bootLinux({ bios, harts })
      if (bios === 'firmware') await session.waitFor('OpenSBI', 60_000)
      await session.waitFor('Linux version 6.1', 300_000)
      await session.waitFor('honk-init: hello from init', 300_000)
      const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 120_000)
      expect(report).toContain(`honk-init: harts: ${harts}`)
      expect(report).toMatch(/honk-init: vda: sector 1 ok, hash [0-9a-f]{16}/)
      expect(report).toContain('honk-init: hwrng: ok')
      expect(report).toContain('honk-init: eth0: up')
      expect(report).toContain('honk-init: all checks passed')
      if (harts > 1) expect(session.text).toMatch(new RegExp(`smp: Brought up 1 node, ${harts} CPUs`))
      expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
      expect(session.text).toContain('reboot: Power down')
    }, 900_000)
  }

  it('runs with 5-level paging (Sv57) when the machine offers it: satp mode 10, every check passes', async () => {
    const { session, machine } = bootLinux({ bios: 'builtin', harts: 1, mmu: 'sv57' })
    const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 600_000)
    expect(report).toContain('honk-init: all checks passed')
    // Linux probes satp from Sv57 down (arch/riscv/mm/init.c set_satp_mode) and keeps the first that sticks.
    expect(machine.harts[0]!.getCsr(0x180) >> 60n).toBe(10n)
    expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  }, 900_000)

  it('uses Sv48 on the default machine (satp mode 9)', async () => {
    const { session, machine } = bootLinux({ bios: 'builtin', harts: 1 })
    await session.waitFor('honk-init: all checks passed', 300_000)
    expect(machine.harts[0]!.getCsr(0x180) >> 60n).toBe(9n)
    expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  }, 900_000)
})
