/**
 * The PLIC's register layout (RISC-V PLIC spec 1.0.0, §3–§7; QEMU virt's and SiFive's): what
 * the emulated PLIC (`@honk/rv64`) decodes and the kernel's driver (`@honk/kernel`) writes.
 * Offsets from the PLIC's base.
 */
export const PLIC = {
  /** Source priorities: one 32-bit word per source at `PRIORITY + 4·source`. */
  PRIORITY: 0x0,
  /** Pending bits: 32 sources per word. */
  PENDING: 0x1000,
  /** Enable bits of context c: `ENABLE + ENABLE_STRIDE·c`, 32 sources per word. */
  ENABLE: 0x2000,
  ENABLE_STRIDE: 0x80,
  /** Context c's registers at `CONTEXT + CONTEXT_STRIDE·c`: the threshold, then claim/complete. */
  CONTEXT: 0x20_0000,
  CONTEXT_STRIDE: 0x1000,
  THRESHOLD: 0x0,
  CLAIM: 0x4,
} as const

/** Offset of `source`'s priority register. */
export const plicPriority = (source: number): number => PLIC.PRIORITY + 4 * source
/** Offset of the enable word holding `source`'s bit for `context` (bit `source % 32`). */
export const plicEnableWord = (context: number, source: number): number => PLIC.ENABLE + PLIC.ENABLE_STRIDE * context + 4 * (source >> 5)
/** Offset of `context`'s priority threshold. */
export const plicThreshold = (context: number): number => PLIC.CONTEXT + PLIC.CONTEXT_STRIDE * context + PLIC.THRESHOLD
/** Offset of `context`'s claim/complete register. */
export const plicClaim = (context: number): number => PLIC.CONTEXT + PLIC.CONTEXT_STRIDE * context + PLIC.CLAIM
