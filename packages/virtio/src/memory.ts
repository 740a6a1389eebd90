/**
 * What a device needs of the machine: DMA into guest-physical memory and an interrupt line.
 */

/**
 * Guest-physical memory as a DMA engine sees it. Addresses are guest-physical byte addresses
 * (JS numbers: every RAM address of the machine is a safe integer). Every access is
 * bounds-checked: a range that is not wholly RAM makes the call return `false` and touches
 * nothing — a guest's bad address is reported, never thrown.
 */
export interface GuestMemory {
  /** True when `[addr, addr + length)` is wholly inside guest RAM. */
  contains(addr: number, length: number): boolean
  /** Copies `dst.length` bytes from `addr` into `dst`; false (and `dst` untouched) if not RAM. */
  read(addr: number, dst: Uint8Array): boolean
  /** Copies `src` to `addr`; false (and nothing written) if the range is not RAM. */
  write(addr: number, src: Uint8Array): boolean
}

/**
 * An interrupt line into the interrupt controller (the machine wires it to a PLIC source).
 * Level-triggered: a device holds it high while it has an unacknowledged interrupt.
 */
export interface IrqLine {
  set(level: boolean): void
}

/** A line to nowhere, for devices used without an interrupt controller. */
export const noIrq: IrqLine = { set() {} }

/** {@link GuestMemory} over one contiguous RAM array that starts at guest-physical `base`. */
export class RamGuestMemory implements GuestMemory {
  readonly end: number
  constructor(
    readonly ram: Uint8Array,
    readonly base: number,
  ) {
    this.end = base + ram.length
  }

  contains(addr: number, length: number): boolean {
    // Integers only (a NaN or fraction from a corrupt descriptor fails every comparison here).
    return Number.isSafeInteger(addr) && Number.isSafeInteger(length) && length >= 0 && addr >= this.base && addr + length <= this.end
  }

  read(addr: number, dst: Uint8Array): boolean {
    if (!this.contains(addr, dst.length)) return false
    const o = addr - this.base
    dst.set(this.ram.subarray(o, o + dst.length))
    return true
  }

  write(addr: number, src: Uint8Array): boolean {
    if (!this.contains(addr, src.length)) return false
    this.ram.set(src, addr - this.base)
    return true
  }
}

/**
 * DMA into the RAM of an `@honk/rv64` `Bus` (any object with `ram` and `ramBase`). Devices
 * mapped over RAM are not DMA targets: a device only ever reads and writes plain RAM.
 */
export function busMemory(bus: { readonly ram: Uint8Array; readonly ramBase: number }): RamGuestMemory {
  return new RamGuestMemory(bus.ram, bus.ramBase)
}
