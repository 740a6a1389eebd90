/**
 * Placing a boot payload in the machine's RAM the way QEMU's virt board does:
 * firmware at the start of RAM, the kernel (or U-Boot) at RAM + 2 MiB (a Linux RISC-V `Image`
 * asks for that with its text_offset; an ELF goes where its segments say), the initramfs at
 * RAM + min(RAM/2, 128 MiB), the device tree in the last 2 MiB-aligned block below the end.
 */
import { VIRT_MAP } from '@honk/riscv'
import { HonkError } from '@honk/errors'
import { loadElf } from '@honk/rv64'
import type { VirtMachine } from './board.js'

export class BootError extends HonkError<'BOOT_ERROR'> {
  constructor(message: string) {
    super('BOOT_ERROR', message)
    this.name = 'BootError'
  }
}

export interface BootImages {
  /** M-mode firmware (OpenSBI `fw_jump.bin`), for `bios: 'firmware'`. */
  firmware?: Uint8Array
  /** The payload: a Linux `Image`, U-Boot's `u-boot.bin`, or an ELF. */
  kernel: Uint8Array
  initrd?: Uint8Array
}

export interface BootLayout {
  entry: number
  kernel: { start: number; end: number }
  initrd?: { start: number; end: number }
  dtb: number
}

const MiB = 1 << 20
const KERNEL_OFFSET = 2 * MiB

const isElf = (b: Uint8Array) => b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46

/**
 * Linux RISC-V Image header (Documentation/riscv/boot-image-header.rst): magic "RISCV\0\0\0" at
 * 0x30 (deprecated) and "RSC\x05" at 0x38, text_offset at 0x08, image_size at 0x10.
 */
export function linuxImageHeader(b: Uint8Array): { textOffset: number; imageSize: number } | undefined {
  if (b.length < 0x40) return undefined
  const magic2 = String.fromCharCode(b[0x38]!, b[0x39]!, b[0x3a]!) + (b[0x3b] === 5 ? '\x05' : '')
  if (magic2 !== 'RSC\x05') return undefined
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  return { textOffset: Number(v.getBigUint64(0x08, true)), imageSize: Number(v.getBigUint64(0x10, true)) }
}

/** Loads the images into the machine's RAM, builds the device tree, and resets the harts to boot. */
export function boot(machine: VirtMachine, images: BootImages): BootLayout {
  const ram = machine.bus.ram
  const ramSize = ram.length
  const put = (what: string, addr: number, bytes: Uint8Array) => {
    const o = addr - VIRT_MAP.ram.base
    if (o < 0 || o + bytes.length > ramSize) throw new BootError(`${what} (${bytes.length} bytes at 0x${addr.toString(16)}) does not fit in ${ramSize >> 20} MiB of RAM`)
    ram.set(bytes, o)
  }
  const bios = machine.config.bios
  if (bios === 'firmware') {
    if (!images.firmware) throw new BootError('bios "firmware" needs a firmware image (e.g. OpenSBI fw_jump.bin)')
    put('firmware', VIRT_MAP.ram.base, images.firmware)
  }

  let entry: number
  let kernel: { start: number; end: number }
  if (isElf(images.kernel)) {
    const loaded = loadElf(machine.bus, images.kernel)
    entry = Number(loaded.entry)
    kernel = { start: entry, end: entry }
    if (bios === 'firmware') throw new BootError('an ELF payload under real firmware is not supported: give a raw image to load at RAM + 2 MiB')
  } else {
    const header = linuxImageHeader(images.kernel)
    const start = bios === 'none' ? VIRT_MAP.ram.base : VIRT_MAP.ram.base + (header?.textOffset || KERNEL_OFFSET)
    const size = Math.max(images.kernel.length, header?.imageSize ?? 0)
    put('kernel', start, images.kernel)
    entry = start
    kernel = { start, end: start + size }
  }

  let initrd: { start: number; end: number } | undefined
  if (images.initrd) {
    const start = VIRT_MAP.ram.base + Math.min(ramSize / 2, 128 * MiB)
    if (start < kernel.end) throw new BootError(`the initrd at 0x${start.toString(16)} would overlap the kernel, which ends at 0x${kernel.end.toString(16)}`)
    put('initrd', start, images.initrd)
    initrd = { start, end: start + images.initrd.length }
  }

  const dtb = machine.deviceTree(initrd)
  const dtbAddr = VIRT_MAP.ram.base + ramSize - 2 * MiB
  if (dtb.length > 2 * MiB) throw new BootError(`device tree of ${dtb.length} bytes is too large`)
  if (initrd && initrd.end > dtbAddr) throw new BootError(`the initrd (${images.initrd!.length} bytes) reaches the device tree at 0x${dtbAddr.toString(16)}: give the machine more memory`)
  put('device tree', dtbAddr, dtb)

  const start = bios === 'firmware' ? VIRT_MAP.ram.base : entry
  machine.reset(start, dtbAddr)
  return { entry: start, kernel, ...(initrd ? { initrd } : {}), dtb: dtbAddr }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    BootError: BootError
  }
}
