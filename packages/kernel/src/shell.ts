/**
 * honk's shell: the commands of the Go honk's console shell, run against what the kernel hands
 * over (`ShellHost`). Output matches the Go honk's line for line where that was right; its
 * known defects are fixed (a lenient `ls`, a destructive `blk` self-test).
 *
 * Lines end in "\n"; the console driver sends them as "\r\n". A command never throws out of
 * `run()`: filesystem and device errors print as `<cmd>: <message>`, anything unexpected as
 * `<cmd>: internal error: <message>`, and the shell lives on.
 */
import type { ProcessInfo } from '@honk/proc'
import { isFsError, joinPath, mkdirp, readFile, splitPath, statOrUndefined, writeFile, type FS, type Stat } from '@honk/vfs'
import { LineEditor, MAX_LINE } from './line-editor.js'
import type { ShellHost } from './services.js'

/** What a command leaves the shell to do next. */
export type RunResult = 'continue' | 'exit'

export interface ShellOptions {
  /**
   * Milliseconds since the epoch, for `ps` UPTIME: the clock the process table stamps
   * `started`/`ended` with (default `Date.now`, the table's default).
   */
  now?: () => number
  /** The longest input line `serve` accepts (default {@link MAX_LINE}, 4095). */
  maxLine?: number
}

/** The prompt, without a newline. */
export const PROMPT = 'honk> '

/** `stress` without a (valid) count. */
export const STRESS_DEFAULT = 64
/** The most processes `stress` spawns: they all share one event loop. */
export const STRESS_MAX = 1024
/** How many times each `stress` process yields to the event loop. */
export const STRESS_YIELDS = 3000
/** How often a `run` worker ticks. */
export const WORKER_TICK_MS = 250

const HELP = [
  'commands:',
  '  help  harts  uptime  mem  echo <text>',
  '  run [name]   ps   kill <pid>   crash   reap   stress [n]',
  '  ls [dir]   cat <file>   cp <src> <dst>   put <key> <text>   rm <file>   mkdir <dir>',
  '  blk  mount  reset --confirm  fault  reboot  exit',
]

const KiB = 1024
const MiB = 1024 * 1024

type Handler = (args: string[]) => Promise<RunResult | void> | RunResult | void

/** Yields to the event loop (a macrotask, so timers and I/O get their turn), or a microtask off Node. */
const yieldNow: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise<void>((resolve) => setImmediate(resolve)) : () => Promise.resolve()

export class Shell {
  private readonly commands = new Map<string, Handler>()
  private readonly now: () => number
  private readonly maxLine: number
  private readonly decoder = new TextDecoder()
  /** Commands run one at a time, in the order `run` was called. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly host: ShellHost,
    options: ShellOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now())
    this.maxLine = options.maxLine ?? MAX_LINE
    const c = this.commands
    c.set('help', () => this.help())
    c.set('harts', () => this.harts())
    c.set('uptime', () => this.println(`uptime: ${goDuration(this.host.uptimeNs())}`))
    c.set('mem', () => this.mem())
    c.set('echo', (a) => this.println(a.join(' ')))
    c.set('run', (a) => this.runWorker(a))
    c.set('ps', () => this.ps())
    c.set('kill', (a) => this.kill(a))
    c.set('crash', () => this.crash())
    c.set('reap', () => this.println(`reaped ${this.host.procs.reap()} terminated processes`))
    c.set('stress', (a) => this.stress(a))
    c.set('ls', (a) => this.ls(a))
    c.set('cat', (a) => this.cat(a))
    c.set('cp', (a) => this.cp(a))
    c.set('put', (a) => this.put(a))
    c.set('rm', (a) => this.rm(a))
    c.set('mkdir', (a) => this.mkdir(a))
    c.set('blk', () => this.blk())
    c.set('mount', () => this.mount())
    c.set('reset', (a) => this.reset(a))
    c.set('fault', () => this.fault())
    for (const name of ['exit', 'halt', 'quit']) c.set(name, () => this.exit())
    c.set('reboot', () => this.reboot())
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
    this.prompt()
    for await (const chunk of input) {
      const bytes = typeof chunk === 'number' ? [chunk] : chunk
      for (const b of bytes) {
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
        if (event.kind === 'line' && (await this.run(event.line)) === 'exit') return 'exit'
        this.prompt()
      }
    }
    return 'eof'
  }

  /**
   * What Tab may complete the word before the cursor with (`before` is the line up to it): a
   * command name for the first word, else a path in the root FS (directories end in "/", the
   * word's own directory part kept). Never rejects: a directory that cannot be read offers nothing.
   */
  async completions(before: string): Promise<string[]> {
    const start = before.lastIndexOf(' ') + 1
    const word = before.slice(start)
    if (before.slice(0, start).trim() === '') return [...this.commands.keys()].filter((c) => c.startsWith(word)).sort()
    const slash = word.lastIndexOf('/') + 1
    const dir = word.slice(0, slash)
    const base = word.slice(slash)
    try {
      const entries = await this.fs.readDir(shellPath(dir === '' ? '.' : dir))
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
      const handler = this.commands.get(cmd)
      if (!handler) {
        this.println(`unknown command: ${goQuote(cmd)} (try 'help')`)
        return 'continue'
      }
      return (await handler(args)) ?? 'continue'
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

  // ---- system information -------------------------------------------------------------

  private help(): void {
    for (const line of HELP) this.println(line)
  }

  private harts(): void {
    const { online, current } = this.host.harts()
    this.println(`harts: ${online} online  this=hart ${current}`)
    this.println(`harts: kernel tasks all run on the event loop of hart ${current} (no parallel harts yet)`)
  }

  private mem(): void {
    const m = this.host.memory()
    const kib = (n: number) => Math.floor(n / KiB)
    this.println(
      `mem: ram=${Math.floor(m.ramBytes / MiB)}MiB dma=${kib(m.dmaBytesUsed)}KiB heap=${kib(m.heapUsedBytes)}KiB/${kib(m.heapTotalBytes)}KiB processes=${this.host.procs.count}`,
    )
  }

  // ---- processes ----------------------------------------------------------------------

  private runWorker(args: string[]): void {
    const name = args[0] ?? 'worker'
    const p = this.host.procs.spawn(name, ['console'], async (ctx) => {
      // Ticks until killed: the kill rejects the sleep, which ends the task (no timer left).
      for (;;) await ctx.sleep(WORKER_TICK_MS)
    })
    this.println(`spawned PID ${p.pid} (${name})`)
  }

  private ps(): void {
    const now = this.now()
    const row = (pid: string, name: string, state: string, uptime: string, caps: string) =>
      `${pid.padEnd(4)} ${name.padEnd(10)} ${state.padEnd(9)} ${uptime.padEnd(9)} ${caps}`
    const list = this.host.procs.list()
    this.println(row('PID', 'NAME', 'STATE', 'UPTIME', 'CAPS'))
    for (const p of list) this.println(row(String(p.pid), p.name, p.state, uptimeOf(p, now), p.caps.toString()))
    this.println(`(${list.length} processes)`)
  }

  private kill(args: string[]): void {
    const arg = args[0]
    if (arg === undefined) return this.println('usage: kill <pid>')
    const pid = parseGoInt(arg)
    if (pid === undefined) return this.println(`bad pid: ${goQuote(arg)}`)
    // Killing init would kill every process (they are all its descendants).
    if (pid === this.host.procs.init.pid) return this.println(`kill: PID ${pid} (init) cannot be killed`)
    this.println(this.host.procs.kill(pid) ? `killed PID ${pid}` : `PID ${pid} not running`)
  }

  private crash(): void {
    const p = this.host.procs.spawn('crasher', [], () => {
      throw new Error('intentional crash')
    })
    this.println(`spawned PID ${p.pid} (crasher) - it will panic; kernel survives`)
  }

  private async stress(args: string[]): Promise<void> {
    const asked = parseGoInt(args[0] ?? '')
    const n = asked === undefined || asked <= 0 ? STRESS_DEFAULT : Math.min(asked, STRESS_MAX)
    const harts = new Set<number>()
    const waits: Promise<ProcessInfo>[] = []
    let failure: unknown
    for (let i = 0; i < n; i++) {
      try {
        const p = this.host.procs.spawn('stress', ['proc'], async (ctx) => {
          harts.add(this.host.harts().current)
          for (let y = 0; y < STRESS_YIELDS; y++) {
            await yieldNow()
            ctx.throwIfKilled()
          }
          harts.add(this.host.harts().current)
        })
        waits.push(p.wait())
      } catch (e) {
        failure = e
        break
      }
    }
    await Promise.all(waits)
    const reaped = this.host.procs.reap()
    if (failure !== undefined) return this.println(`stress: ${errorMessage(failure)} (after ${waits.length} processes, reaped ${reaped})`)
    const h = harts.size
    const shared = h === 1 ? ` (they shared the event loop of hart ${[...harts][0]})` : ''
    this.println(`stress: ${n} processes ran across ${h} hart${h === 1 ? '' : 's'}${shared}, reaped ${reaped}`)
  }

  // ---- files --------------------------------------------------------------------------

  private get fs(): FS {
    return this.host.root.root
  }

  private async ls(args: string[]): Promise<void> {
    const p = shellPath(args[0] ?? '.')
    try {
      const st = await this.fs.stat(p)
      if (st.type !== 'dir') return this.println(entryLine(p, st))
      for (const e of await this.fs.readDir(p)) {
        let est: Stat
        try {
          est = await this.fs.stat(p === '.' ? e.name : joinPath(p, e.name))
        } catch (err) {
          this.println(`ls: ${describeError(err)}`)
          continue
        }
        this.println(entryLine(e.name, est))
      }
    } catch (e) {
      this.println(`ls: ${describeError(e)}`)
    }
  }

  private async cat(args: string[]): Promise<void> {
    if (args[0] === undefined) return this.println('usage: cat <file>')
    const p = shellPath(args[0])
    try {
      const st = await this.fs.stat(p)
      if (st.type === 'dir') return this.println(`cat: ${p}: is a directory`)
      const bytes = await readFile(this.fs, p)
      const text = this.decoder.decode(bytes)
      this.host.out(bytes[bytes.length - 1] === 0x0a ? text : `${text}\n`)
    } catch (e) {
      this.println(`cat: ${describeError(e)}`)
    }
  }

  private async cp(args: string[]): Promise<void> {
    const [srcArg, dstArg] = args
    if (srcArg === undefined || dstArg === undefined) return this.println('usage: cp <src> <dst>')
    if (!this.host.root.writable) return this.println(`cp: ${this.readOnlyReason()}`)
    const src = shellPath(srcArg)
    const dst = shellPath(dstArg)
    if (dst === '.') return this.println('cp: invalid path')
    try {
      const st = await this.fs.stat(src)
      if (st.type === 'dir') return this.println(`cp: ${src}: is a directory`)
      const data = await readFile(this.fs, src)
      await this.writeWithParents(dst, data)
      this.println(`cp: ${src} -> ${dst} (${data.length} bytes)`)
    } catch (e) {
      this.println(`cp: ${describeError(e)}`)
    }
  }

  private async put(args: string[]): Promise<void> {
    const [keyArg, ...words] = args
    if (keyArg === undefined || words.length === 0) return this.println('usage: put <key> <text...>')
    if (!this.host.root.writable) return this.println(`put: ${this.readOnlyReason()}`)
    const key = shellPath(keyArg)
    if (key === '.') return this.println('put: invalid key')
    try {
      await this.writeWithParents(key, words.join(' '))
      this.println(`put: wrote ${key}`)
    } catch (e) {
      this.println(`put: ${describeError(e)}`)
    }
  }

  /** Writes through the overlay (so whiteouts and copy-up are honoured); it lands in the writable layer. */
  private async writeWithParents(path: string, data: Uint8Array | string): Promise<void> {
    const [dir] = splitPath(path)
    if (dir !== '') await mkdirp(this.fs, dir)
    await writeFile(this.fs, path, data)
  }

  private async rm(args: string[]): Promise<void> {
    if (args[0] === undefined) return this.println('usage: rm <file>')
    const upper = this.host.root.writable
    if (!upper) return this.println(`rm: ${this.readOnlyReason()}`)
    const p = shellPath(args[0])
    if (p === '.') return this.println('rm: invalid path')
    try {
      await this.fs.stat(p) // it must be visible (and a legal name) through the overlay
      const mine = await statIfPresent(upper, p)
      if (!mine) return this.println(`rm: ${p}: not in writable layer`)
      if (mine.type === 'dir') {
        // Through the overlay: refuses a directory that still shows entries, and hides a
        // lower directory of the same name.
        await this.fs.remove(p)
      } else {
        // The writable copy alone, as the Go honk's rm deleted the KV key: a copy in the
        // read-only layers below (an edited core file) shows through again.
        await upper.remove(p)
      }
      this.println(`rm: removed ${p}`)
      if (await statOrUndefined(this.fs, p)) this.println(`rm: ${p}: the read-only layers' copy shows through again`)
    } catch (e) {
      this.println(`rm: ${describeError(e)}`)
    }
  }

  private async mkdir(args: string[]): Promise<void> {
    if (args[0] === undefined) return this.println('usage: mkdir <dir>')
    if (!this.host.root.writable) return this.println(`mkdir: ${this.readOnlyReason()}`)
    const p = shellPath(args[0])
    if (p === '.') return this.println('mkdir: invalid path')
    try {
      if (await statOrUndefined(this.fs, p)) return this.println(`mkdir: ${p}: file already exists`)
      await mkdirp(this.fs, p)
      this.println(`mkdir: created ${p}`)
    } catch (e) {
      this.println(`mkdir: ${describeError(e)}`)
    }
  }

  private mount(): void {
    for (const l of this.host.root.layers) this.println(`  ${l.name.padEnd(6)} ${l.mode.padEnd(10)} ${l.detail}`)
  }

  private async reset(args: string[]): Promise<void> {
    const root = this.host.root
    // A damaged layer shown read-only (the boot said "copy them off, then `reset`") can be reset.
    const damaged = root.layers.some((l) => l.name === 'kv' && l.mode === 'read-only')
    if (!root.writable && !damaged) return this.println('reset: no writable layer (read-only core)')
    if (args[0] !== '--confirm') return this.println('reset: clears ALL state in the writable layer; re-run as: reset --confirm')
    try {
      await root.reset()
      this.println(`reset: writable layer cleared (immutable core ${root.bootCore} remains)`)
    } catch (e) {
      this.println(`reset: ${describeError(e)}`)
    }
  }

  // ---- devices ------------------------------------------------------------------------

  /**
   * Geometry, then a read/write self-test on the block the storage layer reserved for it
   * (never live data): save it, write a pattern, read it back, restore it, flush.
   */
  private async blk(): Promise<void> {
    const storage = this.host.storage
    if (!storage) return this.println('blk: no block device')
    const dev = storage.device
    const bs = dev.blockSize
    this.println(`blk: ${dev.blockCount} blocks x ${bs} B = ${Math.floor((dev.blockCount * bs) / MiB)} MiB`)
    const lba = storage.scratchBlock
    const saved = new Uint8Array(bs)
    try {
      await dev.read(lba, saved)
    } catch (e) {
      return this.println(`blk: read error: ${errorMessage(e)}`)
    }
    const pattern = new Uint8Array(bs)
    for (let i = 0; i < bs; i++) pattern[i] = (i * 7 + 1) & 0xff
    try {
      try {
        await dev.write(lba, pattern)
      } catch (e) {
        return this.println(`blk: write error: ${errorMessage(e)}`)
      }
      const back = new Uint8Array(bs)
      try {
        await dev.read(lba, back)
      } catch (e) {
        return this.println(`blk: read error: ${errorMessage(e)}`)
      }
      this.println(back.every((b, i) => b === pattern[i]) ? `blk: read/write self-test OK (block ${lba})` : 'blk: read/write self-test MISMATCH')
    } finally {
      try {
        await dev.write(lba, saved)
        await dev.flush()
      } catch (e) {
        this.println(`blk: restore error: ${errorMessage(e)}`)
      }
    }
  }

  /** Why writes are refused: no disk (the Go honk's wording), or a disk whose writable layer did not open. */
  private readOnlyReason(): string {
    return this.host.storage ? 'filesystem is read-only (the writable layer is unavailable; see the boot log)' : 'filesystem is read-only (no block device)'
  }

  // ---- halting ------------------------------------------------------------------------

  private fault(): RunResult {
    this.println('fault: raising a supervisor exception...')
    this.host.raiseFault()
    return 'continue'
  }

  private async reboot(): Promise<RunResult> {
    this.println('honk: rebooting')
    await this.host.reboot()
    return 'exit'
  }

  private async exit(): Promise<RunResult> {
    this.println('honk: shutting down')
    await this.host.powerOff()
    return 'exit'
  }
}

// ---- formatting helpers (exported for tests) ------------------------------------------

/**
 * A shell argument as a path of the root FS, like the Go honk's `path.Clean("/"+arg)` with the
 * leading "/" removed: "." for the root, and ".." at the top stays at the top.
 */
export function shellPath(arg: string): string {
  const parts: string[] = []
  for (const part of arg.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') parts.pop()
    else parts.push(part)
  }
  return parts.length === 0 ? '.' : parts.join('/')
}

/** Go's `time.Duration.String()` of `ns` nanoseconds: "0s", "250ms", "1.5µs", "3.123456789s", "1h2m3.5s". */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s'
  const sign = ns < 0n ? '-' : ''
  const u = ns < 0n ? -ns : ns
  if (u < 1000n) return `${sign}${u}ns`
  if (u < 1_000_000n) return `${sign}${u / 1000n}${fraction(u % 1000n, 3)}µs`
  if (u < 1_000_000_000n) return `${sign}${u / 1_000_000n}${fraction(u % 1_000_000n, 6)}ms`
  const secs = u / 1_000_000_000n
  let out = `${secs % 60n}${fraction(u % 1_000_000_000n, 9)}s`
  const mins = secs / 60n
  if (mins > 0n) {
    out = `${mins % 60n}m${out}`
    const hours = mins / 60n
    if (hours > 0n) out = `${hours}h${out}`
  }
  return sign + out
}

/** ".ddd" of `v` as a `digits`-digit fraction without trailing zeros; "" when zero. */
function fraction(v: bigint, digits: number): string {
  const s = v.toString().padStart(digits, '0').replace(/0+$/, '')
  return s === '' ? '' : `.${s}`
}

/** Go's `%q` of a string. */
export function goQuote(s: string): string {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (c >= 0x20 && c < 0x7f) out += ch
    else if (c in GO_ESCAPES) out += GO_ESCAPES[c]
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += `\\U${c.toString(16).padStart(8, '0')}`
  }
  return `${out}"`
}

const GO_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' }

/** Go's `strconv.Atoi` for the values a shell needs: an optional sign and decimal digits. */
export function parseGoInt(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined
  const n = Number(s)
  return Number.isSafeInteger(n) ? n : undefined
}

/** A process's UPTIME column: time since spawn (until it ended), rounded to 1 ms. */
function uptimeOf(p: ProcessInfo, now: number): string {
  const ms = Math.max(0, Math.round((p.ended ?? now) - p.started))
  return goDuration(BigInt(ms) * 1_000_000n)
}

function entryLine(name: string, st: Stat): string {
  return st.type === 'dir' ? `  ${`${name}/`.padEnd(22)} <dir>` : `  ${name.padEnd(22)} ${st.size}`
}

/** `stat` of `path` in one layer, or undefined when that layer does not have it. */
async function statIfPresent(fs: FS, path: string): Promise<Stat | undefined> {
  try {
    return await fs.stat(path)
  } catch (e) {
    if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return undefined
    throw e
  }
}

/** Go's wording for the errors a user sees most (`fs.ErrNotExist`, `fs.ErrExist`). */
const GO_FS_TEXT: Partial<Record<string, string>> = { ENOENT: 'file does not exist', EEXIST: 'file already exists' }

/** "<path>: <what went wrong>" for a filesystem error; the message for anything else. */
export function describeError(e: unknown): string {
  if (!isFsError(e)) return errorMessage(e)
  const path = e.path === '' ? '.' : e.path
  const prefix = `${e.op} ${e.path === '' ? '/' : e.path}: `
  const text = GO_FS_TEXT[e.code] ?? (e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message)
  return `${path}: ${text}`
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
