/**
 * The interpreter's loop allocates nothing per instruction (RATIONALE "Why does nothing in the
 * interpreter's loop pass the pc to a call?"): a value V8 boxes on every instruction — the pc
 * passed to a call, a number it cannot see the type of — showed as ~40 bytes an instruction, a
 * young-generation collection every ~100 000 instructions. Counted here with the GC's own
 * performance entries over 6 M interpreted instructions of loads, stores and ALU operations at
 * addresses above 2^31 (where a boxed pc cannot be a small integer).
 */
import { PerformanceObserver } from 'node:perf_hooks'
import { describe, expect, it } from 'vitest'
import { assemble, createSystem } from './index.js'

const BASE = 0x8000_0000

function loop() {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20, blockThreshold: 1 << 30 }) // interpreter only
  const { bytes } = assemble(
    `
      li s0, 0x80080000
      li t6, 1000000
1:    ld a0, 0(s0)
      addi a0, a0, 3
      sd a0, 8(s0)
      lw a1, 16(s0)
      add a2, a0, a1
      xor a3, a2, s1
      slli a4, a3, 3
      srli a5, a4, 7
      or s1, s1, a5
      sw a5, 16(s0)
      addi t6, t6, -1
      bnez t6, 1b
2:    j 2b
`,
    { base: BASE },
  )
  sys.bus.writeBytes(BASE, bytes)
  const hart = sys.harts[0]!
  hart.pc = BASE
  return hart
}

describe("the interpreter's loop", () => {
  it('runs 6 M instructions with (almost) no young-generation collection', async () => {
    // First V8 optimises run() (concurrently: give its compiler the time), not counted.
    for (let i = 0; i < 3; i++) {
      const warm = loop()
      let n = 0
      while (n < 3_000_000) n += warm.run(100_000).executed
      await new Promise((r) => setTimeout(r, 100))
    }
    // Three measured runs. Before JAL/JALR wrote their link inline, V8 compiled a loop that boxed
    // `next` in about a third of processes (whenever it did not inline the call taking it): 11–12
    // in every round of those.
    const counts: number[] = []
    for (let round = 0; round < 3; round++) {
      const hart = loop()
      const minor: number[] = []
      const observer = new PerformanceObserver((list) => {
        // A gc entry's detail.kind: 1 is a minor (young-generation) collection (perf_hooks, NODE_PERFORMANCE_GC_MINOR).
        for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) minor.push(e.startTime)
      })
      observer.observe({ entryTypes: ['gc'] })
      const t0 = performance.now()
      let executed = 0
      while (executed < 6_000_000) executed += hart.run(100_000).executed
      const t1 = performance.now()
      await new Promise((r) => setTimeout(r, 50)) // entries arrive after the fact
      observer.disconnect()
      counts.push(minor.filter((t) => t >= t0 && t <= t1).length)
    }
    const during = Math.max(...counts)
    // With `execCold`'s result untyped again (one number boxed an instruction): 13; as it is: 0.
    expect(during, `young-generation collections during the runs: ${counts.join(', ')}`).toBeLessThan(6)
  })
})
