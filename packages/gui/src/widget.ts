/** The widget base class and the container ({@link Panel}) with row/column layout. */
import type { KeyEvent, PointerEvent, WheelEvent } from './events.js'
import { GuiError } from './errors.js'
import type { Color, Framebuffer } from './framebuffer.js'
import { EMPTY, contains, inset, rect, sameRect, type Rect } from './geometry.js'
import type { UI } from './ui.js'

export interface Size {
  readonly width: number
  readonly height: number
}

/**
 * A widget: a rectangle of the screen that draws itself and reacts to events. Drawing is
 * confined to `bounds` (the UI clips to it), depends only on the widget's state, and every
 * state change calls {@link invalidate} — which is what makes drawing only the damaged
 * rectangles give the same pixels as drawing everything.
 */
export abstract class Widget {
  /** Takes keyboard focus when clicked or reached with Tab. */
  readonly focusable: boolean = false
  private box: Rect
  private shown = true
  private owner: Widget | undefined
  private root: UI | undefined

  constructor(bounds: Rect = EMPTY) {
    this.box = bounds
  }

  get bounds(): Rect {
    return this.box
  }

  /** Moves or resizes the widget (the old and new areas are damaged). */
  set bounds(r: Rect) {
    if (sameRect(r, this.box)) return
    this.invalidate()
    this.box = r
    this.invalidate()
    this.resized()
  }

  get visible(): boolean {
    return this.shown && (this.owner?.visible ?? true)
  }

  set visible(v: boolean) {
    if (v === this.shown) return
    this.shown = v
    this.root?.invalidate(this.box)
    if (!v) this.root?.forget(this)
  }

  get parent(): Widget | undefined {
    return this.owner
  }

  get ui(): UI | undefined {
    return this.root
  }

  /** True while this widget has the keyboard focus. */
  get focused(): boolean {
    return this.root?.focused === this
  }

  /** Damages `area` (default: the whole widget) so the next render redraws it. */
  invalidate(area: Rect = this.box): void {
    this.root?.invalidate(area)
  }

  /** The children, back to front (later ones are drawn on top and hit first). */
  children(): readonly Widget[] {
    return []
  }

  /** The size a layout gives the widget when it has no other constraint. */
  preferredSize(): Size {
    return { width: this.box.width, height: this.box.height }
  }

  /** Draws the widget (not its children) inside `bounds`; the UI has clipped `fb`. */
  abstract draw(fb: Framebuffer): void

  /** A key press while focused; true when it was used. */
  onKey(_e: KeyEvent): boolean {
    return false
  }

  /** The pointer went down on this widget; it receives the moves and the release that follow (capture). */
  onPointerDown(_e: PointerEvent): void {}
  /** A move over this widget, or anywhere while it holds the capture. */
  onPointerMove(_e: PointerEvent): void {}
  /** The release after a press on this widget; `inside` says whether it happened over the widget. */
  onPointerUp(_e: PointerEvent, _inside: boolean): void {}
  /** The wheel over this widget; true when used (else it goes to the parent). */
  onWheel(_e: WheelEvent): boolean {
    return false
  }
  /** Focus came or went (the UI has already damaged the widget). */
  onFocusChange(_focused: boolean): void {}
  /** Bounds changed (layouts re-place children here). */
  protected resized(): void {}

  /** @internal Called by the UI or a parent panel. */
  mount(parent: Widget | undefined, ui: UI | undefined): void {
    if (ui && this.root && this.root !== ui) throw new GuiError(`${this.constructor.name} is already in another UI`)
    if (parent && this.owner && this.owner !== parent) throw new GuiError(`${this.constructor.name} already has a parent`)
    this.owner = parent
    this.root = ui
    for (const c of this.children()) c.mount(this, ui)
  }

  /** The topmost visible widget of this subtree under (x, y). */
  hit(x: number, y: number): Widget | undefined {
    if (!this.visible || !contains(this.box, x, y)) return undefined
    const kids = this.children()
    for (let i = kids.length - 1; i >= 0; i--) {
      const h = kids[i]!.hit(x, y)
      if (h) return h
    }
    return this
  }
}

export interface PanelOptions {
  readonly bounds?: Rect
  /** Fill; default none (transparent: what is behind shows). */
  readonly background?: Color
  readonly border?: Color
  /** Children placed in a row or a column (cross axis stretched); default: where their bounds say. */
  readonly layout?: 'row' | 'column'
  readonly padding?: number
  readonly gap?: number
}

/** A container: draws a background and border, holds children, and optionally lays them out. */
export class Panel extends Widget {
  private readonly kids: Widget[] = []
  background: Color | undefined
  border: Color | undefined

  constructor(private readonly options: PanelOptions = {}) {
    super(options.bounds)
    this.background = options.background
    this.border = options.border
  }

  override children(): readonly Widget[] {
    return this.kids
  }

  /** Adds `child` on top of the others (and re-lays out). Returns it. */
  add<W extends Widget>(child: W): W {
    if (child.parent || child.ui) throw new GuiError(`${child.constructor.name} is already placed`)
    this.kids.push(child)
    child.mount(this, this.ui)
    this.layout()
    child.invalidate()
    return child
  }

  remove(child: Widget): void {
    const i = this.kids.indexOf(child)
    if (i < 0) return
    child.invalidate()
    this.ui?.forget(child)
    this.kids.splice(i, 1)
    child.mount(undefined, undefined)
    this.layout()
  }

  override preferredSize(): Size {
    const { layout, padding = 0, gap = 0 } = this.options
    if (!layout) return super.preferredSize()
    const sizes = this.kids.map((k) => k.preferredSize())
    const along = sizes.reduce((n, s) => n + (layout === 'row' ? s.width : s.height), 0) + gap * Math.max(0, sizes.length - 1)
    const across = Math.max(0, ...sizes.map((s) => (layout === 'row' ? s.height : s.width)))
    return layout === 'row' ? { width: along + 2 * padding, height: across + 2 * padding } : { width: across + 2 * padding, height: along + 2 * padding }
  }

  /** Places the children (row or column layout); nothing without a layout. */
  layout(): void {
    const { layout, padding = 0, gap = 0 } = this.options
    if (!layout) return
    const inner = inset(this.bounds, padding)
    let at = layout === 'row' ? inner.x : inner.y
    for (const k of this.kids) {
      const s = k.preferredSize()
      k.bounds = layout === 'row' ? rect(at, inner.y, s.width, Math.max(0, inner.height)) : rect(inner.x, at, Math.max(0, inner.width), s.height)
      at += (layout === 'row' ? s.width : s.height) + gap
    }
  }

  protected override resized(): void {
    this.layout()
  }

  draw(fb: Framebuffer): void {
    if (this.background !== undefined) fb.fill(this.bounds, this.background)
    if (this.border !== undefined) fb.strokeRect(this.bounds, this.border)
  }
}
