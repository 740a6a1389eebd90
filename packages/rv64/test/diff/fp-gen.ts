/**
 * Random F/D instruction streams for the differential tests: every FP instruction with random
 * registers and rounding modes (static and dynamic), frm changes (now and then to an invalid
 * mode, which makes dynamic-rm instructions trap), flag reads that clear, integer↔FP traffic,
 * and FP loads/stores (NaN-boxed or not, misaligned too) around `scratch` (s1).
 */
import fc from 'fast-check'
import { DOUBLES, HALVES, SINGLES } from './fp-values.js'

const FREGS = Array.from({ length: 32 }, (_, i) => `f${i}`)
/** Integer registers the FP instructions read and write (not s1, the scratch pointer; not sp). */
export const FP_XREGS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 's2', 's3', 's4', 's5']

const f = fc.constantFrom(...FREGS)
const xr = fc.constantFrom(...FP_XREGS)
const rm = fc.constantFrom('', '', '', ', rne', ', rtz', ', rdn', ', rup', ', rmm', ', dyn')
const p = fc.constantFrom('s', 'd')

const arith = fc.tuple(fc.constantFrom('fadd', 'fsub', 'fmul', 'fdiv'), p, f, f, f, rm).map(([o, t, d, a, b, r]) => `${o}.${t} ${d}, ${a}, ${b}${r}`)
const fma = fc.tuple(fc.constantFrom('fmadd', 'fmsub', 'fnmsub', 'fnmadd'), p, f, f, f, f, rm).map(([o, t, d, a, b, c, r]) => `${o}.${t} ${d}, ${a}, ${b}, ${c}${r}`)
const sqrt = fc.tuple(p, f, f, rm).map(([t, d, a, r]) => `fsqrt.${t} ${d}, ${a}${r}`)
const noRm = fc.tuple(fc.constantFrom('fsgnj', 'fsgnjn', 'fsgnjx', 'fmin', 'fmax'), p, f, f, f).map(([o, t, d, a, b]) => `${o}.${t} ${d}, ${a}, ${b}`)
const cmp = fc.tuple(fc.constantFrom('feq', 'flt', 'fle'), p, xr, f, f).map(([o, t, d, a, b]) => `${o}.${t} ${d}, ${a}, ${b}`)
const toInt = fc.tuple(fc.constantFrom('w', 'wu', 'l', 'lu'), p, xr, f, rm).map(([k, t, d, a, r]) => `fcvt.${k}.${t} ${d}, ${a}${r}`)
const fromInt = fc.oneof(
  fc.tuple(fc.constantFrom('w', 'wu', 'l', 'lu'), f, xr, rm).map(([k, d, a, r]) => `fcvt.s.${k} ${d}, ${a}${r}`),
  fc.tuple(fc.constantFrom('l', 'lu'), f, xr, rm).map(([k, d, a, r]) => `fcvt.d.${k} ${d}, ${a}${r}`),
  fc.tuple(fc.constantFrom('w', 'wu'), f, xr).map(([k, d, a]) => `fcvt.d.${k} ${d}, ${a}`),
)
const between = fc.oneof(fc.tuple(f, f, rm).map(([d, a, r]) => `fcvt.s.d ${d}, ${a}${r}`), fc.tuple(f, f).map(([d, a]) => `fcvt.d.s ${d}, ${a}`))
const moves = fc.oneof(
  fc.tuple(fc.constantFrom('fmv.x.w', 'fmv.x.d', 'fclass.s', 'fclass.d'), xr, f).map(([o, d, a]) => `${o} ${d}, ${a}`),
  fc.tuple(fc.constantFrom('fmv.w.x', 'fmv.d.x'), f, xr).map(([o, d, a]) => `${o} ${d}, ${a}`),
)
const mem = fc.oneof(
  fc.tuple(fc.constantFrom('flw', 'fld', 'fsw', 'fsd'), f, fc.nat(500)).map(([o, r, off]) => `${o} ${r}, ${off}(s1)`),
  fc.tuple(fc.constantFrom('sd', 'sw'), xr, fc.nat(500)).map(([o, r, off]) => `${o} ${r}, ${off}(s1)`),
)
const csr = fc.oneof(
  fc.nat(4).map((m) => `csrwi frm, ${m}`),
  fc.constantFrom('csrwi frm, 5', 'csrwi frm, 7'),
  xr.map((d) => `csrrw ${d}, fflags, zero`),
  xr.map((d) => `frcsr ${d}`),
  fc.nat(31).map((v) => `csrwi fflags, ${v}`),
)
const interesting = fc.oneof(fc.constantFrom(...DOUBLES), fc.constantFrom(...SINGLES), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }))
const intLoad = fc.tuple(xr, interesting).map(([d, v]) => `li ${d}, 0x${v.toString(16)}`)

/** One line of a random FP program. */
export const fpInstruction: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: arith, weight: 6 },
  { arbitrary: fma, weight: 4 },
  { arbitrary: sqrt, weight: 1 },
  { arbitrary: noRm, weight: 3 },
  { arbitrary: cmp, weight: 2 },
  { arbitrary: toInt, weight: 3 },
  { arbitrary: fromInt, weight: 2 },
  { arbitrary: between, weight: 2 },
  { arbitrary: moves, weight: 2 },
  { arbitrary: mem, weight: 2 },
  { arbitrary: csr, weight: 2 },
  { arbitrary: intLoad, weight: 2 },
)

/** The part of random values a register holds: specials, random bits, and doubles/singles near 1 (where rounding happens). */
const nearOne = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((m) => (BigInt(0x3f0 + Math.floor(Number(m % 32n))) << 52n) | m),
  fc.integer({ min: 0, max: (1 << 23) - 1 }).map((m) => 0xffffffff00000000n | BigInt(((0x78 + (m % 16)) << 23) | m)),
)
export const fpValue: fc.Arbitrary<bigint> = fc.oneof(fc.constantFrom(...DOUBLES), fc.constantFrom(...SINGLES), nearOne, nearOne, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }))

/** Loads f0–f31 from `values` (32 raw patterns, cycled) and the integer registers from seeds; points s1 at scratch. */
export function fpSetup(values: readonly bigint[]): string {
  const lines = ['la s1, scratch']
  for (let i = 0; i < 32; i++) lines.push(`li t0, 0x${values[i % values.length]!.toString(16)}; fmv.d.x f${i}, t0`)
  FP_XREGS.forEach((r, i) => lines.push(`li ${r}, 0x${values[(i * 7 + 3) % values.length]!.toString(16)}`))
  return lines.join('\n')
}

// ---- half precision (Zfh, Zfhmin) ----------------------------------------------------------

const halfArith = fc.tuple(fc.constantFrom('fadd', 'fsub', 'fmul', 'fdiv'), f, f, f, rm).map(([o, d, a, b, r]) => `${o}.h ${d}, ${a}, ${b}${r}`)
const halfFma = fc.tuple(fc.constantFrom('fmadd', 'fmsub', 'fnmsub', 'fnmadd'), f, f, f, f, rm).map(([o, d, a, b, c, r]) => `${o}.h ${d}, ${a}, ${b}, ${c}${r}`)
const halfOther = fc.oneof(
  fc.tuple(f, f, rm).map(([d, a, r]) => `fsqrt.h ${d}, ${a}${r}`),
  fc.tuple(fc.constantFrom('fsgnj', 'fsgnjn', 'fsgnjx', 'fmin', 'fmax'), f, f, f).map(([o, d, a, b]) => `${o}.h ${d}, ${a}, ${b}`),
  fc.tuple(fc.constantFrom('feq', 'flt', 'fle'), xr, f, f).map(([o, d, a, b]) => `${o}.h ${d}, ${a}, ${b}`),
  fc.tuple(fc.constantFrom('fmv.x.h', 'fclass.h'), xr, f).map(([o, d, a]) => `${o} ${d}, ${a}`),
  fc.tuple(f, xr).map(([d, a]) => `fmv.h.x ${d}, ${a}`),
)
const halfConv = fc.oneof(
  fc.tuple(fc.constantFrom('w', 'wu', 'l', 'lu'), xr, f, rm).map(([k, d, a, r]) => `fcvt.${k}.h ${d}, ${a}${r}`),
  fc.tuple(fc.constantFrom('w', 'wu', 'l', 'lu'), f, xr, rm).map(([k, d, a, r]) => `fcvt.h.${k} ${d}, ${a}${r}`),
  fc.tuple(fc.constantFrom('s', 'd'), f, f, rm).map(([t, d, a, r]) => `fcvt.h.${t} ${d}, ${a}${r}`),
  fc.tuple(fc.constantFrom('s', 'd'), f, f).map(([t, d, a]) => `fcvt.${t}.h ${d}, ${a}`),
)
const halfMem = fc.tuple(fc.constantFrom('flh', 'fsh'), f, fc.nat(500)).map(([o, r, off]) => `${o} ${r}, ${off}(s1)`)

/** One line of a random program mixing half-precision instructions into the F/D ones. */
export const fpHalfInstruction: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: halfArith, weight: 5 },
  { arbitrary: halfFma, weight: 3 },
  { arbitrary: halfOther, weight: 4 },
  { arbitrary: halfConv, weight: 4 },
  { arbitrary: halfMem, weight: 2 },
  { arbitrary: fpInstruction, weight: 4 },
)

/** Register contents for the half-precision streams: boxed halves (special, near 1, random), and the F/D values. */
export const fpHalfValue: fc.Arbitrary<bigint> = fc.oneof(
  fc.constantFrom(...HALVES),
  fc.integer({ min: 0, max: 0x3ff }).map((m) => 0xffffffffffff0000n | BigInt(((0x0e + (m % 3)) << 10) | m)),
  fc.integer({ min: 0, max: 0xffff }).map((b) => 0xffffffffffff0000n | BigInt(b)),
  fpValue,
)
