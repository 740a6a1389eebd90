/**
 * The privileged architecture's numbers (RISC-V privileged spec 1.12): CSR addresses, the
 * mstatus/sstatus fields, the interrupt bits of mip/mie (and sip/sie) and the exception codes of
 * mcause/scause.
 */

/** CSR addresses (privileged spec 1.12, tables 2.2–2.5; the hypervisor and VS CSRs of chapter 8). */
export const CSR = {
  fflags: 0x001, frm: 0x002, fcsr: 0x003,
  sstatus: 0x100, sie: 0x104, stvec: 0x105, scounteren: 0x106, senvcfg: 0x10a,
  sscratch: 0x140, sepc: 0x141, scause: 0x142, stval: 0x143, sip: 0x144, stimecmp: 0x14d, satp: 0x180,
  vsstatus: 0x200, vsie: 0x204, vstvec: 0x205, vsscratch: 0x240, vsepc: 0x241, vscause: 0x242, vstval: 0x243, vsip: 0x244, vstimecmp: 0x24d, vsatp: 0x280,
  hstatus: 0x600, hedeleg: 0x602, hideleg: 0x603, hie: 0x604, htimedelta: 0x605, hcounteren: 0x606, hgeie: 0x607, henvcfg: 0x60a,
  htval: 0x643, hip: 0x644, hvip: 0x645, htinst: 0x64a, hgatp: 0x680, hgeip: 0xe12,
  mstatus: 0x300, misa: 0x301, medeleg: 0x302, mideleg: 0x303, mie: 0x304, mtvec: 0x305, mcounteren: 0x306,
  menvcfg: 0x30a, mcountinhibit: 0x320, mscratch: 0x340, mepc: 0x341, mcause: 0x342, mtval: 0x343, mip: 0x344, mtinst: 0x34a, mtval2: 0x34b,
  pmpcfg0: 0x3a0, pmpaddr0: 0x3b0,
  tselect: 0x7a0, tdata1: 0x7a1, tdata2: 0x7a2, tdata3: 0x7a3, tinfo: 0x7a4,
  mcycle: 0xb00, minstret: 0xb02, cycle: 0xc00, time: 0xc01, instret: 0xc02,
  mvendorid: 0xf11, marchid: 0xf12, mimpid: 0xf13, mhartid: 0xf14, mconfigptr: 0xf15,
} as const

/** The name of a CSR in {@link CSR}. */
export type CsrName = keyof typeof CSR

/** mstatus fields (§3.1.6), as masks. */
export const MSTATUS = {
  SIE: 1n << 1n, MIE: 1n << 3n, SPIE: 1n << 5n, UBE: 1n << 6n, MPIE: 1n << 7n, SPP: 1n << 8n,
  MPP: 3n << 11n, FS: 3n << 13n, MPRV: 1n << 17n, SUM: 1n << 18n, MXR: 1n << 19n, TVM: 1n << 20n, TW: 1n << 21n, TSR: 1n << 22n,
  UXL: 3n << 32n, SXL: 3n << 34n, GVA: 1n << 38n, MPV: 1n << 39n, SD: 1n << 63n,
} as const

/** hstatus fields (§8.2.1), as masks. VSXL is 2 (64-bit) on RV64; VGEIN selects a guest external interrupt. */
export const HSTATUS = {
  VSBE: 1n << 5n, GVA: 1n << 6n, SPV: 1n << 7n, SPVP: 1n << 8n, HU: 1n << 9n, VGEIN: 0x3fn << 12n,
  VTVM: 1n << 20n, VTW: 1n << 21n, VTSR: 1n << 22n, VSXL: 3n << 32n,
} as const

/** hgatp (§8.2.10): MODE (bits 63:60: 0 Bare, 8 Sv39x4, 9 Sv48x4, 10 Sv57x4), VMID (57:44), PPN (43:0). */
export const HGATP = { MODE_SHIFT: 60n, VMID: 0x3fffn << 44n, PPN: (1n << 44n) - 1n } as const

/** sstatus (§4.1.1): the S-level view of mstatus, the same bits at the same places. */
export const SSTATUS = {
  SIE: MSTATUS.SIE, SPIE: MSTATUS.SPIE, UBE: MSTATUS.UBE, SPP: MSTATUS.SPP, FS: MSTATUS.FS,
  SUM: MSTATUS.SUM, MXR: MSTATUS.MXR, UXL: MSTATUS.UXL, SD: MSTATUS.SD,
} as const

/**
 * menvcfg fields (§3.1.18): FIOM, CBIE (2 bits: 01 = flush), CBCFE, CBZE, PBMTE (Svpbmt) and
 * STCE (Sstc: S-mode's own timer, `stimecmp`).
 */
export const MENVCFG = { FIOM: 1n << 0n, CBIE: 3n << 4n, CBIE_FLUSH: 1n << 4n, CBCFE: 1n << 6n, CBZE: 1n << 7n, PBMTE: 1n << 62n, STCE: 1n << 63n } as const

/**
 * Interrupt numbers: the bit of each in mip/mie (sip/sie for the S ones), and the code in
 * mcause/scause when the interrupt bit is set (§3.1.9, table 3.6).
 */
export const IRQ = { SSI: 1, VSSI: 2, MSI: 3, STI: 5, VSTI: 6, MTI: 7, SEI: 9, VSEI: 10, MEI: 11, SGEI: 12 } as const

/** One of the {@link IRQ} numbers. */
export type Irq = (typeof IRQ)[keyof typeof IRQ]

/** The mask of interrupt `irq` in mip/mie/sip/sie/mideleg: `1n << irq`. */
export const irqMask = (irq: number): bigint => 1n << BigInt(irq)

/** Exception codes (mcause/scause with the interrupt bit clear; §3.1.15, table 3.6). */
export const CAUSE = {
  MISALIGNED_FETCH: 0, FETCH_ACCESS: 1, ILLEGAL: 2, BREAKPOINT: 3, MISALIGNED_LOAD: 4, LOAD_ACCESS: 5,
  MISALIGNED_STORE: 6, STORE_ACCESS: 7, ECALL_U: 8, ECALL_S: 9, ECALL_M: 11, FETCH_PAGE: 12, LOAD_PAGE: 13, STORE_PAGE: 15,
  // The hypervisor extension (§8.6.1): an ecall from VS-mode, guest-page faults, virtual instruction.
  ECALL_VS: 10, FETCH_GUEST_PAGE: 20, LOAD_GUEST_PAGE: 21, VIRTUAL_INSTRUCTION: 22, STORE_GUEST_PAGE: 23,
} as const

/** The interrupt bit of a 64-bit mcause/scause (bit XLEN-1): set for an interrupt, clear for an exception. */
export const CAUSE_INTERRUPT = 1n << 63n

/** The mask of exception `cause` in medeleg: `1n << cause`. */
export const causeMask = (cause: number): bigint => 1n << BigInt(cause)
