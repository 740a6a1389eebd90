/**
 * The web display in a real browser (issue #16): Debian's Chromium, driven by playwright-core,
 * loads the page of a honk machine booted with a screen. The canvas must equal the scanout
 * (the test pattern after `fb`: its four quadrant colours), the terminal beside it is the serial
 * console (a command typed into it runs), a click on the demo's button and typing into its field
 * reach the kernel's callbacks, and the terminal shows them.
 *
 * Under CI=true a missing Chromium fails the test (apt-get install chromium); elsewhere it skips.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { coreAnchor, factoryImage } from './factory-core.js'
import { DISPLAY_SIZE } from './honk-cli.js'
import { createHonk } from './honk.js'
import { ConsoleSession } from './session.js'
import { WebDisplay } from './web-display.js'

export const CHROMIUM = '/usr/bin/chromium'

// What the page's code below touches, typed here (this package compiles without the DOM library).
interface PageCanvas {
  width: number
  height: number
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }
}
interface TermBuffer {
  length: number
  getLine(i: number): { translateToString(trim: boolean): string } | undefined
}
declare const document: { getElementById(id: string): PageCanvas }
declare const window: { honk: { rects: number; term: { buffer: { active: TermBuffer } } } }
const MiB = 1 << 20
const { width: W, height: H } = DISPLAY_SIZE
const haveChromium = existsSync(CHROMIUM)

/** FNV-1a over RGBA bytes: the page's canvas and the device's scanout compared without moving 3 MiB. */
const fnv = (b: Uint8Array) => {
  let h = 0x811c9dc5
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0
  return h
}

async function canvasPixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.evaluate(([x, y]) => [...document.getElementById('screen').getContext('2d')!.getImageData(x!, y!, 1, 1).data.subarray(0, 3)], [x, y])
}

async function canvasHash(page: Page): Promise<number> {
  return page.evaluate(() => {
    const c = document.getElementById('screen')
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
    let h = 0x811c9dc5
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193) >>> 0
    return h
  })
}

/** Clicks scanout pixel (x, y) of the canvas, wherever the page laid it out. */
async function clickAt(page: Page, x: number, y: number): Promise<void> {
  const box = (await page.locator('#screen').boundingBox())!
  await page.mouse.click(box.x + ((x + 0.5) * box.width) / W, box.y + ((y + 0.5) * box.height) / H)
}

async function until(f: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('the web display in Chromium', () => {
  it.skipIf(!haveChromium && process.env['CI'] !== 'true')('canvas = scanout (test pattern), terminal = console, the demo answers clicks and typing', async () => {
    const console = new ConsoleSession()
    let web: WebDisplay | undefined
    const honk = createHonk({
      harts: 2,
      memory: 256 * MiB,
      firmware: 'builtin',
      consoleOut: (b) => {
        console.out(b)
        web?.consoleOutput(Uint8Array.of(b))
      },
      factory: factoryImage(),
      anchor: coreAnchor(),
      display: DISPLAY_SIZE,
    })
    const display = honk.display!
    web = await WebDisplay.start({ ...display, consoleInput: (b) => console.send(new TextDecoder().decode(b)) })
    console.start(honk.machine)
    let browser: Browser | undefined
    try {
      await console.waitFor('honk> ', 60_000)
      console.send('fb\n')
      await console.waitFor(`fb: ${W}x${H} test pattern flushed to scanout`, 30_000)

      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] })
      const page = await browser.newPage({ viewport: { width: 1800, height: 1000 } })
      await page.goto(web.url)
      await until(() => page.evaluate(() => window.honk.rects >= 1), 'the first frame')
      expect(await page.evaluate(() => [document.getElementById('screen').width, document.getElementById('screen').height])).toEqual([W, H])
      // The canvas is the scanout, every pixel; and the scanout is honk's test pattern.
      expect(await canvasHash(page)).toBe(fnv(display.gpu.display(0).rgba))
      expect(await canvasPixel(page, 10, 10)).toEqual([200, 40, 40])
      expect(await canvasPixel(page, W - 10, 10)).toEqual([40, 200, 40])
      expect(await canvasPixel(page, 10, H - 10)).toEqual([40, 40, 200])
      expect(await canvasPixel(page, W - 10, H - 10)).toEqual([220, 220, 220])

      // The terminal is the serial console: type `ui` into it.
      await page.locator('#term').click()
      await page.keyboard.type('ui\r')
      await console.waitFor('ui: active  2 input device(s)  (click the button, type into the field)', 30_000)
      await until(async () => (await canvasPixel(page, 10, 10)).join() === '30,30,46', 'the demo on the canvas')

      // The button (40,160)–(240,220), then the field (40,80)–(640,124), then typing.
      await clickAt(page, 140, 190)
      await console.waitFor('ui: button clicked (clicks=1)', 30_000)
      await clickAt(page, 100, 100)
      await until(async () => (await canvasHash(page)) === fnv(display.gpu.display(0).rgba), 'the focused field on the canvas')
      // As a person types it: Shift held for the capitals and the '!' (playwright's type() sends no Shift).
      const shifted = async (key: string) => {
        await page.keyboard.down('Shift')
        await page.keyboard.press(key)
        await page.keyboard.up('Shift')
      }
      await shifted('KeyH')
      await page.keyboard.type('onk 1')
      await shifted('Digit1')
      await console.waitFor('ui: text="Honk 1!"', 30_000)
      // What the canvas shows is what the machine shows, and the terminal shows the callbacks.
      await until(async () => (await canvasHash(page)) === fnv(display.gpu.display(0).rgba), 'the typed text on the canvas')
      const term = await page.evaluate(() => {
        const b = window.honk.term.buffer.active
        const lines: string[] = []
        for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '')
        return lines.join('\n')
      })
      expect(term).toContain('ui: button clicked (clicks=1)')
      expect(term).toContain('ui: text="Honk 1!"')
      console.send('exit\n')
      expect(await console.exit).toEqual({ reason: 'poweroff', code: 0 })
    } finally {
      await browser?.close()
      honk.machine.stop()
      await honk.close()
      await web.close()
    }
  }, 180_000)
})
