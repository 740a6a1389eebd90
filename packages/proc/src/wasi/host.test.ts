/**
 * The WASI preview1 host, call by call, through the real worker and bridge (driver mode):
 * each case states the spec's behaviour (witx docs of wasi_snapshot_preview1) it checks.
 */
import { MemoryFS, readText, writeFile, type FS } from '@honk/vfs'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeWasmWorkers } from '../node.js'
import { DIR_RIGHTS, Errno, Fdflags, Filetype, Fstflags, LOOKUP_SYMLINK_FOLLOW, Oflags, Rights, WASI_FUNCTIONS, Whence } from './abi.js'
import { startDriver, type Driver, type DriverOptions } from './driver.js'

const workers = nodeWasmWorkers()
const drivers: Driver[] = []
afterEach(() => {
  for (const d of drivers.splice(0)) d.close()
})
async function drive(options: DriverOptions = {}): Promise<Driver> {
  const d = await startDriver(workers, options)
  drivers.push(d)
  return d
}
const enc = new TextEncoder()
const dec = new TextDecoder()
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)
const u32 = (b: Uint8Array, o = 0) => dv(b).getUint32(o, true)
const u64 = (b: Uint8Array, o = 0) => dv(b).getBigUint64(o, true)
const le32 = (...vs: number[]) => {
  const b = new Uint8Array(vs.length * 4)
  vs.forEach((v, i) => dv(b).setUint32(i * 4, v, true))
  return b
}
const ALL = (1n << 30n) - 1n
const PATH = 2048
const OUT = 512
const IOV = 256
const BUF = 8192

/** path_open at `dirfd` (default the preopen, fd 3); returns [errno, fd]. */
async function open(d: Driver, path: string, o: { oflags?: number; base?: bigint; inh?: bigint; fdflags?: number; follow?: boolean; dirfd?: number } = {}): Promise<[number, number]> {
  const p = enc.encode(path)
  // A directory is opened with directory rights only: write rights on one are EISDIR.
  const base = o.base ?? ((o.oflags ?? 0) & Oflags.DIRECTORY ? DIR_RIGHTS : ALL)
  const r = await d.call('path_open', [o.dirfd ?? 3, o.follow === false ? 0 : LOOKUP_SYMLINK_FOLLOW, PATH, p.length, o.oflags ?? 0, base, o.inh ?? ALL, o.fdflags ?? 0, OUT], {
    writes: [[PATH, p]],
    reads: [[OUT, 4]],
  })
  return [r.errno!, u32(r.reads[0]!)]
}
async function write(d: Driver, fd: number, text: string): Promise<[number, number]> {
  const b = enc.encode(text)
  const r = await d.call('fd_write', [fd, IOV, 1, OUT], { writes: [[BUF, b], [IOV, le32(BUF, b.length)]], reads: [[OUT, 4]] })
  return [r.errno!, u32(r.reads[0]!)]
}
async function read(d: Driver, fd: number, n: number): Promise<[number, string]> {
  const r = await d.call('fd_read', [fd, IOV, 1, OUT], { writes: [[IOV, le32(BUF, n)]], reads: [[OUT, 4], [BUF, n]] })
  return [r.errno!, dec.decode(r.reads[1]!.subarray(0, u32(r.reads[0]!)))]
}
async function pathCall(d: Driver, fn: string, path: string, dirfd = 3): Promise<number> {
  const p = enc.encode(path)
  return (await d.call(fn, [dirfd, PATH, p.length], { writes: [[PATH, p]] })).errno!
}
async function seek(d: Driver, fd: number, off: bigint, whence: number): Promise<[number, bigint]> {
  const r = await d.call('fd_seek', [fd, off, whence, OUT], { reads: [[OUT, 8]] })
  return [r.errno!, u64(r.reads[0]!)]
}
async function fsDriver(files: Record<string, string> = {}): Promise<[Driver, FS]> {
  const fs = new MemoryFS({ files })
  return [await drive({ preopens: { '/sandbox': fs } }), fs]
}

describe('args and environ', () => {
  it('args_sizes_get/args_get: argc, NUL-terminated UTF-8 strings and their pointers', async () => {
    const d = await drive({ args: ['prog', 'a b', 'ü'] })
    const s = await d.call('args_sizes_get', [0, 4], { reads: [[0, 8]] })
    expect([s.errno, u32(s.reads[0]!), u32(s.reads[0]!, 4)]).toEqual([0, 3, 5 + 4 + 3])
    const g = await d.call('args_get', [100, 200], { reads: [[100, 12], [200, 12]] })
    expect(g.errno).toBe(0)
    expect([u32(g.reads[0]!), u32(g.reads[0]!, 4), u32(g.reads[0]!, 8)]).toEqual([200, 205, 209])
    expect(dec.decode(g.reads[1]!)).toBe('prog\0a b\0ü\0')
  })
  it('environ_sizes_get/environ_get', async () => {
    const d = await drive({ env: ['A=1', 'HOME=/'] })
    const s = await d.call('environ_sizes_get', [0, 4], { reads: [[0, 8]] })
    expect([u32(s.reads[0]!), u32(s.reads[0]!, 4)]).toEqual([2, 11])
    const g = await d.call('environ_get', [100, 200], { reads: [[200, 11]] })
    expect(dec.decode(g.reads[0]!)).toBe('A=1\0HOME=/\0')
  })
})

describe('clocks and random', () => {
  it('a deterministic clock advances by its step per read; an unknown clock id is EINVAL', async () => {
    const d = await drive({ clock: { startNs: 1000n, stepNs: 5n } })
    const a = await d.call('clock_time_get', [1, 0n, 0], { reads: [[0, 8]] })
    const b = await d.call('clock_time_get', [0, 0n, 0], { reads: [[0, 8]] })
    expect([u64(a.reads[0]!), u64(b.reads[0]!)]).toEqual([1000n, 1005n])
    expect((await d.call('clock_time_get', [9, 0n, 0])).errno).toBe(Errno.INVAL)
    const r = await d.call('clock_res_get', [1, 0], { reads: [[0, 8]] })
    expect([r.errno, u64(r.reads[0]!)]).toEqual([0, 5n])
  })
  it('the real clocks: realtime is near Date.now(), monotonic never goes back', async () => {
    const d = await drive()
    const rt = await d.call('clock_time_get', [0, 0n, 0], { reads: [[0, 8]] })
    expect(Number(u64(rt.reads[0]!) / 1_000_000n)).toBeGreaterThan(Date.now() - 5000)
    const m1 = u64((await d.call('clock_time_get', [1, 0n, 0], { reads: [[0, 8]] })).reads[0]!)
    const m2 = u64((await d.call('clock_time_get', [1, 0n, 0], { reads: [[0, 8]] })).reads[0]!)
    expect(m2 >= m1).toBe(true)
  })
  it('random_get: a seeded generator repeats; the default one fills the buffer', async () => {
    const a = await drive({ randomSeed: 42 })
    const b = await drive({ randomSeed: 42 })
    const ra = await a.call('random_get', [0, 64], { reads: [[0, 64]] })
    const rb = await b.call('random_get', [0, 64], { reads: [[0, 64]] })
    expect(ra.reads[0]).toEqual(rb.reads[0])
    const c = await drive()
    const rc = await c.call('random_get', [0, 100000], { reads: [[0, 100000]] })
    expect(rc.errno).toBe(0)
    expect(new Set(rc.reads[0]).size).toBeGreaterThan(200)
  })
})

describe('preopens and descriptors', () => {
  it('fd_prestat_get/fd_prestat_dir_name describe the preopen; other fds are EBADF', async () => {
    const [d] = await fsDriver()
    const p = await d.call('fd_prestat_get', [3, 0], { reads: [[0, 8]] })
    expect([p.errno, p.reads[0]![0], u32(p.reads[0]!, 4)]).toEqual([0, 0, 8])
    const n = await d.call('fd_prestat_dir_name', [3, 100, 8], { reads: [[100, 8]] })
    expect(dec.decode(n.reads[0]!)).toBe('/sandbox')
    expect((await d.call('fd_prestat_dir_name', [3, 100, 3])).errno).toBe(Errno.NAMETOOLONG)
    expect((await d.call('fd_prestat_get', [4, 0])).errno).toBe(Errno.BADF)
    expect((await d.call('fd_prestat_get', [1, 0])).errno).toBe(Errno.BADF)
  })

  it('create, write, seek, read, tell and close a file', async () => {
    const [d, fs] = await fsDriver()
    const [e, fd] = await open(d, 'f.txt', { oflags: Oflags.CREAT })
    expect([e, fd]).toEqual([0, 4])
    expect(await write(d, fd, 'hello world')).toEqual([0, 11])
    expect(await seek(d, fd, 6n, Whence.SET)).toEqual([0, 6n])
    expect(await read(d, fd, 100)).toEqual([0, 'world'])
    expect(await seek(d, fd, -5n, Whence.END)).toEqual([0, 6n])
    expect(await seek(d, fd, -1n, Whence.CUR)).toEqual([0, 5n])
    expect((await seek(d, fd, -10n, Whence.CUR))[0]).toBe(Errno.INVAL)
    expect((await seek(d, fd, 0n, 7))[0]).toBe(Errno.INVAL)
    const t = await d.call('fd_tell', [fd, 0], { reads: [[0, 8]] })
    expect(u64(t.reads[0]!)).toBe(5n)
    expect((await d.call('fd_close', [fd])).errno).toBe(0)
    expect((await d.call('fd_close', [fd])).errno).toBe(Errno.BADF)
    expect(await readText(fs, 'f.txt')).toBe('hello world')
    expect(d.server.openHandles).toBe(0)
  })

  it('fd_pread/fd_pwrite use their offset and leave the cursor alone', async () => {
    const [d, fs] = await fsDriver({ 'f': '0123456789' })
    const [, fd] = await open(d, 'f')
    const b = enc.encode('AB')
    const w = await d.call('fd_pwrite', [fd, IOV, 1, 4n, OUT], { writes: [[BUF, b], [IOV, le32(BUF, 2)]], reads: [[OUT, 4]] })
    expect([w.errno, u32(w.reads[0]!)]).toEqual([0, 2])
    const r = await d.call('fd_pread', [fd, IOV, 1, 3n, OUT], { writes: [[IOV, le32(BUF, 4)]], reads: [[OUT, 4], [BUF, 4]] })
    expect(dec.decode(r.reads[1]!)).toBe('3AB6')
    expect(await read(d, fd, 3)).toEqual([0, '012'])
    expect(await readText(fs, 'f')).toBe('0123AB6789')
    expect((await d.call('fd_pread', [1, IOV, 1, 0n, OUT])).errno).toBe(Errno.SPIPE)
  })

  it('APPEND writes at the end whatever the cursor; set_flags turns it on later', async () => {
    const [d, fs] = await fsDriver({ 'log': 'a' })
    const [, fd] = await open(d, 'log', { fdflags: Fdflags.APPEND })
    await write(d, fd, 'b')
    await seek(d, fd, 0n, Whence.SET)
    await write(d, fd, 'c')
    expect(await readText(fs, 'log')).toBe('abc')
    const [, fd2] = await open(d, 'log')
    expect((await d.call('fd_fdstat_set_flags', [fd2, Fdflags.APPEND])).errno).toBe(0)
    await write(d, fd2, 'd')
    expect(await readText(fs, 'log')).toBe('abcd')
    expect((await d.call('fd_fdstat_set_flags', [fd2, 0x100])).errno).toBe(Errno.INVAL)
  })

  it('fd_fdstat_get: stdio is a character device without seek/tell; rights only shrink', async () => {
    const [d] = await fsDriver({ f: 'x' })
    const s = await d.call('fd_fdstat_get', [1, 0], { reads: [[0, 24]] })
    expect(s.reads[0]![0]).toBe(Filetype.CHARACTER_DEVICE)
    expect(u64(s.reads[0]!, 8) & (Rights.FD_SEEK | Rights.FD_TELL)).toBe(0n)
    const [, fd] = await open(d, 'f', { base: Rights.FD_READ | Rights.FD_WRITE | Rights.FD_SEEK })
    const f = await d.call('fd_fdstat_get', [fd, 0], { reads: [[0, 24]] })
    expect([f.reads[0]![0], u64(f.reads[0]!, 8)]).toEqual([Filetype.REGULAR_FILE, Rights.FD_READ | Rights.FD_WRITE | Rights.FD_SEEK])
    expect((await d.call('fd_fdstat_set_rights', [fd, Rights.FD_READ | Rights.FD_TELL, 0n])).errno).toBe(Errno.NOTCAPABLE)
    expect((await d.call('fd_fdstat_set_rights', [fd, Rights.FD_READ, 0n])).errno).toBe(0)
    expect((await write(d, fd, 'y'))[0]).toBe(Errno.NOTCAPABLE)
    expect((await seek(d, fd, 1n, Whence.SET))[0]).toBe(Errno.NOTCAPABLE)
    expect((await read(d, fd, 1))).toEqual([0, 'x'])
    const dir = await d.call('fd_fdstat_get', [3, 0], { reads: [[0, 24]] })
    expect(dir.reads[0]![0]).toBe(Filetype.DIRECTORY)
  })

  it('a descriptor holds only the rights its directory passes on (ENOTCAPABLE)', async () => {
    const [d] = await fsDriver({ f: 'x' })
    const [, sub] = await open(d, '.', { oflags: Oflags.DIRECTORY })
    const st = await d.call('fd_fdstat_get', [sub, 0], { reads: [[0, 24]] })
    const dirRights = u64(st.reads[0]!, 8)
    expect(dirRights & Rights.FD_WRITE).toBe(0n)
    expect((await d.call('fd_fdstat_set_rights', [sub, dirRights & ~Rights.PATH_CREATE_FILE, Rights.FD_READ])).errno).toBe(0)
    expect((await open(d, 'f', { base: Rights.FD_WRITE, dirfd: sub }))[0]).toBe(Errno.NOTCAPABLE)
    expect((await open(d, 'f', { base: Rights.FD_READ, dirfd: sub }))[0]).toBe(0)
    expect((await open(d, 'g', { base: Rights.FD_READ, dirfd: sub, oflags: Oflags.CREAT }))[0]).toBe(Errno.NOTCAPABLE)
  })

  it('filestat: get, set size, set times (and the invalid flag combinations)', async () => {
    const [d] = await fsDriver({ f: 'hello' })
    const [, fd] = await open(d, 'f')
    const g = await d.call('fd_filestat_get', [fd, 0], { reads: [[0, 64]] })
    expect([g.reads[0]![16], u64(g.reads[0]!, 32)]).toEqual([Filetype.REGULAR_FILE, 5n])
    expect((await d.call('fd_filestat_set_size', [fd, 2n])).errno).toBe(0)
    const p = enc.encode('f')
    const ps = await d.call('path_filestat_get', [3, 0, PATH, 1, 0], { writes: [[PATH, p]], reads: [[0, 64]] })
    expect(u64(ps.reads[0]!, 32)).toBe(2n)
    // Nanoseconds round-trip exactly, though @honk/vfs keeps milliseconds (wasi-testsuite path_filestat).
    const when = 1_600_000_000_123_456_789n
    expect((await d.call('fd_filestat_set_times', [fd, 0n, when, Fstflags.MTIM])).errno).toBe(0)
    const after = await d.call('fd_filestat_get', [fd, 0], { reads: [[0, 64]] })
    expect(u64(after.reads[0]!, 48)).toBe(when)
    expect((await d.call('fd_filestat_set_times', [fd, 0n, 0n, Fstflags.ATIM | Fstflags.ATIM_NOW])).errno).toBe(Errno.INVAL)
    expect((await d.call('path_filestat_set_times', [3, 0, PATH, 1, when, 0n, Fstflags.ATIM | 0x40], { writes: [[PATH, p]] })).errno).toBe(Errno.INVAL)
    expect((await d.call('path_filestat_set_times', [3, 0, PATH, 1, when, 0n, Fstflags.ATIM], { writes: [[PATH, p]] })).errno).toBe(0)
    const at = await d.call('path_filestat_get', [3, 0, PATH, 1, 0], { writes: [[PATH, p]], reads: [[0, 64]] })
    expect(u64(at.reads[0]!, 40)).toBe(when)
    expect((await d.call('fd_filestat_set_size', [3, 0n])).errno).toBe(Errno.BADF)
  })

  it('fd_readdir: ".", "..", the entries, resumable at any d_next cookie with a small buffer', async () => {
    const [d] = await fsDriver({ 'd/a': '1', 'd/bb': '2', 'd/ccc': '3' })
    const [, fd] = await open(d, 'd', { oflags: Oflags.DIRECTORY })
    const names: string[] = []
    let cookie = 0n
    for (let round = 0; round < 20; round++) {
      const r = await d.call('fd_readdir', [fd, BUF, 40, cookie, OUT], { reads: [[BUF, 40], [OUT, 4]] })
      expect(r.errno).toBe(0)
      const used = u32(r.reads[1]!)
      const buf = r.reads[0]!
      let off = 0
      let got = 0
      while (off + 24 <= used) {
        const len = u32(buf, off + 16)
        if (off + 24 + len > used) break
        names.push(dec.decode(buf.subarray(off + 24, off + 24 + len)))
        cookie = u64(buf, off)
        off += 24 + len
        got++
      }
      if (used < 40 && got === 0) break
      if (used < 40) break
    }
    expect(names).toEqual(['.', '..', 'a', 'bb', 'ccc'])
    const end = await d.call('fd_readdir', [fd, BUF, 1000, 5n, OUT], { reads: [[OUT, 4]] })
    expect(u32(end.reads[0]!)).toBe(0)
    const [, file] = await open(d, 'd/a')
    expect((await d.call('fd_readdir', [file, BUF, 100, 0n, OUT])).errno).toBe(Errno.NOTDIR)
  })

  it('fd_renumber moves a descriptor onto another (closing it); both must be open', async () => {
    const [d, fs] = await fsDriver({ a: 'A', b: 'B' })
    const [, fa] = await open(d, 'a')
    const [, fb] = await open(d, 'b')
    expect((await d.call('fd_renumber', [fa, fb])).errno).toBe(0)
    expect(await read(d, fb, 1)).toEqual([0, 'A'])
    expect((await d.call('fd_close', [fa])).errno).toBe(Errno.BADF)
    expect((await d.call('fd_renumber', [fb, 99])).errno).toBe(Errno.BADF)
    expect(d.server.openHandles).toBe(1)
    void fs
  })

  it('fd_advise, fd_allocate, fd_datasync, fd_sync', async () => {
    const [d, fs] = await fsDriver({ f: 'ab' })
    const [, fd] = await open(d, 'f')
    expect((await d.call('fd_advise', [fd, 0n, 10n, 2])).errno).toBe(0)
    expect((await d.call('fd_advise', [fd, 0n, 10n, 6])).errno).toBe(Errno.INVAL)
    expect((await d.call('fd_allocate', [fd, 4n, 4n])).errno).toBe(0)
    expect((await fs.stat('f')).size).toBe(8)
    expect((await d.call('fd_allocate', [fd, 0n, 2n])).errno).toBe(0)
    expect((await fs.stat('f')).size).toBe(8)
    expect((await d.call('fd_datasync', [fd])).errno).toBe(0)
    expect((await d.call('fd_sync', [fd])).errno).toBe(0)
    expect((await d.call('fd_sync', [3])).errno).toBe(0)
    expect((await d.call('fd_allocate', [3, 0n, 1n])).errno).toBe(Errno.BADF)
  })
})

describe('paths', () => {
  it('path_open: EXCL, DIRECTORY, TRUNC, missing files, directories opened for writing, trailing slashes', async () => {
    const [d, fs] = await fsDriver({ f: 'data', 'dir/x': '' })
    expect((await open(d, 'f', { oflags: Oflags.CREAT | Oflags.EXCL }))[0]).toBe(Errno.EXIST)
    expect((await open(d, 'f', { oflags: Oflags.DIRECTORY }))[0]).toBe(Errno.NOTDIR)
    expect((await open(d, 'f/'))[0]).toBe(Errno.NOTDIR)
    expect((await open(d, 'nope'))[0]).toBe(Errno.NOENT)
    expect((await open(d, 'nope/x', { oflags: Oflags.CREAT }))[0]).toBe(Errno.NOENT)
    expect((await open(d, 'dir', { base: Rights.FD_WRITE }))[0]).toBe(Errno.ISDIR)
    expect((await open(d, 'dir', { base: Rights.FD_READ | Rights.FD_WRITE, oflags: Oflags.DIRECTORY }))[0]).toBe(Errno.ISDIR)
    expect((await open(d, 'dir', { base: Rights.FD_READ, oflags: Oflags.DIRECTORY }))[0]).toBe(0)
    expect((await open(d, 'dir', { oflags: Oflags.TRUNC }))[0]).toBe(Errno.ISDIR)
    expect((await open(d, 'f', { oflags: 0x10 }))[0]).toBe(Errno.INVAL)
    expect((await open(d, 'f', { oflags: Oflags.TRUNC }))[0]).toBe(0)
    expect((await fs.stat('f')).size).toBe(0)
    expect((await open(d, 'f', { dirfd: 1 }))[0]).toBe(Errno.NOTDIR)
    expect((await open(d, 'f', { dirfd: 77 }))[0]).toBe(Errno.BADF)
  })

  it('paths cannot leave the directory they start at: "..", absolute paths (ENOTCAPABLE)', async () => {
    const [d] = await fsDriver({ 'a/f': 'x', 'top': 't' })
    expect((await open(d, '../etc/passwd'))[0]).toBe(Errno.NOTCAPABLE)
    expect((await open(d, '/etc/passwd'))[0]).toBe(Errno.NOTCAPABLE)
    expect((await open(d, 'a/../../x'))[0]).toBe(Errno.NOTCAPABLE)
    expect((await open(d, 'a/../top'))[0]).toBe(0)
    const [, a] = await open(d, 'a', { oflags: Oflags.DIRECTORY })
    expect((await open(d, '../top', { dirfd: a }))[0]).toBe(Errno.NOTCAPABLE)
    expect((await open(d, 'f', { dirfd: a }))[0]).toBe(0)
    expect(await pathCall(d, 'path_create_directory', '../x')).toBe(Errno.NOTCAPABLE)
    expect(await pathCall(d, 'path_unlink_file', '/top')).toBe(Errno.NOTCAPABLE)
    expect((await open(d, ''))[0]).toBe(Errno.NOENT)
  })

  it('symlinks: created, read, followed inside; pointing out or absolute: refused; loops: ELOOP', async () => {
    const [d, fs] = await fsDriver({ 'a/f': 'inside', top: 't' })
    const mk = async (target: string, path: string) => {
      const t = enc.encode(target)
      const p = enc.encode(path)
      return (await d.call('path_symlink', [PATH, t.length, 3, PATH + 256, p.length], { writes: [[PATH, t], [PATH + 256, p]] })).errno
    }
    expect(await mk('a/f', 'link')).toBe(0)
    expect(await fs.readlink('link')).toBe('a/f')
    const [, fd] = await open(d, 'link')
    expect(await read(d, fd, 10)).toEqual([0, 'inside'])
    expect((await open(d, 'link', { follow: false }))[0]).toBe(Errno.LOOP)
    const p = enc.encode('link')
    const rl = await d.call('path_readlink', [3, PATH, p.length, BUF, 2, OUT], { writes: [[PATH, p]], reads: [[BUF, 2], [OUT, 4]] })
    expect([rl.errno, dec.decode(rl.reads[0]!), u32(rl.reads[1]!)]).toEqual([0, 'a/', 2])
    expect(await mk('/etc/passwd', 'abs')).toBe(Errno.PERM)
    expect(await mk('../../outside', 'a/out')).toBe(0)
    expect((await open(d, 'a/out'))[0]).toBe(Errno.NOTCAPABLE)
    expect(await mk('../top', 'a/up')).toBe(0)
    expect((await open(d, 'a/up'))[0]).toBe(0)
    const [, a] = await open(d, 'a', { oflags: Oflags.DIRECTORY })
    expect((await open(d, 'up', { dirfd: a }))[0]).toBe(Errno.NOTCAPABLE)
    expect(await mk('loop2', 'loop1')).toBe(0)
    expect(await mk('loop1', 'loop2')).toBe(0)
    expect((await open(d, 'loop1'))[0]).toBe(Errno.LOOP)
    expect(await mk('x', 'top')).toBe(Errno.EXIST)
    expect(await mk('x', 'newdir/')).toBe(Errno.NOENT)
    expect(await mk('x', 'top/')).toBe(Errno.NOTDIR)
    const nl = await d.call('path_readlink', [3, PATH, 3, BUF, 10, OUT], { writes: [[PATH, enc.encode('top')]] })
    expect(nl.errno).toBe(Errno.INVAL)
  })

  it('directories: create, remove, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR', async () => {
    const [d, fs] = await fsDriver({ 'full/x': '', f: '' })
    expect(await pathCall(d, 'path_create_directory', 'new')).toBe(0)
    expect((await fs.stat('new')).type).toBe('dir')
    expect(await pathCall(d, 'path_create_directory', 'new')).toBe(Errno.EXIST)
    expect(await pathCall(d, 'path_remove_directory', 'full')).toBe(Errno.NOTEMPTY)
    expect(await pathCall(d, 'path_remove_directory', 'f')).toBe(Errno.NOTDIR)
    expect(await pathCall(d, 'path_unlink_file', 'full')).toBe(Errno.ISDIR)
    expect(await pathCall(d, 'path_unlink_file', 'f/')).toBe(Errno.NOTDIR)
    expect(await pathCall(d, 'path_remove_directory', 'new/')).toBe(0)
    expect(await pathCall(d, 'path_unlink_file', 'f')).toBe(0)
    expect(await pathCall(d, 'path_unlink_file', 'f')).toBe(Errno.NOENT)
    expect(await pathCall(d, 'path_remove_directory', '.')).toBe(Errno.INVAL)
  })

  it('path_rename: files and directories, replacing, and the POSIX refusals', async () => {
    const [d, fs] = await fsDriver({ a: 'A', b: 'B', 'd1/x': '', 'd2/y': '', e: '' })
    const ren = async (from: string, to: string) => {
      const f = enc.encode(from)
      const t = enc.encode(to)
      return (await d.call('path_rename', [3, PATH, f.length, 3, PATH + 256, t.length], { writes: [[PATH, f], [PATH + 256, t]] })).errno
    }
    expect(await ren('a', 'b')).toBe(0)
    expect(await readText(fs, 'b')).toBe('A')
    expect(await ren('d1', 'd2')).toBe(Errno.NOTEMPTY)
    expect(await ren('b', 'd1')).toBe(Errno.ISDIR)
    expect(await ren('d1', 'e')).toBe(Errno.NOTDIR)
    expect(await ren('d1', 'd1/sub')).toBe(Errno.INVAL)
    expect(await ren('missing', 'z')).toBe(Errno.NOENT)
    expect(await ren('d1', 'moved')).toBe(0)
    expect(await readText(fs, 'moved/x')).toBe('')
    expect(await ren('b', '../b')).toBe(Errno.NOTCAPABLE)
  })

  it('path_link: two names of one file (writes through one seen through the other, nlink 2, a name removed leaves the other); the checks; ENOTSUP from an FS without hard links', async () => {
    const [d, fs] = await fsDriver({ a: 'A', b: 'B' })
    const link = async (from: string, to: string) => {
      const f = enc.encode(from)
      const t = enc.encode(to)
      return (await d.call('path_link', [3, 0, PATH, f.length, 3, PATH + 256, t.length], { writes: [[PATH, f], [PATH + 256, t]] })).errno
    }
    expect(await link('missing', 'x')).toBe(Errno.NOENT)
    expect(await link('a', 'b')).toBe(Errno.EXIST)
    expect(await link('a', '../x')).toBe(Errno.NOTCAPABLE)
    expect(await link('a', 'c')).toBe(0)
    expect((await fs.stat('c')).nlink).toBe(2)
    // In place (writeFile would replace the name with a new file).
    const h = await fs.open('a', { write: true, truncate: true })
    await h.write(0, enc.encode('changed'))
    await h.close()
    expect(await readText(fs, 'c')).toBe('changed')
    expect(await pathCall(d, 'path_unlink_file', 'a')).toBe(0)
    expect(await readText(fs, 'c')).toBe('changed')
    expect((await fs.stat('c')).nlink).toBe(1)
    expect(await pathCall(d, 'path_create_directory', 'dir')).toBe(0)
    expect(await link('dir', 'dir2')).toBe(Errno.PERM)
    // A file system without hard links (here: MemoryFS with its link taken away).
    const plain = new MemoryFS({ files: { a: 'A' } })
    const noLinks: FS = { readOnly: false, stat: (p) => plain.stat(p), readDir: (p) => plain.readDir(p), open: (p, o) => plain.open(p, o), mkdir: (p, m) => plain.mkdir(p, m), remove: (p) => plain.remove(p), rename: (a, b) => plain.rename(a, b), symlink: (t, p) => plain.symlink(t, p), readlink: (p) => plain.readlink(p), setattr: (p, a) => plain.setattr(p, a), sync: () => plain.sync() }
    const d2 = await drive({ preopens: { '/': noLinks, '/other': new MemoryFS() } })
    const link2 = async (from: string, to: string, toFd = 3) => {
      const f = enc.encode(from)
      const t = enc.encode(to)
      return (await d2.call('path_link', [3, 0, PATH, f.length, toFd, PATH + 256, t.length], { writes: [[PATH, f], [PATH + 256, t]] })).errno
    }
    expect(await link2('a', 'c')).toBe(Errno.NOTSUP)
    // Across two preopens (two file systems): EXDEV.
    expect(await link2('a', 'c', 4)).toBe(Errno.XDEV)
  })

  it('a path that is not UTF-8 is EILSEQ', async () => {
    const [d] = await fsDriver()
    const r = await d.call('path_create_directory', [3, PATH, 2], { writes: [[PATH, new Uint8Array([0xff, 0xfe])]] })
    expect(r.errno).toBe(Errno.ILSEQ)
  })
})

describe('poll, process, sockets, stdio', () => {
  it('poll_oneoff: a clock subscription sleeps (deterministic clock: advances it); fd events are ready at once', async () => {
    const fs = new MemoryFS({ files: { f: '12345' } })
    const d = await drive({ preopens: { '/': fs }, clock: { startNs: 0n, stepNs: 0n } })
    const sub = new Uint8Array(48 * 3)
    const v = dv(sub)
    v.setBigUint64(0, 11n, true)
    v.setUint8(8, 0)
    v.setUint32(16, 1, true)
    v.setBigUint64(24, 5_000_000_000n, true)
    const one = await d.call('poll_oneoff', [BUF, BUF + 1024, 1, OUT], { writes: [[BUF, sub.subarray(0, 48)]], reads: [[BUF + 1024, 32], [OUT, 4]] })
    expect([one.errno, u32(one.reads[1]!), u64(one.reads[0]!), one.reads[0]![10]]).toEqual([0, 1, 11n, 0])
    const now = await d.call('clock_time_get', [1, 0n, 0], { reads: [[0, 8]] })
    expect(u64(now.reads[0]!)).toBe(5_000_000_000n)
    const [, fd] = await open(d, 'f')
    v.setBigUint64(48, 22n, true)
    v.setUint8(56, 1)
    v.setUint32(64, fd, true)
    v.setBigUint64(96, 33n, true)
    v.setUint8(104, 2)
    v.setUint32(112, 1, true)
    const two = await d.call('poll_oneoff', [BUF, BUF + 1024, 3, OUT], { writes: [[BUF, sub]], reads: [[BUF + 1024, 96], [OUT, 4]] })
    expect(u32(two.reads[1]!)).toBe(2)
    const ev = two.reads[0]!
    expect([u64(ev, 0), ev[10], u64(ev, 16)]).toEqual([22n, 1, 5n])
    expect([u64(ev, 32), ev[42]]).toEqual([33n, 2])
    expect((await d.call('poll_oneoff', [BUF, BUF + 1024, 0, OUT])).errno).toBe(Errno.INVAL)
    expect((await d.call('poll_oneoff', [BUF, 0xfffff000, 3, OUT])).errno).toBe(Errno.FAULT)
    v.setUint8(8, 9)
    expect((await d.call('poll_oneoff', [BUF, BUF + 1024, 1, OUT], { writes: [[BUF, sub.subarray(0, 48)]] })).errno).toBe(Errno.INVAL)
  })

  it('poll_oneoff: a real relative clock waits about that long', async () => {
    const d = await drive()
    const sub = new Uint8Array(48)
    dv(sub).setBigUint64(24, 50_000_000n, true)
    const t0 = performance.now()
    const r = await d.call('poll_oneoff', [BUF, BUF + 1024, 1, OUT], { writes: [[BUF, sub]], reads: [[OUT, 4]] })
    expect([r.errno, u32(r.reads[0]!)]).toEqual([0, 1])
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45)
  })

  it('proc_exit, proc_raise, sched_yield', async () => {
    const d = await drive()
    expect((await d.call('sched_yield', [])).errno).toBe(0)
    expect((await d.call('proc_raise', [0])).errno).toBe(0)
    expect((await d.call('proc_raise', [16])).errno).toBe(0)
    expect((await d.call('proc_raise', [31])).errno).toBe(Errno.INVAL)
    expect((await d.call('proc_raise', [15])).thrown).toBe('signal 15')
    expect((await d.call('proc_exit', [3])).thrown).toBe('exit 3')
  })

  it('sock_*: no socket is handed in, so ENOTSOCK on a descriptor and EBADF on none', async () => {
    const d = await drive()
    for (const [fn, args] of [['sock_accept', [1, 0, 0]], ['sock_recv', [1, 0, 0, 0, 0, 0]], ['sock_send', [1, 0, 0, 0, 0]], ['sock_shutdown', [1, 3]]] as const) {
      expect((await d.call(fn, [...args])).errno).toBe(Errno.NOTSOCK)
      expect((await d.call(fn, [99, ...args.slice(1)])).errno).toBe(Errno.BADF)
    }
  })

  it('stdout/stderr go to the console; stdin reads the given source; stdio cannot seek', async () => {
    const input = enc.encode('typed')
    let off = 0
    const d = await drive({ stdin: { read: async (n) => input.slice(off, (off += n)) } })
    await write(d, 1, 'out')
    await write(d, 2, 'err')
    expect(await read(d, 0, 3)).toEqual([0, 'typ'])
    expect(await read(d, 0, 10)).toEqual([0, 'ed'])
    expect(await read(d, 0, 10)).toEqual([0, ''])
    await new Promise((r) => setTimeout(r, 20))
    expect(d.stdout.map((b) => dec.decode(b))).toEqual(['out'])
    expect(d.stderr.map((b) => dec.decode(b))).toEqual(['err'])
    expect((await seek(d, 1, 0n, Whence.SET))[0]).toBe(Errno.SPIPE)
    expect((await d.call('fd_tell', [1, 0])).errno).toBe(Errno.SPIPE)
    expect((await write(d, 0, 'x'))[0]).toBe(Errno.NOTCAPABLE)
  })

  it('a read longer than the shared buffer comes back whole (chunked), as does a long readdir', async () => {
    const big = 'x'.repeat(5000) + 'END'
    const names: Record<string, string> = {}
    for (let i = 0; i < 100; i++) names[`dir/file-with-a-long-name-${String(i).padStart(3, '0')}`] = ''
    const fs = new MemoryFS({ files: { big, ...names } })
    const d = await drive({ preopens: { '/': fs }, capacity: 1024 })
    const [, fd] = await open(d, 'big')
    const [e, text] = await read(d, fd, 6000)
    expect([e, text.length, text.endsWith('END')]).toEqual([0, 5003, true])
    const [, dir] = await open(d, 'dir', { oflags: Oflags.DIRECTORY })
    const r = await d.call('fd_readdir', [dir, BUF, 20000, 0n, OUT], { reads: [[OUT, 4]] })
    expect(u32(r.reads[0]!)).toBe(102 * 24 + 2 + 1 + 100 * 'file-with-a-long-name-000'.length)
  })
})

describe('hostile calls: an errno, never a host exception', () => {
  const EXIT = new Set(['proc_exit', 'proc_raise'])
  it('every import with out-of-bounds pointers and huge lengths', async () => {
    const [d] = await fsDriver({ f: 'x', 'dir/y': '' })
    await open(d, 'f')
    for (const fn of WASI_FUNCTIONS) {
      if (EXIT.has(fn)) continue
      for (const fd of [3, 4, 1]) {
        for (const bad of [0xfffffff0, 0x7fffffff, -1, 131072 - 2]) {
          const arity = ARITY[fn]
          const args = arity.map((k, i) => (k === 'fd' ? (i === 0 ? fd : fd) : k === 'u64' ? BigInt(bad >>> 0) : bad))
          const r = await d.call(fn, args)
          expect(r.thrown, `${fn}(${args.join(', ')})`).toBeUndefined()
          expect(typeof r.errno).toBe('number')
        }
      }
    }
  })

  it('huge iovec counts and iovecs pointing outside memory are EFAULT', async () => {
    const [d] = await fsDriver({ f: 'x' })
    const [, fd] = await open(d, 'f')
    expect((await d.call('fd_write', [1, 0, 0x10000000, OUT])).errno).toBe(Errno.FAULT)
    expect((await d.call('fd_read', [fd, 0, 0xffffffff, OUT])).errno).toBe(Errno.FAULT)
    const r = await d.call('fd_write', [1, IOV, 1, OUT], { writes: [[IOV, le32(0xffff0000, 100)]] })
    expect(r.errno).toBe(Errno.FAULT)
    const r2 = await d.call('fd_read', [fd, IOV, 1, OUT], { writes: [[IOV, le32(131000, 1000)]] })
    expect(r2.errno).toBe(Errno.FAULT)
  })

  it('invalid descriptors are EBADF for every call that takes one', async () => {
    const d = await drive()
    for (const fn of WASI_FUNCTIONS) {
      const arity = ARITY[fn]
      if (arity[0] !== 'fd') continue
      const r = await d.call(fn, arity.map((k) => (k === 'fd' ? 1234 : k === 'u64' ? 0n : 0)))
      expect(r.errno, fn).toBe(Errno.BADF)
    }
  })

  it('opening more descriptors than the limit ends the module', async () => {
    const fs = new MemoryFS({ files: { f: '' } })
    const d = await drive({ preopens: { '/': fs }, maxOpenFds: 6 })
    expect((await open(d, 'f'))[0]).toBe(0)
    expect((await open(d, 'f'))[0]).toBe(0)
    const p = enc.encode('f')
    const r = await d.call('path_open', [3, 0, PATH, 1, 0, ALL, ALL, 0, OUT], { writes: [[PATH, p]] })
    expect(r.thrown).toMatch(/^limit fds/)
  })
})

type Kind = 'fd' | 'i32' | 'u64'
const I: Kind = 'i32'
const F: Kind = 'fd'
const L: Kind = 'u64'
/** Parameter kinds of each import (witx). */
const ARITY: Record<(typeof WASI_FUNCTIONS)[number], Kind[]> = {
  args_get: [I, I], args_sizes_get: [I, I], environ_get: [I, I], environ_sizes_get: [I, I], clock_res_get: [I, I],
  clock_time_get: [I, L, I], fd_advise: [F, L, L, I], fd_allocate: [F, L, L], fd_close: [F], fd_datasync: [F],
  fd_fdstat_get: [F, I], fd_fdstat_set_flags: [F, I], fd_fdstat_set_rights: [F, L, L], fd_filestat_get: [F, I],
  fd_filestat_set_size: [F, L], fd_filestat_set_times: [F, L, L, I], fd_pread: [F, I, I, L, I], fd_prestat_get: [F, I],
  fd_prestat_dir_name: [F, I, I], fd_pwrite: [F, I, I, L, I], fd_read: [F, I, I, I], fd_readdir: [F, I, I, L, I],
  fd_renumber: [F, F], fd_seek: [F, L, I, I], fd_sync: [F], fd_tell: [F, I], fd_write: [F, I, I, I],
  path_create_directory: [F, I, I], path_filestat_get: [F, I, I, I, I], path_filestat_set_times: [F, I, I, I, L, L, I],
  path_link: [F, I, I, I, F, I, I], path_open: [F, I, I, I, I, L, L, I, I], path_readlink: [F, I, I, I, I, I],
  path_remove_directory: [F, I, I], path_rename: [F, I, I, F, I, I], path_symlink: [I, I, F, I, I], path_unlink_file: [F, I, I],
  poll_oneoff: [I, I, I, I], proc_exit: [I], proc_raise: [I], sched_yield: [], random_get: [I, I], sock_accept: [F, I, I],
  sock_recv: [F, I, I, I, I, I], sock_send: [F, I, I, I, I], sock_shutdown: [F, I],
}
void writeFile
