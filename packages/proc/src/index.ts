/**
 * honk's process model: a process is an async task with an `AbortController` (abort = kill),
 * a capability set (the only way to reach a service) and a fault domain (a throw is contained).
 *
 * @example
 * ```ts
 * import { ProcessTable, Channel } from '@honk/proc'
 * const table = new ProcessTable({ console: { log: (s: string) => console.log(s) } })
 * const p = table.spawn('worker', ['console'], async (ctx) => {
 *   while (true) { ctx.use('console').log(`tick from ${ctx.pid}`); await ctx.sleep(100) }
 * })
 * table.kill(p.pid)                 // aborts ctx.signal; sleep rejects; no timer is left behind
 * console.log(table.list().map((i) => `${i.pid} ${i.name} ${i.state} ${i.caps}`))
 * table.reap()                      // drops every finished process
 * ```
 * @packageDocumentation
 */
export { Caps, type Cap } from './caps.js'
export { Channel } from './channel.js'
export { CapabilityError, ChannelClosedError, KilledError, NoSuchProcessError } from './errors.js'
export { ProcessTable, type Process, type ProcessContext, type ProcessInfo, type ProcessTableOptions, type ProcState, type Task } from './table.js'
