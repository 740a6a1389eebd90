/**
 * The repo's Linux 6.1 as a VS-mode guest under `@honk/vmm` on one `@honk/rv64` hart with the
 * hypervisor extension (the M13 system test and the linux-vmm benchmark share it).
 */
import { readFileSync } from 'node:fs'
import { MemoryBlockDevice } from '@honk/block'
import { createSystem } from '@honk/rv64'
import { VirtioBlk, VirtioNet, VirtioRng, loopbackPair } from '@honk/virtio'
import { linuxVm, runVmAsync } from '@honk/vmm'
import { RvGuestHart, handOffToHypervisor } from './guest-hart.js'
import { INITRAMFS, LINUX_IMAGE, patternDisk } from './guest.js'

const RAM = 0x8000_0000

/** Boots the guest with `vcpus` vCPUs on one H hart; returns the console, the outcome and the wall time. */
export async function bootLinuxGuest(vcpus: number) {
  const sys = createSystem({ harts: 1, ramSize: 256 << 20, hypervisor: true })
  const hart = sys.harts[0]!
  handOffToHypervisor(hart)
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
