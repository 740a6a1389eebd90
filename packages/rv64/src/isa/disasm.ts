/**
 * The disassembler, in GNU objdump's `-M no-aliases` style (ABI register names, decimal
 * immediates, hex shift amounts and U-immediates, CSR names). Branch and jump targets are
 * absolute hex addresses like objdump's (without the `<symbol>` part), or `.±offset` with
 * `{ relative: true }` (what the assembler reads back). A compressed instruction is shown as
 * its 32-bit expansion.
 */
import { expandCompressed } from '../rvc.js'
import { CSR_NAMES, REG } from './names.js'
import { FREG, matchOpcode, RM_NAMES } from './opcodes.js'

export interface DisasmOptions {
  /** Print branch/jump targets as `.+N` instead of absolute addresses. */
  relative?: boolean
}

const hex = (n: number | bigint) => n.toString(16)
const csrName = (n: number) => CSR_NAMES.get(n) ?? `0x${hex(n)}`
const FENCE_BITS = (v: number) => ['i', 'o', 'r', 'w'].filter((_, i) => v & (8 >> i)).join('') || '0'

function unknown(word: number): string {
  return (word & 3) === 3 ? `.word\t0x${hex(word >>> 0).padStart(8, '0')}` : `.short\t0x${hex(word & 0xffff).padStart(4, '0')}`
}

/** Disassembles one instruction (the low 16 bits alone for a compressed one). */
export function disassemble(word: number, pc = 0n, options: DisasmOptions = {}): string {
  const inst = (word & 3) === 3 ? word >>> 0 : expandCompressed(word & 0xffff)
  const e = inst === 0 ? undefined : matchOpcode(inst)
  if (!e) return unknown(word)
  const rd = REG[(inst >>> 7) & 31]!
  const rs1 = REG[(inst >>> 15) & 31]!
  const rs2 = REG[(inst >>> 20) & 31]!
  const immI = inst >> 20
  const fd = FREG[(inst >>> 7) & 31]!
  const fs1 = FREG[(inst >>> 15) & 31]!
  const fs2 = FREG[(inst >>> 20) & 31]!
  const f3 = (inst >>> 12) & 7
  const rm = f3 === 7 ? '' : `,${RM_NAMES[f3]}` // objdump omits dyn
  const target = (offset: number) => (options.relative ? (offset >= 0 ? `.+${offset}` : `.${offset}`) : hex(BigInt.asUintN(64, pc + BigInt(offset))))
  let name = e.name
  if (e.format === 'AMO' || e.format === 'LR') {
    const aq = (inst >>> 26) & 1
    const rl = (inst >>> 25) & 1
    name += aq && rl ? '.aqrl' : aq ? '.aq' : rl ? '.rl' : ''
  }
  let ops: string
  switch (e.format) {
    case 'R':
      ops = `${rd},${rs1},${rs2}`
      break
    case 'I':
      ops = `${rd},${rs1},${immI}`
      break
    case 'SH':
      ops = `${rd},${rs1},0x${hex((inst >>> 20) & 63)}`
      break
    case 'R1':
      ops = `${rd},${rs1}`
      break
    case 'L':
    case 'JALR':
      ops = `${rd},${immI}(${rs1})`
      break
    case 'S':
      ops = `${rs2},${((inst >> 25) << 5) | ((inst >>> 7) & 31)}(${rs1})`
      break
    case 'B':
      ops = `${rs1},${rs2},${target(((inst >> 31) << 12) | (((inst >>> 7) & 1) << 11) | (((inst >>> 25) & 0x3f) << 5) | (((inst >>> 8) & 0xf) << 1))}`
      break
    case 'U':
      ops = `${rd},0x${hex(inst >>> 12)}`
      break
    case 'J':
      ops = `${rd},${target(((inst >> 31) << 20) | (((inst >>> 12) & 0xff) << 12) | (((inst >>> 20) & 1) << 11) | (((inst >>> 21) & 0x3ff) << 1))}`
      break
    case 'CSR':
      ops = `${rd},${csrName(inst >>> 20)},${rs1}`
      break
    case 'CSRI':
      ops = `${rd},${csrName(inst >>> 20)},${(inst >>> 15) & 31}`
      break
    case 'AMO':
      ops = `${rd},${rs2},(${rs1})`
      break
    case 'LR':
    case 'HLV':
      ops = `${rd},(${rs1})`
      break
    case 'HSV':
      ops = `${rs2},(${rs1})`
      break
    case 'CBO':
      ops = `(${rs1})`
      break
    case 'FENCE':
      ops = `${FENCE_BITS((inst >>> 24) & 15)},${FENCE_BITS((inst >>> 20) & 15)}`
      break
    case 'SFENCE':
      ops = `${rs1},${rs2}`
      break
    case 'FL':
      ops = `${fd},${immI}(${rs1})`
      break
    case 'FS':
      ops = `${fs2},${((inst >> 25) << 5) | ((inst >>> 7) & 31)}(${rs1})`
      break
    case 'FR':
      ops = `${fd},${fs1},${fs2}`
      break
    case 'FRRM':
      ops = `${fd},${fs1},${fs2}${rm}`
      break
    case 'FR4':
      ops = `${fd},${fs1},${fs2},${FREG[inst >>> 27]!}${rm}`
      break
    case 'FR1RM':
      ops = `${fd},${fs1}${rm}`
      break
    case 'XFRM':
      ops = `${rd},${fs1}${rm}`
      break
    case 'XF':
      ops = `${rd},${fs1}`
      break
    case 'XFF':
      ops = `${rd},${fs1},${fs2}`
      break
    case 'FXRM':
      ops = `${fd},${rs1}${rm}`
      break
    case 'FX':
      ops = `${fd},${rs1}`
      break
    // Exact conversions: binutils 2.40 knows them only with rm = rne and shows others as data.
    case 'FR1_EXACT':
      if (f3 !== 0) return `.4byte\t0x${hex(inst)}`
      ops = `${fd},${fs1}`
      break
    case 'FX_EXACT':
      if (f3 !== 0) return `.4byte\t0x${hex(inst)}`
      ops = `${fd},${rs1}`
      break
    default:
      return name
  }
  return `${name}\t${ops}`
}
