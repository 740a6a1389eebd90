/**
 * The goldfish RTC (Android emulator's "google,goldfish-rtc", on QEMU's virt board): a 64-bit
 * nanosecond wall clock with one alarm. Register semantics from the Android emulator's
 * GOLDFISH-VIRTUAL-HARDWARE.TXT ("Goldfish timer/RTC").
 */
import type { AccessSize, MmioDevice } from '@honk/riscv'
import type { IrqLine } from './memory.js'

export const RTC = {
  TIME_LOW: 0x00,
  TIME_HIGH: 0x04,
  ALARM_LOW: 0x08,
  ALARM_HIGH: 0x0c,
  IRQ_ENABLED: 0x10,
  CLEAR_ALARM: 0x14,
  ALARM_STATUS: 0x18,
  CLEAR_INTERRUPT: 0x1c,
} as const

/** Nanoseconds since the Unix epoch. */
export type NanoClock = () => bigint

export const hostClock: NanoClock = () => BigInt(Date.now()) * 1_000_000n

export interface GoldfishRtcOptions {
  readonly irq?: IrqLine
  /** The time source; default the host's wall clock. */
  readonly clock?: NanoClock
  /**
   * `'host'`: an armed alarm schedules a host timer that fires it. `'manual'`: the machine
   * calls {@link GoldfishRtc.update} (for virtual or stepped clocks). Default: `'host'` with
   * the host clock, `'manual'` with an injected one.
   */
  readonly timer?: 'host' | 'manual'
}

const U32 = 0xffff_ffffn

/**
 * 32-bit registers. Reading TIME_LOW samples the clock and latches the high half, which the
 * next TIME_HIGH read returns (so a LOW-then-HIGH pair is one consistent 64-bit value).
 * Writing TIME_HIGH then TIME_LOW sets the time; ALARM_HIGH then ALARM_LOW arms the alarm. An
 * alarm at or before now fires at once. The interrupt is pending-and-enabled, level.
 */
export class GoldfishRtc implements MmioDevice {
  readonly name = 'goldfish-rtc'
  readonly size = 0x1000
  private readonly clock: NanoClock
  private readonly hostTimer: boolean
  private readonly irq: IrqLine | undefined
  /** Guest time minus source time (set by guest writes). */
  private offset = 0n
  private timeHighLatch = 0n
  private timeWriteHigh = 0n
  private alarm = 0n
  private alarmWriteHigh = 0n
  private alarmArmed = false
  private irqEnabled = false
  private irqPending = false
  private irqLevel = false
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(options: GoldfishRtcOptions = {}) {
    this.clock = options.clock ?? hostClock
    this.irq = options.irq
    this.hostTimer = (options.timer ?? (options.clock ? 'manual' : 'host')) === 'host'
  }

  /** The guest's current time, in ns since the epoch. */
  now(): bigint {
    return BigInt.asUintN(64, this.clock() + this.offset)
  }

  /** Fires the alarm if its time has come; the machine calls it in `'manual'` mode. */
  update(): void {
    if (this.alarmArmed && this.now() >= this.alarm) {
      this.alarmArmed = false
      this.irqPending = true
      this.cancelTimer()
    }
    const level = this.irqPending && this.irqEnabled
    if (level !== this.irqLevel) {
      this.irqLevel = level
      this.irq?.set(level)
    }
  }

  /** The armed alarm time, if any (for a machine that skips idle time). */
  get nextAlarm(): bigint | undefined {
    return this.alarmArmed ? this.alarm : undefined
  }

  read(offset: number, size: AccessSize): bigint {
    if (size !== 4 || offset % 4 !== 0) return 0n
    this.update()
    switch (offset) {
      case RTC.TIME_LOW: {
        const t = this.now()
        this.timeHighLatch = t >> 32n
        return t & U32
      }
      case RTC.TIME_HIGH:
        return this.timeHighLatch
      case RTC.ALARM_LOW:
        return this.alarm & U32
      case RTC.ALARM_HIGH:
        return this.alarm >> 32n
      case RTC.IRQ_ENABLED:
        return this.irqEnabled ? 1n : 0n
      case RTC.ALARM_STATUS:
        return this.alarmArmed ? 1n : 0n
      default:
        return 0n
    }
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (size !== 4 || offset % 4 !== 0) return
    const v = value & U32
    switch (offset) {
      case RTC.TIME_HIGH:
        this.timeWriteHigh = v
        break
      case RTC.TIME_LOW:
        this.offset = ((this.timeWriteHigh << 32n) | v) - this.clock()
        this.rescheduleTimer()
        break
      case RTC.ALARM_HIGH:
        this.alarmWriteHigh = v
        break
      case RTC.ALARM_LOW:
        this.alarm = (this.alarmWriteHigh << 32n) | v
        this.alarmArmed = true
        this.rescheduleTimer()
        break
      case RTC.IRQ_ENABLED:
        this.irqEnabled = (v & 1n) !== 0n
        break
      case RTC.CLEAR_ALARM:
        this.alarmArmed = false
        this.cancelTimer()
        break
      case RTC.CLEAR_INTERRUPT:
        this.irqPending = false
        break
    }
    this.update()
  }

  private rescheduleTimer(): void {
    this.cancelTimer()
    if (!this.hostTimer || !this.alarmArmed) return
    const ms = Number((this.alarm - this.now()) / 1_000_000n) + 1
    // setTimeout holds at most 2^31-1 ms; a later alarm re-arms when that fires.
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.update()
      if (this.alarmArmed) this.rescheduleTimer()
    }, Math.max(0, Math.min(ms, 0x7fff_ffff)))
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}
