/**
 * The slice of the `WebAssembly` JavaScript API this package uses, typed here because the
 * repository compiles without lib.dom (where TypeScript declares it). It is the same object in
 * Node and in browsers.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
/** A compiled module (opaque; structured-cloneable to a worker). */
export interface WasmModule {
  readonly __wasmModule?: never
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>
}
export interface WasmImportDescriptor {
  readonly module: string
  readonly name: string
  readonly kind: string
}
export interface WasmApi {
  Module: { new (bytes: Uint8Array): WasmModule; imports(m: WasmModule): WasmImportDescriptor[]; exports(m: WasmModule): { name: string; kind: string }[] }
  Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory
  compile(bytes: Uint8Array): Promise<WasmModule>
  validate(bytes: Uint8Array): boolean
}

/** The platform's `WebAssembly`. */
export const wasmApi: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly

/** True for a compiled module (rather than bytes). */
export function isWasmModule(m: unknown): m is WasmModule {
  return typeof m === 'object' && m !== null && Object.prototype.toString.call(m) === '[object WebAssembly.Module]'
}
