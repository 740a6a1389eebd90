/**
 * PCI/PCIe facts (PCI Local Bus 3.0 §6, PCIe Base 4.0 §7): the type-0 configuration header,
 * command/status bits, BAR flag bits, capability IDs and the ECAM address split. The device
 * models (`@honk/virtio`'s PCI host, virtio-pci, NVMe), the device tree and honk's kernel read them.
 */

/** Type-0 configuration header register offsets (bytes). */
export const PCI_CFG = {
  VendorId: 0x00,
  DeviceId: 0x02,
  Command: 0x04,
  Status: 0x06,
  RevisionId: 0x08,
  /** Programming interface, subclass, class: bytes 0x09..0x0b. */
  ClassProg: 0x09,
  CacheLineSize: 0x0c,
  LatencyTimer: 0x0d,
  HeaderType: 0x0e,
  Bar0: 0x10,
  SubsystemVendorId: 0x2c,
  SubsystemId: 0x2e,
  ExpansionRom: 0x30,
  CapabilitiesPointer: 0x34,
  InterruptLine: 0x3c,
  InterruptPin: 0x3d,
} as const

/** Command register bits. */
export const PCI_COMMAND = { IO: 1 << 0, MEMORY: 1 << 1, BUS_MASTER: 1 << 2, INTX_DISABLE: 1 << 10 } as const

/** Status register bits. */
export const PCI_STATUS = { INTERRUPT: 1 << 3, CAP_LIST: 1 << 4 } as const

/** Low bits of a BAR: I/O space, 64-bit memory, prefetchable. */
export const PCI_BAR = { IO: 1, MEM_TYPE_64: 0b100, PREFETCH: 0b1000 } as const

/** Capability IDs (PCI Code and ID Assignment §2). */
export const PCI_CAP = { PM: 0x01, MSI: 0x05, VENDOR: 0x09, EXP: 0x10, MSIX: 0x11 } as const

/** Vendor IDs this board uses: Red Hat's for virtio (0x1af4) and QEMU's own devices (0x1b36). */
export const PCI_VENDOR = { REDHAT_VIRTIO: 0x1af4, REDHAT_QEMU: 0x1b36 } as const

/** Bytes of configuration space per function (PCIe extended space). */
export const PCI_CONFIG_SIZE = 0x1000

/** ECAM (PCIe 4.0 §7.2.2): the config address of bus/device/function/register. */
export const ecamOffset = (bus: number, device: number, fn: number, reg = 0): number => bus * 0x10_0000 + device * 0x8000 + fn * 0x1000 + reg

/** The bus, device and function an ECAM offset addresses (and the register within). */
export const ecamDecode = (offset: number): { bus: number; device: number; fn: number; reg: number } => ({
  bus: Math.floor(offset / 0x10_0000) & 0xff,
  device: (offset >>> 15) & 0x1f,
  fn: (offset >>> 12) & 0x7,
  reg: offset & 0xfff,
})
