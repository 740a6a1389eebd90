/**
 * RAM in a WebAssembly memory, with room after it for each hart's state that compiled
 * WebAssembly reads and writes (`wasm-tier.ts`): its integer registers, its data TLB and its
 * decode cache's code-line map. RAM sits at address 0 of the memory, so a RAM offset is a Wasm
 * address; the memory never grows (growing would detach every view the bus and harts hold).
 *
 * A hart's area, at a 64-byte-aligned `base` ({@link HART_AREA} bytes, {@link AREA} offsets): the
 * registers as 32 little-endian i64 (x0 first), the data TLB's arrays (`Hart.dtlbLoadTagLo` …
 * `dtlbStoreOff`), then the context compiled code reads; its code-line map follows the area.
 */

/** The WebAssembly API this package uses (the repo's TypeScript libs carry no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer
}
interface WasmModuleCtor {
  new (bytes: Uint8Array): object
}
interface WasmInstanceCtor {
  new (module: object, imports: Record<string, Record<string, unknown>>): { readonly exports: Record<string, unknown> }
}
/** A table of functions (`funcref`). */
export interface WasmTable {
  readonly length: number
  grow(delta: number): number
  set(index: number, value: unknown): void
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory
  Module: WasmModuleCtor
  Instance: WasmInstanceCtor
  Table: new (descriptor: { element: 'anyfunc'; initial: number }) => WasmTable
}

/** The host's WebAssembly, or undefined where there is none. */
export function wasmApi(): WasmApi | undefined {
  const w = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
  return w !== undefined && typeof w.Memory === 'function' && typeof w.Module === 'function' ? w : undefined
}

/** The data TLB's entries per kind (`Hart`'s TLB_SIZE). */
export const AREA_TLB_SIZE = 1024
/** Offsets inside a hart's area. */
export const AREA = {
  regs: 0,
  loadTagLo: 256,
  loadTagHi: 256 + 4 * AREA_TLB_SIZE,
  storeTagLo: 256 + 8 * AREA_TLB_SIZE,
  storeTagHi: 256 + 12 * AREA_TLB_SIZE,
  loadOff: 256 + 16 * AREA_TLB_SIZE,
  storeOff: 256 + 24 * AREA_TLB_SIZE,
  /**
   * What compiled code reads, written by its caller (`wasm-tier.ts`): i64 the direct window's
   * bounds, RAM's base and the pc at entry (at +0, +8, +16, +24), i32 the data TLB's context, 1
   * while an LR reservation is held, and the code-line map's address (at +32, +36, +40); a
   * region's pc at its exit and its page's virtual base (i64 at +48, +56); `Hart.memoKey` (i64 at +64).
   */
  ctx: 256 + 32 * AREA_TLB_SIZE,
} as const
/** Bytes of one hart's area (a multiple of 64). */
export const HART_AREA = 256 + 32 * AREA_TLB_SIZE + 128

const WASM_PAGE = 65536
/** The most a 32-bit WebAssembly memory holds (65 536 pages). */
const WASM_MAX_PAGES = 65536

/** A hart's places in the arena: its area's base and its code-line map's address. */
export interface HartArena {
  readonly memory: WasmMemory
  readonly buffer: ArrayBuffer
  readonly base: number
  readonly lines: number
}

export class WasmArena {
  readonly buffer: ArrayBuffer
  private next: number

  private constructor(
    readonly memory: WasmMemory,
    private readonly ramSize: number,
    private readonly end: number,
  ) {
    this.buffer = memory.buffer
    this.next = align(ramSize, 64)
  }

  /**
   * An arena for `ramSize` bytes of RAM and `harts` harts' state, or undefined when the host has
   * no WebAssembly or the whole does not fit a 32-bit memory.
   */
  static create(ramSize: number, harts: number): WasmArena | undefined {
    const api = wasmApi()
    if (api === undefined) return undefined
    const perHart = HART_AREA + align(Math.ceil(ramSize / 64), 64)
    const bytes = align(ramSize, 64) + harts * perHart
    const pages = Math.ceil(bytes / WASM_PAGE)
    if (pages > WASM_MAX_PAGES) return undefined
    let memory: WasmMemory
    try {
      memory = new api.Memory({ initial: pages, maximum: pages })
    } catch {
      return undefined // the host would not reserve it
    }
    return new WasmArena(memory, ramSize, pages * WASM_PAGE)
  }

  /** Room for one more hart's state, or undefined when the arena is full (that hart runs without WebAssembly). */
  allocHart(): HartArena | undefined {
    const lines = align(Math.ceil(this.ramSize / 64), 64)
    if (this.next + HART_AREA + lines > this.end) return undefined
    const base = this.next
    this.next += HART_AREA + lines
    return { memory: this.memory, buffer: this.buffer, base, lines: base + HART_AREA }
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to
}
