import { describe, expect, it } from 'vitest'
import { CASES } from './hyp-cases.js'
import { compare, toolsPresent } from './runner.js'

/**
 * The hypervisor extension against QEMU (`-cpu rv64,h=true`; ours `hypervisor: true`): the trap
 * log (every trap's handler, cause, tval, htval/mtval2, htinst/mtinst, SPV/SPVP/MPV/MPP), every
 * register and the harness's trap CSRs must match.
 */
describe.skipIf(!toolsPresent())('the H extension against QEMU (differential)', () => {
  for (const [name, body] of Object.entries(CASES)) {
    it(name, () => {
      const { qemu, diff } = compare(body, { hypervisor: true })
      expect(qemu).toMatch(/M[0-9a-f]{16}\n?$/) // QEMU ran the whole harness
      expect(qemu.split('\n').length).toBeGreaterThan(70)
      expect(diff).toEqual([])
    })
  }
})
