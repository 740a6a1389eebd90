/**
 * `honk-virt`: the virt machine in bare mode, with a command line in the spirit of QEMU's.
 *
 *   honk-virt --bios <file|builtin|none> --kernel <file> [--initrd f] [--append "…"]
 *             [--smp N] [--mem 512M] [--drive file.img]… [--share dir] [--nographic]
 *
 * QEMU's spellings work as pasted: `-x` or `--x` for every option, `-m 512`, `-smp cpus=4`,
 * `-drive file=…,format=raw[,if=virtio|none,id=…,readonly=on]`, `-virtfs local,…,mount_tag=…`,
 * `-fsdev` + `-device virtio-9p-device`, `-device virtio-blk-device|virtio-rng-device`, the PCI
 * devices (`-device virtio-blk-pci|virtio-net-pci|virtio-9p-pci|virtio-rng-pci|nvme` on the PCIe
 * host, in slots 1, 2, … as QEMU numbers them; `-virtfs` and `if=virtio` stay on virtio-mmio), the
 * display devices (`-device virtio-gpu-device|virtio-keyboard-device|virtio-tablet-device`,
 * `-display none|web`, `--screenshot`; cli-display.ts). An option the machine cannot honour
 * (`-netdev tap`, `-display sdl`, `-serial tcp:…`, a property it lacks) is refused with one line
 * and exit 2, never ignored.
 *
 * The console is stdin/stdout (raw mode on a terminal; Ctrl-A x quits). Input is kept from the
 * start and let into the UART once the guest listens (`Ns16550a.listening`: its receive
 * interrupt is on, or it polls LSR — firmware resets the UART's FIFO while it boots, which would
 * drop bytes sent earlier; or it reads the SBI console), no faster than the guest reads it. When stdin ends the guest keeps running, as
 * under QEMU. The exit code is the guest's: 0 on poweroff, the sifive-test failure code
 * otherwise; 2 for usage errors, 1 when a file it was given cannot be used, 3 for a machine
 * error. Every error is one line on stderr.
 */
import { readFileSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import type { BlockDevice } from '@honk/block'
import { FileBlockDevice } from '@honk/block/node'
import { HonkError } from '@honk/errors'
import { DEFAULT_ISA, withoutExtension } from '@honk/sbi'
import { serve } from '@honk/p9'
import { HostFS } from '@honk/vfs/node'
import { NvmeController, VirtioBlk, VirtioNet, VirtioP9, VirtioPci, VirtioRng, type FramePort, type P9Handler, type VirtioDevice } from '@honk/virtio'
import { VirtMachine, type MachineConfig, type MachineExit, type PciFactory } from './board.js'
import { boot } from './boot.js'
import { ParallelMachine } from './parallel.js'
import { ConsoleFeeder } from './session.js'
import { WebDisplay } from './web-display.js'
import { checkPortFree, createDisplayDevices, parsePort, parseSide, writeScreenshot, type DisplayDevices, type DisplaySpec } from './cli-display.js'
import { checkMac, keyvalItems, openNetBackend, parseNetdev, type NetBackend, type NetdevSpec, type NicSpec } from './cli-net.js'

export const USAGE = `usage: honk-virt --kernel <file> [options]    (QEMU's -x spellings work too)
  --bios <file|builtin|none>  M-mode firmware to run (e.g. OpenSBI fw_jump.bin, or U-Boot's
                              u-boot.bin alone, without --kernel), the SBI in TypeScript
                              (builtin, default; QEMU's "default" means it too), or none (the
                              kernel runs in M-mode)
  --kernel <file>             Linux Image, U-Boot u-boot.bin, or an ELF
  --initrd <file>             initramfs
  --append "<cmdline>"        kernel command line
  --smp <n>                   harts (1-8, default 1); also -smp cpus=N
  --mem, -m <size>            RAM, e.g. 512M or 1G; a bare number is MiB (16M-4G, default 256M)
  --drive <file>              a virtio-blk disk backed by an existing file (repeatable); or
                              QEMU's file=<f>,format=raw[,if=virtio|none][,id=d][,readonly=on]
  --share <dir>               export an existing host directory over virtio-9p
  --share-tag <tag>           the share's 9P mount tag (default "honk")
  --virtfs local,path=<dir>,mount_tag=<tag>[,security_model=none][,readonly=on]
                              QEMU's form of --share (mount_tag required, as in QEMU)
  --fsdev local,id=<id>,path=<dir>[,security_model=none][,readonly=on]
  --device <driver,…>         virtio-blk-device,drive=<id> | virtio-9p-device,fsdev=<id>,
                              mount_tag=<tag> | virtio-net-device,netdev=<id>[,mac=<mac>] |
                              virtio-rng-device (always present) |
                              virtio-gpu-device[,xres=<w>][,yres=<h>] (2D, default 1280x800) |
                              virtio-keyboard-device | virtio-tablet-device
                              On the PCIe bus: virtio-blk-pci,drive=<id> |
                              virtio-net-pci,netdev=<id>[,mac=<mac>] |
                              virtio-9p-pci,fsdev=<id>,mount_tag=<tag> | virtio-rng-pci |
                              nvme,drive=<id>,serial=<serial>
  --netdev user,id=<id>[,hostfwd=tcp:[hostaddr]:port-[guestaddr]:port]…[,restrict=on]
                              user-mode networking: a NAT on this host (gateway 10.0.2.2 is
                              this host's loopback, DHCP gives 10.0.2.15, DNS at 10.0.2.3)
  --netdev stream,id=<id>,server=on|off,addr.type=inet,addr.host=<h>,addr.port=<p>
  --netdev dgram,id=<id>,local.host=…,local.port=…,remote.host=…,remote.port=…
  --netdev socket,id=<id>,listen=[h]:<p>|connect=<h>:<p>|udp=<h>:<p>,localaddr=<h>:<p>
                              raw Ethernet frames over a socket, as QEMU's netdevs: join a
                              QEMU guest's wire
  --net user[,hostfwd=…], --nic user[,mac=…][,hostfwd=…]
                              short for a user-mode netdev with its virtio-net card
  --mmu <sv48|sv57>           widest paging mode the harts offer (default sv48; sv57 takes
                              exact but slower paths for addresses beyond 2^53)
  --clock <virtual|realtime>  guest time from retired instructions (default; deterministic) or
                              from the host clock (the default with --display web or --parallel)
  --seed <n>                  a reproducible run: the guest's entropy from this seed, the RTC on
                              the virtual clock (same images and flags: the same boot, byte for
                              byte, as long as no input, file disk or network comes in)
  --no-reboot                 exit when the guest resets instead of rebooting it
  --parallel                  each hart in its own thread (Worker) over shared RAM: --smp N
                              uses N host cores; needs --clock realtime (implied); any --bios
                              (the builtin SBI runs in each hart's thread); not reproducible
  --display none|web[,port=<n>]
                              web: the screen, keyboard and pointer and the serial console in
                              a page on 127.0.0.1 (port printed; default any free one); with no
                              display device given, adds virtio-gpu, -keyboard and -tablet
  --screenshot <file.png>     the display (virtio-gpu scanout 0) as a PNG when the machine
                              exits, like QEMU's screendump
  -cpu rv64[,h=true][,sstc=false]
                              the harts; h=true (or on) adds the hypervisor extension (H, as
                              QEMU's; riscv,isa then has the 'h'), e.g. for Linux's KVM;
                              sstc=false: the device tree does not offer Sstc (Linux then sets
                              its timer through SBI calls)
  --nographic, -M/-machine virt, -serial stdio|mon:stdio,
  -accel tcg                  accepted for QEMU compatibility: they ask for what the machine is
                              (the console is always stdio; Ctrl-A x quits)
  --version                   the version
  --help, -h                  this text
Any other option (e.g. -snapshot, -monitor) is refused with one line, exit code 2.`

export interface CliOptions {
  config: Omit<MachineConfig, 'consoleOut'>
  firmware?: string
  /** Absent only with firmware that is itself the payload (`--bios u-boot.bin`). */
  kernel?: string
  initrd?: string
  /** The virtio-blk disks, in command-line order. */
  drives: string[]
  /** Indexes into `drives` opened read-only (`readonly=on`); absent when none is. */
  readOnlyDrives?: number[]
  share?: string
  /** The share's 9P mount tag; absent means `DEFAULT_SHARE_TAG`. */
  shareTag?: string
  /** The share is exported read-only (`readonly=on`). */
  shareReadOnly?: true
  /** `-no-reboot`: a guest reset ends the run (exit 0) instead of rebooting. */
  noReboot?: true
  /** The network card and its backend (`-netdev` + `-device virtio-net-device`, or `-net user`). */
  nic?: NicSpec
  /** The display devices and front end (`-device virtio-gpu-device`…, `-display web`). */
  display?: DisplaySpec
  /** `--screenshot`: where the display goes as a PNG when the machine exits. */
  screenshot?: string
  /**
   * The PCI devices, in slot order (slot 1 first). A disk's `drive` indexes `drives`; such a
   * disk is not also a virtio-mmio one. virtio-net-pci / virtio-9p-pci put `nic` / `share` on
   * the PCI bus instead of virtio-mmio; virtio-rng-pci replaces the virtio-mmio rng.
   */
  pci?: PciDeviceSpec[]
}

/** One `-device …-pci` or `-device nvme`. */
export type PciDeviceSpec =
  | { driver: 'virtio-blk-pci'; drive: number }
  | { driver: 'nvme'; drive: number; serial: string }
  | { driver: 'virtio-net-pci' }
  | { driver: 'virtio-9p-pci' }
  | { driver: 'virtio-rng-pci' }

/** The 9P mount tag of `--share` when no tag is given: the repository's guest initramfs mounts "honk". */
export const DEFAULT_SHARE_TAG = 'honk'

/** A command line or configuration that cannot be run: one line, exit code 2. */
export class UsageError extends HonkError<'USAGE'> {
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

/**
 * Every option honk-virt takes, and whether it takes a value. Each is spelled `-name` or
 * `--name` (QEMU accepts both), a value either as the next argument or after `=`.
 */
const OPTIONS = {
  bios: true, kernel: true, initrd: true, append: true, smp: true, mem: true, m: true, drive: true, share: true, 'share-tag': true,
  virtfs: true, fsdev: true, device: true, netdev: true, net: true, nic: true, clock: true, seed: true, mmu: true, M: true, machine: true, cpu: true, display: true,
  serial: true, accel: true, screenshot: true, nographic: false, 'no-reboot': false, parallel: false, help: false, h: false, version: false,
} as const satisfies Record<string, boolean>
type OptionName = keyof typeof OPTIONS

/** QEMU options a user may paste that this machine cannot honour, with the reason. */
const UNSUPPORTED: Record<string, string> = {
  s: 'no gdb stub', S: 'no gdb stub', gdb: 'no gdb stub',
  monitor: 'no QEMU monitor (the console is stdio; Ctrl-A x quits)', qmp: 'no QMP', chardev: 'no character devices besides the console on stdio',
  snapshot: 'no snapshot mode (a drive is written in place; use readonly=on to keep it unchanged)',
  hda: 'use -drive file=…,format=raw,if=virtio', hdb: 'use -drive file=…,format=raw,if=virtio', sd: 'no SD card', pflash: 'no flash',
  dtb: 'the machine builds its own device tree', object: 'no QEMU objects', global: 'no device properties',
  vnc: 'no VNC server (-display web serves the screen on 127.0.0.1)', vga: 'no VGA (-device virtio-gpu-device)', spice: 'no SPICE (-display web serves the screen on 127.0.0.1)', 'enable-kvm': 'no hardware acceleration (the harts are emulated)',
  loadvm: 'no saved VM state', incoming: 'no migration', rtc: 'no RTC options (the RTC follows --clock)', icount: 'no -icount (--clock virtual: guest time from retired instructions)',
  usb: 'no USB', audio: 'no audio', numa: 'no NUMA', 'semihosting': 'no semihosting', 'semihosting-config': 'no semihosting', plugin: 'no TCG plugins', d: 'no QEMU logging', D: 'no QEMU logging',
}

/** QEMU's option syntax: `item,key=value,…` with `,,` a literal comma; a bare first item is the `implied` key's value. */
export function parseKeyval(flag: string, text: string, implied?: string): Map<string, string> {
  const items: string[] = []
  let cur = ''
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ',') cur += text[i]
    else if (text[i + 1] === ',') (cur += ','), i++
    else items.push(cur), (cur = '')
  }
  items.push(cur)
  const out = new Map<string, string>()
  items.forEach((item, i) => {
    const eq = item.indexOf('=')
    if (eq > 0) out.set(item.slice(0, eq), item.slice(eq + 1))
    else if (i === 0 && implied !== undefined && item !== '') out.set(implied, item)
    else throw new UsageError(`${flag} ${text}: "${item}" is not key=value`)
  })
  return out
}

function qemuBool(flag: string, key: string, value: string): boolean {
  if (['on', 'yes', 'true'].includes(value)) return true
  if (['off', 'no', 'false'].includes(value)) return false
  throw new UsageError(`${flag}: ${key}=${value}: on or off`)
}

/** Refuses the keys of a QEMU option this machine does not implement (never ignored silently). */
function rest(where: string, kv: Map<string, string>, what = 'not supported'): void {
  const [key, value] = [...kv][0] ?? []
  if (key !== undefined) throw new UsageError(`${where}: ${key}=${value} is ${what}`)
}

/** An ISA string with the hypervisor extension: `h` after the single letters, as QEMU writes it (`rv64imafdch_zicsr…`). */
/** `riscv,isa` for `-cpu rv64[,h=…][,sstc=…]`: the hart's ISA, with H, without Sstc. */
export function cpuIsa(hypervisor: boolean, withoutSstc: boolean): string {
  const isa = withoutSstc ? withoutExtension(DEFAULT_ISA, 'sstc') : DEFAULT_ISA
  return hypervisor ? withHypervisor(isa) : isa
}

export function withHypervisor(isa: string): string {
  const m = /^(rv\d+[a-z]*?)(h?)((?:_.*)?)$/.exec(isa)
  return m ? `${m[1]}h${m[3]}` : isa
}

function take(kv: Map<string, string>, key: string): string | undefined {
  const v = kv.get(key)
  kv.delete(key)
  return v
}

/** A 9P export: host directory and read-only-ness (`-fsdev`, `-virtfs`, `--share`). */
interface FsSpec {
  path: string
  readOnly: boolean
}

function parseFs(flag: string, text: string, kv: Map<string, string>): FsSpec & { id?: string } {
  const driver = take(kv, 'fsdriver')
  if (driver !== 'local') throw new UsageError(`${flag} ${text}: only the "local" fsdriver (a host directory) is supported`)
  const path = take(kv, 'path')
  if (!path) throw new UsageError(`${flag} ${text}: path=<host directory> is required`)
  // honk's HostFS stores no guest ownership or modes apart from the host's: QEMU's security_model=none.
  const model = take(kv, 'security_model') ?? 'none'
  if (model !== 'none') throw new UsageError(`${flag} ${text}: security_model=${model} is not supported (only none: files keep the host's owner)`)
  const ro = take(kv, 'readonly')
  const id = take(kv, 'id')
  return { path, readOnly: ro === undefined ? false : qemuBool(flag, 'readonly', ro), ...(id !== undefined ? { id } : {}) }
}

function checkTag(flag: string, tag: string | undefined): string {
  // virtio-9p's config space: le16 tag_len, then the tag (virtio 1.2 §5.11.4).
  const n = tag === undefined ? 0 : new TextEncoder().encode(tag).length
  if (tag === undefined || n === 0) throw new UsageError(`${flag}: mount_tag=<tag> is required (the guest mounts the share by it, e.g. mount_tag=host)`)
  if (n > 0xffff) throw new UsageError(`${flag}: the mount tag is ${n} bytes, more than 65535`)
  return tag
}

const MiB = 1 << 20
export function parseCli(argv: string[]): CliOptions | 'help' | 'version' {
  const single: Partial<Record<OptionName, { flag: string; value: string }>> = {}
  /** Options that may repeat, in command-line order (drives and devices keep their order). */
  const repeated: Array<{ name: 'drive' | 'virtfs' | 'fsdev' | 'device' | 'netdev'; flag: string; value: string }> = []
  const flags = new Set<OptionName>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const m = /^--?([A-Za-z][\w-]*)(?:=([\s\S]*))?$/.exec(arg)
    if (!m) throw new UsageError(`unexpected argument "${arg}" (a disk is -drive file=${arg},format=raw)`)
    const name = m[1]!
    const flag = arg.startsWith('--') ? `--${name}` : `-${name}`
    if (!Object.hasOwn(OPTIONS, name)) {
      const why = Object.hasOwn(UNSUPPORTED, name) ? UNSUPPORTED[name] : 'not an option of honk-virt'
      throw new UsageError(`${flag}: not supported: ${why}`)
    }
    const opt = name as OptionName
    if (!OPTIONS[opt]) {
      if (m[2] !== undefined) throw new UsageError(`${flag} takes no value`)
      if (opt === 'help' || opt === 'h') return 'help'
      if (opt === 'version') return 'version'
      flags.add(opt)
      continue
    }
    const value = m[2] ?? argv[++i]
    if (value === undefined) throw new UsageError(`${flag} needs a value`)
    if (opt === 'drive' || opt === 'virtfs' || opt === 'fsdev' || opt === 'device' || opt === 'netdev') repeated.push({ name: opt, flag, value })
    else single[opt === 'm' ? 'mem' : opt === 'M' ? 'machine' : opt] = { flag, value } // the last one wins, as in QEMU
  }
  const val = (o: OptionName) => single[o]?.value
  const label = (o: OptionName) => `${single[o]?.flag ?? `--${o}`} ${single[o]?.value ?? ''}`.trim()

  // Options that only ask for what this machine is (QEMU semantics); anything else is refused.
  if (single.machine) {
    const kv = parseKeyval(single.machine.flag, single.machine.value, 'type')
    if (take(kv, 'type') !== 'virt') throw new UsageError(`${label('machine')}: not supported: the only machine is virt`)
    rest(label('machine'), kv, 'not supported (virt with its defaults only)')
  }
  // -cpu rv64 is what the machine is; QEMU's h=true|on (h=false|off) turns on the H extension.
  let hypervisor = false
  let withoutSstc = false
  if (single.cpu) {
    const kv = parseKeyval(single.cpu.flag, single.cpu.value, 'model')
    if (take(kv, 'model') !== 'rv64') throw new UsageError(`${label('cpu')}: not supported: the only CPU model is rv64 (QEMU's default for virt)`)
    const h = take(kv, 'h')
    if (h !== undefined && !['true', 'on', 'false', 'off'].includes(h)) throw new UsageError(`${label('cpu')}: h=${h}: true, on, false or off`)
    hypervisor = h === 'true' || h === 'on'
    // QEMU's sstc=false: the device tree does not offer Sstc, so Linux sets its timer through SBI.
    const sstc = take(kv, 'sstc')
    if (sstc !== undefined && !['true', 'on', 'false', 'off'].includes(sstc)) throw new UsageError(`${label('cpu')}: sstc=${sstc}: true, on, false or off`)
    withoutSstc = sstc === 'false' || sstc === 'off'
    if (kv.size > 0) throw new UsageError(`${label('cpu')}: not supported: only rv64 and its h=true|false (the hypervisor extension) and sstc=true|false`)
  }
  let web: DisplaySpec['web']
  if (single.display) {
    const kv = parseKeyval(single.display.flag, single.display.value, 'type')
    const type = take(kv, 'type')
    if (type === 'web') {
      const port = take(kv, 'port')
      web = { port: port === undefined ? 0 : parsePort(port) ?? NaN }
      if (Number.isNaN(web.port)) throw new UsageError(`${label('display')}: port=${port}: a TCP port, 0 (any free one) to 65535`)
    } else if (type !== 'none') throw new UsageError(`${label('display')}: not supported: only none and web (the screen in a page on 127.0.0.1; the console is always stdio)`)
    rest(label('display'), kv)
  }
  if (val('serial') !== undefined && val('serial') !== 'stdio' && val('serial') !== 'mon:stdio') throw new UsageError(`${label('serial')}: not supported: the one UART is always on stdio (-serial stdio or mon:stdio)`)
  if (val('accel') !== undefined && val('accel') !== 'tcg') throw new UsageError(`${label('accel')}: not supported: the harts are emulated (-accel tcg)`)

  const biosValue = val('bios') ?? 'builtin'
  const bios = biosValue === 'builtin' || biosValue === 'default' ? 'builtin' : biosValue === 'none' ? 'none' : 'firmware'
  const kernel = val('kernel')
  if (!kernel && bios !== 'firmware') throw new UsageError('--kernel is required (or --bios <file> alone, as QEMU -bios u-boot.bin)')

  let harts = NaN
  const smpText = val('smp') ?? '1'
  if (/^\s*\d+\s*$/.test(smpText)) harts = Number(smpText)
  else if (single.smp) {
    const kv = parseKeyval(single.smp.flag, smpText, 'cpus')
    const cpus = take(kv, 'cpus')
    rest(label('smp'), kv, 'not supported (only the hart count: N or cpus=N)')
    if (cpus !== undefined && /^\d+$/.test(cpus)) harts = Number(cpus)
  }
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`${label('smp') || '--smp'}: 1 to 8 harts`)

  const memText = val('mem') ?? '256M'
  let memory: number
  if (single.mem && /=/.test(memText)) {
    const kv = parseKeyval(single.mem.flag, memText, 'size')
    const size = take(kv, 'size')
    rest(label('mem'), kv, 'not supported (only the RAM size)')
    memory = parseSize(size ?? '')
  } else memory = parseSize(memText)
  if (memory < 16 * MiB || memory > 4096 * MiB || memory % (2 * MiB) !== 0) throw new UsageError(`${label('mem')}: 16M to 4G, in whole 2M blocks`)

  // Drives and 9P exports: QEMU's -drive/-fsdev define backends, -device attaches them; if=virtio and -virtfs do both.
  const drives: Array<{ path: string; readOnly: boolean; id?: string; used: boolean }> = []
  const fsdevs = new Map<string, FsSpec & { used: boolean }>()
  const netdevs = new Map<string, { spec: NetdevSpec; used: boolean }>()
  let nic: (NicSpec & { flag: string }) | undefined
  const addNic = (flag: string, n: NicSpec) => {
    if (nic) throw new UsageError(`${flag}: not supported: one network card only (already ${nic.flag})`)
    nic = { ...n, flag }
  }
  const attached: Array<{ path: string; readOnly: boolean }> = []
  const pci: PciDeviceSpec[] = []
  const display: DisplaySpec = {}
  const once = (flag: string, driver: string, present: unknown) => {
    if (present) throw new UsageError(`${flag} ${driver}: not supported: one ${driver} only`)
  }
  let share: (FsSpec & { tag?: string; flag: string }) | undefined
  const addShare = (flag: string, s: FsSpec & { tag?: string }) => {
    if (share) throw new UsageError(`${flag}: not supported: one 9P share only (already ${share.flag})`)
    share = { ...s, flag }
  }
  for (const r of repeated) {
    if (r.name === 'drive') {
      if (!/(^|,)file=/.test(r.value)) {
        drives.push({ path: r.value, readOnly: false, used: true }) // honk-virt's own form: a path
        attached.push({ path: r.value, readOnly: false })
        continue
      }
      const kv = parseKeyval(r.flag, r.value)
      const path = take(kv, 'file') ?? ''
      const format = take(kv, 'format') ?? 'raw' // QEMU probes; a raw image probes as raw
      if (format !== 'raw') throw new UsageError(`${r.flag} ${r.value}: format=${format} is not supported (raw images only)`)
      // QEMU's riscv virt has no default interface; an -drive without if= is taken as virtio here.
      const iface = take(kv, 'if') ?? 'virtio'
      if (iface !== 'virtio' && iface !== 'none') throw new UsageError(`${r.flag} ${r.value}: if=${iface} is not supported (virtio, or none with -device virtio-blk-device)`)
      const media = take(kv, 'media') ?? 'disk'
      if (media !== 'disk') throw new UsageError(`${r.flag} ${r.value}: media=${media} is not supported (disk only)`)
      const ro = take(kv, 'readonly')
      const id = take(kv, 'id')
      rest(`${r.flag} ${r.value}`, kv)
      if (path === '') throw new UsageError(`${r.flag} ${r.value}: an empty path`)
      const readOnly = ro === undefined ? false : qemuBool(r.flag, 'readonly', ro)
      if (id !== undefined && drives.some((d) => d.id === id)) throw new UsageError(`${r.flag} ${r.value}: a drive id=${id} already exists`)
      drives.push({ path, readOnly, ...(id !== undefined ? { id } : {}), used: iface === 'virtio' })
      if (iface === 'virtio') attached.push({ path, readOnly })
    } else if (r.name === 'fsdev') {
      const kv = parseKeyval(r.flag, r.value, 'fsdriver')
      const fs = parseFs(r.flag, r.value, kv)
      rest(`${r.flag} ${r.value}`, kv)
      if (fs.id === undefined) throw new UsageError(`${r.flag} ${r.value}: id=<name> is required (-device virtio-9p-device,fsdev=<name> uses it)`)
      if (fsdevs.has(fs.id)) throw new UsageError(`${r.flag} ${r.value}: an fsdev id=${fs.id} already exists`)
      fsdevs.set(fs.id, { path: fs.path, readOnly: fs.readOnly, used: false })
    } else if (r.name === 'netdev') {
      const spec = parseNetdev(r.flag, r.value)
      if (netdevs.has(spec.id)) throw new UsageError(`${r.flag} ${r.value}: a netdev id=${spec.id} already exists`)
      netdevs.set(spec.id, { spec, used: false })
    } else if (r.name === 'virtfs') {
      const kv = parseKeyval(r.flag, r.value, 'fsdriver')
      const fs = parseFs(r.flag, r.value, kv)
      const tag = checkTag(`${r.flag} ${r.value}`, take(kv, 'mount_tag'))
      rest(`${r.flag} ${r.value}`, kv)
      addShare(r.flag, { path: fs.path, readOnly: fs.readOnly, tag })
    }
  }
  // -device after every backend exists (QEMU creates -drive and -fsdev backends before devices).
  // The disks' order: if=virtio drives as given, then those attached by -device, as given.
  for (const r of repeated) {
    if (r.name !== 'device') continue
    const kv = parseKeyval(r.flag, r.value, 'driver')
    const driver = take(kv, 'driver')!
    if (driver.startsWith('virtio-') && driver.endsWith('-pci')) {
      // Our virtio-pci functions are modern-only (virtio 1.x, device IDs 0x1040 + type): QEMU's disable-legacy=on.
      const legacy = take(kv, 'disable-legacy')
      const modern = take(kv, 'disable-modern')
      if (legacy !== undefined && !qemuBool(r.flag, 'disable-legacy', legacy)) throw new UsageError(`${r.flag} ${r.value}: disable-legacy=${legacy} is not supported (modern virtio-pci only: disable-legacy=on)`)
      if (modern !== undefined && qemuBool(r.flag, 'disable-modern', modern)) throw new UsageError(`${r.flag} ${r.value}: disable-modern=${modern} is not supported (modern virtio-pci only)`)
    }
    if (driver === 'virtio-blk-device' || driver === 'virtio-blk-pci' || driver === 'nvme') {
      const id = take(kv, 'drive')
      const serial = driver === 'nvme' ? take(kv, 'serial') : undefined
      rest(`${r.flag} ${r.value}`, kv)
      // QEMU refuses an nvme without serial=; so does honk-virt (the guest sees it in Identify).
      if (driver === 'nvme' && (serial === undefined || !/^[\x20-\x7e]{1,20}$/.test(serial))) throw new UsageError(`${r.flag} ${r.value}: serial=<1 to 20 printable characters> is required`)
      const d = drives.find((x) => x.id !== undefined && x.id === id)
      if (!d) throw new UsageError(`${r.flag} ${r.value}: drive=${id ?? ''} names no -drive …,id=${id ?? '<id>'},if=none`)
      if (d.used) throw new UsageError(`${r.flag} ${r.value}: drive ${id} is already in use`)
      d.used = true
      if (driver === 'virtio-blk-pci') pci.push({ driver, drive: attached.length })
      else if (driver === 'nvme') {
        if (d.readOnly) throw new UsageError(`${r.flag} ${r.value}: drive ${id} is readonly=on, which the NVMe controller does not offer`)
        pci.push({ driver, drive: attached.length, serial: serial! })
      }
      attached.push({ path: d.path, readOnly: d.readOnly })
    } else if (driver === 'virtio-9p-device' || driver === 'virtio-9p-pci') {
      const id = take(kv, 'fsdev')
      const tag = checkTag(`${r.flag} ${r.value}`, take(kv, 'mount_tag'))
      rest(`${r.flag} ${r.value}`, kv)
      const fs = id === undefined ? undefined : fsdevs.get(id)
      if (!fs) throw new UsageError(`${r.flag} ${r.value}: fsdev=${id ?? ''} names no -fsdev local,id=…`)
      if (fs.used) throw new UsageError(`${r.flag} ${r.value}: fsdev ${id} is already in use`)
      fs.used = true
      addShare(r.flag, { path: fs.path, readOnly: fs.readOnly, tag })
      if (driver === 'virtio-9p-pci') pci.push({ driver })
    } else if (driver === 'virtio-rng-pci') {
      rest(`${r.flag} ${r.value}`, kv, 'not supported (the rng takes no properties)')
      if (pci.some((p) => p.driver === driver)) throw new UsageError(`${r.flag} ${driver}: not supported: one ${driver} only`)
      pci.push({ driver })
    } else if (driver === 'virtio-rng-device') {
      rest(`${r.flag} ${r.value}`, kv, 'not supported (the rng takes no properties)') // the board always has one virtio-rng
    } else if (driver === 'virtio-net-device' || driver === 'virtio-net-pci') {
      const id = take(kv, 'netdev')
      const mac = take(kv, 'mac')
      rest(`${r.flag} ${r.value}`, kv)
      const n = id === undefined ? undefined : netdevs.get(id)
      if (!n) throw new UsageError(`${r.flag} ${r.value}: netdev=${id ?? ''} names no -netdev …,id=${id ?? '<id>'}`)
      if (n.used) throw new UsageError(`${r.flag} ${r.value}: netdev ${id} is already in use`)
      n.used = true
      addNic(r.flag, { netdev: n.spec, ...(mac !== undefined ? { mac: checkMac(`${r.flag} ${r.value}`, mac) } : {}) })
      if (driver === 'virtio-net-pci') pci.push({ driver })
    }
    else if (driver === 'virtio-gpu-device') {
      once(r.flag, driver, display.gpu)
      const side = (key: 'xres' | 'yres', fallback: number) => {
        const text = take(kv, key)
        const n = text === undefined ? fallback : parseSide(text)
        if (n === undefined) throw new UsageError(`${r.flag} ${r.value}: ${key}=${text}: a whole number of pixels, 1 to 16384`)
        return n
      }
      // QEMU's virtio-gpu defaults: xres=1280, yres=800.
      const width = side('xres', 1280)
      const height = side('yres', 800)
      rest(`${r.flag} ${r.value}`, kv, 'not supported (only xres and yres)')
      display.gpu = { width, height }
    } else if (driver === 'virtio-keyboard-device' || driver === 'virtio-tablet-device') {
      const which = driver === 'virtio-keyboard-device' ? 'keyboard' : 'tablet'
      once(r.flag, driver, display[which])
      rest(`${r.flag} ${r.value}`, kv, 'not supported (the input devices take no properties)')
      display[which] = true
    } else if (driver === 'virtio-mouse-device') throw new UsageError(`${r.flag} ${driver}: not supported: no relative mouse (virtio-tablet-device is the absolute pointer)`)
    else if (driver.endsWith('-pci') || driver === 'virtio-vga') throw new UsageError(`${r.flag} ${driver}: not supported on the PCI bus (virtio-blk-pci, virtio-net-pci, virtio-9p-pci, virtio-rng-pci and nvme are; the display devices are the virtio-…-device forms on virtio-mmio)`)
    else throw new UsageError(`${r.flag} ${driver}: not supported (virtio-blk-device, virtio-9p-device, virtio-net-device, virtio-rng-device, virtio-gpu-device, virtio-keyboard-device, virtio-tablet-device, and on PCI virtio-blk-pci, virtio-net-pci, virtio-9p-pci, virtio-rng-pci and nvme are)`)
  }

  // QEMU would leave an unattached backend unused; here it is refused, so that nothing is ignored.
  for (const d of drives) if (!d.used) throw new UsageError(`-drive ${d.path}: if=none, and no -device virtio-blk-device,drive=${d.id ?? '<id>'} attaches it`)
  for (const [id, f] of fsdevs) if (!f.used) throw new UsageError(`-fsdev id=${id}: no -device virtio-9p-device,fsdev=${id},mount_tag=<tag> attaches it`)
  for (const [id, n] of netdevs) if (!n.used) throw new UsageError(`-netdev ${n.spec.type},id=${id}: no -device virtio-net-device,netdev=${id} attaches it`)
  // The short forms: -net user[,hostfwd=…] / -nic user[,model=virtio-net-device][,mac=…][,hostfwd=…]; -net none / -nic none.
  for (const o of ['net', 'nic'] as const) {
    const s = single[o]
    if (!s || s.value === 'none') continue
    const items = keyvalItems(s.flag, s.value, 'type')
    const model = items.find(([k]) => k === 'model')?.[1]
    if (model !== undefined && model !== 'virtio-net-device' && model !== 'virtio') throw new UsageError(`${s.flag} ${s.value}: model=${model} is not supported (virtio-net-device)`)
    const mac = items.find(([k]) => k === 'mac')?.[1]
    const userText = items.filter(([k]) => k !== 'model' && k !== 'mac').map(([k, v]) => `${k}=${v.replaceAll(',', ',,')}`).join(',')
    if (!/^type=user(,|$)/.test(userText)) throw new UsageError(`${s.flag} ${s.value}: only ${s.flag} user[,hostfwd=…] or ${s.flag} none (other backends: -netdev … with -device virtio-net-device)`)
    addNic(s.flag, { netdev: parseNetdev(s.flag, `${userText},id=${o}0`), ...(mac !== undefined ? { mac: checkMac(`${s.flag} ${s.value}`, mac) } : {}) })
  }
  if (single.share) addShare(single.share.flag, { path: single.share.value, readOnly: false, ...(single['share-tag'] ? { tag: checkTag(label('share-tag'), single['share-tag'].value) } : {}) })
  else if (single['share-tag']) throw new UsageError(`${label('share-tag')}: needs --share <dir>`)

  for (const [flag, value] of [['--kernel', kernel], ['--initrd', val('initrd')], ['--share', share?.path], ['--bios', val('bios')], ...attached.map((d) => ['--drive', d.path])]) if (value === '') throw new UsageError(`${flag}: an empty path`)
  const parallel = flags.has('parallel')
  // Parallel harts share the host's clock: there is no instruction count all of them agree on.
  // A screen in a page has a person at it: guest time follows theirs. On the virtual clock an idle
  // guest skips ahead to its next timer, so a key still held when the guest idles (its release
  // a millisecond behind on a busy host) reached Linux's 250 ms autorepeat at once: typed twice.
  const clock = val('clock') ?? (parallel || (web !== undefined && val('seed') === undefined) ? 'realtime' : 'virtual')
  if (parallel && clock !== 'realtime') throw new UsageError('--parallel needs --clock realtime (harts in parallel share the host clock, not an instruction count)')
  const mmu = val('mmu') ?? 'sv48'
  if (clock !== 'virtual' && clock !== 'realtime') throw new UsageError(`${label('clock')}: virtual or realtime`)
  if (mmu !== 'sv48' && mmu !== 'sv57') throw new UsageError(`${label('mmu')}: sv48 or sv57`)
  const seedText = val('seed')
  const seed = seedText === undefined ? undefined : /^\d{1,15}$/.test(seedText.trim()) ? Number(seedText) : NaN
  if (Number.isNaN(seed)) throw new UsageError(`${label('seed')}: a whole number (0 to 15 digits)`)
  if (seed !== undefined && clock !== 'virtual') throw new UsageError('--seed needs --clock virtual (a reproducible run keeps guest time off the host clock)')
  // The short --display web: with no display device named, the screen, keyboard and pointer.
  if (web && !display.gpu && !display.keyboard && !display.tablet) Object.assign(display, { gpu: { width: 1280, height: 800 }, keyboard: true, tablet: true })
  if (web) display.web = web
  if (web && !display.gpu) throw new UsageError(`${label('display')}: needs -device virtio-gpu-device (there is nothing to show)`)
  // The page sends keys and the pointer: they need somewhere to go (never dropped silently).
  if (web && (!display.keyboard || !display.tablet)) throw new UsageError(`${label('display')}: needs -device virtio-keyboard-device and -device virtio-tablet-device too (the page sends keys and the pointer to them; or --display web alone, which adds all three)`)
  const screenshot = val('screenshot')
  if (screenshot === '') throw new UsageError('--screenshot: an empty path')
  if (screenshot !== undefined && !display.gpu) throw new UsageError(`${label('screenshot')}: needs a display (-device virtio-gpu-device or --display web)`)
  const append = val('append')
  const initrd = val('initrd')
  const readOnlyDrives = attached.flatMap((d, i) => (d.readOnly ? [i] : []))
  return {
    config: { harts, memory, bios, clock, mmu, ...(hypervisor || withoutSstc ? { isa: cpuIsa(hypervisor, withoutSstc) } : {}), ...(hypervisor ? { hypervisor } : {}), ...(append !== undefined ? { bootargs: append } : {}), ...(seed !== undefined ? { seed } : {}), ...(parallel ? { sharedMemory: true } : {}) },
    ...(bios === 'firmware' ? { firmware: biosValue } : {}),
    ...(kernel ? { kernel } : {}),
    ...(initrd ? { initrd } : {}),
    drives: attached.map((d) => d.path),
    ...(readOnlyDrives.length ? { readOnlyDrives } : {}),
    ...(share ? { share: share.path } : {}),
    ...(share?.tag !== undefined ? { shareTag: share.tag } : {}),
    ...(share?.readOnly ? { shareReadOnly: true as const } : {}),
    ...(flags.has('no-reboot') ? { noReboot: true as const } : {}),
    ...(nic ? { nic: { netdev: nic.netdev, ...(nic.mac !== undefined ? { mac: nic.mac } : {}) } } : {}),
    ...(display.gpu || display.keyboard || display.tablet ? { display } : {}),
    ...(screenshot !== undefined ? { screenshot } : {}),
    ...(pci.length ? { pci } : {}),
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
export class CliFileError extends HonkError<'CLI_FILE'> {
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
export async function createFromCli(options: CliOptions, consoleOut: (byte: number) => void, files?: CliFiles): Promise<{ machine: VirtMachine; close: () => Promise<void>; display: DisplayDevices }> {
  const images = files ?? (await readCliFiles(options))
  const drives: BlockDevice[] = []
  let server: ReturnType<typeof serve> | undefined
  let net: NetBackend | undefined
  try {
    for (const [i, path] of options.drives.entries()) {
      try {
        // A read-only open takes no write lock (FileBlockDevice), so it may share the image with one writer.
        drives.push(await FileBlockDevice.open(path, { create: false, ...(options.readOnlyDrives?.includes(i) ? { readOnly: true } : {}) }))
      } catch (e) {
        throw e instanceof HonkError ? e : new CliFileError(`--drive ${path}: ${hostReason(e)}`)
      }
    }
    server = options.share ? serve(new HostFS(options.share, options.shareReadOnly ? { readOnly: true } : {})) : undefined
    const p9 = server
    net = options.nic ? await openNetBackend(options.nic.netdev) : undefined
    const wire = net?.wire
    const display = createDisplayDevices(options.display)
    const share = p9 ? { tag: options.shareTag ?? DEFAULT_SHARE_TAG, handler: (t: Uint8Array) => p9.handle(t) } : undefined
    const onPci = (driver: PciDeviceSpec['driver']) => options.pci?.some((p) => p.driver === driver) ?? false
    // Disks on the PCI bus are not virtio-mmio disks too; the read-only indexes follow the mmio ones.
    const pciDrives = new Set(options.pci?.flatMap((p) => ('drive' in p ? [p.drive] : [])))
    const mmio = drives.flatMap((d, i) => (pciDrives.has(i) ? [] : [{ d, readOnly: options.readOnlyDrives?.includes(i) ?? false }]))
    const readOnlyDrives = mmio.flatMap((m, i) => (m.readOnly ? [i] : []))
    const machine = new VirtMachine({
      ...options.config,
      consoleOut,
      drives: mmio.map((m) => m.d),
      ...(readOnlyDrives.length ? { readOnlyDrives } : {}),
      ...(share && !onPci('virtio-9p-pci') ? { share } : {}),
      ...(wire && !onPci('virtio-net-pci') ? { net: wire, ...(options.nic?.mac !== undefined ? { netMac: options.nic.mac } : {}) } : {}),
      ...(onPci('virtio-rng-pci') ? { rng: false } : {}),
      ...(display.list.length ? { devices: display.list } : {}),
      ...(options.pci ? { pci: options.pci.map((p) => pciFactory(p, { drives, readOnly: options.readOnlyDrives ?? [], ...(share ? { share } : {}), ...(wire ? { wire } : {}), ...(options.nic?.mac !== undefined ? { mac: options.nic.mac } : {}) })) } : {}),
    })
    boot(machine, { kernel: images.kernel, ...(images.firmware ? { firmware: images.firmware } : {}), ...(images.initrd ? { initrd: images.initrd } : {}) })
    return {
      machine,
      display: display.devices,
      close: async () => {
        await p9?.close()
        await net?.close()
        for (const d of drives) await d.close()
      },
    }
  } catch (e) {
    await server?.close().catch(() => undefined)
    await net?.close().catch(() => undefined)
    for (const d of drives) await d.close().catch(() => undefined)
    throw e
  }
}

/** The board's factory for one PCI device of the command line. */
function pciFactory(
  spec: PciDeviceSpec,
  from: { drives: BlockDevice[]; readOnly: readonly number[]; share?: { tag: string; handler: P9Handler }; wire?: FramePort; mac?: string },
): PciFactory {
  const virtio = (device: VirtioDevice): PciFactory => (ctx) => new VirtioPci(device, { memory: ctx.memory })
  switch (spec.driver) {
    case 'virtio-blk-pci':
      return virtio(new VirtioBlk(from.drives[spec.drive]!, { serial: `honk-disk${spec.drive}`, readOnly: from.readOnly.includes(spec.drive) }))
    case 'nvme':
      return (ctx) => new NvmeController(from.drives[spec.drive]!, { memory: ctx.memory, serial: spec.serial })
    case 'virtio-net-pci':
      return virtio(new VirtioNet(from.wire!, from.mac !== undefined ? { mac: from.mac } : {}))
    case 'virtio-9p-pci':
      return virtio(new VirtioP9(from.share!.tag, from.share!.handler))
    case 'virtio-rng-pci':
      return (ctx) => new VirtioPci(new VirtioRng(ctx.entropy ? { source: ctx.entropy } : {}), { memory: ctx.memory })
  }
}

/** `honk-virt --version`: one line, the program and its package's name and version. */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string }
  return `honk-virt ${pkg.version} (${pkg.name})`
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
  /** Called as each run of the machine starts (a reset makes a new one) with its display devices: a front end or a test feeds them. */
  onRun?: (run: { machine: VirtMachine; display: DisplayDevices }) => void
}

/** The `honk-virt` program: console on stdio, Ctrl-A x quits, a reset reboots with the same images. */
export async function main(argv: string[], io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let options: CliOptions | 'help' | 'version'
  let files: CliFiles
  try {
    options = parseCli(argv)
    if (options === 'help') {
      io.stdout.write(USAGE + '\n')
      return 0
    }
    if (options === 'version') {
      io.stdout.write(versionLine() + '\n')
      return 0
    }
    files = await readCliFiles(options)
  } catch (e) {
    io.stderr.write(`honk-virt: ${describeError(e)}${e instanceof UsageError ? ' (honk-virt --help lists the options)' : ''}\n`)
    return e instanceof UsageError ? 2 : 1
  }
  const out: number[] = []
  /** The page of --display web (started with the first run; later runs' devices are attached to it). */
  let web: WebDisplay | undefined
  let announced = false
  const flush = () => {
    if (!out.length) return
    const chunk = Uint8Array.from(out.splice(0))
    io.stdout.write(chunk)
    web?.consoleOutput(chunk)
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
      const { machine, close, display } = await createFromCli(
        options,
        (b) => {
          out.push(b)
          if (out.length > 4096) flush()
        },
        files,
      )
      current = machine
      ready = false
      io.onRun?.({ machine, display })
      const webSpec = options.display?.web
      if (webSpec && display.gpu && display.keyboard && display.tablet && web) {
        // A reset made new devices: the same server follows them, so open pages keep their
        // socket and the console's history (a page reloaded after the reset gets both).
        web.attach({ gpu: display.gpu, keyboard: display.keyboard, tablet: display.tablet })
      } else if (webSpec && display.gpu && display.keyboard && display.tablet) {
        const port = webSpec.port
        try {
          await checkPortFree(port)
          web = await WebDisplay.start({ gpu: display.gpu, keyboard: display.keyboard, tablet: display.tablet, port, consoleInput: (b) => feeder.push(b), title: 'honk-virt' })
        } catch (e) {
          await close()
          throw new CliFileError(`--display web,port=${port}: cannot serve on 127.0.0.1: ${hostReason(e)}`)
        }
        // Printed once, on stderr (stdout is the guest's console).
        if (!announced) io.stderr.write(`honk-virt: display on ${web.url}\n`)
        announced = true
      }
      const exit = machine.config.sharedMemory === true ? await new ParallelMachine(machine).run() : await machine.run()
      feeder.attach(undefined)
      current = undefined
      await close()
      flush()
      if (exit.reason === 'reset' && !quit && !options.noReboot) continue
      if (exit.reason === 'error') io.stderr.write(`\nhonk-virt: ${describeError(exit.message)}\n`)
      // QEMU's screendump, at exit: the last run's scanout. A file that cannot be written: exit code 1.
      if (options.screenshot !== undefined) {
        try {
          const why = await writeScreenshot(options.screenshot, display.gpu)
          if (why) io.stderr.write(`honk-virt: ${why}\n`)
        } catch (e) {
          io.stderr.write(`honk-virt: --screenshot ${options.screenshot}: ${hostReason(e)}\n`)
          return exitCode(exit) || 1
        }
      }
      return exitCode(exit)
    }
  } catch (e) {
    flush()
    io.stderr.write(`honk-virt: ${describeError(e)}\n`)
    return e instanceof UsageError ? 2 : e instanceof HonkError ? 1 : 3
  } finally {
    clearInterval(flusher)
    await web?.close()
    stdin.off('data', onData)
    stdin.off('end', onEnd)
    if (raw) stdin.setRawMode(false)
    stdin.pause()
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    UsageError: UsageError
    CliFileError: CliFileError
  }
}
