/**
 * Physical memory protection (privileged spec 1.12 §3.7): up to 64 entries, each a pmpcfg byte
 * (R W X, address-matching mode A, lock L) and a pmpaddr (address >> 2). The hart asks
 * `check()` for accesses that the TLB did not already vouch for; regions are precomputed on
 * every CSR write so a check is a short scan of numbers.
 */
export const PMP_R = 1
export const PMP_W = 2
export const PMP_X = 4
const A_OFF = 0
const A_TOR = 1
const A_NA4 = 2
const L = 0x80

interface Region {
  lo: number
  hi: number
  perm: number
  locked: boolean
}

export class Pmp {
  /** pmpcfg0, 2, …, 14 (RV64: the even ones), 8 entries each. */
  readonly cfg = new BigUint64Array(16)
  readonly addr = new BigUint64Array(64)
  private regions: Region[] = []
  /** Some entry is not OFF: S/U accesses are checked. */
  active = false
  /** Some active entry is locked: M-mode accesses are checked too. */
  locked = false
  /** `window()`'s answers for S/U (0) and M (1) since the last change: [ramLo, ramHi, lo, hi]. */
  private windows: (number[] | undefined)[] = [undefined, undefined]

  cfgByte(i: number): number {
    return Number((this.cfg[(i >> 3) * 2]! >> BigInt((i & 7) * 8)) & 0xffn)
  }

  /** Writes pmpcfg{n} (n even), keeping locked entries' bytes (§3.7.1: writes to a locked entry are ignored). */
  writeCfg(n: number, v: bigint): void {
    let out = 0n
    for (let b = 0; b < 8; b++) {
      const i = (n / 2) * 8 + b
      const old = this.cfgByte(i)
      let nb = Number((v >> BigInt(b * 8)) & 0xffn) & 0x9f // bits 5–6 are reserved (WARL 0)
      if ((nb & 3) === 2) nb &= ~3 // R=0 W=1 is reserved: treat as no access
      out |= BigInt(old & L ? old : nb) << BigInt(b * 8)
    }
    this.cfg[n] = out
    this.recompute()
  }

  /** Writes pmpaddr{i}, unless entry i is locked, or entry i+1 is a locked TOR (its base). */
  writeAddr(i: number, v: bigint): void {
    if (this.cfgByte(i) & L) return
    if (i + 1 < 64 && this.cfgByte(i + 1) & L && ((this.cfgByte(i + 1) >> 3) & 3) === A_TOR) return
    this.addr[i] = v & ((1n << 54n) - 1n)
    this.recompute()
  }

  /** Sets every pmpcfg and pmpaddr at once, locks notwithstanding (snapshot restore). */
  load(cfg: readonly bigint[], addr: readonly bigint[]): void {
    cfg.forEach((v, i) => (this.cfg[i] = BigInt.asUintN(64, v)))
    addr.forEach((v, i) => (this.addr[i] = BigInt.asUintN(64, v)))
    this.recompute()
  }

  private recompute(): void {
    const regions: Region[] = []
    let locked = false
    for (let i = 0; i < 64; i++) {
      const c = this.cfgByte(i)
      const a = (c >> 3) & 3
      if (a === A_OFF) continue
      const addr = this.addr[i]!
      let lo: bigint
      let hi: bigint
      if (a === A_TOR) {
        lo = i === 0 ? 0n : this.addr[i - 1]! << 2n
        hi = addr << 2n
      } else if (a === A_NA4) {
        lo = addr << 2n
        hi = lo + 4n
      } else {
        // NAPOT: the trailing ones of pmpaddr give the size, 2^(ones + 3) bytes.
        let ones = 0n
        while (ones < 54n && (addr >> ones) & 1n) ones++
        const size = 1n << (ones + 3n)
        lo = (addr & ~((1n << ones) - 1n)) << 2n
        hi = lo + size
      }
      if (hi <= lo) continue // an empty TOR range matches nothing
      regions.push({ lo: Number(lo), hi: Number(hi), perm: c & 7, locked: (c & L) !== 0 })
      if (c & L) locked = true
    }
    this.regions = regions
    this.active = regions.length > 0
    this.locked = locked
    this.windows = [undefined, undefined]
  }

  /**
   * The longest range `[lo, hi)` inside `[ramLo, ramHi)` where PMP allows every access of
   * privilege `priv` (M, or S/U: they are alike) that lies wholly inside the range, for R, W and
   * X: the hart then reaches it without a check (one range test per access), and everything
   * else takes `check()`. Exact by construction: the range is one segment between consecutive
   * region boundaries, so every region either covers all of it or none of it — the same region
   * decides for every byte, and no access inside it can match a region partially (§3.7.1). Two
   * adjacent open segments are not merged, since an access across their common boundary would be
   * such a partial match. `[0, 0)` when no segment is open. Cached until the next PMP write.
   */
  window(ramLo: number, ramHi: number, priv: number): { lo: number; hi: number } {
    const k = priv === 3 ? 1 : 0
    const c = this.windows[k]
    if (c !== undefined && c[0] === ramLo && c[1] === ramHi) return { lo: c[2]!, hi: c[3]! }
    const cuts = new Set<number>([ramLo, ramHi])
    for (const r of this.regions) {
      if (r.lo > ramLo && r.lo < ramHi) cuts.add(r.lo)
      if (r.hi > ramLo && r.hi < ramHi) cuts.add(r.hi)
    }
    const sorted = [...cuts].sort((a, b) => a - b)
    let lo = 0
    let hi = 0
    for (let i = 0; i + 1 < sorted.length; i++) {
      const a = sorted[i]!
      const b = sorted[i + 1]!
      if (b - a <= hi - lo) continue
      // Inside the segment the matching regions are the same for every byte: one byte tells.
      if (this.check(a, 1, PMP_R, priv) && this.check(a, 1, PMP_W, priv) && this.check(a, 1, PMP_X, priv)) {
        lo = a
        hi = b
      }
    }
    this.windows[k] = [ramLo, ramHi, lo, hi]
    return { lo, hi }
  }

  /**
   * Whether an access of `size` bytes at physical `pa` with permission `need` (PMP_R/W/X) is
   * allowed at privilege `priv` (3 = M). The lowest-numbered entry matching any byte decides; a
   * partial match fails. No match: M-mode passes, S/U fail (§3.7.1). With no active entry every
   * access passes (as QEMU does: a hart nobody configured is not locked down).
   */
  check(pa: number, size: number, need: number, priv: number): boolean {
    if (!this.active) return true
    for (const r of this.regions) {
      if (pa + size <= r.lo || pa >= r.hi) continue
      if (pa < r.lo || pa + size > r.hi) return false
      if (priv === 3 && !r.locked) return true
      return (r.perm & need) !== 0
    }
    return priv === 3
  }

  /** The permissions S/U-mode has on the whole 4 KiB page at `page` (for the TLB), 0 when not uniform. */
  pagePerms(pageBase: number): number {
    if (!this.active) return PMP_R | PMP_W | PMP_X
    for (const r of this.regions) {
      if (pageBase + 4096 <= r.lo || pageBase >= r.hi) continue
      if (pageBase < r.lo || pageBase + 4096 > r.hi) return 0
      return r.perm
    }
    return 0
  }
}
