/**
 * A HostFS file's reads and writes done by the module's own worker (pread/pwrite on the host
 * descriptor the FS registered), through the real worker and bridge (driver mode): they must
 * never cross the bridge, never bypass a wrapper FS, and see every earlier write of the process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hostDescriptorOf, type FS, type FileHandle } from '@honk/vfs'
import { HostFS } from '@honk/vfs/node'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { nodeWasmWorkers } from '../node.js'
import { Errno, LOOKUP_SYMLINK_FOLLOW, Oflags } from './abi.js'
import { startDriver, type Driver, type DriverOptions } from './driver.js'
import { errnoOfHostCode } from './host.js'
import type { Request } from './protocol.js'

const workers = nodeWasmWorkers()
const drivers: Driver[] = []
const dirs: string[] = []
afterEach(() => {
  for (const d of drivers.splice(0)) d.close()
})
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
function hostDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'honk-wasi-direct-'))
  dirs.push(d)
  writeFileSync(join(d, 'f'), 'hello world')
  return d
}
/** A driver whose server records the ops it is asked for. */
async function drive(options: DriverOptions): Promise<{ d: Driver; ops: Request['op'][] }> {
  const d = await startDriver(workers, options)
  drivers.push(d)
  const ops: Request['op'][] = []
  const serve = d.server.serve.bind(d.server)
  d.server.serve = (req) => {
    ops.push(req.op)
    return serve(req)
  }
  return { d, ops }
}
const enc = new TextEncoder()
const dec = new TextDecoder()
const PATH = 2048
const OUT = 512
const IOV = 256
const BUF = 8192
const ALL = (1n << 30n) - 1n
const le32 = (...vs: number[]) => {
  const b = new Uint8Array(vs.length * 4)
  const v = new DataView(b.buffer)
  vs.forEach((x, i) => v.setUint32(i * 4, x, true))
  return b
}
const u32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true)

async function open(d: Driver, path: string, dirfd = 3, oflags = 0): Promise<number> {
  const p = enc.encode(path)
  const r = await d.call('path_open', [dirfd, LOOKUP_SYMLINK_FOLLOW, PATH, p.length, oflags, ALL, ALL, 0, OUT], { writes: [[PATH, p]], reads: [[OUT, 4]] })
  expect(r.errno).toBe(Errno.SUCCESS)
  return u32(r.reads[0]!)
}
async function pwrite(d: Driver, fd: number, text: string, at: number): Promise<[number, number]> {
  const b = enc.encode(text)
  const r = await d.call('fd_pwrite', [fd, IOV, 1, BigInt(at), OUT], { writes: [[BUF, b], [IOV, le32(BUF, b.length)]], reads: [[OUT, 4]] })
  return [r.errno!, u32(r.reads[0]!)]
}
async function pread(d: Driver, fd: number, n: number, at: number): Promise<[number, string]> {
  const r = await d.call('fd_pread', [fd, IOV, 1, BigInt(at), OUT], { writes: [[IOV, le32(BUF, n)]], reads: [[OUT, 4], [BUF, n]] })
  return [r.errno!, dec.decode(r.reads[1]!.subarray(0, u32(r.reads[0]!)))]
}

/** An FS over `inner` whose handles are new objects (a wrapper that counts or filters would be one). */
function wrapped(inner: FS, seen: string[]): FS {
  return {
    get readOnly() {
      return inner.readOnly
    },
    stat: (p) => inner.stat(p),
    readDir: (p) => inner.readDir(p),
    open: async (p, o) => {
      const h = await inner.open(p, o)
      const mine: FileHandle = {
        read: (pos, len) => (seen.push('read'), h.read(pos, len)),
        write: (pos, data) => (seen.push('write'), h.write(pos, data)),
        truncate: (s) => h.truncate(s),
        stat: () => h.stat(),
        sync: () => h.sync(),
        close: () => h.close(),
      }
      return mine
    },
    mkdir: (p, m) => inner.mkdir(p, m),
    remove: (p) => inner.remove(p),
    rename: (a, b) => inner.rename(a, b),
    symlink: (t, p) => inner.symlink(t, p),
    readlink: (p) => inner.readlink(p),
    setattr: (p, a) => inner.setattr(p, a),
    sync: () => inner.sync(),
  }
}

describe('HostFS files read and written by the worker itself', () => {
  it('HostFS registers its plain handles (not append ones); a copy of a handle is not registered', async () => {
    const fs = new HostFS(hostDir())
    const h = await fs.open('f', { read: true, write: true })
    const a = await fs.open('f', { write: true, append: true })
    expect(hostDescriptorOf(h)).toBeTypeOf('number')
    expect(hostDescriptorOf(a)).toBeUndefined()
    expect(hostDescriptorOf({ ...h })).toBeUndefined()
    await h.close()
    await a.close()
  })

  it('reads and writes never cross the bridge, and land in the host file at once', async () => {
    const dir = hostDir()
    const { d, ops } = await drive({ preopens: { '/': new HostFS(dir) }, direct: true, writeBehind: 1 << 16, cacheMs: 60_000 })
    const fd = await open(d, 'f')
    expect(await pread(d, fd, 5, 6)).toEqual([Errno.SUCCESS, 'world'])
    expect(await pwrite(d, fd, 'WORLD!', 6)).toEqual([Errno.SUCCESS, 6])
    // No write-behind for it: the host file has the bytes when the call returns.
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('hello WORLD!')
    expect(await pread(d, fd, 100, 0)).toEqual([Errno.SUCCESS, 'hello WORLD!'])
    expect(await pread(d, fd, 10, 100)).toEqual([Errno.SUCCESS, ''])
    expect(ops).not.toContain('read')
    expect(ops).not.toContain('write')
  })

  it('with io.direct off, the same calls cross the bridge (and give the same answers)', async () => {
    const dir = hostDir()
    const { d, ops } = await drive({ preopens: { '/': new HostFS(dir) }, direct: false })
    const fd = await open(d, 'f')
    expect(await pread(d, fd, 5, 6)).toEqual([Errno.SUCCESS, 'world'])
    expect(await pwrite(d, fd, 'WORLD!', 6)).toEqual([Errno.SUCCESS, 6])
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('hello WORLD!')
    expect(ops).toContain('read')
    expect(ops).toContain('write')
  })

  it('a wrapper FS that hands out its own handle objects is never bypassed', async () => {
    const seen: string[] = []
    const { d } = await drive({ preopens: { '/': wrapped(new HostFS(hostDir()), seen) }, direct: true })
    const fd = await open(d, 'f')
    expect(await pread(d, fd, 5, 0)).toEqual([Errno.SUCCESS, 'hello'])
    expect(await pwrite(d, fd, 'J', 0)).toEqual([Errno.SUCCESS, 1])
    expect(seen).toEqual(['read', 'write'])
  })

  it('a direct read sees a write still in write-behind on another name of the same file', async () => {
    // '/' is the host directory itself (direct); '/w' the same directory behind a wrapper (its
    // writes go to write-behind). The write through '/w' is acknowledged before it is in the
    // file; the direct read of the same file through '/' must still see it.
    const dir = hostDir()
    const { d } = await drive({ preopens: { '/': new HostFS(dir), '/w': wrapped(new HostFS(dir), []) }, direct: true, writeBehind: 1 << 16, cacheMs: 60_000 })
    const viaWrapper = await open(d, 'f', 4)
    const direct = await open(d, 'f', 3)
    expect(await pwrite(d, viaWrapper, 'HELLO', 0)).toEqual([Errno.SUCCESS, 5])
    expect(d.bridge.batches).toBe(0)
    expect(await pread(d, direct, 11, 0)).toEqual([Errno.SUCCESS, 'HELLO world'])
  })

  it('a write past the end extends the file; fstat through the FS sees the new size', async () => {
    const dir = hostDir()
    const { d } = await drive({ preopens: { '/': new HostFS(dir) }, direct: true, cacheMs: 60_000 })
    const fd = await open(d, 'new', 3, Oflags.CREAT)
    const stat = async (): Promise<bigint> => {
      const r = await d.call('fd_filestat_get', [fd, OUT], { reads: [[OUT, 64]] })
      return new DataView(r.reads[0]!.buffer).getBigUint64(32, true)
    }
    expect(await stat()).toBe(0n)
    // A cached stat must not survive the worker's own write.
    expect(await pwrite(d, fd, 'abc', 10)).toEqual([Errno.SUCCESS, 3])
    expect(await stat()).toBe(13n)
    expect(readFileSync(join(dir, 'new'))).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 97, 98, 99]))
  })
})

describe('errnoOfHostCode', () => {
  it('maps the host errno names to WASI errno values, anything else to EIO', () => {
    expect(errnoOfHostCode({ code: 'EIO' })).toBe(Errno.IO)
    expect(errnoOfHostCode({ code: 'ENOSPC' })).toBe(Errno.NOSPC)
    expect(errnoOfHostCode({ code: 'EBADF' })).toBe(Errno.BADF)
    expect(errnoOfHostCode({ code: 'EFBIG' })).toBe(Errno.FBIG)
    expect(errnoOfHostCode({ code: 'ESUCCESS' })).toBe(Errno.IO)
    expect(errnoOfHostCode({ code: 'ERR_OUT_OF_RANGE' })).toBe(Errno.IO)
    expect(errnoOfHostCode({ code: 'E2BIG' })).toBe(Errno['2BIG'])
    expect(errnoOfHostCode(new Error('x'))).toBe(Errno.IO)
    expect(errnoOfHostCode('EIO')).toBe(Errno.IO)
    expect(errnoOfHostCode({ code: 'EtoString' })).toBe(Errno.IO)
  })
})
