/**
 * honk's retained-mode GUI toolkit, for a browser, a Node host or honk's kernel alike: an RGBA
 * {@link Framebuffer} (clip, fill, blit, lines), a bitmap font, widgets, a {@link UI} with focus,
 * hit-testing, z-order and damage tracking. PNG screenshots are in `@honk/gui/node`.
 *
 * @example
 * ```ts
 * import { Button, TextField, UI, rect } from '@honk/gui'
 * const ui = new UI({ width: 640, height: 240 })
 * const field = ui.add(new TextField({ bounds: rect(40, 80, 600, 44), onChange: (t) => console.log(t) }))
 * ui.add(new Button({ bounds: rect(40, 160, 200, 60), label: 'honk!', onClick: (b) => console.log(b.clicks) }))
 * ui.handle({ kind: 'pointerdown', x: 100, y: 100 })
 * ui.handle({ kind: 'key', key: 'h' })
 * for (const r of ui.render()) flush(ui.framebuffer, r)      // only the damaged rectangles
 * ```
 * @packageDocumentation
 */
export { GuiError } from './errors.js'
export { EMPTY, contains, inset, intersect, isEmpty, overlaps, rect, sameRect, union, type Rect } from './geometry.js'
export { Framebuffer, components, rgb, type Color } from './framebuffer.js'
export { FONT_CHARS, font7x13, type BitmapFont } from './font.js'
export { drawText, textWidth } from './text.js'
export { LinuxKeyboard, absToPixel, isPrintable, type GuiEvent, type KeyEvent, type Modifiers, type PointerEvent, type WheelEvent } from './events.js'
export { Panel, Widget, type PanelOptions, type Size } from './widget.js'
export { UI, type UIOptions } from './ui.js'
export { Button, COLORS, Checkbox, Label, List, TextField, type ButtonOptions, type CheckboxOptions, type LabelOptions, type ListOptions, type TextFieldOptions } from './widgets.js'
