import { VIRT_MAP } from '@honk/riscv'
import { describe, expect, it } from 'vitest'
import { assemble } from '@honk/rv64'
import { findNode, getCells, getString, parseFdt } from '@honk/sbi'
import { VirtMachine } from './board.js'
import { BootError, boot, linuxImageHeader } from './boot.js'

function machine(bios: 'builtin' | 'none' | 'firmware' = 'builtin', out: number[] = []) {
  return new VirtMachine({ harts: 2, memory: 32 << 20, bios, consoleOut: (b) => out.push(b), bootargs: 'console=ttyS0' })
}

describe('boot placement', () => {
  it('reads the Linux Image header (text_offset, image_size)', () => {
    const img = new Uint8Array(0x40)
    const v = new DataView(img.buffer)
    v.setBigUint64(0x08, 0x200000n, true)
    v.setBigUint64(0x10, 0x123000n, true)
    img.set([0x52, 0x53, 0x43, 0x05], 0x38)
    expect(linuxImageHeader(img)).toEqual({ textOffset: 0x200000, imageSize: 0x123000 })
    expect(linuxImageHeader(new Uint8Array(0x40))).toBeUndefined()
  })

  it('places kernel, initrd and device tree like QEMU and describes them in /chosen', () => {
    const m = machine()
    const layout = boot(m, { kernel: new Uint8Array(4096).fill(0x13), initrd: new Uint8Array(1000).fill(7) })
    expect(layout.entry).toBe(VIRT_MAP.ram.base + 0x200000)
    expect(layout.initrd).toEqual({ start: VIRT_MAP.ram.base + (16 << 20), end: VIRT_MAP.ram.base + (16 << 20) + 1000 })
    expect(layout.dtb).toBe(VIRT_MAP.ram.base + (30 << 20))
    const { root } = parseFdt(m.bus.ram.subarray(layout.dtb - VIRT_MAP.ram.base))
    const chosen = findNode(root, '/chosen')!
    expect(getString(chosen, 'bootargs')).toBe('console=ttyS0')
    expect(getCells(chosen, 'linux,initrd-start')).toBeDefined()
    // Boot hart in S-mode at the kernel with a0 = hartid, a1 = dtb; the other hart waits for HSM.
    const [h0, h1] = m.harts
    expect([h0!.privilege, h0!.pc, h0!.getX(10), h0!.getX(11)]).toEqual([1, layout.entry, 0n, BigInt(layout.dtb)])
    expect(m.running).toEqual([true, false])
    expect(h1!.getX(10)).toBe(1n)
  })

  it('refuses payloads that do not fit, with a BootError saying what', () => {
    expect(() => boot(machine(), { kernel: new Uint8Array(40 << 20) })).toThrow(BootError)
    expect(() => boot(machine('firmware'), { kernel: new Uint8Array(16) })).toThrow(/needs a firmware image/)
    expect(() => boot(machine(), { kernel: new Uint8Array(16), initrd: new Uint8Array(15 << 20) })).toThrow(/reaches the device tree/)
  })

  it('runs a payload that prints through the SBI console and powers off through SRST', async () => {
    const out: number[] = []
    const m = machine('builtin', out)
    // sbi_debug_console_write_byte('H'), 'i', then SRST shutdown.
    const program = assemble(`
      li a7, 0x4442434E; li a6, 2; li a0, 72; ecall
      li a7, 0x4442434E; li a6, 2; li a0, 105; ecall
      li a7, 0x53525354; li a6, 0; li a0, 0; li a1, 0; ecall
    1: j 1b`).bytes
    boot(m, { kernel: program })
    expect(await m.run({ limit: 1_000_000 })).toEqual({ reason: 'poweroff', code: 0 })
    expect(String.fromCharCode(...out)).toBe('Hi')
  })
})
