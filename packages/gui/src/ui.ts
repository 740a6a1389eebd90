/**
 * The retained-mode UI: a tree of widgets over a background, keyboard focus, pointer capture,
 * hit-testing in z-order (later-added on top), and damage tracking — `render()` redraws only
 * the damaged rectangles and returns them, which is what a display flush or a WebSocket frame
 * needs.
 */
import type { GuiEvent, PointerEvent } from './events.js'
import { GuiError } from './errors.js'
import { Framebuffer, rgb, type Color } from './framebuffer.js'
import { contains, intersect, isEmpty, overlaps, union, type Rect } from './geometry.js'
import type { Widget } from './widget.js'

export interface UIOptions {
  readonly width: number
  readonly height: number
  /** Default (30, 30, 46), the Go honk's. */
  readonly background?: Color
  /** Draw into this framebuffer (e.g. the guest's scanout) instead of a new one. */
  readonly framebuffer?: Framebuffer
}

/** Past this many separate damage rectangles they are merged into their bounding box. */
const MAX_DAMAGE = 32

export class UI {
  readonly framebuffer: Framebuffer
  readonly background: Color
  private readonly roots: Widget[] = []
  private focus: Widget | undefined
  private capture: Widget | undefined
  private damage: Rect[] = []
  private changed = false

  constructor(options: UIOptions) {
    this.framebuffer = options.framebuffer ?? new Framebuffer(options.width, options.height)
    if (this.framebuffer.width !== options.width || this.framebuffer.height !== options.height) {
      throw new GuiError(`a ${options.width}×${options.height} UI on a ${this.framebuffer.width}×${this.framebuffer.height} framebuffer`)
    }
    this.background = options.background ?? rgb(30, 30, 46)
    this.invalidate(this.framebuffer.bounds)
  }

  get width(): number {
    return this.framebuffer.width
  }

  get height(): number {
    return this.framebuffer.height
  }

  /** The top-level widgets, back to front. */
  get widgets(): readonly Widget[] {
    return this.roots
  }

  /** Adds a top-level widget on top of the others. Returns it. */
  add<W extends Widget>(w: W): W {
    if (w.parent || w.ui) throw new GuiError(`${w.constructor.name} is already placed`)
    this.roots.push(w)
    w.mount(undefined, this)
    w.invalidate()
    return w
  }

  /** Removes a top-level widget (it loses focus and capture). */
  remove(w: Widget): void {
    const i = this.roots.indexOf(w)
    if (i < 0) return
    w.invalidate()
    this.forget(w)
    this.roots.splice(i, 1)
    w.mount(undefined, undefined)
  }

  /** The widget with the keyboard focus. */
  get focused(): Widget | undefined {
    return this.focus
  }

  /** Gives `w` the focus (undefined clears it). Returns true when the focus changed. */
  setFocus(w: Widget | undefined): boolean {
    if (w && (!w.focusable || !w.visible || w.ui !== this)) throw new GuiError(`${w.constructor.name} cannot take the focus (${!w.focusable ? 'not focusable' : !w.visible ? 'hidden' : 'not in this UI'})`)
    if (w === this.focus) return false
    const old = this.focus
    this.focus = w
    this.changed = true
    if (old) {
      old.invalidate()
      old.onFocusChange(false)
    }
    if (w) {
      w.invalidate()
      w.onFocusChange(true)
    }
    return true
  }

  /** Every visible focusable widget in tree order (the Tab order). */
  focusables(): Widget[] {
    const out: Widget[] = []
    const walk = (w: Widget) => {
      if (!w.visible) return
      if (w.focusable) out.push(w)
      for (const c of w.children()) walk(c)
    }
    for (const r of this.roots) walk(r)
    return out
  }

  /** The topmost visible widget under (x, y). */
  widgetAt(x: number, y: number): Widget | undefined {
    for (let i = this.roots.length - 1; i >= 0; i--) {
      const h = this.roots[i]!.hit(x, y)
      if (h) return h
    }
    return undefined
  }

  /**
   * Dispatches one event. Keys go to the focused widget (Tab / Shift-Tab move the focus); a
   * press goes to the topmost widget under the pointer, which gets the focus if it can take
   * it (else the focus is cleared) and captures the moves and the release that follow.
   * Returns true when anything visible changed.
   */
  handle(e: GuiEvent): boolean {
    this.changed = false
    switch (e.kind) {
      case 'key': {
        if (e.key === 'Tab' && !e.ctrl && !e.alt) {
          const all = this.focusables()
          if (all.length > 0) {
            const i = this.focus ? all.indexOf(this.focus) : -1
            const next = e.shift ? (i <= 0 ? all.length - 1 : i - 1) : (i + 1) % all.length
            this.setFocus(all[next])
          }
          break
        }
        this.focus?.onKey(e)
        break
      }
      case 'pointerdown': {
        const hit = this.widgetAt(e.x, e.y)
        let f: Widget | undefined = hit
        while (f && !f.focusable) f = f.parent
        this.setFocus(f)
        this.capture = hit
        hit?.onPointerDown(e)
        break
      }
      case 'pointermove': {
        const t = this.capture ?? this.widgetAt(e.x, e.y)
        t?.onPointerMove(e)
        break
      }
      case 'pointerup': {
        const t = this.capture
        this.capture = undefined
        // A release with no press before it (the press was outside the UI) goes nowhere.
        if (t) t.onPointerUp(e as PointerEvent, t.visible && contains(t.bounds, e.x, e.y))
        break
      }
      case 'wheel': {
        for (let w = this.widgetAt(e.x, e.y); w; w = w.parent) if (w.onWheel(e)) break
        break
      }
    }
    return this.changed
  }

  /** Damages `r` (clipped to the screen); overlapping damage is merged. */
  invalidate(r: Rect): void {
    let d = intersect(r, this.framebuffer.bounds)
    if (isEmpty(d)) return
    this.changed = true
    if (this.damage.some((x) => contains(x, d.x, d.y) && contains(x, d.x + d.width - 1, d.y + d.height - 1))) return
    // Merge with every rectangle it overlaps, until none does.
    for (let merged = true; merged; ) {
      merged = false
      for (let i = 0; i < this.damage.length; i++) {
        if (overlaps(this.damage[i]!, d)) {
          d = union(d, this.damage[i]!)
          this.damage.splice(i, 1)
          merged = true
          break
        }
      }
    }
    this.damage.push(d)
    if (this.damage.length > MAX_DAMAGE) this.damage = [this.damage.reduce(union)]
  }

  /** The rectangles the next {@link render} will redraw. */
  get damaged(): readonly Rect[] {
    return this.damage
  }

  /** Redraws the damaged rectangles; returns them (empty when nothing changed). */
  render(): Rect[] {
    const out = this.damage
    this.damage = []
    for (const r of out) this.paint(r)
    return out
  }

  /** Redraws the whole screen (and forgets the damage). */
  redraw(): void {
    this.damage = []
    this.paint(this.framebuffer.bounds)
  }

  /** @internal A widget leaves (hidden or removed): it loses focus and capture if it or a child had them. */
  forget(w: Widget): void {
    const inside = (x: Widget | undefined) => {
      for (let p = x; p; p = p.parent) if (p === w) return true
      return false
    }
    if (inside(this.focus)) this.setFocus(undefined)
    if (inside(this.capture)) this.capture = undefined
  }

  private paint(r: Rect): void {
    const fb = this.framebuffer
    fb.pushClip(r)
    try {
      fb.fill(r, this.background)
      const draw = (w: Widget) => {
        if (!w.visible || !overlaps(w.bounds, fb.clip)) return
        fb.pushClip(w.bounds)
        try {
          w.draw(fb)
          for (const c of w.children()) draw(c)
        } finally {
          fb.popClip()
        }
      }
      for (const w of this.roots) draw(w)
    } finally {
      fb.popClip()
    }
  }
}
