/**
 * @honk/kernel: honk's kernel, in TypeScript, driving a RISC-V `virt` machine at the HS level
 * through an {@link HsPort} (supervisor CSRs, MMIO, RAM, SBI calls, traps): device-tree
 * discovery, the PLIC and UART drivers, virtio-blk / 9p, the A/B core and KV storage bring-up,
 * and the shell. It imports no emulator: the machine (real or emulated) supplies the port.
 */
export * from './kernel.js'
export * from './hart-tasks.js'
export * from './line-editor.js'
export * from './platform.js'
export * from './plic.js'
export * from './port.js'
export * from './sbi.js'
export * from './services.js'
export * from './shell.js'
export * from './storage.js'
export * from './uart.js'
export * from './network.js'
export * from './display.js'
