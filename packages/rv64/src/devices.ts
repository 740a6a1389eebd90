/**
 * The simple devices a bare RISC-V test machine needs: the CLINT (msip, mtimecmp, mtime),
 * a transmit-only 16550 UART for capture, the SiFive test device (poweroff, fail, reset) and HTIF tohost.
 * (The full UART with interrupts, the PLIC and virtio come with the machine, issue #5.)
 */
import { FINISHER, IRQ, VIRT_TIMEBASE_HZ } from '@honk/riscv'
import { Bus, type AccessSize, type Clock, type MmioDevice } from './bus.js'
import type { Hart } from './hart.js'

/** No deadline: mtimecmp's and stimecmp's reset value (all ones). */
const MAX_TIME = (1n << 64n) - 1n
/** mtime ticks per millisecond of host time (realtime mode). */
const TICKS_PER_MS = VIRT_TIMEBASE_HZ / 1000

const mask = (size: AccessSize) => (size === 8 ? (1n << 64n) - 1n : (1n << BigInt(size * 8)) - 1n)

/** Reads `size` bytes at `offset` of a little-endian register file of 64-bit words. */
function readWords(words: (i: number) => bigint, offset: number, size: AccessSize): bigint {
  const i = Math.floor(offset / 8)
  return (words(i) >> BigInt((offset % 8) * 8)) & mask(size)
}

/**
 * The CLINT at QEMU virt's layout: msip at +4·hart, mtimecmp at +0x4000 + 8·hart, mtime at
 * +0xBFF8. It is also the machines's clock: 10 MHz, either from the host's monotonic clock or
 * counted from retired instructions (deterministic).
 */
export class Clint implements MmioDevice, Clock {
  readonly name = 'clint'
  readonly size = 0x10000
  private readonly msip: number[]
  private readonly mtimecmp: bigint[]
  private readonly start = performance.now()
  private offset = 0n

  /**
   * `harts` may be filled after construction (the harts need this clock first); `count` sizes
   * the register file.
   */
  constructor(
    private readonly harts: Hart[],
    count: number,
    private readonly mode: 'realtime' | 'instret' = 'instret',
    /** Instructions per tick in instret mode (10 MHz at 100 MIPS = 10). */
    private readonly instructionsPerTick = 10,
  ) {
    this.msip = new Array<number>(count).fill(0)
    this.mtimecmp = new Array<bigint>(count).fill(MAX_TIME)
  }

  mtime(): bigint {
    if (this.mode === 'realtime') return BigInt(Math.floor((performance.now() - this.start) * TICKS_PER_MS)) + this.offset
    let n = 0n
    for (const h of this.harts) n += h.instret
    return n / BigInt(this.instructionsPerTick) + this.offset
  }

  /** Moves time forward (all harts asleep in WFI). */
  advance(ticks: bigint): void {
    this.offset += ticks
  }

  /**
   * The earliest timer deadline still ahead of `now` — an mtimecmp, or a hart's stimecmp under
   * Sstc (menvcfg.STCE) — or 2^64 - 1 when none is. A deadline at or before `now` is not a
   * future event: its MTIP/STIP is already pending (the comparators are levels, privileged spec
   * 3.2.1), and if that does not wake its hart (the interrupt is masked, as Linux leaves its
   * timer after the last tick before going tickless), waiting for it would stop time forever.
   */
  nextDeadline(now = this.mtime()): bigint {
    let next = MAX_TIME
    for (const t of this.mtimecmp) if (t > now && t < next) next = t
    for (const h of this.harts) {
      const s = h.supervisorTimerDeadline()
      if (s > now && s < next) next = s
    }
    return next
  }

  /**
   * Every hart waits for an interrupt: moves time forward to the earliest deadline ahead (of
   * the CLINT, Sstc, or `others` — e.g. an SBI's own timers), never past it, and drives the
   * lines. Returns the ticks skipped (0n when no deadline lies ahead: nothing to skip to).
   */
  skipToNextDeadline(others: Iterable<bigint> = []): bigint {
    const now = this.mtime()
    let next = this.nextDeadline(now)
    for (const t of others) if (t > now && t < next) next = t
    if (next === MAX_TIME) return 0n
    this.offset += next - now
    this.update()
    return next - now
  }

  /** Drives MTIP/MSIP from the registers; the system calls it between run slices. */
  update(): void {
    const now = this.mtime()
    this.harts.forEach((h, i) => {
      if (i >= this.mtimecmp.length) return
      h.setIrq(IRQ.MTI, now >= this.mtimecmp[i]!)
      h.setIrq(IRQ.MSI, this.msip[i] !== 0)
    })
  }

  read(offset: number, size: AccessSize): bigint {
    if (offset < 0x4000) {
      const i = offset >> 2
      return i < this.msip.length ? BigInt(this.msip[i]!) & mask(size) : 0n
    }
    if (offset >= 0xbff8) return readWords(() => this.mtime(), offset - 0xbff8, size)
    const i = (offset - 0x4000) >> 3
    return i < this.mtimecmp.length ? readWords(() => this.mtimecmp[i]!, (offset - 0x4000) % 8, size) : 0n
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (offset < 0x4000) {
      const i = offset >> 2
      if (i < this.msip.length) this.msip[i] = Number(value & 1n)
    } else if (offset >= 0xbff8) {
      this.offset += value - this.mtime() // a write sets mtime
    } else {
      const i = (offset - 0x4000) >> 3
      if (i >= this.mtimecmp.length) return
      const shift = BigInt(((offset - 0x4000) % 8) * 8)
      const m = mask(size) << shift
      this.mtimecmp[i] = (this.mtimecmp[i]! & ~m) | ((value << shift) & m)
    }
    this.update()
  }
}

/** A 16550 that only transmits: every byte written to THR is passed to `out`; LSR says "empty". */
export class CaptureUart implements MmioDevice {
  readonly name = 'uart-capture'
  readonly size = 0x100
  constructor(private readonly out: (byte: number) => void) {}
  read(offset: number): bigint {
    return offset === 5 ? 0x60n : 0n // LSR: THR empty, transmitter idle
  }
  write(offset: number, _size: AccessSize, value: bigint): void {
    if (offset === 0) this.out(Number(value & 0xffn))
  }
}

export type SysconEvent =
  /** FINISHER.PASS (0x5555): the guest passed / powered off. `code` is 0. */
  | { readonly reason: 'poweroff'; readonly code: 0 }
  /** FINISHER.FAIL | code << 16 (0x3333): the guest failed with `code` (QEMU exits with it). */
  | { readonly reason: 'fail'; readonly code: number }
  /** FINISHER.RESET (0x7777): the guest asked for a reset (reboot). */
  | { readonly reason: 'reset'; readonly code: 0 }

/**
 * The SiFive test finisher ("sifive,test0/1"), which QEMU's virt board also exposes to Linux as
 * syscon-poweroff (FINISHER.PASS) and syscon-reboot (FINISHER.RESET) at offset 0. Each event
 * goes to `onEvent`; given a {@link Bus} instead, the device ends the bus's run (`Bus.requestExit`):
 * pass → 0, fail → its code (1 when 0), reset → -1. Writes of other values, or at other offsets,
 * are ignored; reads return 0.
 */
export class SifiveTest implements MmioDevice {
  readonly name = 'sifive-test'
  readonly size = 0x1000
  private readonly onEvent: (event: SysconEvent) => void

  constructor(target: Bus | ((event: SysconEvent) => void)) {
    this.onEvent = target instanceof Bus ? (e) => target.requestExit(e.reason === 'poweroff' ? 0 : e.reason === 'fail' ? e.code || 1 : -1) : target
  }

  read(): bigint {
    return 0n
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    // OpenSBI's sifive_test driver writes 16 bits (writew); QEMU accepts 2- and 4-byte writes.
    if (offset !== 0 || size < 2) return
    const v = Number(value & (size === 2 ? 0xffffn : 0xffff_ffffn))
    let event: SysconEvent | undefined
    switch (v & 0xffff) {
      case FINISHER.PASS:
        event = { reason: 'poweroff', code: 0 }
        break
      case FINISHER.FAIL:
        event = { reason: 'fail', code: v >>> 16 }
        break
      case FINISHER.RESET:
        event = { reason: 'reset', code: 0 }
        break
    }
    if (!event) return
    try {
      this.onEvent(event)
    } catch {
      // the host's hook failing must not fault the guest's store
    }
  }
}

/**
 * HTIF `tohost`, mapped over the symbol's RAM address: a store of `(n << 1) | 1` ends the
 * program with code n (riscv-tests: 1 = pass, i.e. n = 0). Other values are syscalls of the
 * proxy kernel and are ignored.
 */
export class Htif implements MmioDevice {
  readonly name = 'htif'
  readonly size = 16
  private tohost = 0n
  constructor(private readonly bus: Bus) {}
  read(offset: number, size: AccessSize): bigint {
    return offset < 8 ? (this.tohost >> BigInt(offset * 8)) & mask(size) : 0n
  }
  write(offset: number, _size: AccessSize, value: bigint): void {
    if (offset !== 0) return
    this.tohost = value
    if (value & 1n) this.bus.requestExit(Number(value >> 1n))
  }
}

/**
 * Maps an {@link Htif} over the ELF's `tohost` symbol (the riscv-tests convention: the program
 * stores `(n << 1) | 1` there to end with code n; `1` = pass, code 0). Returns undefined when the
 * program has no `tohost`.
 */
export function mapHtif(bus: Bus, symbols: ReadonlyMap<string, number>): Htif | undefined {
  const tohost = symbols.get('tohost')
  if (tohost === undefined) return undefined
  const htif = new Htif(bus)
  bus.map(tohost, htif)
  return htif
}
