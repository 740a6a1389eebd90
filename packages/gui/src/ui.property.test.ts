/**
 * Properties of the UI under random event sequences: nothing throws, the focus stays
 * consistent, and drawing only the damaged rectangles gives the same pixels as redrawing all.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { GuiEvent } from './events.js'
import { rgb } from './framebuffer.js'
import { rect } from './geometry.js'
import { UI } from './ui.js'
import { Panel, type Widget } from './widget.js'
import { Button, Checkbox, Label, List, TextField } from './widgets.js'

const W = 160
const H = 120

function build() {
  const ui = new UI({ width: W, height: H })
  const field = ui.add(new TextField({ bounds: rect(4, 4, 100, 22), text: 'seed' }))
  const panel = ui.add(new Panel({ bounds: rect(0, 30, 120, 86), background: rgb(50, 50, 70), border: rgb(200, 200, 200), layout: 'column', padding: 3, gap: 2 }))
  const label = panel.add(new Label({ text: 'label' }))
  const check = panel.add(new Checkbox({ label: 'check' }))
  const list = panel.add(new List({ items: ['one', 'two', 'three', 'four', 'five', 'six', 'seven'] }))
  // Overlapping widgets: z-order matters for hits and drawing.
  const button = ui.add(new Button({ bounds: rect(90, 20, 60, 40), label: 'go' }))
  const field2 = ui.add(new TextField({ bounds: rect(100, 70, 55, 40) }))
  const all: Widget[] = [field, panel, label, check, list, button, field2]
  return { ui, all, toggles: [panel, button, field2, check] as Widget[], homes: [ui, ui, ui, panel] as (UI | Panel)[] }
}

type Step = { e: GuiEvent } | { hide: number } | { show: number } | { move: [number, number, number] } | { remove: number } | { readd: number }

const coord = (max: number) => fc.integer({ min: -10, max: max + 10 })
const keyArb = fc.record({
  kind: fc.constant('key' as const),
  key: fc.constantFrom('a', 'Z', '1', ' ', '~', 'Backspace', 'Delete', 'Enter', 'Tab', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown', 'Escape', 'é'),
  shift: fc.boolean(),
  ctrl: fc.boolean(),
})
// Half the pointer events land on a widget's inside (so presses, drags and releases meet widgets often).
const spots = [[50, 15], [120, 40], [20, 50], [30, 90], [127, 90], [60, 100], [150, 110]] as const
const pointAt = fc.oneof(fc.tuple(coord(W), coord(H)), fc.constantFrom(...spots))
const pointerArb = fc
  .tuple(fc.constantFrom('pointerdown' as const, 'pointerup' as const, 'pointermove' as const), pointAt, fc.constantFrom(0, 0, 2))
  .map(([kind, [x, y], button]) => ({ kind, x, y, button }))
const wheelArb = fc.record({ kind: fc.constant('wheel' as const), x: coord(W), y: coord(H), dy: fc.integer({ min: -5, max: 5 }) })
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(keyArb, pointerArb, wheelArb).map((e) => ({ e })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((hide) => ({ hide })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((show) => ({ show })) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), coord(W), coord(H)).map((move) => ({ move })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((remove) => ({ remove })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((readd) => ({ readd })) },
)

function apply(s: Step, t: ReturnType<typeof build>): void {
  if ('e' in s) t.ui.handle(s.e)
  else if ('hide' in s) t.toggles[s.hide]!.visible = false
  else if ('show' in s) t.toggles[s.show]!.visible = true
  else if ('move' in s) {
    const w = t.toggles[s.move[0]]!
    w.bounds = rect(s.move[1], s.move[2], w.bounds.width, w.bounds.height)
  } else if ('remove' in s) {
    t.homes[s.remove]!.remove(t.toggles[s.remove]!) // removing what is not there is a no-op
  } else {
    const w = t.toggles[s.readd]!
    if (!w.ui && !w.parent) t.homes[s.readd]!.add(w) // back on top of its container
  }
}

function focusConsistent(t: ReturnType<typeof build>): void {
  const f = t.ui.focused
  if (f) {
    expect(f.focusable).toBe(true)
    expect(f.visible).toBe(true)
    expect(f.ui).toBe(t.ui)
  }
  for (const w of t.all) expect(w.focused).toBe(w === f)
  // A removed widget (or one inside a removed panel) is never focused.
  if (f) expect(t.ui.focusables()).toContain(f)
}

describe('UI properties', () => {
  it('random event sequences never throw and keep the focus consistent', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => {
        const t = build()
        for (const s of steps) {
          apply(s, t)
          focusConsistent(t)
        }
        t.ui.render()
      }),
      { numRuns: 300 },
    )
  })

  it('drawing only the damaged rectangles gives the same pixels as redrawing everything', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), fc.constantFrom(1, 1, 2, 3), (steps, every) => {
        const t = build()
        t.ui.render()
        steps.forEach((s, i) => {
          apply(s, t)
          if (i % every !== 0) return
          t.ui.render()
          const partial = t.ui.framebuffer.data.slice()
          t.ui.redraw()
          expect(Buffer.from(partial).equals(Buffer.from(t.ui.framebuffer.data))).toBe(true)
        })
      }),
      { numRuns: 400 },
    )
  })

  it('damage stays small for small changes: typing one character damages only the field', () => {
    const t = build()
    t.ui.render()
    t.ui.setFocus(t.all[0]!)
    t.ui.render()
    expect(t.ui.handle({ kind: 'key', key: 'x' })).toBe(true)
    expect(t.ui.damaged).toEqual([rect(4, 4, 100, 22)])
    expect(t.ui.render()).toEqual([rect(4, 4, 100, 22)])
    expect(t.ui.render()).toEqual([])
  })
})
