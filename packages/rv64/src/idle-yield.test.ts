/**
 * `Hart.idleYields`: a hart that is only waiting ends `run()` early, for a host that runs several
 * harts on one thread — after a WFI that cannot sleep (an enabled interrupt is pending, but masked
 * globally, so the hart only polls), and after a short loop that keeps finding the same values.
 */
import { describe, expect, it } from 'vitest'
import { IRQ } from '@honk/riscv'
import { ADDI, I, J, WFI, words } from './encode.test-helpers.js'
import { CSR, createSystem } from './index.js'

const BASE = 0x8000_0000

/** M-mode, mstatus.MIE clear: `loop: addi x5, x5, 1; wfi; j loop`. */
function poller(idleYields: boolean) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  const hart = sys.harts[0]!
  sys.bus.writeBytes(BASE, words([ADDI(5, 5, 1), WFI, J(-8, 0)]))
  hart.pc = BASE
  hart.setCsr(CSR.mie, 1n << BigInt(IRQ.MSI))
  hart.idleYields = idleYields
  return hart
}

describe('a WFI that does not sleep', () => {
  it('ends run() right after it when idleYields is set; the loop goes on from there', () => {
    const hart = poller(true)
    hart.setIrq(IRQ.MSI, true) // pending and enabled in mie, masked by mstatus.MIE = 0: never taken
    const first = hart.run(10_000)
    expect(first).toEqual({ reason: 'yield', executed: 2 })
    expect(hart.pc).toBe(BASE + 8)
    let executed = 0
    for (let i = 0; i < 100; i++) executed += hart.run(10_000).executed
    expect(executed).toBe(300) // each run: j, addi, wfi
    expect(hart.getX(5)).toBe(101n)
    expect(hart.instret).toBe(302n)
  })

  it('runs through the whole budget when idleYields is clear (the default)', () => {
    const hart = poller(false)
    hart.setIrq(IRQ.MSI, true)
    expect(hart.run(3_000)).toEqual({ reason: 'budget', executed: 3_000 })
    expect(hart.getX(5)).toBe(1_000n)
  })

  it('still sleeps when nothing enabled is pending, with or without idleYields', () => {
    for (const idleYields of [true, false]) {
      const hart = poller(idleYields)
      expect(hart.run(10_000)).toEqual({ reason: 'wfi', executed: 2 })
      expect(hart.asleep).toBe(true)
    }
  })
})

/** `B`-type encoding (offset in bytes). */
const B = (f3: number, rs1: number, rs2: number, off: number) =>
  ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0
const FLAG = BASE + 0x1000

/** `poll: ld x5, 0(x6); bne x5, x7, poll; addi x8, x8, 1; j .` with x6 = FLAG, x7 = 1. */
function flagPoller(idleYields: boolean) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  const hart = sys.harts[0]!
  sys.bus.writeBytes(BASE, words([I(0, 6, 3, 5, 0x03), B(1, 5, 7, -4), ADDI(8, 8, 1), J(0, 0)]))
  hart.pc = BASE
  hart.setX(6, BigInt(FLAG))
  hart.setX(7, 1n)
  hart.idleYields = idleYields
  return { sys, hart }
}

describe('a loop that keeps finding the same values', () => {
  it('yields after 64 rounds when idleYields is set, and leaves once the flag is written', () => {
    const { sys, hart } = flagPoller(true)
    const first = hart.run(100_000)
    expect(first.reason).toBe('yield')
    expect(first.executed).toBeLessThanOrEqual(2 * 66)
    expect(hart.pc).toBe(BASE) // at the loop's head again: the bne was taken
    expect(hart.run(100_000).reason).toBe('yield') // still polling: yields again
    sys.bus.view.setBigUint64(FLAG - BASE, 1n, true) // "another hart" writes the flag
    const after = hart.run(1_000)
    expect(after.reason).toBe('budget')
    expect(hart.getX(8)).toBe(1n) // left the loop exactly once
  })

  it('runs through the budget when idleYields is clear', () => {
    const { hart } = flagPoller(false)
    expect(hart.run(10_000)).toEqual({ reason: 'budget', executed: 10_000 })
  })

  it('never yields in a loop whose branch sees new values (a count, a walk through memory)', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const hart = sys.harts[0]!
    // loop: addi x5, x5, 1; ld x9, 0(x6); bne x5, x7, loop — x7 far away: 30 000 rounds
    sys.bus.writeBytes(BASE, words([ADDI(5, 5, 1), I(0, 6, 3, 9, 0x03), B(1, 5, 7, -8), J(0, 0)]))
    hart.pc = BASE
    hart.setX(6, BigInt(FLAG))
    hart.setX(7, 30_000n)
    hart.idleYields = true
    expect(hart.run(60_000)).toEqual({ reason: 'budget', executed: 60_000 })
    expect(hart.getX(5)).toBe(20_000n)
  })
})

describe('a scan that compares equal values but moves on', () => {
  it('is not a poll: memchr_inv over zeroes (lbu, addi, beq on the same two values) runs through the budget', () => {
    const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
    const hart = sys.harts[0]!
    // loop: lbu x5, 0(x6); addi x6, x6, 1; beq x5, x0, loop — over 64 KiB of zeroes
    sys.bus.writeBytes(BASE, words([I(0, 6, 4, 5, 0x03), ADDI(6, 6, 1), B(0, 5, 0, -8), J(0, 0)]))
    hart.pc = BASE
    hart.setX(6, BigInt(FLAG))
    hart.idleYields = true
    expect(hart.run(30_000)).toEqual({ reason: 'budget', executed: 30_000 })
    expect(hart.getX(6)).toBe(BigInt(FLAG + 10_000))
  })
})
