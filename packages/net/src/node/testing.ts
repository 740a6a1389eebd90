/**
 * Test helpers for Node: a {@link VirtualClock} that advances by itself whenever the event loop
 * turns (so Node streams and our stack run together, loss and timeouts in virtual time).
 */
import type { VirtualClock } from '../clock.js'

/** Advances `clock` by `stepMs` on every event-loop turn until the returned stop function is called. */
export function driveClock(clock: VirtualClock, stepMs = 1): () => void {
  let running = true
  const tick = () => {
    if (!running) return
    clock.advance(stepMs)
    setImmediate(tick)
  }
  setImmediate(tick)
  return () => {
    running = false
  }
}
