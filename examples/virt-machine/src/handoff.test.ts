/**
 * The TypeScript SBI's hand-off on the real machine (issue #12 case 13): what M-mode firmware
 * sets up for S and U before the kernel runs. Small S-mode programs drop to U-mode and read the
 * counters there; a read the counter-enable registers close is an illegal instruction (scause 2,
 * stval = the instruction), which is what Linux turns into SIGILL.
 */
import { VIRT_MAP } from '@honk/riscv'
import { describe, expect, it } from 'vitest'
import { assemble } from '@honk/rv64'
import { HANDOFF_CSR as C, HANDOFF_MCOUNTEREN, HANDOFF_MEDELEG, HANDOFF_MIDELEG, HANDOFF_SCOUNTEREN, HANDOFF_MENVCFG_WANTED } from '@honk/sbi'
import { VirtMachine } from './board.js'

const ENTRY = VIRT_MAP.ram.base + 0x20_0000
const SRST = 'li a7, 0x53525354; li a6, 0; li a0, 0; li a1, 0; ecall' // SBI system reset: shutdown

function machine(harts = 1) {
  return new VirtMachine({ harts, memory: 16 << 20, bios: 'builtin', consoleOut: () => {}, rng: false })
}

/** Runs S-mode `source` at the kernel's entry until the SBI shutdown; returns the boot hart. */
async function runS(source: string, harts = 1) {
  const m = machine(harts)
  m.bus.ram.set(assemble(source, { base: ENTRY }).bytes, ENTRY - VIRT_MAP.ram.base)
  m.reset(ENTRY, 0)
  const exit = await m.run({ limit: 2_000_000 })
  return { m, h: m.harts[0]!, exit }
}

/**
 * S-mode: optionally sets scounteren, then runs `rdtime s4; rdcycle s5; rdinstret s6; ecall` in
 * U-mode. The trap handler keeps scause in s2 and stval in s3 and shuts down. scause 8 (ecall
 * from U) means all three reads worked.
 */
const userCounters = (scounteren?: number) => `
  la t0, strap; csrw stvec, t0
  ${scounteren === undefined ? '' : `li t0, ${scounteren}; csrw scounteren, t0`}
  la t0, user; csrw sepc, t0
  li t0, 0x100; csrc sstatus, t0   # SPP = U
  sret
user:
  rdtime s4; rdcycle s5; rdinstret s6
  ecall
strap:
  csrr s2, scause; csrr s3, stval
  ${SRST}`

// csrrs x20/x21/x22, time/cycle/instret, x0 — what a closed counter reports in stval.
const RDTIME_S4 = 0xc0102a73n
const RDCYCLE_S5 = 0xc0002af3n

describe('TS SBI hand-off (issue #12 case 13)', () => {
  it('leaves each register as OpenSBI does on this hart: counters open to S and U, Sstc on, delegation', () => {
    const m = machine(2)
    m.reset(ENTRY, 0)
    const h = m.harts[0]!
    expect(h.privilege).toBe(1)
    expect(h.getCsr(C.scounteren)).toBe(HANDOFF_SCOUNTEREN) // CY|TM|IR
    expect(h.getCsr(C.scounteren)).toBe(0x7n)
    expect(h.getCsr(C.mcounteren)).toBe(HANDOFF_MCOUNTEREN)
    expect(h.getCsr(C.menvcfg)).toBe(HANDOFF_MENVCFG_WANTED) // the hart implements every field asked for: Sstc, Svpbmt, Zicboz, Zicbom (CBIE = 11, as OpenSBI sets it)
    expect(h.getCsr(C.medeleg)).toBe(HANDOFF_MEDELEG)
    expect(h.getCsr(C.mideleg)).toBe(HANDOFF_MIDELEG)
    expect((h.getCsr(C.mstatus) >> 13n) & 3n).toBe(3n) // FS on (Dirty, as OpenSBI leaves it)
    expect(h.getCsr(C.stvec)).toBe(BigInt(ENTRY))
  })

  it('U-mode reads rdtime, rdcycle and rdinstret with the scounteren the firmware leaves (Linux 6.1 without a PMU driver never sets it)', async () => {
    const { h, exit } = await runS(userCounters())
    expect(exit).toEqual({ reason: 'poweroff', code: 0 })
    expect([h.getX(18), h.getX(19)]).toEqual([8n, 0n]) // ecall from U: no read trapped
  })

  it('U-mode reads all three when S-mode opens them itself (scounteren = 7)', async () => {
    const { h } = await runS(userCounters(7))
    expect(h.getX(18)).toBe(8n)
  })

  it('S-mode still decides: scounteren = TM only closes cycle to U; 0 closes time (illegal instruction, stval = the rdtime)', async () => {
    const tmOnly = await runS(userCounters(2))
    expect([tmOnly.h.getX(18), tmOnly.h.getX(19)]).toEqual([2n, RDCYCLE_S5])
    const closed = await runS(userCounters(0))
    expect([closed.h.getX(18), closed.h.getX(19)]).toEqual([2n, RDTIME_S4])
  })

  it('a hart started through SBI HSM gets the same hand-off', async () => {
    const m = machine(2)
    const prog = assemble(
      `li a7, 0x48534d; li a6, 0; li a0, 1; la a1, park; li a2, 0; ecall   # HSM hart_start(1, park, 0)
       park: j park`,
      { base: ENTRY },
    )
    m.bus.ram.set(prog.bytes, ENTRY - VIRT_MAP.ram.base)
    m.reset(ENTRY, 0)
    m.harts[1]!.setCsr(C.scounteren, 0n) // whatever a stopped hart holds, HSM start sets it up again
    await m.run({ limit: 100_000 })
    const h1 = m.harts[1]!
    expect(h1.privilege).toBe(1)
    expect([C.scounteren, C.mcounteren, C.menvcfg, C.medeleg, C.mideleg].map((c) => h1.getCsr(c))).toEqual([0x7n, HANDOFF_MCOUNTEREN, HANDOFF_MENVCFG_WANTED, HANDOFF_MEDELEG, HANDOFF_MIDELEG])
    expect(h1.getCsr(C.stvec)).toBe(BigInt(prog.symbols.get('park')!))
  })

  for (const wait of ['spin', 'wfi'] as const) {
    it(`SBI set_timer arms the hart's own stimecmp (Sstc): the S timer interrupt arrives (${wait})`, async () => {
      const { h, exit } = await runS(`
        la t0, strap; csrw stvec, t0
        li t0, 0x20; csrs sie, t0          # STIE
        rdtime a0; addi a0, a0, 500; mv s6, a0
        li a7, 0x54494d45; li a6, 0; ecall # TIME set_timer(now + 500)
        rdtime s5
        csrsi sstatus, 2                   # SIE
      1: ${wait === 'wfi' ? 'wfi; ' : ''}j 1b
      strap:
        csrr s2, scause; rdtime s4; csrr s3, stimecmp
        ${SRST}`)
      expect(exit).toEqual({ reason: 'poweroff', code: 0 })
      expect(h.getX(18)).toBe((1n << 63n) | 5n) // supervisor timer interrupt
      expect(h.getX(19)).toBe(h.getX(22)) // stimecmp holds the deadline given to the SBI
      expect(h.getX(20)).toBeGreaterThanOrEqual(h.getX(22)) // taken at or after it…
      expect(h.getX(21)).toBeLessThan(h.getX(22)) // …which was still ahead when set
    })
  }
})
