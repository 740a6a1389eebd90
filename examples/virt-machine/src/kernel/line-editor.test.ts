import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LineEditor, MAX_LINE, type LineEvent } from './line-editor.js'

const bytes = (s: string) => [...s].map((c) => c.charCodeAt(0))

function editor(maxLength?: number) {
  let echo = ''
  const ed = new LineEditor({ echo: (t) => (echo += t), ...(maxLength === undefined ? {} : { maxLength }) })
  return {
    ed,
    type: (input: string | number[]) => ed.feedAll(typeof input === 'string' ? bytes(input) : input),
    get echo() {
      return echo
    },
  }
}

describe('LineEditor', () => {
  it('completes a line on CR or LF, echoing CRLF', () => {
    const t = editor()
    expect(t.type('help\r')).toEqual([{ kind: 'line', line: 'help' }])
    expect(t.type('ps\n')).toEqual([{ kind: 'line', line: 'ps' }])
    expect(t.echo).toBe('help\r\nps\r\n')
  })

  it('counts a CR LF pair as one line end, but LF LF as two', () => {
    const t = editor()
    expect(t.type('a\r\nb\r\n')).toEqual([
      { kind: 'line', line: 'a' },
      { kind: 'line', line: 'b' },
    ])
    expect(t.type('\n\n')).toEqual([
      { kind: 'line', line: '' },
      { kind: 'line', line: '' },
    ])
    expect(t.type('\r\r')).toHaveLength(2)
  })

  it('edits "ec" DEL "cho phase-a-ok" into "echo phase-a-ok" (phase-a M1)', () => {
    const t = editor()
    const events = t.type([...bytes('ec'), 0x7f, ...bytes('cho phase-a-ok'), 0x0d])
    expect(events).toEqual([{ kind: 'line', line: 'echo phase-a-ok' }])
    expect(t.echo).toBe('ec\b \bcho phase-a-ok\r\n')
  })

  it('deletes with BS too, and echoes nothing when the line is empty', () => {
    const t = editor()
    t.type([0x7f, 0x08])
    expect(t.echo).toBe('')
    expect(t.type([...bytes('ab'), 0x08, 0x08, 0x08, 0x0a])).toEqual([{ kind: 'line', line: '' }])
    expect(t.echo).toBe('ab\b \b\b \b\r\n')
  })

  it('Ctrl-U kills the line, Ctrl-C abandons it', () => {
    const t = editor()
    t.type([...bytes('abc'), 0x15])
    expect(t.ed.pending).toBe('')
    expect(t.echo).toBe('abc' + '\b \b'.repeat(3))
    t.type([0x15]) // nothing to kill: no echo
    expect(t.echo).toBe('abc' + '\b \b'.repeat(3))
    expect(t.type([...bytes('rm x'), 0x03])).toEqual([{ kind: 'cancel' }])
    expect(t.echo.endsWith('rm x^C\r\n')).toBe(true)
    expect(t.type('ls\r')).toEqual([{ kind: 'line', line: 'ls' }])
  })

  it('swallows escape sequences (arrow keys)', () => {
    const t = editor()
    const up = [0x1b, 0x5b, 0x41]
    const f1 = [0x1b, 0x4f, 0x50]
    const del = [0x1b, 0x5b, 0x33, 0x7e]
    const events = t.type([...bytes('e'), ...up, ...bytes('c'), ...f1, ...del, ...bytes('ho'), 0x0d])
    expect(events).toEqual([{ kind: 'line', line: 'echo' }])
    expect(t.echo).toBe('echo\r\n')
    // ESC followed by an ordinary key: the key counts.
    expect(t.type([0x1b, ...bytes('x'), 0x0d])).toEqual([{ kind: 'line', line: 'x' }])
    // A line end inside an unfinished sequence still ends the line.
    expect(t.type([0x1b, 0x5b, 0x0d])).toEqual([{ kind: 'line', line: '' }])
  })

  it('refuses a line that held a control byte or a byte >= 0x80 whole, naming the first: never runs it without them', () => {
    const t = editor()
    // "put k café" was run as "put k caf" (stored, and "put: wrote"); "rm café" would remove "caf".
    expect(t.type([...bytes('put k caf'), 0xc3, 0xa9, 0x0a])).toEqual([{ kind: 'refused', byte: 0xc3, column: 10 }])
    expect(t.echo).toBe('put k caf\r\n') // nothing but printable ASCII is echoed
    expect(t.type([...bytes('put k a'), 0x00, ...bytes('b\n')])).toEqual([{ kind: 'refused', byte: 0x00, column: 8 }])
    expect(t.type([0x01, ...bytes('e'), 0x09, ...bytes('cho\r')])).toEqual([{ kind: 'refused', byte: 0x01, column: 1 }])
    // Ctrl-U and Ctrl-C forget it; the next line is judged on its own.
    expect(t.type([0xff, 0x15, ...bytes('ls\r')])).toEqual([{ kind: 'line', line: 'ls' }])
    expect(t.type([0xff, 0x03, ...bytes('ls\r')])).toEqual([{ kind: 'cancel' }, { kind: 'line', line: 'ls' }])
    expect(t.type([0xff, 0x0a, ...bytes('ls\n')])).toEqual([{ kind: 'refused', byte: 0xff, column: 1 }, { kind: 'line', line: 'ls' }])
  })

  it('refuses a line longer than maxLength whole: never a truncated line to run (issue 12, cases 9-10)', () => {
    const t = editor(4)
    // Beyond the limit nothing more is echoed; the line end reports the overflow, not a line.
    expect(t.type('abcdef\r')).toEqual([{ kind: 'overflow', length: 6 }])
    expect(t.echo).toBe('abcd\r\n')
    // Deleting back under the limit before the end makes it an ordinary line again.
    expect(t.type([...bytes('abcdef'), 0x7f, 0x7f, 0x7f, 0x0d])).toEqual([{ kind: 'line', line: 'abc' }])
    // Ctrl-U and Ctrl-C forget the overflow too.
    expect(t.type([...bytes('abcdefgh'), 0x15, ...bytes('ok\r')])).toEqual([{ kind: 'line', line: 'ok' }])
    expect(t.type([...bytes('abcdefgh'), 0x03, ...bytes('ok\r')])).toEqual([{ kind: 'cancel' }, { kind: 'line', line: 'ok' }])
    expect(new LineEditor().maxLength).toBe(MAX_LINE)
    expect(() => new LineEditor({ maxLength: 0 })).toThrow(RangeError)
  })

  it('takes a line of 4095 characters whole (the Linux N_TTY canonical limit) and refuses 4096', () => {
    expect(MAX_LINE).toBe(4095)
    const t = editor()
    const long = 'x'.repeat(MAX_LINE)
    expect(t.type(long + '\n')).toEqual([{ kind: 'line', line: long }])
    expect(t.type(long + 'y\n')).toEqual([{ kind: 'overflow', length: MAX_LINE + 1 }])
  })

  it('Ctrl-D on an empty line is the end of input; inside a line it is dropped', () => {
    const t = editor()
    expect(t.type([0x04])).toEqual([{ kind: 'eof' }])
    expect(t.type([...bytes('ab'), 0x04, ...bytes('c\r')])).toEqual([{ kind: 'line', line: 'abc' }])
    expect(t.echo).toBe('abc\r\n')
  })

  // ---- properties -----------------------------------------------------------------------

  /** Keystrokes, weighted towards what people type. */
  const key = fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((b) => [b]) },
    { weight: 3, arbitrary: fc.constantFrom([0x7f], [0x08]) },
    { weight: 2, arbitrary: fc.constantFrom([0x0d], [0x0a], [0x0d, 0x0a]) },
    { weight: 1, arbitrary: fc.constantFrom([0x15], [0x03]) },
    { weight: 1, arbitrary: fc.constantFrom([0x1b, 0x5b, 0x41], [0x1b, 0x5b, 0x32, 0x7e], [0x1b, 0x4f, 0x48], [0x1b]) },
    { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x80, max: 0xff })).filter((b) => b !== 0x1b).map((b) => [b]) },
  )
  const keystrokes = fc.array(key, { maxLength: 80 }).map((ks) => ks.flat())

  /**
   * The reference model: a plain fold over the keystrokes, written independently of the
   * editor's state machine (escape sequences are recognised by look-ahead instead).
   */
  function model(input: number[], max: number): { events: LineEvent[]; pending: string } {
    const events: LineEvent[] = []
    let line = ''
    let dropped: { byte: number; column: number } | undefined
    for (let i = 0; i < input.length; i++) {
      const b = input[i]!
      if (b === 0x1b) {
        const next = input[i + 1]
        if (next === 0x5b) {
          let j = i + 2
          while (j < input.length && input[j]! >= 0x20 && input[j]! <= 0x3f) j++
          const fin = input[j]
          i = fin !== undefined && fin >= 0x40 && fin <= 0x7e ? j : j - 1
        } else if (next === 0x4f) {
          const k = input[i + 2]
          i = k !== undefined && k >= 0x20 && k <= 0x7e ? i + 2 : i + 1
        }
        continue
      }
      if (b === 0x0a && input[i - 1] === 0x0d) continue
      if (b === 0x0d || b === 0x0a) {
        // A line longer than the limit is refused whole (its length reported), never cut.
        events.push(line.length > max ? { kind: 'overflow', length: line.length } : dropped ? { kind: 'refused', ...dropped } : { kind: 'line', line })
        line = ''
        dropped = undefined
      } else if (b === 0x7f || b === 0x08) line = line.slice(0, -1)
      else if (b === 0x15 || b === 0x03) {
        if (b === 0x03) events.push({ kind: 'cancel' })
        line = ''
        dropped = undefined
      } else if (b === 0x04) {
        if (line === '') events.push({ kind: 'eof' })
      } else if (b >= 0x20 && b <= 0x7e) line += String.fromCharCode(b)
      else dropped ??= { byte: b, column: line.length + 1 }
    }
    return { events, pending: line.slice(0, max) }
  }

  it('property: the completed lines are those of the keystroke model', () => {
    fc.assert(
      fc.property(keystrokes, fc.integer({ min: 1, max: 40 }), (input, max) => {
        const t = editor(max)
        const events = t.type(input)
        const m = model(input, max)
        expect(events).toEqual(m.events)
        expect(t.ed.pending).toBe(m.pending)
      }),
      { numRuns: 500 },
    )
  })

  it('property: the echo holds only printable ASCII, "\\b \\b", "\\r\\n" and "^C\\r\\n"', () => {
    fc.assert(
      fc.property(keystrokes, (input) => {
        const t = editor(16)
        t.type(input)
        const rest = t.echo.replace(/\^C\r\n|\r\n|\x08 \x08/g, '')
        expect(rest).toMatch(/^[\x20-\x7e]*$/)
      }),
      { numRuns: 500 },
    )
  })

  it('property: a terminal rendering the echo shows exactly the line that runs', () => {
    fc.assert(
      fc.property(keystrokes, (input) => {
        // A minimal terminal: one row, a cursor; "\b" moves left, "\r\n" starts a new row.
        let row: string[] = []
        let col = 0
        const shown: string[] = []
        const ed = new LineEditor({
          maxLength: 16,
          echo: (text) => {
            for (let i = 0; i < text.length; i++) {
              const c = text[i]!
              if (c === '\r' && text[i + 1] === '\n') {
                shown.push(row.slice(0, col).join(''))
                row = []
                col = 0
                i++
              } else if (c === '\b') col = Math.max(0, col - 1)
              else row[col++] = c
            }
          },
        })
        let events = 0
        for (const b of input) {
          const e = ed.feed(b)
          if (!e) continue
          events++
          const last = shown[shown.length - 1]
          if (e.kind === 'eof') {
            events-- // nothing echoed: the shell says what end of input does
            continue
          }
          if (e.kind === 'line') expect(last).toBe(e.line)
          else if (e.kind === 'overflow') expect(last).toHaveLength(16) // what fitted stays visible
          else if (e.kind === 'refused') expect(e.byte < 0x20 || e.byte >= 0x7f).toBe(true) // only a byte never echoed refuses a line
          else expect(last?.endsWith('^C')).toBe(true) // what was typed stays visible before it
        }
        expect(shown).toHaveLength(events)
      }),
      { numRuns: 300 },
    )
  })
})
