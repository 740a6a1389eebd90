/**
 * Input events of the toolkit. Keys use the DOM's `KeyboardEvent.key` names ('a', 'A', 'Enter',
 * 'Backspace', 'ArrowLeft'…), so a browser page passes its events through as they are; a
 * virtio keyboard's Linux key codes go through {@link LinuxKeyboard}.
 */

export interface Modifiers {
  readonly shift?: boolean
  readonly ctrl?: boolean
  readonly alt?: boolean
}

/** A key press (or autorepeat). Releases are not events: widgets act on the press. */
export interface KeyEvent extends Modifiers {
  readonly kind: 'key'
  /** One printable character, or a named key ('Enter', 'Backspace', 'Delete', 'Tab', 'Escape', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'). */
  readonly key: string
}

export interface PointerEvent extends Modifiers {
  readonly kind: 'pointermove' | 'pointerdown' | 'pointerup'
  readonly x: number
  readonly y: number
  /** 0 left (default), 1 middle, 2 right — the DOM's numbering. */
  readonly button?: number
}

export interface WheelEvent extends Modifiers {
  readonly kind: 'wheel'
  readonly x: number
  readonly y: number
  /** Lines; positive = down (content moves up), as the DOM's deltaY. */
  readonly dy: number
  readonly dx?: number
}

export type GuiEvent = KeyEvent | PointerEvent | WheelEvent

/** True for a key event carrying one printable character. */
export function isPrintable(e: KeyEvent): boolean {
  return [...e.key].length === 1 && e.key >= ' ' && e.key !== '\x7f' && !e.ctrl && !e.alt
}

// Linux input-event-codes.h key numbers → (unshifted, shifted), US layout.
const US: ReadonlyMap<number, readonly [string, string]> = new Map([
  ...[...'1234567890-='].map((c, i) => [2 + i, [c, '!@#$%^&*()_+'[i]!]] as const),
  ...[...'qwertyuiop[]'].map((c, i) => [16 + i, [c, c === '[' ? '{' : c === ']' ? '}' : c.toUpperCase()]] as const),
  ...[...'asdfghjkl;\'`'].map((c, i) => [30 + i, [c, c === ';' ? ':' : c === "'" ? '"' : c === '`' ? '~' : c.toUpperCase()]] as const),
  [43, ['\\', '|']],
  ...[...'zxcvbnm,./'].map((c, i) => [44 + i, [c, c === ',' ? '<' : c === '.' ? '>' : c === '/' ? '?' : c.toUpperCase()]] as const),
  [57, [' ', ' ']],
])
const NAMED: ReadonlyMap<number, string> = new Map([
  [1, 'Escape'],
  [14, 'Backspace'],
  [15, 'Tab'],
  [28, 'Enter'],
  [96, 'Enter'], // KEY_KPENTER
  [102, 'Home'],
  [103, 'ArrowUp'],
  [104, 'PageUp'],
  [105, 'ArrowLeft'],
  [106, 'ArrowRight'],
  [107, 'End'],
  [108, 'ArrowDown'],
  [109, 'PageDown'],
  [111, 'Delete'],
])
const KEY_LEFTSHIFT = 42
const KEY_RIGHTSHIFT = 54
const KEY_LEFTCTRL = 29
const KEY_RIGHTCTRL = 97
const KEY_LEFTALT = 56
const KEY_RIGHTALT = 100
const KEY_CAPSLOCK = 58

/**
 * Turns Linux EV_KEY events (code, value 1 press / 2 repeat / 0 release) into key events,
 * keeping the shift/ctrl/alt/caps-lock state (US layout) — what honk's `ui` needed and only
 * half did (it mapped a–z, digits and space, no shift).
 */
export class LinuxKeyboard {
  private readonly down = new Set<number>()
  capsLock = false

  translate(code: number, value: number): KeyEvent | undefined {
    if (value === 0) {
      this.down.delete(code)
      return undefined
    }
    if (value === 1) this.down.add(code)
    if (code === KEY_CAPSLOCK) {
      if (value === 1) this.capsLock = !this.capsLock
      return undefined
    }
    const shift = this.down.has(KEY_LEFTSHIFT) || this.down.has(KEY_RIGHTSHIFT)
    const ctrl = this.down.has(KEY_LEFTCTRL) || this.down.has(KEY_RIGHTCTRL)
    const alt = this.down.has(KEY_LEFTALT) || this.down.has(KEY_RIGHTALT)
    const named = NAMED.get(code)
    if (named) return { kind: 'key', key: named, shift, ctrl, alt }
    const pair = US.get(code)
    if (!pair) return undefined
    const letter = /[a-z]/.test(pair[0])
    const upper = letter ? shift !== this.capsLock : shift
    return { kind: 'key', key: upper ? pair[1] : pair[0], shift, ctrl, alt }
  }
}

/** An absolute axis value (0..32767, virtio-tablet) as a pixel of a `size`-pixel screen: v·size/32768, as honk did. */
export function absToPixel(value: number, size: number): number {
  return Math.min(size - 1, Math.max(0, Math.floor((value * size) / 32768)))
}
