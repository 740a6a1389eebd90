import { honkProject } from '../../vitest.shared.ts'
export default honkProject('image', { testTimeout: 120_000 })
