/**
 * honk mode with a screen (issue #16, inventory M9/M10): honk boots on the virt machine with a
 * virtio-gpu, a virtio keyboard and a virtio tablet; its boot lines, `fb` and `ui` are checked on
 * the console, and the scanout is checked from the device side (the test pattern's quadrants,
 * then the demo; a click on the button and typing, injected as virtio-input events, reach the
 * kernel's callbacks).
 */
import { INPUT_CODE } from '@honk/virtio'
import { describe, expect, it } from 'vitest'
import { coreAnchor, factoryImage } from './factory-core.js'
import { createHonk } from './honk.js'
import { ConsoleSession } from './session.js'

const MiB = 1 << 20
const W = 800
const H = 600

const px = (rgba: Uint8Array, x: number, y: number) => [...rgba.subarray((y * W + x) * 4, (y * W + x) * 4 + 3)]

describe('honk with a display (M9, M10)', () => {
  it('boot lines; fb paints the test pattern on the scanout; ui shows the demo; a click and typing reach the callbacks', async () => {
    const console = new ConsoleSession()
    const honk = createHonk({ harts: 2, memory: 256 * MiB, firmware: 'builtin', consoleOut: console.out, factory: factoryImage(), anchor: coreAnchor(), display: { width: W, height: H } })
    const display = honk.display!
    console.start(honk.machine)
    try {
      await console.waitFor('honk> ', 60_000)
      expect(console.text).toContain(`honk: display = virtio-gpu, ${W}x${H}`)
      expect(console.text).toContain(`honk: display up  ${W}x${H}  test pattern drawn`)
      expect(console.text).toContain('honk: input = virtio-input, 2 device(s)')
      expect(console.text).toContain('honk: ui up  2 input device(s); click the button and type')
      expect(console.text).toMatch(/honk: probed .*gpu@0x[0-9a-f]+ irq \d+, input@0x[0-9a-f]+ irq \d+, input@/)
      // After boot the demo is shown (background (30,30,46)).
      expect(px(display.gpu.display(0).rgba, 0, 0)).toEqual([30, 30, 46])

      console.send('fb\n')
      await console.waitFor(`fb: ${W}x${H} test pattern flushed to scanout`, 30_000)
      const shown = display.gpu.display(0)
      expect([shown.scanoutWidth, shown.scanoutHeight]).toEqual([W, H])
      const quadrant = { tl: [200, 40, 40], tr: [40, 200, 40], bl: [40, 40, 200], br: [220, 220, 220] }
      for (const [x, y, want] of [[0, 0, quadrant.tl], [W / 2 - 1, H / 2 - 1, quadrant.tl], [W / 2, 0, quadrant.tr], [W - 1, H / 2 - 1, quadrant.tr], [0, H / 2, quadrant.bl], [W / 2 - 1, H - 1, quadrant.bl], [W / 2, H / 2, quadrant.br], [W - 1, H - 1, quadrant.br]] as const) {
        expect(px(shown.rgba, x, y), `pixel ${x},${y}`).toEqual(want)
      }

      await console.waitFor('honk> ', 30_000)
      console.send('ui\n')
      await console.waitFor('ui: active  2 input device(s)  (click the button, type into the field)', 30_000)
      expect(px(display.gpu.display(0).rgba, 0, 0)).toEqual([30, 30, 46])
      display.tablet.moveToPixel(140, 190, W, H)
      display.tablet.button(INPUT_CODE.BTN_LEFT, true)
      display.tablet.button(INPUT_CODE.BTN_LEFT, false)
      await console.waitFor('ui: button clicked (clicks=1)', 30_000)
      display.tablet.moveToPixel(100, 100, W, H)
      display.tablet.button(INPUT_CODE.BTN_LEFT, true)
      display.tablet.button(INPUT_CODE.BTN_LEFT, false)
      // The keyboard and the tablet are separate devices with their own interrupts: let the
      // click that focuses the field land before typing (as a person's timing does).
      const flushed = display.gpu.stats.flushes
      while (display.gpu.stats.flushes === flushed) await new Promise((r) => setTimeout(r, 20))
      for (const code of [35, 24, 49, 37]) display.keyboard.tap(code) // h o n k
      await console.waitFor('ui: text="honk"', 30_000)
      // The shell sits at its prompt (printed before the callbacks' lines).
      console.send('ui status\n')
      await console.waitFor('ui: status panel shown', 30_000)
      console.send('exit\n')
      expect(await console.exit).toEqual({ reason: 'poweroff', code: 0 })
    } finally {
      honk.machine.stop()
      await honk.close()
    }
  }, 120_000)

  it('without a display: "no display device", "no input device"; fb and ui say so', async () => {
    const console = new ConsoleSession()
    const honk = createHonk({ harts: 1, memory: 128 * MiB, firmware: 'builtin', consoleOut: console.out, factory: factoryImage(), anchor: coreAnchor() })
    console.start(honk.machine)
    try {
      for (const line of ['fb', 'ui', 'exit']) {
        await console.waitFor('honk> ', 60_000)
        console.send(line + '\n')
      }
      await console.exit
      expect(console.text).toContain('honk: no display device')
      expect(console.text).toContain('honk: no input device')
      expect(console.text).toContain('fb: no display device')
      expect(console.text).toContain('ui: not active (needs a display + an input device)')
    } finally {
      honk.machine.stop()
      await honk.close()
    }
  }, 120_000)
})
