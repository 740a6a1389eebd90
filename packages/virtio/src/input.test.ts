import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MMIO } from './constants.js'
import { collect, readWritable, rig, submit, type Rig, type Submitted } from './harness.test-helpers.js'
import { EV, INPUT_CFG, INPUT_CODE, TABLET_MAX, VirtioInput, VirtioKeyboard, VirtioTablet, buttonFromDom, keyCodeFromDom, type InputEvent } from './input.js'

/** Selects (select, subsel) as Linux's virtinput_cfg_select does and returns (size, union bytes). */
function cfg(r: Rig<VirtioInput>, select: number, subsel = 0): { size: number; u: Uint8Array } {
  r.driver.writeConfig(0, 1, BigInt(select))
  r.driver.writeConfig(1, 1, BigInt(subsel))
  const size = r.driver.readConfig(2, 1)[0]!
  return { size, u: r.driver.readConfig(8, 128).subarray(0, size) }
}
const hasBit = (bits: Uint8Array, n: number) => ((bits[n >> 3] ?? 0) & (1 << (n & 7))) !== 0
const text = (b: Uint8Array) => new TextDecoder().decode(b)

function post(r: Rig<VirtioInput>, n: number): Submitted[] {
  return Array.from({ length: n }, () => submit(r, r.queues[0]!, [], [8]))
}
function events(r: Rig<VirtioInput>, posted: Submitted[]): InputEvent[] {
  const used = collect(r.queues[0]!)
  return posted
    .filter((s) => used.get(s.head) === 8)
    .map((s) => {
      const v = new DataView(readWritable(r, s).buffer)
      return { type: v.getUint16(0, true), code: v.getUint16(2, true), value: v.getInt32(4, true) }
    })
}
const syn = { type: EV.SYN, code: 0, value: 0 }

describe('virtio-input', () => {
  it('keyboard: the config space Linux reads at probe', () => {
    const r = rig<VirtioInput>(new VirtioKeyboard())
    expect(r.transport.read(MMIO.DeviceID, 4)).toBe(18n)
    expect(text(cfg(r, INPUT_CFG.ID_NAME).u)).toBe('honk virtio keyboard')
    expect(text(cfg(r, INPUT_CFG.ID_SERIAL).u)).toBe('honk-kbd-0')
    const ids = cfg(r, INPUT_CFG.ID_DEVIDS)
    expect(ids.size).toBe(8)
    expect(new DataView(ids.u.slice().buffer).getUint16(0, true)).toBe(6) // BUS_VIRTUAL
    expect(cfg(r, INPUT_CFG.PROP_BITS).size).toBe(0)
    const keys = cfg(r, INPUT_CFG.EV_BITS, EV.KEY)
    expect(keys.size).toBe(32) // codes up to 248
    for (const k of [1, 14, 28, 30, 42, 57, 103, 248]) expect(hasBit(keys.u, k)).toBe(true)
    expect(hasBit(keys.u, 0)).toBe(false)
    expect(cfg(r, INPUT_CFG.EV_BITS, EV.REP).size).toBe(1) // autorepeat announced
    const leds = cfg(r, INPUT_CFG.EV_BITS, EV.LED)
    expect(Array.from(leds.u)).toEqual([0b111])
    for (const t of [EV.REL, EV.ABS, EV.MSC, EV.SW, EV.SND]) expect(cfg(r, INPUT_CFG.EV_BITS, t).size).toBe(0)
    expect(cfg(r, INPUT_CFG.ABS_INFO, 0).size).toBe(0)
    expect(cfg(r, INPUT_CFG.UNSET).size).toBe(0)
    expect(cfg(r, 0x77).size).toBe(0)
  })

  it('tablet: buttons, wheel, and ABS_X/ABS_Y with range 0..32767', () => {
    const r = rig<VirtioInput>(new VirtioTablet())
    expect(text(cfg(r, INPUT_CFG.ID_NAME).u)).toBe('honk virtio tablet')
    const keys = cfg(r, INPUT_CFG.EV_BITS, EV.KEY)
    for (const b of [INPUT_CODE.BTN_LEFT, INPUT_CODE.BTN_RIGHT, INPUT_CODE.BTN_MIDDLE]) expect(hasBit(keys.u, b)).toBe(true)
    expect(hasBit(keys.u, 30)).toBe(false)
    expect(hasBit(cfg(r, INPUT_CFG.EV_BITS, EV.REL).u, INPUT_CODE.REL_WHEEL)).toBe(true)
    const abs = cfg(r, INPUT_CFG.EV_BITS, EV.ABS)
    expect(Array.from(abs.u)).toEqual([0b11])
    for (const axis of [INPUT_CODE.ABS_X, INPUT_CODE.ABS_Y]) {
      const info = cfg(r, INPUT_CFG.ABS_INFO, axis)
      expect(info.size).toBe(20)
      const v = new DataView(info.u.slice().buffer)
      expect([v.getInt32(0, true), v.getInt32(4, true), v.getInt32(8, true), v.getInt32(12, true)]).toEqual([0, TABLET_MAX, 0, 0])
    }
    expect(cfg(r, INPUT_CFG.ABS_INFO, 2).size).toBe(0) // ABS_Z not offered
    expect(cfg(r, INPUT_CFG.EV_BITS, EV.REP).size).toBe(0)
  })

  it('config select also works with one 16-bit write (select and subsel together)', () => {
    const r = rig<VirtioInput>(new VirtioTablet())
    r.driver.writeConfig(0, 2, BigInt(INPUT_CFG.ABS_INFO | (INPUT_CODE.ABS_Y << 8)))
    expect(r.driver.readConfig(2, 1)[0]).toBe(20)
    // Writes to size and the union are ignored (read-only for the driver).
    r.driver.writeConfig(8, 4, 0xdeadbeefn)
    expect(new DataView(r.driver.readConfig(8, 8).buffer).getInt32(4, true)).toBe(TABLET_MAX)
  })

  it('keyboard events from the host reach the event queue as EV_KEY + SYN_REPORT, in order', () => {
    const r = rig<VirtioInput>(new VirtioKeyboard())
    const kb = r.device as VirtioKeyboard
    const bufs = post(r, 16)
    expect(kb.key(30, true)).toBe(true) // KEY_A
    expect(kb.key(30, false)).toBe(true)
    kb.tap(28) // KEY_ENTER
    expect(events(r, bufs)).toEqual([
      { type: EV.KEY, code: 30, value: 1 },
      syn,
      { type: EV.KEY, code: 30, value: 0 },
      syn,
      { type: EV.KEY, code: 28, value: 1 },
      syn,
      { type: EV.KEY, code: 28, value: 0 },
      syn,
    ])
    expect(r.irq.level).toBe(true)
    expect(r.device.stats.delivered).toBe(8)
  })

  it('tablet moves, buttons and wheel become ABS/KEY/REL reports; pixels scale to 0..32767', () => {
    const r = rig<VirtioInput>(new VirtioTablet())
    const t = r.device as VirtioTablet
    const bufs = post(r, 32)
    t.move(100, 40000) // clamped
    t.button(INPUT_CODE.BTN_LEFT, true)
    t.wheel(-2)
    t.moveToPixel(1279, 0, 1280, 800)
    expect(events(r, bufs)).toEqual([
      { type: EV.ABS, code: 0, value: 100 },
      { type: EV.ABS, code: 1, value: TABLET_MAX },
      syn,
      { type: EV.KEY, code: INPUT_CODE.BTN_LEFT, value: 1 },
      syn,
      { type: EV.REL, code: INPUT_CODE.REL_WHEEL, value: -2 },
      syn,
      { type: EV.ABS, code: 0, value: TABLET_MAX },
      { type: EV.ABS, code: 1, value: 0 },
      syn,
    ])
  })

  it('holds events until buffers are posted; a full backlog drops whole reports', () => {
    const r = rig<VirtioInput>(new VirtioKeyboard({ backlog: 5 }))
    const kb = r.device as VirtioKeyboard
    expect(kb.key(2, true)).toBe(true) // 2 events
    expect(kb.key(3, true)).toBe(true) // 4
    expect(kb.key(4, true)).toBe(false) // would be 6 > 5: the whole report is dropped
    expect(kb.pending).toBe(4)
    expect(r.device.stats.dropped).toBe(2)
    const first = post(r, 3)
    expect(events(r, first).map((e) => e.code)).toEqual([2, 0, 3])
    const rest = post(r, 3)
    expect(events(r, rest)).toEqual([syn])
    expect(kb.pending).toBe(0)
  })

  it('takes LED events on the status queue; short status buffers are reported, not thrown', () => {
    const r = rig<VirtioInput>(new VirtioKeyboard())
    const seen: InputEvent[] = []
    r.device.onStatus((e) => seen.push(e))
    const ev = new Uint8Array(8)
    const v = new DataView(ev.buffer)
    v.setUint16(0, EV.LED, true)
    v.setUint16(2, INPUT_CODE.LED_CAPSL, true)
    v.setInt32(4, 1, true)
    const s = submit(r, r.queues[1]!, [ev], [])
    expect(collect(r.queues[1]!).has(s.head)).toBe(true)
    expect(r.device.leds.get(INPUT_CODE.LED_CAPSL)).toBe(true)
    expect(seen).toEqual([{ type: EV.LED, code: 1, value: 1 }])
    submit(r, r.queues[1]!, [new Uint8Array(3)], [])
    expect(r.errors.length).toBe(1)
    expect(r.device.stats.status).toBe(1)
  })

  it('a reset forgets the backlog; events before DRIVER_OK wait for it', () => {
    const r = rig<VirtioInput>(new VirtioKeyboard(), { noDriverOk: true })
    const kb = r.device as VirtioKeyboard
    const bufs = post(r, 4)
    kb.tap(30)
    expect(collect(r.queues[0]!).size).toBe(0)
    r.driver.driverOk()
    expect(events(r, bufs).length).toBe(4)
    kb.tap(31)
    r.driver.reset()
    expect(kb.pending).toBe(0)
  })

  it('any host event stream arrives complete and in order when the guest keeps up; reports never split', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 248 }), fc.boolean()), { maxLength: 60 }), fc.integer({ min: 1, max: 16 }), (keys, batch) => {
        const r = rig<VirtioInput>(new VirtioKeyboard({ backlog: 32 }), { ramSize: 1 << 20 })
        const kb = r.device as VirtioKeyboard
        const got: InputEvent[] = []
        const want: InputEvent[] = []
        for (const [code, down] of keys) {
          if (kb.key(code, down)) want.push({ type: EV.KEY, code, value: down ? 1 : 0 }, syn)
          if (kb.pending > 16) got.push(...events(r, post(r, batch)))
        }
        while (kb.pending > 0) got.push(...events(r, post(r, batch)))
        expect(got).toEqual(want)
        expect(r.device.stats.delivered + r.device.stats.dropped).toBe(keys.length * 2)
      }),
      { numRuns: 60 },
    )
  })

  it('maps DOM KeyboardEvent.code and MouseEvent.button to Linux codes (for a web page)', () => {
    expect(['KeyA', 'KeyQ', 'KeyZ', 'KeyM', 'Digit1', 'Digit0', 'Enter', 'Backspace', 'Space', 'ShiftLeft', 'ArrowUp', 'F12', 'Escape'].map(keyCodeFromDom)).toEqual([30, 16, 44, 50, 2, 11, 28, 14, 57, 42, 103, 88, 1])
    expect(keyCodeFromDom('NoSuchKey')).toBeUndefined()
    expect([0, 1, 2].map(buttonFromDom)).toEqual([INPUT_CODE.BTN_LEFT, INPUT_CODE.BTN_MIDDLE, INPUT_CODE.BTN_RIGHT])
    expect(buttonFromDom(9)).toBeUndefined()
    // Every mapped key is one the keyboard announces in EV_BITS.
    const r = rig<VirtioInput>(new VirtioKeyboard())
    const keys = cfg(r, INPUT_CFG.EV_BITS, EV.KEY).u
    for (const c of ['KeyA', 'ContextMenu', 'NumpadEnter', 'Pause']) expect(hasBit(keys, keyCodeFromDom(c)!)).toBe(true)
  })

  it('a throwing status listener is reported, not thrown into the guest notify', () => {
    const r = rig<VirtioInput>(new VirtioKeyboard())
    r.device.onStatus(() => {
      throw new Error('host bug')
    })
    const ev = new Uint8Array(8)
    ev[0] = EV.LED
    const s = submit(r, r.queues[1]!, [ev], [])
    expect(collect(r.queues[1]!).has(s.head)).toBe(true)
    expect(r.errors.map((e) => e.message)).toEqual(['virtio-input: a status listener failed: Error: host bug'])
  })
})
