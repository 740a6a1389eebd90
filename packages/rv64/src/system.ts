/**
 * N harts on one bus, run round-robin in slices, with the CLINT driving their timer and
 * software interrupts (at QEMU virt's CLINT address); time skips forward when every hart waits in WFI.
 */
import { VIRT_MAP } from '@honk/riscv'
import { Bus, type MmioDevice } from './bus.js'
import { Clint } from './devices.js'
import { Hart, type HartOptions, type RunResult } from './hart.js'

export interface SystemOptions {
  harts?: number
  ramSize: number
  ramBase?: number
  clock?: 'realtime' | 'instret'
  /** Instructions per hart per slice (default 10 000). */
  slice?: number
  /** Block-tier compile threshold of every hart (see `HartOptions.blockThreshold`). */
  blockThreshold?: number
  /** The compiled tier of every hart (see `HartOptions.tier`). */
  tier?: HartOptions['tier']
  /** Whether every hart's blocks compile to WebAssembly (see `HartOptions.wasmBlocks`; default true). */
  wasmBlocks?: boolean
  /** Offer Sv57 on every hart (see `HartOptions.sv57`; default false). */
  sv57?: boolean
  /** Offer the hypervisor extension on every hart (see `HartOptions.hypervisor`; default false). */
  hypervisor?: boolean
}

export interface System {
  bus: Bus
  harts: Hart[]
  clint: Clint
  map(base: number, device: MmioDevice): void
  /** Runs until `budget` instructions (all harts together) are spent or something stops it. */
  run(budget: number): RunResult
}

export function createSystem(options: SystemOptions): System {
  const bus = new Bus({ ramSize: options.ramSize, wasmHarts: options.harts ?? 1, ...(options.ramBase !== undefined ? { ramBase: options.ramBase } : {}) })
  const harts: Hart[] = []
  const clint = new Clint(harts, options.harts ?? 1, options.clock ?? 'instret')
  for (let i = 0; i < (options.harts ?? 1); i++) harts.push(new Hart({ hartId: i, bus, clock: clint, ...(options.blockThreshold !== undefined ? { blockThreshold: options.blockThreshold } : {}), ...(options.tier !== undefined ? { tier: options.tier } : {}), ...(options.wasmBlocks !== undefined ? { wasmBlocks: options.wasmBlocks } : {}), ...(options.sv57 !== undefined ? { sv57: options.sv57 } : {}), ...(options.hypervisor !== undefined ? { hypervisor: options.hypervisor } : {}) }))
  bus.map(VIRT_MAP.clint.base, clint) // where QEMU virt has it
  const slice = options.slice ?? 10_000
  return {
    bus,
    harts,
    clint,
    map: (base, device) => bus.map(base, device),
    run(budget) {
      let executed = 0
      while (executed < budget) {
        let progressed = false
        for (const h of harts) {
          clint.update()
          const r = h.run(Math.min(slice, budget - executed))
          executed += r.executed
          if (r.executed > 0) progressed = true
          if (r.reason === 'exit' || r.reason === 'breakpoint' || r.reason === 'error') return { ...r, executed }
          if (bus.exitCode !== undefined) return { reason: 'exit', executed, code: bus.exitCode }
        }
        if (!progressed) {
          // Every hart is in WFI: jump time to the next timer deadline ahead (mtimecmp or a
          // hart's stimecmp), then let the harts look again. Each skip passes at least one
          // deadline, so this ends: with a hart woken, or with no deadline left ahead.
          if (options.clock === 'realtime' || clint.skipToNextDeadline() === 0n) return { reason: 'wfi', executed }
        }
      }
      return { reason: 'budget', executed }
    },
  }
}
