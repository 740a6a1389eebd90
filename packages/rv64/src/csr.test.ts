/**
 * The CSR code (csr.ts, csr-hyp.ts) against a plain {@link CsrPort}, no hart: the side effects it
 * asks of the hart through the port (TLB flushes, xmode recomputation, the interrupt re-check),
 * which a test through `Hart` cannot see, and the agreement of the read and write tables.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CAUSE, CSR, MENVCFG, MSTATUS } from '@honk/riscv'
import { decode } from './decode.js'
import { CSRRS } from './encode.test-helpers.js'
import { Fpu } from './fpu.js'
import type { Privilege } from './hart.js'
import { Pmp } from './pmp.js'
import { Trap } from './trap.js'
import { HSTATUS_VSXL64, csrOp, csrRead, csrWrite, readCsrAsCode, writeCsrAsCode, type CsrPort } from './csr.js'

const MASK64 = (1n << 64n) - 1n

/** A hart's CSR state as a plain object, counting the side effects asked of it. */
class FakePort implements CsrPort {
  readonly hartId = 3
  readonly x = new BigInt64Array(32)
  readonly fpu = new Fpu(this.x)
  readonly pmp = new Pmp()
  readonly clock = { mtime: () => 1000n }
  privilege: Privilege = 3
  virt = false
  instret = 0n
  sliceDone = 0
  excepted = 0
  countInhibit = 0
  cycleOffset = 0n
  instretOffset = 0n
  cycleHeld = 0n
  instretHeld = 0n
  rechecks = 0
  mstatus = (2n << 32n) | (2n << 34n)
  medeleg = 0n
  mideleg = 0n
  mie = 0n
  mipSoft = 0n
  mtvec = 0n
  mcounteren = 0n
  menvcfg = 0n
  mscratch = 0n
  mepc = 0n
  mcause = 0n
  mtval = 0n
  stvec = 0n
  scounteren = 0n
  senvcfg = 0n
  sscratch = 0n
  sepc = 0n
  scause = 0n
  stval = 0n
  stimecmp = MASK64
  satp = 0n
  satpMode = 0
  hstatus = HSTATUS_VSXL64
  hedeleg = 0n
  hideleg = 0n
  hcounteren = 0n
  htimedelta = 0n
  henvcfg = 0n
  htval = 0n
  htinst = 0n
  hgatp = 0n
  hgatpMode = 0
  mtval2 = 0n
  mtinst = 0n
  vsstatus = 2n << 32n
  vsFs = 0
  vstvec = 0n
  vsscratch = 0n
  vsepc = 0n
  vscause = 0n
  vstval = 0n
  vsatp = 0n
  vsatpMode = 0
  vstimecmp = MASK64
  flushes = 0
  vflushes = 0
  xmodes = 0
  constructor(
    readonly hypervisor: boolean,
    readonly sv57 = false,
  ) {}
  recheckIrq(): void {
    this.rechecks++
  }
  mip(): bigint {
    return this.mipSoft
  }
  updateXmode(): void {
    this.xmodes++
  }
  flushTlb(): void {
    this.flushes++
  }
  flushVTlb(): void {
    this.vflushes++
  }
  /** The side-effect counters, reset. */
  effects(): { flushes: number; vflushes: number; xmodes: number; recheck: boolean } {
    const e = { flushes: this.flushes, vflushes: this.vflushes, xmodes: this.xmodes, recheck: this.rechecks > 0 }
    this.flushes = this.vflushes = this.xmodes = 0
    this.rechecks = 0
    return e
  }
}

const CSR_NUMBERS = [...new Set(Object.values(CSR))]
const u64 = fc.bigInt({ min: 0n, max: MASK64 })

describe('csr.ts through a CsrPort', () => {
  it('every CSR write, accepted or not, asks the hart to evaluate the interrupt conditions again (privileged spec 3.1.9)', () => {
    fc.assert(
      fc.property(u64, fc.boolean(), (v, hyp) => {
        for (const n of [...CSR_NUMBERS, 0x5ff, 0x8c0]) {
          const h = new FakePort(hyp)
          csrWrite(h, n, v)
          expect(h.effects().recheck, `CSR ${n.toString(16)}`).toBe(true)
        }
      }),
      { numRuns: 30 },
    )
  })

  it('satp: a supported mode is taken, recomputes xmode and flushes the TLB; an unsupported one changes nothing and flushes nothing (WARL)', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 8, 9, 10, 11, 15), fc.bigInt({ min: 0n, max: (1n << 60n) - 1n }), fc.boolean(), (mode, rest, sv57) => {
        const h = new FakePort(false, sv57)
        const before = (8n << 60n) | 0x1234n
        expect(csrWrite(h, CSR.satp, before)).toBe(true)
        h.effects()
        expect(csrWrite(h, CSR.satp, (BigInt(mode) << 60n) | rest)).toBe(true)
        const e = h.effects()
        if (mode === 0 || mode === 8 || mode === 9 || (mode === 10 && sv57)) {
          expect(h.satpMode).toBe(mode)
          expect(h.satp).toBe(((BigInt(mode) << 60n) | rest) & ((0xfn << 60n) | (0xffffn << 44n) | ((1n << 44n) - 1n)))
          expect([e.flushes, e.xmodes]).toEqual([1, 1])
        } else {
          expect(h.satp).toBe(before)
          expect([e.flushes, e.xmodes]).toEqual([0, 0])
        }
      }),
    )
  })

  it('side effects of writes: status registers recompute xmode, PMP and PBMTE changes flush the TLB, hgatp/vsatp/henvcfg.PBMTE the guest TLB', () => {
    const cases: [string, number, bigint, { flushes: number; vflushes: number; xmodes: number }][] = [
      ['mstatus', CSR.mstatus, MSTATUS.MPRV, { flushes: 0, vflushes: 0, xmodes: 1 }],
      ['sstatus', CSR.sstatus, MSTATUS.SUM, { flushes: 0, vflushes: 0, xmodes: 1 }],
      ['vsstatus', CSR.vsstatus, MSTATUS.MXR, { flushes: 0, vflushes: 0, xmodes: 1 }],
      ['pmpcfg0', CSR.pmpcfg0, 0x1fn, { flushes: 1, vflushes: 0, xmodes: 0 }],
      ['pmpaddr0', CSR.pmpaddr0, 0x2000n, { flushes: 1, vflushes: 0, xmodes: 0 }],
      ['menvcfg.PBMTE', CSR.menvcfg, MENVCFG.PBMTE, { flushes: 1, vflushes: 0, xmodes: 0 }],
      ['menvcfg.FIOM', CSR.menvcfg, MENVCFG.FIOM, { flushes: 0, vflushes: 0, xmodes: 0 }],
      ['henvcfg.PBMTE', CSR.henvcfg, MENVCFG.PBMTE, { flushes: 0, vflushes: 1, xmodes: 0 }],
      ['hgatp', CSR.hgatp, 8n << 60n, { flushes: 0, vflushes: 1, xmodes: 0 }],
      ['vsatp', CSR.vsatp, 8n << 60n, { flushes: 0, vflushes: 1, xmodes: 0 }],
      ['vsatp, mode 1 (ignored)', CSR.vsatp, 1n << 60n, { flushes: 0, vflushes: 0, xmodes: 0 }],
      ['mscratch', CSR.mscratch, 5n, { flushes: 0, vflushes: 0, xmodes: 0 }],
    ]
    for (const [name, n, v, want] of cases) {
      const h = new FakePort(true)
      expect(csrWrite(h, n, v), name).toBe(true)
      const { recheck, ...e } = h.effects()
      expect(e, name).toEqual(want)
      expect(recheck, name).toBe(true)
    }
  })

  it('hgatp: an unsupported mode keeps the current one and the other fields are written (WARL, unlike satp)', () => {
    const h = new FakePort(true)
    csrWrite(h, CSR.hgatp, (8n << 60n) | 0x10n)
    csrWrite(h, CSR.hgatp, (11n << 60n) | (0x5n << 44n) | 0x23n)
    expect(h.hgatpMode).toBe(8)
    expect(h.hgatp).toBe((8n << 60n) | (0x5n << 44n) | 0x20n) // PPN's two low bits read 0 (16 KiB root)
  })

  it('reads and writes agree on which CSRs exist: at M, every CSR that reads and is not read-only by its address takes a write', () => {
    fc.assert(
      fc.property(u64, fc.boolean(), (v, hyp) => {
        for (const n of CSR_NUMBERS) {
          const h = new FakePort(hyp)
          h.fpu.fs = 1 // FP CSRs exist while FS is not Off
          const exists = csrRead(h, n) !== undefined
          const readOnly = n >> 10 === 3 || n === CSR.tinfo
          expect(csrWrite(h, n, v), `CSR ${n.toString(16)}`).toBe(exists && !readOnly)
        }
      }),
      { numRuns: 30 },
    )
  })

  it('V = 1 redirects the S CSRs to their VS counterparts and refuses the H CSRs with a virtual-instruction exception', () => {
    const h = new FakePort(true)
    h.virt = true
    h.privilege = 1
    expect(writeCsrAsCode(h, CSR.sepc, 0x1235n)).toBe(true)
    expect(h.vsepc).toBe(0x1234n) // bit 0 reads 0
    expect(h.sepc).toBe(0n)
    expect(readCsrAsCode(h, CSR.sepc)).toBe(0x1234n)
    expect(readCsrAsCode(h, CSR.hstatus)).toBeUndefined()
    h.x[5] = 7n
    // csrrs x6, hstatus, x5: an H CSR from VS mode is a virtual-instruction exception (§8.6.1).
    let trap: unknown
    try {
      csrOp(h, decode(CSRRS(CSR.hstatus, 5, 6)))
    } catch (e) {
      trap = e
    }
    expect(trap).toBeInstanceOf(Trap)
    expect((trap as Trap).cause).toBe(CAUSE.VIRTUAL_INSTRUCTION)
    expect((trap as Trap).tval).toBe(BigInt(CSRRS(CSR.hstatus, 5, 6)))
    // csrrs x6, sscratch, x5 in VS mode sets bits of vsscratch and reads its old value.
    csrOp(h, decode(CSRRS(CSR.sscratch, 5, 6)))
    expect(h.vsscratch).toBe(7n)
    expect(h.sscratch).toBe(0n)
    expect(h.x[6]).toBe(0n)
  })
})
