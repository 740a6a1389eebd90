import { createSystem, assemble } from '../src/index.ts'
const body = process.argv[2] ?? 'addi a0, a0, 3'
const src = `
  li s0, 0x8000
  slli s0, s0, 4
  lui t0, 0x80000
  slli t0, t0, 32
  srli t0, t0, 32
  add s0, s0, t0
  li t6, 2000000
loop:
  ${body.split(';').join('\n  ')}
  addi t6, t6, -1
  bnez t6, loop
  j .
`
const { bytes } = assemble(src, { base: 0x8000_0000 } as never) as unknown as { bytes: Uint8Array }
for (let rep = 0; rep < 3; rep++) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 1 << 30 })
  sys.bus.writeBytes(0x8000_0000, bytes)
  const h = sys.harts[0]!
  h.pc = 0x8000_0000
  const t0 = performance.now()
  let n = 0
  while (n < 10_000_000) n += h.run(100_000).executed
  const dt = performance.now() - t0
  if (rep === 2) console.log(body, (n / dt / 1000).toFixed(1), 'M instr/s')
}
