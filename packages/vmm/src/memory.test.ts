import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GuestRam, guestRange } from './memory.js'

const BASE = 0x8000_0000n
const SIZE = 2n << 20n

describe('guestRange (Go honk GuestRange): every guest pointer is checked', () => {
  it('the 8 edge cases', () => {
    expect(guestRange(BASE + 0x100n, 16n, BASE, SIZE)).toEqual({ start: 0x100, end: 0x110 }) // in range
    expect(guestRange(BASE, 1n, BASE, SIZE)).toEqual({ start: 0, end: 1 }) // at base
    expect(guestRange(BASE + SIZE - 8n, 8n, BASE, SIZE)).toEqual({ start: Number(SIZE) - 8, end: Number(SIZE) }) // exact end
    expect(guestRange(12345n, 0n, BASE, SIZE)).toEqual({ start: 0, end: 0 }) // zero length
    expect(guestRange(BASE - 1n, 1n, BASE, SIZE)).toBeUndefined() // below base
    expect(guestRange(BASE + SIZE - 4n, 8n, BASE, SIZE)).toBeUndefined() // straddling the end
    expect(guestRange(0xffff_ffff_0000_0000n, 1n, BASE, SIZE)).toBeUndefined() // far above
    expect(guestRange(BASE + 16n, (1n << 64n) - 8n, BASE, SIZE)).toBeUndefined() // length overflow
  })

  it('property: ok exactly when every byte is inside RAM', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), (gpa, len) => {
        const r = guestRange(gpa, len, BASE, SIZE)
        const inside = gpa >= BASE && gpa + len <= BASE + SIZE
        return (r !== undefined) === inside && (r === undefined || r.end - r.start === Number(len))
      }),
    )
    fc.assert(fc.property(fc.bigInt({ min: BASE - 64n, max: BASE + SIZE + 64n }), fc.bigInt({ min: 1n, max: 128n }), (gpa, len) => (guestRange(gpa, len, BASE, SIZE) !== undefined) === (gpa >= BASE && gpa + len <= BASE + SIZE)))
  })

  it('GuestRam: loads, stores and copies stay inside RAM; outside they fail and touch nothing', () => {
    const ram = new GuestRam(new Uint8Array(4096), 0x8000_0000)
    expect(ram.store(0x8000_0ff8n, 8, 0x1122_3344_5566_7788n)).toBe(true)
    expect(ram.load(0x8000_0ff8n, 8)).toBe(0x1122_3344_5566_7788n)
    expect(ram.load(0x8000_0ffcn, 4)).toBe(0x1122_3344n)
    expect(ram.store(0x8000_0ffcn, 8, 1n)).toBe(false)
    expect(ram.load(0x7fff_ffffn, 1)).toBeUndefined()
    expect(ram.write(0x8000_0ffe, new Uint8Array(4))).toBe(false)
    expect(ram.contains(NaN, 1)).toBe(false)
    expect(ram.bytes[0xffe]).toBe(0x22)
  })
})
