/** One round of the interpreter probes (interp-loop.ts, interp-footprint.ts): M instr/s running `bytes` from BASE for 20 M instructions on a fresh machine. */
import { createSystem } from '../src/index.ts'

export const BASE = 0x8000_0000

export function interpreterRate(bytes: Uint8Array, options: { ramSize: number; blockThreshold: number }): number {
  const sys = createSystem({ harts: 1, ramSize: options.ramSize, blockThreshold: options.blockThreshold })
  sys.bus.writeBytes(BASE, bytes)
  const hart = sys.harts[0]!
  hart.pc = BASE
  const t0 = performance.now()
  let executed = 0
  while (executed < 20_000_000) executed += hart.run(100_000).executed
  return executed / (performance.now() - t0) / 1000
}
