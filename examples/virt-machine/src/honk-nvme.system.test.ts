/**
 * Issue #19, honk mode in the system tier: under Debian's OpenSBI with 4 harts the kernel finds
 * the NVMe controller on PCIe (INTx through the PLIC), and the kernel's blk self-test on it
 * leaves every block of the disk as it was.
 */
import { existsSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { describe, expect, it } from 'vitest'
import { coreAnchor, factoryImage } from './factory-core.js'
import { OPENSBI_FW_JUMP } from './guest.js'
import { createHonk } from './honk.js'
import { ConsoleSession } from './session.js'

describe.skipIf(!existsSync(OPENSBI_FW_JUMP))('honk on NVMe', () => {
  it('OpenSBI, 4 harts: storage = NVMe, and the blk self-test on it changes no block', async () => {
    const d = new MemoryBlockDevice(32768, 512)
    const console = new ConsoleSession()
    const honk = createHonk({ harts: 4, memory: 256 << 20, firmware: 'opensbi', disk: d, diskBus: 'nvme', consoleOut: console.out, factory: factoryImage(), anchor: coreAnchor() })
    console.start(honk.machine)
    const boot = await console.waitFor('honk> ', 120_000)
    expect(boot).toContain('OpenSBI')
    expect(boot).toContain('honk: SMP OK - IPIs answered on 4/4 harts [0 1 2 3]')
    expect(boot).toContain('honk: storage = NVMe, 32768 blocks x 512 bytes')
    console.send('put live data\n')
    await console.waitFor('honk> ')
    const before = new Uint8Array(d.blockCount * 512)
    await d.read(0, before)
    console.send('blk\n')
    expect(await console.waitFor('honk> ')).toContain('blk: read/write self-test OK (block 32767)')
    const after = new Uint8Array(d.blockCount * 512)
    await d.read(0, after)
    expect(Buffer.compare(before, after)).toBe(0)
    console.send('exit\n')
    expect(await console.exit).toEqual({ reason: 'poweroff', code: 0 })
    await honk.close()
  }, 300_000)
})
