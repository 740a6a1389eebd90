/**
 * A shell command is a module: `{ name, usage, summary, group, run }`. The shell's command table,
 * `help` and Tab completion are all built from the list of modules, so they cannot drift apart.
 * Later subsystems (network, WASM, display, VMM) add their commands as modules the same way.
 */
import type { FS } from '@honk/vfs'
import type { ShellHost } from '../services.js'

/** What a command leaves the shell to do next. */
export type RunResult = 'continue' | 'exit'

/** The line of `help` a command is listed on, in this order. */
export const COMMAND_GROUPS = ['system', 'processes', 'files', 'network', 'machine'] as const
export type CommandGroup = (typeof COMMAND_GROUPS)[number]

/** What a command is handed when it runs. */
export interface CommandContext {
  readonly host: ShellHost
  /** The overlay root FS (`host.root.root`). */
  readonly fs: FS
  /** Every command the shell knows (for `help`). */
  readonly commands: readonly ShellCommand[]
  /** Milliseconds since the epoch, the process table's clock (for `ps` UPTIME). */
  now(): number
  /** Prints `text` and a newline. */
  println(text: string): void
  /** Prints `text` as it is. */
  out(text: string): void
  /**
   * Holds the console input while the command runs (`vm attach`): typed bytes go to `sink`
   * instead of the shell until the returned release is called; `end` if the input ends. Absent
   * when the shell has no console input.
   */
  grabInput?(sink: (byte: number) => void, end?: () => void): () => void
  /** Why writes are refused: no disk, or a disk whose writable layer did not open. */
  readOnlyReason(): string
}

export interface ShellCommand {
  /** The word that runs it. */
  readonly name: string
  /** Other words that run it (`halt`, `quit` for `exit`); not listed by `help`. */
  readonly aliases?: readonly string[]
  /** The synopsis `help` lists, e.g. `kill <pid>`. */
  readonly usage: string
  /** One line: what it does (`help <command>`). */
  readonly summary: string
  readonly group: CommandGroup
  /**
   * Runs with the words after the name. May throw: the shell prints `<name>: internal error: …`
   * and lives on; expected failures print their own `<name>: …` line.
   */
  run(ctx: CommandContext, args: string[]): Promise<RunResult | void> | RunResult | void
}

/** Defines a command module (an identity function that checks the shape). */
export function defineCommand(command: ShellCommand): ShellCommand {
  return command
}
