/**
 * `pnpm start`: honk on the virt machine. Defaults: 4 harts, 512 MiB, the state disk in
 * `.honk/disk.img` (created on first run), `./share` exported as the 9P host share, the shell on
 * the terminal (Ctrl-A x quits; `exit` powers off). Flags, or a JSON config file, change each
 * default. With input from a pipe or `--input`, it runs non-interactively and exits at power-off.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { FileBlockDevice } from '@honk/block/node'
import { HostFS } from '@honk/vfs/node'
import { exitCode, parseSize, UsageError } from './cli.js'
import { createHonk } from './honk.js'
import { coreAnchor, factoryImage } from './kernel/core.js'

export const HONK_USAGE = `usage: pnpm start [options]
  --smp <n>                   harts (1-8, default 4)
  --mem <size>                RAM, e.g. 512M or 1G (default 512M)
  --state <dir>               state folder; the disk image is <dir>/disk.img (default .honk)
  --disk-size <size>          size of a new disk image (default 64M)
  --no-disk                   boot without a disk: the factory core, read-only
  --share <dir|none>          host folder exported over 9P with tag "host" (default ./share)
  --firmware <builtin|opensbi>  the SBI in TypeScript (default) or Debian's OpenSBI fw_jump.bin
  --input <file>              read console input from a file (non-interactive; also when stdin is a pipe)
  --config <file.json>        defaults from a JSON file ({"smp": 2, "mem": "1G", ...}; honk.json if present)
  --help                      this text
Ctrl-A x quits the machine; 'exit' in the shell powers it off.`

export interface HonkCliOptions {
  harts: number
  memory: number
  state: string
  diskSize: number
  disk: boolean
  share: string | undefined
  firmware: 'builtin' | 'opensbi'
  input: string | undefined
}

const OPTIONS = {
  smp: { type: 'string' },
  mem: { type: 'string' },
  state: { type: 'string' },
  'disk-size': { type: 'string' },
  'no-disk': { type: 'boolean' },
  share: { type: 'string' },
  firmware: { type: 'string' },
  input: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean' },
} as const

export function parseHonkCli(argv: string[], cwd = process.env["INIT_CWD"] ?? process.cwd()): HonkCliOptions | 'help' {
  let values
  try {
    // `pnpm start -- --smp 2` passes the "--" through: skip it.
    values = parseArgs({ args: argv[0] === '--' ? argv.slice(1) : argv, options: OPTIONS, strict: true }).values
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  if (values.help) return 'help'
  const configPath = values.config ?? (existsSync(join(cwd, 'honk.json')) ? join(cwd, 'honk.json') : undefined)
  let file: Record<string, unknown> = {}
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(resolve(cwd, configPath), 'utf8')) as Record<string, unknown>
    } catch (e) {
      throw new UsageError(`config ${configPath}: ${(e as Error).message}`)
    }
    for (const k of Object.keys(file)) if (!(k in OPTIONS) || k === 'config' || k === 'help') throw new UsageError(`config ${configPath}: unknown key "${k}"`)
  }
  const pick = (k: keyof typeof OPTIONS): string | boolean | undefined => {
    const v = (values as Record<string, string | boolean | undefined>)[k] ?? file[k]
    if (v !== undefined && typeof v !== 'string' && typeof v !== 'boolean' && typeof v !== 'number') throw new UsageError(`${k}: not a value`)
    return typeof v === 'number' ? String(v) : v
  }
  const str = (k: keyof typeof OPTIONS, d: string) => {
    const v = pick(k)
    return typeof v === 'string' ? v : d
  }
  const harts = Number(str('smp', '4'))
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`--smp ${str('smp', '4')}: 1 to 8 harts`)
  const firmware = str('firmware', 'builtin')
  if (firmware !== 'builtin' && firmware !== 'opensbi') throw new UsageError(`--firmware ${firmware}: builtin or opensbi`)
  const memory = parseSize(str('mem', '512M'))
  if (memory < 64 << 20) throw new UsageError('--mem: honk needs at least 64M')
  const share = str('share', './share')
  const input = pick('input')
  return {
    harts,
    memory,
    state: resolve(cwd, str('state', '.honk')),
    diskSize: parseSize(str('disk-size', '64M')),
    disk: pick('no-disk') !== true,
    share: share === 'none' ? undefined : resolve(cwd, share),
    firmware,
    input: typeof input === 'string' ? resolve(cwd, input) : undefined,
  }
}

/** Runs honk until power-off (rebooting on a reset); returns the process exit code. */
export async function runHonk(options: HonkCliOptions, io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream } = { stdin: process.stdin, stdout: process.stdout }): Promise<number> {
  const out: number[] = []
  const flush = () => {
    if (out.length) io.stdout.write(Uint8Array.from(out.splice(0)))
  }
  const flusher = setInterval(flush, 10)
  const interactive = options.input === undefined && io.stdin.isTTY === true
  if (interactive) io.stdin.setRawMode(true)
  let machine: ReturnType<typeof createHonk>['machine'] | undefined
  let ctrlA = false
  let quit = false
  /** Interactive bytes typed before the machine exists. */
  const early: Uint8Array[] = []
  /**
   * Non-interactive input is typed a line at a time, each after a prompt, as a person would:
   * firmware may reset the UART's FIFO while it boots, and a `reboot` would swallow lines sent
   * ahead of it.
   */
  const script = { lines: [] as string[], partial: '', ended: false, waiting: false }
  let recent = ''
  const typeNextLine = () => {
    let line = script.lines.shift()
    if (line === undefined && script.ended && script.partial !== '') {
      // The input's last line had no newline: type it once the input has ended.
      line = script.partial
      script.partial = ''
    }
    if (line === undefined) return false
    machine?.input(line + '\n')
    return true
  }
  const watchForPrompt = (b: number) => {
    if (interactive) return
    recent = (recent + String.fromCharCode(b)).slice(-6)
    if (recent === 'honk> ') script.waiting = !typeNextLine()
  }
  const feedScript = (text: string, ended: boolean) => {
    const parts = (script.partial + text).split(/\r?\n/)
    script.partial = parts.pop() ?? ''
    script.lines.push(...parts)
    script.ended = ended
    if (script.waiting) script.waiting = !typeNextLine()
  }
  const onData = (chunk: Buffer) => {
    if (!interactive) return feedScript(chunk.toString('utf8'), false)
    for (const b of chunk) {
      if (ctrlA && b === 0x78) {
        quit = true
        machine?.stop()
        return
      }
      ctrlA = b === 0x01
      if (!ctrlA) machine ? machine.input(Uint8Array.of(b)) : early.push(Uint8Array.of(b))
    }
  }
  const onEnd = () => feedScript('', true)
  if (options.input !== undefined) feedScript(await readFile(options.input, 'utf8'), true)
  else {
    io.stdin.on('data', onData)
    io.stdin.on('end', onEnd)
  }

  const factory = factoryImage()
  let disk: FileBlockDevice | undefined
  try {
    if (options.disk) {
      await mkdir(options.state, { recursive: true })
      const path = join(options.state, 'disk.img')
      const fresh = !existsSync(path)
      disk = await FileBlockDevice.open(path, { blockSize: 512, ...(fresh ? { blockCount: options.diskSize / 512 } : {}) })
    }
    if (options.share !== undefined) await mkdir(options.share, { recursive: true })
    for (;;) {
      const honk = createHonk({
        harts: options.harts,
        memory: options.memory,
        firmware: options.firmware,
        ...(disk ? { disk } : {}),
        ...(options.share !== undefined ? { share: { fs: new HostFS(options.share), tag: 'host' } } : {}),
        consoleOut: (b) => {
          watchForPrompt(b)
          out.push(b)
          if (out.length > 4096) flush()
        },
        factory,
        anchor: coreAnchor(),
      })
      machine = honk.machine
      for (const b of early.splice(0)) machine.input(b)
      const exit = await machine.run()
      machine = undefined
      await honk.close()
      await disk?.flush()
      flush()
      if (exit.reason === 'reset' && !quit) continue
      if (exit.reason === 'error') io.stdout.write(`\nhonk: machine error: ${exit.message}\n`)
      return exitCode(exit)
    }
  } finally {
    clearInterval(flusher)
    flush()
    await disk?.close()
    io.stdin.off('data', onData)
    io.stdin.off('end', onEnd)
    if (interactive) io.stdin.setRawMode(false)
    io.stdin.pause()
  }
}

export async function honkMain(argv: string[]): Promise<number> {
  let options
  try {
    options = parseHonkCli(argv)
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`honk: ${e.message}\n${HONK_USAGE}\n`)
      return 2
    }
    throw e
  }
  if (options === 'help') {
    process.stdout.write(HONK_USAGE + '\n')
    return 0
  }
  return runHonk(options)
}
