import { HonkError } from '@honk/errors'

/** Which limit a WebAssembly process went past. */
export type WasmLimitKind = 'memory' | 'fds' | 'output'

/** A WebAssembly process was ended for going past one of its limits. */
export class WasmLimitError extends HonkError<'WASM_LIMIT_MEMORY' | 'WASM_LIMIT_FDS' | 'WASM_LIMIT_OUTPUT'> {
  constructor(readonly pid: number, readonly kind: WasmLimitKind, detail: string) {
    super(kind === 'memory' ? 'WASM_LIMIT_MEMORY' : kind === 'fds' ? 'WASM_LIMIT_FDS' : 'WASM_LIMIT_OUTPUT', `wasm PID ${pid} killed: ${kind} limit: ${detail}`)
  }
}

/** A WebAssembly process trapped, failed to compile or link, or its worker died. */
export class WasmTrapError extends HonkError<'WASM_TRAP'> {
  constructor(readonly pid: number, detail: string) {
    super('WASM_TRAP', `wasm PID ${pid} trapped: ${detail}`)
  }
}

/** A WebAssembly process ended itself with `proc_raise`. */
export class WasmSignalError extends HonkError<'WASM_SIGNAL'> {
  constructor(readonly pid: number, readonly signal: number) {
    super('WASM_SIGNAL', `wasm PID ${pid} terminated by signal ${signal}`)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    WasmLimitError: WasmLimitError
    WasmTrapError: WasmTrapError
    WasmSignalError: WasmSignalError
  }
}
