/**
 * The driver side of virtio-input (virtio 1.2 §5.8): evdev events from a keyboard or a tablet,
 * delivered to a callback. Event buffers (8 bytes each, `struct virtio_input_event`) are kept
 * posted on the event queue (§5.8.6.1: the driver SHOULD keep it full); the caller runs
 * {@link VirtioInputPort.handleInterrupt} from the device's interrupt, which takes the used
 * buffers, reposts them, and then delivers the events in order.
 */
import { DEVICE_ID, FEATURE } from './constants.js'
import type { DmaAllocator, DriverQueue, VirtioMmioDriver } from './driver.js'
import { VirtioDriverError } from './errors.js'
import { EV, INPUT_CFG, INPUT_EVENT_SIZE, type AbsInfo, type InputEvent } from './input.js'
import type { GuestMemory } from './memory.js'

export interface VirtioInputDriverOptions {
  /** A probed driver whose device is a virtio-input (device id 18), not yet initialised. */
  readonly driver: VirtioMmioDriver
  readonly memory: GuestMemory
  readonly alloc: DmaAllocator
  /** Event buffers kept posted (default 64). */
  readonly buffers?: number
}

export interface InputDriverStats {
  events: number
  interrupts: number
}

/** Initialises a virtio-input device: reads its name and capabilities, posts the event buffers. */
export function openVirtioInput(options: VirtioInputDriverOptions): VirtioInputPort {
  return new VirtioInputPort(options)
}

export class VirtioInputPort {
  /** ID_NAME from config space, e.g. 'honk virtio keyboard'. */
  readonly name: string
  /** What it reports: a pointer with absolute X/Y, a keyboard (keys, no axes), or something else. */
  readonly kind: 'tablet' | 'keyboard' | 'other'
  /** Axis ranges of an absolute pointer (ABS_X = 0, ABS_Y = 1). */
  readonly abs: ReadonlyMap<number, AbsInfo>
  readonly stats: InputDriverStats = { events: 0, interrupts: 0 }
  private readonly driver: VirtioMmioDriver
  private readonly memory: GuestMemory
  private readonly events: DriverQueue
  private readonly posted = new Map<number, number>()
  private readonly buf = new Uint8Array(INPUT_EVENT_SIZE)
  private listener: ((e: InputEvent) => void) | undefined

  constructor(options: VirtioInputDriverOptions) {
    const { driver } = options
    if (driver.deviceId !== DEVICE_ID.INPUT) throw new VirtioDriverError(`virtio-input: device id ${driver.deviceId} is not an input device (18)`)
    this.driver = driver
    this.memory = options.memory
    driver.init(FEATURE.VERSION_1)
    this.name = new TextDecoder().decode(this.select(INPUT_CFG.ID_NAME, 0))
    const absBits = this.select(INPUT_CFG.EV_BITS, EV.ABS)
    const keyBits = this.select(INPUT_CFG.EV_BITS, EV.KEY)
    const abs = new Map<number, AbsInfo>()
    for (let code = 0; code < absBits.length * 8; code++) {
      if (!(absBits[code >> 3]! & (1 << (code & 7)))) continue
      const a = this.select(INPUT_CFG.ABS_INFO, code)
      if (a.length < 8) continue
      const v = new DataView(a.buffer)
      abs.set(code, { min: v.getInt32(0, true), max: v.getInt32(4, true) })
    }
    this.abs = abs
    this.kind = abs.has(0) && abs.has(1) ? 'tablet' : keyBits.length > 0 ? 'keyboard' : 'other'
    this.events = driver.setupQueue(0, 128)
    driver.setupQueue(1, 8) // statusq (LEDs): set up, nothing sent
    const count = Math.max(1, Math.min(options.buffers ?? 64, this.events.size))
    const addrs = Array.from({ length: count }, () => options.alloc.alloc(INPUT_EVENT_SIZE, 8))
    driver.driverOk()
    for (const a of addrs) this.post(a)
    this.events.kick()
  }

  /** Sets the receiver of events (a later call replaces it). Events arrive in device order, SYN_REPORT included. */
  onEvent(listener: (e: InputEvent) => void): void {
    this.listener = listener
  }

  /** The device's interrupt: acknowledge, take every used buffer, repost, then deliver. Safe when nothing happened. */
  handleInterrupt(): void {
    this.stats.interrupts++
    this.driver.ackInterrupt()
    const used = this.events.collect().map(({ head }) => {
      const addr = this.posted.get(head)
      if (addr === undefined) throw new VirtioDriverError(`virtio-input ${this.name}: event queue returned ${head}, which was not posted`)
      this.posted.delete(head)
      return addr
    })
    const out: InputEvent[] = []
    const v = new DataView(this.buf.buffer)
    for (const addr of used) {
      if (!this.memory.read(addr, this.buf)) throw new VirtioDriverError(`virtio-input ${this.name}: event buffer 0x${addr.toString(16)} is not in memory`)
      out.push({ type: v.getUint16(0, true), code: v.getUint16(2, true), value: v.getInt32(4, true) })
      this.post(addr)
    }
    if (used.length) this.events.kick()
    this.stats.events += out.length
    for (const e of out) this.listener?.(e)
  }

  /** Config space select/subsel (§5.8.4): writes both, reads `size` and that many bytes of the union. */
  private select(sel: number, sub: number): Uint8Array {
    this.driver.writeConfig(0, 1, BigInt(sel))
    this.driver.writeConfig(1, 1, BigInt(sub))
    const size = this.driver.readConfig(2, 1)[0]!
    return size ? this.driver.readConfig(8, size) : new Uint8Array(0)
  }

  private post(addr: number): void {
    const head = this.events.submit([{ addr, len: INPUT_EVENT_SIZE, writable: true }])
    this.posted.set(head, addr)
  }
}
