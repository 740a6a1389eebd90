/**
 * The RISC-V 64 hart of honk and its physical side.
 *
 * @example
 * ```ts
 * import { createSystem, loadElf, CaptureUart, SifiveTest } from '@honk/rv64'
 * const sys = createSystem({ harts: 1, ramSize: 64 << 20 })
 * let out = ''
 * sys.map(0x1000_0000, new CaptureUart((b) => (out += String.fromCharCode(b))))
 * sys.map(0x0010_0000, new SifiveTest(sys.bus))
 * const elf = loadElf(sys.bus, bytes)                   // a bare-metal program linked at 0x8000_0000
 * sys.harts[0]!.pc = elf.entry
 * console.log(sys.run(1e9), out)                         // { reason: 'exit', code: 0, … }
 * ```
 * @packageDocumentation
 */
export { WasmArena, type HartArena, type WasmMemory, type WasmTable } from './wasm-arena.js'
export { Bus, type AccessSize, type BusOptions, type Clock, type MmioDevice } from './bus.js'
// The ISA's numbers live in @honk/riscv (one home for the emulator, the firmware and the kernel); re-exported here.
export { CAUSE, CSR, HGATP, HSTATUS, IRQ, MSTATUS } from '@honk/riscv'
export { Op, decode, type Decoded } from './decode.js'
export { CaptureUart, Clint, Htif, SifiveTest, mapHtif, type SysconEvent } from './devices.js'
export { ElfError, loadElf, type LoadedElf } from './elf.js'
export type { BlockHost } from './block-host.js'
export { DEFAULT_BLOCK_THRESHOLD, DEFAULT_REGION_THRESHOLD, Hart, HartError, type Access, type HartOptions, type HartState, type Privilege, type RunResult, type StopReason } from './hart.js'
export { Fpu } from './fpu.js'
export { expandCompressed } from './rvc.js'
export { Plic, type IrqLine, type PlicOptions } from './plic.js'
export { AsmError, assemble, liSequence, type AssembleOptions, type Assembled } from './isa/asm.js'
export { disassemble, type DisasmOptions } from './isa/disasm.js'
export { CSR_BY_NAME, CSR_NAMES, REG } from './isa/names.js'
export { OPCODES, lookupOpcode, type AnyOpcodeSpec, type Ext, type Format, type FpFormat, type FpOpcodeSpec, type OpcodeSpec } from './isa/opcodes.js'
export type { BlockFn } from './block.js'
export { clearCompiledBlocks, compiledSources } from './block.js'
export { startTrace, traceLine, type Traceable } from './isa/trace.js'
export { createSystem, type System, type SystemOptions } from './system.js'
