/**
 * The contract between a bus and a memory-mapped device: what an emulated bus (`@honk/rv64`)
 * maps, what device models (`@honk/virtio`) implement and what a driver's port (`@honk/kernel`)
 * accesses. Types only.
 */

/** The width in bytes of one access. */
export type AccessSize = 1 | 2 | 4 | 8

/**
 * A memory-mapped device. Offsets are relative to its base; values are little-endian and
 * zero-extended in a bigint. A device never throws for a guest-caused access (a bad offset
 * reads 0 and ignores writes): guest mistakes are not host errors.
 */
export interface MmioDevice {
  readonly name: string
  /** Bytes of address space it decodes. */
  readonly size: number
  read(offset: number, size: AccessSize): bigint
  write(offset: number, size: AccessSize, value: bigint): void
}
