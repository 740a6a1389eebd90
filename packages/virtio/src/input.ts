/**
 * virtio-input (virtio 1.2 §5.8): evdev events from the host to the guest. The config space is
 * the select/subsel window Linux's virtio_input driver reads at probe (names, serial, device
 * ids, property bits, event bits per type, absolute axis info); events the host injects go
 * into the event queue (a bounded backlog holds them while the guest has no buffers); the
 * status queue takes the guest's LED events.
 */
import { DEVICE_ID } from './constants.js'
import { VirtioDeviceBase } from './device.js'
import { VirtioConfigError, VirtioRequestError } from './errors.js'

/** `enum virtio_input_config_select` (§5.8.5). */
export const INPUT_CFG = { UNSET: 0, ID_NAME: 1, ID_SERIAL: 2, ID_DEVIDS: 3, PROP_BITS: 0x10, EV_BITS: 0x11, ABS_INFO: 0x12 } as const

/** Event types of Linux's input-event-codes.h used here. */
export const EV = { SYN: 0, KEY: 1, REL: 2, ABS: 3, MSC: 4, SW: 5, LED: 0x11, SND: 0x12, REP: 0x14 } as const
/** A few codes of input-event-codes.h (keyboard keys are the KEY_* numbers, e.g. KEY_A = 30). */
export const INPUT_CODE = {
  SYN_REPORT: 0,
  BTN_LEFT: 0x110,
  BTN_RIGHT: 0x111,
  BTN_MIDDLE: 0x112,
  BTN_SIDE: 0x113,
  BTN_EXTRA: 0x114,
  REL_HWHEEL: 6,
  REL_WHEEL: 8,
  ABS_X: 0,
  ABS_Y: 1,
  LED_NUML: 0,
  LED_CAPSL: 1,
  LED_SCROLLL: 2,
  KEY_MAX_KEYBOARD: 248,
} as const
/** The absolute range of a virtio tablet axis (QEMU's): 0..32767. */
export const TABLET_MAX = 32767
/** `struct virtio_input_event` is 8 bytes: le16 type, le16 code, le32 value. */
export const INPUT_EVENT_SIZE = 8

export interface InputEvent {
  readonly type: number
  readonly code: number
  readonly value: number
}

export interface AbsInfo {
  readonly min: number
  readonly max: number
  readonly fuzz?: number
  readonly flat?: number
  readonly res?: number
}

/** What the device tells the driver about itself. */
export interface InputDescription {
  /** ID_NAME, e.g. 'QEMU Virtio Keyboard' (up to 128 bytes). */
  readonly name: string
  readonly serial?: string
  /** ID_DEVIDS: bustype, vendor, product, version. */
  readonly ids?: { bustype: number; vendor: number; product: number; version: number }
  /** INPUT_PROP_* numbers. */
  readonly props?: readonly number[]
  /** Event codes supported, by event type (EV_KEY → key codes…). A type with an empty list is reported with a one-byte zero bitmap (how EV_REP is announced). */
  readonly events: ReadonlyMap<number, readonly number[]>
  /** Axis ranges for EV_ABS codes. */
  readonly abs?: ReadonlyMap<number, AbsInfo>
}

export interface VirtioInputOptions {
  /** Events held while the guest has no buffers; whole reports beyond it are dropped. Default 1024. */
  readonly backlog?: number
  readonly queueSize?: number
}

export interface InputStats {
  delivered: number
  dropped: number
  status: number
}

const BUS_VIRTUAL = 0x06

/**
 * A virtio-input device. Use {@link VirtioKeyboard} or {@link VirtioTablet}, or describe any
 * other evdev device. `send` injects one report (events followed by SYN_REPORT).
 */
export class VirtioInput extends VirtioDeviceBase {
  readonly name: string
  readonly deviceId = DEVICE_ID.INPUT
  readonly features = 0n
  readonly queueSizes: readonly number[]
  /** struct virtio_input_config: select, subsel, size, reserved[5], union u[128]. */
  readonly config = new Uint8Array(136)
  readonly stats: InputStats = { delivered: 0, dropped: 0, status: 0 }
  /** LED state as the guest last set it on the status queue (LED code → on). */
  readonly leds = new Map<number, boolean>()
  private readonly backlog: InputEvent[] = []
  private readonly maxBacklog: number
  private statusListeners = new Set<(e: InputEvent) => void>()

  constructor(
    readonly description: InputDescription,
    options: VirtioInputOptions = {},
  ) {
    super()
    this.name = 'virtio-input'
    if (new TextEncoder().encode(description.name).length > 128) throw new VirtioConfigError(`virtio-input: name "${description.name}" is longer than 128 bytes`)
    this.maxBacklog = options.backlog ?? 1024
    const size = options.queueSize ?? 64
    this.queueSizes = [size, size]
  }

  /** The driver writes select (byte 0) and subsel (byte 1); the device fills size and the union. */
  writeConfig(offset: number, size: number, value: bigint): void {
    for (let i = 0; i < size; i++) {
      const o = offset + i
      if (o <= 1) this.config[o] = Number((value >> BigInt(8 * i)) & 0xffn)
    }
    if (offset <= 1) this.select(this.config[0]!, this.config[1]!)
  }

  /**
   * Queues one report: `events` then SYN_REPORT. Returns false (and drops the whole report)
   * when the backlog is full — a report is never split, so the guest never sees half of one.
   */
  send(events: readonly InputEvent[]): boolean {
    if (this.backlog.length + events.length + 1 > this.maxBacklog) {
      this.stats.dropped += events.length + 1
      return false
    }
    for (const e of events) this.backlog.push({ type: e.type & 0xffff, code: e.code & 0xffff, value: e.value | 0 })
    this.backlog.push({ type: EV.SYN, code: INPUT_CODE.SYN_REPORT, value: 0 })
    this.fill()
    return true
  }

  /** Events queued and not yet taken by the guest. */
  get pending(): number {
    return this.backlog.length
  }

  /** Calls `listener` for each event the guest sends on the status queue (LEDs). */
  onStatus(listener: (e: InputEvent) => void): () => void {
    this.statusListeners.add(listener)
    return () => this.statusListeners.delete(listener)
  }

  notify(queue: number): void {
    if (queue === 0) this.fill()
    else if (queue === 1) this.status()
  }

  activate(): void {
    this.fill()
  }

  /** A reset forgets queued events (the guest's view starts over) and the LED state. */
  reset(): void {
    this.backlog.length = 0
    this.leds.clear()
    this.config.fill(0)
  }

  private fill(): void {
    if (!this.attached) return
    const q = this.ctx.queue(0)
    if (!q) return
    let moved = false
    while (this.backlog.length > 0) {
      const chain = q.pop()
      if (!chain) break
      if (chain.writableLength < INPUT_EVENT_SIZE) {
        this.ctx.report(new VirtioRequestError(this.name, `event buffer of ${chain.writableLength} bytes (8 needed)`))
        chain.complete(0, false)
        moved = true
        continue
      }
      const e = this.backlog.shift()!
      const b = new Uint8Array(INPUT_EVENT_SIZE)
      const v = new DataView(b.buffer)
      v.setUint16(0, e.type, true)
      v.setUint16(2, e.code, true)
      v.setInt32(4, e.value, true)
      chain.complete(chain.write(0, b), false)
      this.stats.delivered++
      moved = true
    }
    if (moved) q.signal()
  }

  private status(): void {
    const q = this.ctx.queue(1)
    if (!q) return
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.readableLength < INPUT_EVENT_SIZE) {
        this.ctx.report(new VirtioRequestError(this.name, `status event of ${chain.readableLength} bytes (8 needed)`))
      } else {
        const b = chain.read(0, INPUT_EVENT_SIZE)
        const v = new DataView(b.buffer)
        const e: InputEvent = { type: v.getUint16(0, true), code: v.getUint16(2, true), value: v.getInt32(4, true) }
        this.stats.status++
        if (e.type === EV.LED) this.leds.set(e.code, e.value !== 0)
        for (const l of this.statusListeners) {
          try {
            l(e)
          } catch (err) {
            // A host listener's failure must not unwind into the guest's queue notify.
            this.ctx.report(new VirtioRequestError(this.name, `a status listener failed: ${String(err)}`))
          }
        }
      }
      chain.complete(0, false)
    }
    q.signal()
  }

  private select(sel: number, sub: number): void {
    const u = this.config.subarray(8)
    u.fill(0)
    let size = 0
    const d = this.description
    const text = (s: string | undefined) => {
      if (s === undefined) return 0
      const b = new TextEncoder().encode(s).subarray(0, 128)
      u.set(b)
      return b.length
    }
    const bits = (codes: readonly number[]) => {
      let n = 0
      for (const c of codes) {
        if (c < 0 || c >= 1024) continue
        u[c >> 3]! |= 1 << (c & 7)
        n = Math.max(n, (c >> 3) + 1)
      }
      return n
    }
    switch (sel) {
      case INPUT_CFG.ID_NAME:
        size = text(d.name)
        break
      case INPUT_CFG.ID_SERIAL:
        size = text(d.serial)
        break
      case INPUT_CFG.ID_DEVIDS:
        if (d.ids) {
          const v = new DataView(this.config.buffer, 8)
          v.setUint16(0, d.ids.bustype, true)
          v.setUint16(2, d.ids.vendor, true)
          v.setUint16(4, d.ids.product, true)
          v.setUint16(6, d.ids.version, true)
          size = 8
        }
        break
      case INPUT_CFG.PROP_BITS:
        size = d.props ? bits(d.props) : 0
        break
      case INPUT_CFG.EV_BITS: {
        const codes = d.events.get(sub)
        if (codes) size = Math.max(1, bits(codes))
        break
      }
      case INPUT_CFG.ABS_INFO: {
        const a = d.abs?.get(sub)
        if (a && d.events.get(EV.ABS)?.includes(sub)) {
          const v = new DataView(this.config.buffer, 8)
          v.setInt32(0, a.min, true)
          v.setInt32(4, a.max, true)
          v.setInt32(8, a.fuzz ?? 0, true)
          v.setInt32(12, a.flat ?? 0, true)
          v.setInt32(16, a.res ?? 0, true)
          size = 20
        }
        break
      }
    }
    this.config[2] = size
  }
}

/** A keyboard: every key code 1..248 of input-event-codes.h, LEDs, autorepeat by the guest. */
export class VirtioKeyboard extends VirtioInput {
  constructor(options: VirtioInputOptions & { name?: string; serial?: string } = {}) {
    super(
      {
        name: options.name ?? 'honk virtio keyboard',
        serial: options.serial ?? 'honk-kbd-0',
        ids: { bustype: BUS_VIRTUAL, vendor: 0x0627, product: 0x0001, version: 1 },
        events: new Map<number, readonly number[]>([
          [EV.KEY, Array.from({ length: INPUT_CODE.KEY_MAX_KEYBOARD }, (_, i) => i + 1)],
          [EV.LED, [INPUT_CODE.LED_NUML, INPUT_CODE.LED_CAPSL, INPUT_CODE.LED_SCROLLL]],
          [EV.REP, []],
        ]),
      },
      options,
    )
  }

  /** A key press (`down`) or release; `code` is a Linux KEY_* number (KEY_A = 30). */
  key(code: number, down: boolean): boolean {
    return this.send([{ type: EV.KEY, code, value: down ? 1 : 0 }])
  }

  /** Press and release. */
  tap(code: number): boolean {
    return this.key(code, true) && this.key(code, false)
  }
}

/** An absolute pointer (QEMU's virtio-tablet): x/y in 0..32767, three buttons and wheels. */
export class VirtioTablet extends VirtioInput {
  constructor(options: VirtioInputOptions & { name?: string; serial?: string } = {}) {
    super(
      {
        name: options.name ?? 'honk virtio tablet',
        serial: options.serial ?? 'honk-tablet-0',
        ids: { bustype: BUS_VIRTUAL, vendor: 0x0627, product: 0x0003, version: 1 },
        events: new Map<number, readonly number[]>([
          [EV.KEY, [INPUT_CODE.BTN_LEFT, INPUT_CODE.BTN_RIGHT, INPUT_CODE.BTN_MIDDLE, INPUT_CODE.BTN_SIDE, INPUT_CODE.BTN_EXTRA]],
          [EV.REL, [INPUT_CODE.REL_HWHEEL, INPUT_CODE.REL_WHEEL]],
          [EV.ABS, [INPUT_CODE.ABS_X, INPUT_CODE.ABS_Y]],
        ]),
        abs: new Map([
          [INPUT_CODE.ABS_X, { min: 0, max: TABLET_MAX }],
          [INPUT_CODE.ABS_Y, { min: 0, max: TABLET_MAX }],
        ]),
      },
      options,
    )
  }

  /** Moves to (x, y) in 0..32767 (clamped). */
  move(x: number, y: number): boolean {
    return this.send([
      { type: EV.ABS, code: INPUT_CODE.ABS_X, value: clampAxis(x) },
      { type: EV.ABS, code: INPUT_CODE.ABS_Y, value: clampAxis(y) },
    ])
  }

  /** Moves to pixel (px, py) of a width×height screen (scaled as QEMU does: p·32767/(size−1)). */
  moveToPixel(px: number, py: number, width: number, height: number): boolean {
    return this.move(Math.round((px * TABLET_MAX) / Math.max(1, width - 1)), Math.round((py * TABLET_MAX) / Math.max(1, height - 1)))
  }

  /** A button press or release (BTN_LEFT = 0x110…). */
  button(code: number, down: boolean): boolean {
    return this.send([{ type: EV.KEY, code, value: down ? 1 : 0 }])
  }

  /** Wheel clicks: positive = away from the user (up); `horizontal` for REL_HWHEEL. */
  wheel(clicks: number, horizontal = false): boolean {
    return this.send([{ type: EV.REL, code: horizontal ? INPUT_CODE.REL_HWHEEL : INPUT_CODE.REL_WHEEL, value: clicks | 0 }])
  }
}

function clampAxis(v: number): number {
  return Math.max(0, Math.min(TABLET_MAX, Math.round(v)))
}

/** DOM `KeyboardEvent.code` (the physical key) → Linux KEY_* code, for a web page feeding a {@link VirtioKeyboard}. */
const DOM_CODES: ReadonlyMap<string, number> = new Map<string, number>([
  ['Escape', 1],
  ...[...'1234567890'].map((d, i) => [`Digit${d}`, 2 + i] as [string, number]),
  ['Minus', 12],
  ['Equal', 13],
  ['Backspace', 14],
  ['Tab', 15],
  ...[...'QWERTYUIOP'].map((c, i) => [`Key${c}`, 16 + i] as [string, number]),
  ['BracketLeft', 26],
  ['BracketRight', 27],
  ['Enter', 28],
  ['ControlLeft', 29],
  ...[...'ASDFGHJKL'].map((c, i) => [`Key${c}`, 30 + i] as [string, number]),
  ['Semicolon', 39],
  ['Quote', 40],
  ['Backquote', 41],
  ['ShiftLeft', 42],
  ['Backslash', 43],
  ...[...'ZXCVBNM'].map((c, i) => [`Key${c}`, 44 + i] as [string, number]),
  ['Comma', 51],
  ['Period', 52],
  ['Slash', 53],
  ['ShiftRight', 54],
  ['NumpadMultiply', 55],
  ['AltLeft', 56],
  ['Space', 57],
  ['CapsLock', 58],
  ...Array.from({ length: 10 }, (_, i) => [`F${i + 1}`, 59 + i] as [string, number]),
  ['NumLock', 69],
  ['ScrollLock', 70],
  ['Numpad7', 71],
  ['Numpad8', 72],
  ['Numpad9', 73],
  ['NumpadSubtract', 74],
  ['Numpad4', 75],
  ['Numpad5', 76],
  ['Numpad6', 77],
  ['NumpadAdd', 78],
  ['Numpad1', 79],
  ['Numpad2', 80],
  ['Numpad3', 81],
  ['Numpad0', 82],
  ['NumpadDecimal', 83],
  ['IntlBackslash', 86],
  ['F11', 87],
  ['F12', 88],
  ['NumpadEnter', 96],
  ['ControlRight', 97],
  ['NumpadDivide', 98],
  ['PrintScreen', 99],
  ['AltRight', 100],
  ['Home', 102],
  ['ArrowUp', 103],
  ['PageUp', 104],
  ['ArrowLeft', 105],
  ['ArrowRight', 106],
  ['End', 107],
  ['ArrowDown', 108],
  ['PageDown', 109],
  ['Insert', 110],
  ['Delete', 111],
  ['Pause', 119],
  ['MetaLeft', 125],
  ['MetaRight', 126],
  ['ContextMenu', 127],
])

/** The Linux key code of a DOM `KeyboardEvent.code` ('KeyA' → 30), or undefined for a key the keyboard does not have. */
export function keyCodeFromDom(code: string): number | undefined {
  return DOM_CODES.get(code)
}

/** The Linux button code of a DOM `MouseEvent.button` (0 left, 1 middle, 2 right, 3 back, 4 forward). */
export function buttonFromDom(button: number): number | undefined {
  return [INPUT_CODE.BTN_LEFT, INPUT_CODE.BTN_MIDDLE, INPUT_CODE.BTN_RIGHT, INPUT_CODE.BTN_SIDE, INPUT_CODE.BTN_EXTRA][button]
}
