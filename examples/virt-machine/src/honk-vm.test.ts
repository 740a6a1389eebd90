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
import { asm } from '@honk/vmm'

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
    ['vm default', ['vm: launching a VS-mode guest (348 bytes) under the H-extension', 'honk: hello from a guest VM', 'vm: guest halted (SBI shutdown)']],
    // A typo is refused (the Go honk ran the default demo): nothing is launched.
    ['vm timr', ['vm: unknown guest "timr" (timer, paging, dbcn, mmio, irq, virtio, linux; vm list, vm attach <id>, vm stop <id>)']],
  ]
  for (const [cmd, lines] of expected) {
    const mark = session.text.length
    session.send(`${cmd}\n`)
    await session.waitFor(lines.at(-1)!, 30_000)
    await session.waitFor('honk> ', 30_000)
    const got = session.text.slice(mark).replace(/\r/g, '')
    expect(got).toContain(lines.map((l) => l + '\n').join(''))
    if (cmd === 'vm timr') expect(got).not.toContain('launching')
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

/**
 * A tiny guest in the shape of a Linux `Image` (RISC-V header, "RSC\x05" magic, text_offset
 * 2 MiB): a jump over the header, then `code`. Enough for `vm linux` to boot it as it boots Linux.
 */
function fakeImage(code: readonly number[]): Uint8Array {
  const img = new Uint8Array(64 + 4 * code.length)
  const v = new DataView(img.buffer)
  v.setUint32(0, asm.jal(0, 64), true)
  v.setBigUint64(8, 0x20_0000n, true)
  v.setBigUint64(16, BigInt(img.length), true)
  v.setUint32(56, 0x0543_5352, true)
  code.forEach((w, i) => v.setUint32(64 + 4 * i, w, true))
  return img
}
const R = asm.R
/** Spins forever. */
const SPIN = fakeImage([asm.J_SELF])
/** Stores to guest-physical 0 (no RAM, no device there): a guest fault. */
const CRASH = fakeImage([asm.sd(R.zero, R.zero, 0), asm.J_SELF])
/** Polls SBI console_getchar and writes each byte back upper-cased (andi a0, a0, 0xdf) with console_putchar. */
const ANDI_A0_DF = (0xdf << 20) | (R.a0 << 15) | (7 << 12) | (R.a0 << 7) | 0x13
const ECHO = fakeImage([asm.li(R.a7, 2), asm.ECALL, asm.li(R.t0, -1), asm.beq(R.a0, R.t0, -12), ANDI_A0_DF, asm.li(R.a7, 1), asm.ECALL, asm.jal(0, -28)])
const AUIPC = (rd: number) => (rd << 7) | 0x17
const LUI = (rd: number, imm20: number) => (imm20 << 12) | (rd << 7) | 0x37
/**
 * Two vCPUs that both spin: vCPU 0 starts vCPU 1 through SBI HSM hart_start (EID 0x48534D, FID 0;
 * a0 = 1, a1 = the last word, a2 = 0), then spins; vCPU 1 spins from the last word.
 */
const SMP_SPIN = fakeImage([AUIPC(R.a1), asm.addi(R.a1, R.a1, 36), asm.li(R.a0, 1), asm.li(R.a2, 0), LUI(R.a7, 0x485), asm.addi(R.a7, R.a7, 0x34d), asm.li(R.a6, 0), asm.ECALL, asm.J_SELF, asm.J_SELF])
/** The same start, but vCPU 1 waits in WFI forever (it enabled no interrupt): an idle vCPU. */
const SMP_IDLE = fakeImage([AUIPC(R.a1), asm.addi(R.a1, R.a1, 36), asm.li(R.a0, 1), asm.li(R.a2, 0), LUI(R.a7, 0x485), asm.addi(R.a7, R.a7, 0x34d), asm.li(R.a6, 0), asm.ECALL, asm.J_SELF, asm.WFI, asm.jal(0, -4)])

async function honkWithGuests(harts = 1) {
  const session = new ConsoleSession()
  const share = new MemoryFS({ files: { 'linux/Image': SPIN, 'linux/initramfs.cpio': 'x', 'crash/Image': CRASH, 'echo/Image': ECHO, 'smp/Image': SMP_SPIN, 'idle/Image': SMP_IDLE } })
  const honk = createHonk({ harts, memory: 128 << 20, firmware: 'builtin', share: { fs: share, tag: 'host' }, consoleOut: session.out, factory: factoryImage(), anchor: coreAnchor() })
  session.start(honk.machine)
  await session.waitFor('honk> ', 30_000)
  const launch = async (cmd: string): Promise<number> => {
    session.send(`${cmd}\n`)
    const m = /vm: VM (\d+) /.exec(await session.waitFor(/vm: VM \d+ [^\n]*\n/, 20_000))
    return Number(m![1])
  }
  return { session, honk, launch }
}

it('vm linux -d runs guests in the background with ids (vm list, ps), vm stop ends one and gives the hart back, a crashing guest ends alone', async () => {
  const { session, honk, launch } = await honkWithGuests()
  const a = await launch('vm linux -d --mem 32')
  const b = await launch('vm linux -d --mem 32 --smp 2')
  expect(b).not.toBe(a)
  await session.waitFor('honk> ')
  session.send('vm list\n')
  const listed = await session.waitFor(/\(\d+ VMs[^\n]*\n/)
  expect(listed).toMatch(new RegExp(`\\n${a}\\s+linux\\s+1\\s+32MiB\\s+running\\s`))
  expect(listed).toMatch(new RegExp(`\\n${b}\\s+linux\\s+2\\s+32MiB\\s+running\\s`))
  expect(listed).toContain('(2 VMs; guest RAM 72 of')
  session.send('ps\n')
  expect(await session.waitFor(/\(\d+ processes\)/)).toMatch(new RegExp(`\\n${a}\\s+vm-linux\\s+running`))
  session.send(`vm stop ${a}\n`)
  await session.waitFor(`vm: VM ${a} stopped`)
  session.send(`kill ${b}\n`) // the process table's kill ends a VM the same way
  await session.waitFor(`killed PID ${b}`)
  session.send('vm timer\n') // the hart is the kernel's again, and the guests' RAM free
  await session.waitFor('vm: guest ticks: *****')
  await session.waitFor('honk> ')
  session.send('vm list\n')
  const after = await session.waitFor(/\(\d+ VMs[^\n]*\n/)
  expect(after).toMatch(new RegExp(`\\n${a}\\s+linux\\s+1\\s+32MiB\\s+stopped\\s`))
  expect(after).toMatch(new RegExp(`\\n${b}\\s+linux\\s+2\\s+32MiB\\s+stopped\\s`))
  expect(after).toContain('guest RAM 0 of')
  const c = await launch('vm linux -d --mem 32 --kernel crash/Image')
  await session.waitFor(new RegExp(`vm: VM ${c}: guest fault`), 30_000)
  session.send(`vm list\nvm stop ${c}\necho honk still here\n`)
  expect(await session.waitFor(/\(\d+ VMs[^\n]*\n/)).toMatch(new RegExp(`\\n${c}\\s+linux\\s+1\\s+32MiB\\s+fault\\s`))
  await session.waitFor(`vm: VM ${c} is not running (fault)`)
  await session.waitFor('honk still here')
  session.send('exit\n')
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  await honk.close()
}, 120_000)

it("vm linux attaches the guest's console: typed bytes reach the guest (SBI getchar), Ctrl-] detaches, vm attach returns", async () => {
  const { session, honk, launch } = await honkWithGuests()
  const id = await launch('vm linux --mem 32 --kernel echo/Image')
  expect(session.text).toContain(`vm: VM ${id} attached (Ctrl-] detaches)`)
  session.send('helloguest\r')
  await session.waitFor('HELLOGUEST') // the guest's answer: the shell's editor never saw these bytes
  session.send('\x1d')
  await session.waitFor(`vm: detached from VM ${id} (still running: vm attach ${id}, vm stop ${id})`)
  await session.waitFor('honk> ')
  session.send('echo shell again\n')
  await session.waitFor('shell again')
  expect(session.text).not.toContain('SHELL AGAIN') // detached: input is the shell's
  session.send(`vm attach ${id}\n`)
  await session.waitFor(`vm attach ${id}`)
  session.send('more')
  await session.waitFor('MORE')
  session.send('\x1d')
  await session.waitFor(`vm: detached from VM ${id}`)
  session.send(`vm stop ${id}\nexit\n`)
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  expect(session.text).toContain(`vm: VM ${id} stopped`)
  await honk.close()
}, 120_000)

it("vCPUs spread over honk's harts: a 2-vCPU guest runs one vCPU on each of 2 harts (each hart's own retired-instruction count shows it ran guest code), two 1-vCPU VMs likewise; vm list, harts and stress say where", async () => {
  const { session, honk, launch } = await honkWithGuests(2)
  const harts = honk.machine.harts
  const retired = () => harts.map((h) => h.instret)
  const before = retired()
  const a = await launch('vm linux -d --mem 32 --smp 2 --kernel smp/Image')
  await new Promise((r) => setTimeout(r, 1500))
  const after = retired()
  // Hart 1 only idles in wfi for the kernel: every instruction it retired now is a guest's.
  expect(after[1]! - before[1]!).toBeGreaterThan(1_000_000n)
  expect(after[0]! - before[0]!).toBeGreaterThan(1_000_000n)
  await session.waitFor('honk> ')
  session.send('vm list\n')
  expect(await session.waitFor(/\(\d+ VMs[^\n]*\n/)).toMatch(new RegExp(`\\n${a}\\s+linux\\s+2\\s+32MiB\\s+running\\s+\\S+\\s+0:0 1:1\\s*\\n`))
  session.send('harts\n')
  await session.waitFor(`harts: hart 1 runs VM ${a} vCPU 1  (load 1)`)
  session.send('stress 2\n')
  await session.waitFor(/stress: 2 processes ran across 2 harts \(hart 0: 1 on the kernel's event loop; hart 1: 1 on its own thread\), reaped \d+; guest vCPUs run on harts 0 1 \(vm list\)/)
  session.send(`vm stop ${a}\n`)
  await session.waitFor(`vm: VM ${a} stopped`)
  // Two VMs of one vCPU each: the second goes to the hart the first left free.
  const b = await launch('vm linux -d --mem 32 --kernel linux/Image')
  const c = await launch('vm linux -d --mem 32 --kernel linux/Image')
  await new Promise((r) => setTimeout(r, 1000))
  const spread = retired()
  await new Promise((r) => setTimeout(r, 1000))
  expect(retired()[1]! - spread[1]!).toBeGreaterThan(1_000_000n)
  session.send('vm list\n')
  const listed = await session.waitFor(/\(\d+ VMs[^\n]*\n/)
  const hartOf = (id: number) => new RegExp(`\\n${id}\\s+linux[^\\n]*\\s0:(\\d)\\s*\\n`).exec(listed)?.[1]
  expect(new Set([hartOf(b), hartOf(c)])).toEqual(new Set(['0', '1']))
  session.send(`vm stop ${b}\nvm stop ${c}\nharts\n`)
  await session.waitFor('harts: no guest vCPUs placed')
  session.send('exit\n')
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  await honk.close()
}, 120_000)

it('an idle vCPU costs its hart nothing: a vCPU waiting in WFI with nothing to wake it gets no slices (its hart retires no instruction), vm list marks it idle', async () => {
  const { session, honk, launch } = await honkWithGuests(2)
  const hart1 = honk.machine.harts[1]!
  const a = await launch('vm linux -d --mem 32 --smp 2 --kernel idle/Image')
  await new Promise((r) => setTimeout(r, 1000)) // vCPU 1 has started and gone idle
  const before = hart1.instret
  await new Promise((r) => setTimeout(r, 1000))
  expect(hart1.instret - before).toBe(0n) // hart 1 holds only vCPU 1: nothing ran there
  session.send('vm list\n')
  expect(await session.waitFor(/\(\d+ VMs[^\n]*\n/)).toMatch(new RegExp(`\\n${a}\\s+linux\\s+2\\s+32MiB\\s+running\\s+\\S+\\s+0:0 1:1\\(idle\\)\\s*\\n`))
  session.send(`vm stop ${a}\nexit\n`)
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  await honk.close()
}, 120_000)
