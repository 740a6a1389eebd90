import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  EID,
  HsmState,
  SBI_ERRORS,
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_FAILED,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_IMPL_ID_HONK,
  SBI_IMPL_VERSION,
  SBI_SUCCESS,
} from '@honk/riscv'
import { CAUSE_LOAD_ACCESS, DBCN_CHUNK, Firmware, HANDOFF_CSR as C, MENVCFG_STCE, type SbiOutcome } from './firmware.js'
import { FakeCsrHart, FakeHart, FakePlatform, RAM_BASE, RAM_SIZE, regs } from './firmware.test-helpers.js'

const U64 = (1n << 64n) - 1n
const ok = (value: bigint | number = 0): SbiOutcome => ({ kind: 'return', error: 0n, value: BigInt(value) })
const err = (e: number): SbiOutcome => ({ kind: 'return', error: BigInt(e), value: 0n })
const legacy = (a0: number | bigint): SbiOutcome => ({ kind: 'legacy', a0: BigInt(a0) })
const NORETURN: SbiOutcome = { kind: 'noreturn' }

let pf: FakePlatform
let fw: Firmware
const call = (hart: number, eid: number | bigint, fid: number | bigint, ...args: (number | bigint)[]) => fw.handleEcall(hart, regs(eid, fid, ...args))

beforeEach(() => {
  pf = new FakePlatform(4)
  fw = new Firmware(pf)
})

describe('Firmware construction', () => {
  it('starts the boot hart only, or the ones asked for', () => {
    expect([0, 1, 2, 3].map((h) => fw.hartState(h))).toEqual([HsmState.STARTED, HsmState.STOPPED, HsmState.STOPPED, HsmState.STOPPED])
    const f2 = new Firmware(pf, { startedHarts: [1, 3] })
    expect([0, 1, 2, 3].map((h) => f2.hartState(h))).toEqual([HsmState.STOPPED, HsmState.STARTED, HsmState.STOPPED, HsmState.STARTED])
    expect(() => new Firmware(pf, { startedHarts: [4] })).toThrow(RangeError)
    expect(() => new Firmware(new FakePlatform(0))).toThrow(RangeError)
    expect(() => fw.hartState(4)).toThrow(RangeError)
  })
})

describe('calling convention (§3)', () => {
  it('answers unknown extensions and functions with NOT_SUPPORTED', () => {
    expect(call(0, 0x12345678, 0)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    expect(call(0, EID.PMU, 0)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    expect(call(0, 0x09, 0)).toEqual(err(SBI_ERR_NOT_SUPPORTED)) // reserved legacy range 0x09-0x0F
    expect(call(0, 0x0f, 0)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    expect(call(0, -1, 0)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    for (const eid of [EID.BASE, EID.TIME, EID.IPI, EID.RFENCE, EID.HSM, EID.SRST, EID.DBCN]) {
      expect(call(0, eid, 99)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
      expect(call(0, eid, -1)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    }
    expect(pf.calls).toEqual([])
  })
  it('takes EIDs and FIDs as sign-extended 32-bit values only', () => {
    expect(call(0, (1n << 32n) | 0x10n, 0)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    expect(call(0, EID.BASE, 1n << 32n)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    expect(call(0, EID.BASE, U64 << 32n)).toEqual(err(SBI_ERR_NOT_SUPPORTED)) // -2^32, not a 32-bit value
    expect(call(0, EID.BASE, 0)).toEqual(ok(0x0200_0000))
  })
  it('fails calls from a hart the platform does not have', () => {
    expect(call(4, EID.BASE, 0)).toEqual(err(SBI_ERR_FAILED))
    expect(call(-1, EID.BASE, 0)).toEqual(err(SBI_ERR_FAILED))
    expect(call(0.5, EID.BASE, 0)).toEqual(err(SBI_ERR_FAILED))
  })
  it('ecall(hart) reads a0..a7 and writes a0/a1, negative errors as two’s complement', () => {
    const h = new FakeHart(0)
    h.x[17] = BigInt(EID.BASE)
    h.x[16] = 2n
    h.x[11] = 0xdeadn
    expect(fw.ecall(h)).toEqual(ok(SBI_IMPL_VERSION))
    expect([h.x[10], h.x[11]]).toEqual([0n, BigInt(SBI_IMPL_VERSION)])
    h.x[16] = 77n
    fw.ecall(h)
    expect([h.x[10], h.x[11]]).toEqual([U64 - 1n, 0n]) // -2 NOT_SUPPORTED
    // legacy: a0 only, a1 kept
    h.x[17] = BigInt(EID.LEGACY_CONSOLE_GETCHAR)
    h.x[11] = 0x1234n
    expect(fw.ecall(h)).toEqual(legacy(-1))
    expect([h.x[10], h.x[11]]).toEqual([U64, 0x1234n])
    // noreturn: nothing written
    h.x[17] = BigInt(EID.HSM)
    h.x[16] = 1n
    h.x[10] = 0x55n
    expect(fw.ecall(h)).toEqual(NORETURN)
    expect([h.x[10], h.x[11]]).toEqual([0x55n, 0x1234n])
  })
})

describe('BASE (§4)', () => {
  it('reports version 2.0, the honk implementation and machine ids', () => {
    expect(call(0, EID.BASE, 0)).toEqual(ok(0x0200_0000))
    expect(call(0, EID.BASE, 1)).toEqual(ok(SBI_IMPL_ID_HONK))
    expect(call(0, EID.BASE, 2)).toEqual(ok(SBI_IMPL_VERSION))
    expect([4, 5, 6].map((f) => call(0, EID.BASE, f))).toEqual([ok(0), ok(0), ok(0)])
    fw = new Firmware(pf, { mvendorid: 0x489n, marchid: 0x8000_0000_0000_0007n, mimpid: 3n })
    expect([4, 5, 6].map((f) => call(0, EID.BASE, f))).toEqual([ok(0x489), ok(0x8000_0000_0000_0007n), ok(3)])
  })
  it('probes exactly the implemented extensions', () => {
    const yes = [0, 1, 2, 3, 4, 5, 6, 7, 8, EID.BASE, EID.TIME, EID.IPI, EID.RFENCE, EID.HSM, EID.SRST, EID.DBCN]
    for (const e of yes) expect(call(0, EID.BASE, 3, e)).toEqual(ok(1))
    for (const e of [9, 0x0f, EID.PMU, EID.SUSP, EID.CPPC, EID.NACL, EID.STA, 0x0900_0000, -1, (1n << 32n) | 0x10n]) expect(call(0, EID.BASE, 3, e)).toEqual(ok(0))
  })
})

describe('TIME (§6)', () => {
  it('programs the caller’s timer', () => {
    expect(call(2, EID.TIME, 0, 12345)).toEqual(ok())
    expect(call(2, EID.TIME, 0, U64)).toEqual(ok())
    expect(call(2, EID.TIME, 0, -1)).toEqual(ok()) // signed register view of the same value
    expect(pf.calls).toEqual([
      { fn: 'setTimer', hart: 2, value: 12345n },
      { fn: 'setTimer', hart: 2, value: U64 },
      { fn: 'setTimer', hart: 2, value: U64 },
    ])
  })
})

describe('hand-off to S-mode: what M-mode firmware sets up for the modes below (issue #12 case 13)', () => {
  // The values Debian's OpenSBI 1.1 (fw_jump) leaves on this machine's hart at its mret into
  // S-mode, read from the hart (examples/virt-machine usercheck.system.test.ts compares them live).
  const OPENSBI = { mcounteren: 0xffff_ffffn, scounteren: 0x7n, menvcfg: MENVCFG_STCE, mideleg: 0x222n, medeleg: 0xb109n, fs: 3n }

  it('sets every register a kernel and its user programs rely on, as OpenSBI does', () => {
    const h = new FakeCsrHart(0)
    h.pc = 0x8020_0000
    expect(fw.enterSupervisor(h)).toBe(MENVCFG_STCE)
    expect(h.privilege).toBe(1)
    // U-mode reads cycle, time and instret (CY|TM|IR) until the kernel closes them; without TM the
    // vDSO's rdtime is an illegal instruction (the SIGILL of the issue). S-mode reads every counter.
    expect(h.getCsr(C.scounteren)).toBe(OPENSBI.scounteren)
    expect(h.getCsr(C.mcounteren)).toBe(OPENSBI.mcounteren)
    expect(h.getCsr(C.menvcfg)).toBe(OPENSBI.menvcfg)
    expect(h.getCsr(C.mideleg)).toBe(OPENSBI.mideleg)
    // Every exception OpenSBI delegates, plus those it takes in M-mode only to emulate or to
    // redirect to S (access faults 1/5/7, illegal instruction 2, misaligned load/store 4/6):
    // nothing runs in M-mode here, and the hart needs no emulation (it has the time CSR and
    // does misaligned loads and stores itself).
    expect(h.getCsr(C.medeleg) & OPENSBI.medeleg).toBe(OPENSBI.medeleg)
    expect(h.getCsr(C.medeleg) & ~OPENSBI.medeleg).toBe((1n << 1n) | (1n << 2n) | (1n << 4n) | (1n << 5n) | (1n << 6n) | (1n << 7n))
    expect(h.getCsr(C.medeleg) & (1n << 9n)).toBe(0n) // S ecalls come to the SBI
    const mstatus = h.getCsr(C.mstatus)
    expect((mstatus >> 13n) & 3n).toBe(OPENSBI.fs) // FP on
    expect(mstatus & ((1n << 17n) | (1n << 18n) | (1n << 19n) | (1n << 20n) | (1n << 21n) | (1n << 22n) | (1n << 1n) | (1n << 3n))).toBe(0n) // MPRV SUM MXR TVM TW TSR, SIE MIE off
    expect([C.sie, C.satp, C.sscratch, C.mie].map((c) => h.getCsr(c))).toEqual([0n, 0n, 0n, 0n])
    expect(h.getCsr(C.stvec)).toBe(0x8020_0000n) // as OpenSBI: the entry
    expect(h.getCsr(C.stimecmp)).toBe(U64) // no S timer pending until asked for
  })

  it('a hart with the H extension (misa.H): VS ecalls, guest page faults and virtual instructions go to HS-mode (issue #17: Linux KVM)', () => {
    // OpenSBI delegates causes 20-23 when misa has H and redirects VS ecalls (10) to HS by
    // software; nothing runs in M-mode here, so 10 is delegated too. KVM's guests trap there.
    const MISA = 0x301
    const h = new FakeCsrHart(0)
    h.setCsr(MISA, (2n << 62n) | (1n << 7n) | 0x14_112dn) // rv64 imafdc + h
    fw.enterSupervisor(h)
    expect(h.getCsr(C.medeleg)).toBe(0xb1ffn | (1n << 10n) | (0xfn << 20n))
    expect(h.getCsr(C.medeleg) & (1n << 9n)).toBe(0n) // HS ecalls still come to the SBI
    const noH = new FakeCsrHart(0)
    noH.setCsr(MISA, (2n << 62n) | 0x14_112dn)
    fw.enterSupervisor(noH)
    expect(noH.getCsr(C.medeleg)).toBe(0xb1ffn)
  })

  it('keeps only the menvcfg fields the hart implements (WARL), and tells which', () => {
    expect(fw.enterSupervisor(new FakeCsrHart(0, 0n))).toBe(0n)
    expect(fw.enterSupervisor(new FakeCsrHart(0, U64))).toBe(MENVCFG_STCE | (1n << 62n) | 0xf0n) // STCE PBMTE CBZE CBCFE CBIE=11 (as OpenSBI), never FIOM
    expect(new Firmware(pf, { sstc: false }).enterSupervisor(new FakeCsrHart(0, U64))).toBe((1n << 62n) | 0xf0n)
  })

  it('SBI set_timer writes the hart’s stimecmp under Sstc, as OpenSBI; the platform timer otherwise', () => {
    const sstc = new FakeCsrHart(1)
    const none = new FakeCsrHart(2, 0n)
    fw.enterSupervisor(sstc)
    fw.enterSupervisor(none)
    sstc.x[17] = BigInt(EID.TIME)
    sstc.x[10] = 12345n
    expect(fw.ecall(sstc)).toEqual(ok())
    expect(sstc.getCsr(C.stimecmp)).toBe(12345n)
    sstc.x[17] = BigInt(EID.LEGACY_SET_TIMER)
    sstc.x[10] = 777n
    expect(fw.ecall(sstc)).toEqual(legacy(0))
    expect(sstc.getCsr(C.stimecmp)).toBe(777n)
    expect(pf.calls).toEqual([])
    expect(call(2, EID.TIME, 0, 99)).toEqual(ok())
    expect(call(0, EID.TIME, 0, 98)).toEqual(ok()) // hart 0 was never handed off by this firmware
    expect(pf.calls).toEqual([{ fn: 'setTimer', hart: 2, value: 99n }, { fn: 'setTimer', hart: 0, value: 98n }])
    // Opting out of Sstc: every timer through the platform.
    const f2 = new Firmware(pf, { sstc: false })
    const h = new FakeCsrHart(3)
    f2.enterSupervisor(h)
    expect(f2.handleEcall(3, regs(EID.TIME, 0, 5))).toEqual(ok())
    expect(h.getCsr(C.stimecmp)).toBe(0n)
    expect(pf.calls.at(-1)).toEqual({ fn: 'setTimer', hart: 3, value: 5n })
  })

  it('property: whatever the hart held before and whichever menvcfg fields it implements, the hand-off is the same and set_timer follows the STCE it kept', () => {
    const csrs = Object.values(C)
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...csrs), fc.bigInt({ min: 0n, max: U64 })), { maxLength: 20 }),
        fc.bigInt({ min: 0n, max: U64 }),
        fc.boolean(),
        fc.bigInt({ min: 0n, max: U64 }),
        (before, keeps, sstc, deadline) => {
          const p = new FakePlatform(1)
          const f = new Firmware(p, { sstc })
          const h = new FakeCsrHart(0, keeps)
          for (const [n, v] of before) h.setCsr(n, v)
          h.privilege = 3
          const kept = f.enterSupervisor(h)
          expect(kept).toBe(h.getCsr(C.menvcfg))
          expect(kept & ~(MENVCFG_STCE | (1n << 62n) | 0xf0n)).toBe(0n) // nothing beyond what was asked (no FIOM)
          expect([C.scounteren, C.mcounteren, C.medeleg, C.mideleg, C.mie, C.sie, C.satp, C.sscratch].map((c) => h.getCsr(c))).toEqual([0x7n, 0xffff_ffffn, 0xb1ffn, 0x222n, 0n, 0n, 0n, 0n])
          expect([h.privilege, h.getCsr(C.stvec)]).toEqual([1, BigInt(h.pc)])
          h.x[17] = BigInt(EID.TIME)
          h.x[16] = 0n
          h.x[10] = deadline
          expect(f.ecall(h)).toEqual(ok())
          const viaStimecmp = sstc && (keeps & MENVCFG_STCE) !== 0n
          expect(p.calls).toEqual(viaStimecmp ? [] : [{ fn: 'setTimer', hart: 0, value: deadline }])
          if (viaStimecmp) expect(h.getCsr(C.stimecmp)).toBe(deadline)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('a hart started again (HSM) is handed off afresh: its old timer is gone', () => {
    const h = new FakeCsrHart(1)
    fw.enterSupervisor(h)
    expect(fw.handleEcall(1, regs(EID.TIME, 0, 50))).toEqual(ok())
    h.setCsr(C.scounteren, 0n) // what the previous kernel left
    h.pc = 0x8030_0000
    fw.enterSupervisor(h)
    expect(h.getCsr(C.stimecmp)).toBe(U64)
    expect(h.getCsr(C.scounteren)).toBe(0x7n)
    expect(h.getCsr(C.stvec)).toBe(0x8030_0000n)
  })
})

describe('IPI (§7) and hart masks (§3.1)', () => {
  it('maps mask bits from the base', () => {
    expect(call(0, EID.IPI, 0, 0b101, 0)).toEqual(ok())
    expect(call(0, EID.IPI, 0, 0b11, 2)).toEqual(ok())
    expect(call(0, EID.IPI, 0, 0, 3)).toEqual(ok())
    expect(call(0, EID.IPI, 0, 0xdead, -1)).toEqual(ok()) // base -1: every hart, mask ignored
    expect(call(0, EID.IPI, 0, 0, U64)).toEqual(ok())
    expect(pf.calls).toEqual([
      { fn: 'sendIpi', harts: [0, 2] },
      { fn: 'sendIpi', harts: [2, 3] },
      { fn: 'sendIpi', harts: [] },
      { fn: 'sendIpi', harts: [0, 1, 2, 3] },
      { fn: 'sendIpi', harts: [0, 1, 2, 3] },
    ])
  })
  it('rejects masks naming harts that do not exist, sending nothing', () => {
    expect(call(0, EID.IPI, 0, 0b10000, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.IPI, 0, 0b11, 3)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.IPI, 0, 1, 4)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.IPI, 0, 0, 4)).toEqual(err(SBI_ERR_INVALID_PARAM)) // the base itself is invalid
    expect(call(0, EID.IPI, 0, 1n << 63n, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.IPI, 0, 1, U64 - 1n)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(pf.calls).toEqual([])
  })
})

describe('RFENCE (§8)', () => {
  it('forwards fence.i and sfence.vma with ranges and ASIDs', () => {
    expect(call(1, EID.RFENCE, 0, 0b11, 0)).toEqual(ok())
    expect(call(1, EID.RFENCE, 1, 0b1, 1, 0x4000, 0x2000)).toEqual(ok())
    expect(call(1, EID.RFENCE, 1, 0, -1, 0, 0)).toEqual(ok())
    expect(call(1, EID.RFENCE, 1, 1, 0, 0x1000, U64)).toEqual(ok())
    expect(call(1, EID.RFENCE, 2, 1, 3, 0x1000, 0x1000, 42)).toEqual(ok())
    expect(call(1, EID.RFENCE, 1, 1, 0, U64 - 0xfffn, 0x1000)).toEqual(ok()) // ends exactly at 2^64
    expect(pf.calls).toEqual([
      { fn: 'remoteFenceI', harts: [0, 1] },
      { fn: 'remoteSfenceVma', harts: [1], range: { start: 0x4000n, size: 0x2000n } },
      { fn: 'remoteSfenceVma', harts: [0, 1, 2, 3], range: null },
      { fn: 'remoteSfenceVma', harts: [0], range: null },
      { fn: 'remoteSfenceVma', harts: [3], range: { start: 0x1000n, size: 0x1000n }, asid: 42n },
      { fn: 'remoteSfenceVma', harts: [0], range: { start: U64 - 0xfffn, size: 0x1000n } },
    ])
  })
  it('rejects bad masks and wrapping ranges; no hypervisor fences', () => {
    expect(call(0, EID.RFENCE, 0, 1, 9)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.RFENCE, 2, 0b100000, 0, 0, 0, 1)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.RFENCE, 1, 1, 0, U64, 2)).toEqual(err(SBI_ERR_INVALID_ADDRESS))
    expect(call(0, EID.RFENCE, 2, 1, 0, 0x8000n << 48n, 0x8001n << 48n, 1)).toEqual(err(SBI_ERR_INVALID_ADDRESS))
    for (const fid of [3, 4, 5, 6, 7]) expect(call(0, EID.RFENCE, fid, 1, 0, 0, 0, 0)).toEqual(err(SBI_ERR_NOT_SUPPORTED))
    expect(pf.calls).toEqual([])
  })
})

describe('HSM (§9)', () => {
  it('starts a stopped hart (START_PENDING until it runs), and refuses to start it twice', () => {
    expect(call(0, EID.HSM, 0, 1, RAM_BASE, 0xabc)).toEqual(ok())
    expect(pf.calls).toEqual([{ fn: 'hartStart', hart: 1, addr: RAM_BASE, opaque: 0xabcn }])
    expect(call(0, EID.HSM, 2, 1)).toEqual(ok(HsmState.START_PENDING))
    expect(call(0, EID.HSM, 0, 1, RAM_BASE, 0)).toEqual(err(SBI_ERR_ALREADY_AVAILABLE))
    fw.hartRunning(1)
    expect(call(0, EID.HSM, 2, 1)).toEqual(ok(HsmState.STARTED))
    expect(call(0, EID.HSM, 0, 1, RAM_BASE, 0)).toEqual(err(SBI_ERR_ALREADY_AVAILABLE))
    expect(call(0, EID.HSM, 0, 0, RAM_BASE, 0)).toEqual(err(SBI_ERR_ALREADY_AVAILABLE))
    expect(pf.calls).toHaveLength(1)
  })
  it('an SBI call from a START_PENDING hart shows it runs', () => {
    call(0, EID.HSM, 0, 2, RAM_BASE, 0)
    expect(fw.hartState(2)).toBe(HsmState.START_PENDING)
    call(2, EID.BASE, 0)
    expect(fw.hartState(2)).toBe(HsmState.STARTED)
  })
  it('validates the target hart and the start address', () => {
    expect(call(0, EID.HSM, 0, 4, RAM_BASE, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.HSM, 0, -1, RAM_BASE, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.HSM, 0, 1, 0x1000, 0)).toEqual(err(SBI_ERR_INVALID_ADDRESS))
    expect(call(0, EID.HSM, 0, 1, RAM_BASE + BigInt(RAM_SIZE) - 1n, 0)).toEqual(err(SBI_ERR_INVALID_ADDRESS))
    expect(call(0, EID.HSM, 2, 4)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.HSM, 2, 1n << 63n)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(fw.hartState(1)).toBe(HsmState.STOPPED)
    expect(pf.calls).toEqual([])
  })
  it('stops the calling hart without returning; it can be started again', () => {
    call(0, EID.HSM, 0, 1, RAM_BASE, 0)
    fw.hartRunning(1)
    expect(call(1, EID.HSM, 1)).toEqual(NORETURN)
    expect(fw.hartState(1)).toBe(HsmState.STOPPED)
    expect(pf.calls.at(-1)).toEqual({ fn: 'hartStop', hart: 1 })
    expect(call(0, EID.HSM, 0, 1, RAM_BASE + 4n, 9)).toEqual(ok())
  })
  it('reports STOP_PENDING while the platform stops the hart, and start fails then', () => {
    let seen: SbiOutcome[] = []
    pf.onHartStop = (h) => {
      seen = [call(0, EID.HSM, 2, h), call(0, EID.HSM, 0, h, RAM_BASE, 0)]
    }
    call(0, EID.HSM, 0, 3, RAM_BASE, 0)
    call(3, EID.HSM, 1)
    expect(seen).toEqual([ok(HsmState.STOP_PENDING), err(SBI_ERR_FAILED)])
  })
  it('suspends retentively (returns SUCCESS) and non-retentively (jumps to resume_addr)', () => {
    expect(call(0, EID.HSM, 3, 0, 0, 0)).toEqual(ok())
    expect(fw.hartState(0)).toBe(HsmState.SUSPENDED)
    expect(pf.calls.at(-1)).toEqual({ fn: 'hartSuspend', hart: 0, request: { type: 0, retentive: true, resumeAddr: 0n, opaque: 0n } })
    fw.hartRunning(0)
    expect(fw.hartState(0)).toBe(HsmState.STARTED)
    expect(call(0, EID.HSM, 3, 0x8000_0000, RAM_BASE + 0x100n, 77)).toEqual(NORETURN)
    expect(pf.calls.at(-1)).toEqual({ fn: 'hartSuspend', hart: 0, request: { type: 0x8000_0000, retentive: false, resumeAddr: RAM_BASE + 0x100n, opaque: 77n } })
    expect(call(1, EID.HSM, 2, 0)).toEqual(ok(HsmState.SUSPENDED))
    expect(call(0, EID.HSM, 2, 0)).toEqual(ok(HsmState.STARTED)) // it woke and called
    // suspend_type is 32 bits: the upper register half is ignored
    expect(call(0, EID.HSM, 3, 0xffff_ffffn << 32n, 0, 0)).toEqual(ok())
  })
  it('rejects reserved and unimplemented suspend types and bad resume addresses', () => {
    for (const t of [1, 0x0fff_ffff, 0x1000_0000, 0x7fff_ffff, 0x8000_0001, 0x8fff_ffff, 0x9000_0000, 0xffff_ffff])
      expect(call(0, EID.HSM, 3, t, RAM_BASE, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.HSM, 3, 0x8000_0000, 0x10, 0)).toEqual(err(SBI_ERR_INVALID_ADDRESS))
    expect(fw.hartState(0)).toBe(HsmState.STARTED)
    expect(pf.calls).toEqual([])
  })
})

describe('SRST (§10)', () => {
  it('resets with valid types and reasons, without returning, and resets HSM states', () => {
    call(0, EID.HSM, 0, 1, RAM_BASE, 0)
    for (const [type, reason] of [[0, 0], [1, 1], [2, 0]] as const) {
      expect(call(0, EID.SRST, 0, type, reason)).toEqual(NORETURN)
      expect(pf.calls.at(-1)).toEqual({ fn: 'systemReset', type, reason })
    }
    expect(fw.hartState(1)).toBe(HsmState.STOPPED)
    expect(call(0, EID.SRST, 0, (7n << 32n) | 1n, (7n << 32n) | 0n)).toEqual(NORETURN) // 32-bit parameters
    expect(pf.calls.at(-1)).toEqual({ fn: 'systemReset', type: 1, reason: 0 })
  })
  it('rejects reserved and vendor types and reasons', () => {
    const n = pf.calls.length
    for (const [type, reason] of [[3, 0], [0xefff_ffff, 0], [0xf000_0000, 0], [0xffff_ffff, 0], [0, 2], [0, 0xdfff_ffff], [0, 0xe000_0000], [1, 0xf000_0000]])
      expect(call(0, EID.SRST, 0, type!, reason!)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(pf.calls.length).toBe(n)
  })
  it('legacy shutdown is a shutdown', () => {
    expect(call(0, EID.LEGACY_SHUTDOWN, 0)).toEqual(NORETURN)
    expect(pf.calls).toEqual([{ fn: 'systemReset', type: 0, reason: 0 }])
  })
})

describe('DBCN (§12)', () => {
  const text = (s: string, at = 0x100) => {
    pf.ram.set(Buffer.from(s), at)
    return RAM_BASE + BigInt(at)
  }
  it('writes bytes from guest memory', () => {
    const addr = text('hello')
    expect(call(0, EID.DBCN, 0, 5, addr, 0)).toEqual(ok(5))
    expect(Buffer.from(pf.out).toString()).toBe('hello')
    expect(call(0, EID.DBCN, 0, 0, 0, 0)).toEqual(ok(0)) // nothing to write, whatever the address
  })
  it('writes at most DBCN_CHUNK bytes per call (a partial write)', () => {
    expect(call(0, EID.DBCN, 0, 10_000, RAM_BASE, 0)).toEqual(ok(DBCN_CHUNK))
    expect(pf.out).toHaveLength(DBCN_CHUNK)
  })
  it('uses a bulk consoleWrite when the platform has one, clamping its answer', () => {
    let accept = 2
    const p = Object.assign(pf, { consoleWrite: (b: Uint8Array) => (pf.out.push(...b.subarray(0, 2)), accept) })
    fw = new Firmware(p)
    const addr = text('abcdef')
    expect(call(0, EID.DBCN, 0, 6, addr, 0)).toEqual(ok(2))
    accept = 99
    expect(call(0, EID.DBCN, 0, 6, addr, 0)).toEqual(ok(6))
    accept = -5
    expect(call(0, EID.DBCN, 0, 6, addr, 0)).toEqual(ok(0))
  })
  it('rejects memory S-mode cannot access with INVALID_PARAM', () => {
    expect(call(0, EID.DBCN, 0, 4, 0x1000, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.DBCN, 0, 4, RAM_BASE, 1)).toEqual(err(SBI_ERR_INVALID_PARAM)) // above 2^64
    expect(call(0, EID.DBCN, 0, 2, RAM_BASE + BigInt(RAM_SIZE) - 1n, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.DBCN, 0, U64, RAM_BASE, 0)).toEqual(err(SBI_ERR_INVALID_PARAM)) // wraps
    expect(call(0, EID.DBCN, 1, 1, U64, 0)).toEqual(err(SBI_ERR_INVALID_PARAM))
    expect(pf.out).toEqual([])
  })
  it('reads what is waiting into guest memory, never blocking', () => {
    pf.input = [...Buffer.from('xyz')]
    expect(call(0, EID.DBCN, 1, 2, RAM_BASE + 0x10n, 0)).toEqual(ok(2))
    expect(Buffer.from(pf.ram.subarray(0x10, 0x13)).toString('latin1')).toBe('xy\0')
    expect(call(0, EID.DBCN, 1, 8, RAM_BASE + 0x20n, 0)).toEqual(ok(1))
    expect(pf.ram[0x20]).toBe(0x7a)
    expect(call(0, EID.DBCN, 1, 8, RAM_BASE + 0x20n, 0)).toEqual(ok(0))
    expect(call(0, EID.DBCN, 1, 0, 0, 0)).toEqual(ok(0))
  })
  it('writes one byte (the low 8 bits of a0)', () => {
    expect(call(0, EID.DBCN, 2, 0x141)).toEqual(ok())
    expect(pf.out).toEqual([0x41])
  })
})

describe('legacy extensions (§5)', () => {
  it('set_timer, putchar, getchar, clear_ipi', () => {
    expect(call(1, EID.LEGACY_SET_TIMER, 99, 500)).toEqual(legacy(0)) // a6 ignored
    expect(call(0, EID.LEGACY_CONSOLE_PUTCHAR, 0, 0x20a)).toEqual(legacy(0))
    expect(pf.out).toEqual([0x0a])
    expect(call(0, EID.LEGACY_CONSOLE_GETCHAR, 0)).toEqual(legacy(-1))
    pf.input = [0xff]
    expect(call(0, EID.LEGACY_CONSOLE_GETCHAR, 0)).toEqual(legacy(0xff))
    expect(call(2, EID.LEGACY_CLEAR_IPI, 0)).toEqual(legacy(0))
    call(0, EID.IPI, 0, 0b100, 0)
    expect(call(2, EID.LEGACY_CLEAR_IPI, 0)).toEqual(legacy(1))
    expect(pf.calls[0]).toEqual({ fn: 'setTimer', hart: 1, value: 500n })
  })
  it('hart masks: null is every hart, otherwise a bit-vector in memory', () => {
    new DataView(pf.ram.buffer).setBigUint64(0x40, 0b1010n, true)
    expect(call(0, EID.LEGACY_SEND_IPI, 0, 0)).toEqual(legacy(0))
    expect(call(0, EID.LEGACY_SEND_IPI, 0, RAM_BASE + 0x40n)).toEqual(legacy(0))
    expect(call(0, EID.LEGACY_REMOTE_FENCE_I, 0, RAM_BASE + 0x40n)).toEqual(legacy(0))
    expect(call(0, EID.LEGACY_REMOTE_SFENCE_VMA, 0, RAM_BASE + 0x40n, 0x1000, 0x1000)).toEqual(legacy(0))
    expect(call(0, EID.LEGACY_REMOTE_SFENCE_VMA_ASID, 0, 0, 0, 0, 5)).toEqual(legacy(0))
    expect(pf.calls).toEqual([
      { fn: 'sendIpi', harts: [0, 1, 2, 3] },
      { fn: 'sendIpi', harts: [1, 3] },
      { fn: 'remoteFenceI', harts: [1, 3] },
      { fn: 'remoteSfenceVma', harts: [1, 3], range: { start: 0x1000n, size: 0x1000n } },
      { fn: 'remoteSfenceVma', harts: [0, 1, 2, 3], range: null, asid: 5n },
    ])
  })
  it('bad masks and ranges give negative errors; unreadable masks trap back to S-mode', () => {
    new DataView(pf.ram.buffer).setBigUint64(0x40, 0b10000n, true)
    expect(call(0, EID.LEGACY_SEND_IPI, 0, RAM_BASE + 0x40n)).toEqual(legacy(SBI_ERR_INVALID_PARAM))
    expect(call(0, EID.LEGACY_REMOTE_SFENCE_VMA, 0, 0, U64, 5)).toEqual(legacy(SBI_ERR_INVALID_ADDRESS))
    expect(call(0, EID.LEGACY_SEND_IPI, 0, 0x2000)).toEqual({ kind: 'trap', cause: CAUSE_LOAD_ACCESS, tval: 0x2000n })
    expect(call(0, EID.LEGACY_SEND_IPI, 0, U64 - 3n)).toEqual({ kind: 'trap', cause: CAUSE_LOAD_ACCESS, tval: U64 - 3n })
    expect(pf.calls).toEqual([])
  })
  it('reads hart masks through the platform’s translation when it has one', () => {
    const reads: bigint[] = []
    const p = Object.assign(pf, {
      readVirtualU64: (_h: number, va: bigint): bigint | { cause: number } => (reads.push(va), va === 0xffff_0000n ? 0b110n : { cause: 13 }),
    })
    fw = new Firmware(p)
    expect(call(0, EID.LEGACY_REMOTE_FENCE_I, 0, 0xffff_0000n)).toEqual(legacy(0))
    expect(call(0, EID.LEGACY_SEND_IPI, 0, 0xdead_0000n)).toEqual({ kind: 'trap', cause: 13, tval: 0xdead_0000n })
    expect(reads).toEqual([0xffff_0000n, 0xdead_0000n])
    expect(pf.calls).toEqual([{ fn: 'remoteFenceI', harts: [1, 2] }])
  })
  it('reads ceil(harts/64) words for more than 64 harts', () => {
    pf = new FakePlatform(70)
    fw = new Firmware(pf)
    const dv = new DataView(pf.ram.buffer)
    dv.setBigUint64(0, 1n << 63n, true)
    dv.setBigUint64(8, 0b100001n, true)
    expect(call(0, EID.LEGACY_SEND_IPI, 0, RAM_BASE)).toEqual(legacy(0))
    expect(pf.calls).toEqual([{ fn: 'sendIpi', harts: [63, 64, 69] }])
    dv.setBigUint64(8, 0b1000000n, true) // hart 70 does not exist
    expect(call(0, EID.LEGACY_SEND_IPI, 0, RAM_BASE)).toEqual(legacy(SBI_ERR_INVALID_PARAM))
  })
})

describe('properties', () => {
  const interestingEid = fc.oneof(
    fc.constantFrom<number | bigint>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, EID.BASE, EID.TIME, EID.IPI, EID.RFENCE, EID.HSM, EID.SRST, EID.DBCN, EID.PMU, -1),
    fc.bigInt({ min: 0n, max: U64 }),
    fc.integer(),
  )
  const reg = fc.oneof(fc.bigInt({ min: 0n, max: U64 }), fc.bigInt({ min: -(1n << 63n), max: 0n }), fc.integer({ min: -8, max: 16 }).map(BigInt), fc.constant(RAM_BASE))

  it('any (eid, fid, args) from any hart: never throws, always a defined outcome', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), interestingEid, fc.oneof(fc.integer({ min: -1, max: 8 }), fc.bigInt({ min: 0n, max: U64 })), fc.array(reg, { minLength: 6, maxLength: 6 }), (hart, eid, fid, args) => {
        pf.input = [1, 2, 3]
        const out = call(hart, eid, fid, ...args)
        if (out.kind === 'return') {
          expect(SBI_ERRORS).toContain(Number(out.error))
          expect(out.value >= -(1n << 63n) && out.value <= U64).toBe(true)
        } else if (out.kind === 'legacy') expect(out.a0 >= -(1n << 63n) && out.a0 <= U64).toBe(true)
        else if (out.kind === 'trap') expect(out.cause).toBe(CAUSE_LOAD_ACCESS)
        else expect(out.kind).toBe('noreturn')
        for (const h of [0, 1, 2, 3]) expect(Object.values(HsmState)).toContain(fw.hartState(h))
      }),
      { numRuns: 5000 },
    )
  })
})
