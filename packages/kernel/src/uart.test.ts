import { Ns16550a } from '@honk/virtio'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { HsPort } from './port.js'
import { UartConsole } from './uart.js'

const BASE = 0x1000_0000

/**
 * The kernel's UART driver on a real ns16550a model, with the interrupt line wired the way the
 * PLIC delivers it: while the line is high, the handler runs (between "instructions": a macrotask).
 */
function rig() {
  let console!: UartConsole
  let pending = false
  const uart = new Ns16550a({
    irq: {
      set: (level) => {
        if (!level || pending) return
        pending = true
        setImmediate(() => {
          pending = false
          if (uart.irqAsserted) console.onInterrupt()
        })
      },
    },
  })
  const port = {
    mmioRead: (addr: number, size: 1 | 2 | 4 | 8) => uart.read(addr - BASE, size),
    mmioWrite: (addr: number, size: 1 | 2 | 4 | 8, value: bigint) => (uart.write(addr - BASE, size, value), true),
  } as unknown as HsPort
  console = new UartConsole(port, BASE)
  console.enableReceive()
  return { uart, console }
}

async function drain(console: UartConsole, n: number, slow = false): Promise<number[]> {
  const got: number[] = []
  for await (const b of console.input) {
    got.push(b)
    if (slow && got.length % 1000 === 0) await new Promise((r) => setTimeout(r, 1))
    if (got.length === n) break
  }
  return got
}

describe('UartConsole receive (issue 12, case 9: no byte of a long line is dropped)', () => {
  it('a 20 000-byte line reaches the reader whole, newline included, while the reader is slow', async () => {
    const { uart, console } = rig()
    const line = Uint8Array.from({ length: 20_000 }, (_, i) => 0x61 + (i % 26))
    uart.push(line)
    uart.push('\n')
    const got = await drain(console, 20_001, true)
    expect(got).toEqual([...line, 0x0a])
    expect(console.dropped).toBe(0)
  })

  it('property: whatever the chunking and pace, the bytes arrive in order, none dropped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 5 }), fc.boolean(), async (sizes, slow) => {
        const { uart, console } = rig()
        const sent: number[] = []
        for (const n of sizes) {
          const chunk = Uint8Array.from({ length: n }, (_, i) => (sent.length + i) & 0xff)
          sent.push(...chunk)
          uart.push(chunk)
          await new Promise((r) => setImmediate(r))
        }
        expect(await drain(console, sent.length, slow)).toEqual(sent)
        expect(console.dropped).toBe(0)
      }),
      { numRuns: 25 },
    )
  })

  it('closing the input ends the reader', async () => {
    const { console } = rig()
    const reading = drain(console, 1)
    console.input.close()
    expect(await reading).toEqual([])
  })
})
