/**
 * The timers and the WFI time skip (issue #12 case 12): the CLINT's mtimecmp, Sstc's stimecmp,
 * and the skip a system makes when every hart waits. A hart whose timer came due must get its
 * MTIP/STIP and wake; time may jump only to the earliest deadline still ahead, never past it;
 * and a deadline already passed — left behind with its interrupt masked, as Linux leaves its
 * timer after the last tick before going tickless — must not stop time.
 */
import { VIRT_MAP } from '@honk/riscv'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CSR, assemble, createSystem, type System } from './index.js'

const BASE = 0x8000_0000
const TABLE = 0x8001_0000
const CLINT = VIRT_MAP.clint.base // where createSystem maps it
const MAX = (1n << 64n) - 1n
/** Bytes per episode in a hart's table: delay, kind, stale, then deadline, woke-at, mip written back. */
const EPISODE = 48

/**
 * Every hart runs this in M-mode with interrupts globally off (mstatus.MIE = 0): for each
 * episode of its table it arms one timer `delay` ticks ahead — mtimecmp (MTIE) or stimecmp
 * (STIE, Sstc) — optionally leaves the other one in the past and masked ("stale"), waits in WFI
 * until an enabled interrupt is pending (a spurious wake waits again), and writes back the
 * deadline, the time it woke at, and mip. Then it masks everything and leaves the fired timer
 * in the past. At the end it sleeps for good (mie = 0).
 */
const PROGRAM = `
  csrr s2, mhartid
  li t0, 1; slli t0, t0, 63; csrs menvcfg, t0
  li s0, ${TABLE}; slli t0, s2, 12; add s0, s0, t0
  ld s1, 0(s0); addi s0, s0, 8
  li s3, ${CLINT + 0x4000}; slli t0, s2, 3; add s3, s3, t0
  li t0, -1; sd t0, 0(s3); csrw stimecmp, t0
next:
  beqz s1, done
  ld t1, 0(s0); ld t2, 8(s0); ld t3, 16(s0)
  rdtime t4; add t5, t4, t1
  bnez t2, 1f
  sd t5, 0(s3); li t6, 0x80; csrw mie, t6
  beqz t3, 3f
  csrw stimecmp, zero
  j 3f
1: csrw stimecmp, t5; li t6, 0x20; csrw mie, t6
  beqz t3, 3f
  sd zero, 0(s3)
3: wfi
  csrr t6, mip; csrr a3, mie; and a4, t6, a3; beqz a4, 3b
  rdtime a2
  sd t5, 24(s0); sd a2, 32(s0); sd t6, 40(s0)
  csrw mie, zero
  addi s0, s0, ${EPISODE}; addi s1, s1, -1; j next
done:
  csrw mie, zero
4: wfi; j 4b
`

interface Episode {
  delay: number
  /** 0: mtimecmp, 1: stimecmp. */
  kind: 0 | 1
  /** Leave the other timer in the past, masked, while waiting. */
  stale: boolean
}

function machine(episodes: Episode[][], slice: number): System {
  const sys = createSystem({ harts: episodes.length, ramSize: 1 << 20, slice })
  const { bytes } = assemble(PROGRAM, { base: BASE })
  sys.bus.writeBytes(BASE, bytes)
  episodes.forEach((list, h) => {
    const at = TABLE + 0x1000 * h
    sys.bus.write(at, 8, BigInt(list.length))
    list.forEach((e, i) => {
      const o = at + 8 + EPISODE * i
      sys.bus.write(o, 8, BigInt(e.delay))
      sys.bus.write(o + 8, 8, BigInt(e.kind))
      sys.bus.write(o + 16, 8, e.stale ? 1n : 0n)
    })
  })
  for (const h of sys.harts) h.pc = BASE
  return sys
}

/** A 64-bit word of RAM or a device register (the bus answers undefined for nothing mapped). */
function read64(sys: System, addr: number): bigint {
  const v = sys.bus.read(addr, 8)
  if (v === undefined) throw new Error(`nothing mapped at 0x${addr.toString(16)}`)
  return v
}

/** Every timer deadline the registers hold, read back through the bus and the CSRs. */
function deadlines(sys: System): bigint[] {
  const out: bigint[] = []
  sys.harts.forEach((h, i) => {
    out.push(read64(sys, CLINT + 0x4000 + 8 * i))
    if (h.getCsr(CSR.menvcfg) >> 63n) out.push(h.getCsr(CSR.stimecmp))
  })
  return out
}

/** Runs the machine, checking each time skip against the registers; returns the skips seen. */
function runChecked(sys: System, budget: number): { reason: string; skips: number } {
  const clint = sys.clint
  const skip = clint.skipToNextDeadline.bind(clint)
  let skips = 0
  clint.skipToNextDeadline = (others) => {
    const before = clint.mtime()
    const ahead = deadlines(sys).filter((t) => t > before && t !== MAX)
    const skipped = skip(others)
    const after = clint.mtime()
    // Time jumps to the earliest deadline ahead, exactly: never past it, never short of it.
    if (ahead.length === 0) expect(skipped).toBe(0n)
    else expect(after).toBe(ahead.reduce((a, b) => (a < b ? a : b)))
    expect(after - before).toBe(skipped)
    if (skipped > 0n) skips++
    return skipped
  }
  const r = sys.run(budget)
  return { reason: r.reason, skips }
}

const episode = fc.record({
  delay: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 20_000 })),
  kind: fc.constantFrom(0 as const, 1 as const),
  stale: fc.boolean(),
})

describe('timers and the WFI time skip', () => {
  it('a deadline left in the past with its interrupt masked does not stop time (the tickless-idle pattern)', () => {
    // Hart 0 waits for mtimecmp while its stimecmp sits in the past, masked; hart 1 waits for stimecmp.
    const sys = machine([[{ delay: 5000, kind: 0, stale: true }], [{ delay: 9000, kind: 1, stale: false }]], 1000)
    const r = sys.run(1_000_000)
    expect(r.reason).toBe('wfi')
    const wokeAt = (h: number) => read64(sys, TABLE + 0x1000 * h + 8 + 32)
    const deadline = (h: number) => read64(sys, TABLE + 0x1000 * h + 8 + 24)
    for (const h of [0, 1]) {
      expect(deadline(h)).toBeGreaterThan(0n)
      expect(wokeAt(h) >= deadline(h)).toBe(true)
      expect(wokeAt(h) - deadline(h)).toBeLessThan(10n)
    }
  })

  it('a write to mcycle or minstret (OpenSBI starting a PMU counter for perf) moves the counter, not time', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const { bytes, symbols } = assemble(`
      rdtime t0
      li t1, -1000; csrw minstret, t1; csrw mcycle, zero
      rdtime t2
      csrr t3, minstret; csrr t4, mcycle
    done: j done`, { base: BASE })
    sys.bus.writeBytes(BASE, bytes)
    const hart = sys.harts[0]!
    hart.pc = BASE
    hart.instret = 1_000_000n // a hart that has run a while: mtime 100 000
    hart.addBreakpoint(symbols.get('done')!)
    expect(hart.run(100).reason).toBe('breakpoint')
    expect(hart.getX(5)).toBe(100_000n)
    expect(hart.getX(7)).toBe(100_000n) // time did not go back with the counters
    expect(sys.clint.mtime()).toBeGreaterThanOrEqual(100_000n)
    // The counters read what was written plus what retired since, exactly (the write is done
    // instead of the writer's increment): minstret 2 instructions on, mcycle 2 (counted mid-slice).
    expect(BigInt.asIntN(64, hart.getX(28))).toBe(-998n)
    expect(hart.getX(29)).toBe(2n)
    const since = BigInt.asIntN(64, hart.getCsr(CSR.minstret)) + 1000n
    expect(since).toBe(4n) // csrw mcycle, rdtime, csrr, csrr (the breakpoint stops before `j done`)
    expect(hart.getCsr(CSR.mcycle)).toBe(since - 1n) // written one instruction later
  })

  let skipsSeen = 0
  it('property: on N harts, every timer that comes due raises MTIP/STIP and wakes its hart, and time skips exactly to the earliest deadline ahead', () => {
    fc.assert(
      fc.property(fc.array(fc.array(episode, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3000 }), (episodes, slice) => {
        const sys = machine(episodes, slice)
        const { reason, skips } = runChecked(sys, 2_000_000)
        skipsSeen += skips
        // Everyone finished every episode and sleeps for good: nothing was lost on the way.
        expect(reason).toBe('wfi')
        episodes.forEach((list, h) => {
          const at = TABLE + 0x1000 * h + 8
          list.forEach((e, i) => {
            const o = at + EPISODE * i
            const deadline = read64(sys, o + 24)
            const woke = read64(sys, o + 32)
            const mip = read64(sys, o + 40)
            // The episode completed, and the interrupt of the armed timer was pending when the
            // hart woke (MTIP 7, STIP 5; mip stays 0 in the table for an episode never reached)...
            expect((mip >> (e.kind === 0 ? 7n : 5n)) & 1n, `hart ${h} episode ${i}: mip 0x${mip.toString(16)}`).toBe(1n)
            // ...not before its deadline, and late by at most one round of the other harts' slices.
            expect(woke >= deadline, `hart ${h} episode ${i} woke at ${woke} before ${deadline}`).toBe(true)
            expect(woke - deadline <= BigInt(Math.ceil((episodes.length * slice) / 10) + 10), `hart ${h} episode ${i} woke at ${woke}, deadline ${deadline}`).toBe(true)
          })
        })
      }),
      { numRuns: 300 },
    )
    expect(skipsSeen).toBeGreaterThan(100) // the skip was exercised, not just the busy paths
  })
})

/** One CSR instruction on mip: csrrw/csrrs/csrrc (funct3 1/2/3) rd = x10, rs1 = x11. */
const csrMip = (funct3: 1 | 2 | 3) => ((CSR.mip << 20) | (11 << 15) | (funct3 << 12) | (10 << 7) | 0x73) >>> 0

describe('mip read-modify-write (issue #12 case 12: the SEI storm)', () => {
  it('`csrs mip, SSIP` while the PLIC holds SEIP does not latch SEIP: it drops with the PLIC line', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const hart = sys.harts[0]!
    const { bytes } = assemble('li a1, 2; csrs mip, a1', { base: BASE })
    sys.bus.writeBytes(BASE, bytes)
    hart.pc = BASE
    hart.setIrq(9, true) // the PLIC's S-mode context output: an external interrupt (the UART)
    hart.run(2) // OpenSBI's IPI handler hands an IPI to S-mode this way
    expect(hart.getCsr(CSR.mip) & 0x202n).toBe(0x202n)
    hart.setIrq(9, false) // S-mode claimed and completed it
    expect(hart.getCsr(CSR.mip) & 0x202n).toBe(0x2n)
  })

  it('property: after any sequence of device levels and csrrw/csrrs/csrrc on mip, mip = software bits | device lines, and each instruction read the whole mip', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('line' as const), bit: fc.constantFrom(3, 7, 9, 11), level: fc.boolean() }),
      fc.record({ kind: fc.constant('csr' as const), funct3: fc.constantFrom(1 as const, 2 as const, 3 as const), value: fc.bigInt({ min: 0n, max: 0xfffn }) }),
    )
    fc.assert(
      fc.property(fc.boolean(), fc.array(op, { maxLength: 40 }), (stce, ops) => {
        const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
        const hart = sys.harts[0]!
        if (stce) hart.setCsr(CSR.menvcfg, 1n << 63n) // stimecmp stays far away: STIP reads 0
        const writable = stce ? 0x202n : 0x222n // SSIP, SEIP (and STIP without Sstc)
        let soft = 0n
        let lines = 0n
        let at = BASE
        for (const o of ops) {
          if (o.kind === 'line') {
            lines = o.level ? lines | (1n << BigInt(o.bit)) : lines & ~(1n << BigInt(o.bit))
            hart.setIrq(o.bit, o.level)
            continue
          }
          const before = soft | lines
          at += 4 // a fresh address each time (the hart keeps what it decoded)
          sys.bus.write(at, 4, BigInt(csrMip(o.funct3)))
          hart.pc = at
          hart.setX(11, o.value)
          hart.run(1)
          expect(hart.getX(10)).toBe(before)
          const next = o.funct3 === 1 ? o.value : o.funct3 === 2 ? soft | o.value : soft & ~o.value
          soft = (soft & ~writable) | (next & writable)
          expect(hart.getCsr(CSR.mip)).toBe(soft | lines)
        }
      }),
      { numRuns: 500 },
    )
  })
})
