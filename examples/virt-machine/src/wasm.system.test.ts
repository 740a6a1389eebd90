/**
 * honk mode's WebAssembly processes (issue #15, honk M7; the Go honk's smoke A and its by-hand
 * kill check): the boot line, `wasm hello.wasm`, a real C program (textool, clang + wasi-libc)
 * reading and writing files of the root FS, `loop.wasm` still running after the wait and killed
 * at once, and refusals for a missing file and a file that is not WebAssembly.
 */
import { existsSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHonk } from './honk.js'
import { coreAnchor, factoryImage } from './factory-core.js'
import { ConsoleSession } from './session.js'
import { TEXTOOL_WASM } from './wasm-programs.js'

describe('honk mode WebAssembly (M7)', () => {
  let console: ConsoleSession
  let honk: ReturnType<typeof createHonk>

  beforeAll(async () => {
    // Under CI the C programs are built by .ci/run (scripts/guest/build-wasm-examples.sh): missing there is a failure.
    if (process.env['CI'] === 'true') expect(existsSync(TEXTOOL_WASM), TEXTOOL_WASM).toBe(true)
    console = new ConsoleSession()
    honk = createHonk({ harts: 2, memory: 256 << 20, firmware: 'builtin', disk: new MemoryBlockDevice(32768, 512), consoleOut: console.out, factory: factoryImage(), anchor: coreAnchor() })
    console.start(honk.machine)
    await console.waitFor('honk> ', 90_000)
  }, 120_000)

  afterAll(async () => {
    honk?.machine.stop()
    await honk?.close()
  })

  async function shell(line: string, timeoutMs = 60_000): Promise<string> {
    console.send(line + '\n')
    return (await console.waitFor('honk> ', timeoutMs)).replace(/honk> $/, '')
  }

  it('boots with the runtime ready, and the core ships hello.wasm and loop.wasm', async () => {
    expect(console.text).toContain('honk: wasm runtime ready (V8 WebAssembly, WASI preview1)')
    const ls = await shell('ls')
    expect(ls).toMatch(/hello\.wasm\s+\d+/)
    expect(ls).toMatch(/loop\.wasm\s+\d+/)
  })

  it('wasm hello.wasm: spawned, its output on the console, then it exits', async () => {
    const out = await shell('wasm hello.wasm')
    expect(out).toMatch(/wasm: spawned PID \d+ \(hello\.wasm\)/)
    expect(out).toContain('honk from wasm')
    expect(out).not.toContain('still running')
    expect(await shell('ps')).toMatch(/hello\.wasm\s+exited/)
  }, 60_000)

  it('a real C program (textool) reads and writes files of the root FS through its preopen', async () => {
    expect(existsSync(TEXTOOL_WASM), 'run scripts/guest/build-wasm-examples.sh').toBe(true)
    expect(await shell('ls')).toMatch(/textool\.wasm\s+\d+/)
    const wc = await shell('wasm textool.wasm wc /motd')
    expect(wc).toMatch(/\b\d+ \d+ 470\b/)
    await shell('wasm textool.wasm upper /motd /motd.upper')
    expect(await shell('cat motd.upper')).toContain('WELCOME TO HONK')
  }, 60_000)

  it('wasm loop.wasm is still running after the wait; kill stops it at once and the kernel lives on', async () => {
    const out = await shell('wasm loop.wasm', 30_000)
    const pid = /wasm: spawned PID (\d+) \(loop\.wasm\)/.exec(out)?.[1]
    expect(pid).toBeDefined()
    expect(out).toContain(`wasm: PID ${pid} still running (kill ${pid} to stop)`)
    expect(await shell('ps')).toMatch(new RegExp(`${pid}\\s+loop\\.wasm\\s+running`))
    const started = Date.now()
    expect(await shell(`kill ${pid}`)).toContain(`killed PID ${pid}`)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(await shell('ps')).toMatch(new RegExp(`${pid}\\s+loop\\.wasm\\s+killed`))
    expect(await shell('echo alive')).toContain('alive')
  }, 60_000)

  it('refusals: usage, a missing file, a file that is not WebAssembly', async () => {
    expect(await shell('wasm')).toContain('usage: wasm <file.wasm> [args…]')
    expect(await shell('wasm nope.wasm')).toContain('wasm: nope.wasm: file does not exist')
    const bad = await shell('wasm motd')
    expect(bad).toMatch(/wasm: spawned PID \d+ \(motd\)/)
    expect(bad).toMatch(/wasm motd: .+/)
    expect(await shell('echo still-here')).toContain('still-here')
  }, 60_000)
})
