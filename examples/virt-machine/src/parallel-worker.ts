/**
 * One hart of a parallel machine, in its own Worker (issue #18): a `Hart` over the shared RAM,
 * with its own decode cache, block tier and TLB; the CLINT served here from the shared control
 * block; every other device access a synchronous request to the main thread (the mailbox of
 * parallel-shared.ts). Between slices it drives its interrupt lines from the shared words, and
 * in WFI it sleeps on its wake counter until an IPI, a device line, or its next timer.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { CSR, IRQ, MENVCFG, VIRT_MAP, type AccessSize } from '@honk/riscv'
import { Bus, Hart, type HartState } from '@honk/rv64'
import { Firmware, type SbiPlatform } from '@honk/sbi'
import { Control, MachineStopped, SharedClint, awaitResponse, postRequest } from './parallel-shared.js'
import { FENCE, SharedHsm, postIpi, postStart, remoteFence, serveFences, takeIpi, takeStart } from './parallel-sbi.js'

/** What the main thread gives each worker. */
export interface HartWorkerData {
  hartId: number
  harts: number
  ram: SharedArrayBuffer
  control: SharedArrayBuffer
  state: HartState
  sv57: boolean
  hypervisor: boolean
  /** Instructions per `run()` between looks at the shared lines (the IPI and device-interrupt latency). */
  slice: number
  /** The TypeScript SBI answers this hart's S-mode ecalls (bios builtin; its HSM state is in the control block). */
  sbi: boolean
  /** Whether the hart executes from the start (false: HSM STOPPED, it waits for an SBI hart_start). */
  running: boolean
}

/**
 * What a worker posts back: how it ended, or (TypeScript SBI) that the guest asked for a system
 * reset or shutdown, which ends the machine (everything else goes through shared memory).
 */
export type HartWorkerMessage = { kind: 'stopped'; instret: string } | { kind: 'error'; message: string } | { kind: 'reset'; type: number }

/** RAM and the CLINT locally; any other address is the main thread's (its `Bus` decides, faults included). */
class WorkerBus extends Bus {
  constructor(
    ram: SharedArrayBuffer,
    private readonly ctl: Control,
    private readonly hartId: number,
  ) {
    super({ ramBase: VIRT_MAP.ram.base, ramSize: ram.byteLength, buffer: ram })
  }

  private local(addr: number): boolean {
    return (addr >= this.ramBase && addr < this.ramEnd) || (addr >= VIRT_MAP.clint.base && addr < VIRT_MAP.clint.base + VIRT_MAP.clint.size)
  }

  override read(addr: number, size: AccessSize): bigint | undefined {
    if (this.local(addr)) return super.read(addr, size)
    postRequest(this.ctl, this.hartId, { op: 'read', addr, size, value: 0n })
    return awaitResponse(this.ctl, this.hartId)
  }

  override write(addr: number, size: AccessSize, value: bigint): boolean {
    if (this.local(addr)) return super.write(addr, size, value)
    postRequest(this.ctl, this.hartId, { op: 'write', addr, size, value })
    return awaitResponse(this.ctl, this.hartId) !== undefined
  }
}

function main(data: HartWorkerData): HartWorkerMessage {
  const ctl = new Control(data.control)
  const h = data.hartId
  const bus = new WorkerBus(data.ram, ctl, h)
  const clint = new SharedClint(ctl, data.harts)
  bus.map(VIRT_MAP.clint.base, clint)
  const hart = new Hart({ hartId: h, bus, clock: clint, sv57: data.sv57, hypervisor: data.hypervisor })
  hart.restore(data.state)
  const sbi = data.sbi ? new WorkerSbi(ctl, hart, bus, data.harts) : undefined
  const drive = (): void => {
    sbi?.drive()
    const l = clint.lines(h)
    hart.setIrq(IRQ.MSI, l.msi)
    hart.setIrq(IRQ.MTI, l.mti)
    const ext = ctl.lines(h)
    hart.setIrq(IRQ.MEI, (ext & (1 << IRQ.MEI)) !== 0)
    hart.setIrq(IRQ.SEI, (ext & (1 << IRQ.SEI)) !== 0)
  }
  if (sbi && !data.running) sbi.parked = true
  const min = (a: bigint, b: bigint): bigint => (a < b ? a : b)
  try {
    while (!ctl.stopped) {
      if (sbi && !sbi.runnable()) {
        // Stopped (HSM) or after a system reset: wait for a start, serving remote fences meanwhile.
        const seen = ctl.wakeCount(h)
        if (!sbi.runnable()) ctl.sleep(h, seen, 100)
        continue
      }
      drive()
      const r = hart.run(data.slice)
      ctl.setInstret(h, hart.instret)
      ctl.setPc(h, hart.pc)
      if (r.reason === 'error') return { kind: 'error', message: `hart ${h} at pc 0x${BigInt.asUintN(64, BigInt(hart.pc)).toString(16)}: ${r.message ?? 'error'}` }
      if (sbi) {
        if (r.executed > 0) sbi.ran()
        if (hart.privilege === 3) return { kind: 'error', message: `hart ${h} trapped to M-mode, where no firmware runs (mcause ${hart.getCsr(CSR.mcause)}, mepc 0x${hart.getCsr(CSR.mepc).toString(16)})` }
      }
      if (r.reason === 'wfi' && hart.asleep) {
        // Read the counter first: whatever changes a line after this bumps it, and the wait then returns at once.
        const seen = ctl.wakeCount(h)
        drive()
        if (!hart.asleep) continue
        // Only deadlines ahead count: one already passed is a pending interrupt the hart masks
        // (Linux clears sie.STIE in its timer interrupt and leaves stimecmp in the past), and
        // sleeping 0 ms on it would spin a host core for as long as the hart idles.
        const now = ctl.mtime()
        const ahead = (d: bigint): bigint => (d > now ? d : MAX64)
        const deadline = min(min(ahead(ctl.mtimecmp(h)), ahead(hart.supervisorTimerDeadline())), ahead(sbi?.timer ?? MAX64))
        ctl.sleep(h, seen, Math.min(100, ctl.msUntil(deadline)))
      }
    }
  } catch (e) {
    if (!(e instanceof MachineStopped)) return { kind: 'error', message: `hart ${h} at pc 0x${BigInt.asUintN(64, BigInt(hart.pc)).toString(16)}: ${(e as Error).message}` }
  }
  return { kind: 'stopped', instret: hart.instret.toString() }
}

const MAX64 = (1n << 64n) - 1n

/**
 * The TypeScript SBI of one hart's worker: its own `Firmware`, whose platform does the cross-hart
 * operations through the control block (parallel-sbi.ts) and the console through the mailbox.
 */
class WorkerSbi {
  readonly firmware: Firmware
  /** HSM STOPPED: the loop waits for a start. */
  parked = false
  /** The hart was started and has not executed yet (START_PENDING until it does, SBI §9.1). */
  private startPending = false
  /** A system reset/shutdown the guest asked for (posted to the main thread, which ends the machine). */
  resetType: number | undefined
  private resetPosted = false
  /** The SBI timer when the hart has no Sstc (under Sstc: its stimecmp). */
  timer = MAX64
  private readonly h: number

  constructor(
    private readonly ctl: Control,
    private readonly hart: Hart,
    private readonly bus: Bus,
    harts: number,
  ) {
    this.h = hart.hartId
    this.firmware = new Firmware(this.platform(harts), { hsmStates: new SharedHsm(ctl) })
    this.installEcall()
  }

  private installEcall(): void {
    const fw = this.firmware
    this.hart.onEcall = (hart) => {
      const out = fw.ecall(hart)
      if (out.kind === 'trap') return false
      if (out.kind === 'noreturn') hart.requestYield()
      return true
    }
  }

  /** Between slices: fences asked of this hart, IPIs posted to it, and the non-Sstc SBI timer. */
  drive(): void {
    this.serveFences()
    if (takeIpi(this.ctl, this.h)) this.hart.setSoftIrq(IRQ.SSI, true)
    if (this.timer !== MAX64) this.hart.setSoftIrq(IRQ.STI, this.ctl.mtime() >= this.timer)
  }

  private serveFences(): void {
    serveFences(this.ctl, this.h, (bits) => this.flush(bits))
  }

  private flush(bits: number): void {
    if (bits & FENCE.vma) this.hart.flushTranslations()
    if (bits & FENCE.i) this.hart.flushDecodedInstructions()
  }

  /** Whether the hart executes now; a parked hart takes a start posted to it (and serves fences). */
  runnable(): boolean {
    this.serveFences()
    if (this.resetType !== undefined) {
      if (!this.resetPosted) {
        this.resetPosted = true
        parentPort?.postMessage({ kind: 'reset', type: this.resetType } satisfies HartWorkerMessage)
      }
      return false
    }
    if (!this.parked) return true
    const s = takeStart(this.ctl, this.h)
    if (s === undefined) return false
    // What M-mode firmware does on an HSM start (SBI §9.1): S-mode at start_addr, a0 = hartid, a1 = opaque, satp = 0, SIE = 0.
    const hart = this.hart
    hart.pc = Number(BigInt.asIntN(64, s.start))
    hart.setX(10, BigInt(this.h))
    hart.setX(11, s.opaque)
    this.firmware.enterSupervisor(hart)
    hart.flushTranslations()
    hart.flushDecodedInstructions()
    hart.waiting = false
    this.timer = MAX64
    this.parked = false
    this.startPending = true
    return true
  }

  /** The hart executed instructions: a START_PENDING hart is STARTED now. */
  ran(): void {
    if (this.startPending) {
      this.startPending = false
      this.firmware.hartRunning(this.h)
    }
  }

  private platform(hartCount: number): SbiPlatform {
    const ctl = this.ctl
    const self = this.h
    const hart = this.hart
    const ram = this.bus.ram
    const ramBase = BigInt(VIRT_MAP.ram.base)
    const ramEnd = ramBase + BigInt(ram.length)
    return {
      hartCount,
      consolePutchar: (b) => this.console(Uint8Array.of(b)),
      consoleWrite: (bytes) => this.console(bytes),
      consoleGetchar: () => {
        postRequest(ctl, self, { op: 'getchar', addr: 0, size: 1, value: 0n })
        const v = awaitResponse(ctl, self)
        return v === undefined || v === 0n ? -1 : Number(v) - 1
      },
      isAccessible: (addr, length) => length >= 0n && addr >= ramBase && addr + length <= ramEnd,
      readPhysical: (addr, length) => ram.slice(Number(addr - ramBase), Number(addr - ramBase) + length),
      writePhysical: (addr, data) => ram.set(data, Number(addr - ramBase)),
      setTimer: (_h, value) => {
        // Firmware writes stimecmp itself for harts it handed to S-mode with Sstc; the boot hart
        // was handed over on the main thread, so its worker's Firmware asks here.
        if ((hart.getCsr(CSR.menvcfg) & MENVCFG.STCE) !== 0n) hart.setCsr(CSR.stimecmp, value)
        else {
          this.timer = value
          hart.setSoftIrq(IRQ.STI, ctl.mtime() >= value)
        }
      },
      sendIpi: (ids) => {
        for (const i of ids) {
          if (i === self) hart.setSoftIrq(IRQ.SSI, true)
          else postIpi(ctl, i)
        }
      },
      clearIpi: () => {
        const was = takeIpi(ctl, self) || hart.softIrq(IRQ.SSI)
        hart.setSoftIrq(IRQ.SSI, false)
        return was
      },
      remoteFenceI: (ids) => remoteFence(ctl, self, ids, FENCE.i, (bits) => this.flush(bits)),
      remoteSfenceVma: (ids) => remoteFence(ctl, self, ids, FENCE.vma, (bits) => this.flush(bits)),
      hartStart: (id, start, opaque) => postStart(ctl, id, start, opaque),
      hartStop: () => {
        this.parked = true
      },
      hartSuspend: () => {
        // Retentive suspend = WFI, as on the single-thread board: the loop sleeps while nothing is pending.
      },
      systemReset: (type) => {
        this.resetType = type
      },
    }
  }

  /** Console output through the mailbox (up to 8 bytes a request), in the order of this hart's calls. */
  private console(bytes: Uint8Array): number {
    for (let o = 0; o < bytes.length; o += 8) {
      const n = Math.min(8, bytes.length - o)
      let v = 0n
      for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[o + i]!)
      postRequest(this.ctl, this.h, { op: 'console', addr: 0, size: n as AccessSize, value: v })
      awaitResponse(this.ctl, this.h)
    }
    return bytes.length
  }
}

if (parentPort) parentPort.postMessage(main(workerData as HartWorkerData))
