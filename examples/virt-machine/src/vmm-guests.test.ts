/**
 * Issue #17, `@honk/vmm` on a real hart: the Go honk's seven demo guests (inventory §1.8, §2.3 `vm`)
 * run as VS-mode guests on an `@honk/rv64` hart with the hypervisor extension, through the
 * machine's `GuestHart` adapter, and print the Go honk's exact lines.
 */
import { createSystem } from '@honk/rv64'
import { DEMOS, runDemo, type DemoName } from '@honk/vmm'
import { describe, expect, it } from 'vitest'
import { RvGuestHart } from './guest-hart.js'

const RAM = 0x8000_0000

/** A one-hart H machine: host memory at +4 MiB for the VM, the trampoline at the start of RAM. */
function machine() {
  const sys = createSystem({ harts: 1, ramSize: 16 << 20, hypervisor: true })
  const hart = sys.harts[0]!
  hart.privilege = 1
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
