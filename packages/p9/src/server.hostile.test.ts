import { MemoryFS } from '@honk/vfs'
import { describe, expect, it } from 'vitest'
import { decode, encode } from './codec.js'
import { ERRNO } from './errors.js'
import { NOFID, NOTAG, type Message } from './schema.js'
import { serve } from './server.js'

describe('9P server state per connection is bounded (issue #12 case 7)', () => {
  it('fids past maxFids are ENFILE, open fids past maxOpenFids are EMFILE; clunking frees both', async () => {
    const conn = serve(new MemoryFS({ files: { f: 'x' } }), { maxFids: 100, maxOpenFids: 10 })
    const call = async (m: Message) => decode(await conn.handle(encode(m)))
    await call({ kind: 'Tversion', tag: NOTAG, msize: 8192, version: '9P2000.L' })
    expect((await call({ kind: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'u', aname: '', nUname: 0 })).kind).toBe('Rattach')
    // 99 more fids fit (the root is one); the 101st does not.
    for (let fid = 1; fid < 100; fid++) expect((await call({ kind: 'Twalk', tag: 1, fid: 0, newfid: fid, wnames: ['f'] })).kind).toBe('Rwalk')
    expect(await call({ kind: 'Twalk', tag: 1, fid: 0, newfid: 100, wnames: ['f'] })).toEqual({ kind: 'Rlerror', tag: 1, ecode: ERRNO.ENFILE })
    expect(await call({ kind: 'Txattrwalk', tag: 1, fid: 0, newfid: 100, name: '' })).toEqual({ kind: 'Rlerror', tag: 1, ecode: ERRNO.ENFILE })
    // 10 open fids; the 11th open is refused, and so is an lcreate.
    for (let fid = 1; fid <= 10; fid++) expect((await call({ kind: 'Tlopen', tag: 1, fid, flags: 0 })).kind).toBe('Rlopen')
    expect(await call({ kind: 'Tlopen', tag: 1, fid: 11, flags: 0 })).toEqual({ kind: 'Rlerror', tag: 1, ecode: ERRNO.EMFILE })
    expect(await call({ kind: 'Tlcreate', tag: 1, fid: 0, name: 'new', flags: 2, mode: 0o644, gid: 0 })).toEqual({ kind: 'Rlerror', tag: 1, ecode: ERRNO.EMFILE })
    await call({ kind: 'Tclunk', tag: 1, fid: 1 })
    expect((await call({ kind: 'Tlopen', tag: 1, fid: 11, flags: 0 })).kind).toBe('Rlopen')
    expect((await call({ kind: 'Twalk', tag: 1, fid: 0, newfid: 100, wnames: [] })).kind).toBe('Rwalk')
    // Tversion resets the session: every fid and open handle is released.
    await call({ kind: 'Tversion', tag: NOTAG, msize: 8192, version: '9P2000.L' })
    await call({ kind: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'u', aname: '', nUname: 0 })
    for (let fid = 1; fid <= 10; fid++) {
      expect((await call({ kind: 'Twalk', tag: 1, fid: 0, newfid: fid, wnames: ['f'] })).kind).toBe('Rwalk')
      expect((await call({ kind: 'Tlopen', tag: 1, fid, flags: 0 })).kind).toBe('Rlopen')
    }
  })
})
