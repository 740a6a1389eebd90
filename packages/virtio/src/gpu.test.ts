import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MMIO } from './constants.js'
import { GPU_CMD, GPU_EVENT_DISPLAY, GPU_F, GPU_FLAG_FENCE, GPU_FORMAT, GPU_RESP, VirtioGpu, buildEdid, type GpuCursor, type GpuFlush } from './gpu.js'
import { RAM_BASE, collect, readWritable, rig, submit, type Rig } from './harness.test-helpers.js'

/** A command: 24-byte header then little-endian u32 fields (u64 where `wide` says). */
function cmd(type: number, fields: (number | bigint)[] = [], options: { fence?: bigint; ctx?: number } = {}): Uint8Array {
  const size = 24 + fields.reduce<number>((n, f) => n + (typeof f === 'bigint' ? 8 : 4), 0)
  const b = new Uint8Array(size)
  const v = new DataView(b.buffer)
  v.setUint32(0, type, true)
  if (options.fence !== undefined) {
    v.setUint32(4, GPU_FLAG_FENCE, true)
    v.setBigUint64(8, options.fence, true)
    v.setUint32(16, options.ctx ?? 0, true)
  }
  let o = 24
  for (const f of fields) {
    if (typeof f === 'bigint') {
      v.setBigUint64(o, f, true)
      o += 8
    } else {
      v.setUint32(o, f >>> 0, true)
      o += 4
    }
  }
  return b
}

/** Sends one control (or cursor) command and returns the response bytes. */
function send(r: Rig<VirtioGpu>, parts: Uint8Array[], room = 1100, queue = 0): { type: number; bytes: Uint8Array; len: number } {
  const s = submit(r, r.queues[queue]!, parts, room > 0 ? [room] : [])
  const used = collect(r.queues[queue]!)
  expect(used.has(s.head)).toBe(true)
  const bytes = readWritable(r, s)
  return { type: room >= 4 ? new DataView(bytes.buffer).getUint32(0, true) : -1, bytes, len: used.get(s.head)! }
}
const ok = (r: Rig<VirtioGpu>, parts: Uint8Array[]) => expect(send(r, parts).type).toBe(GPU_RESP.OK_NODATA)

const create = (id: number, format: number, w: number, h: number) => cmd(GPU_CMD.RESOURCE_CREATE_2D, [id, format, w, h])
function attach(id: number, entries: { addr: number; len: number }[]): Uint8Array {
  const b = new Uint8Array(32 + 16 * entries.length)
  b.set(cmd(GPU_CMD.RESOURCE_ATTACH_BACKING, [id, entries.length]))
  const v = new DataView(b.buffer)
  entries.forEach((e, i) => {
    v.setBigUint64(32 + 16 * i, BigInt(e.addr), true)
    v.setUint32(40 + 16 * i, e.len, true)
  })
  return b
}
const setScanout = (scanout: number, id: number, x: number, y: number, w: number, h: number) => cmd(GPU_CMD.SET_SCANOUT, [x, y, w, h, scanout, id])
const transfer = (id: number, x: number, y: number, w: number, h: number, offset: bigint) => cmd(GPU_CMD.TRANSFER_TO_HOST_2D, [x, y, w, h, offset, id, 0])
const flush = (id: number, x: number, y: number, w: number, h: number) => cmd(GPU_CMD.RESOURCE_FLUSH, [x, y, w, h, id, 0])

/** A w×h framebuffer in guest RAM, scattered over `pieces` non-adjacent chunks; returns its entries and a pixel writer. */
function framebuffer(r: Rig<VirtioGpu>, w: number, h: number, pieces: number) {
  const total = w * h * 4
  const cut = Math.ceil(total / pieces)
  const entries: { addr: number; len: number }[] = []
  for (let o = 0; o < total; o += cut) {
    const len = Math.min(cut, total - o)
    r.alloc.alloc(64, 8) // a gap, so entries are really scattered
    entries.push({ addr: r.alloc.alloc(len, 4), len })
  }
  /** Writes the 4 bytes of pixel (x, y) at framebuffer offset (y·w + x)·4. */
  const poke = (x: number, y: number, bytes: number[]) => {
    let off = (y * w + x) * 4
    for (const byte of bytes) {
      let pos = 0
      for (const e of entries) {
        if (off < pos + e.len) {
          r.memory.write(e.addr + off - pos, Uint8Array.of(byte))
          break
        }
        pos += e.len
      }
      off++
    }
  }
  return { entries, poke }
}

const px = (rgba: Uint8Array, width: number, x: number, y: number) => Array.from(rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 4))

describe('virtio-gpu', () => {
  it('offers EDID, one scanout in config, and answers GET_DISPLAY_INFO with the mode', () => {
    const r = rig(new VirtioGpu({ width: 1024, height: 768 }))
    expect(r.transport.read(MMIO.DeviceID, 4)).toBe(16n)
    expect(r.driver.negotiated & GPU_F.EDID).toBe(GPU_F.EDID)
    expect(new DataView(r.driver.readConfig(0, 16).buffer).getUint32(8, true)).toBe(1)
    const { type, bytes, len } = send(r, [cmd(GPU_CMD.GET_DISPLAY_INFO)])
    expect(type).toBe(GPU_RESP.OK_DISPLAY_INFO)
    expect(len).toBe(24 + 16 * 24)
    const v = new DataView(bytes.buffer)
    // pmode 0: rect (0,0,1024,768), enabled 1 — the fields honk's driver reads at +8/+12/+16.
    expect([v.getUint32(24 + 8, true), v.getUint32(24 + 12, true), v.getUint32(24 + 16, true)]).toEqual([1024, 768, 1])
    expect(v.getUint32(48 + 16, true)).toBe(0) // scanout 1 absent
    expect(r.errors).toEqual([])
  })

  it('answers GET_EDID with a valid 128-byte EDID whose preferred mode is the display mode', () => {
    const r = rig(new VirtioGpu({ width: 1280, height: 800 }))
    const { type, bytes } = send(r, [cmd(GPU_CMD.GET_EDID, [0, 0])])
    expect(type).toBe(GPU_RESP.OK_EDID)
    const v = new DataView(bytes.buffer)
    expect(v.getUint32(24, true)).toBe(128)
    const edid = bytes.subarray(32, 160)
    expect(Array.from(edid.subarray(0, 8))).toEqual([0, 255, 255, 255, 255, 255, 255, 0])
    expect(edid.reduce((a, b) => a + b, 0) & 0xff).toBe(0) // checksum
    expect([edid[18], edid[19]]).toEqual([1, 4])
    // Detailed timing 1: active width/height.
    expect(edid[56]! | ((edid[58]! >> 4) << 8)).toBe(1280)
    expect(edid[59]! | ((edid[61]! >> 4) << 8)).toBe(800)
    const clock = (edid[54]! | (edid[55]! << 8)) * 10000
    const htotal = 1280 + (edid[57]! | ((edid[58]! & 15) << 8))
    const vtotal = 800 + (edid[60]! | ((edid[61]! & 15) << 8))
    expect(clock / (htotal * vtotal)).toBeCloseTo(60, 0)
    // Monitor name descriptor.
    expect(edid[75]).toBe(0xfc)
    expect(new TextDecoder().decode(edid.subarray(77, 81))).toBe('honk')
    expect(send(r, [cmd(GPU_CMD.GET_EDID, [3, 0])]).type).toBe(GPU_RESP.ERR_INVALID_SCANOUT_ID)
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 3840 }), fc.integer({ min: 16, max: 2160 }), (w, h) => {
        const e = buildEdid(w, h)
        return (e.reduce((a, b) => a + b, 0) & 0xff) === 0 && (e[56]! | ((e[58]! >> 4) << 8)) === w && (e[59]! | ((e[61]! >> 4) << 8)) === h
      }),
    )
  })

  for (const [name, format, bytes, rgba] of [
    ['B8G8R8X8 (Linux XRGB8888)', GPU_FORMAT.B8G8R8X8_UNORM, [30, 20, 10, 0], [10, 20, 30, 255]],
    ['B8G8R8A8', GPU_FORMAT.B8G8R8A8_UNORM, [30, 20, 10, 128], [10, 20, 30, 128]],
    ['R8G8B8A8 (honk)', GPU_FORMAT.R8G8B8A8_UNORM, [10, 20, 30, 77], [10, 20, 30, 77]],
    ['R8G8B8X8', GPU_FORMAT.R8G8B8X8_UNORM, [10, 20, 30, 0], [10, 20, 30, 255]],
    ['A8R8G8B8', GPU_FORMAT.A8R8G8B8_UNORM, [99, 10, 20, 30], [10, 20, 30, 99]],
    ['X8R8G8B8', GPU_FORMAT.X8R8G8B8_UNORM, [0, 10, 20, 30], [10, 20, 30, 255]],
    ['A8B8G8R8', GPU_FORMAT.A8B8G8R8_UNORM, [99, 30, 20, 10], [10, 20, 30, 99]],
    ['X8B8G8R8', GPU_FORMAT.X8B8G8R8_UNORM, [0, 30, 20, 10], [10, 20, 30, 255]],
  ] as const) {
    it(`shows a ${name} framebuffer as RGBA after create, scattered backing, set scanout, transfer, flush`, () => {
      const W = 64
      const H = 48
      const r = rig(new VirtioGpu({ width: W, height: H }))
      const flushes: GpuFlush[] = []
      r.device.onFlush((f) => flushes.push(f))
      const fb = framebuffer(r, W, H, 5)
      ok(r, [create(7, format, W, H)])
      ok(r, [attach(7, fb.entries)])
      ok(r, [setScanout(0, 7, 0, 0, W, H)])
      expect(flushes.at(-1)!.rect).toEqual({ x: 0, y: 0, width: W, height: H })
      fb.poke(3, 4, [...bytes])
      fb.poke(W - 1, H - 1, [...bytes])
      // Nothing reaches the host before transfer + flush.
      expect(px(r.device.display().rgba, W, 3, 4)).toEqual([0, 0, 0, format === GPU_FORMAT.R8G8B8A8_UNORM || format === GPU_FORMAT.B8G8R8A8_UNORM || format === GPU_FORMAT.A8R8G8B8_UNORM || format === GPU_FORMAT.A8B8G8R8_UNORM ? 0 : 255])
      ok(r, [transfer(7, 0, 0, W, H, 0n)])
      ok(r, [flush(7, 2, 3, 10, 10)])
      const d = r.device.display()
      expect(flushes.at(-1)!.rect).toEqual({ x: 2, y: 3, width: 10, height: 10 })
      expect(px(d.rgba, W, 3, 4)).toEqual([...rgba])
      // Outside the flushed rectangle the host copy is still the old one.
      expect(px(d.rgba, W, W - 1, H - 1)).not.toEqual([...rgba])
      ok(r, [flush(7, 0, 0, W, H)])
      expect(px(r.device.display().rgba, W, W - 1, H - 1)).toEqual([...rgba])
      expect(Array.from(r.device.readRect(0, { x: W - 1, y: H - 1, width: 5, height: 5 }))).toEqual([...rgba])
      expect(r.errors).toEqual([])
    })
  }

  it('transfers a sub-rectangle from offset y·stride + x·4 (the layout Linux uses), and maps a scanout at an offset in the resource', () => {
    const W = 32
    const H = 32
    const r = rig(new VirtioGpu({ width: 16, height: 16 }))
    const fb = framebuffer(r, W, H, 3)
    ok(r, [create(1, GPU_FORMAT.R8G8B8A8_UNORM, W, H)])
    ok(r, [attach(1, fb.entries)])
    ok(r, [setScanout(0, 1, 8, 8, 16, 16)])
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) fb.poke(x, y, [x, y, 1, 255])
    const flushes: GpuFlush[] = []
    r.device.onFlush((f) => flushes.push(f))
    ok(r, [transfer(1, 10, 12, 4, 3, BigInt(12 * W * 4 + 10 * 4))])
    ok(r, [flush(1, 0, 0, W, H)])
    expect(flushes.map((f) => f.rect)).toEqual([{ x: 0, y: 0, width: 16, height: 16 }])
    const d = r.device.display()
    expect(d.scanoutWidth).toBe(16)
    // Resource (10,12) is scanout (2,4).
    expect(px(d.rgba, 16, 2, 4)).toEqual([10, 12, 1, 255])
    expect(px(d.rgba, 16, 5, 6)).toEqual([13, 14, 1, 255])
    expect(px(d.rgba, 16, 6, 6)).toEqual([0, 0, 0, 0]) // (14,14) was not transferred
    // A flush wholly outside the scanned-out area gives no host event.
    ok(r, [flush(1, 0, 0, 8, 8)])
    expect(flushes.length).toBe(1)
  })

  it('answers hostile commands with the spec error responses and reports them, never throwing', () => {
    const r = rig(new VirtioGpu({ width: 64, height: 64, maxHostMemory: 1 << 20 }), { ramSize: 1 << 20 })
    const err = (parts: Uint8Array[], want: number) => expect(send(r, parts).type).toBe(want)
    err([create(0, GPU_FORMAT.R8G8B8A8_UNORM, 8, 8)], GPU_RESP.ERR_INVALID_RESOURCE_ID)
    ok(r, [create(1, GPU_FORMAT.R8G8B8A8_UNORM, 8, 8)])
    err([create(1, GPU_FORMAT.R8G8B8A8_UNORM, 8, 8)], GPU_RESP.ERR_INVALID_RESOURCE_ID) // duplicate
    err([create(2, 999, 8, 8)], GPU_RESP.ERR_INVALID_PARAMETER) // format
    err([create(2, GPU_FORMAT.R8G8B8A8_UNORM, 0, 8)], GPU_RESP.ERR_INVALID_PARAMETER)
    err([create(2, GPU_FORMAT.R8G8B8A8_UNORM, 0xffffffff, 0xffffffff)], GPU_RESP.ERR_INVALID_PARAMETER) // overflowing size
    err([create(2, GPU_FORMAT.R8G8B8A8_UNORM, 1024, 1024)], GPU_RESP.ERR_OUT_OF_MEMORY) // 4 MiB > 1 MiB budget
    err([cmd(GPU_CMD.RESOURCE_UNREF, [42, 0])], GPU_RESP.ERR_INVALID_RESOURCE_ID)
    err([attach(42, [{ addr: RAM_BASE, len: 256 }])], GPU_RESP.ERR_INVALID_RESOURCE_ID)
    err([attach(1, [{ addr: RAM_BASE + (1 << 20) - 16, len: 256 }])], GPU_RESP.ERR_UNSPEC) // backing outside RAM
    err([attach(1, [{ addr: 0x1000, len: 256 }])], GPU_RESP.ERR_UNSPEC)
    const huge = attach(1, [{ addr: RAM_BASE, len: 256 }])
    new DataView(huge.buffer).setBigUint64(32, 0xffff_ffff_ffff_f000n, true)
    err([huge], GPU_RESP.ERR_UNSPEC)
    err([cmd(GPU_CMD.RESOURCE_ATTACH_BACKING, [1, 1000])], GPU_RESP.ERR_UNSPEC) // entries missing (short buffer)
    err([cmd(GPU_CMD.RESOURCE_ATTACH_BACKING, [1, 0])], GPU_RESP.ERR_INVALID_PARAMETER)
    err([cmd(GPU_CMD.RESOURCE_DETACH_BACKING, [1, 0])], GPU_RESP.ERR_UNSPEC) // no backing
    err([transfer(1, 0, 0, 8, 8, 0n)], GPU_RESP.ERR_UNSPEC) // no backing
    const buf = r.alloc.alloc(256, 8)
    ok(r, [attach(1, [{ addr: buf, len: 200 }])]) // shorter than 8·8·4
    err([attach(1, [{ addr: buf, len: 256 }])], GPU_RESP.ERR_UNSPEC) // already attached
    err([transfer(1, 0, 0, 8, 8, 0n)], GPU_RESP.ERR_INVALID_PARAMETER) // backing too short for the rectangle
    err([transfer(1, 0, 0, 1, 1, 0xffff_ffff_ffff_ff00n)], GPU_RESP.ERR_INVALID_PARAMETER) // offset past the backing
    err([transfer(1, 4, 4, 5, 4, 0n)], GPU_RESP.ERR_INVALID_PARAMETER) // outside the resource
    err([transfer(1, 0xffffffff, 0, 2, 1, 0n)], GPU_RESP.ERR_INVALID_PARAMETER) // x + w overflows u32
    err([flush(1, 0, 6, 8, 3)], GPU_RESP.ERR_INVALID_PARAMETER)
    err([flush(9, 0, 0, 1, 1)], GPU_RESP.ERR_INVALID_RESOURCE_ID)
    err([setScanout(1, 1, 0, 0, 8, 8)], GPU_RESP.ERR_INVALID_SCANOUT_ID)
    err([setScanout(0, 9, 0, 0, 8, 8)], GPU_RESP.ERR_INVALID_RESOURCE_ID)
    err([setScanout(0, 1, 0, 0, 9, 8)], GPU_RESP.ERR_INVALID_PARAMETER)
    err([setScanout(0, 1, 0, 0, 0, 0)], GPU_RESP.ERR_INVALID_PARAMETER)
    err([cmd(GPU_CMD.RESOURCE_FLUSH, [0, 0])], GPU_RESP.ERR_UNSPEC) // short command
    err([new Uint8Array(10)], GPU_RESP.ERR_UNSPEC) // shorter than the header
    err([cmd(0x0999)], GPU_RESP.ERR_UNSPEC)
    err([cmd(GPU_CMD.GET_CAPSET_INFO, [0, 0])], GPU_RESP.ERR_INVALID_PARAMETER)
    // A response buffer too short for the header gets what fits; the chain still completes.
    expect(send(r, [cmd(GPU_CMD.GET_DISPLAY_INFO)], 8).len).toBe(8)
    expect(r.errors.length).toBeGreaterThanOrEqual(30)
    expect(r.errors.every((e) => e.code === 'VIRTIO_REQUEST')).toBe(true)
    expect(r.device.stats.errors).toBe(r.errors.length - 1) // the short-response report is not a command error
  })

  it('bounds host memory: creates beyond the budget fail, unref gives it back', () => {
    const r = rig(new VirtioGpu({ width: 64, height: 64, maxHostMemory: 64 * 64 * 4 * 3 + 3 * 256, maxResources: 10 }))
    for (let id = 1; id <= 3; id++) ok(r, [create(id, GPU_FORMAT.B8G8R8X8_UNORM, 64, 64)])
    expect(send(r, [create(4, GPU_FORMAT.B8G8R8X8_UNORM, 64, 64)]).type).toBe(GPU_RESP.ERR_OUT_OF_MEMORY)
    ok(r, [cmd(GPU_CMD.RESOURCE_UNREF, [2, 0])])
    ok(r, [create(4, GPU_FORMAT.B8G8R8X8_UNORM, 64, 64)])
    // Scanning a resource out takes a host RGBA copy, charged to the same budget.
    expect(send(r, [setScanout(0, 1, 0, 0, 64, 64)]).type).toBe(GPU_RESP.ERR_OUT_OF_MEMORY)
    ok(r, [cmd(GPU_CMD.RESOURCE_UNREF, [3, 0])])
    ok(r, [setScanout(0, 1, 0, 0, 64, 64)])
    expect(r.device.memoryUsed).toBe(3 * 64 * 64 * 4 + 2 * 256)
    ok(r, [setScanout(0, 0, 0, 0, 0, 0)])
    expect(r.device.memoryUsed).toBe(2 * 64 * 64 * 4 + 2 * 256)
    // Tiny resources are limited by count.
    const s = rig(new VirtioGpu({ maxResources: 5 }))
    for (let id = 1; id <= 5; id++) ok(s, [create(id, GPU_FORMAT.B8G8R8X8_UNORM, 1, 1)])
    expect(send(s, [create(6, GPU_FORMAT.B8G8R8X8_UNORM, 1, 1)]).type).toBe(GPU_RESP.ERR_OUT_OF_MEMORY)
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), fc.boolean()), { maxLength: 40 }), (ops) => {
        const g = rig(new VirtioGpu({ maxHostMemory: 1 << 20 }), { ramSize: 1 << 16 })
        for (const [id, w, h, unref] of ops) {
          send(g, [unref ? cmd(GPU_CMD.RESOURCE_UNREF, [id, 0]) : create(id, GPU_FORMAT.B8G8R8X8_UNORM, w, h)], 64)
          send(g, [setScanout(id % 2, id, 0, 0, w, h)], 64) // scanout copies count too (2nd scanout absent: refused)
        }
        return g.device.memoryUsed <= 1 << 20 && g.device.memoryUsed >= 0
      }),
      { numRuns: 50 },
    )
  })

  it('detach backing stops transfers; unref of the scanned-out resource disables the scanout', () => {
    const r = rig(new VirtioGpu({ width: 16, height: 16 }))
    const fb = framebuffer(r, 16, 16, 2)
    const flushes: GpuFlush[] = []
    r.device.onFlush((f) => flushes.push(f))
    ok(r, [create(3, GPU_FORMAT.B8G8R8X8_UNORM, 16, 16)])
    ok(r, [attach(3, fb.entries)])
    ok(r, [setScanout(0, 3, 0, 0, 16, 16)])
    expect(r.device.display().enabled).toBe(true)
    ok(r, [cmd(GPU_CMD.RESOURCE_DETACH_BACKING, [3, 0])])
    expect(send(r, [transfer(3, 0, 0, 16, 16, 0n)]).type).toBe(GPU_RESP.ERR_UNSPEC)
    ok(r, [cmd(GPU_CMD.RESOURCE_UNREF, [3, 0])])
    expect(r.device.display().enabled).toBe(false)
    expect(flushes.at(-1)!.display.enabled).toBe(false)
    ok(r, [create(3, GPU_FORMAT.B8G8R8X8_UNORM, 16, 16)]) // the id is free again
    ok(r, [setScanout(0, 3, 0, 0, 16, 16)])
    ok(r, [setScanout(0, 0, 0, 0, 0, 0)]) // resource 0 disables
    expect(r.device.display().enabled).toBe(false)
  })

  it('signals fences in the response (flag, fence id and ctx echoed)', () => {
    const r = rig(new VirtioGpu())
    const { bytes } = send(r, [cmd(GPU_CMD.RESOURCE_CREATE_2D, [1, GPU_FORMAT.B8G8R8X8_UNORM, 4, 4], { fence: 0x1234_5678_9abcn, ctx: 5 })])
    const v = new DataView(bytes.buffer)
    expect(v.getUint32(0, true)).toBe(GPU_RESP.OK_NODATA)
    expect(v.getUint32(4, true) & GPU_FLAG_FENCE).toBe(GPU_FLAG_FENCE)
    expect(v.getBigUint64(8, true)).toBe(0x1234_5678_9abcn)
    expect(v.getUint32(16, true)).toBe(5)
    // An error response carries the fence too (the fence still signals).
    const e = send(r, [cmd(GPU_CMD.RESOURCE_UNREF, [77, 0], { fence: 9n })])
    expect(e.type).toBe(GPU_RESP.ERR_INVALID_RESOURCE_ID)
    expect(new DataView(e.bytes.buffer).getBigUint64(8, true)).toBe(9n)
    // Without the flag the fence field is zero.
    expect(new DataView(send(r, [cmd(GPU_CMD.GET_DISPLAY_INFO)]).bytes.buffer).getBigUint64(8, true)).toBe(0n)
  })

  it('takes UPDATE_CURSOR / MOVE_CURSOR on the cursor queue and hands the host a 64×64 RGBA image', () => {
    const r = rig(new VirtioGpu({ width: 128, height: 128 }))
    const cursors: GpuCursor[] = []
    r.device.onCursor((c) => cursors.push(c))
    const fb = framebuffer(r, 64, 64, 1)
    ok(r, [create(5, GPU_FORMAT.B8G8R8A8_UNORM, 64, 64)])
    ok(r, [attach(5, fb.entries)])
    fb.poke(1, 2, [3, 2, 1, 200])
    ok(r, [transfer(5, 0, 0, 64, 64, 0n)])
    // struct virtio_gpu_update_cursor: hdr, pos {scanout, x, y, pad}, resource_id, hot_x, hot_y, pad.
    send(r, [cmd(GPU_CMD.UPDATE_CURSOR, [0, 10, 20, 0, 5, 4, 6, 0])], 24, 1)
    expect(cursors.at(-1)).toMatchObject({ scanout: 0, x: 10, y: 20, hotX: 4, hotY: 6 })
    expect(px(cursors.at(-1)!.image!, 64, 1, 2)).toEqual([1, 2, 3, 200])
    send(r, [cmd(GPU_CMD.MOVE_CURSOR, [0, 30, 40, 0, 0, 0, 0, 0])], 24, 1)
    expect(r.device.cursor).toMatchObject({ x: 30, y: 40, hotX: 4 })
    expect(r.device.cursor.image).toBeDefined()
    send(r, [cmd(GPU_CMD.UPDATE_CURSOR, [0, 30, 40, 0, 0, 0, 0, 0])], 24, 1)
    expect(r.device.cursor.image).toBeUndefined() // resource 0 hides it
    ok(r, [create(6, GPU_FORMAT.B8G8R8A8_UNORM, 32, 32)])
    expect(send(r, [cmd(GPU_CMD.UPDATE_CURSOR, [0, 0, 0, 0, 6, 0, 0, 0])], 24, 1).type).toBe(GPU_RESP.ERR_INVALID_PARAMETER)
    expect(send(r, [cmd(GPU_CMD.UPDATE_CURSOR, [0, 0, 0, 0, 99, 0, 0, 0])], 24, 1).type).toBe(GPU_RESP.ERR_INVALID_RESOURCE_ID)
    expect(send(r, [cmd(GPU_CMD.MOVE_CURSOR, [4, 0, 0, 0, 0, 0, 0, 0])], 24, 1).type).toBe(GPU_RESP.ERR_INVALID_SCANOUT_ID)
  })

  it('a host mode change raises VIRTIO_GPU_EVENT_DISPLAY; events_clear clears it', () => {
    const r = rig(new VirtioGpu({ width: 640, height: 480 }))
    const before = r.irq.rises
    r.device.setMode(0, 800, 600)
    expect(new DataView(r.driver.readConfig(0, 4).buffer).getUint32(0, true)).toBe(GPU_EVENT_DISPLAY)
    expect(r.irq.rises).toBeGreaterThan(before)
    const v = new DataView(send(r, [cmd(GPU_CMD.GET_DISPLAY_INFO)]).bytes.buffer)
    expect([v.getUint32(32, true), v.getUint32(36, true)]).toEqual([800, 600])
    r.driver.writeConfig(4, 4, BigInt(GPU_EVENT_DISPLAY))
    expect(new DataView(r.driver.readConfig(0, 4).buffer).getUint32(0, true)).toBe(0)
  })

  it('random command streams never throw, always complete every chain, and keep memory bounded', () => {
    const types = Object.values(GPU_CMD).filter((t) => t < 0x300)
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...types), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 10 }), fc.integer({ min: 0, max: 600 })), { maxLength: 30 }),
        (cmds) => {
          const g = rig(new VirtioGpu({ width: 64, height: 64, maxHostMemory: 1 << 20 }), { ramSize: 1 << 20 })
          for (const [type, fields, room] of cmds) {
            const small = fields.map((f, i) => (i < 4 && type !== GPU_CMD.RESOURCE_ATTACH_BACKING ? f % 80 : f))
            const s = submit(g, g.queues[0]!, [cmd(type, small)], room > 0 ? [room] : [])
            if (!collect(g.queues[0]!).has(s.head)) return false
          }
          return g.device.memoryUsed <= 1 << 20
        },
      ),
      { numRuns: 100 },
    )
  })

  it('a throwing flush listener is reported; the command still succeeds', () => {
    const r = rig(new VirtioGpu({ width: 16, height: 16 }))
    r.device.onFlush(() => {
      throw new Error('canvas gone')
    })
    ok(r, [create(1, GPU_FORMAT.B8G8R8X8_UNORM, 16, 16)])
    ok(r, [setScanout(0, 1, 0, 0, 16, 16)])
    expect(r.errors.map((e) => e.message)).toEqual(['virtio-gpu: a flush listener failed: Error: canvas gone'])
  })

  it("shows honk's test pattern at 1280×800: R8G8B8A8, one 4 KiB-aligned backing entry, whole-screen transfer and flush (inventory §1.9.11, §1.10.5)", () => {
    const W = 1280
    const H = 800
    const r = rig(new VirtioGpu(), { ramSize: 8 << 20 })
    const v = new DataView(send(r, [cmd(GPU_CMD.GET_DISPLAY_INFO)]).bytes.buffer)
    expect([v.getUint32(24 + 8, true), v.getUint32(24 + 12, true), v.getUint32(24 + 16, true)]).toEqual([W, H, 1]) // QEMU's default mode
    const fb = r.alloc.alloc(W * H * 4, 4096)
    const pixels = new Uint8Array(W * H * 4)
    const quad = [
      [200, 40, 40],
      [40, 200, 40],
      [40, 40, 200],
      [220, 220, 220],
    ]
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) pixels.set([...quad[(y < H / 2 ? 0 : 2) + (x < W / 2 ? 0 : 1)]!, 255], (y * W + x) * 4)
    r.memory.write(fb, pixels)
    ok(r, [create(1, GPU_FORMAT.R8G8B8A8_UNORM, W, H)])
    ok(r, [attach(1, [{ addr: fb, len: W * H * 4 }])])
    ok(r, [setScanout(0, 1, 0, 0, W, H)])
    ok(r, [transfer(1, 0, 0, W, H, 0n)])
    ok(r, [flush(1, 0, 0, W, H)])
    const d = r.device.display()
    // screendump.py's check points: the quadrant centres.
    expect(px(d.rgba, W, W / 4, H / 4)).toEqual([200, 40, 40, 255])
    expect(px(d.rgba, W, (3 * W) / 4, H / 4)).toEqual([40, 200, 40, 255])
    expect(px(d.rgba, W, W / 4, (3 * H) / 4)).toEqual([40, 40, 200, 255])
    expect(px(d.rgba, W, (3 * W) / 4, (3 * H) / 4)).toEqual([220, 220, 220, 255])
    // R8G8B8A8 is byte for byte what the guest wrote.
    expect(Buffer.from(d.rgba).equals(Buffer.from(pixels))).toBe(true)
  })
})
