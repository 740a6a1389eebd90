/**
 * The machine's side of honk mode: the `HsPort` the TypeScript kernel runs on.
 *
 * A small RISC-V shim is the "kernel image" the firmware boots: its entry does what honk's
 * `cpuinit` did (stvec, tp, interrupts off), then stops at a breakpoint where the machine hands
 * the hart to the kernel. Harts idle in a `wfi` loop; the trap vector stops at a breakpoint where
 * the kernel's trap handler runs, and the hart resumes with `sret`. SBI calls are real `ecall`s
 * executed on the hart, so under OpenSBI the firmware's own code answers them.
 */
import { CAUSE_INTERRUPT, CSR, SSTATUS, VIRT_MAP } from '@honk/riscv'
import { assemble, type AccessSize, type Hart } from '@honk/rv64'
import { busMemory } from '@honk/virtio'
import type { VirtMachine } from './board.js'
import { HartPortError, MachineStopping, type HostMemoryStats, type HsHypervisor, type HsPort, type SbiRet, type SupervisorTrap } from '@honk/kernel'
import { RvGuestHart } from './guest-hart.js'

/** Where the firmware jumps: the S-mode payload address of QEMU virt's fw_jump (RAM + 2 MiB). */
export const SHIM_BASE = VIRT_MAP.ram.base + 0x20_0000

const SHIM_SOURCE = `
entry:
  la t0, trapvec
  csrw stvec, t0
  csrw sie, zero
  mv tp, a0
handoff:
  j handoff
idle:
  wfi
  j idle
  .balign 4
trapvec:
  nop
trapstop:
  j trapstop
trapret:
  sret
sbicall:
  ecall
sbidone:
  j sbidone
fault:
  ebreak
  j fault
`

const SSTATUS_SIE = SSTATUS.SIE
/** An SBI call runs at most this many instructions of firmware (OpenSBI's console write of a long line is ~10⁵). */
const SBI_BUDGET = 50_000_000

const PRIV_NAME: Record<number, string> = { 0: 'U', 1: 'S', 3: 'M' }

/** The shim's machine code and its labels. */
export function hsShim(): { bytes: Uint8Array; at: (label: string) => number } {
  const { bytes, symbols } = assemble(SHIM_SOURCE, { base: SHIM_BASE })
  return {
    bytes,
    at: (label) => {
      const a = symbols.get(label)
      if (a === undefined) throw new HartPortError(`shim has no label ${label}`)
      return a
    },
  }
}

type Handlers = Parameters<HsPort['attach']>[0]

/** Each hart's HS trap vector while it runs a guest (one word each, in the free page after the shim). */
const GUEST_TRAMPOLINE = SHIM_BASE + 0x1000

export class MachineHsPort implements HsPort {
  readonly memory
  /** Present when the harts have the hypervisor extension (MachineConfig.hypervisor). */
  readonly hypervisor: HsHypervisor | undefined
  private readonly guestHarts = new Map<number, RvGuestHart>()
  readonly secondaryEntry: number
  private readonly addr: { handoff: number; idle: number; trapstop: number; trapret: number; sbicall: number; sbidone: number; fault: number }
  private handlers: Handlers | undefined
  private boot: { hart: number; dtb: number } | undefined

  /**
   * Hooks the shim's breakpoints into `machine` (whose config must route `onBreakpoint` here)
   * and calls `onBoot(port)` when the boot hart reaches the kernel's entry.
   */
  constructor(
    private readonly machine: VirtMachine,
    private readonly onBoot: (port: MachineHsPort) => void,
  ) {
    const shim = hsShim()
    this.memory = busMemory(machine.bus)
    this.secondaryEntry = shim.at('entry')
    this.addr = { handoff: shim.at('handoff'), idle: shim.at('idle'), trapstop: shim.at('trapstop'), trapret: shim.at('trapret'), sbicall: shim.at('sbicall'), sbidone: shim.at('sbidone'), fault: shim.at('fault') }
    for (const h of machine.harts) for (const bp of [this.addr.handoff, this.addr.trapstop, this.addr.sbidone]) h.addBreakpoint(bp)
    this.hypervisor = machine.harts.every((h) => h.hypervisor) ? { ram: (base, size) => this.guestRam(base, size), lendHart: (hart, f) => this.lendHart(hart, f) } : undefined
  }

  private guestRam(base: number, size: number): Uint8Array {
    const bus = this.machine.bus
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || size < 0 || base < bus.ramBase || base + size > bus.ramEnd) throw new HartPortError(`guest RAM [0x${base.toString(16)}, +0x${size.toString(16)}) is not inside RAM`)
    return bus.ram.subarray(base - bus.ramBase, base - bus.ramBase + size)
  }

  /** Lends a hart to the VMM: its S-level state (pc, privilege, trap CSRs) is saved and put back, whatever the guest did. */
  private lendHart<T>(hart: number, f: (guest: RvGuestHart) => T): T {
    const h = this.hart(hart)
    let g = this.guestHarts.get(hart)
    if (!g) this.guestHarts.set(hart, (g = new RvGuestHart(h, this.machine.bus, GUEST_TRAMPOLINE + 4 * hart)))
    const csrs = [CSR.sstatus, CSR.stvec, CSR.sepc, CSR.scause, CSR.stval, CSR.sscratch]
    const saved = { pc: h.pc, privilege: h.privilege, waiting: h.waiting, csrs: csrs.map((n) => h.getCsr(n)) }
    try {
      return f(g)
    } finally {
      h.setVirt(false, saved.privilege)
      h.pc = saved.pc
      h.waiting = saved.waiting
      csrs.forEach((n, i) => h.setCsr(n, saved.csrs[i]!))
    }
  }

  get bootHart(): number {
    if (!this.boot) throw new HartPortError('no hart has reached the kernel entry yet')
    return this.boot.hart
  }
  get dtbAddress(): number {
    if (!this.boot) throw new HartPortError('no hart has reached the kernel entry yet')
    return this.boot.dtb
  }

  /** The machine calls this when a hart stops at a breakpoint. */
  onBreakpoint(h: Hart): void {
    if (h.pc === this.addr.handoff) {
      const a1 = h.getX(11)
      h.pc = this.addr.idle // parked until the kernel enables its interrupts
      if (!this.boot) {
        this.boot = { hart: h.hartId, dtb: Number(BigInt.asUintN(64, a1)) }
        this.onBoot(this)
      } else this.handlers?.hartArrived(h.hartId, a1)
    } else if (h.pc === this.addr.trapstop) {
      const scause = h.getCsr(CSR.scause)
      const trap: SupervisorTrap = {
        hart: h.hartId,
        interrupt: (scause & CAUSE_INTERRUPT) !== 0n,
        code: Number(scause & 0xffffn),
        sepc: h.getCsr(CSR.sepc),
        stval: h.getCsr(CSR.stval),
      }
      h.pc = this.addr.trapret
      if (!this.handlers) throw new HartPortError(`hart ${h.hartId} trapped (scause 0x${scause.toString(16)}) before the kernel attached`)
      this.handlers.trap(trap)
    } else throw new HartPortError(`hart ${h.hartId} stopped at 0x${h.pc.toString(16)}, outside the shim`)
  }

  attach(handlers: Handlers): void {
    this.handlers = handlers
  }

  mmioRead(addr: number, size: AccessSize): bigint | undefined {
    return this.machine.bus.read(addr, size)
  }
  mmioWrite(addr: number, size: AccessSize, value: bigint): boolean {
    return this.machine.bus.write(addr, size, value)
  }
  /** As a `csrr` in S-mode on that hart: a CSR S-mode may not read (an M-level one, or one hidden from it) is refused, never read behind the guest's back. */
  csrRead(hart: number, csr: number): bigint {
    const h = this.hart(hart)
    const v = h.privilege === 1 ? h.readCsrAsCode(csr) : undefined
    if (v === undefined) throw new HartPortError(`hart ${hart}: csrr 0x${csr.toString(16)} would trap at ${PRIV_NAME[h.privilege]} level (the port does only what S-mode code may)`)
    return v
  }
  /** As a `csrw` in S-mode on that hart (WARL fields as the hardware keeps them); refused where that would trap. */
  csrWrite(hart: number, csr: number, value: bigint): void {
    const h = this.hart(hart)
    if (h.privilege !== 1 || !h.writeCsrAsCode(csr, value)) throw new HartPortError(`hart ${hart}: csrw 0x${csr.toString(16)} would trap at ${PRIV_NAME[h.privilege]} level (the port does only what S-mode code may)`)
  }

  sbi(hart: number, eid: number, fid: number, args: readonly bigint[] = []): SbiRet {
    if (this.machine.stopping) throw new MachineStopping()
    const h = this.hart(hart)
    const saved = { pc: h.pc, waiting: h.waiting, sstatus: h.getCsr(CSR.sstatus), x: Array.from({ length: 8 }, (_, i) => h.getX(10 + i)) }
    // Interrupts off while the call runs: a trap would stop at the trap vector, not after the ecall.
    h.setCsr(CSR.sstatus, saved.sstatus & ~SSTATUS_SIE)
    for (let i = 0; i < 6; i++) h.setX(10 + i, args[i] ?? 0n)
    h.setX(16, BigInt(fid))
    h.setX(17, BigInt(eid))
    h.pc = this.addr.sbicall
    h.waiting = false
    let executed = 0
    try {
      for (;;) {
        const r = h.run(100_000)
        executed += r.executed
        if (r.reason === 'breakpoint' && h.pc === this.addr.sbidone) break
        if (this.machine.stopping) throw new MachineStopping()
        if (r.reason === 'error') throw new HartPortError(`SBI call 0x${eid.toString(16)}/${fid} on hart ${hart}: ${r.message ?? 'hart error'}`)
        if (r.reason === 'wfi' || executed > SBI_BUDGET) throw new HartPortError(`SBI call 0x${eid.toString(16)}/${fid} on hart ${hart} did not return (${executed} instructions, pc 0x${h.pc.toString(16)})`)
      }
      return { error: BigInt.asIntN(64, h.getX(10)), value: h.getX(11) }
    } finally {
      this.machine.executed += executed
      if (!this.machine.stopping) {
        h.pc = saved.pc
        h.waiting = saved.waiting
        h.setCsr(CSR.sstatus, (h.getCsr(CSR.sstatus) & ~SSTATUS_SIE) | (saved.sstatus & SSTATUS_SIE))
        saved.x.forEach((v, i) => h.setX(10 + i, v))
      }
    }
  }

  raiseBreakpoint(hart: number): void {
    const h = this.hart(hart)
    h.pc = this.addr.fault
    h.waiting = false
  }

  /** The kernel runs in this Node process, so its heap is the process's. */
  memoryStats(): HostMemoryStats {
    const m = process.memoryUsage()
    return { heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal }
  }

  private hart(id: number): Hart {
    const h = this.machine.harts[id]
    if (!h) throw new HartPortError(`no hart ${id}`)
    return h
  }
}
