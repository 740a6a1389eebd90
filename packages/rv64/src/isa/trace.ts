/**
 * Trace mode: every instruction a hart executes, as `pc: encoding  disassembly`, to a sink
 * (objdump's layout, so a trace can be compared with `objdump -d` of the program).
 */
import type { Decoded } from '../decode.js'
import { disassemble } from './disasm.js'

/** The minimal hart surface tracing needs (Hart has it). */
export interface Traceable {
  onTrace: ((pc: number, d: Decoded) => void) | undefined
}

/** One trace line for an instruction at `pc`. */
export function traceLine(pc: number, d: Decoded): string {
  const address = BigInt.asUintN(64, BigInt(pc))
  const encoding = d.len === 2 ? (d.raw & 0xffff).toString(16).padStart(4, '0').padEnd(8, ' ') : (d.inst >>> 0).toString(16).padStart(8, '0')
  return `${address.toString(16).padStart(16, '0')}: ${encoding}  ${disassemble(d.len === 2 ? d.raw : d.inst, address)}`
}

/**
 * Starts tracing `hart` into `sink` (one line per executed instruction, at most `limit`
 * lines; default unlimited). Returns a function that stops the trace.
 */
export function startTrace(hart: Traceable, sink: (line: string) => void, limit = Infinity): () => void {
  let left = limit
  const previous = hart.onTrace
  hart.onTrace = (pc, d) => {
    if (left-- > 0) sink(traceLine(pc, d))
  }
  return () => {
    hart.onTrace = previous
  }
}
