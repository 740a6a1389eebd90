/**
 * The whole machine on a foreign disk (issue #12 case 4, system tier): honk boots on a disk
 * made by the real mkfs.ext4 read-only, says why, and `put` changes no byte. (The kernel's own
 * foreign-image cases are packages/kernel/src/storage.system.test.ts.)
 */
import { MemoryBlockDevice } from '@honk/block'
import { imageMadeBy } from '@honk/block/testing/node'
import { describe, expect, it } from 'vitest'
import { buildCoreImage, coreAnchor } from './factory-core.js'
import { createHonk } from './honk.js'
import { ConsoleSession } from './session.js'

describe('real foreign images are never formatted (issue #12 case 4)', () => {
  it('the whole machine: honk boots on a mkfs.ext4 disk read-only, says why, and `put` changes no byte', async () => {
    const image = await imageMadeBy('mkfs.ext4', (p) => ['-F', '-q', p])
    const dev = new MemoryBlockDevice(image.length / 512, 512, image.slice())
    const console = new ConsoleSession()
    const honk = createHonk({ harts: 1, memory: 128 << 20, firmware: 'builtin', disk: dev, consoleOut: console.out, factory: buildCoreImage({ version: 1 }), anchor: coreAnchor() })
    console.start(honk.machine)
    try {
      for (const line of ['put a b', 'exit']) {
        await console.waitFor('honk> ', 60_000)
        console.send(line + '\n')
      }
      await console.exit
    } finally {
      honk.machine.stop()
      await honk.close()
    }
    expect(console.text).toContain('honk: disk not used: blocks 0-1 hold no honk A/B metadata and it holds an ext2/3/4 filesystem (magic 0xEF53 at byte 1080); nothing on it is changed (read-only boot)')
    expect(console.text).toContain('put: filesystem is read-only')
    const after = new Uint8Array(image.length)
    await dev.read(0, after)
    expect(Buffer.compare(after, image)).toBe(0)
  })

})
