/**
 * Platform discovery: what the kernel learns from the device tree the firmware handed it
 * (read from guest RAM; the Go honk hardcoded all of this). Devicetree spec v0.4 §2.3 (reg,
 * #address-cells), §2.4 (interrupts, interrupts-extended), §3.7 (cpus), §3.4 (memory).
 */
import { HonkError } from '@honk/errors'
import { IRQ } from '@honk/riscv'
import { getCells, getReg, getString, getStrings, getU32, parseFdt, type FdtNode } from '@honk/sbi'
import type { GuestMemory } from '@honk/virtio'

export class PlatformError extends HonkError<'PLATFORM'> {
  constructor(message: string) {
    super('PLATFORM', message)
  }
}

export interface Platform {
  /** Hart ids of the `cpu` nodes whose status is okay, ascending. */
  readonly harts: readonly number[]
  readonly memory: { readonly base: number; readonly size: number }
  /** `/cpus/timebase-frequency` (Hz). */
  readonly timebase: number
  readonly uart: { readonly base: number; readonly irq: number } | undefined
  /** The PLIC and, per hart, the index of its S-mode context (the context whose interrupt is SEI). */
  readonly plic: { readonly base: number; readonly sources: number; readonly sContext: ReadonlyMap<number, number> } | undefined
  /** virtio-mmio transports, in address order. */
  readonly virtio: readonly { readonly base: number; readonly irq: number }[]
  readonly bootargs: string
  /**
   * The SiFive test device (`sifive,test0`), if any: writing `FINISHER.FAIL | code << 16` (`@honk/riscv`)
   * ends the machine with a failure status (QEMU exits with `code`), whichever firmware runs.
   */
  readonly finisher: { readonly base: number } | undefined
  /** Bytes of the blob (`totalsize`). */
  readonly dtbSize: number
  /**
   * The generic ECAM PCIe host (`pci-host-ecam-generic`), if any: its config window, its 32-bit
   * memory window (from `ranges`), and the PLIC source of each (device & 3, INTx pin) from its
   * `interrupt-map` (keyed `device << 3 | pin`).
   */
  readonly pcie?: { readonly ecam: { readonly base: number; readonly size: number }; readonly mmio32: { readonly base: number; readonly size: number }; readonly intx: ReadonlyMap<number, number> }
}

const compatibleWith = (n: FdtNode, c: string) => (getStrings(n, 'compatible') ?? []).includes(c)

function* nodes(n: FdtNode): Generator<{ node: FdtNode; parent: FdtNode }> {
  for (const c of n.children) {
    yield { node: c, parent: n }
    yield* nodes(c)
  }
}

const okay = (n: FdtNode) => {
  const s = getString(n, 'status')
  return s === undefined || s === 'okay' || s === 'ok'
}

/** Reads the blob at `addr` (header first, for `totalsize`) and parses it. */
export function readDeviceTree(memory: GuestMemory, addr: number): { platform: Platform; root: FdtNode } {
  const header = new Uint8Array(40)
  if (!memory.read(addr, header)) throw new PlatformError(`the device tree address 0x${addr.toString(16)} is not in RAM`)
  const size = new DataView(header.buffer).getUint32(4)
  if (size < 40 || size > 1 << 20) throw new PlatformError(`the device tree at 0x${addr.toString(16)} claims ${size} bytes`)
  const blob = new Uint8Array(size)
  if (!memory.read(addr, blob)) throw new PlatformError(`the device tree at 0x${addr.toString(16)} runs past RAM (${size} bytes)`)
  const fdt = parseFdt(blob)
  return { platform: platformOf(fdt.root, size), root: fdt.root }
}

export function platformOf(root: FdtNode, dtbSize: number): Platform {
  const cpus = root.children.find((c) => c.name === 'cpus')
  if (!cpus) throw new PlatformError('the device tree has no /cpus node')
  const harts: number[] = []
  /** phandle of each hart's interrupt controller → hart id. */
  const intcHart = new Map<number, number>()
  for (const cpu of cpus.children.filter((c) => getString(c, 'device_type') === 'cpu')) {
    const reg = getReg(cpus, cpu)?.[0]
    if (!reg) throw new PlatformError(`${cpu.name} has no reg (hart id)`)
    const id = Number(reg.address)
    if (okay(cpu)) harts.push(id)
    for (const c of cpu.children) {
      const ph = getU32(c, 'phandle')
      if (ph !== undefined && compatibleWith(c, 'riscv,cpu-intc')) intcHart.set(ph, id)
    }
  }
  harts.sort((a, b) => a - b)
  const timebase = getU32(cpus, 'timebase-frequency') ?? 0

  let memory: Platform['memory'] | undefined
  let uart: Platform['uart']
  let plic: Platform['plic']
  let finisher: Platform['finisher']
  const virtio: { base: number; irq: number }[] = []
  let pcie: Platform['pcie']
  for (const { node, parent } of nodes(root)) {
    if (!okay(node)) continue
    const reg = () => {
      const r = getReg(parent, node)?.[0]
      if (!r) throw new PlatformError(`${node.name} has no reg`)
      return { base: Number(r.address), size: Number(r.size) }
    }
    const irq = () => getCells(node, 'interrupts')?.[0] ?? 0
    if (getString(node, 'device_type') === 'memory' && !memory) memory = reg()
    else if (compatibleWith(node, 'ns16550a') && !uart) uart = { base: reg().base, irq: irq() }
    else if (compatibleWith(node, 'virtio,mmio')) virtio.push({ base: reg().base, irq: irq() })
    else if (compatibleWith(node, 'sifive,test0') && !finisher) finisher = { base: reg().base }
    else if (compatibleWith(node, 'pci-host-ecam-generic') && !pcie) pcie = pcieOf(node, reg())
    else if (compatibleWith(node, 'riscv,plic0') || compatibleWith(node, 'sifive,plic-1.0.0')) {
      // interrupts-extended = (phandle, irq) per context, in context order (§2.4.1.1 of the PLIC binding).
      const ext = getCells(node, 'interrupts-extended') ?? []
      const sContext = new Map<number, number>()
      for (let i = 0; i + 1 < ext.length; i += 2) {
        const hart = intcHart.get(ext[i]!)
        if (hart !== undefined && ext[i + 1] === IRQ.SEI) sContext.set(hart, i / 2)
      }
      plic = { base: reg().base, sources: getU32(node, 'riscv,ndev') ?? 31, sContext }
    }
  }
  if (!memory) throw new PlatformError('the device tree has no memory node')
  virtio.sort((a, b) => a.base - b.base)
  const chosen = root.children.find((c) => c.name === 'chosen')
  return { harts, memory, timebase, uart, plic, virtio, bootargs: (chosen && getString(chosen, 'bootargs')) ?? '', finisher, dtbSize, ...(pcie ? { pcie } : {}) }
}

/**
 * A PCI host node (Linux `bindings/pci/host-generic-pci.yaml`): `ranges` entries are (3 PCI
 * address cells, 2 CPU cells, 2 size cells) with the space code in bits 24..25 of the first
 * (2: 32-bit memory); `interrupt-map` entries are (3 address cells, 1 pin, the parent's
 * phandle, 1 parent cell — the PLIC's #address-cells is 0 and #interrupt-cells 1).
 */
function pcieOf(node: FdtNode, ecam: { base: number; size: number }): NonNullable<Platform['pcie']> {
  const ranges = getCells(node, 'ranges') ?? []
  let mmio32: { base: number; size: number } | undefined
  for (let i = 0; i + 7 <= ranges.length; i += 7) {
    const [hi, , , cpuHi, cpuLo, sizeHi, sizeLo] = ranges.slice(i, i + 7) as [number, number, number, number, number, number, number]
    if (((hi >>> 24) & 3) === 2 && !mmio32) mmio32 = { base: cpuHi * 2 ** 32 + cpuLo, size: sizeHi * 2 ** 32 + sizeLo }
  }
  if (!mmio32) throw new PlatformError(`${node.name} has no 32-bit memory window in its ranges`)
  const map = getCells(node, 'interrupt-map') ?? []
  const intx = new Map<number, number>()
  for (let i = 0; i + 6 <= map.length; i += 6) intx.set((((map[i]! >>> 11) & 0x1f) << 3) | map[i + 3]!, map[i + 5]!)
  return { ecam, mmio32, intx }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    PlatformError: PlatformError
  }
}
