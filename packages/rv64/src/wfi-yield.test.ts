/**
 * `Hart.wfiYields`: a WFI that cannot sleep (an enabled interrupt is pending, but masked
 * globally, so the hart only polls) ends `run()` for a host that runs several harts on one thread.
 */
import { describe, expect, it } from 'vitest'
import { IRQ } from '@honk/riscv'
import { ADDI, J, WFI, words } from './encode.test-helpers.js'
import { CSR, createSystem } from './index.js'

const BASE = 0x8000_0000

/** M-mode, mstatus.MIE clear: `loop: addi x5, x5, 1; wfi; j loop`. */
function poller(wfiYields: boolean) {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20 })
  const hart = sys.harts[0]!
  sys.bus.writeBytes(BASE, words([ADDI(5, 5, 1), WFI, J(-8, 0)]))
  hart.pc = BASE
  hart.setCsr(CSR.mie, 1n << BigInt(IRQ.MSI))
  hart.wfiYields = wfiYields
  return hart
}

describe('a WFI that does not sleep', () => {
  it('ends run() right after it when wfiYields is set; the loop goes on from there', () => {
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

  it('runs through the whole budget when wfiYields is clear (the default)', () => {
    const hart = poller(false)
    hart.setIrq(IRQ.MSI, true)
    expect(hart.run(3_000)).toEqual({ reason: 'budget', executed: 3_000 })
    expect(hart.getX(5)).toBe(1_000n)
  })

  it('still sleeps when nothing enabled is pending, with or without wfiYields', () => {
    for (const wfiYields of [true, false]) {
      const hart = poller(wfiYields)
      expect(hart.run(10_000)).toEqual({ reason: 'wfi', executed: 2 })
      expect(hart.asleep).toBe(true)
    }
  })
})
