/**
 * Issue #17, M13 (the Go honk never got here): the repo's Linux 6.1 boots as a VS-mode guest
 * under `@honk/vmm` on an `@honk/rv64` hart with the hypervisor extension — console through the
 * guest SBI (hvc0), virtio-blk / virtio-rng / virtio-net models from `@honk/virtio` unchanged on
 * virtio-mmio behind a virtual PLIC, several vCPUs taking turns on one hart — and its init passes
 * the same checks as on the bare machine (harts, disk pattern, hwrng, eth0, timers).
 */
import { readFileSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { createSystem } from '@honk/rv64'
import { VirtioBlk, VirtioNet, VirtioRng, loopbackPair } from '@honk/virtio'
import { linuxVm, outcomeMessage, runVmAsync } from '@honk/vmm'
import { describe, expect, it } from 'vitest'
import { RvGuestHart } from './guest-hart.js'
import { INITRAMFS, LINUX_IMAGE, guestBuilt, patternDisk } from './guest.js'

const RAM = 0x8000_0000
const run = guestBuilt() || process.env['CI'] === 'true'

/** Boots the guest with `vcpus` vCPUs on one H hart; returns the console, the outcome and the wall time. */
export async function bootLinuxGuest(vcpus: number) {
  const sys = createSystem({ harts: 1, ramSize: 256 << 20, hypervisor: true })
  const hart = sys.harts[0]!
  hart.privilege = 1
  const guest = new RvGuestHart(hart, sys.bus, RAM)
  let out = ''
  const { vm } = linuxVm({
    host: { base: RAM + (16 << 20), bytes: sys.bus.ram.subarray(16 << 20) },
    ramSize: 192 << 20,
    vcpus,
    console: { write: (b) => (out += String.fromCharCode(b)) },
    image: new Uint8Array(readFileSync(LINUX_IMAGE)),
    initrd: new Uint8Array(readFileSync(INITRAMFS)),
    devices: [new VirtioBlk(new MemoryBlockDevice(16384, 512, patternDisk())), new VirtioRng(), new VirtioNet(loopbackPair()[0])],
  })
  const t0 = performance.now()
  const outcome = await runVmAsync(vm, {
    maxInstructions: 2e9,
    timeBudget: 1n << 60n,
    lend: (_vcpu, f) => f(guest),
    now: () => sys.clint.mtime(),
    // Every vCPU waits: jump the (instruction-counting) clock to the deadline, and let device backends (promises) finish.
    sleep: async (ticks) => {
      if (ticks > 0n) sys.clint.advance(ticks)
      await new Promise((r) => setImmediate(r))
    },
  })
  return { out, outcome, ms: performance.now() - t0, exits: vm.vcpus.map((v) => v.exits) }
}

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
