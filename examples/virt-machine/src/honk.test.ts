/**
 * One quick honk boot in the unit tier (the full acceptance set is honk.system.test.ts): the
 * kernel reaches its shell under the TypeScript SBI with 2 harts, a disk and a share, runs a
 * command that crosses every layer, and powers off.
 */
import { MemoryBlockDevice } from '@honk/block'
import { MemoryFS } from '@honk/vfs'
import { expect, it } from 'vitest'
import { createHonk } from './honk.js'
import { coreAnchor, factoryImage } from './factory-core.js'
import { exitCode } from './cli.js'
import { ConsoleSession } from './session.js'

it('boots to the shell, writes through the overlay, reads the share and the core, and powers off', async () => {
  const session = new ConsoleSession()
  const disk = new MemoryBlockDevice(16384, 512)
  const honk = createHonk({
    harts: 2,
    memory: 64 << 20,
    firmware: 'builtin',
    disk,
    share: { fs: new MemoryFS({ files: { 'from-host.txt': 'host bytes\n' } }), tag: 'host' },
    consoleOut: session.out,
    factory: factoryImage(),
    anchor: coreAnchor(),
  })
  session.start(honk.machine)
  const boot = await session.waitFor('honk> ', 30_000)
  expect(boot).toContain('honk: SMP OK - IPIs answered on 2/2 harts [0 1]')
  expect(boot).toContain('honk: probed  uart@0x10000000 irq 10  plic@0xc000000 S-context 1  virtio: blk@0x10001000 irq 1, 9p@0x10002000 irq 2 (6 empty slots)')
  expect(boot).toContain('honk: storage = virtio-blk, 16384 blocks x 512 bytes')
  expect(boot).toContain('honk: host share mounted (9p, tag "host")')
  expect(boot).toContain('honk: core verified - embedded factory v1')
  session.send('put notes/a written\ncat notes/a\ncat from-host.txt\ncat os-release\nexit\n')
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  for (const want of ['put: wrote notes/a', 'written', 'host bytes', 'NAME=honk', 'honk: shutting down']) expect(session.text).toContain(want)
  await honk.close()
})

it('fault: the FATAL trap powers off with a failure status, so the exit code is 1, not 0 (issue 12, case 14)', async () => {
  const session = new ConsoleSession()
  const honk = createHonk({ harts: 1, memory: 64 << 20, firmware: 'builtin', consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
  session.start(honk.machine)
  await session.waitFor('honk> ', 30_000)
  session.send('fault\n')
  const exit = await session.exit
  expect(session.text).toContain('honk: FATAL supervisor trap  (breakpoint on hart 0)')
  expect(exit).toEqual({ reason: 'poweroff', code: 1 })
  expect(exitCode(exit)).toBe(1)
  await honk.close()
})
