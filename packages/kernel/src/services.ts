/**
 * The contracts between honk's kernel parts: what the shell is handed by the kernel
 * (`ShellHost`), what the storage layer hands the kernel (`MountedRoot`, `Storage`), and the
 * services a process can be granted through a capability (`ProcServices`).
 *
 * The kernel (kernel.ts) builds these from real devices: the UART, the virtio-blk driver, the
 * virtio-9p driver and the verified core. Tests build them from memory devices.
 */
import type { BlockDevice } from '@honk/block'
import type { HartThreads, ProcessTable, WasmWorkerFactory } from '@honk/proc'
import type { FS } from '@honk/vfs'
import type { GuestHart, HostRegion } from '@honk/vmm'
import type { Stack } from '@honk/net'
import type { Network } from './network.js'
import type { Display } from './display.js'

/** The services behind capabilities (`ctx.use('console')` …). `proc` (may spawn and kill) has no object. */
export interface ProcServices {
  console: { write(text: string): void }
  fs: FS
  /** Absent when the machine has no disk. */
  block?: BlockDevice
}

/** One layer of the root filesystem, top first, as `mount` lists it. */
export interface MountLayer {
  readonly name: 'kv' | 'host' | 'core'
  readonly mode: 'writable' | 'read-only'
  /** "(shadows the layers below)", `9p tag "host"`, "embedded factory v1". */
  readonly detail: string
}

/** The root filesystem: writable KV over the host share over the verified core. */
export interface MountedRoot {
  /** The overlay every path resolves through. */
  readonly root: FS
  /** The writable layer alone (undefined when there is no block device: a read-only core). */
  readonly writable: FS | undefined
  readonly layers: readonly MountLayer[]
  /** Where the core came from: "slot A v2", "embedded factory v1". */
  readonly bootCore: string
  /** Clears every file of the writable layer, durably. Throws when there is no writable layer. */
  reset(): Promise<void>
  /** Flushes and closes the writable layer (power-off). */
  close(): Promise<void>
}

/** The block device the kernel found, for `blk`. */
export interface Storage {
  /** The whole device, as the driver gives it. */
  readonly device: BlockDevice
  /** "virtio-blk". */
  readonly kind: string
  /**
   * A block reserved for the `blk` self-test (outside the image slots and the KV region), so
   * the test never touches live data (the Go honk wrote the last block of the KV log).
   */
  readonly scratchBlock: number
}

/** What the kernel gives the `vm` command: guest RAM it set aside, the harts guests run on, time, the guests' network. */
export interface KernelHypervisor {
  /** Host memory for a guest's RAM and tables. */
  readonly region: HostRegion
  /** The harts that may run guests now (every online hart: each lends itself to the vCPUs placed on it). */
  harts(): readonly number[]
  /** Lends `hart` to a VMM for one slice (`f` runs guests on it; the hart is the kernel's again afterwards). */
  lendHart<T>(hart: number, f: (guest: GuestHart) => T): T
  /** mtime (10 MHz ticks). */
  now(): bigint
  /** Lets the machine run for up to `ticks` (0: just yield); returns early once `wake` aborts (a guest's device raised an interrupt). */
  sleep(ticks: bigint, wake?: AbortSignal): Promise<void>
  /** honk's own network stack (its interface to the outside), the uplink guests' traffic is NATed through; undefined while there is none. */
  uplink(): Stack | undefined
  /** Serves honk's HTTP routes on TCP :80 of `stack` (a guest link's router); absent: honk has no HTTP server. */
  serveHttp?: ((stack: Stack) => Promise<{ close(): Promise<void> }>) | undefined
}

/** The harts' own threads for the kernel's CPU work (`stress`): the Go honk's goroutines over every hart. */
export interface KernelThreads {
  /** The threads of the harts other than the kernel's own (whose work runs on the kernel's event loop). */
  readonly pool: HartThreads
  /** The online harts, sorted: where CPU work may go. */
  harts(): readonly number[]
}

/** What the shell is given by the kernel. */
export interface ShellHost {
  /** Console output (the UART). "\n" is sent as "\r\n" by the console driver. */
  out(text: string): void
  readonly procs: ProcessTable<ProcServices>
  /** Harts online (started through SBI HSM), and the hart the kernel's tasks run on. */
  harts(): { online: number; current: number }
  /** Nanoseconds since boot, from the `time` CSR (10 MHz). */
  uptimeNs(): bigint
  /** Guest RAM and the kernel's own (host) heap. */
  memory(): { ramBytes: number; dmaBytesUsed: number; heapUsedBytes: number; heapTotalBytes: number }
  readonly storage: Storage | undefined
  readonly root: MountedRoot
  /** Hart threads for CPU work (absent: every kernel task runs on the kernel's event loop). */
  readonly threads?: KernelThreads | undefined
  /** The WebAssembly runtime: where module workers come from (absent: no runtime on this host). */
  readonly wasm?: { readonly workers: WasmWorkerFactory } | undefined
  /** The network once up (absent: no network device, or its bring-up failed). */
  readonly network?: Network | undefined
  /** The screen and its input devices (absent or without a surface: no display device). */
  readonly display?: Display | undefined
  /**
   * Guests under the hypervisor extension (absent: the harts have none): RAM set aside for them,
   * the kernel's timebase, and a hart lent a slice at a time (the `vm` command).
   */
  readonly hypervisor?: KernelHypervisor | undefined
  /** SBI SRST shutdown: prints nothing itself; the machine powers off. */
  powerOff(): Promise<void>
  /** SBI SRST cold reboot: the writable layer is closed first; the machine restarts on the same disk. */
  reboot(): Promise<void>
  /** Executes EBREAK on the boot hart in S-mode; the kernel's trap handler reports it (FATAL) and powers off. */
  raiseFault(): void
}
