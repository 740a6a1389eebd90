/**
 * virtio-gpu in 2D mode (virtio 1.2 §5.7): the control queue with every 2D command, the cursor
 * queue, fences, EDID. The host sees each scanout as an RGBA surface (R, G, B, A bytes, row by
 * row) and is told which rectangle changed on every RESOURCE_FLUSH — what a canvas, a VNC-like
 * stream or a PNG screenshot needs. A guest's bad command is answered with the spec's error
 * response (§5.7.6.7) and reported, never thrown; host memory used by resources is bounded.
 */
import { DEVICE_ID } from './constants.js'
import { VirtioDeviceBase } from './device.js'
import { VirtioConfigError, VirtioRequestError } from './errors.js'
import type { Chain } from './virtqueue.js'

/** Feature bits of §5.7.3. Only EDID is offered (no virgl, blobs or contexts). */
export const GPU_F = { VIRGL: 1n << 0n, EDID: 1n << 1n, RESOURCE_UUID: 1n << 2n, RESOURCE_BLOB: 1n << 3n, CONTEXT_INIT: 1n << 4n } as const

/** Command and response types (`enum virtio_gpu_ctrl_type`, §5.7.6.7). */
export const GPU_CMD = {
  GET_DISPLAY_INFO: 0x0100,
  RESOURCE_CREATE_2D: 0x0101,
  RESOURCE_UNREF: 0x0102,
  SET_SCANOUT: 0x0103,
  RESOURCE_FLUSH: 0x0104,
  TRANSFER_TO_HOST_2D: 0x0105,
  RESOURCE_ATTACH_BACKING: 0x0106,
  RESOURCE_DETACH_BACKING: 0x0107,
  GET_CAPSET_INFO: 0x0108,
  GET_CAPSET: 0x0109,
  GET_EDID: 0x010a,
  UPDATE_CURSOR: 0x0300,
  MOVE_CURSOR: 0x0301,
} as const

export const GPU_RESP = {
  OK_NODATA: 0x1100,
  OK_DISPLAY_INFO: 0x1101,
  OK_CAPSET_INFO: 0x1102,
  OK_CAPSET: 0x1103,
  OK_EDID: 0x1104,
  ERR_UNSPEC: 0x1200,
  ERR_OUT_OF_MEMORY: 0x1201,
  ERR_INVALID_SCANOUT_ID: 0x1202,
  ERR_INVALID_RESOURCE_ID: 0x1203,
  ERR_INVALID_CONTEXT_ID: 0x1204,
  ERR_INVALID_PARAMETER: 0x1205,
} as const

/** `VIRTIO_GPU_FLAG_FENCE`: the response must carry the same fence id once the command is done. */
export const GPU_FLAG_FENCE = 1
/** `VIRTIO_GPU_EVENT_DISPLAY` in config `events_read`: the display configuration changed. */
export const GPU_EVENT_DISPLAY = 1
/** `VIRTIO_GPU_MAX_SCANOUTS`: display info always has 16 entries. */
export const GPU_MAX_SCANOUTS = 16
/** `struct virtio_gpu_ctrl_hdr` is 24 bytes. */
export const GPU_HDR_SIZE = 24

/**
 * Pixel formats (§5.7.6.8). The name is the byte order in memory: B8G8R8X8 is B, G, R, X — what
 * Linux uses for DRM's XRGB8888; R8G8B8A8 (67) is what honk uses (Go's image.RGBA layout).
 */
export const GPU_FORMAT = {
  B8G8R8A8_UNORM: 1,
  B8G8R8X8_UNORM: 2,
  A8R8G8B8_UNORM: 3,
  X8R8G8B8_UNORM: 4,
  R8G8B8A8_UNORM: 67,
  X8B8G8R8_UNORM: 68,
  A8B8G8R8_UNORM: 121,
  R8G8B8X8_UNORM: 134,
} as const

/** For each format: where R, G, B and A sit in a 4-byte pixel (A = -1: opaque). */
const LAYOUT: ReadonlyMap<number, readonly [number, number, number, number]> = new Map([
  [GPU_FORMAT.B8G8R8A8_UNORM, [2, 1, 0, 3]],
  [GPU_FORMAT.B8G8R8X8_UNORM, [2, 1, 0, -1]],
  [GPU_FORMAT.A8R8G8B8_UNORM, [1, 2, 3, 0]],
  [GPU_FORMAT.X8R8G8B8_UNORM, [1, 2, 3, -1]],
  [GPU_FORMAT.R8G8B8A8_UNORM, [0, 1, 2, 3]],
  [GPU_FORMAT.X8B8G8R8_UNORM, [3, 2, 1, -1]],
  [GPU_FORMAT.A8B8G8R8_UNORM, [3, 2, 1, 0]],
  [GPU_FORMAT.R8G8B8X8_UNORM, [0, 1, 2, -1]],
])

export interface Rect {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** One flush as the host sees it: `rect` of scanout `scanout` changed; read it from `display.rgba`. */
export interface GpuFlush {
  readonly scanout: number
  readonly rect: Rect
  readonly display: GpuDisplay
}

/** The cursor as last set by UPDATE_CURSOR / MOVE_CURSOR. `image` is 64×64 RGBA, or undefined when hidden. */
export interface GpuCursor {
  readonly scanout: number
  readonly x: number
  readonly y: number
  readonly hotX: number
  readonly hotY: number
  readonly image: Uint8Array | undefined
}

/** A scanout as the host sees it. */
export interface GpuDisplay {
  /** The mode offered to the guest (display info / EDID). */
  readonly width: number
  readonly height: number
  /** True while the guest shows a resource on it (SET_SCANOUT with a non-zero resource). */
  readonly enabled: boolean
  /** The scanned-out area's size (the SET_SCANOUT rectangle); 0×0 when disabled. */
  readonly scanoutWidth: number
  readonly scanoutHeight: number
  /** scanoutWidth × scanoutHeight × 4 bytes, R G B A, updated on every flush. */
  readonly rgba: Uint8Array
}

export interface VirtioGpuOptions {
  /** Number of scanouts (1..16); default 1. */
  readonly scanouts?: number
  /** The preferred mode offered for every scanout; default 1280×800 (what QEMU offers). */
  readonly width?: number
  readonly height?: number
  /** The most host memory all resources and scanout copies together may take, in bytes; default 256 MiB. */
  readonly maxHostMemory?: number
  /** The most resources at once; default 1024. */
  readonly maxResources?: number
  /** Queue size of both queues; default 256. */
  readonly queueSize?: number
  /** EDID monitor name (up to 13 ASCII characters); default 'honk'. */
  readonly monitorName?: string
}

export interface GpuStats {
  commands: number
  errors: number
  flushes: number
}

/** Largest side of a resource (and of a mode); also keeps w·h·4 a safe integer. */
const MAX_SIDE = 16384
/** The most scattered entries one ATTACH_BACKING may carry (QEMU's limit). */
const MAX_BACKING_ENTRIES = 16384
/** Cursor images are 64×64 (§5.7.6.10). */
const CURSOR_SIZE = 64
/** Host bytes charged per resource besides its pixels (so 0-pixel-ish resources are not free). */
const RESOURCE_OVERHEAD = 256

interface Resource {
  readonly id: number
  readonly format: number
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
  backing: { addr: number; len: number }[] | undefined
  backingLength: number
}

interface Scanout {
  width: number
  height: number
  resource: Resource | undefined
  rect: Rect
  rgba: Uint8Array
}

/** A guest command error: the response type to send, and why (for the host's log). */
class GpuError {
  constructor(
    readonly response: number,
    readonly reason: string,
  ) {}
}

export class VirtioGpu extends VirtioDeviceBase {
  readonly name = 'virtio-gpu'
  readonly deviceId = DEVICE_ID.GPU
  readonly features = GPU_F.EDID
  readonly queueSizes: readonly number[]
  /** struct virtio_gpu_config: events_read, events_clear, num_scanouts, num_capsets. */
  readonly config = new Uint8Array(16)
  readonly stats: GpuStats = { commands: 0, errors: 0, flushes: 0 }
  private readonly resources = new Map<number, Resource>()
  private readonly outputs: Scanout[]
  private readonly maxHostMemory: number
  private readonly maxResources: number
  private readonly monitorName: string
  private hostMemory = 0
  private flushListeners = new Set<(f: GpuFlush) => void>()
  private cursorListeners = new Set<(c: GpuCursor) => void>()
  private cursorState: GpuCursor = { scanout: 0, x: 0, y: 0, hotX: 0, hotY: 0, image: undefined }

  constructor(options: VirtioGpuOptions = {}) {
    super()
    const n = options.scanouts ?? 1
    if (!Number.isInteger(n) || n < 1 || n > GPU_MAX_SCANOUTS) throw new VirtioConfigError(`virtio-gpu: ${n} scanouts is outside 1..${GPU_MAX_SCANOUTS}`)
    const width = options.width ?? 1280
    const height = options.height ?? 800
    checkMode(width, height)
    this.maxHostMemory = options.maxHostMemory ?? 256 << 20
    this.maxResources = options.maxResources ?? 1024
    this.monitorName = (options.monitorName ?? 'honk').slice(0, 13)
    const size = options.queueSize ?? 256
    this.queueSizes = [size, size]
    this.outputs = Array.from({ length: n }, () => ({ width, height, resource: undefined, rect: { x: 0, y: 0, width: 0, height: 0 }, rgba: new Uint8Array(0) }))
    new DataView(this.config.buffer).setUint32(8, n, true)
  }

  /** The host's view of scanout `i`. */
  display(i = 0): GpuDisplay {
    const s = this.outputs[i]
    if (!s) throw new VirtioConfigError(`virtio-gpu: no scanout ${i} (there are ${this.outputs.length})`)
    return { width: s.width, height: s.height, enabled: s.resource !== undefined, scanoutWidth: s.rect.width, scanoutHeight: s.rect.height, rgba: s.rgba }
  }

  /** A packed RGBA copy of `rect` of scanout `i` (clamped to the scanout): what to send for a damage rectangle. */
  readRect(i: number, rect: Rect): Uint8Array {
    const d = this.display(i)
    const r = intersect(rect, { x: 0, y: 0, width: d.scanoutWidth, height: d.scanoutHeight })
    const out = new Uint8Array(r.width * r.height * 4)
    for (let y = 0; y < r.height; y++) {
      const from = ((r.y + y) * d.scanoutWidth + r.x) * 4
      out.set(d.rgba.subarray(from, from + r.width * 4), y * r.width * 4)
    }
    return out
  }

  /** Calls `listener` after every flush that changed a visible scanout (and when a scanout is set or disabled). Returns an unsubscribe function. */
  onFlush(listener: (f: GpuFlush) => void): () => void {
    this.flushListeners.add(listener)
    return () => this.flushListeners.delete(listener)
  }

  /** Calls `listener` on every cursor update or move. Returns an unsubscribe function. */
  onCursor(listener: (c: GpuCursor) => void): () => void {
    this.cursorListeners.add(listener)
    return () => this.cursorListeners.delete(listener)
  }

  get cursor(): GpuCursor {
    return this.cursorState
  }

  /** Host bytes held now: resources (pixels + a fixed overhead each) and the scanouts' RGBA copies. */
  get memoryUsed(): number {
    return this.hostMemory
  }

  /** The host's window changed size: offer a new mode and raise VIRTIO_GPU_EVENT_DISPLAY (§5.7.4). */
  setMode(i: number, width: number, height: number): void {
    checkMode(width, height)
    const s = this.outputs[i]
    if (!s) throw new VirtioConfigError(`virtio-gpu: no scanout ${i} (there are ${this.outputs.length})`)
    s.width = width
    s.height = height
    const v = new DataView(this.config.buffer)
    v.setUint32(0, v.getUint32(0, true) | GPU_EVENT_DISPLAY, true)
    if (this.attached) this.ctx.configChanged()
  }

  /** events_clear (offset 4) is write-to-clear for events_read (§5.7.4); the rest is read-only. */
  writeConfig(offset: number, size: number, value: bigint): void {
    if (offset !== 4 || size !== 4) return
    const v = new DataView(this.config.buffer)
    v.setUint32(0, v.getUint32(0, true) & ~Number(value & 0xffffffffn), true)
  }

  notify(queue: number): void {
    const q = this.ctx.queue(queue)
    if (!q || queue > 1) return
    for (let chain = q.pop(); chain; chain = q.pop()) this.serve(chain, queue === 1)
    q.signal()
  }

  reset(): void {
    this.resources.clear()
    this.hostMemory = 0
    for (const s of this.outputs) {
      const was = s.resource !== undefined
      s.resource = undefined
      s.rect = { x: 0, y: 0, width: 0, height: 0 }
      s.rgba = new Uint8Array(0)
      if (was) this.emitFlush(this.outputs.indexOf(s), s.rect)
    }
    new DataView(this.config.buffer).setUint32(0, 0, true)
  }

  private serve(chain: Chain, cursorQueue: boolean): void {
    this.stats.commands++
    const req = chain.read(0, Math.min(chain.readableLength, 64))
    const v = new DataView(req.buffer, req.byteOffset, req.byteLength)
    let answer: Uint8Array
    const hdr = req.length >= GPU_HDR_SIZE ? { type: v.getUint32(0, true), flags: v.getUint32(4, true), fence: v.getBigUint64(8, true), ctx: v.getUint32(16, true), ring: req[20]! } : undefined
    try {
      if (!hdr) throw new GpuError(GPU_RESP.ERR_UNSPEC, `command of ${chain.readableLength} bytes is shorter than the ${GPU_HDR_SIZE}-byte header`)
      answer = cursorQueue ? this.cursorCommand(hdr.type, chain, v) : this.command(hdr.type, chain, v)
    } catch (e) {
      if (!(e instanceof GpuError)) throw e
      this.stats.errors++
      this.ctx.report(new VirtioRequestError(this.name, `${hdr ? commandName(hdr.type) : 'command'}: ${e.reason}`))
      answer = response(e.response)
    }
    // §5.7.6.7: the response echoes the fence (and ctx/ring with INFO_RING_IDX) of a fenced command.
    // Commands complete in order, synchronously, so the fence is signalled with the response.
    if (hdr && hdr.flags & GPU_FLAG_FENCE) {
      const a = new DataView(answer.buffer, answer.byteOffset, answer.byteLength)
      a.setUint32(4, GPU_FLAG_FENCE | (hdr.flags & 2), true)
      a.setBigUint64(8, hdr.fence, true)
      a.setUint32(16, hdr.ctx, true)
      answer[20] = hdr.flags & 2 ? hdr.ring : 0
    }
    if (chain.writableLength < GPU_HDR_SIZE && !cursorQueue) this.ctx.report(new VirtioRequestError(this.name, `response buffer of ${chain.writableLength} bytes is shorter than the ${GPU_HDR_SIZE}-byte header`))
    chain.complete(chain.write(0, answer.subarray(0, chain.writableLength)), false)
  }

  private command(type: number, chain: Chain, v: DataView): Uint8Array {
    const need = (n: number) => {
      if (chain.readableLength < n) throw new GpuError(GPU_RESP.ERR_UNSPEC, `${chain.readableLength}-byte command, ${n} bytes needed`)
    }
    const u32 = (o: number) => v.getUint32(o, true)
    const rect = (o: number): Rect => ({ x: u32(o), y: u32(o + 4), width: u32(o + 8), height: u32(o + 12) })
    switch (type) {
      case GPU_CMD.GET_DISPLAY_INFO:
        return this.displayInfo()
      case GPU_CMD.GET_EDID: {
        need(32)
        const s = this.scanout(u32(24))
        const out = response(GPU_RESP.OK_EDID, GPU_HDR_SIZE + 8 + 1024)
        const edid = buildEdid(s.width, s.height, this.monitorName)
        new DataView(out.buffer).setUint32(24, edid.length, true)
        out.set(edid, 32)
        return out
      }
      case GPU_CMD.RESOURCE_CREATE_2D: {
        need(40)
        this.create(u32(24), u32(28), u32(32), u32(36))
        return response(GPU_RESP.OK_NODATA)
      }
      case GPU_CMD.RESOURCE_UNREF: {
        need(32)
        const r = this.resource(u32(24))
        this.outputs.forEach((s, i) => {
          // Unref of a scanned-out resource disables that scanout (as QEMU does).
          if (s.resource === r) this.disable(i)
        })
        this.resources.delete(r.id)
        this.hostMemory -= r.data.length + RESOURCE_OVERHEAD
        return response(GPU_RESP.OK_NODATA)
      }
      case GPU_CMD.RESOURCE_ATTACH_BACKING: {
        need(32)
        const r = this.resource(u32(24))
        const n = u32(28)
        if (r.backing) throw new GpuError(GPU_RESP.ERR_UNSPEC, `resource ${r.id} already has backing`)
        if (n === 0 || n > MAX_BACKING_ENTRIES) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `${n} backing entries (1..${MAX_BACKING_ENTRIES})`)
        if (chain.readableLength < 32 + 16 * n) throw new GpuError(GPU_RESP.ERR_UNSPEC, `${n} backing entries need ${32 + 16 * n} bytes, the command has ${chain.readableLength}`)
        const raw = chain.read(32, 16 * n)
        const e = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
        const entries: { addr: number; len: number }[] = []
        let total = 0
        for (let i = 0; i < n; i++) {
          const addr = e.getBigUint64(16 * i, true)
          const len = e.getUint32(16 * i + 8, true)
          if (addr > BigInt(Number.MAX_SAFE_INTEGER) || !this.ctx.memory.contains(Number(addr), len)) {
            throw new GpuError(GPU_RESP.ERR_UNSPEC, `backing entry ${i} (0x${addr.toString(16)}, ${len} bytes) is not in guest RAM`)
          }
          if (len > 0) entries.push({ addr: Number(addr), len })
          total += len
        }
        r.backing = entries
        r.backingLength = total
        return response(GPU_RESP.OK_NODATA)
      }
      case GPU_CMD.RESOURCE_DETACH_BACKING: {
        need(32)
        const r = this.resource(u32(24))
        if (!r.backing) throw new GpuError(GPU_RESP.ERR_UNSPEC, `resource ${r.id} has no backing`)
        r.backing = undefined
        r.backingLength = 0
        return response(GPU_RESP.OK_NODATA)
      }
      case GPU_CMD.SET_SCANOUT: {
        need(48)
        const rc = rect(24)
        const i = u32(40)
        this.scanout(i)
        const id = u32(44)
        if (id === 0) {
          this.disable(i)
          return response(GPU_RESP.OK_NODATA)
        }
        const r = this.resource(id)
        if (rc.width === 0 || rc.height === 0 || !inside(rc, r)) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `scanout rectangle ${fmt(rc)} is empty or outside resource ${id} (${r.width}×${r.height})`)
        const s = this.outputs[i]!
        // The host's RGBA copy of the scanout counts against the same memory budget as resources.
        const bytes = rc.width * rc.height * 4
        if (this.hostMemory - s.rgba.length + bytes > this.maxHostMemory) {
          throw new GpuError(GPU_RESP.ERR_OUT_OF_MEMORY, `a ${rc.width}×${rc.height} scanout does not fit (${this.hostMemory} of ${this.maxHostMemory} bytes used)`)
        }
        this.hostMemory += bytes - s.rgba.length
        s.resource = r
        s.rect = rc
        s.rgba = new Uint8Array(bytes)
        this.convert(s, { x: 0, y: 0, width: rc.width, height: rc.height })
        this.emitFlush(i, { x: 0, y: 0, width: rc.width, height: rc.height })
        return response(GPU_RESP.OK_NODATA)
      }
      case GPU_CMD.TRANSFER_TO_HOST_2D: {
        need(56)
        const rc = rect(24)
        const offset = v.getBigUint64(40, true)
        const r = this.resource(u32(48))
        if (!inside(rc, r)) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `transfer rectangle ${fmt(rc)} is outside resource ${r.id} (${r.width}×${r.height})`)
        if (!r.backing) throw new GpuError(GPU_RESP.ERR_UNSPEC, `resource ${r.id} has no backing to transfer from`)
        if (rc.width === 0 || rc.height === 0) return response(GPU_RESP.OK_NODATA)
        // Row h of the rectangle comes from backing offset + stride·h (the layout QEMU and Linux share).
        const stride = r.width * 4
        const last = offset + BigInt(stride * (rc.height - 1) + rc.width * 4)
        if (last > BigInt(r.backingLength)) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `transfer needs backing bytes up to ${last}, resource ${r.id} has ${r.backingLength}`)
        const off = Number(offset)
        const row = new Uint8Array(rc.width * 4)
        for (let h = 0; h < rc.height; h++) {
          this.readBacking(r, off + stride * h, row)
          r.data.set(row, (rc.y + h) * stride + rc.x * 4)
        }
        return response(GPU_RESP.OK_NODATA)
      }
      case GPU_CMD.RESOURCE_FLUSH: {
        need(48)
        const rc = rect(24)
        const r = this.resource(u32(40))
        if (!inside(rc, r)) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `flush rectangle ${fmt(rc)} is outside resource ${r.id} (${r.width}×${r.height})`)
        this.stats.flushes++
        this.outputs.forEach((s, i) => {
          if (s.resource !== r) return
          // The flushed area in scanout coordinates.
          const d = intersect({ x: rc.x - s.rect.x, y: rc.y - s.rect.y, width: rc.width, height: rc.height }, { x: 0, y: 0, width: s.rect.width, height: s.rect.height })
          if (d.width === 0 || d.height === 0) return
          this.convert(s, d)
          this.emitFlush(i, d)
        })
        return response(GPU_RESP.OK_NODATA)
      }
      case GPU_CMD.GET_CAPSET_INFO:
      case GPU_CMD.GET_CAPSET:
        throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, 'no capsets (num_capsets is 0)')
      default:
        throw new GpuError(GPU_RESP.ERR_UNSPEC, `unknown command 0x${type.toString(16)}`)
    }
  }

  private cursorCommand(type: number, chain: Chain, v: DataView): Uint8Array {
    if (type !== GPU_CMD.UPDATE_CURSOR && type !== GPU_CMD.MOVE_CURSOR) throw new GpuError(GPU_RESP.ERR_UNSPEC, `unknown cursor command 0x${type.toString(16)}`)
    if (chain.readableLength < 56) throw new GpuError(GPU_RESP.ERR_UNSPEC, `${chain.readableLength}-byte cursor command, 56 bytes needed`)
    const u32 = (o: number) => v.getUint32(o, true)
    const scanout = u32(24)
    this.scanout(scanout)
    const pos = { scanout, x: v.getInt32(28, true), y: v.getInt32(32, true) }
    if (type === GPU_CMD.MOVE_CURSOR) {
      this.cursorState = { ...this.cursorState, ...pos }
    } else {
      const id = u32(40)
      let image: Uint8Array | undefined
      if (id !== 0) {
        const r = this.resource(id)
        if (r.width !== CURSOR_SIZE || r.height !== CURSOR_SIZE) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `cursor resource ${id} is ${r.width}×${r.height}, not ${CURSOR_SIZE}×${CURSOR_SIZE}`)
        image = new Uint8Array(CURSOR_SIZE * CURSOR_SIZE * 4)
        toRgba(r, { x: 0, y: 0, width: CURSOR_SIZE, height: CURSOR_SIZE }, image, CURSOR_SIZE, 0, 0)
      }
      this.cursorState = { ...pos, hotX: u32(44), hotY: u32(48), image }
    }
    for (const l of this.cursorListeners) this.call(() => l(this.cursorState), 'cursor')
    return response(GPU_RESP.OK_NODATA)
  }

  private displayInfo(): Uint8Array {
    // struct virtio_gpu_resp_display_info: header + 16 × { rect, enabled, flags } (§5.7.6.8).
    const out = response(GPU_RESP.OK_DISPLAY_INFO, GPU_HDR_SIZE + GPU_MAX_SCANOUTS * 24)
    const v = new DataView(out.buffer)
    this.outputs.forEach((s, i) => {
      const o = GPU_HDR_SIZE + i * 24
      v.setUint32(o + 8, s.width, true)
      v.setUint32(o + 12, s.height, true)
      v.setUint32(o + 16, 1, true)
    })
    return out
  }

  private create(id: number, format: number, width: number, height: number): void {
    if (id === 0) throw new GpuError(GPU_RESP.ERR_INVALID_RESOURCE_ID, 'resource id 0 is reserved')
    if (this.resources.has(id)) throw new GpuError(GPU_RESP.ERR_INVALID_RESOURCE_ID, `resource ${id} already exists`)
    if (!LAYOUT.has(format)) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `unsupported format ${format}`)
    if (width === 0 || height === 0 || width > MAX_SIDE || height > MAX_SIDE) throw new GpuError(GPU_RESP.ERR_INVALID_PARAMETER, `size ${width}×${height} is outside 1..${MAX_SIDE}`)
    const bytes = width * height * 4
    if (this.resources.size >= this.maxResources || this.hostMemory + bytes + RESOURCE_OVERHEAD > this.maxHostMemory) {
      throw new GpuError(GPU_RESP.ERR_OUT_OF_MEMORY, `a ${width}×${height} resource does not fit (${this.resources.size} resources, ${this.hostMemory} of ${this.maxHostMemory} bytes used)`)
    }
    this.resources.set(id, { id, format, width, height, data: new Uint8Array(bytes), backing: undefined, backingLength: 0 })
    this.hostMemory += bytes + RESOURCE_OVERHEAD
  }

  private resource(id: number): Resource {
    const r = this.resources.get(id)
    if (!r) throw new GpuError(GPU_RESP.ERR_INVALID_RESOURCE_ID, `no resource ${id}`)
    return r
  }

  private scanout(i: number): Scanout {
    const s = this.outputs[i]
    if (!s) throw new GpuError(GPU_RESP.ERR_INVALID_SCANOUT_ID, `no scanout ${i} (there are ${this.outputs.length})`)
    return s
  }

  private disable(i: number): void {
    const s = this.outputs[i]!
    if (!s.resource) return
    s.resource = undefined
    s.rect = { x: 0, y: 0, width: 0, height: 0 }
    this.hostMemory -= s.rgba.length
    s.rgba = new Uint8Array(0)
    this.emitFlush(i, s.rect)
  }

  /** Gathers `dst.length` bytes from the scattered backing of `r`, starting at byte `offset`. */
  private readBacking(r: Resource, offset: number, dst: Uint8Array): void {
    let pos = 0
    let done = 0
    for (const e of r.backing!) {
      if (done === dst.length) break
      const from = Math.max(offset + done - pos, 0)
      if (from < e.len) {
        const n = Math.min(e.len - from, dst.length - done)
        // The entry was checked at attach time; RAM does not shrink, so this read succeeds.
        if (!this.ctx.memory.read(e.addr + from, dst.subarray(done, done + n))) dst.fill(0, done, done + n)
        done += n
      }
      pos += e.len
    }
  }

  /** Refreshes `d` (scanout coordinates) of the scanout's RGBA from its resource. */
  private convert(s: Scanout, d: Rect): void {
    toRgba(s.resource!, { x: s.rect.x + d.x, y: s.rect.y + d.y, width: d.width, height: d.height }, s.rgba, s.rect.width, d.x, d.y)
  }

  /** A host listener that throws must not unwind into the guest's queue notify: it is reported. */
  private call(listener: () => void, what: string): void {
    try {
      listener()
    } catch (e) {
      if (this.attached) this.ctx.report(new VirtioRequestError(this.name, `a ${what} listener failed: ${String(e)}`))
    }
  }

  private emitFlush(scanout: number, rect: Rect): void {
    if (this.flushListeners.size === 0) return
    const f: GpuFlush = { scanout, rect, display: this.display(scanout) }
    for (const l of this.flushListeners) this.call(() => l(f), 'flush')
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** Converts `src` (resource coordinates) of `r` into RGBA at (dx, dy) of `dst`, `dstWidth` pixels wide. */
function toRgba(r: Resource, src: Rect, dst: Uint8Array, dstWidth: number, dx: number, dy: number): void {
  const [ri, gi, bi, ai] = LAYOUT.get(r.format)!
  if (ri === 0 && gi === 1 && bi === 2 && ai === 3) {
    // R8G8B8A8 is already RGBA: copy whole rows.
    for (let y = 0; y < src.height; y++) {
      const s = ((src.y + y) * r.width + src.x) * 4
      dst.set(r.data.subarray(s, s + src.width * 4), ((dy + y) * dstWidth + dx) * 4)
    }
    return
  }
  if (LITTLE_ENDIAN && (r.format === GPU_FORMAT.B8G8R8X8_UNORM || r.format === GPU_FORMAT.B8G8R8A8_UNORM) && r.data.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0) {
    // Linux's XRGB8888/ARGB8888: swap R and B of each 32-bit word (A forced to 255 for X).
    // Int32 views keep every value a small integer for V8 (no heap numbers in the loop).
    const from = new Int32Array(r.data.buffer, r.data.byteOffset, r.data.length >> 2)
    const to = new Int32Array(dst.buffer, dst.byteOffset, dst.length >> 2)
    const alpha = r.format === GPU_FORMAT.B8G8R8X8_UNORM ? 0xff000000 | 0 : 0
    for (let y = 0; y < src.height; y++) {
      let s = (src.y + y) * r.width + src.x
      let o = (dy + y) * dstWidth + dx
      for (let x = 0; x < src.width; x++, s++, o++) {
        const v = from[s]!
        to[o] = alpha | (v & 0xff00ff00) | ((v & 0xff) << 16) | ((v >> 16) & 0xff)
      }
    }
    return
  }
  for (let y = 0; y < src.height; y++) {
    let s = ((src.y + y) * r.width + src.x) * 4
    let o = ((dy + y) * dstWidth + dx) * 4
    for (let x = 0; x < src.width; x++, s += 4, o += 4) {
      dst[o] = r.data[s + ri]!
      dst[o + 1] = r.data[s + gi]!
      dst[o + 2] = r.data[s + bi]!
      dst[o + 3] = ai < 0 ? 255 : r.data[s + ai]!
    }
  }
}

function response(type: number, size = GPU_HDR_SIZE): Uint8Array {
  const out = new Uint8Array(size)
  new DataView(out.buffer).setUint32(0, type, true)
  return out
}

/** True when `r` lies wholly inside a resource (u32 fields: sums cannot overflow a JS number). */
function inside(r: Rect, res: { width: number; height: number }): boolean {
  return r.x + r.width <= res.width && r.y + r.height <= res.height
}

function intersect(a: Rect, b: Rect): Rect {
  const x = Math.max(a.x, b.x)
  const y = Math.max(a.y, b.y)
  const w = Math.min(a.x + a.width, b.x + b.width) - x
  const h = Math.min(a.y + a.height, b.y + b.height) - y
  return w > 0 && h > 0 ? { x, y, width: w, height: h } : { x: 0, y: 0, width: 0, height: 0 }
}

const fmt = (r: Rect) => `${r.width}×${r.height}+${r.x}+${r.y}`

function commandName(type: number): string {
  const e = Object.entries(GPU_CMD).find(([, v]) => v === type)
  return e ? e[0] : `0x${type.toString(16)}`
}

/** Largest mode EDID's detailed timing can describe at 60 Hz with a 16-bit pixel clock. */
const MAX_MODE_W = 3840
const MAX_MODE_H = 2160

function checkMode(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width > MAX_MODE_W || height > MAX_MODE_H) {
    throw new VirtioConfigError(`virtio-gpu: mode ${width}×${height} is outside 16×16..${MAX_MODE_W}×${MAX_MODE_H}`)
  }
}

/**
 * A 128-byte EDID 1.4 base block (VESA E-EDID) for a digital 24-bit panel whose preferred
 * mode is width×height at 60 Hz, with a monitor name and a range-limits descriptor.
 */
export function buildEdid(width: number, height: number, name = 'honk'): Uint8Array {
  checkMode(width, height)
  const e = new Uint8Array(128)
  e.set([0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00], 0)
  // Manufacturer "HNK": three 5-bit letters (A=1), big-endian.
  const m = ((8 & 31) << 10) | ((14 & 31) << 5) | (11 & 31)
  e[8] = m >> 8
  e[9] = m & 0xff
  e[10] = 0x01 // product code 0x0001
  e[12] = 0x01 // serial 1
  e[16] = 1 // week
  e[17] = 2026 - 1990 // year of manufacture
  e[18] = 1 // EDID 1.4
  e[19] = 4
  e[20] = 0x80 | 0x20 // digital input, 8 bits per colour, interface undefined
  e[21] = Math.round(width / 40) & 0xff // screen size in cm (about 100 dpi)
  e[22] = Math.round(height / 40) & 0xff
  e[23] = 120 // gamma 2.2
  e[24] = 0x06 // RGB 4:4:4, preferred timing in DTD 1 (sRGB not claimed)
  // Chromaticity: sRGB primaries (10-bit fixed point), packed as §3.7 of E-EDID.
  const chroma = [
    [0.64, 0.33],
    [0.3, 0.6],
    [0.15, 0.06],
    [0.3127, 0.329],
  ].map(([x, y]) => [Math.round(x! * 1024), Math.round(y! * 1024)] as const)
  const lo = (v: number) => v & 3
  e[25] = (lo(chroma[0]![0]) << 6) | (lo(chroma[0]![1]) << 4) | (lo(chroma[1]![0]) << 2) | lo(chroma[1]![1])
  e[26] = (lo(chroma[2]![0]) << 6) | (lo(chroma[2]![1]) << 4) | (lo(chroma[3]![0]) << 2) | lo(chroma[3]![1])
  chroma.forEach(([x, y], i) => {
    e[27 + 2 * i] = x >> 2
    e[28 + 2 * i] = y >> 2
  })
  // No established timings; standard timings unused (0x01 0x01).
  for (let i = 38; i < 54; i++) e[i] = 1
  // Detailed timing descriptor: reduced blanking (hblank 160, vblank ≥ 460 µs) at 60 Hz.
  const hblank = 160
  const hfp = 48
  const hsync = 32
  const vfp = 3
  const vsync = 6
  const vblank = Math.max(vfp + vsync + 6, Math.ceil((460e-6 * 60 * height) / (1 - 460e-6 * 60)))
  const clock = Math.round(((width + hblank) * (height + vblank) * 60) / 10000) // 10 kHz units
  const d = 54
  e[d] = clock & 0xff
  e[d + 1] = clock >> 8
  e[d + 2] = width & 0xff
  e[d + 3] = hblank & 0xff
  e[d + 4] = ((width >> 8) << 4) | (hblank >> 8)
  e[d + 5] = height & 0xff
  e[d + 6] = vblank & 0xff
  e[d + 7] = ((height >> 8) << 4) | (vblank >> 8)
  e[d + 8] = hfp & 0xff
  e[d + 9] = hsync & 0xff
  e[d + 10] = ((vfp & 15) << 4) | (vsync & 15)
  e[d + 11] = ((hfp >> 8) << 6) | ((hsync >> 8) << 4) | ((vfp >> 4) << 2) | (vsync >> 4)
  e[d + 12] = e[21]! * 10 // image size in mm
  e[d + 13] = e[22]! * 10
  e[d + 14] = (((e[21]! * 10) >> 8) << 4) | ((e[22]! * 10) >> 8)
  e[d + 17] = 0x18 | 0x06 // digital separate sync, +hsync +vsync
  // Descriptor 2: monitor name (0xFC), text ended by 0x0A, padded with spaces.
  const n = 72
  e.set([0, 0, 0, 0xfc, 0], n)
  const text = name.replace(/[^\x20-\x7e]/g, '?').slice(0, 13)
  for (let i = 0; i < 13; i++) e[n + 5 + i] = i < text.length ? text.charCodeAt(i) : i === text.length ? 0x0a : 0x20
  // Descriptor 3: range limits (0xFD): 50–75 Hz vertical, 30–160 kHz horizontal, max clock.
  const l = 90
  e.set([0, 0, 0, 0xfd, 0, 50, 75, 30, 160, Math.min(255, Math.ceil(clock / 1000) + 1), 0x01, 0x0a, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20], l)
  // Descriptor 4: dummy (0x10).
  e.set([0, 0, 0, 0x10, 0], 108)
  e[126] = 0 // no extension blocks
  let sum = 0
  for (let i = 0; i < 127; i++) sum += e[i]!
  e[127] = (256 - (sum & 0xff)) & 0xff
  return e
}
