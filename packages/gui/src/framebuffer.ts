/**
 * An RGBA framebuffer: `width × height` pixels, 4 bytes each (R, G, B, A, not premultiplied),
 * row after row — the layout of a canvas `ImageData`, of pngjs and of virtio-gpu's R8G8B8A8.
 * Every drawing call is clipped to the current clip rectangle (a stack: `pushClip` narrows it).
 */
import { GuiError } from './errors.js'
import { intersect, isEmpty, rect, type Rect } from './geometry.js'

/** A colour as 0xRRGGBBAA. */
export type Color = number

/** 0xRRGGBBAA from components (alpha 255 = opaque). */
export function rgb(r: number, g: number, b: number, a = 255): Color {
  return (((r & 255) << 24) | ((g & 255) << 16) | ((b & 255) << 8) | (a & 255)) >>> 0
}

/** [r, g, b, a] of a colour. */
export function components(c: Color): [number, number, number, number] {
  return [(c >>> 24) & 255, (c >>> 16) & 255, (c >>> 8) & 255, c & 255]
}

export class Framebuffer {
  readonly data: Uint8Array
  private readonly clips: Rect[] = []
  private clipRect: Rect

  constructor(
    readonly width: number,
    readonly height: number,
    data?: Uint8Array,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width > 16384 || height > 16384) {
      throw new GuiError(`a framebuffer of ${width}×${height} pixels (1..16384 on each side)`)
    }
    if (data && data.length !== width * height * 4) throw new GuiError(`${data.length} bytes of pixel data for ${width}×${height} (need ${width * height * 4})`)
    this.data = data ?? new Uint8Array(width * height * 4)
    this.clipRect = rect(0, 0, width, height)
  }

  get bounds(): Rect {
    return rect(0, 0, this.width, this.height)
  }

  /** The rectangle drawing is confined to now. */
  get clip(): Rect {
    return this.clipRect
  }

  /** Narrows the clip to its intersection with `r` until the matching {@link popClip}. */
  pushClip(r: Rect): void {
    this.clips.push(this.clipRect)
    this.clipRect = intersect(this.clipRect, r)
  }

  popClip(): void {
    const c = this.clips.pop()
    if (!c) throw new GuiError('popClip without a matching pushClip')
    this.clipRect = c
  }

  /** Runs `draw` with the clip narrowed to `r`. */
  clipped(r: Rect, draw: () => void): void {
    this.pushClip(r)
    try {
      draw()
    } finally {
      this.popClip()
    }
  }

  /** The colour at (x, y), or 0 outside. */
  get(x: number, y: number): Color {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return 0
    const o = (y * this.width + x) * 4
    return rgb(this.data[o]!, this.data[o + 1]!, this.data[o + 2]!, this.data[o + 3]!)
  }

  /** [r, g, b, a] at (x, y). */
  pixel(x: number, y: number): [number, number, number, number] {
    return components(this.get(x, y))
  }

  /** Sets one pixel (replaces; use {@link blend} to draw with alpha). */
  set(x: number, y: number, c: Color): void {
    const k = this.clipRect
    if (x < k.x || y < k.y || x >= k.x + k.width || y >= k.y + k.height) return
    const o = (y * this.width + x) * 4
    this.data[o] = c >>> 24
    this.data[o + 1] = (c >>> 16) & 255
    this.data[o + 2] = (c >>> 8) & 255
    this.data[o + 3] = c & 255
  }

  /** Draws `c` over the pixel at (x, y) ("source over", straight alpha). */
  blend(x: number, y: number, c: Color): void {
    const a = c & 255
    if (a === 255) return this.set(x, y, c)
    if (a === 0) return
    const k = this.clipRect
    if (x < k.x || y < k.y || x >= k.x + k.width || y >= k.y + k.height) return
    const o = (y * this.width + x) * 4
    const d = this.data
    const da = d[o + 3]!
    const outA = a + (da * (255 - a)) / 255
    const mix = (s: number, dv: number) => Math.round((s * a + (dv * da * (255 - a)) / 255) / outA)
    d[o] = mix(c >>> 24, d[o]!)
    d[o + 1] = mix((c >>> 16) & 255, d[o + 1]!)
    d[o + 2] = mix((c >>> 8) & 255, d[o + 2]!)
    d[o + 3] = Math.round(outA)
  }

  /** Fills `r` (clipped) with `c`, replacing what was there. */
  fill(r: Rect, c: Color): void {
    const k = intersect(r, this.clipRect)
    if (isEmpty(k)) return
    const d = this.data
    const [cr, cg, cb, ca] = components(c)
    // One row is written pixel by pixel, then copied to the other rows.
    const first = (k.y * this.width + k.x) * 4
    for (let i = 0; i < k.width; i++) {
      const o = first + i * 4
      d[o] = cr
      d[o + 1] = cg
      d[o + 2] = cb
      d[o + 3] = ca
    }
    const row = d.subarray(first, first + k.width * 4)
    for (let y = 1; y < k.height; y++) d.copyWithin(((k.y + y) * this.width + k.x) * 4, first, first + row.length)
  }

  /** Fills the whole framebuffer, ignoring the clip. */
  clear(c: Color): void {
    this.clips.push(this.clipRect)
    this.clipRect = this.bounds
    this.fill(this.bounds, c)
    this.clipRect = this.clips.pop()!
  }

  /** A 1-pixel (or `thickness`) outline just inside `r`. */
  strokeRect(r: Rect, c: Color, thickness = 1): void {
    const t = Math.min(thickness, Math.ceil(r.width / 2), Math.ceil(r.height / 2))
    this.fill(rect(r.x, r.y, r.width, t), c)
    this.fill(rect(r.x, r.y + r.height - t, r.width, t), c)
    this.fill(rect(r.x, r.y + t, t, r.height - 2 * t), c)
    this.fill(rect(r.x + r.width - t, r.y + t, t, r.height - 2 * t), c)
  }

  /** A line from (x0, y0) to (x1, y1), both ends included (Bresenham). */
  line(x0: number, y0: number, x1: number, y1: number, c: Color): void {
    x0 = Math.round(x0)
    y0 = Math.round(y0)
    x1 = Math.round(x1)
    y1 = Math.round(y1)
    const dx = Math.abs(x1 - x0)
    const dy = -Math.abs(y1 - y0)
    const sx = x0 < x1 ? 1 : -1
    const sy = y0 < y1 ? 1 : -1
    let err = dx + dy
    for (;;) {
      this.set(x0, y0, c)
      if (x0 === x1 && y0 === y1) return
      const e2 = 2 * err
      if (e2 >= dy) {
        err += dy
        x0 += sx
      }
      if (e2 <= dx) {
        err += dx
        y0 += sy
      }
    }
  }

  /**
   * Copies `area` of `src` (default: all of it) to (dx, dy). `blend` draws with alpha
   * ("source over"); otherwise pixels are replaced. Overlapping copies within one framebuffer
   * are safe.
   */
  blit(src: Framebuffer, dx: number, dy: number, area: Rect = src.bounds, options: { blend?: boolean } = {}): void {
    const from = intersect(area, src.bounds)
    // Destination rectangle, clipped, and the matching source origin.
    const to = intersect(rect(dx + from.x - area.x, dy + from.y - area.y, from.width, from.height), this.clipRect)
    if (isEmpty(to)) return
    const sx = from.x + (to.x - (dx + from.x - area.x))
    const sy = from.y + (to.y - (dy + from.y - area.y))
    const source = src === this ? this.data.slice() : src.data
    for (let y = 0; y < to.height; y++) {
      const so = ((sy + y) * src.width + sx) * 4
      if (!options.blend) {
        this.data.set(source.subarray(so, so + to.width * 4), ((to.y + y) * this.width + to.x) * 4)
        continue
      }
      for (let x = 0; x < to.width; x++) {
        const o = so + x * 4
        this.blend(to.x + x, to.y + y, rgb(source[o]!, source[o + 1]!, source[o + 2]!, source[o + 3]!))
      }
    }
  }

  /** A copy of `r` as a new framebuffer (pixels outside this one are transparent black). */
  crop(r: Rect): Framebuffer {
    const out = new Framebuffer(r.width, r.height)
    out.blit(this, 0, 0, r)
    return out
  }

  /** True when both hold the same pixels. */
  equals(other: Framebuffer): boolean {
    if (other.width !== this.width || other.height !== this.height) return false
    const a = this.data
    const b = other.data
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }
}
