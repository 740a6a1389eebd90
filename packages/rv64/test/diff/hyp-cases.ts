/**
 * The hand-written hypervisor-extension cases (hyp.system.test.ts): each body runs on QEMU
 * (`-cpu rv64,h=true`) and on our hart (`hypervisor: true`); the trap log and every register must
 * match. Values written to WARL fields are legal ones: QEMU 7.2 stores some illegal values that
 * the spec says must not stick (hstatus, vsstatus, hgatp, hcounteren reserved bits), and misreads
 * vsip.STIP/SEIP (it shows only SSIP); those are checked by the unit tests (src/hyp.test.ts).
 */
import { enter, EPILOGUE, PRELUDE, pte, toM } from './hyp-asm.js'

const body = (text: string): string => `${PRELUDE}\n${text}\n${EPILOGUE}`

/** G stage (Sv39x4) over a 16-page matrix of every R/W/X/U combination, with faults at each level. */
const G_TABLES = [
  // Root (16 KiB, 2048 entries of 1 GiB): 0 devices, 2 RAM (identity, U, RWX), 4 → the test tree,
  // 5 invalid, 6 a gigapage without U, 7 a misaligned gigapage.
  pte('g_root', 0, 'li t2, 0', 0xd7),
  pte('g_root', 2, 'li t2, 0x80000000', 0xdf),
  pte('g_root', 4, 'la t2, g_l1', 0x01),
  pte('g_root', 6, 'li t2, 0x80000000', 0xcf),
  pte('g_root', 7, 'li t2, 0x80200000', 0xdf),
  // Level 1: 0 → the matrix, 1 invalid, 2 a misaligned megapage, 3 → a level-0 table of nothing.
  pte('g_l1', 0, 'la t2, g_l0', 0x01),
  pte('g_l1', 2, 'li t2, 0x80001000', 0xdf),
  pte('g_l1', 3, 'la t2, g_empty', 0x01),
  // Level 0: page i has R/W/X from i & 7 and U from i & 8, A and D clear (set by the hart).
  `la t4, g_pages; li t5, 0
   1: srli t3, t4, 12; slli t3, t3, 10
      andi t6, t5, 7; slli t6, t6, 1; or t3, t3, t6
      andi t6, t5, 8; slli t6, t6, 1; or t3, t3, t6
      ori t3, t3, 1
      la t6, g_l0; slli t0, t5, 3; add t6, t6, t0; sd t3, 0(t6)
      li t0, 0x8067; sw t0, 0(t4); sd t5, 8(t4)     # each page: ret, then its index
      li t6, 4096; add t4, t4, t6; addi t5, t5, 1; li t6, 16; blt t5, t6, 1b`,
].join('\n')

const G_DATA = `
    .section .bss
    .align 14
g_root: .space 16384
g_top: .space 16384
g_l1: .space 4096
g_l0: .space 4096
g_empty: .space 4096
g_pages: .space 16 * 4096
    .text`

const HGATP_SV39X4 = `la t0, g_root; srli t0, t0, 12; li t1, 8; slli t1, t1, 60; or t0, t0, t1; li t1, 7; slli t1, t1, 44; or t0, t0, t1; csrw hgatp, t0; hfence.gvma`

/** Loads and a store at each page of the G matrix (GPA 0x1_0000_0000 + i * 4 KiB) and the faulting regions, from VS with vsatp Bare. */
const G_PROBES = `
    li s2, 0x100000000; li s3, 0; li s4, 0
    3: li a0, 0
       ld a0, 8(s2)
       sd s3, 16(s2)
       add s4, s4, a0
       li t0, 4096; add s2, s2, t0; addi s3, s3, 1; li t0, 16; blt s3, t0, 3b
    li s2, 0x100200008; ld a1, 0(s2)        # level 1 invalid
    li s2, 0x100400010; sd a1, 0(s2)        # a misaligned megapage
    li s2, 0x100600018; ld a2, 0(s2)        # level 0 empty
    li s2, 0x140000020; ld a3, 0(s2)        # root invalid
    li s2, 0x180000028; ld a4, 0(s2)        # no U
    li s2, 0x1c0000030; ld a5, 0(s2)        # a misaligned gigapage
    li s2, 0x20000000038; ld a6, 0(s2)      # beyond the 41 bits of Sv39x4
    li s2, 0x100005000; jal ra, 4f; j 5f     # execute from an R-X page without U: fault
    4: jr s2
    5: li s2, 0x10000d000; jal ra, 6f; j 7f  # U, R-X (page 13 = 8 | 5): runs its ret
    6: jr s2
    7: nop`

/**
 * VS stage (Sv39, in guest physical memory that the G stage maps 1:1 over RAM): VA 0x8000_0000
 * 1 GiB → GPA 0x8000_0000 (the code, the handlers, the log); VA 0x4000_0000 + i * 4 KiB for i < 16
 * → the G matrix page i (VS RWX, so the G stage decides); for i in 16..31 → VS page i - 16, with
 * R/W/X/U from its index (A and D clear); VA 0x4020_0000 → a level-0 table at GPA 0x1_4000_0000
 * (no G mapping: an implicit guest-page fault); VA 0x4040_0000 → a table in G page 12 (U, X
 * only: its PTEs cannot be read); VA 0xc000_0000 → a misaligned gigapage.
 */
const VS_TABLES = [
  pte('vs_root', 2, 'li t2, 0x80000000', 0xcf),
  pte('vs_root', 1, 'la t2, vs_l1', 0x01),
  pte('vs_root', 3, 'li t2, 0x80001000', 0xcf),
  pte('vs_l1', 0, 'la t2, vs_l0', 0x01),
  pte('vs_l1', 1, 'li t2, 0x140000000', 0x01),
  pte('vs_l1', 2, 'li t2, 0x10000c000', 0x01),
  `li t4, 0x100000000; li t5, 0
   1: srli t3, t4, 12; slli t3, t3, 10; ori t3, t3, 0xf
      la t6, vs_l0; slli t0, t5, 3; add t6, t6, t0; sd t3, 0(t6)
      li t6, 4096; add t4, t4, t6; addi t5, t5, 1; li t6, 16; blt t5, t6, 1b
   la t4, vs_pages; li t5, 0
   1: srli t3, t4, 12; slli t3, t3, 10
      andi t6, t5, 7; slli t6, t6, 1; or t3, t3, t6
      andi t6, t5, 8; slli t6, t6, 1; or t3, t3, t6
      ori t3, t3, 1
      la t6, vs_l0; addi t0, t5, 16; slli t0, t0, 3; add t6, t6, t0; sd t3, 0(t6)
      li t0, 0x8067; sw t0, 0(t4); addi t0, t5, 0x100; sd t0, 8(t4)
      li t6, 4096; add t4, t4, t6; addi t5, t5, 1; li t6, 16; blt t5, t6, 1b`,
].join('\n')

const VS_DATA = `
    .section .bss
    .align 12
vs_root: .space 4096
vs_top: .space 4096
vs_l1: .space 4096
vs_l0: .space 4096
vs_pages: .space 16 * 4096
    .text`

const VSATP = (mode: string, root: string) => `la t0, ${root}; srli t0, t0, 12; li t1, ${mode}; slli t1, t1, 60; or t0, t0, t1; li t1, 3; slli t1, t1, 44; or t0, t0, t1; csrw vsatp, t0`

/** Loads and stores over the 32 VS pages, the faulting VS regions, and fetches; labels numbered from `n * 10`. */
const VS_PROBES = (n: number): string => {
  const l = (k: number) => n * 10 + k
  return `
    li s2, 0x40000000; li s3, 0; li s4, 0
    ${l(0)}: li a0, 0
       ld a0, 8(s2)
       sd s3, 16(s2)
       add s4, s4, a0
       li t0, 4096; add s2, s2, t0; addi s3, s3, 1; li t0, 32; blt s3, t0, ${l(0)}b
    li s2, 0x40200008; ld a1, 0(s2)         # VS table at an unmapped GPA: implicit guest-page fault
    li s2, 0x40400010; ld a1, 0(s2)         # VS table in an execute-only G page
    # (Loads only: QEMU 7.2 reports an implicit fault of a store or fetch as a load guest-page fault.)
    li s2, 0xc0000018; ld a2, 0(s2)         # misaligned VS gigapage
    li s2, 0x4000000020; ld a3, 0(s2)       # not canonical for Sv39
    li s2, 0x40015000; jal ra, ${l(1)}f; j ${l(2)}f       # VS page 5: R-X, no U
    ${l(1)}: jr s2
    ${l(2)}: li s2, 0x4001d000; jal ra, ${l(3)}f; j ${l(4)}f   # VS page 13: U, R-X
    ${l(3)}: jr s2
    ${l(4)}: li s2, 0x4000c000; jal ra, ${l(5)}f; j ${l(6)}f   # G page 12: U, X only
    ${l(5)}: jr s2
    ${l(6)}: nop`
}

/**
 * HLV/HLVX/HSV over the VS pages (VA 0x4001_0000 + j * 4 KiB: R/W/X/U from j) as VS (`vs`: hstatus.SPVP
 * set) or VU, summed into `r`, then G-stage and implicit guest-page faults. (No VS-stage page
 * faults and no HLVX here: QEMU 7.2 reports those as access faults; nor an HLV from U without
 * hstatus.HU, whose tval it leaves 0. src/hyp.test.ts checks them.)
 */
const HLV_PROBES = (r: string, vs: boolean, n: number): string => `
    li ${r}, 0
    ${vs ? `
    li s2, 0x40011008; li a0, 0; hlv.d a0, (s2); add ${r}, ${r}, a0           # VS page 1: R
    li s2, 0x40017008; li a0, 0; hlv.b a0, (s2); add ${r}, ${r}, a0           # VS page 7: RWX
    li s2, 0x40013010; li a0, ${n}; hsv.h a0, (s2); hlv.hu a0, (s2); add ${r}, ${r}, a0   # VS page 3: RW
    li s2, 0x40000008; hlv.b a0, (s2)                                         # G page 0: guest-page fault
    li s2, 0x40001010; hsv.b a0, (s2)                                         # G page 1 (R): store guest-page fault
    li s2, 0x40003008; li a0, 0; hlv.w a0, (s2); add ${r}, ${r}, a0           # G page 3 (RW)` : `
    li s2, 0x40019008; li a0, 0; hlv.d a0, (s2); add ${r}, ${r}, a0           # VS page 9: U R
    li s2, 0x4001f008; li a0, 0; hlv.bu a0, (s2); add ${r}, ${r}, a0          # VS page 15: U RWX
    li s2, 0x4001b010; li a0, ${n}; hsv.d a0, (s2); hlv.wu a0, (s2); add ${r}, ${r}, a0   # VS page 11: U RW`}
    li s2, 0x40200008; hlv.wu a0, (s2)                                        # an unmapped VS table: implicit guest-page fault`

export const CASES: Record<string, string> = {
  'H CSRs: legal values read back, read-only and WARL fields': body(`
    li t0, 0x7003c0; csrw hstatus, t0; csrr s2, hstatus        # VTSR VTW VTVM HU SPVP SPV GVA, VSXL reads 64-bit
    csrw hstatus, zero; csrr s3, hstatus
    li t0, 0xb1ff; csrw hedeleg, t0; csrr s4, hedeleg
    li t0, 0x444; csrw hideleg, t0; csrr s5, hideleg
    li t0, 0x444; csrw hie, t0; csrr s6, hie; csrr s7, mie; csrw hie, zero
    li t0, 0x4; csrw hvip, t0; csrr s8, hvip; csrr s9, hip
    csrw hvip, zero; csrw hideleg, zero; csrw hedeleg, zero
    li t0, -1; csrw hgeie, t0; csrr s10, hgeie; csrr s11, hgeip
    li t0, 0x7; csrw hcounteren, t0; csrr a0, hcounteren; csrw hcounteren, zero
    li t0, 0x123456789; csrw htimedelta, t0; csrr a1, htimedelta; csrw htimedelta, zero
    li t0, 0x8000500000080004; csrw hgatp, t0; csrr a2, hgatp
    li t0, 0x9000000000080008; csrw hgatp, t0; csrr a3, hgatp; csrw hgatp, zero
    li t0, 0xc2122; csrw vsstatus, t0; csrr a4, vsstatus       # SIE SPIE SPP SUM MXR FS (Initial: QEMU 7.2 does not derive vsstatus.SD)
    csrw vsstatus, zero
    li t0, 0x80001001; csrw vstvec, t0; csrr a5, vstvec
    li t0, 0x80001002; csrw vsepc, t0; csrr a6, vsepc         # (QEMU 7.2 keeps an odd vsepc's bit 0)
    li t0, 0x8000000000000005; csrw vscause, t0; csrr a7, vscause
    li t0, 0xdeadbeef; csrw vstval, t0; csrr t3, vstval
    li t0, 0x8000a00000080123; csrw vsatp, t0; csrr t4, vsatp; csrw vsatp, zero
    li t0, 0x1234; csrw mtval2, t0; csrr t5, mtval2
    li t0, 0x3000; csrw mtinst, t0; csrr t6, mtinst
    csrr gp, misa
    li t0, 0xf0b3ff; csrw medeleg, t0; csrr tp, medeleg; csrw medeleg, zero
    csrr ra, mideleg
    li t0, 0xc000000000; csrs mstatus, t0; csrr t1, mstatus; and t1, t1, t0; or tp, tp, t1; csrc mstatus, t0   # MPV, GVA`),

  'VS mode: S CSRs reach the VS CSRs, H CSRs raise virtual-instruction exceptions, traps go M → HS → VS': body(`
    li t0, 0x1111; csrw vsscratch, t0
    li t0, 0x2222; csrw sscratch, t0
    la t0, h_vssave; csrw vsscratch, t0
    la t0, h_ssave; csrw sscratch, t0
    ${enter('vs', '1f')}
    1: csrr a0, sscratch          # vsscratch (the VS handler's save area)
       csrr a1, stvec             # vstvec
       csrr a2, sstatus           # vsstatus
       csrr a3, satp              # vsatp
       csrr a4, hstatus           # virtual instruction → M
       csrr a5, mstatus           # illegal → M
       csrr a6, vsstatus          # virtual instruction
       csrr a7, scounteren        # not redirected: the real scounteren
    ${toM(2)}
    li t0, 0x400000; csrw medeleg, t0        # virtual instruction → HS
    li t0, 0x8; csrs medeleg, t0; csrw hedeleg, t0   # breakpoint → HS → VS (not illegal: QEMU 7.2 turns a VS exception 2 into 1)
    ${enter('vs', '3f')}
    3: csrr s2, hgatp             # virtual instruction → HS
       ebreak                     # → VS
       csrw sepc, zero; csrr s3, sepc   # vsepc
       .word 0                    # illegal, not delegated: M
    ${toM(4)}
    csrw medeleg, zero; csrw hedeleg, zero
    csrr s4, vsepc; csrr s5, sepc; csrr s6, vscause; csrr s7, scause; csrr s8, hstatus`),

  'VU mode: S CSRs and counters (hcounteren, scounteren) raise virtual-instruction exceptions; ecalls': body(`
    li t0, 0x5; csrw mcounteren, t0
    li t0, 0x1; csrw hcounteren, t0
    csrw scounteren, zero
    ${enter('vu', '1f')}
    # (Not here, as QEMU 7.2 raises illegal-instruction where the spec says virtual instruction: an
    # S CSR, SRET, SFENCE.VMA or HFENCE in VU. src/hyp.test.ts checks those.)
    1: csrr a1, cycle             # mcounteren and hcounteren yes, scounteren no: virtual
       csrr a2, time              # mcounteren no: illegal
       csrr a3, instret           # hcounteren no: virtual
       csrr a4, hstatus           # virtual
       wfi                        # virtual (VU, TW = 0)
       mret                       # illegal
    ${toM(2)}
    li t0, 1; csrw scounteren, t0
    ${enter('vu', '3f')}
    3: csrr a6, cycle
       sub a6, a6, a6
    ${toM(4)}
    ${enter('vs', '5f')}
    5: la a7, 6f; ecall           # ecall from VS: cause 10
    6: nop
    ${enter('hs', '7f')}
    7: la a7, 8f; ecall           # ecall from HS: cause 9
    8: csrw mcounteren, zero; csrw scounteren, zero; csrw hcounteren, zero`),

  'VTSR, VTW, VTVM and TW: virtual-instruction and illegal-instruction exceptions in VS': body(`
    li t0, 0x700000; csrw hstatus, t0          # VTSR VTW VTVM
    ${enter('vs', '1f')}
    # (Not here: satp under VTVM, which QEMU 7.2 lets through, and HFENCE/HLV/HSV, whose tval it
    # leaves stale. src/hyp.test.ts checks those.)
    1: sret                      # VTSR: virtual
       wfi                       # VTW: virtual
       sfence.vma                # VTVM: virtual
    ${toM(2)}
    csrw hstatus, zero
    li t0, 0x200000; csrs mstatus, t0          # TW: WFI illegal below M (VS too)
    ${enter('vs', '3f')}
    3: wfi
       csrr a1, satp             # allowed now: vsatp
    ${toM(4)}
    li t0, 0x200000; csrc mstatus, t0
    li t0, 0x100000; csrs mstatus, t0          # TVM affects HS (not VS, §8.2; QEMU 7.2 applies it to VS too: src/hyp.test.ts)
    ${enter('hs', '7f')}
    7: sfence.vma                # HS under TVM: illegal
       hfence.gvma               # HS under TVM: illegal
       hfence.vvma               # allowed
       csrr a3, satp             # illegal
    ${toM(8)}
    li t0, 0x100000; csrc mstatus, t0`),

  'SRET and MRET with SPV/MPV; trap entry records SPV, SPVP, MPV and GVA': body(`
    # HS → VS by SRET with hstatus.SPV, then a trap back to HS records SPV and SPVP.
    li t0, 0x400000; csrw medeleg, t0            # virtual instruction → HS
    ${enter('hs', '1f')}
    1: li t0, 0x80; csrs hstatus, t0             # SPV
       li t0, 0x100; csrs sstatus, t0            # SPP = S → VS
       la t0, 2f; csrw sepc, t0; sret
    2: csrr a0, hstatus                          # virtual → HS (SPV, SPVP = 1)
       li t0, 0; csrr a1, hgatp                  # again
    ${toM(3)}
    csrr s2, hstatus
    # VU through SRET from HS (SPP = U) records SPVP = 0.
    ${enter('hs', '4f')}
    4: li t0, 0x80; csrs hstatus, t0
       li t0, 0x100; csrc sstatus, t0
       la t0, 5f; csrw sepc, t0; sret
    5: csrr a2, vsatp                            # VU: virtual → HS
    ${toM(6)}
    csrr s3, hstatus; csrw medeleg, zero
    # MRET with MPV and MPP = S → VS; a fault there: mstatus.MPV and GVA in M.
    ${enter('vs', '7f')}
    7: li t0, 0x90000000; ld a3, 0(t0)           # access fault, GPA = VA: GVA
       csrr a4, hstatus                          # virtual: no GVA
    ${toM(8)}
    csrw hstatus, zero`),

  'interrupts: hvip injects VSSIP/VSTIP/VSEIP, to VS through hideleg (as S-level causes), else to HS': body(`
    # Each interrupt is pending before the mode switch; ra holds where its handler resumes (the
    # spin loop's exit), so the log does not depend on when exactly it is taken.
    li t0, 0x1444; csrw mie, t0                  # VSSIE VSTIE VSEIE SGEIE
    li t0, 0x4; csrw hideleg, t0                 # VSSI → VS
    li t0, 0x2; csrw vsie, t0                    # vsie.SSIE = VSSIE
    li t0, 0x2; csrw vsstatus, t0                # vsstatus.SIE
    li t0, 0x4; csrw hvip, t0                    # VSSIP
    la ra, 2f
    ${enter('vs', '1f')}
    1: j 1b                                      # the interrupt ends the loop (VS handler: sepc ← ra)
    2: csrr a0, sip                              # VSSIP cleared by the handler through sip
       # (No sie read in VS: QEMU 7.2 masks vsie there with mideleg's S bits.)
    ${toM(4)}
    csrr a2, hvip
    li t0, 0x40; csrw hvip, t0                   # VSTIP, not delegated by hideleg: HS
    la ra, 6f
    ${enter('vs', '5f')}
    5: j 5b
    6: nop
    ${toM(8)}
    li t0, 0x400; csrw hvip, t0                  # VSEIP, HS, taken in VU
    la ra, 10f
    ${enter('vu', '9f')}
    9: j 9b
    10: nop
    ${toM(12)}
    li t0, 0x400; csrw hvip, t0; csrw hideleg, t0
    li t0, 0x200; csrw vsie, t0                  # vsie.SEIE = VSEIE
    li t0, 0x2; csrw vsstatus, t0                # vsstatus.SIE (the VS handler returned with it off)
    la ra, 14f
    ${enter('vs', '13f')}
    13: j 13b
    14: csrw sstatus, zero                       # SIE off: VSEIP (still pending) waits
    ${toM(16)}
    csrr a1, vsie                                # (not vsip: QEMU 7.2 shows only its SSIP)
    li t0, 0x2; csrw mideleg, t0                 # HS-level SSIP, pending: taken in VS whatever sstatus.SIE (V = 1)
    li t0, 0x2; csrs mie, t0; csrs mip, t0; csrw hideleg, zero; csrw hvip, zero
    la ra, 18f
    ${enter('vs', '17f')}
    17: j 17b
    18: nop
    ${toM(20)}
    csrw hvip, zero; csrw hideleg, zero; csrw mie, zero; csrw vsie, zero; csrw vsstatus, zero; csrw mideleg, zero; csrw mip, zero`),

  'G stage Sv39x4 (vsatp Bare): every R/W/X/U combination, guest-page faults at every level, A/D, to M then to HS': body(`
    ${G_TABLES}
    ${HGATP_SV39X4}
    ${enter('vs', '1f')}
    1: ${G_PROBES}
    ${toM(2)}
    la t0, g_l0; ld s5, 0(t0); ld s6, 8(t0); ld s7, 56(t0); ld s8, 96(t0); ld s9, 120(t0)
    li t0, 0xb00000; csrw medeleg, t0            # guest-page faults → HS
    ${enter('vu', '3f')}
    3: ${G_PROBES.replaceAll(/\b([3-7]):/g, '1$1:').replaceAll(/\b([3-7])([fb])\b/g, '1$1$2')}
    ${toM(4)}
    csrw medeleg, zero; csrw hgatp, zero; hfence.gvma
    ${G_DATA}`),

  'VS stage Sv39 over G stage Sv39x4: page faults, implicit guest-page faults on VS PTEs, A/D on both stages, delegation to HS and VS': body(`
    ${G_TABLES}
    ${VS_TABLES}
    ${HGATP_SV39X4}
    ${VSATP('8', 'vs_root')}
    ${enter('vs', '1f')}
    1: ${VS_PROBES(1)}
    ${toM(2)}
    la t0, vs_l0; ld s5, 0(t0); ld s6, 8(t0); ld s7, 128(t0); ld s8, 168(t0); ld s9, 200(t0)
    la t0, g_l0; ld s10, 8(t0); ld s11, 72(t0)
    hfence.gvma                                  # (QEMU 7.2 keeps a fetch's permissions for later loads)
    li t0, 0xb0b000; csrw medeleg, t0            # page faults and guest-page faults → HS
    li t0, 0xb000; csrw hedeleg, t0              # page faults → VS
    ${enter('vs', '3f')}
    3: ${VS_PROBES(2)}
    ${toM(4)}
    hfence.gvma
    li t0, 0x40000; csrs vsstatus, t0            # SUM: U pages readable from VS (not MXR: QEMU 7.2 applies vsstatus.MXR to the G stage too)
    ${enter('vs', '5f')}
    5: ${VS_PROBES(3)}
    ${toM(6)}
    csrw vsstatus, zero
    csrw medeleg, zero; csrw hedeleg, zero; csrw hgatp, zero; csrw vsatp, zero; hfence.gvma
    la t0, vs_l0; ld a0, 136(t0); ld a1, 176(t0)
    ${G_DATA}
    ${VS_DATA}`),

  'HLV, HLVX, HSV from HS and U (hstatus.SPVP, HU): two-stage translation, guest-page faults': body(`
    ${G_TABLES}
    ${VS_TABLES}
    ${HGATP_SV39X4}
    ${VSATP('8', 'vs_root')}
    # (Not from M, and no MPRV with MPV: QEMU 7.2 translates neither. src/hyp.test.ts checks those.)
    li t0, 0xb00000; csrw medeleg, t0            # guest-page faults → HS
    ${enter('hs', '1f')}
    1: li t0, 0x100; csrs hstatus, t0            # SPVP: as VS
       ${HLV_PROBES('s3', true, 1)}
       li t0, 0x100; csrc hstatus, t0            # as VU
       ${HLV_PROBES('s4', false, 2)}
    ${toM(2)}
    csrw medeleg, zero
    li t0, 0x200; csrs hstatus, t0               # HU
    ${enter('u', '5f')}
    5: ${HLV_PROBES('s5', false, 3)}
    ${toM(6)}
    csrw hstatus, zero; csrw hgatp, zero; csrw vsatp, zero; hfence.gvma
    la t0, vs_l0; ld a0, 136(t0); ld a1, 184(t0); la t0, g_l0; ld a2, 8(t0); ld a3, 24(t0)
    ${G_DATA}
    ${VS_DATA}`),
}

/**
 * Sv48 over Sv48x4: the same VS-stage case with one more level at both stages (each new root's
 * entry 0 → the Sv39-style tree; the G stage's top table is 16 KiB, 2048 entries).
 */
const SV39_VS_CASE = 'VS stage Sv39 over G stage Sv39x4: page faults, implicit guest-page faults on VS PTEs, A/D on both stages, delegation to HS and VS'
CASES['VS stage Sv48 over G stage Sv48x4: a fourth level at both stages'] = CASES[SV39_VS_CASE]!
  .replace(HGATP_SV39X4, `${pte('g_top', 0, 'la t2, g_root', 0x01)}\n${HGATP_SV39X4.replace('la t0, g_root', 'la t0, g_top').replace('li t1, 8;', 'li t1, 9;')}`)
  .replace(VSATP('8', 'vs_root'), `${pte('vs_top', 0, 'la t2, vs_root', 0x01)}\n${VSATP('9', 'vs_top')}`)

/**
 * Extensions QEMU's virt CPU offers that guests probe, run with `-cpu rv64,h=true,svinval=true,svpbmt=true`
 * (QEMU 7.2 has no Zicbom/Zicboz or Zicond, implements two debug triggers where this hart has
 * none, and does not fault on PBMT = 3 or on PBMT with menvcfg.PBMTE clear, and lets U execute
 * SFENCE.W.INVAL: src/ext.test.ts checks those).
 */
export const EXT_CASES: Record<string, string> = {
  'Zbc, Svinval and Svpbmt (PBMT in leaves with menvcfg.PBMTE; reserved elsewhere)': body(`
    li a0, 0x8899aabbccddeeff; li a1, 0x123456789abcdef1
    clmul s2, a0, a1; clmulh s3, a0, a1; clmulr s4, a0, a1; clmul s5, a1, a1; clmulh s6, a0, a0
    ${pte('x_root', 2, 'li t2, 0x80000000', 0xcf | 0)}
    la t0, x_root; li t1, 1; slli t1, t1, 61; ld t2, 16(t0); or t2, t2, t1; sd t2, 16(t0)   # RAM gigapage: PBMT = NC
    ${pte('x_root', 0, 'li t2, 0', 0xc7)}
    ${pte('x_root', 3, 'li t2, 0x80000000', 0xcf)}
    la t0, x_root; li t1, 3; slli t1, t1, 61; ld t2, 24(t0); or t2, t2, t1; sd t2, 24(t0)   # PBMT = 3: reserved
    ${pte('x_root', 1, 'la t2, x_l1', 0x01)}
    la t0, x_root; li t1, 1; slli t1, t1, 61; ld t2, 8(t0); or t2, t2, t1; sd t2, 8(t0)     # PBMT on a non-leaf: reserved
    ${pte('x_l1', 0, 'li t2, 0x80000000', 0xcf)}
    li t0, 1; slli t0, t0, 62; csrs menvcfg, t0                                           # PBMTE
    la t0, x_root; srli t0, t0, 12; li t1, 8; slli t1, t1, 60; or t0, t0, t1; csrw satp, t0; sfence.vma
    ${enter('hs', '1f')}
    1: la s7, scratch; ld a2, 0(s7)              # through the NC gigapage
       li t0, 0x40000000; ld a4, 0(t0)           # PBMT on a non-leaf: page fault
       sinval.vma zero, zero; sfence.w.inval; sfence.inval.ir; sinval.vma s7, zero
       hinval.vvma zero, zero; hinval.gvma zero, zero
    ${toM(2)}
    li t0, 1; slli t0, t0, 62; csrc menvcfg, t0
    csrw satp, zero; sfence.vma
    .section .bss
    .align 12
x_root: .space 4096
x_l1: .space 4096
    .text`),
}

