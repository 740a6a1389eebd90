/**
 * A virtual PLIC for guests (RISC-V PLIC spec 1.0.0, the layout of `@honk/riscv`'s `PLIC`): one
 * S-mode context per vCPU (context i → vCPU i, as QEMU virt numbers a guest's S contexts when M
 * contexts are absent from its device tree), level-triggered sources 1..`sources`. The VMM turns a
 * context's "claimable interrupt above threshold" into hvip.VSEIP of that vCPU. Every register
 * access is bounds-checked; unknown offsets read 0 and ignore writes.
 */
import { PLIC, type AccessSize, type MmioDevice } from '@honk/riscv'
import type { IrqLine } from '@honk/virtio'

export class VirtualPlic implements MmioDevice {
  readonly name = 'vplic'
  readonly size = 0x400_0000
  private readonly priority: Uint32Array
  private readonly level: Uint8Array
  private readonly pending: Uint8Array
  private readonly inService: Uint8Array
  private readonly enable: Uint8Array[]
  private readonly threshold: Uint32Array

  /**
   * `onRaise`: called when a source's line goes high and it becomes pending (the VM's
   * `interruptRaised`, which wakes a host waiting for its idle vCPUs).
   */
  constructor(
    readonly contexts: number,
    readonly sources = 31,
    private readonly onRaise?: () => void,
  ) {
    this.priority = new Uint32Array(sources + 1)
    this.level = new Uint8Array(sources + 1)
    this.pending = new Uint8Array(sources + 1)
    this.inService = new Uint8Array(sources + 1)
    this.enable = Array.from({ length: contexts }, () => new Uint8Array(sources + 1))
    this.threshold = new Uint32Array(contexts)
  }

  /** Source `n`'s line (1..sources), for a device model's `irq` option. */
  line(n: number): IrqLine {
    if (!Number.isInteger(n) || n < 1 || n > this.sources) throw new RangeError(`PLIC source ${n} is not in 1..${this.sources}`)
    return {
      set: (high: boolean) => {
        this.level[n] = high ? 1 : 0
        if (high && !this.inService[n]) {
          this.pending[n] = 1
          this.onRaise?.()
        }
      },
    }
  }

  /** Whether context `ctx` has a claimable interrupt (pending, enabled, priority above its threshold): its vCPU's VSEIP. */
  asserted(ctx: number): boolean {
    return this.best(ctx) > 0
  }

  private best(ctx: number): number {
    const en = this.enable[ctx]
    if (!en) return 0
    let best = 0
    let prio = this.threshold[ctx]!
    for (let s = 1; s <= this.sources; s++) if (this.pending[s] && en[s] && this.priority[s]! > prio) (best = s), (prio = this.priority[s]!)
    return best
  }

  read(offset: number, size: AccessSize): bigint {
    if (size !== 4 || offset % 4 !== 0) return 0n // the PLIC has 32-bit registers only
    if (offset < PLIC.PENDING) {
      const s = offset / 4
      return s >= 1 && s <= this.sources ? BigInt(this.priority[s]!) : 0n
    }
    if (offset < PLIC.ENABLE) return BigInt(this.bits(this.pending, (offset - PLIC.PENDING) / 4))
    if (offset < PLIC.CONTEXT) {
      const ctx = Math.floor((offset - PLIC.ENABLE) / PLIC.ENABLE_STRIDE)
      const en = this.enable[ctx]
      return en ? BigInt(this.bits(en, ((offset - PLIC.ENABLE) % PLIC.ENABLE_STRIDE) / 4)) : 0n
    }
    const ctx = Math.floor((offset - PLIC.CONTEXT) / PLIC.CONTEXT_STRIDE)
    if (ctx >= this.contexts) return 0n
    const reg = (offset - PLIC.CONTEXT) % PLIC.CONTEXT_STRIDE
    if (reg === PLIC.THRESHOLD) return BigInt(this.threshold[ctx]!)
    if (reg === PLIC.CLAIM) {
      const s = this.best(ctx)
      if (s > 0) {
        this.pending[s] = 0
        this.inService[s] = 1
      }
      return BigInt(s)
    }
    return 0n
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (size !== 4 || offset % 4 !== 0) return
    const v = Number(value & 0xffff_ffffn)
    if (offset < PLIC.PENDING) {
      const s = offset / 4
      if (s >= 1 && s <= this.sources) this.priority[s] = v & 7
      return
    }
    if (offset < PLIC.ENABLE) return // pending bits are read-only
    if (offset < PLIC.CONTEXT) {
      const ctx = Math.floor((offset - PLIC.ENABLE) / PLIC.ENABLE_STRIDE)
      const en = this.enable[ctx]
      const word = ((offset - PLIC.ENABLE) % PLIC.ENABLE_STRIDE) / 4
      if (en) for (let b = 0; b < 32; b++) if (word * 32 + b >= 1 && word * 32 + b <= this.sources) en[word * 32 + b] = (v >>> b) & 1
      return
    }
    const ctx = Math.floor((offset - PLIC.CONTEXT) / PLIC.CONTEXT_STRIDE)
    if (ctx >= this.contexts) return
    const reg = (offset - PLIC.CONTEXT) % PLIC.CONTEXT_STRIDE
    if (reg === PLIC.THRESHOLD) this.threshold[ctx] = v & 7
    else if (reg === PLIC.CLAIM && v >= 1 && v <= this.sources && this.inService[v]) {
      // Completion: the source may interrupt again; a line still high is pending at once (level-triggered).
      this.inService[v] = 0
      if (this.level[v]) {
        this.pending[v] = 1
        this.onRaise?.()
      }
    }
  }

  private bits(a: Uint8Array, word: number): number {
    if (!Number.isInteger(word)) return 0
    let w = 0
    for (let b = 0; b < 32; b++) if (a[word * 32 + b]) w |= 1 << b
    return w >>> 0
  }
}
