import { VIRT_IRQ, VIRT_MAP, virtioSlotBase } from '@honk/riscv'
import { buildFdt, node, virtDeviceTree } from '@honk/sbi'
import { RamGuestMemory } from '@honk/virtio'
import { describe, expect, it } from 'vitest'
import { PlatformError, platformOf, readDeviceTree } from './platform.js'

describe('platform discovery from the device tree', () => {
  it('finds harts, RAM, timebase, UART, the PLIC S-contexts and the virtio slots of the virt board', () => {
    const root = virtDeviceTree({ harts: 4, ramSize: 512n << 20n, bootargs: 'quiet' })
    const p = platformOf(root, 0)
    expect(p.harts).toEqual([0, 1, 2, 3])
    expect(p.memory).toEqual({ base: VIRT_MAP.ram.base, size: 512 << 20 })
    expect(p.timebase).toBe(10_000_000)
    expect(p.uart).toEqual({ base: VIRT_MAP.uart.base, irq: VIRT_IRQ.uart })
    expect(p.plic?.base).toBe(VIRT_MAP.plic.base)
    // QEMU virt: context 2h is hart h's M-mode external interrupt, 2h+1 its S-mode one.
    expect([...(p.plic?.sContext ?? [])]).toEqual([[0, 1], [1, 3], [2, 5], [3, 7]])
    expect(p.virtio).toEqual(Array.from({ length: VIRT_MAP.virtio.count }, (_, i) => ({ base: virtioSlotBase(i), irq: VIRT_IRQ.virtio0 + i })))
    expect(p.bootargs).toBe('quiet')
  })

  it('finds the PCIe host: ECAM, the 32-bit window and the swizzled INTx map (issue #19)', () => {
    const p = platformOf(virtDeviceTree({ harts: 1, ramSize: 64n << 20n }), 0)
    expect(p.pcie?.ecam).toEqual(VIRT_MAP.pcieEcam)
    expect(p.pcie?.mmio32).toEqual(VIRT_MAP.pcieMmio)
    // device & 3 << 3 | pin → PLIC source: device 1 INTA → 33, device 3 INTB → 32 (QEMU's map).
    expect(p.pcie?.intx.get((1 << 3) | 1)).toBe(33)
    expect(p.pcie?.intx.get((3 << 3) | 2)).toBe(32)
    expect(p.pcie?.intx.size).toBe(16)
    expect(platformOf(virtDeviceTree({ harts: 1, ramSize: 64n << 20n, pcie: false }), 0).pcie).toBeUndefined()
  })

  it('reads the blob from guest RAM, header first', () => {
    const blob = buildFdt(virtDeviceTree({ harts: 2, ramSize: 64n << 20n }))
    const ram = new Uint8Array(1 << 20)
    ram.set(blob, 0x1000)
    const mem = new RamGuestMemory(ram, 0x8000_0000)
    const { platform } = readDeviceTree(mem, 0x8000_1000)
    expect(platform.harts).toEqual([0, 1])
    expect(platform.dtbSize).toBe(blob.length)
  })

  it('rejects an address outside RAM, a blob running past RAM, garbage, and a tree without cpus or memory', () => {
    const ram = new Uint8Array(4096)
    const mem = new RamGuestMemory(ram, 0x8000_0000)
    expect(() => readDeviceTree(mem, 0x1000)).toThrow(PlatformError)
    const blob = buildFdt(virtDeviceTree({ harts: 1, ramSize: 64n << 20n }))
    ram.set(blob.subarray(0, 40), 0)
    new DataView(ram.buffer).setUint32(4, 8192) // totalsize beyond the 4 KiB of RAM
    expect(() => readDeviceTree(mem, 0x8000_0000)).toThrow(/runs past RAM/)
    ram.fill(0xab, 0, 64)
    expect(() => readDeviceTree(mem, 0x8000_0000)).toThrow()
    expect(() => platformOf(node('', {}, []), 0)).toThrow(/no \/cpus/)
    expect(() => platformOf(node('', {}, [node('cpus', { '#address-cells': 1, '#size-cells': 0 }, [])]), 0)).toThrow(/no memory/)
  })
})
