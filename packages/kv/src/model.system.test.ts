import { describe, it } from 'vitest'
import { modelRuns } from './model-harness.js'

describe('KV against a Map model, long run', () => {
  it('agrees over 3000 random operation sequences', () => modelRuns(3000))
})
