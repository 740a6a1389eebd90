/**
 * Issue #19, honk mode: the kernel scans PCI, drives the NVMe controller (INTx, a queue of depth
 * > 1, PRP lists) and prefers it for the state disk; what it wrote there is the disk a later
 * boot reads over virtio-blk (the same bytes whichever controller carried them).
 */
import { MemoryBlockDevice } from '@honk/block'
import { expect, it } from 'vitest'
import { parseHonkCli } from './honk-cli.js'
import { createHonk } from './honk.js'
import { coreAnchor, factoryImage } from './factory-core.js'
import { ConsoleSession } from './session.js'

async function bootOnce(disk: MemoryBlockDevice, diskBus: 'virtio' | 'nvme', input: string) {
  const session = new ConsoleSession()
  const honk = createHonk({ harts: 1, memory: 64 << 20, firmware: 'builtin', disk, diskBus, consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
  session.start(honk.machine)
  const boot = await session.waitFor('honk> ', 60_000)
  session.send(input)
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  await honk.close()
  return { boot, text: session.text }
}

it('storage = NVMe: the kernel finds the controller on PCIe, and its writes are the disk a virtio-blk boot reads', async () => {
  const disk = new MemoryBlockDevice(16384, 512)
  const first = await bootOnce(disk, 'nvme', 'put notes/nvme written-over-nvme\ncat notes/nvme\nexit\n')
  expect(first.boot).toContain('honk: storage = NVMe, 16384 blocks x 512 bytes')
  expect(first.boot).not.toContain('virtio-blk')
  expect(first.text).toContain('put: wrote notes/nvme')
  const second = await bootOnce(disk, 'virtio', 'cat notes/nvme\nexit\n')
  expect(second.boot).toContain('honk: storage = virtio-blk, 16384 blocks x 512 bytes')
  expect(second.text).toContain('written-over-nvme')
}, 120_000)

it('pnpm start --disk-bus nvme|virtio', () => {
  expect(parseHonkCli(['--disk-bus', 'nvme'], '/tmp')).toMatchObject({ diskBus: 'nvme' })
  expect(parseHonkCli([], '/tmp')).not.toHaveProperty('diskBus')
  expect(() => parseHonkCli(['--disk-bus', 'scsi'], '/tmp')).toThrow(/--disk-bus scsi: virtio or nvme/)
})
