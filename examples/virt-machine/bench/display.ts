/**
 * `pnpm --filter @honk/virt-machine bench:display [--quick]`: the web display in honk mode —
 * frames per second and bytes sent per frame, measured at a WebSocket client (what a page
 * receives), for
 *   - a full-screen update: `fb` and `ui` typed into the shell in turn (the test pattern and the
 *     demo differ in every pixel), until the page has the whole new frame;
 *   - typing: a key pressed on the virtio keyboard (as the page sends it) with the demo's field
 *     focused, until the page has the field's damaged rectangle (the per-key latency is the
 *     lag a person would see, less the browser's paint).
 */
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import WebSocket from 'ws'
import { INPUT_CODE } from '@honk/virtio'
import { createHonk } from '../src/honk.ts'
import { DISPLAY_SIZE } from '../src/honk-cli.ts'
import { coreAnchor, factoryImage } from '../src/factory-core.ts'
import { ConsoleSession } from '../src/session.ts'
import { MSG, WebDisplay } from '../src/web-display.ts'

const quick = process.argv.includes('--quick')
const FULL = quick ? 5 : 20
const KEYS = quick ? 20 : 100
const { width: W, height: H } = DISPLAY_SIZE

const console2 = new ConsoleSession()
let web: WebDisplay | undefined
const honk = createHonk({
  harts: 2,
  memory: 256 << 20,
  firmware: 'builtin',
  consoleOut: (b) => {
    console2.out(b)
    web?.consoleOutput(Uint8Array.of(b))
  },
  factory: factoryImage(),
  anchor: coreAnchor(),
  display: DISPLAY_SIZE,
})
const display = honk.display!
web = await WebDisplay.start({ ...display })
console2.start(honk.machine)
await console2.waitFor('honk> ', 60_000)

const ws = new WebSocket(`ws://127.0.0.1:${web.port}/ws`)
let rects: { w: number; h: number; bytes: number; at: number }[] = []
let wake: (() => void) | undefined
ws.on('message', (d: Buffer) => {
  if (d[0] === MSG.RECT) {
    rects.push({ w: d.readUInt16LE(5), h: d.readUInt16LE(7), bytes: d.length, at: performance.now() })
    wake?.()
  }
})
await new Promise((r) => ws.once('open', r))
const until = async (f: () => boolean) => {
  while (!f()) await new Promise<void>((r) => ((wake = r), setTimeout(r, 50)))
}
await until(() => rects.length >= 1) // the first frame on connect
rects = []

// Full-screen updates.
const t0 = performance.now()
for (let i = 0; i < FULL; i++) {
  // The test pattern and the demo alternate: every pixel differs between them.
  console2.send(i % 2 ? 'ui\n' : 'fb\n')
  await until(() => rects.some((r) => r.w === W && r.h === H))
  await console2.waitFor('honk> ', 30_000)
  rects = rects.filter((r) => !(r.w === W && r.h === H))
}
const fullSeconds = (performance.now() - t0) / 1000
const fullBytes = 9 + W * H * 4

// Typing into the demo's field.
console2.send('ui\n')
await console2.waitFor('ui: active', 30_000)
display.tablet.moveToPixel(100, 100, W, H)
display.tablet.button(INPUT_CODE.BTN_LEFT, true)
display.tablet.button(INPUT_CODE.BTN_LEFT, false)
await new Promise((r) => setTimeout(r, 300))
rects = []
const lat: number[] = []
let bytes = 0
let frames = 0
const t1 = performance.now()
for (let i = 0; i < KEYS; i++) {
  const before = rects.length
  const s = performance.now()
  display.keyboard.tap(30 + (i % 9)) // a, s, d, f, g, h, j, k, l
  await until(() => rects.length > before)
  await new Promise((r) => setImmediate(r)) // the rest of this frame's rectangles
  lat.push(performance.now() - s)
  for (const r of rects.slice(before)) bytes += r.bytes
  frames++
}
const typeSeconds = (performance.now() - t1) / 1000
lat.sort((a, b) => a - b)
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!

// The same typing in Debian's Chromium (when installed): keydown on the canvas → the field's
// pixels put on the canvas, measured inside the page (what a person would see, less the paint).
let browserLatency: { p50: number; p95: number; max: number } | undefined
if (existsSync('/usr/bin/chromium')) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
  const page = await browser.newPage({ viewport: { width: 1800, height: 1000 } })
  await page.goto(web.url)
  await page.waitForFunction('window.honk && window.honk.rects >= 1')
  const ms: number[] = await page.evaluate(`(async () => {
    const canvas = document.getElementById('screen')
    const out = []
    for (let i = 0; i < ${KEYS}; i++) {
      const code = 'Key' + 'ASDFGHJKL'[i % 9]
      out.push(await new Promise((resolve) => {
        const t0 = performance.now()
        window.honk.onRect = () => { window.honk.onRect = null; resolve(performance.now() - t0) }
        canvas.dispatchEvent(new KeyboardEvent('keydown', { code, bubbles: true }))
        canvas.dispatchEvent(new KeyboardEvent('keyup', { code, bubbles: true }))
      }))
      await new Promise((r) => setTimeout(r, 5))
    }
    return out
  })()`)
  ms.sort((a, b) => a - b)
  const q = (p: number) => +ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(2)
  browserLatency = { p50: q(0.5), p95: q(0.95), max: q(1) }
  await browser.close()
}

const out = {
  screen: `${W}x${H}`,
  fullScreen: { frames: FULL, framesPerSecond: +(FULL / fullSeconds).toFixed(1), bytesPerFrame: fullBytes, note: 'fb and ui typed into the shell in turn (shell round trip included)' },
  typing: { keys: KEYS, framesPerSecond: +(frames / typeSeconds).toFixed(1), bytesPerFrame: Math.round(bytes / frames), latencyMs: { p50: +pct(0.5).toFixed(2), p95: +pct(0.95).toFixed(2), max: +lat[lat.length - 1]!.toFixed(2) } },
  chromiumKeyToCanvasMs: browserLatency ?? 'chromium not installed',
  serverStats: web.stats,
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n')
ws.close()
console2.send('exit\n')
await console2.exit
await honk.close()
await web.close()
process.exit(0)
