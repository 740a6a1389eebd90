/**
 * The process table. A process is an async task plus an `AbortController` (abort = kill),
 * a capability set (the only way to reach a service) and metadata. A task that throws or
 * rejects is contained: the process ends as `crashed` with its error recorded, and the
 * kernel and its siblings live on.
 */
import { Caps, type Cap } from './caps.js'
import { CapabilityError, KilledError, NoSuchProcessError } from './errors.js'

/** Where a process is in its life. `running` until its task settles or it is killed. */
export type ProcState = 'running' | 'exited' | 'killed' | 'crashed'

/** What `ps` shows of a process. */
export interface ProcessInfo {
  readonly pid: number
  /** Parent pid; 0 for init. */
  readonly ppid: number
  readonly name: string
  readonly caps: Caps
  readonly state: ProcState
  /** Milliseconds since the epoch (from the table's clock). */
  readonly started: number
  readonly ended: number | undefined
  /** Why it ended: "exited", "killed: <reason>", "crashed: <message>". */
  readonly exitReason: string | undefined
  /** The thrown value of a crashed process. */
  readonly error: unknown
  /** True once the task's promise has settled (a killed task may still be winding down). */
  readonly settled: boolean
}

/** What a process's task receives: its identity, its kill signal and its capabilities. */
export interface ProcessContext<S extends object> {
  readonly pid: number
  readonly name: string
  /** Aborted when the process is killed (directly or because an ancestor was). */
  readonly signal: AbortSignal
  readonly caps: Caps
  can(cap: Cap): boolean
  /** The service behind a capability; throws `CapabilityError` unless granted. */
  use<K extends keyof S & string>(cap: K): S[K]
  /** Spawns a child holding `caps`, which must be a subset of this process's. */
  spawn(name: string, caps: readonly Cap[], task: Task<S>): Process
  /** Resolves after `ms`, or rejects with the kill reason if killed first; never leaks a timer. */
  sleep(ms: number): Promise<void>
  /** Throws the kill reason if this process was killed (for loops that poll). */
  throwIfKilled(): void
}

/** The body of a process. Its return value is kept as the result. */
export type Task<S extends object> = (ctx: ProcessContext<S>) => unknown

/** A handle on a spawned process. */
export interface Process {
  readonly pid: number
  info(): ProcessInfo
  /** Resolves when the process leaves `running`. */
  wait(): Promise<ProcessInfo>
  kill(reason?: string): boolean
}

interface Entry {
  info: MutableInfo
  controller: AbortController
  children: Set<number>
  done: Promise<void>
  finish: () => void
  result: unknown
}

type MutableInfo = { -readonly [K in keyof ProcessInfo]: ProcessInfo[K] }

export interface ProcessTableOptions {
  /** The clock for `started`/`ended` (default `Date.now`). */
  clock?: () => number
  /** Capabilities init (PID 1) holds; default: every service's name plus "proc". */
  initCaps?: readonly Cap[]
}

/**
 * The table of processes. Pids start at 1 (init, created with the table), rise strictly and are
 * never reused. `S` maps capability names to the services behind them.
 */
export class ProcessTable<S extends object = Record<string, unknown>> {
  private readonly entries = new Map<number, Entry>()
  private nextPid = 1
  private readonly clock: () => number
  /** PID 1. It lives until `shutdown()`; orphans are re-parented to it. */
  readonly init: Process

  constructor(
    private readonly services: S,
    options: ProcessTableOptions = {},
  ) {
    this.clock = options.clock ?? Date.now
    const caps = options.initCaps ?? [...Object.keys(services), 'proc']
    let release!: () => void
    const forever = new Promise<void>((r) => (release = r))
    this.init = this.start('init', Caps.of(...caps), 0, async (ctx) => {
      ctx.signal.addEventListener('abort', () => release(), { once: true })
      await forever
    })
  }

  /** Spawns a process as a child of init (or of `parent`), holding `caps`. */
  spawn(name: string, caps: readonly Cap[], task: Task<S>, options: { parent?: number } = {}): Process {
    const parent = options.parent ?? 1
    const p = this.entries.get(parent)
    if (!p) throw new NoSuchProcessError(parent)
    const wanted = Caps.of(...caps)
    const missing = p.info.caps.missing(wanted)
    if (missing.length > 0) throw new CapabilityError(parent, missing[0]!)
    return this.start(name, wanted, parent, task)
  }

  /**
   * Kills a running process and all its descendants (their signals abort). Returns true if it
   * was running. Killing is cooperative: the task must watch its signal; the state says
   * `killed` at once either way.
   */
  kill(pid: number, reason = 'killed'): boolean {
    const e = this.entries.get(pid)
    if (!e) return false
    const wasRunning = e.info.state === 'running'
    if (wasRunning) this.end(e, 'killed', `killed: ${reason}`, undefined)
    for (const child of [...e.children]) this.kill(child, `parent ${pid} killed`)
    if (!e.controller.signal.aborted) e.controller.abort(new KilledError(pid, reason))
    return wasRunning
  }

  /** Resolves when `pid` leaves `running`. */
  async wait(pid: number): Promise<ProcessInfo> {
    const e = this.entries.get(pid)
    if (!e) throw new NoSuchProcessError(pid)
    await e.done
    return { ...e.info }
  }

  get(pid: number): ProcessInfo | undefined {
    const e = this.entries.get(pid)
    return e ? { ...e.info } : undefined
  }

  /** The result a task returned (undefined until it exited). */
  result(pid: number): unknown {
    return this.entries.get(pid)?.result
  }

  /** Every process, by pid. */
  list(): ProcessInfo[] {
    return [...this.entries.values()].map((e) => ({ ...e.info })).sort((a, b) => a.pid - b.pid)
  }

  /** Removes every process that is no longer running (init never); returns how many. */
  reap(): number {
    let n = 0
    for (const [pid, e] of this.entries) {
      if (pid === 1 || e.info.state === 'running') continue
      this.entries.delete(pid)
      this.entries.get(e.info.ppid)?.children.delete(pid)
      // Children that outlive their parent are re-parented to init.
      for (const child of e.children) {
        const c = this.entries.get(child)
        if (!c) continue
        ;(c.info as MutableInfo).ppid = 1
        this.entries.get(1)!.children.add(child)
      }
      n++
    }
    return n
  }

  /** Number of processes in the table, reaped ones excluded. */
  get count(): number {
    return this.entries.size
  }

  /** Kills everything, init last. */
  shutdown(reason = 'shutdown'): void {
    this.kill(1, reason)
  }

  private start(name: string, caps: Caps, ppid: number, task: Task<S>): Process {
    const pid = this.nextPid++
    const controller = new AbortController()
    let finish!: () => void
    const done = new Promise<void>((r) => (finish = r))
    const info: MutableInfo = {
      pid,
      ppid,
      name,
      caps,
      state: 'running',
      started: this.clock(),
      ended: undefined,
      exitReason: undefined,
      error: undefined,
      settled: false,
    }
    const entry: Entry = { info, controller, children: new Set(), done, finish, result: undefined }
    this.entries.set(pid, entry)
    const parent = this.entries.get(ppid)
    if (parent) parent.children.add(pid)
    const ctx = this.context(entry)
    const handle: Process = {
      pid,
      info: () => ({ ...entry.info }),
      wait: () => done.then(() => ({ ...entry.info })),
      kill: (reason) => this.kill(pid, reason),
    }
    // Run the task on a microtask so spawn() returns before any of it runs, and so a
    // synchronous throw is contained like a rejection. A process killed before that microtask
    // (its parent killed in the same tick) never starts: it ends killed, as an unscheduled
    // process would, rather than running and maybe crashing afterwards.
    Promise.resolve()
      .then(() => {
        if (controller.signal.aborted) throw controller.signal.reason
        return task(ctx)
      })
      .then(
        (result) => {
          entry.result = result
          this.end(entry, 'exited', 'exited', undefined)
        },
        (error: unknown) => {
          // A task that ends by rethrowing its own kill reason was killed, not crashed.
          if (controller.signal.aborted && error === controller.signal.reason) this.end(entry, 'killed', entry.info.exitReason ?? 'killed', undefined)
          else this.end(entry, 'crashed', `crashed: ${error instanceof Error ? error.message : String(error)}`, error, true)
        },
      )
      .finally(() => {
        entry.info.settled = true
      })
    return handle
  }

  /**
   * The state machine's one transition out of `running`. A kill is final against a later
   * normal exit; a crash overrides a kill (the fault is what matters), as in the Go honk.
   */
  private end(e: Entry, state: Exclude<ProcState, 'running'>, reason: string, error: unknown, crash = false): void {
    if (e.info.state !== 'running' && !(crash && e.info.state === 'killed')) return
    const first = e.info.state === 'running'
    e.info.state = state
    e.info.exitReason = reason
    e.info.error = error
    e.info.ended ??= this.clock()
    if (first) e.finish()
  }

  private context(e: Entry): ProcessContext<S> {
    const table = this
    const { pid, name, caps } = e.info
    const signal = e.controller.signal
    return {
      pid,
      name,
      signal,
      caps,
      can: (cap) => caps.has(cap),
      use<K extends keyof S & string>(cap: K): S[K] {
        if (!caps.has(cap)) throw new CapabilityError(pid, cap)
        return table.services[cap]
      },
      spawn: (childName, childCaps, task) => {
        if (signal.aborted) throw signal.reason
        const child = table.spawn(childName, childCaps, task, { parent: pid })
        return child
      },
      sleep: (ms) =>
        new Promise<void>((resolve, reject) => {
          if (signal.aborted) return reject(signal.reason)
          const onAbort = () => {
            clearTimeout(timer)
            reject(signal.reason)
          }
          const timer = setTimeout(() => {
            signal.removeEventListener('abort', onAbort)
            resolve()
          }, ms)
          signal.addEventListener('abort', onAbort, { once: true })
        }),
      throwIfKilled: () => signal.throwIfAborted(),
    }
  }
}
