/**
 * The Linux boot protocol for a RISC-V guest (Linux `Documentation/riscv/boot-image-header.rst`
 * and `boot.rst`): the `Image` header, where the kernel, the initrd and the device tree go in
 * guest RAM, and the registers at entry (a0 = hartid, a1 = the device tree's guest-physical address,
 * VS-mode, paging off).
 */
import { VIRT_MAP, VIRT_TIMEBASE_HZ } from '@honk/riscv'
import { DEFAULT_ISA, buildFdt, withoutExtension, node, prop, splitIsa, type FdtNode, type PropInit } from '@honk/sbi'
import { MEGAPAGE_SIZE, PAGE_SIZE } from './constants.js'
import { VmError } from './errors.js'
import type { HonkError } from '@honk/errors'
import { VirtioMmio, type VirtioDevice } from '@honk/virtio'
import { VM, type GuestConsole, type HostRegion } from './vm.js'
import { VirtualPlic } from './vplic.js'

/** The 64-byte header at the start of a RISC-V `Image`. */
export interface LinuxImageHeader {
  /** Where the image goes, as an offset from the start of RAM (2 MiB on RV64). */
  readonly textOffset: bigint
  /** The kernel's whole footprint in memory, bss included (0 for old images: use the file size). */
  readonly imageSize: bigint
  readonly flags: bigint
  /** Header version (major << 16 | minor). */
  readonly version: number
}

const MAGIC = 0x5643_5349_52n // "RISCV\0\0\0" little-endian, at offset 48
const MAGIC2 = 0x0543_5352 // "RSC\x05" little-endian (R=0x52 S=0x53 C=0x43), at offset 56

/** Parses and checks the header of a RISC-V Linux `Image`; `VM_BAD_IMAGE` if it is not one. */
export function parseLinuxImage(image: Uint8Array): LinuxImageHeader {
  if (image.length < 64) throw new VmError('VM_BAD_IMAGE', `a Linux Image has a 64-byte header; this file has ${image.length} bytes`)
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength)
  const magic = v.getBigUint64(48, true)
  const magic2 = v.getUint32(56, true)
  if (magic !== MAGIC && magic2 !== MAGIC2)
    throw new VmError('VM_BAD_IMAGE', `no RISC-V Image magic ("RISCV" at 48 or "RSC\\x05" at 56): found 0x${magic.toString(16)} / 0x${magic2.toString(16)}`)
  const textOffset = v.getBigUint64(8, true)
  const imageSize = v.getBigUint64(16, true)
  if (textOffset % BigInt(PAGE_SIZE) !== 0n || textOffset > 1n << 30n) throw new VmError('VM_BAD_IMAGE', `text_offset 0x${textOffset.toString(16)} is not a page-aligned offset below 1 GiB`)
  if (imageSize > 1n << 32n) throw new VmError('VM_BAD_IMAGE', `image_size 0x${imageSize.toString(16)} is absurd`)
  return { textOffset, imageSize, flags: v.getBigUint64(24, true), version: v.getUint32(32, true) }
}

/** A device the guest's device tree lists. */
export type GuestDeviceNode =
  | { readonly kind: 'virtio-mmio'; readonly base: number; readonly irq: number }
  | { readonly kind: 'ns16550a'; readonly base: number; readonly irq: number; readonly clock?: number }
  | { readonly kind: 'plic'; readonly base: number; readonly sources: number }

export interface GuestTreeConfig {
  readonly vcpus: number
  readonly ramBase: number
  readonly ramSize: number
  readonly bootargs?: string
  readonly initrd?: { readonly start: number; readonly end: number }
  readonly devices?: readonly GuestDeviceNode[]
  /** `riscv,isa` (default {@link GUEST_ISA}). */
  readonly isa?: string
  /** Default `riscv,sv48`. */
  readonly mmuType?: string
  readonly timebase?: number
  readonly stdoutPath?: string
}

const hex = (v: number): string => v.toString(16)
const reg = (base: number, size: number): Uint8Array => prop.wide([BigInt(base), BigInt(size)])

/**
 * The guest's device tree: its vCPUs (each with a `riscv,cpu-intc`), its RAM, `/chosen` (bootargs,
 * initrd) and only the devices the VM really has — a node for a device that is not there would
 * make the guest touch an address nothing answers, which ends it.
 */
/**
 * A guest's default `riscv,isa`: the hart's ({@link DEFAULT_ISA}) without Sstc — the VMM leaves
 * henvcfg.STCE clear (a guest's `stimecmp` would raise a virtual-instruction exception), so its
 * guests set their timer through SBI, which the VMM serves.
 */
export const GUEST_ISA = withoutExtension(DEFAULT_ISA, 'sstc')

export function guestDeviceTree(c: GuestTreeConfig): FdtNode {
  if (!Number.isInteger(c.vcpus) || c.vcpus < 1) throw new VmError('VM_CONFIG', `${c.vcpus} vCPUs in a device tree`)
  const isa = c.isa ?? GUEST_ISA
  const { base: isaBase, extensions } = splitIsa(isa)
  const cpuPh = (i: number): number => 1 + 2 * i
  const intcPh = (i: number): number => 2 + 2 * i
  const plicPh = 2 * c.vcpus + 1
  const cpus = node('cpus', { '#address-cells': 1, '#size-cells': 0, 'timebase-frequency': c.timebase ?? VIRT_TIMEBASE_HZ }, [
    ...Array.from({ length: c.vcpus }, (_, i) =>
      node(`cpu@${hex(i)}`, { device_type: 'cpu', reg: i, status: 'okay', compatible: 'riscv', 'riscv,isa': isa, 'riscv,isa-base': isaBase, 'riscv,isa-extensions': extensions, 'mmu-type': c.mmuType ?? 'riscv,sv48', phandle: cpuPh(i) }, [
        node('interrupt-controller', { '#interrupt-cells': 1, 'interrupt-controller': true, compatible: 'riscv,cpu-intc', phandle: intcPh(i) }),
      ]),
    ),
  ])
  const chosen: [string, PropInit][] = []
  if (c.bootargs !== undefined) chosen.push(['bootargs', c.bootargs])
  if (c.stdoutPath !== undefined) chosen.push(['stdout-path', c.stdoutPath])
  if (c.initrd) chosen.push(['linux,initrd-start', BigInt(c.initrd.start)], ['linux,initrd-end', BigInt(c.initrd.end)])
  const socChildren: FdtNode[] = []
  for (const d of c.devices ?? []) {
    switch (d.kind) {
      case 'plic':
        socChildren.push(
          node(`plic@${hex(d.base)}`, {
            compatible: ['sifive,plic-1.0.0', 'riscv,plic0'],
            reg: reg(d.base, 0x400_0000),
            '#address-cells': 0,
            '#interrupt-cells': 1,
            'interrupt-controller': true,
            'riscv,ndev': d.sources,
            // Context i is vCPU i's supervisor external interrupt (9).
            'interrupts-extended': Array.from({ length: c.vcpus }, (_, i) => [intcPh(i), 9]).flat(),
            phandle: plicPh,
          }),
        )
        break
      case 'virtio-mmio':
        socChildren.push(node(`virtio_mmio@${hex(d.base)}`, { compatible: 'virtio,mmio', reg: reg(d.base, 0x1000), interrupts: d.irq, 'interrupt-parent': plicPh }))
        break
      case 'ns16550a':
        socChildren.push(node(`serial@${hex(d.base)}`, { compatible: 'ns16550a', reg: reg(d.base, 0x100), 'clock-frequency': d.clock ?? 3_686_400, interrupts: d.irq, 'interrupt-parent': plicPh }))
        break
    }
  }
  return node('', { '#address-cells': 2, '#size-cells': 2, compatible: 'riscv-virtio', model: 'honk guest' }, [
    node('chosen', chosen),
    node(`memory@${hex(c.ramBase)}`, { device_type: 'memory', reg: reg(c.ramBase, c.ramSize) }),
    cpus,
    node('soc', { '#address-cells': 2, '#size-cells': 2, compatible: 'simple-bus', ranges: true }, socChildren),
  ])
}

/** Where a Linux boot put things (guest-physical). */
export interface LinuxLayout {
  readonly entry: number
  readonly kernelEnd: number
  readonly dtb: number
  readonly initrd?: { readonly start: number; readonly end: number }
}

export interface LinuxBootOptions {
  readonly image: Uint8Array
  readonly initrd?: Uint8Array
  readonly bootargs?: string
  readonly devices?: readonly GuestDeviceNode[]
  readonly isa?: string
  readonly stdoutPath?: string
}

const alignDown = (v: number, a: number): number => Math.floor(v / a) * a

/**
 * Loads a Linux `Image` into `vm` at RAM + text_offset, the device tree at the top of RAM (2 MiB-
 * aligned, as QEMU), the initrd just below it, and points vCPU 0 at the kernel with a0 = 0 and
 * a1 = the device tree. Everything is checked against RAM and against each other first.
 */
export function bootLinux(vm: VM, o: LinuxBootOptions): LinuxLayout {
  const h = parseLinuxImage(o.image)
  const base = vm.guestBase
  const ramEnd = vm.ram.end
  const entry = base + Number(h.textOffset)
  const footprint = Math.max(o.image.length, Number(h.imageSize))
  const kernelEnd = entry + footprint
  if (kernelEnd > ramEnd) throw new VmError('VM_TOO_LARGE', `the kernel needs 0x${hex(footprint)} bytes at 0x${hex(entry)}; guest RAM ends at 0x${hex(ramEnd)}`)
  // The tree's size does not depend on where the initrd goes (fixed-width cells): build once to size it.
  const tree = (initrd?: { start: number; end: number }): Uint8Array =>
    buildFdt(guestDeviceTree({ vcpus: vm.vcpus.length, ramBase: base, ramSize: vm.ram.size, ...(o.bootargs !== undefined ? { bootargs: o.bootargs } : {}), ...(initrd ? { initrd } : {}), ...(o.devices ? { devices: o.devices } : {}), ...(o.isa ? { isa: o.isa } : {}), ...(o.stdoutPath ? { stdoutPath: o.stdoutPath } : {}) }))
  const probe = tree(o.initrd ? { start: 0, end: 0 } : undefined)
  const dtb = alignDown(ramEnd - probe.length, MEGAPAGE_SIZE)
  let initrd: { start: number; end: number } | undefined
  if (o.initrd) {
    const start = alignDown(dtb - o.initrd.length, PAGE_SIZE)
    initrd = { start, end: start + o.initrd.length }
  }
  const lowest = initrd?.start ?? dtb
  if (lowest < kernelEnd) throw new VmError('VM_TOO_LARGE', `kernel (to 0x${hex(kernelEnd)}), initrd and device tree (from 0x${hex(lowest)}) do not fit ${vm.ram.size} bytes of guest RAM`)
  vm.load(entry, o.image)
  if (o.initrd && initrd) vm.load(initrd.start, o.initrd)
  vm.load(dtb, tree(initrd))
  const cpu = vm.vcpus[0]!
  cpu.pc = entry
  cpu.setX(10, 0n)
  cpu.setX(11, BigInt(dtb))
  return initrd ? { entry, kernelEnd, dtb, initrd } : { entry, kernelEnd, dtb }
}

/** Where {@link linuxVm} puts the virtual PLIC and the virtio-mmio slots (QEMU virt's addresses). */
export const LINUX_VM_PLIC = VIRT_MAP.plic.base
export const LINUX_VM_VIRTIO = VIRT_MAP.virtio.base

export interface LinuxVmOptions {
  readonly host: HostRegion
  readonly ramSize: number
  readonly vcpus?: number
  readonly console: GuestConsole
  readonly image: Uint8Array
  readonly initrd?: Uint8Array
  /** Default `console=hvc0` (the SBI console: no UART to emulate). */
  readonly bootargs?: string
  /** `@honk/virtio` device models, unchanged: slot i at 0x1000_1000 + 0x1000·i, PLIC source 1 + i. */
  readonly devices?: readonly VirtioDevice[]
  /** For guest-caused device problems (bad descriptors): logs. */
  readonly onDeviceError?: (e: HonkError) => void
}

/**
 * A VM ready to boot Linux: a virtual PLIC (one S context per vCPU), the device models on
 * virtio-mmio over guest RAM, the device tree listing exactly those, the kernel, initrd and tree
 * loaded. Run it with `runVmAsync` (device backends answer asynchronously).
 */
export function linuxVm(o: LinuxVmOptions): { vm: VM; plic: VirtualPlic; layout: LinuxLayout } {
  const vm = new VM({ host: o.host, ramSize: o.ramSize, vcpus: o.vcpus ?? 1, console: o.console })
  const plic = new VirtualPlic(vm.vcpus.length, 31, () => vm.interruptRaised())
  vm.map(LINUX_VM_PLIC, plic)
  vm.useInterruptController(plic)
  const devices = o.devices ?? []
  devices.forEach((d, i) => vm.map(LINUX_VM_VIRTIO + 0x1000 * i, new VirtioMmio(d, { memory: vm.ram, irq: plic.line(1 + i), ...(o.onDeviceError ? { onError: o.onDeviceError } : {}) })))
  const layout = bootLinux(vm, {
    image: o.image,
    ...(o.initrd ? { initrd: o.initrd } : {}),
    bootargs: o.bootargs ?? 'console=hvc0',
    devices: [{ kind: 'plic', base: LINUX_VM_PLIC, sources: plic.sources }, ...devices.map((_, i) => ({ kind: 'virtio-mmio' as const, base: LINUX_VM_VIRTIO + 0x1000 * i, irq: 1 + i }))],
  })
  return { vm, plic, layout }
}
