/**
 * WebAssembly processes in the process table: exit codes, ps, kill of a spinning module (also
 * in its start function and while blocked in a host call), capabilities, limits, hostile
 * modules and crash containment.
 */
import { MemoryFS, readText } from '@honk/vfs'
import { describe, expect, it } from 'vitest'
import { nodeWasmWorkers } from '../node.js'
import { ProcessTable } from '../table.js'
import { Errno } from './abi.js'
import { WasmLimitError, WasmTrapError } from './errors.js'
import { compileCached, spawnWasm } from './spawn.js'
import { assemble, helloModule, loopModule, op } from './testing.js'

const workers = nodeWasmWorkers()
const newTable = () => new ProcessTable({}, { initCaps: ['console', 'fs', 'proc'] })
const I = 'i32' as const
const dec = new TextDecoder()
const PROC_EXIT = { name: 'proc_exit', params: [I], results: [] }

/** A module that calls one import with `args` and exits with the errno it returned. */
function callAndExit(name: string, params: ('i32' | 'i64')[], args: number[][], data: { offset: number; bytes: Uint8Array | string }[] = []): Uint8Array {
  return assemble({
    imports: [{ name, params, results: [I] }, PROC_EXIT],
    memory: { min: 1 },
    data,
    funcs: [{ export: '_start', body: [...args.flat(), ...op.call(0), ...op.call(1)] }],
  })
}

describe('spawnWasm', () => {
  it('runs a module as a process: stdout, exit code, ps', async () => {
    const table = newTable()
    const out: string[] = []
    const p = spawnWasm(helloModule(7), { table, workers, args: ['/bin/hello.wasm'], caps: ['console'], stdout: (b) => out.push(dec.decode(b)) })
    expect(table.list().map((i) => [i.pid, i.name, i.state])).toContainEqual([p.pid, 'hello.wasm', 'running'])
    const e = await p.exit
    expect([e.code, e.info.state, e.error]).toEqual([7, 'exited', undefined])
    expect(out.join('')).toBe('hello\n')
    expect(table.result(p.pid)).toBe(7)
    expect(e.runMs).toBeGreaterThan(0)
    expect(table.reap()).toBe(1)
  })

  it('kill stops a module spinning in a loop at once, and the main thread never waits on it', async () => {
    const table = newTable()
    const p = spawnWasm(loopModule(), { table, workers, args: ['loop.wasm'] })
    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    await new Promise((r) => setTimeout(r, 300))
    clearInterval(timer)
    expect(ticks).toBeGreaterThan(10)
    expect(table.get(p.pid)?.state).toBe('running')
    const t0 = performance.now()
    expect(p.kill('test')).toBe(true)
    const e = await p.exit
    expect(performance.now() - t0).toBeLessThan(500)
    expect([e.info.state, e.info.exitReason]).toEqual(['killed', 'killed: test'])
  })

  it('kill covers a start function that never returns (instantiation never finishes)', async () => {
    const table = newTable()
    const bytes = assemble({ memory: { min: 1 }, funcs: [{ body: [...op.loop, ...op.br(0), ...op.end] }, { export: '_start', body: [] }], start: 0 })
    const p = spawnWasm(bytes, { table, workers })
    await new Promise((r) => setTimeout(r, 200))
    expect(table.get(p.pid)?.state).toBe('running')
    p.kill()
    expect((await p.exit).info.state).toBe('killed')
  })

  it('kill covers a module blocked in a host call (a stdin read that never completes)', async () => {
    const table = newTable()
    const bytes = callAndExit('fd_read', [I, I, I, I], [op.i32(0), op.i32(0), op.i32(1), op.i32(64)], [{ offset: 0, bytes: new Uint8Array([16, 0, 0, 0, 8, 0, 0, 0]) }])
    const p = spawnWasm(bytes, { table, workers, caps: ['console'], stdin: { read: () => new Promise<Uint8Array>(() => {}) } })
    await new Promise((r) => setTimeout(r, 200))
    expect(table.get(p.pid)?.state).toBe('running')
    p.kill()
    expect((await p.exit).info.state).toBe('killed')
  })

  it('stdin from a string reaches fd_read', async () => {
    const table = newTable()
    // fd_read(0, iov{16,8}) then fd_write(1, iov{16, nread}) then exit 0.
    const bytes = assemble({
      imports: [{ name: 'fd_read', params: [I, I, I, I], results: [I] }, { name: 'fd_write', params: [I, I, I, I], results: [I] }, PROC_EXIT],
      memory: { min: 1 },
      data: [{ offset: 0, bytes: new Uint8Array([16, 0, 0, 0, 8, 0, 0, 0]) }],
      funcs: [{ export: '_start', body: [...op.i32(0), ...op.i32(0), ...op.i32(1), ...op.i32(4), ...op.call(0), ...op.drop, ...op.i32(1), ...op.i32(0), ...op.i32(1), ...op.i32(64), ...op.call(1), ...op.drop] }],
    })
    const out: string[] = []
    const p = spawnWasm(bytes, { table, workers, caps: ['console'], stdin: 'typed input', stdout: (b) => out.push(dec.decode(b)) })
    expect((await p.exit).code).toBe(0)
    expect(out.join('')).toBe('typed in')
  })
})

describe('the compile cache', () => {
  it('the same bytes give the same compiled module; other bytes another; both paths run', async () => {
    const a = await compileCached(helloModule(1))
    expect(await compileCached(helloModule(1))).toBe(a)
    expect(await compileCached(helloModule(2))).not.toBe(a)
    const table = newTable()
    expect((await spawnWasm(helloModule(4), { table, workers }).exit).code).toBe(4)
    expect((await spawnWasm(helloModule(5), { table, workers, compileCache: false }).exit).code).toBe(5)
  })
})

describe('capabilities', () => {
  it('without "fs" there is no preopen (fd 3 is EBADF); with it there is', async () => {
    const table = newTable()
    const probe = callAndExit('fd_prestat_get', [I, I], [op.i32(3), op.i32(0)])
    const fs = new MemoryFS()
    const without = spawnWasm(probe, { table, workers, preopens: { '/': fs }, caps: [] })
    expect((await without.exit).code).toBe(Errno.BADF)
    const withFs = spawnWasm(probe, { table, workers, preopens: { '/': fs }, caps: ['fs'] })
    expect((await withFs.exit).code).toBe(0)
  })

  it('without "console" stdout goes nowhere (the write still succeeds)', async () => {
    const table = newTable()
    const out: Uint8Array[] = []
    const p = spawnWasm(helloModule(0), { table, workers, caps: [], stdout: (b) => out.push(b) })
    expect((await p.exit).code).toBe(0)
    expect(out).toEqual([])
  })

  it('a process cannot be given capabilities its parent does not hold', () => {
    const table = new ProcessTable({}, { initCaps: ['proc'] })
    expect(() => spawnWasm(helloModule(0), { table, workers, caps: ['fs'] })).toThrow(/does not hold the "fs" capability/)
  })
})

describe('limits and hostile modules', () => {
  it('memory.grow past the limit fails inside the module (it sees -1); memory never exceeds it', async () => {
    const table = newTable()
    // Grow by one page until it fails; exit with the page count reached.
    const bytes = assemble({
      imports: [PROC_EXIT],
      memory: { min: 1 },
      funcs: [{ export: '_start', body: [...op.loop, ...op.i32(1), ...op.memoryGrow, ...op.i32(-1), ...op.i32Eq, ...op.i32(0), ...[0x46], ...op.brIf(0), ...op.end, ...op.memorySize, ...op.call(0)] }],
    })
    const p = spawnWasm(bytes, { table, workers, limits: { maxMemoryPages: 40 } })
    expect((await p.exit).code).toBe(40)
  })

  it('a module whose initial memory is over the limit never starts (WASM_LIMIT_MEMORY)', async () => {
    const table = newTable()
    const bytes = assemble({ memory: { min: 100 }, funcs: [{ export: '_start', body: [] }] })
    const e = await spawnWasm(bytes, { table, workers, limits: { maxMemoryPages: 10 } }).exit
    expect(e.error).toBeInstanceOf(WasmLimitError)
    expect(e.error?.code).toBe('WASM_LIMIT_MEMORY')
    expect(e.info.exitReason).toMatch(/memory limit: initial memory of 100 pages/)
  })

  it('a module flooding stdout is ended (WASM_LIMIT_OUTPUT)', async () => {
    const table = newTable()
    const bytes = assemble({
      imports: [{ name: 'fd_write', params: [I, I, I, I], results: [I] }],
      memory: { min: 1 },
      data: [{ offset: 0, bytes: new Uint8Array([0, 1, 0, 0, 0, 0x80, 0, 0]) }],
      funcs: [{ export: '_start', body: [...op.loop, ...op.i32(1), ...op.i32(0), ...op.i32(1), ...op.i32(8), ...op.call(0), ...op.drop, ...op.br(0), ...op.end] }],
    })
    const e = await spawnWasm(bytes, { table, workers, caps: ['console'], stdout: () => {}, limits: { maxOutputBytesPerSecond: 1 << 20 } }).exit
    expect(e.error?.code).toBe('WASM_LIMIT_OUTPUT')
    expect(e.info.state).toBe('crashed')
  })

  it('a module opening descriptors without end is ended (WASM_LIMIT_FDS)', async () => {
    const table = newTable()
    // path_open(3, 0, "f", 1, CREAT, rights, rights, 0, &fd) in a loop.
    const bytes = assemble({
      imports: [{ name: 'path_open', params: [I, I, I, I, I, 'i64', 'i64', I, I], results: [I] }],
      memory: { min: 1 },
      data: [{ offset: 100, bytes: 'f' }],
      funcs: [{ export: '_start', body: [...op.loop, ...op.i32(3), ...op.i32(0), ...op.i32(100), ...op.i32(1), ...op.i32(1), ...op.i64(-1), ...op.i64(-1), ...op.i32(0), ...op.i32(200), ...op.call(0), ...op.drop, ...op.br(0), ...op.end] }],
    })
    const e = await spawnWasm(bytes, { table, workers, caps: ['fs'], preopens: { '/': new MemoryFS() }, limits: { maxOpenFds: 20 } }).exit
    expect(e.error?.code).toBe('WASM_LIMIT_FDS')
  })

  it('out-of-bounds pointers from a real module get EFAULT', async () => {
    const table = newTable()
    const bytes = callAndExit('fd_write', [I, I, I, I], [op.i32(1), op.i32(-16), op.i32(1), op.i32(0)])
    expect((await spawnWasm(bytes, { table, workers }).exit).code).toBe(Errno.FAULT)
    const paths = callAndExit('path_open', [I, I, I, I, I, 'i64', 'i64', I, I], [op.i32(3), op.i32(0), op.i32(65530), op.i32(100), op.i32(0), op.i64(0), op.i64(0), op.i32(0), op.i32(0)])
    expect((await spawnWasm(paths, { table, workers, caps: ['fs'], preopens: { '/': new MemoryFS() } }).exit).code).toBe(Errno.FAULT)
  })

  it('".." and absolute paths from a real module are ENOTCAPABLE; the FS outside is untouched', async () => {
    const table = newTable()
    const outer = new MemoryFS({ files: { 'secret': 's', 'box/dir/x': '' } })
    const { sub } = await import('@honk/vfs')
    const box = sub(outer, 'box')
    for (const path of ['../secret', '/secret', 'dir/../../secret']) {
      const bytes = callAndExit('path_unlink_file', [I, I, I], [op.i32(3), op.i32(100), op.i32(path.length)], [{ offset: 100, bytes: path }])
      expect((await spawnWasm(bytes, { table, workers, caps: ['fs'], preopens: { '/': box } }).exit).code).toBe(Errno.NOTCAPABLE)
    }
    expect(await readText(outer, 'secret')).toBe('s')
  })

  it('a trap crashes only that process: a sibling runs on to its normal exit', async () => {
    const table = newTable()
    const sibling = spawnWasm(helloModule(3), { table, workers })
    const bad = spawnWasm(assemble({ memory: { min: 1 }, funcs: [{ export: '_start', body: [...op.unreachable] }] }), { table, workers })
    const e = await bad.exit
    expect(e.error).toBeInstanceOf(WasmTrapError)
    expect(e.info.state).toBe('crashed')
    expect(e.info.exitReason).toMatch(/unreachable/)
    expect((await sibling.exit).code).toBe(3)
  })

  it('unknown imports, a missing memory export and garbage bytes are contained traps', async () => {
    const table = newTable()
    const unknown = assemble({ imports: [{ module: 'env', name: 'evil', params: [], results: [] }], memory: { min: 1 }, funcs: [{ export: '_start', body: [] }] })
    expect((await spawnWasm(unknown, { table, workers }).exit).info.exitReason).toMatch(/imports env\.evil \(function\); only wasi_snapshot_preview1/)
    const noMem = assemble({ funcs: [{ export: '_start', body: [] }] })
    expect((await spawnWasm(noMem, { table, workers }).exit).info.exitReason).toMatch(/does not export its memory/)
    const garbage = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 0xff, 0xff])
    expect((await spawnWasm(garbage, { table, workers }).exit).error?.code).toBe('WASM_TRAP')
    expect(table.list().filter((i) => i.state === 'running').map((i) => i.pid)).toEqual([1])
  })

  it('proc_raise(SIGABRT) ends the process with WASM_SIGNAL; proc_exit ends it with the code', async () => {
    const table = newTable()
    const raise = callAndExit('proc_raise', [I], [op.i32(6)])
    const e = await spawnWasm(raise, { table, workers }).exit
    expect([e.error?.code, e.info.state]).toEqual(['WASM_SIGNAL', 'crashed'])
  })
})
