/**
 * The interpreter's warm-up program (warm-up.ts) really runs what it is for: every load and store
 * width to RAM and to a device, ecall traps with mret, paging on in S-mode, an interrupt.
 */
import { describe, expect, it } from 'vitest'
import { CSR, Hart } from './index.js'
import { COMPILE_EARLY, INTERPRET_ONLY, runWarmUp } from './warm-up.js'

describe('warm-up', () => {
  it.each([['compiling blocks early', COMPILE_EARLY], ['on the interpreter alone', INTERPRET_ONLY]] as const)('runs its program (%s) in M-mode, S-mode with Sv39, U-mode, S-mode on user pages (SUM), U-mode low in the address space and S-mode at its top, takes an interrupt, waits in WFI and wakes, and yields where a host with several harts would', (_name, threshold) => {
    const { hart, deviceWrites, executed, yields } = runWarmUp((o) => new Hart(o), threshold)
    // The idle phase: three runs of a poll and three of a WFI that cannot sleep, each ends in a yield.
    expect(yields).toBe(6)
    // 24 rounds of the body in each of 6 phases; 4 device stores a round.
    expect(deviceWrites).toBe(6 * 24 * 4)
    expect(executed).toBeGreaterThan(6 * 24 * 100)
    // The last trap was the supervisor software interrupt, taken from S-mode with paging on.
    expect(hart.getCsr(CSR.mcause)).toBe((1n << 63n) | 1n)
    expect(hart.privilege).toBe(1)
    expect(hart.getCsr(CSR.satp) >> 60n).toBe(8n)
    expect(hart.getCsr(CSR.mstatus) & (1n << 18n)).not.toBe(0n) // SUM, set in the fourth phase
    expect(hart.getX(18)).toBe(BigInt.asUintN(64, -0x8000_0000n + 0x8000n)) // the last phase's data at the top
    expect(hart.asleep).toBe(false) // woken from WFI by the interrupt enabled again
    expect(hart.getCsr(CSR.mie)).toBe(0n) // the handler's interrupt path ran
    // Compiling early: more distinct compiled blocks than V8 inlines at one call site (4), so the
    // site goes megamorphic; on the interpreter alone, none.
    if (threshold === COMPILE_EARLY) expect(hart.jitStats.blocks).toBeGreaterThan(4)
    else expect(hart.jitStats.blocks).toBe(0)
  })
})
