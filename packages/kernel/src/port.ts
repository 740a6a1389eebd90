/**
 * What honk's kernel can touch as code at the HS level (DESIGN §3, honk mode): the harts' own
 * supervisor CSRs, physical MMIO and RAM (the MMU is off: satp = 0), SBI calls into the
 * firmware, and the traps the harts take. The kernel is TypeScript running on the host; the
 * port is the only way it reaches the machine. What the port promises, precisely:
 * - CSR reads and writes behave as `csrr`/`csrw` executed in S-mode on that hart: a CSR S-mode
 *   may not touch (M-level, read-only for a write, hidden by mcounteren) is refused with an
 *   error, never read or written behind the guest's back (the example's port checks this).
 * - SBI calls are real `ecall`s on the hart, answered by the firmware's own code.
 * - MMIO and DMA are physical accesses on the bus (satp = 0). They are NOT checked against the
 *   harts' PMP: a kernel that touched the firmware's memory would not fault as real S-mode code
 *   would (honk's kernel only uses RAM above the firmware and the devices the device tree lists).
 *
 * The virt-machine example's implementation (`examples/virt-machine/src/hs-port.ts`) runs a
 * tiny RISC-V shim on the harts: the firmware jumps to its entry, it idles in `wfi`, and its
 * trap vector hands each trap to the kernel's handler.
 */
import { HonkError } from '@honk/errors'
import type { AccessSize } from '@honk/riscv'
import type { GuestMemory } from '@honk/virtio'
import type { GuestHart } from '@honk/vmm'

export type { AccessSize }

/** The host's memory figures the `mem` command reports (bytes). */
export interface HostMemoryStats {
  readonly heapUsedBytes: number
  readonly heapTotalBytes: number
}

/** A trap a hart took in S-mode: `scause` split into its interrupt bit and code (priv spec §4.1.9). */
export interface SupervisorTrap {
  readonly hart: number
  readonly interrupt: boolean
  readonly code: number
  readonly sepc: bigint
  readonly stval: bigint
}

/** The two words every SBI call returns (SBI 2.0 §3: a0 = error, a1 = value). */
export interface SbiRet {
  readonly error: bigint
  readonly value: bigint
}

/**
 * The hypervisor extension, when the harts have it (DESIGN §3: guests are honk's third tier): what
 * `@honk/vmm` needs to run a guest on one of the kernel's harts.
 */
export interface HsHypervisor {
  /** Bytes of physical RAM `[base, base + size)`, for a guest's RAM and G-stage tables (RAM the kernel uses for nothing else). */
  ram(base: number, size: number): Uint8Array
  /**
   * Lends `hart` (stopped between its slices) to the VMM for the call: `f` runs guests on it in
   * V mode; afterwards the hart is back in the kernel's hands as it was (pc, privilege, S CSRs).
   */
  lendHart<T>(hart: number, f: (guest: GuestHart) => T): T
}

export interface HsPort {
  /** The hart the firmware handed over, and the device tree's physical address (a0, a1 at entry). */
  readonly bootHart: number
  readonly dtbAddress: number
  /** Physical memory for DMA (bounds-checked; RAM only). */
  readonly memory: GuestMemory
  /** Physical MMIO read/write (`undefined` from a read = nothing answered: an access fault). */
  mmioRead(addr: number, size: AccessSize): bigint | undefined
  mmioWrite(addr: number, size: AccessSize, value: bigint): boolean
  /** Reads or writes an S-level CSR of `hart` (only stopped harts: the boot hart between slices, or a hart in a trap). */
  csrRead(hart: number, csr: number): bigint
  csrWrite(hart: number, csr: number, value: bigint): void
  /**
   * An SBI call made from `hart` (an `ecall` from S-mode, run to completion on the firmware).
   * Throws `MachineStopping` when the call powers the machine off or resets it.
   */
  sbi(hart: number, eid: number, fid: number, args?: readonly bigint[]): SbiRet
  /** The physical address a started secondary hart must begin at (SBI HSM `hart_start`). */
  readonly secondaryEntry: number
  /**
   * Installs the handler for every trap any hart takes, and for each hart's arrival at the
   * entry (a secondary started through HSM). Called synchronously between hart slices.
   */
  attach(handlers: { trap(t: SupervisorTrap): void; hartArrived(hart: number, opaque: bigint): void }): void
  /** Executes `ebreak` on `hart` in S-mode (the `fault` command): a real breakpoint exception. */
  raiseBreakpoint(hart: number): void
  /** The memory the kernel itself uses on its host (the `mem` command's heap lines). */
  memoryStats(): HostMemoryStats
  /** Guest execution on the harts (absent: the harts have no hypervisor extension). */
  readonly hypervisor?: HsHypervisor | undefined
}

/** Thrown from an SBI call that ended the machine (SRST shutdown or reboot). */
export class MachineStopping extends HonkError<'MACHINE_STOPPING'> {
  constructor() {
    super('MACHINE_STOPPING', 'the machine is powering off or resetting')
  }
}

/** The hart did not come back from an SBI call or a trap within its instruction budget. */
export class HartPortError extends HonkError<'HART_PORT'> {
  constructor(message: string) {
    super('HART_PORT', message)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    MachineStopping: MachineStopping
    HartPortError: HartPortError
  }
}
