/**
 * Privileged spec 3.1.9: the interrupt conditions "must be evaluated immediately following the
 * execution of an xRET instruction or an explicit write to a CSR on which these interrupt trap
 * conditions expressly depend". The hart checks interrupts once per slice of instructions
 * otherwise; these cases must not wait for the slice's end.
 */
import { describe, expect, it } from 'vitest'
import { CAUSE_INTERRUPT, IRQ } from '@honk/riscv'
import { ADDI, MRET, words } from './encode.test-helpers.js'
import { CSR, createSystem } from './index.js'

const BASE = 0x8000_0000
const HANDLER = BASE + 0x2000
const CSRRSI = (csr: number, imm: number) => ((csr << 20) | (imm << 15) | (6 << 12) | 0x73) >>> 0

function machine(program: number[], tier: 'block' | 'region' = 'block') {
  const sys = createSystem({ harts: 1, ramSize: 1 << 20, tier, blockThreshold: 2 })
  const hart = sys.harts[0]!
  sys.bus.writeBytes(BASE, words(program))
  sys.bus.writeBytes(HANDLER, words([0x0000006f])) // j .
  hart.setCsr(CSR.mtvec, BigInt(HANDLER))
  hart.setCsr(CSR.mie, 1n << BigInt(IRQ.MSI))
  return { sys, hart }
}

const nops = (n: number) => Array.from({ length: n }, () => ADDI(5, 5, 1))

describe('interrupts are evaluated right after what may enable them', () => {
  for (const tier of ['block', 'region'] as const) {
    it(`csrsi mstatus, MIE with MSI pending: taken at the next instruction (${tier}, one run)`, () => {
      const { hart } = machine([...nops(3), CSRRSI(CSR.mstatus, 8), ...nops(300)], tier)
      hart.setIrq(IRQ.MSI, true)
      hart.run(400)
      expect(hart.getCsr(CSR.mcause)).toBe(CAUSE_INTERRUPT | BigInt(IRQ.MSI))
      expect(hart.getCsr(CSR.mepc)).toBe(BigInt(BASE + 16))
      expect(hart.getX(5)).toBe(3n)
    })
  }

  it('mret restoring MIE with MSI pending: taken at the mret target', () => {
    const target = BASE + 0x100
    const { sys, hart } = machine([...nops(2), MRET])
    sys.bus.writeBytes(target, words(nops(300)))
    hart.setCsr(CSR.mepc, BigInt(target))
    hart.setCsr(CSR.mstatus, (3n << 11n) | (1n << 7n)) // MPP = M, MPIE = 1, MIE = 0
    hart.setIrq(IRQ.MSI, true)
    hart.run(400)
    expect(hart.getCsr(CSR.mcause)).toBe(CAUSE_INTERRUPT | BigInt(IRQ.MSI))
    expect(hart.getCsr(CSR.mepc)).toBe(BigInt(target))
    expect(hart.getX(5)).toBe(2n)
  })

  it('a device raising MSI in the middle of a run (a host setIrq between instructions) is taken right after that instruction', () => {
    const { hart } = machine([...nops(600)])
    hart.setCsr(CSR.mstatus, 1n << 3n) // MIE
    let n = 0
    hart.onTrace = () => {
      if (++n === 10) hart.setIrq(IRQ.MSI, true) // before the 10th instruction
    }
    hart.run(700)
    expect(hart.getCsr(CSR.mepc)).toBe(BigInt(BASE + 40)) // right after the 10th
  })
})
