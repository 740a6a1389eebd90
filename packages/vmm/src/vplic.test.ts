import { PLIC, plicClaim, plicEnableWord, plicPriority, plicThreshold } from '@honk/riscv'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { VirtualPlic } from './vplic.js'

describe('VirtualPlic (PLIC spec 1.0.0, one S context per vCPU)', () => {
  it('a level source: pending → claim (in service) → complete; still high after completion: pending again', () => {
    const p = new VirtualPlic(2)
    const line = p.line(3)
    p.write(plicPriority(3), 4, 1n)
    p.write(plicEnableWord(1, 3), 4, 1n << 3n)
    line.set(true)
    expect(p.asserted(0)).toBe(false) // not enabled for context 0
    expect(p.asserted(1)).toBe(true)
    expect(p.read(plicClaim(1), 4)).toBe(3n)
    expect(p.asserted(1)).toBe(false) // in service
    expect(p.read(plicClaim(1), 4)).toBe(0n)
    p.write(plicClaim(1), 4, 3n) // complete, line still high
    expect(p.asserted(1)).toBe(true)
    expect(p.read(plicClaim(1), 4)).toBe(3n)
    line.set(false)
    p.write(plicClaim(1), 4, 3n)
    expect(p.asserted(1)).toBe(false)
  })

  it('tells its owner when a source becomes pending (a rising line, or a completion with the line still high), not while it is in service', () => {
    let raised = 0
    const p = new VirtualPlic(1, 31, () => raised++)
    const line = p.line(2)
    p.write(plicPriority(2), 4, 1n)
    p.write(plicEnableWord(0, 2), 4, 1n << 2n)
    line.set(true)
    expect(raised).toBe(1)
    expect(p.read(plicClaim(0), 4)).toBe(2n)
    line.set(true) // in service: not pending again until completed
    expect(raised).toBe(1)
    p.write(plicClaim(0), 4, 2n)
    expect(raised).toBe(2)
    line.set(false)
    expect(raised).toBe(2)
  })

  it('threshold and priority: the highest priority above the threshold is claimed first', () => {
    const p = new VirtualPlic(1)
    for (const [s, prio] of [[1, 1], [2, 3], [5, 2]] as const) {
      p.write(plicPriority(s), 4, BigInt(prio))
      p.line(s).set(true)
    }
    p.write(plicEnableWord(0, 0), 4, 0b100110n)
    expect(p.read(PLIC.PENDING, 4)).toBe(0b100110n)
    p.write(plicThreshold(0), 4, 2n)
    expect(p.read(plicClaim(0), 4)).toBe(2n)
    expect(p.read(plicClaim(0), 4)).toBe(0n) // 5 has priority 2, not above 2
    p.write(plicThreshold(0), 4, 0n)
    expect(p.read(plicClaim(0), 4)).toBe(5n)
    expect(p.read(plicClaim(0), 4)).toBe(1n)
  })

  it('hostile register traffic never throws and never claims a source that is not pending and enabled', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0x400_0000 - 4 }), fc.constantFrom(1, 2, 4, 8), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.boolean()), { maxLength: 200 }), (ops) => {
        const p = new VirtualPlic(2, 8)
        for (const [off, size, v, write] of ops) {
          if (write) p.write(off, size as 1 | 2 | 4 | 8, v)
          else {
            const r = p.read(off, size as 1 | 2 | 4 | 8)
            if (off === plicClaim(0) || off === plicClaim(1)) expect(r).toBe(0n) // no line was ever raised
          }
        }
      }),
    )
  })
})
