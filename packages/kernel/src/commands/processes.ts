/** Processes: run, ps, kill, crash, reap, stress. */
import type { ProcessInfo } from '@honk/proc'
import { defineCommand } from './command.js'
import { errorMessage, goQuote, parseGoInt, uptimeOf } from './format.js'
import { vmTable } from '../vm-table.js'

/** `stress` without a (valid) count. */
export const STRESS_DEFAULT = 64
/** The most processes `stress` spawns: they all share one event loop. */
export const STRESS_MAX = 1024
/** How many times each `stress` process yields to the event loop. */
export const STRESS_YIELDS = 3000
/** How often a `run` worker ticks. */
export const WORKER_TICK_MS = 250

/** Yields to the event loop (a macrotask, so timers and I/O get their turn), or a microtask off Node. */
const yieldNow: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise<void>((resolve) => setImmediate(resolve)) : () => Promise.resolve()

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
  summary: `spawns n processes (default ${STRESS_DEFAULT}, at most ${STRESS_MAX}) that each yield ${STRESS_YIELDS} times, then reaps`,
  group: 'processes',
  async run(ctx, args) {
    const asked = parseGoInt(args[0] ?? '')
    const n = asked === undefined || asked <= 0 ? STRESS_DEFAULT : Math.min(asked, STRESS_MAX)
    const waits: Promise<ProcessInfo>[] = []
    let failure: unknown
    for (let i = 0; i < n; i++) {
      try {
        const p = ctx.host.procs.spawn('stress', ['proc'], async (pctx) => {
          for (let y = 0; y < STRESS_YIELDS; y++) {
            await yieldNow()
            pctx.throwIfKilled()
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
    // What really happens: every kernel task is a promise on one event loop, which runs on the
    // boot hart; the other harts are online but run no kernel task (no parallel harts yet).
    const { online, current } = ctx.host.harts()
    const idle = online - 1
    const others = idle > 0 ? `; ${idle} other hart${idle === 1 ? '' : 's'} online ran none` : ''
    // Guests' vCPUs are another matter: they run on the harts they are placed on (`harts`, `vm list`).
    const hv = ctx.host.hypervisor
    const guestHarts = hv ? [...new Set(vmTable(ctx.host, hv).scheduler.all().map((p) => p.hart))].sort((a, b) => a - b) : []
    const guests = guestHarts.length ? `; guest vCPUs run on hart${guestHarts.length === 1 ? '' : 's'} ${guestHarts.join(' ')} (vm list)` : ''
    ctx.println(`stress: ${n} processes ran across 1 hart (the kernel's event loop on hart ${current}${others}), reaped ${reaped}${guests}`)
  },
})
