import { MessageChannel } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { browserHartThreads, serveHartTasksInBrowser } from './browser.js'
import { HartTaskError, HartThreads } from './pool.js'
import { TEST_TASKS } from './test-tasks.js'

/** A browser Worker's two sides over a MessageChannel (Node's ports are EventTargets, as a Worker and its scope are). */
function fakeWorker(hart: number, made: number[], terminated: number[]) {
  made.push(hart)
  const { port1, port2 } = new MessageChannel()
  serveHartTasksInBrowser(TEST_TASKS, { postMessage: (m) => port2.postMessage(m), addEventListener: (type, l) => port2.addEventListener(type, l as unknown as (e: Event) => void) })
  return {
    postMessage: (m: unknown) => port1.postMessage(m),
    addEventListener: (type: string, l: (e: { data?: unknown }) => void) => port1.addEventListener(type, l as unknown as (e: Event) => void),
    terminate: () => {
      terminated.push(hart)
      port1.close()
      port2.close()
    },
  }
}

describe('hart threads in a browser (browserHartThreads, serveHartTasksInBrowser)', () => {
  it('runs tasks on each hart\'s worker, carries a throw back as HartTaskError, kills, and terminates them on close', async () => {
    const made: number[] = []
    const terminated: number[] = []
    const pool = new HartThreads(browserHartThreads((hart) => fakeWorker(hart, made, terminated)))
    expect(await pool.run(1, 'whoami')).toEqual({ hart: 1, thread: 0 })
    expect(await pool.run(2, 'echo', [1, 'a'])).toEqual([1, 'a'])
    await expect(pool.run(1, 'fail')).rejects.toBeInstanceOf(HartTaskError)
    const kill = new AbortController()
    const long = pool.run(2, 'yields', 1_000_000, kill.signal)
    kill.abort('stop')
    await expect(long).rejects.toBe('stop')
    expect(made).toEqual([1, 2])
    await pool.close()
    expect(terminated.sort()).toEqual([1, 2])
  })
})
