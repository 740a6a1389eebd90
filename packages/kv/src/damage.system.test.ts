import { describe, expect, it } from 'vitest'
import { damageRuns } from './damage-harness.js'

// The slow tier runs the damage property (issue #12 case 5) with 5 000 cases.
describe('KV on a damaged device after a crash, long run', () => {
  it('5 000 cases of (operations, one damaged sector, crash point)', async () => {
    const o = await damageRuns(5000)
    console.log(`kv damage property (long): ${JSON.stringify(o)}`)
    expect(o.intact + o.refused + o.tailLimit).toBe(5000)
    expect(o.refused).toBeGreaterThan(500)
    expect(o.tailLimit).toBeGreaterThan(0)
  })
})
