/**
 * honk mode (DESIGN §3): the virt machine with the HS shim as its payload and the TypeScript
 * kernel taking over when the firmware enters it. Used by `pnpm start` (main.ts) and the
 * system tests.
 */
import { readFileSync } from 'node:fs'
import type { BlockDevice } from '@honk/block'
import type { Anchor } from '@honk/image'
import { serve } from '@honk/p9'
import type { FS } from '@honk/vfs'
import { VirtMachine, type PciFactory } from './board.js'
import { boot } from './boot.js'
import { OPENSBI_FW_JUMP } from './guest.js'
import { MachineHsPort, hsShim } from './hs-port.js'
import { Kernel } from '@honk/kernel'
import { nodeHttpService, nodeKernelThreads } from '@honk/kernel/node'
import { nodeWasmWorkers } from '@honk/proc/node'
import { NvmeController, VirtioGpu, VirtioKeyboard, VirtioNet, VirtioTablet, type FramePort } from '@honk/virtio'

export interface HonkConfig {
  harts: number
  /** RAM bytes. */
  memory: number
  /** `builtin`: the SBI in TypeScript (fast); `opensbi`: Debian's OpenSBI fw_jump.bin in M-mode. */
  firmware: 'builtin' | 'opensbi'
  /** The state disk: image slots and the writable layer. None: a read-only core. */
  disk?: BlockDevice
  /** Which controller the disk sits on: `virtio` (virtio-blk over MMIO, default) or `nvme` (an NVMe controller on the PCIe bus). */
  diskBus?: 'virtio' | 'nvme'
  /** The host share, exported over virtio-9p with this tag ("host" in the Go honk). */
  share?: { fs: FS; tag: string }
  consoleOut: (byte: number) => void
  /**
   * The guest's network wire (a virtio-net device is added on it): one end of a pair whose other
   * end is the host's user-mode NAT (`UserNet` of `@honk/net/node`), or a test link. None: no NIC.
   */
  net?: FramePort
  /** How long the kernel waits for a DHCP lease before its static configuration (default 3 s). */
  dhcpWaitMs?: number
  /** A screen: virtio-gpu with this mode, plus a virtio keyboard and tablet (what `--display` adds). None: no display. */
  display?: { width: number; height: number }
  /** OpenSBI's fw_jump.bin for `firmware: 'opensbi'` (default: read from Debian's path). */
  firmwareImage?: Uint8Array
  /**
   * Whether the secondary harts get their own threads (`worker_threads`) for the kernel's CPU
   * work (`stress`); default true. False: every kernel task on the boot hart's event loop.
   */
  hartThreads?: boolean
  /** The factory core image and the anchor that verifies cores. */
  factory: Uint8Array
  anchor: Anchor
}

export interface HonkMachine {
  machine: VirtMachine
  /** Resolves when the kernel's boot and shell have ended (at power-off). */
  kernel: Promise<void>
  /** The display devices, host side (when `display` was given): feed input, read the scanout. */
  display?: HonkDisplay
  /** Stops the 9P server and detaches the NIC from its wire (the disk and the wire are the caller's). */
  close(): Promise<void>
}

/** The host's side of the screen: the GPU's scanouts and the input devices. */
export interface HonkDisplay {
  gpu: VirtioGpu
  keyboard: VirtioKeyboard
  tablet: VirtioTablet
}

/** The state disk behind an NVMe controller (`--disk-bus nvme`). */
const nvmeOn =
  (disk: BlockDevice): PciFactory =>
  ({ memory }) =>
    new NvmeController(disk, { memory, serial: 'honk-state' })

export function createHonk(config: HonkConfig): HonkMachine {
  const display: HonkDisplay | undefined = config.display ? { gpu: new VirtioGpu({ width: config.display.width, height: config.display.height }), keyboard: new VirtioKeyboard(), tablet: new VirtioTablet() } : undefined
  const server = config.share ? serve(config.share.fs) : undefined
  let port: MachineHsPort | undefined
  let kernelDone: (p: Promise<void>) => void = () => {}
  const kernel = new Promise<void>((resolve) => (kernelDone = (p) => void p.then(resolve, resolve)))
  const machine = new VirtMachine({
    harts: config.harts,
    memory: config.memory,
    bios: config.firmware === 'builtin' ? 'builtin' : 'firmware',
    clock: 'realtime',
    consoleOut: config.consoleOut,
    rng: false,
    drives: config.disk && config.diskBus !== 'nvme' ? [config.disk] : [],
    ...(config.disk && config.diskBus === 'nvme' ? { pci: [nvmeOn(config.disk)] } : {}),
    ...(config.net ? { net: config.net } : {}),
    ...(display ? { devices: [display.gpu, display.keyboard, display.tablet] } : {}),
    ...(server && config.share ? { share: { tag: config.share.tag, handler: (t: Uint8Array) => server.handle(t) } } : {}),
    onBreakpoint: (h) => port?.onBreakpoint(h),
    hypervisor: true, // as the Go honk's QEMU (-cpu rv64,h=true): the kernel's `vm` runs guests
  })
  // One worker kept booted, so `wasm` starts a module without waiting for a thread.
  const workers = nodeWasmWorkers({ prewarm: 1 })
  port = new MachineHsPort(machine, (p) => kernelDone(new Kernel(p, { factory: config.factory, anchor: config.anchor, http: nodeHttpService, wasm: workers, ...(config.hartThreads === false ? {} : { threads: nodeKernelThreads() }), ...(config.dhcpWaitMs !== undefined ? { dhcpWaitMs: config.dhcpWaitMs } : {}) }).boot()))
  boot(machine, {
    kernel: hsShim().bytes,
    ...(config.firmware === 'opensbi' ? { firmware: config.firmwareImage ?? new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}),
  })
  return {
    machine,
    kernel,
    ...(display ? { display } : {}),
    close: async () => {
      // The NIC stops listening on the wire: the wire (and the NAT on it) outlives a reboot.
      for (const v of machine.virtio) if (v.device instanceof VirtioNet) v.device.detach()
      await server?.close()
    },
  }
}
