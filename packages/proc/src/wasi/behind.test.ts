/**
 * Write-behind, read-ahead and the stat cache (behind.ts, host.ts): what the module was told
 * succeeded is never lost, whatever ends the process; other processes see buffered writes
 * within the flush timer; a deferred write error reaches the module at its next write, sync or
 * close of that file; another process's change is seen once the cache lifetime has passed.
 * (That a module's own view is exact is the fast-check property of model.test.ts.)
 */
import { MemoryFS, readFile, type FileHandle, type FS } from '@honk/vfs'
import { FsError } from '@honk/vfs'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeWasmWorkers, spawnWasm } from '../node.js'
import { ProcessTable } from '../table.js'
import { Errno, LOOKUP_SYMLINK_FOLLOW, Oflags, Rights } from './abi.js'
import { startDriver, type Driver, type DriverOptions } from './driver.js'
import { assemble, op } from './testing.js'

const workers = nodeWasmWorkers({ prewarm: 1 })
const I = 'i32' as const
const L = 'i64' as const
const enc = new TextEncoder()
const dec = new TextDecoder()
const drivers: Driver[] = []
afterEach(() => {
  for (const d of drivers.splice(0)) d.close()
})
async function drive(options: DriverOptions): Promise<Driver> {
  const d = await startDriver(workers, options)
  drivers.push(d)
  return d
}
const le32 = (...vs: number[]) => {
  const b = new Uint8Array(vs.length * 4)
  vs.forEach((v, i) => new DataView(b.buffer).setUint32(i * 4, v, true))
  return b
}
const u32 = (b: Uint8Array, o = 0) => new DataView(b.buffer, b.byteOffset).getUint32(o, true)

/**
 * A module that opens "log" (create, truncate) and then, for i = 0, 1, 2, … forever: writes i
 * (4 bytes) to the file, and once that write has returned, writes i to stdout.
 */
function counterModule(): Uint8Array {
  return assemble({
    imports: [
      { name: 'path_open', params: [I, I, I, I, I, L, L, I, I], results: [I] },
      { name: 'fd_write', params: [I, I, I, I], results: [I] },
    ],
    memory: { min: 1 },
    data: [
      // iovec at 0 (the counter at 64, 4 bytes), used for both the file and stdout.
      { offset: 0, bytes: le32(64, 4) },
      { offset: 100, bytes: 'log' },
    ],
    funcs: [
      {
        export: '_start',
        body: [
          ...op.i32(3), ...op.i32(0), ...op.i32(100), ...op.i32(3), ...op.i32(Oflags.CREAT | Oflags.TRUNC),
          ...op.i64(Rights.FD_WRITE), ...op.i64(0), ...op.i32(0), ...op.i32(32), ...op.call(0), ...op.drop,
          ...op.loop,
          ...op.i32(32), ...op.i32Load(), ...op.i32(0), ...op.i32(1), ...op.i32(16), ...op.call(1), ...op.drop,
          ...op.i32(1), ...op.i32(0), ...op.i32(1), ...op.i32(16), ...op.call(1), ...op.drop,
          ...op.i32(64), ...op.i32(64), ...op.i32Load(), ...op.i32(1), ...op.i32Add, ...op.i32Store(),
          ...op.br(0),
          ...op.end,
        ],
      },
    ],
  })
}

/** The file must hold exactly 0, 1, …, m-1 (4 bytes each): a prefix of what was written, no hole, nothing else. */
function prefixLength(bytes: Uint8Array): number {
  expect(bytes.length % 4).toBe(0)
  const m = bytes.length / 4
  for (let i = 0; i < m; i++) expect(u32(bytes, i * 4), `word ${i}`).toBe(i)
  return m
}

describe('write-behind: nothing acknowledged is lost', () => {
  it('kill at a random moment: the file holds every write the module saw succeed, in order, and nothing else', async () => {
    const bytes = counterModule()
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 60 }), fc.constantFrom(0, 64, 1 << 20), async (delayMs, writeBehind) => {
        const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
        const fs = new MemoryFS()
        let reported = -1
        let first!: () => void
        const started = new Promise<void>((r) => (first = r))
        const p = spawnWasm(bytes, {
          table, workers, preopens: { '/': fs }, caps: ['fs', 'console'], io: { writeBehind },
          limits: { maxOutputBytesPerSecond: 1 << 30 },
          stdout: (b) => {
            // The last counter value whose file write had returned when it was printed.
            if (b.length >= 4) reported = Math.max(reported, u32(b, b.length - 4))
            first()
          },
        })
        await started
        await new Promise((r) => setTimeout(r, delayMs))
        p.kill()
        const e = await p.exit
        expect(e.info.state).toBe('killed')
        // Acknowledged = the module's fd_write returned success; it printed the value after that.
        const m = prefixLength(await readFile(fs, 'log'))
        expect(m).toBeGreaterThan(reported)
      }),
      { numRuns: 12 },
    )
  }, 60_000)

  it('a module that writes and then spins: other processes see the writes within the flush timer, before any exit', async () => {
    const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
    const fs = new MemoryFS()
    const text = 'written, not yet flushed by any call'
    const bytes = assemble({
      imports: [
        { name: 'path_open', params: [I, I, I, I, I, L, L, I, I], results: [I] },
        { name: 'fd_write', params: [I, I, I, I], results: [I] },
      ],
      memory: { min: 1 },
      data: [{ offset: 0, bytes: le32(200, text.length) }, { offset: 100, bytes: 'out' }, { offset: 200, bytes: text }],
      funcs: [{
        export: '_start',
        body: [
          ...op.i32(3), ...op.i32(0), ...op.i32(100), ...op.i32(3), ...op.i32(Oflags.CREAT),
          ...op.i64(Rights.FD_WRITE), ...op.i64(0), ...op.i32(0), ...op.i32(32), ...op.call(0), ...op.drop,
          ...op.i32(32), ...op.i32Load(), ...op.i32(0), ...op.i32(1), ...op.i32(16), ...op.call(1), ...op.drop,
          ...op.loop, ...op.br(0), ...op.end,
        ],
      }],
    })
    const p = spawnWasm(bytes, { table, workers, preopens: { '/': fs }, caps: ['fs'] })
    const t0 = performance.now()
    let seen = ''
    while (seen !== text && performance.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 2))
      seen = await readFile(fs, 'out').then((b) => dec.decode(b), () => '')
    }
    expect(seen).toBe(text)
    expect(table.get(p.pid)?.state).toBe('running')
    p.kill()
    await p.exit
  })

  it('a normal exit leaves every buffered write in the file before exit settles', async () => {
    const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
    const fs = new MemoryFS()
    const block = 'x'.repeat(1000)
    // 300 writes of 1000 bytes into a 64 KiB region: full batches, then a partial one at exit.
    const bytes = assemble({
      imports: [
        { name: 'path_open', params: [I, I, I, I, I, L, L, I, I], results: [I] },
        { name: 'fd_write', params: [I, I, I, I], results: [I] },
      ],
      memory: { min: 1 },
      data: [{ offset: 0, bytes: le32(200, block.length) }, { offset: 100, bytes: 'out' }, { offset: 200, bytes: block }],
      funcs: [{
        export: '_start',
        locals: [I],
        body: [
          ...op.i32(3), ...op.i32(0), ...op.i32(100), ...op.i32(3), ...op.i32(Oflags.CREAT),
          ...op.i64(Rights.FD_WRITE), ...op.i64(0), ...op.i32(0), ...op.i32(32), ...op.call(0), ...op.drop,
          ...op.loop,
          ...op.i32(32), ...op.i32Load(), ...op.i32(0), ...op.i32(1), ...op.i32(16), ...op.call(1), ...op.drop,
          ...op.localGet(0), ...op.i32(1), ...op.i32Add, ...op.localSet(0),
          ...op.localGet(0), ...op.i32(300), ...op.i32Eq, ...op.i32(1), ...[0x73], ...op.brIf(0),
          ...op.end,
        ],
      }],
    })
    const e = await spawnWasm(bytes, { table, workers, preopens: { '/': fs }, caps: ['fs'], io: { writeBehind: 64 << 10 } }).exit
    expect(e.code).toBe(0)
    expect((await readFile(fs, 'out')).length).toBe(300 * 1000)
  })
})

describe('the host keeps the memory buffer between calls', () => {
  it('a call after memory.grow sees the grown memory (a pointer into the new page works)', async () => {
    const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'proc'] })
    const out: Uint8Array[] = []
    const bytes = assemble({
      imports: [
        { name: 'clock_time_get', params: [I, L, I], results: [I] },
        { name: 'fd_write', params: [I, I, I, I], results: [I] },
      ],
      memory: { min: 1, max: 4 },
      data: [{ offset: 0, bytes: le32(65536 + 16, 3) }],
      funcs: [{
        export: '_start',
        body: [
          // A call before the grow (the host reads the buffer), then grow by a page.
          ...op.i32(1), ...op.i64(0), ...op.i32(32), ...op.call(0), ...op.drop,
          ...op.i32(1), ...op.memoryGrow, ...op.drop,
          // "hi\n" in the new page, written to stdout through an iovec pointing there.
          ...op.i32(65536 + 16), ...op.i32(0x000a6968), ...op.i32Store(),
          ...op.i32(1), ...op.i32(0), ...op.i32(1), ...op.i32(8), ...op.call(1),
          // Exit code: fd_write's errno (0 expected, 21 = EFAULT if the host used the old size).
          ...op.drop,
        ],
      }],
    })
    const e = await spawnWasm(bytes, { table, workers, caps: ['console'], stdout: (b) => out.push(b) }).exit
    expect(e.code).toBe(0)
    expect(dec.decode(Buffer.concat(out))).toBe('hi\n')
  })
})

/** A MemoryFS whose file writes fail with ENOSPC once `failing` is set. */
function fullFS(): { fs: FS; fail: (on: boolean) => void } {
  const mem = new MemoryFS()
  let failing = false
  const fs = new Proxy(mem, {
    get(target, key, receiver) {
      if (key !== 'open') return Reflect.get(target, key, receiver) as unknown
      return async (...a: Parameters<FS['open']>): Promise<FileHandle> => {
        const fh = await target.open(...a)
        return {
          ...fh,
          read: (p, l) => fh.read(p, l),
          stat: () => fh.stat(),
          truncate: (s) => fh.truncate(s),
          sync: () => fh.sync(),
          close: () => fh.close(),
          write: (p, d) => (failing ? Promise.reject(new FsError('ENOSPC', 'write', 'f', 'no space')) : fh.write(p, d)),
        }
      }
    },
  })
  return { fs, fail: (on) => void (failing = on) }
}

describe('write-behind errors and cache lifetimes (driver)', () => {
  async function openFile(d: Driver, path: string): Promise<number> {
    const p = enc.encode(path)
    const r = await d.call('path_open', [3, LOOKUP_SYMLINK_FOLLOW, 2048, p.length, Oflags.CREAT, Rights.FD_WRITE | Rights.FD_READ | Rights.FD_SYNC | Rights.FD_SEEK | Rights.FD_FILESTAT_GET, 0n, 0, 512], {
      writes: [[2048, p]], reads: [[512, 4]],
    })
    expect(r.errno).toBe(0)
    return u32(r.reads[0]!)
  }
  const write = async (d: Driver, fd: number, text: string) => {
    const b = enc.encode(text)
    const r = await d.call('fd_write', [fd, 256, 1, 512], { writes: [[8192, b], [256, le32(8192, b.length)]], reads: [[512, 4]] })
    return [r.errno, u32(r.reads[0]!)]
  }
  const read = async (d: Driver, fd: number, n: number) => {
    const r = await d.call('fd_read', [fd, 256, 1, 512], { writes: [[256, le32(8192, n)]], reads: [[512, 4], [8192, n]] })
    return dec.decode(r.reads[1]!.subarray(0, u32(r.reads[0]!)))
  }

  it('a batch that fails is answered (once) by the next sync of that file, as Linux reports a writeback error', async () => {
    const { fs, fail } = fullFS()
    const d = await drive({ preopens: { '/': fs }, writeBehind: 1024 })
    const fd = await openFile(d, 'f')
    fail(true)
    // Buffered: the module is told it succeeded.
    expect(await write(d, fd, 'abc')).toEqual([0, 3])
    expect((await d.call('fd_sync', [fd])).errno).toBe(Errno.NOSPC)
    fail(false)
    expect((await d.call('fd_sync', [fd])).errno).toBe(0)
    // Also at close, and the descriptor is closed either way.
    fail(true)
    expect(await write(d, fd, 'def')).toEqual([0, 3])
    expect((await d.call('fd_close', [fd])).errno).toBe(Errno.NOSPC)
    expect((await d.call('fd_close', [fd])).errno).toBe(Errno.BADF)
  })

  // 8-byte chunks over a 40-byte file, so that the chunks read ahead (the worker's prefetch of
  // the next chunk, the main side's guess of the one after) are in flight when the module writes.
  const ALPHA = '0123456789abcdefghijklmnopqrstuvwxyzABCD'
  const seek = (d: Driver, fd: number, to: number) => d.call('fd_seek', [fd, BigInt(to), 0, 512], { reads: [[512, 8]] }).then((r) => r.errno)

  it("a prefetched chunk is dropped when the module wrote after asking for it", async () => {
    const fs = new MemoryFS({ files: { f: ALPHA } })
    const d = await drive({ preopens: { '/': fs }, writeBehind: 64, cacheMs: 60_000, capacity: 8 })
    const fd = await openFile(d, 'f')
    const fd2 = await openFile(d, 'f')
    expect(await read(d, fd, 4)).toBe('0123')
    expect(await read(d, fd, 4)).toBe('4567')
    expect(await seek(d, fd2, 10)).toBe(0)
    expect(await write(d, fd2, 'XY')).toEqual([0, 2])
    expect(await read(d, fd, 4)).toBe('89XY')
  })

  it("the main side's guessed read is dropped when a write of the process came before the read it guessed", async () => {
    const fs = new MemoryFS({ files: { f: ALPHA } })
    const d = await drive({ preopens: { '/': fs }, writeBehind: 64, cacheMs: 60_000, capacity: 8 })
    const fd = await openFile(d, 'f')
    const fd2 = await openFile(d, 'f')
    expect(await read(d, fd, 4)).toBe('0123')
    expect(await seek(d, fd2, 17)).toBe(0)
    expect(await write(d, fd2, 'XY')).toEqual([0, 2])
    // A whole-chunk read at 16: the very read the main side started ahead, before the write.
    expect(await seek(d, fd, 16)).toBe(0)
    expect(await read(d, fd, 8)).toBe('gXYjklmn')
  })

  it("another process's change is seen once the cache lifetime has passed; the module's own write at once", async () => {
    const fs = new MemoryFS({ files: { f: 'aaaaaaaaaaaaaaaa' } })
    const d = await drive({ preopens: { '/': fs }, writeBehind: 1024, cacheMs: 20 })
    const fd = await openFile(d, 'f')
    expect(await read(d, fd, 4)).toBe('aaaa')
    // Another process rewrites the file; after the lifetime, the next read sees it.
    const h = await fs.open('f', { write: true })
    await h.write(0, enc.encode('bbbbbbbbbbbbbbbb'))
    await h.close()
    await new Promise((r) => setTimeout(r, 40))
    expect(await read(d, fd, 4)).toBe('bbbb')
    // The module's own write (another descriptor, buffered) invalidates the read-ahead at once.
    const fd2 = await openFile(d, 'f')
    expect(await d.call('fd_seek', [fd2, 8n, 0, 512], { reads: [[512, 8]] }).then((r) => r.errno)).toBe(0)
    expect(await write(d, fd2, 'CC')).toEqual([0, 2])
    expect(await read(d, fd, 4)).toBe('CCbb')
  })
})
