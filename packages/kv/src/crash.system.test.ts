import { describe, expect, it } from 'vitest'
import { crashRuns } from './crash-harness.js'

// The slow tier runs the same crash-consistency property ten times longer.
describe('KV crash consistency, long run', () => {
  it('recovers every crash image of 400 runs × 8 lives × 16 images', async () => {
    const explored = await crashRuns(400, 8, 16)
    console.log(`kv crash consistency (long): ${explored} crash states explored`)
    expect(explored).toBeGreaterThanOrEqual(50_000)
  })
})
