import { HostFS } from '@honk/vfs/node'
import { confinementProperty, interleavedConfinementProperty, type SyscallHook } from '@honk/vfs/testing/node'
import { describe, it, vi } from 'vitest'
import { mount } from './mount.js'
import { serve } from './server.js'
import { loopbackTransport } from './transport.js'

// The fast tier's HostFS confinement properties, at thousands of cases (issue #12 case 6).
const hook = vi.hoisted((): SyscallHook => ({ before: () => {} }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<Record<string, unknown>>()
  const out: Record<string, unknown> = { ...orig }
  for (const [name, f] of Object.entries(orig)) if (typeof f === 'function') out[name] = (...args: unknown[]) => (hook.before(name, args), (f as (...a: unknown[]) => unknown)(...args))
  return out
})

const direct = async (root: string) => ({ fs: new HostFS(root) })
async function overLoopback(root: string) {
  const conn = serve(new HostFS(root))
  const fs = await mount(loopbackTransport((t) => conn.handle(t), 8192))
  return { fs, close: () => fs.close() }
}

describe('HostFS confinement, thousands of cases', () => {
  it('HostFS: every operation × attack × injection point (3 000 cases)', async () => {
    await interleavedConfinementProperty(direct, hook, { maxCalls: 16, numRuns: 3000 })
  })

  it('9P server over HostFS: every operation × attack × injection point (1 500 cases)', async () => {
    await interleavedConfinementProperty(overLoopback, hook, { maxCalls: 40, numRuns: 1500 })
  })

  it('HostFS and 9P: concurrent callers against a looping or worker-thread attacker (2 × 200 cases)', async () => {
    await confinementProperty(direct, { numRuns: 200 })
    await confinementProperty(overLoopback, { numRuns: 200 })
  })
})
