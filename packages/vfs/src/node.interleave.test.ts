import { describe, expect, it, vi } from 'vitest'
import { HostFS } from './node.js'
import { confinementFixture, interleavedConfinementProperty, runInterleaved, runVictimOp, type SyscallHook, type VictimOp } from './testing/node.js'

// Every node:fs/promises call first runs hook.before(name): the harness injects a swap right
// before the k-th filesystem call of an operation (a deterministic scheduler over syscalls).
const hook = vi.hoisted((): SyscallHook => ({ before: () => {} }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<Record<string, unknown>>()
  const out: Record<string, unknown> = { ...orig }
  for (const [name, f] of Object.entries(orig)) if (typeof f === 'function') out[name] = (...args: unknown[]) => (hook.before(name, args), (f as (...a: unknown[]) => unknown)(...args))
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

  it('hands the kernel no multi-component path: only the root, /proc/self/fd/N and /proc/self/fd/N/<one name>', async () => {
    const fx = await confinementFixture()
    try {
      const fs = new HostFS(fx.root)
      const paths: string[] = []
      hook.before = (_name, args) => void args.filter((a): a is string => typeof a === 'string' && a.startsWith('/')).forEach((a) => paths.push(a))
      const ops: VictimOp[] = ['stat', 'readDir', 'readlink', 'read', 'write', 'create', 'truncOpen', 'append', 'handle', 'truncate', 'chmod', 'utimes', 'mkdir', 'symlink', 'remove'].map((op) => ({ op, path: 'd/e/new' }) as VictimOp)
      for (const op of [...ops, { op: 'rename', from: 'd/e/x', to: 'd/f' } as const, { op: 'readDir', path: 'd/e' } as const]) await runVictimOp(fs, op)
      hook.before = () => {}
      const bad = paths.filter((p) => p !== fx.root && !/^\/proc\/self\/fd\/\d+(\/[^/]+)?$/.test(p))
      expect(bad).toEqual([])
      expect(paths.length).toBeGreaterThan(50)
    } finally {
      hook.before = () => {}
      await fx.cleanup()
    }
  })
})
