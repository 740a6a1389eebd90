import { MemoryBlockDevice } from '@honk/block'
import { openKV } from '@honk/kv'
import { MemoryFS, openKvFS, writeFile, type FS } from '@honk/vfs'
import { fsModelProperty, testFS } from '@honk/vfs/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decode, encode } from './codec.js'
import { ERRNO } from './errors.js'
import { mount } from './mount.js'
import { NOFID, NOTAG } from './schema.js'
import { serve } from './server.js'
import { loopbackTransport } from './transport.js'

const files = { 'hello.txt': 'hello from 9p', 'd/a.txt': 'A', 'd/sub/big.bin': new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff), 'empty': '' }

async function mounted(fs: FS = new MemoryFS({ files }), msize = 8192) {
  const conn = serve(fs)
  return mount(loopbackTransport((t) => conn.handle(t), msize))
}

describe('our 9P client ↔ our 9P server', () => {
  it('passes testFS through the protocol (MemoryFS behind the server)', async () => {
    const fs = await mounted()
    await testFS(fs, files)
    expect(fs.session.fidsInUse).toBe(0)
  })

  it('passes testFS over a KV-backed FS, and read-only mounts refuse writes', async () => {
    const kvfs = await openKvFS(await openKV(new MemoryBlockDevice(8192)))
    await writeFile(kvfs, 'x.txt', 'in the store')
    await testFS(await mounted(kvfs), { 'x.txt': 'in the store' })
    const conn = serve(new MemoryFS({ files, readOnly: true }))
    await testFS(await mount(loopbackTransport((t) => conn.handle(t)), { readOnly: true }), files)
  })

  it('agrees with the model through the protocol (fast-check)', () => fsModelProperty(() => mounted(new MemoryFS()), { numRuns: 40 }))

  it('answers hostile messages with Rlerror and stays in its root', async () => {
    const conn = serve(new MemoryFS({ files }))
    const ask = async (bytes: Uint8Array) => decode(await conn.handle(bytes))
    expect(await ask(encode({ kind: 'Tversion', tag: NOTAG, msize: 8192, version: '9P2000.L' }))).toMatchObject({ kind: 'Rversion' })
    expect(await ask(encode({ kind: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'x', aname: '', nUname: 0 }))).toMatchObject({ kind: 'Rattach' })
    // '..' at the root stays at the root.
    const up = await ask(encode({ kind: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['..', '..', 'hello.txt'] }))
    expect(up).toMatchObject({ kind: 'Rwalk' })
    expect((up as { wqids: unknown[] }).wqids.length).toBe(3)
    expect(await ask(encode({ kind: 'Tread', tag: 3, fid: 99, offset: 0n, count: 10 }))).toEqual({ kind: 'Rlerror', tag: 3, ecode: ERRNO.EBADF })
    expect(await ask(encode({ kind: 'Tattach', tag: 4, fid: 0, afid: NOFID, uname: 'x', aname: '', nUname: 0 }))).toEqual({ kind: 'Rlerror', tag: 4, ecode: ERRNO.EEXIST })
    expect(await ask(encode({ kind: 'Tmkdir', tag: 5, dfid: 0, name: '../evil', mode: 0o755, gid: 0 }))).toEqual({ kind: 'Rlerror', tag: 5, ecode: ERRNO.EINVAL })
    expect(await ask(encode({ kind: 'Tlopen', tag: 6, fid: 1, flags: 0 }))).toMatchObject({ kind: 'Rlopen' })
    const huge = await ask(encode({ kind: 'Tread', tag: 7, fid: 1, offset: 0n, count: 0xffffffff }))
    expect(huge).toMatchObject({ kind: 'Rread' })
    expect(await ask(new Uint8Array([9, 0, 0, 0, 200, 8, 0, 0, 0]))).toEqual({ kind: 'Rlerror', tag: 8, ecode: ERRNO.EPROTO })
    expect(await ask(new Uint8Array([3, 0]))).toMatchObject({ kind: 'Rlerror', ecode: ERRNO.EPROTO })
  })

  it('never throws on random messages (fuzz, fast-check)', async () => {
    const conn = serve(new MemoryFS({ files }))
    await conn.handle(encode({ kind: 'Tversion', tag: NOTAG, msize: 8192, version: '9P2000.L' }))
    await conn.handle(encode({ kind: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'x', aname: '', nUname: 0 }))
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 7, maxLength: 60 }), fc.constantFrom(8, 12, 14, 20, 22, 24, 26, 30, 40, 50, 52, 70, 72, 74, 76, 110, 116, 118, 120, 122), async (body, type) => {
        body[4] = type
        new DataView(body.buffer).setUint32(0, body.length, true)
        const reply = decode(await conn.handle(body))
        expect(reply.kind.startsWith('R')).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })
})
