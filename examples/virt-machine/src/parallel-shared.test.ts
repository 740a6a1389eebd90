/**
 * The shared control block of parallel harts (issue #18): the MMIO mailbox between a hart's
 * worker and the main thread, and the CLINT in shared memory.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Control, MAILBOX, SharedClint, postRequest, serveMailbox, serveRequest, takeResponse, type MmioRequest } from './parallel-shared.js'

const request = fc.record({
  op: fc.constantFrom('read' as const, 'write' as const, 'console' as const, 'getchar' as const),
  addr: fc.integer({ min: 0, max: 2 ** 53 - 1 }),
  size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
  value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
})

describe('MMIO mailbox', () => {
  it('property: a request reaches the server whole (any address below 2^53, any 64-bit value) and the answer comes back whole, fault included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), request, fc.option(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), (h, r, answer) => {
        const ctl = Control.create()
        expect(takeResponse(ctl, h)).toBe('pending')
        postRequest(ctl, h, r)
        expect(() => postRequest(ctl, h, r)).toThrow(/busy/) // one request at a time per hart
        let seen: MmioRequest | undefined
        expect(serveRequest(ctl, h, (q) => ((seen = q), answer ?? undefined))).toBe(true)
        expect(seen).toEqual(r)
        expect(serveRequest(ctl, h, () => 0n)).toBe(false) // answered: nothing more to serve
        expect(takeResponse(ctl, h)).toEqual({ value: answer ?? undefined })
        expect(ctl.i32[ctl.slot(h, 0)]).toBe(MAILBOX.idle)
        // The other harts' mailboxes were not touched.
        for (let o = 0; o < 8; o++) if (o !== h) expect(takeResponse(ctl, o)).toBe('pending')
      }),
    )
  })

  it('property (fc.scheduler): clients of several harts posting in any interleaving each get the answers to their own requests, in order, each served once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.array(request, { maxLength: 5 }), { minLength: 1, maxLength: 4 }), async (s, perHart) => {
        const ctl = Control.create()
        const served: MmioRequest[][] = perHart.map(() => [])
        // The server answers a read with the address + 1 and a write with its value's complement (tags the hart too).
        const answer = (h: number, q: MmioRequest) => BigInt.asUintN(64, (q.op === 'read' ? BigInt(q.addr) + 1n : ~q.value) + BigInt(h))
        let stop = false
        const servers = perHart.map((_, h) => serveMailbox(ctl, h, (q) => (served[h]!.push(q), answer(h, q)), () => stop))
        const clients = perHart.map(async (reqs, h) => {
          const got: (bigint | undefined)[] = []
          for (const r of reqs) {
            await s.schedule(Promise.resolve(), `hart ${h} posts`)
            postRequest(ctl, h, r)
            for (;;) {
              const t = takeResponse(ctl, h)
              if (t !== 'pending') {
                got.push(t.value)
                break
              }
              await s.schedule(new Promise<void>((res) => setTimeout(res, 0)), `hart ${h} waits`)
            }
          }
          return got
        })
        const results = await s.waitFor(Promise.all(clients))
        stop = true
        perHart.forEach((_, h) => ctl.wake(h))
        for (let h = 0; h < perHart.length; h++) Atomics.notify(ctl.i32, ctl.slot(h, 0))
        await Promise.all(servers)
        perHart.forEach((reqs, h) => {
          expect(served[h]).toEqual(reqs)
          expect(results[h]).toEqual(reqs.map((q) => answer(h, q)))
        })
      }),
      { numRuns: 40 },
    )
  }, 60_000)
})

describe('SharedClint', () => {
  it('msip and mtimecmp written through one view are read through another (as two workers would), 4- and 8-byte', () => {
    const ctl = Control.create()
    const a = new SharedClint(ctl, 4)
    const b = new SharedClint(new Control(ctl.buffer), 4)
    expect(b.read(0x4000 + 8 * 2, 8)).toBe((1n << 64n) - 1n) // reset: no timer
    a.write(0x4000 + 8 * 2, 4, 0x1234_5678n)
    a.write(0x4000 + 8 * 2 + 4, 4, 0x9n)
    expect(b.read(0x4000 + 8 * 2, 8)).toBe(0x9_1234_5678n)
    expect(b.read(0x4000 + 8 * 2 + 4, 4)).toBe(0x9n)
    const before = ctl.wakeCount(3)
    a.write(4 * 3, 4, 1n)
    expect(b.read(4 * 3, 4)).toBe(1n)
    expect(b.lines(3).msi).toBe(true)
    expect(ctl.wakeCount(3)).toBe(before + 1) // an IPI wakes the hart it is for
    a.write(4 * 3, 4, 0n)
    expect(b.lines(3).msi).toBe(false)
    expect(b.read(4 * 5, 4)).toBe(0n) // past the harts: reads 0
  })

  it('mtime advances with the host clock at 10 MHz; a timer in the past raises MTIP, one far ahead does not; a write to mtime moves it', async () => {
    const ctl = Control.create()
    const c = new SharedClint(ctl, 1)
    const t0 = c.read(0xbff8, 8)
    await new Promise((r) => setTimeout(r, 20))
    const t1 = c.read(0xbff8, 8)
    expect(Number(t1 - t0)).toBeGreaterThanOrEqual(150_000) // ≥ 15 ms of 10 MHz ticks
    c.write(0x4000, 8, t1)
    expect(c.lines(0).mti).toBe(true)
    c.write(0x4000, 8, t1 + 10_000_000_000n)
    expect(c.lines(0).mti).toBe(false)
    c.write(0xbff8, 8, 1n << 40n)
    expect(c.read(0xbff8, 8) >= 1n << 40n).toBe(true)
  })
})
