/**
 * The CPU benchmark images and the two machines that run them, shared by the benchmarks
 * (bench/run.ts, bench/nested.ts) and their smoke test: builds bench/guest/bench.c with the
 * Debian cross compiler, runs an ELF on our hart (a bare `createSystem`) or on
 * qemu-system-riscv64 (`-M virt -bios none -kernel`), and times each side in CPU time (ours:
 * this process's `process.cpuUsage`; QEMU: the child's user + system time).
 *
 * The instruction count is always ours: QEMU without `-icount` reads the host's tick counter for
 * `instret`, so what the guest prints there on QEMU is not an instruction count. The same ELF
 * runs on both sides and the checksums are compared, so our count is the count of both.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CaptureUart, SifiveTest, clearCompiledBlocks, createSystem, loadElf } from '../src/index.ts'

const here = dirname(fileURLToPath(import.meta.url))
const guest = join(here, 'guest')
const out = join(tmpdir(), 'honk-rv64-bench')

/**
 * Which image: `plain` is bench.c alone in M-mode (crt0.S, what `bench` always ran); the others
 * carry the M-mode stub (hv.c): `m` runs the benchmark in M-mode after it, `s` in S-mode (bare),
 * `vs` in VS-mode over two-stage translation, with gigapages at both stages unless `g4k` (the
 * G-stage maps RAM by 4 KiB pages) or `g4k-vs4k` (both stages do).
 */
export type Variant = 'plain' | 'm' | 's' | 'vs' | 'vs-g4k' | 'vs-g4k-vs4k'

export const NESTED_VARIANTS: readonly Variant[] = ['m', 's', 'vs', 'vs-g4k', 'vs-g4k-vs4k']

const DEFINES: Record<Variant, string[]> = {
  plain: [],
  m: ['-DSMODE', '-DHV_M'],
  s: ['-DSMODE', '-DHV_S'],
  vs: ['-DSMODE', '-DHV_VS'],
  'vs-g4k': ['-DSMODE', '-DHV_VS', '-DG_4K'],
  'vs-g4k-vs4k': ['-DSMODE', '-DHV_VS', '-DG_4K', '-DVS_4K'],
}

/** Whether the cross compiler (Debian's gcc-riscv64-linux-gnu) and QEMU are installed. */
export function toolsPresent(): boolean {
  const which = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0
  return which('riscv64-linux-gnu-gcc') && which('qemu-system-riscv64')
}

/** Builds the benchmark with `rounds` rounds as `variant`; returns the ELF's path (cached by its inputs). */
export function buildImage(variant: Variant, rounds: number): string {
  mkdirSync(out, { recursive: true })
  const elf = join(out, `bench-${variant}-${rounds}.elf`)
  const sources = variant === 'plain' ? ['crt0.S', 'bench.c'] : ['hv-crt0.S', 'hv.c', 'bench.c']
  const inputs = [...sources, 'link.ld'].map((f) => join(guest, f))
  if (existsSync(elf) && inputs.every((f) => statSync(f).mtimeMs < statSync(elf).mtimeMs)) return elf
  execFileSync('riscv64-linux-gnu-gcc', ['-O2', `-DROUNDS=${rounds}`, ...DEFINES[variant], '-march=rv64imac_zicsr', '-mabi=lp64', '-nostdlib', '-ffreestanding', '-fno-pie', '-no-pie', '-mcmodel=medany', '-Wl,--no-warn-rwx-segments', '-Wl,--build-id=none', '-T', join(guest, 'link.ld'), ...sources.map((f) => join(guest, f)), '-o', elf])
  return elf
}

export interface GuestReport {
  checksum: string
  /** What the guest read from `instret` around its work: an instruction count on ours, host ticks on QEMU. */
  instret: number
}

/** Parses the guest's two lines ("checksum …", "instret …"). */
export function parseReport(text: string, where: string): GuestReport {
  const c = /checksum ([0-9a-f]{16})/.exec(text)
  const i = /instret ([0-9a-f]{16})/.exec(text)
  if (!c || !i) throw new Error(`${where}: the guest's output is not a report: ${JSON.stringify(text.slice(0, 300))}`)
  return { checksum: c[1]!, instret: parseInt(i[1]!, 16) }
}

export interface Run {
  /** CPU seconds (user + system) of the run. */
  cpu: number
  /** Wall seconds of the run. */
  wall: number
  report: GuestReport
  /** Instructions the hart retired in the whole run (ours only; the guest's `instret` covers its measured part). */
  executed?: number
}

/** `--tier region|block|wasm-region` on the command line: the hart's compiled tier (`HartOptions.tier`); `--threshold N`: its compile threshold. */
const argTier = process.argv.includes('--tier') ? (process.argv[process.argv.indexOf('--tier') + 1] as 'region' | 'block' | 'wasm-region') : undefined
const argThreshold = process.argv.includes('--threshold') ? Number(process.argv[process.argv.indexOf('--threshold') + 1]) : undefined

/** Runs `elf` on our hart (H-extension on, 64 MiB RAM, a capture UART and the test finisher where QEMU virt has them). */
export function runOurs(elf: string): Run {
  clearCompiledBlocks() // each run compiles its own blocks, as a process's first run does
  const sys = createSystem({ harts: 1, ramSize: 64 << 20, hypervisor: true, ...(argTier !== undefined ? { tier: argTier } : {}), ...(argThreshold !== undefined ? { blockThreshold: argThreshold } : {}) })
  let text = ''
  sys.map(0x1000_0000, new CaptureUart((b) => (text += String.fromCharCode(b))))
  sys.map(0x0010_0000, new SifiveTest(sys.bus))
  const hart = sys.harts[0]!
  hart.pc = loadElf(sys.bus, new Uint8Array(readFileSync(elf))).entry
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const r = sys.run(Number.MAX_SAFE_INTEGER)
  const wall = (performance.now() - t0) / 1000
  const c = process.cpuUsage(c0)
  if (r.reason !== 'exit' || r.code !== 0) throw new Error(`${elf} on our hart: stopped with ${r.reason}${r.code !== undefined ? ` ${r.code}` : ''} at pc 0x${hart.pc.toString(16)}; output ${JSON.stringify(text.slice(-300))}`)
  return { cpu: (c.user + c.system) / 1e6, wall, report: parseReport(text, `${elf} on our hart`), executed: Number(hart.instret) }
}

/**
 * Runs `elf` on qemu-system-riscv64 (TCG, `-bios none`: it starts at the ELF's entry in M-mode)
 * until the guest powers off through the test finisher. The child's CPU time comes from bash's
 * `time` (getrusage of the child, ms resolution).
 */
export function runQemu(elf: string, options: { hypervisor: boolean }): Run {
  const t0 = performance.now()
  const args = ['-M', 'virt', '-cpu', `rv64,h=${options.hypervisor}`, '-smp', '1', '-m', '64M', '-bios', 'none', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-kernel', elf]
  // bash's `time` reports the child's getrusage (user and system, in ms) on stderr, last line.
  const r = spawnSync('bash', ['-c', 'TIMEFORMAT="cpu %3U %3S"; time "$@"', 'bash', 'qemu-system-riscv64', ...args], { encoding: 'utf8', timeout: 600_000 })
  const wall = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`${elf} on QEMU: exit ${r.status}, output ${JSON.stringify(r.stdout.slice(-300))} ${r.stderr.slice(-300)}`)
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr)
  if (!m) throw new Error(`QEMU's CPU time not found in ${JSON.stringify(r.stderr.slice(-200))}`)
  const cpu = Number(m[1]) + Number(m[2])
  return { cpu, wall, report: parseReport(r.stdout.replace(/\r/g, ''), `${elf} on QEMU`) }
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** "median (min–max)" of a sample, for the spread beside a median. */
export const spread = (xs: readonly number[], digits = 2): string => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`

/**
 * The pages (4 KiB) an ELF's executable sections and its writable sections occupy, from its
 * section headers (ELF64, little-endian): the benchmark images must keep them apart (QEMU
 * retranslates a page's code on every store into it).
 */
export function codeAndDataPages(elf: Uint8Array): { code: Set<number>; data: Set<number> } {
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength)
  const shoff = Number(v.getBigUint64(0x28, true))
  const shentsize = v.getUint16(0x3a, true)
  const shnum = v.getUint16(0x3c, true)
  const code = new Set<number>()
  const data = new Set<number>()
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize
    const flags = v.getBigUint64(h + 8, true)
    const addr = Number(v.getBigUint64(h + 16, true))
    const size = Number(v.getBigUint64(h + 32, true))
    if (addr === 0 || size === 0 || (flags & 2n) === 0n) continue // SHF_ALLOC only
    const into = (flags & 4n) !== 0n ? code : (flags & 1n) !== 0n ? data : undefined // SHF_EXECINSTR, SHF_WRITE
    for (let p = Math.floor(addr / 4096); p <= Math.floor((addr + size - 1) / 4096); p++) into?.add(p)
  }
  return { code, data }
}

export interface Measured {
  /** The benchmark's instructions: our hart's count for the image minus the idle image's. */
  instructions: number
  /** CPU seconds for them on each side (the idle image's CPU time subtracted). */
  ours: number
  qemu: number
  checksum: string
  /** What the guest printed as `instret` on QEMU (host ticks there, not instructions). */
  qemuInstret: number
}

/**
 * One interleaved measurement of `work` against `idle` (the same image with 0 rounds) on both
 * sides; QEMU's runs are short, so each of its numbers is the median of `qemuRuns` runs.
 */
export function measure(work: string, idle: string, options: { hypervisor: boolean; qemuRuns?: number }): Measured {
  const oi = runOurs(idle)
  const o = runOurs(work)
  const qemuRuns = options.qemuRuns ?? 3
  const q = (elf: string) => {
    const runs = Array.from({ length: qemuRuns }, () => runQemu(elf, options))
    return { cpu: median(runs.map((x) => x.cpu)), report: runs[0]!.report }
  }
  const qi = q(idle)
  const qw = q(work)
  if (o.report.checksum !== qw.report.checksum) throw new Error(`${work}: checksums differ: ours ${o.report.checksum}, QEMU ${qw.report.checksum}`)
  return { instructions: o.executed! - oi.executed!, ours: o.cpu - oi.cpu, qemu: qw.cpu - qi.cpu, checksum: o.report.checksum, qemuInstret: qw.report.instret }
}
