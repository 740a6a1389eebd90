/**
 * The console's line discipline: a pure state machine fed one byte at a time. It echoes what a
 * terminal should show and hands back each completed line. It has no I/O of its own; the shell
 * wires `echo` to the UART and feeds it the bytes the UART received.
 *
 * Keys (honk's, plus small improvements):
 * - CR or LF completes the line and echoes "\r\n"; a CR LF pair counts as one line end.
 * - DEL (0x7F) or BS (0x08) deletes the last character, echoing "\b \b" (nothing when empty).
 * - Printable ASCII (0x20–0x7E) is appended and echoed, up to `maxLength` characters. Beyond
 *   that it is counted but not echoed, and the line end reports `overflow` with the length
 *   typed: a line too long is refused whole, never cut to a shorter command that would run
 *   (deleting back under the limit first makes it an ordinary line again).
 * - Ctrl-U (0x15) kills the line, echoing "\b \b" once per character it erases.
 * - Ctrl-C (0x03) abandons the line, echoing "^C\r\n".
 * - Ctrl-D (0x04) on an empty line is the end of input (a terminal's VEOF: `eof`, no echo);
 *   inside a line it is dropped.
 * - An escape sequence (ESC [ … final byte, or ESC O x: the arrow and function keys) is
 *   swallowed whole, so pressing an arrow key does not type "[A".
 * - Every other byte (controls such as NUL or Tab, bytes ≥ 0x80 such as UTF-8) is not kept and
 *   not echoed, and the line end reports `refused` with the first such byte and its column: a
 *   line that held one is refused whole, never run without it (`put k café` stored "caf" and
 *   said `put: wrote`; `rm café` would remove `caf`). Ctrl-U and Ctrl-C forget it.
 *
 * So the echo only ever holds printable ASCII, "\b \b", "\r\n" and "^C\r\n".
 */

/**
 * What a byte completed: a line to run, a line abandoned with Ctrl-C, a line longer than the
 * limit (refused: `length` characters were typed), a line that held a byte the editor does not
 * take (refused: the first one, at `column`, 1-based), or the end of input (Ctrl-D on an empty
 * line).
 */
export type LineEvent =
  | { readonly kind: 'line'; readonly line: string }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'overflow'; readonly length: number }
  | { readonly kind: 'refused'; readonly byte: number; readonly column: number }
  | { readonly kind: 'eof' }

export interface LineEditorOptions {
  /** Receives the text to show for each keystroke (called synchronously from `feed`). */
  echo?: (text: string) => void
  /** The longest line (default {@link MAX_LINE} characters). */
  maxLength?: number
}

const CR = 0x0d
const LF = 0x0a
const BS = 0x08
const DEL = 0x7f
const CTRL_C = 0x03
const CTRL_D = 0x04
const CTRL_U = 0x15
const ESC = 0x1b

/** The default longest line: 4095 characters and the line end, Linux's N_TTY canonical-mode limit. */
export const MAX_LINE = 4095

export class LineEditor {
  readonly maxLength: number
  private readonly echo: (text: string) => void
  private chars: string[] = []
  /** Characters typed beyond `maxLength` in this line (not kept, not echoed). */
  private overflow = 0
  /** The first byte of this line that was not taken (a control or a byte ≥ 0x80), and where. */
  private dropped: { byte: number; column: number } | undefined
  /** The previous byte was a CR: an LF right after it is the same line end. */
  private afterCR = false
  /** Inside an escape sequence: after ESC, after ESC [ (CSI), after ESC O (SS3). */
  private escape: 'none' | 'esc' | 'csi' | 'ss3' = 'none'

  constructor(options: LineEditorOptions = {}) {
    this.echo = options.echo ?? (() => {})
    this.maxLength = options.maxLength ?? MAX_LINE
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) throw new RangeError(`maxLength must be a positive integer, got ${this.maxLength}`)
  }

  /** The line typed so far (not yet completed). */
  get pending(): string {
    return this.chars.join('')
  }

  /** Feeds one byte (0–255); returns the event it completed, if any. */
  feed(byte: number): LineEvent | undefined {
    const b = byte & 0xff
    const afterCR = this.afterCR
    this.afterCR = false

    if (this.escape !== 'none') {
      if (this.skipEscape(b)) return undefined
    }

    if (b === CR || b === LF) {
      if (b === LF && afterCR) return undefined
      this.afterCR = b === CR
      const line = this.pending
      const overflow = this.overflow
      const dropped = this.dropped
      this.chars = []
      this.overflow = 0
      this.dropped = undefined
      this.echo('\r\n')
      if (overflow > 0) return { kind: 'overflow', length: line.length + overflow }
      return dropped ? { kind: 'refused', ...dropped } : { kind: 'line', line }
    }
    if (b === DEL || b === BS) {
      if (this.overflow > 0) this.overflow-- // an unseen character: nothing to erase on screen
      else if (this.chars.length > 0) {
        this.chars.pop()
        this.echo('\b \b')
      }
      return undefined
    }
    if (b === CTRL_U) {
      if (this.chars.length > 0) this.echo('\b \b'.repeat(this.chars.length))
      this.chars = []
      this.overflow = 0
      this.dropped = undefined
      return undefined
    }
    if (b === CTRL_C) {
      this.chars = []
      this.overflow = 0
      this.dropped = undefined
      this.echo('^C\r\n')
      return { kind: 'cancel' }
    }
    if (b === CTRL_D) return this.chars.length === 0 && this.overflow === 0 ? { kind: 'eof' } : undefined
    if (b === ESC) {
      this.escape = 'esc'
      return undefined
    }
    if (b >= 0x20 && b <= 0x7e) {
      if (this.chars.length < this.maxLength) {
        const c = String.fromCharCode(b)
        this.chars.push(c)
        this.echo(c)
      } else this.overflow++
      return undefined
    }
    this.dropped ??= { byte: b, column: this.chars.length + this.overflow + 1 }
    return undefined
  }

  /** Feeds several bytes; returns the events they completed, in order. */
  feedAll(bytes: Iterable<number>): LineEvent[] {
    const events: LineEvent[] = []
    for (const b of bytes) {
      const e = this.feed(b)
      if (e) events.push(e)
    }
    return events
  }

  /**
   * Advances the escape-sequence state with `b`. Returns true when `b` belonged to the
   * sequence; false when the sequence ended without it (ESC followed by an ordinary key), in
   * which case `b` is handled as a key of its own.
   */
  private skipEscape(b: number): boolean {
    switch (this.escape) {
      case 'esc':
        if (b === 0x5b /* [ */) this.escape = 'csi'
        else if (b === 0x4f /* O */) this.escape = 'ss3'
        else if (b !== ESC) {
          this.escape = 'none'
          return false
        }
        return true
      case 'csi':
        // Parameter (0x30–0x3F) and intermediate (0x20–0x2F) bytes continue it; a final byte
        // (0x40–0x7E) ends it; anything else aborts it and counts as a key of its own.
        if (b >= 0x20 && b <= 0x3f) return true
        this.escape = 'none'
        return b >= 0x40 && b <= 0x7e
      case 'ss3':
        this.escape = 'none'
        return b >= 0x20 && b <= 0x7e
      default:
        return false
    }
  }
}
