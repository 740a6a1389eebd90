import { MemoryFS } from '@honk/vfs'
import { describe, expect, it } from 'vitest'
import { nodeWasmWorkers } from '../node.js'
import { ProcessTable } from '../table.js'
import { spawnWasm } from './spawn.js'
import { helloModule, loopModule } from './testing.js'

const workers = nodeWasmWorkers()

describe('spawnWasm', () => {
  it('runs a module as a process: stdout, exit code, ps', async () => {
    const table = new ProcessTable({}, { initCaps: ['console', 'fs', 'proc'] })
    const out: string[] = []
    const p = spawnWasm(helloModule(7), { table, workers, args: ['hello.wasm'], caps: ['console'], stdout: (b) => out.push(new TextDecoder().decode(b)) })
    expect(table.get(p.pid)?.name).toBe('hello.wasm')
    const e = await p.exit
    expect(e.code).toBe(7)
    expect(e.info.state).toBe('exited')
    expect(out.join('')).toBe('hello\n')
    expect(table.result(p.pid)).toBe(7)
  })

  it('kill stops a module spinning in a loop at once', async () => {
    const table = new ProcessTable({}, { initCaps: ['console', 'fs', 'proc'] })
    const p = spawnWasm(loopModule(), { table, workers, args: ['loop.wasm'] })
    await new Promise((r) => setTimeout(r, 300))
    expect(table.get(p.pid)?.state).toBe('running')
    const t0 = performance.now()
    p.kill('test')
    const e = await p.exit
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(e.info.state).toBe('killed')
    void MemoryFS
  })
})
