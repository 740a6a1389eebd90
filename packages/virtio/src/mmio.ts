/**
 * virtio over MMIO, version 2 (virtio 1.2 §4.2): the register window a driver sees, feature
 * negotiation, queue setup and the interrupt line. Legacy (version 1) is not offered.
 */
import type { HonkError } from '@honk/errors'
import type { AccessSize, MmioDevice } from '@honk/riscv'
import { FEATURE, INTERRUPT, MMIO, STATUS, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VIRTIO_VENDOR_HONK, VIRTQ_MAX_SIZE } from './constants.js'
import type { VirtioContext, VirtioDevice } from './device.js'
import { VirtioConfigError, VirtqueueError } from './errors.js'
import type { GuestMemory, IrqLine } from './memory.js'
import { TRANSPORT_FEATURES, nextStatus, queueProblem } from './transport.js'
import { Virtqueue, type QueueHost } from './virtqueue.js'

export interface VirtioMmioOptions {
  /** DMA target: guest RAM. */
  readonly memory: GuestMemory
  /** The interrupt line (a PLIC source on the virt machine: IRQ 1 + slot). */
  readonly irq: IrqLine
  /** VendorID register; default {@link VIRTIO_VENDOR_HONK}. */
  readonly vendorId?: number
  /** Called for every guest-caused problem (bad descriptors, malformed requests). For logs. */
  readonly onError?: (error: HonkError) => void
}

/** The driver-written state of one queue (§4.2.2). */
interface QueueRegs {
  readonly max: number
  num: number
  /** QueueDescLow/High, QueueDriverLow/High, QueueDeviceLow/High, as written. */
  readonly addr: Uint32Array
  live: Virtqueue | undefined
}

/** Index into {@link QueueRegs.addr} of a ring-address register (0x80..0xa4), or -1. */
function addrIndex(offset: number): number {
  if (offset < MMIO.QueueDescLow || offset > MMIO.QueueDeviceHigh) return -1
  const rel = offset - MMIO.QueueDescLow
  return rel % 16 < 8 ? (rel >> 4) * 2 + ((rel >> 2) & 1) : -1
}

/** A 64-bit guest address from two halves; above 2^53 it is not a safe integer and never RAM. */
const join64 = (lo: number, hi: number) => hi * 0x1_0000_0000 + lo

/**
 * The virtio-mmio transport: one 4 KiB register window around a {@link VirtioDevice}. Register
 * accesses must be 32-bit and aligned (§4.2.2.2); others read 0 and are ignored. Config space
 * (from 0x100) takes any width. Nothing the guest writes makes it throw.
 */
export class VirtioMmio implements MmioDevice {
  readonly name: string
  readonly size = 0x1000
  private readonly vendorId: number
  private readonly memory: GuestMemory
  private readonly irq: IrqLine
  private readonly onError: ((e: HonkError) => void) | undefined
  private readonly queueRegs: QueueRegs[]
  private statusReg = 0
  private deviceFeaturesSel = 0
  private driverFeaturesSel = 0
  private driverFeatures = 0n
  private queueSel = 0
  private interrupts = 0
  private irqLevel = false
  private generation = 0
  private shmSel = 0
  /** Guest-caused problems seen since construction (for tests and statistics). */
  faults = 0

  constructor(
    readonly device: VirtioDevice,
    options: VirtioMmioOptions,
  ) {
    this.name = `virtio-mmio:${device.name}`
    this.memory = options.memory
    this.irq = options.irq
    this.vendorId = options.vendorId ?? VIRTIO_VENDOR_HONK
    this.onError = options.onError
    for (const [i, max] of device.queueSizes.entries()) {
      // §2.7: split queue sizes are powers of 2, at most 32768.
      if (!Number.isInteger(max) || max < 1 || max > VIRTQ_MAX_SIZE || (max & (max - 1)) !== 0) {
        throw new VirtioConfigError(`${device.name}: queue ${i} maximum size ${max} is not a power of 2 in 1..${VIRTQ_MAX_SIZE}`)
      }
    }
    this.queueRegs = device.queueSizes.map((max) => ({ max, num: 0, addr: new Uint32Array(6), live: undefined }))
    const self = this
    const ctx: VirtioContext = {
      memory: this.memory,
      get features() {
        return self.driverFeatures
      },
      queue: (i) => (this.statusReg & STATUS.DRIVER_OK ? this.queueRegs[i]?.live : undefined),
      configChanged: () => {
        this.generation = (this.generation + 1) >>> 0
        if (this.statusReg & STATUS.DRIVER_OK) this.raise(INTERRUPT.CONFIG_CHANGE)
      },
      needsReset: (reason) => this.fault(new VirtqueueError(device.name, -1, reason), true),
      report: (e) => this.report(e),
    }
    device.attach(ctx)
  }

  /** All features offered: the transport's ring features and the model's own. */
  get offeredFeatures(): bigint {
    return TRANSPORT_FEATURES | this.device.features
  }

  /** The features the driver wrote (accepted once FEATURES_OK reads back set). */
  get negotiatedFeatures(): bigint {
    return this.driverFeatures
  }

  /** The device status register. */
  get status(): number {
    return this.statusReg
  }

  /** The InterruptStatus register. */
  get interruptStatus(): number {
    return this.interrupts
  }

  read(offset: number, size: AccessSize): bigint {
    if (offset >= MMIO.Config) return this.readConfig(offset - MMIO.Config, size)
    if (size !== 4 || offset % 4 !== 0) return 0n
    return BigInt(this.readRegister(offset) >>> 0)
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (offset >= MMIO.Config) return this.writeConfig(offset - MMIO.Config, size, value)
    if (size !== 4 || offset % 4 !== 0) return
    this.writeRegister(offset, Number(BigInt.asUintN(32, value)))
  }

  private readRegister(offset: number): number {
    const q = this.queueRegs[this.queueSel]
    const a = addrIndex(offset)
    if (a >= 0) return q?.addr[a] ?? 0
    switch (offset) {
      case MMIO.MagicValue:
        return VIRTIO_MMIO_MAGIC
      case MMIO.Version:
        return VIRTIO_MMIO_VERSION
      case MMIO.DeviceID:
        return this.device.deviceId
      case MMIO.VendorID:
        return this.vendorId
      case MMIO.DeviceFeatures:
        return this.deviceFeaturesSel > 1 ? 0 : Number(BigInt.asUintN(32, this.offeredFeatures >> BigInt(32 * this.deviceFeaturesSel)))
      case MMIO.QueueNumMax:
        return q?.max ?? 0
      case MMIO.QueueNum:
        return q?.num ?? 0
      case MMIO.QueueReady:
        return q?.live ? 1 : 0
      case MMIO.InterruptStatus:
        return this.interrupts
      case MMIO.Status:
        return this.statusReg
      case MMIO.SHMLenLow:
      case MMIO.SHMLenHigh:
      case MMIO.SHMBaseLow:
      case MMIO.SHMBaseHigh:
        // No shared memory regions: every SHMSel reads as length -1 (§4.2.2).
        return 0xffff_ffff
      case MMIO.ConfigGeneration:
        return this.generation
      default:
        return 0
    }
  }

  private writeRegister(offset: number, v: number): void {
    const q = this.queueRegs[this.queueSel]
    switch (offset) {
      case MMIO.DeviceFeaturesSel:
        this.deviceFeaturesSel = v
        return
      case MMIO.DriverFeaturesSel:
        this.driverFeaturesSel = v
        return
      case MMIO.DriverFeatures: {
        // §2.2.2: features are fixed once FEATURES_OK is set.
        if (this.statusReg & STATUS.FEATURES_OK || this.driverFeaturesSel > 1) return
        const shift = BigInt(32 * this.driverFeaturesSel)
        this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift)
        return
      }
      case MMIO.QueueSel:
        this.queueSel = v
        return
      case MMIO.QueueNum:
        if (q && !q.live) q.num = v
        return
      case MMIO.QueueReady:
        if (!q) return
        if (v & 1) this.enableQueue(this.queueSel, q)
        else this.disableQueue(q)
        return
      case MMIO.QueueNotify:
        // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index (§4.2.3.3).
        if (this.statusReg & STATUS.DRIVER_OK && this.queueRegs[v]?.live) this.device.notify(v)
        return
      case MMIO.InterruptACK:
        this.interrupts &= ~v
        this.updateIrq()
        return
      case MMIO.Status:
        this.writeStatus(v & 0xff)
        return
      case MMIO.SHMSel:
        this.shmSel = v
        return
    }
    const a = addrIndex(offset)
    // Ring addresses are fixed while the queue is ready.
    if (a >= 0 && q && !q.live) q.addr[a] = v
  }

  /** §3.1.1 (driver initialization) seen from the device, and §2.4 reset. */
  private writeStatus(v: number): void {
    if (v === 0) return this.reset()
    const before = this.statusReg
    const next = nextStatus(before, v, this.driverFeatures, this.offeredFeatures)
    if (next.problem !== undefined) this.report(new VirtqueueError(this.device.name, -1, next.problem))
    this.statusReg = next.status
    if (this.statusReg & STATUS.DRIVER_OK && !(before & STATUS.DRIVER_OK)) {
      this.device.activate?.()
      // Buffers made available before DRIVER_OK are consumed now (§2.1.2: not before).
      this.queueRegs.forEach((r, i) => {
        if (r.live && this.statusReg & STATUS.DRIVER_OK) this.device.notify(i)
      })
    }
  }

  /** §4.2.3.2 queue setup, checked: size, alignment (§2.7 table), and that the rings are RAM. */
  private enableQueue(index: number, q: QueueRegs): void {
    if (q.live) return
    const desc = join64(q.addr[0]!, q.addr[1]!)
    const driver = join64(q.addr[2]!, q.addr[3]!)
    const device = join64(q.addr[4]!, q.addr[5]!)
    const problem = queueProblem(q.num, q.max, desc, driver, device, this.memory)
    if (problem !== undefined) return this.fault(new VirtqueueError(this.device.name, index, problem), true)
    const host: QueueHost = {
      memory: this.memory,
      deviceName: this.device.name,
      fault: (e, fatal) => this.fault(e, fatal),
      usedBuffer: () => this.raise(INTERRUPT.USED_BUFFER),
    }
    q.live = new Virtqueue(host, index, {
      size: q.num,
      desc,
      driver,
      device,
      indirect: (this.driverFeatures & FEATURE.RING_INDIRECT_DESC) !== 0n,
      eventIdx: (this.driverFeatures & FEATURE.RING_EVENT_IDX) !== 0n,
    })
  }

  private disableQueue(q: QueueRegs): void {
    q.live?.kill()
    q.live = undefined
  }

  /** §2.4: back to the initial state; requests still in flight complete into nothing. */
  private reset(): void {
    for (const q of this.queueRegs) {
      this.disableQueue(q)
      q.num = 0
      q.addr.fill(0)
    }
    this.statusReg = 0
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = this.shmSel = 0
    this.driverFeatures = 0n
    this.interrupts = 0
    this.updateIrq()
    this.device.reset()
  }

  private readConfig(offset: number, size: AccessSize): bigint {
    const cfg = this.device.config
    if (offset + size > cfg.length) return 0n
    let v = 0n
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(cfg[offset + i]!)
    return v
  }

  private writeConfig(offset: number, size: AccessSize, value: bigint): void {
    if (offset + size > this.device.config.length) return
    this.device.writeConfig?.(offset, size, value)
  }

  private fault(e: HonkError, fatal: boolean): void {
    this.report(e)
    if (!fatal || this.statusReg & STATUS.DEVICE_NEEDS_RESET) return
    this.statusReg |= STATUS.DEVICE_NEEDS_RESET
    // §2.1.2: with DRIVER_OK set, DEVICE_NEEDS_RESET comes with a configuration change notification.
    if (this.statusReg & STATUS.DRIVER_OK) this.raise(INTERRUPT.CONFIG_CHANGE)
  }

  private report(e: HonkError): void {
    this.faults++
    try {
      this.onError?.(e)
    } catch {
      // A logging hook must not take the device down.
    }
  }

  private raise(bit: number): void {
    this.interrupts |= bit
    this.updateIrq()
  }

  private updateIrq(): void {
    const level = this.interrupts !== 0
    if (level === this.irqLevel) return
    this.irqLevel = level
    this.irq.set(level)
  }
}
