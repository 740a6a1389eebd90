/**
 * honk's shell: the commands of the Go honk's console shell, run against what the kernel hands
 * over (`ShellHost`). Output matches the Go honk's line for line where that was right; its
 * known defects are fixed (a lenient `ls`, a destructive `blk` self-test).
 *
 * Lines end in "\n"; the console driver sends them as "\r\n". A command never throws out of
 * `run()`: filesystem and device errors print as `<cmd>: <message>`, anything unexpected as
 * `<cmd>: internal error: <message>`, and the shell lives on.
 */
import { HonkError } from '@honk/errors'
import { BUILTIN_COMMANDS } from './commands/index.js'
import type { CommandContext, RunResult, ShellCommand } from './commands/command.js'
import { errorMessage, goQuote, shellPath } from './commands/format.js'
import { LineEditor, MAX_LINE } from './line-editor.js'
import type { ShellHost } from './services.js'

export * from './commands/index.js'

export interface ShellOptions {
  /**
   * Milliseconds since the epoch, for `ps` UPTIME: the clock the process table stamps
   * `started`/`ended` with (default `Date.now`, the table's default).
   */
  now?: () => number
  /** The longest input line `serve` accepts (default {@link MAX_LINE}, 4095). */
  maxLine?: number
  /**
   * The command modules (default {@link BUILTIN_COMMANDS}). Subsystems add theirs:
   * `[...BUILTIN_COMMANDS, net]`. A name or alias may be defined once.
   */
  commands?: readonly ShellCommand[]
}

/** A shell built from command modules that define one word twice. */
export class ShellCommandConflictError extends HonkError<'SHELL_COMMAND_CONFLICT'> {
  constructor(readonly word: string) {
    super('SHELL_COMMAND_CONFLICT', `shell: the command word ${goQuote(word)} is defined by two modules`)
  }
}

/** The prompt, without a newline. */
export const PROMPT = 'honk> '

export class Shell {
  /** Name and alias → module. */
  private readonly table = new Map<string, ShellCommand>()
  private readonly context: CommandContext
  private readonly maxLine: number
  /** Commands run one at a time, in the order `run` was called. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly host: ShellHost,
    options: ShellOptions = {},
  ) {
    const now = options.now ?? (() => Date.now())
    this.maxLine = options.maxLine ?? MAX_LINE
    const commands = options.commands ?? BUILTIN_COMMANDS
    for (const c of commands) {
      for (const word of [c.name, ...(c.aliases ?? [])]) {
        if (this.table.has(word)) throw new ShellCommandConflictError(word)
        this.table.set(word, c)
      }
    }
    const println = (text: string): void => {
      host.out(`${text}\n`)
    }
    this.context = {
      host,
      get fs() {
        return host.root.root
      },
      commands,
      now,
      println,
      out: (text) => {
        host.out(text)
      },
      grabInput: (sink, end) => this.grabInput(sink, end),
      readOnlyReason: () =>
        host.storage ? 'filesystem is read-only (the writable layer is unavailable; see the boot log)' : 'filesystem is read-only (no block device)',
    }
  }

  /** The command modules, in `help` order. */
  get commands(): readonly ShellCommand[] {
    return this.context.commands
  }

  /** Prints the prompt ("honk> ", no newline). */
  prompt(): void {
    this.host.out(PROMPT)
  }

  /**
   * Runs one command line (split on whitespace; an empty line does nothing). Resolves to
   * 'exit' after exit/halt/quit powered the machine off. Calls made while a command runs wait
   * for it: commands run one at a time, in order. Never rejects.
   */
  run(line: string): Promise<RunResult> {
    const result = this.queue.then(() => this.execute(line))
    this.queue = result
    return result
  }

  /**
   * The console loop: prints the prompt, then feeds `input` through a line editor (echoing to
   * the console), runs each completed line and prints the prompt again. Bytes that arrive while
   * a command runs wait their turn. A line longer than the limit is refused with a message (never
   * run cut short). Ctrl-D at an empty prompt ends the input: the shell says so and powers off as
   * `exit` does (nobody is left to type). Resolves 'exit' after an exit command or Ctrl-D, 'eof'
   * when `input` ends (a partly typed line is dropped).
   */
  async serve(input: AsyncIterable<number | Uint8Array>): Promise<'exit' | 'eof'> {
    const editor = new LineEditor({ echo: (text) => this.host.out(text), maxLength: this.maxLine, prompt: PROMPT })
    const it = input[Symbol.asyncIterator]()
    // At most one pull from `input` is outstanding: while a command runs the shell keeps reading
    // (for a command that holds the input, `vm attach`), and what nobody holds waits in `backlog`.
    let pending: Promise<IteratorResult<number | Uint8Array>> | undefined
    const next = (): Promise<IteratorResult<number | Uint8Array>> => (pending ??= it.next())
    const backlog = this.backlog
    let ended = false
    const pull = async (): Promise<void> => {
      const r = await next()
      pending = undefined
      if (r.done) ended = true
      else this.deliver(typeof r.value === 'number' ? [r.value] : Array.from(r.value))
    }
    const runReading = async (line: string): Promise<RunResult> => {
      const done = this.run(line).then((r) => ({ r }))
      for (;;) {
        const w = ended ? await done : await Promise.race([done, next().then(() => undefined)])
        if (w) return w.r
        await pull()
        if (ended) this.grab?.end()
      }
    }
    this.prompt()
    for (;;) {
      if (backlog.length === 0) {
        if (ended) return 'eof'
        await pull()
        continue
      }
      const b = backlog.shift()!
      const event = editor.feed(b)
      if (!event) continue
      if (event.kind === 'complete') {
        editor.complete(await this.completions(event.before))
        continue
      }
      if (event.kind === 'eof') {
        this.host.out('\n')
        this.println('honk: end of input')
        if ((await this.run('exit')) === 'exit') return 'exit'
      }
      if (event.kind === 'overflow') this.println(`honk: line too long (${event.length} characters, at most ${editor.maxLength}): not run`)
      if (event.kind === 'refused') this.println(`honk: line not run: byte 0x${event.byte.toString(16).padStart(2, '0')} at column ${event.column} is not taken (the console takes printable ASCII)`)
      if (event.kind === 'line' && (await runReading(event.line)) === 'exit') return 'exit'
      this.prompt()
    }
  }

  /** Console bytes not yet taken by the line editor (or by a command holding the input). */
  private readonly backlog: number[] = []
  /** The command holding the console input, if any. */
  private grab: { readonly sink: (byte: number) => void; readonly end: () => void } | undefined

  private deliver(bytes: readonly number[]): void {
    if (this.grab) for (const b of bytes) this.grab.sink(b)
    else this.backlog.push(...bytes)
  }

  /**
   * Gives the console input to a running command: bytes already typed after its line, then each
   * byte as it arrives, go to `sink` until the returned function is called (then they wait for
   * the shell again). `end` is called if the input ends meanwhile.
   */
  private grabInput(sink: (byte: number) => void, end: () => void = () => {}): () => void {
    const grab = { sink, end }
    this.grab = grab
    const typed = this.backlog.splice(0)
    for (const b of typed) sink(b)
    return () => {
      if (this.grab === grab) this.grab = undefined
    }
  }

  /**
   * What Tab may complete the word before the cursor with (`before` is the line up to it): a
   * command name for the first word, else a path in the root FS (directories end in "/", the
   * word's own directory part kept). Never rejects: a directory that cannot be read offers nothing.
   */
  async completions(before: string): Promise<string[]> {
    const start = before.lastIndexOf(' ') + 1
    const word = before.slice(start)
    if (before.slice(0, start).trim() === '') return [...this.table.keys()].filter((c) => c.startsWith(word)).sort()
    const slash = word.lastIndexOf('/') + 1
    const dir = word.slice(0, slash)
    const base = word.slice(slash)
    try {
      const entries = await this.context.fs.readDir(shellPath(dir === '' ? '.' : dir))
      return entries
        .filter((e) => e.name.startsWith(base))
        .map((e) => `${dir}${e.name}${e.type === 'dir' ? '/' : ''}`)
        .sort()
    } catch {
      return []
    }
  }

  private async execute(line: string): Promise<RunResult> {
    const args = line.split(/\s+/).filter((a) => a !== '')
    const cmd = args.shift()
    if (cmd === undefined) return 'continue'
    try {
      const command = this.table.get(cmd)
      if (!command) {
        this.println(`unknown command: ${goQuote(cmd)} (try 'help')`)
        return 'continue'
      }
      // Only 'exit' ends the shell; whatever else a command returns means carry on.
      return (await command.run(this.context, args)) === 'exit' ? 'exit' : 'continue'
    } catch (e) {
      try {
        this.println(`${cmd}: internal error: ${errorMessage(e)}`)
      } catch {
        // The console itself failed: nothing left to report it on.
      }
      return 'continue'
    }
  }

  private println(text: string): void {
    this.host.out(`${text}\n`)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    ShellCommandConflictError: ShellCommandConflictError
  }
}
