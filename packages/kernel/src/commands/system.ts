/** System information: help, harts, uptime, mem, echo. */
import { COMMAND_GROUPS, defineCommand, type CommandContext, type ShellCommand } from './command.js'
import { goDuration, goQuote, KiB, MiB } from './format.js'
import { vmTable } from '../vm-table.js'

/** `help`'s lines, generated from the command modules: one line of usages per group. */
export function helpLines(commands: readonly ShellCommand[]): string[] {
  const lines = ['commands:']
  for (const group of COMMAND_GROUPS) {
    const usages = commands.filter((c) => c.group === group).map((c) => c.usage)
    if (usages.length > 0) lines.push(`  ${usages.join('   ')}`)
  }
  return lines
}

export const help = defineCommand({
  name: 'help',
  usage: 'help [command]',
  summary: 'lists the commands, or says what one does',
  group: 'system',
  run(ctx: CommandContext, args) {
    const name = args[0]
    if (name === undefined) {
      for (const line of helpLines(ctx.commands)) ctx.println(line)
      return
    }
    const command = ctx.commands.find((c) => c.name === name || c.aliases?.includes(name))
    if (!command) return ctx.println(`help: no command ${goQuote(name)} (try 'help')`)
    const aliases = command.aliases?.length ? ` (also: ${command.aliases.join(', ')})` : ''
    ctx.println(`usage: ${command.usage}${aliases}`)
    ctx.println(`  ${command.summary}`)
  },
})

export const harts = defineCommand({
  name: 'harts',
  usage: 'harts',
  summary: 'how many harts are online, and which one runs the kernel',
  group: 'system',
  run(ctx) {
    const { online, current } = ctx.host.harts()
    ctx.println(`harts: ${online} online  this=hart ${current}`)
    const threads = ctx.host.threads
    if (!threads) ctx.println(`harts: kernel tasks all run on the event loop of hart ${current} (no hart threads on this host)`)
    else {
      const others = threads.harts().filter((h) => h !== current)
      const started = threads.pool.started().filter((h) => others.includes(h))
      if (others.length === 0) ctx.println(`harts: kernel tasks and CPU work (stress) run on the event loop of hart ${current} (no other hart online)`)
      else ctx.println(`harts: kernel tasks run on the event loop of hart ${current}; CPU work (stress) also on ${others.length === 1 ? `hart ${others[0]}, on its own thread` : `harts ${others.join(' ')}, each on its own thread`} (started: ${started.length ? started.join(' ') : 'none yet'})`)
    }
    // Guests' vCPUs are placed on every online hart (each lends itself to them): where they are now.
    const hv = ctx.host.hypervisor
    if (!hv) return
    const placed = vmTable(ctx.host, hv).scheduler.all()
    if (placed.length === 0) return ctx.println('harts: no guest vCPUs placed (vm runs guests on the least-loaded harts)')
    for (const h of hv.harts()) {
      const on = placed.filter((p) => p.hart === h)
      const running = on.filter((p) => !p.idle).length
      ctx.println(`harts: hart ${h} runs ${on.length ? on.map((p) => `${p.vm < 0 ? 'a demo' : `VM ${p.vm}`} vCPU ${p.vcpu}${p.idle ? ' (idle)' : ''}`).join(', ') : 'no guest vCPU'}${on.length ? `  (load ${running})` : ''}`)
    }
  },
})

export const uptime = defineCommand({
  name: 'uptime',
  usage: 'uptime',
  summary: 'time since boot, from the time CSR',
  group: 'system',
  run: (ctx) => ctx.println(`uptime: ${goDuration(ctx.host.uptimeNs())}`),
})

export const mem = defineCommand({
  name: 'mem',
  usage: 'mem',
  summary: "guest RAM, the kernel's DMA memory and heap, and the process count",
  group: 'system',
  run(ctx) {
    const m = ctx.host.memory()
    const kib = (n: number) => Math.floor(n / KiB)
    ctx.println(
      `mem: ram=${Math.floor(m.ramBytes / MiB)}MiB dma=${kib(m.dmaBytesUsed)}KiB heap=${kib(m.heapUsedBytes)}KiB/${kib(m.heapTotalBytes)}KiB processes=${ctx.host.procs.count}`,
    )
  },
})

export const echo = defineCommand({
  name: 'echo',
  usage: 'echo <text>',
  summary: 'prints its arguments',
  group: 'system',
  run: (ctx, args) => ctx.println(args.join(' ')),
})
