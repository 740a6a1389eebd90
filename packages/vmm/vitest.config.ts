import { honkProject } from '../../vitest.shared.ts'
export default honkProject('vmm')
