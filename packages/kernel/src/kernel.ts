/**
 * honk's kernel (DESIGN §3, honk mode): TypeScript at the HS level. It boots in the Go honk's
 * order (inventory §1.10.1), printing its lines (§2.1): banner; the device tree read from guest
 * RAM; secondary harts started through SBI HSM; the UART console with interrupt-driven input;
 * the virtio-blk driver (interrupts through the PLIC) split into A/B image slots and the KV
 * region; the verified core; the 9P host share through the virtio-9p driver; the overlay; init
 * (PID 1); the shell.
 */
import type { BlockDevice } from '@honk/block'
import type { Anchor } from '@honk/image'
import { mount, virtioMountTag, virtioTransport } from '@honk/p9'
import { HartThreads, ProcessTable, type HartThreadFactory, type WasmWorkerFactory } from '@honk/proc'
import { CAUSE, CSR, FINISHER, IRQ, SSTATUS, VIRT_TIMEBASE_HZ, irqMask } from '@honk/riscv'
import type { FS } from '@honk/vfs'
import { BumpAllocator, DEVICE_ID, NvmeDisk, P9_F_MOUNT_TAG, VirtioMmioDriver, openVirtioBlk, openVirtioNet, pciPlaceBar, pciScan, type RegisterWindow } from '@honk/virtio'
import { HTTP_PORT, Network, type HttpService } from './network.js'
import { initDisplay, type Display } from './display.js'
import { InterruptSignal, PlicDriver } from './plic.js'
import { readDeviceTree, type Platform } from './platform.js'
import { MachineStopping, type HsPort, type SupervisorTrap } from './port.js'
import { Sbi } from './sbi.js'
import type { KernelHypervisor, MountedRoot, ProcServices, ShellHost, Storage } from './services.js'
import { BUILTIN_COMMANDS, Shell, goDuration, type ShellCommand } from './shell.js'
import { bringUpStorage } from './storage.js'
import { UartConsole } from './uart.js'

export interface KernelOptions {
  /** The factory core image embedded in the kernel (the last resort of slot selection). */
  readonly factory: Uint8Array
  /** Verifies core images: the signing key and the rollback floor. */
  readonly anchor: Anchor
  /** Called with each line printed before the UART console is up and after (for logs); optional. */
  readonly onPowerOff?: () => void
  /** Serves honk's HTTP routes on :80 (on Node: `nodeHttpService` of `@honk/kernel/node`); absent: no HTTP server. */
  readonly http?: HttpService
  /** Workers for WebAssembly processes (on Node: `nodeWasmWorkers()` of `@honk/proc/node`); absent: `wasm` says the runtime is unavailable. */
  readonly wasm?: WasmWorkerFactory
  /**
   * Threads for the secondary harts' share of the kernel's CPU work, one per hart (on Node:
   * `nodeKernelThreads()` of `@honk/kernel/node`); absent: all of it runs on the kernel's event loop.
   */
  readonly threads?: HartThreadFactory
  /** Shell commands added to the built-in ones (a subsystem's commands, as modules). */
  readonly commands?: readonly ShellCommand[]
  /** How long the boot waits for a DHCP lease before the static configuration (default 3 s). */
  readonly dhcpWaitMs?: number
}

const SIE_SSIE = irqMask(IRQ.SSI)
const SIE_SEIE = irqMask(IRQ.SEI)
const SSTATUS_SIE = SSTATUS.SIE
/** Short names of virtio device IDs, for the probe line. */
const DEVICE_NAME: Readonly<Record<number, string>> = { [DEVICE_ID.NET]: 'net', [DEVICE_ID.BLOCK]: 'blk', [DEVICE_ID.CONSOLE]: 'console', [DEVICE_ID.ENTROPY]: 'rng', [DEVICE_ID.P9]: '9p', [DEVICE_ID.GPU]: 'gpu', [DEVICE_ID.INPUT]: 'input' }

export const BANNER = [
  '',
  '     __       honk',
  '  __( o)>     TypeScript RISC-V64 OS',
  '  \\ <_ )      HS-level kernel on an emulated virt machine',
  '   `---\'',
]

/** `scause` exception codes (privileged spec §4.1.9, table 4.2). */
const EXCEPTION: Record<number, string> = {
  [CAUSE.MISALIGNED_FETCH]: 'instruction address misaligned', [CAUSE.FETCH_ACCESS]: 'instruction access fault', [CAUSE.ILLEGAL]: 'illegal instruction', [CAUSE.BREAKPOINT]: 'breakpoint',
  [CAUSE.MISALIGNED_LOAD]: 'load address misaligned', [CAUSE.LOAD_ACCESS]: 'load access fault', [CAUSE.MISALIGNED_STORE]: 'store address misaligned', [CAUSE.STORE_ACCESS]: 'store access fault',
  [CAUSE.ECALL_U]: 'environment call from U-mode', [CAUSE.FETCH_PAGE]: 'instruction page fault', [CAUSE.LOAD_PAGE]: 'load page fault', [CAUSE.STORE_PAGE]: 'store page fault',
}

/** Waits for `p` or `ms`, whichever comes first, leaving no timer behind. */
async function settleWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
}

const hex16 = (v: bigint) => '0x' + BigInt.asUintN(64, v).toString(16).padStart(16, '0')

export class Kernel {
  private sbi!: Sbi
  private platform!: Platform
  /** The device tree's virtio slots with the DeviceID each answers (undefined: empty), probed once. */
  private virtio: { base: number; irq: number; id: number | undefined }[] = []
  private plic: PlicDriver | undefined
  private console: UartConsole | undefined
  private readonly online = new Set<number>()
  private readonly ipiAnswered = new Set<number>()
  private arrival: (() => void) | undefined
  private ipiArrival: (() => void) | undefined
  private dma!: BumpAllocator
  private storage: Storage | undefined
  private network: Network | undefined
  private display: Display | undefined
  private root!: MountedRoot
  private bootTime = 0n
  private halted = false
  /** Set by the `fault` command until the trap arrives: nothing else is printed in between. */
  private faulting = false
  private procs!: ProcessTable<ProcServices>
  /** The secondary harts' threads (started on first use), when the host gave a factory. */
  private readonly threads: HartThreads | undefined

  constructor(
    private readonly port: HsPort,
    private readonly options: KernelOptions,
  ) {
    this.threads = options.threads ? new HartThreads(options.threads) : undefined
  }

  /** Console output: the UART once it is up, SBI putchar before. */
  private print(text: string): void {
    if (this.halted || this.faulting) return
    if (this.console) this.console.write(text)
    else this.sbi.print(text)
  }
  private line(text: string): void {
    this.print(text + '\n')
  }

  /** Boots to the shell and runs it until power-off. Never throws: a fatal error is printed and the machine powered off. */
  async boot(): Promise<void> {
    const hart = this.port.bootHart
    this.sbi = new Sbi(this.port, hart)
    this.port.attach({ trap: (t) => this.trap(t), hartArrived: (h) => this.hartArrived(h) })
    try {
      this.bootTime = this.port.csrRead(hart, CSR.time)
      this.line('honk: entered main')
      for (const l of BANNER) this.line(l)
      this.line(`honk: HS-mode boot ok  hart=${hart}  dtb=0x${this.port.dtbAddress.toString(16)}`)
      const { platform } = readDeviceTree(this.port.memory, this.port.dtbAddress)
      this.platform = platform
      const sbiVersion = this.sbi.specVersion()
      this.line(`honk: device tree  harts=${platform.harts.length}  ram=${platform.memory.size >> 20}MiB@0x${platform.memory.base.toString(16)}  timebase=${platform.timebase}Hz  virtio slots=${platform.virtio.length}  sbi=v${sbiVersion.major}.${sbiVersion.minor}`)
      this.dma = this.dmaRegion()
      await this.startHarts()
      const parallel = this.options.threads && this.online.size > 1 ? `; CPU work also on the other harts' own threads` : ''
      this.line(`honk: SMP up  harts=${this.online.size}  (started through SBI HSM; kernel tasks run on hart ${hart}'s event loop${parallel})`)
      this.initInterrupts()
      this.initConsole()
      this.virtio = platform.virtio.map((v) => ({ ...v, id: VirtioMmioDriver.probe(this.regs(v.base))?.deviceId }))
      this.line(this.probeLine())
      const blk = await this.initStorage()
      const host = await this.initShare()
      await this.mountFs(blk, host)
      await this.initNetwork()
      this.line(this.options.wasm ? 'honk: wasm runtime ready (V8 WebAssembly, WASI preview1)' : 'honk: wasm runtime unavailable (no worker factory on this host)')
      this.display = await initDisplay({
        slots: this.virtio, open: (base) => new VirtioMmioDriver(this.regs(base), this.port.memory, this.dma), enableIrq: (irq, h) => this.plic?.enable(irq, h),
        memory: this.port.memory, alloc: this.dma, line: (t) => this.line(t), print: (t) => this.print(t),
        status: () => ({ uptime: goDuration(((this.uptimeNs() + 500_000_000n) / 1_000_000_000n) * 1_000_000_000n), harts: this.online.size || 1, processes: this.procs?.count ?? 0, network: this.network?.describe() ?? 'no network device' }),
      })
      await this.smpCheck()
      this.procs = new ProcessTable<ProcServices>({ console: { write: (t: string) => this.print(t) }, fs: this.root.root, ...(this.storage ? { block: this.storage.device } : {}) })
      this.line('')
      this.line("honk: shell ready (type 'help')")
      await this.runShell()
    } catch (e) {
      if (e instanceof MachineStopping) return
      this.fatal(e)
    }
  }

  /** Prints the error and powers off (what the Go honk did for a missing core). */
  private fatal(e: unknown): void {
    try {
      this.line(`honk: FATAL ${(e as Error).message ?? String(e)}`)
      this.powerOffNow(0, true)
    } catch {
      // the machine is already stopping
    }
  }

  /** DMA buffers live in RAM above the shim (RAM + 4 MiB) and below the device tree. */
  private dmaRegion(): BumpAllocator {
    const base = this.platform.memory.base + (4 << 20)
    const end = Math.min(this.platform.memory.base + this.platform.memory.size, this.port.dtbAddress)
    const size = Math.min(32 << 20, end - base)
    if (size < 4 << 20) throw new Error(`only ${size} bytes of RAM between 0x${base.toString(16)} and the device tree for DMA`)
    return new BumpAllocator(base, size)
  }

  private async startHarts(): Promise<void> {
    const boot = this.port.bootHart
    this.online.add(boot)
    const others = this.platform.harts.filter((h) => h !== boot && this.sbi.hartStatus(h) === 'stopped')
    const arrived = new Promise<void>((resolve) => {
      this.arrival = () => {
        if (others.every((h) => this.online.has(h))) resolve()
      }
      this.arrival()
    })
    for (const h of others) this.sbi.hartStart(h, this.port.secondaryEntry, BigInt(h))
    await settleWithin(arrived, 5000)
    for (const h of others) if (!this.online.has(h)) this.line(`honk: hart ${h} did not arrive after hart_start (status ${this.sbi.hartStatus(h) ?? 'unknown'})`)
  }

  /** A secondary hart reached the kernel entry: it idles in wfi with software interrupts (IPIs) enabled. */
  private hartArrived(hart: number): void {
    this.port.csrWrite(hart, CSR.sie, SIE_SSIE)
    this.port.csrWrite(hart, CSR.sstatus, this.port.csrRead(hart, CSR.sstatus) | SSTATUS_SIE)
    this.online.add(hart)
    this.arrival?.()
  }

  private initInterrupts(): void {
    const hart = this.port.bootHart
    const p = this.platform.plic
    const context = p?.sContext.get(hart)
    if (p && context !== undefined) this.plic = new PlicDriver(this.port, p.base, context)
    this.port.csrWrite(hart, CSR.sie, SIE_SEIE | SIE_SSIE)
    this.port.csrWrite(hart, CSR.sstatus, this.port.csrRead(hart, CSR.sstatus) | SSTATUS_SIE)
  }

  private initConsole(): void {
    const u = this.platform.uart
    if (!u || !this.plic) {
      this.line('honk: no UART or PLIC in the device tree; console output stays on SBI')
      return
    }
    const console = new UartConsole(this.port, u.base)
    this.plic.enable(u.irq, () => console.onInterrupt())
    this.console = console
    console.enableReceive()
  }

  /** What the device tree and the virtio transports show, in one line. */
  private probeLine(): string {
    const found: string[] = []
    let empty = 0
    for (const v of this.virtio) {
      if (v.id === undefined) empty++
      else found.push(`${DEVICE_NAME[v.id] ?? `id${v.id}`}@0x${v.base.toString(16)} irq ${v.irq}`)
    }
    const p = this.platform.plic
    const u = this.platform.uart
    const parts = [u ? `uart@0x${u.base.toString(16)} irq ${u.irq}` : 'no uart', p ? `plic@0x${p.base.toString(16)} S-context ${p.sContext.get(this.port.bootHart)}` : 'no plic', `virtio: ${found.length ? found.join(', ') : 'none'} (${empty} empty slots)`]
    return `honk: probed  ${parts.join('  ')}`
  }

  /** Every trap any hart takes lands here (between slices, synchronously). */
  private trap(t: SupervisorTrap): void {
    if (t.interrupt && t.code === IRQ.SEI) this.plic?.service()
    else if (t.interrupt && t.code === IRQ.SSI) {
      this.port.csrWrite(t.hart, CSR.sip, this.port.csrRead(t.hart, CSR.sip) & ~SIE_SSIE)
      this.ipiAnswered.add(t.hart)
      this.ipiArrival?.()
    } else if (!t.interrupt) {
      this.faulting = false
      this.line('')
      this.line(`honk: FATAL supervisor trap  (${EXCEPTION[t.code] ?? 'exception'} on hart ${t.hart})`)
      this.line(`  scause=${hex16(BigInt(t.code))}  sepc=${hex16(t.sepc)}  stval=${hex16(t.stval)}`)
      this.powerOffNow(0, true)
    }
  }

  private regs(base: number): RegisterWindow {
    return {
      read: (offset, size) => this.port.mmioRead(base + offset, size) ?? 0n,
      write: (offset, size, value) => void this.port.mmioWrite(base + offset, size, value),
    }
  }

  /** A device's interrupt, acknowledged in the handler (the line is level-triggered) and signalled to waiters. */
  private interruptFor(driver: VirtioMmioDriver, irq: number): InterruptSignal {
    const signal = new InterruptSignal()
    this.plic?.enable(irq, () => {
      driver.ackInterrupt()
      signal.signal()
    })
    return signal
  }

  /**
   * The state disk: an NVMe controller on the PCIe bus first (as the Go honk's M3 preferred it),
   * else virtio-blk. NVMe: BAR 0 placed in the host's 32-bit window, INTx from its interrupt-map,
   * completions reaped in the PLIC handler (which lowers the level-triggered line).
   */
  private async initNvme(): Promise<BlockDevice | undefined> {
    const pcie = this.platform.pcie
    if (!pcie) return undefined
    const ecam = this.regs(pcie.ecam.base)
    const fn = pciScan(ecam).find((f) => f.classCode === 0x01_08_02) // mass storage, NVM, NVMe
    if (!fn) return undefined
    const bar = pciPlaceBar(ecam, fn.slot, 0, { next: pcie.mmio32.base, end: pcie.mmio32.base + pcie.mmio32.size })
    const disk = new NvmeDisk({ regs: this.regs(bar), memory: this.port.memory, alloc: this.dma, name: `nvme@00:${fn.slot.toString(16).padStart(2, '0')}.0` })
    const irq = pcie.intx.get(((fn.slot & 3) << 3) | fn.interruptPin)
    if (irq === undefined) throw new Error(`no interrupt-map entry for PCI device ${fn.slot} INT${'?ABCD'[fn.interruptPin] ?? '?'}`)
    this.plic?.enable(irq, () => disk.handleInterrupt())
    await disk.init()
    this.line(`honk: storage = NVMe, ${disk.blockCount} blocks x ${disk.blockSize} bytes`)
    return disk
  }

  private async initStorage(): Promise<BlockDevice | undefined> {
    try {
      const nvme = await this.initNvme()
      if (nvme) return nvme
    } catch (e) {
      this.line(`honk: NVMe unavailable (${(e as Error).message}); trying virtio-blk`)
    }
    const slot = this.virtio.find((v) => v.id === DEVICE_ID.BLOCK)
    if (!slot) return undefined
    const driver = new VirtioMmioDriver(this.regs(slot.base), this.port.memory, this.dma)
    const irq = this.interruptFor(driver, slot.irq)
    const disk = await openVirtioBlk({ driver, memory: this.port.memory, alloc: this.dma, waitForInterrupt: () => irq.wait() })
    this.line(`honk: storage = virtio-blk, ${disk.blockCount} blocks x ${disk.blockSize} bytes`)
    return disk
  }

  private async initShare(): Promise<{ fs: FS; tag: string } | undefined> {
    const slot = this.virtio.find((v) => v.id === DEVICE_ID.P9)
    if (!slot) return undefined
    try {
      const driver = new VirtioMmioDriver(this.regs(slot.base), this.port.memory, this.dma)
      driver.init(P9_F_MOUNT_TAG) // the tag is in config space (§5.11.3)
      const queue = driver.setupQueue(0, 64)
      driver.driverOk()
      const tag = virtioMountTag(driver)
      const irq = this.interruptFor(driver, slot.irq)
      const fs = await mount(virtioTransport({ driver, queue, memory: this.port.memory, alloc: this.dma, waitForInterrupt: () => irq.wait(), slots: 4 }), { readOnly: true })
      this.line(`honk: host share mounted (9p, tag ${JSON.stringify(tag)})`)
      return { fs, tag }
    } catch (e) {
      this.line(`honk: host share unavailable: ${(e as Error).message}`)
      return undefined
    }
  }

  /** virtio-net → the stack, DHCP (static fallback) and the HTTP server (inventory §2.1 line 9). */
  private async initNetwork(): Promise<void> {
    const slot = this.virtio.find((v) => v.id === DEVICE_ID.NET)
    if (!slot) return this.line('honk: no network device')
    try {
      const driver = new VirtioMmioDriver(this.regs(slot.base), this.port.memory, this.dma)
      const nic = openVirtioNet({ driver, memory: this.port.memory, alloc: this.dma, name: `virtio-net@${slot.base.toString(16)}` })
      this.plic?.enable(slot.irq, () => nic.handleInterrupt())
      this.network = await Network.up({
        nic,
        line: (t) => this.line(t),
        fs: this.root.root,
        ...(this.options.http ? { http: this.options.http } : {}),
        ...(this.options.dhcpWaitMs !== undefined ? { dhcpWaitMs: this.options.dhcpWaitMs } : {}),
        status: () => ({ uptime: goDuration(((this.uptimeNs() + 500_000_000n) / 1_000_000_000n) * 1_000_000_000n), harts: this.online.size || 1 }),
      })
    } catch (e) {
      this.line(`honk: net init failed: ${(e as Error).message}`)
    }
  }

  /** Nanoseconds since boot, from the time CSR. */
  private uptimeNs(): bigint {
    const hart = this.port.bootHart
    return ((this.port.csrRead(hart, CSR.time) - this.bootTime) * 1_000_000_000n) / BigInt(this.platform.timebase || VIRT_TIMEBASE_HZ)
  }

  private async mountFs(disk: BlockDevice | undefined, host: { fs: FS; tag: string } | undefined): Promise<void> {
    const up = await bringUpStorage({ ...(disk ? { disk } : {}), ...(host ? { host } : {}), factory: this.options.factory, anchor: this.options.anchor, line: (t) => this.line(t) })
    this.root = up.root
    if (up.storage) this.storage = up.storage
  }

  /** Each secondary hart answers an IPI in its own trap handler: proof that it runs and takes interrupts. */
  private async smpCheck(): Promise<void> {
    const boot = this.port.bootHart
    const others = [...this.online].filter((h) => h !== boot)
    if (others.length === 0) {
      this.line(`honk: SMP single-hart - kernel tasks ran on [${boot}]`)
      return
    }
    const answered = new Promise<void>((resolve) => {
      this.ipiArrival = () => {
        if (others.every((h) => this.ipiAnswered.has(h))) resolve()
      }
    })
    this.sbi.sendIpi(others)
    await settleWithin(answered, 2000)
    const seen = [boot, ...others.filter((h) => this.ipiAnswered.has(h))].sort((a, b) => a - b)
    this.line(`honk: SMP OK - IPIs answered on ${seen.length}/${this.online.size} harts [${seen.join(' ')}]`)
  }

  private shellHost(): ShellHost {
    const hart = this.port.bootHart
    return {
      out: (text) => this.print(text),
      procs: this.procs,
      harts: () => ({ online: this.online.size, current: hart }),
      uptimeNs: () => this.uptimeNs(),
      memory: () => {
        const m = this.port.memoryStats()
        return { ramBytes: this.platform.memory.size, dmaBytesUsed: this.dma.used, heapUsedBytes: m.heapUsedBytes, heapTotalBytes: m.heapTotalBytes }
      },
      storage: this.storage,
      root: this.root,
      network: this.network,
      display: this.display,
      ...(this.options.wasm ? { wasm: { workers: this.options.wasm } } : {}),
      ...(this.threads ? { threads: { pool: this.threads, harts: () => [...this.online].sort((a, b) => a - b) } } : {}),
      powerOff: async () => {
        await this.root.close().catch(() => undefined)
        await this.threads?.close()
        this.powerOffNow()
      },
      reboot: async () => {
        await this.root.close().catch(() => undefined)
        await this.threads?.close()
        this.powerOffNow(1)
      },
      raiseFault: () => {
        this.faulting = true
        this.port.raiseBreakpoint(hart)
      },
      hypervisor: this.hypervisorFor(hart),
    }
  }

  /**
   * Guests' RAM: the larger free stretch of RAM around the device tree — between the DMA region
   * and the tree (the TypeScript SBI puts the tree at the top of RAM), or from 2 MiB past the tree
   * to the end of RAM (OpenSBI fw_jump puts it at RAM + 34 MiB). None when the harts have no
   * hypervisor extension or the stretch is under 8 MiB.
   */
  private hypervisorFor(hart: number): KernelHypervisor | undefined {
    const hv = this.port.hypervisor
    if (!hv) return undefined
    const ram = this.platform.memory
    const ramEnd = ram.base + ram.size
    const dtb = this.port.dtbAddress
    const dmaBase = ram.base + (4 << 20)
    const dmaEnd = dmaBase + Math.min(32 << 20, Math.min(ramEnd, dtb) - dmaBase) // as dmaRegion
    const MiB2 = 2 << 20
    const above = Math.ceil((dtb + (1 << 20)) / MiB2) * MiB2
    const [base, end] = dtb - dmaEnd >= ramEnd - above ? [dmaEnd, dtb] : [above, ramEnd]
    const size = end - base
    if (size < 8 << 20) return undefined
    const ticksPerMs = BigInt(this.platform.timebase || VIRT_TIMEBASE_HZ) / 1000n
    const http = this.options.http
    return {
      region: { base, bytes: hv.ram(base, size) },
      // Every online hart runs guests: the boot hart between the kernel's tasks, the others (idle in wfi otherwise) a slice at a time.
      harts: () => [...this.online].sort((a, b) => a - b),
      lendHart: (h, f) => hv.lendHart(h, f),
      now: () => this.port.csrRead(hart, CSR.time),
      sleep: (ticks, wake) =>
        new Promise<void>((resolve) => {
          if (wake?.aborted) return resolve()
          const done = () => {
            clearTimeout(timer)
            wake?.removeEventListener('abort', done)
            resolve()
          }
          const timer = setTimeout(done, Math.min(Number(ticks / ticksPerMs), 2 ** 31 - 1)) // setTimeout's longest delay
          wake?.addEventListener('abort', done, { once: true })
        }),
      uplink: () => this.network?.stack,
      serveHttp: http ? (stack) => http.serve(stack, HTTP_PORT, (r) => (this.network ? this.network.handle(r) : Promise.resolve({ status: 503, contentType: 'text/plain; charset=utf-8', body: 'honk has no network\n' }))) : undefined,
    }
  }

  private async runShell(): Promise<void> {
    const console = this.console
    const shell = new Shell(this.shellHost(), { commands: [...BUILTIN_COMMANDS, ...(this.options.commands ?? [])] })
    if (!console) {
      this.line('honk: no console input device; the shell is not started')
      return
    }
    await shell.serve(console.input)
  }

  /**
   * SRST shutdown (type 0) or cold reboot (type 1), SBI 2.0 §10. After a FATAL error (`failed`)
   * the machine is ended through the test device's FINISHER_FAIL with code 1 first: OpenSBI does
   * not pass SRST's "system failure" reason on, and a failure must not exit 0.
   */
  private powerOffNow(type: 0 | 1 = 0, failed = false): void {
    this.procs?.shutdown('power-off')
    void this.network?.close()
    this.display?.close()
    this.console?.input.close()
    this.options.onPowerOff?.()
    const finisher = this.platform?.finisher
    if (failed && finisher) this.port.mmioWrite(finisher.base, 4, BigInt(FINISHER.FAIL | (1 << 16)))
    try {
      this.sbi.systemReset(type)
    } catch (e) {
      if (!(e instanceof MachineStopping)) throw e
    }
    this.halted = true
  }
}
