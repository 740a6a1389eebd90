/**
 * Issue #17, honk mode: the kernel's `vm [timer|paging|dbcn|mmio|irq|virtio]` runs the Go honk's
 * demo guests under `@honk/vmm` on its own hart (lent through the HS port a slice at a time) and
 * prints the Go honk's lines (inventory §2.3 `vm`); the shell lives on afterwards.
 */
import { expect, it } from 'vitest'
import { createHonk } from './honk.js'
import { coreAnchor, factoryImage } from './factory-core.js'
import { MemoryFS } from '@honk/vfs'
import { ConsoleSession } from './session.js'

it('vm, vm timer, vm paging, vm dbcn, vm mmio, vm irq, vm virtio: the Go honk\'s transcripts, then the shell still answers', async () => {
  const session = new ConsoleSession()
  const honk = createHonk({ harts: 1, memory: 64 << 20, firmware: 'builtin', consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
  session.start(honk.machine)
  await session.waitFor('honk> ', 30_000)
  const expected: [string, string[]][] = [
    ['vm', ['vm: launching a VS-mode guest (348 bytes) under the H-extension', 'honk: hello from a guest VM', 'vm: guest halted (SBI shutdown)']],
    ['vm timer', ['vm: launching a timer guest (168 bytes): 5 ticks via VS-timer injection', 'vm: guest ticks: *****', 'vm: guest halted (SBI shutdown)']],
    ['vm paging', ["vm: launching a paging guest (496 bytes): enables its own Sv39 (vsatp) over honk's G-stage", 'honk: guest enabled VS-stage paging', 'vm: guest halted (SBI shutdown)']],
    ['vm dbcn', ['vm: launching a dbcn guest (88 bytes): SBI DBCN console_write from guest memory', 'vm: guest console: dbcn', 'vm: guest halted (SBI shutdown)']],
    ['vm mmio', ['vm: launching an mmio guest (52 bytes): trap-and-emulate a device register', 'vm: guest console: Mmio', 'vm: guest halted (SBI shutdown)']],
    ['vm irq', ['vm: launching an irq guest (100 bytes): 3 device interrupts via hvip.VSEIP injection', 'vm: guest IRQs: ###', 'vm: guest halted (SBI shutdown)']],
    ['vm virtio', ['vm: launching a virtio guest (120 bytes): a split-virtqueue device round trip', 'vm: guest console: vq!', 'vm: guest halted (SBI shutdown)']],
    ['vm nonsense', ['vm: launching a VS-mode guest (348 bytes) under the H-extension', 'honk: hello from a guest VM', 'vm: guest halted (SBI shutdown)']],
  ]
  for (const [cmd, lines] of expected) {
    const mark = session.text.length
    session.send(`${cmd}\n`)
    await session.waitFor(lines.at(-1)!, 30_000)
    await session.waitFor('honk> ', 30_000)
    const got = session.text.slice(mark).replace(/\r/g, '')
    expect(got).toContain(lines.map((l) => l + '\n').join(''))
  }
  session.send('echo still here\nexit\n')
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  expect(session.text).toContain('still here')
  await honk.close()
})

it('vm linux with a file that is no Linux Image, or none at all, says so and the shell lives on', async () => {
  const session = new ConsoleSession()
  const share = new MemoryFS({ files: { 'linux/Image': 'not a kernel at all, just text that is long enough to have a header\n'.repeat(2), 'linux/initramfs.cpio': 'x' } })
  const honk = createHonk({ harts: 1, memory: 128 << 20, firmware: 'builtin', share: { fs: share, tag: 'host' }, consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
  session.start(honk.machine)
  await session.waitFor('honk> ', 30_000)
  session.send('vm linux\n')
  await session.waitFor(/vm: no RISC-V Image magic[^\n]*\n/, 30_000)
  await session.waitFor('honk> ', 30_000)
  session.send('vm linux --kernel nowhere/Image\n')
  await session.waitFor(/vm: [^\n]*nowhere[^\n]*\n/, 30_000)
  await session.waitFor('honk> ', 30_000)
  session.send('vm linux --smp 99\nexit\n')
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  expect(session.text).toContain('vm: --smp takes 1..8')
  await honk.close()
})
