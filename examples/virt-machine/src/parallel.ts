/**
 * Parallel harts (issue #18): the board of board.ts with each hart in its own Worker, all over
 * one `SharedArrayBuffer` RAM. The main thread keeps the PLIC and every device and serves the
 * harts' MMIO through the mailboxes of parallel-shared.ts; the CLINT (IPIs, timers) lives in
 * shared memory and never needs the main thread. Time is the host's clock (`realtime`): what
 * the harts interleave depends on the host's scheduling, so a parallel run is not reproducible —
 * the single-thread `VirtMachine.run` stays the deterministic mode for tests and debugging.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { HonkError } from '@honk/errors'
import { IRQ } from '@honk/riscv'
import type { MachineExit, VirtMachine } from './board.js'
import { Control, MAX_HARTS, serveMailbox, type MmioRequest } from './parallel-shared.js'
import { initSharedHsm } from './parallel-sbi.js'
import type { HartWorkerData, HartWorkerMessage } from './parallel-worker.js'

export class ParallelError extends HonkError<'PARALLEL_ERROR'> {
  constructor(message: string) {
    super('PARALLEL_ERROR', message)
    this.name = 'ParallelError'
  }
}

export interface ParallelOptions {
  /** Instructions a hart runs between looks at its interrupt lines (default 4096). */
  slice?: number
}

/**
 * Starts a hart's worker. From source (.ts, as the tests and `pnpm virt` run), the worker first
 * registers tsx's loader (a worker does not inherit the main thread's), then imports the module.
 */
function startWorker(workerData: HartWorkerData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./parallel-worker.js', import.meta.url), { workerData })
  // tsx's ESM API (`tsx/esm/api`, its import condition): require.resolve finds the CommonJS twin beside it.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href
  const entry = new URL('./parallel-worker.ts', import.meta.url).href
  return new Worker(`import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}) })`, { eval: true, workerData, execArgv: ['--conditions=@honk/source'] })
}

/**
 * Runs a machine's harts in parallel. The machine must be built with `sharedMemory: true` and
 * booted (images loaded, harts reset) as for `VirtMachine.run`; then `run()` takes its place.
 * Every bios works: M-mode firmware (`'firmware'`, OpenSBI), `'none'`, and the TypeScript SBI
 * (`'builtin'`): each worker then has its own `Firmware` for its hart, with the HSM states, IPIs
 * and remote fences in shared memory (parallel-sbi.ts) and the console through the mailbox.
 */
export class ParallelMachine {
  private readonly ctl = Control.create()
  private readonly workers: Worker[] = []
  private exit: MachineExit | undefined
  private finished: (() => void) | undefined

  constructor(
    readonly machine: VirtMachine,
    private readonly options: ParallelOptions = {},
  ) {
    if (machine.bus.shared === undefined) throw new ParallelError('the machine\'s RAM is not shared: build it with sharedMemory: true')
    if (machine.harts.length > MAX_HARTS) throw new ParallelError(`at most ${MAX_HARTS} parallel harts, not ${machine.harts.length}`)
    // The PLIC drives MEIP/SEIP through the harts' setIrq: here it goes to the shared lines instead.
    machine.harts.forEach((h, i) => {
      h.setIrq = (bit: number, level: boolean) => {
        if (bit === IRQ.MEI || bit === IRQ.SEI) this.ctl.setLine(i, bit, level)
      }
    })
  }

  /** Instructions retired by all harts (as the workers last published them). */
  get executed(): bigint {
    let n = 0n
    for (let h = 0; h < this.machine.harts.length; h++) n += this.ctl.instret(h)
    return n
  }

  /** Instructions hart `h` retired (as its worker last published them, every slice). */
  hartInstret(h: number): bigint {
    return this.ctl.instret(h)
  }

  /** Hart `h`'s pc (as its worker last published it, every slice: for diagnostics). */
  hartPc(h: number): number {
    return this.ctl.pc(h)
  }

  /** Stops the run (its `run()` resolves with `stopped`). */
  stop(): void {
    this.machine.stop()
    this.finish(this.machine.exitStatus ?? { reason: 'stopped' })
  }

  private finish(exit: MachineExit): void {
    this.exit ??= exit
    this.ctl.stop(this.machine.harts.length)
    this.finished?.()
  }

  /** Runs every hart in its worker until the guest powers off or resets, a hart fails, or `stop()`. */
  async run(): Promise<MachineExit> {
    if (this.workers.length > 0) throw new ParallelError('a parallel machine runs once')
    const m = this.machine
    const n = m.harts.length
    const ended: Promise<void>[] = []
    const fw = m.firmware
    if (fw) initSharedHsm(this.ctl, m.harts.map((_, h) => fw.hartState(h)))
    const serve = (r: MmioRequest): bigint | undefined => {
      if (r.op === 'read') return m.bus.read(r.addr, r.size)
      if (r.op === 'console') {
        // TypeScript SBI console output: `size` bytes, little-endian in `value`.
        for (let i = 0; i < r.size; i++) fw?.platform.consolePutchar(Number((r.value >> BigInt(8 * i)) & 0xffn))
        return 0n
      }
      if (r.op === 'getchar') {
        const c = fw?.platform.consoleGetchar() ?? -1
        return c < 0 ? 0n : BigInt((c & 0xff) + 1)
      }
      const ok = m.bus.write(r.addr, r.size, r.value)
      if (m.stopping) this.finish(m.exitStatus ?? { reason: 'stopped' })
      return ok ? 0n : undefined
    }
    const done = new Promise<void>((resolve) => (this.finished = resolve))
    // Atomics.waitAsync does not keep Node's event loop alive: this does, until the run ends; it
    // also notices a stop asked of the board itself (`VirtMachine.stop`, e.g. the console's Ctrl-A x).
    const keepAlive = setInterval(() => {
      if (m.stopping) this.finish(m.exitStatus ?? { reason: 'stopped' })
    }, 50)
    for (let h = 0; h < n; h++) {
      const data: HartWorkerData = {
        hartId: h,
        harts: n,
        ram: m.bus.shared!,
        control: this.ctl.buffer,
        state: m.harts[h]!.snapshot(),
        sv57: m.config.mmu === 'sv57',
        hypervisor: m.config.hypervisor ?? false,
        slice: this.options.slice ?? 4096,
        sbi: fw !== undefined,
        running: m.running[h] ?? true,
      }
      const w = startWorker(data)
      this.workers.push(w)
      ended.push(
        new Promise<void>((resolve) => {
          w.on('message', (msg: HartWorkerMessage) => {
            if (msg.kind === 'error') this.finish({ reason: 'error', message: msg.message })
            // SBI system reset from any hart (SRST §10, legacy shutdown) ends the machine.
            if (msg.kind === 'reset') this.finish(msg.type === 0 ? { reason: 'poweroff', code: 0 } : { reason: 'reset' })
          })
          w.on('error', (e) => this.finish({ reason: 'error', message: `hart ${h}'s worker: ${e.message}` }))
          w.on('exit', () => resolve())
        }),
      )
    }
    const serving = Array.from({ length: n }, (_, h) => serveMailbox(this.ctl, h, serve, () => this.exit !== undefined))
    // A worker that ends on its own (an error) ends the run too.
    void Promise.race(ended).then(() => this.finish({ reason: 'error', message: 'a hart\'s worker exited' }))
    await done
    await Promise.all(serving)
    await Promise.all(ended)
    clearInterval(keepAlive)
    return this.exit!
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    ParallelError: ParallelError
  }
}
