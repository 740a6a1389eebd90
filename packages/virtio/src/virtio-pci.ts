/**
 * virtio over PCI, the modern transport only (virtio 1.2 §4.1): a PCI function whose vendor
 * capabilities point at the common configuration, notification, ISR and device configuration
 * structures in BAR 4 (64-bit, prefetchable, 16 KiB, QEMU's layout), an MSI-X table in BAR 1, and
 * the VIRTIO_PCI_CAP_PCI_CFG window. The same {@link VirtioDevice} models as over MMIO.
 */
import type { HonkError } from '@honk/errors'
import { PCI_CAP, PCI_VENDOR, type AccessSize, type MmioDevice } from '@honk/riscv'
import { FEATURE, INTERRUPT, STATUS, VIRTQ_MAX_SIZE } from './constants.js'
import type { VirtioContext, VirtioDevice } from './device.js'
import { VirtioConfigError, VirtqueueError } from './errors.js'
import type { GuestMemory } from './memory.js'
import { MsixTable, PciFunction, addMsixCapability } from './pci.js'
import { TRANSPORT_FEATURES, nextStatus, queueProblem } from './transport.js'
import { Virtqueue, type QueueHost } from './virtqueue.js'

/** virtio_pci_cap.cfg_type (§4.1.4). */
export const VIRTIO_PCI_CAP = { COMMON_CFG: 1, NOTIFY_CFG: 2, ISR_CFG: 3, DEVICE_CFG: 4, PCI_CFG: 5 } as const

/** struct virtio_pci_common_cfg offsets (§4.1.4.3). */
export const VIRTIO_PCI_COMMON = {
  DeviceFeatureSelect: 0x00,
  DeviceFeature: 0x04,
  DriverFeatureSelect: 0x08,
  DriverFeature: 0x0c,
  ConfigMsixVector: 0x10,
  NumQueues: 0x12,
  DeviceStatus: 0x14,
  ConfigGeneration: 0x15,
  QueueSelect: 0x16,
  QueueSize: 0x18,
  QueueMsixVector: 0x1a,
  QueueEnable: 0x1c,
  QueueNotifyOff: 0x1e,
  QueueDesc: 0x20,
  QueueDriver: 0x28,
  QueueDevice: 0x30,
} as const

/** "No vector" for the MSI-X vector registers (§4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff

/** BAR 4's layout: four 4 KiB pages, as QEMU lays them out. */
const LAYOUT = { common: 0x0000, isr: 0x1000, device: 0x2000, notify: 0x3000, size: 0x4000 } as const
const COMMON_LEN = 0x38
/** Each queue notifies at notify + queue_notify_off × this (queue_notify_off = the queue index). */
const NOTIFY_MULTIPLIER = 4

/** PCI class codes QEMU gives the virtio functions (rng: "other" 0x00ff; 9p: 0x0002, as QEMU 7.2 writes them). */
const CLASS_BY_DEVICE_ID: Record<number, number> = { 1: 0x02_00_00, 2: 0x01_00_00, 4: 0x00_ff_00, 9: 0x00_02_00, 16: 0x03_80_00, 18: 0x09_80_00 }

export interface VirtioPciOptions {
  /** DMA target: guest RAM (gated by the function's Bus Master Enable). */
  readonly memory: GuestMemory
  /** Called for every guest-caused problem (for logs). */
  readonly onError?: (error: HonkError) => void
}

interface PciQueue {
  readonly max: number
  size: number
  msix: number
  desc: number
  driver: number
  device: number
  live: Virtqueue | undefined
}

const le = (v: bigint, size: number): bigint => BigInt.asUintN(8 * size, v)

/** A virtio device on the PCI bus (device ID 0x1040 + virtio device type, revision 1). */
export class VirtioPci extends PciFunction {
  readonly msix: MsixTable
  private readonly queues: PciQueue[]
  private readonly memory: GuestMemory
  private readonly onError: ((e: HonkError) => void) | undefined
  private statusReg = 0
  private deviceFeatureSel = 0
  private driverFeatureSel = 0
  private driverFeatures = 0n
  private queueSel = 0
  private configMsix = VIRTIO_MSI_NO_VECTOR
  private isr = 0
  private generation = 0
  private pciCfgCap = 0
  /** Guest-caused problems seen since construction. */
  faults = 0

  constructor(
    readonly device: VirtioDevice,
    options: VirtioPciOptions,
  ) {
    super(`virtio-pci:${device.name}`, {
      vendorId: PCI_VENDOR.REDHAT_VIRTIO,
      deviceId: 0x1040 + device.deviceId,
      revision: 1,
      classCode: CLASS_BY_DEVICE_ID[device.deviceId] ?? 0x00_ff_00,
      subsystemVendorId: PCI_VENDOR.REDHAT_VIRTIO,
      subsystemId: 0x1100,
      interruptPin: 1,
    }, options.memory)
    this.memory = this.dma!
    this.onError = options.onError
    for (const [i, max] of device.queueSizes.entries()) {
      if (!Number.isInteger(max) || max < 1 || max > VIRTQ_MAX_SIZE || (max & (max - 1)) !== 0) throw new VirtioConfigError(`${device.name}: queue ${i} maximum size ${max} is not a power of 2 in 1..${VIRTQ_MAX_SIZE}`)
    }
    this.queues = device.queueSizes.map((max) => ({ max, size: max, msix: VIRTIO_MSI_NO_VECTOR, desc: 0, driver: 0, device: 0, live: undefined }))

    // BAR 1: MSI-X (one vector per queue plus config), BAR 4: the virtio structures.
    this.msix = new MsixTable(this.name, device.queueSizes.length + 1, () => this.memory)
    this.defineBar(1, { kind: 'mem32', size: this.msix.size, region: this.msix })
    this.defineBar(4, { kind: 'mem64', prefetchable: true, size: LAYOUT.size, region: this.bar4() })
    addMsixCapability(this, this.msix, 1)
    this.virtioCap(VIRTIO_PCI_CAP.COMMON_CFG, LAYOUT.common, COMMON_LEN)
    this.virtioCap(VIRTIO_PCI_CAP.ISR_CFG, LAYOUT.isr, 1)
    if (device.config.length > 0) this.virtioCap(VIRTIO_PCI_CAP.DEVICE_CFG, LAYOUT.device, device.config.length)
    this.virtioCap(VIRTIO_PCI_CAP.NOTIFY_CFG, LAYOUT.notify, NOTIFY_MULTIPLIER * device.queueSizes.length, NOTIFY_MULTIPLIER)
    // VIRTIO_PCI_CAP_PCI_CFG: bar, offset and length writable; data is a window into the BAR.
    const w = new Uint8Array(18)
    w[2] = 0xff // bar
    w.fill(0xff, 6, 18) // offset, length, pci_cfg_data
    this.pciCfgCap = this.virtioCap(VIRTIO_PCI_CAP.PCI_CFG, 0, 0, undefined, w, 0)

    const self = this
    const ctx: VirtioContext = {
      memory: this.memory,
      get features() {
        return self.driverFeatures
      },
      queue: (i) => (this.statusReg & STATUS.DRIVER_OK ? this.queues[i]?.live : undefined),
      configChanged: () => {
        this.generation = (this.generation + 1) & 0xff
        if (this.statusReg & STATUS.DRIVER_OK) this.raise(INTERRUPT.CONFIG_CHANGE, this.configMsix)
      },
      needsReset: (reason) => this.fault(new VirtqueueError(device.name, -1, reason), true),
      report: (e) => this.report(e),
    }
    device.attach(ctx)
  }

  /** struct virtio_pci_cap (+ notify_off_multiplier for NOTIFY_CFG): returns its config offset. */
  private virtioCap(type: number, offset: number, length: number, multiplier?: number, writable?: Uint8Array, bar = 4): number {
    const body = new Uint8Array(multiplier !== undefined ? 18 : type === VIRTIO_PCI_CAP.PCI_CFG ? 18 : 14)
    body[0] = body.length + 2 // cap_len
    body[1] = type
    body[2] = bar
    const dv = new DataView(body.buffer)
    dv.setUint32(6, offset, true)
    dv.setUint32(10, length, true)
    if (multiplier !== undefined) dv.setUint32(14, multiplier, true)
    return this.addCapability(PCI_CAP.VENDOR, body, writable)
  }

  /** The PCI_CFG window: reads of pci_cfg_data fetch from the BAR the capability names. */
  protected override beforeConfigRead(offset: number, size: number): void {
    const data = this.pciCfgCap + 16
    if (offset + size <= data || offset >= data + 4) return
    const { bar, off, len } = this.pciCfgTarget()
    const region = this.bars[bar]?.region
    const v = region && (len === 1 || len === 2 || len === 4) ? region.read(off, len) : 0n
    new DataView(this.config.buffer).setUint32(data, Number(BigInt.asUintN(32, v)), true)
  }

  protected override afterConfigWrite(offset: number, size: number): void {
    const data = this.pciCfgCap + 16
    if (offset + size <= data || offset >= data + 4) return
    const { bar, off, len } = this.pciCfgTarget()
    const region = this.bars[bar]?.region
    if (region && (len === 1 || len === 2 || len === 4)) region.write(off, len, BigInt(new DataView(this.config.buffer).getUint32(data, true)) & ((1n << BigInt(8 * len)) - 1n))
  }

  private pciCfgTarget(): { bar: number; off: number; len: AccessSize | 0 } {
    const dv = new DataView(this.config.buffer)
    const len = dv.getUint32(this.pciCfgCap + 12, true)
    return { bar: this.config[this.pciCfgCap + 4]!, off: dv.getUint32(this.pciCfgCap + 8, true), len: len === 1 || len === 2 || len === 4 ? len : 0 }
  }

  get status(): number {
    return this.statusReg
  }
  get negotiatedFeatures(): bigint {
    return this.driverFeatures
  }
  get interruptStatus(): number {
    return this.isr
  }

  private bar4(): MmioDevice {
    return {
      name: `${this.name}:bar4`,
      size: LAYOUT.size,
      read: (offset, size) => {
        if (offset < LAYOUT.common + COMMON_LEN) return this.readCommon(offset, size)
        if (offset === LAYOUT.isr) return BigInt(this.readIsr())
        if (offset >= LAYOUT.device && offset < LAYOUT.notify) return this.readDeviceConfig(offset - LAYOUT.device, size)
        return 0n
      },
      write: (offset, size, value) => {
        if (offset < LAYOUT.common + COMMON_LEN) return this.writeCommon(offset, size, value)
        if (offset >= LAYOUT.device && offset < LAYOUT.notify) return this.writeDeviceConfig(offset - LAYOUT.device, size, value)
        if (offset >= LAYOUT.notify && offset < LAYOUT.size) {
          // §4.1.5.2: the driver writes the queue index at the queue's notify address.
          const q = (offset - LAYOUT.notify) / NOTIFY_MULTIPLIER
          if (Number.isInteger(q) && this.statusReg & STATUS.DRIVER_OK && this.queues[q]?.live) this.device.notify(q)
        }
      },
    }
  }

  /** §4.1.4.5: reading the ISR status acknowledges it and deasserts INTx. */
  private readIsr(): number {
    const v = this.isr
    this.isr = 0
    this.setIntx(false)
    return v
  }

  private readCommon(offset: number, size: AccessSize): bigint {
    const C = VIRTIO_PCI_COMMON
    const q = this.queues[this.queueSel]
    // 64-bit fields may be read as two 32-bit halves (§4.1.3.1).
    const field = (at: number, width: number, v: bigint): bigint | undefined => (offset >= at && offset + size <= at + width ? le(v >> BigInt(8 * (offset - at)), size) : undefined)
    return (
      field(C.DeviceFeatureSelect, 4, BigInt(this.deviceFeatureSel)) ??
      field(C.DeviceFeature, 4, this.deviceFeatureSel > 1 ? 0n : (TRANSPORT_FEATURES | this.device.features) >> BigInt(32 * this.deviceFeatureSel)) ??
      field(C.DriverFeatureSelect, 4, BigInt(this.driverFeatureSel)) ??
      field(C.DriverFeature, 4, this.driverFeatureSel > 1 ? 0n : this.driverFeatures >> BigInt(32 * this.driverFeatureSel)) ??
      field(C.ConfigMsixVector, 2, BigInt(this.configMsix)) ??
      field(C.NumQueues, 2, BigInt(this.queues.length)) ??
      field(C.DeviceStatus, 1, BigInt(this.statusReg)) ??
      field(C.ConfigGeneration, 1, BigInt(this.generation)) ??
      field(C.QueueSelect, 2, BigInt(this.queueSel)) ??
      field(C.QueueSize, 2, BigInt(q?.size ?? 0)) ??
      field(C.QueueMsixVector, 2, BigInt(q?.msix ?? VIRTIO_MSI_NO_VECTOR)) ??
      field(C.QueueEnable, 2, q?.live ? 1n : 0n) ??
      field(C.QueueNotifyOff, 2, BigInt(q ? this.queueSel : 0)) ??
      field(C.QueueDesc, 8, BigInt(q?.desc ?? 0)) ??
      field(C.QueueDriver, 8, BigInt(q?.driver ?? 0)) ??
      field(C.QueueDevice, 8, BigInt(q?.device ?? 0)) ??
      0n
    )
  }

  private writeCommon(offset: number, size: AccessSize, value: bigint): void {
    const C = VIRTIO_PCI_COMMON
    const q = this.queues[this.queueSel]
    const v = Number(BigInt.asUintN(32, value))
    switch (offset) {
      case C.DeviceFeatureSelect:
        this.deviceFeatureSel = v
        return
      case C.DriverFeatureSelect:
        this.driverFeatureSel = v
        return
      case C.DriverFeature: {
        if (this.statusReg & STATUS.FEATURES_OK || this.driverFeatureSel > 1) return
        const shift = BigInt(32 * this.driverFeatureSel)
        this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift)
        return
      }
      case C.ConfigMsixVector:
        // A vector the table does not have reads back NO_VECTOR (§4.1.5.1.2).
        this.configMsix = v < this.msix.vectors ? v : VIRTIO_MSI_NO_VECTOR
        return
      case C.DeviceStatus:
        this.writeStatus(v & 0xff)
        return
      case C.QueueSelect:
        this.queueSel = v & 0xffff
        return
      case C.QueueSize:
        if (q && !q.live) q.size = v & 0xffff
        return
      case C.QueueMsixVector:
        if (q) q.msix = (v & 0xffff) < this.msix.vectors ? v & 0xffff : VIRTIO_MSI_NO_VECTOR
        return
      case C.QueueEnable:
        // §4.1.4.3.2: the driver MUST NOT write 0 to queue_enable; a reset disables queues.
        if (q && v & 1) this.enableQueue(this.queueSel, q)
        return
    }
    // The 64-bit ring addresses, written as one 64-bit or two 32-bit halves, while the queue is off.
    for (const [at, key] of [[C.QueueDesc, 'desc'], [C.QueueDriver, 'driver'], [C.QueueDevice, 'device']] as const) {
      if (!q || q.live || offset < at || offset + size > at + 8) continue
      const shift = 8 * (offset - at)
      const mask = (2 ** (8 * size) - 1) * 2 ** shift
      const old = q[key]
      const lo = old % 0x1_0000_0000
      const hi = Math.floor(old / 0x1_0000_0000)
      const full = BigInt(hi) * 0x1_0000_0000n + BigInt(lo)
      const next = (full & ~BigInt(mask)) | (BigInt.asUintN(8 * size, value) << BigInt(shift))
      // Above 2^53 is never RAM: keep it unsafe so the RAM check refuses it.
      q[key] = Number(next)
      return
    }
  }

  private writeStatus(v: number): void {
    if (v === 0) return this.reset()
    const before = this.statusReg
    const next = nextStatus(before, v, this.driverFeatures, TRANSPORT_FEATURES | this.device.features)
    if (next.problem !== undefined) this.report(new VirtqueueError(this.device.name, -1, next.problem))
    this.statusReg = next.status
    if (this.statusReg & STATUS.DRIVER_OK && !(before & STATUS.DRIVER_OK)) {
      this.device.activate?.()
      this.queues.forEach((r, i) => {
        if (r.live && this.statusReg & STATUS.DRIVER_OK) this.device.notify(i)
      })
    }
  }

  private enableQueue(index: number, q: PciQueue): void {
    if (q.live) return
    const problem = queueProblem(q.size, q.max, q.desc, q.driver, q.device, this.memory)
    if (problem !== undefined) return this.fault(new VirtqueueError(this.device.name, index, problem), true)
    const host: QueueHost = {
      memory: this.memory,
      deviceName: this.device.name,
      fault: (e, fatal) => this.fault(e, fatal),
      usedBuffer: () => this.raise(INTERRUPT.USED_BUFFER, q.msix),
    }
    q.live = new Virtqueue(host, index, {
      size: q.size,
      desc: q.desc,
      driver: q.driver,
      device: q.device,
      indirect: (this.driverFeatures & FEATURE.RING_INDIRECT_DESC) !== 0n,
      eventIdx: (this.driverFeatures & FEATURE.RING_EVENT_IDX) !== 0n,
    })
  }

  /** §2.4 / §4.1.4.3.1: writing 0 to device_status resets the device. */
  private reset(): void {
    for (const q of this.queues) {
      q.live?.kill()
      q.live = undefined
      q.size = q.max
      q.msix = VIRTIO_MSI_NO_VECTOR
      q.desc = q.driver = q.device = 0
    }
    this.statusReg = 0
    this.deviceFeatureSel = this.driverFeatureSel = this.queueSel = 0
    this.driverFeatures = 0n
    this.configMsix = VIRTIO_MSI_NO_VECTOR
    this.isr = 0
    this.setIntx(false)
    this.device.reset()
  }

  private readDeviceConfig(offset: number, size: AccessSize): bigint {
    const cfg = this.device.config
    if (offset + size > cfg.length) return 0n
    let v = 0n
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(cfg[offset + i]!)
    return v
  }

  private writeDeviceConfig(offset: number, size: AccessSize, value: bigint): void {
    if (offset + size > this.device.config.length) return
    this.device.writeConfig?.(offset, size, value)
  }

  /** With MSI-X enabled the vector's message; otherwise the ISR bit and INTx (§4.1.5.3, §4.1.5.4). */
  private raise(bit: number, vector: number): void {
    if (this.msix.enabled) {
      if (vector !== VIRTIO_MSI_NO_VECTOR) this.msix.signal(vector)
      return
    }
    this.isr |= bit
    this.setIntx(true)
  }

  private fault(e: HonkError, fatal: boolean): void {
    this.report(e)
    if (!fatal || this.statusReg & STATUS.DEVICE_NEEDS_RESET) return
    this.statusReg |= STATUS.DEVICE_NEEDS_RESET
    if (this.statusReg & STATUS.DRIVER_OK) this.raise(INTERRUPT.CONFIG_CHANGE, this.configMsix)
  }

  private report(e: HonkError): void {
    this.faults++
    try {
      this.onError?.(e)
    } catch {
      // A logging hook must not take the device down.
    }
  }
}
