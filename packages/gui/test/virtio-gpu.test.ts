/**
 * The toolkit on virtio-gpu end to end, as honk's kernel will drive it: the UI draws into a
 * guest buffer that backs an R8G8B8A8 resource (honk's format 67), each rectangle `render()`
 * returns becomes TRANSFER_TO_HOST_2D + RESOURCE_FLUSH, and the host's scanout (what a web
 * page is fed) ends up identical to the UI's framebuffer, with one flush event per rectangle.
 */
import { BumpAllocator, GPU_CMD, GPU_FORMAT, GPU_RESP, RamGuestMemory, noIrq, VirtioGpu, VirtioMmio, VirtioMmioDriver, type GpuFlush } from '@honk/virtio'
import { describe, expect, it } from 'vitest'
import { Button, Framebuffer, TextField, UI, rect, type Rect } from '../src/index.js'

const BASE = 0x8000_0000
const W = 320
const H = 200

function machine() {
  const ram = new Uint8Array(4 << 20)
  const memory = new RamGuestMemory(ram, BASE)
  const gpu = new VirtioGpu({ width: W, height: H })
  const transport = new VirtioMmio(gpu, { memory, irq: noIrq })
  const alloc = new BumpAllocator(BASE, ram.length)
  const driver = new VirtioMmioDriver(transport, memory, alloc)
  driver.init(gpu.features)
  const q = driver.setupQueue(0)
  driver.setupQueue(1)
  driver.driverOk()
  const reqBuf = alloc.alloc(256, 8)
  const respBuf = alloc.alloc(64, 8)
  /** One command, synchronously answered by the model; returns the response type. */
  const command = (words: (number | bigint)[]): number => {
    const b = new Uint8Array(256)
    const v = new DataView(b.buffer)
    let o = 0
    for (const w of words) {
      if (typeof w === 'bigint') {
        v.setBigUint64(o, w, true)
        o += 8
      } else {
        v.setUint32(o, w, true)
        o += 4
      }
    }
    memory.write(reqBuf, b.subarray(0, o))
    q.submit([
      { addr: reqBuf, len: o, writable: false },
      { addr: respBuf, len: 64, writable: true },
    ])
    q.kick()
    expect(q.collect().length).toBe(1)
    const r = new Uint8Array(4)
    memory.read(respBuf, r)
    return new DataView(r.buffer).getUint32(0, true)
  }
  const hdr = (type: number) => [type, 0, 0n, 0, 0] as const
  // The framebuffer lives in guest RAM; the UI draws straight into it.
  const fbAddr = alloc.alloc(W * H * 4, 4096)
  const fb = new Framebuffer(W, H, ram.subarray(fbAddr - BASE, fbAddr - BASE + W * H * 4))
  expect(command([...hdr(GPU_CMD.RESOURCE_CREATE_2D), 1, GPU_FORMAT.R8G8B8A8_UNORM, W, H])).toBe(GPU_RESP.OK_NODATA)
  expect(command([...hdr(GPU_CMD.RESOURCE_ATTACH_BACKING), 1, 1, BigInt(fbAddr), W * H * 4, 0])).toBe(GPU_RESP.OK_NODATA)
  expect(command([...hdr(GPU_CMD.SET_SCANOUT), 0, 0, W, H, 0, 1])).toBe(GPU_RESP.OK_NODATA)
  const flush = (r: Rect) => {
    expect(command([...hdr(GPU_CMD.TRANSFER_TO_HOST_2D), r.x, r.y, r.width, r.height, BigInt((r.y * W + r.x) * 4), 1, 0])).toBe(GPU_RESP.OK_NODATA)
    expect(command([...hdr(GPU_CMD.RESOURCE_FLUSH), r.x, r.y, r.width, r.height, 1, 0])).toBe(GPU_RESP.OK_NODATA)
  }
  return { gpu, fb, flush }
}

describe('@honk/gui on virtio-gpu', () => {
  it('damage rectangles become flushes, and the host scanout equals the UI', () => {
    const { gpu, fb, flush } = machine()
    const flushes: GpuFlush[] = []
    gpu.onFlush((f) => flushes.push(f))
    const ui = new UI({ width: W, height: H, framebuffer: fb })
    const field = ui.add(new TextField({ bounds: rect(20, 40, 280, 30) }))
    ui.add(new Button({ bounds: rect(20, 100, 120, 40), label: 'honk!' }))
    for (const r of ui.render()) flush(r)
    expect(flushes.map((f) => f.rect)).toEqual([{ x: 0, y: 0, width: W, height: H }])
    ui.handle({ kind: 'pointerdown', x: 100, y: 55 })
    ui.handle({ kind: 'pointerup', x: 100, y: 55 })
    for (const k of 'hi') ui.handle({ kind: 'key', key: k })
    flushes.length = 0
    const damaged = ui.render()
    for (const r of damaged) flush(r)
    expect(field.text).toBe('hi')
    expect(flushes.map((f) => f.rect)).toEqual(damaged)
    expect(damaged).toEqual([rect(20, 40, 280, 30)]) // only the field travels
    const shown = new Framebuffer(W, H, gpu.display().rgba.slice())
    expect(shown.equals(ui.framebuffer)).toBe(true)
    expect(gpu.readRect(0, damaged[0]!).length).toBe(280 * 30 * 4)
  })
})
