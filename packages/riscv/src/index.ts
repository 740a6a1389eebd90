/**
 * The facts of a RISC-V machine, each written once, for the emulator, the firmware, the device
 * tree, the kernel and the tests alike: CSR addresses, status fields, interrupt and exception
 * codes (privileged spec 1.12), SBI extension and function IDs and error codes (SBI v2.0), the
 * PLIC's register layout, and the QEMU `virt` board's memory map and interrupt lines. Data and
 * tiny pure helpers only: no dependencies, runs in a browser.
 *
 * @example
 * ```ts
 * import { BASE_FID, CSR, EID, IRQ, VIRT_MAP, irqMask } from '@honk/riscv'
 * port.csrWrite(hart, CSR.sie, irqMask(IRQ.SEI) | irqMask(IRQ.SSI))
 * port.sbi(hart, EID.BASE, BASE_FID.GET_SPEC_VERSION)
 * bus.map(VIRT_MAP.uart.base, uart)
 * ```
 * @packageDocumentation
 */
export * from './csr.js'
export * from './mmio.js'
export * from './pci.js'
export * from './plic.js'
export * from './sbi.js'
export * from './virt.js'
