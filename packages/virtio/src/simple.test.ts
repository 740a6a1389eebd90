import { afterEach, describe, expect, it, vi } from 'vitest'
import { IrqRecorder } from './harness.test-helpers.js'
import { GoldfishRtc, RTC } from './rtc.js'

describe('goldfish RTC', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  function rtc(start: bigint) {
    let now = start
    const irq = new IrqRecorder()
    const d = new GoldfishRtc({ clock: () => now, irq })
    const r = (o: number) => d.read(o, 4)
    const w = (o: number, v: bigint) => d.write(o, 4, v)
    return { d, irq, r, w, advance: (ns: bigint) => (now += ns), set: (t: bigint) => (now = t) }
  }

  it('latches the high half when TIME_LOW is read', () => {
    const { r, advance } = rtc(0x1_ffff_fff0n)
    const lo = r(RTC.TIME_LOW)
    advance(0x100n) // crosses a 2^32 boundary
    const hi = r(RTC.TIME_HIGH)
    expect((hi << 32n) | lo).toBe(0x1_ffff_fff0n)
    expect(r(RTC.TIME_LOW)).toBe(0xf0n)
    expect(r(RTC.TIME_HIGH)).toBe(2n)
  })

  it('sets the time with TIME_HIGH then TIME_LOW, and keeps counting', () => {
    const { d, w, r, advance } = rtc(1000n)
    w(RTC.TIME_HIGH, 5n)
    w(RTC.TIME_LOW, 7n)
    expect(d.now()).toBe((5n << 32n) | 7n)
    advance(10n)
    expect(r(RTC.TIME_LOW)).toBe(17n)
    expect(r(RTC.TIME_HIGH)).toBe(5n)
  })

  it('fires the alarm: status, interrupt when enabled, clear interrupt, clear alarm', () => {
    const { d, w, r, irq, advance } = rtc(1_000_000n)
    w(RTC.IRQ_ENABLED, 1n)
    w(RTC.ALARM_HIGH, 0n)
    w(RTC.ALARM_LOW, 1_000_500n)
    expect(r(RTC.ALARM_STATUS)).toBe(1n)
    expect(r(RTC.ALARM_LOW)).toBe(1_000_500n)
    expect(d.nextAlarm).toBe(1_000_500n)
    advance(499n)
    d.update()
    expect(irq.level).toBe(false)
    advance(1n)
    d.update()
    expect(irq.level).toBe(true)
    expect(r(RTC.ALARM_STATUS)).toBe(0n)
    w(RTC.CLEAR_INTERRUPT, 1n)
    expect(irq.level).toBe(false)
    // An alarm in the past fires at once; a disabled IRQ keeps the line low until enabled.
    w(RTC.IRQ_ENABLED, 0n)
    w(RTC.ALARM_LOW, 5n)
    expect(irq.level).toBe(false)
    w(RTC.IRQ_ENABLED, 1n)
    expect(irq.level).toBe(true)
    w(RTC.CLEAR_INTERRUPT, 1n)
    // CLEAR_ALARM disarms.
    w(RTC.ALARM_LOW, 2_000_000n)
    w(RTC.CLEAR_ALARM, 1n)
    advance(10_000_000n)
    d.update()
    expect(irq.level).toBe(false)
    expect(r(RTC.ALARM_STATUS)).toBe(0n)
  })

  it('fires through a host timer by default', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    const irq = new IrqRecorder()
    const d = new GoldfishRtc({ irq })
    d.write(RTC.IRQ_ENABLED, 4, 1n)
    const at = d.now() + 50_000_000n // 50 ms from now
    d.write(RTC.ALARM_HIGH, 4, at >> 32n)
    d.write(RTC.ALARM_LOW, 4, at & 0xffff_ffffn)
    expect(irq.level).toBe(false)
    await vi.advanceTimersByTimeAsync(60)
    expect(irq.level).toBe(true)
  })

  it('ignores accesses that are not 32-bit', () => {
    const { d } = rtc(123n)
    expect(d.read(RTC.TIME_LOW, 1)).toBe(0n)
    d.write(RTC.TIME_LOW, 8, 0n)
    expect(d.now()).toBe(123n)
  })
})
