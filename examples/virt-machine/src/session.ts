/**
 * A scripted console for a running machine (tests, the non-interactive mode): collect what the
 * guest prints, wait for text to appear, type into it.
 */
import { HonkError } from '@honk/errors'
import type { MachineExit, VirtMachine } from './board.js'

export class ConsoleTimeoutError extends HonkError<'CONSOLE_TIMEOUT'> {
  constructor(what: string, ms: number, tail: string) {
    super('CONSOLE_TIMEOUT', `waited ${ms} ms for ${what}; the console ends with:\n${tail}`)
    this.name = 'ConsoleTimeoutError'
  }
}

/** A printk record's timestamp ("[   16.182841] ") after some other output on the same line. */
const KERNEL_RECORD_INSIDE_A_LINE = /(?<=[^\n])\[ *\d+\.\d{6}\] /

export class ConsoleSession {
  /** Everything the guest printed so far. */
  text = ''
  /** Offset up to which `waitFor` has consumed output. */
  private cursor = 0
  private waiters: (() => void)[] = []
  private readonly decoder = new TextDecoder()
  private machine: VirtMachine | undefined
  private running: Promise<MachineExit> | undefined

  /** Where the line being printed starts in `text`. */
  private lineStart = 0

  /** The byte sink to give the machine as `consoleOut`. */
  readonly out = (byte: number): void => {
    this.text += this.decoder.decode(Uint8Array.of(byte), { stream: true })
    if (byte === 0x0a) this.lineEnded()
    if (byte === 0x0a || byte === 0x20 || byte === 0x3e) this.notify()
  }

  /**
   * A Linux guest's kernel writes its log records (printk) straight to the UART, so one can land
   * inside a line a program is printing ("honk-init: [   16.18] IPv6: … ready\r\nvda: sector 1
   * ok"). When a line ends in such a record, the record is moved before the line's beginning, so
   * the program's line reads whole once it ends and the record is there in full. Only output no
   * `waitFor` has consumed yet is rearranged.
   */
  private lineEnded(): void {
    const start = this.lineStart
    const line = this.text.slice(start)
    const at = line.search(KERNEL_RECORD_INSIDE_A_LINE)
    if (at > 0 && this.cursor <= start) {
      const record = line.slice(at)
      this.text = this.text.slice(0, start) + record + line.slice(0, at)
      this.lineStart = start + record.length
    } else this.lineStart = this.text.length
  }

  private notify(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /**
   * Starts the machine's loop; `exit` resolves when it stops. `run` replaces the board's own
   * loop (e.g. `ParallelMachine.run`, harts in Workers); input still goes to `machine`.
   */
  start(machine: VirtMachine, options: { limit?: number; run?: () => Promise<MachineExit> } = {}): void {
    this.machine = machine
    this.running = (options.run ? options.run() : machine.run(options)).finally(() => this.notify())
  }

  get exit(): Promise<MachineExit> {
    if (!this.running) throw new Error('the session has not started a machine')
    return this.running
  }

  /**
   * Waits until `pattern` appears in output not yet consumed, then consumes up to its end and
   * returns the text from the old cursor to the end of the match.
   */
  async waitFor(pattern: string | RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    let finished = false
    void this.running?.finally(() => (finished = true))
    for (;;) {
      const rest = this.text.slice(this.cursor)
      const m = typeof pattern === 'string' ? (rest.includes(pattern) ? { index: rest.indexOf(pattern), length: pattern.length } : undefined) : (() => {
        const r = pattern.exec(rest)
        return r ? { index: r.index, length: r[0].length } : undefined
      })()
      if (m) {
        const got = rest.slice(0, m.index + m.length)
        this.cursor += m.index + m.length
        return got
      }
      const left = deadline - Date.now()
      if (left <= 0 || finished) throw new ConsoleTimeoutError(finished ? `${String(pattern)} (the machine stopped)` : String(pattern), timeoutMs, this.text.slice(-1500))
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Types text into the guest's console. */
  send(text: string): void {
    this.machine?.input(text)
  }
}

/** Bytes of host input let into the guest's UART ahead of the guest reading them. */
export const FEED_WINDOW = 64 * 1024

/**
 * Host console input on its way to a machine: queued from the moment it arrives (bytes typed or
 * piped before the machine exists, or before it is ready, are kept), then let into the UART no
 * faster than the guest reads it — at most {@link FEED_WINDOW} bytes waiting there, as QEMU's
 * character backend reads its input only while the serial port can take it. So a large paste or
 * a long piped line never overflows the UART's backlog, and the host queue can tell the reader
 * to pause (`backlog`).
 */
export class ConsoleFeeder {
  private readonly queue: Uint8Array[] = []
  private queued = 0
  private target: VirtMachine | undefined
  private readonly encoder = new TextEncoder()

  constructor(private readonly window = FEED_WINDOW) {}

  /** Bytes queued on the host side, not yet let into a machine. */
  get pending(): number {
    return this.queued
  }

  /** Queues input; it goes to the attached machine as its UART has room. */
  push(bytes: Uint8Array | string): void {
    const b = typeof bytes === 'string' ? this.encoder.encode(bytes) : bytes
    if (b.length === 0) return
    this.queue.push(b)
    this.queued += b.length
    this.pump()
  }

  /** Starts feeding `machine` (what is queued goes first); undefined stops feeding. */
  attach(machine: VirtMachine | undefined): void {
    this.target = machine
    this.pump()
  }

  /** Lets queued bytes into the machine while its UART holds fewer than `window` unread ones. Call it periodically. */
  pump(): void {
    const m = this.target
    if (!m) return
    let room = this.window - m.uart.rxCount
    while (room > 0 && this.queue.length > 0) {
      const c = this.queue[0]!
      const n = Math.min(room, c.length)
      m.input(c.subarray(0, n))
      if (n === c.length) this.queue.shift()
      else this.queue[0] = c.subarray(n)
      this.queued -= n
      room -= n
    }
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    ConsoleTimeoutError: ConsoleTimeoutError
  }
}
