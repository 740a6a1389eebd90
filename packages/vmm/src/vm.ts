/**
 * `VM` (guest RAM in host memory, the G stage, devices, vCPUs) and `VCpu` (runs a guest on a hart
 * until an exit, with an instruction budget: preemptible). Exits: SBI calls, served by `@honk/sbi`'s
 * `Firmware` over a guest platform; guest-page faults on device addresses, emulated (MMIO
 * trap-and-emulate); everything else the guest did wrong is reflected into the guest or ends it.
 */
import { CSR, type MmioDevice, RESET_TYPE } from '@honk/riscv'
import { Firmware, type Access, type FenceRange, type SbiOutcome, type SbiPlatform, type SuspendRequest } from '@honk/sbi'
import type { IrqLine } from '@honk/virtio'
import { GUEST_BASE, MEGAPAGE_SIZE, PAGE_SIZE, ROOT_SIZE, TRAP } from './constants.js'
import { decodeMmio, decodeTransformed, signExtend, type MmioAccess } from './decode.js'
import { VmError } from './errors.js'
import type { GuestHart, GuestTrap } from './guest-hart.js'
import { GuestRam } from './memory.js'
import { GStageBuilder } from './tables.js'
import { fetchGuestInstruction, vsTranslate } from './walk.js'

/** Host memory the VM may use: host-physical `[base, base + bytes.length)`, for its G-stage tables and guest RAM. */
export interface HostRegion {
  readonly base: number
  readonly bytes: Uint8Array
}

/** Where guest console bytes go and where guest input comes from. */
export interface GuestConsole {
  write(byte: number): void
  /** One byte of input, or -1 when none waits. */
  read?(): number
}

export interface VmOptions {
  /** Host memory for the tables and the guest's RAM. */
  host: HostRegion
  /** Guest RAM in bytes (a multiple of 4 KiB). */
  ramSize: number
  /** Guest-physical start of RAM (default 0x8000_0000). */
  guestBase?: number
  /** Number of vCPUs (default 1; vCPU 0 starts, the others wait for SBI HSM hart_start). */
  vcpus?: number
  console?: GuestConsole
  /** The G stage's VMID (default 0). */
  vmid?: number
}

/** Why a VM ended. */
export type HaltReason = 'shutdown' | 'cold-reboot' | 'warm-reboot' | 'fault'

/** What one {@link VCpu.run} ended with. */
export type VcpuExit =
  /** The budget ran out, or an interrupt for the host arrived: run again when the scheduler wants to (preemption). */
  | { readonly kind: 'budget'; readonly executed: number }
  /** The guest waits (WFI, HSM suspend) until an interrupt; `until` is its timer deadline (host timebase), if any. */
  | { readonly kind: 'idle'; readonly executed: number; readonly until?: bigint }
  /** The vCPU is stopped (never started, or HSM hart_stop). */
  | { readonly kind: 'stopped'; readonly executed: number }
  /** The VM is over (SBI shutdown or reset, or a vCPU's fault). */
  | { readonly kind: 'halted'; readonly executed: number; readonly reason: HaltReason; readonly error?: VmError }

const HIP_VSSIP = 1n << 2n
const HIP_VSTIP = 1n << 6n
const HIP_VSEIP = 1n << 10n
/** hideleg: the three VS-level interrupts go to the guest (privileged spec §8.2.3). */
const HIDELEG_VS = HIP_VSSIP | HIP_VSTIP | HIP_VSEIP
/**
 * hedeleg: exceptions the guest kernel handles itself, as KVM delegates them: misaligned fetch,
 * breakpoint, ecall from VU, page faults. Illegal instructions and access faults come to the VMM,
 * which reflects them (so that it sees what a guest trips over).
 */
const HEDELEG_GUEST = [0, 3, 8, 12, 13, 15].reduce((m, c) => m | (1n << BigInt(c)), 0n)
/** hcounteren: the guest reads cycle, time and instret. */
const HCOUNTEREN_GUEST = 0x7n
const HSTATUS_VSXL64 = 2n << 32n
const SSTATUS_SIE = 1n << 1n
const SSTATUS_SPIE = 1n << 5n
const SSTATUS_SPP = 1n << 8n
const NAN_BOX32 = 0xffff_ffff_0000_0000n

interface Mapped {
  readonly base: number
  readonly device: MmioDevice
  readonly tick?: () => void
}

export class VM {
  readonly ram: GuestRam
  readonly guestBase: number
  readonly vcpus: VCpu[] = []
  /** hgatp for every vCPU of this VM (Sv39x4, the VMID). */
  readonly hgatp: bigint
  readonly firmware: Firmware
  /** Set once the VM is over. */
  halted: { reason: HaltReason; error?: VmError } | undefined
  private readonly devices: Mapped[] = []
  private readonly lines = new Set<number>()
  private readonly interruptListeners = new Set<() => void>()
  private readonly console: GuestConsole

  constructor(options: VmOptions) {
    const { host, ramSize } = options
    this.guestBase = options.guestBase ?? GUEST_BASE
    if (!Number.isSafeInteger(ramSize) || ramSize <= 0 || ramSize % PAGE_SIZE !== 0) throw new VmError('VM_CONFIG', `guest RAM of ${ramSize} bytes is not a positive multiple of 4 KiB`)
    if (this.guestBase % MEGAPAGE_SIZE !== 0) throw new VmError('VM_CONFIG', `guest RAM base 0x${this.guestBase.toString(16)} is not 2 MiB-aligned`)
    // Layout of the host region: the table arena (16 KiB-aligned), then RAM (2 MiB-aligned when it fits, for megapage leaves).
    const arenaPA = Math.ceil(host.base / ROOT_SIZE) * ROOT_SIZE
    const arenaSize = GStageBuilder.arenaSize(ramSize)
    const end = host.base + host.bytes.length
    let ramPA = Math.ceil((arenaPA + arenaSize) / MEGAPAGE_SIZE) * MEGAPAGE_SIZE
    if (ramPA + ramSize > end) ramPA = Math.ceil((arenaPA + arenaSize) / PAGE_SIZE) * PAGE_SIZE
    if (ramPA + ramSize > end) throw new VmError('VM_TOO_LARGE', `guest RAM of ${ramSize} bytes and ${arenaSize} bytes of tables do not fit the host region of ${host.bytes.length} bytes at 0x${host.base.toString(16)}`)
    const tables = new GStageBuilder(host.bytes.subarray(arenaPA - host.base, arenaPA - host.base + arenaSize), arenaPA)
    tables.map(this.guestBase, ramPA, ramSize)
    this.hgatp = tables.hgatp(options.vmid ?? 0)
    this.ram = new GuestRam(host.bytes.subarray(ramPA - host.base, ramPA - host.base + ramSize), this.guestBase)
    this.ram.bytes.fill(0)
    this.console = options.console ?? { write() {} }
    const n = options.vcpus ?? 1
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new VmError('VM_CONFIG', `${n} vCPUs: between 1 and 64`)
    for (let i = 0; i < n; i++) this.vcpus.push(new VCpu(this, i))
    this.firmware = new Firmware(new GuestPlatform(this), { startedHarts: [0], sstc: false })
  }

  /** Copies `bytes` into guest RAM at `gpa`; the whole range must be RAM. */
  load(gpa: number, bytes: Uint8Array): void {
    if (!this.ram.write(gpa, bytes)) throw new VmError('VM_TOO_LARGE', `${bytes.length} bytes at guest-physical 0x${gpa.toString(16)} do not fit guest RAM [0x${this.guestBase.toString(16)}, 0x${this.ram.end.toString(16)})`)
  }

  /**
   * Puts `device` at guest-physical `base` (outside RAM, not overlapping another device): the
   * guest's accesses there trap and are emulated. `tick` (optional) runs between guest slices.
   */
  map(base: number, device: MmioDevice, tick?: () => void): void {
    const end = base + device.size
    if (!Number.isSafeInteger(base) || base < 0 || device.size <= 0) throw new VmError('VM_CONFIG', `device ${device.name} at 0x${base.toString(16)}: bad address or size`)
    if (base < this.ram.end && end > this.guestBase) throw new VmError('VM_CONFIG', `device ${device.name} at 0x${base.toString(16)} overlaps guest RAM`)
    for (const d of this.devices) if (base < d.base + d.device.size && end > d.base) throw new VmError('VM_CONFIG', `device ${device.name} at 0x${base.toString(16)} overlaps ${d.device.name}`)
    this.devices.push(tick ? { base, device, tick } : { base, device })
  }

  /** The device covering `[gpa, gpa + size)`, with the offset, or undefined. */
  deviceAt(gpa: bigint, size: number): { device: MmioDevice; offset: number } | undefined {
    for (const d of this.devices) {
      const off = gpa - BigInt(d.base)
      if (off >= 0n && off + BigInt(size) <= BigInt(d.device.size)) return { device: d.device, offset: Number(off) }
    }
    return undefined
  }

  /**
   * A level-triggered interrupt line `source` into the guest: while any line is high, vCPU 0 sees
   * a supervisor external interrupt (hvip.VSEIP). Device models take it as their `IrqLine`.
   */
  irqLine(source: number): IrqLine {
    return {
      set: (level: boolean) => {
        if (level) {
          this.lines.add(source)
          this.interruptRaised()
        } else this.lines.delete(source)
      },
    }
  }

  /**
   * A device raised an interrupt line (its own, or one of the interrupt controller's): tells every
   * `onInterrupt` listener, so a host sleeping while every vCPU waits in WFI wakes now rather than
   * at the guest's next timer deadline (a device backend answers asynchronously, often after the
   * guest went idle waiting for it).
   */
  interruptRaised(): void {
    for (const listener of [...this.interruptListeners]) listener()
  }

  /** Calls `listener` at every raised interrupt line until the returned function is called. */
  onInterrupt(listener: () => void): () => void {
    this.interruptListeners.add(listener)
    return () => void this.interruptListeners.delete(listener)
  }

  /** Whether any interrupt line is high. */
  get externalPending(): boolean {
    return this.lines.size > 0 || (this.controller !== undefined && this.vcpus.some((v) => this.controller!.asserted(v.id)))
  }

  private controller: { asserted(vcpu: number): boolean } | undefined

  /**
   * Routes supervisor external interrupts through an interrupt controller (a {@link VirtualPlic}
   * mapped into the guest): vCPU i sees hvip.VSEIP while `asserted(i)`.
   */
  useInterruptController(controller: { asserted(vcpu: number): boolean }): void {
    this.controller = controller
  }

  /** Whether vCPU `id` has a supervisor external interrupt pending. */
  externalFor(id: number): boolean {
    if (this.controller) return this.controller.asserted(id) || (id === 0 && this.lines.size > 0)
    return id === 0 && this.lines.size > 0
  }

  /** Runs device ticks (between slices). */
  tickDevices(): void {
    for (const d of this.devices) d.tick?.()
  }

  /** Guest console output. */
  putchar(byte: number): void {
    this.console.write(byte & 0xff)
  }

  getchar(): number {
    return this.console.read?.() ?? -1
  }

  halt(reason: HaltReason, error?: VmError): void {
    if (this.halted === undefined) this.halted = error ? { reason, error } : { reason }
  }
}

/** A vCPU's state while no hart holds it: what {@link VCpu.detach} saves. */
interface SavedState {
  x: bigint[]
  f: bigint[]
  pc: number
  privilege: 0 | 1
  csrs: Map<number, bigint>
}

/** VS CSRs and the per-guest H CSRs a vCPU carries from hart to hart. */
const SWITCHED_CSRS = [CSR.vsstatus, CSR.vstvec, CSR.vsscratch, CSR.vsepc, CSR.vscause, CSR.vstval, CSR.vsatp, CSR.hie, CSR.hvip, CSR.htimedelta, CSR.henvcfg, CSR.vstimecmp]

export type VcpuState = 'stopped' | 'runnable' | 'halted'

/** The vCPU each hart last ran: re-attaching it needs no fence. */
const lastOn = new WeakMap<GuestHart, VCpu>()

export class VCpu {
  state: VcpuState
  private hart: GuestHart | undefined
  private saved: SavedState
  /** The guest's SBI timer deadline in host time, or undefined. */
  private deadline: bigint | undefined
  private ipi = false
  private suspended = false
  /** Exits taken, by kind (for tests and benchmarks). */
  readonly exits = { sbi: 0, mmio: 0, other: 0 }

  constructor(
    readonly vm: VM,
    readonly id: number,
  ) {
    this.state = id === 0 ? 'runnable' : 'stopped'
    this.saved = { x: new Array<bigint>(32).fill(0n), f: new Array<bigint>(32).fill(0n), pc: vm.guestBase, privilege: 1, csrs: new Map([[CSR.vstimecmp, (1n << 64n) - 1n]]) }
  }

  /** Sets a register before the first run (a0 = hartid, a1 = the device tree, for Linux). */
  setX(i: number, v: bigint): void {
    if (this.hart) this.hart.setX(i, v)
    else if (i !== 0) this.saved.x[i] = BigInt.asUintN(64, v)
  }

  getX(i: number): bigint {
    return this.hart ? this.hart.getX(i) : (this.saved.x[i] ?? 0n)
  }

  get pc(): number {
    return this.hart ? this.hart.pc : this.saved.pc
  }

  set pc(v: number) {
    if (this.hart) this.hart.pc = v
    else this.saved.pc = v
  }

  /** The hart currently holding this vCPU. */
  get attached(): GuestHart | undefined {
    return this.hart
  }

  /** Puts this vCPU on `hart`: the G stage, delegation, counters and the vCPU's saved guest state. */
  attach(hart: GuestHart): void {
    if (this.hart) throw new VmError('VM_CONFIG', `vCPU ${this.id} is already on hart ${this.hart.hartId}`)
    this.hart = hart
    hart.writeCsr(CSR.hstatus, HSTATUS_VSXL64)
    hart.writeCsr(CSR.hedeleg, HEDELEG_GUEST)
    hart.writeCsr(CSR.hideleg, HIDELEG_VS)
    hart.writeCsr(CSR.hcounteren, HCOUNTEREN_GUEST)
    hart.writeCsr(CSR.hgatp, this.vm.hgatp)
    for (let i = 1; i < 32; i++) hart.setX(i, this.saved.x[i]!)
    for (let i = 0; i < 32; i++) hart.setF(i, this.saved.f[i]!)
    for (const n of SWITCHED_CSRS) hart.writeCsr(n, this.saved.csrs.get(n) ?? 0n)
    hart.pc = this.saved.pc
    hart.guestPrivilege = this.saved.privilege
    // HFENCE.GVMA + FENCE.I: another guest's translations and code may be cached under the same
    // VMID. Not needed when this vCPU was the last one on this hart (its own state is still valid).
    if (lastOn.get(hart) !== this) hart.flush()
    lastOn.set(hart, this)
  }

  /** Takes this vCPU off its hart, saving the guest state (time-sharing several vCPUs on one hart). */
  detach(): void {
    const hart = this.hart
    if (!hart) return
    this.saved = {
      x: Array.from({ length: 32 }, (_, i) => hart.getX(i)),
      f: Array.from({ length: 32 }, (_, i) => hart.getF(i)),
      pc: hart.pc,
      privilege: hart.guestPrivilege,
      csrs: new Map(SWITCHED_CSRS.map((n) => [n, hart.readCsr(n)])),
    }
    // Leave nothing of the guest pending on the hart: a VS interrupt left in hvip/hie would wake its host's WFI over and over.
    hart.writeCsr(CSR.hvip, 0n)
    hart.writeCsr(CSR.hie, 0n)
    hart.writeCsr(CSR.hgatp, 0n)
    this.hart = undefined
  }

  /** HSM hart_start: VS-mode at `pc` with a0 = hartid, a1 = opaque, vsatp = 0, vsstatus.SIE = 0 (SBI §9.1). */
  start(pc: bigint, opaque: bigint): void {
    this.pc = Number(pc)
    this.setX(10, BigInt(this.id))
    this.setX(11, opaque)
    this.setCsr(CSR.vsatp, 0n)
    this.setCsr(CSR.vsstatus, this.csr(CSR.vsstatus) & ~SSTATUS_SIE)
    if (this.hart) this.hart.guestPrivilege = 1
    else this.saved.privilege = 1
    this.state = 'runnable'
  }

  private csr(n: number): bigint {
    return this.hart ? this.hart.readCsr(n) : (this.saved.csrs.get(n) ?? 0n)
  }

  private setCsr(n: number, v: bigint): void {
    if (this.hart) this.hart.writeCsr(n, v)
    else this.saved.csrs.set(n, v)
  }

  private setHvip(bit: bigint, on: boolean): void {
    const v = this.csr(CSR.hvip)
    const next = on ? v | bit : v & ~bit
    if (next !== v) this.setCsr(CSR.hvip, next)
  }

  /** SBI set_timer: `value` in guest time (time = mtime + htimedelta); clears a pending timer interrupt (the guest's ack). */
  setTimer(value: bigint): void {
    this.deadline = BigInt.asUintN(64, value - this.csr(CSR.htimedelta))
    this.setHvip(HIP_VSTIP, false)
  }

  /** An IPI from another vCPU (SBI send_ipi): supervisor software interrupt (hvip.VSSIP). */
  sendIpi(): void {
    this.ipi = true
    this.setHvip(HIP_VSSIP, true)
    this.suspended = false
  }

  /** Legacy clear_ipi. */
  clearIpi(): boolean {
    const was = (this.csr(CSR.hvip) & HIP_VSSIP) !== 0n
    this.setHvip(HIP_VSSIP, false)
    this.ipi = false
    return was
  }

  /**
   * Whether this vCPU, idle or not, has an interrupt it enabled waiting (an IPI, a passed timer
   * deadline, an external interrupt): a scheduler must run it again rather than sleep.
   */
  pendingWork(now: bigint): boolean {
    if (this.state !== 'runnable') return false
    const hie = this.csr(CSR.hie)
    if (this.deadline !== undefined && now >= this.deadline && (hie & HIP_VSTIP) !== 0n) return true
    if ((hie & HIP_VSEIP) !== 0n && this.vm.externalFor(this.id)) return true
    return (this.csr(CSR.hvip) & hie) !== 0n
  }

  /** Interrupt injection before each slice: the timer deadline, the external lines (vCPU 0), device ticks. */
  private inject(hart: GuestHart): void {
    this.vm.tickDevices()
    if (this.deadline !== undefined && hart.time() >= this.deadline) {
      this.setHvip(HIP_VSTIP, true)
      this.deadline = undefined
    }
    this.setHvip(HIP_VSEIP, this.vm.externalFor(this.id))
  }

  /** Whether an interrupt the guest enabled (hie) is pending in hvip or its own vstimecmp. */
  private interruptible(hart: GuestHart): boolean {
    const hie = hart.readCsr(CSR.hie)
    if ((hart.readCsr(CSR.hvip) & hie) !== 0n) return true
    // Sstc in the guest (henvcfg.STCE): vstimecmp raises VSTIP on its own.
    if ((hart.readCsr(CSR.henvcfg) >> 63n) & 1n && hie & HIP_VSTIP) return hart.time() + hart.readCsr(CSR.htimedelta) >= hart.readCsr(CSR.vstimecmp)
    return false
  }

  private idleUntil(hart: GuestHart): bigint | undefined {
    let until = this.deadline
    if ((hart.readCsr(CSR.henvcfg) >> 63n) & 1n) {
      const v = BigInt.asUintN(64, hart.readCsr(CSR.vstimecmp) - hart.readCsr(CSR.htimedelta))
      if (v !== (1n << 64n) - 1n && (until === undefined || v < until)) until = v
    }
    return until
  }

  /**
   * Runs the guest for at most `budget` instructions (exits count their trapping instruction), then
   * returns: preemptible by construction. Needs {@link attach} first.
   */
  run(budget: number): VcpuExit {
    const hart = this.hart
    if (!hart) throw new VmError('VM_CONFIG', `vCPU ${this.id} is not on a hart (attach it first)`)
    let executed = 0
    while (true) {
      const halted = this.vm.halted
      if (halted) return { kind: 'halted', executed, ...halted }
      if (this.state === 'stopped') return { kind: 'stopped', executed }
      this.inject(hart)
      if (this.suspended) {
        if (!this.interruptible(hart)) return this.idle(executed, hart)
        this.suspended = false
      }
      if (executed >= budget) return { kind: 'budget', executed }
      const r = hart.run(budget - executed)
      executed += r.executed
      switch (r.reason) {
        case 'budget':
          continue
        case 'wfi':
          this.inject(hart)
          if (this.interruptible(hart)) continue
          return this.idle(executed, hart)
        case 'error':
          return this.fault(executed, `the hart failed: ${r.message}`)
        case 'trap': {
          // An HS interrupt arrived while the guest ran: the host's business, so hand the hart back now.
          if (r.trap.scause >> 63n) return { kind: 'budget', executed: Math.max(executed, 1) }
          const e = this.exit(hart, r.trap)
          if (e !== undefined) return this.fault(executed, e)
          if (r.executed === 0) executed++ // every exit costs the budget something: a trap storm still ends
        }
      }
    }
  }

  private idle(executed: number, hart: GuestHart): VcpuExit {
    const until = this.idleUntil(hart)
    return until === undefined ? { kind: 'idle', executed } : { kind: 'idle', executed, until }
  }

  private fault(executed: number, message: string): VcpuExit {
    const error = new VmError('VM_GUEST_FAULT', `vCPU ${this.id}: ${message}`)
    this.vm.halt('fault', error)
    this.state = 'halted'
    return { kind: 'halted', executed, reason: 'fault', error }
  }

  /** Handles one trap into HS; returns a fault message when the guest cannot go on. */
  private exit(hart: GuestHart, t: GuestTrap): string | undefined {
    if (t.scause >> 63n) return undefined // an HS interrupt that arrived while the guest ran: the host's business
    const cause = Number(t.scause)
    switch (cause) {
      case TRAP.ECALL_VS:
        this.exits.sbi++
        return this.sbi(hart, t)
      case TRAP.LOAD_GUEST_PAGE:
      case TRAP.STORE_GUEST_PAGE:
        this.exits.mmio++
        return this.mmio(hart, t, cause === TRAP.STORE_GUEST_PAGE)
      case TRAP.FETCH_GUEST_PAGE:
        this.exits.other++
        return describe('instruction fetch outside guest RAM', t)
      default:
        // An exception the guest's own kernel should see (illegal and virtual instruction,
        // access faults, misaligned accesses, ecall from VU if not delegated): reflect it.
        this.exits.other++
        if (!t.spvp && cause === 8) return this.reflect(hart, t, 8)
        if (cause === TRAP.VIRTUAL_INSTRUCTION) return this.reflect(hart, t, 2)
        if (cause <= 7 || cause === 12 || cause === 13 || cause === 15) return this.reflect(hart, t, cause)
        return describe(`unexpected trap ${cause}`, t)
    }
  }

  /** Delivers exception `cause` to the guest's own trap handler, as if taken in VS (privileged spec §8.6.4). */
  private reflect(hart: GuestHart, t: GuestTrap, cause: number): string | undefined {
    const vstvec = hart.readCsr(CSR.vstvec)
    const vs = hart.readCsr(CSR.vsstatus)
    if (t.spvp && (vs & SSTATUS_SIE) === 0n && hart.readCsr(CSR.vsepc) === t.sepc && hart.readCsr(CSR.vscause) === BigInt(cause))
      return describe('the guest faults again in its own trap handler', t) // a double fault: end it rather than loop
    hart.writeCsr(CSR.vsepc, t.sepc)
    hart.writeCsr(CSR.vscause, BigInt(cause))
    hart.writeCsr(CSR.vstval, t.stval)
    const sie = (vs & SSTATUS_SIE) !== 0n
    hart.writeCsr(CSR.vsstatus, (vs & ~(SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP)) | (sie ? SSTATUS_SPIE : 0n) | (t.spvp ? SSTATUS_SPP : 0n))
    hart.guestPrivilege = 1
    hart.pc = Number(BigInt.asIntN(64, vstvec & ~3n))
    return undefined
  }

  private sbi(hart: GuestHart, t: GuestTrap): string | undefined {
    hart.pc = Number(BigInt.asIntN(64, t.sepc))
    hart.guestPrivilege = t.spvp ? 1 : 0
    const out: SbiOutcome = this.vm.firmware.ecall({ hartId: this.id, getX: (i) => hart.getX(i), setX: (i, v) => hart.setX(i, v) })
    switch (out.kind) {
      case 'return':
      case 'legacy':
        if (hart.pc === Number(BigInt.asIntN(64, t.sepc))) hart.pc += 4 // hart_start on itself could have moved it
        return undefined
      case 'trap':
        return this.reflect(hart, t, out.cause)
      case 'noreturn':
        return undefined // shutdown, hart_stop, suspend: the platform has recorded the new state
    }
  }

  /** Suspend (SBI HSM): idle until an interrupt is pending; a non-retentive one resumes at its address. */
  suspend(request: SuspendRequest): void {
    if (!request.retentive) {
      this.pc = Number(BigInt.asIntN(64, request.resumeAddr))
      this.setX(10, BigInt(this.id))
      this.setX(11, request.opaque)
      this.setCsr(CSR.vsatp, 0n)
      this.setCsr(CSR.vsstatus, this.csr(CSR.vsstatus) & ~SSTATUS_SIE)
    } // retentive: the ecall returns SBI_SUCCESS and the guest goes on after it once woken
    this.suspended = true
  }

  /** MMIO trap-and-emulate: decode the access (htinst, else the guest's instruction through its own paging), perform it on the device, advance sepc. */
  private mmio(hart: GuestHart, t: GuestTrap, store: boolean): string | undefined {
    const gpa = (t.htval << 2n) | (t.stval & 3n)
    let access: MmioAccess | undefined = decodeTransformed(t.htinst)
    if (access === undefined) {
      if (t.htinst !== 0n) return describe('a guest page table outside guest RAM', t) // a pseudoinstruction: an implicit VS-stage access
      const insn = fetchGuestInstruction(this.vm.ram, hart.readCsr(CSR.vsatp), t.sepc, t.spvp ? 1 : 0)
      if (typeof insn === 'string') return describe(`cannot read the faulting instruction (${insn})`, t)
      access = decodeMmio(insn)
      if (access === undefined) return describe(`access to a device address by 0x${insn.toString(16)}, which is no load or store`, t)
    }
    if (access.store !== store) return describe('the instruction does not match the fault (load vs store)', t)
    const target = this.vm.deviceAt(gpa, access.width)
    if (target === undefined) return describe(`${store ? 'store to' : 'load from'} guest-physical 0x${gpa.toString(16)}, where there is neither RAM nor a device`, t)
    if (store) {
      const raw = access.fp ? hart.getF(access.reg) : access.reg === 0 ? 0n : hart.getX(access.reg)
      target.device.write(target.offset, access.width, BigInt.asUintN(access.width * 8, raw))
    } else {
      const v = signExtend(target.device.read(target.offset, access.width), access.width, access.signed)
      if (access.fp) hart.setF(access.reg, access.width === 4 ? NAN_BOX32 | BigInt.asUintN(32, v) : v)
      else if (access.reg !== 0) hart.setX(access.reg, v)
    }
    hart.pc = Number(BigInt.asIntN(64, t.sepc)) + access.length
    hart.guestPrivilege = t.spvp ? 1 : 0
    return undefined
  }
}

const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`

/** The Go honk's fault line: what the guest did and where. */
function describe(what: string, t: GuestTrap): string {
  return `${what}: scause=${hex(t.scause)} sepc=${hex(t.sepc)} stval=${hex(t.stval)} htval=${hex(t.htval)}`
}

/** The SBI's view of a VM: guest RAM is its physical memory, vCPUs are its harts. */
class GuestPlatform implements SbiPlatform {
  constructor(private readonly vm: VM) {}

  get hartCount(): number {
    return this.vm.vcpus.length
  }

  consolePutchar(byte: number): void {
    this.vm.putchar(byte)
  }

  consoleGetchar(): number {
    return this.vm.getchar()
  }

  isAccessible(addr: bigint, length: bigint, _access: Access): boolean {
    return addr <= BigInt(Number.MAX_SAFE_INTEGER) && length <= BigInt(this.vm.ram.size) && this.vm.ram.contains(Number(addr), Number(length))
  }

  readPhysical(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length)
    this.vm.ram.read(Number(addr), out)
    return out
  }

  writePhysical(addr: bigint, data: Uint8Array): void {
    this.vm.ram.write(Number(addr), data)
  }

  readVirtualU64(hartId: number, vaddr: bigint): bigint | { cause: number } {
    const hart = this.vm.vcpus[hartId]?.attached
    const vsatp = hart ? hart.readCsr(CSR.vsatp) : 0n
    const vsstatus = hart ? hart.readCsr(CSR.vsstatus) : 0n
    const gpa = vsTranslate(this.vm.ram, vsatp, vaddr, 'read', vsstatus)
    const v = typeof gpa === 'string' ? undefined : this.vm.ram.load(gpa, 8)
    return v ?? { cause: 5 }
  }

  setTimer(hartId: number, value: bigint): void {
    this.vm.vcpus[hartId]?.setTimer(value)
  }

  sendIpi(hartIds: readonly number[]): void {
    for (const id of hartIds) this.vm.vcpus[id]?.sendIpi()
  }

  clearIpi(hartId: number): boolean {
    return this.vm.vcpus[hartId]?.clearIpi() ?? false
  }

  remoteFenceI(hartIds: readonly number[]): void {
    for (const id of hartIds) this.vm.vcpus[id]?.attached?.flush()
  }

  remoteSfenceVma(hartIds: readonly number[], _range: FenceRange, _asid?: bigint): void {
    for (const id of hartIds) this.vm.vcpus[id]?.attached?.flush()
  }

  hartStart(hartId: number, startAddr: bigint, opaque: bigint): void {
    this.vm.vcpus[hartId]?.start(startAddr, opaque)
  }

  hartStop(hartId: number): void {
    const v = this.vm.vcpus[hartId]
    if (v) v.state = 'stopped'
  }

  hartSuspend(hartId: number, request: SuspendRequest): void {
    this.vm.vcpus[hartId]?.suspend(request)
  }

  systemReset(type: number, _reason: number): void {
    this.vm.halt(type === RESET_TYPE.SHUTDOWN ? 'shutdown' : type === RESET_TYPE.COLD_REBOOT ? 'cold-reboot' : 'warm-reboot')
    for (const v of this.vm.vcpus) v.state = 'halted'
  }
}
