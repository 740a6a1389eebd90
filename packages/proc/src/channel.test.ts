import { getEventListeners } from 'node:events'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Channel, ChannelClosedError } from './index.js'

describe('Channel', () => {
  it('is FIFO and buffered up to its capacity (model, fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(fc.oneof(fc.nat(99), fc.constant(-1))), (capacity, ops) => {
        const ch = new Channel<number>(capacity)
        const model: number[] = []
        for (const v of ops) {
          if (v >= 0) {
            const ok = ch.trySend(v)
            expect(ok).toBe(model.length < capacity)
            if (ok) model.push(v)
          } else {
            const got = ch.tryReceive()
            if (model.length === 0) expect(got.ok).toBe(false)
            else expect(got).toEqual({ ok: true, value: model.shift() })
          }
          expect(ch.length).toBe(model.length)
        }
      }),
    )
  })

  it('rendezvous: a send on an unbuffered channel waits for a receiver', async () => {
    const ch = new Channel<string>()
    let sent = false
    const s = ch.send('hello').then(() => (sent = true))
    await Promise.resolve()
    expect(sent).toBe(false)
    expect(await ch.receive()).toBe('hello')
    await s
    expect(sent).toBe(true)
  })

  it('delivers every value exactly once to concurrent receivers (fc.scheduler)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 0, max: 3 }), fc.array(fc.nat(), { maxLength: 12 }), async (s, capacity, values) => {
        const ch = new Channel<number>(capacity)
        const got: number[] = []
        const producer = (async () => {
          for (const v of values) {
            await s.schedule(Promise.resolve(), `before send ${v}`)
            await ch.send(v)
          }
          await s.schedule(Promise.resolve(), 'before close')
          ch.close()
        })()
        const consumers = [0, 1].map(async (c) => {
          for (;;) {
            await s.schedule(Promise.resolve(), `consumer ${c} before receive`)
            try {
              got.push(await ch.receive())
            } catch {
              return // closed and drained
            }
          }
        })
        await s.waitFor(Promise.all([producer, ...consumers]))
        expect([...got].sort((a, b) => a - b)).toEqual([...values].sort((a, b) => a - b))
      }),
    )
  })

  it('close: buffered values drain, then receive rejects; waiting senders fail', async () => {
    const ch = new Channel<number>(1)
    await ch.send(1)
    const blocked = ch.send(2)
    ch.close()
    await expect(blocked).rejects.toBeInstanceOf(ChannelClosedError)
    expect(await ch.receive()).toBe(1)
    await expect(ch.receive()).rejects.toBeInstanceOf(ChannelClosedError)
    await expect(ch.send(3)).rejects.toBeInstanceOf(ChannelClosedError)
  })

  it('an aborted waiter leaves the channel and its signal clean', async () => {
    const ch = new Channel<number>()
    const ac = new AbortController()
    const r = ch.receive(ac.signal)
    expect(getEventListeners(ac.signal, 'abort').length).toBe(1)
    ac.abort(new Error('killed'))
    await expect(r).rejects.toThrow('killed')
    expect(getEventListeners(ac.signal, 'abort').length).toBe(0)
    expect(ch.trySend(5)).toBe(false) // nobody is waiting any more
    const ac2 = new AbortController()
    const s = ch.send(7, ac2.signal)
    expect(await ch.receive()).toBe(7)
    await s
    expect(getEventListeners(ac2.signal, 'abort').length).toBe(0)
  })
})
