/**
 * What the repo's guest /init (scripts/guest/init.c) and the host tests that drive it agree on,
 * in one place for every test that checks the guest's bytes: its data pattern and its hash.
 */

/**
 * init.c's `pattern_byte(i)`: (i × 2654435761 >> 13) & 255 in 64-bit arithmetic. Only bits
 * 13..20 of the product matter, so the pattern repeats every 2^21 bytes: one period is computed
 * (modulo 2^21, exact in doubles) and sliced.
 */
const PERIOD = 1 << 21
let period: Buffer | undefined

/** `length` bytes of the guest's pattern from byte `offset` on. */
export function guestPattern(offset: number, length: number): Buffer {
  period ??= Buffer.from(Array.from({ length: PERIOD }, (_, i) => ((i * (2654435761 % PERIOD)) % PERIOD) >>> 13))
  const out = Buffer.allocUnsafe(length)
  for (let done = 0; done < length; ) {
    const at = (offset + done) % PERIOD
    const n = Math.min(PERIOD - at, length - done)
    period.copy(out, done, at, at + n)
    done += n
  }
  return out
}

/** init.c's hash: sum = sum × 31 + byte modulo 2^64 (kept as two 32-bit halves), printed as 16 hex digits. */
export class GuestHash {
  private hi = 0
  private lo = 0
  update(b: Uint8Array): void {
    let { hi, lo } = this
    for (let i = 0; i < b.length; i++) {
      const l = lo * 31 + b[i]!
      const carry = Math.floor(l / 0x1_0000_0000)
      lo = l >>> 0
      hi = (Math.imul(hi, 31) + carry) >>> 0
    }
    this.hi = hi
    this.lo = lo
  }
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0')
  }
}

/** The hash init.c prints for the first `size` bytes of its pattern. */
export function hashOfGuestPattern(size: number): string {
  const h = new GuestHash()
  for (let off = 0; off < size; off += 1 << 20) h.update(guestPattern(off, Math.min(1 << 20, size - off)))
  return h.hex()
}
