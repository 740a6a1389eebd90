import { describe, expect, it } from 'vitest'
import { crashRuns } from './crash-harness.js'

describe('KV crash consistency (crash-simulating device)', () => {
  it('recovers every crash image to an allowed state and keeps working through reopens', async () => {
    const stats = { holes: 0 }
    const explored = await crashRuns(40, 6, 12, stats)
    console.log(`kv crash consistency: ${explored} crash states explored, ${stats.holes} with intact frames after a hole (torn tails, not damage)`)
    expect(explored).toBeGreaterThanOrEqual(2000)
    expect(stats.holes).toBeGreaterThan(0)
  })
})
