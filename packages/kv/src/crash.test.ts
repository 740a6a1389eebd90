import { describe, expect, it } from 'vitest'
import { crashRuns } from './crash-harness.js'

describe('KV crash consistency (crash-simulating device)', () => {
  it('recovers every crash image to an allowed state and keeps working through reopens', async () => {
    const explored = await crashRuns(40, 6, 12)
    console.log(`kv crash consistency: ${explored} crash states explored`)
    expect(explored).toBeGreaterThanOrEqual(2000)
  })
})
