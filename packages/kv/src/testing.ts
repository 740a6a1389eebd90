/**
 * Helpers shared by the store's model, crash and race tests (not exported from the package).
 */
import type { KV } from './types.js'

/** A small deterministic PRNG (mulberry32) so a failing seed replays exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

/** The whole store as a plain map of hex(key) → hex(value). */
export async function dump(kv: Pick<KV, 'entries'>): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const [k, v] of kv.entries()) out.set(new TextDecoder().decode(k), hex(v))
  return out
}

export function valueHex(v: Uint8Array): string {
  return hex(v)
}

export function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

export function describeMap(m: Map<string, string>): string {
  return `{${[...m].map(([k, v]) => `${k}:${v.length / 2}B:${v.slice(0, 8)}`).join(', ')}}`
}

/**
 * Folds the settled results of one group of concurrent writes into the model: each write that
 * was not refused for space adds a state; a durable success raises the floor (the oldest state
 * a crash may leave); the first failure means the power was cut, and every later write of the
 * group may or may not have landed. Shared by the crash and damage harnesses.
 */
export function recordOutcomes(
  plans: readonly { apply: (m: Map<string, string>) => void; durable: boolean }[],
  results: readonly PromiseSettledResult<unknown>[],
  states: Map<string, string>[],
  floor: number,
  isRefusal: (reason: unknown) => boolean,
): { floor: number; alive: boolean } {
  let alive = true
  let prev = states[states.length - 1]!
  for (let i = 0; i < plans.length; i++) {
    const res = results[i]!
    if (res.status === 'rejected' && isRefusal(res.reason)) continue // nothing happened
    const next = new Map(prev)
    plans[i]!.apply(next)
    states.push(next)
    prev = next
    if (res.status === 'fulfilled') {
      if (plans[i]!.durable) floor = states.length - 1
    } else {
      alive = false
    }
  }
  return { floor, alive }
}

