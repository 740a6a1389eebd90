import { UART } from '@honk/virtio'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { VirtMachine } from './board.js'
import { ConsoleFeeder, ConsoleSession } from './session.js'

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

describe('ConsoleSession: kernel log records inside a program\'s line', () => {
  const feed = (session: ConsoleSession, text: string) => {
    for (const b of new TextEncoder().encode(text)) session.out(b)
  }
  const record = '[   16.182841] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready\r\n'

  it('a printk record that split a line (as CI saw it) comes out before the line, which then reads whole', async () => {
    const s = new ConsoleSession()
    feed(s, 'honk-init: harts: 1\r\nhonk-init: ' + record + 'vda: sector 1 ok, hash 5ac34fdff65c2e73\r\nhonk-init: all checks passed\r\n')
    const report = await s.waitFor(/honk-init: (all checks passed|FAILED)/, 1000)
    expect(report).toMatch(/^honk-init: vda: sector 1 ok, hash [0-9a-f]{16}\r$/m)
    expect(s.text).toBe('honk-init: harts: 1\r\n' + record + 'honk-init: vda: sector 1 ok, hash 5ac34fdff65c2e73\r\nhonk-init: all checks passed\r\n')
  })

  it('leaves records at a line start, timestamps inside text, and output a waitFor has already consumed as they are', async () => {
    const s = new ConsoleSession()
    const plain = record + 'a [1.5] b\r\n'
    feed(s, plain)
    expect(s.text).toBe(plain)
    feed(s, '~ # ')
    await s.waitFor('~ # ', 1000) // the prompt is consumed: a record after it stays where it is
    feed(s, record)
    expect(s.text).toBe(plain + '~ # ' + record)
  })

  it('property: every byte is kept, each line that a record split reads whole, and lines without records are untouched', () => {
    const programLine = fc.stringMatching(/^[a-z:, ]{1,30}$/)
    fc.assert(
      fc.property(fc.array(fc.tuple(programLine, fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined })), { maxLength: 12 }), (lines) => {
        const s = new ConsoleSession()
        let raw = ''
        for (const [line, splitAt] of lines) raw += splitAt === undefined ? line + '\r\n' : line.slice(0, splitAt) + record + line.slice(splitAt) + '\r\n'
        feed(s, raw)
        expect([...s.text].sort().join('')).toBe([...raw].sort().join(''))
        const got = s.text.split('\n')
        for (const [line] of lines) expect(got).toContain(line + '\r')
      }),
      { numRuns: 300 },
    )
  })
})
