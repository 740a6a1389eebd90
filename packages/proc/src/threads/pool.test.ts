import fc from 'fast-check'
import { threadId } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { KilledError } from '../errors.js'
import { nodeHartThreads } from './node.js'
import { HartTaskError, HartThreadError, HartThreads, inThreadHartThreads, type HartThread } from './pool.js'
import type { PoolMessage } from './protocol.js'
import { TEST_TASKS } from './test-tasks.js'

/** A thread the test drives by hand: what the pool sent, and ways to answer or die. */
function fakeThread() {
  const sent: PoolMessage[] = []
  let toPool: (m: unknown) => void = () => undefined
  let die: (e: unknown) => void = () => undefined
  let terminated = 0
  const thread: HartThread = {
    postMessage: (m) => void sent.push(m),
    onMessage: (l) => void (toPool = l),
    onError: (l) => void (die = l),
    terminate: () => void terminated++,
  }
  return { thread, sent, answer: (m: unknown) => toPool(m), die: (e: unknown) => die(e), terminated: () => terminated }
}

describe('HartThreads in-thread', () => {
  it('runs tasks, returns their values, turns a throw into HartTaskError with the remote code', async () => {
    const pool = new HartThreads(inThreadHartThreads(TEST_TASKS))
    expect(await pool.run(2, 'whoami')).toEqual({ hart: 2, thread: 0 })
    expect(await pool.run(0, 'echo', { a: [1, 'x', 2n] })).toEqual({ a: [1, 'x', 2n] })
    const e = await pool.run(1, 'fail').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(HartTaskError)
    expect(e).toMatchObject({ code: 'PROC_HART_TASK', remoteCode: 'TEST_FAIL', hart: 1, message: 'task "fail" on hart 1 failed: Error: on purpose' })
    await expect(pool.run(1, 'nope')).rejects.toThrow('task "nope" on hart 1 failed: HartThreadError: no task "nope" on this thread (it serves: whoami, echo, yields, spin, fail, uncloneable, exit)')
    await expect(pool.run(1, 'toString')).rejects.toThrow('no task "toString"') // not an inherited member
    await expect(pool.run(-1, 'echo')).rejects.toThrow(RangeError)
    expect(pool.started()).toEqual([0, 1, 2])
    await pool.close()
    await expect(pool.run(0, 'echo')).rejects.toThrow("hart 0's thread: the pool is closed")
  })

  it('what cannot be cloned fails that request only', async () => {
    const pool = new HartThreads(inThreadHartThreads(TEST_TASKS))
    await expect(pool.run(0, 'echo', { f: (() => 1) as unknown as number })).rejects.toThrow(/could not be cloned/)
    await expect(pool.run(0, 'uncloneable')).rejects.toThrow(/DataCloneError/)
    expect(await pool.run(0, 'echo', 5)).toBe(5)
    expect(pool.busy(0)).toBe(0)
  })

  it('a kill stops the task on its thread and rejects with the kill reason', async () => {
    const pool = new HartThreads(inThreadHartThreads(TEST_TASKS))
    const kill = new AbortController()
    const run = pool.run(1, 'yields', 1_000_000, kill.signal)
    await new Promise((r) => setTimeout(r, 20))
    const reason = new KilledError(7, 'by test')
    kill.abort(reason)
    await expect(run).rejects.toBe(reason)
    expect(pool.busy(1)).toBe(0)
    await expect(pool.run(1, 'echo', 1, kill.signal)).rejects.toBe(reason) // already killed: not sent
    expect(await pool.run(1, 'yields', 3)).toBe(3) // the thread lives on
  })

  it('property: any mix of runs, throws and kills on any harts settles every request as its plan says, leaving nothing in flight', async () => {
    const plan = fc.array(fc.record({ hart: fc.integer({ min: 0, max: 3 }), steps: fc.integer({ min: 0, max: 30 }), throws: fc.boolean(), killAt: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }) }), { maxLength: 12 })
    await fc.assert(
      fc.asyncProperty(plan, async (jobs) => {
        const kills = jobs.map(() => new AbortController())
        const pool = new HartThreads(
          inThreadHartThreads({
            job: async (args, ctx) => {
              const [k, steps, throws, killAt] = args as [number, number, boolean, number]
              for (let i = 0; i < steps; i++) {
                if (i === killAt) kills[k]!.abort(`kill ${k}`) // the kill lands while the task runs
                await ctx.yield()
                ctx.throwIfKilled()
              }
              if (throws) throw new Error(`job ${k}`)
              return k
            },
          }),
        )
        const outcomes = await Promise.allSettled(jobs.map((j, k) => pool.run(j.hart, 'job', [k, j.steps, j.throws, j.killAt ?? -1], kills[k]!.signal)))
        jobs.forEach((j, k) => {
          const o = outcomes[k]!
          if (j.killAt !== undefined && j.killAt < j.steps) expect(o).toEqual({ status: 'rejected', reason: `kill ${k}` })
          else if (j.throws) expect(o.status === 'rejected' && (o.reason as HartTaskError).message).toBe(`task "job" on hart ${j.hart} failed: Error: job ${k}`)
          else expect(o).toEqual({ status: 'fulfilled', value: k })
        })
        for (let h = 0; h < 4; h++) expect(pool.busy(h)).toBe(0)
        await pool.close()
      }),
      { numRuns: 60 },
    )
  })
})

describe('HartThreads against a broken or hostile thread', () => {
  it('a malformed message fails every request of that thread and replaces it; answers to unknown ids are dropped', async () => {
    const threads = [fakeThread(), fakeThread()]
    let made = 0
    const pool = new HartThreads(() => threads[made++]!.thread)
    const a = pool.run(0, 'x')
    const b = pool.run(0, 'y')
    threads[0]!.answer({ kind: 'done', id: 999, value: 1 }) // never asked: ignored
    threads[0]!.answer({ kind: 'done', id: 0, value: 'a' })
    expect(await a).toBe('a')
    threads[0]!.answer({ kind: 'done', id: -4 })
    await expect(b).rejects.toThrow(`hart 0's thread: sent a malformed message ("id" is not a non-negative integer (-4)) while running task "y"`)
    expect(threads[0]!.terminated()).toBe(1)
    const c = pool.run(0, 'z')
    expect(made).toBe(2)
    threads[1]!.answer({ kind: 'failed', id: threads[1]!.sent[0]!.id, error: { name: 'TypeError', message: 'bad' } })
    await expect(c).rejects.toThrow('task "z" on hart 0 failed: TypeError: bad')
    for (const junk of [null, 7, 'x', [], { kind: 'done' }, { kind: 'failed', id: 0 }, { kind: 'killed', id: 0 }, { kind: 'nope', id: 0 }]) {
      const t = fakeThread()
      const p = new HartThreads(() => t.thread)
      const r = p.run(0, 'x')
      t.answer(junk)
      await expect(r).rejects.toBeInstanceOf(HartThreadError)
    }
  })

  it("a thread that dies fails its requests (a kill still wins for the killed one); a 'killed' nobody asked for is an error", async () => {
    const t = fakeThread()
    const pool = new HartThreads(() => t.thread)
    const kill = new AbortController()
    const a = pool.run(3, 'a', null, kill.signal)
    const b = pool.run(3, 'b')
    kill.abort('gone')
    expect(t.sent.map((m) => m.kind)).toEqual(['run', 'run', 'kill'])
    t.die(new Error('out of memory'))
    await expect(a).rejects.toBe('gone')
    await expect(b).rejects.toThrow(`hart 3's thread: stopped: out of memory while running task "b"`)
    const u = fakeThread()
    const pool2 = new HartThreads(() => u.thread)
    const c = pool2.run(0, 'c')
    u.answer({ kind: 'killed', id: 0, reason: 'x' })
    await expect(c).rejects.toThrow('reported killed (x) without a kill')
  })

  it('a killed task that does not stop within the grace period has its thread terminated; the others on it fail', async () => {
    const t = fakeThread()
    const pool = new HartThreads(() => t.thread, { killGraceMs: 30 })
    const kill = new AbortController()
    const stuck = pool.run(1, 'spin', 1e9, kill.signal)
    const neighbour = pool.run(1, 'echo', 1)
    kill.abort('stop')
    await expect(stuck).rejects.toBe('stop')
    await expect(neighbour).rejects.toThrow(`hart 1's thread: terminated: task "spin" did not stop within 30 ms of its kill while running task "echo"`)
    expect(t.terminated()).toBe(1)
    expect(pool.started()).toEqual([])
  })
})

describe('HartThreads on worker_threads', () => {
  const entry = new URL('./test-entry.ts', import.meta.url)

  it('one Worker per hart, each its own thread, running at the same time; an exiting thread is replaced', { timeout: 60_000 }, async () => {
    const pool = new HartThreads(nodeHartThreads(entry))
    try {
      const who = (await Promise.all([0, 1, 2].map((h) => pool.run(h, 'whoami')))) as { hart: number; thread: number }[]
      expect(who.map((w) => w.hart)).toEqual([0, 1, 2])
      expect(new Set([threadId, ...who.map((w) => w.thread)]).size).toBe(4)
      // Two CPU-bound tasks that never yield, on two harts: their run times overlap.
      const [a, b] = (await Promise.all([pool.run(0, 'spin', 300), pool.run(1, 'spin', 300)])) as { start: number; end: number }[]
      expect(Math.min(a!.end, b!.end) - Math.max(a!.start, b!.start)).toBeGreaterThan(100)
      await expect(pool.run(2, 'exit')).rejects.toThrow(`hart 2's thread: stopped: exited with code 3 while running task "exit"`)
      const again = (await pool.run(2, 'whoami')) as { thread: number }
      expect(again.thread).not.toBe(who[2]!.thread)
    } finally {
      await pool.close()
    }
  })

  it('a task spinning past its kill is stopped by terminating its Worker', { timeout: 60_000 }, async () => {
    const pool = new HartThreads(nodeHartThreads(entry), { killGraceMs: 200 })
    try {
      await pool.run(0, 'whoami') // started
      const kill = new AbortController()
      const run = pool.run(0, 'spin', 60_000, kill.signal)
      setTimeout(() => kill.abort('enough'), 100)
      const t0 = Date.now()
      await expect(run).rejects.toBe('enough')
      expect(Date.now() - t0).toBeLessThan(5_000)
      expect(await pool.run(0, 'yields', 10)).toBe(10) // a fresh thread
    } finally {
      await pool.close()
    }
  })
})
