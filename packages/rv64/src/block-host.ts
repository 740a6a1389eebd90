/**
 * The hart's contract with generated code (`block.ts`, `region.ts`): the members a compiled
 * function reaches through its `h` argument. `Hart` implements it, so renaming or retyping one of
 * these breaks at compile time; `BLOCK_HOST_MEMBERS` lists the same names at run time, and
 * block.test.ts checks that generated source uses no other member of `h`.
 */
import type { Decoded } from './decode.js'

export interface BlockHost {
  /** The pc: set at every exit. */
  pc: number
  /** The direct window `[directLo, directHi)`: RAM where the virtual address is physical and needs no check. */
  readonly directLo: number
  readonly directHi: number
  readonly ramBase: number
  /** The data TLB's context as it stands in a tag's low word (one that matches no entry while the TLB is not in use). */
  readonly dtlbCtx: number
  /** The data TLB per kind: tags as int32 pairs of the address's halves, the page's RAM offset (see `Hart.dtlbLoadTagLo`). */
  readonly dtlbLoadTagLo: Int32Array
  readonly dtlbLoadTagHi: Int32Array
  readonly dtlbLoadOff: Float64Array
  readonly dtlbStoreTagLo: Int32Array
  readonly dtlbStoreTagHi: Int32Array
  readonly dtlbStoreOff: Float64Array
  /**
   * Changes whenever a compiled block's memoised pages may no longer hold (`block.ts` access):
   * with every data TLB flush, direct-window change and data-context change.
   */
  readonly memoKey: number
  /** 1 per 64-byte line of RAM (by RAM offset / 64) that holds decoded code. */
  readonly codeLines: Uint8Array
  /** The LR reservation's address (NaN: none); constant while generated code runs (it runs no LR or SC). */
  readonly reservation: number
  /** After a store into RAM: true when it dropped decoded code (the compiled code must exit). */
  stored(o: number, size: number, va: number): boolean
  /** JALR's target when rs1 lies beyond ±2^53. */
  jalrTarget(d: Decoded): number
}

/** Every member of {@link BlockHost}, exactly (the `satisfies` keeps the two lists equal). */
export const BLOCK_HOST_MEMBERS = Object.keys({
  pc: true,
  directLo: true,
  directHi: true,
  ramBase: true,
  dtlbCtx: true,
  dtlbLoadTagLo: true,
  dtlbLoadTagHi: true,
  dtlbLoadOff: true,
  dtlbStoreTagLo: true,
  dtlbStoreTagHi: true,
  dtlbStoreOff: true,
  memoKey: true,
  codeLines: true,
  reservation: true,
  stored: true,
  jalrTarget: true,
} satisfies Record<keyof BlockHost, true>) as readonly (keyof BlockHost)[]
