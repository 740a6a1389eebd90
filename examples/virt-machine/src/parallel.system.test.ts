/**
 * Parallel harts (issue #18) with Linux 6.1: the repo's guest at --smp 2 with each hart in its
 * own Worker (ParallelMachine, OpenSBI fw_jump: IPIs and timers through the shared CLINT,
 * devices through the mailboxes) passes the checks of linux.system.test.ts's SMP case, and so
 * does it at --smp 2 and 4 under the TypeScript SBI (a Firmware per worker, parallel-sbi.ts); and two
 * CPU-bound processes of the guest run on both harts at once (each worker's hart retires a
 * large share of the instructions during the pair).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MemoryBlockDevice } from '@honk/block'
import { loopbackPair } from '@honk/virtio'
import { describe, expect, it } from 'vitest'
import { VirtMachine } from './board.js'
import { boot } from './boot.js'
import { GUEST_CACHE, INITRAMFS, LINUX_IMAGE, OPENSBI_FW_JUMP, guestBuilt, patternDisk } from './guest.js'
import { ParallelMachine } from './parallel.js'
import { ConsoleSession } from './session.js'
import { shellReady } from './parallel.system.test-helpers.js'

const run = guestBuilt() || process.env['CI'] === 'true'

function bootParallel(harts: number, initrd: string, bootargs: string, bios: 'firmware' | 'builtin' = 'firmware') {
  const session = new ConsoleSession()
  const machine = new VirtMachine({
    harts,
    memory: 256 << 20,
    bios,
    clock: 'realtime',
    sharedMemory: true,
    consoleOut: session.out,
    bootargs,
    drives: [new MemoryBlockDevice(16384, 512, patternDisk())],
    net: loopbackPair()[0],
  })
  boot(machine, { kernel: new Uint8Array(readFileSync(LINUX_IMAGE)), initrd: new Uint8Array(readFileSync(initrd)), ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}) })
  const parallel = new ParallelMachine(machine)
  session.start(machine, { run: () => parallel.run() })
  return { session, machine, parallel }
}

describe.skipIf(!run)('Linux 6.1 on parallel harts (one Worker per hart)', () => {
  it('boots to init at --smp 2 under OpenSBI fw_jump, every check passes, powers off', async () => {
    const { session } = bootParallel(2, INITRAMFS, 'console=ttyS0 earlycon=sbi')
    await session.waitFor('OpenSBI', 60_000)
    await session.waitFor('Linux version 6.1', 300_000)
    await session.waitFor('honk-init: hello from init', 600_000)
    const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 300_000)
    expect(report).toContain('honk-init: harts: 2')
    expect(report).toMatch(/honk-init: vda: sector 1 ok, hash [0-9a-f]{16}/)
    expect(report).toContain('honk-init: hwrng: ok')
    expect(report).toContain('honk-init: eth0: up')
    expect(report).toContain('honk-init: all checks passed')
    expect(session.text).toMatch(/smp: Brought up 1 node, 2 CPUs/)
    expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
    expect(session.text).toContain('reboot: Power down')
  }, 900_000)

  // The TypeScript SBI in every hart's worker: HSM starts the secondary harts from another
  // thread, IPIs and remote fences go through the shared words, the console (earlycon=sbi: legacy
  // putchar) through the mailbox, and SRST from whichever hart runs poweroff ends the machine.
  for (const harts of [2, 4]) {
    it(`boots to init at --smp ${harts} under the TypeScript SBI, every check passes, powers off`, async () => {
      const { session, parallel } = bootParallel(harts, INITRAMFS, 'console=ttyS0 earlycon=sbi', 'builtin')
      await session.waitFor('Linux version 6.1', 300_000)
      await session.waitFor('honk-init: hello from init', 600_000)
      const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 300_000)
      expect(report).toContain(`honk-init: harts: ${harts}`)
      expect(report).toMatch(/honk-init: vda: sector 1 ok, hash [0-9a-f]{16}/)
      expect(report).toContain('honk-init: hwrng: ok')
      expect(report).toContain('honk-init: eth0: up')
      expect(report).toContain('honk-init: all checks passed')
      expect(session.text).toMatch(new RegExp(`smp: Brought up 1 node, ${harts} CPUs`))
      expect(session.text).not.toContain('OpenSBI')
      // Every secondary hart executed in its own worker (started through the shared HSM).
      for (let h = 1; h < harts; h++) expect(parallel.hartInstret(h)).toBeGreaterThan(0n)
      expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
      expect(session.text).toContain('reboot: Power down')
    }, 900_000)
  }

  it('two CPU-bound shell loops in the background run on both harts at once', async () => {
    const { session, parallel } = bootParallel(2, join(GUEST_CACHE, 'initramfs-display.cpio'), 'console=ttyS0 rdinit=/bin/sh')
    await shellReady(session)
    session.send('mount -t devtmpfs dev /dev; w() { i=0; while [ $i -lt 5000 ]; do i=$((i+1)); done; }; echo B-$((100+1)); w & w & wait; echo B-$((100+2))\n')
    await session.waitFor('B-101', 300_000)
    const before = [parallel.hartInstret(0), parallel.hartInstret(1)]
    await session.waitFor('B-102', 600_000)
    const during = [parallel.hartInstret(0) - before[0]!, parallel.hartInstret(1) - before[1]!]
    // Each loop is millions of instructions; the scheduler puts one on each hart, so neither
    // hart retires less than a third of the pair's instructions (on one hart it would be ~0).
    const total = during[0]! + during[1]!
    expect(total).toBeGreaterThan(10_000_000n)
    for (const d of during) expect(d * 3n).toBeGreaterThan(total)
    session.send('poweroff -f\n')
    expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  }, 900_000)
})
