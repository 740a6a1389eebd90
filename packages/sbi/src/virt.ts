/**
 * The device tree of the honk `virt` board (DESIGN §3), a copy of QEMU's `virt` machine so that
 * firmware and kernels built for QEMU (OpenSBI, U-Boot, Linux) find their devices unchanged.
 * Where each device sits and which interrupt it raises is `@honk/riscv`'s `VIRT_MAP`/`VIRT_IRQ`,
 * which the board's bus reads too.
 * Bindings: Linux `Documentation/devicetree/bindings/riscv/{cpus,extensions}.yaml`,
 * `interrupt-controller/sifive,plic-1.0.0.yaml`, `timer/sifive,clint.yaml`, `power/reset/syscon-*.yaml`.
 */
import { FINISHER, VIRT_CLINT_IRQS, VIRT_IRQ, VIRT_MAP, VIRT_PCIE_INTX_COUNT, VIRT_PLIC_CONTEXT_IRQS, VIRT_TIMEBASE_HZ, pcieIntxIrq, virtioSlotBase } from '@honk/riscv'
import { FdtError, type FdtNode } from './fdt.js'
import { node, prop, type PropInit } from './props.js'

export interface VirtConfig {
  /** Number of harts (hart ids 0..harts-1). */
  harts: number
  /** Default 0x8000_0000. */
  ramBase?: bigint
  ramSize: bigint
  /** `/chosen/bootargs` (the kernel command line). */
  bootargs?: string
  /** The initramfs already placed in RAM: `[start, end)` physical. */
  initrd?: { start: bigint; end: bigint }
  /** `/chosen/rng-seed` bytes (QEMU passes 32 random bytes). */
  rngSeed?: Uint8Array
  /** `riscv,isa`. Default {@link DEFAULT_ISA}. */
  isa?: string
  /** Default `riscv,sv57`. */
  mmuType?: string
  /** Which virtio-mmio slots (0..7) get a node. Default all 8, as QEMU lists them whether or not a device sits there. */
  virtioSlots?: readonly number[]
  /** `riscv,ndev` of the PLIC: the highest interrupt source id. Default 95 (sources 1..95). */
  plicSources?: number
  /** Default 10 MHz, the CLINT's `mtime` rate. */
  timebaseFrequency?: number
  /** Default `/soc/serial@10000000`. */
  stdoutPath?: string
  /** Describe the PCIe host bridge (`/soc/pci@30000000`, QEMU's `pci-host-ecam-generic`). Default true, as QEMU always has it. */
  pcie?: boolean
}

/**
 * The ISA `@honk/rv64`'s hart implements: the device tree's default `riscv,isa`. With Sstc
 * (`stimecmp`; both firmwares set menvcfg.STCE), as QEMU 7.2's virt offers it: Linux then
 * programs its timer itself instead of an SBI call per tick — under OpenSBI each call was a trap
 * into interpreted M-mode code (a Linux user program: 449 → 638 M instr/s, PERFORMANCE.md).
 */
export const DEFAULT_ISA = 'rv64imafdc_zicsr_zifencei_zba_zbb_zbs_sstc'

/** `isa` without the multi-letter extension `ext` (`rv64imac_zicsr_sstc`, `sstc` → `rv64imac_zicsr`). */
export function withoutExtension(isa: string, ext: string): string {
  return isa.split('_').filter((e, i) => i === 0 || e !== ext).join('_')
}

/**
 * `riscv,isa-base` and `riscv,isa-extensions` from an ISA string: `rv64imafdc_zicsr` →
 * `rv64i` and `i m a f d c zicsr`. `g` expands to `imafd` + `zicsr` + `zifencei`.
 */
export function splitIsa(isa: string): { base: string; extensions: string[] } {
  const m = /^(rv(?:32|64))([a-z]*)((?:_[a-z][a-z0-9]*)*)$/.exec(isa.toLowerCase())
  if (!m || m[2] === undefined || !/^[ieg]/.test(m[2]))
    throw new FdtError('FDT_BAD_VALUE', `ISA string ${JSON.stringify(isa)} is not rv32/rv64 + single letters + _multi-letter extensions`)
  const single = m[2].startsWith('g') ? 'imafd' + m[2].slice(1) : m[2]
  const extensions = [...single]
  const multi = (m[3] ?? '').split('_').filter((s) => s !== '')
  if (m[2].startsWith('g')) for (const z of ['zicsr', 'zifencei']) if (!multi.includes(z)) multi.push(z)
  extensions.push(...multi)
  return { base: `${m[1]}${single[0]}`, extensions: [...new Set(extensions)] }
}

const hex = (v: bigint | number): string => v.toString(16)
const reg = (base: bigint | number, size: bigint | number): Uint8Array => prop.wide([BigInt(base), BigInt(size)])

/** The device tree of the `virt` board. Hand it to {@link buildFdt}. */
export function virtDeviceTree(config: VirtConfig): FdtNode {
  const harts = config.harts
  if (!Number.isInteger(harts) || harts < 1 || harts > 512) throw new FdtError('FDT_BAD_VALUE', `harts ${harts} is not in 1..512`)
  const ramBase = config.ramBase ?? BigInt(VIRT_MAP.ram.base)
  if (config.ramSize <= 0n) throw new FdtError('FDT_BAD_VALUE', `ramSize ${config.ramSize} must be positive`)
  const isa = config.isa ?? DEFAULT_ISA
  const { base: isaBase, extensions } = splitIsa(isa)
  const slots = config.virtioSlots ?? Array.from({ length: VIRT_MAP.virtio.count }, (_, i) => i)
  for (const s of slots)
    if (!Number.isInteger(s) || s < 0 || s >= VIRT_MAP.virtio.count) throw new FdtError('FDT_BAD_VALUE', `virtio slot ${s} is not in 0..${VIRT_MAP.virtio.count - 1}`)

  // phandles: cpu i → 1+2i, its interrupt controller → 2+2i, then the PLIC and the test device.
  const cpuPh = (i: number): number => 1 + 2 * i
  const intcPh = (i: number): number => 2 + 2 * i
  const plicPh = 2 * harts + 1
  const testPh = 2 * harts + 2
  const perHart = (irqs: readonly number[]): number[] => Array.from({ length: harts }, (_, i) => irqs.flatMap((irq) => [intcPh(i), irq])).flat()

  const cpus = node(
    'cpus',
    { '#address-cells': 1, '#size-cells': 0, 'timebase-frequency': config.timebaseFrequency ?? VIRT_TIMEBASE_HZ },
    [
      ...Array.from({ length: harts }, (_, i) =>
        node(
          `cpu@${hex(BigInt(i))}`,
          {
            device_type: 'cpu',
            reg: i,
            status: 'okay',
            compatible: 'riscv',
            'riscv,isa': isa,
            'riscv,isa-base': isaBase,
            'riscv,isa-extensions': extensions,
            'mmu-type': config.mmuType ?? 'riscv,sv57',
            phandle: cpuPh(i),
          },
          [
            node('interrupt-controller', {
              '#interrupt-cells': 1,
              'interrupt-controller': true,
              compatible: 'riscv,cpu-intc',
              phandle: intcPh(i),
            }),
          ],
        ),
      ),
      node('cpu-map', {}, [node('cluster0', {}, Array.from({ length: harts }, (_, i) => node(`core${i}`, { cpu: cpuPh(i) })))]),
    ],
  )

  const chosen: [string, PropInit][] = []
  if (config.bootargs !== undefined) chosen.push(['bootargs', config.bootargs])
  chosen.push(['stdout-path', config.stdoutPath ?? `/soc/serial@${hex(VIRT_MAP.uart.base)}`])
  if (config.initrd) {
    if (config.initrd.end < config.initrd.start) throw new FdtError('FDT_BAD_VALUE', 'initrd end precedes its start')
    chosen.push(['linux,initrd-start', config.initrd.start], ['linux,initrd-end', config.initrd.end])
  }
  if (config.rngSeed) chosen.push(['rng-seed', config.rngSeed])

  const plicIrq = (irq: number): Record<string, PropInit> => ({ interrupts: irq, 'interrupt-parent': plicPh })
  const soc = node('soc', { '#address-cells': 2, '#size-cells': 2, compatible: 'simple-bus', ranges: true }, [
    node(`test@${hex(VIRT_MAP.test.base)}`, {
      compatible: ['sifive,test1', 'sifive,test0', 'syscon'],
      reg: reg(VIRT_MAP.test.base, VIRT_MAP.test.size),
      phandle: testPh,
    }),
    node(`rtc@${hex(VIRT_MAP.rtc.base)}`, {
      compatible: 'google,goldfish-rtc',
      reg: reg(VIRT_MAP.rtc.base, VIRT_MAP.rtc.size),
      ...plicIrq(VIRT_IRQ.rtc),
    }),
    node(`clint@${hex(VIRT_MAP.clint.base)}`, {
      compatible: ['sifive,clint0', 'riscv,clint0'],
      reg: reg(VIRT_MAP.clint.base, VIRT_MAP.clint.size),
      'interrupts-extended': perHart(VIRT_CLINT_IRQS),
    }),
    node(`plic@${hex(VIRT_MAP.plic.base)}`, {
      compatible: ['sifive,plic-1.0.0', 'riscv,plic0'],
      '#address-cells': 0,
      '#interrupt-cells': 1,
      'interrupt-controller': true,
      reg: reg(VIRT_MAP.plic.base, VIRT_MAP.plic.size),
      'interrupts-extended': perHart(VIRT_PLIC_CONTEXT_IRQS),
      'riscv,ndev': config.plicSources ?? 95,
      phandle: plicPh,
    }),
    node(`serial@${hex(VIRT_MAP.uart.base)}`, {
      compatible: 'ns16550a',
      reg: reg(VIRT_MAP.uart.base, VIRT_MAP.uart.size),
      'clock-frequency': 3_686_400,
      ...plicIrq(VIRT_IRQ.uart),
    }),
    ...[...new Set(slots)]
      .sort((a, b) => a - b)
      .map((s) => {
        const base = virtioSlotBase(s)
        return node(`virtio_mmio@${hex(base)}`, {
          compatible: 'virtio,mmio',
          reg: reg(base, VIRT_MAP.virtio.size),
          ...plicIrq(VIRT_IRQ.virtio0 + s),
        })
      }),
    ...(config.pcie ?? true ? [pcieNode(plicPh)] : []),
  ])

  return node('', { '#address-cells': 2, '#size-cells': 2, compatible: 'riscv-virtio', model: 'riscv-virtio,qemu' }, [
    cpus,
    node(`memory@${hex(ramBase)}`, { device_type: 'memory', reg: reg(ramBase, config.ramSize) }),
    node('chosen', chosen),
    soc,
    node('poweroff', { compatible: 'syscon-poweroff', regmap: testPh, offset: 0, value: FINISHER.PASS }),
    node('reboot', { compatible: 'syscon-reboot', regmap: testPh, offset: 0, value: FINISHER.RESET }),
  ])
}

/**
 * QEMU virt's generic ECAM PCIe host as QEMU describes it (Linux
 * `Documentation/devicetree/bindings/pci/host-generic-pci.yaml`): 3 address cells
 * (phys.hi = space code << 24 | bus << 16 | device << 11 | function << 8), the I/O, 32-bit and
 * 64-bit windows in `ranges`, and INTx routed to the PLIC with the swizzle, for device numbers
 * 0..3 (the mask 0x1800 keeps device bits 0..1, so the map repeats every 4 slots).
 */
function pcieNode(plicPh: number): FdtNode {
  const { pcieEcam, pciePio, pcieMmio, pcieMmioHigh } = VIRT_MAP
  const cells = (v: number): [number, number] => [Math.floor(v / 2 ** 32), v >>> 0]
  const range = (space: number, pci: number, cpu: number, size: number): number[] => [space << 24, ...cells(pci), ...cells(cpu), ...cells(size)]
  const map: number[] = []
  for (let slot = 0; slot < VIRT_PCIE_INTX_COUNT; slot++)
    for (let pin = 1; pin <= VIRT_PCIE_INTX_COUNT; pin++) map.push(slot << 11, 0, 0, pin, plicPh, pcieIntxIrq(slot, pin))
  return node(`pci@${hex(pcieEcam.base)}`, {
    'interrupt-map-mask': [0x1800, 0, 0, 7],
    'interrupt-map': map,
    ranges: [...range(1, 0, pciePio.base, pciePio.size), ...range(2, pcieMmio.base, pcieMmio.base, pcieMmio.size), ...range(3, pcieMmioHigh.base, pcieMmioHigh.base, pcieMmioHigh.size)],
    reg: reg(pcieEcam.base, pcieEcam.size),
    'dma-coherent': true,
    'bus-range': [0, 0xff],
    'linux,pci-domain': 0,
    device_type: 'pci',
    compatible: 'pci-host-ecam-generic',
    '#size-cells': 2,
    '#interrupt-cells': 1,
    '#address-cells': 3,
  })
}
