/**
 * `node --conditions=@honk/source --import tsx bench/nested.ts [--quick] [--rounds N] [--repeats N]`:
 * the cost of nested (two-stage) translation, ours beside QEMU's. The CPU benchmark guest
 * (bench/guest/bench.c) behind a tiny M-mode hypervisor stub (bench/guest/hv.c) runs in M-mode,
 * in S-mode (bare), and as a VS-mode guest over G-stage Sv39x4 + VS-stage Sv39 identity maps
 * (gigapages at both stages; RAM by 4 KiB G-stage pages; 4 KiB pages at both stages). The SAME
 * ELFs run on our hart (H on) and on qemu-system-riscv64 `-cpu rv64,h=true -bios none`,
 * interleaved round by round; every checksum must be equal.
 *
 * Time is CPU time (ours: `process.cpuUsage`; QEMU: the child's), minus the same side's time for
 * the same image built with 0 rounds (start-up, table set-up, report), per round. The instruction
 * count is ours: the instructions our hart retired running the image minus those of the idle
 * image (QEMU's `instret` is host ticks; both sides run the same instructions). Not the guest's
 * own `instret` difference: our hart's counter CSRs, read inside a `run()` call, do not yet
 * count that call's instructions. QEMU's times are each the median of 5 runs (they are short).
 * Ratios are per round (the nested image's time over the S-mode one's in the same round), then
 * the median and the spread over rounds. A warm-up run of each image comes first, not counted.
 */
import { higherIsBetter, report } from '../../../scripts/bench-report.ts'
import { NESTED_VARIANTS, buildImage, measure, median, runOurs, spread, type Variant } from './images.ts'

const quick = process.argv.includes('--quick')
const arg = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback)
const ROUNDS = arg('--rounds', quick ? 200 : 2000)
const REPEATS = arg('--repeats', quick ? 1 : 5)

const LABEL: Record<Variant, string> = {
  plain: 'M-mode (plain)',
  m: 'M-mode',
  s: 'S-mode, bare',
  vs: 'VS: G giga, VS giga',
  'vs-g4k': 'VS: G 4 KiB, VS giga',
  'vs-g4k-vs4k': 'VS: G 4 KiB, VS 4 KiB',
}

const images = new Map(NESTED_VARIANTS.map((v) => [v, { work: buildImage(v, ROUNDS), idle: buildImage(v, 0) }]))
/** Per variant, per round: the benchmark's CPU seconds on each side (idle image subtracted). */
const ours = new Map<Variant, number[]>(NESTED_VARIANTS.map((v) => [v, []]))
const qemu = new Map<Variant, number[]>(NESTED_VARIANTS.map((v) => [v, []]))
let instret = 0
let checksum = ''
// Warm-up, not counted: the first runs in a process also pay for V8 compiling the emulator.
for (const v of NESTED_VARIANTS) runOurs(buildImage(v, 100))
for (let r = 0; r < REPEATS; r++) {
  const line: string[] = []
  for (const v of NESTED_VARIANTS) {
    const img = images.get(v)!
    const m = measure(img.work, img.idle, { hypervisor: true, qemuRuns: 5 })
    // The same binary computes the same checksum everywhere (measure compares ours and QEMU's),
    // and the benchmark's own code, hence its instruction count, is the same in every variant.
    if (checksum !== '' && m.checksum !== checksum) throw new Error(`${v}: checksum ${m.checksum}, other variants ${checksum}`)
    if (instret !== 0 && m.instructions !== instret) throw new Error(`${v}: the benchmark retired ${m.instructions} instructions, other variants ${instret}`)
    checksum = m.checksum
    instret = m.instructions
    ours.get(v)!.push(m.ours)
    qemu.get(v)!.push(m.qemu)
    line.push(`${v} ours ${m.ours.toFixed(2)} s QEMU ${m.qemu.toFixed(3)} s`)
  }
  console.error(`round ${r + 1}/${REPEATS}: ${line.join(', ')}`)
}

const mips = (secs: number) => instret / Math.max(1e-3, secs) / 1e6
/** Per-round ratios of variant `v` over `base` on one side: nested time / bare time. */
const ratios = (side: Map<Variant, number[]>, v: Variant, base: Variant) => side.get(v)!.map((t, i) => t / side.get(base)![i]!)
console.log(`\nnested translation: ${(instret / 1e6).toFixed(1)} M benchmark instructions (counted on our hart), ${ROUNDS} rounds, ${REPEATS} interleaved repeats, checksum ${checksum}`)
console.log('CPU time, idle image subtracted; median (min–max) over repeats; ratio = time / the bare S-mode time of the same round')
const head = ['image', 'ours M instr/s', 'ours ×S-bare', 'QEMU M instr/s', 'QEMU ×S-bare', 'ours/QEMU speed']
const rows = NESTED_VARIANTS.map((v) => [
  LABEL[v],
  spread(ours.get(v)!.map(mips), 1),
  spread(ratios(ours, v, 's')),
  spread(qemu.get(v)!.map(mips), 0),
  spread(ratios(qemu, v, 's')),
  (mips(median(ours.get(v)!)) / mips(median(qemu.get(v)!))).toFixed(3),
])
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
console.log(head.map((h, i) => h.padEnd(widths[i]!)).join('  '))
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '))

report('rv64-nested', {
  name: `the CPU benchmark guest under two-stage translation (${(instret / 1e6).toFixed(0)} M instructions, checksums equal), CPU time`,
  peer: 'qemu-system-riscv64 (TCG, h=true)',
  setup: {
    rounds: ROUNDS,
    repeats: REPEATS,
    instret,
    quick,
    ...Object.fromEntries(NESTED_VARIANTS.filter((v) => v.startsWith('vs')).flatMap((v) => [[`ours ${v}/s ratio`, Number(median(ratios(ours, v, 's')).toFixed(3))], [`qemu ${v}/s ratio`, Number(median(ratios(qemu, v, 's')).toFixed(3))]])),
  },
  metrics: NESTED_VARIANTS.map((v) => higherIsBetter(`guest speed, ${LABEL[v]}`, 'M instr/s', mips(median(ours.get(v)!)), mips(median(qemu.get(v)!)))),
})
