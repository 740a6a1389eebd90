/**
 * The kernel's CPU work that runs on every online hart's own thread (`HartThreads` of
 * `@honk/proc`): the tasks a hart's thread serves. Kept to this module and `@honk/proc`'s
 * thread side so a thread starts without loading the kernel.
 */
import type { HartTasks } from '@honk/proc'

/** What a `stress` process reports: where it ran. */
export interface StressReport {
  readonly hart: number
  readonly thread: number
}

/** How many times each `stress` process yields to its thread's event loop (the Go honk's 3 000). */
export const STRESS_YIELDS = 3000

export const KERNEL_HART_TASKS: HartTasks = {
  /** A `stress` process: yields `args` times (checking for its kill each time), then says where it ran. */
  stress: async (args, ctx) => {
    const yields = typeof args === 'number' && Number.isSafeInteger(args) && args >= 0 ? args : STRESS_YIELDS
    for (let y = 0; y < yields; y++) {
      await ctx.yield()
      ctx.throwIfKilled()
    }
    return { hart: ctx.hart, thread: ctx.thread } satisfies StressReport
  },
}
