import { EID } from '@honk/riscv'
import { describe, expect, it } from 'vitest'
import { DEMO_MMIO_BASE, DEMO_REG } from './constants.js'
import { ECALL, J_SELF, R, SRET, WFI, jal, lbu, li, sb } from './encode.js'
import { DEMO_MESSAGE, PAGING_MESSAGE, dbcnGuest, demoGuest, irqGuest, mmioGuest, pagingGuest, timerGuest, virtioGuest } from './guests.js'

const ws = (b: Uint8Array): number[] => Array.from({ length: b.length / 4 }, (_, i) => new DataView(b.buffer, b.byteOffset).getUint32(i * 4, true))
const isStore = (w: number, f3: number) => (w & 0x7f) === 0x23 && ((w >>> 12) & 7) === f3
const bTarget = (ws: number[], i: number): number => i * 4 + ((((ws[i]! >> 31) & 1) << 12 | ((ws[i]! >>> 7) & 1) << 11 | ((ws[i]! >>> 25) & 0x3f) << 5 | ((ws[i]! >>> 8) & 0xf) << 1) << 19 >> 19)
const isShutdownAt = (w: number[], at: number) => w[at / 4] === li(R.a7, EID.LEGACY_SHUTDOWN) && w[at / 4 + 1] === ECALL && w[at / 4 + 2] === J_SELF

describe('the seven guest payloads (Go honk sizes and structure)', () => {
  it('sizes: 348, 168, 496, 88, 52, 100, 120 bytes', () => {
    expect([demoGuest(DEMO_MESSAGE), timerGuest('*', 5), pagingGuest(PAGING_MESSAGE, 0x8000_4000), dbcnGuest(), mmioGuest(), irqGuest('#', 3), virtioGuest()].map((p) => p.length)).toEqual([348, 168, 496, 88, 52, 100, 120])
  })

  it('demo guest, instruction by instruction: li a7,1; li a0,c; ecall per byte, then li a7,8; ecall; j .', () => {
    const w = ws(demoGuest(DEMO_MESSAGE))
    expect(w).toHaveLength(87)
    ;[...DEMO_MESSAGE].forEach((c, i) => expect(w.slice(3 * i, 3 * i + 3)).toEqual([li(R.a7, 1), li(R.a0, c.charCodeAt(0)), ECALL]))
    expect(w.slice(84)).toEqual([li(R.a7, 8), ECALL, J_SELF])
  })

  it('mmio guest: lbu Magic, sb it to Out, then m, i, o to Out, shutdown', () => {
    const w = ws(mmioGuest())
    expect(w[2]).toBe(lbu(R.t1, R.t0, DEMO_REG.MAGIC))
    expect(w[3]).toBe(sb(R.t1, R.t0, DEMO_REG.OUT))
    expect([w[4], w[6], w[8]]).toEqual(['m', 'i', 'o'].map((c) => li(R.t1, c.charCodeAt(0))))
    expect(isShutdownAt(w, 40)).toBe(true)
    expect(DEMO_MMIO_BASE).toBe(0x1000_0000)
  })

  it('dbcn guest: probe (Base, FID 3, DBCN), beq to shutdown, DBCN write (FID 0) of 4 bytes', () => {
    const w = ws(dbcnGuest())
    expect(w[0]).toBe(li(R.a7, EID.BASE))
    expect(w[1]).toBe(li(R.a6, 3))
    expect(isShutdownAt(w, bTarget(w, 5))).toBe(true)
    expect(w[14]).toBe(li(R.a6, 0))
    expect(w[15]).toBe(li(R.a0, 4))
    expect(w[18]).toBe(ECALL)
  })

  it('timer guest: probe at words 9–13, probe branch at 14 targets shutdown, wfi loop, handler at 25 ends in sret', () => {
    const w = ws(timerGuest('*', 5))
    expect(w[9]).toBe(li(R.a7, EID.BASE))
    expect(w[13]).toBe(ECALL)
    expect(isShutdownAt(w, bTarget(w, 14))).toBe(true)
    expect([w[23], w[24]]).toEqual([WFI, jal(0, -4)])
    expect(w[26]).toBe(li(R.a0, '*'.charCodeAt(0)))
    expect(w[38]).toBe(SRET)
  })

  it('irq guest: handler at 60 acks with lbu IRQ, the doorbell is sb to Arm, wfi; jal -4', () => {
    const w = ws(irqGuest('#', 3))
    expect(w[12]).toBe(sb(R.t0, R.s1, DEMO_REG.ARM))
    expect([w[13], w[14]]).toEqual([WFI, jal(0, -4)])
    expect(w[15]).toBe(lbu(R.t0, R.s1, DEMO_REG.IRQ))
    expect(isShutdownAt(w, bTarget(w, 20))).toBe(true)
  })

  it('virtio guest: at least 4 sd and 1 sb (the Notify doorbell)', () => {
    const w = ws(virtioGuest())
    expect(w.filter((x) => isStore(x, 3)).length).toBeGreaterThanOrEqual(4)
    expect(w.filter((x) => isStore(x, 0))).toEqual([sb(R.t1, R.s1, DEMO_REG.NOTIFY)])
  })

  it('paging guest: builds vsatp = Sv39 | root PPN, sfence, and bne to shutdown on a mismatch', () => {
    const w = ws(pagingGuest(PAGING_MESSAGE, 0x8000_4000))
    expect(w[6]).toBe(0x1200_0073)
    expect(isShutdownAt(w, bTarget(w, 12))).toBe(true)
  })
})
