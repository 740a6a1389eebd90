/**
 * `vm [timer|paging|dbcn|mmio|irq|virtio]`: the Go honk's demo guests (inventory §1.10.7, §2.3)
 * run under the hypervisor extension by `@honk/vmm` on the least-loaded hart, a slice at a time (the
 * shell waits; the machine, its interrupts and the other harts go on). An unknown argument is
 * refused with the list of guests (the Go honk ran the default demo for a typo).
 *
 * `vm linux [--smp N] [--mem MiB] [--kernel path] [--initrd path] [--disk path]` (M13): a Linux
 * `Image` from honk's root FS (default `linux/Image`, `linux/initramfs.cpio`) as a VS-mode guest
 * with its console on honk's (the SBI console, hvc0), a virtio-rng and, with `--disk`, a
 * virtio-blk over a copy of that file (written back when the guest ends, if the root is
 * writable); the N vCPUs are placed on the least-loaded of honk's online harts, each of which
 * lends itself to the vCPUs on it a slice at a time (`vm list` shows vCPU:hart). `--share dir`:
 * a virtio-9p (tag "honk") of that directory of honk's root FS (served by `@honk/p9` over
 * `sub(root, dir)`); every guest also gets a virtio-net on a link of its own whose far end is
 * honk's router (a `@honk/net` Gateway at 10.0.3.1: DHCP gives the guest 10.0.3.15 — it boots
 * with `ip=dhcp` — honk's HTTP is on 10.0.3.1:80, and flows to other addresses are NATed out
 * through honk's own network); `--append word` adds a word to the guest's command line.
 *
 * Each guest is a VM with an id (its pid in honk's process table) that runs in the background:
 * `vm linux` attaches to its console at once (`--detach`/`-d`: not), `vm attach <id>` again;
 * while attached the guest's output is on honk's console and what the user types goes to the
 * guest (SBI console_getchar, what hvc0 polls); Ctrl-] (0x1d, as telnet) detaches. `vm list`
 * (id, vCPUs, memory, state, uptime), `vm stop <id>` (or `kill <id>`): the guest ends between two
 * slices, the hart is the kernel's again. A guest that faults ends alone; honk runs on.
 */
import { MemoryBlockDevice } from '@honk/block'
import { serve } from '@honk/p9'
import { cryptoRandom, VirtioBlk, VirtioNet, VirtioP9, VirtioRng, type VirtioDevice } from '@honk/virtio'
import { mkdirp, readFile, sub, writeFile } from '@honk/vfs'
import { DEMOS, demoByName, linuxVm, outcomeMessage, parseLinuxImage, runDemoAsync, runVmAsync, VmError, type GuestHart, type RunVmAsyncOptions, type VcpuExit, type VM, type VmOutcome } from '@honk/vmm'
import { defineCommand, type CommandContext } from './command.js'
import type { KernelHypervisor } from '../services.js'
import { describeError, parseGoInt, uptimeOf } from './format.js'
import { guestIpArg, guestLink, stateOf, vmTable, VmConsole, type VmRecord, type VmTable } from '../vm-table.js'

/** Demos get negative ids in the hart scheduler (a VM's id is its pid). */
let demoIds = 0

/**
 * How a VM's vCPUs get harts: each is placed on the least-loaded of honk's online harts (see
 * `HartScheduler`), and every slice is run on the hart it is placed on, lent by the kernel (the
 * vCPU's `GuestHart` is that hart's). What each hart ran is recorded from the lent hart's id.
 *
 * An idle vCPU costs its hart nothing: while a secondary vCPU (`vm` given) waits in WFI and
 * nothing would wake it — no interrupt it enabled is pending (`pendingWork`) and its timer
 * deadline has not come — its slice is not run at all (no hart lent, no state switched); the
 * round sees the same idle exit as before. vCPU 0 always gets its slice: its runs tick the
 * VM's devices and take their interrupts.
 */
function runOptions(hv: KernelHypervisor, table: VmTable, vmId: number, vcpus: number, vm?: VM): RunVmAsyncOptions {
  const placed = Array.from({ length: vcpus }, (_, i) => table.scheduler.place(vmId, i))
  const last: (VcpuExit | undefined)[] = []
  return {
    lend: <T>(vcpu: number, f: (hart: GuestHart) => T): T => {
      const p = placed[vcpu]!
      const prev = last[vcpu]
      const v = vm?.vcpus[vcpu]
      if (vcpu !== 0 && v && prev?.kind === 'idle') {
        const now = hv.now()
        // runVmAsync's f returns the vCPU's exit (VcpuExit); the same idle exit stands for the slice not run.
        if (!v.pendingWork(now) && (prev.until === undefined || now < prev.until)) return { ...prev, executed: 0 } as unknown as T
      }
      return hv.lendHart(table.scheduler.beforeSlice(p), (hart) => {
        const exit = f(hart)
        const e = exit as unknown as VcpuExit
        last[vcpu] = e
        table.scheduler.afterSlice(p, hart.hartId, typeof e.executed === 'number' ? e.executed : 0, e.kind === 'idle' || e.kind === 'stopped')
        return exit
      })
    },
    now: () => hv.now(),
    sleep: (ticks, wake) => hv.sleep(ticks, wake),
  }
}

/** The byte that detaches from a guest's console: Ctrl-] (as telnet). */
export const DETACH_BYTE = 0x1d
/** Guest RAM a demo guest gets from the pool (its RAM, at most 4 MiB, and its tables). */
const DEMO_PIECE = 8 << 20
/** Beyond a Linux guest's RAM: its G-stage tables and alignment. */
const TABLE_SLACK = 4 << 20

export const vm = defineCommand({
  name: 'vm',
  usage: 'vm [timer|paging|dbcn|mmio|irq|virtio] | vm linux [-d] [--smp N] [--mem MiB] [--disk f] [--share dir] [--append arg] | vm list | vm attach <id> | vm stop <id>',
  summary: 'run a demo guest VM under the hypervisor extension (vm linux: a Linux guest)',
  group: 'machine',
  async run(ctx, args) {
    const hv = ctx.host.hypervisor
    if (!hv) return ctx.println('vm: no hypervisor extension on this machine')
    const table = vmTable(ctx.host, hv)
    switch (args[0]) {
      case 'linux':
        return linux(ctx, hv, table, args.slice(1))
      case 'list':
        return list(ctx, table)
      case 'attach':
      case 'stop': {
        const id = args[1] === undefined ? undefined : parseGoInt(args[1])
        const rec = id === undefined ? undefined : table.vms.get(id)
        if (!rec) return ctx.println(`vm: ${args[1] === undefined ? `usage: vm ${args[0]} <id>` : `no VM ${args[1]} (vm list)`}`)
        if (rec.state !== 'running') return ctx.println(`vm: VM ${rec.id} is not running (${rec.state})`)
        if (args[0] === 'attach') return attach(ctx, rec)
        ctx.host.procs.kill(rec.id, 'vm stop')
        await rec.ended
        return ctx.println(`vm: VM ${rec.id} stopped`)
      }
    }
    const name = args[0]
    if (name !== undefined && name !== 'default' && !Object.hasOwn(DEMOS, name)) {
      return ctx.println(`vm: unknown guest ${JSON.stringify(name)} (${Object.keys(DEMOS).filter((d) => d !== 'default').join(', ')}, linux; vm list, vm attach <id>, vm stop <id>)`)
    }
    const piece = table.pool.alloc(DEMO_PIECE)
    if (!piece) return ctx.println(`vm: no guest RAM free (${table.pool.inUse >> 20} of ${table.pool.size >> 20} MiB used by running VMs)`)
    const id = --demoIds
    try {
      await runDemoAsync(demoByName(args[0]), piece.region, (t) => ctx.out(t), runOptions(hv, table, id, 1))
    } finally {
      table.scheduler.release(id)
      piece.free()
    }
  },
})

function list(ctx: CommandContext, table: VmTable): void {
  const now = ctx.now()
  const row = (id: string, kind: string, vcpus: string, mem: string, state: string, up: string, harts: string) =>
    `${id.padEnd(4)} ${kind.padEnd(6)} ${vcpus.padEnd(6)} ${mem.padEnd(8)} ${state.padEnd(12)} ${up.padEnd(8)} ${harts}`
  ctx.println(row('ID', 'GUEST', 'VCPUS', 'MEMORY', 'STATE', 'UPTIME', 'HARTS (vCPU:hart)'))
  for (const r of table.vms.values()) {
    const p = ctx.host.procs.list().find((i) => i.pid === r.id)
    ctx.println(row(String(r.id), r.kind, String(r.vcpus), `${r.memMiB}MiB`, r.state + (r.console.attached ? '*' : ''), p ? uptimeOf(p, now) : '-', placementsOf(table, r.id)))
  }
  ctx.println(`(${table.vms.size} VMs; guest RAM ${table.pool.inUse >> 20} of ${table.pool.size >> 20} MiB in use)`)
}

/** "0:1 1:0" (vCPU 0 on hart 1, vCPU 1 on hart 0; "idle" when it waits), or "-" once the VM has ended. */
function placementsOf(table: VmTable, id: number): string {
  const ps = table.scheduler.of(id)
  return ps.length ? ps.map((p) => `${p.vcpu}:${p.hart}${p.idle ? '(idle)' : ''}`).join(' ') : '-'
}

/**
 * The guest's console on honk's until Ctrl-] or the guest's end: output as it comes (what was
 * kept while detached first), typed bytes to the guest's input.
 */
async function attach(ctx: CommandContext, rec: VmRecord): Promise<void> {
  let detach!: () => void
  const detached = new Promise<'detached'>((resolve) => (detach = () => resolve('detached')))
  rec.console.attach((b) => ctx.out(String.fromCharCode(b)))
  const release = ctx.grabInput?.(
    (b) => (b === DETACH_BYTE ? detach() : rec.console.type(b)),
    () => detach(),
  )
  try {
    const how = await Promise.race([detached, rec.ended.then(() => 'ended' as const)])
    if (how === 'detached') ctx.println(`\nvm: detached from VM ${rec.id} (still running: vm attach ${rec.id}, vm stop ${rec.id})`)
  } finally {
    release?.()
    rec.console.detach()
  }
}

async function linux(ctx: CommandContext, hv: KernelHypervisor, table: VmTable, args: string[]): Promise<void> {
  const opt = (name: string, fallback: string): string => {
    const i = args.indexOf(name)
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback
  }
  const background = args.includes('-d') || args.includes('--detach')
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
  const sharePath = args.includes('--share') ? opt('--share', '') : undefined
  if (sharePath !== undefined) {
    try {
      if (sharePath === '') return ctx.println('vm: --share takes a directory of honk\'s root FS')
      if (ctx.host.root.writable) await mkdirp(ctx.fs, sharePath)
      const st = await ctx.fs.stat(sharePath)
      if (st.type !== 'dir') return ctx.println(`vm: ${sharePath}: not a directory (--share exports a directory over virtio-9p)`)
    } catch (e) {
      return ctx.println(`vm: ${describeError(e)}`)
    }
  }
  try {
    parseLinuxImage(image) // before RAM is set aside: a file that is no kernel is the first thing to say
  } catch (e) {
    if (e instanceof VmError) return ctx.println(`vm: ${e.message}`)
    throw e
  }
  const piece = table.pool.alloc((mem << 20) + TABLE_SLACK)
  if (!piece) return ctx.println(`vm: no room for ${mem} MiB of guest RAM (${table.pool.inUse >> 20} of ${table.pool.size >> 20} MiB used by running VMs)`)
  const console = new VmConsole()
  // virtio-net on a link of its own to a @honk/net stack of honk's (the guest is 10.0.3.15, honk 10.0.3.1).
  const link = await guestLink({ uplink: () => hv.uplink(), serveHttp: hv.serveHttp })
  const devices: VirtioDevice[] = [...(disk ? [new VirtioBlk(disk)] : []), new VirtioRng({ source: cryptoRandom }), new VirtioNet(link.port, { mac: '52:54:00:00:03:0f' })]
  if (sharePath !== undefined) {
    // virtio-9p, tag "honk": the guest sees that directory of honk's root FS and nothing above it.
    const server = serve(sub(ctx.fs, sharePath))
    devices.push(new VirtioP9('honk', (req) => server.handle(req)))
  }
  // Words for the guest's kernel command line (`--append honk.checks=basic,9p`), after the console.
  const extra: string[] = []
  args.forEach((a, i) => {
    if (a === '--append' && args[i + 1] !== undefined) extra.push(args[i + 1]!)
  })
  let built
  try {
    built = linuxVm({ host: piece.region, ramSize: mem << 20, vcpus: smp, console, image, initrd, bootargs: ['console=hvc0', guestIpArg(), ...extra].join(' '), devices })
  } catch (e) {
    piece.free()
    await link.close()
    if (e instanceof VmError) return ctx.println(`vm: ${e.message}`)
    throw e
  }
  const vmOf = built.vm
  let settle!: (o: VmOutcome | undefined) => void
  const ended = new Promise<VmOutcome | undefined>((resolve) => (settle = resolve))
  const proc = ctx.host.procs.spawn('vm-linux', [], async (pctx) => {
    let outcome: VmOutcome | undefined
    try {
      outcome = await runVmAsync(vmOf, { ...runOptions(hv, table, pctx.pid, smp, vmOf), timeBudget: 1n << 62n, signal: pctx.signal })
      rec.state = stateOf(outcome)
      const say = (t: string) => ctx.println(console.attached ? t : `\nvm: VM ${rec.id}: ${t.slice(4)}`)
      if (outcome.reason === 'fault') say(`\nvm: ${outcome.error.message}`)
      if (outcome.reason !== 'stopped') say(`vm: ${outcomeMessage(outcome)}`)
    } catch (e) {
      rec.state = 'error'
      ctx.println(`\nvm: VM ${rec.id}: internal error: ${describeError(e)}`)
    } finally {
      table.scheduler.release(pctx.pid)
      await link.close()
      piece.free()
      if (disk && diskPath !== undefined && ctx.host.root.writable) {
        try {
          const bytes = new Uint8Array(disk.blockCount * 512)
          await disk.read(0, bytes)
          await writeFile(ctx.fs, diskPath, bytes)
        } catch (e) {
          ctx.println(`vm: ${diskPath}: not written back: ${describeError(e)}`)
        }
      }
      settle(outcome)
    }
    return outcome?.reason
  })
  const rec: VmRecord = { id: proc.pid, kind: 'linux', vcpus: smp, memMiB: mem, console, state: 'running', ended }
  table.vms.set(rec.id, rec)
  ctx.println(`vm: launching Linux (${image.length} bytes, initrd ${initrd.length} bytes) as a VS-mode guest: ${smp} vCPU(s), ${mem} MiB`)
  ctx.println(`vm: VM ${rec.id} ${background ? 'runs in the background (vm attach ' + rec.id + ')' : 'attached (Ctrl-] detaches)'}`)
  if (!background) await attach(ctx, rec)
}
