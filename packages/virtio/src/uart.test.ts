import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IrqRecorder } from './harness.test-helpers.js'
import { IER, IIR, LSR, MCR, MSR, Ns16550a, POLLING_READS, UART } from './uart.js'

function uart(options: { backlog?: number } = {}) {
  const irq = new IrqRecorder()
  const out: number[] = []
  const u = new Ns16550a({ irq, transmit: (b) => out.push(b), ...options })
  const r = (o: number) => Number(u.read(o, 1))
  const w = (o: number, v: number) => u.write(o, 1, BigInt(v))
  return { u, irq, out, r, w }
}

/** A reference model of the registers (PC16550D datasheet), kept deliberately plain. */
class Model {
  rx: number[] = []
  out: number[] = []
  ier = 0
  lcr = 0
  mcr = 0
  scr = 0
  dll = 0
  dlm = 0
  fifo = false
  trigger = 1
  thr = false
  delta = 0
  get dlab() {
    return (this.lcr & 0x80) !== 0
  }
  lines() {
    if (!(this.mcr & MCR.LOOP)) return 0xb0
    return ((this.mcr & 2) << 3) | ((this.mcr & 1) << 5) | ((this.mcr & 4) << 4) | ((this.mcr & 8) << 4)
  }
  iir(): number {
    if (this.ier & 1 && this.rx.length > 0) return !this.fifo || Math.min(this.rx.length, 16) >= this.trigger ? 4 : 0xc
    if (this.ier & 2 && this.thr) return 2
    if (this.ier & 8 && this.delta) return 0
    return 1
  }
  clearFifo() {
    this.rx.splice(0, Math.min(this.rx.length, this.fifo ? 16 : 1))
  }
}

type Cmd = fc.Command<Model, ReturnType<typeof uart>>
const cmd = (name: string, run: (m: Model, s: ReturnType<typeof uart>) => void): Cmd => ({
  check: () => true,
  run(m, s) {
    run(m, s)
    expect(s.out).toEqual(m.out)
    expect(s.irq.level, `irq after ${name}`).toBe(m.iir() !== 1)
  },
  toString: () => name,
})

describe('ns16550a', () => {
  it('behaves like the register model (model-based property)', () => {
    const byte = fc.nat(255)
    const commands = [
      fc.uint8Array({ maxLength: 20 }).map((b) => cmd(`push(${b.length})`, (m, s) => (m.rx.push(...b), s.u.push(b)))),
      fc.constant(
        cmd('read RBR', (m, s) => {
          const expected = m.dlab ? m.dll : (m.rx.shift() ?? 0)
          expect(s.r(UART.RBR)).toBe(expected)
        }),
      ),
      byte.map((v) =>
        cmd(`write THR ${v}`, (m, s) => {
          if (m.dlab) m.dll = v
          else {
            if (m.mcr & MCR.LOOP) m.rx.push(v)
            else m.out.push(v)
            m.thr = true
          }
          s.w(UART.THR, v)
        }),
      ),
      byte.map((v) =>
        cmd(`write IER ${v}`, (m, s) => {
          if (m.dlab) m.dlm = v
          else {
            if (v & 2 && !(m.ier & 2)) m.thr = true
            m.ier = v & 0xf
          }
          s.w(UART.IER, v)
        }),
      ),
      fc.constant(cmd('read IER', (m, s) => expect(s.r(UART.IER)).toBe(m.dlab ? m.dlm : m.ier))),
      fc.constant(
        cmd('read IIR', (m, s) => {
          const id = m.iir()
          if (id === 2) m.thr = false
          expect(s.r(UART.IIR)).toBe(id | (m.fifo ? 0xc0 : 0))
        }),
      ),
      byte.map((v) =>
        cmd(`write FCR ${v}`, (m, s) => {
          if (!!(v & 1) !== m.fifo) m.clearFifo()
          m.fifo = (v & 1) !== 0
          if (v & 2) m.clearFifo()
          m.trigger = [1, 4, 8, 14][v >> 6]!
          s.w(UART.FCR, v)
        }),
      ),
      fc.constantFrom(0x03, 0x83, 0x1b, 0xbf).map((v) => cmd(`write LCR ${v}`, (m, s) => ((m.lcr = v), s.w(UART.LCR, v)))),
      fc.constant(cmd('read LCR', (m, s) => expect(s.r(UART.LCR)).toBe(m.lcr))),
      fc.nat(0x1f).map((v) =>
        cmd(`write MCR ${v}`, (m, s) => {
          const before = m.lines()
          m.mcr = v
          const after = m.lines()
          m.delta |= ((before ^ after) & 0xb0) >> 4
          if (before & 0x40 && !(after & 0x40)) m.delta |= 4
          s.w(UART.MCR, v)
        }),
      ),
      fc.constant(cmd('read MCR', (m, s) => expect(s.r(UART.MCR)).toBe(m.mcr))),
      fc.constant(cmd('read LSR', (m, s) => expect(s.r(UART.LSR)).toBe((m.rx.length ? 1 : 0) | 0x60))),
      fc.constant(
        cmd('read MSR', (m, s) => {
          expect(s.r(UART.MSR)).toBe(m.lines() | m.delta)
          m.delta = 0
        }),
      ),
      byte.map((v) => cmd(`write SCR ${v}`, (m, s) => ((m.scr = v), s.w(UART.SCR, v)))),
      fc.constant(cmd('read SCR', (m, s) => expect(s.r(UART.SCR)).toBe(m.scr))),
    ]
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80 }), (cmds) => {
        fc.modelRun(() => ({ model: new Model(), real: uart() }), cmds)
      }),
      { numRuns: 300 },
    )
  })

  it('takes U-Boot / OpenSBI style polled initialization and I/O', () => {
    const { u, r, w, out } = uart()
    w(UART.IER, 0)
    w(UART.MCR, MCR.DTR | MCR.RTS)
    w(UART.FCR, 0x07)
    w(UART.LCR, 0x83)
    w(UART.DLL, 0x36)
    w(UART.DLM, 0x01)
    w(UART.LCR, 0x03)
    expect(u.divisor).toBe(0x136)
    for (const c of 'ok\n') {
      expect(r(UART.LSR) & LSR.THRE).toBe(LSR.THRE)
      w(UART.THR, c.charCodeAt(0))
    }
    expect(String.fromCharCode(...out)).toBe('ok\n')
    expect(r(UART.LSR) & LSR.DR).toBe(0)
    u.push('y')
    expect(r(UART.LSR) & LSR.DR).toBe(LSR.DR)
    expect(r(UART.RBR)).toBe(0x79)
    expect(r(UART.LSR) & LSR.DR).toBe(0)
  })

  it('interrupts like Linux expects: THRE on enabling ETBEI, cleared by reading IIR; RX by trigger level', () => {
    const { u, r, w, irq } = uart()
    w(UART.FCR, 0x81) // FIFO on, trigger 8
    w(UART.IER, IER.ETBEI)
    expect(irq.level).toBe(true)
    expect(r(UART.IIR)).toBe(IIR.FIFO | IIR.THRE)
    expect(irq.level).toBe(false)
    expect(r(UART.IIR)).toBe(IIR.FIFO | IIR.NONE)
    w(UART.THR, 0x41) // sent at once: THR empty again
    expect(irq.level).toBe(true)
    w(UART.IER, IER.ERBFI)
    expect(irq.level).toBe(false)
    u.push('abc')
    expect(r(UART.IIR)).toBe(IIR.FIFO | IIR.TIMEOUT)
    u.push('defgh')
    expect(r(UART.IIR)).toBe(IIR.FIFO | IIR.RDA)
    for (let i = 0; i < 8; i++) r(UART.RBR)
    expect(irq.level).toBe(false)
  })

  it('keeps host input beyond the FIFO without overrun, and drops past the backlog', () => {
    const { u, r } = uart({ backlog: 40 })
    u.push(new Uint8Array(50).map((_, i) => i))
    expect(u.dropped).toBe(10)
    const got: number[] = []
    while (r(UART.LSR) & LSR.DR) got.push(r(UART.RBR))
    expect(got).toEqual([...Array(40).keys()])
    expect(r(UART.LSR) & LSR.OE).toBe(0)
  })

  it('loops back in loopback mode, with MSR following MCR', () => {
    const { r, w, out } = uart()
    w(UART.MCR, MCR.LOOP | MCR.RTS | MCR.OUT2)
    expect(r(UART.MSR) & 0xf0).toBe(MSR.CTS | MSR.DCD)
    w(UART.THR, 0x5a)
    expect(out).toEqual([])
    expect(r(UART.RBR)).toBe(0x5a)
    w(UART.MCR, 0)
    expect(r(UART.MSR)).toBe(MSR.CTS | MSR.DSR | MSR.DCD | MSR.DDSR) // lines back to "all up": only DSR changed
  })

  it('FIFO reset drops at most the 16 bytes that have arrived', () => {
    const { u, r, w } = uart()
    w(UART.FCR, 1)
    u.push(new Uint8Array(20).map((_, i) => i))
    w(UART.FCR, 0x03)
    expect(r(UART.RBR)).toBe(16)
  })

  it('listening: once the receive interrupt is enabled, or LSR is polled without transmitting', () => {
    const { u, r, w } = uart()
    expect(u.listening).toBe(false)
    // A driver sending: one LSR read (THRE) per byte never counts as listening.
    for (let i = 0; i < 100; i++) {
      r(UART.LSR)
      w(UART.THR, 0x41)
    }
    expect(u.listening).toBe(false)
    for (let i = 0; i < POLLING_READS - 1; i++) r(UART.LSR)
    w(UART.FCR, 0x07) // a FIFO reset starts the count again
    for (let i = 0; i < POLLING_READS - 1; i++) r(UART.LSR)
    expect(u.listening).toBe(false)
    r(UART.LSR)
    expect(u.listening).toBe(true)
    const b = uart()
    b.w(UART.IER, IER.ERBFI)
    expect(b.u.listening).toBe(true)
  })

  it('reads 0 outside its 8 registers and ignores a transmit hook that throws', () => {
    const u = new Ns16550a({ transmit: () => { throw new Error('sink gone') } })
    expect(u.read(0x20, 1)).toBe(0n)
    expect(() => u.write(UART.THR, 1, 0x41n)).not.toThrow()
  })
})
