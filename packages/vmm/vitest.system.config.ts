import { honkSystemProject } from '../../vitest.shared.ts'
export default honkSystemProject('vmm')
