/**
 * The platform-level interrupt controller (RISC-V PLIC specification 1.0.0), laid out like
 * QEMU virt's: source priorities at 0x0, pending bits at 0x1000, per-context enable bits at
 * 0x2000 + 0x80·ctx, per-context threshold and claim/complete at 0x20_0000 + 0x1000·ctx.
 * Context 2h is hart h's M-mode external interrupt (MEIP), 2h+1 its S-mode one (SEIP).
 *
 * Sources are level-triggered through a gateway (spec §5): a source that is high becomes
 * pending unless a claim of it is in flight; completing the claim lets it fire again.
 */
import { PLIC } from '@honk/riscv'
import type { AccessSize, MmioDevice } from './bus.js'

/** An interrupt wire a device drives (the virtio and UART models take one). */
export interface IrqLine {
  set(level: boolean): void
}

export interface PlicOptions {
  /** Number of interrupt sources including the reserved source 0 (QEMU virt: 96 → riscv,ndev 95). */
  sources?: number
  /** Number of contexts (2 per hart). */
  contexts: number
  /** Drives a context's output (the machine sets hart MEIP/SEIP from it). */
  onContext(context: number, level: boolean): void
  /** Priority bits implemented (QEMU virt: 3, i.e. priorities 0–7). */
  priorityBits?: number
}

export class Plic implements MmioDevice {
  readonly name = 'plic'
  readonly size: number
  readonly sources: number
  private readonly priority: Uint32Array
  private readonly level: Uint8Array
  private readonly pending: Uint8Array
  private readonly inFlight: Uint8Array
  private readonly enable: Uint32Array
  private readonly threshold: Uint32Array
  private readonly output: Uint8Array
  private readonly words: number
  private readonly priorityMask: number

  constructor(private readonly options: PlicOptions) {
    this.sources = options.sources ?? 96
    if (this.sources < 2 || this.sources > 1024) throw new RangeError(`a PLIC has 2..1024 sources, not ${this.sources}`)
    if (options.contexts < 1 || options.contexts > 15872) throw new RangeError(`a PLIC has 1..15872 contexts, not ${options.contexts}`)
    this.words = Math.ceil(this.sources / 32)
    this.priority = new Uint32Array(this.sources)
    this.level = new Uint8Array(this.sources)
    this.pending = new Uint8Array(this.sources)
    this.inFlight = new Uint8Array(this.sources)
    this.enable = new Uint32Array(options.contexts * this.words)
    this.threshold = new Uint32Array(options.contexts)
    this.output = new Uint8Array(options.contexts)
    this.priorityMask = (1 << (options.priorityBits ?? 3)) - 1
    this.size = PLIC.CONTEXT + options.contexts * PLIC.CONTEXT_STRIDE
  }

  /** The wire of source `id` (1-based; 0 does not exist). */
  line(id: number): IrqLine {
    if (!Number.isInteger(id) || id < 1 || id >= this.sources) throw new RangeError(`PLIC source ${id} does not exist (1..${this.sources - 1})`)
    return { set: (level) => this.setLevel(id, level) }
  }

  setLevel(id: number, level: boolean): void {
    this.level[id] = level ? 1 : 0
    if (level && !this.inFlight[id]) this.pending[id] = 1
    // A level-triggered source that drops before it is claimed is no longer pending.
    if (!level && !this.inFlight[id]) this.pending[id] = 0
    this.update()
  }

  /** The highest-priority pending, enabled source above the context's threshold (ties: lowest id), or 0. */
  private best(ctx: number): number {
    let best = 0
    let bestPriority = this.threshold[ctx]!
    const base = ctx * this.words
    for (let id = 1; id < this.sources; id++) {
      if (!this.pending[id]) continue
      if (!((this.enable[base + (id >>> 5)]! >>> (id & 31)) & 1)) continue
      const p = this.priority[id]!
      if (p > bestPriority) {
        best = id
        bestPriority = p
      }
    }
    return best
  }

  private update(): void {
    for (let ctx = 0; ctx < this.options.contexts; ctx++) {
      const out = this.best(ctx) !== 0 ? 1 : 0
      if (out !== this.output[ctx]) {
        this.output[ctx] = out
        this.options.onContext(ctx, out === 1)
      }
    }
  }

  read(offset: number, size: AccessSize): bigint {
    if (size !== 4) return 0n // the PLIC's registers are 32-bit (spec §1)
    return BigInt(this.read32(offset) >>> 0)
  }

  private read32(offset: number): number {
    if (offset < PLIC.PENDING) {
      const id = (offset - PLIC.PRIORITY) >> 2
      return id < this.sources ? this.priority[id]! : 0
    }
    if (offset < PLIC.ENABLE) {
      const w = (offset - PLIC.PENDING) >> 2
      if (w >= this.words) return 0
      let v = 0
      for (let b = 0; b < 32; b++) if (this.pending[w * 32 + b]) v |= 1 << b
      return v
    }
    if (offset < PLIC.CONTEXT) {
      const ctx = Math.floor((offset - PLIC.ENABLE) / PLIC.ENABLE_STRIDE)
      const w = ((offset - PLIC.ENABLE) % PLIC.ENABLE_STRIDE) >> 2
      return ctx < this.options.contexts && w < this.words ? this.enable[ctx * this.words + w]! : 0
    }
    const ctx = Math.floor((offset - PLIC.CONTEXT) / PLIC.CONTEXT_STRIDE)
    const reg = (offset - PLIC.CONTEXT) % PLIC.CONTEXT_STRIDE
    if (ctx >= this.options.contexts) return 0
    if (reg === PLIC.THRESHOLD) return this.threshold[ctx]!
    if (reg === PLIC.CLAIM) return this.claim(ctx)
    return 0
  }

  private claim(ctx: number): number {
    const id = this.best(ctx)
    if (id !== 0) {
      this.pending[id] = 0
      this.inFlight[id] = 1
      this.update()
    }
    return id
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (size !== 4) return
    const v = Number(value & 0xffffffffn)
    if (offset < PLIC.PENDING) {
      const id = (offset - PLIC.PRIORITY) >> 2
      if (id > 0 && id < this.sources) this.priority[id] = v & this.priorityMask
    } else if (offset < PLIC.ENABLE) {
      // Pending bits are read-only.
    } else if (offset < PLIC.CONTEXT) {
      const ctx = Math.floor((offset - PLIC.ENABLE) / PLIC.ENABLE_STRIDE)
      const w = ((offset - PLIC.ENABLE) % PLIC.ENABLE_STRIDE) >> 2
      if (ctx < this.options.contexts && w < this.words) {
        // Source 0 does not exist, nor do sources past the last.
        const valid = w === this.words - 1 && this.sources % 32 !== 0 ? (1 << (this.sources % 32)) - 1 : 0xffffffff
        this.enable[ctx * this.words + w] = (v & valid & (w === 0 ? ~1 : 0xffffffff)) >>> 0
      }
    } else {
      const ctx = Math.floor((offset - PLIC.CONTEXT) / PLIC.CONTEXT_STRIDE)
      const reg = (offset - PLIC.CONTEXT) % PLIC.CONTEXT_STRIDE
      if (ctx >= this.options.contexts) return
      if (reg === PLIC.THRESHOLD) this.threshold[ctx] = v & this.priorityMask
      else if (reg === PLIC.CLAIM) this.complete(ctx, v)
    }
    this.update()
  }

  /** Completion of a source not enabled for the context is ignored (spec §8). */
  private complete(ctx: number, id: number): void {
    if (id <= 0 || id >= this.sources) return
    if (!((this.enable[ctx * this.words + (id >>> 5)]! >>> (id & 31)) & 1)) return
    this.inFlight[id] = 0
    if (this.level[id]) this.pending[id] = 1
  }

  /** State for snapshots. */
  snapshot(): { priority: number[]; level: number[]; pending: number[]; inFlight: number[]; enable: number[]; threshold: number[] } {
    return { priority: [...this.priority], level: [...this.level], pending: [...this.pending], inFlight: [...this.inFlight], enable: [...this.enable], threshold: [...this.threshold] }
  }
}
