import { honkProject } from '../../vitest.shared.ts'
export default honkProject('kv', { testTimeout: 120_000 })
