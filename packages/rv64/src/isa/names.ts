/** ABI register names and the CSR names objdump uses. */
export const REG = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'] as const

export const CSR_NAMES: ReadonlyMap<number, string> = new Map([
  [0x001, 'fflags'], [0x002, 'frm'], [0x003, 'fcsr'],
  [0x100, 'sstatus'], [0x104, 'sie'], [0x105, 'stvec'], [0x106, 'scounteren'], [0x10a, 'senvcfg'],
  [0x140, 'sscratch'], [0x141, 'sepc'], [0x142, 'scause'], [0x143, 'stval'], [0x144, 'sip'], [0x14d, 'stimecmp'], [0x180, 'satp'],
  [0x300, 'mstatus'], [0x301, 'misa'], [0x302, 'medeleg'], [0x303, 'mideleg'], [0x304, 'mie'], [0x305, 'mtvec'], [0x306, 'mcounteren'], [0x30a, 'menvcfg'],
  [0x320, 'mcountinhibit'], [0x340, 'mscratch'], [0x341, 'mepc'], [0x342, 'mcause'], [0x343, 'mtval'], [0x344, 'mip'],
  [0xb00, 'mcycle'], [0xb02, 'minstret'], [0xc00, 'cycle'], [0xc01, 'time'], [0xc02, 'instret'],
  [0xf11, 'mvendorid'], [0xf12, 'marchid'], [0xf13, 'mimpid'], [0xf14, 'mhartid'], [0xf15, 'mconfigptr'],
  ...Array.from({ length: 16 }, (_, i) => [0x3a0 + i, `pmpcfg${i}`] as [number, string]),
  ...Array.from({ length: 64 }, (_, i) => [0x3b0 + i, `pmpaddr${i}`] as [number, string]),
  ...Array.from({ length: 29 }, (_, i) => [0xb03 + i, `mhpmcounter${i + 3}`] as [number, string]),
  ...Array.from({ length: 29 }, (_, i) => [0x323 + i, `mhpmevent${i + 3}`] as [number, string]),
  ...Array.from({ length: 29 }, (_, i) => [0xc03 + i, `hpmcounter${i + 3}`] as [number, string]),
])

export const CSR_BY_NAME: ReadonlyMap<string, number> = new Map([...CSR_NAMES].map(([n, s]) => [s, n]))
