/**
 * `@honk/vmm`'s `GuestHart` over an `@honk/rv64` `Hart` with the hypervisor extension: the machine's
 * side of running a guest. The hart enters the guest with `setVirt(true, …)`; a trap into HS
 * lands on a one-word trampoline (`ecall`) whose `onEcall` makes `run()` yield, so the block tier
 * stays on while the guest runs (breakpoints would turn it off).
 */
import { CSR, MSTATUS, type Bus, type Hart } from '@honk/rv64'
import { HANDOFF_MEDELEG } from '@honk/sbi'
import type { GuestHart, GuestRunResult } from '@honk/vmm'

const ECALL = 0x0000_0073
const HSTATUS_SPV = 1n << 7n
const HSTATUS_SPVP = 1n << 8n
/**
 * medeleg: the causes only a guest raises go to HS (the VMM): ecall from VS (10), the guest-page
 * faults and virtual instruction (20–23), as OpenSBI delegates them on a hart with H. The rest is
 * the firmware's choice; ecall from S (9) above all must stay with the firmware (the kernel's SBI).
 */
const MEDELEG_TO_HS = [10, 20, 21, 22, 23].reduce((m, c) => m | (1n << BigInt(c)), 0n)
/** mideleg: the supervisor interrupts (the VS ones are delegated by the H-extension itself). */
const MIDELEG_S = (1n << 1n) | (1n << 5n) | (1n << 9n)
const MENVCFG_STCE = 1n << 63n

/**
 * For a hart with no firmware (tests, benchmarks): what M-mode firmware does before it hands HS
 * to a hypervisor — the usual S-mode delegation (`@honk/sbi`'s hand-off set), the supervisor
 * interrupts, every counter, Sstc, FP on — and puts the hart in HS.
 */
export function handOffToHypervisor(hart: Hart): void {
  hart.setCsr(CSR.medeleg, HANDOFF_MEDELEG | MEDELEG_TO_HS)
  hart.setCsr(CSR.mideleg, MIDELEG_S)
  hart.setCsr(CSR.mcounteren, 0xffff_ffffn)
  hart.setCsr(CSR.menvcfg, hart.getCsr(CSR.menvcfg) | MENVCFG_STCE)
  hart.setCsr(CSR.mstatus, hart.getCsr(CSR.mstatus) | MSTATUS.FS)
  hart.privilege = 1
}

export class RvGuestHart implements GuestHart {
  pc = 0
  guestPrivilege: 0 | 1 = 1
  private trapped = false

  /**
   * `trampoline`: host-physical address of 4 bytes of RAM that are this hart's HS trap vector
   * while a guest runs (the machine keeps it out of every guest's RAM).
   */
  constructor(
    readonly hart: Hart,
    bus: Bus,
    private readonly trampoline: number,
  ) {
    if (!hart.hypervisor) throw new Error(`hart ${hart.hartId} has no hypervisor extension (HartOptions.hypervisor)`)
    const w = new Uint8Array(4)
    new DataView(w.buffer).setUint32(0, ECALL, true)
    bus.writeBytes(trampoline, w)
    // What M-mode firmware does on a hart with H (OpenSBI does it too; @honk/sbi's hand-off does not yet).
    hart.setCsr(CSR.medeleg, hart.getCsr(CSR.medeleg) | MEDELEG_TO_HS)
  }

  get hartId(): number {
    return this.hart.hartId
  }

  getX(i: number): bigint {
    return this.hart.getX(i)
  }

  setX(i: number, v: bigint): void {
    this.hart.setX(i, v)
  }

  getF(i: number): bigint {
    return BigInt.asUintN(64, this.hart.fpu.f[i]!)
  }

  setF(i: number, v: bigint): void {
    this.hart.fpu.f[i] = BigInt.asIntN(64, v)
  }

  readCsr(n: number): bigint {
    return this.hart.getCsr(n)
  }

  writeCsr(n: number, v: bigint): void {
    this.hart.setCsr(n, v)
  }

  time(): bigint {
    return this.hart.getCsr(CSR.time)
  }

  flush(): void {
    this.hart.flushTranslations()
    this.hart.flushDecodedInstructions()
  }

  run(budget: number): GuestRunResult {
    const hart = this.hart
    hart.setCsr(CSR.stvec, BigInt(this.trampoline))
    hart.setCsr(CSR.sstatus, hart.getCsr(CSR.sstatus) & ~MSTATUS.SIE)
    hart.pc = this.pc
    // The host's own WFI state is not the guest's; a guest that was waiting resumes after its WFI
    // (a spurious wake-up, which WFI allows) and waits again if nothing is pending.
    hart.waiting = false
    hart.setVirt(true, this.guestPrivilege)
    const previous = hart.onEcall
    this.trapped = false
    hart.onEcall = (h) => {
      if (h.pc !== this.trampoline) return previous ? previous(h) : false
      this.trapped = true
      h.requestYield()
      return true
    }
    let r
    try {
      r = hart.run(budget)
    } finally {
      hart.onEcall = previous
    }
    if (!hart.virtualized) {
      // A trap into HS (the trampoline ran, or the budget ended right on it).
      const hstatus = hart.getCsr(CSR.hstatus)
      const trap = {
        scause: hart.getCsr(CSR.scause),
        stval: hart.getCsr(CSR.stval),
        htval: hart.getCsr(CSR.htval),
        htinst: hart.getCsr(CSR.htinst),
        sepc: hart.getCsr(CSR.sepc),
        spv: (hstatus & HSTATUS_SPV) !== 0n,
        spvp: (hstatus & HSTATUS_SPVP) !== 0n,
      }
      this.pc = Number(BigInt.asIntN(64, trap.sepc))
      this.guestPrivilege = trap.spvp ? 1 : 0
      return { reason: 'trap', executed: r.executed, trap }
    }
    this.pc = hart.pc
    this.guestPrivilege = hart.privilege === 0 ? 0 : 1
    if (r.reason === 'wfi') {
      return { reason: 'wfi', executed: r.executed }
    }
    if (r.reason === 'error') return { reason: 'error', executed: r.executed, message: r.message ?? 'hart error' }
    return { reason: 'budget', executed: r.executed }
  }
}
