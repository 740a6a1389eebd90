/** Processes: run, ps, kill, crash, reap, stress. */
import { yieldMacrotask, type HartTask, type ProcessInfo } from '@honk/proc'
import { KERNEL_HART_TASKS, STRESS_YIELDS, type StressReport } from '../hart-tasks.js'
import { defineCommand } from './command.js'
import { errorMessage, goQuote, parseGoInt, uptimeOf } from './format.js'
import { vmTable } from '../vm-table.js'

/** `stress` without a (valid) count. */
export const STRESS_DEFAULT = 64
/** The most processes `stress` spawns. */
export const STRESS_MAX = 1024
/** How often a `run` worker ticks. */
export const WORKER_TICK_MS = 250

export const run = defineCommand({
  name: 'run',
  usage: 'run [name]',
  summary: 'spawns a worker process that ticks until killed',
  group: 'processes',
  run(ctx, args) {
    const name = args[0] ?? 'worker'
    const p = ctx.host.procs.spawn(name, ['console'], async (pctx) => {
      // Ticks until killed: the kill rejects the sleep, which ends the task (no timer left).
      for (;;) await pctx.sleep(WORKER_TICK_MS)
    })
    ctx.println(`spawned PID ${p.pid} (${name})`)
  },
})

export const ps = defineCommand({
  name: 'ps',
  usage: 'ps',
  summary: 'lists processes: pid, name, state, uptime, capabilities',
  group: 'processes',
  run(ctx) {
    const now = ctx.now()
    const row = (pid: string, name: string, state: string, up: string, caps: string) =>
      `${pid.padEnd(4)} ${name.padEnd(10)} ${state.padEnd(9)} ${up.padEnd(9)} ${caps}`
    const list = ctx.host.procs.list()
    ctx.println(row('PID', 'NAME', 'STATE', 'UPTIME', 'CAPS'))
    for (const p of list) ctx.println(row(String(p.pid), p.name, p.state, uptimeOf(p, now), p.caps.toString()))
    ctx.println(`(${list.length} processes)`)
  },
})

export const kill = defineCommand({
  name: 'kill',
  usage: 'kill <pid>',
  summary: 'kills a process and its children (init cannot be killed)',
  group: 'processes',
  run(ctx, args) {
    const arg = args[0]
    if (arg === undefined) return ctx.println('usage: kill <pid>')
    const pid = parseGoInt(arg)
    if (pid === undefined) return ctx.println(`bad pid: ${goQuote(arg)}`)
    // Killing init would kill every process (they are all its descendants).
    if (pid === ctx.host.procs.init.pid) return ctx.println(`kill: PID ${pid} (init) cannot be killed`)
    ctx.println(ctx.host.procs.kill(pid) ? `killed PID ${pid}` : `PID ${pid} not running`)
  },
})

export const crash = defineCommand({
  name: 'crash',
  usage: 'crash',
  summary: 'spawns a process that throws: the fault is contained, the kernel survives',
  group: 'processes',
  run(ctx) {
    const p = ctx.host.procs.spawn('crasher', [], () => {
      throw new Error('intentional crash')
    })
    ctx.println(`spawned PID ${p.pid} (crasher) - it will panic; kernel survives`)
  },
})

export const reap = defineCommand({
  name: 'reap',
  usage: 'reap',
  summary: 'drops every finished process from the table',
  group: 'processes',
  run: (ctx) => ctx.println(`reaped ${ctx.host.procs.reap()} terminated processes`),
})

export const stress = defineCommand({
  name: 'stress',
  usage: 'stress [n]',
  summary: `spawns n processes (default ${STRESS_DEFAULT}, at most ${STRESS_MAX}) over the online harts, each yielding ${STRESS_YIELDS} times, then reaps`,
  group: 'processes',
  async run(ctx, args) {
    const asked = parseGoInt(args[0] ?? '')
    const n = asked === undefined || asked <= 0 ? STRESS_DEFAULT : Math.min(asked, STRESS_MAX)
    const { online, current } = ctx.host.harts()
    // With hart threads, processes go round the online harts: the kernel's own hart runs its
    // share on the kernel's event loop, every other hart on its own thread (in parallel).
    const threads = ctx.host.threads
    const harts = threads ? threads.harts() : [current]
    const reports: StressReport[] = []
    const failures: unknown[] = []
    const waits: Promise<ProcessInfo>[] = []
    let failure: unknown
    for (let i = 0; i < n; i++) {
      const hart = harts[i % harts.length] ?? current
      try {
        const p = ctx.host.procs.spawn('stress', ['proc'], async (pctx) => {
          try {
            const report =
              threads && hart !== current
                ? await threads.pool.run(hart, 'stress', STRESS_YIELDS, pctx.signal)
                : await stressTask(STRESS_YIELDS, { hart, thread: 0, signal: pctx.signal, throwIfKilled: () => pctx.throwIfKilled(), yield: yieldMacrotask })
            reports.push(stressReport(report, hart))
          } catch (e) {
            if (!pctx.signal.aborted) failures.push(e)
            throw e
          }
        })
        waits.push(p.wait())
      } catch (e) {
        failure = e
        break
      }
    }
    await Promise.all(waits)
    const reaped = ctx.host.procs.reap()
    if (failure !== undefined) return ctx.println(`stress: ${errorMessage(failure)} (after ${waits.length} processes, reaped ${reaped})`)
    // Guests' vCPUs are another matter: they run on the harts they are placed on (`harts`, `vm list`).
    const hv = ctx.host.hypervisor
    const guestHarts = hv ? [...new Set(vmTable(ctx.host, hv).scheduler.all().map((p) => p.hart))].sort((a, b) => a - b) : []
    const guests = guestHarts.length ? `; guest vCPUs run on hart${guestHarts.length === 1 ? '' : 's'} ${guestHarts.join(' ')} (vm list)` : ''
    const failed = failures.length ? `; ${failures.length} failed (${errorMessage(failures[0])})` : ''
    if (!threads) {
      // Every kernel task is a promise on one event loop, which runs on the boot hart.
      const idle = online - 1
      const others = idle > 0 ? `; ${idle} other hart${idle === 1 ? '' : 's'} online ran none` : ''
      return ctx.println(`stress: ${n} processes ran across 1 hart (the kernel's event loop on hart ${current}${others}), reaped ${reaped}${failed}${guests}`)
    }
    // What the processes themselves reported: the hart and the thread each one ran on.
    const ran = [...new Set(reports.map((r) => r.hart))].sort((a, b) => a - b)
    const where = ran.map((h) => {
      const on = reports.filter((r) => r.hart === h)
      const place = h === current ? "on the kernel's event loop" : on.every((r) => r.thread !== 0) ? `on its own thread` : 'interleaved on the kernel\'s event loop'
      return `hart ${h}: ${on.length} ${place}`
    })
    ctx.println(`stress: ${n} processes ran across ${ran.length} hart${ran.length === 1 ? '' : 's'} (${where.join('; ')}), reaped ${reaped}${failed}${guests}`)
  },
})

/** The `stress` task run on the kernel's own event loop (the same body the hart threads run). */
const stressTask = KERNEL_HART_TASKS.stress as HartTask

/** A stress report as it came back from a thread (checked: a thread's answer is data from elsewhere). */
function stressReport(v: unknown, hart: number): StressReport {
  const r = v as Partial<StressReport> | null
  if (typeof r !== 'object' || r === null || r.hart !== hart || !Number.isSafeInteger(r.thread)) throw new Error(`hart ${hart}'s thread answered stress with ${JSON.stringify(v)}`)
  return { hart, thread: r.thread as number }
}
