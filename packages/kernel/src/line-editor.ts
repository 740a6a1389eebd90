/**
 * The console's line discipline: a pure state machine fed one byte at a time. It echoes what a
 * terminal should show and hands back each completed line. It has no I/O of its own; the shell
 * wires `echo` to the UART and feeds it the bytes the UART received.
 *
 * Keys (honk's, plus what a user of a terminal expects):
 * - CR or LF completes the line and echoes "\r\n"; a CR LF pair counts as one line end.
 * - DEL (0x7F) or BS (0x08) deletes the character before the cursor.
 * - Printable ASCII (0x20–0x7E) is inserted at the cursor, up to `maxLength` characters. Beyond
 *   that it is counted but not echoed, and the line end reports `overflow` with the length
 *   typed: a line too long is refused whole, never cut to a shorter command that would run
 *   (deleting back under the limit first makes it an ordinary line again). While over the
 *   limit only DEL/BS, Ctrl-U, Ctrl-C and the line end act.
 * - Left/Right (ESC [ D / ESC [ C, ESC O D / ESC O C, Ctrl-B / Ctrl-F) move the cursor;
 *   Home (ESC [ H, ESC [ 1~, ESC [ 7~, ESC O H) and End (ESC [ F, ESC [ 4~, ESC [ 8~, ESC O F,
 *   Ctrl-E) jump to either end; Delete (ESC [ 3~) deletes the character under the cursor;
 *   Ctrl-K kills to the end of the line, Ctrl-W the word before the cursor. (Ctrl-A is not
 *   Home: the host CLIs take Ctrl-A as their escape key, Ctrl-A x quits, so it never arrives.)
 * - Up/Down (ESC [ A / ESC [ B, ESC O A / ESC O B) browse the history: the last
 *   {@link HISTORY_SIZE} non-blank lines completed, without consecutive duplicates. The line
 *   being typed is kept while browsing and comes back below the newest entry.
 * - Tab returns a `complete` event with the text before the cursor; the owner finds the
 *   candidates (the shell: commands, then paths) and hands them to {@link LineEditor.complete}.
 * - Ctrl-U (0x15) kills the line. Ctrl-C (0x03) abandons it, echoing "^C\r\n".
 * - Ctrl-D (0x04) on an empty line is the end of input (a terminal's VEOF: `eof`, no echo);
 *   inside a line it is dropped.
 * - Other escape sequences (ESC [ … final byte, ESC O x: function keys) are swallowed whole.
 * - Every other byte (controls such as NUL, bytes ≥ 0x80 such as UTF-8) is not kept and
 *   not echoed, and the line end reports `refused` with the first such byte and its column: a
 *   line that held one is refused whole, never run without it (`put k café` stored "caf" and
 *   said `put: wrote`; `rm café` would remove `caf`). Ctrl-U and Ctrl-C forget it.
 *
 * The echo keeps the terminal showing exactly prompt + line with the cursor at its column: it
 * holds printable ASCII, "\b" (one column left), ESC [ n D (n columns left), "\r\n", "^C\r\n",
 * BEL (nothing to complete) and, when completion lists candidates, the prompt again.
 */

/**
 * What a byte completed: a line to run, a line abandoned with Ctrl-C, a line longer than the
 * limit (refused: `length` characters were typed), a line that held a byte the editor does not
 * take (refused: the first one, at `column`, 1-based), the end of input (Ctrl-D on an empty
 * line), or a Tab asking for completions of `before` (the line up to the cursor).
 */
export type LineEvent =
  | { readonly kind: 'line'; readonly line: string }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'overflow'; readonly length: number }
  | { readonly kind: 'refused'; readonly byte: number; readonly column: number }
  | { readonly kind: 'eof' }
  | { readonly kind: 'complete'; readonly before: string }

export interface LineEditorOptions {
  /** Receives the text to show for each keystroke (called synchronously from `feed`). */
  echo?: (text: string) => void
  /** The longest line (default {@link MAX_LINE} characters). */
  maxLength?: number
  /** The prompt, printed again after completion lists candidates (default ""). */
  prompt?: string
  /** How many lines the history keeps (default {@link HISTORY_SIZE}). */
  historySize?: number
}

const CR = 0x0d
const LF = 0x0a
const BS = 0x08
const TAB = 0x09
const DEL = 0x7f
const CTRL_B = 0x02
const CTRL_C = 0x03
const CTRL_D = 0x04
const CTRL_E = 0x05
const CTRL_F = 0x06
const CTRL_K = 0x0b
const CTRL_U = 0x15
const CTRL_W = 0x17
const ESC = 0x1b

/** The default longest line: 4095 characters and the line end, Linux's N_TTY canonical-mode limit. */
export const MAX_LINE = 4095
/** The default number of history lines kept. */
export const HISTORY_SIZE = 100

/** Moves the terminal cursor `n` columns left: "\b" for one, ESC [ n D for more. */
export function cursorLeft(n: number): string {
  return n <= 0 ? '' : n === 1 ? '\b' : `\x1b[${n}D`
}

/** The longest common prefix of `words` ("" for none). */
export function commonPrefix(words: readonly string[]): string {
  if (words.length === 0) return ''
  let p = words[0]!
  for (const w of words) while (!w.startsWith(p)) p = p.slice(0, -1)
  return p
}

type Key = 'left' | 'right' | 'home' | 'end' | 'up' | 'down' | 'delete'

export class LineEditor {
  readonly maxLength: number
  readonly historySize: number
  private readonly echo: (text: string) => void
  private readonly prompt: string
  private chars: string[] = []
  private cursor = 0
  /** Characters typed beyond `maxLength` in this line (not kept, not echoed). */
  private overflow = 0
  /** The first byte of this line that was not taken (a control or a byte ≥ 0x80), and where. */
  private dropped: { byte: number; column: number } | undefined
  /** The previous byte was a CR: an LF right after it is the same line end. */
  private afterCR = false
  /** Inside an escape sequence: after ESC, after ESC [ (CSI, `params` so far), after ESC O (SS3). */
  private escape: 'none' | 'esc' | 'csi' | 'ss3' = 'none'
  private params = ''
  private readonly history: string[] = []
  /** Which history entry is shown; `history.length` is the line being typed (`draft`). */
  private browsing = 0
  private draft: string[] = []
  /** Tabs pressed in a row with nothing else in between (the second lists the candidates). */
  private tabs = 0

  constructor(options: LineEditorOptions = {}) {
    this.echo = options.echo ?? (() => {})
    this.maxLength = options.maxLength ?? MAX_LINE
    this.prompt = options.prompt ?? ''
    this.historySize = options.historySize ?? HISTORY_SIZE
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) throw new RangeError(`maxLength must be a positive integer, got ${this.maxLength}`)
    if (!Number.isInteger(this.historySize) || this.historySize < 0) throw new RangeError(`historySize must be a non-negative integer, got ${this.historySize}`)
  }

  /** The line typed so far (not yet completed). */
  get pending(): string {
    return this.chars.join('')
  }

  /** The cursor's position in {@link pending} (0 = before the first character). */
  get column(): number {
    return this.cursor
  }

  /** The history, oldest first. */
  get lines(): readonly string[] {
    return this.history
  }

  /** Feeds one byte (0–255); returns the event it completed, if any. */
  feed(byte: number): LineEvent | undefined {
    const b = byte & 0xff
    const afterCR = this.afterCR
    this.afterCR = false
    const tabs = this.tabs
    this.tabs = 0

    if (this.escape !== 'none') {
      const r = this.escapeByte(b)
      if (r === true) return undefined
      if (r !== false) {
        this.key(r)
        return undefined
      }
    }

    if (b === CR || b === LF) {
      if (b === LF && afterCR) return undefined
      this.afterCR = b === CR
      const line = this.pending
      const overflow = this.overflow
      const dropped = this.dropped
      this.clear()
      this.browsing = this.history.length
      this.draft = []
      this.echo('\r\n')
      if (overflow > 0) return { kind: 'overflow', length: line.length + overflow }
      if (dropped) return { kind: 'refused', ...dropped }
      this.remember(line)
      return { kind: 'line', line }
    }
    if (b === DEL || b === BS) {
      if (this.overflow > 0) this.overflow-- // an unseen character: nothing to erase on screen
      else if (this.cursor > 0) this.erase(this.cursor - 1, this.cursor)
      return undefined
    }
    if (b === CTRL_U) {
      if (this.overflow === 0 && this.cursor === this.chars.length) {
        if (this.chars.length > 0) this.echo('\b \b'.repeat(this.chars.length))
        this.chars = []
        this.cursor = 0
      } else this.replace([])
      this.overflow = 0
      this.dropped = undefined
      return undefined
    }
    if (b === CTRL_C) {
      this.clear()
      this.browsing = this.history.length
      this.draft = []
      this.echo('^C\r\n')
      return { kind: 'cancel' }
    }
    if (b === CTRL_D) return this.chars.length === 0 && this.overflow === 0 ? { kind: 'eof' } : undefined
    if (b === ESC) {
      this.escape = 'esc'
      return undefined
    }
    if (b >= 0x20 && b <= 0x7e) {
      if (this.chars.length < this.maxLength) this.insert(String.fromCharCode(b))
      else this.overflow++
      return undefined
    }
    const key = ({ [CTRL_B]: 'left', [CTRL_F]: 'right', [CTRL_E]: 'end' } as Record<number, Key | undefined>)[b]
    if (key) {
      this.key(key)
      return undefined
    }
    if (b === CTRL_K || b === CTRL_W || b === TAB) {
      if (this.overflow > 0) return undefined
      if (b === CTRL_K) this.erase(this.cursor, this.chars.length)
      else if (b === CTRL_W) {
        let start = this.cursor
        while (start > 0 && this.chars[start - 1] === ' ') start--
        while (start > 0 && this.chars[start - 1] !== ' ') start--
        this.erase(start, this.cursor)
      } else {
        this.tabs = tabs + 1
        return { kind: 'complete', before: this.chars.slice(0, this.cursor).join('') }
      }
      return undefined
    }
    this.dropped ??= { byte: b, column: this.cursor + this.overflow + 1 }
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
   * Answers the last `complete` event with the words that could stand for the word before the
   * cursor (the text after its last space), each whole (a directory ending in "/"). One
   * candidate completes the word (and adds a space unless it ends in "/"); several complete
   * their common prefix, or, when that adds nothing, ring the bell on the first Tab and list
   * them on the second (then show prompt and line again); none rings the bell.
   */
  complete(candidates: readonly string[]): void {
    if (this.overflow > 0) return
    const before = this.chars.slice(0, this.cursor).join('')
    const word = before.slice(before.lastIndexOf(' ') + 1)
    const words = [...new Set(candidates.filter((c) => c.startsWith(word)))].sort()
    if (words.length === 0) return this.echo('\x07')
    const only = words.length === 1 ? words[0]! : undefined
    const target = only !== undefined ? (only.endsWith('/') ? only : `${only} `) : commonPrefix(words)
    if (target.length > word.length) {
      const add = target.slice(word.length)
      if (this.chars.length + add.length > this.maxLength) return this.echo('\x07')
      this.insert(add)
      return
    }
    if (this.tabs < 2) return this.echo('\x07')
    // List them, then show prompt and line again with the cursor where it was.
    const line = this.pending
    this.echo(`\r\n${words.join('  ')}\r\n${this.prompt}${line}${cursorLeft(line.length - this.cursor)}`)
  }

  /** Forgets the line (not the history). */
  private clear(): void {
    this.chars = []
    this.cursor = 0
    this.overflow = 0
    this.dropped = undefined
  }

  private remember(line: string): void {
    if (line.trim() !== '' && this.history[this.history.length - 1] !== line && this.historySize > 0) {
      this.history.push(line)
      if (this.history.length > this.historySize) this.history.shift()
    }
    this.browsing = this.history.length
  }

  /** Inserts `text` at the cursor: echoes it and the rest of the line, then moves back. */
  private insert(text: string): void {
    const rest = this.chars.slice(this.cursor).join('')
    this.chars.splice(this.cursor, 0, ...text)
    this.cursor += text.length
    this.echo(text + rest + cursorLeft(rest.length))
  }

  /** Deletes chars [from, to) (around the cursor), redrawing from `from`. */
  private erase(from: number, to: number): void {
    const n = to - from
    if (n <= 0) return
    this.chars.splice(from, n)
    const rest = this.chars.slice(from).join('')
    this.echo(cursorLeft(this.cursor - from) + rest + ' '.repeat(n) + cursorLeft(rest.length + n))
    this.cursor = from
  }

  /** Replaces the whole line with `next`, the cursor at its end. */
  private replace(next: string[]): void {
    const old = this.chars.length
    const pad = Math.max(0, old - next.length)
    this.echo(cursorLeft(this.cursor) + next.join('') + ' '.repeat(pad) + cursorLeft(pad))
    this.chars = [...next]
    this.cursor = next.length
  }

  private key(k: Key): void {
    if (this.overflow > 0) return
    const len = this.chars.length
    switch (k) {
      case 'left':
        if (this.cursor > 0) {
          this.echo(cursorLeft(1))
          this.cursor--
        }
        return
      case 'right':
        if (this.cursor < len) {
          this.echo(this.chars[this.cursor]!)
          this.cursor++
        }
        return
      case 'home':
        this.echo(cursorLeft(this.cursor))
        this.cursor = 0
        return
      case 'end':
        this.echo(this.chars.slice(this.cursor).join(''))
        this.cursor = len
        return
      case 'delete':
        if (this.cursor < len) this.erase(this.cursor, this.cursor + 1)
        return
      case 'up':
        if (this.browsing === 0) return
        if (this.browsing === this.history.length) this.draft = [...this.chars]
        this.browsing--
        this.replace([...this.history[this.browsing]!])
        return
      case 'down':
        if (this.browsing >= this.history.length) return
        this.browsing++
        this.replace(this.browsing === this.history.length ? this.draft : [...this.history[this.browsing]!])
        return
    }
  }

  /**
   * Advances the escape-sequence state with `b`. Returns true when `b` belonged to the
   * sequence, the key when `b` ended a sequence that is one, and false when the sequence ended
   * without it (ESC followed by an ordinary key), in which case `b` is handled as a key of its own.
   */
  private escapeByte(b: number): boolean | Key {
    switch (this.escape) {
      case 'esc':
        if (b === 0x5b /* [ */) {
          this.escape = 'csi'
          this.params = ''
        } else if (b === 0x4f /* O */) this.escape = 'ss3'
        else if (b !== ESC) {
          this.escape = 'none'
          return false
        }
        return true
      case 'csi': {
        // Parameter (0x30–0x3F) and intermediate (0x20–0x2F) bytes continue it; a final byte
        // (0x40–0x7E) ends it; anything else aborts it and counts as a key of its own.
        if (b >= 0x20 && b <= 0x3f) {
          if (this.params.length < 16) this.params += String.fromCharCode(b)
          return true
        }
        this.escape = 'none'
        if (b < 0x40 || b > 0x7e) return false
        const final = String.fromCharCode(b)
        if (final === '~') return TILDE_KEYS[this.params] ?? true
        return this.params === '' || this.params === '1' ? (LETTER_KEYS[final] ?? true) : true
      }
      case 'ss3':
        this.escape = 'none'
        if (b < 0x20 || b > 0x7e) return false
        return LETTER_KEYS[String.fromCharCode(b)] ?? true
      default:
        return false
    }
  }
}

/** ESC [ x and ESC O x (VT100 cursor keys; xterm's Home/End). */
const LETTER_KEYS: Record<string, Key | undefined> = { A: 'up', B: 'down', C: 'right', D: 'left', H: 'home', F: 'end' }
/** ESC [ n ~ (VT220 editing keys; rxvt's 7~/8~ for Home/End). */
const TILDE_KEYS: Record<string, Key | undefined> = { '1': 'home', '7': 'home', '4': 'end', '8': 'end', '3': 'delete' }
