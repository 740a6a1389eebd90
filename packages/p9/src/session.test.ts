import { describe, expect, it } from 'vitest'
import { decode, encode } from './codec.js'
import { P9ProtocolError, P9RemoteError } from './errors.js'
import { QTDIR, type Message } from './schema.js'
import { Session } from './session.js'
import { loopbackTransport } from './transport.js'

/**
 * A scripted peer: a tree of directories `d0/d1/…/d39`, enough to check the session's own
 * logic (version, attach, walk chunking, partial walks, fid and tag bookkeeping).
 */
function peer(options: { version?: string; msize?: number; delay?: (tag: number) => number } = {}) {
  const fids = new Map<number, number>() // fid → depth
  const walks: number[] = []
  const handler = async (bytes: Uint8Array): Promise<Uint8Array> => {
    const t = decode(bytes)
    await new Promise((r) => setTimeout(r, options.delay?.(t.tag) ?? 0))
    const reply = (m: Message) => encode(m)
    switch (t.kind) {
      case 'Tversion':
        return reply({ kind: 'Rversion', tag: t.tag, msize: Math.min(t.msize, options.msize ?? t.msize), version: options.version ?? t.version })
      case 'Tattach':
        fids.set(t.fid, 0)
        return reply({ kind: 'Rattach', tag: t.tag, qid: { type: QTDIR, version: 0, path: 0n } })
      case 'Twalk': {
        walks.push(t.wnames.length)
        const depth = fids.get(t.fid)
        if (depth === undefined) return reply({ kind: 'Rlerror', tag: t.tag, ecode: 9 })
        const wqids = []
        for (const [i, n] of t.wnames.entries()) {
          if (n !== `d${depth + i}`) break
          wqids.push({ type: QTDIR, version: 0, path: BigInt(depth + i + 1) })
        }
        if (wqids.length === 0 && t.wnames.length > 0) return reply({ kind: 'Rlerror', tag: t.tag, ecode: 2 })
        if (wqids.length === t.wnames.length) fids.set(t.newfid, depth + wqids.length)
        return reply({ kind: 'Rwalk', tag: t.tag, wqids })
      }
      case 'Tclunk':
        fids.delete(t.fid)
        return reply({ kind: 'Rclunk', tag: t.tag })
      default:
        return reply({ kind: 'Rlerror', tag: t.tag, ecode: 95 })
    }
  }
  return { transport: loopbackTransport(handler, 8192), fids, walks }
}

const path = (n: number) => Array.from({ length: n }, (_, i) => `d${i}`)

describe('Session', () => {
  it('negotiates msize and attaches', async () => {
    const p = peer({ msize: 4096 })
    const s = await Session.connect(p.transport)
    expect(s.msize).toBe(4096)
    expect(p.fids.has(0)).toBe(true)
  })

  it('refuses a server that does not speak 9P2000.L', async () => {
    await expect(Session.connect(peer({ version: '9P2000' }).transport)).rejects.toBeInstanceOf(P9ProtocolError)
  })

  it('walks long paths in chunks of 16 and clunks what it walked', async () => {
    const p = peer()
    const s = await Session.connect(p.transport)
    const { fid, qid } = await s.walk(path(40))
    expect(qid?.path).toBe(40n)
    expect(p.walks).toEqual([16, 16, 8])
    await s.clunk(fid)
    expect(s.fidsInUse).toBe(0)
    expect([...p.fids.keys()]).toEqual([0])
  })

  it('a partial walk is ENOENT and leaks no fid, at any chunk', async () => {
    const p = peer()
    const s = await Session.connect(p.transport)
    for (const bad of [[...path(3), 'x'], [...path(20), 'x'], ['x']]) {
      const e = await s.walk(bad).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(P9RemoteError)
      expect((e as P9RemoteError).code).toBe('ENOENT')
    }
    expect(s.fidsInUse).toBe(0)
    expect([...p.fids.keys()]).toEqual([0])
  })

  it('runs concurrent requests with distinct tags, replies arriving out of order', async () => {
    const p = peer({ delay: (tag) => (tag % 3) * 5 })
    const s = await Session.connect(p.transport)
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => s.walk(path(1 + i)).then(async (r) => (await s.clunk(r.fid), r.qid?.path))))
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => BigInt(i + 1)))
    expect(s.fidsInUse).toBe(0)
  })
})
