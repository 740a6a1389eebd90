/**
 * Running a whole VM to its end on harts the caller lends (one per vCPU), in slices: the Go honk's
 * `runGuest` loop, with the outcomes it reports (inventory §1.9.13, §2.3 `vm`).
 */
import { DEMO_MMIO_BASE, MEGAPAGE_SIZE, VS_L1_OFF, VS_ROOT_OFF } from './constants.js'
import { DemoDevice } from './demo-device.js'
import { VmError } from './errors.js'
import type { GuestHart } from './guest-hart.js'
import { writeVSStage } from './tables.js'
import { VM, type GuestConsole, type HaltReason, type HostRegion } from './vm.js'

export interface RunVmOptions {
  /** Instructions per vCPU per slice (default 100 000). */
  slice?: number
  /** Stop with `did-not-halt` after this many guest instructions in all (default 2^31). */
  maxInstructions?: number
  /** Stop with `preempted` once this much host time (timebase ticks) has passed (default 50 000 000: 5 s at 10 MHz). */
  timeBudget?: bigint
  /**
   * Every vCPU waits: let time pass until `until` (the earliest timer deadline, if any) or an
   * interrupt. Return false when nothing can wake the guest (it then ends with `did-not-halt`).
   */
  idle: (until: bigint | undefined) => boolean
}

/** How a VM run ended. */
export type VmOutcome =
  | { readonly reason: Exclude<HaltReason, 'fault'>; readonly executed: number }
  | { readonly reason: 'fault'; readonly executed: number; readonly error: VmError }
  | { readonly reason: 'preempted' | 'did-not-halt'; readonly executed: number }
  /** The host ended it (`signal` aborted): `vm stop`, `kill`. */
  | { readonly reason: 'stopped'; readonly executed: number }

/** The Go honk's words for an outcome (what `vm` prints after `vm: `). */
export function outcomeMessage(o: VmOutcome): string {
  switch (o.reason) {
    case 'shutdown':
      return 'guest halted (SBI shutdown)'
    case 'cold-reboot':
    case 'warm-reboot':
      return `guest halted (SBI ${o.reason})`
    case 'fault':
      return 'guest fault (see console)'
    case 'preempted':
      return 'guest preempted (time budget exceeded)'
    case 'did-not-halt':
      return 'guest did not halt'
    case 'stopped':
      return 'guest stopped by the host'
  }
}

/** Runs every vCPU of `vm` on `harts[i]` until the VM halts, faults, overruns its time budget or its instruction cap. */
export function runVm(vm: VM, harts: readonly GuestHart[], options: RunVmOptions): VmOutcome {
  if (harts.length < vm.vcpus.length) throw new VmError('VM_CONFIG', `${vm.vcpus.length} vCPUs need ${vm.vcpus.length} harts, got ${harts.length}`)
  vm.vcpus.forEach((v, i) => {
    if (v.attached === undefined) v.attach(harts[i]!)
  })
  const slice = options.slice ?? 100_000
  const max = options.maxInstructions ?? 2 ** 31
  const budget = options.timeBudget ?? 50_000_000n
  const start = harts[0]!.time()
  let executed = 0
  try {
    while (true) {
      let busy = false
      let until: bigint | undefined
      for (const v of vm.vcpus) {
        const e = v.run(slice)
        executed += e.executed
        if (e.kind === 'halted') return e.reason === 'fault' ? { reason: 'fault', executed, error: e.error! } : { reason: e.reason, executed }
        if (e.kind === 'budget') busy = true
        if (e.kind === 'idle' && e.until !== undefined && (until === undefined || e.until < until)) until = e.until
      }
      if (!busy && vm.vcpus.some((v) => v.pendingWork(harts[0]!.time()))) busy = true
      if (harts[0]!.time() - start > budget) return { reason: 'preempted', executed }
      if (executed >= max) return { reason: 'did-not-halt', executed }
      if (!busy && !options.idle(until)) return { reason: 'did-not-halt', executed }
    }
  } finally {
    for (const v of vm.vcpus) v.detach()
  }
}

export interface RunVmAsyncOptions {
  /** Instructions per vCPU per slice (default 100 000). */
  slice?: number
  maxInstructions?: number
  /** Host timebase ticks before `preempted` (default 50 000 000: 5 s at 10 MHz). */
  timeBudget?: bigint
  /**
   * Lends a hart to vCPU `vcpu` for one slice: calls `f` with a hart that runs guests, then gives
   * the hart back to its host (which saves and restores its own state around the call).
   */
  lend: <T>(vcpu: number, f: (hart: GuestHart) => T) => T
  /** The host timebase now (mtime ticks). */
  now(): bigint
  /**
   * Lets the host run for `ticks` of its timebase at most (every vCPU waits); 0 just yields.
   * `wake` aborts when the wait should end early: a device raised an interrupt line, or the run's
   * `signal` was aborted. A sleep that ignores it is correct but slow (the guest then waits for its
   * next timer deadline to see a device's completion).
   */
  sleep(ticks: bigint, wake?: AbortSignal): Promise<void>
  /** Aborting it ends the run between two slices with `stopped` (no vCPU holds a hart then). */
  signal?: AbortSignal
}

/**
 * Runs `vm` a slice at a time on harts its host lends, giving the host the harts back between
 * slices (the kernel's own work, its other tasks and interrupts go on): how honk's shell runs a
 * guest without stopping the machine. vCPUs outnumbering harts simply take turns.
 */
export async function runVmAsync(vm: VM, options: RunVmAsyncOptions): Promise<VmOutcome> {
  const slice = options.slice ?? 100_000
  const max = options.maxInstructions ?? 2 ** 31
  const budget = options.timeBudget ?? 50_000_000n
  const start = options.now()
  let executed = 0
  while (true) {
    if (options.signal?.aborted) return { reason: 'stopped', executed }
    let busy = false
    let until: bigint | undefined
    for (const v of vm.vcpus) {
      if (v.state === 'stopped') continue
      const e = options.lend(v.id, (hart) => {
        v.attach(hart)
        try {
          return v.run(slice)
        } finally {
          v.detach()
        }
      })
      executed += e.executed
      if (e.kind === 'halted') return e.reason === 'fault' ? { reason: 'fault', executed, error: e.error! } : { reason: e.reason, executed }
      if (e.kind === 'budget') busy = true
      if (e.kind === 'idle' && e.until !== undefined && (until === undefined || e.until < until)) until = e.until
    }
    const now = options.now()
    // An IPI or interrupt raised for a vCPU that went idle earlier in this round: run again at once.
    if (!busy && vm.vcpus.some((v) => v.pendingWork(now))) busy = true
    if (now - start > budget) return { reason: 'preempted', executed }
    if (executed >= max) return { reason: 'did-not-halt', executed }
    if (busy) await options.sleep(0n)
    else if (until === undefined && !vm.externalPending) return { reason: 'did-not-halt', executed }
    else await sleepUntilWoken(vm, options, until === undefined ? 10_000n : until > now ? until - now : 0n)
  }
}

/** `options.sleep(ticks)`, ended early by a device's interrupt or the run's own signal. */
async function sleepUntilWoken(vm: VM, options: RunVmAsyncOptions, ticks: bigint): Promise<void> {
  const interrupted = new AbortController()
  const stopListening = vm.onInterrupt(() => interrupted.abort())
  try {
    await options.sleep(ticks, options.signal ? AbortSignal.any([interrupted.signal, options.signal]) : interrupted.signal)
  } finally {
    stopListening()
  }
}

/** What the Go honk's `RunGuest`/`RunPagingGuest` build: a one-vCPU VM with the payload at RAM's start and the demo device. */
export interface DemoVm {
  readonly vm: VM
  readonly device: DemoDevice
}

/**
 * A VM for a demo payload: 2 MiB of RAM (4 MiB and an identity VS table at +0x4000/+0x5000 when
 * `paging`), the payload at 0x8000_0000 where the vCPU starts, the demo device at 0x1000_0000 on
 * interrupt line 1. A payload larger than RAM: `VM_TOO_LARGE`, "guest too large (N bytes > M)".
 */
export function demoVm(payload: Uint8Array, host: HostRegion, console: GuestConsole, paging = false): DemoVm {
  const ramSize = paging ? 2 * MEGAPAGE_SIZE : MEGAPAGE_SIZE
  if (payload.length > ramSize) throw new VmError('VM_TOO_LARGE', `guest too large (${payload.length} bytes > ${ramSize})`)
  const vm = new VM({ host, ramSize, console })
  vm.load(vm.guestBase, payload)
  if (paging) {
    const root = vm.ram.bytes.subarray(VS_ROOT_OFF, VS_ROOT_OFF + 4096)
    const l1 = vm.ram.bytes.subarray(VS_L1_OFF, VS_L1_OFF + 4096)
    writeVSStage(root, l1, vm.guestBase + VS_L1_OFF, vm.guestBase, ramSize)
  }
  const device = new DemoDevice(vm.ram, vm.irqLine(1), (b) => vm.putchar(b))
  vm.map(DEMO_MMIO_BASE, device, () => device.tick())
  return { vm, device }
}
