/**
 * `node --conditions=@honk/source --import tsx bench/cpu-user.ts [--quick] [--rounds N] [--work W]`:
 * the CPU benchmark guest (packages/rv64/bench/guest/bench.c built with -DLINUX_USER by
 * scripts/guest/build-cpu-user.sh: a static glibc program, /init of its own initramfs) as a Linux
 * user program — U-mode, MMU on (Sv39, 4 KiB pages), the kernel's timer ticks included — on the
 * repo's Linux 6.1, one hart, on this machine under Debian's OpenSBI fw_jump and under our
 * TypeScript SBI, beside qemu-system-riscv64 (TCG) under the same OpenSBI in the same run,
 * interleaved; the median of N repetitions (`--rounds`, default 3). W (`--work`, default 10000)
 * is the guest's ROUNDS of work.
 *
 * Timing: the guest prints "start", reads instret, works, reads instret, prints "done" at once,
 * then its checksum and the instret difference. Each side's time is taken on the host when the
 * "start" and "done" lines reach the console (ours: in the UART's byte sink, synchronously;
 * QEMU: when its stdout pipe delivers them), so the boot is not in it and nothing is subtracted.
 * Wall time and CPU time (ours: `process.cpuUsage`; QEMU: utime + stime of the child from
 * /proc/<pid>/stat, 10 ms ticks) are both recorded; the speed is instructions / wall time.
 * The instruction count is ours (the instret our hart retired between the two reads, U-mode plus
 * the kernel's interrupts in between): QEMU without -icount reads the host's tick counter for
 * instret. The checksums of all sides must be equal.
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { clearCompiledBlocks } from '@honk/rv64'
import { higherIsBetter, report } from '../../../scripts/bench-report.ts'
import { VirtMachine } from '../src/board.ts'
import { boot } from '../src/boot.ts'
import { LINUX_IMAGE, OPENSBI_FW_JUMP } from '../src/guest.ts'
import { ConsoleSession } from '../src/session.ts'

const quick = process.argv.includes('--quick')
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < (name === '--work' ? 0 : 1)) {
    console.error(`cpu-user: ${name} wants a whole number${name === '--work' ? '' : ' ≥ 1'}, not "${process.argv[i + 1] ?? ''}"`)
    process.exit(2)
  }
  return v
}
const REPEATS = arg('--rounds', quick ? 1 : 3)
const WORK = arg('--work', quick ? 1000 : 10000)
const here = dirname(fileURLToPath(import.meta.url))
const BOOTARGS = 'console=ttyS0 rdinit=/cpu-user quiet'
const REPORT = /done\r?\nchecksum ([0-9a-f]{16})\r?\ninstret ([0-9a-f]{16})\r?\n/
const TIMEOUT_MS = 900_000

/** The cpio with the program as /cpu-user, built (or found in the cache) by the script. */
const cpio = execFileSync('bash', [join(here, '..', '..', '..', 'scripts', 'guest', 'build-cpu-user.sh'), String(WORK)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()

interface Stamp { wall: number; cpu: number }
interface Run { wall: number; cpu: number; checksum: string; instret: number }

const cpuSecs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** The interval between the "start" and "done" marks, and the guest's report. */
function result(start: Stamp | undefined, done: Stamp | undefined, text: string, where: string): Run {
  const m = REPORT.exec(text)
  if (!start || !done || !m) throw new Error(`${where}: no start/done marks or report; the console ends with:\n${text.slice(-1500)}`)
  return { wall: done.wall - start.wall, cpu: done.cpu - start.cpu, checksum: m[1]!, instret: parseInt(m[2]!, 16) }
}

async function ours(bios: 'builtin' | 'firmware'): Promise<Run> {
  clearCompiledBlocks() // each run compiles its own blocks, as a process's first run does (three-way.ts)
  const session = new ConsoleSession()
  const marks = new Map<string, Stamp>()
  let line = ''
  // Stamps taken in the UART's sink, while the hart is between the guest's two writes' bytes.
  const out = (byte: number): void => {
    session.out(byte)
    if (byte === 0x0a) {
      if (line === 'start' || line === 'done') marks.set(line, { wall: performance.now() / 1000, cpu: cpuSecs() })
      line = ''
    } else if (byte !== 0x0d && line.length < 16) line += String.fromCharCode(byte)
  }
  const machine = new VirtMachine({ harts: 1, memory: 256 << 20, bios, consoleOut: out, bootargs: BOOTARGS })
  boot(machine, {
    kernel: new Uint8Array(readFileSync(LINUX_IMAGE)),
    initrd: new Uint8Array(readFileSync(cpio)),
    ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}),
  })
  session.start(machine)
  await session.waitFor(REPORT, TIMEOUT_MS)
  const exit = await session.exit // the guest powers off after its report
  if (exit.reason !== 'poweroff') throw new Error(`ours (${bios}): the machine stopped by ${exit.reason}, not a power-off`)
  return result(marks.get('start'), marks.get('done'), session.text, `ours (${bios})`)
}

/** utime + stime of a process, in seconds (Linux: fields 14 and 15 of /proc/<pid>/stat, in USER_HZ = 100 ticks). */
function childCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields from 3 on
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function qemu(): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = ['-M', 'virt', '-smp', '1', '-m', '256M', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-bios', OPENSBI_FW_JUMP, '-kernel', LINUX_IMAGE, '-initrd', cpio, '-append', BOOTARGS]
    const q = spawn('qemu-system-riscv64', args, { stdio: ['ignore', 'pipe', 'inherit'] })
    const marks = new Map<string, Stamp>()
    let text = ''
    let settled = false
    const timer = setTimeout(() => (q.kill(), reject(new Error(`QEMU did not report: ${text.slice(-1500)}`))), TIMEOUT_MS)
    q.stdout.on('data', (d: Buffer) => {
      const wall = performance.now() / 1000
      const before = text.length
      text += d.toString('latin1')
      for (const mark of ['start', 'done']) {
        // A mark counts in the chunk that completes its line.
        const at = text.indexOf(`\n${mark}\r\n`)
        if (at >= 0 && !marks.has(mark) && at + mark.length + 3 > before) marks.set(mark, { wall, cpu: childCpu(q.pid!) })
      }
    })
    q.on('exit', () => {
      clearTimeout(timer)
      if (settled) return
      settled = true
      try {
        resolve(result(marks.get('start'), marks.get('done'), text, 'QEMU'))
      } catch (e) {
        reject(e as Error)
      }
    })
  })
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!
type Side = 'qemu' | 'opensbi' | 'builtin'
const runs: Record<Side, Run[]> = { qemu: [], opensbi: [], builtin: [] }
for (let r = 0; r < REPEATS; r++) {
  const q = await qemu()
  const o = await ours('firmware')
  const b = await ours('builtin')
  if (o.checksum !== q.checksum || b.checksum !== q.checksum) throw new Error(`checksums differ: qemu ${q.checksum}, ours+OpenSBI ${o.checksum}, ours+TS SBI ${b.checksum}`)
  runs.qemu.push(q)
  runs.opensbi.push(o)
  runs.builtin.push(b)
  const f = (x: Run) => `${x.wall.toFixed(2)} s (CPU ${x.cpu.toFixed(2)} s)`
  console.error(`round ${r + 1}/${REPEATS}: qemu ${f(q)}, ours+OpenSBI ${f(o)} for ${(o.instret / 1e6).toFixed(0)} M, ours+TS SBI ${f(b)} for ${(b.instret / 1e6).toFixed(0)} M instructions`)
}
// QEMU's instret is host ticks: it ran the same program under the same OpenSBI, so our count under OpenSBI stands for it.
const instret = median(runs.opensbi.map((x) => x.instret))
const speed = (side: Side, time: 'wall' | 'cpu') => median(runs[side].map((x) => (side === 'qemu' ? instret : x.instret) / Math.max(1e-3, x[time]) / 1e6))
const s = { qemu: speed('qemu', 'wall'), opensbi: speed('opensbi', 'wall'), builtin: speed('builtin', 'wall') }
const c = { qemu: speed('qemu', 'cpu'), opensbi: speed('opensbi', 'cpu'), builtin: speed('builtin', 'cpu') }
console.error(`M instr/s (median of ${REPEATS}), wall: qemu ${s.qemu.toFixed(0)}, ours+OpenSBI ${s.opensbi.toFixed(1)}, ours+TS SBI ${s.builtin.toFixed(1)}; CPU time: qemu ${c.qemu.toFixed(0)}, ours+OpenSBI ${c.opensbi.toFixed(1)}, ours+TS SBI ${c.builtin.toFixed(1)}`)
report('virt-machine-cpu-user', {
  name: `the CPU benchmark guest as a Linux 6.1 user program (U-mode, Sv39 4 KiB pages) on the virt board, 1 hart (${(instret / 1e6).toFixed(0)} M instructions, checksums equal), timed from its "start" to its "done" on the console; QEMU TCG under OpenSBI fw_jump`,
  peer: 'qemu',
  setup: { work: WORK, instret, repeats: REPEATS, checksum: runs.qemu[0]!.checksum },
  metrics: [
    higherIsBetter('guest speed under OpenSBI fw_jump (PMP active), wall', 'M instr/s', s.opensbi, s.qemu),
    higherIsBetter('guest speed under the TS SBI, wall', 'M instr/s', s.builtin, s.qemu),
    higherIsBetter('guest speed under OpenSBI fw_jump, CPU time', 'M instr/s', c.opensbi, c.qemu),
    higherIsBetter('guest speed under the TS SBI, CPU time', 'M instr/s', c.builtin, c.qemu),
  ],
})
