import { buildFdt, findNode, getCells, getReg, getString, getU64, parseFdt } from '@honk/sbi'
import { describe, expect, it } from 'vitest'
import { VmError } from './errors.js'
import { bootLinux, guestDeviceTree, parseLinuxImage } from './linux.js'
import { VM } from './vm.js'

/** A minimal RISC-V Image header (Documentation/riscv/boot-image-header.rst) followed by `body` bytes. */
function image(textOffset = 0x20_0000n, imageSize = 0x10_0000n, body = 4096): Uint8Array {
  const b = new Uint8Array(64 + body)
  const v = new DataView(b.buffer)
  v.setUint32(0, 0x0000_0013, true) // code0
  v.setBigUint64(8, textOffset, true)
  v.setBigUint64(16, imageSize, true)
  v.setUint32(32, 2, true) // version 0.2
  b.set(new TextEncoder().encode('RISCV\0\0\0'), 48)
  b.set(new TextEncoder().encode('RSC\x05'), 56)
  return b
}

describe('the Linux boot protocol', () => {
  it('parses the Image header: text_offset, image_size, version', () => {
    expect(parseLinuxImage(image())).toMatchObject({ textOffset: 0x20_0000n, imageSize: 0x10_0000n, version: 2 })
  })

  it('takes an Image with only the current magic, "RSC\\x05" at 56 (the 8-byte "RISCV" one is deprecated)', () => {
    const b = image()
    b.fill(0, 48, 56)
    expect(parseLinuxImage(b).textOffset).toBe(0x20_0000n)
  })

  it('refuses what is not a RISC-V Image (VM_BAD_IMAGE): too short, no magic, a silly text_offset', () => {
    expect(() => parseLinuxImage(new Uint8Array(10))).toThrow(VmError)
    const bad = image()
    bad.fill(0, 48, 64)
    expect(() => parseLinuxImage(bad)).toThrow(/magic/)
    expect(() => parseLinuxImage(image(0x123n))).toThrow(/text_offset/)
    try {
      parseLinuxImage(bad)
    } catch (e) {
      expect((e as VmError).code).toBe('VM_BAD_IMAGE')
    }
  })

  it('the guest device tree lists the vCPUs (cpu-intc each), RAM, /chosen and only the devices given', () => {
    const dt = parseFdt(buildFdt(guestDeviceTree({ vcpus: 2, ramBase: 0x8000_0000, ramSize: 64 << 20, bootargs: 'console=hvc0', initrd: { start: 0x8300_0000, end: 0x8300_1000 }, devices: [{ kind: 'plic', base: 0x0c00_0000, sources: 31 }, { kind: 'virtio-mmio', base: 0x1000_1000, irq: 1 }] })))
    const root = dt.root
    expect(getString(findNode(root, '/chosen')!, 'bootargs')).toBe('console=hvc0')
    expect(getU64(findNode(root, '/chosen')!, 'linux,initrd-start')).toBe(0x8300_0000n)
    expect(getReg(root, findNode(root, '/memory@80000000')!)).toEqual([{ address: 0x8000_0000n, size: 64n << 20n }])
    expect(getString(findNode(root, '/cpus/cpu@1/interrupt-controller')!, 'compatible')).toBe('riscv,cpu-intc')
    expect(getCells(findNode(root, '/soc/plic@c000000')!, 'interrupts-extended')).toEqual([2, 9, 4, 9])
    expect(findNode(root, '/soc/virtio_mmio@10001000')).toBeDefined()
    expect(findNode(root, '/soc/virtio_mmio@10002000')).toBeUndefined()
    expect(findNode(root, '/soc/serial@10000000')).toBeUndefined()
  })

  it('bootLinux: kernel at RAM + text_offset, the tree at the top of RAM 2 MiB-aligned, the initrd below it; a0 = 0, a1 = the tree', () => {
    const vm = new VM({ host: { base: 0x9000_0000, bytes: new Uint8Array(24 << 20) }, ramSize: 16 << 20 })
    const img = image()
    const layout = bootLinux(vm, { image: img, initrd: new Uint8Array(5000).fill(7), bootargs: 'x' })
    expect(layout.entry).toBe(0x8020_0000)
    expect(layout.dtb % (2 << 20)).toBe(0)
    expect(layout.initrd!.end).toBeLessThanOrEqual(layout.dtb)
    expect(layout.initrd!.start).toBeGreaterThanOrEqual(layout.kernelEnd)
    expect(vm.vcpus[0]!.pc).toBe(layout.entry)
    expect(vm.vcpus[0]!.getX(10)).toBe(0n)
    expect(vm.vcpus[0]!.getX(11)).toBe(BigInt(layout.dtb))
    expect(vm.ram.load(BigInt(layout.entry + 48), 4)).toBe(0x4353_4952n) // the image is there
    expect(vm.ram.load(BigInt(layout.dtb), 4)).toBe(0xedfe_0dd0n) // FDT magic (big-endian d00dfeed)
    expect(vm.ram.load(BigInt(layout.initrd!.start), 1)).toBe(7n)
    const dt = parseFdt(vm.ram.bytes.subarray(layout.dtb - vm.guestBase))
    expect(getU64(findNode(dt.root, '/chosen')!, 'linux,initrd-end')).toBe(BigInt(layout.initrd!.end))
  })

  it('bootLinux refuses a kernel, initrd and tree that do not fit RAM (VM_TOO_LARGE), before writing anything', () => {
    const vm = new VM({ host: { base: 0x9000_0000, bytes: new Uint8Array(8 << 20) }, ramSize: 4 << 20 })
    expect(() => bootLinux(vm, { image: image(0x20_0000n, 0x30_0000n) })).toThrow(/do not fit|needs/)
    expect(() => bootLinux(vm, { image: image(), initrd: new Uint8Array(3 << 20) })).toThrow(VmError)
    expect(vm.ram.bytes.every((b) => b === 0)).toBe(true)
  })
})
