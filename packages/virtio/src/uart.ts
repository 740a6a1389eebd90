/**
 * The ns16550a UART of QEMU's virt board (reg-shift 0, 1-byte registers): what Linux's 8250
 * driver, U-Boot's ns16550 and OpenSBI's uart8250 touch. Register semantics from the
 * PC16550D datasheet (TI/National, "PC16550D UART with FIFOs").
 */
import type { AccessSize, MmioDevice } from '@honk/riscv'
import type { IrqLine } from './memory.js'

/** Register offsets (DLAB = LCR bit 7 selects DLL/DLM at 0/1). */
export const UART = { RBR: 0, THR: 0, DLL: 0, IER: 1, DLM: 1, IIR: 2, FCR: 2, LCR: 3, MCR: 4, LSR: 5, MSR: 6, SCR: 7 } as const
export const LSR = { DR: 0x01, OE: 0x02, PE: 0x04, FE: 0x08, BI: 0x10, THRE: 0x20, TEMT: 0x40, FIFOERR: 0x80 } as const
export const IER = { ERBFI: 0x01, ETBEI: 0x02, ELSI: 0x04, EDSSI: 0x08 } as const
export const IIR = { NONE: 0x01, MODEM: 0x00, THRE: 0x02, RDA: 0x04, RLS: 0x06, TIMEOUT: 0x0c, FIFO: 0xc0 } as const
export const MCR = { DTR: 0x01, RTS: 0x02, OUT1: 0x04, OUT2: 0x08, LOOP: 0x10 } as const
export const MSR = { DCTS: 0x01, DDSR: 0x02, TERI: 0x04, DDCD: 0x08, CTS: 0x10, DSR: 0x20, RI: 0x40, DCD: 0x80 } as const

/** Hardware receive FIFO depth of a 16550A. */
export const UART_FIFO_DEPTH = 16
const TRIGGER = [1, 4, 8, 14] as const
/** LSR reads without a transmit in between that make a guest count as polling for input. */
export const POLLING_READS = 32

export interface Ns16550aOptions {
  /** Interrupt line (IRQ 10 on virt). */
  readonly irq?: IrqLine
  /** Every transmitted byte (not called in loopback mode). */
  readonly transmit?: (byte: number) => void
  /** Bytes held for the guest beyond the 16-byte FIFO (host-side flow control); default 1 MiB. */
  readonly backlog?: number
}

/**
 * A 16550A. Transmission is instant: THR is always empty again after a write, so LSR reads
 * THRE|TEMT and the THR-empty interrupt re-arms at once. Receive: `push()` queues host bytes;
 * up to 16 (1 with the FIFO off) are in the receive FIFO, the rest wait outside like bytes
 * still on the wire, so nothing overruns. The RX interrupt is "data available" once the
 * trigger level is reached and "character timeout" below it (without waiting 4 character
 * times — drivers treat both alike). OUT2 does not gate the interrupt (as on QEMU's virt).
 */
export class Ns16550a implements MmioDevice {
  readonly name = 'ns16550a'
  readonly size = 0x100
  /** Host bytes dropped because the backlog was full. */
  dropped = 0
  private readonly rx: number[] = []
  private rxHead = 0
  private ier = 0
  private lcr = 0
  private mcr = 0
  private scr = 0
  private dll = 0
  private dlm = 0
  private fifoEnabled = false
  private trigger = 1
  private lsrErrors = 0
  private msrDelta = 0
  private thrIpending = false
  private irqLevel = false
  /** LSR reads since the last THR write or FCR write (see `listening`). */
  private lsrPolls = 0
  private readonly irq: IrqLine | undefined
  private readonly transmit: ((byte: number) => void) | undefined
  private readonly maxBacklog: number

  constructor(options: Ns16550aOptions = {}) {
    this.irq = options.irq
    this.transmit = options.transmit
    this.maxBacklog = options.backlog ?? 1 << 20
  }

  /** Host input: bytes the guest will read from RBR. */
  push(bytes: Uint8Array | string): void {
    const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes
    for (const b of data) {
      if (this.rxCount >= this.maxBacklog) this.dropped++
      else this.rx.push(b)
    }
    this.updateIrq()
  }

  /** Bytes waiting for the guest (FIFO and backlog). */
  get rxCount(): number {
    return this.rx.length - this.rxHead
  }

  /** The divisor latch (DLM:DLL), as the guest programmed it. */
  get divisor(): number {
    return (this.dlm << 8) | this.dll
  }

  /**
   * Whether the guest is listening for input: its receive interrupt is enabled, or it has read
   * LSR {@link POLLING_READS} times since it last transmitted or reset the FIFOs (a polling
   * driver's `tstc` loop; a driver waiting for THRE reads LSR once per byte it sends). A host
   * that holds input until then loses none of it to the FIFO resets of a booting firmware.
   */
  get listening(): boolean {
    return (this.ier & IER.ERBFI) !== 0 || this.lsrPolls >= POLLING_READS
  }

  /** True while the interrupt line is asserted. */
  get irqAsserted(): boolean {
    return this.irqLevel
  }

  read(offset: number, _size: AccessSize): bigint {
    const v = this.readReg(offset)
    this.updateIrq()
    return BigInt(v)
  }

  write(offset: number, _size: AccessSize, value: bigint): void {
    this.writeReg(offset, Number(value & 0xffn))
    this.updateIrq()
  }

  private get dlab(): boolean {
    return (this.lcr & 0x80) !== 0
  }

  /** Bytes in the hardware FIFO (the rest of the queue is still "on the wire"). */
  private get fifoCount(): number {
    return Math.min(this.rxCount, this.fifoEnabled ? UART_FIFO_DEPTH : 1)
  }

  private readReg(offset: number): number {
    switch (offset) {
      case UART.RBR: {
        if (this.dlab) return this.dll
        if (this.rxCount === 0) return 0
        const b = this.rx[this.rxHead++]!
        if (this.rxHead > 4096 && this.rxHead * 2 > this.rx.length) {
          this.rx.splice(0, this.rxHead)
          this.rxHead = 0
        }
        return b
      }
      case UART.IER:
        return this.dlab ? this.dlm : this.ier
      case UART.IIR: {
        const id = this.pendingInterrupt()
        // Reading IIR while it reports THRE clears that interrupt (datasheet table 5).
        if (id === IIR.THRE) this.thrIpending = false
        return id | (this.fifoEnabled ? IIR.FIFO : 0)
      }
      case UART.LCR:
        return this.lcr
      case UART.MCR:
        return this.mcr
      case UART.LSR: {
        this.lsrPolls++
        const v = (this.rxCount > 0 ? LSR.DR : 0) | LSR.THRE | LSR.TEMT | this.lsrErrors
        this.lsrErrors = 0 // OE/PE/FE/BI clear on read
        return v
      }
      case UART.MSR: {
        const v = this.modemLines() | this.msrDelta
        this.msrDelta = 0
        return v
      }
      case UART.SCR:
        return this.scr
      default:
        return 0
    }
  }

  private writeReg(offset: number, v: number): void {
    switch (offset) {
      case UART.THR:
        if (this.dlab) {
          this.dll = v
          return
        }
        this.lsrPolls = 0
        if (this.mcr & MCR.LOOP) {
          if (this.rxCount < this.maxBacklog) this.rx.push(v)
          else this.dropped++
        } else {
          try {
            this.transmit?.(v)
          } catch {
            // the host's sink failing is not the guest's problem
          }
        }
        this.thrIpending = true // sent at once: THR is empty again
        return
      case UART.IER: {
        if (this.dlab) {
          this.dlm = v
          return
        }
        const before = this.ier
        this.ier = v & 0x0f
        // Enabling ETBEI while THR is empty raises the THRE interrupt.
        if (this.ier & IER.ETBEI && !(before & IER.ETBEI)) this.thrIpending = true
        return
      }
      case UART.FCR: {
        this.lsrPolls = 0
        const enable = (v & 1) !== 0
        if (enable !== this.fifoEnabled) this.clearRxFifo() // changing FIFO mode resets the FIFOs
        this.fifoEnabled = enable
        if (v & 0x02) this.clearRxFifo()
        this.trigger = TRIGGER[(v >> 6) & 3]!
        return
      }
      case UART.LCR:
        this.lcr = v
        return
      case UART.MCR: {
        const before = this.modemLines()
        this.mcr = v & 0x1f
        const after = this.modemLines()
        // Delta bits: CTS/DSR/DCD changed; TERI = RI went from on to off.
        const changed = before ^ after
        this.msrDelta |= ((changed & MSR.CTS) >> 4) | ((changed & MSR.DSR) >> 4) | ((changed & MSR.DCD) >> 4)
        if (before & MSR.RI && !(after & MSR.RI)) this.msrDelta |= MSR.TERI
        return
      }
      case UART.SCR:
        this.scr = v
        return
      default:
        return // LSR and MSR writes (factory test) are ignored
    }
  }

  /** MSR bits 7..4: in loopback they follow MCR (CTS←RTS, DSR←DTR, RI←OUT1, DCD←OUT2). */
  private modemLines(): number {
    if (!(this.mcr & MCR.LOOP)) return MSR.CTS | MSR.DSR | MSR.DCD
    return (this.mcr & MCR.RTS ? MSR.CTS : 0) | (this.mcr & MCR.DTR ? MSR.DSR : 0) | (this.mcr & MCR.OUT1 ? MSR.RI : 0) | (this.mcr & MCR.OUT2 ? MSR.DCD : 0)
  }

  /** IIR bits 3..0 by priority: line status, RX data, THR empty, modem status. */
  private pendingInterrupt(): number {
    if (this.ier & IER.ELSI && this.lsrErrors & (LSR.OE | LSR.PE | LSR.FE | LSR.BI)) return IIR.RLS
    if (this.ier & IER.ERBFI && this.rxCount > 0) return !this.fifoEnabled || this.fifoCount >= this.trigger ? IIR.RDA : IIR.TIMEOUT
    if (this.ier & IER.ETBEI && this.thrIpending) return IIR.THRE
    if (this.ier & IER.EDSSI && this.msrDelta & 0x0f) return IIR.MODEM
    return IIR.NONE
  }

  /** Drops what is in the receive FIFO (at most 16 bytes); bytes still "on the wire" stay. */
  private clearRxFifo(): void {
    this.rxHead += this.fifoCount
  }

  private updateIrq(): void {
    const level = this.pendingInterrupt() !== IIR.NONE
    if (level === this.irqLevel) return
    this.irqLevel = level
    this.irq?.set(level)
  }
}
