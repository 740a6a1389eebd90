/**
 * The web display's page in a real Chromium (Debian's, through playwright-core), without a
 * machine: devices driven from the test. When the server goes away and a new one serves the
 * same port (honk-virt stopped and started again with `-display web,port=N`), the open page
 * reconnects by itself: its canvas shows the new scanout and its terminal the new console
 * history only.
 */
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { H, W, setupDisplay } from './web-display.test-helpers.js'

const CHROMIUM = '/usr/bin/chromium'

/** FNV-1a over the R, G, B bytes of every pixel (alpha left out: the canvas premultiplies it). */
const HASH = `(d) => { let h = 0x811c9dc5; for (let i = 0; i < d.length; i++) if ((i & 3) !== 3) h = Math.imul(h ^ d[i], 0x01000193) >>> 0; return h }`
function hash(d: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < d.length; i++) if ((i & 3) !== 3) h = Math.imul(h ^ d[i]!, 0x01000193) >>> 0
  return h
}

describe.skipIf(!existsSync(CHROMIUM) && process.env['CI'] !== 'true')('the web display page in Chromium', () => {
  it('reconnects to a new server on the same port: the new scanout on the canvas, the new console in the terminal', async () => {
    const { chromium } = await import('playwright-core')
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
    const first = await setupDisplay()
    let second: Awaited<ReturnType<typeof setupDisplay>> | undefined
    try {
      // Opaque pixels (alpha 255): the canvas keeps them exactly.
      const picture = (seed: number) => new Uint8Array(W * H * 4).map((_, i) => ((i & 3) === 3 ? 255 : (i * seed) & 0xff))
      await first.surface.present(picture(7), [{ x: 0, y: 0, width: W, height: H }])
      first.web.consoleOutput(new TextEncoder().encode('first machine\r\n'))
      const page = await browser.newPage()
      await page.goto(first.web.url)
      await page.waitForFunction('window.honk.connected')
      const canvasHash = () => page.evaluate<number>(`(${HASH})(document.getElementById('screen').getContext('2d').getImageData(0, 0, ${W}, ${H}).data)`)
      const terminal = () => page.evaluate<string>(`(() => { const b = window.honk.term.buffer.active; const l = []; for (let i = 0; i < b.length; i++) l.push(b.getLine(i).translateToString(true)); return l.join('\\n') })()`)
      await page.waitForFunction(`window.honk.rects >= 1`)
      expect(await canvasHash()).toBe(hash(first.gpu.display(0).rgba))
      await expect.poll(terminal).toContain('first machine')

      // The server goes away; the page says so and keeps trying.
      const port = first.web.port
      await first.web.close()
      await page.waitForFunction('!window.honk.connected')
      expect(await page.textContent('#status')).toContain('reconnecting')

      // A new machine on the same port.
      second = await setupDisplay(port)
      await second.surface.present(picture(13), [{ x: 0, y: 0, width: W, height: H }])
      second.web.consoleOutput(new TextEncoder().encode('second machine\r\n'))
      await page.waitForFunction('window.honk.connected && window.honk.connects === 2', undefined, { timeout: 20_000 })
      await expect.poll(canvasHash).toBe(hash(second.gpu.display(0).rgba))
      expect(hash(second.gpu.display(0).rgba)).not.toBe(hash(first.gpu.display(0).rgba))
      await expect.poll(terminal).toContain('second machine')
      // The terminal started over from the new server's history.
      expect(await terminal()).not.toContain('first machine')
      // And the page's input reaches the new devices.
      await page.click('#screen')
      await page.keyboard.press('KeyQ')
      await expect.poll(() => second!.events.some((x) => x.dev === 'kbd' && x.e.code === 16)).toBe(true)
    } finally {
      await browser.close()
      await second?.web.close()
    }
  }, 120_000)
})
