import { HostFS } from '@honk/vfs/node'
import { confinementProperty, runConfinement, type VictimOp } from '@honk/vfs/testing/node'
import { describe, expect, it } from 'vitest'
import { mount } from './mount.js'
import { connectTcp, listenTcp } from './node.js'
import { serve } from './server.js'
import { loopbackTransport } from './transport.js'

/** A HostFS of `root` behind our 9P server, mounted by our client in the same process. */
async function overLoopback(root: string) {
  const conn = serve(new HostFS(root))
  const fs = await mount(loopbackTransport((t) => conn.handle(t), 8192))
  return { fs, close: () => fs.close() }
}

describe('9P server serving a HostFS under a concurrent renamer (issue #12 case 6)', () => {
  it('the reported race over a real TCP connection: no Tread/Twrite reaches outside the root', async () => {
    const ops: VictimOp[] = []
    for (let i = 0; i < 80; i++) ops.push({ op: 'read', path: 'd/e/x' }, { op: 'write', path: 'd/e/x' }, { op: 'handle', path: 'd/e/x' })
    const report = await runConfinement(
      async (root) => {
        const server = await listenTcp(new HostFS(root), 0)
        const fs = await mount(await connectTcp('127.0.0.1', server.port))
        return { fs, close: async () => (await fs.close(), void server.close()) }
      },
      [ops, ops, ops],
      ['dir-d'],
      { attacker: 'worker' },
    )
    expect(report.attackCycles).toBeGreaterThan(10)
    expect(report.escapes).toEqual([])
  })

  it('every FS operation through the protocol, concurrent callers, every attack mix: nothing outside is read, listed or changed (fast-check)', async () => {
    await confinementProperty(overLoopback, { numRuns: 15 })
  })
})
