/**
 * What the threads of a parallel machine (issue #18: one Worker per hart) share besides RAM: a
 * control block in one `SharedArrayBuffer` holding, per hart, an MMIO mailbox (a worker's
 * device access served synchronously by the main thread, where the PLIC and the devices live),
 * the external interrupt lines the main thread drives, a wake-up counter, and the CLINT's
 * registers (msip, mtimecmp) with the shared clock — so IPIs and timers between harts never
 * pass through the main thread.
 */
import { IRQ, VIRT_TIMEBASE_HZ, type AccessSize, type MmioDevice } from '@honk/riscv'

/** Harts a control block has room for (the board takes 1..8). */
export const MAX_HARTS = 8

/** Bytes of the control block. */
export const CONTROL_BYTES = 4096

// Int32 word indexes.
const STOP = 0
const SLOT0 = 16
const SLOT_WORDS = 16
/** Mailbox words, relative to a hart's slot. */
export const MB = { state: 0, op: 1, size: 2, addrLo: 3, addrHi: 4, valueLo: 5, valueHi: 6, ok: 7 } as const
const LINES = 8
const WAKE = 9
const MSIP0 = SLOT0 + SLOT_WORDS * MAX_HARTS // 144
// BigInt64 indexes (bytes 2048…).
const MTIMECMP0 = 256
const MTIME_OFFSET = MTIMECMP0 + MAX_HARTS
const INSTRET0 = MTIME_OFFSET + 1
// Int32 words 160…215 and BigInt64 indexes 280…295: the TypeScript SBI's shared state (parallel-sbi.ts).
// Float64 indexes (bytes 3072…): the clock's epoch, in host milliseconds (timeOrigin + now); each hart's pc.
const EPOCH = 384
const PC0 = EPOCH + 1

/** Mailbox states: a request is posted by the worker, answered by the main thread, then taken. */
export const MAILBOX = { idle: 0, request: 1, response: 2 } as const
/**
 * Mailbox operations: a device read or write; or, for the TypeScript SBI (parallel-sbi.ts),
 * console output (`size` bytes packed little-endian in `value`) and one byte of console input
 * (answered as byte + 1, 0 when none waits) — through the mailbox so every hart's console output
 * reaches the main thread's console in the order the harts produced it.
 */
export const MB_OP = { read: 0, write: 1, console: 2, getchar: 3 } as const
const OP_NAMES = ['read', 'write', 'console', 'getchar'] as const

const MAX_TIME = (1n << 64n) - 1n
const TICKS_PER_MS = VIRT_TIMEBASE_HZ / 1000

/** The host's time in milliseconds, comparable across threads (each thread's timeOrigin + now). */
function hostMs(): number {
  return performance.timeOrigin + performance.now()
}

/** Views of one control block; each thread makes its own from the same buffer. */
export class Control {
  readonly i32: Int32Array
  readonly i64: BigInt64Array
  private readonly f64: Float64Array

  constructor(readonly buffer: SharedArrayBuffer) {
    if (buffer.byteLength !== CONTROL_BYTES) throw new RangeError(`a control block is ${CONTROL_BYTES} bytes, not ${buffer.byteLength}`)
    this.i32 = new Int32Array(buffer)
    this.i64 = new BigInt64Array(buffer)
    this.f64 = new Float64Array(buffer)
  }

  /** A fresh block: no hart stopped, every mtimecmp at 2^64 - 1, the clock starting now. */
  static create(): Control {
    const c = new Control(new SharedArrayBuffer(CONTROL_BYTES))
    for (let h = 0; h < MAX_HARTS; h++) c.i64[MTIMECMP0 + h] = -1n // 2^64 - 1 as a signed view
    c.f64[EPOCH] = hostMs()
    return c
  }

  /** Word index of hart `h`'s mailbox field `f`. */
  slot(h: number, f: number): number {
    return SLOT0 + SLOT_WORDS * h + f
  }

  get stopped(): boolean {
    return Atomics.load(this.i32, STOP) !== 0
  }

  /** Asks every worker to stop, waking the sleeping ones. */
  stop(harts: number): void {
    Atomics.store(this.i32, STOP, 1)
    for (let h = 0; h < harts; h++) this.wake(h)
  }

  /** Wakes hart `h` if it sleeps in WFI (or will check again before it sleeps: the counter moved). */
  wake(h: number): void {
    const i = SLOT0 + SLOT_WORDS * h + WAKE
    Atomics.add(this.i32, i, 1)
    Atomics.notify(this.i32, i)
  }

  /** The wake counter, read before deciding to sleep (see {@link sleep}). */
  wakeCount(h: number): number {
    return Atomics.load(this.i32, SLOT0 + SLOT_WORDS * h + WAKE)
  }

  /** Sleeps (a worker only) until hart `h` is woken after `seen` was read, or `ms` pass. */
  sleep(h: number, seen: number, ms: number): void {
    Atomics.wait(this.i32, SLOT0 + SLOT_WORDS * h + WAKE, seen, ms)
  }

  /** Sets or clears a device line (MEIP/SEIP bit of mip) of hart `h`, from the main thread's PLIC. */
  setLine(h: number, bit: number, level: boolean): void {
    const i = SLOT0 + SLOT_WORDS * h + LINES
    const m = 1 << bit
    const old = level ? Atomics.or(this.i32, i, m) : Atomics.and(this.i32, i, ~m)
    if (((old & m) !== 0) !== level) this.wake(h)
  }

  /** Hart `h`'s device lines as mip bits. */
  lines(h: number): number {
    return Atomics.load(this.i32, SLOT0 + SLOT_WORDS * h + LINES)
  }

  msip(h: number): number {
    return Atomics.load(this.i32, MSIP0 + h)
  }

  setMsip(h: number, v: number): void {
    Atomics.store(this.i32, MSIP0 + h, v & 1)
    this.wake(h)
  }

  mtimecmp(h: number): bigint {
    return BigInt.asUintN(64, Atomics.load(this.i64, MTIMECMP0 + h))
  }

  setMtimecmp(h: number, v: bigint): void {
    Atomics.store(this.i64, MTIMECMP0 + h, BigInt.asIntN(64, v))
    this.wake(h) // a sleeping hart recomputes how long to sleep
  }

  /** mtime: 10 MHz since the block was created, plus what guest writes to mtime added. */
  mtime(): bigint {
    return BigInt(Math.floor((hostMs() - this.f64[EPOCH]!) * TICKS_PER_MS)) + Atomics.load(this.i64, MTIME_OFFSET)
  }

  setMtime(v: bigint): void {
    Atomics.add(this.i64, MTIME_OFFSET, BigInt.asIntN(64, v - this.mtime()))
    for (let h = 0; h < MAX_HARTS; h++) this.wake(h)
  }

  /** Milliseconds until `deadline` (an mtime value), at least 0. */
  msUntil(deadline: bigint): number {
    if (deadline === MAX_TIME) return Infinity
    const d = deadline - this.mtime()
    return d <= 0n ? 0 : Number(d) / TICKS_PER_MS
  }

  /** Instructions hart `h` retired, as its worker last published them. */
  instret(h: number): bigint {
    return Atomics.load(this.i64, INSTRET0 + h)
  }

  setInstret(h: number, n: bigint): void {
    Atomics.store(this.i64, INSTRET0 + h, BigInt.asIntN(64, n))
  }

  /** Hart `h`'s pc as its worker last published it (between slices; for diagnostics). */
  pc(h: number): number {
    return this.f64[PC0 + h]!
  }

  setPc(h: number, pc: number): void {
    this.f64[PC0 + h] = pc
  }
}

/**
 * The CLINT (SiFive layout, as QEMU virt's: msip at 0 + 4h, mtimecmp at 0x4000 + 8h, mtime at
 * 0xbff8) over a control block: each worker maps its own, all read and write the same words.
 */
export class SharedClint implements MmioDevice {
  readonly name = 'clint'
  readonly size = 0x10000

  constructor(
    private readonly ctl: Control,
    private readonly harts: number,
  ) {}

  mtime(): bigint {
    return this.ctl.mtime()
  }

  read(offset: number, size: AccessSize): bigint {
    if (offset < 0x4000) {
      const i = offset >> 2
      return i < this.harts && (offset & 3) === 0 ? BigInt(this.ctl.msip(i)) : 0n
    }
    if (offset >= 0xbff8) return words(this.ctl.mtime(), offset - 0xbff8, size)
    const i = (offset - 0x4000) >> 3
    return i < this.harts ? words(this.ctl.mtimecmp(i), (offset - 0x4000) % 8, size) : 0n
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (offset < 0x4000) {
      const i = offset >> 2
      if (i < this.harts && (offset & 3) === 0) this.ctl.setMsip(i, Number(value & 1n))
    } else if (offset >= 0xbff8) {
      const shift = BigInt((offset - 0xbff8) * 8)
      const m = mask(size) << shift
      this.ctl.setMtime((this.ctl.mtime() & ~m) | ((value << shift) & m))
    } else {
      const i = (offset - 0x4000) >> 3
      if (i >= this.harts) return
      const shift = BigInt(((offset - 0x4000) % 8) * 8)
      const m = mask(size) << shift
      this.ctl.setMtimecmp(i, (this.ctl.mtimecmp(i) & ~m) | ((value << shift) & m))
    }
  }

  /** The CLINT's lines of hart `h` now (MSIP, MTIP), as mip bits. */
  lines(h: number): { msi: boolean; mti: boolean } {
    return { msi: this.ctl.msip(h) !== 0, mti: this.ctl.mtime() >= this.ctl.mtimecmp(h) }
  }
}

function mask(size: AccessSize): bigint {
  return (1n << BigInt(size * 8)) - 1n
}

function words(v: bigint, byte: number, size: AccessSize): bigint {
  return (v >> BigInt(byte * 8)) & mask(size)
}

export { IRQ }

// ---- the MMIO mailbox --------------------------------------------------------------------

/** One device access a worker asks the main thread for. */
export interface MmioRequest {
  op: 'read' | 'write' | 'console' | 'getchar'
  addr: number
  size: AccessSize
  value: bigint
}

/**
 * The worker's half: posts a request into hart `h`'s mailbox (which must be idle) and wakes
 * the main thread. The worker then waits for the answer with {@link awaitResponse}.
 */
export function postRequest(ctl: Control, h: number, r: MmioRequest): void {
  const a = ctl.i32
  const s = ctl.slot(h, 0)
  if (Atomics.load(a, s + MB.state) !== MAILBOX.idle) throw new Error(`hart ${h}'s mailbox is busy`)
  a[s + MB.op] = MB_OP[r.op]
  a[s + MB.size] = r.size
  a[s + MB.addrLo] = r.addr % 2 ** 32 | 0
  a[s + MB.addrHi] = Math.floor(r.addr / 2 ** 32) | 0
  a[s + MB.valueLo] = Number(BigInt.asUintN(32, r.value)) | 0
  a[s + MB.valueHi] = Number(BigInt.asUintN(32, r.value >> 32n)) | 0
  // The fields are written before the state: Atomics.store is sequentially consistent, so a
  // server that sees `request` (Atomics.load) sees them too.
  Atomics.store(a, s + MB.state, MAILBOX.request)
  Atomics.notify(a, s + MB.state)
}

/**
 * Takes the answer if it is there (the mailbox becomes idle again): the value read (0 for a
 * write), or undefined when nothing is mapped there (an access fault); `pending` while not answered.
 */
export function takeResponse(ctl: Control, h: number): { value: bigint | undefined } | 'pending' {
  const a = ctl.i32
  const s = ctl.slot(h, 0)
  if (Atomics.load(a, s + MB.state) !== MAILBOX.response) return 'pending'
  const value = a[s + MB.ok] === 1 ? BigInt(a[s + MB.valueLo]! >>> 0) | (BigInt(a[s + MB.valueHi]! >>> 0) << 32n) : undefined
  Atomics.store(a, s + MB.state, MAILBOX.idle)
  return { value }
}

/** The worker's blocking wait for its answer (Atomics.wait: never on the main thread). Gives up when the machine stops. */
export function awaitResponse(ctl: Control, h: number): bigint | undefined {
  for (;;) {
    const r = takeResponse(ctl, h)
    if (r !== 'pending') return r.value
    if (ctl.stopped) throw new MachineStopped()
    Atomics.wait(ctl.i32, ctl.slot(h, MB.state), MAILBOX.request, 50)
  }
}

/** Thrown inside a worker's hart when the machine stopped while it waited for a device. */
export class MachineStopped extends Error {
  constructor() {
    super('the machine stopped')
  }
}

/** The main thread's half: serves one posted request of hart `h` with `serve`, if there is one. Returns whether it did. */
export function serveRequest(ctl: Control, h: number, serve: (r: MmioRequest) => bigint | undefined): boolean {
  const a = ctl.i32
  const s = ctl.slot(h, 0)
  if (Atomics.load(a, s + MB.state) !== MAILBOX.request) return false
  const r: MmioRequest = {
    op: OP_NAMES[a[s + MB.op]!] ?? 'read',
    size: a[s + MB.size] as AccessSize,
    addr: (a[s + MB.addrLo]! >>> 0) + (a[s + MB.addrHi]! >>> 0) * 2 ** 32,
    value: BigInt(a[s + MB.valueLo]! >>> 0) | (BigInt(a[s + MB.valueHi]! >>> 0) << 32n),
  }
  let v: bigint | undefined
  try {
    v = serve(r)
  } catch {
    v = undefined
  }
  a[s + MB.ok] = v === undefined ? 0 : 1
  a[s + MB.valueLo] = v === undefined ? 0 : Number(BigInt.asUintN(32, v)) | 0
  a[s + MB.valueHi] = v === undefined ? 0 : Number(BigInt.asUintN(32, v >> 32n)) | 0
  Atomics.store(a, s + MB.state, MAILBOX.response)
  Atomics.notify(a, s + MB.state)
  return true
}

/** `Atomics.waitAsync` (ES2024, in Node since 16; the repo's TypeScript lib is older). */
type WaitAsync = (a: Int32Array, index: number, value: number, timeoutMs?: number) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync

/**
 * Serves hart `h`'s mailbox until `done()` says so: each time the state word leaves what it was
 * (Atomics.waitAsync: the main thread never blocks), a posted request is served.
 */
export async function serveMailbox(ctl: Control, h: number, serve: (r: MmioRequest) => bigint | undefined, done: () => boolean): Promise<void> {
  const i = ctl.slot(h, MB.state)
  while (!done()) {
    if (serveRequest(ctl, h, serve)) continue
    const seen = Atomics.load(ctl.i32, i)
    if (seen === MAILBOX.request) continue
    const w = waitAsync(ctl.i32, i, seen, 100)
    if (w.async) await w.value
  }
}
