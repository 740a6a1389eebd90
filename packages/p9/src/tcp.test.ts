import { MemoryFS } from '@honk/vfs'
import { testFS } from '@honk/vfs/testing'
import { describe, expect, it } from 'vitest'
import { mount } from './mount.js'
import { connectTcp, listenTcp } from './node.js'

describe('9P over TCP (our client ↔ our server)', () => {
  it('passes testFS over a real socket', async () => {
    const files = { 'a.txt': 'over tcp', 'd/b.bin': new Uint8Array(100_000).fill(7) }
    const server = await listenTcp(new MemoryFS({ files }), 0)
    try {
      const fs = await mount(await connectTcp('127.0.0.1', server.port))
      await testFS(fs, files)
      expect(fs.session.fidsInUse).toBe(0)
      await fs.close()
    } finally {
      server.close()
    }
  })
})
