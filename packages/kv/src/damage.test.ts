import { describe, expect, it } from 'vitest'
import { damageRuns } from './damage-harness.js'

describe('issue #12 case 5: KV on a damaged device after a crash (fast-check)', () => {
  it('every acknowledged write is readable, or the open refuses and names the damage; nothing next to it is rewritten', async () => {
    const o = await damageRuns(300)
    console.log(`kv damage property: ${JSON.stringify(o)}`)
    expect(o.intact + o.refused + o.tailLimit).toBe(300)
    expect(o.refused).toBeGreaterThan(0)
    expect(o.intact).toBeGreaterThan(0)
  })
})
