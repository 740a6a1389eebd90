/**
 * The kernel's PLIC driver for one S-mode context (RISC-V PLIC spec 1.0.0; the register layout
 * is `@honk/riscv`'s `PLIC`), and the dispatch of claimed sources to their handlers.
 */
import { plicClaim, plicEnableWord, plicPriority, plicThreshold } from '@honk/riscv'
import type { HsPort } from './port.js'

export class PlicDriver {
  private readonly handlers = new Map<number, () => void>()
  /** Interrupts claimed per source, for `irqs`-style statistics. */
  readonly counts = new Map<number, number>()

  constructor(
    private readonly port: HsPort,
    private readonly base: number,
    private readonly context: number,
  ) {
    this.port.mmioWrite(this.base + plicThreshold(context), 4, 0n) // threshold 0: every priority ≥ 1 passes
  }

  /** Routes `source` to `handler` at priority 1 and enables it for this context. */
  enable(source: number, handler: () => void): void {
    this.handlers.set(source, handler)
    this.port.mmioWrite(this.base + plicPriority(source), 4, 1n)
    const word = this.base + plicEnableWord(this.context, source)
    const bits = this.port.mmioRead(word, 4) ?? 0n
    this.port.mmioWrite(word, 4, bits | (1n << BigInt(source & 31)))
  }

  /** Claims and completes until nothing is pending (§7: claim returns 0 when no source is). */
  service(): void {
    const claim = this.base + plicClaim(this.context)
    for (let guard = 0; guard < 1024; guard++) {
      const source = Number(this.port.mmioRead(claim, 4) ?? 0n)
      if (source === 0) return
      this.counts.set(source, (this.counts.get(source) ?? 0) + 1)
      try {
        this.handlers.get(source)?.()
      } finally {
        this.port.mmioWrite(claim, 4, BigInt(source))
      }
    }
  }
}

/** An interrupt that tasks can wait for: `wait()` resolves at the next `signal()`. */
export class InterruptSignal {
  private waiters: (() => void)[] = []
  signal(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }
}
