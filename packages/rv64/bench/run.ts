/**
 * `pnpm --filter @honk/rv64 bench [--quick] [--repeats N]`: the CPU benchmark guest
 * (bench/guest/bench.c: CRC-32, insertion sort, matrix multiply) in M-mode on our hart and on
 * qemu-system-riscv64 (TCG), the same ELF, interleaved rounds, checksums compared.
 *
 * Honest counting: the instructions are ours — our hart's retired count for the image minus the
 * same image built with 0 rounds (QEMU without -icount reads the host's tick counter for
 * `instret`, so the count the guest prints there is not instructions). Time is CPU time (ours:
 * `process.cpuUsage`; QEMU: the child's), each minus the same side's time for the 0-round image;
 * the median over rounds, with the spread. The image keeps its data on pages of its own
 * (bench/guest/link.ld): QEMU retranslates a page's code on every store into it.
 */
import { higherIsBetter, report } from '../../../scripts/bench-report.ts'
import { buildImage, measure, median, runOurs, spread, type Measured } from './images.ts'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 40 : 2000
const REPEATS = process.argv.includes('--repeats') ? Number(process.argv[process.argv.indexOf('--repeats') + 1]) : quick ? 1 : 5

const work = buildImage('plain', ROUNDS)
const idle = buildImage('plain', 0)
const runs: Measured[] = []
runOurs(buildImage('plain', 100)) // warm-up, not counted: V8 compiling the emulator
for (let r = 0; r < REPEATS; r++) {
  const m = measure(work, idle, { hypervisor: false })
  if (runs.length > 0 && m.instructions !== runs[0]!.instructions) throw new Error(`round ${r + 1} retired ${m.instructions} instructions, round 1 ${runs[0]!.instructions}`)
  runs.push(m)
  console.error(`round ${r + 1}/${REPEATS}: ours ${m.ours.toFixed(2)} s, QEMU ${m.qemu.toFixed(3)} s CPU for ${m.instructions} instructions (QEMU's guest read ${m.qemuInstret} from instret: host ticks)`)
}
const instructions = runs[0]!.instructions
const mips = (s: number) => instructions / Math.max(1e-3, s) / 1e6
console.error(`M instr/s, median (min–max) of ${REPEATS}: ours ${spread(runs.map((r) => mips(r.ours)), 1)}, QEMU ${spread(runs.map((r) => mips(r.qemu)), 0)}`)
report('rv64', {
  name: `@honk/rv64 vs qemu-system-riscv64 (TCG) on the benchmark guest, M-mode (${(instructions / 1e6).toFixed(1)} M instructions counted on our hart, checksums equal), CPU time`,
  peer: 'qemu',
  setup: { rounds: ROUNDS, instructions, repeats: REPEATS, quick, checksum: runs[0]!.checksum },
  metrics: [higherIsBetter('guest speed (median)', 'M instr/s', mips(median(runs.map((r) => r.ours))), mips(median(runs.map((r) => r.qemu))))],
})
