/**
 * The rules both virtio transports (MMIO §4.2, PCI §4.1) apply the same way: which features a
 * device offers on top of its own, when FEATURES_OK and DRIVER_OK may stick, and what makes a
 * split queue's configuration unusable.
 */
import { FEATURE, STATUS, splitRingSizes } from './constants.js'
import type { GuestMemory } from './memory.js'

/** Ring features every device gets, on top of VIRTIO_F_VERSION_1. */
export const TRANSPORT_FEATURES = FEATURE.VERSION_1 | FEATURE.RING_INDIRECT_DESC | FEATURE.RING_EVENT_IDX

/**
 * A driver's write of the device status `v` (non-zero; 0 is a reset), given the status `before`:
 * the status that sticks and, if a bit was refused, why (§2.2.2: only offered features, VERSION_1
 * required — no legacy; §3.1.1: DRIVER_OK needs FEATURES_OK). DEVICE_NEEDS_RESET stays the device's.
 */
export function nextStatus(before: number, v: number, driverFeatures: bigint, offered: bigint): { status: number; problem?: string } {
  let problem: string | undefined
  if (v & STATUS.FEATURES_OK && !(before & STATUS.FEATURES_OK)) {
    const extra = driverFeatures & ~offered
    if (extra !== 0n || !(driverFeatures & FEATURE.VERSION_1)) {
      v &= ~STATUS.FEATURES_OK
      problem = extra !== 0n ? `driver accepted features 0x${extra.toString(16)} that were not offered` : 'driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)'
    }
  }
  if (v & STATUS.DRIVER_OK && !((before | v) & STATUS.FEATURES_OK)) {
    v &= ~STATUS.DRIVER_OK
    problem ??= 'DRIVER_OK without FEATURES_OK'
  }
  return { status: (v & ~STATUS.DEVICE_NEEDS_RESET) | (before & STATUS.DEVICE_NEEDS_RESET), ...(problem !== undefined ? { problem } : {}) }
}

const overlaps = (a: number, alen: number, b: number, blen: number) => a < b + blen && b < a + alen

/** Why a queue of `size` entries (at most `max`) with these ring addresses cannot be enabled, or undefined (§2.7, §4.2.3.2). */
export function queueProblem(size: number, max: number, desc: number, driver: number, device: number, memory: GuestMemory): string | undefined {
  if (size < 1 || size > max || (size & (size - 1)) !== 0) return `queue size ${size} is not a power of 2 in 1..${max}`
  const sizes = splitRingSizes(size)
  if (desc % 16 || driver % 2 || device % 4) return 'misaligned ring (descriptors 16, driver area 2, device area 4)'
  if (!memory.contains(desc, sizes.desc)) return `descriptor table [0x${desc.toString(16)}, +${sizes.desc}) is not in RAM`
  if (!memory.contains(driver, sizes.avail)) return `driver area [0x${driver.toString(16)}, +${sizes.avail}) is not in RAM`
  if (!memory.contains(device, sizes.used)) return `device area [0x${device.toString(16)}, +${sizes.used}) is not in RAM`
  if (overlaps(desc, sizes.desc, device, sizes.used) || overlaps(driver, sizes.avail, device, sizes.used)) return 'the device area overlaps the descriptor table or driver area'
  return undefined
}
