/**
 * Issue #17, `@honk/vmm` on a real hart: the Go honk's seven demo guests (inventory §1.8, §2.3 `vm`)
 * run as VS-mode guests on an `@honk/rv64` hart with the hypervisor extension, through the
 * machine's `GuestHart` adapter, and print the Go honk's exact lines.
 */
import { CSR, DBCN_FID, EID } from '@honk/riscv'
import { createSystem } from '@honk/rv64'
import { VirtioMmio, VirtioRng } from '@honk/virtio'
import { DEMOS, GUEST_BASE, VM, asm, demoVm, outcomeMessage, runDemo, runVm, type DemoName } from '@honk/vmm'
import { describe, expect, it } from 'vitest'
import { RvGuestHart, handOffToHypervisor } from './guest-hart.js'

const RAM = 0x8000_0000

/** A one-hart H machine: host memory at +4 MiB for the VM, the trampoline at the start of RAM. */
function machine() {
  const sys = createSystem({ harts: 1, ramSize: 16 << 20, hypervisor: true })
  const hart = sys.harts[0]!
  handOffToHypervisor(hart)
  const guestHart = new RvGuestHart(hart, sys.bus, RAM)
  const host = { base: RAM + (4 << 20), bytes: sys.bus.ram.subarray(4 << 20, 12 << 20) }
  const idle = (until: bigint | undefined): boolean => {
    if (until === undefined) return false
    const now = sys.clint.mtime()
    if (until > now) sys.clint.advance(until - now)
    return true
  }
  return { sys, guestHart, host, idle }
}

function transcript(name: DemoName): { text: string; outcome: string | undefined } {
  const m = machine()
  let text = ''
  const o = runDemo(name, m.host, m.guestHart, (s) => (text += s), { idle: m.idle })
  return { text, outcome: o?.reason }
}

describe('the seven demo guests under @honk/vmm on an rv64 H hart', () => {
  const cases: [DemoName, string][] = [
    ['default', 'vm: launching a VS-mode guest (348 bytes) under the H-extension\nhonk: hello from a guest VM\nvm: guest halted (SBI shutdown)\n'],
    ['timer', 'vm: launching a timer guest (168 bytes): 5 ticks via VS-timer injection\nvm: guest ticks: *****\nvm: guest halted (SBI shutdown)\n'],
    ['paging', "vm: launching a paging guest (496 bytes): enables its own Sv39 (vsatp) over honk's G-stage\nhonk: guest enabled VS-stage paging\nvm: guest halted (SBI shutdown)\n"],
    ['dbcn', 'vm: launching a dbcn guest (88 bytes): SBI DBCN console_write from guest memory\nvm: guest console: dbcn\nvm: guest halted (SBI shutdown)\n'],
    ['mmio', 'vm: launching an mmio guest (52 bytes): trap-and-emulate a device register\nvm: guest console: Mmio\nvm: guest halted (SBI shutdown)\n'],
    ['irq', 'vm: launching an irq guest (100 bytes): 3 device interrupts via hvip.VSEIP injection\nvm: guest IRQs: ###\nvm: guest halted (SBI shutdown)\n'],
    ['virtio', 'vm: launching a virtio guest (120 bytes): a split-virtqueue device round trip\nvm: guest console: vq!\nvm: guest halted (SBI shutdown)\n'],
  ]
  for (const [name, expected] of cases)
    it(`vm ${name}: the Go honk's lines`, () => {
      const { text, outcome } = transcript(name)
      expect(text).toBe(expected)
      expect(outcome).toBe('shutdown')
    })

  it('covers every demo the table lists', () => {
    expect(cases.map(([n]) => n).sort()).toEqual(Object.keys(DEMOS).sort())
  })
})

const { R, li, slli, or, csrw, lui, sb, sw, sd, addi, lbu, beq, loadImm32, loadAddr, words, ECALL, J_SELF, SFENCE_VMA } = asm
const shutdown = [li(R.a7, EID.LEGACY_SHUTDOWN), ECALL, J_SELF]

describe('MMIO trap-and-emulate on a real hart: what the Go honk could not', () => {
  it('compressed c.sw/c.lw to a device mapped through the guest\'s own Sv39 (paging on): prints "CM"', () => {
    const m = machine()
    const code = words([
      li(R.t1, 1), slli(R.t1, R.t1, 63), ...loadImm32(R.t0, (GUEST_BASE + 0x4000) / 4096), or(R.t0, R.t0, R.t1), csrw(CSR.satp, R.t0), SFENCE_VMA,
      lui(R.a1, 0x50000), // VA 0x5000_0000 → GPA 0x1000_0000 through the guest's gigapage
      li(R.a0, 'C'.charCodeAt(0)),
      0x4190_c588, // c.sw a0, 8(a1) (Out); c.lw a2, 0(a1) (Magic)
      sb(R.a2, R.a1, 8),
      ...shutdown,
    ])
    let out = ''
    const { vm } = demoVm(code, m.host, { write: (b) => (out += String.fromCharCode(b)) })
    // The guest's VS root at GPA 0x8000_4000: two 1 GiB leaves, VA 0x4000_0000 → GPA 0 and VA 0x8000_0000 → itself.
    vm.ram.store(BigInt(GUEST_BASE + 0x4000 + 8), 8, (0n << 10n) | 0xcfn)
    vm.ram.store(BigInt(GUEST_BASE + 0x4000 + 16), 8, ((BigInt(GUEST_BASE) >> 12n) << 10n) | 0xcfn)
    const o = runVm(vm, [m.guestHart], { idle: m.idle })
    expect(outcomeMessage(o)).toBe('guest halted (SBI shutdown)')
    expect(out).toBe('CM')
    expect(vm.vcpus[0]!.exits.mmio).toBe(3)
  })
})

describe('@honk/virtio device models plug into a VM unchanged', () => {
  it('virtio-rng over virtio-mmio: the guest drives the real model (status, features, queue setup, notify), the model DMAs into guest RAM by GPA, the guest prints the bytes with DBCN', () => {
    const m = machine()
    const vm = new VM({ host: m.host, ramSize: 2 << 20, console: { write: (b) => (out += String.fromCharCode(b)) } })
    let out = ''
    const rng = new VirtioMmio(new VirtioRng({ source: (b) => b.fill(0x41) }), { memory: vm.ram, irq: vm.irqLine(1) })
    vm.map(0x1000_1000, rng)
    const reg = (off: number, v: number) => [li(R.t1, v), sw(R.t1, R.s1, off)]
    const code = [
      ...loadImm32(R.s1, 0x1000_1000), // 0–1
      ...loadAddr(R.t0, 0), // 2–4
      sw(0, R.s1, 0x70), // 5: reset
      ...reg(0x70, 1), ...reg(0x70, 3), // 6–9: ACKNOWLEDGE, DRIVER
      ...reg(0x24, 1), ...reg(0x20, 1), // 10–13: DriverFeatures[1] = VERSION_1
      ...reg(0x70, 11), // 14–15: FEATURES_OK
      ...reg(0x30, 0), ...reg(0x38, 4), // 16–19: queue 0, 4 entries
      addi(R.t1, R.t0, 0x200), sw(R.t1, R.s1, 0x80), // 20–21: desc
      addi(R.t1, R.t0, 0x280), sw(R.t1, R.s1, 0x90), // 22–23: driver (avail)
      addi(R.t1, R.t0, 0x300), sw(R.t1, R.s1, 0xa0), // 24–25: device (used)
      ...reg(0x44, 1), ...reg(0x70, 15), // 26–29: QueueReady, DRIVER_OK
      addi(R.t1, R.t0, 0x400), sd(R.t1, R.t0, 0x200), // 30–31: desc[0].addr
      li(R.t1, 2), slli(R.t1, R.t1, 32), addi(R.t1, R.t1, 8), sd(R.t1, R.t0, 0x208), // 32–35: len 8, flags WRITE
    ]
    code.push(...loadImm32(R.t1, 0x1_0000), sd(R.t1, R.t0, 0x280), sw(0, R.s1, 0x50)) // avail idx 1, ring[0] 0; notify queue 0
    code.push(lbu(R.t2, R.t0, 0x302), beq(R.t2, 0, -4)) // wait for used.idx
    code.push(asm.lw(R.t2, R.s1, 0x60), sw(R.t2, R.s1, 0x64)) // InterruptStatus → InterruptACK
    code.push(...loadImm32(R.a7, EID.DBCN), li(R.a6, DBCN_FID.CONSOLE_WRITE), li(R.a0, 8), addi(R.a1, R.t0, 0x400), li(R.a2, 0), ECALL, ...shutdown)
    vm.load(GUEST_BASE, words(code))
    const o = runVm(vm, [m.guestHart], { idle: m.idle })
    expect(outcomeMessage(o)).toBe('guest halted (SBI shutdown)')
    expect(out).toBe('AAAAAAAA')
    expect(vm.externalPending).toBe(false) // acked: the line is low again
    expect(vm.ram.load(BigInt(GUEST_BASE + 0x304), 4)).toBe(0n) // used[0].id = head 0
    expect(vm.ram.load(BigInt(GUEST_BASE + 0x308), 4)).toBe(8n) // used[0].len
  })
})

describe('hostile guests on a real hart end only themselves', () => {
  const run = (m: ReturnType<typeof machine>, code: number[], out: { s: string }) => {
    const vm = new VM({ host: m.host, ramSize: 2 << 20, console: { write: (b) => (out.s += String.fromCharCode(b)) } })
    vm.load(GUEST_BASE, words(code))
    return runVm(vm, [m.guestHart], { idle: m.idle, timeBudget: 200_000n })
  }

  it('a spinning guest is preempted at its time budget; a putchar flood too; a wild store and a jump outside RAM are faults — and the hart then runs a good guest', () => {
    const m = machine()
    const out = { s: '' }
    expect(outcomeMessage(run(m, [J_SELF], out))).toBe('guest preempted (time budget exceeded)')
    const flood = run(m, [li(R.a7, 1), li(R.a0, 'x'.charCodeAt(0)), ECALL, asm.jal(0, -4)], out)
    expect(outcomeMessage(flood)).toBe('guest preempted (time budget exceeded)')
    expect(out.s.length).toBeGreaterThan(100)
    const store = run(m, [lui(R.t0, 0x20000), sw(R.t0, R.t0, 0), ...shutdown], out)
    expect(store.reason === 'fault' && store.error.message).toMatch(/store to guest-physical 0x20000000, where there is neither RAM nor a device/)
    expect(store.reason === 'fault' && store.error.code).toBe('VM_GUEST_FAULT')
    const jump = run(m, [lui(R.t0, 0x40000), asm.addi(R.t0, R.t0, 0), 0x0002_8067 /* jr t0 */], out)
    expect(jump.reason === 'fault' && jump.error.message).toMatch(/instruction fetch outside guest RAM/)
    let text = ''
    const good = runDemo('default', m.host, m.guestHart, (s) => (text += s), { idle: m.idle })
    expect(good?.reason).toBe('shutdown')
    expect(text).toContain('honk: hello from a guest VM\n')
  })
})
