/**
 * Numbers of the virtio 1.2 specification used by both sides (device and driver).
 */

/** "virt" in little-endian ASCII (§4.2.2). */
export const VIRTIO_MMIO_MAGIC = 0x74726976
/** The only MMIO version offered: 2 (virtio 1.x). Legacy (1) is not implemented. */
export const VIRTIO_MMIO_VERSION = 2
/** "HONK" in little-endian ASCII: the default VendorID (see docs/RATIONALE.md). */
export const VIRTIO_VENDOR_HONK = 0x4b4e4f48
/** "QEMU" in little-endian ASCII, for hosts that want to look like QEMU's virt board. */
export const VIRTIO_VENDOR_QEMU = 0x554d4551

/** Register offsets of virtio over MMIO (§4.2.2, table "MMIO Device Register Layout"). */
export const MMIO = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  QueueReset: 0x0c0,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const

/** Device status bits (§2.1). */
export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const

/** InterruptStatus bits (§4.2.2). */
export const INTERRUPT = {
  /** Used Buffer Notification. */
  USED_BUFFER: 1,
  /** Configuration Change Notification. */
  CONFIG_CHANGE: 2,
} as const

/** Reserved (transport) feature bits (§6). */
export const FEATURE = {
  RING_INDIRECT_DESC: 1n << 28n,
  RING_EVENT_IDX: 1n << 29n,
  VERSION_1: 1n << 32n,
  ACCESS_PLATFORM: 1n << 33n,
  RING_PACKED: 1n << 34n,
  IN_ORDER: 1n << 35n,
  ORDER_PLATFORM: 1n << 36n,
  SR_IOV: 1n << 37n,
  NOTIFICATION_DATA: 1n << 38n,
  NOTIF_CONFIG_DATA: 1n << 39n,
  RING_RESET: 1n << 40n,
} as const

/** Device IDs (§5). */
export const DEVICE_ID = {
  NET: 1,
  BLOCK: 2,
  CONSOLE: 3,
  ENTROPY: 4,
  P9: 9,
  GPU: 16,
  INPUT: 18,
} as const

/** Split virtqueue descriptor flags (§2.7.5). */
export const VIRTQ_DESC_F = { NEXT: 1, WRITE: 2, INDIRECT: 4 } as const
/** virtq_avail.flags (§2.7.6). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1
/** virtq_used.flags (§2.7.8). */
export const VIRTQ_USED_F_NO_NOTIFY = 1
/** The largest split queue (§2.7). */
export const VIRTQ_MAX_SIZE = 32768

/** Byte sizes of the split-ring parts for a queue of `size` entries (§2.7, with EVENT_IDX fields). */
export function splitRingSizes(size: number): { desc: number; avail: number; used: number } {
  return { desc: 16 * size, avail: 6 + 2 * size, used: 6 + 8 * size }
}

/** `vring_need_event` (§2.7.10): has `newIdx` moved past `event` since `oldIdx`? (16-bit wrap) */
export function needEvent(event: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff)
}
