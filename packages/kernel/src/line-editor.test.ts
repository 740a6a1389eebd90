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
    expect(t.type([0x01, ...bytes('e'), 0x0e, ...bytes('cho\r')])).toEqual([{ kind: 'refused', byte: 0x01, column: 1 }])
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

  // ---- cursor editing, history, completion (issue 13) -----------------------------------

  const UP = [0x1b, 0x5b, 0x41]
  const DOWN = [0x1b, 0x5b, 0x42]
  const RIGHT = [0x1b, 0x5b, 0x43]
  const LEFT = [0x1b, 0x5b, 0x44]
  const HOME = [0x1b, 0x5b, 0x48]
  const END = [0x1b, 0x5b, 0x46]
  const DELETE = [0x1b, 0x5b, 0x33, 0x7e]

  it('moves the cursor with Left/Right/Home/End (every spelling) and inserts and deletes in the middle', () => {
    const t = editor()
    // "eho" Left Left "c" → "echo"; the echo redraws the rest and moves back.
    expect(t.type([...bytes('eho'), ...LEFT, ...LEFT, ...bytes('c'), 0x0d])).toEqual([{ kind: 'line', line: 'echo' }])
    expect(t.echo).toBe('eho\b\bcho\x1b[2D\r\n')
    for (const home of [HOME, [0x1b, 0x5b, 0x31, 0x7e], [0x1b, 0x4f, 0x48], [0x1b, 0x5b, 0x37, 0x7e]]) {
      for (const end of [END, [0x1b, 0x5b, 0x34, 0x7e], [0x1b, 0x4f, 0x46], [0x05]]) {
        expect(t.type([...bytes('bc'), ...home, ...bytes('a'), ...end, ...bytes('d\r')])).toEqual([{ kind: 'line', line: 'abcd' }])
      }
    }
    // ESC O D / ESC O C and Ctrl-B / Ctrl-F are Left/Right too.
    expect(t.type([...bytes('ac'), 0x1b, 0x4f, 0x44, ...bytes('b'), 0x1b, 0x4f, 0x43, 0x02, 0x06, ...bytes('d\r')])).toEqual([{ kind: 'line', line: 'abcd' }])
    // BS in the middle, Delete under the cursor, Ctrl-K to the end, Ctrl-W the word before.
    expect(t.type([...bytes('abxc'), ...LEFT, 0x7f, 0x0d])).toEqual([{ kind: 'line', line: 'abc' }])
    expect(t.type([...bytes('abxc'), ...LEFT, ...LEFT, ...DELETE, 0x0d])).toEqual([{ kind: 'line', line: 'abc' }])
    expect(t.type([...bytes('cat junk'), ...HOME, ...RIGHT, ...RIGHT, ...RIGHT, 0x0b, 0x0d])).toEqual([{ kind: 'line', line: 'cat' }])
    expect(t.type([...bytes('cat a b  '), 0x17, 0x17, 0x0d])).toEqual([{ kind: 'line', line: 'cat ' }])
    // At the edges they do nothing.
    const u = editor()
    u.type([...LEFT, ...DELETE, 0x0b, 0x17, ...RIGHT, ...HOME, ...END, ...UP, ...DOWN])
    expect(u.echo).toBe('')
  })

  it('browses the history with Up/Down, keeping the line being typed; no blanks, no consecutive duplicates, bounded', () => {
    const t = editor()
    t.type('ls\rls\r   \r\recho a\r')
    expect(t.ed.lines).toEqual(['ls', 'echo a'])
    t.type('draft')
    t.type(UP)
    expect(t.ed.pending).toBe('echo a')
    t.type(UP)
    expect(t.ed.pending).toBe('ls')
    t.type(UP) // the oldest: stays
    expect(t.ed.pending).toBe('ls')
    t.type([...DOWN, ...DOWN])
    expect(t.ed.pending).toBe('draft') // browsing away and back keeps it
    expect(t.ed.column).toBe(5)
    t.type(DOWN)
    expect(t.ed.pending).toBe('draft')
    // A recalled line can be edited and run; it joins the history as a new entry.
    expect(t.type([0x15, ...UP, ...bytes(' b\r')])).toEqual([{ kind: 'line', line: 'echo a b' }])
    expect(t.ed.lines).toEqual(['ls', 'echo a', 'echo a b'])
    // Refused and abandoned lines are not remembered.
    t.type([...bytes('x'), 0x00, 0x0d, ...bytes('y'), 0x03])
    expect(t.ed.lines).toHaveLength(3)
    const small = new LineEditor({ historySize: 3 })
    small.feedAll(bytes('a\rb\rc\rd\r'))
    expect(small.lines).toEqual(['b', 'c', 'd'])
  })

  it('completes via the candidates it is given: unique, common prefix, list on the second Tab, bell when none', () => {
    const TAB = 0x09
    let echo = ''
    const ed = new LineEditor({ prompt: 'honk> ', echo: (t) => (echo += t) })
    // Tab reports the text before the cursor; a unique candidate completes the word and adds a space.
    expect(ed.feedAll([...bytes('ec'), TAB])).toEqual([{ kind: 'complete', before: 'ec' }])
    ed.complete(['echo'])
    expect(ed.pending).toBe('echo ')
    expect(echo).toBe('echo ')
    // A directory completes without the space, so the next Tab goes inside it.
    ed.feedAll([...bytes('s'), TAB])
    ed.complete(['sub/'])
    expect(ed.pending).toBe('echo sub/')
    // Several: their common prefix.
    ed.feedAll([...bytes('a'), TAB])
    ed.complete(['sub/alpha1', 'sub/alpha2', 'sub/beta'])
    expect(ed.pending).toBe('echo sub/alpha')
    // The Tab right after (the second in a row) lists them, then shows prompt and line again.
    echo = ''
    ed.feed(TAB)
    ed.complete(['sub/alpha2', 'sub/alpha1'])
    expect(echo).toBe('\r\nsub/alpha1  sub/alpha2\r\nhonk> echo sub/alpha')
    expect(ed.pending).toBe('echo sub/alpha')
    // After another key, a first Tab with nothing more in common rings the bell; the second lists.
    echo = ''
    ed.feedAll([...LEFT, ...RIGHT, TAB])
    ed.complete(['sub/alpha1', 'sub/alpha2'])
    expect(echo).toBe('\ba\x07')
    ed.feed(TAB)
    ed.complete(['sub/alpha1', 'sub/alpha2'])
    expect(echo).toBe('\ba\x07\r\nsub/alpha1  sub/alpha2\r\nhonk> echo sub/alpha')
    // No candidate: the bell, the line unchanged.
    echo = ''
    ed.feedAll([...bytes(' zz'), TAB])
    ed.complete([])
    expect(echo).toBe(' zz\x07')
    expect(ed.pending).toBe('echo sub/alpha zz')
    // Completing in the middle keeps the rest, and the list redraw puts the cursor back.
    echo = ''
    ed.feedAll([...LEFT, ...LEFT, ...LEFT, TAB])
    expect(ed.column).toBe(14)
    ed.complete(['sub/alpha1'])
    expect(ed.pending).toBe('echo sub/alpha1  zz')
    expect(echo).toBe('\b\b\b1  zz\x1b[3D')
    // A completion that would pass the limit is refused with the bell.
    const tiny = new LineEditor({ maxLength: 4 })
    tiny.feedAll([...bytes('ec'), TAB])
    tiny.complete(['echo'])
    expect(tiny.pending).toBe('ec')
  })

  // ---- properties -----------------------------------------------------------------------

  /** Candidates the properties answer every Tab with. */
  const WORDS = ['echo', 'exit', 'ls', 'dir/', 'dir/a', 'dir/ab', 'data']
  const completions = (before: string) => {
    const word = before.slice(before.lastIndexOf(' ') + 1)
    return WORDS.filter((w) => w.startsWith(word))
  }

  /** Keystrokes, weighted towards what people type. */
  const key = fc.oneof(
    { weight: 10, arbitrary: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0x20, 0x64, 0x65, 0x6c, 0x2f)).map((b) => [b]) },
    { weight: 3, arbitrary: fc.constantFrom([0x7f], [0x08]) },
    { weight: 2, arbitrary: fc.constantFrom([0x0d], [0x0a], [0x0d, 0x0a]) },
    { weight: 1, arbitrary: fc.constantFrom([0x15], [0x03]) },
    { weight: 4, arbitrary: fc.constantFrom(UP, DOWN, LEFT, RIGHT, HOME, END, DELETE, [0x1b, 0x4f, 0x41], [0x1b, 0x5b, 0x31, 0x7e], [0x1b, 0x5b, 0x34, 0x7e]) },
    { weight: 2, arbitrary: fc.constantFrom([0x02], [0x05], [0x06], [0x0b], [0x17], [0x09], [0x09, 0x09]) },
    { weight: 1, arbitrary: fc.constantFrom([0x1b, 0x5b, 0x32, 0x7e], [0x1b, 0x4f, 0x50], [0x1b, 0x5b, 0x31, 0x3b, 0x35, 0x43], [0x1b]) },
    { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x80, max: 0xff })).filter((b) => b !== 0x1b).map((b) => [b]) },
  )
  const keystrokes = fc.array(key, { maxLength: 80 }).map((ks) => ks.flat())

  /**
   * The reference model: a plain fold over the keystrokes (an array of characters, a cursor, a
   * history list), written independently of the editor's state machine: escape sequences are
   * recognised by look-ahead instead of states.
   */
  function model(input: number[], max: number, histMax: number): { events: LineEvent[]; pending: string; cursor: number; history: string[] } {
    const events: LineEvent[] = []
    let line: string[] = []
    let cur = 0
    let over = 0
    let dropped: { byte: number; column: number } | undefined
    const history: string[] = []
    let at = 0
    let draft: string[] = []
    let tabs = 0
    const act = (k: string) => {
      if (over > 0) return
      if (k === 'left') cur = Math.max(0, cur - 1)
      else if (k === 'right') cur = Math.min(line.length, cur + 1)
      else if (k === 'home') cur = 0
      else if (k === 'end') cur = line.length
      else if (k === 'delete') line.splice(cur, 1)
      else if (k === 'up' && at > 0) {
        if (at === history.length) draft = line
        at--
        line = [...history[at]!]
        cur = line.length
      } else if (k === 'down' && at < history.length) {
        at++
        line = at === history.length ? draft : [...history[at]!]
        cur = line.length
      }
    }
    for (let i = 0; i < input.length; i++) {
      const b = input[i]!
      const prevTabs = tabs
      tabs = 0
      if (b === 0x1b) {
        const next = input[i + 1]
        if (next === 0x5b) {
          let j = i + 2
          while (j < input.length && input[j]! >= 0x20 && input[j]! <= 0x3f) j++
          const fin = input[j]
          if (fin !== undefined && fin >= 0x40 && fin <= 0x7e) {
            const params = String.fromCharCode(...input.slice(i + 2, j))
            const f = String.fromCharCode(fin)
            const letter = { A: 'up', B: 'down', C: 'right', D: 'left', H: 'home', F: 'end' }[f]
            const tilde = { '1': 'home', '7': 'home', '4': 'end', '8': 'end', '3': 'delete' }[params]
            if (f === '~' && tilde) act(tilde)
            else if (f !== '~' && (params === '' || params === '1') && letter) act(letter)
            i = j
          } else i = j - 1
        } else if (next === 0x4f) {
          const k = input[i + 2]
          if (k !== undefined && k >= 0x20 && k <= 0x7e) {
            const letter = { A: 'up', B: 'down', C: 'right', D: 'left', H: 'home', F: 'end' }[String.fromCharCode(k)]
            if (letter) act(letter)
            i += 2
          } else i += 1
        }
        continue
      }
      if (b === 0x0a && input[i - 1] === 0x0d) continue
      if (b === 0x0d || b === 0x0a) {
        const text = line.join('')
        // A line longer than the limit is refused whole (its length reported), never cut.
        events.push(over > 0 ? { kind: 'overflow', length: text.length + over } : dropped ? { kind: 'refused', ...dropped } : { kind: 'line', line: text })
        if (over === 0 && !dropped && text.trim() !== '' && history[history.length - 1] !== text && histMax > 0) {
          history.push(text)
          if (history.length > histMax) history.shift()
        }
        line = []
        cur = over = 0
        dropped = undefined
        at = history.length
        draft = []
      } else if (b === 0x7f || b === 0x08) {
        if (over > 0) over--
        else if (cur > 0) line.splice(--cur, 1)
      } else if (b === 0x15 || b === 0x03) {
        if (b === 0x03) {
          events.push({ kind: 'cancel' })
          at = history.length
          draft = []
        }
        line = []
        cur = over = 0
        dropped = undefined
      } else if (b === 0x04) {
        if (line.length === 0 && over === 0) events.push({ kind: 'eof' })
      } else if (b >= 0x20 && b <= 0x7e) {
        if (line.length < max) line.splice(cur++, 0, String.fromCharCode(b))
        else over++
      } else if (b === 0x02) act('left')
      else if (b === 0x06) act('right')
      else if (b === 0x05) act('end')
      else if (b === 0x0b) {
        if (over === 0) line = line.slice(0, cur)
      } else if (b === 0x17) {
        if (over === 0) {
          const before = line.slice(0, cur).join('').replace(/[^ ]* *$/, '')
          line = [...before, ...line.slice(cur)]
          cur = before.length
        }
      } else if (b === 0x09) {
        if (over > 0) continue
        tabs = prevTabs + 1
        const before = line.slice(0, cur).join('')
        events.push({ kind: 'complete', before })
        const word = before.slice(before.lastIndexOf(' ') + 1)
        const cands = completions(before)
        let add = ''
        if (cands.length === 1) add = cands[0]!.slice(word.length) + (cands[0]!.endsWith('/') ? '' : ' ')
        else if (cands.length > 1) {
          let p = cands[0]!
          while (!cands.every((c) => c.startsWith(p))) p = p.slice(0, -1)
          add = p.slice(word.length)
        }
        if (add !== '' && line.length + add.length <= max) {
          line.splice(cur, 0, ...add)
          cur += add.length
        }
      } else dropped ??= { byte: b, column: cur + over + 1 }
    }
    return { events, pending: line.join(''), cursor: cur, history }
  }

  /** Runs `input` through an editor, answering every Tab with {@link completions}. */
  function drive(ed: LineEditor, input: number[], each?: (e: LineEvent | undefined) => void): LineEvent[] {
    const events: LineEvent[] = []
    for (const b of input) {
      const e = ed.feed(b)
      if (e) events.push(e)
      if (e?.kind === 'complete') ed.complete(completions(e.before))
      each?.(e)
    }
    return events
  }

  it('property: the lines, the cursor and the history are those of the keystroke model', () => {
    fc.assert(
      fc.property(keystrokes, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 4 }), (input, max, histMax) => {
        const ed = new LineEditor({ maxLength: max, historySize: histMax })
        const events = drive(ed, input)
        const m = model(input, max, histMax)
        expect(events).toEqual(m.events)
        expect(ed.pending).toBe(m.pending)
        expect(ed.column).toBe(m.cursor)
        expect(ed.lines).toEqual(m.history)
      }),
      { numRuns: 1000 },
    )
  })

  it('property: a terminal rendering the echo shows exactly prompt + line, the cursor at its column, after every key', () => {
    fc.assert(
      fc.property(keystrokes, fc.integer({ min: 1, max: 24 }), (input, max) => {
        // A tiny terminal: rows of cells and a cursor. It knows printable ASCII, "\b", "\r",
        // "\n", BEL, ESC [ n D and ESC [ K; anything else the editor echoes is a defect.
        const prompt = 'honk> '
        const rows: string[][] = [[]]
        let col = 0
        const write = (text: string) => {
          for (let i = 0; i < text.length; i++) {
            const c = text[i]!
            const row = rows[rows.length - 1]!
            if (c === '\r') col = 0
            else if (c === '\n') rows.push([])
            else if (c === '\b') col = Math.max(0, col - 1)
            else if (c === '\x07') continue
            else if (c === '\x1b') {
              const m = /^\x1b\[(\d*)([DK])/.exec(text.slice(i))
              if (!m) throw new Error(`echo holds an escape the terminal does not know: ${JSON.stringify(text.slice(i))}`)
              if (m[2] === 'D') col = Math.max(0, col - Number(m[1] || '1'))
              else row.length = col
              i += m[0].length - 1
            } else if (c >= ' ' && c <= '~') {
              while (row.length < col) row.push(' ')
              row[col++] = c
            } else throw new Error(`echo holds byte 0x${c.charCodeAt(0).toString(16)}`)
          }
        }
        const ed = new LineEditor({ maxLength: max, prompt, echo: write })
        write(prompt)
        drive(ed, input, (e) => {
          if (e && e.kind !== 'complete' && e.kind !== 'eof') write(prompt) // the shell prints the prompt after each line end
          const row = rows[rows.length - 1]!.join('')
          const want = prompt + ed.pending
          // What the row shows is prompt + line (cells beyond it blank), the cursor at its column.
          expect(row.slice(0, want.length)).toBe(want)
          expect(row.slice(want.length).trim()).toBe('')
          expect(col).toBe(prompt.length + ed.column)
        })
      }),
      { numRuns: 500 },
    )
  })
})
