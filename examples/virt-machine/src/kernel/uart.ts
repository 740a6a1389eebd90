/**
 * The kernel's console: an ns16550a driver (TX by polling THRE, RX by interrupt: IER.ERBFI, the
 * PLIC source from the device tree) feeding a byte queue the shell reads.
 */
import { Channel } from '@honk/proc'
import { IER, LSR, UART } from '@honk/virtio'
import type { HsPort } from './port.js'

export class UartConsole {
  /** Received bytes, in order. Closed at power-off. */
  readonly input = new Channel<number>(4096)
  dropped = 0
  private readonly encoder = new TextEncoder()

  constructor(
    private readonly port: HsPort,
    private readonly base: number,
  ) {}

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

  /** The interrupt handler: drains the receive FIFO. */
  onInterrupt(): void {
    for (let i = 0; i < 4096 && Number(this.port.mmioRead(this.base + UART.LSR, 1) ?? 0n) & LSR.DR; i++) {
      const b = Number(this.port.mmioRead(this.base + UART.RBR, 1) ?? 0n)
      if (!this.input.trySend(b)) this.dropped++
    }
  }
}
