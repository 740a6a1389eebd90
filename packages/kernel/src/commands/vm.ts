/**
 * `vm [timer|paging|dbcn|mmio|irq|virtio]`: the Go honk's demo guests (inventory §1.10.7, §2.3)
 * run under the hypervisor extension by `@honk/vmm` on the kernel's hart, a slice at a time (the
 * shell waits; the machine, its interrupts and the other harts go on). An unknown argument runs
 * the default demo, as in the Go honk.
 *
 * `vm linux [--smp N] [--mem MiB] [--kernel path] [--initrd path] [--disk path]` (M13): a Linux
 * `Image` from honk's root FS (default `linux/Image`, `linux/initramfs.cpio`) as a VS-mode guest
 * with its console on honk's (the SBI console, hvc0), a virtio-rng and, with `--disk`, a
 * virtio-blk over a copy of that file (written back when the guest ends, if the root is
 * writable); N vCPUs take turns on the hart.
 */
import { MemoryBlockDevice } from '@honk/block'
import { cryptoRandom, VirtioBlk, VirtioRng } from '@honk/virtio'
import { readFile, writeFile } from '@honk/vfs'
import { demoByName, linuxVm, outcomeMessage, parseLinuxImage, runDemoAsync, runVmAsync, VmError, type RunVmAsyncOptions } from '@honk/vmm'
import { defineCommand, type CommandContext } from './command.js'
import type { KernelHypervisor } from '../services.js'
import { describeError } from './format.js'

const runOptions = (hv: KernelHypervisor): RunVmAsyncOptions => ({
  lend: (_vcpu, f) => hv.lendHart(f),
  now: () => hv.now(),
  sleep: (ticks) => hv.sleep(ticks),
})

export const vm = defineCommand({
  name: 'vm',
  usage: 'vm [timer|paging|dbcn|mmio|irq|virtio]',
  summary: 'run a demo guest VM under the hypervisor extension (vm linux: a Linux guest)',
  group: 'machine',
  async run(ctx, args) {
    const hv = ctx.host.hypervisor
    if (!hv) return ctx.println('vm: no hypervisor extension on this machine')
    if (args[0] === 'linux') return linux(ctx, hv, args.slice(1))
    await runDemoAsync(demoByName(args[0]), hv.region, (t) => ctx.out(t), runOptions(hv))
  },
})

async function linux(ctx: CommandContext, hv: KernelHypervisor, args: string[]): Promise<void> {
  const opt = (name: string, fallback: string): string => {
    const i = args.indexOf(name)
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback
  }
  const smp = Number(opt('--smp', '1'))
  const mem = Number(opt('--mem', '128'))
  if (!Number.isInteger(smp) || smp < 1 || smp > 8) return ctx.println('vm: --smp takes 1..8')
  if (!Number.isInteger(mem) || mem < 32) return ctx.println('vm: --mem takes a size in MiB, at least 32')
  let image: Uint8Array
  let initrd: Uint8Array
  try {
    image = await readFile(ctx.fs, opt('--kernel', 'linux/Image'))
    initrd = await readFile(ctx.fs, opt('--initrd', 'linux/initramfs.cpio'))
  } catch (e) {
    return ctx.println(`vm: ${describeError(e)}`)
  }
  const diskPath = args.includes('--disk') ? opt('--disk', '') : undefined
  let disk: MemoryBlockDevice | undefined
  if (diskPath !== undefined) {
    try {
      const bytes = await readFile(ctx.fs, diskPath)
      if (bytes.length === 0 || bytes.length % 512 !== 0) return ctx.println(`vm: ${diskPath}: a disk image must be a non-empty multiple of 512 bytes (it has ${bytes.length})`)
      disk = new MemoryBlockDevice(bytes.length / 512, 512, bytes)
    } catch (e) {
      return ctx.println(`vm: ${describeError(e)}`)
    }
  }
  let built
  try {
    parseLinuxImage(image) // before RAM is set aside: a file that is no kernel is the first thing to say
    built = linuxVm({ host: hv.region, ramSize: mem << 20, vcpus: smp, console: { write: (b) => ctx.out(String.fromCharCode(b)) }, image, initrd, devices: [...(disk ? [new VirtioBlk(disk)] : []), new VirtioRng({ source: cryptoRandom })] })
  } catch (e) {
    if (e instanceof VmError) return ctx.println(`vm: ${e.message}`)
    throw e
  }
  ctx.println(`vm: launching Linux (${image.length} bytes, initrd ${initrd.length} bytes) as a VS-mode guest: ${smp} vCPU(s), ${mem} MiB`)
  const outcome = await runVmAsync(built.vm, { ...runOptions(hv), timeBudget: 1n << 62n })
  if (outcome.reason === 'fault') ctx.println(`\nvm: ${outcome.error.message}`)
  ctx.println(`vm: ${outcomeMessage(outcome)}`)
  if (disk && diskPath !== undefined && ctx.host.root.writable) {
    try {
      const image = new Uint8Array(disk.blockCount * 512)
      await disk.read(0, image)
      await writeFile(ctx.fs, diskPath, image)
    } catch (e) {
      ctx.println(`vm: ${diskPath}: not written back: ${describeError(e)}`)
    }
  }
}
