import { HartThreads, inThreadHartThreads, ProcessTable, type HartThread } from '@honk/proc'
import { MemoryFS } from '@honk/vfs'
import { threadId } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { KERNEL_HART_TASKS } from './hart-tasks.js'
import { nodeKernelThreads } from './node.js'
import type { KernelThreads, ProcServices, ShellHost } from './services.js'
import { Shell } from './shell.js'

/** A shell whose host has hart threads from `pool` over `harts` online harts (the kernel on hart 0). */
function shellWith(pool: HartThreads, harts = [0, 1]) {
  let output = ''
  const fs = new MemoryFS()
  const procs = new ProcessTable<ProcServices>({ console: { write: (t) => (output += t) }, fs })
  const threads: KernelThreads = { pool, harts: () => harts }
  const host: ShellHost = {
    out: (t) => (output += t),
    procs,
    threads,
    harts: () => ({ online: harts.length, current: 0 }),
    uptimeNs: () => 0n,
    memory: () => ({ ramBytes: 0, dmaBytesUsed: 0, heapUsedBytes: 0, heapTotalBytes: 0 }),
    storage: undefined,
    root: { root: fs, writable: fs, layers: [], bootCore: 'test', reset: async () => {}, close: async () => {} },
    powerOff: async () => {},
    reboot: async () => {},
    raiseFault: () => {},
  }
  const shell = new Shell(host)
  return {
    procs,
    async run(line: string): Promise<string> {
      output = ''
      await shell.run(line)
      return output
    },
  }
}

describe('stress over hart threads', () => {
  it('in-thread hart threads: processes go round the online harts; the output says where each ran', async () => {
    const f = shellWith(new HartThreads(inThreadHartThreads(KERNEL_HART_TASKS)), [0, 1, 2, 3])
    expect(await f.run('stress 10')).toBe(
      "stress: 10 processes ran across 4 harts (hart 0: 3 on the kernel's event loop; hart 1: 3 interleaved on the kernel's event loop; hart 2: 2 interleaved on the kernel's event loop; hart 3: 2 interleaved on the kernel's event loop), reaped 10\n",
    )
    expect(f.procs.list().map((p) => p.pid)).toEqual([1])
    expect(await f.run('harts')).toBe('harts: 4 online  this=hart 0\nharts: kernel tasks run on the event loop of hart 0; CPU work (stress) also on harts 1 2 3, each on its own thread (started: 1 2 3)\n')
  })

  it('real Workers: hart 1 runs its share on its own thread, at the same time as the kernel runs hart 0\'s', { timeout: 60_000 }, async () => {
    const pool = new HartThreads(nodeKernelThreads())
    try {
      const f = shellWith(pool)
      expect(await f.run('harts')).toContain('CPU work (stress) also on hart 1, on its own thread (started: none yet)')
      expect(await shellWith(pool, [0]).run('harts')).toContain('harts: kernel tasks and CPU work (stress) run on the event loop of hart 0 (no other hart online)')
      expect(await f.run('stress 8')).toBe("stress: 8 processes ran across 2 harts (hart 0: 4 on the kernel's event loop; hart 1: 4 on its own thread), reaped 8\n")
      const report = (await pool.run(1, 'stress', 0)) as { hart: number; thread: number }
      expect(report.hart).toBe(1)
      expect(report.thread).not.toBe(threadId)
      expect(pool.started()).toEqual([1])
    } finally {
      await pool.close()
    }
  })

  it('kill reaches a stress process on another hart\'s thread; the rest finish and are reaped', { timeout: 60_000 }, async () => {
    const pool = new HartThreads(nodeKernelThreads())
    try {
      const f = shellWith(pool)
      await pool.run(1, 'stress', 0) // the thread is up
      const out = f.run('stress 4')
      // PIDs 2..5: 2 and 4 on hart 0, 3 and 5 on hart 1. Kill 3 while it runs on hart 1's thread.
      // As soon as it exists: its 3 000 yields on the thread take far longer than the kill's message.
      while (!f.procs.get(3)) await Promise.resolve()
      expect(f.procs.kill(3)).toBe(true)
      expect(await out).toBe("stress: 4 processes ran across 2 harts (hart 0: 2 on the kernel's event loop; hart 1: 1 on its own thread), reaped 4\n")
      expect(pool.busy(1)).toBe(0)
    } finally {
      await pool.close()
    }
  })

  it('a hart thread that dies fails its processes (contained, counted); the kernel\'s own share still runs', async () => {
    const dying = (): HartThread => {
      let die: (e: unknown) => void = () => undefined
      return {
        postMessage: (m) => {
          if (m.kind === 'run') setTimeout(() => die(new Error('out of memory')), 1)
        },
        onMessage: () => undefined,
        onError: (l) => void (die = l),
        terminate: () => undefined,
      }
    }
    const f = shellWith(new HartThreads(dying))
    expect(await f.run('stress 4')).toBe(
      "stress: 4 processes ran across 1 hart (hart 0: 2 on the kernel's event loop), reaped 4; 2 failed (hart 1's thread: stopped: out of memory while running task \"stress\")\n",
    )
  })

  it('a thread that answers stress with something else: that process crashes with a clear error', async () => {
    const f = shellWith(new HartThreads(inThreadHartThreads({ stress: () => ({ hart: 9, thread: 'x' }) })))
    expect(await f.run('stress 2')).toBe(
      "stress: 2 processes ran across 1 hart (hart 0: 1 on the kernel's event loop), reaped 2; 1 failed (hart 1's thread answered stress with {\"hart\":9,\"thread\":\"x\"})\n",
    )
  })
})
