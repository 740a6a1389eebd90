/**
 * Acceptance 1 of the machine issue: Debian's U-Boot (qemu-riscv64_smode) boots on our machine
 * under the SBI in TypeScript and under Debian's OpenSBI fw_jump.bin, reaches its prompt, and
 * `version`, `virtio scan`/`virtio info` (seeing our blk device), `reset` and `poweroff` work.
 */
import { existsSync, readFileSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { describe, expect, it } from 'vitest'
import { VirtMachine } from './board.js'
import { boot } from './boot.js'
import { ConsoleSession } from './session.js'

const UBOOT = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin'
const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin'
const present = existsSync(UBOOT) && existsSync(OPENSBI)

function start(bios: 'builtin' | 'firmware', harts: number) {
  const session = new ConsoleSession()
  const disk = new MemoryBlockDevice(16384, 512)
  const machine = new VirtMachine({ harts, memory: 256 << 20, bios, consoleOut: session.out, drives: [disk] })
  boot(machine, { kernel: new Uint8Array(readFileSync(UBOOT)), ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI)) } : {}) })
  session.start(machine)
  return { session, machine }
}

async function toPrompt(session: ConsoleSession) {
  await session.waitFor('Hit any key to stop autoboot', 120_000)
  session.send(' ')
  await session.waitFor('=> ', 60_000)
}

describe.skipIf(!present)('U-Boot on the virt machine', () => {
  for (const [bios, harts] of [['builtin', 1], ['firmware', 1], ['builtin', 2], ['firmware', 4]] as const) {
    it(`reaches the prompt under ${bios === 'builtin' ? 'the TypeScript SBI' : 'OpenSBI fw_jump'} with ${harts} hart(s); version, virtio, poweroff`, async () => {
      const { session } = start(bios, harts)
      if (bios === 'firmware') {
        const banner = await session.waitFor(/Boot HART ID\s+: \d+/, 120_000)
        expect(banner).toContain('OpenSBI')
      }
      const head = await session.waitFor('DRAM:  256 MiB', 120_000)
      expect(head).toContain('U-Boot 2023.01')
      await toPrompt(session)
      session.send('version\r')
      expect(await session.waitFor('=> ')).toMatch(/U-Boot 2023\.01[\s\S]*riscv64-linux-gnu-gcc/)
      session.send('virtio scan\r')
      await session.waitFor('=> ')
      session.send('virtio info\r')
      expect(await session.waitFor('=> ')).toMatch(/Device 0: HONK VirtIO Block Device[\s\S]*Capacity: 8\.0 MB = 0\.0 GB \(16384 x 512\)/)
      session.send('poweroff\r')
      expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
    }, 300_000)
  }

  for (const bios of ['builtin', 'firmware'] as const) {
    it(`reset restarts the machine (${bios})`, async () => {
      const { session } = start(bios, 1)
      await toPrompt(session)
      session.send('reset\r')
      expect(await session.exit).toEqual({ reason: 'reset' })
      expect(session.text).toContain('resetting ...')
      // The CLI reboots on reset; a fresh boot of the same images reaches the prompt again.
      const again = start(bios, 1)
      await toPrompt(again.session)
      again.session.send('poweroff\r')
      expect(await again.session.exit).toEqual({ reason: 'poweroff', code: 0 })
    }, 300_000)
  }
})
