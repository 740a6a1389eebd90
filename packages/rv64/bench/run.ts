/**
 * `pnpm --filter @honk/rv64 bench [--quick]`: the CPU benchmark guest (bench/guest/bench.c: CRC-32,
 * insertion sort, matrix multiply) on our hart and on qemu-system-riscv64 (TCG), same ELF, same
 * run. The guest prints its checksum (must match) and the instructions it retired; speed is
 * M instructions/s. QEMU's start-up time (measured with a guest that powers off at once) is
 * subtracted from its wall time.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { higherIsBetter, report } from '../../../scripts/bench-report.ts'
import { CaptureUart, SifiveTest, createSystem, loadElf } from '../src/index.ts'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 40 : 2000
const here = dirname(fileURLToPath(import.meta.url))
const out = join(tmpdir(), 'honk-rv64-bench')
mkdirSync(out, { recursive: true })

function build(rounds: number): string {
  const elf = join(out, `bench-${rounds}.elf`)
  execFileSync('riscv64-linux-gnu-gcc', ['-O2', `-DROUNDS=${rounds}`, '-march=rv64imac_zicsr', '-mabi=lp64', '-nostdlib', '-ffreestanding', '-fno-pie', '-no-pie', '-mcmodel=medany', '-Wl,--no-warn-rwx-segments', '-Wl,--build-id=none', '-T', join(here, '..', 'test', 'diff', 'link.ld'), join(here, 'guest', 'crt0.S'), join(here, 'guest', 'bench.c'), '-o', elf])
  return elf
}

function parse(text: string): { checksum: string; instret: number } {
  const c = /checksum ([0-9a-f]{16})/.exec(text)
  const i = /instret ([0-9a-f]{16})/.exec(text)
  if (!c || !i) throw new Error(`guest output not understood: ${JSON.stringify(text.slice(0, 200))}`)
  return { checksum: c[1]!, instret: parseInt(i[1]!, 16) }
}

function qemu(elf: string): { secs: number; text: string } {
  const t0 = performance.now()
  const r = spawnSync('qemu-system-riscv64', ['-M', 'virt', '-bios', 'none', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-kernel', elf], { encoding: 'utf8', timeout: 600_000 })
  return { secs: (performance.now() - t0) / 1000, text: r.stdout }
}

function ours(elf: string): { secs: number; text: string } {
  const sys = createSystem({ harts: 1, ramSize: 64 << 20 })
  let text = ''
  sys.map(0x1000_0000, new CaptureUart((b) => (text += String.fromCharCode(b))))
  sys.map(0x0010_0000, new SifiveTest(sys.bus))
  sys.harts[0]!.pc = loadElf(sys.bus, new Uint8Array(readFileSync(elf))).entry
  const t0 = performance.now()
  const r = sys.run(Number.MAX_SAFE_INTEGER)
  if (r.reason !== 'exit') throw new Error(`our run stopped: ${r.reason}`)
  return { secs: (performance.now() - t0) / 1000, text }
}

const elf = build(ROUNDS)
const idle = build(0)
const startup = Math.min(qemu(idle).secs, qemu(idle).secs)
let best = { ours: 0, qemu: 0 }
let instret = 0
for (let r = 0; r < (quick ? 1 : 2); r++) {
  const a = ours(elf)
  const b = qemu(elf)
  const pa = parse(a.text)
  const pb = parse(b.text)
  if (pa.checksum !== pb.checksum) throw new Error(`checksums differ: ours ${pa.checksum}, qemu ${pb.checksum}`)
  instret = pa.instret
  best = { ours: Math.max(best.ours, pa.instret / a.secs / 1e6), qemu: Math.max(best.qemu, pb.instret / Math.max(1e-3, b.secs - startup) / 1e6) }
}
report('rv64', {
  name: `@honk/rv64 interpreter vs qemu-system-riscv64 (TCG) on the benchmark guest (${(instret / 1e6).toFixed(0)} M instructions, checksums equal)`,
  peer: 'qemu',
  setup: { rounds: ROUNDS, instret, qemuStartupSecs: Number(startup.toFixed(3)), quick },
  metrics: [higherIsBetter('guest speed', 'M instr/s', best.ours, best.qemu)],
})
