/**
 * The differential harness: build a test body with Debian's cross gcc into a bare-metal ELF
 * (with harness.S), run it on QEMU (`-M virt -bios none`) and on our hart, and return both
 * UART dumps. Builds are cached by content hash.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CaptureUart, SifiveTest, createSystem, loadElf } from '../../src/index.js'

const here = dirname(fileURLToPath(import.meta.url))
const CACHE = join(tmpdir(), 'honk-rv64-diff')
export const GCC = 'riscv64-linux-gnu-gcc'
export const QEMU = 'qemu-system-riscv64'
export const MARCH = 'rv64imafdc_zicsr_zifencei_zba_zbb_zbs'

export function toolsPresent(): boolean {
  return spawnSync(GCC, ['--version']).status === 0 && spawnSync(QEMU, ['--version']).status === 0
}

/** Builds `body` (assembly defining `test_body`, ending with `j dump`) into an ELF; returns its path. */
export function build(body: string): string {
  mkdirSync(CACHE, { recursive: true })
  const harness = readFileSync(join(here, 'harness.S'), 'utf8')
  const link = readFileSync(join(here, 'link.ld'), 'utf8')
  const key = createHash('sha256').update(harness).update(link).update(body).update(MARCH).digest('hex').slice(0, 20)
  const elf = join(CACHE, `${key}.elf`)
  if (existsSync(elf)) return elf
  const src = join(CACHE, `${key}.S`)
  writeFileSync(src, `\t.text\n\t.globl test_body\ntest_body:\n${body}\n\tj dump\n`)
  // gcc 12 knows neither H nor these extensions (nor Zfh); its assembler (binutils 2.40) does.
  execFileSync(GCC, [`-march=${MARCH}`, `-Wa,-march=${MARCH}_zfh_zbc_zicbom_zicboz_svinval_h`, '-mabi=lp64', '-nostdlib', '-fno-pie', '-no-pie', '-mcmodel=medany', '-Wl,--no-warn-rwx-segments', '-Wl,--build-id=none', '-T', join(here, 'link.ld'), join(here, 'harness.S'), src, '-o', elf], { stdio: 'pipe' })
  return elf
}

/** Runs an ELF on QEMU; returns the UART output. `hypervisor`: the H extension on (`-cpu rv64,h=true`). */
export function runQemu(elf: string, hypervisor = false, cpuExtra = ''): string {
  // QEMU's default CPU has the H extension (it changes mideleg); ours offers it as an option.
  const r = spawnSync(QEMU, ['-M', 'virt', '-cpu', `rv64,h=${hypervisor}${cpuExtra}`, '-bios', 'none', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-kernel', elf], { encoding: 'utf8', timeout: Number(process.env.QEMU_TIMEOUT ?? 120_000) })
  if (r.error) throw r.error
  // A QEMU that did not power off by itself (timed out on a loaded machine, crashed) is no reference.
  if (r.signal || r.status !== 0) throw new Error(`QEMU stopped with ${r.signal ?? `status ${r.status}`}: ${r.stderr.slice(0, 500)}`)
  return r.stdout
}

/** Options of our side: `sv57` offers Sv57 (QEMU's rv64 always does). */
export interface OursOptions {
  sv57?: boolean
  /** The hypervisor extension on both sides (QEMU `h=true`, our `HartOptions.hypervisor`). */
  hypervisor?: boolean
  /** More of QEMU's -cpu properties (`,svinval=true,…`): extensions QEMU 7.2 leaves off by default. */
  qemuCpu?: string
}

/** Runs an ELF on our hart (one hart, 128 MiB at 0x8000_0000); returns the UART output. */
export function runOurs(elf: string, budget = 50_000_000, options: OursOptions = {}): { out: string; reason: string } {
  const sys = createSystem({ harts: 1, ramSize: 128 << 20, ...(options.sv57 ? { sv57: true } : {}), ...(options.hypervisor ? { hypervisor: true } : {}) })
  let out = ''
  sys.map(0x1000_0000, new CaptureUart((b) => (out += String.fromCharCode(b))))
  sys.map(0x0010_0000, new SifiveTest(sys.bus))
  const loaded = loadElf(sys.bus, new Uint8Array(readFileSync(elf)))
  sys.harts[0]!.pc = loaded.entry
  const r = sys.run(budget)
  return { out, reason: r.reason }
}

/** Both runs, and the lines that differ. */
export function compare(body: string, options: OursOptions = {}): { qemu: string; ours: string; diff: string[] } {
  const elf = build(body)
  const qemu = runQemu(elf, options.hypervisor ?? false, options.qemuCpu ?? '')
  const ours = runOurs(elf, undefined, options).out
  const a = qemu.split('\n')
  const b = ours.split('\n')
  const diff: string[] = []
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) diff.push(`qemu ${a[i] ?? '∅'} | ours ${b[i] ?? '∅'}`)
  return { qemu, ours, diff }
}
