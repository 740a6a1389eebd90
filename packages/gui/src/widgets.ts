/** The widgets: Label, Button, TextField, Checkbox, List. Colours follow the Go honk's where it had them. */
import { isPrintable, type KeyEvent, type PointerEvent, type WheelEvent } from './events.js'
import { font7x13, type BitmapFont } from './font.js'
import { rgb, type Color, type Framebuffer } from './framebuffer.js'
import { EMPTY, inset, rect, type Rect } from './geometry.js'
import { drawText, textWidth } from './text.js'
import { Widget, type Size } from './widget.js'

/** The palette. Button and text field colours are the Go honk's. */
export const COLORS = {
  text: rgb(255, 255, 255),
  darkText: rgb(0, 0, 0),
  button: rgb(90, 90, 110),
  buttonPressed: rgb(60, 60, 80),
  buttonActive: rgb(80, 200, 120),
  field: rgb(240, 240, 240),
  fieldBorder: rgb(150, 150, 160),
  focus: rgb(80, 140, 255),
  selection: rgb(170, 200, 255),
  disabled: rgb(140, 140, 150),
} as const

/** y of a single line of text centred in `r`. */
const middle = (r: Rect, font: BitmapFont) => r.y + Math.floor((r.height - font.height) / 2)

export interface LabelOptions {
  readonly bounds?: Rect
  readonly text: string
  readonly color?: Color
  readonly font?: BitmapFont
}

/** One line of text, vertically centred, starting 2 pixels in. */
export class Label extends Widget {
  private value: string
  private readonly font: BitmapFont
  color: Color

  constructor(options: LabelOptions) {
    super(options.bounds)
    this.value = options.text
    this.color = options.color ?? COLORS.text
    this.font = options.font ?? font7x13
  }

  get text(): string {
    return this.value
  }

  set text(t: string) {
    if (t === this.value) return
    this.value = t
    this.invalidate()
  }

  override preferredSize(): Size {
    return { width: textWidth(this.value, this.font) + 4, height: this.font.height + 4 }
  }

  draw(fb: Framebuffer): void {
    drawText(fb, this.bounds.x + 2, middle(this.bounds, this.font), this.value, this.color, this.font)
  }
}

export interface ButtonOptions {
  readonly bounds?: Rect
  readonly label: string
  readonly onClick?: (button: Button) => void
}

/**
 * A push button. A press arms it; the release over it clicks (fires `onClick` and toggles
 * `active`, as the Go honk's did); a release elsewhere cancels — the fix of honk's quirk, where
 * a release outside never cleared the press. Space or Enter clicks a focused button.
 */
export class Button extends Widget {
  override readonly focusable = true
  private armed = false
  private over = false
  private isActive = false
  private label: string
  /** Clicks so far. */
  clicks = 0
  onClick: ((button: Button) => void) | undefined

  constructor(options: ButtonOptions) {
    super(options.bounds)
    this.label = options.label
    this.onClick = options.onClick
  }

  /** Shown pressed: armed and the pointer over it. */
  get pressed(): boolean {
    return this.armed && this.over
  }

  /** Toggled by every click (the Go honk's `Active()`). */
  get active(): boolean {
    return this.isActive
  }

  get text(): string {
    return this.label
  }

  set text(t: string) {
    if (t === this.label) return
    this.label = t
    this.invalidate()
  }

  /** Clicks the button from the program. */
  click(): void {
    this.isActive = !this.isActive
    this.clicks++
    this.invalidate()
    this.onClick?.(this)
  }

  override preferredSize(): Size {
    return { width: textWidth(this.label) + 20, height: 28 }
  }

  override onPointerDown(e: PointerEvent): void {
    if ((e.button ?? 0) !== 0) return
    this.armed = true
    this.over = true
    this.invalidate()
  }

  override onPointerMove(e: PointerEvent): void {
    if (!this.armed) return
    const over = e.x >= this.bounds.x && e.y >= this.bounds.y && e.x < this.bounds.x + this.bounds.width && e.y < this.bounds.y + this.bounds.height
    if (over === this.over) return
    this.over = over
    this.invalidate()
  }

  override onPointerUp(_e: PointerEvent, inside: boolean): void {
    if (!this.armed) return
    this.armed = false
    this.over = false
    this.invalidate()
    if (inside) this.click()
  }

  override onKey(e: KeyEvent): boolean {
    if (e.key !== ' ' && e.key !== 'Enter') return false
    this.click()
    return true
  }

  override onFocusChange(): void {
    // Losing the focus mid-press (e.g. Tab) does not cancel a pointer press; nothing to do.
  }

  draw(fb: Framebuffer): void {
    const b = this.bounds
    fb.fill(b, this.pressed ? COLORS.buttonPressed : this.isActive ? COLORS.buttonActive : COLORS.button)
    if (this.focused) fb.strokeRect(b, COLORS.focus)
    drawText(fb, b.x + 10, middle(b, font7x13), this.label, COLORS.text)
  }
}

export interface TextFieldOptions {
  readonly bounds?: Rect
  readonly text?: string
  /** After every edit, with the new text. */
  readonly onChange?: (text: string) => void
  /** Enter; without it Enter is not used (as the Go honk's field). */
  readonly onSubmit?: (text: string) => void
  /** The most characters; default 1024. */
  readonly maxLength?: number
}

/**
 * A one-line text field: caret, selection (shift + arrows/Home/End, Ctrl+A, drag), insertion
 * over the selection, Backspace/Delete, horizontal scrolling. Any printable character goes in
 * (honk's took only a–z, digits and space).
 */
export class TextField extends Widget {
  override readonly focusable = true
  private chars: string[]
  private caret: number
  private anchor: number
  private scroll = 0
  private dragging = false
  private readonly maxLength: number
  onChange: ((text: string) => void) | undefined
  onSubmit: ((text: string) => void) | undefined

  constructor(options: TextFieldOptions = {}) {
    super(options.bounds)
    this.maxLength = options.maxLength ?? 1024
    this.chars = [...(options.text ?? '')].slice(0, this.maxLength)
    this.caret = this.anchor = this.chars.length
    this.onChange = options.onChange
    this.onSubmit = options.onSubmit
  }

  get text(): string {
    return this.chars.join('')
  }

  /** Replaces the text (caret at its end; no onChange). */
  set text(t: string) {
    this.chars = [...t].slice(0, this.maxLength)
    this.caret = this.anchor = this.chars.length
    this.reveal()
    this.invalidate()
  }

  /** Caret position in characters. */
  get cursor(): number {
    return this.caret
  }

  /** The selection as [start, end) in characters (empty when start = end). */
  get selection(): [number, number] {
    return [Math.min(this.caret, this.anchor), Math.max(this.caret, this.anchor)]
  }

  get selectedText(): string {
    const [s, e] = this.selection
    return this.chars.slice(s, e).join('')
  }

  /** Selects [start, end) (clamped); the caret goes to `end`. */
  select(start: number, end: number): void {
    const n = this.chars.length
    this.anchor = Math.max(0, Math.min(n, start))
    this.caret = Math.max(0, Math.min(n, end))
    this.reveal()
    this.invalidate()
  }

  override preferredSize(): Size {
    return { width: Math.max(this.bounds.width, 200), height: 28 }
  }

  override onKey(e: KeyEvent): boolean {
    const [s, t] = this.selection
    const n = this.chars.length
    const move = (to: number) => {
      this.caret = Math.max(0, Math.min(n, to))
      if (!e.shift) this.anchor = this.caret
    }
    if (isPrintable(e)) {
      if (n - (t - s) >= this.maxLength) return false
      this.replace(e.key)
      return true
    }
    if (e.ctrl && (e.key === 'a' || e.key === 'A')) {
      this.anchor = 0
      this.caret = n
    } else {
      switch (e.key) {
        case 'Backspace':
          if (s !== t) this.replace('')
          else if (s > 0) {
            this.anchor = s - 1
            this.replace('')
          } else return false
          return true
        case 'Delete':
          if (s !== t) this.replace('')
          else if (s < n) {
            this.anchor = s + 1
            this.replace('')
          } else return false
          return true
        case 'ArrowLeft':
          move(s !== t && !e.shift ? s : this.caret - 1)
          break
        case 'ArrowRight':
          move(s !== t && !e.shift ? t : this.caret + 1)
          break
        case 'Home':
          move(0)
          break
        case 'End':
          move(n)
          break
        case 'Enter':
          if (!this.onSubmit) return false
          this.onSubmit(this.text)
          return true
        default:
          return false
      }
    }
    this.reveal()
    this.invalidate()
    return true
  }

  override onPointerDown(e: PointerEvent): void {
    this.caret = this.indexAt(e.x)
    if (!e.shift) this.anchor = this.caret
    this.dragging = true
    this.reveal()
    this.invalidate()
  }

  override onPointerMove(e: PointerEvent): void {
    if (!this.dragging) return
    const i = this.indexAt(e.x)
    if (i === this.caret) return
    this.caret = i
    this.reveal()
    this.invalidate()
  }

  override onPointerUp(): void {
    this.dragging = false
  }

  override onFocusChange(focused: boolean): void {
    if (!focused) this.dragging = false
  }

  draw(fb: Framebuffer): void {
    const b = this.bounds
    const f = font7x13
    fb.fill(b, COLORS.field)
    if (this.focused) fb.strokeRect(b, COLORS.focus, 2)
    else fb.strokeRect(b, COLORS.fieldBorder)
    const x0 = b.x + 6 - this.scroll
    const y = middle(b, f)
    fb.clipped(inset(b, 2), () => {
      const [s, t] = this.selection
      if (s !== t && this.focused) fb.fill(rect(x0 + s * f.width, y, (t - s) * f.width, f.height), COLORS.selection)
      drawText(fb, x0, y, this.text, COLORS.darkText)
      if (this.focused) fb.fill(rect(x0 + this.caret * f.width, y, 1, f.height), COLORS.darkText)
    })
  }

  private replace(insert: string): void {
    const [s, t] = this.selection
    this.chars.splice(s, t - s, ...(insert ? [insert] : []))
    this.caret = this.anchor = s + (insert ? 1 : 0)
    this.reveal()
    this.invalidate()
    this.onChange?.(this.text)
  }

  private indexAt(x: number): number {
    const i = Math.round((x - (this.bounds.x + 6 - this.scroll)) / font7x13.width)
    return Math.max(0, Math.min(this.chars.length, i))
  }

  /** Scrolls so the caret is inside the visible text area. */
  private reveal(): void {
    const visible = Math.max(font7x13.width, this.bounds.width - 12)
    const at = this.caret * font7x13.width
    if (at - this.scroll > visible - 1) this.scroll = at - visible + 1
    if (at < this.scroll) this.scroll = at
    const max = Math.max(0, this.chars.length * font7x13.width + 1 - visible)
    this.scroll = Math.max(0, Math.min(this.scroll, max))
  }

  protected override resized(): void {
    this.reveal()
  }
}

export interface CheckboxOptions {
  readonly bounds?: Rect
  readonly label: string
  readonly checked?: boolean
  readonly onChange?: (checked: boolean) => void
}

/** A check box with a label; a click (release over it) or Space toggles it. */
export class Checkbox extends Widget {
  override readonly focusable = true
  private on: boolean
  private armed = false
  private readonly label: string
  onChange: ((checked: boolean) => void) | undefined

  constructor(options: CheckboxOptions) {
    super(options.bounds)
    this.label = options.label
    this.on = options.checked ?? false
    this.onChange = options.onChange
  }

  get checked(): boolean {
    return this.on
  }

  set checked(v: boolean) {
    if (v === this.on) return
    this.on = v
    this.invalidate()
  }

  toggle(): void {
    this.checked = !this.on
    this.onChange?.(this.on)
  }

  override preferredSize(): Size {
    return { width: textWidth(this.label) + 24, height: 20 }
  }

  override onPointerDown(e: PointerEvent): void {
    if ((e.button ?? 0) === 0) this.armed = true
  }

  override onPointerUp(_e: PointerEvent, inside: boolean): void {
    if (this.armed && inside) this.toggle()
    this.armed = false
  }

  override onKey(e: KeyEvent): boolean {
    if (e.key !== ' ') return false
    this.toggle()
    return true
  }

  draw(fb: Framebuffer): void {
    const b = this.bounds
    const box = rect(b.x + 3, b.y + Math.floor((b.height - 13) / 2), 13, 13)
    fb.fill(box, COLORS.field)
    fb.strokeRect(box, COLORS.button)
    if (this.on) {
      // A tick: two 2-pixel-wide strokes.
      for (const d of [0, 1]) {
        fb.line(box.x + 3, box.y + 6 + d, box.x + 5, box.y + 8 + d, COLORS.darkText)
        fb.line(box.x + 5, box.y + 8 + d, box.x + 9, box.y + 3 + d, COLORS.darkText)
      }
    }
    drawText(fb, b.x + 22, middle(b, font7x13), this.label, COLORS.text)
    if (this.focused) fb.strokeRect(b, COLORS.focus)
  }
}

export interface ListOptions {
  readonly bounds?: Rect
  readonly items?: readonly string[]
  readonly selected?: number
  readonly onSelect?: (index: number, item: string) => void
}

/** A scrolling list of one-line items with one selected; click, arrows, Home/End, PageUp/PageDown, wheel. */
export class List extends Widget {
  override readonly focusable = true
  static readonly ROW = 15
  private rows: string[]
  private current: number
  private top = 0
  onSelect: ((index: number, item: string) => void) | undefined

  constructor(options: ListOptions = {}) {
    super(options.bounds ?? EMPTY)
    this.rows = [...(options.items ?? [])]
    this.current = Math.min(options.selected ?? -1, this.rows.length - 1)
    this.onSelect = options.onSelect
  }

  get items(): readonly string[] {
    return this.rows
  }

  set items(items: readonly string[]) {
    this.rows = [...items]
    this.current = Math.min(this.current, this.rows.length - 1)
    this.top = Math.max(0, Math.min(this.top, this.rows.length - this.visibleRows))
    this.invalidate()
  }

  /** The selected index, -1 for none. */
  get selected(): number {
    return this.current
  }

  /** First row shown. */
  get scrollTop(): number {
    return this.top
  }

  get visibleRows(): number {
    return Math.max(1, Math.floor((this.bounds.height - 4) / List.ROW))
  }

  /** Selects row `i` (clamped), scrolls it into view, and fires onSelect if it changed. */
  select(i: number): void {
    if (this.rows.length === 0) return
    const to = Math.max(0, Math.min(this.rows.length - 1, i))
    if (to < this.top) this.top = to
    if (to >= this.top + this.visibleRows) this.top = to - this.visibleRows + 1
    if (to === this.current) return this.invalidate()
    this.current = to
    this.invalidate()
    this.onSelect?.(to, this.rows[to]!)
  }

  override preferredSize(): Size {
    return { width: Math.max(this.bounds.width, 160), height: Math.max(this.bounds.height, 4 + 5 * List.ROW) }
  }

  override onPointerDown(e: PointerEvent): void {
    const row = Math.floor((e.y - this.bounds.y - 2) / List.ROW)
    if (row >= 0 && row < this.visibleRows && this.top + row < this.rows.length) this.select(this.top + row)
  }

  override onWheel(e: WheelEvent): boolean {
    const max = Math.max(0, this.rows.length - this.visibleRows)
    const to = Math.max(0, Math.min(max, this.top + Math.sign(e.dy) * Math.max(1, Math.round(Math.abs(e.dy)))))
    if (to === this.top) return e.dy !== 0 && max > 0
    this.top = to
    this.invalidate()
    return true
  }

  override onKey(e: KeyEvent): boolean {
    const page = this.visibleRows
    const keys: Record<string, number> = { ArrowUp: this.current - 1, ArrowDown: this.current + 1, Home: 0, End: this.rows.length - 1, PageUp: this.current - page, PageDown: this.current + page }
    const to = keys[e.key]
    if (to === undefined || this.rows.length === 0) return false
    this.select(this.current < 0 && e.key === 'ArrowDown' ? 0 : to)
    return true
  }

  draw(fb: Framebuffer): void {
    const b = this.bounds
    fb.fill(b, COLORS.field)
    fb.strokeRect(b, this.focused ? COLORS.focus : COLORS.fieldBorder, this.focused ? 2 : 1)
    fb.clipped(inset(b, 2), () => {
      for (let r = 0; r < this.visibleRows + 1 && this.top + r < this.rows.length; r++) {
        const i = this.top + r
        const y = b.y + 2 + r * List.ROW
        const sel = i === this.current
        if (sel) fb.fill(rect(b.x + 2, y, b.width - 4, List.ROW), COLORS.focus)
        drawText(fb, b.x + 5, y + 1, this.rows[i]!, sel ? COLORS.text : COLORS.darkText)
      }
    })
  }
}
