/**
 * What the VMM needs of a hart: the narrow interface a machine implements over its own hart (the
 * honk machine adapts `@honk/rv64`'s `Hart`; `@honk/vmm` never imports an emulator).
 */

/** The HS-level record of one trap taken from V = 1 into HS (privileged spec §8.6.4). */
export interface GuestTrap {
  /** scause (bit 63: an interrupt). */
  readonly scause: bigint
  readonly stval: bigint
  /** htval: the guest-physical address >> 2 of a guest-page fault, else 0. */
  readonly htval: bigint
  /** htinst: a transformed instruction, a pseudoinstruction or 0. */
  readonly htinst: bigint
  /** sepc: the guest pc of the trapping instruction. */
  readonly sepc: bigint
  /** hstatus.SPV: the trap came from V = 1 (always, for a trap the hart reports here). */
  readonly spv: boolean
  /** hstatus.SPVP: the guest was in VS (true) or VU (false). */
  readonly spvp: boolean
}

export type GuestRunResult =
  /** A trap into HS: the guest stopped at `trap.sepc`; the hart's pc and privilege are the VMM's to set. */
  | { readonly reason: 'trap'; readonly executed: number; readonly trap: GuestTrap }
  /** The instruction budget ran out with the guest still running. */
  | { readonly reason: 'budget'; readonly executed: number }
  /** The guest waits in WFI and nothing it enabled is pending. */
  | { readonly reason: 'wfi'; readonly executed: number }
  /** The hart failed (an emulator limit): the guest cannot go on. */
  | { readonly reason: 'error'; readonly executed: number; readonly message: string }

/**
 * A hart that can run a guest in V mode. Registers are raw 64-bit values (`getF` is the f
 * register's bits). CSR access is as HS-mode code would do it (the H and VS CSRs: hstatus, hedeleg,
 * hideleg, hvip, hie, hcounteren, htimedelta, henvcfg, hgatp, vsstatus…vsatp, vstimecmp).
 */
export interface GuestHart {
  readonly hartId: number
  getX(i: number): bigint
  setX(i: number, v: bigint): void
  getF(i: number): bigint
  setF(i: number, v: bigint): void
  /** The guest pc to resume at (`run` enters the guest here). */
  pc: number
  /** The guest privilege to resume in: 1 = VS, 0 = VU. */
  guestPrivilege: 0 | 1
  readCsr(n: number): bigint
  writeCsr(n: number, v: bigint): void
  /** The host timebase (mtime); a guest reads time = mtime + htimedelta. */
  time(): bigint
  /** Forget cached translations and decoded instructions (HFENCE.GVMA + FENCE.I). */
  flush(): void
  /** Runs the guest (V = 1 at `pc`, `guestPrivilege`) for at most `budget` instructions. */
  run(budget: number): GuestRunResult
}
