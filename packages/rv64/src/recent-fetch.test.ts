/**
 * Recent fetch pages (hart.ts `recentBase`): a jump back to a page fetched from lately takes its
 * decoded slots without a translation. They must go with everything that changes what a virtual
 * page holds or who may run it: here a code page remapped by the guest (PTE store, SFENCE.VMA)
 * and by the host (satp), and a page run from S-mode, then from U-mode.
 */
import { describe, expect, it } from 'vitest'
import { CAUSE } from '@honk/riscv'
import { CSR, assemble, createSystem } from './index.js'

const BASE = 0x8000_0000
const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
/** Not a multiple of 64 pages from the main code's page: its own entry in the direct-mapped recent pages. */
const CODE_VA = 0x4000_5000
const P1 = BASE + 0x30_0000
const P2 = BASE + 0x30_1000
const ROOT = BigInt(BASE + 0x10_0000)
const L1 = ROOT + 0x1000n
const L0 = ROOT + 0x2000n
const pte = (pa: number, flags: bigint) => ((BigInt(pa) >> 12n) << 10n) | flags

function machine(main: string, threshold: number) {
  const sys = createSystem({ harts: 1, ramSize: 4 << 20, blockThreshold: threshold })
  const prog = assemble(main, { base: BASE })
  sys.bus.writeBytes(BASE, prog.bytes)
  sys.bus.writeBytes(P1, assemble('addi a0, a0, 1\nret\n', { base: CODE_VA }).bytes)
  sys.bus.writeBytes(P2, assemble('addi a0, a0, 100\nret\n', { base: CODE_VA }).bytes)
  const wr = (pa: bigint, v: bigint) => sys.bus.write(Number(pa), 8, v)
  wr(ROOT + 2n * 8n, ((BigInt(BASE) >> 12n) << 10n) | V | R | W | X | A | D) // RAM: S gigapage
  wr(ROOT + 1n * 8n, ((L1 >> 12n) << 10n) | V)
  wr(L1, ((L0 >> 12n) << 10n) | V)
  wr(L0 + 5n * 8n, pte(P1, V | R | X | A))
  const hart = sys.harts[0]!
  hart.setCsr(CSR.satp, (8n << 60n) | (ROOT >> 12n))
  hart.setCsr(CSR.mtvec, BigInt(prog.symbols.get('trap')!))
  hart.pc = BASE
  hart.privilege = 1
  return { sys, hart, symbols: prog.symbols }
}

describe('recent fetch pages', () => {
  it.each([['interpreter', 1 << 30], ['blocks', 2]] as const)('a code page the guest remaps (PTE store, SFENCE.VMA) runs its new code (%s)', (_name, threshold) => {
    const { hart } = machine(`
        li s0, ${CODE_VA}
        li s1, 3
1:      jalr ra, 0(s0)        # P1: a0 += 1, three times (the page becomes a recent one)
        addi s1, s1, -1
        bnez s1, 1b
        li t1, ${L0 + 5n * 8n}
        li t2, ${pte(P2, V | R | X | A)}
        sd t2, 0(t1)
        sfence.vma
        jalr ra, 0(s0)        # P2 now: a0 += 100
done:   j done
trap:   j trap
`, threshold)
    hart.run(200)
    expect(hart.getX(10)).toBe(103n)
  })

  it('a code page the host remaps (a satp write) runs its new code', () => {
    const { sys, hart, symbols } = machine(`
        li s0, ${CODE_VA}
        jalr ra, 0(s0)
stop:   j stop
again:  jalr ra, 0(s0)
done:   j done
trap:   j trap
`, 1 << 30)
    hart.run(50)
    expect(hart.getX(10)).toBe(1n)
    sys.bus.write(Number(L0 + 5n * 8n), 8, pte(P2, V | R | X | A))
    hart.setCsr(CSR.satp, hart.getCsr(CSR.satp)) // a satp write flushes the TLB
    hart.pc = symbols.get('again')!
    hart.run(50)
    expect(hart.getX(10)).toBe(101n)
  })

  it('a page run from S-mode is not taken for U-mode, which may not run it (not a U page): sret there faults', () => {
    const { hart, symbols } = machine(`
        li s0, ${CODE_VA}
        jalr ra, 0(s0)        # S-mode runs the page: a recent one now
        csrw sepc, s0
        li t0, 0x100          # sstatus.SPP = 0: sret to U-mode
        csrc sstatus, t0
        sret                  # U-mode fetches from an S page: a fetch page fault, to M
done:   j done
trap:   j trap
`, 1 << 30)
    hart.run(100)
    expect(hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.FETCH_PAGE))
    expect(hart.getCsr(CSR.mepc)).toBe(BigInt(CODE_VA))
    expect(hart.pc).toBe(symbols.get('trap'))
    expect(hart.getX(10)).toBe(1n)
  })

  it.each([['interpreter', 1 << 30], ['blocks', 2]] as const)('an instruction first reached on a recent page runs the bytes of its physical page, not of its virtual address (%s)', (_name, threshold) => {
    const { sys, hart } = machine(`
        li s0, ${CODE_VA + 0x1000}
        jalr ra, 0(s0)        # the page at CODE_VA + 0x1000 runs first at its start: a recent page
        jalr ra, 0x100(s0)    # then at an offset not decoded yet
done:   j done
trap:   j trap
`, threshold)
    const P3 = BASE + 0x30_2000
    sys.bus.writeBytes(P3, assemble('addi a0, a0, 1\nret\n', { base: CODE_VA + 0x1000 }).bytes)
    sys.bus.writeBytes(P3 + 0x100, assemble('addi a0, a0, 1000\nret\n', { base: CODE_VA + 0x1100 }).bytes)
    // What lies at the virtual address as a physical one (RAM's identity gigapage): not this code.
    sys.bus.writeBytes(BASE + 0x1000 + 0x100, assemble('addi a0, a0, 7\nret\n', { base: BASE }).bytes)
    sys.bus.write(Number(L0 + 6n * 8n), 8, pte(P3, V | R | X | A))
    hart.run(100)
    expect(hart.getX(10)).toBe(1001n)
  })

  it('the host lowering the privilege between runs: the S page being run is not run from U-mode (a fetch page fault)', () => {
    const { sys, hart } = machine(`
        li s0, ${CODE_VA + 0x1000}
        jr s0
trap:   j trap
`, 1 << 30)
    const P3 = BASE + 0x30_2000
    sys.bus.writeBytes(P3, assemble('1: addi a0, a0, 1\nj 1b\n', { base: CODE_VA + 0x1000 }).bytes)
    sys.bus.write(Number(L0 + 6n * 8n), 8, pte(P3, V | R | X | A))
    hart.run(100) // stops inside the S page's loop: it is the fetch page
    expect(hart.pc).toBeGreaterThanOrEqual(CODE_VA + 0x1000)
    const counted = hart.getX(10)
    hart.privilege = 0
    hart.run(10)
    expect(hart.getCsr(CSR.mcause)).toBe(BigInt(CAUSE.FETCH_PAGE))
    expect(hart.getX(10)).toBe(counted)
  })
})
