import { createSystem, assemble } from '../src/index.ts'
const src = `
  li s0, 0x8000
  slli s0, s0, 4
  lui t0, 0x80000
  slli t0, t0, 32
  srli t0, t0, 32
  add s0, s0, t0
  li s1, 0
  li t6, 2000000
loop:
  ld a0, 0(s0)
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
  bnez t6, loop
  j .
`
const thr = Number(process.argv[2] ?? 1 << 30)
const { bytes } = assemble(src, { base: 0x8000_0000 } as never) as unknown as { bytes: Uint8Array }
for (let rep = 0; rep < 5; rep++) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: thr })
  sys.bus.writeBytes(0x8000_0000, bytes)
  const h = sys.harts[0]!
  h.pc = 0x8000_0000
  const t0 = performance.now()
  let n = 0
  while (n < 20_000_000) n += h.run(100_000).executed
  const dt = performance.now() - t0
  console.log(thr, (n / dt / 1000).toFixed(1), 'M instr/s', h.pc.toString(16), h.x[8]!.toString(16), h.x[31])
}
