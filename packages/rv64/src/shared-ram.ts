/**
 * RAM shared by harts on several threads (Workers over one `SharedArrayBuffer`): the A
 * extension's read-modify-writes and FENCE, done with `Atomics` so they stay atomic and ordered
 * when the other harts run at the same time on other cores.
 *
 * Ordinary loads and stores stay plain `DataView` accesses: on the hosts we run on (x86-64 and
 * ARMv8 with V8) an aligned access of up to 8 bytes is one machine access, and what the host
 * orders (x86's TSO, or ARM's model, which V8 keeps for unordered accesses) is at least what
 * RVWMO promises without fences — except the store-to-load order, which RVWMO does not promise
 * either. What RVWMO does promise and the host does not, FENCE supplies: a sequentially consistent
 * `Atomics` read-modify-write is a full barrier on the host (x86 `lock`-prefixed, ARM `dmb ish`
 * around the exclusive pair), which orders every earlier access before every later one — the
 * strongest fence RISC-V has (`fence rw,rw`), so it serves every predecessor/successor set.
 * AMOs and SC are sequentially consistent `Atomics` operations too, so their `.aq`/`.rl` bits
 * are always honoured.
 */

/** AMO funct5 (bits 31:27 of the instruction, `Decoded.immN` for AMOs). */
const AMOSWAP = 0x01
const AMOADD = 0x00
const AMOXOR = 0x04
const AMOAND = 0x0c
const AMOOR = 0x08
const AMOMIN = 0x10
const AMOMAX = 0x14
const AMOMINU = 0x18

export class SharedRam {
  private readonly i32: Int32Array
  private readonly i64: BigInt64Array
  /** A word of the hart's own for FENCE's barrier (a read-modify-write on it changes nothing). */
  private readonly barrier = new Int32Array(new SharedArrayBuffer(4))

  constructor(buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer)
    this.i64 = new BigInt64Array(buffer, 0, Math.floor(buffer.byteLength / 8))
  }

  /** FENCE (any predecessor and successor sets): a full host barrier. */
  fence(): void {
    Atomics.add(this.barrier, 0, 0)
  }

  /**
   * One AMO on the naturally aligned word or doubleword at RAM offset `o`, atomically with
   * respect to every other hart: returns the old value, sign-extended (as AMO*.W writes rd).
   */
  amo(o: number, word: boolean, funct: number, src: bigint): bigint {
    if (word) {
      const a = this.i32
      const i = o >> 2
      const s = Number(BigInt.asIntN(32, src))
      switch (funct) {
        case AMOSWAP: return BigInt(Atomics.exchange(a, i, s))
        case AMOADD: return BigInt(Atomics.add(a, i, s))
        case AMOXOR: return BigInt(Atomics.xor(a, i, s))
        case AMOAND: return BigInt(Atomics.and(a, i, s))
        case AMOOR: return BigInt(Atomics.or(a, i, s))
      }
      // min/max: a compare-exchange loop (retried only when another hart changed the word between).
      for (;;) {
        const old = Atomics.load(a, i)
        const r = funct === AMOMIN ? Math.min(old, s) : funct === AMOMAX ? Math.max(old, s) : funct === AMOMINU ? ((old >>> 0) < (s >>> 0) ? old : s) : (old >>> 0) > (s >>> 0) ? old : s
        if (Atomics.compareExchange(a, i, old, r) === old) return BigInt(old)
      }
    }
    const a = this.i64
    const i = o >> 3
    const s = BigInt.asIntN(64, src)
    switch (funct) {
      case AMOSWAP: return Atomics.exchange(a, i, s)
      case AMOADD: return Atomics.add(a, i, s)
      case AMOXOR: return Atomics.xor(a, i, s)
      case AMOAND: return Atomics.and(a, i, s)
      case AMOOR: return Atomics.or(a, i, s)
    }
    for (;;) {
      const old = Atomics.load(a, i)
      const r = funct === AMOMIN ? (old < s ? old : s) : funct === AMOMAX ? (old > s ? old : s) : funct === AMOMINU ? (BigInt.asUintN(64, old) < BigInt.asUintN(64, s) ? old : s) : BigInt.asUintN(64, old) > BigInt.asUintN(64, s) ? old : s
      if (Atomics.compareExchange(a, i, old, r) === old) return old
    }
  }

  /**
   * SC as a compare-exchange against the value the LR read: succeeds (true) only if the word
   * still holds `expected`, and then writes `value` atomically. A store of the very same value by
   * another hart between the LR and the SC is not seen (ABA) — the A extension would fail the SC;
   * software built on LR/SC (compare-and-swap, counters, Linux's atomics and locks) only needs
   * the word's value, so this is the compromise QEMU makes for its parallel TCG too.
   */
  sc(o: number, word: boolean, expected: bigint, value: bigint): boolean {
    if (word) {
      const e = Number(BigInt.asIntN(32, expected))
      return Atomics.compareExchange(this.i32, o >> 2, e, Number(BigInt.asIntN(32, value))) === e
    }
    const e = BigInt.asIntN(64, expected)
    return Atomics.compareExchange(this.i64, o >> 3, e, BigInt.asIntN(64, value)) === e
  }
}
