/**
 * The driver side of NVMe (NVMe 1.4) and of PCI enumeration, for honk's own kernel: scan bus 0
 * of an ECAM window, place a function's memory BARs, and an NVMe namespace as a `BlockDevice`
 * — admin queue, one I/O queue pair of depth > 1, PRP lists, completions reaped by
 * {@link NvmeDisk.handleInterrupt} (call it from the INTx handler: it consumes the completion
 * queues and rings their head doorbells, which lowers the level-triggered line).
 */
import { BlockClosedError, BlockIoError, checkRequest, type BlockDevice } from '@honk/block'
import { PCI_BAR, PCI_CFG, PCI_COMMAND, ecamOffset } from '@honk/riscv'
import type { DmaAllocator, RegisterWindow } from './driver.js'
import { VirtioDriverError } from './errors.js'
import type { GuestMemory } from './memory.js'
import { NVME_ADMIN, NVME_IO, NVME_REG } from './nvme.js'

/** A function found on bus 0. */
export interface PciProbe {
  readonly slot: number
  readonly vendorId: number
  readonly deviceId: number
  /** class << 16 | subclass << 8 | programming interface. */
  readonly classCode: number
  /** 1 = INTA .. 4 = INTD, 0 = none. */
  readonly interruptPin: number
}

/** The functions (function 0 of each device) on bus 0 of an ECAM window. */
export function pciScan(ecam: RegisterWindow): PciProbe[] {
  const out: PciProbe[] = []
  for (let slot = 0; slot < 32; slot++) {
    const id = Number(ecam.read(ecamOffset(0, slot, 0, 0), 4))
    if ((id & 0xffff) === 0xffff) continue
    const cls = Number(ecam.read(ecamOffset(0, slot, 0, PCI_CFG.RevisionId), 4)) >>> 8
    const pin = Number(ecam.read(ecamOffset(0, slot, 0, PCI_CFG.InterruptPin), 1))
    out.push({ slot, vendorId: id & 0xffff, deviceId: id >>> 16, classCode: cls, interruptPin: pin })
  }
  return out
}

/**
 * Sizes memory BAR `bar` of `slot` (all ones, read the mask: PCI 3.0 §6.2.5.1), places it at the
 * next `size`-aligned address of `window` (advancing it), enables memory decoding and bus
 * mastering, and returns the BAR's address.
 */
export function pciPlaceBar(ecam: RegisterWindow, slot: number, bar: number, window: { next: number; end: number }): number {
  const off = ecamOffset(0, slot, 0, PCI_CFG.Bar0 + 4 * bar)
  const orig = Number(ecam.read(off, 4))
  if (orig & PCI_BAR.IO) throw new VirtioDriverError(`PCI 00:${slot}.0 BAR ${bar} is an I/O BAR`)
  const is64 = (orig & 0b110) === PCI_BAR.MEM_TYPE_64
  ecam.write(off, 4, 0xffff_ffffn)
  const mask = (Number(ecam.read(off, 4)) & 0xffff_fff0) >>> 0
  if (mask === 0) throw new VirtioDriverError(`PCI 00:${slot}.0 BAR ${bar} is not implemented`)
  const size = 2 ** 32 - mask
  const base = Math.ceil(window.next / size) * size
  if (base + size > window.end) throw new VirtioDriverError(`PCI 00:${slot}.0 BAR ${bar} (${size} bytes) does not fit the memory window`)
  ecam.write(off, 4, BigInt(base))
  if (is64) ecam.write(off + 4, 4, 0n)
  window.next = base + size
  const cmd = ecamOffset(0, slot, 0, PCI_CFG.Command)
  ecam.write(cmd, 2, BigInt(Number(ecam.read(cmd, 2)) | PCI_COMMAND.MEMORY | PCI_COMMAND.BUS_MASTER))
  return base
}

/** A command the controller completed with a status other than success. */
export class NvmeStatusError extends BlockIoError {
  constructor(
    readonly device: string,
    readonly what: string,
    /** The 15-bit status field (SCT << 8 | SC, DNR at bit 14). */
    readonly status: number,
  ) {
    super(`${device}: ${what} failed with status 0x${status.toString(16)} (SCT ${(status >> 8) & 7}, SC 0x${(status & 0xff).toString(16)})`)
  }
}

export interface NvmeDriverOptions {
  /** BAR 0 (the controller's registers), placed and enabled. */
  readonly regs: RegisterWindow
  readonly memory: GuestMemory
  readonly alloc: DmaAllocator
  /** I/O queue entries (default 32); requests in flight at once: this - 1 (one slot stays empty). */
  readonly queueDepth?: number
  /** Largest transfer of one command in bytes (default 64 KiB; also capped by MDTS). */
  readonly maxRequestBytes?: number
  readonly name?: string
}

interface Queue {
  readonly sq: number
  readonly cq: number
  readonly size: number
  tail: number
  head: number
  phase: number
  readonly qid: number
}

interface Pending {
  resolve(result: number): void
  reject(e: Error): void
  what: string
}

const PAGE = 4096

/** Opens an NVMe controller's namespace 1. Wire `handleInterrupt` to its INTx line before awaiting `init()`. */
export class NvmeDisk implements BlockDevice {
  readonly name: string
  blockSize = 512
  blockCount = 0
  maxRequestBytes: number
  readonly queueDepth: number
  private readonly regs: RegisterWindow
  private readonly memory: GuestMemory
  private readonly alloc: DmaAllocator
  private admin!: Queue
  private io!: Queue
  private readonly pending = new Map<number, Pending>()
  private nextCid = 0
  private readonly slots: { data: number; list: number }[] = []
  private readonly slotWaiters: ((s: { data: number; list: number }) => void)[] = []
  private closed = false
  private readonly entry = new Uint8Array(64)

  constructor(options: NvmeDriverOptions) {
    this.name = options.name ?? 'nvme'
    this.regs = options.regs
    this.memory = options.memory
    this.alloc = options.alloc
    this.queueDepth = options.queueDepth ?? 32
    this.maxRequestBytes = options.maxRequestBytes ?? 64 * 1024
  }

  private r32(o: number): number {
    return Number(this.regs.read(o, 4))
  }

  /** §7.6.1: reset, admin queues, enable; Identify; one I/O queue pair. */
  async init(): Promise<void> {
    const cap = this.regs.read(NVME_REG.CAP, 8)
    const mqes = Number(cap & 0xffffn) + 1
    if (((cap >> 37n) & 1n) === 0n) throw new VirtioDriverError(`${this.name}: the controller does not support the NVM command set`)
    if (Number((cap >> 48n) & 0xfn) > 0) throw new VirtioDriverError(`${this.name}: the controller's smallest page is larger than 4 KiB`)
    this.regs.write(NVME_REG.CC, 4, 0n)
    await this.until(() => (this.r32(NVME_REG.CSTS) & 1) === 0, 'CSTS.RDY to clear')
    const adminSize = 8
    this.admin = this.queue(0, adminSize)
    this.regs.write(NVME_REG.AQA, 4, BigInt((adminSize - 1) | ((adminSize - 1) << 16)))
    this.regs.write(NVME_REG.ASQ, 8, BigInt(this.admin.sq))
    this.regs.write(NVME_REG.ACQ, 8, BigInt(this.admin.cq))
    this.regs.write(NVME_REG.CC, 4, BigInt(1 | (6 << 16) | (4 << 20)))
    await this.until(() => (this.r32(NVME_REG.CSTS) & 3) !== 0, 'CSTS.RDY')
    if (this.r32(NVME_REG.CSTS) & 2) throw new VirtioDriverError(`${this.name}: controller fatal status after enable`)

    const page = this.alloc.alloc(PAGE, PAGE)
    await this.command(this.admin, NVME_ADMIN.IDENTIFY, { prp1: page, dw10: 1 }, 'Identify controller')
    const id = new Uint8Array(PAGE)
    this.memory.read(page, id)
    const mdts = id[77]!
    if (mdts) this.maxRequestBytes = Math.min(this.maxRequestBytes, PAGE * 2 ** mdts)
    await this.command(this.admin, NVME_ADMIN.IDENTIFY, { prp1: page, dw10: 0, nsid: 1 }, 'Identify namespace 1')
    this.memory.read(page, id)
    const dv = new DataView(id.buffer)
    const lbaf = id[26]! & 0xf
    this.blockSize = 2 ** id[128 + 4 * lbaf + 2]!
    this.blockCount = Number(dv.getBigUint64(0, true))
    if (this.blockCount === 0) throw new VirtioDriverError(`${this.name}: namespace 1 is not active`)

    await this.command(this.admin, NVME_ADMIN.SET_FEATURES, { dw10: 0x07, dw11: 0 }, 'Set Features (number of queues)')
    const depth = Math.min(this.queueDepth, mqes)
    this.io = this.queue(1, depth)
    await this.command(this.admin, NVME_ADMIN.CREATE_CQ, { prp1: this.io.cq, dw10: 1 | ((depth - 1) << 16), dw11: 0b11 }, 'Create I/O CQ 1')
    await this.command(this.admin, NVME_ADMIN.CREATE_SQ, { prp1: this.io.sq, dw10: 1 | ((depth - 1) << 16), dw11: 1 | (1 << 16) }, 'Create I/O SQ 1')
    const slots = Math.max(1, depth - 1)
    for (let i = 0; i < slots; i++) this.slots.push({ data: this.alloc.alloc(this.maxRequestBytes, PAGE), list: this.alloc.alloc(PAGE, PAGE) })
  }

  private queue(qid: number, size: number): Queue {
    const sq = this.alloc.alloc(size * 64, PAGE)
    const cq = this.alloc.alloc(size * 16, PAGE)
    this.memory.write(cq, new Uint8Array(size * 16))
    return { qid, sq, cq, size, tail: 0, head: 0, phase: 1 }
  }

  /** Polls `ready` a bounded number of times (the emulated controller answers at once). */
  private async until(ready: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      if (ready()) return
      await new Promise<void>((r) => setTimeout(r, 1))
    }
    throw new VirtioDriverError(`${this.name}: timed out waiting for ${what}`)
  }

  /** Submits one command on `q` and resolves with DW0 of its completion. */
  private command(q: Queue, op: number, f: { nsid?: number; prp1?: number; prp2?: number; dw10?: number; dw11?: number; dw12?: number }, what: string): Promise<number> {
    const cid = this.nextCid
    this.nextCid = (this.nextCid + 1) & 0xffff
    const e = this.entry
    e.fill(0)
    const dv = new DataView(e.buffer)
    e[0] = op
    dv.setUint16(2, cid, true)
    dv.setUint32(4, f.nsid ?? 0, true)
    dv.setBigUint64(24, BigInt(f.prp1 ?? 0), true)
    dv.setBigUint64(32, BigInt(f.prp2 ?? 0), true)
    dv.setUint32(40, (f.dw10 ?? 0) >>> 0, true)
    dv.setUint32(44, (f.dw11 ?? 0) >>> 0, true)
    dv.setUint32(48, (f.dw12 ?? 0) >>> 0, true)
    const p = new Promise<number>((resolve, reject) => this.pending.set((q.qid << 16) | cid, { resolve, reject, what }))
    this.memory.write(q.sq + q.tail * 64, e)
    q.tail = (q.tail + 1) % q.size
    this.regs.write(NVME_REG.DOORBELL + 8 * q.qid, 4, BigInt(q.tail))
    // The controller may have completed it already (admin commands do, synchronously): reap now.
    this.handleInterrupt()
    return p
  }

  /** Consumes every new completion (admin and I/O) and rings the head doorbells. */
  handleInterrupt(): void {
    for (const q of [this.admin, this.io]) {
      if (!q) continue
      const e = new Uint8Array(16)
      let moved = false
      for (;;) {
        this.memory.read(q.cq + q.head * 16, e)
        const dv = new DataView(e.buffer)
        const sf = dv.getUint16(14, true)
        if ((sf & 1) !== q.phase) break
        const key = (dv.getUint16(10, true) << 16) | dv.getUint16(12, true)
        q.head = (q.head + 1) % q.size
        if (q.head === 0) q.phase ^= 1
        moved = true
        const p = this.pending.get(key)
        if (!p) continue
        this.pending.delete(key)
        const status = (sf >> 1) & 0x7fff
        if (status & 0x7ff) p.reject(new NvmeStatusError(this.name, p.what, status))
        else p.resolve(dv.getUint32(0, true))
      }
      if (moved) this.regs.write(NVME_REG.DOORBELL + 8 * q.qid + 4, 4, BigInt(q.head))
    }
  }

  private takeSlot(): Promise<{ data: number; list: number }> {
    const s = this.slots.pop()
    return s ? Promise.resolve(s) : new Promise((r) => this.slotWaiters.push(r))
  }

  private giveSlot(s: { data: number; list: number }): void {
    const w = this.slotWaiters.shift()
    if (w) w(s)
    else this.slots.push(s)
  }

  /** PRP1/PRP2 for `bytes` at the page-aligned slot buffer (a list when more than two pages). */
  private prps(slot: { data: number; list: number }, bytes: number): { prp1: number; prp2: number } {
    const pages = Math.ceil(bytes / PAGE)
    if (pages <= 1) return { prp1: slot.data, prp2: 0 }
    if (pages === 2) return { prp1: slot.data, prp2: slot.data + PAGE }
    const list = new Uint8Array(8 * (pages - 1))
    const dv = new DataView(list.buffer)
    for (let i = 1; i < pages; i++) dv.setBigUint64(8 * (i - 1), BigInt(slot.data + i * PAGE), true)
    this.memory.write(slot.list, list)
    return { prp1: slot.data, prp2: slot.list }
  }

  private async transfer(op: number, lba: number, buf: Uint8Array): Promise<void> {
    const slot = await this.takeSlot()
    try {
      if (op === NVME_IO.WRITE) this.memory.write(slot.data, buf)
      const { prp1, prp2 } = this.prps(slot, buf.length)
      const blocks = buf.length / this.blockSize
      await this.command(this.io, op, { nsid: 1, prp1, prp2, dw10: lba % 2 ** 32, dw11: Math.floor(lba / 2 ** 32), dw12: blocks - 1 }, `${op === NVME_IO.READ ? 'read' : 'write'} of blocks [${lba}, ${lba + blocks})`)
      if (op === NVME_IO.READ) this.memory.read(slot.data, buf)
    } finally {
      this.giveSlot(slot)
    }
  }

  /** Splits into commands of at most `maxRequestBytes`, all in flight at once (up to the queue's depth). */
  private async split(op: number, lba: number, buf: Uint8Array): Promise<void> {
    if (this.closed) throw new BlockClosedError()
    checkRequest(this, lba, buf.length)
    const chunk = Math.max(this.blockSize, Math.floor(this.maxRequestBytes / this.blockSize) * this.blockSize)
    const parts: Promise<void>[] = []
    for (let o = 0; o < buf.length; o += chunk) parts.push(this.transfer(op, lba + o / this.blockSize, buf.subarray(o, Math.min(buf.length, o + chunk))))
    await Promise.all(parts)
  }

  read(lba: number, buf: Uint8Array): Promise<void> {
    return this.split(NVME_IO.READ, lba, buf)
  }

  write(lba: number, data: Uint8Array): Promise<void> {
    return this.split(NVME_IO.WRITE, lba, data)
  }

  async flush(): Promise<void> {
    if (this.closed) throw new BlockClosedError()
    await this.command(this.io, NVME_IO.FLUSH, { nsid: 1 }, 'flush')
  }

  async close(): Promise<void> {
    this.closed = true
  }
}
