import { HostFS } from '@honk/vfs/node'
import { interleavedConfinementProperty, runInterleaved, type SyscallHook } from '@honk/vfs/testing/node'
import { describe, expect, it, vi } from 'vitest'
import { mount } from './mount.js'
import { serve } from './server.js'
import { loopbackTransport } from './transport.js'

// Every node:fs/promises call (the HostFS behind the server) first runs hook.before(name):
// the harness injects a swap right before the k-th filesystem call of a 9P operation.
const hook = vi.hoisted((): SyscallHook => ({ before: () => {} }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<Record<string, unknown>>()
  const out: Record<string, unknown> = { ...orig }
  for (const [name, f] of Object.entries(orig)) if (typeof f === 'function') out[name] = (...args: unknown[]) => (hook.before(name, args), (f as (...a: unknown[]) => unknown)(...args))
  return out
})

async function overLoopback(root: string) {
  const conn = serve(new HostFS(root))
  const fs = await mount(loopbackTransport((t) => conn.handle(t), 8192))
  return { fs, close: () => fs.close() }
}

describe('9P server serving a HostFS, a swap injected before each filesystem call (issue #12 case 6)', () => {
  it('the reported race, at every step of walk+Tlopen+Tread and walk+Tlcreate+Twrite of d/e/x', async () => {
    for (const op of [{ op: 'read', path: 'd/e/x' }, { op: 'write', path: 'd/e/x' }] as const) {
      for (let at = 0; at < 30; at++) {
        for (const undoAfter of [1, 2, 40]) {
          const report = await runInterleaved(overLoopback, hook, { op, attack: 'dir-d', at, undoAfter })
          expect(report.escapes, `${op.op} with d swapped before call ${at} of ${report.calls}, back ${undoAfter} calls later`).toEqual([])
        }
      }
    }
  })

  it('every operation × every attack × every injection point, through the protocol (fast-check)', async () => {
    await interleavedConfinementProperty(overLoopback, hook, { maxCalls: 40, numRuns: 200 })
  })
})
