/**
 * fast-check: random sequences of path and descriptor operations, run through our host (the
 * worker, the bridge, a MemoryFS) and through Node's node:wasi on a host directory as the
 * oracle. Every call must answer the same errno and the same bytes, and the trees must end
 * equal. Names come from a small set so that operations collide (EEXIST, ENOTEMPTY, ENOTDIR,
 * EISDIR, ENOENT all happen).
 */
import fc from 'fast-check'
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WASI } from 'node:wasi'
import { MemoryFS } from '@honk/vfs'
import { HostFS } from '@honk/vfs/node'
import { treeOf } from '@honk/vfs/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { nodeWasmWorkers } from '../node.js'
import { DIR_RIGHTS, FILE_RIGHTS, LOOKUP_SYMLINK_FOLLOW, Oflags, Rights } from './abi.js'
import { startDriver, type Driver } from './driver.js'
import { assemble } from './testing.js'
import { wasmApi, type WasmMemory } from './wasm-api.js'

const workers = nodeWasmWorkers()
const enc = new TextEncoder()
const dec = new TextDecoder()
const tmp: string[] = []
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true })
})

type Args = (number | bigint)[]
interface Runner {
  call(fn: string, args: Args, writes: [number, Uint8Array][], reads: [number, number][]): Promise<{ errno: number; reads: Uint8Array[] }>
}

function oursRunner(d: Driver): Runner {
  return {
    async call(fn, args, writes, reads) {
      const r = await d.call(fn, args, { writes, reads })
      if (r.thrown) throw new Error(`${fn} threw ${r.thrown}`)
      return { errno: r.errno!, reads: r.reads }
    },
  }
}

function nodeRunner(dir: string): Runner {
  const wasi = new WASI({ version: 'preview1', args: [], env: {}, preopens: { '/': dir }, returnOnExit: true })
  const bytes = assemble({ memory: { min: 2 }, funcs: [{ export: '_initialize', body: [] }] })
  const instance = new wasmApi.Instance(new wasmApi.Module(bytes), wasi.getImportObject() as unknown as Record<string, Record<string, unknown>>)
  wasi.initialize(instance as never)
  const memory = instance.exports['memory'] as WasmMemory
  const imports = wasi.wasiImport as Record<string, (...a: Args) => number>
  return {
    async call(fn, args, writes, reads) {
      for (const [p, b] of writes) new Uint8Array(memory.buffer, p, b.length).set(b)
      const errno = imports[fn]!(...args)
      return { errno, reads: reads.map(([p, l]) => new Uint8Array(memory.buffer, p, l).slice()) }
    },
  }
}

const NAMES = ['a', 'b', 'd', 'd/a', 'd/b', 'e', 'e/x'] as const
/** Both sides start from this tree: a file, a directory with a file, an empty directory. */
async function seedMem(): Promise<MemoryFS> {
  const fs = new MemoryFS({ files: { a: 'hello', 'd/a': 'x' } })
  await fs.mkdir('e')
  return fs
}
function seedHost(): string {
  const dir = mkdtempSync(join(tmpdir(), 'honk-wasi-model-'))
  tmp.push(dir)
  writeFileSync(join(dir, 'a'), 'hello')
  mkdirSync(join(dir, 'd'))
  writeFileSync(join(dir, 'd', 'a'), 'x')
  mkdirSync(join(dir, 'e'))
  return dir
}
type Op =
  | { k: 'open'; path: string; oflags: number }
  | { k: 'write'; i: number; data: string }
  | { k: 'pwrite'; i: number; data: string; at: number }
  | { k: 'read'; i: number; n: number }
  | { k: 'seek'; i: number; off: number; whence: number }
  | { k: 'close'; i: number }
  | { k: 'mkdir'; path: string }
  | { k: 'rmdir'; path: string }
  | { k: 'unlink'; path: string }
  | { k: 'rename'; from: string; to: string }
  | { k: 'stat'; path: string }
  | { k: 'symlink'; target: string; path: string }
  | { k: 'link'; from: string; to: string }
  | { k: 'truncate'; i: number; size: number }
  | { k: 'fstat'; i: number }

const path = fc.constantFrom(...NAMES)
const FILE_OPS: ReadonlySet<string> = new Set(['write', 'pwrite', 'read', 'seek', 'truncate'])
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('open' as const), path, oflags: fc.constantFrom(0, Oflags.CREAT, Oflags.CREAT | Oflags.EXCL, Oflags.CREAT | Oflags.TRUNC, Oflags.DIRECTORY) }),
  fc.record({ k: fc.constant('write' as const), i: fc.nat(5), data: fc.string({ maxLength: 12 }) }),
  fc.record({ k: fc.constant('pwrite' as const), i: fc.nat(5), data: fc.string({ maxLength: 8 }), at: fc.nat(20) }),
  fc.record({ k: fc.constant('read' as const), i: fc.nat(5), n: fc.nat(20) }),
  fc.record({ k: fc.constant('seek' as const), i: fc.nat(5), off: fc.integer({ min: -5, max: 20 }), whence: fc.nat(2) }),
  fc.record({ k: fc.constant('close' as const), i: fc.nat(5) }),
  fc.record({ k: fc.constant('mkdir' as const), path }),
  fc.record({ k: fc.constant('rmdir' as const), path }),
  fc.record({ k: fc.constant('unlink' as const), path }),
  fc.record({ k: fc.constant('rename' as const), from: path, to: path }),
  fc.record({ k: fc.constant('stat' as const), path }),
  fc.record({ k: fc.constant('symlink' as const), target: path, path }),
  fc.record({ k: fc.constant('link' as const), from: path, to: path }),
  fc.record({ k: fc.constant('truncate' as const), i: fc.nat(5), size: fc.nat(16) }),
  fc.record({ k: fc.constant('fstat' as const), i: fc.nat(5) }),
)

/** Mostly descriptor calls on two files, several descriptors each: where caches and batches can go wrong. */
const fileOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('open' as const), path: fc.constantFrom('a', 'b'), oflags: fc.constantFrom(0, Oflags.CREAT, Oflags.CREAT | Oflags.TRUNC) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('write' as const), i: fc.nat(5), data: fc.string({ minLength: 1, maxLength: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('pwrite' as const), i: fc.nat(5), data: fc.string({ maxLength: 8 }), at: fc.nat(20) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('read' as const), i: fc.nat(5), n: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('seek' as const), i: fc.nat(5), off: fc.integer({ min: -5, max: 20 }), whence: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('fstat' as const), i: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('truncate' as const), i: fc.nat(5), size: fc.nat(16) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), i: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('stat' as const), path: fc.constantFrom('a', 'b') }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rename' as const), from: fc.constantFrom('a', 'b'), to: fc.constantFrom('a', 'b') }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unlink' as const), path: fc.constantFrom('a', 'b') }) },
)

const PATH = 1024
const PATH2 = 1536
const OUT = 512
const IOV = 256
const BUF = 4096
const le32 = (...vs: number[]) => {
  const b = new Uint8Array(vs.length * 4)
  const v = new DataView(b.buffer)
  vs.forEach((x, i) => v.setUint32(i * 4, x, true))
  return b
}
const u32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true)

/** One step on one runner: a comparable record of what the call answered. */
async function step(r: Runner, fds: number[], o: Op): Promise<unknown> {
  const p1 = 'path' in o ? enc.encode(o.path) : new Uint8Array(0)
  const fdOf = (i: number) => (fds.length === 0 ? 99 : fds[i % fds.length]!)
  switch (o.k) {
    case 'open': {
      // A directory is opened with read rights only, as wasi-libc's opendir does (write rights
      // are EISDIR; uvwasi also counts FD_DATASYNC as one).
      const rights = o.oflags & Oflags.DIRECTORY ? DIR_RIGHTS & ~Rights.FD_DATASYNC : FILE_RIGHTS
      // O_CREAT|O_EXCL never follows a final symlink (POSIX open(): EEXIST even for a dangling
      // one; ours does so with or without the flag). uvwasi follows it when asked (ELOOP on a
      // self-loop, a file created at a dangling target), so the call is made without the flag:
      // the same meaning, the same answer from both.
      const excl = (o.oflags & Oflags.CREAT) !== 0 && (o.oflags & Oflags.EXCL) !== 0
      const res = await r.call('path_open', [3, excl ? 0 : LOOKUP_SYMLINK_FOLLOW, PATH, p1.length, o.oflags, rights, FILE_RIGHTS | DIR_RIGHTS, 0, OUT], [[PATH, p1]], [[OUT, 4]])
      if (res.errno === 0) fds.push(u32(res.reads[0]!))
      return res.errno
    }
    case 'write':
    case 'pwrite': {
      const b = enc.encode(o.data)
      const args: Args = o.k === 'write' ? [fdOf(o.i), IOV, 1, OUT] : [fdOf(o.i), IOV, 1, BigInt(o.at), OUT]
      const res = await r.call(o.k === 'write' ? 'fd_write' : 'fd_pwrite', args, [[BUF, b], [IOV, le32(BUF, b.length)]], [[OUT, 4]])
      return res.errno === 0 ? [0, u32(res.reads[0]!)] : [res.errno]
    }
    case 'read': {
      const res = await r.call('fd_read', [fdOf(o.i), IOV, 1, OUT], [[IOV, le32(BUF, o.n)]], [[OUT, 4], [BUF, o.n]])
      return res.errno === 0 ? [0, dec.decode(res.reads[1]!.subarray(0, u32(res.reads[0]!)))] : [res.errno]
    }
    case 'seek': {
      const res = await r.call('fd_seek', [fdOf(o.i), BigInt(o.off), o.whence, OUT], [], [[OUT, 8]])
      return res.errno === 0 ? [0, new DataView(res.reads[0]!.buffer).getBigUint64(0, true)] : [res.errno]
    }
    case 'close': {
      if (fds.length === 0) return 'none'
      const i = o.i % fds.length
      const res = await r.call('fd_close', [fds[i]!], [], [])
      fds.splice(i, 1)
      return res.errno
    }
    case 'truncate':
      return (await r.call('fd_filestat_set_size', [fdOf(o.i), BigInt(o.size)], [], [])).errno
    case 'fstat': {
      const res = await r.call('fd_filestat_get', [fdOf(o.i), OUT], [], [[OUT, 64]])
      if (res.errno !== 0) return [res.errno]
      const v = new DataView(res.reads[0]!.buffer)
      const type = v.getUint8(16)
      // A file's size and link count are the same everywhere; a directory's are not.
      return [0, type, type === 4 ? v.getBigUint64(32, true) : -1n, type === 4 ? v.getBigUint64(24, true) : -1n]
    }
    case 'mkdir':
      return (await r.call('path_create_directory', [3, PATH, p1.length], [[PATH, p1]], [])).errno
    case 'rmdir':
      return (await r.call('path_remove_directory', [3, PATH, p1.length], [[PATH, p1]], [])).errno
    case 'unlink':
      return (await r.call('path_unlink_file', [3, PATH, p1.length], [[PATH, p1]], [])).errno
    case 'rename': {
      const a = enc.encode(o.from)
      const b = enc.encode(o.to)
      return (await r.call('path_rename', [3, PATH, a.length, 3, PATH2, b.length], [[PATH, a], [PATH2, b]], [])).errno
    }
    case 'link': {
      const a = enc.encode(o.from)
      const b = enc.encode(o.to)
      return (await r.call('path_link', [3, 0, PATH, a.length, 3, PATH2, b.length], [[PATH, a], [PATH2, b]], [])).errno
    }
    case 'symlink': {
      const t = enc.encode(o.target)
      return (await r.call('path_symlink', [PATH2, t.length, 3, PATH, p1.length], [[PATH, p1], [PATH2, t]], [])).errno
    }
    case 'stat': {
      const res = await r.call('path_filestat_get', [3, 0, PATH, p1.length, OUT], [[PATH, p1]], [[OUT, 64]])
      if (res.errno !== 0) return [res.errno]
      const v = new DataView(res.reads[0]!.buffer)
      const type = v.getUint8(16)
      // Sizes of directories and symlinks are FS-specific; a file's size and link count are not.
      return [0, type, type === 4 ? v.getBigUint64(32, true) : -1n, type === 4 ? v.getBigUint64(24, true) : -1n]
    }
  }
}

function hostTree(root: string, rel = '', out: Record<string, string> = {}): Record<string, string> {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name
    const st = lstatSync(join(root, p))
    if (st.isSymbolicLink()) out[p] = `link:${readlinkSync(join(root, p))}`
    else if (st.isDirectory()) {
      out[p] = 'dir'
      hostTree(root, p, out)
    } else out[p] = `file:${readFileSync(join(root, p), 'utf8')}`
  }
  return out
}

describe('random operation sequences: ours (MemoryFS, or HostFS) against node:wasi (host directory)', () => {
  // Without caching, and with write-behind (a 24-byte region, so batches fill, continue, break
  // off at another file or position) plus read-ahead and the stat cache kept for a minute (no
  // other process touches the tree, so they must never show anything node:wasi would not).
  it.each([
    ['every call a round trip', {}, op],
    ['write-behind, read-ahead and stat cache', { writeBehind: 24, cacheMs: 60_000 }, op],
    ['write-behind, read-ahead and stat cache; descriptor calls', { writeBehind: 24, cacheMs: 60_000 }, fileOp],
    // 8-byte chunks: reads span chunks, so the worker's prefetch and the main side's guessed read run.
    ['same, 8-byte chunks', { writeBehind: 24, cacheMs: 60_000, capacity: 8 }, fileOp],
    // A HostFS tree: its files' reads and writes never cross the bridge (the rest does).
    ['HostFS, the worker\'s own pread/pwrite, with write-behind and caches', { direct: true, writeBehind: 24, cacheMs: 60_000 }, op],
    ['HostFS, the worker\'s own pread/pwrite; descriptor calls', { direct: true, writeBehind: 24, cacheMs: 60_000 }, fileOp],
  ] as const)('same errno and bytes for every call, same tree at the end (%s)', async (_name, io, gen) => {
    await fc.assert(
      fc.asyncProperty(fc.array(gen, { minLength: 1, maxLength: 30 }), async (ops) => {
        // HostFS files are read and written by the worker itself (pread/pwrite on the descriptor).
        const oursDir = 'direct' in io ? seedHost() : undefined
        const fs = oursDir === undefined ? await seedMem() : new HostFS(oursDir)
        const d = await startDriver(workers, { preopens: { '/': fs }, ...io })
        const dir = seedHost()
        try {
          const ours = oursRunner(d)
          const theirs = nodeRunner(dir)
          const fa: number[] = []
          const fb: number[] = []
          for (const [i, o] of ops.entries()) {
            const a = await step(ours, fa, o)
            let b = await step(theirs, fb, o)
            // A file-only call on a directory descriptor: we answer EBADF (as wasmtime and the
            // wasi-testsuite's dir_fd_op_failures expect), uvwasi ENOTCAPABLE (its rights check).
            if (FILE_OPS.has(o.k) && String(a) === '8' && String(b) === '76') b = a
            expect(a, `step ${i}: ${JSON.stringify(o)}`).toEqual(b)
          }
          // What the module still buffers goes to the FS when it ends (here: the driver idles).
          await d.bridge.drain()
          expect(oursDir === undefined ? await treeOf(fs) : hostTree(oursDir)).toEqual(hostTree(dir))
        } finally {
          d.close()
        }
      }),
      // Found by CI (2026-12-07, seed 1157507681): fstat of a directory removed while open (POSIX:
      // it still describes the directory; we answered ENOENT by its path), then a write to it.
      { numRuns: 40, examples: gen === op ? [[[{ k: 'mkdir', path: 'd/b' }, { k: 'open', path: 'd/b', oflags: Oflags.DIRECTORY }, { k: 'rmdir', path: 'd/b' }, { k: 'fstat', i: 0 }, { k: 'write', i: 0, data: '' }]]] : [] },
    )
  }, 120_000)
})
