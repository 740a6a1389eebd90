/**
 * `node --conditions=@honk/source --import tsx bench/interp-footprint.ts [N]` (issue #18): the
 * interpreter alone (no blocks) on a loop whose body is N straight instructions (the mix of
 * bench/interp-loop.ts, repeated), 20 M instructions a round, five rounds; prints M instr/s per
 * round and the best round's ns per instruction. A probe of how the interpreter's cost grows with
 * the code it runs (a boot runs hundreds of thousands of distinct instructions), not a goal figure.
 */
import { assemble } from '../src/index.ts'
import { BASE, interpreterRate } from './interp-rate.ts'

const N = Number(process.argv[2] ?? 12)
if (!Number.isInteger(N) || N < 1 || N > 1_000_000) {
  console.error('usage: interp-footprint.ts [instructions in the loop body, 1–1000000]')
  process.exit(2)
}
const body: string[] = []
const ops = ['ld a0, 0(s0)', 'addi a0, a0, 3', 'sd a0, 8(s0)', 'lw a1, 16(s0)', 'add a2, a0, a1', 'xor a3, a2, s1', 'slli a4, a3, 3', 'srli a5, a4, 7', 'or s1, s1, a5', 'andi a6, s1, 255', 'sw a6, 16(s0)']
for (let i = 0; i < N; i++) body.push(ops[i % ops.length]!)
const iters = Math.max(1, Math.floor(2_000_000 * 12 / (N + 2)))
const { bytes } = assemble(`
    li s0, 0x80f00000
    li s1, 0
    li t6, ${iters}
1:  ${body.join('\n    ')}
    addi t6, t6, -1
    beqz t6, 2f
    j 1b
2:  j 2b
`, { base: BASE })
const rates = Array.from({ length: 5 }, () => interpreterRate(bytes, { ramSize: 16 << 20, blockThreshold: 1 << 30 }))
console.log(`N=${N}: ${rates.map((r) => r.toFixed(1)).join(' ')} M instr/s; ns/instr best ${(1000 / Math.max(...rates)).toFixed(1)}`)
