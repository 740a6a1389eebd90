import { describe, expect, it } from 'vitest'
import { LinuxKeyboard, absToPixel, type KeyEvent } from './events.js'
import { rgb } from './framebuffer.js'
import { rect } from './geometry.js'
import { UI } from './ui.js'
import { Panel } from './widget.js'
import { Button, Checkbox, Label, List, TextField } from './widgets.js'

const key = (k: string, mods: Partial<KeyEvent> = {}): KeyEvent => ({ kind: 'key', key: k, ...mods })
const click = (ui: UI, x: number, y: number) => {
  ui.handle({ kind: 'pointerdown', x, y })
  return ui.handle({ kind: 'pointerup', x, y })
}

function focusedField(text = '') {
  const ui = new UI({ width: 300, height: 60 })
  const changes: string[] = []
  const f = ui.add(new TextField({ bounds: rect(10, 10, 200, 30), text, onChange: (t) => changes.push(t) }))
  ui.setFocus(f)
  const type = (...keys: (string | KeyEvent)[]) => keys.forEach((k) => ui.handle(typeof k === 'string' ? key(k) : k))
  return { ui, f, changes, type }
}

describe('TextField', () => {
  it('types any printable character, including capitals and symbols', () => {
    const { f, type } = focusedField()
    type(...'Hello, World! 42 #$%')
    expect(f.text).toBe('Hello, World! 42 #$%')
  })

  it('moves the caret with arrows/Home/End and inserts there', () => {
    const { f, type } = focusedField('abcd')
    type('ArrowLeft', 'ArrowLeft', 'X')
    expect(f.text).toBe('abXcd')
    type('Home', 'Y', 'End', 'Z')
    expect(f.text).toBe('YabXcdZ')
    type('Home', 'ArrowLeft', 'ArrowLeft')
    expect(f.cursor).toBe(0)
    type('Delete')
    expect(f.text).toBe('abXcdZ')
    type('End', 'Delete')
    expect(f.text).toBe('abXcdZ') // nothing after the caret
  })

  it('selects with shift, replaces the selection when typing, deletes it with Backspace/Delete', () => {
    const { f, type, changes } = focusedField('hello world')
    type('Home', key('ArrowRight', { shift: true }), key('ArrowRight', { shift: true }))
    expect(f.selectedText).toBe('he')
    type('J')
    expect(f.text).toBe('Jllo world')
    type(key('End', { shift: true }))
    expect(f.selectedText).toBe('llo world')
    type('Backspace')
    expect(f.text).toBe('J')
    type(key('a', { ctrl: true }))
    expect(f.selection).toEqual([0, 1])
    type('Delete')
    expect(f.text).toBe('')
    expect(changes).toEqual(['Jllo world', 'J', ''])
    // Arrows without shift collapse a selection to its edge.
    f.text = 'abcdef'
    f.select(1, 4)
    type('ArrowLeft')
    expect([f.cursor, f.selection]).toEqual([1, [1, 1]])
    f.select(1, 4)
    type('ArrowRight')
    expect(f.cursor).toBe(4)
  })

  it('ignores Enter without onSubmit (as honk), calls onSubmit with it; ctrl/alt keys are not text', () => {
    const { ui, f } = focusedField('x')
    expect(ui.handle(key('Enter'))).toBe(false)
    let submitted = ''
    f.onSubmit = (t) => (submitted = t)
    ui.handle(key('Enter'))
    expect(submitted).toBe('x')
    ui.handle(key('b', { ctrl: true }))
    expect(f.text).toBe('x')
    expect(ui.handle(key('Backspace'))).toBe(true)
    expect(ui.handle(key('Backspace'))).toBe(false) // empty: nothing changes
  })

  it('places the caret where clicked and selects by dragging; scrolls to keep the caret visible', () => {
    const { ui, f } = focusedField('abcdefgh')
    ui.handle({ kind: 'pointerdown', x: 10 + 6 + 2 * 7 + 1, y: 20 })
    expect(f.cursor).toBe(2)
    ui.handle({ kind: 'pointermove', x: 10 + 6 + 5 * 7, y: 20 })
    ui.handle({ kind: 'pointerup', x: 10 + 6 + 5 * 7, y: 20 })
    expect(f.selectedText).toBe('cde')
    f.text = 'x'.repeat(100)
    ui.render()
    // The caret (a dark 1-pixel line) is inside the field after scrolling to the end.
    let caret = false
    for (let x = 12; x < 208; x++) if (ui.framebuffer.pixel(x, 25)[0] === 0 && ui.framebuffer.pixel(x + 1, 25)[0] === 240) caret = true
    expect(caret).toBe(true)
  })

  it('keeps to maxLength', () => {
    const ui = new UI({ width: 300, height: 60 })
    const f = ui.add(new TextField({ bounds: rect(10, 10, 200, 30), maxLength: 3 }))
    ui.setFocus(f)
    for (const c of 'abcdef') ui.handle(key(c))
    expect(f.text).toBe('abc')
  })
})

describe('Checkbox, List, Label, Panel, z-order and Tab', () => {
  it('Checkbox toggles on click and Space; a release outside does not toggle', () => {
    const ui = new UI({ width: 200, height: 40 })
    const seen: boolean[] = []
    const c = ui.add(new Checkbox({ bounds: rect(5, 5, 150, 20), label: 'sound', onChange: (v) => seen.push(v) }))
    click(ui, 10, 10)
    expect(c.checked).toBe(true)
    ui.handle(key(' '))
    expect(c.checked).toBe(false)
    ui.handle({ kind: 'pointerdown', x: 10, y: 10 })
    ui.handle({ kind: 'pointerup', x: 190, y: 35 })
    expect(c.checked).toBe(false)
    expect(seen).toEqual([true, false])
  })

  it('List selects by click, arrows, Home/End and scrolls with the wheel', () => {
    const ui = new UI({ width: 200, height: 100 })
    const picks: string[] = []
    const items = Array.from({ length: 20 }, (_, i) => `item ${i}`)
    const l = ui.add(new List({ bounds: rect(0, 0, 150, 4 + 4 * List.ROW), items, onSelect: (_, s) => picks.push(s) }))
    expect(l.visibleRows).toBe(4)
    click(ui, 10, 2 + List.ROW * 2 + 3)
    expect(l.selected).toBe(2)
    ui.handle(key('ArrowDown'))
    ui.handle(key('ArrowDown'))
    ui.handle(key('ArrowDown'))
    expect(l.selected).toBe(5)
    expect(l.scrollTop).toBe(2) // scrolled to keep it visible
    ui.handle(key('End'))
    expect([l.selected, l.scrollTop]).toEqual([19, 16])
    ui.handle({ kind: 'wheel', x: 10, y: 10, dy: -3 })
    expect(l.scrollTop).toBe(13)
    ui.handle({ kind: 'wheel', x: 10, y: 10, dy: -100 })
    expect(l.scrollTop).toBe(0)
    ui.handle(key('Home'))
    expect(picks).toEqual(['item 2', 'item 3', 'item 4', 'item 5', 'item 19', 'item 0'])
  })

  it('Panel lays out a column with padding and gap; later widgets are on top for hits and drawing', () => {
    const ui = new UI({ width: 300, height: 200 })
    const p = ui.add(new Panel({ bounds: rect(10, 10, 200, 180), background: rgb(50, 50, 70), layout: 'column', padding: 5, gap: 4 }))
    const title = p.add(new Label({ text: 'Title' }))
    const field = p.add(new TextField())
    const ok = p.add(new Button({ label: 'OK' }))
    expect(title.bounds).toEqual(rect(15, 15, 190, 17))
    expect(field.bounds).toEqual(rect(15, 36, 190, 28))
    expect(ok.bounds).toEqual(rect(15, 68, 190, 28))
    expect(p.preferredSize()).toEqual({ width: 210, height: 5 + 17 + 4 + 28 + 4 + 28 + 5 })
    expect(ui.widgetAt(20, 70)).toBe(ok)
    expect(ui.widgetAt(20, 130)).toBe(p)
    expect(ui.widgetAt(5, 5)).toBeUndefined()
    const over = ui.add(new Button({ bounds: rect(0, 60, 100, 20), label: 'over' }))
    expect(ui.widgetAt(20, 70)).toBe(over)
    ui.render()
    expect(ui.framebuffer.pixel(95, 75)).toEqual([90, 90, 110, 255])
    // Clicking the panel background focuses nothing (a panel is not focusable).
    click(ui, 20, 130)
    expect(ui.focused).toBeUndefined()
  })

  it('Tab and Shift-Tab cycle the focus through visible focusable widgets in tree order', () => {
    const ui = new UI({ width: 300, height: 200 })
    const a = ui.add(new TextField({ bounds: rect(0, 0, 100, 20) }))
    const p = ui.add(new Panel({ bounds: rect(0, 30, 300, 100) }))
    const b = p.add(new Button({ bounds: rect(0, 30, 50, 20), label: 'b' }))
    const c = p.add(new Checkbox({ bounds: rect(0, 60, 100, 20), label: 'c' }))
    ui.add(new Label({ bounds: rect(0, 150, 100, 20), text: 'not focusable' }))
    const order: unknown[] = []
    for (let i = 0; i < 4; i++) {
      ui.handle(key('Tab'))
      order.push(ui.focused)
    }
    expect(order).toEqual([a, b, c, a])
    ui.handle(key('Tab', { shift: true }))
    expect(ui.focused).toBe(c)
    // Hiding the focused widget's parent drops the focus.
    p.visible = false
    expect(ui.focused).toBeUndefined()
    ui.handle(key('Tab'))
    expect(ui.focused).toBe(a)
    ui.remove(a)
    expect(ui.focused).toBeUndefined()
    expect(() => ui.setFocus(b)).toThrow(/hidden/)
  })

  it('a focused Button clicks on Space and Enter', () => {
    const ui = new UI({ width: 100, height: 50 })
    const b = ui.add(new Button({ bounds: rect(0, 0, 80, 30), label: 'go' }))
    ui.setFocus(b)
    ui.handle(key(' '))
    ui.handle(key('Enter'))
    expect(b.clicks).toBe(2)
  })
})

describe('LinuxKeyboard and absToPixel', () => {
  it('maps Linux key codes with shift and caps lock (US layout), named keys, and ignores releases', () => {
    const k = new LinuxKeyboard()
    const keys = (events: [number, number][]) => events.map(([c, v]) => k.translate(c, v)?.key).filter((x) => x !== undefined)
    expect(keys([[30, 1], [30, 0], [2, 1], [2, 0], [57, 1], [57, 0]])).toEqual(['a', '1', ' '])
    expect(keys([[42, 1], [30, 1], [30, 0], [2, 1], [12, 1], [39, 1], [42, 0], [30, 1]])).toEqual(['A', '!', '_', ':', 'a'])
    expect(keys([[58, 1], [58, 0], [30, 1], [2, 1], [42, 1], [30, 1], [42, 0], [58, 1], [30, 1]])).toEqual(['A', '1', 'a', 'a'])
    expect(keys([[14, 1], [28, 1], [105, 1], [106, 2], [102, 1], [107, 1], [111, 1], [15, 1], [1, 1]])).toEqual(['Backspace', 'Enter', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'Delete', 'Tab', 'Escape'])
    k.translate(29, 1)
    expect(k.translate(30, 1)).toMatchObject({ key: 'a', ctrl: true })
    expect(k.translate(240, 1)).toBeUndefined()
  })

  it('scales tablet coordinates as honk did (v·size/32768), clamped', () => {
    expect(absToPixel(0, 1280)).toBe(0)
    expect(absToPixel(16384, 1280)).toBe(640)
    expect(absToPixel(32767, 1280)).toBe(1279)
    expect(absToPixel(99999, 800)).toBe(799)
  })
})
