/** WebAssembly processes: wasm <file.wasm> [args…] (honk M7). */
import { spawnWasm } from '@honk/proc'
import { readFile } from '@honk/vfs'
import { defineCommand } from './command.js'
import { describeError, shellPath } from './format.js'

/** How long `wasm` waits for the module before handing the console back (the Go honk's 5 s). */
export const WASM_WAIT_MS = 5000
/** Limits every module runs under: 256 MiB of memory, 256 descriptors, 1 MiB/s of output. */
export const WASM_LIMITS = { maxMemoryPages: 4096, maxOpenFds: 256, maxOutputBytesPerSecond: 1 << 20 } as const

export const wasm = defineCommand({
  name: 'wasm',
  usage: 'wasm <file.wasm> [args…]',
  summary: 'runs a WASI module from the root FS as a process (console, and the root FS at /); kill stops it at once',
  group: 'processes',
  async run(ctx, args) {
    const runtime = ctx.host.wasm
    if (!runtime) return ctx.println('wasm: runtime unavailable')
    const [file, ...rest] = args
    if (file === undefined) return ctx.println('usage: wasm <file.wasm> [args…]')
    const path = shellPath(file)
    if (path === '.') return ctx.println('wasm: invalid path')
    let bytes: Uint8Array
    try {
      bytes = await readFile(ctx.fs, path)
    } catch (e) {
      return ctx.println(`wasm: ${describeError(e)}`)
    }
    const name = path.slice(path.lastIndexOf('/') + 1)
    const decoders = [new TextDecoder(), new TextDecoder()] as const
    const p = spawnWasm(bytes, {
      table: ctx.host.procs,
      workers: runtime.workers,
      name,
      args: [name, ...rest],
      env: { PWD: '/' },
      preopens: { '/': ctx.fs },
      caps: ['console', 'fs'],
      stdout: (b) => ctx.out(decoders[0].decode(b, { stream: true })),
      stderr: (b) => ctx.out(decoders[1].decode(b, { stream: true })),
      limits: WASM_LIMITS,
    })
    ctx.println(`wasm: spawned PID ${p.pid} (${name})`)
    // The end of the module is reported when it comes, also after the console was handed back.
    let reported = false
    const report = p.exit.then((exit) => {
      if (exit.error) ctx.println(`wasm ${name}: ${exit.error.message}`)
      else if (exit.code !== undefined && exit.code !== 0) ctx.println(`wasm ${name}: exit ${exit.code}`)
      reported = true
    })
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([report, new Promise<void>((resolve) => (timer = setTimeout(resolve, WASM_WAIT_MS)))])
    clearTimeout(timer)
    if (!reported) ctx.println(`wasm: PID ${p.pid} still running (kill ${p.pid} to stop)`)
  },
})
