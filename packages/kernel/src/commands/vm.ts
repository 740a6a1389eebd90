/**
 * `vm [timer|paging|dbcn|mmio|irq|virtio]`: the Go honk's demo guests (inventory §1.10.7, §2.3)
 * run under the hypervisor extension by `@honk/vmm` on the kernel's hart, a slice at a time (the
 * shell waits; the machine, its interrupts and the other harts go on). An unknown argument runs
 * the default demo, as in the Go honk.
 */
import { demoByName, runDemoAsync } from '@honk/vmm'
import { defineCommand } from './command.js'

export const vm = defineCommand({
  name: 'vm',
  usage: 'vm [timer|paging|dbcn|mmio|irq|virtio]',
  summary: 'run a demo guest VM under the hypervisor extension',
  group: 'machine',
  async run(ctx, args) {
    const hv = ctx.host.hypervisor
    if (!hv) return ctx.println('vm: no hypervisor extension on this machine')
    await runDemoAsync(demoByName(args[0]), hv.region, (t) => ctx.out(t), {
      lend: (_vcpu, f) => hv.lendHart(f),
      now: () => hv.now(),
      sleep: (ticks) => hv.sleep(ticks),
    })
  },
})
