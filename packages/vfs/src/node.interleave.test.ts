import { describe, expect, it, vi } from 'vitest'
import { HostFS } from './node.js'
import { interleavedConfinementProperty, runInterleaved, type SyscallHook } from './testing/node.js'

// Every node:fs/promises call first runs hook.before(name): the harness injects a swap right
// before the k-th filesystem call of an operation (a deterministic scheduler over syscalls).
const hook = vi.hoisted((): SyscallHook => ({ before: () => {} }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<Record<string, unknown>>()
  const out: Record<string, unknown> = { ...orig }
  for (const [name, f] of Object.entries(orig)) if (typeof f === 'function') out[name] = (...args: unknown[]) => (hook.before(name), (f as (...a: unknown[]) => unknown)(...args))
  return out
})

const open = async (root: string) => ({ fs: new HostFS(root) })

describe('HostFS with a swap injected before each of its filesystem calls (issue #12 case 6)', () => {
  it('the reported race, at every step of open+read and open+write of d/e/x', async () => {
    for (const op of [{ op: 'read', path: 'd/e/x' }, { op: 'write', path: 'd/e/x' }] as const) {
      for (let at = 0; at < 12; at++) {
        const report = await runInterleaved(open, hook, { op, attack: 'dir-d', at, undoAfter: 8 })
        expect(report.escapes, `${op.op} with d swapped before call ${at} of ${report.calls}`).toEqual([])
      }
    }
  })

  it('every operation × every attack × every injection point: nothing outside is read, listed or changed (fast-check)', async () => {
    await interleavedConfinementProperty(open, hook, { maxCalls: 16, numRuns: 300 })
  })
})
