/**
 * `honk-virt`: the virt machine in bare mode, with a command line in the spirit of QEMU's.
 *
 *   honk-virt --bios <file|builtin|none> --kernel <file> [--initrd f] [--append "…"]
 *             [--smp N] [--mem 512M] [--drive file.img]… [--share dir] [--nographic]
 *
 * The console is stdin/stdout (raw mode on a terminal; Ctrl-A x quits). Input is kept from the
 * start and let into the UART once the guest listens (`Ns16550a.listening`: its receive
 * interrupt is on, or it polls LSR — firmware resets the UART's FIFO while it boots, which would
 * drop bytes sent earlier; or it reads the SBI console), no faster than the guest reads it. When stdin ends the guest keeps running, as
 * under QEMU. The exit code is the guest's: 0 on poweroff, the sifive-test failure code
 * otherwise; 2 for usage errors, 1 when a file it was given cannot be used, 3 for a machine
 * error. Every error is one line on stderr.
 */
import { readFile, stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { BlockDevice } from '@honk/block'
import { FileBlockDevice } from '@honk/block/node'
import { HonkError } from '@honk/errors'
import { serve } from '@honk/p9'
import { HostFS } from '@honk/vfs/node'
import { VirtMachine, type MachineConfig, type MachineExit } from './board.js'
import { boot } from './boot.js'
import { ConsoleFeeder } from './session.js'

export const USAGE = `usage: honk-virt --kernel <file> [options]
  --bios <file|builtin|none>  M-mode firmware to run (e.g. OpenSBI fw_jump.bin, or U-Boot's
                              u-boot.bin alone, without --kernel), the SBI in TypeScript
                              (builtin, default), or none (the kernel runs in M-mode)
  --kernel <file>             Linux Image, U-Boot u-boot.bin, or an ELF
  --initrd <file>             initramfs
  --append "<cmdline>"        kernel command line
  --smp <n>                   harts (1-8, default 1)
  --mem <size>                RAM, e.g. 512M or 1G (16M-4G, default 256M)
  --drive <file>              a virtio-blk disk backed by an existing file (repeatable)
  --share <dir>               export an existing host directory over virtio-9p (mount tag "honk")
  --mmu <sv48|sv57>           widest paging mode the harts offer (default sv48; sv57 takes
                              exact but slower paths for addresses beyond 2^53)
  --clock <virtual|realtime>  guest time from retired instructions (default; deterministic) or
                              from the host clock
  --seed <n>                  a reproducible run: the guest's entropy from this seed, the RTC on
                              the virtual clock (same images and flags: the same boot, byte for
                              byte, as long as no input, file disk or network comes in)
  --nographic                 accepted for QEMU compatibility (the console is always stdio)
  --help                      this text`

export interface CliOptions {
  config: Omit<MachineConfig, 'consoleOut'>
  firmware?: string
  /** Absent only with firmware that is itself the payload (`--bios u-boot.bin`). */
  kernel?: string
  initrd?: string
  drives: string[]
  share?: string
}

/** A command line or configuration that cannot be run: one line, exit code 2. */
export class UsageError extends HonkError {
  constructor(message: string) {
    super('USAGE', message)
  }
}

/** An error as one line of text: its message with line breaks folded (never a stack trace). */
export function describeError(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e)
  return text.replace(/\s*\n\s*/g, ' ').trim() || (e instanceof Error ? e.name : 'unknown error')
}

export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim())
  if (!m) throw new UsageError(`"${text}" is not a size (like 512M or 1G)`)
  const unit = { '': 1 << 20, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G']
  return Number(m[1]) * unit
}

const MiB = 1 << 20
export function parseCli(argv: string[]): CliOptions | 'help' {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        bios: { type: 'string', default: 'builtin' },
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
        smp: { type: 'string', default: '1' },
        mem: { type: 'string', default: '256M' },
        drive: { type: 'string', multiple: true, default: [] },
        share: { type: 'string' },
        nographic: { type: 'boolean', default: false },
        clock: { type: 'string', default: 'virtual' },
        seed: { type: 'string' },
        mmu: { type: 'string', default: 'sv48' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    })
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  const v = parsed.values
  if (v.help) return 'help'
  const bios = v.bios === 'builtin' || v.bios === 'none' ? v.bios : 'firmware'
  if (!v.kernel && bios !== 'firmware') throw new UsageError('--kernel is required (or --bios <file> alone, as QEMU -bios u-boot.bin)')
  const harts = /^\d+$/.test(v.smp.trim()) ? Number(v.smp) : NaN
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`--smp ${v.smp}: 1 to 8 harts`)
  const memory = parseSize(v.mem)
  if (memory < 16 * MiB || memory > 4096 * MiB || memory % (2 * MiB) !== 0) throw new UsageError(`--mem ${v.mem}: 16M to 4G, in whole 2M blocks`)
  for (const [flag, value] of [['--kernel', v.kernel], ['--initrd', v.initrd], ['--share', v.share], ['--bios', v.bios], ...v.drive.map((d) => ['--drive', d])]) if (value === '') throw new UsageError(`${flag}: an empty path`)
  if (v.clock !== 'virtual' && v.clock !== 'realtime') throw new UsageError(`--clock ${v.clock}: virtual or realtime`)
  if (v.mmu !== 'sv48' && v.mmu !== 'sv57') throw new UsageError(`--mmu ${v.mmu}: sv48 or sv57`)
  const seed = v.seed === undefined ? undefined : /^\d{1,15}$/.test(v.seed.trim()) ? Number(v.seed) : NaN
  if (Number.isNaN(seed)) throw new UsageError(`--seed ${v.seed}: a whole number (0 to 15 digits)`)
  if (seed !== undefined && v.clock !== 'virtual') throw new UsageError('--seed needs --clock virtual (a reproducible run keeps guest time off the host clock)')
  return {
    config: { harts, memory, bios, clock: v.clock, mmu: v.mmu, ...(v.append !== undefined ? { bootargs: v.append } : {}), ...(seed !== undefined ? { seed } : {}) },
    ...(bios === 'firmware' ? { firmware: v.bios } : {}),
    ...(v.kernel ? { kernel: v.kernel } : {}),
    ...(v.initrd ? { initrd: v.initrd } : {}),
    drives: v.drive,
    ...(v.share ? { share: v.share } : {}),
  }
}

/** The files a command line names, read (and checked) before any machine or server exists. */
export interface CliFiles {
  kernel: Uint8Array
  firmware?: Uint8Array
  initrd?: Uint8Array
}

async function readInput(flag: string, path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (e) {
    throw new CliFileError(`${flag} ${path}: ${hostReason(e)}`)
  }
}

/** A file named on the command line cannot be used: one line, exit code 1. */
export class CliFileError extends HonkError {
  constructor(message: string) {
    super('CLI_FILE', message)
  }
}

/** A host error (ENOENT, EACCES…) as its short text. */
export function hostReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  const text: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EPERM: 'operation not permitted', ENOTDIR: 'a path component is not a directory', EROFS: 'read-only file system', EEXIST: 'already exists', EISDIR: 'is a directory', ENOSPC: 'no space left on device' }
  return (code && text[code]) ?? describeError(e)
}

/** Reads the images and checks the share, so that nothing is opened for a command line that cannot run. */
export async function readCliFiles(options: CliOptions): Promise<CliFiles> {
  if (options.share !== undefined) {
    const st = await stat(options.share).catch((e: unknown) => {
      throw new CliFileError(`--share ${options.share}: ${hostReason(e)}`)
    })
    if (!st.isDirectory()) throw new CliFileError(`--share ${options.share}: not a directory`)
  }
  return {
    kernel: options.kernel !== undefined ? await readInput('--kernel', options.kernel) : new Uint8Array(0),
    ...(options.firmware ? { firmware: await readInput('--bios', options.firmware) } : {}),
    ...(options.initrd ? { initrd: await readInput('--initrd', options.initrd) } : {}),
  }
}

/** Builds and boots the machine a command line describes; returns it with what to close afterwards. */
export async function createFromCli(options: CliOptions, consoleOut: (byte: number) => void, files?: CliFiles): Promise<{ machine: VirtMachine; close: () => Promise<void> }> {
  const images = files ?? (await readCliFiles(options))
  const drives: BlockDevice[] = []
  let server: ReturnType<typeof serve> | undefined
  try {
    for (const path of options.drives) {
      try {
        drives.push(await FileBlockDevice.open(path, { create: false }))
      } catch (e) {
        throw e instanceof HonkError ? e : new CliFileError(`--drive ${path}: ${hostReason(e)}`)
      }
    }
    server = options.share ? serve(new HostFS(options.share)) : undefined
    const p9 = server
    const machine = new VirtMachine({
      ...options.config,
      consoleOut,
      drives,
      ...(p9 ? { share: { tag: 'honk', handler: (t: Uint8Array) => p9.handle(t) } } : {}),
    })
    boot(machine, { kernel: images.kernel, ...(images.firmware ? { firmware: images.firmware } : {}), ...(images.initrd ? { initrd: images.initrd } : {}) })
    return {
      machine,
      close: async () => {
        await p9?.close()
        for (const d of drives) await d.close()
      },
    }
  } catch (e) {
    await server?.close().catch(() => undefined)
    for (const d of drives) await d.close().catch(() => undefined)
    throw e
  }
}

export function exitCode(exit: MachineExit): number {
  if (exit.reason === 'poweroff') return exit.code
  if (exit.reason === 'error') return 3
  return 0
}

/** Host input queued beyond this pauses reading stdin until the guest has taken most of it. */
const STDIN_HIGH = 1 << 20
const STDIN_LOW = 256 << 10
export interface CliIo {
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

/** The `honk-virt` program: console on stdio, Ctrl-A x quits, a reset reboots with the same images. */
export async function main(argv: string[], io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let options: CliOptions | 'help'
  let files: CliFiles
  try {
    options = parseCli(argv)
    if (options === 'help') {
      io.stdout.write(USAGE + '\n')
      return 0
    }
    files = await readCliFiles(options)
  } catch (e) {
    io.stderr.write(`honk-virt: ${describeError(e)}${e instanceof UsageError ? ' (honk-virt --help lists the options)' : ''}\n`)
    return e instanceof UsageError ? 2 : 1
  }
  const out: number[] = []
  const flush = () => {
    if (out.length) io.stdout.write(Uint8Array.from(out.splice(0)))
  }
  const stdin = io.stdin
  const feeder = new ConsoleFeeder()
  let current: VirtMachine | undefined
  /** The current run's guest listens: input may go in. */
  let ready = false
  const open = () => {
    ready = true
    feeder.attach(current)
  }
  let paused = false
  const flusher = setInterval(() => {
    flush()
    if (!ready && current && (current.uart.listening || current.sbiConsole)) open()
    feeder.pump()
    if (paused && feeder.pending < STDIN_LOW) {
      paused = false
      stdin.resume()
    }
  }, 10)
  const raw = stdin.isTTY === true
  if (raw) stdin.setRawMode(true)
  let ctrlA = false
  let quit = false
  const onData = (chunk: Buffer) => {
    if (raw) {
      for (const b of chunk) {
        if (ctrlA && b === 0x78) {
          quit = true
          current?.stop()
          return
        }
        ctrlA = b === 0x01
        if (!ctrlA) feeder.push(Uint8Array.of(b))
      }
    } else feeder.push(new Uint8Array(chunk))
    if (feeder.pending > STDIN_HIGH && !paused) {
      paused = true
      stdin.pause()
    }
  }
  // End of input: stop listening (no reads on a closed stdin); the guest keeps running, as under QEMU.
  const onEnd = () => {
    stdin.off('data', onData)
    stdin.off('end', onEnd)
  }
  stdin.on('data', onData)
  stdin.on('end', onEnd)
  try {
    for (;;) {
      const { machine, close } = await createFromCli(
        options,
        (b) => {
          out.push(b)
          if (out.length > 4096) flush()
        },
        files,
      )
      current = machine
      ready = false
      const exit = await machine.run()
      feeder.attach(undefined)
      current = undefined
      await close()
      flush()
      if (exit.reason === 'reset' && !quit) continue
      if (exit.reason === 'error') io.stderr.write(`\nhonk-virt: ${describeError(exit.message)}\n`)
      return exitCode(exit)
    }
  } catch (e) {
    flush()
    io.stderr.write(`honk-virt: ${describeError(e)}\n`)
    return e instanceof UsageError ? 2 : e instanceof HonkError ? 1 : 3
  } finally {
    clearInterval(flusher)
    stdin.off('data', onData)
    stdin.off('end', onEnd)
    if (raw) stdin.setRawMode(false)
    stdin.pause()
  }
}
