/**
 * Issue #17, M13 (the Go honk never got here): the repo's Linux 6.1 boots as a VS-mode guest
 * under `@honk/vmm` on an `@honk/rv64` hart with the hypervisor extension — console through the
 * guest SBI (hvc0), virtio-blk / virtio-rng / virtio-net models from `@honk/virtio` unchanged on
 * virtio-mmio behind a virtual PLIC, several vCPUs taking turns on one hart — and its init passes
 * the same checks as on the bare machine (harts, disk pattern, hwrng, eth0, timers).
 */
import { outcomeMessage } from '@honk/vmm'
import { describe, expect, it } from 'vitest'
import { bootLinuxGuest } from './guest-hart-linux.js'
import { guestBuilt } from './guest.js'
const run = guestBuilt() || process.env['CI'] === 'true'

describe.skipIf(!run)('Linux 6.1 as a VS-mode guest under @honk/vmm', () => {
  for (const vcpus of [1, 2])
    it(`boots to init and passes its checks with ${vcpus} vCPU(s) on one hart, then powers off`, async () => {
      const { out, outcome, ms, exits } = await bootLinuxGuest(vcpus)
      expect(out).toContain('Linux version 6.1')
      expect(out).toContain('Machine model: honk guest')
      expect(out).toContain(`honk-init: harts: ${vcpus}`)
      expect(out).toMatch(/honk-init: vda: sector 1 ok, hash [0-9a-f]{16}/)
      expect(out).toContain('honk-init: hwrng: ok')
      expect(out).toContain('honk-init: eth0: up')
      expect(out).toContain('honk-init: all checks passed')
      if (vcpus > 1) expect(out).toContain(`smp: Brought up 1 node, ${vcpus} CPUs`)
      expect(outcomeMessage(outcome)).toBe('guest halted (SBI shutdown)')
      console.log(`vmm linux ${vcpus} vCPU(s): ${outcome.executed} guest instructions in ${(ms / 1000).toFixed(1)} s; exits ${JSON.stringify(exits)}`)
    }, 900_000)
})
