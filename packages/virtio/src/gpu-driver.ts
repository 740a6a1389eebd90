/**
 * The driver side of virtio-gpu in 2D mode (virtio 1.2 §5.7): what honk's kernel uses to put a
 * framebuffer on a screen. It reads the display info, creates one R8G8B8A8 resource per
 * surface with its backing in guest RAM (one contiguous entry), sets it as a scanout, and
 * presents rectangles: rows copied into the backing, then TRANSFER_TO_HOST_2D + RESOURCE_FLUSH
 * for each (§5.7.6.8: transfer, then flush, in queue order).
 *
 * Commands are submitted in batches on the control queue and completed from the used ring
 * after the device's interrupt (the caller's `waitForInterrupt()`, resolved from the PLIC
 * handler in honk's kernel), as the blk driver does. A response other than the expected one
 * is a {@link VirtioGpuCommandError} naming the command and the spec's error type.
 */
import { DEVICE_ID, FEATURE } from './constants.js'
import type { DmaAllocator, DriverQueue, VirtioMmioDriver } from './driver.js'
import { VirtioDriverError } from './errors.js'
import { GPU_CMD, GPU_FORMAT, GPU_HDR_SIZE, GPU_MAX_SCANOUTS, GPU_RESP, type Rect } from './gpu.js'
import type { GuestMemory } from './memory.js'

export interface VirtioGpuDriverOptions {
  /** A probed driver whose device is a virtio-gpu (device id 16), not yet initialised. */
  readonly driver: VirtioMmioDriver
  readonly memory: GuestMemory
  /** Where rings, command buffers and surfaces' backing are allocated. */
  readonly alloc: DmaAllocator
  /** Resolves after the device's next interrupt. Must register synchronously when called. */
  waitForInterrupt(): Promise<void>
  /** Commands in flight at once (default 32). */
  readonly slots?: number
  /** Name used in error messages; default `'virtio-gpu'`. */
  readonly name?: string
}

/** One scanout as GET_DISPLAY_INFO reports it (`struct virtio_gpu_display_one`). */
export interface GpuDisplayInfo {
  readonly scanout: number
  readonly width: number
  readonly height: number
  readonly enabled: boolean
}

export interface GpuDriverStats {
  commands: number
  /** Rectangles presented (each one transfer + one flush). */
  rects: number
  /** Bytes copied into backing and transferred. */
  bytes: number
}

const RESP_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(GPU_RESP).map(([k, v]) => [v, k]))
const CMD_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(GPU_CMD).map(([k, v]) => [v, k]))

/** The device answered a command with an error response (§5.7.6.7). */
export class VirtioGpuCommandError extends VirtioDriverError {
  constructor(
    readonly device: string,
    readonly command: number,
    readonly response: number,
  ) {
    super(`${device}: ${CMD_NAME[command] ?? `command 0x${command.toString(16)}`} answered ${RESP_NAME[response] ?? `0x${response.toString(16)}`}`)
  }
}

/** Bytes of a request buffer (the largest 2D request is ATTACH_BACKING with one entry: 48). */
const REQ_BYTES = 64
/** Bytes of a response buffer: the display info is 24 + 16·24 = 408. */
const RESP_BYTES = GPU_HDR_SIZE + GPU_MAX_SCANOUTS * 24

interface Slot {
  readonly req: number
  readonly resp: number
}

/** One control command as {@link VirtioGpuDriver.run} takes it. */
export interface GpuCommand {
  /** A `GPU_CMD` type. */
  readonly type: number
  /** The request's words after the 24-byte header (u32 each, or u64 as bigint). */
  readonly body: readonly (number | bigint)[]
  /** The response type that means success (`GPU_RESP.OK_NODATA`, `OK_DISPLAY_INFO`). */
  readonly expect: number
}

/** Initialises a virtio-gpu (queues, DRIVER_OK) and reads its display info. */
export async function openVirtioGpu(options: VirtioGpuDriverOptions): Promise<VirtioGpuDriver> {
  const gpu = new VirtioGpuDriver(options)
  await gpu.refreshDisplays()
  return gpu
}

export class VirtioGpuDriver {
  readonly name: string
  readonly features: bigint
  readonly stats: GpuDriverStats = { commands: 0, rects: 0, bytes: 0 }
  /** The scanouts as last read by {@link refreshDisplays}. */
  displays: GpuDisplayInfo[] = []
  private readonly memory: GuestMemory
  private readonly alloc: DmaAllocator
  private readonly control: DriverQueue
  private readonly slots: Slot[] = []
  private readonly waitForInterrupt: () => Promise<void>
  private readonly scratch = new Uint8Array(REQ_BYTES)
  private nextResource = 1
  /** Commands run one batch at a time (the used ring is collected by one waiter). */
  private tail: Promise<unknown> = Promise.resolve()

  constructor(options: VirtioGpuDriverOptions) {
    const { driver } = options
    this.name = options.name ?? 'virtio-gpu'
    if (driver.deviceId !== DEVICE_ID.GPU) throw new VirtioDriverError(`${this.name}: device id ${driver.deviceId} is not a GPU (16)`)
    this.memory = options.memory
    this.alloc = options.alloc
    this.waitForInterrupt = () => options.waitForInterrupt()
    this.features = driver.init(FEATURE.VERSION_1)
    this.control = driver.setupQueue(0, 128)
    driver.setupQueue(1, 16) // the cursor queue: set up as §5.7.2 has it, unused (no cursor)
    const slots = Math.max(1, Math.min(options.slots ?? 32, this.control.size >> 1))
    for (let i = 0; i < slots; i++) this.slots.push({ req: options.alloc.alloc(REQ_BYTES, 8), resp: options.alloc.alloc(RESP_BYTES, 8) })
    driver.driverOk()
  }

  /** GET_DISPLAY_INFO: the scanouts the device offers (enabled ones have a preferred mode). */
  async refreshDisplays(): Promise<GpuDisplayInfo[]> {
    const [resp] = await this.run([{ type: GPU_CMD.GET_DISPLAY_INFO, body: [], expect: GPU_RESP.OK_DISPLAY_INFO }])
    const v = new DataView(resp!.buffer)
    this.displays = []
    for (let i = 0; i < GPU_MAX_SCANOUTS; i++) {
      const o = GPU_HDR_SIZE + 24 * i
      const width = v.getUint32(o + 8, true)
      const height = v.getUint32(o + 12, true)
      const enabled = v.getUint32(o + 16, true) !== 0
      if (enabled || width > 0) this.displays.push({ scanout: i, width, height, enabled })
    }
    return this.displays
  }

  /**
   * A framebuffer on scanout `scanout` (default 0) at its preferred mode (or `width`×`height`):
   * RESOURCE_CREATE_2D (R8G8B8A8), the backing allocated in guest RAM and attached, SET_SCANOUT.
   */
  async createSurface(options: { scanout?: number; width?: number; height?: number } = {}): Promise<GpuSurface> {
    const scanout = options.scanout ?? 0
    const d = this.displays.find((x) => x.scanout === scanout)
    const width = options.width ?? d?.width ?? 0
    const height = options.height ?? d?.height ?? 0
    if (!(width > 0 && height > 0)) throw new VirtioDriverError(`${this.name}: scanout ${scanout} has no mode and no size was given`)
    const id = this.nextResource++
    const bytes = width * height * 4
    const backing = this.alloc.alloc(bytes, 4096)
    await this.run([
      { type: GPU_CMD.RESOURCE_CREATE_2D, body: [id, GPU_FORMAT.R8G8B8A8_UNORM, width, height], expect: GPU_RESP.OK_NODATA },
      // struct virtio_gpu_resource_attach_backing + one virtio_gpu_mem_entry (§5.7.6.8).
      { type: GPU_CMD.RESOURCE_ATTACH_BACKING, body: [id, 1, BigInt(backing), bytes, 0], expect: GPU_RESP.OK_NODATA },
      { type: GPU_CMD.SET_SCANOUT, body: [0, 0, width, height, scanout, id], expect: GPU_RESP.OK_NODATA },
    ])
    return new GpuSurface(this, this.memory, scanout, id, width, height, backing)
  }

  /** Runs commands in order, in batches as large as the command slots, each batch completed after the interrupt; returns each response. Throws {@link VirtioGpuCommandError} on an unexpected response. */
  run(commands: readonly GpuCommand[]): Promise<Uint8Array[]> {
    const p = this.tail.then(() => this.runNow(commands))
    this.tail = p.catch(() => undefined)
    return p
  }

  private async runNow(commands: readonly GpuCommand[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for (let start = 0; start < commands.length; start += this.slots.length) {
      const batch = commands.slice(start, start + this.slots.length)
      const heads = new Map<number, number>()
      batch.forEach((c, i) => {
        const slot = this.slots[i]!
        const len = this.encode(c)
        this.memory.write(slot.req, this.scratch.subarray(0, len))
        const head = this.control.submit([
          { addr: slot.req, len, writable: false },
          { addr: slot.resp, len: RESP_BYTES, writable: true },
        ])
        heads.set(head, i)
      })
      this.control.kick()
      this.stats.commands += batch.length
      let done = 0
      for (;;) {
        for (const { head } of this.control.collect()) if (heads.has(head)) done++
        if (done === batch.length) break
        await this.waitForInterrupt()
      }
      batch.forEach((c, i) => {
        const resp = new Uint8Array(c.expect === GPU_RESP.OK_DISPLAY_INFO ? RESP_BYTES : GPU_HDR_SIZE)
        if (!this.memory.read(this.slots[i]!.resp, resp)) throw new VirtioDriverError(`${this.name}: response buffer is not in memory`)
        const type = new DataView(resp.buffer).getUint32(0, true)
        if (type !== c.expect) throw new VirtioGpuCommandError(this.name, c.type, type)
        out.push(resp)
      })
    }
    return out
  }

  /** `struct virtio_gpu_ctrl_hdr` (type, flags 0, fence 0, ctx 0, ring 0) and the body, little-endian. */
  private encode(c: GpuCommand): number {
    const v = new DataView(this.scratch.buffer)
    this.scratch.fill(0)
    v.setUint32(0, c.type, true)
    let o = GPU_HDR_SIZE
    for (const w of c.body) {
      if (typeof w === 'bigint') {
        v.setBigUint64(o, w, true)
        o += 8
      } else {
        v.setUint32(o, w >>> 0, true)
        o += 4
      }
    }
    return o
  }
}

/** A resource in guest RAM shown on a scanout. */
export class GpuSurface {
  constructor(
    private readonly gpu: VirtioGpuDriver,
    private readonly memory: GuestMemory,
    readonly scanout: number,
    readonly resourceId: number,
    readonly width: number,
    readonly height: number,
    /** Guest-physical address of the backing: width·height·4 bytes, R G B A, row by row. */
    readonly backing: number,
  ) {}

  /**
   * Shows `rects` of `rgba` (a width×height RGBA image, e.g. a `Framebuffer`'s pixels): their
   * rows are copied into the backing, then each is transferred and flushed. Rectangles are
   * clipped to the surface; empty ones are skipped.
   */
  async present(rgba: Uint8Array, rects: readonly Rect[]): Promise<void> {
    if (rgba.length !== this.width * this.height * 4) throw new VirtioDriverError(`${this.gpu.name}: image of ${rgba.length} bytes for a ${this.width}x${this.height} surface`)
    const commands: GpuCommand[] = []
    for (const r0 of rects) {
      const r = this.clip(r0)
      if (!r) continue
      for (let y = r.y; y < r.y + r.height; y++) {
        const from = (y * this.width + r.x) * 4
        this.memory.write(this.backing + from, rgba.subarray(from, from + r.width * 4))
      }
      const offset = BigInt((r.y * this.width + r.x) * 4)
      // virtio_gpu_transfer_to_host_2d: rect, offset (u64), resource_id, padding.
      commands.push({ type: GPU_CMD.TRANSFER_TO_HOST_2D, body: [r.x, r.y, r.width, r.height, offset, this.resourceId, 0], expect: GPU_RESP.OK_NODATA })
      // virtio_gpu_resource_flush: rect, resource_id, padding.
      commands.push({ type: GPU_CMD.RESOURCE_FLUSH, body: [r.x, r.y, r.width, r.height, this.resourceId, 0], expect: GPU_RESP.OK_NODATA })
      this.gpu.stats.rects++
      this.gpu.stats.bytes += r.width * r.height * 4
    }
    if (commands.length) await this.gpu.run(commands)
  }

  private clip(r: Rect): Rect | undefined {
    const x = Math.max(0, r.x)
    const y = Math.max(0, r.y)
    const w = Math.min(this.width, r.x + r.width) - x
    const h = Math.min(this.height, r.y + r.height) - y
    return w > 0 && h > 0 ? { x, y, width: w, height: h } : undefined
  }
}
