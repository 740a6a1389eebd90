/**
 * The kernel's console: an ns16550a driver (TX by polling THRE, RX by interrupt: IER.ERBFI, the
 * PLIC source from the device tree) feeding a byte queue the shell reads.
 *
 * Receive has flow control, as a tty driver throttles: when the queue is full the handler stops
 * reading RBR and masks the receive interrupt, so the bytes wait in the UART (the device holds
 * them, as a line holds bytes not yet sent); once the reader has taken half of the queue the
 * interrupt is unmasked and the FIFO drained again. No received byte is ever dropped, however
 * long the line or slow the reader.
 */
import { Channel } from '@honk/proc'
import { IER, LSR, UART } from '@honk/virtio'
import type { HsPort } from './port.js'

/** Bytes the console queues for its reader before it throttles the UART. */
export const CONSOLE_QUEUE = 4096

/** The received bytes, in order, as the shell reads them. Closed at power-off. */
export class ConsoleInput implements AsyncIterable<number> {
  constructor(
    private readonly queue: Channel<number>,
    private readonly taken: () => void,
  ) {}

  /** Bytes received and not yet read. */
  get length(): number {
    return this.queue.length
  }

  /** Ends the input: the reader gets what is queued, then its loop ends. */
  close(): void {
    this.queue.close()
  }

  /** The next byte, waiting for one; rejects with `ChannelClosedError` once closed and drained. */
  async receive(): Promise<number> {
    const b = await this.queue.receive()
    this.taken()
    return b
  }

  async *[Symbol.asyncIterator](): AsyncIterator<number> {
    for await (const b of this.queue) {
      this.taken()
      yield b
    }
  }
}

export class UartConsole {
  readonly input: ConsoleInput
  /** Bytes received after the input was closed (at power-off), which nobody will read. */
  dropped = 0
  private readonly queue = new Channel<number>(CONSOLE_QUEUE)
  /** The receive interrupt is masked because the queue was full. */
  private throttled = false
  private readonly encoder = new TextEncoder()

  constructor(
    private readonly port: HsPort,
    private readonly base: number,
  ) {
    this.input = new ConsoleInput(this.queue, () => this.unthrottle())
  }

  /** Writes `text`, sending "\n" as "\r\n" (a terminal's line discipline is the kernel's job here). */
  write(text: string): void {
    for (const b of this.encoder.encode(text.replace(/\r?\n/g, '\r\n'))) this.putByte(b)
  }

  private putByte(b: number): void {
    for (let spin = 0; spin < 100_000; spin++) if (Number(this.port.mmioRead(this.base + UART.LSR, 1) ?? 0n) & LSR.THRE) break
    this.port.mmioWrite(this.base + UART.THR, 1, BigInt(b))
  }

  /** Enables the receive interrupt; call after the PLIC routes the UART's source to `onInterrupt`. */
  enableReceive(): void {
    this.port.mmioWrite(this.base + UART.IER, 1, BigInt(IER.ERBFI))
    this.onInterrupt() // bytes that arrived before the interrupt was enabled
  }

  /** The interrupt handler: drains the receive FIFO into the queue while the queue has room. */
  onInterrupt(): void {
    while (Number(this.port.mmioRead(this.base + UART.LSR, 1) ?? 0n) & LSR.DR) {
      if (!this.queue.closed && this.queue.length >= CONSOLE_QUEUE) {
        // Full: leave the rest in the UART and mask the interrupt (a level-triggered line
        // would otherwise fire again at once) until the reader catches up.
        this.throttled = true
        this.port.mmioWrite(this.base + UART.IER, 1, 0n)
        return
      }
      const b = Number(this.port.mmioRead(this.base + UART.RBR, 1) ?? 0n)
      if (!this.queue.trySend(b)) this.dropped++
    }
  }

  /** After each byte the reader takes: unmask the interrupt once half the queue is free. */
  private unthrottle(): void {
    if (!this.throttled || this.queue.length > CONSOLE_QUEUE / 2) return
    this.throttled = false
    this.port.mmioWrite(this.base + UART.IER, 1, BigInt(IER.ERBFI))
    this.onInterrupt()
  }
}
