/**
 * Guest RAM: a region of host memory that the G stage maps at guest-physical `base`. Every
 * guest-supplied pointer goes through {@link guestRange} (or {@link GuestRam.contains}) before a
 * byte is touched.
 */
import type { GuestMemory } from '@honk/virtio'

/**
 * The Go honk's `GuestRange`: `[gpa, gpa + len)` as offsets into guest RAM of `ramSize` bytes at
 * `base`, or undefined when any byte lies outside it (below base, past the end, or a length that
 * overflows). A length of 0 is always in range and gives (0, 0).
 */
export function guestRange(gpa: bigint, len: bigint, base: bigint, ramSize: bigint): { start: number; end: number } | undefined {
  if (len === 0n) return { start: 0, end: 0 }
  if (len < 0n || gpa < base) return undefined
  const start = gpa - base
  const end = start + len
  // bigint arithmetic cannot wrap: a guest's 2^64 - 1 length is simply past the end.
  if (end > ramSize || start >= ramSize) return undefined
  return { start: Number(start), end: Number(end) }
}

/**
 * Guest RAM addressed by guest-physical address. It is also the `GuestMemory` (the DMA view) that
 * `@honk/virtio` device models take: a device model plugged into a VM reads and writes the guest's
 * RAM through it, bounds-checked, with no change to the model.
 */
export class GuestRam implements GuestMemory {
  readonly size: number
  readonly end: number
  private readonly view: DataView

  /** `bytes` is the host memory backing guest-physical `[base, base + bytes.length)`. */
  constructor(
    readonly bytes: Uint8Array,
    readonly base: number,
  ) {
    this.size = bytes.length
    this.end = base + bytes.length
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  contains(addr: number, length: number): boolean {
    return Number.isSafeInteger(addr) && Number.isSafeInteger(length) && length >= 0 && addr >= this.base && addr + length <= this.end
  }

  read(addr: number, dst: Uint8Array): boolean {
    if (!this.contains(addr, dst.length)) return false
    const o = addr - this.base
    dst.set(this.bytes.subarray(o, o + dst.length))
    return true
  }

  write(addr: number, src: Uint8Array): boolean {
    if (!this.contains(addr, src.length)) return false
    this.bytes.set(src, addr - this.base)
    return true
  }

  /** A little-endian value of 1, 2, 4 or 8 bytes at `gpa`, or undefined outside RAM. */
  load(gpa: bigint, size: 1 | 2 | 4 | 8): bigint | undefined {
    if (gpa < BigInt(this.base) || gpa + BigInt(size) > BigInt(this.end)) return undefined
    const o = Number(gpa) - this.base
    switch (size) {
      case 1:
        return BigInt(this.bytes[o]!)
      case 2:
        return BigInt(this.view.getUint16(o, true))
      case 4:
        return BigInt(this.view.getUint32(o, true))
      default:
        return this.view.getBigUint64(o, true)
    }
  }

  /** Stores the low `size` bytes of `value` at `gpa`; false (nothing written) outside RAM. */
  store(gpa: bigint, size: 1 | 2 | 4 | 8, value: bigint): boolean {
    if (gpa < BigInt(this.base) || gpa + BigInt(size) > BigInt(this.end)) return false
    const o = Number(gpa) - this.base
    const v = BigInt.asUintN(64, value)
    switch (size) {
      case 1:
        this.bytes[o] = Number(v & 0xffn)
        break
      case 2:
        this.view.setUint16(o, Number(v & 0xffffn), true)
        break
      case 4:
        this.view.setUint32(o, Number(v & 0xffff_ffffn), true)
        break
      default:
        this.view.setBigUint64(o, v, true)
    }
    return true
  }
}
