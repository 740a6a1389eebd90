/**
 * `honk-virt`: the virt machine in bare mode, with a command line in the spirit of QEMU's.
 *
 *   honk-virt --bios <file|builtin|none> --kernel <file> [--initrd f] [--append "…"]
 *             [--smp N] [--mem 512M] [--drive file.img]… [--share dir] [--nographic]
 *
 * The console is stdin/stdout (raw mode on a terminal; Ctrl-A x quits). The exit code is the
 * guest's: 0 on poweroff, the sifive-test failure code otherwise, 2 for usage errors, 3 for a
 * machine error.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { BlockDevice } from '@honk/block'
import { FileBlockDevice } from '@honk/block/node'
import { serve } from '@honk/p9'
import { HostFS } from '@honk/vfs/node'
import { VirtMachine, type MachineConfig, type MachineExit } from './board.js'
import { boot } from './boot.js'

export const USAGE = `usage: honk-virt --kernel <file> [options]
  --bios <file|builtin|none>  M-mode firmware to run (e.g. OpenSBI fw_jump.bin), the SBI in
                              TypeScript (builtin, default), or none (the kernel runs in M-mode)
  --kernel <file>             Linux Image, U-Boot u-boot.bin, or an ELF
  --initrd <file>             initramfs
  --append "<cmdline>"        kernel command line
  --smp <n>                   harts (1-8, default 1)
  --mem <size>                RAM, e.g. 512M or 1G (default 256M)
  --drive <file>              a virtio-blk disk backed by a file (repeatable)
  --share <dir>               export a host directory over virtio-9p (mount tag "honk")
  --mmu <sv48|sv57>           widest paging mode the harts offer (default sv48; sv57 takes
                              exact but slower paths for addresses beyond 2^53)
  --clock <virtual|realtime>  guest time from retired instructions (default; deterministic) or
                              from the host clock
  --nographic                 accepted for QEMU compatibility (the console is always stdio)
  --help                      this text`

export interface CliOptions {
  config: Omit<MachineConfig, 'consoleOut'>
  firmware?: string
  kernel: string
  initrd?: string
  drives: string[]
  share?: string
}

export class UsageError extends Error {}

export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim())
  if (!m) throw new UsageError(`"${text}" is not a size (like 512M or 1G)`)
  const unit = { '': 1 << 20, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G']
  return Number(m[1]) * unit
}

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
  if (!v.kernel) throw new UsageError('--kernel is required')
  const harts = Number(v.smp)
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`--smp ${v.smp}: 1 to 8 harts`)
  const bios = v.bios === 'builtin' || v.bios === 'none' ? v.bios : 'firmware'
  if (v.clock !== 'virtual' && v.clock !== 'realtime') throw new UsageError(`--clock ${v.clock}: virtual or realtime`)
  if (v.mmu !== 'sv48' && v.mmu !== 'sv57') throw new UsageError(`--mmu ${v.mmu}: sv48 or sv57`)
  return {
    config: { harts, memory: parseSize(v.mem), bios, clock: v.clock, mmu: v.mmu, ...(v.append !== undefined ? { bootargs: v.append } : {}) },
    ...(bios === 'firmware' ? { firmware: v.bios } : {}),
    kernel: v.kernel,
    ...(v.initrd ? { initrd: v.initrd } : {}),
    drives: v.drive,
    ...(v.share ? { share: v.share } : {}),
  }
}

/** Builds and boots the machine a command line describes; returns it with what to close afterwards. */
export async function createFromCli(options: CliOptions, consoleOut: (byte: number) => void): Promise<{ machine: VirtMachine; close: () => Promise<void> }> {
  const drives: BlockDevice[] = []
  for (const path of options.drives) drives.push(await FileBlockDevice.open(path, { create: false }))
  const server = options.share ? serve(new HostFS(options.share)) : undefined
  const machine = new VirtMachine({
    ...options.config,
    consoleOut,
    drives,
    ...(server ? { share: { tag: 'honk', handler: (t: Uint8Array) => server.handle(t) } } : {}),
  })
  boot(machine, {
    kernel: new Uint8Array(await readFile(options.kernel)),
    ...(options.firmware ? { firmware: new Uint8Array(await readFile(options.firmware)) } : {}),
    ...(options.initrd ? { initrd: new Uint8Array(await readFile(options.initrd)) } : {}),
  })
  return {
    machine,
    close: async () => {
      await server?.close()
      for (const d of drives) await d.close()
    },
  }
}

export function exitCode(exit: MachineExit): number {
  if (exit.reason === 'poweroff') return exit.code
  if (exit.reason === 'error') return 3
  return 0
}

/** The `honk-virt` program: console on stdio, Ctrl-A x quits, a reset reboots with the same images. */
export async function main(argv: string[]): Promise<number> {
  let options: CliOptions | 'help'
  try {
    options = parseCli(argv)
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`honk-virt: ${e.message}\n${USAGE}\n`)
      return 2
    }
    throw e
  }
  if (options === 'help') {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  const out: number[] = []
  const flush = () => {
    if (out.length) process.stdout.write(Uint8Array.from(out.splice(0)))
  }
  const flusher = setInterval(flush, 10)
  const stdin = process.stdin
  const raw = stdin.isTTY
  if (raw) stdin.setRawMode(true)
  let current: VirtMachine | undefined
  let ctrlA = false
  let quit = false
  const onData = (chunk: Buffer) => {
    for (const b of chunk) {
      if (raw && ctrlA && b === 0x78) {
        quit = true
        current?.stop()
        return
      }
      ctrlA = raw && b === 0x01
      if (!ctrlA) current?.input(Uint8Array.of(b))
    }
  }
  stdin.on('data', onData)
  try {
    for (;;) {
      const { machine, close } = await createFromCli(options, (b) => {
        out.push(b)
        if (out.length > 4096) flush()
      })
      current = machine
      const exit = await machine.run()
      await close()
      flush()
      if (exit.reason === 'reset' && !quit) continue
      if (exit.reason === 'error') process.stderr.write(`\nhonk-virt: ${exit.message}\n`)
      return exitCode(exit)
    }
  } catch (e) {
    flush()
    process.stderr.write(`\nhonk-virt: ${(e as Error).message}\n`)
    return 3
  } finally {
    clearInterval(flusher)
    stdin.off('data', onData)
    if (raw) stdin.setRawMode(false)
    stdin.pause()
  }
}
