/**
 * The honk `virt` board (DESIGN §3), a copy of QEMU's `virt` machine: where each device sits,
 * which interrupt it raises, and the values its SiFive test device understands. The bus that
 * maps the devices, the device tree that describes them and the tests all read these.
 *
 *   0x0010_0000 sifive test/syscon      0x0c00_0000 PLIC (M + S context per hart)
 *   0x0010_1000 goldfish RTC (IRQ 11)   0x1000_0000 ns16550a UART (IRQ 10)
 *   0x0200_0000 CLINT                   0x1000_1000 + 0x1000·i  virtio-mmio slot i (IRQ 1+i)
 *   0x0300_0000 PCIe I/O window (64 KiB) 0x3000_0000 PCIe ECAM (buses 0..255)
 *   0x4000_0000 PCIe 32-bit MMIO window  0x4_0000_0000 PCIe 64-bit MMIO window (16 GiB)
 *   0x8000_0000 RAM
 */
import { IRQ } from './csr.js'

/** The board's fixed physical map (byte addresses and sizes; matches QEMU virt). */
export const VIRT_MAP = {
  test: { base: 0x10_0000, size: 0x1000 },
  rtc: { base: 0x10_1000, size: 0x1000 },
  clint: { base: 0x200_0000, size: 0x1_0000 },
  /** QEMU sizes the PLIC for its 512-hart maximum (2 contexts per hart): 0x200000 + 1024 × 0x1000. */
  plic: { base: 0xc00_0000, size: 0x60_0000 },
  uart: { base: 0x1000_0000, size: 0x100 },
  /** virtio-mmio slot i at `base + i·stride`, `count` slots. */
  virtio: { base: 0x1000_1000, size: 0x1000, stride: 0x1000, count: 8 },
  ram: { base: 0x8000_0000 },
  /** PCIe (QEMU virt's generic ECAM host, `pci-host-ecam-generic`): config space, 1 MiB per bus. */
  pcieEcam: { base: 0x3000_0000, size: 0x1000_0000 },
  /** PCIe I/O port window: port 0 at this CPU address. */
  pciePio: { base: 0x300_0000, size: 0x1_0000 },
  /** PCIe 32-bit memory window, identity-mapped (PCI address = CPU address). */
  pcieMmio: { base: 0x4000_0000, size: 0x4000_0000 },
  /** PCIe 64-bit (prefetchable) memory window, identity-mapped. */
  pcieMmioHigh: { base: 0x4_0000_0000, size: 0x4_0000_0000 },
} as const

/** Interrupt source numbers on the PLIC: virtio slot i raises `virtio0 + i`. */
export const VIRT_IRQ = { virtio0: 1, uart: 10, rtc: 11, pcieIntA: 32 } as const

/** QEMU virt's four PCIe INTx lines: INTA..INTD raise PLIC sources 32..35. */
export const VIRT_PCIE_INTX_COUNT = 4

/**
 * The PLIC source a PCI device in `slot` (device number on bus 0) raises on its interrupt pin
 * `pin` (1 = INTA .. 4 = INTD): the standard swizzle (PCI-to-PCI Bridge spec §9.1, QEMU virt's
 * `interrupt-map`): (slot + pin - 1) mod 4 picks the host's INTx line.
 */
export const pcieIntxIrq = (slot: number, pin: number): number => VIRT_IRQ.pcieIntA + ((slot + pin - 1) % VIRT_PCIE_INTX_COUNT)

/** The CLINT's `mtime` rate (the device tree's `timebase-frequency`): 10 MHz, 100 ns per tick. */
export const VIRT_TIMEBASE_HZ = 10_000_000

/** The base address of virtio-mmio slot `slot`. */
export const virtioSlotBase = (slot: number): number => VIRT_MAP.virtio.base + slot * VIRT_MAP.virtio.stride

/**
 * The local interrupts the CLINT drives on each hart, in the order of its
 * `interrupts-extended` (machine software, machine timer).
 */
export const VIRT_CLINT_IRQS = [IRQ.MSI, IRQ.MTI] as const

/**
 * The local interrupt each PLIC context of a hart raises: context 2h is hart h's machine-level
 * external interrupt, context 2h+1 its supervisor-level one (QEMU virt's order, and the order of
 * the PLIC's `interrupts-extended`).
 */
export const VIRT_PLIC_CONTEXT_IRQS = [IRQ.MEI, IRQ.SEI] as const

/**
 * What the SiFive test device ("sifive,test0", offset 0) does with a written value: PASS powers
 * off (also Linux's syscon-poweroff value), FAIL | code << 16 ends with a failure `code` (QEMU
 * exits with it), RESET reboots (syscon-reboot's value).
 */
export const FINISHER = { FAIL: 0x3333, PASS: 0x5555, RESET: 0x7777 } as const
