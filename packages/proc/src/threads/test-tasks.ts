/** Tasks the hart-thread tests run on real Workers (test-entry.ts) and in-thread. */
import type { HartTasks } from './serve.js'

const nowMs = (): number => performance.timeOrigin + performance.now()

export const TEST_TASKS: HartTasks = {
  whoami: (_args, ctx) => ({ hart: ctx.hart, thread: ctx.thread }),
  echo: (args) => args,
  /** Yields `n` times, checking for a kill each time; returns how many it did. */
  yields: async (args, ctx) => {
    const n = typeof args === 'number' ? args : 0
    for (let i = 0; i < n; i++) {
      await ctx.yield()
      ctx.throwIfKilled()
    }
    return n
  },
  /** Spins the CPU for `ms` without yielding; returns when it started and ended (epoch ms). */
  spin: (args) => {
    const start = nowMs()
    let x = 0
    while (nowMs() - start < (typeof args === 'number' ? args : 0)) x++
    return { start, end: nowMs(), x }
  },
  fail: () => {
    throw Object.assign(new Error('on purpose'), { code: 'TEST_FAIL' })
  },
  uncloneable: () => ({ f: (() => 1) as unknown as number }),
  /** Ends the whole thread (a worker's `process.exit`). */
  exit: () => {
    process.exit(3)
  },
}
