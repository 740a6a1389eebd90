/**
 * `pnpm start`: honk on the virt machine. Defaults: 4 harts, 512 MiB, the state disk in
 * `.honk/disk.img` (created on first run), `./share` exported as the 9P host share, the shell on
 * the terminal (Ctrl-A x quits; `exit` or Ctrl-D powers off). Flags, or a JSON config file, change
 * each default. With input from a pipe or `--input`, it runs non-interactively and powers off
 * when the input ends.
 *
 * Every user error is one line on stderr and an exit code (2: usage, 1: anything else), never a
 * stack trace; and everything is checked before anything is created, so a refused run leaves no
 * file behind.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { mkdir, open, readFile, rm, rmdir, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { FileBlockDevice } from '@honk/block/node'
import { HostFS } from '@honk/vfs/node'
import { UserNet, parseHostForward } from '@honk/net/node'
import { loopbackPair } from '@honk/virtio'
import { describeError, exitCode, parseSize, UsageError } from './cli.js'
import { OPENSBI_FW_JUMP } from './guest.js'
import { createHonk } from './honk.js'
import { coreAnchor, factoryImage } from './factory-core.js'
import { MIN_KV_BYTES, SLOT_BYTES } from '@honk/kernel'
import { ConsoleFeeder } from './session.js'
import { WebDisplay } from './web-display.js'

export const HONK_USAGE = `usage: pnpm start [options]
  --smp <n>                   harts (1-8, default 4)
  --mem <size>                RAM, e.g. 512M or 1G (64M-4G, default 512M)
  --state <dir>               state folder; the disk image is <dir>/disk.img (default .honk;
                              created if missing, its parent must exist)
  --disk-size <size>          size of a new disk image (default 64M, at least 4M)
  --no-disk                   boot without a disk: the factory core, read-only
  --disk-bus <virtio|nvme>    the disk's controller: virtio-blk (default) or NVMe on PCIe
  --share <dir|none>          an existing host folder exported over 9P with tag "host"
                              (default ./share, created if missing)
  --net <user|none>           user-mode networking through a NAT on this host (default user:
                              the guest gets 10.0.2.15 by DHCP; 10.0.2.2 is this host's
                              loopback), or no network device
  --hostfwd <spec|none>       a host port forwarded into the guest, QEMU's
                              tcp:[hostaddr]:hostport-[guestaddr]:guestport (repeatable;
                              default tcp:127.0.0.1:8080-:80, honk's HTTP server)
  --display <none|web[,port=N]>  a screen (virtio-gpu 1024x768, keyboard, tablet) in a browser
                              page on http://127.0.0.1:<port>/, the serial console beside it
                              (default none: no display; port 0 or none given: any free port)
  --firmware <builtin|opensbi>  the SBI in TypeScript (default) or Debian's OpenSBI fw_jump.bin
  --input <file>              read console input from a file (non-interactive; also when stdin is a pipe)
  --config <file.json>        defaults from a JSON file ({"smp": 2, "mem": "1G", ...}; honk.json if present)
  --help                      this text
Ctrl-A x quits the machine; 'exit' or Ctrl-D in the shell powers it off.`

export interface HonkCliOptions {
  harts: number
  memory: number
  state: string
  diskSize: number
  disk: boolean
  share: string | undefined
  /** The share was named by the user (flag or config): it must exist. The default may be created. */
  shareNamed?: boolean
  firmware: 'builtin' | 'opensbi'
  input: string | undefined
  /** User-mode networking (`--net user`, the default) or none. */
  net: boolean
  /** Host forwards in QEMU's hostfwd syntax (default {@link DEFAULT_HOSTFWD}). */
  hostForwards: string[]
  /** `--display web[,port=N]`: the screen in a browser page on 127.0.0.1 (port 0: any free one). None: no display. */
  display?: { port: number } | undefined
  /** `--disk-bus nvme`: the disk on an NVMe controller (PCIe) instead of virtio-blk. */
  diskBus?: 'virtio' | 'nvme'
}

/** The screen `--display web` gives honk. */
export const DISPLAY_SIZE = { width: 1024, height: 768 } as const

/** `pnpm start`'s port forward: host 127.0.0.1:8080 → honk's HTTP server on :80. */
export const DEFAULT_HOSTFWD = 'tcp:127.0.0.1:8080-:80'

const OPTIONS = {
  smp: { type: 'string' },
  mem: { type: 'string' },
  state: { type: 'string' },
  'disk-size': { type: 'string' },
  'no-disk': { type: 'boolean' },
  'disk-bus': { type: 'string' },
  share: { type: 'string' },
  firmware: { type: 'string' },
  input: { type: 'string' },
  net: { type: 'string' },
  display: { type: 'string' },
  hostfwd: { type: 'string', multiple: true },
  config: { type: 'string' },
  help: { type: 'boolean' },
} as const

type Key = keyof typeof OPTIONS

/** What a config file may give for each key: the flag's own type, and numbers where the flag takes one. */
const CONFIG_TYPES: Partial<Record<Key, readonly ('string' | 'number' | 'boolean')[]>> = {
  smp: ['number', 'string'],
  mem: ['string', 'number'],
  'disk-size': ['string', 'number'],
  state: ['string'],
  share: ['string'],
  firmware: ['string'],
  input: ['string'],
  net: ['string'],
  display: ['string'],
  hostfwd: ['string'],
  'no-disk': ['boolean'],
  'disk-bus': ['string'],
}

const MiB = 1 << 20
/** RAM bounds: the kernel's DMA region and core need 64 MiB; a JS typed array holds at most 4 GiB. */
export const MIN_MEMORY = 64 * MiB
export const MAX_MEMORY = 4 * 1024 * MiB
/** The smallest disk the kernel lays out (metadata, two slots, the KV region, the scratch block), rounded up to MiB. */
export const MIN_DISK = Math.ceil(((2 + 2 * Math.ceil(SLOT_BYTES / 512) + Math.ceil(MIN_KV_BYTES / 512) + 1) * 512) / MiB) * MiB
export const MAX_DISK = 2 ** 40

const sizeText = (n: number) => (n % (1 << 30) === 0 ? `${n / (1 << 30)}G` : `${n / MiB}M`)

export function parseHonkCli(argv: string[], cwd = process.env['INIT_CWD'] ?? process.cwd()): HonkCliOptions | 'help' {
  let values
  try {
    // `pnpm start -- --smp 2` passes the "--" through: skip it.
    values = parseArgs({ args: argv[0] === '--' ? argv.slice(1) : argv, options: OPTIONS, strict: true }).values
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  if (values.help) return 'help'
  const configPath = values.config !== undefined ? resolve(cwd, values.config) : existsSync(join(cwd, 'honk.json')) ? join(cwd, 'honk.json') : undefined
  let file: Record<string, unknown> = {}
  if (configPath) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readCapped(configPath, MAX_CONFIG_BYTES))
    } catch (e) {
      throw new UsageError(`config ${configPath}: ${hostReason(e)}`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`config ${configPath}: must be a JSON object like {"smp": 2}, not ${quote(parsed)}`)
    file = parsed as Record<string, unknown>
    for (const [k, v] of Object.entries(file)) {
      // Own keys only: "__proto__", "constructor"… are Object.prototype's, not config types.
      const types = Object.hasOwn(CONFIG_TYPES, k) ? CONFIG_TYPES[k as Key] : undefined
      if (!types) throw new UsageError(`config ${configPath}: unknown key ${quote(k)}`)
      if (!types.includes(typeof v as 'string')) throw new UsageError(`config ${configPath}: "${k}" must be a ${types.join(' or ')}, not ${quote(v)}`)
    }
  }
  /** The value of `k`: the flag, else the config file's (as the flag's text). */
  const pick = (k: Key): string | boolean | undefined => {
    const flag = (values as Record<string, string | boolean | string[] | undefined>)[k]
    const v = (Array.isArray(flag) ? flag[flag.length - 1] : flag) ?? file[k]
    return typeof v === 'number' ? String(v) : (v as string | boolean | undefined)
  }
  const str = (k: Key, d: string) => {
    const v = pick(k)
    return typeof v === 'string' ? v : d
  }
  const smp = str('smp', '4')
  const harts = /^\d+$/.test(smp.trim()) ? Number(smp) : NaN
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`--smp ${smp}: 1 to 8 harts`)
  const firmware = str('firmware', 'builtin')
  if (firmware !== 'builtin' && firmware !== 'opensbi') throw new UsageError(`--firmware ${firmware}: builtin or opensbi`)
  const mem = str('mem', '512M')
  const memory = parseSize(mem)
  if (memory < MIN_MEMORY) throw new UsageError(`--mem ${mem}: honk needs at least ${sizeText(MIN_MEMORY)}`)
  if (memory > MAX_MEMORY) throw new UsageError(`--mem ${mem}: at most ${sizeText(MAX_MEMORY)}`)
  if (memory % (2 * MiB) !== 0) throw new UsageError(`--mem ${mem}: a whole number of 2M blocks`)
  const disk = str('disk-size', '64M')
  const diskSize = parseSize(disk)
  if (diskSize < MIN_DISK) throw new UsageError(`--disk-size ${disk}: a disk needs at least ${sizeText(MIN_DISK)} (two 1M image slots, a 1M store, metadata)`)
  if (diskSize > MAX_DISK) throw new UsageError(`--disk-size ${disk}: at most 1024G`)
  const diskBus = str('disk-bus', 'virtio')
  if (diskBus !== 'virtio' && diskBus !== 'nvme') throw new UsageError(`--disk-bus ${diskBus}: virtio or nvme`)
  const share = pick('share')
  const state = str('state', '.honk')
  const input = pick('input')
  for (const [flag, v] of [['--state', state], ['--share', share], ['--input', input]] as const) if (v === '') throw new UsageError(`${flag}: an empty path`)
  const net = str('net', 'user')
  if (net !== 'user' && net !== 'none') throw new UsageError(`--net ${net}: user or none`)
  const display = parseDisplay(str('display', 'none'))
  const fwdFlags = values.hostfwd ?? (typeof file['hostfwd'] === 'string' ? [file['hostfwd']] : [DEFAULT_HOSTFWD])
  const hostForwards = fwdFlags.includes('none') ? [] : fwdFlags
  for (const spec of hostForwards) {
    try {
      parseHostForward(spec)
    } catch (e) {
      throw new UsageError(`--hostfwd ${spec}: ${describeError(e)}`)
    }
  }
  return {
    harts,
    memory,
    state: resolve(cwd, state),
    diskSize,
    disk: pick('no-disk') !== true,
    share: share === 'none' ? undefined : resolve(cwd, typeof share === 'string' ? share : './share'),
    shareNamed: typeof share === 'string' && share !== 'none',
    firmware,
    input: typeof input === 'string' ? resolve(cwd, input) : undefined,
    net: net === 'user',
    hostForwards,
    ...(display ? { display } : {}),
    ...(diskBus === 'nvme' ? { diskBus } : {}),
  }
}

/** `none`, `web` or `web,port=N` (N in 0..65535; 0 = any free port). */
export function parseDisplay(text: string): { port: number } | undefined {
  if (text === 'none') return undefined
  const [kind, ...opts] = text.split(',')
  if (kind !== 'web') throw new UsageError(`--display ${text}: none or web[,port=N]`)
  let port = 0
  for (const o of opts) {
    if (!o.startsWith('port=')) throw new UsageError(`--display ${text}: unknown option ${JSON.stringify(o)} (port=N, 0..65535)`)
    const value = o.slice('port='.length)
    if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new UsageError(`--display ${text}: port ${JSON.stringify(value)} is not a TCP port (0..65535; 0 = any free port)`)
    port = Number(value)
  }
  return { port }
}

/** What `prepareHonk` set up for a run; `undo` removes what it created (a run refused before booting). */
export interface PreparedRun {
  disk: FileBlockDevice | undefined
  input: string | undefined
  firmware: Uint8Array | undefined
  undo(): Promise<void>
}

/** A host error (ENOENT, EACCES…) as its short text: "no such file or directory". */
/** The largest config file read: it is a small JSON object (an endless /dev/zero was read whole, and the process died). */
const MAX_CONFIG_BYTES = 1 << 20

/** A value as JSON for a one-line message, cut to 60 characters. */
function quote(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 60 ? `${text.slice(0, 60)}…` : text
}

/** Reads a file as UTF-8, refusing one larger than `max` bytes without reading past that. */
function readCapped(path: string, max: number): string {
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.alloc(max + 1)
    let n = 0
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += got
    if (n > max) throw new UsageError(`larger than ${max >> 20}M (a config file is a small JSON object)`)
    return buf.toString('utf8', 0, n)
  } finally {
    closeSync(fd)
  }
}

function hostReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code
  const text: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted', ENOTDIR: 'a path component is not a directory', EROFS: 'read-only file system', EEXIST: 'already exists', EISDIR: 'is a directory', ENOSPC: 'no space left on device' }
  return (code && text[code]) ?? describeError(e)
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new UsageError(`${path}: ${hostReason(e)}`)
  }
}

/**
 * Checks every path before creating anything, then creates what the run needs: the state folder
 * (one level: its parent must exist — Node's recursive mkdir loops forever on /proc), the disk
 * image, the default share folder. Throws `UsageError` (one line) for anything wrong.
 */
export async function prepareHonk(options: HonkCliOptions): Promise<PreparedRun> {
  // 1. Check: nothing is created until every check has passed.
  let input: string | undefined
  if (options.input !== undefined) {
    try {
      input = await readFile(options.input, 'utf8')
    } catch (e) {
      throw new UsageError(`--input ${options.input}: ${hostReason(e)}`)
    }
  }
  let firmware: Uint8Array | undefined
  if (options.firmware === 'opensbi') {
    try {
      firmware = new Uint8Array(await readFile(OPENSBI_FW_JUMP))
    } catch (e) {
      throw new UsageError(`--firmware opensbi: ${OPENSBI_FW_JUMP}: ${hostReason(e)} (apt install opensbi)`)
    }
  }
  const shareStat = options.share !== undefined ? await statOrUndefined(options.share) : undefined
  if (options.share !== undefined) {
    if (shareStat && !shareStat.isDirectory()) throw new UsageError(`--share ${options.share}: not a directory`)
    if (!shareStat && options.shareNamed) throw new UsageError(`--share ${options.share}: no such directory (create it, or use --share none)`)
    if (!shareStat && !(await statOrUndefined(dirname(options.share)))?.isDirectory()) throw new UsageError(`--share ${options.share}: its parent folder does not exist`)
  }
  const diskPath = join(options.state, 'disk.img')
  let stateStat: Awaited<ReturnType<typeof statOrUndefined>>
  let diskStat: Awaited<ReturnType<typeof statOrUndefined>>
  if (options.disk) {
    stateStat = await statOrUndefined(options.state)
    if (stateStat && !stateStat.isDirectory()) throw new UsageError(`--state ${options.state}: not a directory`)
    if (!stateStat) {
      const parent = await statOrUndefined(dirname(options.state))
      if (!parent?.isDirectory()) throw new UsageError(`--state ${options.state}: its parent folder ${dirname(options.state)} does not exist`)
    }
    diskStat = stateStat ? await statOrUndefined(diskPath) : undefined
    if (diskStat && !diskStat.isFile() && !diskStat.isBlockDevice()) throw new UsageError(`${diskPath}: not a disk image (${diskStat.isDirectory() ? 'a directory' : 'not a regular file'})`)
  }

  // 2. Create, remembering what to undo if a later step (or the machine's construction) fails.
  const created: { path: string; dir: boolean }[] = []
  const undo = async () => {
    for (const c of created.reverse()) await (c.dir ? rmdir(c.path) : rm(c.path, { force: true })).catch(() => undefined)
    created.length = 0
  }
  let disk: FileBlockDevice | undefined
  try {
    if (options.disk) {
      if (!stateStat) {
        try {
          await mkdir(options.state)
        } catch (e) {
          throw new UsageError(`--state ${options.state}: cannot create the folder: ${hostReason(e)}`)
        }
        created.push({ path: options.state, dir: true })
      }
      if (!diskStat) {
        // Created here (exclusively) so that a failure further on knows the file is ours to remove.
        try {
          await (await open(diskPath, 'wx', 0o644)).close()
        } catch (e) {
          throw new UsageError(`${diskPath}: cannot create the disk image: ${hostReason(e)}`)
        }
        created.push({ path: diskPath, dir: false })
      }
      disk = await FileBlockDevice.open(diskPath, { blockSize: 512, ...(!diskStat ? { blockCount: options.diskSize / 512 } : {}) })
      if (disk.blockCount * 512 < MIN_DISK) {
        const blocks = disk.blockCount
        await disk.close()
        disk = undefined
        throw new UsageError(`${diskPath}: ${blocks} blocks of 512 bytes, too small for honk (at least ${sizeText(MIN_DISK)})`)
      }
    }
    if (options.share !== undefined && !shareStat) {
      try {
        await mkdir(options.share)
      } catch (e) {
        throw new UsageError(`--share ${options.share}: cannot create the folder: ${hostReason(e)}`)
      }
      created.push({ path: options.share, dir: true })
    }
  } catch (e) {
    await disk?.close().catch(() => undefined)
    await undo()
    throw e
  }
  return { disk, input, firmware, undo }
}

export interface HonkIo {
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

const processIo = (): HonkIo => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })

/** Runs honk until power-off (rebooting on a reset); returns the process exit code. */
export async function runHonk(options: HonkCliOptions, io: Pick<HonkIo, 'stdin' | 'stdout'> = processIo()): Promise<number> {
  const prepared = await prepareHonk(options)
  let booted = false
  try {
    return await runPrepared(options, prepared, io, () => (booted = true))
  } finally {
    await prepared.disk?.close().catch(() => undefined)
    // A run that failed before its machine ever started leaves nothing behind.
    if (!booted) await prepared.undo()
  }
}

async function runPrepared(options: HonkCliOptions, prepared: PreparedRun, io: Pick<HonkIo, 'stdin' | 'stdout'>, onBoot: () => void): Promise<number> {
  const out: number[] = []
  const flush = () => {
    if (out.length) io.stdout.write(Uint8Array.from(out.splice(0)))
  }
  const feeder = new ConsoleFeeder()
  let machine: ReturnType<typeof createHonk>['machine'] | undefined
  /** Input goes in once the kernel listens (its UART receive interrupt is on): firmware may reset the FIFO before. */
  let listening = false
  const flusher = setInterval(() => {
    flush()
    if (!listening && machine?.uart.listening) {
      listening = true
      feeder.attach(machine)
    }
    feeder.pump()
  }, 10)
  const interactive = options.input === undefined && io.stdin.isTTY === true
  if (interactive) io.stdin.setRawMode(true)
  let ctrlA = false
  let quit = false
  /**
   * Non-interactive input is typed a line at a time, each after a prompt, as a person would:
   * firmware may reset the UART's FIFO while it boots, and a `reboot` would swallow lines sent
   * ahead of it. When the input has ended and nothing is left to type, the next prompt gets
   * Ctrl-D: the shell's end of input, which powers off (nobody is left to type).
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
    if (line === undefined) {
      if (!script.ended) return false
      feeder.push('\x04')
      return true
    }
    // A Ctrl-D inside a piped line is data, not the end of input.
    feeder.push(line.replaceAll('\x04', '') + '\n')
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
  const decoder = new TextDecoder()
  const onData = (chunk: Buffer) => {
    if (!interactive) return feedScript(decoder.decode(chunk, { stream: true }), false)
    for (const b of chunk) {
      if (ctrlA && b === 0x78) {
        quit = true
        machine?.stop()
        return
      }
      ctrlA = b === 0x01
      if (!ctrlA) feeder.push(Uint8Array.of(b))
    }
  }
  // The terminal went away: kill the typed line and end the input (the shell powers off).
  const onEnd = () => (interactive ? feeder.push('\x15\x04') : feedScript(decoder.decode(), true))
  if (prepared.input !== undefined) feedScript(prepared.input, true)
  else {
    io.stdin.on('data', onData)
    io.stdin.on('end', onEnd)
  }

  const network = options.net ? await startUserNet(options.hostForwards, (t) => io.stdout.write(t)) : undefined
  let web: WebDisplay | undefined
  try {
    const factory = factoryImage()
    for (;;) {
      const honk = createHonk({
        harts: options.harts,
        memory: options.memory,
        firmware: options.firmware,
        ...(prepared.firmware ? { firmwareImage: prepared.firmware } : {}),
        ...(prepared.disk ? { disk: prepared.disk, ...(options.diskBus ? { diskBus: options.diskBus } : {}) } : {}),
        ...(options.share !== undefined ? { share: { fs: new HostFS(options.share), tag: 'host' } } : {}),
        ...(network ? { net: network.guestWire } : {}),
        ...(options.display ? { display: DISPLAY_SIZE } : {}),
        consoleOut: (b) => {
          web?.consoleOutput(Uint8Array.of(b))
          watchForPrompt(b)
          out.push(b)
          if (out.length > 4096) flush()
        },
        factory,
        anchor: coreAnchor(),
      })
      machine = honk.machine
      if (options.display && honk.display) {
        if (web) web.attach(honk.display)
        else {
          try {
            web = await WebDisplay.start({ ...honk.display, port: options.display.port, consoleInput: (b) => feeder.push(b) })
          } catch (e) {
            io.stdout.write(`honk: web display not started: ${describeError(e)}\n`)
            honk.machine.stop()
            await honk.close()
            return 1
          }
          io.stdout.write(`honk: display on ${web.url}  (open it in a browser: the screen and this console)\n`)
        }
      }
      onBoot()
      listening = false
      const exit = await machine.run()
      feeder.attach(undefined)
      machine = undefined
      await honk.close()
      await prepared.disk?.flush()
      flush()
      if (exit.reason === 'reset' && !quit) continue
      if (exit.reason === 'error') io.stdout.write(`\nhonk: machine error: ${exit.message}\n`)
      return exitCode(exit)
    }
  } finally {
    await web?.close().catch(() => undefined)
    await network?.nat.close().catch(() => undefined)
    clearInterval(flusher)
    flush()
    io.stdin.off('data', onData)
    io.stdin.off('end', onEnd)
    if (interactive) io.stdin.setRawMode(false)
    io.stdin.pause()
  }
}

/**
 * The user-mode NAT on one end of a wire whose other end becomes the guest's NIC. A forward whose
 * host port cannot be bound (in use) is reported and left out: the guest's network works without it.
 */
async function startUserNet(hostForwards: string[], say: (text: string) => void): Promise<{ nat: UserNet; guestWire: ReturnType<typeof loopbackPair>[0] }> {
  const [guestWire, hostWire] = loopbackPair()
  let forwards = hostForwards
  for (;;) {
    try {
      const nat = await UserNet.create({ port: hostWire, hostForwards: forwards })
      const shown = nat.forwards().map((f) => `${f.hostAddress}:${f.hostPort} → guest :${f.guestPort}`)
      say(`honk: user-mode network: gateway 10.0.2.2 (this host), DHCP, DNS${shown.length ? `; forwarding ${shown.join(', ')}` : ''}\n`)
      return { nat, guestWire }
    } catch (e) {
      if (forwards.length === 0) throw e
      say(`honk: port forward${forwards.length > 1 ? 's' : ''} ${forwards.join(', ')} not set up: ${describeError(e)} (the guest's network works without; --hostfwd picks another port, --hostfwd none turns this off)\n`)
      forwards = []
    }
  }
}

/** `pnpm start`: parses, checks, runs; any error is one line on stderr (2 for usage, 1 otherwise). */
export async function honkMain(argv: string[], io: HonkIo = processIo(), cwd?: string): Promise<number> {
  try {
    const options = parseHonkCli(argv, cwd)
    if (options === 'help') {
      io.stdout.write(HONK_USAGE + '\n')
      return 0
    }
    return await runHonk(options, io)
  } catch (e) {
    io.stderr.write(`honk: ${describeError(e)}${e instanceof UsageError ? ' (pnpm start --help lists the options)' : ''}\n`)
    return e instanceof UsageError ? 2 : 1
  }
}
