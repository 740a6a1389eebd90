/**
 * A hart's snapshot and restore (issue #18: out of hart.ts). They reach the hart through
 * {@link SnapshotPort}, a narrow internal view `Hart` builds over its private state, so the
 * hart's public API does not grow and nothing here runs on a hot path.
 */
import { CSR } from '@honk/riscv'
import type { Fpu } from './fpu.js'
import type { Pmp } from './pmp.js'
import { HartError, type HartState, type Privilege } from './hart.js'

/** @internal What snapshot/restore read and write on a hart (built by `Hart`, never kept). */
export interface SnapshotPort {
  readonly x: BigInt64Array
  readonly fpu: Fpu
  readonly pmp: Pmp
  readonly hypervisor: boolean
  pc: number
  privilege: Privilege
  virt: boolean
  instret: bigint
  waiting: boolean
  mipSoft: bigint
  mipHw: bigint
  /** The LR reservation's address (NaN: none). */
  reservation: number
  /** A CSR read as M-mode code would (undefined: does not exist). */
  csrRead(n: number): bigint | undefined
  /** A CSR write by the host (not an instruction); false where it cannot be written. */
  csrWrite(n: number, v: bigint): boolean
  /** Zeroes what the counters are relative to (offsets, inhibit, the excepted count): restore writes them afresh after `instret`. */
  resetCounters(): void
  /** After a restore: recompute the derived modes, drop the wide reservation, decoded code and the TLBs. */
  restored(): void
}

/** CSRs a snapshot lists that restore does not write: read-only, derived, or restored on their own. */
const NOT_RESTORED = new Set(['mip', 'sip', 'time', 'cycle', 'instret', 'mcycle', 'minstret', 'mcountinhibit', 'misa', 'mhartid', 'mvendorid', 'marchid', 'mimpid', 'mconfigptr', 'fflags', 'frm', 'fcsr', 'pmpcfg0', 'pmpaddr0', 'hip', 'hgeip', 'vsip', 'tinfo'])

export function takeSnapshot(h: SnapshotPort): HartState {
  // Read as M-mode: some CSRs (satp under TVM, stimecmp without STCE) are not readable from S.
  const privilege = h.privilege
  const virt = h.virt
  h.privilege = 3
  h.virt = false
  const csrs: Record<string, bigint> = {}
  for (const [name, n] of Object.entries(CSR)) {
    const v = h.csrRead(n)
    if (v !== undefined) csrs[name] = v
  }
  h.privilege = privilege
  h.virt = virt
  return {
    x: Array.from(h.x, (v) => BigInt.asUintN(64, v)),
    f: h.fpu.getRaw(),
    fcsr: h.fpu.fcsr,
    pc: h.pc,
    privilege,
    csrs,
    instret: h.instret,
    pmpcfg: Array.from(h.pmp.cfg),
    pmpaddr: Array.from(h.pmp.addr),
    mipSoft: h.mipSoft,
    mipHw: h.mipHw,
    reservation: Number.isNaN(h.reservation) ? null : h.reservation,
    waiting: h.waiting,
    ...(virt ? { virt: true } : {}),
  }
}

export function restoreSnapshot(h: SnapshotPort, s: HartState): void {
  if (s.x.length !== 32) throw new HartError(`snapshot has ${s.x.length} registers, want 32`)
  if (s.f.length !== 32) throw new HartError(`snapshot has ${s.f.length} FP registers, want 32`)
  if (s.pmpcfg?.length !== 16 || s.pmpaddr?.length !== 64) throw new HartError(`snapshot has ${s.pmpcfg?.length ?? 0} pmpcfg and ${s.pmpaddr?.length ?? 0} pmpaddr registers, want 16 and 64`)
  if (s.virt === true && !h.hypervisor) throw new HartError('snapshot is in V mode but this hart has no hypervisor extension')
  h.privilege = 3
  h.virt = false
  for (const [name, v] of Object.entries(s.csrs)) {
    const n = (CSR as Record<string, number>)[name]
    if (n !== undefined && !NOT_RESTORED.has(name)) h.csrWrite(n, v)
  }
  // PMP as a whole, past the locks (a CSR write to a locked entry would be ignored).
  h.pmp.load(s.pmpcfg, s.pmpaddr)
  h.mipSoft = s.mipSoft
  h.mipHw = s.mipHw
  // After mstatus (which restored FS): fcsr directly, since a CSR write would make FS Dirty.
  h.fpu.setRaw(s.f)
  h.fpu.fcsr = s.fcsr
  s.x.forEach((v, i) => (h.x[i] = BigInt.asIntN(64, v)))
  h.x[0] = 0n
  h.pc = s.pc
  h.privilege = s.privilege
  h.virt = s.virt === true
  h.instret = s.instret
  // The counters after `instret` (their offsets are relative to it), then what holds them still.
  h.resetCounters()
  for (const [name, n] of [['mcycle', CSR.mcycle], ['minstret', CSR.minstret], ['mcountinhibit', CSR.mcountinhibit]] as const) {
    const v = s.csrs[name]
    if (v !== undefined) h.csrWrite(n, v)
  }
  h.reservation = s.reservation ?? NaN
  h.waiting = s.waiting
  h.restored()
}
