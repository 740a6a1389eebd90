/** Model-based test of the HSM state machine (SBI §9): random command sequences against a table model. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EID, HsmState, SBI_ERR_ALREADY_AVAILABLE, SBI_ERR_INVALID_ADDRESS, SBI_ERR_INVALID_PARAM } from '@honk/riscv'
import { Firmware, type SbiOutcome } from './firmware.js'
import { FakePlatform, RAM_BASE, regs } from './firmware.test-helpers.js'

const HARTS = 4
interface Model {
  states: HsmState[]
}
interface Real {
  fw: Firmware
  pf: FakePlatform
}
const ret = (error: number, value = 0): SbiOutcome => ({ kind: 'return', error: BigInt(error), value: BigInt(value) })
const NORETURN: SbiOutcome = { kind: 'noreturn' }
const addr = (valid: boolean): bigint => (valid ? RAM_BASE + 0x200n : 0x40n)

/** A hart can make a call only while it executes: STARTED, or START_PENDING (the machine let it run). */
const executing = (m: Model, h: number): boolean => m.states[h] === HsmState.STARTED || m.states[h] === HsmState.START_PENDING

function check(m: Model, r: Real, out: SbiOutcome, expected: SbiOutcome): void {
  expect(out).toEqual(expected)
  for (let h = 0; h < HARTS; h++) expect(r.fw.hartState(h)).toBe(m.states[h])
}

class Start implements fc.Command<Model, Real> {
  constructor(readonly caller: number, readonly target: number, readonly validAddr: boolean) {}
  check = (m: Readonly<Model>) => executing(m as Model, this.caller)
  run(m: Model, r: Real): void {
    const before = r.pf.calls.length
    const out = r.fw.handleEcall(this.caller, regs(EID.HSM, 0, this.target, addr(this.validAddr), 0x5a))
    m.states[this.caller] = HsmState.STARTED
    let expected: SbiOutcome
    if (this.target >= HARTS) expected = ret(SBI_ERR_INVALID_PARAM)
    else if (m.states[this.target] !== HsmState.STOPPED) expected = ret(SBI_ERR_ALREADY_AVAILABLE)
    else if (!this.validAddr) expected = ret(SBI_ERR_INVALID_ADDRESS)
    else {
      expected = ret(0)
      m.states[this.target] = HsmState.START_PENDING
      expect(r.pf.calls.slice(before)).toEqual([{ fn: 'hartStart', hart: this.target, addr: addr(true), opaque: 0x5an }])
    }
    if (expected.kind === 'return' && expected.error !== 0n) expect(r.pf.calls.length).toBe(before)
    check(m, r, out, expected)
  }
  toString = () => `start(${this.caller}→${this.target}, ${this.validAddr})`
}

class Stop implements fc.Command<Model, Real> {
  constructor(readonly caller: number) {}
  check = (m: Readonly<Model>) => executing(m as Model, this.caller)
  run(m: Model, r: Real): void {
    const out = r.fw.handleEcall(this.caller, regs(EID.HSM, 1))
    m.states[this.caller] = HsmState.STOPPED
    expect(r.pf.calls.at(-1)).toEqual({ fn: 'hartStop', hart: this.caller })
    check(m, r, out, NORETURN)
  }
  toString = () => `stop(${this.caller})`
}

class Status implements fc.Command<Model, Real> {
  constructor(readonly caller: number, readonly target: number) {}
  check = (m: Readonly<Model>) => executing(m as Model, this.caller)
  run(m: Model, r: Real): void {
    const out = r.fw.handleEcall(this.caller, regs(EID.HSM, 2, this.target))
    m.states[this.caller] = HsmState.STARTED
    check(m, r, out, this.target >= HARTS ? ret(SBI_ERR_INVALID_PARAM) : ret(0, m.states[this.target]!))
  }
  toString = () => `status(${this.caller}→${this.target})`
}

class Suspend implements fc.Command<Model, Real> {
  constructor(readonly caller: number, readonly type: number, readonly validAddr: boolean) {}
  check = (m: Readonly<Model>) => executing(m as Model, this.caller)
  run(m: Model, r: Real): void {
    const out = r.fw.handleEcall(this.caller, regs(EID.HSM, 3, this.type, addr(this.validAddr), 1))
    m.states[this.caller] = HsmState.STARTED
    let expected: SbiOutcome
    if (this.type !== 0 && this.type !== 0x8000_0000) expected = ret(SBI_ERR_INVALID_PARAM)
    else if (this.type === 0x8000_0000 && !this.validAddr) expected = ret(SBI_ERR_INVALID_ADDRESS)
    else {
      m.states[this.caller] = HsmState.SUSPENDED
      expected = this.type === 0 ? ret(0) : NORETURN
    }
    check(m, r, out, expected)
  }
  toString = () => `suspend(${this.caller}, 0x${this.type.toString(16)}, ${this.validAddr})`
}

/** The machine reports a hart executing (it reached start_addr, or an interrupt woke it). */
class Running implements fc.Command<Model, Real> {
  constructor(readonly target: number) {}
  check = () => true
  run(m: Model, r: Real): void {
    r.fw.hartRunning(this.target)
    const s = m.states[this.target]
    if (s === HsmState.START_PENDING || s === HsmState.SUSPENDED) m.states[this.target] = HsmState.STARTED
    for (let h = 0; h < HARTS; h++) expect(r.fw.hartState(h)).toBe(m.states[h])
  }
  toString = () => `running(${this.target})`
}

class Reset implements fc.Command<Model, Real> {
  constructor(readonly caller: number, readonly type: number) {}
  check = (m: Readonly<Model>) => executing(m as Model, this.caller)
  run(m: Model, r: Real): void {
    const out = r.fw.handleEcall(this.caller, regs(EID.SRST, 0, this.type, 0))
    m.states = Array.from({ length: HARTS }, (_, h) => (h === 0 ? HsmState.STARTED : HsmState.STOPPED))
    check(m, r, out, NORETURN)
  }
  toString = () => `reset(${this.caller}, ${this.type})`
}

describe('HSM state machine', () => {
  it('property: the firmware follows the model for any sequence of calls', () => {
    const hart = fc.integer({ min: 0, max: HARTS - 1 })
    const target = fc.oneof({ arbitrary: hart, weight: 5 }, { arbitrary: fc.integer({ min: HARTS, max: HARTS + 3 }), weight: 1 })
    const suspendType = fc.constantFrom(0, 0x8000_0000, 1, 0x1000_0000, 0x8000_0001, 0x9000_0000, 0xffff_ffff)
    const commands = fc.commands(
      [
        fc.tuple(hart, target, fc.boolean()).map(([c, t, v]) => new Start(c, t, v)),
        fc.tuple(hart, target).map(([c, t]) => new Start(c, t, true)),
        hart.map((c) => new Stop(c)),
        fc.tuple(hart, target).map(([c, t]) => new Status(c, t)),
        fc.tuple(hart, suspendType, fc.boolean()).map(([c, t, v]) => new Suspend(c, t, v)),
        hart.map((t) => new Running(t)),
        fc.tuple(hart, fc.integer({ min: 0, max: 2 })).map(([c, t]) => new Reset(c, t)),
      ],
      { maxCommands: 60, size: 'medium' },
    )
    fc.assert(
      fc.property(commands, (cmds) => {
        const pf = new FakePlatform(HARTS)
        const model: Model = { states: [HsmState.STARTED, HsmState.STOPPED, HsmState.STOPPED, HsmState.STOPPED] }
        fc.modelRun(() => ({ model, real: { fw: new Firmware(pf), pf } }), cmds)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('a shared HSM state store (FirmwareOptions.hsmStates: one Firmware per hart thread)', () => {
  /** A store as parallel harts keep it: one array both Firmwares see, with a compare-and-set. */
  function store(initial: HsmState[]) {
    const s = [...initial]
    return { s, get: (h: number) => s[h]!, set: (h: number, v: HsmState) => void (s[h] = v), compareAndSet: (h: number, e: HsmState, n: HsmState) => (s[h] === e ? ((s[h] = n), true) : false) }
  }

  it('a start through one Firmware is seen by another: its start of the same hart gets SBI_ERR_ALREADY_AVAILABLE; the constructor leaves the store as given', () => {
    const st = store([HsmState.STARTED, HsmState.STARTED, HsmState.STOPPED, HsmState.STOPPED])
    const a = new Firmware(new FakePlatform(HARTS), { hsmStates: st })
    const b = new Firmware(new FakePlatform(HARTS), { hsmStates: st, startedHarts: [0] })
    expect(st.s).toEqual([HsmState.STARTED, HsmState.STARTED, HsmState.STOPPED, HsmState.STOPPED])
    expect(a.handleEcall(0, regs(EID.HSM, 0, 2, addr(true), 1))).toEqual(ret(0))
    expect(b.handleEcall(1, regs(EID.HSM, 0, 2, addr(true), 2))).toEqual(ret(SBI_ERR_ALREADY_AVAILABLE))
    expect(b.hartState(2)).toBe(HsmState.START_PENDING)
    expect(b.handleEcall(1, regs(EID.HSM, 2, 2))).toEqual(ret(0, HsmState.START_PENDING))
  })

  it('a claim lost between the check and the claim (another thread started the hart meanwhile) answers SBI_ERR_ALREADY_AVAILABLE and starts nothing', () => {
    const st = store([HsmState.STARTED, HsmState.STOPPED])
    // The other thread wins just after this Firmware read STOPPED.
    const racing = { ...st, compareAndSet: (h: number, e: HsmState, n: HsmState) => (st.set(h, HsmState.START_PENDING), st.compareAndSet(h, e, n)) }
    const pf = new FakePlatform(2)
    const fw = new Firmware(pf, { hsmStates: racing })
    expect(fw.handleEcall(0, regs(EID.HSM, 0, 1, addr(true), 0))).toEqual(ret(SBI_ERR_ALREADY_AVAILABLE))
    expect(pf.calls.filter((c) => c.fn === 'hartStart')).toEqual([])
  })
})
