/**
 * Golden images: every widget state drawn, compared pixel for pixel with the PNGs in
 * test/golden/. After an intended change of the drawing, regenerate them with
 *
 *     cd packages/gui && pnpm golden        # HONK_UPDATE_GOLDEN=1 vitest run test/golden.test.ts
 *
 * and look at the new images before committing them. A mismatch writes the actual image to
 * the system's temp directory (the path is in the failure message).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Button, Checkbox, FONT_CHARS, Label, List, Panel, TextField, UI, drawText, rect, rgb, type GuiEvent } from '../src/index.js'
import { decodePng, encodePng } from '../src/node.js'

const dir = join(dirname(fileURLToPath(import.meta.url)), 'golden')
const update = process.env['HONK_UPDATE_GOLDEN'] === '1'

function golden(name: string, ui: UI): void {
  ui.render()
  const file = join(dir, `${name}.png`)
  const png = encodePng(ui.framebuffer)
  if (update) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, png)
    return
  }
  expect(existsSync(file), `${file} is missing: run \`pnpm golden\` in packages/gui`).toBe(true)
  const want = decodePng(readFileSync(file))
  if (!want.equals(ui.framebuffer)) {
    const actual = join(tmpdir(), `honk-gui-${name}.actual.png`)
    writeFileSync(actual, png)
    let diff = 0
    for (let i = 0; i < want.data.length; i += 4) if (want.data[i] !== ui.framebuffer.data[i] || want.data[i + 1] !== ui.framebuffer.data[i + 1] || want.data[i + 2] !== ui.framebuffer.data[i + 2]) diff++
    expect.fail(`${name}: ${diff} pixels differ from ${file} (actual image: ${actual})`)
  }
}

const at = (kind: 'pointerdown' | 'pointerup' | 'pointermove', x: number, y: number): GuiEvent => ({ kind, x, y })
const keys = (ui: UI, text: string) => [...text].forEach((k) => ui.handle({ kind: 'key', key: k }))

/** A one-widget screen. */
function one<W extends Parameters<UI['add']>[0]>(width: number, height: number, w: W): { ui: UI; w: W } {
  const ui = new UI({ width, height })
  return { ui, w: ui.add(w) }
}

describe('golden images', () => {
  it('font: every printable ASCII character', () => {
    const ui = new UI({ width: 7 * 32 + 8, height: 13 * 3 + 8 })
    ui.render()
    for (let row = 0; row < 3; row++) drawText(ui.framebuffer, 4, 4 + row * 13, FONT_CHARS.slice(row * 32, row * 32 + 32), rgb(255, 255, 255))
    golden('font', ui)
  })

  it('label', () => {
    golden('label', one(160, 30, new Label({ bounds: rect(5, 5, 150, 20), text: 'Hello, honk!' })).ui)
  })

  it('button: normal, pressed, active, focused', () => {
    const make = () => one(120, 50, new Button({ bounds: rect(10, 10, 100, 30), label: 'honk!' }))
    golden('button-normal', make().ui)
    const p = make()
    p.ui.handle(at('pointerdown', 50, 20))
    golden('button-pressed-focused', p.ui)
    const a = make()
    a.w.click()
    golden('button-active', a.ui)
    const f = make()
    f.ui.setFocus(f.w)
    golden('button-focused', f.ui)
  })

  it('text field: empty, focused with text and caret, selection, scrolled', () => {
    const make = (text = '') => one(220, 40, new TextField({ bounds: rect(5, 5, 210, 30), text }))
    golden('textfield-empty', make().ui)
    golden('textfield-text', make('unfocused text').ui)
    const f = make()
    f.ui.setFocus(f.w)
    keys(f.ui, 'Hello, World')
    golden('textfield-focused', f.ui)
    const s = make('select me please')
    s.ui.setFocus(s.w)
    s.w.select(7, 9)
    golden('textfield-selection', s.ui)
    const l = make('a long line of text that does not fit in the field at all')
    l.ui.setFocus(l.w)
    golden('textfield-scrolled', l.ui)
  })

  it('checkbox: unchecked, checked, focused', () => {
    const make = () => one(140, 30, new Checkbox({ bounds: rect(5, 5, 130, 20), label: 'enable sound' }))
    golden('checkbox-unchecked', make().ui)
    const c = make()
    c.w.checked = true
    golden('checkbox-checked', c.ui)
    const f = make()
    f.ui.handle(at('pointerdown', 10, 10))
    f.ui.handle(at('pointerup', 10, 10))
    golden('checkbox-checked-focused', f.ui)
  })

  it('list: plain, selected and focused, scrolled', () => {
    const items = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta']
    const make = () => one(140, 90, new List({ bounds: rect(5, 5, 130, 4 + 5 * List.ROW), items }))
    golden('list', make().ui)
    const s = make()
    s.ui.handle(at('pointerdown', 20, 7 + List.ROW))
    golden('list-selected-focused', s.ui)
    const r = make()
    r.ui.handle({ kind: 'wheel', x: 20, y: 20, dy: 3 })
    golden('list-scrolled', r.ui)
  })

  it('the other states: a press dragged off a button and cancelled, an unfocused selection, focus without one', () => {
    const b = one(120, 50, new Button({ bounds: rect(10, 10, 100, 30), label: 'honk!' }))
    b.ui.handle(at('pointerdown', 50, 20))
    b.ui.handle(at('pointermove', 115, 45))
    // Armed, the pointer elsewhere: drawn raised (not pressed), focused.
    expect([b.w.pressed, b.w.focused]).toEqual([false, true])
    golden('button-armed-outside', b.ui)
    b.ui.handle(at('pointerup', 115, 45))
    expect(b.w.clicks).toBe(0)
    golden('button-cancelled', b.ui)
    const c = one(140, 30, new Checkbox({ bounds: rect(5, 5, 130, 20), label: 'enable sound' }))
    c.ui.setFocus(c.w)
    golden('checkbox-unchecked-focused', c.ui)
    const items = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta']
    const l = one(140, 90, new List({ bounds: rect(5, 5, 130, 4 + 5 * List.ROW), items, selected: 2 }))
    golden('list-selected', l.ui)
    const n = one(140, 90, new List({ bounds: rect(5, 5, 130, 4 + 5 * List.ROW), items }))
    n.ui.setFocus(n.w)
    golden('list-focused', n.ui)
    const t = one(220, 40, new TextField({ bounds: rect(5, 5, 210, 30), text: 'select me please' }))
    t.ui.setFocus(t.w)
    t.w.select(7, 9)
    t.ui.setFocus(undefined)
    // The selection is kept (selectedText) but drawn only while the field has focus.
    expect(t.w.selectedText).toBe('me')
    golden('textfield-selection-unfocused', t.ui)
  })

  it('panel: a column form', () => {
    const ui = new UI({ width: 240, height: 200 })
    const p = ui.add(new Panel({ bounds: rect(10, 10, 220, 180), background: rgb(50, 50, 70), border: rgb(120, 120, 150), layout: 'column', padding: 8, gap: 6 }))
    p.add(new Label({ text: 'Settings' }))
    p.add(new TextField({ text: 'machine-1' }))
    p.add(new Checkbox({ label: 'networking', checked: true }))
    p.add(new Button({ label: 'Apply' }))
    golden('panel-form', ui)
  })

  it("honk's ui demo after typing and a click", () => {
    const ui = new UI({ width: 680, height: 240 })
    const field = ui.add(new TextField({ bounds: rect(40, 80, 600, 44) }))
    const button = ui.add(new Button({ bounds: rect(40, 160, 200, 60), label: 'honk!' }))
    ui.handle(at('pointerdown', 140, 190))
    ui.handle(at('pointerup', 140, 190))
    ui.handle(at('pointerdown', 340, 102))
    ui.handle(at('pointerup', 340, 102))
    keys(ui, 'hello honk')
    expect([field.text, button.clicks]).toEqual(['hello honk', 1])
    golden('honk-demo', ui)
  })
})
