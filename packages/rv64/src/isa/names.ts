/** ABI register names and the CSR names objdump uses. */
import { CSR } from '@honk/riscv'

export const REG = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'] as const

/** The name of every CSR objdump knows: {@link CSR}'s, and the numbered ranges (pmp, hpm). */
export const CSR_NAMES: ReadonlyMap<number, string> = new Map([
  ...Object.entries(CSR).map(([name, n]) => [n, name] as [number, string]),
  ...Array.from({ length: 16 }, (_, i) => [CSR.pmpcfg0 + i, `pmpcfg${i}`] as [number, string]),
  ...Array.from({ length: 64 }, (_, i) => [CSR.pmpaddr0 + i, `pmpaddr${i}`] as [number, string]),
  ...Array.from({ length: 29 }, (_, i) => [0xb03 + i, `mhpmcounter${i + 3}`] as [number, string]),
  ...Array.from({ length: 29 }, (_, i) => [0x323 + i, `mhpmevent${i + 3}`] as [number, string]),
  ...Array.from({ length: 29 }, (_, i) => [0xc03 + i, `hpmcounter${i + 3}`] as [number, string]),
])

export const CSR_BY_NAME: ReadonlyMap<string, number> = new Map([...CSR_NAMES].map(([n, s]) => [s, n]))
