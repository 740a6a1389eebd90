import { BumpAllocator, DEVICE_ID, INPUT_CODE, RamGuestMemory, VirtioGpu, VirtioKeyboard, VirtioMmio, VirtioMmioDriver, VirtioTablet, type GpuFlush, type VirtioDevice } from '@honk/virtio'
import { describe, expect, it } from 'vitest'
import { TEST_PATTERN, initDisplay, type DisplaySlot, type StatusInfo } from './display.js'

const BASE = 0x8000_0000
const W = 800
const H = 600

/**
 * The kernel's display bring-up against the device models: guest RAM, one virtio-mmio
 * transport per device, and each device's interrupt line running the handler the kernel
 * registered for it on a microtask (as the PLIC's claim would, between hart slices).
 */
async function machine(devices: { gpu?: boolean; keyboard?: boolean; tablet?: boolean }, status?: () => StatusInfo) {
  const memory = new RamGuestMemory(new Uint8Array(32 << 20), BASE)
  const alloc = new BumpAllocator(BASE, 32 << 20)
  const handlers = new Map<number, () => void>()
  const transports = new Map<number, VirtioMmio>()
  const slots: DisplaySlot[] = []
  const add = (device: VirtioDevice, irq: number) => {
    const base = 0x1000_1000 + irq * 0x1000
    let scheduled = false
    const line = {
      set: (level: boolean) => {
        if (!level || scheduled) return
        scheduled = true
        queueMicrotask(() => {
          scheduled = false
          handlers.get(irq)?.()
        })
      },
    }
    transports.set(base, new VirtioMmio(device, { memory, irq: line }))
    slots.push({ base, irq, id: device.deviceId })
  }
  const gpu = new VirtioGpu({ width: W, height: H })
  const keyboard = new VirtioKeyboard()
  const tablet = new VirtioTablet()
  if (devices.gpu) add(gpu, 1)
  if (devices.keyboard) add(keyboard, 2)
  if (devices.tablet) add(tablet, 3)
  slots.push({ base: 0x1000_8000, irq: 8, id: undefined })
  const lines: string[] = []
  let out = ''
  const display = await initDisplay({
    slots,
    open: (base) => new VirtioMmioDriver(transports.get(base)!, memory, alloc),
    enableIrq: (irq, h) => handlers.set(irq, h),
    memory,
    alloc,
    line: (t) => lines.push(t),
    print: (t) => (out += t),
    status: status ?? (() => ({ uptime: '1s', harts: 2, processes: 1, network: 'ip=10.0.2.15/24' })),
  })
  const flushes: GpuFlush[] = []
  gpu.onFlush((f) => flushes.push(f))
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0))
    await display.idle()
  }
  return { display, gpu, keyboard, tablet, lines, output: () => out, flushes, settle }
}

const px = (rgba: Uint8Array, x: number, y: number) => [...rgba.subarray((y * W + x) * 4, (y * W + x) * 4 + 3)]

describe('honk display (inventory §1.10.5–6, §2.1 lines 11–12)', () => {
  it('no devices: the two "no … device" boot lines, and the UI is not active', async () => {
    const { display, lines } = await machine({})
    expect(lines).toEqual(['honk: no display device', 'honk: no input device'])
    expect(display.active).toBe(false)
  })

  it('a display without input: the test pattern is drawn and flushed, the UI is disabled', async () => {
    const { display, gpu, lines } = await machine({ gpu: true })
    expect(lines).toEqual([`honk: display = virtio-gpu, ${W}x${H}`, `honk: display up  ${W}x${H}  test pattern drawn`, 'honk: no input device'])
    expect(display.active).toBe(false)
    const shown = gpu.display(0).rgba
    expect(px(shown, 0, 0)).toEqual([...TEST_PATTERN.topLeft])
    expect(px(shown, W - 1, 0)).toEqual([...TEST_PATTERN.topRight])
    expect(px(shown, 0, H - 1)).toEqual([...TEST_PATTERN.bottomLeft])
    expect(px(shown, W - 1, H - 1)).toEqual([...TEST_PATTERN.bottomRight])
    expect(px(shown, W / 2 - 1, H / 2 - 1)).toEqual([...TEST_PATTERN.topLeft]) // split at w/2, h/2
    expect(px(shown, W / 2, H / 2)).toEqual([...TEST_PATTERN.bottomRight])
  })

  it('input without a display: "input present but no display; UI disabled"', async () => {
    const { lines, display } = await machine({ keyboard: true, tablet: true })
    expect(lines).toEqual(['honk: no display device', 'honk: input = virtio-input, 2 device(s)', 'honk: input present but no display; UI disabled'])
    expect(display.active).toBe(false)
  })

  it('display + keyboard + tablet: the demo is up; a click and typing reach the callbacks; only damage is flushed', async () => {
    const m = await machine({ gpu: true, keyboard: true, tablet: true })
    expect(m.lines.slice(2)).toEqual(['honk: input = virtio-input, 2 device(s)', 'honk: ui up  2 input device(s); click the button and type'])
    expect(px(m.gpu.display(0).rgba, 0, 0)).toEqual([30, 30, 46]) // the demo's background
    // Click the button (40,160)–(240,220), in tablet coordinates.
    m.flushes.length = 0
    m.tablet.moveToPixel(140, 190, W, H)
    m.tablet.button(INPUT_CODE.BTN_LEFT, true)
    m.tablet.button(INPUT_CODE.BTN_LEFT, false)
    await m.settle()
    expect(m.output()).toBe('ui: button clicked (clicks=1)\n')
    // Click the field, type h, shift+i.
    m.tablet.moveToPixel(100, 100, W, H)
    m.tablet.button(INPUT_CODE.BTN_LEFT, true)
    m.tablet.button(INPUT_CODE.BTN_LEFT, false)
    await m.settle()
    m.flushes.length = 0
    m.keyboard.tap(35) // KEY_H
    m.keyboard.key(42, true) // KEY_LEFTSHIFT
    m.keyboard.tap(23) // KEY_I
    m.keyboard.key(42, false)
    await m.settle()
    expect(m.output()).toBe('ui: button clicked (clicks=1)\nui: text="h"\nui: text="hI"\n')
    // Typing damages only the field: every flush lies inside it.
    expect(m.flushes.length).toBeGreaterThan(0)
    for (const f of m.flushes) expect(f.rect.x >= 40 && f.rect.y >= 80 && f.rect.x + f.rect.width <= 640 && f.rect.y + f.rect.height <= 124).toBe(true)
    // The host's scanout is the kernel's screen, pixel for pixel.
    expect(Buffer.from(m.gpu.display(0).rgba).equals(Buffer.from(m.display.pixels!))).toBe(true)
  })

  it('fb repaints the test pattern over the UI; ui shows the demo again, whole', async () => {
    const m = await machine({ gpu: true, keyboard: true })
    await m.display.testPattern()
    expect(px(m.gpu.display(0).rgba, 10, 10)).toEqual([...TEST_PATTERN.topLeft])
    m.keyboard.tap(30) // input while the pattern is shown changes nothing on screen
    await m.settle()
    expect(px(m.gpu.display(0).rgba, 10, 10)).toEqual([...TEST_PATTERN.topLeft])
    m.flushes.length = 0
    await m.display.show('demo')
    expect(m.flushes.map((f) => f.rect)).toEqual([{ x: 0, y: 0, width: W, height: H }])
    expect(px(m.gpu.display(0).rgba, 10, 10)).toEqual([30, 30, 46])
  })

  it('the status panel shows what status() says, and a change redraws only the labels that changed', async () => {
    let uptime = '1s'
    const m = await machine({ gpu: true, keyboard: true }, () => ({ uptime, harts: 2, processes: 3, network: 'ip=10.0.2.15/24' }))
    await m.display.show('status')
    const before = m.gpu.display(0).rgba.slice()
    m.flushes.length = 0
    uptime = '2s'
    await new Promise((r) => setTimeout(r, 1100))
    await m.settle()
    m.display.close()
    expect(m.flushes.length).toBe(1)
    const r = m.flushes[0]!.rect
    expect(r.height).toBeLessThanOrEqual(18) // one label row
    expect(Buffer.from(m.gpu.display(0).rgba).equals(Buffer.from(before))).toBe(false)
  })

  it('a GPU slot is probed by its device id', () => {
    expect(DEVICE_ID.GPU).toBe(16)
    expect(DEVICE_ID.INPUT).toBe(18)
  })
})
