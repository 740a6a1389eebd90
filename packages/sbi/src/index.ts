/**
 * The firmware boundary of honk: the RISC-V SBI v2.0 implemented in TypeScript, and the flattened
 * device tree (writer, parser, typed property helpers, the QEMU-`virt` board description).
 *
 * @example
 * ```ts
 * import { Firmware, buildFdt, parseFdt, virtDeviceTree, findNode, getCells } from '@honk/sbi'
 * const dtb = buildFdt(virtDeviceTree({ harts: 4, ramSize: 512n << 20n, bootargs: 'console=ttyS0' }))
 * const { root } = parseFdt(dtb)
 * getCells(findNode(root, '/soc/plic@c000000')!, 'interrupts-extended')   // [2, 11, 2, 9, 4, 11, …]
 * const fw = new Firmware(machinePlatform)                 // machine implements SbiPlatform
 * const outcome = fw.ecall(hart)                           // on an ecall from S-mode
 * ```
 * @packageDocumentation
 */
// The SBI's numbers and the virt board's map live in @honk/riscv (one home for this firmware, the
// device tree, the board and the kernel that calls it); re-exported here.
export {
  BASE_FID,
  DBCN_FID,
  EID,
  HSM_FID,
  HsmState,
  IPI_FID,
  RESET_REASON,
  RESET_TYPE,
  RFENCE_FID,
  SBI_ERRORS,
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_ALREADY_STARTED,
  SBI_ERR_ALREADY_STOPPED,
  SBI_ERR_DENIED,
  SBI_ERR_FAILED,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_ERR_NO_SHMEM,
  SBI_IMPL_ID_HONK,
  SBI_IMPL_VERSION,
  SBI_SPEC_VERSION,
  SBI_SUCCESS,
  SRST_FID,
  SUSPEND_TYPE,
  TIME_FID,
  VIRT_IRQ,
  VIRT_MAP,
} from '@honk/riscv'
export { buildFdt, parseFdt, FdtError, FDT_MAGIC, FDT_VERSION, FDT_LAST_COMP_VERSION, FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END } from './fdt.js'
export type { FdtErrorCode, FdtNode, FdtProp, FdtReservation, BuildFdtOptions, ParseFdtOptions, ParsedFdt } from './fdt.js'
export {
  prop,
  node,
  encodeProp,
  getProp,
  hasProp,
  getU32,
  getU64,
  getNumber,
  getCells,
  getString,
  getStrings,
  getReg,
  cellCounts,
  baseName,
  findNode,
  findByPhandle,
  phandles,
  pathOf,
  walk,
  type PropInit,
} from './props.js'
export { formatDts, formatValue, type FormatDtsOptions } from './dts.js'
export { virtDeviceTree, splitIsa, withoutExtension, DEFAULT_ISA, type VirtConfig } from './virt.js'
export {
  Firmware,
  DBCN_CHUNK,
  CAUSE_LOAD_ACCESS,
  HANDOFF_CSR,
  HANDOFF_MCOUNTEREN,
  HANDOFF_MEDELEG,
  HANDOFF_MEDELEG_H,
  HANDOFF_MENVCFG_WANTED,
  HANDOFF_MIDELEG,
  HANDOFF_MSTATUS,
  HANDOFF_SCOUNTEREN,
  MENVCFG_STCE,
  type SbiMachineHart,
  type Access,
  type FenceRange,
  type FirmwareOptions,
  type HsmStateStore,
  type SbiHart,
  type SbiOutcome,
  type SbiPlatform,
  type SbiRegs,
  type SuspendRequest,
} from './firmware.js'
