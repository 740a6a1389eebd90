/**
 * The TypeScript SBI (`@honk/sbi`) on parallel harts (issue #18): each hart's worker has its own
 * `Firmware`, and what the SBI shares between harts lives in the control block of
 * parallel-shared.ts, so no SBI call waits for the main thread except console output:
 *
 * - HSM: one state word per hart (`SharedHsm`, the `Firmware`'s `hsmStates`), changed by
 *   compare-and-swap, so of two harts starting the same STOPPED hart exactly one succeeds and the
 *   other gets SBI_ERR_ALREADY_AVAILABLE (SBI 2.0 §9.1); the start address and opaque are handed
 *   to the stopped hart's worker through `postStart`/`takeStart`.
 * - IPI: a pending-SSIP word per hart, set by `postIpi` (which wakes the target), taken by the
 *   target between slices (`takeIpi`) into its SSIP.
 * - RFENCE: per target hart, the kinds of fence asked for (bits), a request counter and a done
 *   counter. A caller ORs its bits, takes a ticket (the request count after its increment) and
 *   waits until the target's done counter reaches it; the target reads the request count, takes
 *   the bits, flushes, and only then publishes that count as done — so a caller returns only after
 *   the target flushed *after* the caller's request (SBI §8: the remote fence is complete when
 *   the call returns). A waiting caller serves its own requests, so two harts fencing each
 *   other never deadlock.
 */
import { HsmState } from '@honk/riscv'
import type { HsmStateStore } from '@honk/sbi'
import { MachineStopped, type Control } from './parallel-shared.js'

// Int32 word indexes (per hart: base + h) and BigInt64 indexes of the control block.
const HSM0 = 160
const START_FLAG0 = 168
const SSIP0 = 176
const FENCE_BITS0 = 184
const FENCE_REQ0 = 192
const FENCE_DONE0 = 200
const START_ADDR0 = 280
const START_OPAQUE0 = 288

/** Kinds of remote fence (bits of a hart's request word). */
export const FENCE = { vma: 1, i: 2 } as const

/** The HSM states of every hart in a control block: atomic across the workers. */
export class SharedHsm implements HsmStateStore {
  constructor(private readonly ctl: Control) {}

  get(h: number): HsmState {
    return Atomics.load(this.ctl.i32, HSM0 + h) as HsmState
  }

  set(h: number, s: HsmState): void {
    Atomics.store(this.ctl.i32, HSM0 + h, s)
  }

  compareAndSet(h: number, expected: HsmState, next: HsmState): boolean {
    return Atomics.compareExchange(this.ctl.i32, HSM0 + h, expected, next) === expected
  }
}

/** Hands a start address and opaque to stopped hart `h` (after its HSM state became START_PENDING) and wakes it. */
export function postStart(ctl: Control, h: number, start: bigint, opaque: bigint): void {
  Atomics.store(ctl.i64, START_ADDR0 + h, BigInt.asIntN(64, start))
  Atomics.store(ctl.i64, START_OPAQUE0 + h, BigInt.asIntN(64, opaque))
  // Sequentially consistent: whoever takes the flag sees both values.
  Atomics.store(ctl.i32, START_FLAG0 + h, 1)
  ctl.wake(h)
}

/** Whether a start is posted for hart `h` and not yet taken. */
export function startPosted(ctl: Control, h: number): boolean {
  return Atomics.load(ctl.i32, START_FLAG0 + h) !== 0
}

/** Hart `h`'s worker takes a start posted for it, if any. */
export function takeStart(ctl: Control, h: number): { start: bigint; opaque: bigint } | undefined {
  if (Atomics.exchange(ctl.i32, START_FLAG0 + h, 0) !== 1) return undefined
  return { start: BigInt.asUintN(64, Atomics.load(ctl.i64, START_ADDR0 + h)), opaque: BigInt.asUintN(64, Atomics.load(ctl.i64, START_OPAQUE0 + h)) }
}

/** SBI send_ipi to hart `h`: its supervisor software interrupt becomes pending (and it wakes). */
export function postIpi(ctl: Control, h: number): void {
  Atomics.store(ctl.i32, SSIP0 + h, 1)
  ctl.wake(h)
}

/** Hart `h`'s worker takes the IPIs posted for it: whether any was. */
export function takeIpi(ctl: Control, h: number): boolean {
  return Atomics.exchange(ctl.i32, SSIP0 + h, 0) !== 0
}

/** Asks hart `target` for the fences in `bits` and wakes it; returns the ticket to wait for (see {@link fenceAcked}). */
export function postFence(ctl: Control, target: number, bits: number): number {
  Atomics.or(ctl.i32, FENCE_BITS0 + target, bits)
  const ticket = (Atomics.add(ctl.i32, FENCE_REQ0 + target, 1) + 1) | 0
  ctl.wake(target)
  return ticket
}

/** Whether hart `target` has flushed for `ticket` (counters compared modulo 2^32). */
export function fenceAcked(ctl: Control, target: number, ticket: number): boolean {
  return ((Atomics.load(ctl.i32, FENCE_DONE0 + target) - ticket) | 0) >= 0
}

/**
 * Hart `h`'s thread (only) performs the fences asked of it: `flush(bits)` runs after every
 * request counted so far was made, then those requests are acknowledged. Returns whether any was pending.
 */
export function serveFences(ctl: Control, h: number, flush: (bits: number) => void): boolean {
  const requested = Atomics.load(ctl.i32, FENCE_REQ0 + h)
  if (requested === Atomics.load(ctl.i32, FENCE_DONE0 + h)) return false
  flush(Atomics.exchange(ctl.i32, FENCE_BITS0 + h, 0))
  Atomics.store(ctl.i32, FENCE_DONE0 + h, requested)
  Atomics.notify(ctl.i32, FENCE_DONE0 + h)
  return true
}

/**
 * A worker's remote fence (blocking: Atomics.wait): asks each of `targets` other than `self`
 * (which flushes at once), and returns when all acknowledged — serving `self`'s own requests
 * meanwhile. Throws {@link MachineStopped} if the machine stops while it waits.
 */
export function remoteFence(ctl: Control, self: number, targets: readonly number[], bits: number, flush: (bits: number) => void): void {
  const tickets: [number, number][] = []
  for (const t of targets) {
    if (t === self) flush(bits)
    else tickets.push([t, postFence(ctl, t, bits)])
  }
  for (;;) {
    serveFences(ctl, self, flush)
    const waiting = tickets.find(([t, k]) => !fenceAcked(ctl, t, k))
    if (waiting === undefined) return
    if (ctl.stopped) throw new MachineStopped()
    const [t] = waiting
    const done = Atomics.load(ctl.i32, FENCE_DONE0 + t)
    // Short: our own requests arrive on our wake counter, not on this word.
    Atomics.wait(ctl.i32, FENCE_DONE0 + t, done, 1)
  }
}

/** Before the workers start: every hart's HSM state as the main thread's `Firmware` has it. */
export function initSharedHsm(ctl: Control, states: readonly HsmState[]): void {
  const hsm = new SharedHsm(ctl)
  states.forEach((s, h) => hsm.set(h, s))
}
