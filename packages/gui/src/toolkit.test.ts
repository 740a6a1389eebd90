/** The Go honk's three toolkit tests (inventory §1.7), with pixels, plus the fixed quirk. */
import { describe, expect, it } from 'vitest'
import { rect } from './geometry.js'
import { UI } from './ui.js'
import { Button, TextField } from './widgets.js'

const down = (x: number, y: number) => ({ kind: 'pointerdown', x, y }) as const
const up = (x: number, y: number) => ({ kind: 'pointerup', x, y }) as const
const key = (k: string) => ({ kind: 'key', key: k }) as const

describe('honk toolkit tests', () => {
  it('Button: a press alone does not fire; the release does, toggling to active (centre green, background unchanged)', () => {
    const ui = new UI({ width: 320, height: 240 })
    let fired = 0
    const b = ui.add(new Button({ bounds: rect(40, 160, 200, 60), label: 'honk!', onClick: () => fired++ }))
    ui.render()
    expect(ui.handle(down(140, 190))).toBe(true)
    expect(fired).toBe(0)
    expect(b.active).toBe(false)
    ui.render()
    expect(ui.framebuffer.pixel(60, 170)).toEqual([60, 60, 80, 255]) // pressed
    expect(ui.handle(up(140, 190))).toBe(true)
    expect(fired).toBe(1)
    expect(b.active).toBe(true)
    ui.render()
    expect(ui.framebuffer.pixel(140, 170)).toEqual([80, 200, 120, 255]) // above the label, inside the button
    expect(ui.framebuffer.pixel(5, 5)).toEqual([30, 30, 46, 255])
    // The white label is at x+10, vertically centred.
    let white = 0
    for (let y = 160; y < 220; y++) for (let x = 50; x < 90; x++) if (ui.framebuffer.pixel(x, y)[0] === 255) white++
    expect(white).toBeGreaterThan(20)
  })

  it('TextField: a key without focus is ignored; click then "hi" edits and calls onChange; blue focus border, dark glyphs; Backspace leaves "h"', () => {
    const ui = new UI({ width: 700, height: 240 })
    const changes: string[] = []
    const f = ui.add(new TextField({ bounds: rect(40, 80, 600, 44), onChange: (t) => changes.push(t) }))
    ui.render()
    expect(ui.handle(key('x'))).toBe(false)
    expect(f.text).toBe('')
    expect(ui.handle(down(340, 102))).toBe(true)
    ui.handle(up(340, 102))
    expect(f.focused).toBe(true)
    ui.handle(key('h'))
    ui.handle(key('i'))
    expect(f.text).toBe('hi')
    expect(changes).toEqual(['h', 'hi'])
    ui.render()
    expect(ui.framebuffer.pixel(40, 80)).toEqual([80, 140, 255, 255])
    expect(ui.framebuffer.pixel(41, 100)).toEqual([80, 140, 255, 255])
    let dark = 0
    for (let y = 80; y < 124; y++) for (let x = 46; x < 60; x++) if (ui.framebuffer.pixel(x, y)[0]! < 50) dark++
    expect(dark).toBeGreaterThan(10)
    ui.handle(key('Backspace'))
    expect(f.text).toBe('h')
    expect(changes.at(-1)).toBe('h')
  })

  it('focus moves between two fields; clicking empty space clears it, and keys are then ignored', () => {
    const ui = new UI({ width: 400, height: 200 })
    const a = ui.add(new TextField({ bounds: rect(10, 10, 200, 30) }))
    const b = ui.add(new TextField({ bounds: rect(10, 60, 200, 30) }))
    ui.handle(down(20, 20))
    ui.handle(up(20, 20))
    expect(ui.focused).toBe(a)
    ui.handle(key('a'))
    ui.handle(down(20, 70))
    ui.handle(up(20, 70))
    expect(ui.focused).toBe(b)
    expect([a.focused, b.focused]).toEqual([false, true])
    ui.handle(key('b'))
    expect(ui.handle(down(350, 180))).toBe(true) // the focus change counts as a change
    ui.handle(up(350, 180))
    expect(ui.focused).toBeUndefined()
    expect(ui.handle(key('c'))).toBe(false)
    expect([a.text, b.text]).toEqual(['a', 'b'])
  })

  it('a release outside a pressed button cancels the click (honk never cleared the press)', () => {
    const ui = new UI({ width: 320, height: 240 })
    let fired = 0
    const b = ui.add(new Button({ bounds: rect(40, 160, 200, 60), label: 'honk!', onClick: () => fired++ }))
    ui.handle(down(140, 190))
    expect(b.pressed).toBe(true)
    ui.handle({ kind: 'pointermove', x: 300, y: 20 })
    expect(b.pressed).toBe(false) // shown released while the pointer is away
    ui.handle({ kind: 'pointermove', x: 100, y: 200 })
    expect(b.pressed).toBe(true)
    ui.handle(up(300, 20))
    expect(fired).toBe(0)
    expect(b.pressed).toBe(false)
    ui.render()
    expect(ui.framebuffer.pixel(140, 170)).toEqual([90, 90, 110, 255])
    // The next press and release over it clicks normally.
    ui.handle(down(140, 190))
    ui.handle(up(140, 190))
    expect(fired).toBe(1)
  })
})
