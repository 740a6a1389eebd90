import { CrashSimulatingDevice, MemoryBlockDevice } from '@honk/block'
import { openKV } from '@honk/kv'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { openKvFS, readFile, readText, writeFile, type FS } from './index.js'
import { checkFsModel, fsModelProperty, fsOpArb, testFS } from './testing/index.js'

const files = { 'hello.txt': 'hello, world\n', 'dir/a.txt': 'A', 'dir/sub/big.bin': new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff), 'empty': '' }

async function fresh(blocks = 8192): Promise<FS> {
  return openKvFS(await openKV(new MemoryBlockDevice(blocks)))
}

describe('KV-backed FS', () => {
  it('passes testFS', async () => {
    const fs = await fresh()
    for (const [p, c] of Object.entries(files)) {
      const dir = p.split('/').slice(0, -1)
      for (let i = 1; i <= dir.length; i++) await fs.mkdir(dir.slice(0, i).join('/')).catch(() => {})
      await writeFile(fs, p, c)
    }
    await testFS(fs, files)
  })

  it('agrees with the model (fast-check)', () => fsModelProperty(() => fresh(2048), { numRuns: 60 }))

  it('with durable: true every operation has reached a device flush when it resolves', async () => {
    for (const durable of [true, false]) {
      const dev = new MemoryBlockDevice(2048)
      const kv = await openKV(dev, { commitWindowMs: 10_000 })
      const fs = await openKvFS(kv, { durable })
      const before = dev.stats.flushes
      await writeFile(fs, 'a', 'x')
      await fs.mkdir('d')
      // Durable: at least one flush per operation; otherwise the store waits for its commit window.
      if (durable) expect(dev.stats.flushes).toBeGreaterThanOrEqual(before + 2)
      else expect(dev.stats.flushes).toBe(before)
      await kv.close()
    }
  })

  it('persists across reopening the store; chunked files with holes read back exactly', async () => {
    const dev = new MemoryBlockDevice(8192)
    let kv = await openKV(dev)
    let fs = await openKvFS(kv)
    await fs.mkdir('d')
    const h = await fs.open('d/sparse', { write: true, create: true })
    await h.write(150_000, new TextEncoder().encode('tail'))
    await h.write(10, new TextEncoder().encode('head'))
    await h.close()
    await fs.sync()
    await kv.close()
    kv = await openKV(dev)
    fs = await openKvFS(kv)
    const data = await readFile(fs, 'd/sparse')
    expect(data.length).toBe(150_004)
    expect(new TextDecoder().decode(data.subarray(10, 14))).toBe('head')
    expect(new TextDecoder().decode(data.subarray(150_000))).toBe('tail')
    expect(data.subarray(14, 150_000).every((b) => b === 0)).toBe(true)
    await fs.setattr('d/sparse', { size: 12 })
    expect(await readText(fs, 'd/sparse')).toBe('\0'.repeat(10) + 'he')
  })

  it('after a crash at any point, the tree is the state after some prefix of the synced operations (fast-check)', async () => {
    let crashes = 0
    await fc.assert(
      fc.asyncProperty(fc.array(fsOpArb, { minLength: 1, maxLength: 20 }), fc.nat(40), fc.integer(), async (ops, cutAfter, seed) => {
        const dev = new CrashSimulatingDevice(4096)
        const fs = await openKvFS(await openKV(dev))
        // Record the model states: states[i] = after the first i ops; every op is synced.
        const done: typeof ops = []
        dev.cutPowerAfter(cutAfter)
        for (const o of ops) {
          try {
            await checkFsModel(fs, [o], { preloaded: done })
            await fs.sync()
            done.push(o)
          } catch {
            break // the power is cut
          }
        }
        let s = seed
        const random = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32)
        const after = await openKvFS(await openKV(dev.crash(dev.randomPlan(random))))
        crashes++
        // The recovered tree equals the model after `done`, or after `done` plus the op in
        // flight. The harness's `write` op is two FS operations (open-create, then write or
        // truncate), each atomic: a cut between them leaves the new file empty.
        const inFlight = ops[done.length]
        const allowed = [done]
        if (inFlight) allowed.push([...done, inFlight])
        if (inFlight?.op === 'write') allowed.push([...done, { op: 'write', path: inFlight.path, at: 0, bytes: [] }])
        const errors: string[] = []
        for (const candidate of allowed) {
          try {
            await checkFsModel(after, [], { preloaded: candidate })
            return
          } catch (e) {
            errors.push((e as Error).message)
          }
        }
        throw new Error(`recovered tree matches no allowed state:\n${errors.join('\n---\n')}`)
      }),
      { numRuns: 150 },
    )
    expect(crashes).toBe(150)
  })
})
