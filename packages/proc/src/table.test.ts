import { getEventListeners } from 'node:events'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CapabilityError, Caps, KilledError, NoSuchProcessError, ProcessTable, type ProcState } from './index.js'

const services = { console: { lines: [] as string[] }, net: { up: true }, block: {}, fs: {} }
const flush = () => new Promise((r) => setTimeout(r, 0))

afterEach(() => {
  vi.useRealTimers()
})

describe('ProcessTable (the Go proc tests, ported)', () => {
  it('spawns, runs and exits; init is PID 1 and the first process is PID 2 (SpawnRunDone)', async () => {
    const t = new ProcessTable(services)
    expect(t.init.pid).toBe(1)
    const p = t.spawn('worker', ['console'], (ctx) => {
      ctx.use('console').lines.push(`hi from ${ctx.pid}`)
      return 42
    })
    expect(p.pid).toBe(2)
    const info = await p.wait()
    expect(info.state).toBe<ProcState>('exited')
    expect(String(info.caps)).toBe('console')
    expect(t.result(2)).toBe(42)
    expect(services.console.lines).toContain('hi from 2')
  })

  it('kill aborts the signal once; true only for a running process (KillCancelsContext)', async () => {
    const t = new ProcessTable(services)
    let seen: unknown
    const p = t.spawn('loop', [], async (ctx) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()))
      seen = ctx.signal.reason
    })
    await flush()
    expect(t.kill(p.pid)).toBe(true)
    expect(t.kill(p.pid)).toBe(false)
    expect(t.kill(999)).toBe(false)
    await flush()
    expect(seen).toBeInstanceOf(KilledError)
    expect(p.info().state).toBe('killed')
    expect(p.info().settled).toBe(true)
  })

  it('contains a throw or a rejection; the table stays usable (PanicIsContained)', async () => {
    const t = new ProcessTable(services)
    const sync = t.spawn('sync-crash', [], () => {
      throw new Error('boom')
    })
    const async_ = t.spawn('async-crash', [], async () => {
      await flush()
      throw new TypeError('late boom')
    })
    expect((await sync.wait()).state).toBe('crashed')
    const info = await async_.wait()
    expect(info.state).toBe('crashed')
    expect(info.exitReason).toBe('crashed: late boom')
    expect(info.error).toBeInstanceOf(TypeError)
    expect((await t.spawn('after', [], () => 'alive').wait()).state).toBe('exited')
  })

  it('a kill is final against a later exit; a crash overrides a kill', async () => {
    const t = new ProcessTable(services)
    const stubborn = t.spawn('stubborn', [], async () => {
      await flush()
      return 'ignored the kill'
    })
    const faulty = t.spawn('faulty', [], async () => {
      await flush()
      throw new Error('fault after kill')
    })
    await Promise.resolve()
    t.kill(stubborn.pid)
    t.kill(faulty.pid)
    await flush()
    await flush()
    expect(stubborn.info().state).toBe('killed')
    expect(faulty.info().state).toBe('crashed')
  })

  it('reaps exactly the finished processes, never init (Reap)', async () => {
    const t = new ProcessTable(services)
    const live = t.spawn('live', [], (ctx) => new Promise((r) => ctx.signal.addEventListener('abort', r)))
    const done = Array.from({ length: 10 }, (_, i) => t.spawn(`quick${i}`, [], () => i))
    await Promise.all(done.map((p) => p.wait()))
    expect(t.reap()).toBe(10)
    expect(t.list().map((i) => i.pid)).toEqual([1, live.pid])
    live.kill()
    await flush()
    expect(t.reap()).toBe(1)
    expect(t.count).toBe(1)
  })

  it('kill takes the children with it; orphans of a reaped parent go to init', async () => {
    const t = new ProcessTable(services)
    const waitKill = (ctx: { signal: AbortSignal }) => new Promise((r) => ctx.signal.addEventListener('abort', r))
    let grandchild = 0
    const parent = t.spawn('parent', ['console'], async (ctx) => {
      const child = ctx.spawn('child', ['console'], (c) => {
        grandchild = c.spawn('grandchild', [], waitKill).pid
        return waitKill(c)
      })
      expect(() => ctx.spawn('greedy', ['net'], () => {})).toThrow(CapabilityError)
      await waitKill(ctx)
      return child.pid
    })
    await flush()
    expect(t.list().filter((i) => i.state === 'running').length).toBe(4)
    t.kill(parent.pid)
    await flush()
    expect(t.list().filter((i) => i.state === 'running').map((i) => i.pid)).toEqual([1])
    expect(t.get(grandchild)?.exitReason).toMatch(/parent \d+ killed/)

    const mom = t.spawn('mom', [], (ctx) => {
      ctx.spawn('orphan', [], waitKill)
      return 'left'
    })
    await mom.wait()
    t.reap()
    const orphan = t.list().find((i) => i.name === 'orphan')!
    expect(orphan.ppid).toBe(1)
    t.shutdown()
    await flush()
    expect(t.get(orphan.pid)?.state).toBe('killed')
  })

  it('capabilities are the only way to a service; children get a subset', async () => {
    const t = new ProcessTable(services)
    const p = t.spawn('netless', ['console'], (ctx) => {
      expect(ctx.can('console')).toBe(true)
      expect(ctx.can('net')).toBe(false)
      return ctx.use('net' as 'console')
    })
    const info = await p.wait()
    expect(info.state).toBe('crashed')
    expect(info.error).toBeInstanceOf(CapabilityError)
    expect(() => t.spawn('x', [], () => {}, { parent: 999 })).toThrow(NoSuchProcessError)
    await expect(t.wait(999)).rejects.toBeInstanceOf(NoSuchProcessError)
    expect(String(Caps.of('proc', 'console', 'net'))).toBe('console,net,proc')
    expect(String(Caps.none)).toBe('-')
  })

  it('leaves no timer and no listener behind after a kill', async () => {
    vi.useFakeTimers()
    const t = new ProcessTable(services)
    let signal!: AbortSignal
    const p = t.spawn('sleeper', [], async (ctx) => {
      signal = ctx.signal
      for (;;) await ctx.sleep(1000)
    })
    await vi.advanceTimersByTimeAsync(2500)
    expect(vi.getTimerCount()).toBe(1)
    expect(getEventListeners(signal, 'abort').length).toBe(1)
    p.kill()
    await vi.advanceTimersByTimeAsync(0)
    expect(vi.getTimerCount()).toBe(0)
    expect(getEventListeners(signal, 'abort').length).toBe(0)
    expect(p.info().state).toBe('killed')
    expect(p.info().settled).toBe(true)
  })

  it('pids rise from 1, are unique under 1600 concurrent spawns, and are never reused', async () => {
    const t = new ProcessTable(services)
    const ps = await Promise.all(Array.from({ length: 1600 }, (_, i) => Promise.resolve().then(() => t.spawn(`p${i}`, [], () => i))))
    const pids = ps.map((p) => p.pid)
    expect(new Set(pids).size).toBe(1600)
    await Promise.all(ps.map((p) => p.wait()))
    t.reap()
    expect(t.spawn('next', [], () => {}).pid).toBe(1602)
  })

  it('a process killed before its task starts never runs it (found by the model property)', async () => {
    const t = new ProcessTable(services)
    let ran = false
    const p = t.spawn('crasher', [], () => {
      ran = true
      throw new Error('crash')
    })
    t.kill(1) // init, and with it every process, in the same tick as the spawn
    const info = await p.wait()
    expect(ran).toBe(false)
    expect(info.state).toBe('killed')
  })

  it('survives 200 crashes (table healthy, reap removes them all)', async () => {
    const t = new ProcessTable(services)
    const ps = Array.from({ length: 200 }, (_, i) =>
      t.spawn(`crash${i}`, [], () => {
        throw new Error(`crash ${i}`)
      }),
    )
    await Promise.all(ps.map((p) => p.wait()))
    expect(t.reap()).toBe(200)
    expect(t.count).toBe(1)
  })
})

describe('ProcessTable model (fast-check)', () => {
  type Op = { t: 'spawn'; kind: 'exit' | 'crash' | 'wait-kill'; parent: number } | { t: 'kill'; pid: number } | { t: 'reap' } | { t: 'settle' }
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ t: fc.constant('spawn' as const), kind: fc.constantFrom('exit' as const, 'crash' as const, 'wait-kill' as const), parent: fc.nat(12) }),
    fc.record({ t: fc.constant('kill' as const), pid: fc.nat(14) }),
    fc.constant({ t: 'reap' as const }),
    fc.constant({ t: 'settle' as const }),
  )

  it('agrees with a model of pids, parents, states and reaping', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const t = new ProcessTable(services)
        type M = { pid: number; ppid: number; kind: string; state: ProcState; children: number[] }
        const model = new Map<number, M>([[1, { pid: 1, ppid: 0, kind: 'init', state: 'running', children: [] }]])
        let next = 2
        const killTree = (pid: number, top: boolean): boolean => {
          const m = model.get(pid)
          if (!m) return false
          const was = m.state === 'running'
          if (was) m.state = 'killed'
          for (const c of m.children) killTree(c, false)
          return top ? was : was
        }
        for (const o of ops) {
          if (o.t === 'spawn') {
            const parent = model.get(o.parent)
            if (!parent) {
              expect(() => t.spawn('x', [], () => {}, { parent: o.parent })).toThrow(NoSuchProcessError)
              continue
            }
            const p = t.spawn(o.kind, [], (ctx) => {
              if (o.kind === 'exit') return 1
              if (o.kind === 'crash') throw new Error('crash')
              return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
            }, { parent: o.parent })
            expect(p.pid).toBe(next)
            model.set(next, { pid: next, ppid: o.parent, kind: o.kind, state: 'running', children: [] })
            parent.children.push(next)
            next++
          } else if (o.t === 'kill') {
            expect(t.kill(o.pid)).toBe(killTree(o.pid, true))
          } else if (o.t === 'reap') {
            let n = 0
            for (const [pid, m] of model) {
              if (pid === 1 || m.state === 'running') continue
              model.delete(pid)
              for (const c of m.children) {
                const cm = model.get(c)
                if (cm) {
                  cm.ppid = 1
                  model.get(1)!.children.push(c)
                }
              }
              n++
            }
            expect(t.reap()).toBe(n)
          } else {
            await flush()
            for (const m of model.values()) {
              if (m.state !== 'running') continue
              if (m.kind === 'exit') m.state = 'exited'
              if (m.kind === 'crash') m.state = 'crashed'
            }
          }
          if (o.t === 'settle') {
            expect(t.list().map((i) => [i.pid, i.ppid, i.state])).toEqual([...model.values()].sort((a, b) => a.pid - b.pid).map((m) => [m.pid, m.ppid, m.state]))
          }
        }
        t.shutdown()
      }),
      { numRuns: 150 },
    )
  })

  it('spawn/kill/exit/reap interleavings (fc.scheduler): every process ends exactly once and settles', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 6 }), async (s, n) => {
        const t = new ProcessTable(services)
        const ends: number[] = []
        const pids: number[] = []
        for (let i = 0; i < n; i++) {
          const p = t.spawn(`w${i}`, [], async (ctx) => {
            await s.schedule(Promise.resolve('step'), `w${i} step`)
            ctx.throwIfKilled()
            if (i % 3 === 2) throw new Error('fault')
            return i
          })
          pids.push(p.pid)
          void p.wait().then(() => ends.push(p.pid))
        }
        const killer = s.schedule(Promise.resolve(), 'kill').then(() => {
          t.kill(pids[0]!)
        })
        const reaper = s.schedule(Promise.resolve(), 'reap').then(() => t.reap())
        await s.waitFor(Promise.all([killer, reaper, ...pids.map((pid) => t.wait(pid).catch(() => undefined))]))
        await s.waitAll()
        await flush()
        // Each process ended exactly once, whatever the order.
        expect(new Set(ends).size).toBe(ends.length)
        for (const pid of pids) {
          const info = t.get(pid)
          if (info) {
            expect(info.state).not.toBe('running')
            expect(info.settled).toBe(true)
          }
        }
        t.shutdown()
      }),
      { numRuns: 100 },
    )
  })
})
