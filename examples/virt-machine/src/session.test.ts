import { UART } from '@honk/virtio'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { VirtMachine } from './board.js'
import { ConsoleFeeder } from './session.js'

const machine = () => new VirtMachine({ harts: 1, memory: 16 << 20, bios: 'none', consoleOut: () => {}, rng: false })

/** What the guest reads: RBR while LSR.DR, as a polling driver does. */
function guestReads(m: VirtMachine, max: number): number[] {
  const got: number[] = []
  while (got.length < max && Number(m.uart.read(UART.LSR, 1)) & 1) got.push(Number(m.uart.read(UART.RBR, 1)))
  return got
}

describe('ConsoleFeeder (issue 12, case 9: host input is never lost or flooded)', () => {
  it('keeps input that arrives before the machine exists, and lets it in no faster than the window', () => {
    const f = new ConsoleFeeder(1000)
    f.push(new Uint8Array(5000).fill(0x61))
    expect(f.pending).toBe(5000)
    const m = machine()
    f.attach(m)
    expect(m.uart.rxCount).toBe(1000)
    expect(f.pending).toBe(4000)
    f.pump()
    expect(m.uart.rxCount).toBe(1000) // the guest has not read: nothing more goes in
  })

  it('property: whatever the chunks and the guest\'s pace, the guest reads every byte in order, the UART never holding more than the window', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 2500 }), { minLength: 1, maxLength: 8 }), (chunks, paces) => {
        const f = new ConsoleFeeder(700)
        const m = machine()
        const sent = chunks.flatMap((c) => [...c])
        const got: number[] = []
        chunks.forEach((c, i) => {
          f.push(c)
          if (i === 1) f.attach(m)
          f.pump()
          expect(m.uart.rxCount).toBeLessThanOrEqual(700)
          got.push(...guestReads(m, paces[i % paces.length]!))
        })
        f.attach(m)
        for (let i = 0; got.length < sent.length && i < 100_000; i++) {
          f.pump()
          expect(m.uart.rxCount).toBeLessThanOrEqual(700)
          got.push(...guestReads(m, paces[i % paces.length]!))
        }
        expect(got).toEqual(sent)
        expect(m.uart.dropped).toBe(0)
      }),
      { numRuns: 100 },
    )
  })
})
