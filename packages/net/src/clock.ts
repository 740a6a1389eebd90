/**
 * Time as the stack sees it. Every timer in `@honk/net` (TCP retransmission, delayed ACK,
 * TIME-WAIT, ARP expiry, reassembly, DHCP) goes through a `NetClock`, so tests can run a
 * lossy link under a virtual clock deterministically and check that no timer is left behind.
 */
export interface NetClock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@link NetClock.clear}. */
  schedule(ms: number, fn: () => void): NetTimer
  clear(timer: NetTimer): void
}

/** An opaque handle for a scheduled callback. */
export interface NetTimer {
  readonly due: number
}

/** The real clock: `performance.now()` and `setTimeout` (timers are unref'd under Node). */
export const realClock: NetClock = {
  now: () => performance.now(),
  schedule(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms)) as unknown as { unref?: () => void }
    handle.unref?.()
    return { due: performance.now() + ms, handle } as NetTimer
  },
  clear(timer) {
    clearTimeout((timer as unknown as { handle: Parameters<typeof clearTimeout>[0] }).handle)
  },
}

/**
 * A virtual clock for tests: time moves only by {@link VirtualClock.advance}/{@link VirtualClock.runUntilIdle};
 * `pending` counts live timers (a leak check).
 */
export class VirtualClock implements NetClock {
  private time = 0
  private seq = 0
  private readonly timers = new Map<number, { due: number; fn: () => void; seq: number }>()

  now(): number {
    return this.time
  }

  schedule(ms: number, fn: () => void): NetTimer {
    const seq = ++this.seq
    const due = this.time + Math.max(0, ms)
    this.timers.set(seq, { due, fn, seq })
    return { due, seq } as NetTimer
  }

  clear(timer: NetTimer): void {
    this.timers.delete((timer as unknown as { seq: number }).seq)
  }

  /** Live timers. */
  get pending(): number {
    return this.timers.size
  }

  /** Moves time forward by `ms`, firing due timers in order (ties by scheduling order). */
  advance(ms: number): void {
    const end = this.time + ms
    for (;;) {
      let next: { due: number; fn: () => void; seq: number } | undefined
      for (const t of this.timers.values()) if (t.due <= end && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t
      if (!next) break
      this.timers.delete(next.seq)
      this.time = Math.max(this.time, next.due)
      next.fn()
    }
    this.time = end
  }

  /** Fires timers until none is left or `limitMs` of virtual time has passed; returns the time advanced. */
  runUntilIdle(limitMs = 3_600_000): number {
    const start = this.time
    while (this.timers.size > 0 && this.time - start < limitMs) {
      let due = Infinity
      for (const t of this.timers.values()) due = Math.min(due, t.due)
      this.advance(Math.max(0, Math.min(due, start + limitMs) - this.time))
    }
    return this.time - start
  }
}
