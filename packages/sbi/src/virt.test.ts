import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FdtError, buildFdt, parseFdt } from './fdt.js'
import { findByPhandle, findNode, getCells, getNumber, getProp, getReg, getString, getStrings, getU32, hasProp, pathOf, walk } from './props.js'
import { splitIsa, virtDeviceTree } from './virt.js'

const MiB = 1n << 20n

describe('virtDeviceTree', () => {
  it('describes the QEMU virt board for 2 harts', () => {
    const { root } = parseFdt(buildFdt(virtDeviceTree({ harts: 2, ramSize: 512n * MiB, bootargs: 'console=ttyS0' })))
    const at = (p: string) => {
      const n = findNode(root, p)
      if (!n) throw new Error(`no ${p}`)
      return n
    }
    expect(getStrings(root, 'compatible')).toEqual(['riscv-virtio'])
    expect(getU32(at('/cpus'), 'timebase-frequency')).toBe(10_000_000)
    const cpu1 = at('/cpus/cpu@1')
    expect(getU32(cpu1, 'reg')).toBe(1)
    expect(getString(cpu1, 'riscv,isa')).toBe('rv64imafdc_zicsr_zifencei_zba_zbb_zbs_sstc')
    expect(getString(cpu1, 'riscv,isa-base')).toBe('rv64i')
    expect(getStrings(cpu1, 'riscv,isa-extensions')).toEqual(['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei', 'zba', 'zbb', 'zbs', 'sstc'])
    expect(getString(cpu1, 'mmu-type')).toBe('riscv,sv57')
    const intc1 = at('/cpus/cpu@1/interrupt-controller')
    expect(getString(intc1, 'compatible')).toBe('riscv,cpu-intc')
    expect(hasProp(intc1, 'interrupt-controller')).toBe(true)
    expect(findByPhandle(root, getU32(at('/cpus/cpu-map/cluster0/core1'), 'cpu')!)).toBe(cpu1)

    expect(getReg(root, at('/memory@80000000'))).toEqual([{ address: 0x8000_0000n, size: 512n * MiB }])
    expect(getString(at('/chosen'), 'bootargs')).toBe('console=ttyS0')
    expect(getString(at('/chosen'), 'stdout-path')).toBe('/soc/serial@10000000')
    expect(findNode(root, getString(at('/chosen'), 'stdout-path')!)).toBeDefined()

    // CLINT: M software (3) and M timer (7) of every hart's intc; PLIC: M external (11) and S external (9).
    const intcPath = (ph: number) => pathOf(root, findByPhandle(root, ph)!)
    const pairs = (cells: number[]) => Array.from({ length: cells.length / 2 }, (_, i) => `${intcPath(cells[2 * i]!)}:${cells[2 * i + 1]}`)
    const intc = (i: number) => `/cpus/cpu@${i}/interrupt-controller`
    expect(pairs(getCells(at('/soc/clint@2000000'), 'interrupts-extended')!)).toEqual([`${intc(0)}:3`, `${intc(0)}:7`, `${intc(1)}:3`, `${intc(1)}:7`])
    const plic = at('/soc/plic@c000000')
    expect(pairs(getCells(plic, 'interrupts-extended')!)).toEqual([`${intc(0)}:11`, `${intc(0)}:9`, `${intc(1)}:11`, `${intc(1)}:9`])
    expect(getU32(plic, 'riscv,ndev')).toBe(95)
    expect(getStrings(plic, 'compatible')).toEqual(['sifive,plic-1.0.0', 'riscv,plic0'])

    const soc = at('/soc')
    const irqOf = (p: string) => {
      const n = at(p)
      expect(findByPhandle(root, getU32(n, 'interrupt-parent')!)).toBe(plic)
      return getU32(n, 'interrupts')
    }
    expect(irqOf('/soc/serial@10000000')).toBe(10)
    expect(getU32(at('/soc/serial'), 'clock-frequency')).toBe(3_686_400)
    expect(irqOf('/soc/rtc@101000')).toBe(11)
    for (let i = 0; i < 8; i++) {
      const p = `/soc/virtio_mmio@1000${i + 1}000`
      expect(irqOf(p)).toBe(i + 1)
      expect(getReg(soc, at(p))).toEqual([{ address: 0x1000_1000n + 0x1000n * BigInt(i), size: 0x1000n }])
    }
    const test = at('/soc/test@100000')
    expect(getStrings(test, 'compatible')).toEqual(['sifive,test1', 'sifive,test0', 'syscon'])
    for (const [p, v] of [['/poweroff', 0x5555], ['/reboot', 0x7777]] as const) {
      expect(findByPhandle(root, getU32(at(p), 'regmap')!)).toBe(test)
      expect(getU32(at(p), 'value')).toBe(v)
      expect(getU32(at(p), 'offset')).toBe(0)
    }
    // flash is not part of this board
    expect(findNode(root, '/flash')).toBeUndefined()
  })

  it('describes the PCIe host as QEMU does: ECAM, the three windows, INTx swizzled onto PLIC 32..35', () => {
    const { root } = parseFdt(buildFdt(virtDeviceTree({ harts: 2, ramSize: 256n << 20n })))
    const pci = findNode(root, '/soc/pci@30000000')!
    expect(getString(pci, 'compatible')).toBe('pci-host-ecam-generic')
    expect(getString(pci, 'device_type')).toBe('pci')
    expect(getCells(pci, 'bus-range')).toEqual([0, 0xff])
    expect(hasProp(pci, 'dma-coherent')).toBe(true)
    expect(getCells(pci, 'reg')).toEqual([0, 0x3000_0000, 0, 0x1000_0000])
    // (space, pci addr hi/lo, cpu addr hi/lo, size hi/lo): I/O at 0x3000000, 32-bit at 1 GiB, 64-bit at 16 GiB.
    expect(getCells(pci, 'ranges')).toEqual([0x100_0000, 0, 0, 0, 0x300_0000, 0, 0x1_0000, 0x200_0000, 0, 0x4000_0000, 0, 0x4000_0000, 0, 0x4000_0000, 0x300_0000, 4, 0, 4, 0, 4, 0])
    expect(getCells(pci, 'interrupt-map-mask')).toEqual([0x1800, 0, 0, 7])
    const map = getCells(pci, 'interrupt-map')!
    expect(map).toHaveLength(16 * 6)
    const plic = findNode(root, '/soc/plic@c000000')!
    for (let i = 0; i < 16; i++) {
      const [hi, , , pin, parent, irq] = map.slice(6 * i, 6 * i + 6)
      expect(findByPhandle(root, parent!)).toBe(plic)
      expect(irq).toBe(32 + (((hi! >> 11) + pin! - 1) % 4)) // device 1, INTA → 33
    }
    expect(findNode(parseFdt(buildFdt(virtDeviceTree({ harts: 1, ramSize: 256n << 20n, pcie: false }))).root, '/soc/pci@30000000')).toBeUndefined()
  })

  it('honours the configuration', () => {
    const seed = new Uint8Array(32).fill(7)
    const t = virtDeviceTree({
      harts: 3,
      ramBase: 0x1_0000_0000n,
      ramSize: 4096n * MiB,
      initrd: { start: 0x1_8000_0000n, end: 0x1_8010_0000n },
      rngSeed: seed,
      isa: 'rv64gc_zba',
      mmuType: 'riscv,sv39',
      virtioSlots: [7, 0, 0],
      plicSources: 127,
      timebaseFrequency: 1_000_000,
      stdoutPath: 'serial0',
    })
    const { root } = parseFdt(buildFdt(t))
    const chosen = findNode(root, '/chosen')!
    expect(hasProp(chosen, 'bootargs')).toBe(false)
    expect(getNumber(chosen, 'linux,initrd-start')).toBe(0x1_8000_0000n)
    expect(getNumber(chosen, 'linux,initrd-end')).toBe(0x1_8010_0000n)
    expect(getProp(chosen, 'rng-seed')).toEqual(seed)
    expect(getString(chosen, 'stdout-path')).toBe('serial0')
    expect(getReg(root, findNode(root, '/memory@100000000')!)).toEqual([{ address: 0x1_0000_0000n, size: 4096n * MiB }])
    expect(findNode(root, '/cpus/cpu@2')).toBeDefined()
    expect(findNode(root, '/cpus/cpu@3')).toBeUndefined()
    expect(getStrings(findNode(root, '/cpus/cpu@0')!, 'riscv,isa-extensions')).toEqual(['i', 'm', 'a', 'f', 'd', 'c', 'zba', 'zicsr', 'zifencei'])
    expect(getString(findNode(root, '/cpus/cpu@0')!, 'mmu-type')).toBe('riscv,sv39')
    expect(findNode(root, '/soc')!.children.filter((c) => c.name.startsWith('virtio')).map((c) => c.name)).toEqual(['virtio_mmio@10001000', 'virtio_mmio@10008000'])
    expect(getU32(findNode(root, '/soc/plic')!, 'riscv,ndev')).toBe(127)
    expect(getU32(findNode(root, '/cpus')!, 'timebase-frequency')).toBe(1_000_000)
  })

  it('rejects impossible configurations', () => {
    for (const c of [
      { harts: 0, ramSize: MiB },
      { harts: 513, ramSize: MiB },
      { harts: 1.5, ramSize: MiB },
      { harts: 1, ramSize: 0n },
      { harts: 1, ramSize: MiB, virtioSlots: [8] },
      { harts: 1, ramSize: MiB, isa: 'x86' },
      { harts: 1, ramSize: MiB, isa: 'rv64' },
      { harts: 1, ramSize: MiB, initrd: { start: 2n, end: 1n } },
    ])
      expect(() => virtDeviceTree(c)).toThrow(FdtError)
  })

  it('property: every phandle reference resolves and phandles are unique, for any hart count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), (harts) => {
        const { root } = parseFdt(buildFdt(virtDeviceTree({ harts, ramSize: 256n * MiB })))
        const seen = new Set<number>()
        for (const { node } of walk(root)) {
          const ph = getU32(node, 'phandle')
          if (ph !== undefined) {
            expect(seen.has(ph)).toBe(false)
            seen.add(ph)
          }
        }
        for (const { node } of walk(root)) {
          for (const name of ['interrupt-parent', 'regmap', 'cpu']) {
            const ph = getU32(node, name)
            if (ph !== undefined) expect(seen.has(ph)).toBe(true)
          }
          const ext = getCells(node, 'interrupts-extended')
          if (ext) {
            expect(ext.length).toBe(harts * 4)
            for (let i = 0; i < ext.length; i += 2) expect(getString(findByPhandle(root, ext[i]!)!, 'compatible')).toBe('riscv,cpu-intc')
          }
        }
        expect(findNode(root, '/cpus')!.children.length).toBe(harts + 1)
      }),
      { numRuns: 30 },
    )
  })
})

describe('splitIsa', () => {
  it('splits single-letter and multi-letter extensions', () => {
    expect(splitIsa('rv64imac')).toEqual({ base: 'rv64i', extensions: ['i', 'm', 'a', 'c'] })
    expect(splitIsa('RV32E_Zicsr')).toEqual({ base: 'rv32e', extensions: ['e', 'zicsr'] })
    expect(splitIsa('rv64g')).toEqual({ base: 'rv64i', extensions: ['i', 'm', 'a', 'f', 'd', 'zicsr', 'zifencei'] })
    expect(splitIsa('rv64gc_zifencei')).toEqual({ base: 'rv64i', extensions: ['i', 'm', 'a', 'f', 'd', 'c', 'zifencei', 'zicsr'] })
    expect(() => splitIsa('rv64imac_')).toThrow(FdtError)
    expect(() => splitIsa('rv128i')).toThrow(FdtError)
  })
})
