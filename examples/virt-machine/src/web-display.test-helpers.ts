/**
 * Test helpers for the web display: the three devices with this repo's drivers on them (the
 * guest side, in memory) and a WebDisplay serving them (the host side).
 */
import { BumpAllocator, RamGuestMemory, VirtioGpu, VirtioKeyboard, VirtioMmio, VirtioMmioDriver, VirtioTablet, noIrq, openVirtioGpu, openVirtioInput, type InputEvent, type VirtioInput } from '@honk/virtio'
import { WebDisplay } from './web-display.js'

const BASE = 0x8000_0000
export const W = 64
export const H = 40

/** The devices, a surface the "guest" presents on, and the web display (on `port`, default any free one). */
export async function setupDisplay(port = 0) {
  const memory = new RamGuestMemory(new Uint8Array(8 << 20), BASE)
  const alloc = new BumpAllocator(BASE, 8 << 20)
  const gpu = new VirtioGpu({ width: W, height: H })
  const keyboard = new VirtioKeyboard()
  const tablet = new VirtioTablet()
  const events: { dev: string; e: InputEvent }[] = []
  const input = (dev: VirtioInput, name: string) => {
    let port: ReturnType<typeof openVirtioInput> | undefined
    const t = new VirtioMmio(dev, { memory, irq: { set: (l) => l && queueMicrotask(() => port?.handleInterrupt()) } })
    port = openVirtioInput({ driver: new VirtioMmioDriver(t, memory, alloc), memory, alloc })
    port.onEvent((e) => events.push({ dev: name, e }))
  }
  input(keyboard, 'kbd')
  input(tablet, 'tablet')
  const driver = await openVirtioGpu({ driver: new VirtioMmioDriver(new VirtioMmio(gpu, { memory, irq: noIrq }), memory, alloc), memory, alloc, waitForInterrupt: () => Promise.resolve() })
  const surface = await driver.createSurface()
  const typed: string[] = []
  const web = await WebDisplay.start({ gpu, keyboard, tablet, port, consoleInput: (b) => typed.push(new TextDecoder().decode(b)) })
  return { gpu, keyboard, tablet, surface, web, events, typed }
}
