import { describe, expect, it } from 'vitest'
import { BumpAllocator, VirtioMmioDriver } from './driver.js'
import { EV, INPUT_CODE, VirtioKeyboard, VirtioTablet, type InputEvent } from './input.js'
import { openVirtioInput, type VirtioInputPort } from './input-driver.js'
import { RamGuestMemory, noIrq } from './memory.js'
import { VirtioMmio } from './mmio.js'
import { VirtioRng } from './rng.js'

const BASE = 0x8000_0000

/** Our driver → virtio-mmio → a virtio-input model; the interrupt runs the driver's handler on a microtask. */
function rig<D extends VirtioKeyboard | VirtioTablet>(device: D, buffers?: number) {
  const memory = new RamGuestMemory(new Uint8Array(1 << 20), BASE)
  const alloc = new BumpAllocator(BASE, 1 << 20)
  let port: VirtioInputPort | undefined
  let scheduled = false
  const irq = {
    set(level: boolean) {
      if (!level || scheduled) return
      scheduled = true
      queueMicrotask(() => {
        scheduled = false
        port?.handleInterrupt()
      })
    },
  }
  const transport = new VirtioMmio(device, { memory, irq })
  port = openVirtioInput({ driver: new VirtioMmioDriver(transport, memory, alloc), memory, alloc, ...(buffers ? { buffers } : {}) })
  const events: InputEvent[] = []
  port.onEvent((e) => events.push(e))
  return { port, device, events }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

describe('virtio-input driver', () => {
  it('reads the name and kind from config space', () => {
    expect(rig(new VirtioKeyboard()).port).toMatchObject({ name: 'honk virtio keyboard', kind: 'keyboard' })
    const t = rig(new VirtioTablet()).port
    expect(t).toMatchObject({ name: 'honk virtio tablet', kind: 'tablet' })
    expect(t.abs.get(INPUT_CODE.ABS_X)).toEqual({ min: 0, max: 32767 })
  })

  it('delivers key events from the interrupt, SYN_REPORT included, in order', async () => {
    const { device, events } = rig(new VirtioKeyboard())
    device.tap(30) // KEY_A
    await tick()
    expect(events).toEqual([
      { type: EV.KEY, code: 30, value: 1 },
      { type: EV.SYN, code: 0, value: 0 },
      { type: EV.KEY, code: 30, value: 0 },
      { type: EV.SYN, code: 0, value: 0 },
    ])
  })

  it('reposts its buffers: far more events than buffers all arrive, none dropped', async () => {
    const { device, events, port } = rig(new VirtioTablet(), 4)
    for (let i = 0; i < 200; i++) {
      device.move(i * 100, i * 50)
      await tick()
    }
    const xs = events.filter((e) => e.type === EV.ABS && e.code === INPUT_CODE.ABS_X).map((e) => e.value)
    expect(xs).toEqual(Array.from({ length: 200 }, (_, i) => i * 100))
    expect(device.stats.dropped).toBe(0)
    expect(port.stats.events).toBe(600)
  })

  it('refuses a device that is not an input device', () => {
    const memory = new RamGuestMemory(new Uint8Array(1 << 20), BASE)
    const alloc = new BumpAllocator(BASE, 1 << 20)
    const t = new VirtioMmio(new VirtioRng(), { memory, irq: noIrq })
    expect(() => openVirtioInput({ driver: new VirtioMmioDriver(t, memory, alloc), memory, alloc })).toThrow(/not an input device/)
  })
})
