/**
 * `node --conditions=@honk/source --import tsx bench/cpu-smode.ts [--quick] [--rounds N] [--paging]`: the CPU
 * benchmark guest (packages/rv64/bench/guest/bench.c, built with -DSMODE) as an S-mode payload at
 * RAM + 2 MiB on the virt board, under Debian's OpenSBI fw_jump (which sets PMP entries: its own
 * memory closed to S-mode, the rest open) and under our TypeScript SBI, beside qemu-system-riscv64
 * (TCG) under the same OpenSBI in the same run, interleaved. The guest reports the instructions it
 * retired between its two `rdinstret`s; each side's time for them is its wall time to the report
 * minus the same side's time for a guest with 0 rounds (firmware start, console), median of rounds.
 * The instruction count is ours: QEMU without -icount reads the host's tick counter for instret.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { clearCompiledBlocks } from '@honk/rv64'
import { higherIsBetter, report } from '../../../scripts/bench-report.ts'
import { VirtMachine } from '../src/board.ts'
import { boot } from '../src/boot.ts'
import { OPENSBI_FW_JUMP } from '../src/guest.ts'
import { ConsoleSession } from '../src/session.ts'

const quick = process.argv.includes('--quick')
const ri = process.argv.indexOf('--rounds')
const ROUNDS = ri > 0 ? Number(process.argv[ri + 1]) : quick ? 200 : 2000
const REPEATS = quick ? 1 : 3
/** --paging: the guest turns Sv39 on first (gigapages, identity), so every access is translated. */
const paging = process.argv.includes('--paging')
const here = dirname(fileURLToPath(import.meta.url))
const guestDir = join(here, '..', '..', '..', 'packages', 'rv64', 'bench', 'guest')
const out = join(tmpdir(), 'honk-cpu-smode')
mkdirSync(out, { recursive: true })
const REPORT = /checksum ([0-9a-f]{16})\ninstret ([0-9a-f]{16})\n/

/**
 * The guest linked at 0x8020_0000 (where fw_jump and our SBI enter S-mode), as a raw image. Its
 * data starts on a page of its own: QEMU drops the translated code of a page on every store into
 * it, which with the arrays beside the code made QEMU run this guest 40× slower.
 */
function build(rounds: number): string {
  const ld = join(out, 'smode.ld')
  const ldText = readFileSync(join(guestDir, '..', '..', 'test', 'diff', 'link.ld'), 'utf8').replace('. = 0x80000000;', '. = 0x80200000;').replace('  .data :', '  . = ALIGN(4096);\n  .data :')
  execFileSync('sh', ['-c', `cat > ${ld}`], { input: ldText })
  const elf = join(out, `bench-${rounds}${paging ? '-paging' : ''}.elf`)
  const bin = join(out, `bench-${rounds}${paging ? '-paging' : ''}.bin`)
  execFileSync('riscv64-linux-gnu-gcc', ['-O2', '-DSMODE', ...(paging ? ['-DPAGING'] : []), `-DROUNDS=${rounds}`, '-march=rv64imac_zicsr', '-mabi=lp64', '-nostdlib', '-ffreestanding', '-fno-pie', '-no-pie', '-mcmodel=medany', '-Wl,--no-warn-rwx-segments', '-Wl,--build-id=none', '-T', ld, join(guestDir, 'crt0.S'), join(guestDir, 'bench.c'), '-o', elf])
  execFileSync('riscv64-linux-gnu-objcopy', ['-O', 'binary', elf, bin])
  return bin
}

interface Run { secs: number; checksum: string; instret: number }

async function ours(bin: string, bios: 'builtin' | 'firmware'): Promise<Run> {
  clearCompiledBlocks() // each run compiles its own blocks, as a process's first run does (three-way.ts)
  const t0 = performance.now()
  const session = new ConsoleSession()
  const machine = new VirtMachine({ harts: 1, memory: 128 << 20, bios, consoleOut: session.out })
  boot(machine, { kernel: new Uint8Array(readFileSync(bin)), ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}) })
  session.start(machine)
  await session.waitFor(REPORT, 600_000)
  const secs = (performance.now() - t0) / 1000
  machine.stop()
  await session.exit
  const m = REPORT.exec(session.text)!
  return { secs, checksum: m[1]!, instret: parseInt(m[2]!, 16) }
}

function qemu(bin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const q = spawn('qemu-system-riscv64', ['-M', 'virt', '-cpu', 'rv64,h=false', '-smp', '1', '-m', '128M', '-bios', OPENSBI_FW_JUMP, '-device', `loader,file=${bin},addr=0x80200000`, '-display', 'none', '-serial', 'stdio', '-monitor', 'none'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    const timer = setTimeout(() => (q.kill(), reject(new Error(`QEMU did not report: ${text.slice(-300)}`))), 600_000)
    q.stdout.on('data', (d: Buffer) => {
      text += d.toString('latin1').replace(/\r/g, '')
      const m = REPORT.exec(text)
      if (m) {
        clearTimeout(timer)
        resolve({ secs: (performance.now() - t0) / 1000, checksum: m[1]!, instret: parseInt(m[2]!, 16) })
        q.kill()
      }
    })
  })
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!
const bin = build(ROUNDS)
const idle = build(0)
const times = { qemu: [] as number[], opensbi: [] as number[], builtin: [] as number[] }
const idles = { qemu: [] as number[], opensbi: [] as number[], builtin: [] as number[] }
let instret = 0
for (let r = 0; r < REPEATS; r++) {
  idles.qemu.push((await qemu(idle)).secs)
  idles.opensbi.push((await ours(idle, 'firmware')).secs)
  idles.builtin.push((await ours(idle, 'builtin')).secs)
  const q = await qemu(bin)
  const o = await ours(bin, 'firmware')
  const b = await ours(bin, 'builtin')
  if (o.checksum !== q.checksum || b.checksum !== q.checksum) throw new Error(`checksums differ: qemu ${q.checksum}, ours+OpenSBI ${o.checksum}, ours+TS SBI ${b.checksum}`)
  instret = o.instret
  times.qemu.push(q.secs)
  times.opensbi.push(o.secs)
  times.builtin.push(b.secs)
  console.error(`round ${r + 1}: qemu ${q.secs.toFixed(2)} s, ours+OpenSBI ${o.secs.toFixed(2)} s, ours+TS SBI ${b.secs.toFixed(2)} s (${(instret / 1e6).toFixed(0)} M instructions)`)
}
const speed = (k: keyof typeof times) => instret / Math.max(1e-3, median(times[k]) - median(idles[k])) / 1e6
const s = { qemu: speed('qemu'), opensbi: speed('opensbi'), builtin: speed('builtin') }
console.error(`M instr/s (median): qemu ${s.qemu.toFixed(0)}, ours+OpenSBI ${s.opensbi.toFixed(1)}, ours+TS SBI ${s.builtin.toFixed(1)}`)
report(paging ? 'virt-machine-cpu-smode-paging' : 'virt-machine-cpu-smode', {
  name: `the CPU benchmark guest in S-mode${paging ? ' with Sv39 on' : ''} on the virt board (${(instret / 1e6).toFixed(0)} M instructions, checksums equal), QEMU TCG under OpenSBI fw_jump`,
  peer: 'qemu',
  setup: { rounds: ROUNDS, instret, repeats: REPEATS },
  metrics: [higherIsBetter('guest speed under OpenSBI fw_jump (PMP active)', 'M instr/s', s.opensbi, s.qemu), higherIsBetter('guest speed under the TS SBI', 'M instr/s', s.builtin, s.qemu)],
})
