/**
 * The `virt` board: QEMU virt's memory map (DESIGN §3; `VIRT_MAP` and `VIRT_IRQ` of
 * `@honk/riscv`, which the device tree reads too) populated with the @honk packages — harts,
 * PLIC and the SiFive test device from `@honk/rv64`, the device set from `@honk/virtio`, the
 * device tree and (optionally) the SBI from `@honk/sbi` — and the loop that runs it.
 */
import type { BlockDevice } from '@honk/block'
import { CSR, IRQ, VIRT_IRQ, VIRT_MAP, VIRT_PLIC_CONTEXT_IRQS, VIRT_TIMEBASE_HZ, virtioSlotBase } from '@honk/riscv'
import { Bus, Clint, Hart, Plic, SifiveTest, type AccessSize, type HartOptions, type MmioDevice, type RunResult, type SysconEvent } from '@honk/rv64'
import { Firmware, buildFdt, virtDeviceTree, type SbiPlatform } from '@honk/sbi'
import { GoldfishRtc, MMIO, Ns16550a, PcieHost, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION, VIRTIO_VENDOR_HONK, VirtioBlk, VirtioMmio, VirtioNet, VirtioP9, VirtioRng, busMemory, type FramePort, type GuestMemory, type P9Handler, type PciFunction, type RandomSource, type VirtioDevice } from '@honk/virtio'

/** How a run of the machine ended. */
export type MachineExit =
  | { reason: 'poweroff'; code: number }
  | { reason: 'reset' }
  | { reason: 'error'; message: string }
  | { reason: 'stopped' }

export interface MachineConfig {
  harts: number
  /** RAM bytes (a multiple of 2 MiB). */
  memory: number
  /**
   * `builtin`: the SBI is `@honk/sbi` in TypeScript and the boot hart enters S-mode at the
   * payload. `firmware`: real M-mode firmware (OpenSBI `fw_jump.bin`) is loaded at the start of
   * RAM and every hart starts there in M-mode. `none`: the payload itself starts in M-mode.
   */
  bios: 'builtin' | 'firmware' | 'none'
  /** Called with every byte the guest writes to the console (UART and SBI console). */
  consoleOut: (byte: number) => void
  /** Disks, in virtio slot order. */
  drives?: BlockDevice[]
  /** Indexes into `drives` the guest sees as read-only (VIRTIO_BLK_F_RO; QEMU's `readonly=on`). */
  readOnlyDrives?: readonly number[]
  /** A network port (virtio-net). */
  net?: FramePort
  /** The network card's MAC (default 52:54:00:12:34:56, QEMU's). */
  netMac?: string
  /** A 9P server for the host share (virtio-9p with this mount tag). */
  share?: { tag: string; handler: P9Handler }
  /** Adds a virtio-rng device (default true). */
  rng?: boolean
  /**
   * `virtual` (default): time (the CLINT's 10 MHz `mtime`) advances with retired instructions,
   * 10 per tick, and jumps to the next timer when every hart waits — deterministic, and a
   * guest's timer ticks cost the same share of instructions however fast the host is.
   * `realtime`: `mtime` follows the host's clock (a slow host then spends more of its
   * instructions in timer interrupts).
   */
  clock?: 'virtual' | 'realtime'
  /**
   * Makes a run reproducible (needs the virtual clock): the guest's entropy — the device tree's
   * `rng-seed` and virtio-rng's bytes — comes from a generator seeded with this integer instead
   * of the host's, the RTC starts at {@link SEEDED_RTC_START} and advances with the virtual clock
   * instead of following the host's, and an idle machine yields to the host only to let finished
   * device work in, never for a span of host time. The same images, configuration and seed then
   * run the same instructions in the same order and print the same bytes, as long as the host
   * side is in-memory too (a disk backed by a file, a network or typed input arrive when the
   * host delivers them). The guest's randomness is then predictable: for tests and debugging.
   * Default: none (host entropy and the host's clock, as QEMU).
   */
  seed?: number
  /** Kernel command line (`/chosen/bootargs`). */
  bootargs?: string
  /** `riscv,isa` in the device tree (default `@honk/sbi`'s `DEFAULT_ISA`, what the harts implement). */
  isa?: string
  /**
   * The widest paging mode the harts offer (and the device tree's `mmu-type`): `sv48` (default;
   * every address fits a JS number, the fast paths apply) or `sv57` (`HartOptions.sv57`).
   */
  mmu?: 'sv48' | 'sv57'
  /** Offer the hypervisor extension on every hart (`HartOptions.hypervisor`; default false), for honk's `vm`. */
  hypervisor?: boolean
  /** The harts' compiled tier (`HartOptions.tier`; default `block`). */
  tier?: HartOptions['tier']
  /**
   * Called when a hart stops at one of its breakpoints (honk mode's shim stops there to hand a
   * trap or an arrival to the TypeScript kernel). Runs between slices; may change the hart's state.
   */
  onBreakpoint?: (hart: Hart) => void
  /** More virtio devices (e.g. honk-virt's `-device virtio-gpu-device`, input devices), in the slots after the ones above. */
  devices?: readonly VirtioDevice[]
  /**
   * PCI functions on the PCIe host's bus 0 (honk-virt's `-device virtio-blk-pci`, `nvme`…), in
   * slots 1, 2, … (00.0 is the host bridge, as on QEMU). Each factory gets the DMA target.
   */
  pci?: readonly PciFactory[]
  /**
   * RAM in a `SharedArrayBuffer` (default false), so harts in Workers can share it: what
   * `ParallelMachine` (parallel.ts, issue #18) builds its board with. This board's own loop runs
   * the same either way.
   */
  sharedMemory?: boolean
}

/** Builds one PCI function for the board: DMA goes to `memory`; `entropy` is the run's (seeded or not). */
export type PciFactory = (ctx: { memory: GuestMemory; entropy?: RandomSource }) => PciFunction

/** Nanoseconds per `mtime` tick. */
const NS_PER_TICK = BigInt(1_000_000_000 / VIRT_TIMEBASE_HZ)

/** The RTC's time at power-on in a seeded run (`MachineConfig.seed`): 2024-01-01T00:00:00Z, in ns. */
export const SEEDED_RTC_START = 1_704_067_200_000_000_000n

/**
 * A deterministic byte source for a seeded run: sfc32 (Chris Doty-Humphrey's small fast
 * counting generator, 128 bits of state) started from `seed`. Not for secrets.
 */
export function seededRandom(seed: number): RandomSource {
  let a = 0x9e3779b9 | 0
  let b = 0x243f6a88 | 0
  let c = 0xb7e15162 | 0
  let d = seed | 0
  const hi = Math.floor(seed / 2 ** 32) | 0
  a ^= hi
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < 16; i++) next() // mix the seed in
  return (buf) => {
    for (let i = 0; i < buf.length; i += 4) {
      const w = next()
      for (let k = 0; k < 4 && i + k < buf.length; k++) buf[i + k] = (w >>> (8 * k)) & 0xff
    }
  }
}

/**
 * An unpopulated virtio-mmio slot: like QEMU, the transport answers with DeviceID 0 ("no
 * device", virtio 1.2 §4.2.2) so a driver probing every slot the device tree lists skips it.
 */
class EmptyVirtioSlot implements MmioDevice {
  readonly name = 'virtio-mmio:empty'
  readonly size = VIRT_MAP.virtio.size
  read(offset: number, size: AccessSize): bigint {
    if (size !== 4) return 0n
    if (offset === MMIO.MagicValue) return BigInt(VIRTIO_MMIO_MAGIC)
    if (offset === MMIO.Version) return BigInt(VIRTIO_MMIO_VERSION)
    if (offset === MMIO.VendorID) return BigInt(VIRTIO_VENDOR_HONK)
    return 0n
  }
  write(): void {}
}

/** A wake-up signal for the idle loop: resolves early when a device raises an interrupt. */
class Waker {
  private resolve: (() => void) | undefined
  wake(): void {
    this.resolve?.()
    this.resolve = undefined
  }
  wait(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.resolve = undefined
        r()
      }, ms)
      this.resolve = () => {
        clearTimeout(t)
        r()
      }
    })
  }
}

export class VirtMachine {
  readonly bus: Bus
  readonly harts: Hart[] = []
  readonly clint: Clint
  readonly plic: Plic
  readonly uart: Ns16550a
  readonly rtc: GoldfishRtc
  readonly virtio: VirtioMmio[] = []
  /** QEMU virt's generic ECAM PCIe host and what is plugged into it. */
  readonly pcie: PcieHost
  readonly firmware: Firmware | undefined
  /** Harts that execute (HSM: started); stopped harts are skipped by the loop. */
  readonly running: boolean[]
  /** Instructions retired by all harts since construction. */
  executed = 0
  private exit: MachineExit | undefined
  private readonly waker = new Waker()
  /** SBI timer compare values (builtin SBI), per hart. */
  private readonly sbiTimer: bigint[]
  private readonly ramEnd: number
  private sbiConsoleInput = false
  /** Harts started through SBI HSM that have not executed yet (HSM START_PENDING, SBI 2.0 §9.1). */
  private readonly startPending = new Set<number>()
  private readonly sbiInput: number[] = []
  /** The guest's entropy: seeded (`MachineConfig.seed`) or the host's. */
  private readonly entropy: RandomSource | undefined

  constructor(readonly config: MachineConfig) {
    if (!Number.isInteger(config.harts) || config.harts < 1 || config.harts > 8) throw new RangeError(`harts must be 1..8, not ${config.harts}`)
    if (config.memory % (2 << 20) !== 0 || config.memory < 16 << 20) throw new RangeError(`memory must be a multiple of 2 MiB and at least 16 MiB, not ${config.memory}`)
    this.bus = new Bus({ ramBase: VIRT_MAP.ram.base, ramSize: config.memory, wasmHarts: config.harts, ...(config.sharedMemory === true ? { buffer: new SharedArrayBuffer(config.memory) } : {}) })
    this.ramEnd = VIRT_MAP.ram.base + config.memory
    if (config.seed !== undefined) {
      if (!Number.isSafeInteger(config.seed)) throw new RangeError(`seed must be an integer, not ${config.seed}`)
      if ((config.clock ?? 'virtual') !== 'virtual') throw new RangeError('a seeded (reproducible) run needs the virtual clock, not realtime')
      this.entropy = seededRandom(config.seed)
    }
    this.clint = new Clint(this.harts, config.harts, (config.clock ?? 'virtual') === 'virtual' ? 'instret' : 'realtime')
    for (let i = 0; i < config.harts; i++) {
      const hart = new Hart({ hartId: i, bus: this.bus, clock: this.clint, sv57: config.mmu === 'sv57', hypervisor: config.hypervisor ?? false, ...(config.tier !== undefined ? { tier: config.tier } : {}) })
      // The harts take turns on this thread: one that only waits (a WFI that cannot sleep, a spin on
      // a flag) passes the turn on (`Hart.idleYields`).
      hart.idleYields = config.harts > 1
      this.harts.push(hart)
    }
    this.running = this.harts.map(() => config.bios !== 'builtin')
    this.sbiTimer = this.harts.map(() => (1n << 64n) - 1n)
    this.bus.map(VIRT_MAP.clint.base, this.clint)
    this.plic = new Plic({
      contexts: 2 * config.harts,
      onContext: (ctx, level) => {
        // Context 2h: hart h's M-mode external interrupt; 2h+1: its S-mode one.
        this.harts[ctx >> 1]!.setIrq(VIRT_PLIC_CONTEXT_IRQS[ctx & 1]!, level)
        if (level) this.waker.wake()
      },
    })
    this.bus.map(VIRT_MAP.plic.base, this.plic)
    this.uart = new Ns16550a({ irq: this.plic.line(VIRT_IRQ.uart), transmit: config.consoleOut })
    this.bus.map(VIRT_MAP.uart.base, this.uart)
    this.bus.map(VIRT_MAP.test.base, new SifiveTest((e) => this.syscon(e)))
    // Seeded: the RTC is the virtual clock (10 MHz ticks = 100 ns) from a fixed start.
    this.rtc = new GoldfishRtc(config.seed === undefined ? { irq: this.plic.line(VIRT_IRQ.rtc) } : { irq: this.plic.line(VIRT_IRQ.rtc), clock: () => SEEDED_RTC_START + this.clint.mtime() * NS_PER_TICK, timer: 'manual' })
    this.bus.map(VIRT_MAP.rtc.base, this.rtc)

    const memory = busMemory(this.bus)
    const devices: VirtioDevice[] = []
    for (const [i, d] of (config.drives ?? []).entries()) devices.push(new VirtioBlk(d, { serial: `honk-disk${i}`, readOnly: config.readOnlyDrives?.includes(i) ?? false }))
    if (config.net) devices.push(new VirtioNet(config.net, config.netMac !== undefined ? { mac: config.netMac } : {}))
    if (config.rng ?? true) devices.push(new VirtioRng(this.entropy ? { source: this.entropy } : {}))
    if (config.share) devices.push(new VirtioP9(config.share.tag, config.share.handler))
    devices.push(...(config.devices ?? []))
    if (devices.length > VIRT_MAP.virtio.count) throw new RangeError(`${devices.length} virtio devices do not fit in ${VIRT_MAP.virtio.count} slots`)
    // QEMU fills the slots from the last one down, so the first device sits at the highest address;
    // we fill from slot 0 up (the guest enumerates by the device tree either way).
    devices.forEach((d, i) => {
      const mmio = new VirtioMmio(d, { memory, irq: this.plic.line(VIRT_IRQ.virtio0 + i) })
      this.virtio.push(mmio)
      this.bus.map(virtioSlotBase(i), mmio)
    })
    for (let i = devices.length; i < VIRT_MAP.virtio.count; i++) this.bus.map(virtioSlotBase(i), new EmptyVirtioSlot())

    // PCIe: ECAM, the I/O window and both memory windows, INTA..INTD on PLIC sources 32..35.
    this.pcie = new PcieHost({
      plicLine: (id) => {
        const line = this.plic.line(id)
        return { set: (level) => (line.set(level), level && this.waker.wake()) }
      },
    })
    for (const make of config.pci ?? []) this.pcie.plug(this.pcie.freeSlot(), make({ memory, ...(this.entropy ? { entropy: this.entropy } : {}) }))
    this.bus.map(VIRT_MAP.pcieEcam.base, this.pcie.ecam)
    this.bus.map(VIRT_MAP.pciePio.base, this.pcie.pio)
    this.bus.map(VIRT_MAP.pcieMmio.base, this.pcie.window('pcie-mmio32', VIRT_MAP.pcieMmio.base, VIRT_MAP.pcieMmio.size))
    this.bus.map(VIRT_MAP.pcieMmioHigh.base, this.pcie.window('pcie-mmio64', VIRT_MAP.pcieMmioHigh.base, VIRT_MAP.pcieMmioHigh.size))

    if (config.bios === 'builtin') this.firmware = new Firmware(this.sbiPlatform(), { startedHarts: [0] })
  }

  /** The flattened device tree for this configuration (initrd, if any, already placed). */
  deviceTree(initrd?: { start: number; end: number }): Uint8Array {
    return buildFdt(
      virtDeviceTree({
        harts: this.config.harts,
        ramBase: BigInt(VIRT_MAP.ram.base),
        ramSize: BigInt(this.config.memory),
        ...(this.config.isa !== undefined ? { isa: this.config.isa } : {}), // default: DEFAULT_ISA, what the harts implement
        mmuType: `riscv,${this.config.mmu ?? 'sv48'}`,
        ...(this.config.bootargs !== undefined ? { bootargs: this.config.bootargs } : {}),
        ...(initrd ? { initrd: { start: BigInt(initrd.start), end: BigInt(initrd.end) } } : {}),
        rngSeed: ((b) => (this.entropy ? this.entropy(b) : crypto.getRandomValues(b), b))(new Uint8Array(32)),
      }),
    )
  }

  /**
   * Puts the harts in their reset state for a payload at `entry` with the device tree at `dtb`:
   * firmware/none — every hart in M-mode at `entry` with a0 = hartid, a1 = dtb (what QEMU's
   * reset vector does); builtin — hart 0 in S-mode at `entry` (a0 = 0, a1 = dtb), the others
   * stopped until SBI HSM starts them.
   */
  reset(entry: number, dtb: number): void {
    for (const h of this.harts) {
      h.pc = entry
      h.setX(10, BigInt(h.hartId))
      h.setX(11, BigInt(dtb))
      if (this.config.bios === 'builtin') this.enterSupervisor(h)
    }
    this.running.fill(this.config.bios !== 'builtin')
    if (this.config.bios === 'builtin') this.running[0] = true
  }

  /** What M-mode firmware sets up before it drops a hart into S-mode: the TS SBI's hand-off (counters, menvcfg, delegation…). */
  private enterSupervisor(h: Hart): void {
    const fw = this.firmware
    if (fw) {
      fw.enterSupervisor(h)
      h.onEcall = (hart) => {
        const out = fw.ecall(hart)
        if (out.kind === 'trap') return false
        if (out.kind === 'noreturn') hart.requestYield()
        return true
      }
    }
  }

  private sbiPlatform(): SbiPlatform {
    const inRam = (addr: bigint, length: bigint) => addr >= BigInt(VIRT_MAP.ram.base) && addr + length <= BigInt(this.ramEnd) && length >= 0n
    return {
      hartCount: this.config.harts,
      consolePutchar: (b) => this.config.consoleOut(b),
      consoleGetchar: () => {
        // From the first SBI console read on, host input goes to the SBI console instead of the UART.
        this.sbiConsoleInput = true
        return this.sbiInput.shift() ?? -1
      },
      isAccessible: (addr, length) => inRam(addr, length),
      readPhysical: (addr, length) => {
        const o = Number(addr) - VIRT_MAP.ram.base
        return this.bus.ram.slice(o, o + length)
      },
      writePhysical: (addr, data) => this.bus.ram.set(data, Number(addr) - VIRT_MAP.ram.base),
      setTimer: (hartId, value) => {
        this.sbiTimer[hartId] = value
        this.harts[hartId]!.setSoftIrq(IRQ.STI, this.clint.mtime() >= value)
      },
      sendIpi: (ids) => {
        for (const i of ids) this.harts[i]!.setSoftIrq(IRQ.SSI, true)
        this.waker.wake()
      },
      clearIpi: (id) => {
        const was = this.harts[id]!.softIrq(IRQ.SSI)
        this.harts[id]!.setSoftIrq(IRQ.SSI, false)
        return was
      },
      remoteFenceI: (ids) => ids.forEach((i) => this.harts[i]!.flushDecodedInstructions()),
      remoteSfenceVma: (ids) => ids.forEach((i) => this.harts[i]!.flushTranslations()),
      hartStart: (id, start, opaque) => {
        const h = this.harts[id]!
        h.pc = Number(BigInt.asIntN(64, start))
        h.setX(10, BigInt(id))
        h.setX(11, opaque)
        this.enterSupervisor(h)
        h.waiting = false
        this.running[id] = true
        this.startPending.add(id)
      },
      hartStop: (id) => {
        this.running[id] = false
      },
      hartSuspend: () => {
        // Retentive suspend = WFI: the loop parks the hart until an interrupt is pending.
      },
      systemReset: (type) => {
        this.exit = type === 0 ? { reason: 'poweroff', code: 0 } : { reason: 'reset' }
        for (const h of this.harts) h.requestYield()
        this.waker.wake()
      },
    }
  }

  private syscon(e: SysconEvent): void {
    this.exit = e.reason === 'reset' ? { reason: 'reset' } : { reason: 'poweroff', code: e.code }
    for (const h of this.harts) h.requestYield()
    this.waker.wake()
  }

  /** True once the guest asked for a poweroff or reset (or `stop()` was called) in this run. */
  get stopping(): boolean {
    return this.exit !== undefined
  }

  /** How the guest ended this run (a poweroff or reset it asked for, or `stop()`), once it has. */
  get exitStatus(): MachineExit | undefined {
    return this.exit
  }

  /** Whether the guest reads console input through the SBI (legacy getchar) instead of the UART. */
  get sbiConsole(): boolean {
    return this.sbiConsoleInput
  }

  /** Console input from the host. */
  input(bytes: Uint8Array | string): void {
    if (this.sbiConsoleInput) this.sbiInput.push(...(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes))
    else this.uart.push(bytes)
    this.waker.wake()
  }

  /** Stops `run()` at the next slice boundary. */
  stop(): void {
    this.exit ??= { reason: 'stopped' }
    this.waker.wake()
  }

  /** Drives the timer lines: CLINT (M-mode firmware) and the SBI timer (builtin SBI). */
  private updateTimers(): void {
    this.clint.update()
    if (this.config.seed !== undefined) this.rtc.update()
    if (this.firmware) {
      const now = this.clint.mtime()
      this.harts.forEach((h, i) => {
        if (now >= this.sbiTimer[i]!) h.setSoftIrq(IRQ.STI, true)
      })
    }
  }

  /**
   * Ticks (10 MHz) until the earliest timer deadline ahead, or undefined when none is. Deadlines
   * already passed are pending interrupts, not events to wait for (see `Clint.nextDeadline`).
   */
  private ticksToNextTimer(): bigint | undefined {
    const now = this.clint.mtime()
    let next = this.clint.nextDeadline(now)
    for (const t of this.sbiDeadlines()) if (t > now && t < next) next = t
    if (next === (1n << 64n) - 1n) return undefined
    return next - now
  }

  /** The builtin SBI's timers (none under real firmware). */
  private sbiDeadlines(): bigint[] {
    return this.firmware ? this.sbiTimer : []
  }

  /** Whether every running hart still sleeps in WFI (no enabled interrupt pending on any). */
  private allAsleep(): boolean {
    return this.harts.every((h, i) => !this.running[i] || h.asleep)
  }

  /**
   * Runs until the guest powers off or resets, `stop()` is called, or `limit` instructions have
   * retired. Yields to the host event loop between slices, so devices complete I/O and input
   * arrives; sleeps while every hart waits for an interrupt.
   */
  async run(options: { slice?: number; limit?: number } = {}): Promise<MachineExit> {
    const slice = options.slice ?? 20_000
    const limit = options.limit ?? Infinity
    let sinceYield = 0
    this.exit = undefined
    while (this.exit === undefined) {
      let progressed = false
      for (let i = 0; i < this.harts.length && this.exit === undefined; i++) {
        if (!this.running[i]) continue
        const h = this.harts[i]!
        this.updateTimers()
        let r: RunResult
        try {
          r = h.run(slice)
        } catch (e) {
          this.exit = { reason: 'error', message: `hart ${i} at pc 0x${BigInt.asUintN(64, BigInt(h.pc)).toString(16)}: ${(e as Error).message}` }
          break
        }
        this.executed += r.executed
        sinceYield += r.executed
        if (r.executed > 0) {
          progressed = true
          if (this.startPending.delete(i)) this.firmware?.hartRunning(i)
        }
        if (r.reason === 'error') this.exit = { reason: 'error', message: r.message ?? 'hart error' }
        if (r.reason === 'breakpoint' && this.config.onBreakpoint) {
          try {
            this.config.onBreakpoint(h)
          } catch (e) {
            // A poweroff requested from inside the handler has already set the exit.
            this.exit ??= { reason: 'error', message: `hart ${i} breakpoint handler: ${(e as Error).message}` }
          }
          progressed = true
        }
        if (this.firmware && h.privilege === 3) {
          this.exit = { reason: 'error', message: `hart ${i} trapped to M-mode, where no firmware runs (mcause ${h.getCsr(CSR.mcause)}, mepc 0x${h.getCsr(CSR.mepc).toString(16)}, mtval 0x${h.getCsr(CSR.mtval).toString(16)})` }
        }
      }
      if (this.exit !== undefined) break
      if (this.executed >= limit) return { reason: 'stopped' }
      if (!progressed) {
        // Every running hart waits for an interrupt: sleep until the next timer or a device event.
        const ticks = this.ticksToNextTimer()
        if ((this.config.clock ?? 'virtual') === 'virtual') {
          // Let pending I/O complete (a device interrupt wakes us early), then skip time to the
          // next deadline ahead — never past it (Clint.skipToNextDeadline) — unless an interrupt
          // arrived meanwhile. Seeded: only finished work gets in (one turn of the host's event
          // loop, no host time), so the skip happens at the same instruction every run.
          if (this.config.seed !== undefined && ticks !== undefined) await new Promise<void>((r) => setImmediate(r))
          else await this.waker.wait(ticks === undefined ? 50 : 1)
          if (this.allAsleep()) this.clint.skipToNextDeadline(this.sbiDeadlines())
        } else {
          const ms = ticks === undefined ? 50 : Math.min(50, Number(ticks) / (VIRT_TIMEBASE_HZ / 1000))
          if (ms > 0.05) await this.waker.wait(ms)
        }
        this.updateTimers()
        sinceYield = 0
      } else if (sinceYield >= 200_000) {
        await new Promise<void>((r) => setImmediate(r))
        sinceYield = 0
      }
    }
    return this.exit
  }
}
