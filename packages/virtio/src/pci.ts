/**
 * PCI Express on the `virt` board: a function's type-0 configuration space (BAR sizing, the
 * capabilities list, command/status, INTx), an MSI-X table, and QEMU virt's generic ECAM host
 * bridge (`pci-host-ecam-generic`) that routes config cycles, the memory windows and the INTx
 * lines (swizzled onto PLIC sources 32..35).
 *
 * Interrupts: the board has no MSI controller (no AIA/IMSIC), so the host's `interrupt-map`
 * routes INTx and that is what drivers use. Functions may still carry an MSI-X capability (table
 * and PBA present, as on QEMU); a message for an unmasked vector is what the spec says it is, a
 * DWORD memory write of the entry's data to its address — into RAM when the address is RAM, to
 * nowhere otherwise — since nothing on this board turns such a write into an interrupt.
 */
import type { AccessSize, MmioDevice } from '@honk/riscv'
import { PCI_BAR, PCI_CAP, PCI_CFG, PCI_COMMAND, PCI_CONFIG_SIZE, PCI_STATUS, PCI_VENDOR, VIRT_MAP, ecamDecode, pcieIntxIrq } from '@honk/riscv'
import { VirtioConfigError } from './errors.js'
import type { GuestMemory, IrqLine } from './memory.js'

/** One base address register: a power-of-2 memory region the guest places. */
export interface PciBar {
  /** Bytes decoded (a power of 2, at least 16). */
  readonly size: number
  /** `mem32` uses one BAR slot; `mem64` two (the next slot holds the high half). */
  readonly kind: 'mem32' | 'mem64'
  readonly prefetchable?: boolean
  /** The registers behind the BAR; offsets are relative to the BAR's address. */
  readonly region: MmioDevice
}

/** Identity of a function (the read-only part of the header). */
export interface PciIdentity {
  readonly vendorId: number
  readonly deviceId: number
  /** class << 16 | subclass << 8 | programming interface. */
  readonly classCode: number
  readonly revision?: number
  readonly subsystemVendorId?: number
  readonly subsystemId?: number
  /** 1 = INTA .. 4 = INTD; 0 = no interrupt pin. Default 1. */
  readonly interruptPin?: number
}

/** A read-modify-write of `size` little-endian bytes of `buf` at `off`. */
const getLe = (buf: Uint8Array, off: number, size: number): number => {
  let v = 0
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (buf[off + i] ?? 0)
  return v
}
const setLe = (buf: Uint8Array, off: number, size: number, v: number): void => {
  for (let i = 0; i < size; i++) buf[off + i] = Math.floor(v / 256 ** i) & 0xff
}

/**
 * A PCI function's configuration space and the plumbing every device model on the bus shares.
 * Device models declare BARs and capabilities when they build it. Guest writes only change the
 * bits the header marks writable; nothing the guest does makes it throw.
 */
export class PciFunction {
  readonly name: string
  /** The 4 KiB configuration space as the guest reads it. */
  readonly config = new Uint8Array(PCI_CONFIG_SIZE)
  /** Per byte: which bits a config write may change. */
  protected readonly writable = new Uint8Array(PCI_CONFIG_SIZE)
  readonly bars: (PciBar | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined]
  private lastCap = 0
  private nextCapOffset = 0x40
  private intxLevel = false
  private irq: IrqLine | undefined
  /** Called after every config write (capabilities with side effects hook in here). */
  onControlWrite: ((offset: number, size: number) => void) | undefined
  /** Called when the command register or a BAR changed (the host re-decodes its windows). */
  onDecodeChange: (() => void) | undefined

  constructor(name: string, id: PciIdentity, memory?: GuestMemory) {
    this.name = name
    setLe(this.config, PCI_CFG.VendorId, 2, id.vendorId)
    setLe(this.config, PCI_CFG.DeviceId, 2, id.deviceId)
    this.config[PCI_CFG.RevisionId] = id.revision ?? 0
    setLe(this.config, PCI_CFG.ClassProg, 3, id.classCode)
    setLe(this.config, PCI_CFG.SubsystemVendorId, 2, id.subsystemVendorId ?? id.vendorId)
    setLe(this.config, PCI_CFG.SubsystemId, 2, id.subsystemId ?? 0)
    this.config[PCI_CFG.InterruptPin] = id.interruptPin ?? 1
    // Writable: command (I/O, memory, bus master, INTx disable), cache line, latency, interrupt line.
    setLe(this.writable, PCI_CFG.Command, 2, PCI_COMMAND.IO | PCI_COMMAND.MEMORY | PCI_COMMAND.BUS_MASTER | PCI_COMMAND.INTX_DISABLE)
    this.writable[PCI_CFG.CacheLineSize] = 0xff
    this.writable[PCI_CFG.LatencyTimer] = 0xff
    this.writable[PCI_CFG.InterruptLine] = 0xff
    this.dma = memory ? this.busMasterMemory(memory) : undefined
  }

  /** DMA as this function sees it: nothing reaches RAM while Bus Master Enable is clear (PCI 3.0 §6.2.2). */
  readonly dma: GuestMemory | undefined

  private busMasterMemory(memory: GuestMemory): GuestMemory {
    return {
      contains: (a, n) => this.busMaster && memory.contains(a, n),
      read: (a, dst) => this.busMaster && memory.read(a, dst),
      write: (a, src) => this.busMaster && memory.write(a, src),
    }
  }

  /** Wires the function's INTx pin (the host does this when the function is plugged). */
  connectIrq(irq: IrqLine): void {
    this.irq = irq
    this.updateIntx()
  }

  get command(): number {
    return getLe(this.config, PCI_CFG.Command, 2)
  }
  get memoryEnabled(): boolean {
    return (this.command & PCI_COMMAND.MEMORY) !== 0
  }
  get busMaster(): boolean {
    return (this.command & PCI_COMMAND.BUS_MASTER) !== 0
  }

  /** Declares BAR `index` (a `mem64` BAR also takes `index + 1`). */
  defineBar(index: number, bar: PciBar): void {
    if (bar.size < 16 || (bar.size & (bar.size - 1)) !== 0 || bar.size > 2 ** 32) throw new VirtioConfigError(`${this.name}: BAR ${index} size ${bar.size} is not a power of 2 in 16..4 GiB`)
    if (index < 0 || index > (bar.kind === 'mem64' ? 4 : 5)) throw new VirtioConfigError(`${this.name}: BAR ${index} does not exist`)
    this.bars[index] = bar
    const off = PCI_CFG.Bar0 + 4 * index
    const flags = (bar.kind === 'mem64' ? PCI_BAR.MEM_TYPE_64 : 0) | (bar.prefetchable ? PCI_BAR.PREFETCH : 0)
    setLe(this.config, off, 4, flags)
    // BAR sizing (PCI 3.0 §6.2.5.1): the address bits below the size read back 0 after all-ones.
    setLe(this.writable, off, 4, (0x1_0000_0000 - bar.size) >>> 0)
    if (bar.kind === 'mem64') setLe(this.writable, off + 4, 4, 0xffff_ffff)
  }

  /** The guest-assigned address of BAR `index` (0 while unassigned). */
  barAddress(index: number): number {
    const bar = this.bars[index]
    if (!bar) return 0
    const off = PCI_CFG.Bar0 + 4 * index
    const lo = getLe(this.config, off, 4) & 0xffff_fff0
    const hi = bar.kind === 'mem64' ? getLe(this.config, off + 4, 4) : 0
    return hi * 0x1_0000_0000 + lo
  }

  /**
   * Appends a capability: `body` is everything after the ID and next pointer; `writableBody`
   * (same length) marks guest-writable bits. Returns the capability's config offset.
   */
  addCapability(id: number, body: Uint8Array, writableBody?: Uint8Array): number {
    const at = this.nextCapOffset
    if (at + 2 + body.length > 0x100) throw new VirtioConfigError(`${this.name}: capabilities overflow the 256-byte header`)
    this.config[at] = id
    this.config[at + 1] = 0
    this.config.set(body, at + 2)
    if (writableBody) this.writable.set(writableBody, at + 2)
    if (this.lastCap === 0) this.config[PCI_CFG.CapabilitiesPointer] = at
    else this.config[this.lastCap + 1] = at
    this.lastCap = at
    this.nextCapOffset = (at + 2 + body.length + 3) & ~3
    setLe(this.config, PCI_CFG.Status, 2, getLe(this.config, PCI_CFG.Status, 2) | PCI_STATUS.CAP_LIST)
    return at
  }

  /** A configuration read (any width; beyond the header reads 0). */
  readConfig(offset: number, size: AccessSize): number {
    if (size === 8 || offset % size !== 0 || offset + size > PCI_CONFIG_SIZE) return size === 8 ? 0 : 2 ** (8 * size) - 1
    this.beforeConfigRead(offset, size)
    return getLe(this.config, offset, size)
  }

  /** A configuration write: only writable bits change. */
  writeConfig(offset: number, size: AccessSize, value: number): void {
    if (size === 8 || offset % size !== 0 || offset + size > PCI_CONFIG_SIZE) return
    const before = this.command
    const barsBefore = this.config.slice(PCI_CFG.Bar0, PCI_CFG.Bar0 + 24)
    for (let i = 0; i < size; i++) {
      const o = offset + i
      const m = this.writable[o]!
      const b = Math.floor(value / 256 ** i) & 0xff
      this.config[o] = (this.config[o]! & ~m) | (b & m)
    }
    this.afterConfigWrite(offset, size)
    this.onControlWrite?.(offset, size)
    const barsChanged = barsBefore.some((b, i) => b !== this.config[PCI_CFG.Bar0 + i])
    if (barsChanged || this.command !== before) {
      this.updateIntx()
      this.onDecodeChange?.()
    }
  }

  /** Hooks for capabilities with side effects (virtio's PCI config window, MSI-X control). */
  protected beforeConfigRead(_offset: number, _size: number): void {}
  protected afterConfigWrite(_offset: number, _size: number): void {}

  /** Drives the INTx pin: status bit 3 follows it; the line only when INTx Disable is clear. */
  setIntx(level: boolean): void {
    this.intxLevel = level
    this.updateIntx()
  }

  private updateIntx(): void {
    const status = getLe(this.config, PCI_CFG.Status, 2)
    setLe(this.config, PCI_CFG.Status, 2, this.intxLevel ? status | PCI_STATUS.INTERRUPT : status & ~PCI_STATUS.INTERRUPT)
    this.irq?.set(this.intxLevel && !(this.command & PCI_COMMAND.INTX_DISABLE))
  }
}

/** MSI-X table entry layout (PCI 3.0 §6.8.2): address lo/hi, data, vector control (bit 0 = mask). */
const MSIX_ENTRY = 16

/**
 * An MSI-X table and pending-bit array living in one BAR region (table at 0, PBA at `pbaOffset`).
 * `signal(vector)` sends a message — a DWORD memory write — or sets the pending bit while the
 * vector or the function is masked; unmasking sends what is pending.
 */
export class MsixTable implements MmioDevice {
  readonly name: string
  readonly size: number
  readonly table: Uint8Array
  readonly pba: Uint8Array
  readonly pbaOffset: number
  /** Messages written (for tests and statistics). */
  sent = 0
  private control = () => 0

  constructor(
    owner: string,
    readonly vectors: number,
    private readonly memory: () => GuestMemory | undefined,
  ) {
    this.name = `${owner}:msix`
    this.table = new Uint8Array(vectors * MSIX_ENTRY)
    for (let v = 0; v < vectors; v++) this.table[v * MSIX_ENTRY + 12] = 1 // masked at reset
    this.pbaOffset = (this.table.length + 0x7ff) & ~0x7ff
    this.pba = new Uint8Array(Math.ceil(vectors / 64) * 8)
    let size = 0x1000
    while (size < this.pbaOffset + this.pba.length) size *= 2
    this.size = size
  }

  /** The capability's Message Control register reader (enable bit 15, function mask bit 14). */
  bindControl(read: () => number): void {
    this.control = read
  }

  get enabled(): boolean {
    return (this.control() & 0x8000) !== 0
  }

  /** Message Control bits for the capability: table size - 1. */
  get tableSizeField(): number {
    return this.vectors - 1
  }

  signal(vector: number): void {
    if (vector < 0 || vector >= this.vectors || !this.enabled) return
    const masked = (this.control() & 0x4000) !== 0 || (this.table[vector * MSIX_ENTRY + 12]! & 1) !== 0
    if (masked) {
      this.pba[vector >> 3]! |= 1 << (vector & 7)
      return
    }
    this.send(vector)
  }

  /** After a table write or a control change: pending vectors that are now unmasked fire. */
  flushPending(): void {
    if (!this.enabled || this.control() & 0x4000) return
    for (let v = 0; v < this.vectors; v++) {
      if (this.pba[v >> 3]! & (1 << (v & 7)) && !(this.table[v * MSIX_ENTRY + 12]! & 1)) {
        this.pba[v >> 3]! &= ~(1 << (v & 7))
        this.send(v)
      }
    }
  }

  private send(vector: number): void {
    const e = vector * MSIX_ENTRY
    const addr = getLe(this.table, e + 4, 4) * 0x1_0000_0000 + getLe(this.table, e, 4)
    const data = this.table.slice(e + 8, e + 12)
    this.sent++
    // No MSI controller decodes this address: RAM takes the write, anything else drops it.
    this.memory()?.write(addr, data)
  }

  read(offset: number, size: AccessSize): bigint {
    if (size !== 4 && size !== 8) return 0n
    if (offset + size <= this.table.length) return BigInt(getLe(this.table, offset, Math.min(size, 4))) | (size === 8 ? BigInt(getLe(this.table, offset + 4, 4)) << 32n : 0n)
    const p = offset - this.pbaOffset
    if (p >= 0 && p + size <= this.pba.length) return BigInt(getLe(this.pba, p, Math.min(size, 4))) | (size === 8 ? BigInt(getLe(this.pba, p + 4, 4)) << 32n : 0n)
    return 0n
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if ((size !== 4 && size !== 8) || offset + size > this.table.length) return
    setLe(this.table, offset, 4, Number(value & 0xffff_ffffn))
    if (size === 8) setLe(this.table, offset + 4, 4, Number((value >> 32n) & 0xffff_ffffn))
    this.table[offset - (offset % MSIX_ENTRY) + 12]! &= 1 // vector control: only the mask bit exists
    this.flushPending()
  }
}

/**
 * Adds an MSI-X capability pointing at `table` in BAR `bar` (table at offset 0, PBA after it).
 * Message Control's enable and function-mask bits are writable.
 */
export function addMsixCapability(fn: PciFunction, table: MsixTable, bar: number): number {
  const body = new Uint8Array(10)
  setLe(body, 0, 2, table.tableSizeField)
  setLe(body, 2, 4, bar) // table offset 0 | BIR
  setLe(body, 6, 4, table.pbaOffset | bar)
  const w = new Uint8Array(10)
  w[1] = 0xc0 // enable (bit 15), function mask (bit 14)
  const at = fn.addCapability(PCI_CAP.MSIX, body, w)
  table.bindControl(() => getLe(fn.config, at + 2, 2))
  // Enabling MSI-X or clearing the function mask sends what became pending meanwhile.
  const previous = fn.onControlWrite
  fn.onControlWrite = (offset, size) => {
    previous?.(offset, size)
    if (offset < at + 4 && offset + size > at + 2) table.flushPending()
  }
  return at
}

/** The QEMU PCIe host bridge function at 00.0 (Red Hat 1b36:0008, class 06.00: host bridge). */
export class PcieHostBridge extends PciFunction {
  constructor() {
    super('pcie-host-bridge', { vendorId: PCI_VENDOR.REDHAT_QEMU, deviceId: 0x0008, classCode: 0x06_00_00, subsystemVendorId: PCI_VENDOR.REDHAT_QEMU, subsystemId: 0x1100, interruptPin: 0 })
  }
}

export interface PcieHostOptions {
  /** PLIC source `id` as a line (the board passes `plic.line`). */
  readonly plicLine: (id: number) => IrqLine
  /** Adds the 00.0 host bridge function, as QEMU does (default true). */
  readonly hostBridge?: boolean
}

/** A CPU-visible window of PCI memory space: accesses go to the BAR that decodes the address. */
class PciWindow implements MmioDevice {
  constructor(
    readonly name: string,
    readonly base: number,
    readonly size: number,
    private readonly host: PcieHost,
  ) {}
  read(offset: number, size: AccessSize): bigint {
    const hit = this.host.decode(this.base + offset, size)
    // Master abort (nothing decodes the address): reads return all ones.
    return hit ? hit.region.read(hit.offset, size) : (1n << BigInt(8 * size)) - 1n
  }
  write(offset: number, size: AccessSize, value: bigint): void {
    const hit = this.host.decode(this.base + offset, size)
    hit?.region.write(hit.offset, size, value)
  }
}

interface Decoded {
  readonly base: number
  readonly end: number
  readonly region: MmioDevice
}

/**
 * QEMU virt's generic PCIe host (`pci-host-ecam-generic`): bus 0 only, 32 device slots of one
 * function each. `ecam` answers configuration cycles; `mmio32`/`mmio64` are the memory windows
 * (identity-mapped); `pio` is the I/O window (no function here has an I/O BAR: reads all ones).
 */
export class PcieHost {
  readonly slots: (PciFunction | undefined)[] = new Array<PciFunction | undefined>(32).fill(undefined)
  readonly ecam: MmioDevice
  readonly pio: MmioDevice
  private decoded: Decoded[] | undefined
  private readonly lineLevels = new Map<number, Set<number>>()

  constructor(private readonly options: PcieHostOptions) {
    const host = this
    this.ecam = {
      name: 'pcie-ecam',
      size: VIRT_MAP.pcieEcam.size,
      read(offset, size) {
        const { bus, device, fn, reg } = ecamDecode(offset)
        const f = bus === 0 && fn === 0 ? host.slots[device] : undefined
        // No function: the vendor ID (and everything) reads all ones (PCIe 4.0 §2.3.2, unsupported request).
        if (!f) return size === 8 ? (1n << 64n) - 1n : (1n << BigInt(8 * size)) - 1n
        if (size === 8) return BigInt(f.readConfig(reg, 4)) | (BigInt(f.readConfig(reg + 4, 4)) << 32n)
        return BigInt(f.readConfig(reg, size))
      },
      write(offset, size, value) {
        const { bus, device, fn, reg } = ecamDecode(offset)
        const f = bus === 0 && fn === 0 ? host.slots[device] : undefined
        if (!f) return
        if (size === 8) {
          f.writeConfig(reg, 4, Number(value & 0xffff_ffffn))
          f.writeConfig(reg + 4, 4, Number(value >> 32n))
        } else f.writeConfig(reg, size, Number(value))
      },
    }
    this.pio = { name: 'pcie-pio', size: VIRT_MAP.pciePio.size, read: (_o, size) => (1n << BigInt(8 * size)) - 1n, write() {} }
    if (options.hostBridge ?? true) this.plug(0, new PcieHostBridge())
  }

  /** A memory window at CPU (= PCI) address `base`. */
  window(name: string, base: number, size: number): MmioDevice {
    return new PciWindow(name, base, size, this)
  }

  /** Puts `fn` in device slot `slot` of bus 0 and wires its INTx pin through the swizzle. */
  plug(slot: number, fn: PciFunction): void {
    if (!Number.isInteger(slot) || slot < 0 || slot > 31) throw new VirtioConfigError(`PCI slot ${slot} is not in 0..31`)
    if (this.slots[slot]) throw new VirtioConfigError(`PCI slot ${slot} already holds ${this.slots[slot]!.name}`)
    this.slots[slot] = fn
    fn.onDecodeChange = () => (this.decoded = undefined)
    const pin = fn.config[PCI_CFG.InterruptPin]!
    if (pin >= 1 && pin <= 4) {
      const irq = pcieIntxIrq(slot, pin)
      fn.connectIrq({ set: (level) => this.setLine(irq, slot, level) })
    }
    this.decoded = undefined
  }

  /** The first free slot from 1 up (QEMU's order for `-device` without `addr=`). */
  freeSlot(): number {
    for (let s = 1; s < 32; s++) if (!this.slots[s]) return s
    throw new VirtioConfigError('all 31 PCI slots are in use')
  }

  /** INTx lines are shared (wired-OR): a PLIC source is high while any function on it asserts. */
  private setLine(irq: number, slot: number, level: boolean): void {
    let set = this.lineLevels.get(irq)
    if (!set) this.lineLevels.set(irq, (set = new Set()))
    const before = set.size > 0
    if (level) set.add(slot)
    else set.delete(slot)
    if (set.size > 0 !== before) this.options.plicLine(irq).set(set.size > 0)
  }

  /** The BAR region that decodes `[addr, addr + size)`, if memory decoding is on for it. */
  decode(addr: number, size: number): { region: MmioDevice; offset: number } | undefined {
    const table = (this.decoded ??= this.buildDecode())
    for (const d of table) if (addr >= d.base && addr + size <= d.end) return { region: d.region, offset: addr - d.base }
    return undefined
  }

  private buildDecode(): Decoded[] {
    const out: Decoded[] = []
    for (const f of this.slots) {
      if (!f?.memoryEnabled) continue
      f.bars.forEach((bar, i) => {
        const base = bar ? f.barAddress(i) : 0
        // An unassigned BAR (address 0) decodes nothing.
        if (bar && base !== 0) out.push({ base, end: base + bar.size, region: bar.region })
      })
    }
    return out
  }
}
