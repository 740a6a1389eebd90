/**
 * `node --conditions=@honk/source --import tsx bench/interp-loop.ts [--threshold N]`: the
 * interpreter on a hot loop of loads, stores and ALU operations (12 instructions, data above
 * 2^31), 20 M instructions a round, five rounds in one process, each on a fresh machine; prints
 * M instr/s per round. With no flag the block tier is off (`blockThreshold` 2^30): the interpreter
 * alone, as docs/PERFORMANCE.md's seventh round measured it; `--threshold 8` compiles the loop.
 * No peer: a probe of our interpreter's per-instruction cost, compared between trees (interleave
 * two worktrees' runs), not a goal figure.
 */
import { assemble } from '../src/index.ts'
import { BASE, interpreterRate } from './interp-rate.ts'

const ti = process.argv.indexOf('--threshold')
const threshold = ti >= 0 ? Number(process.argv[ti + 1]) : 1 << 30
if (!Number.isInteger(threshold) || threshold < 1) {
  console.error(`--threshold takes a whole number ≥ 1, not ${JSON.stringify(process.argv[ti + 1])}`)
  process.exit(2)
}
const { bytes } = assemble(
  `
    li s0, 0x80080000
    li s1, 0
    li t6, 2000000
1:  ld a0, 0(s0)
    addi a0, a0, 3
    sd a0, 8(s0)
    lw a1, 16(s0)
    add a2, a0, a1
    xor a3, a2, s1
    slli a4, a3, 3
    srli a5, a4, 7
    or s1, s1, a5
    andi a6, s1, 255
    sw a6, 16(s0)
    addi t6, t6, -1
    bnez t6, 1b
2:  j 2b
`,
  { base: BASE },
)
for (let round = 1; round <= 5; round++) console.log(`round ${round}: ${interpreterRate(bytes, { ramSize: 1 << 20, blockThreshold: threshold }).toFixed(1)} M instr/s`)
