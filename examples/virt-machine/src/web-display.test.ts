import { INPUT_CODE, VirtioGpu } from '@honk/virtio'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CONSOLE_HISTORY, MSG, MAX_RECTS_PER_SEND, WebDisplay, changed, coalesce } from './web-display.js'
import { H, W, setupDisplay } from './web-display.test-helpers.js'

const setup = () => setupDisplay()

/** A page's side of the socket: every message, and a way to wait for one. */
async function client(url: string) {
  const ws = new WebSocket(url.replace('http', 'ws') + 'ws')
  const got: Uint8Array[] = []
  ws.on('message', (d: Buffer) => got.push(new Uint8Array(d)))
  await new Promise((r) => ws.once('open', r))
  const until = async (f: () => boolean) => {
    for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 5))
    expect(f()).toBe(true)
  }
  return { ws, got, until }
}

const rectOf = (m: Uint8Array) => {
  const v = new DataView(m.buffer, m.byteOffset)
  return { x: v.getUint16(1, true), y: v.getUint16(3, true), width: v.getUint16(5, true), height: v.getUint16(7, true) }
}

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => {
  await cleanup?.()
  cleanup = undefined
})

describe('web display', () => {
  it('serves the page and xterm.js on 127.0.0.1', async () => {
    const s = await setup()
    cleanup = () => s.web.close()
    expect(s.web.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const page = await (await fetch(s.web.url)).text()
    expect(page).toContain('<canvas id="screen"')
    expect(page).toContain('/xterm.js')
    const js = await fetch(s.web.url + 'xterm.js')
    expect(js.status).toBe(200)
    expect((await js.text()).length).toBeGreaterThan(100_000)
    expect((await fetch(s.web.url + 'nope')).status).toBe(404)
  })

  it('a busy port is a rejected start (EADDRINUSE), not an uncaught error', async () => {
    const s = await setup()
    cleanup = () => s.web.close()
    await expect(WebDisplay.start({ gpu: s.gpu, keyboard: s.keyboard, tablet: s.tablet, port: s.web.port })).rejects.toMatchObject({ code: 'EADDRINUSE' })
    expect((await fetch(s.web.url)).status).toBe(200) // the first one serves on
  })

  it('a page gets the mode and the whole screen, then only damaged rectangles', async () => {
    const s = await setup()
    const c = await client(s.web.url)
    cleanup = async () => (c.ws.close(), await s.web.close())
    await c.until(() => c.got.length >= 2)
    expect([...c.got[0]!]).toEqual([MSG.MODE, W, 0, H, 0])
    expect(c.got[1]![0]).toBe(MSG.RECT)
    expect(rectOf(c.got[1]!)).toEqual({ x: 0, y: 0, width: W, height: H })
    const img = new Uint8Array(W * H * 4).map((_, i) => i & 0xff)
    await s.surface.present(img, [{ x: 3, y: 4, width: 5, height: 6 }])
    await c.until(() => c.got.length >= 3)
    const m = c.got[2]!
    expect(rectOf(m)).toEqual({ x: 3, y: 4, width: 5, height: 6 })
    expect(m.length).toBe(9 + 5 * 6 * 4)
    // The rectangle's pixels, row by row, as the guest drew them.
    for (let y = 0; y < 6; y++) expect([...m.subarray(9 + y * 20, 9 + y * 20 + 20)]).toEqual([...img.subarray(((4 + y) * W + 3) * 4, ((4 + y) * W + 3) * 4 + 20)])
  })

  it('a damaged rectangle travels shrunk to the pixels that changed; an unchanged one not at all', async () => {
    const s = await setup()
    const c = await client(s.web.url)
    cleanup = async () => (c.ws.close(), await s.web.close())
    await c.until(() => c.got.length >= 2)
    const img = new Uint8Array(W * H * 4)
    // The first send after a page joins goes whole (the pages' copy restarts then).
    await s.surface.present(img, [{ x: 0, y: 0, width: 1, height: 1 }])
    await c.until(() => c.got.length >= 3)
    c.got.length = 2
    img.set([9, 9, 9, 255], (7 * W + 11) * 4) // one pixel changes, in (11, 7)
    img.set([9, 9, 9, 255], (9 * W + 20) * 4) // and (20, 9)
    await s.surface.present(img, [{ x: 0, y: 0, width: 40, height: 30 }])
    await c.until(() => c.got.length >= 3)
    expect(rectOf(c.got[2]!)).toEqual({ x: 11, y: 7, width: 10, height: 3 })
    await s.surface.present(img, [{ x: 0, y: 0, width: 40, height: 30 }]) // the same pixels again
    await new Promise((r) => setTimeout(r, 50))
    expect(c.got.length).toBe(3)
  })

  it('property: changed() is the smallest rectangle holding every differing pixel', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ x: fc.integer({ min: 0, max: 15 }), y: fc.integer({ min: 0, max: 9 }), c: fc.integer({ min: 0, max: 3 }) }), { maxLength: 6 }), (diffs) => {
        const w = 16
        const was = new Uint8Array(w * 10 * 4)
        const now = was.slice()
        for (const d of diffs) now[(d.y * w + d.x) * 4 + d.c] = 1
        const r = changed(now, was, w, { x: 0, y: 0, width: w, height: 10 })
        if (diffs.length === 0) {
          expect(r).toBeUndefined()
          return
        }
        expect(r).toEqual({ x: Math.min(...diffs.map((d) => d.x)), y: Math.min(...diffs.map((d) => d.y)), width: Math.max(...diffs.map((d) => d.x)) - Math.min(...diffs.map((d) => d.x)) + 1, height: Math.max(...diffs.map((d) => d.y)) - Math.min(...diffs.map((d) => d.y)) + 1 })
      }),
    )
  })

  it('keys, pointer, buttons and wheel from the page become virtio-input events; terminal bytes go to the console', async () => {
    const s = await setup()
    const c = await client(s.web.url)
    cleanup = async () => (c.ws.close(), await s.web.close())
    const enc = new TextEncoder()
    c.ws.send(Uint8Array.of(MSG.KEY, 1, ...enc.encode('KeyA')))
    c.ws.send(Uint8Array.of(MSG.KEY, 0, ...enc.encode('KeyA')))
    c.ws.send(Uint8Array.of(MSG.KEY, 1, ...enc.encode('NoSuchKey')))
    c.ws.send(Uint8Array.of(MSG.MOVE, W - 1, 0, H - 1, 0))
    c.ws.send(Uint8Array.of(MSG.BUTTON, 0, 1))
    c.ws.send(Uint8Array.of(MSG.WHEEL, 0xff, 0))
    c.ws.send(Uint8Array.of(MSG.INPUT, ...enc.encode('ls\r')))
    c.ws.send(Uint8Array.of(0x7f)) // unknown: ignored
    await c.until(() => s.typed.length === 1 && s.events.length >= 11)
    const kbd = s.events.filter((x) => x.dev === 'kbd' && x.e.type === 1).map((x) => [x.e.code, x.e.value])
    expect(kbd).toEqual([[30, 1], [30, 0]])
    const tab = s.events.filter((x) => x.dev === 'tablet' && x.e.type !== 0).map((x) => [x.e.type, x.e.code, x.e.value])
    expect(tab).toEqual([[3, INPUT_CODE.ABS_X, 32767], [3, INPUT_CODE.ABS_Y, 32767], [1, INPUT_CODE.BTN_LEFT, 1], [2, INPUT_CODE.REL_WHEEL, -1]])
    expect(s.typed).toEqual(['ls\r'])
  })

  it('attach (a reboot\'s new devices): open pages get the new screen whole, input goes to the new devices, the old GPU is not followed', async () => {
    const s = await setup()
    const next = await setup() // the next run's devices (its own server is not used)
    await next.web.close()
    const c = await client(s.web.url)
    cleanup = async () => (c.ws.close(), await s.web.close())
    await c.until(() => c.got.length >= 2)
    const old = new Uint8Array(W * H * 4).fill(0x11)
    await s.surface.present(old, [{ x: 0, y: 0, width: W, height: H }])
    await c.until(() => c.got.length >= 3)
    // The new machine's picture differs from the old one in a single pixel: still sent whole.
    const img = old.slice()
    img[0] = 0x22
    await next.surface.present(img, [{ x: 0, y: 0, width: W, height: H }])
    const n = c.got.length
    s.web.attach({ gpu: next.gpu, keyboard: next.keyboard, tablet: next.tablet })
    await c.until(() => c.got.length >= n + 2)
    expect([...c.got[n]!]).toEqual([MSG.MODE, W, 0, H, 0])
    expect(rectOf(c.got[n + 1]!)).toEqual({ x: 0, y: 0, width: W, height: H })
    expect(Buffer.from(c.got[n + 1]!.subarray(9)).equals(Buffer.from(next.gpu.display(0).rgba))).toBe(true)
    // The old GPU's flushes no longer reach the page; keys go to the new keyboard.
    await s.surface.present(new Uint8Array(W * H * 4), [{ x: 0, y: 0, width: W, height: H }])
    c.ws.send(Uint8Array.of(MSG.KEY, 1, ...new TextEncoder().encode('KeyB')))
    await c.until(() => next.events.some((x) => x.dev === 'kbd' && x.e.code === 48))
    expect(s.events.some((x) => x.dev === 'kbd')).toBe(false)
    expect(c.got.length).toBe(n + 2)
  })

  it('attach of devices whose scanout is off blanks the pages (a 0×0 mode)', async () => {
    const s = await setup()
    const c = await client(s.web.url)
    cleanup = async () => (c.ws.close(), await s.web.close())
    await c.until(() => c.got.length >= 2)
    const gpu = new VirtioGpu({ width: W, height: H }) // no driver yet: the scanout is off
    s.web.attach({ gpu, keyboard: s.keyboard, tablet: s.tablet })
    await c.until(() => c.got.length >= 3)
    expect([...c.got[2]!]).toEqual([MSG.MODE, 0, 0, 0, 0])
  })

  it('console output reaches the page as TEXT, batched', async () => {
    const s = await setup()
    const c = await client(s.web.url)
    cleanup = async () => (c.ws.close(), await s.web.close())
    await c.until(() => c.got.length >= 2)
    for (const ch of 'honk> ') s.web.consoleOutput(new TextEncoder().encode(ch))
    await c.until(() => c.got.some((m) => m[0] === MSG.TEXT))
    const text = c.got.filter((m) => m[0] === MSG.TEXT)
    expect(text.length).toBe(1)
    expect(new TextDecoder().decode(text[0]!.subarray(1))).toBe('honk> ')
    // A page that opens later starts with what the console printed before.
    const late = await client(s.web.url)
    await late.until(() => late.got.some((m) => m[0] === MSG.TEXT))
    expect(new TextDecoder().decode(late.got.find((m) => m[0] === MSG.TEXT)!.subarray(1))).toBe('honk> ')
    late.ws.close()
  })

  it('the console history keeps the last CONSOLE_HISTORY bytes across the ring\'s wrap', async () => {
    const s = await setup()
    cleanup = () => s.web.close()
    const all = Uint8Array.from({ length: CONSOLE_HISTORY + 1000 }, (_, i) => 32 + (i % 90))
    for (let i = 0; i < all.length; i += 777) s.web.consoleOutput(all.subarray(i, i + 777))
    const c = await client(s.web.url)
    await c.until(() => c.got.some((m) => m[0] === MSG.TEXT))
    const text = c.got.find((m) => m[0] === MSG.TEXT)!.subarray(1)
    expect(Buffer.from(text).equals(Buffer.from(all.subarray(all.length - CONSOLE_HISTORY)))).toBe(true)
    c.ws.close()
  })

  it('coalesce drops contained and empty rectangles and merges past the limit', () => {
    expect(coalesce([{ x: 0, y: 0, width: 10, height: 10 }, { x: 2, y: 2, width: 3, height: 3 }, { x: 0, y: 0, width: 0, height: 5 }, { x: 0, y: 0, width: 10, height: 10 }])).toEqual([{ x: 0, y: 0, width: 10, height: 10 }])
    const many = Array.from({ length: MAX_RECTS_PER_SEND + 1 }, (_, i) => ({ x: i * 2, y: 1, width: 1, height: 1 }))
    expect(coalesce(many)).toEqual([{ x: 0, y: 1, width: MAX_RECTS_PER_SEND * 2 + 1, height: 1 }])
  })

  it('property: coalesce keeps every damaged pixel covered and sends nothing outside the damage\'s bounding box', () => {
    const r = fc.record({ x: fc.integer({ min: 0, max: 40 }), y: fc.integer({ min: 0, max: 40 }), width: fc.integer({ min: 0, max: 12 }), height: fc.integer({ min: 0, max: 12 }) })
    fc.assert(
      fc.property(fc.array(r, { maxLength: 50 }), (rects) => {
        const out = coalesce(rects)
        const covered = (x: number, y: number, set: readonly typeof rects[number][]) => set.some((q) => x >= q.x && y >= q.y && x < q.x + q.width && y < q.y + q.height)
        for (const q of rects) for (let y = q.y; y < q.y + q.height; y++) for (let x = q.x; x < q.x + q.width; x++) expect(covered(x, y, out)).toBe(true)
        expect(out.length).toBeLessThanOrEqual(Math.max(rects.length, 1))
        expect(out.every((o) => o.width > 0 && o.height > 0)).toBe(true)
        const real = rects.filter((q) => q.width > 0 && q.height > 0)
        if (real.length) {
          const x0 = Math.min(...real.map((q) => q.x))
          const y0 = Math.min(...real.map((q) => q.y))
          const x1 = Math.max(...real.map((q) => q.x + q.width))
          const y1 = Math.max(...real.map((q) => q.y + q.height))
          for (const o of out) expect(o.x >= x0 && o.y >= y0 && o.x + o.width <= x1 && o.y + o.height <= y1).toBe(true)
        }
      }),
    )
  })

  it('property: any bytes a page sends are ignored or mapped, never fatal; the display still works after', async () => {
    const s = await setup()
    const c = await client(s.web.url)
    cleanup = async () => (c.ws.close(), await s.web.close())
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => (b[0] = 0x10 + (b[0]! % 5), b))), { maxLength: 20 }), async (msgs) => {
        for (const m of msgs) c.ws.send(m)
        await new Promise((r) => setTimeout(r, 2))
      }),
      { numRuns: 50 },
    )
    const before = s.typed.length
    c.ws.send(Uint8Array.of(MSG.INPUT, 0x41))
    await c.until(() => s.typed.length > before && s.typed[s.typed.length - 1]!.endsWith('A'))
    expect(c.ws.readyState).toBe(WebSocket.OPEN)
  })
})
