import { describe, expect, it } from 'vitest'
import { CAUSE, CSR, EID, FINISHER, IRQ, MSTATUS, PLIC, SSTATUS, VIRT_IRQ, VIRT_MAP, irqMask, plicClaim, plicEnableWord, plicPriority, plicThreshold, virtioSlotBase } from './index.js'

const ascii = (s: string) => [...s].reduce((v, c) => v * 256 + c.charCodeAt(0), 0)

describe('facts', () => {
  it('CSR addresses are distinct and their bits 9:8 give the lowest privilege that may access them (priv spec §2.1)', () => {
    const addresses = Object.values(CSR)
    expect(new Set(addresses).size).toBe(addresses.length)
    for (const [name, a] of Object.entries(CSR)) {
      const level = (a >> 8) & 3
      // 0 U, 1 S, 2 the hypervisor's and VS CSRs (chapter 8), 3 M (and the debug triggers).
      const hypervisor = name.startsWith('vs') || (name.startsWith('h') && !name.startsWith('hpm'))
      const machine = name.startsWith('m') || name.startsWith('pmp') || name === 'tselect' || name.startsWith('tdata') || name === 'tinfo'
      expect([name, level]).toEqual([name, machine ? 3 : hypervisor ? 2 : name.startsWith('s') ? 1 : 0])
    }
  })

  it('sstatus is mstatus restricted: every SSTATUS field is the MSTATUS field of the same name', () => {
    for (const [name, mask] of Object.entries(SSTATUS)) expect(MSTATUS[name as keyof typeof MSTATUS]).toBe(mask)
  })

  it('interrupt and exception codes: S before M per kind, masks are 1 << code (priv spec table 3.6)', () => {
    expect([IRQ.MSI - IRQ.SSI, IRQ.MTI - IRQ.STI, IRQ.MEI - IRQ.SEI]).toEqual([2, 2, 2])
    expect(irqMask(IRQ.SSI) | irqMask(IRQ.STI) | irqMask(IRQ.SEI)).toBe(0x222n)
    expect(CAUSE.ECALL_M - CAUSE.ECALL_U).toBe(3)
  })

  it('SBI extension IDs of v0.2+ spell their names in ASCII (SBI 2.0 §4–§16)', () => {
    for (const name of ['TIME', 'RFNC', 'HSM', 'SRST', 'PMU', 'DBCN', 'SUSP', 'CPPC', 'NACL', 'STA']) {
      const key = name === 'RFNC' ? 'RFENCE' : name
      expect([name, EID[key as keyof typeof EID]]).toEqual([name, ascii(name)])
    }
    expect(EID.IPI).toBe(ascii('sPI'))
  })

  it('the virt map: device windows do not overlap and lie below RAM; slots and IRQs fit', () => {
    const windows = [
      ...(['test', 'rtc', 'clint', 'plic', 'uart'] as const).map((d) => ({ d, base: VIRT_MAP[d].base, end: VIRT_MAP[d].base + VIRT_MAP[d].size })),
      ...Array.from({ length: VIRT_MAP.virtio.count }, (_, i) => ({ d: `virtio${i}`, base: virtioSlotBase(i), end: virtioSlotBase(i) + VIRT_MAP.virtio.size })),
    ].sort((a, b) => a.base - b.base)
    for (let i = 1; i < windows.length; i++) expect(windows[i]!.base, `${windows[i]!.d} after ${windows[i - 1]!.d}`).toBeGreaterThanOrEqual(windows[i - 1]!.end)
    expect(windows.at(-1)!.end).toBeLessThanOrEqual(VIRT_MAP.ram.base)
    const irqs = [VIRT_IRQ.uart, VIRT_IRQ.rtc, ...Array.from({ length: VIRT_MAP.virtio.count }, (_, i) => VIRT_IRQ.virtio0 + i)]
    expect(new Set(irqs).size).toBe(irqs.length)
    expect(Math.min(...irqs)).toBeGreaterThan(0) // PLIC source 0 does not exist
  })

  it('PLIC offsets (PLIC spec 1.0.0 §3–§7) and the SiFive finisher values', () => {
    expect([plicPriority(3), plicEnableWord(1, 33), plicThreshold(2), plicClaim(2)]).toEqual([12, 0x2000 + 0x80 + 4, 0x20_2000, 0x20_2004])
    expect(PLIC.CONTEXT).toBeGreaterThanOrEqual(PLIC.ENABLE + PLIC.ENABLE_STRIDE * 15872)
    expect(new Set(Object.values(FINISHER)).size).toBe(3)
  })
})
