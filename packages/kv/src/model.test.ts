import { describe, it } from 'vitest'
import { modelRuns } from './model-harness.js'

describe('KV against a Map model (fast-check)', () => {
  it('agrees after every operation, across compaction, reset and reopen; snapshots stay frozen', () => modelRuns(150))
})
