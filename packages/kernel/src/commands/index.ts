/** honk's built-in shell commands, one module each, in `help` order. */
import { blk, exit, fault, mount, reboot, reset } from './machine.js'
import { cat, cp, ls, mkdir, put, rm } from './files.js'
import { crash, kill, ps, reap, run, stress } from './processes.js'
import { echo, harts, help, mem, uptime } from './system.js'
import { fetch, net, ping } from './net.js'
import { wasm } from './wasm.js'
import { fb, ui } from './display.js'
import { vm } from './vm.js'
import type { ShellCommand } from './command.js'

export { COMMAND_GROUPS, defineCommand, type CommandContext, type CommandGroup, type RunResult, type ShellCommand } from './command.js'
export { describeError, goDuration, goQuote, parseGoInt, shellPath } from './format.js'
export { STRESS_DEFAULT, STRESS_MAX, WORKER_TICK_MS } from './processes.js'
export { helpLines } from './system.js'
export { WASM_LIMITS, WASM_WAIT_MS } from './wasm.js'
export { FETCH_MAX_BYTES, FETCH_SHOW_BYTES, FETCH_TIMEOUT_MS, httpGet } from './net.js'

/** Every built-in command, in the order `help` lists them within their group. */
export const BUILTIN_COMMANDS: readonly ShellCommand[] = [
  help, harts, uptime, mem, echo,
  run, ps, kill, crash, reap, stress, wasm,
  ls, cat, cp, put, rm, mkdir,
  net, ping, fetch,
  blk, mount, fb, ui, vm, reset, fault, reboot, exit,
]
