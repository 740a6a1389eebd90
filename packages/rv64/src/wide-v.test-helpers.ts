/** The Sv57-over-Sv57x4 guest set-up shared by wide-v.test.ts and bench/wide-v.ts. */
import { CSR, assemble, type System } from './index.js'

export const BASE = 0x8000_0000
export const RAM = 8 << 20
export const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
/** Page tables: the G stage's (Sv57x4, a 16 KiB root) and the VS stage's (Sv57), all in [PT_LO, PT_HI). */
export const PT_LO = BASE + (1 << 20)
export const PT_HI = BASE + (2 << 20)
export const GROOT = PT_LO
export const DATA = BASE + (3 << 20)
/** Wide guest pages (beyond ±2^53: NaN as a number), a positive wide one, and narrow ones. */
export const WIDE = 0xff60_0000_1234_5000n
// Also a non-canonical address (bit 56 set, 63:57 clear: a page fault) whose table entries are
// those of its canonical alias 0xff00….
export const PAGES = [WIDE, WIDE + 0x1000n, 0x00ff_ffff_8765_4000n, 0x4000_0000n, 0x4000_1000n, -0x8000_0000n + 0x10_0000n, 0xff00_0000_0000_3000n, 0x0100_0000_0000_3000n] as const

/**
 * A hart in VS mode: G stage Sv57x4 identity over the RAM's gigapage (U RWX), VS stage Sv57 with
 * the code's gigapage identity and each of `PAGES` (4 KiB) → DATA + 4 KiB × its index.
 */
export function guest(sys: System, source = 'nop', host = false) {
  const wr = (pa: number, v: bigint) => sys.bus.write(pa, 8, v)
  const prog = assemble(source, { base: BASE })
  sys.bus.writeBytes(BASE, prog.bytes)
  let next = GROOT + 0x4000
  const table = () => ((next += 0x1000), next - 0x1000)
  // G stage (hgatp mode 10): root[0] → L3, L3[0] → L2, L2[2] = the gigapage at 0x8000_0000.
  const g3 = table()
  const g2 = table()
  wr(GROOT, (BigInt(g3 >>> 12) << 10n) | V)
  wr(g3, (BigInt(g2 >>> 12) << 10n) | V)
  wr(g2 + 16, (0x80000n << 10n) | V | R | W | X | U | A | D)
  const vsRoot = table()
  /** The PTE address of `va`'s entry at `level` (allocating tables down to it). */
  const entry = (va: bigint, level: number): number => {
    let t = vsRoot
    for (let l = 4; ; l--) {
      const at = t + Number((BigInt.asUintN(64, va) >> BigInt(12 + 9 * l)) & 511n) * 8
      if (l === level) return at
      let pte = sys.bus.read(at, 8)!
      if (!(pte & V)) {
        pte = (BigInt(table() >>> 12) << 10n) | V
        wr(at, pte)
      }
      t = Number(pte >> 10n) * 4096
    }
  }
  wr(entry(BigInt(BASE), 2), (0x80000n << 10n) | V | R | W | X | A | D)
  const leaf = PAGES.map((va) => entry(va, 0))
  leaf.forEach((at, k) => wr(at, (BigInt((DATA >>> 12) + k) << 10n) | V | R | W | A | D))
  if (next > PT_HI) throw new Error('page tables overflow their region')
  const hart = sys.harts[0]!
  if (prog.symbols.has('trap')) hart.setCsr(CSR.mtvec, BigInt(prog.symbols.get('trap')!))
  hart.pc = BASE
  if (host) {
    // `host`: no guest; the same tables are the host's own Sv57 ones (satp), in S-mode.
    hart.setCsr(CSR.satp, (10n << 60n) | (BigInt(vsRoot) >> 12n))
    hart.setVirt(false, 1)
  } else {
    hart.setCsr(CSR.hgatp, (10n << 60n) | (BigInt(GROOT) >> 12n))
    hart.setCsr(CSR.vsatp, (10n << 60n) | (BigInt(vsRoot) >> 12n))
    hart.setVirt(true, 1)
  }
  return { sys, hart, leaf, wr }
}

/** Counts page-table reads (every walk step checks its PTE address with `bus.isRam`). */
export function countWalkReads(sys: System) {
  const counter = { reads: 0 }
  const isRam = sys.bus.isRam.bind(sys.bus)
  sys.bus.isRam = (addr: number, size: number) => {
    if (addr >= PT_LO && addr < PT_HI) counter.reads++
    return isRam(addr, size)
  }
  return counter
}

