/**
 * Parallel harts (issue #18): litmus tests on real Workers. Each program runs on 2 harts, each in
 * its own Worker over one SharedArrayBuffer RAM (ParallelMachine), in M-mode on the bare board;
 * hart 0 powers the board off at the end and the outcomes are read from RAM.
 *
 * What RVWMO forbids must never be seen: store buffering with `fence rw,rw` on both sides (both
 * loads 0), message passing with `fence w,w` / `fence r,r` (flag seen, data not), and counters
 * incremented with AMOs or LR/SC loops must sum exactly.
 */
import { describe, expect, it } from 'vitest'
import { VIRT_MAP } from '@honk/riscv'
import { assemble } from '@honk/rv64'
import { VirtMachine } from './board.js'
import { ParallelMachine } from './parallel.js'

const BASE = 0x8020_0000
const DATA = 0x8030_0000

/** Runs `source` (entered by every hart in M-mode, a0 = hartid) on `harts` parallel harts until it powers off. */
async function runParallel(source: string, harts = 2): Promise<VirtMachine> {
  const m = new VirtMachine({ harts, memory: 16 << 20, bios: 'none', consoleOut: () => {}, sharedMemory: true, rng: false, clock: 'realtime' })
  m.bus.writeBytes(BASE, assemble(source, { base: BASE }).bytes)
  m.reset(BASE, 0)
  const exit = await new ParallelMachine(m).run()
  expect(exit).toEqual({ reason: 'poweroff', code: 0 })
  return m
}

const POWEROFF = `
  li t3, ${VIRT_MAP.test.base}
  li t4, 0x5555
  sw t4, 0(t3)
park:
  wfi
  j park`

/**
 * A litmus harness: `iterations` rounds; in each, hart 0 clears x (DATA+64) and y (DATA+128),
 * both harts meet at a barrier, run their body (result in t3), meet again, and hart 0 counts
 * the outcome r0 * 2 + r1 (r1 = hart 1's t3) in the words at DATA+256.
 */
function litmus(body0: string, body1: string, iterations: number): string {
  return `
  li a0, ${DATA}
  csrr s1, mhartid
  li s0, 0
  li s2, ${iterations}
  li a1, 1
loop:
  bnez s1, 1f
  sw zero, 64(a0)
  sw zero, 128(a0)
1:
  jal ra, barrier
  li t2, 1
  bnez s1, body1
  ${body0}
  j after
body1:
  ${body1}
  sw t3, 192(a0)
after:
  jal ra, barrier
  bnez s1, next
  lw t4, 192(a0)
  slli t5, t3, 1
  add t5, t5, t4
  slli t5, t5, 2
  add t5, t5, a0
  addi t5, t5, 256
  amoadd.w zero, a1, (t5)
next:
  addi s2, s2, -1
  bnez s2, loop
  bnez s1, park
  ${POWEROFF}

barrier:
  xori s0, s0, 1
  fence rw, rw
  amoadd.w.aqrl t0, a1, (a0)
  beqz t0, 2f
  sw zero, 0(a0)
  fence rw, rw
  sw s0, 4(a0)
  ret
2:
  lw t1, 4(a0)
  bne t1, s0, 2b
  fence rw, rw
  ret`
}

/** Outcome counts [r0 r1 = 00, 01, 10, 11]. */
function outcomes(m: VirtMachine): number[] {
  return [0, 1, 2, 3].map((i) => Number(m.bus.read(DATA + 256 + 4 * i, 4)))
}

describe('parallel harts: litmus tests on real Workers', () => {
  const N = 5000

  it('store buffering with fence rw,rw on both harts: never both loads 0 (RVWMO forbids it)', async () => {
    const m = await runParallel(litmus('sw t2, 64(a0)\n fence rw, rw\n lw t3, 128(a0)', 'sw t2, 128(a0)\n fence rw, rw\n lw t3, 64(a0)', N))
    const o = outcomes(m)
    expect(o.reduce((a, b) => a + b)).toBe(N)
    expect(o[0]).toBe(0)
  }, 60_000)

  it('store buffering without fences: every outcome is one RVWMO allows (each round counted once)', async () => {
    const m = await runParallel(litmus('sw t2, 64(a0)\n lw t3, 128(a0)', 'sw t2, 128(a0)\n lw t3, 64(a0)', N))
    const o = outcomes(m)
    expect(o.reduce((a, b) => a + b)).toBe(N)
    // r0 = r1 = 1 needs both stores before both loads; 0/0 (the store buffer) is allowed here.
    console.log(`store buffering without fences, ${N} rounds: 00 ${o[0]}, 01 ${o[1]}, 10 ${o[2]}, 11 ${o[3]}`)
  }, 60_000)

  it('message passing with fence w,w and fence r,r: a reader that sees the flag sees the data', async () => {
    // hart 0: data = 1; fence w,w; flag = 1. hart 1: r = flag; fence r,r; d = data; t3 = flag * 2 + data.
    const m = await runParallel(litmus('sw t2, 64(a0)\n fence w, w\n sw t2, 128(a0)\n li t3, 0', '3:\n lw t6, 128(a0)\n fence r, r\n lw t3, 64(a0)\n slli t6, t6, 1\n or t3, t3, t6', N))
    const o = outcomes(m)
    expect(o.reduce((a, b) => a + b)).toBe(N)
    expect(o[2]).toBe(0) // flag 1, data 0: forbidden
  }, 60_000)

  for (const [name, inc] of [
    ['amoadd.w', 'amoadd.w zero, a1, (a0)'],
    ['amoadd.d', 'amoadd.d zero, a1, (a0)'],
    ['lr.w/sc.w loop', '4:\n lr.w t0, (a0)\n addi t0, t0, 1\n sc.w t1, t0, (a0)\n bnez t1, 4b'],
    ['lr.d/sc.d loop', '4:\n lr.d t0, (a0)\n addi t0, t0, 1\n sc.d t1, t0, (a0)\n bnez t1, 4b'],
  ] as const) {
    it(`a counter incremented ${name} by 2 harts, 200 000 times each, sums exactly`, async () => {
      const m = await runParallel(`
        li a0, ${DATA}
        li a1, 1
        li s2, 200000
        csrr s1, mhartid
      loop:
        ${inc}
        addi s2, s2, -1
        bnez s2, loop
        slli t1, s1, 3
        add t1, t1, a0
        sd a1, 64(t1)
        bnez s1, park
      wait:
        ld t2, 72(a0)
        beqz t2, wait
        ${POWEROFF}`)
      expect(m.bus.read(DATA, name.includes('.w') ? 4 : 8)).toBe(400_000n)
    }, 60_000)
  }
})

/**
 * The TypeScript SBI on real Workers (each hart's worker its own Firmware, the shared state in the
 * control block): an S-mode program on 4 harts. Hart 0 starts harts 1 and 2 (HSM); then harts 0,
 * 1 and 2 start hart 3 at the same moment — exactly one succeeds, the other two get
 * SBI_ERR_ALREADY_AVAILABLE (SBI 2.0 §9.1) and hart 3 runs with the winner's opaque. Hart 3 then
 * asks every hart for remote SFENCE.VMA and FENCE.I (answered once the parked targets flushed in
 * their own threads), sends hart 0 an IPI (hart 0 waits for SSIP in WFI), and powers the machine
 * off through SRST — from hart 3, not the boot hart.
 */
const HSM = 0x48534d
const IPI = 0x735049
const RFNC = 0x52464e43
const SRST = 0x53525354
const SBI_PROGRAM = `
  mv s1, a0
  li s0, ${DATA}
  bnez a0, secondary
  li a0, 1
  la a1, secondary
  li a2, 101
  li a6, 0
  li a7, ${HSM}
  ecall
  sd a0, 40(s0)
  li a0, 2
  la a1, secondary
  li a2, 102
  li a6, 0
  li a7, ${HSM}
  ecall
  sd a0, 48(s0)
ready:
  lw t0, 0(s0)
  li t1, 2
  bne t0, t1, ready
  li t0, 1
  sw t0, 8(s0)
  j race
secondary:
  mv s1, a0
  li s0, ${DATA}
  slli t0, a0, 3
  add t0, t0, s0
  sd a1, 64(t0)
  li t1, 3
  beq a0, t1, last
  li t0, 1
  amoadd.w zero, t0, (s0)
go:
  lw t0, 8(s0)
  beqz t0, go
race:
  li a0, 3
  la a1, secondary
  addi a2, s1, 200
  li a6, 0
  li a7, ${HSM}
  ecall
  slli t0, s1, 3
  add t0, t0, s0
  sd a0, 128(t0)
  li t0, 1
  addi t1, s0, 16
  amoadd.w zero, t0, (t1)
  bnez s1, park
  li t0, 2
  csrs sie, t0
ipiwait:
  wfi
  csrr t0, sip
  andi t0, t0, 2
  beqz t0, ipiwait
  li t0, 1
  sw t0, 24(s0)
  li t0, 2
  csrc sip, t0
park:
  wfi
  j park
last:
  addi t1, s0, 16
raced:
  lw t0, 0(t1)
  li t2, 3
  bne t0, t2, raced
  li a0, 0
  li a1, -1
  li a2, 0
  li a3, 0
  li a6, 1
  li a7, ${RFNC}
  ecall
  sd a0, 32(s0)
  li a0, 7
  li a1, 0
  li a6, 0
  li a7, ${RFNC}
  ecall
  sd a0, 56(s0)
  li a0, 1
  li a1, 0
  li a6, 0
  li a7, ${IPI}
  ecall
ipidone:
  lw t0, 24(s0)
  beqz t0, ipidone
  li a0, 0
  li a1, 0
  li a6, 0
  li a7, ${SRST}
  ecall
  j park`

describe('parallel harts under the TypeScript SBI: real Workers', () => {
  it('HSM start race (exactly one of 3 simultaneous starts wins), remote fences, an IPI, and SRST from a secondary hart — 3 runs', async () => {
    const ALREADY_AVAILABLE = (1n << 64n) - 6n
    for (let run = 0; run < 3; run++) {
      const m = new VirtMachine({ harts: 4, memory: 16 << 20, bios: 'builtin', consoleOut: () => {}, sharedMemory: true, rng: false, clock: 'realtime' })
      m.bus.writeBytes(BASE, assemble(SBI_PROGRAM, { base: BASE }).bytes)
      m.reset(BASE, 0)
      expect(await new ParallelMachine(m).run()).toEqual({ reason: 'poweroff', code: 0 })
      const q = (off: number): bigint => m.bus.read(DATA + off, 8)!
      expect([q(40), q(48)]).toEqual([0n, 0n]) // hart 0 started harts 1 and 2
      expect([q(64 + 8), q(64 + 16)]).toEqual([101n, 102n]) // with their opaque
      const results = [0, 1, 2].map((h) => q(128 + 8 * h))
      const winners = results.flatMap((r, h) => (r === 0n ? [h] : []))
      expect(winners).toHaveLength(1)
      for (const r of results) if (r !== 0n) expect(r).toBe(ALREADY_AVAILABLE)
      expect(q(64 + 24)).toBe(200n + BigInt(winners[0]!)) // hart 3 got the winner's opaque
      expect([q(32), q(56)]).toEqual([0n, 0n]) // both remote fences returned SBI_SUCCESS
      expect(m.bus.read(DATA + 24, 4)).toBe(1n) // hart 0 saw the IPI
    }
  }, 120_000)
})

describe('parallel harts asleep', () => {
  it('a hart in WFI with its timer interrupt pending but masked (stimecmp in the past, sie.STIE = 0: Linux after a tick) sleeps instead of spinning a host core', async () => {
    // set_timer(0): STIP pending at once; sie = 0 masks it, so WFI sleeps until something else.
    const source = `
      li a0, 0
      li a6, 0
      li a7, 0x54494d45
      ecall
      csrw sie, zero
    park:
      wfi
      j park`
    const m = new VirtMachine({ harts: 1, memory: 16 << 20, bios: 'builtin', consoleOut: () => {}, sharedMemory: true, rng: false, clock: 'realtime' })
    m.bus.writeBytes(BASE, assemble(source, { base: BASE }).bytes)
    m.reset(BASE, 0)
    const p = new ParallelMachine(m)
    const running = p.run()
    await new Promise((r) => setTimeout(r, 500)) // the worker started and the hart reached its WFI
    const cpu0 = process.cpuUsage()
    const wall0 = performance.now()
    await new Promise((r) => setTimeout(r, 1000))
    const cpu = process.cpuUsage(cpu0)
    const wall = performance.now() - wall0
    p.stop()
    expect(await running).toEqual({ reason: 'stopped' })
    // Spinning (sleeping 0 ms on the passed deadline, as before) costs a whole core: ~100% of the wall time.
    const share = (cpu.user + cpu.system) / 1000 / wall
    expect(share).toBeLessThan(0.25)
  }, 30_000)
})
