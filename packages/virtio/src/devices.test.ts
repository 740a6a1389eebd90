import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CONSOLE_F, VirtioConsole } from './console.js'
import { FEATURE, MMIO } from './constants.js'
import { collect, readWritable, rig, same, submit, type Rig } from './harness.test-helpers.js'
import { NET_F, NET_HDR_SIZE, VirtioNet, loopbackPair, parseMac } from './net.js'
import { P9_F_MOUNT_TAG, VirtioP9 } from './p9.js'
import { VirtioRng } from './rng.js'

const tick = () => new Promise((res) => setTimeout(res, 0))
const frame = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff)

describe('virtio-net', () => {
  function pair() {
    const [pa, pb] = loopbackPair()
    const a = rig(new VirtioNet(pa, { mac: '52:54:00:00:00:0a' }), { ramSize: 1 << 20 })
    const b = rig(new VirtioNet(pb, { mac: '52:54:00:00:00:0b' }), { ramSize: 1 << 20 })
    return { a, b }
  }
  const rxBuffers = (r: Rig<VirtioNet>, n: number, size = 1526) => Array.from({ length: n }, () => submit(r, r.queues[0]!, [], [size]))
  const send = (r: Rig<VirtioNet>, f: Uint8Array) => submit(r, r.queues[1]!, [new Uint8Array(NET_HDR_SIZE), f], [])

  it('has the MAC and link status in config', () => {
    const { a } = pair()
    expect(a.driver.readConfig(0, 6)).toEqual(parseMac('52:54:00:00:00:0a'))
    expect(a.driver.readConfig(6, 2)).toEqual(Uint8Array.of(1, 0)) // LINK_UP
    expect(a.driver.readConfig(10, 2)).toEqual(Uint8Array.of(1500 & 0xff, 1500 >> 8))
    expect(a.driver.negotiated & (NET_F.MAC | NET_F.STATUS)).toBe(NET_F.MAC | NET_F.STATUS)
  })

  it('exchanges frames over a loopback pair, both ways', async () => {
    const { a, b } = pair()
    const rxA = rxBuffers(a, 4)
    const rxB = rxBuffers(b, 4)
    const s = send(a, frame(60, 1))
    expect(collect(a.queues[1]!).get(s.head)).toBe(0)
    send(b, frame(1514, 2))
    await tick()
    const usedB = collect(b.queues[0]!)
    expect(usedB.get(rxB[0]!.head)).toBe(NET_HDR_SIZE + 60)
    const got = readWritable(b, rxB[0]!)
    expect(got[10]).toBe(1) // num_buffers
    expect(got.subarray(0, 10).every((x) => x === 0)).toBe(true)
    expect(got.subarray(NET_HDR_SIZE, NET_HDR_SIZE + 60)).toEqual(frame(60, 1))
    expect(collect(a.queues[0]!).get(rxA[0]!.head)).toBe(NET_HDR_SIZE + 1514)
    expect(readWritable(a, rxA[0]!).subarray(NET_HDR_SIZE, NET_HDR_SIZE + 1514)).toEqual(frame(1514, 2))
    expect(a.device.stats).toMatchObject({ txFrames: 1, rxFrames: 1, rxDropped: 0 })
    expect(b.irq.level).toBe(true)
  })

  it('holds frames until receive buffers arrive, and drops beyond the backlog', async () => {
    const [pa, pb] = loopbackPair()
    const r = rig(new VirtioNet(pb, { rxBacklog: 2 }))
    for (let i = 0; i < 4; i++) pa.send(frame(64, i))
    await tick()
    expect(r.device.stats.rxDropped).toBe(2)
    const bufs = rxBuffers(r, 3)
    const used = collect(r.queues[0]!)
    expect(used.size).toBe(2)
    expect(readWritable(r, bufs[0]!).subarray(NET_HDR_SIZE, NET_HDR_SIZE + 64)).toEqual(frame(64, 0))
    expect(readWritable(r, bufs[1]!).subarray(NET_HDR_SIZE, NET_HDR_SIZE + 64)).toEqual(frame(64, 1))
    pa.send(frame(64, 9))
    await tick()
    expect(collect(r.queues[0]!).get(bufs[2]!.head)).toBe(NET_HDR_SIZE + 64)
  })

  it('drops a frame that does not fit the receive buffer, and a malformed transmit', async () => {
    const [pa, pb] = loopbackPair()
    const r = rig(new VirtioNet(pb))
    const small = rxBuffers(r, 1, 100)[0]!
    pa.send(frame(200, 0))
    await tick()
    expect(collect(r.queues[0]!).get(small.head)).toBe(0)
    expect(r.device.stats.rxDropped).toBe(1)
    const seen: Uint8Array[] = []
    pa.onFrame((f) => seen.push(f))
    submit(r, r.queues[1]!, [new Uint8Array(4)], []) // shorter than the header
    await tick()
    expect(seen).toEqual([])
    expect(r.device.stats.txDropped).toBe(1)
  })

  it('passes random frame sequences through unchanged (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 14, maxLength: 1514 }), { minLength: 1, maxLength: 10 }), async (frames) => {
        const { a, b } = pair()
        const rx = rxBuffers(b, frames.length)
        for (const f of frames) send(a, f)
        await tick()
        const used = collect(b.queues[0]!)
        frames.forEach((f, i) => {
          expect(used.get(rx[i]!.head)).toBe(NET_HDR_SIZE + f.length)
          expect(same(readWritable(b, rx[i]!).subarray(NET_HDR_SIZE, NET_HDR_SIZE + f.length), f)).toBe(true)
        })
      }),
      { numRuns: 50 },
    )
  })
})

describe('virtio-rng', () => {
  it('fills buffers from crypto.getRandomValues', () => {
    const r = rig(new VirtioRng())
    const s = submit(r, r.queues[0]!, [], [64, 4096], { indirect: true })
    expect(collect(r.queues[0]!).get(s.head)).toBe(64 + 4096)
    const got = readWritable(r, s)
    expect(got.every((b) => b === 0xee)).toBe(false)
    expect(new Set(got).size).toBeGreaterThan(200)
    expect(r.irq.level).toBe(true)
  })

  it('uses an injected source and caps each request', () => {
    const r = rig(new VirtioRng({ source: (b) => b.fill(7), maxPerRequest: 10 }))
    const s = submit(r, r.queues[0]!, [], [32])
    expect(collect(r.queues[0]!).get(s.head)).toBe(10)
    expect(readWritable(r, s).subarray(0, 11)).toEqual(Uint8Array.of(7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0xee))
  })

  it('refuses a request with a readable part', () => {
    const r = rig(new VirtioRng())
    const s = submit(r, r.queues[0]!, [new Uint8Array(4)], [8])
    expect(collect(r.queues[0]!).get(s.head)).toBe(0)
    expect(r.errors.length).toBe(1)
  })
})

describe('virtio-console', () => {
  it('echoes: guest output comes back as guest input', () => {
    let dev: VirtioConsole | undefined
    const out: number[] = []
    dev = new VirtioConsole((bytes) => {
      out.push(...bytes)
      dev!.push(bytes.map((b) => (b >= 0x61 && b <= 0x7a ? b - 32 : b))) // the host echoes in upper case
    })
    const r = rig(dev)
    const rx = submit(r, r.queues[0]!, [], [16])
    submit(r, r.queues[1]!, [new TextEncoder().encode('hi there')], [])
    expect(String.fromCharCode(...out)).toBe('hi there')
    expect(collect(r.queues[0]!).get(rx.head)).toBe(8)
    expect(new TextDecoder().decode(readWritable(r, rx).subarray(0, 8))).toBe('HI THERE')
  })

  it('spreads input over several receive buffers and keeps the rest for later', () => {
    const r = rig(new VirtioConsole(() => {}))
    r.device.push('abcdefghij')
    const a = submit(r, r.queues[0]!, [], [4])
    const b = submit(r, r.queues[0]!, [], [4])
    expect(new TextDecoder().decode(readWritable(r, a))).toBe('abcd')
    expect(new TextDecoder().decode(readWritable(r, b))).toBe('efgh')
    const c = submit(r, r.queues[0]!, [], [8])
    expect(collect(r.queues[0]!).get(c.head)).toBe(2)
    expect(new TextDecoder().decode(readWritable(r, c).subarray(0, 2))).toBe('ij')
  })

  it('emergency write outputs one byte', () => {
    const out: number[] = []
    const r = rig(new VirtioConsole((b) => out.push(...b)))
    expect(r.driver.negotiated & CONSOLE_F.EMERG_WRITE).toBe(CONSOLE_F.EMERG_WRITE)
    r.driver.writeConfig(8, 4, 0x21n)
    expect(out).toEqual([0x21])
  })

  it('drops input beyond the backlog', () => {
    const dev = new VirtioConsole(() => {}, { inputBacklog: 4 })
    dev.push('abcdef')
    expect(dev.dropped).toBe(2)
  })
})

describe('virtio-9p', () => {
  /** A T-message header: size[4] type[1] tag[2]. */
  const tmsg = (type: number, tag: number, body: Uint8Array) => {
    const m = new Uint8Array(7 + body.length)
    const v = new DataView(m.buffer)
    v.setUint32(0, m.length, true)
    v.setUint8(4, type)
    v.setUint16(5, tag, true)
    m.set(body, 7)
    return m
  }

  it('has the mount tag in config', () => {
    const r = rig(new VirtioP9('hostshare', async (x) => x))
    expect(r.driver.negotiated & P9_F_MOUNT_TAG).toBe(P9_F_MOUNT_TAG)
    expect(r.driver.readConfig(0, 2)).toEqual(Uint8Array.of(9, 0))
    expect(new TextDecoder().decode(r.driver.readConfig(2, 9))).toBe('hostshare')
    expect(r.transport.read(MMIO.DeviceID, 4)).toBe(9n)
  })

  it('passes each T-message to the handler and the R-message back', async () => {
    const seen: Uint8Array[] = []
    const dev = new VirtioP9('share', async (req) => {
      seen.push(req)
      return tmsg(req[4]! + 1, req[5]! | (req[6]! << 8), Uint8Array.of(0xaa, 0xbb))
    })
    const r = rig(dev)
    const t = tmsg(100, 0x1234, new TextEncoder().encode('version'))
    const s = submit(r, r.queues[0]!, [t.subarray(0, 5), t.subarray(5)], [64], { indirect: true })
    await dev.drain()
    expect(seen).toEqual([t])
    expect(collect(r.queues[0]!).get(s.head)).toBe(9)
    expect(readWritable(r, s).subarray(0, 9)).toEqual(tmsg(101, 0x1234, Uint8Array.of(0xaa, 0xbb)))
  })

  it('answers Rlerror(EIO) when the handler fails, Rlerror(EMSGSIZE) when the answer does not fit', async () => {
    const dev = new VirtioP9('share', async (req) => {
      if (req[4] === 1) throw new Error('server exploded')
      return new Uint8Array(100)
    })
    const r = rig(dev)
    const a = submit(r, r.queues[0]!, [tmsg(1, 7, new Uint8Array(0))], [64])
    const b = submit(r, r.queues[0]!, [tmsg(2, 8, new Uint8Array(0))], [64])
    await dev.drain()
    const used = collect(r.queues[0]!)
    expect(used.get(a.head)).toBe(11)
    expect(used.get(b.head)).toBe(11)
    const ra = new DataView(readWritable(r, a).buffer)
    expect([ra.getUint32(0, true), ra.getUint8(4), ra.getUint16(5, true), ra.getUint32(7, true)]).toEqual([11, 7, 7, 5])
    const rb = new DataView(readWritable(r, b).buffer)
    expect([rb.getUint16(5, true), rb.getUint32(7, true)]).toEqual([8, 90])
    expect(r.errors.length).toBe(2)
  })

  it('serves concurrent requests out of order', async () => {
    const gates: (() => void)[] = []
    const dev = new VirtioP9('share', (req) => new Promise((res) => gates.push(() => res(req.slice()))))
    const r = rig(dev, { features: FEATURE.RING_EVENT_IDX })
    const a = submit(r, r.queues[0]!, [tmsg(1, 1, new Uint8Array(0))], [16])
    const b = submit(r, r.queues[0]!, [tmsg(1, 2, new Uint8Array(0))], [16])
    gates[1]!()
    await tick()
    expect([...collect(r.queues[0]!).keys()]).toEqual([b.head])
    gates[0]!()
    await dev.drain()
    expect([...collect(r.queues[0]!).keys()]).toEqual([a.head])
  })
})
