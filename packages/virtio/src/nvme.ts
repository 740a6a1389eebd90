/**
 * An NVMe controller (NVM Express Base 1.4) on the PCI bus, over any `BlockDevice`: one
 * namespace, admin and I/O queue pairs of any depth up to CAP.MQES + 1, PRP lists, Identify
 * (controller, namespace, active namespace list, descriptors, NVM-specific controller), Create /
 * Delete I/O SQ/CQ, Set/Get Features (number of queues, arbitration, volatile write cache…),
 * Read/Write/Flush/Write Zeroes/Dataset Management, INTx (and an MSI-X table).
 *
 * Whatever the guest writes — a doorbell past a queue's end, a queue id reused, a PRP outside RAM,
 * an unknown opcode, an LBA past the end — is answered with a status code in the completion (or
 * ignored, for a doorbell, as the spec leaves it) and reported to `onError`; it never throws.
 */
import type { BlockDevice } from '@honk/block'
import { HonkError } from '@honk/errors'
import { PCI_VENDOR, type AccessSize, type MmioDevice } from '@honk/riscv'
import type { GuestMemory } from './memory.js'
import { MsixTable, PciFunction, addMsixCapability } from './pci.js'

/** A guest-caused problem the controller answered with a status code (for logs). */
export class NvmeGuestError extends HonkError<'NVME_GUEST'> {
  constructor(message: string) {
    super('NVME_GUEST', `nvme: ${message}`)
  }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    NvmeGuestError: NvmeGuestError
  }
}

/** Controller registers (NVMe 1.4 §3.1). */
export const NVME_REG = { CAP: 0x00, VS: 0x08, INTMS: 0x0c, INTMC: 0x10, CC: 0x14, CSTS: 0x1c, NSSR: 0x20, AQA: 0x24, ASQ: 0x28, ACQ: 0x30, DOORBELL: 0x1000 } as const

/** Admin opcodes (§5). */
export const NVME_ADMIN = { DELETE_SQ: 0x00, CREATE_SQ: 0x01, GET_LOG_PAGE: 0x02, DELETE_CQ: 0x04, CREATE_CQ: 0x05, IDENTIFY: 0x06, ABORT: 0x08, SET_FEATURES: 0x09, GET_FEATURES: 0x0a, ASYNC_EVENT: 0x0c } as const

/** NVM command set opcodes (§6). */
export const NVME_IO = { FLUSH: 0x00, WRITE: 0x01, READ: 0x02, WRITE_ZEROES: 0x08, DSM: 0x09 } as const

/** Status codes: `sct << 8 | sc` (§4.6.1.2). */
export const NVME_SC = {
  SUCCESS: 0x000,
  INVALID_OPCODE: 0x001,
  INVALID_FIELD: 0x002,
  DATA_TRANSFER_ERROR: 0x004,
  INTERNAL: 0x006,
  ABORTED_SQ_DELETED: 0x008,
  INVALID_NS: 0x00b,
  PRP_OFFSET_INVALID: 0x013,
  LBA_RANGE: 0x080,
  CQ_INVALID: 0x100,
  INVALID_QID: 0x101,
  INVALID_QSIZE: 0x102,
  AER_LIMIT: 0x105,
  INVALID_LOG_PAGE: 0x109,
  INVALID_VECTOR: 0x108,
  INVALID_QUEUE_DELETION: 0x10c,
} as const

/** Do Not Retry (status bit 14 of the 15-bit status field). */
const DNR = 0x4000

/** CAP.MQES + 1: the most entries a queue may have. */
export const NVME_MAX_QUEUE_ENTRIES = 4096
/** I/O queue pairs offered (Set Features Number of Queues answers at most this). */
export const NVME_MAX_IO_QUEUES = 64
/** MDTS: 2^6 × 4 KiB = 256 KiB per command. */
const MDTS = 6
const PAGE = 4096
const AERL = 3
const SQE = 64
const CQE = 16
const BAR0_SIZE = 0x4000

export interface NvmeOptions {
  readonly memory: GuestMemory
  /** The serial number (Identify SN, 20 ASCII characters at most). Default "honk-nvme0". */
  readonly serial?: string
  /** The model number (Identify MN). Default "honk NVMe Ctrl". */
  readonly model?: string
  readonly onError?: (error: HonkError) => void
}

interface SubmissionQueue {
  readonly id: number
  readonly base: number
  readonly size: number
  readonly cqid: number
  head: number
  tail: number
}

interface CompletionQueue {
  readonly id: number
  readonly base: number
  readonly size: number
  readonly ien: boolean
  readonly iv: number
  /** Next slot the controller writes. */
  tail: number
  /** What the host consumed (its doorbell). */
  head: number
  phase: number
  /** Completions waiting for room (the queue was full). */
  readonly waiting: Uint8Array[]
}

export interface NvmeStats {
  commands: number
  errors: number
  readBytes: number
  writtenBytes: number
}

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
const ascii = (dst: Uint8Array, at: number, len: number, s: string): void => {
  for (let i = 0; i < len; i++) dst[at + i] = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20
}

/** The NVMe controller as a PCI function (1b36:0010, class 01.08.02, as QEMU's). */
export class NvmeController extends PciFunction {
  readonly msix: MsixTable
  readonly stats: NvmeStats = { commands: 0, errors: 0, readBytes: 0, writtenBytes: 0 }
  private readonly memory: GuestMemory
  private readonly onError: ((e: HonkError) => void) | undefined
  private readonly serial: string
  private readonly model: string
  private cc = 0
  private csts = 0
  private aqa = 0
  private asq = 0
  private acq = 0
  private intms = 0
  private readonly sqs = new Map<number, SubmissionQueue>()
  private readonly cqs = new Map<number, CompletionQueue>()
  /** Outstanding Asynchronous Event Requests (held: no event is ever reported). */
  private aers = 0
  /** Bumped by a controller reset: completions of older commands are dropped. */
  private epoch = 0
  private ioQueuesGranted = 0
  private features = new Map<number, number>()
  /** Guest-caused problems seen. */
  faults = 0

  constructor(
    readonly disk: BlockDevice,
    options: NvmeOptions,
  ) {
    super('nvme', { vendorId: PCI_VENDOR.REDHAT_QEMU, deviceId: 0x0010, revision: 2, classCode: 0x01_08_02, subsystemVendorId: PCI_VENDOR.REDHAT_VIRTIO, subsystemId: 0x1100, interruptPin: 1 }, options.memory)
    this.memory = this.dma!
    this.onError = options.onError
    this.serial = options.serial ?? 'honk-nvme0'
    this.model = options.model ?? 'honk NVMe Ctrl'
    if (!/^[\x20-\x7e]{1,20}$/.test(this.serial)) throw new NvmeGuestError(`serial ${JSON.stringify(this.serial)} is not 1..20 printable ASCII characters`)
    if (disk.blockSize !== 512 && disk.blockSize !== 4096) throw new NvmeGuestError(`block size ${disk.blockSize} is not 512 or 4096`)
    this.msix = new MsixTable(this.name, NVME_MAX_IO_QUEUES + 1, () => this.memory)
    this.defineBar(0, { kind: 'mem64', size: BAR0_SIZE, region: this.registers() })
    this.defineBar(4, { kind: 'mem32', size: this.msix.size, region: this.msix })
    addMsixCapability(this, this.msix, 4)
    this.features.set(0x01, 0) // arbitration
    this.features.set(0x0b, 0) // asynchronous event configuration
  }

  /** CAP (§3.1.1): MQES, CQR, TO, DSTRD 0, CSS NVM, MPSMIN = MPSMAX = 4 KiB. */
  static readonly CAP = BigInt(NVME_MAX_QUEUE_ENTRIES - 1) | (1n << 16n) | (0x0fn << 24n) | (1n << 37n)

  get ready(): boolean {
    return (this.csts & 1) !== 0
  }

  private registers(): MmioDevice {
    return {
      name: 'nvme:regs',
      size: BAR0_SIZE,
      read: (offset, size) => this.readReg(offset, size),
      write: (offset, size, value) => this.writeReg(offset, size, value),
    }
  }

  private readReg(offset: number, size: AccessSize): bigint {
    // 64-bit registers (CAP, ASQ, ACQ) read whole or as two dwords; the others are dwords.
    const wide = offset < NVME_REG.VS ? NVME_REG.CAP : offset >= NVME_REG.ASQ && offset < NVME_REG.ACQ ? NVME_REG.ASQ : offset >= NVME_REG.ACQ && offset < NVME_REG.ACQ + 8 ? NVME_REG.ACQ : -1
    const at = wide >= 0 ? wide : offset - (offset % 4)
    const width = wide >= 0 ? 8 : 4
    if (offset + size > at + width) return 0n
    let v: bigint
    switch (at) {
      case NVME_REG.CAP:
        v = NvmeController.CAP
        break
      case NVME_REG.VS:
        v = 0x0001_0400n
        break
      case NVME_REG.INTMS:
      case NVME_REG.INTMC:
        v = BigInt(this.intms)
        break
      case NVME_REG.CC:
        v = BigInt(this.cc)
        break
      case NVME_REG.CSTS:
        v = BigInt(this.csts)
        break
      case NVME_REG.AQA:
        v = BigInt(this.aqa)
        break
      case NVME_REG.ASQ:
        v = BigInt(this.asq)
        break
      case NVME_REG.ACQ:
        v = BigInt(this.acq)
        break
      default:
        return 0n
    }
    return BigInt.asUintN(8 * size, v >> BigInt(8 * (offset - at)))
  }

  private writeReg(offset: number, size: AccessSize, value: bigint): void {
    const v32 = Number(BigInt.asUintN(32, value))
    if (offset >= NVME_REG.DOORBELL) {
      if (size !== 4 || offset % 4) return
      const n = (offset - NVME_REG.DOORBELL) / 4
      return n % 2 === 0 ? this.sqDoorbell(n / 2, v32) : this.cqDoorbell((n - 1) / 2, v32)
    }
    const set64 = (cur: number, at: number): number => {
      const full = BigInt(cur)
      const shift = BigInt(8 * (offset - at))
      const mask = ((1n << BigInt(8 * size)) - 1n) << shift
      return Number(BigInt.asUintN(64, (full & ~mask) | ((value << shift) & mask)))
    }
    if (offset >= NVME_REG.ASQ && offset < NVME_REG.ASQ + 8) {
      if (!(this.cc & 1)) this.asq = set64(this.asq, NVME_REG.ASQ) - (set64(this.asq, NVME_REG.ASQ) % PAGE)
      return
    }
    if (offset >= NVME_REG.ACQ && offset < NVME_REG.ACQ + 8) {
      if (!(this.cc & 1)) this.acq = set64(this.acq, NVME_REG.ACQ) - (set64(this.acq, NVME_REG.ACQ) % PAGE)
      return
    }
    switch (offset) {
      case NVME_REG.INTMS:
        this.intms |= v32 & 1
        return this.updateInterrupt()
      case NVME_REG.INTMC:
        this.intms &= ~v32
        return this.updateInterrupt()
      case NVME_REG.CC:
        return this.writeCc(v32)
      case NVME_REG.AQA:
        if (!(this.cc & 1)) this.aqa = v32 & 0x0fff_0fff
        return
      case NVME_REG.CSTS:
        return
    }
  }

  /** §7.6.1 initialization and §7.3 reset / §7.6.2 shutdown, seen from the controller. */
  private writeCc(v: number): void {
    const before = this.cc
    this.cc = v & 0x00ff_fff1
    if (before & 1 && !(v & 1)) this.controllerReset()
    else if (!(before & 1) && v & 1) this.enable()
    const shn = (v >>> 14) & 3
    if (shn !== 0 && ((before >>> 14) & 3) === 0) {
      // Normal or abrupt shutdown: write back the cache, then report "complete".
      const epoch = this.epoch
      this.csts = (this.csts & ~0xc) | (1 << 2)
      this.disk.flush().then(
        () => {
          if (this.epoch === epoch) this.csts = (this.csts & ~0xc) | (2 << 2)
        },
        () => {
          if (this.epoch === epoch) this.csts = (this.csts & ~0xc) | (2 << 2)
        },
      )
    } else if (shn === 0) this.csts &= ~0xc
  }

  private enable(): void {
    const mps = (this.cc >>> 7) & 0xf
    const css = (this.cc >>> 4) & 7
    const asqs = (this.aqa & 0xfff) + 1
    const acqs = ((this.aqa >>> 16) & 0xfff) + 1
    let problem: string | undefined
    if (mps !== 0) problem = `CC.MPS ${mps}: only 4 KiB pages (CAP.MPSMAX 0)`
    else if (css !== 0) problem = `CC.CSS ${css}: only the NVM command set`
    else if (asqs < 2 || acqs < 2) problem = `admin queue sizes ${asqs}/${acqs}: at least 2 entries each`
    else if (!this.memory.contains(this.asq, asqs * SQE) || !this.memory.contains(this.acq, acqs * CQE)) problem = `admin queues at 0x${this.asq.toString(16)}/0x${this.acq.toString(16)} are not in RAM (or bus mastering is off)`
    if (problem !== undefined) {
      this.fault(problem)
      this.csts |= 2 // CFS: controller fatal status
      return
    }
    this.cqs.set(0, { id: 0, base: this.acq, size: acqs, ien: true, iv: 0, tail: 0, head: 0, phase: 1, waiting: [] })
    this.sqs.set(0, { id: 0, base: this.asq, size: asqs, cqid: 0, head: 0, tail: 0 })
    this.csts = (this.csts & ~2) | 1
  }

  private controllerReset(): void {
    this.epoch++
    this.sqs.clear()
    this.cqs.clear()
    this.aers = 0
    this.ioQueuesGranted = 0
    this.csts &= ~3
    this.intms = 0
    this.updateInterrupt()
  }

  private fault(message: string): void {
    this.faults++
    try {
      this.onError?.(new NvmeGuestError(message))
    } catch {
      // A logging hook must not take the device down.
    }
  }

  /** A write to SQ y's tail doorbell: out of range or for no queue is ignored (§4.1, an invalid doorbell write). */
  private sqDoorbell(qid: number, tail: number): void {
    const sq = this.sqs.get(qid)
    if (!this.ready || !sq) return this.fault(`doorbell for submission queue ${qid}, which does not exist`)
    if (tail >= sq.size) return this.fault(`SQ ${qid} tail ${tail} is past its ${sq.size} entries`)
    sq.tail = tail
    this.drain(sq)
  }

  private cqDoorbell(qid: number, head: number): void {
    const cq = this.cqs.get(qid)
    if (!this.ready || !cq) return this.fault(`doorbell for completion queue ${qid}, which does not exist`)
    if (head >= cq.size) return this.fault(`CQ ${qid} head ${head} is past its ${cq.size} entries`)
    cq.head = head
    // Room again: post what waited.
    while (cq.waiting.length && (cq.tail + 1) % cq.size !== cq.head) this.writeCqe(cq, cq.waiting.shift()!)
    this.updateInterrupt()
  }

  /** Fetches every submitted command of `sq` (head up to tail) and starts it. */
  private drain(sq: SubmissionQueue): void {
    const sqe = new Uint8Array(SQE)
    while (sq.head !== sq.tail && this.sqs.get(sq.id) === sq) {
      const ok = this.memory.read(sq.base + sq.head * SQE, sqe)
      sq.head = (sq.head + 1) % sq.size
      const cid = sqe[2]! | (sqe[3]! << 8)
      this.stats.commands++
      if (!ok) {
        this.fault(`SQ ${sq.id}: entry not readable (bus mastering off?)`)
        this.complete(sq, cid, NVME_SC.DATA_TRANSFER_ERROR | DNR)
        continue
      }
      const cmd = sqe.slice()
      if (sq.id === 0) this.admin(sq, cid, cmd)
      else this.ioCommand(sq, cid, cmd)
    }
  }

  /** Posts a completion for `cid` of `sq` (§4.6). `status` is the 15-bit status field. */
  private complete(sq: SubmissionQueue, cid: number, status: number, dw0 = 0, epoch = this.epoch): void {
    if (epoch !== this.epoch) return // the controller was reset meanwhile
    if (this.sqs.get(sq.id) !== sq) return // the queue was deleted: the command is gone with it
    const cq = this.cqs.get(sq.cqid)
    if (!cq) return
    if (status & 0xff) {
      this.stats.errors++
    }
    const e = new Uint8Array(CQE)
    const dv = new DataView(e.buffer)
    dv.setUint32(0, dw0 >>> 0, true)
    dv.setUint16(8, sq.head, true)
    dv.setUint16(10, sq.id, true)
    dv.setUint16(12, cid, true)
    dv.setUint16(14, (status & 0x7fff) << 1, true) // the phase bit is set when written
    if ((cq.tail + 1) % cq.size === cq.head || cq.waiting.length) cq.waiting.push(e)
    else this.writeCqe(cq, e)
    this.updateInterrupt()
  }

  private writeCqe(cq: CompletionQueue, e: Uint8Array): void {
    e[14] = (e[14]! & 0xfe) | cq.phase
    // The status dword last, so the host never sees a new phase with an old body.
    this.memory.write(cq.base + cq.tail * CQE, e)
    cq.tail = (cq.tail + 1) % cq.size
    if (cq.tail === 0) cq.phase ^= 1
    if (this.msix.enabled && cq.ien) this.msix.signal(cq.iv)
  }

  /** INTx (§7.5.1): asserted while an interrupt-enabled CQ holds entries the host has not consumed, unless masked. */
  private updateInterrupt(): void {
    let pending = false
    if (!this.msix.enabled && !(this.intms & 1)) for (const cq of this.cqs.values()) if (cq.ien && cq.head !== cq.tail) pending = true
    this.setIntx(pending)
  }

  // ---- PRPs (§4.3) ----

  /** The memory segments of a data buffer described by PRP1/PRP2, or a status code. */
  private prps(cmd: Uint8Array, length: number): { addr: number; len: number }[] | number {
    const dv = new DataView(cmd.buffer, cmd.byteOffset)
    const prp1 = Number(dv.getBigUint64(24, true))
    const prp2 = Number(dv.getBigUint64(32, true))
    if (prp1 % 4) return NVME_SC.PRP_OFFSET_INVALID | DNR
    const out: { addr: number; len: number }[] = []
    const first = Math.min(length, PAGE - (prp1 % PAGE))
    out.push({ addr: prp1, len: first })
    let left = length - first
    if (left === 0) return out
    if (left <= PAGE) {
      if (prp2 % PAGE) return NVME_SC.PRP_OFFSET_INVALID | DNR
      out.push({ addr: prp2, len: left })
      return out
    }
    // PRP2 points at a list; the last entry of a full list page chains to the next page.
    if (prp2 % 8) return NVME_SC.PRP_OFFSET_INVALID | DNR
    let list = prp2
    const entry = new Uint8Array(8)
    const edv = new DataView(entry.buffer)
    let guard = 0
    while (left > 0) {
      if (++guard > 1 << 16) return NVME_SC.PRP_OFFSET_INVALID | DNR
      const lastSlot = list % PAGE === PAGE - 8
      if (!this.memory.read(list, entry)) return NVME_SC.DATA_TRANSFER_ERROR | DNR
      const addr = Number(edv.getBigUint64(0, true))
      if (lastSlot && left > PAGE) {
        if (addr % 8) return NVME_SC.PRP_OFFSET_INVALID | DNR
        list = addr
        continue
      }
      if (addr % PAGE) return NVME_SC.PRP_OFFSET_INVALID | DNR
      const n = Math.min(left, PAGE)
      out.push({ addr, len: n })
      left -= n
      list += 8
    }
    return out
  }

  /** Copies `data` to the host buffer; a status code on failure. */
  private toHost(cmd: Uint8Array, data: Uint8Array): number {
    const segs = this.prps(cmd, data.length)
    if (typeof segs === 'number') return segs
    let o = 0
    for (const s of segs) {
      if (!this.memory.write(s.addr, data.subarray(o, o + s.len))) return NVME_SC.DATA_TRANSFER_ERROR | DNR
      o += s.len
    }
    return NVME_SC.SUCCESS
  }

  private fromHost(cmd: Uint8Array, length: number): Uint8Array | number {
    const segs = this.prps(cmd, length)
    if (typeof segs === 'number') return segs
    const out = new Uint8Array(length)
    let o = 0
    for (const s of segs) {
      if (!this.memory.read(s.addr, out.subarray(o, o + s.len))) return NVME_SC.DATA_TRANSFER_ERROR | DNR
      o += s.len
    }
    return out
  }

  // ---- admin commands (§5) ----

  private admin(sq: SubmissionQueue, cid: number, cmd: Uint8Array): void {
    const op = cmd[0]!
    const nsid = u32(cmd, 4)
    const dw10 = u32(cmd, 40)
    const dw11 = u32(cmd, 44)
    const done = (status: number, dw0 = 0) => {
      if (status & 0xff) this.fault(`admin opcode 0x${op.toString(16)} (cid ${cid}): status 0x${(status & 0x7ff).toString(16)}`)
      this.complete(sq, cid, status, dw0)
    }
    switch (op) {
      case NVME_ADMIN.IDENTIFY:
        return done(this.identify(cmd, dw10 & 0xff, nsid, (dw11 >>> 24) & 0xff))
      case NVME_ADMIN.CREATE_CQ:
        return done(this.createCq(cmd, dw10, dw11))
      case NVME_ADMIN.CREATE_SQ:
        return done(this.createSq(cmd, dw10, dw11))
      case NVME_ADMIN.DELETE_SQ: {
        const qid = dw10 & 0xffff
        if (qid === 0 || !this.sqs.has(qid)) return done(NVME_SC.INVALID_QID | DNR)
        this.sqs.delete(qid)
        return done(NVME_SC.SUCCESS)
      }
      case NVME_ADMIN.DELETE_CQ: {
        const qid = dw10 & 0xffff
        if (qid === 0 || !this.cqs.has(qid)) return done(NVME_SC.INVALID_QID | DNR)
        for (const s of this.sqs.values()) if (s.cqid === qid) return done(NVME_SC.INVALID_QUEUE_DELETION | DNR)
        this.cqs.delete(qid)
        this.updateInterrupt()
        return done(NVME_SC.SUCCESS)
      }
      case NVME_ADMIN.SET_FEATURES:
        return this.setFeatures(dw10, dw11, done)
      case NVME_ADMIN.GET_FEATURES:
        return this.getFeatures(dw10, done)
      case NVME_ADMIN.GET_LOG_PAGE: {
        const lid = dw10 & 0xff
        // NUMD (0's based dwords): NUMDL in CDW10[31:16], NUMDU in CDW11[15:0] (NVMe 1.4 §5.14).
        // Unsigned: a NUMDU with bit 15 set made the length negative and the allocation throw.
        const numd = (((dw10 >>> 16) | ((dw11 & 0xffff) << 16)) >>> 0) + 1
        // Error information, SMART / health, firmware slot: nothing to report (all zero).
        if (lid < 1 || lid > 3) return done(NVME_SC.INVALID_LOG_PAGE | DNR)
        if (numd * 4 > PAGE * 4) return done(NVME_SC.INVALID_FIELD | DNR)
        return done(this.toHost(cmd, new Uint8Array(numd * 4)))
      }
      case NVME_ADMIN.ABORT:
        return done(NVME_SC.SUCCESS, 1) // bit 0: the command was not aborted
      case NVME_ADMIN.ASYNC_EVENT:
        if (this.aers >= AERL + 1) return done(NVME_SC.AER_LIMIT | DNR)
        this.aers++ // held until an event (none is ever raised) or a reset
        return
      default:
        return done(NVME_SC.INVALID_OPCODE | DNR)
    }
  }

  private identify(cmd: Uint8Array, cns: number, nsid: number, csi: number): number {
    const page = new Uint8Array(PAGE)
    const dv = new DataView(page.buffer)
    switch (cns) {
      case 0x00: // namespace
        if (nsid !== 1) return nsid === 0 || nsid === 0xffff_ffff ? NVME_SC.INVALID_NS | DNR : this.toHost(cmd, page) // inactive: zeros
        dv.setBigUint64(0, BigInt(this.disk.blockCount), true) // NSZE
        dv.setBigUint64(8, BigInt(this.disk.blockCount), true) // NCAP
        dv.setBigUint64(16, BigInt(this.disk.blockCount), true) // NUSE
        page[25] = 0 // NLBAF: one format
        page[26] = 0 // FLBAS: format 0
        page[130] = Math.log2(this.disk.blockSize) // LBAF0.LBADS
        return this.toHost(cmd, page)
      case 0x01: {
        // controller
        dv.setUint16(0, PCI_VENDOR.REDHAT_QEMU, true)
        dv.setUint16(2, PCI_VENDOR.REDHAT_VIRTIO, true)
        ascii(page, 4, 20, this.serial)
        ascii(page, 24, 40, this.model)
        ascii(page, 64, 8, '1.0')
        page[72] = 6 // RAB
        page[77] = MDTS
        dv.setUint32(80, 0x0001_0400, true) // VER 1.4
        page[111] = 1 // CNTRLTYPE: I/O controller
        page[258] = 3 // ACL
        page[259] = AERL
        page[260] = 0x02 // FRMW: one slot
        page[512] = 0x66 // SQES: 64 bytes
        page[513] = 0x44 // CQES: 16 bytes
        dv.setUint32(516, 1, true) // NN
        dv.setUint16(520, (1 << 2) | (1 << 3), true) // ONCS: Dataset Management, Write Zeroes
        page[525] = 1 // VWC: a volatile write cache (Flush means something)
        const nqn = new TextEncoder().encode(`nqn.2026-12.io.honk:nvme:${this.serial}`)
        page.set(nqn.subarray(0, 255), 768)
        dv.setUint16(2048, 2500, true) // power state 0: 25 W
        return this.toHost(cmd, page)
      }
      case 0x02: // active namespace IDs above NSID
        if (nsid >= 0xffff_fffe) return NVME_SC.INVALID_NS | DNR
        if (nsid < 1) dv.setUint32(0, 1, true)
        return this.toHost(cmd, page)
      case 0x03: // namespace identification descriptors: none (the list is empty)
        if (nsid !== 1) return NVME_SC.INVALID_NS | DNR
        return this.toHost(cmd, page)
      case 0x06: // I/O command set specific controller: NVM, no limits beyond MDTS
        if (csi !== 0) return NVME_SC.INVALID_FIELD | DNR
        return this.toHost(cmd, page)
      default:
        return NVME_SC.INVALID_FIELD | DNR
    }
  }

  private createCq(cmd: Uint8Array, dw10: number, dw11: number): number {
    const qid = dw10 & 0xffff
    const size = (dw10 >>> 16) + 1
    const base = Number(new DataView(cmd.buffer).getBigUint64(24, true))
    const iv = dw11 >>> 16
    if (qid === 0 || qid > this.ioQueueLimit() || this.cqs.has(qid)) return NVME_SC.INVALID_QID | DNR
    if (size < 2 || size > NVME_MAX_QUEUE_ENTRIES) return NVME_SC.INVALID_QSIZE | DNR
    if (!(dw11 & 1)) return NVME_SC.INVALID_FIELD | DNR // CAP.CQR: physically contiguous only
    if (iv >= this.msix.vectors) return NVME_SC.INVALID_VECTOR | DNR
    if (base % PAGE || !this.memory.contains(base, size * CQE)) return NVME_SC.PRP_OFFSET_INVALID | DNR
    this.cqs.set(qid, { id: qid, base, size, ien: (dw11 & 2) !== 0, iv, tail: 0, head: 0, phase: 1, waiting: [] })
    return NVME_SC.SUCCESS
  }

  private createSq(cmd: Uint8Array, dw10: number, dw11: number): number {
    const qid = dw10 & 0xffff
    const size = (dw10 >>> 16) + 1
    const base = Number(new DataView(cmd.buffer).getBigUint64(24, true))
    const cqid = dw11 >>> 16
    if (qid === 0 || qid > this.ioQueueLimit() || this.sqs.has(qid)) return NVME_SC.INVALID_QID | DNR
    if (cqid === 0 || !this.cqs.has(cqid)) return NVME_SC.CQ_INVALID | DNR
    if (size < 2 || size > NVME_MAX_QUEUE_ENTRIES) return NVME_SC.INVALID_QSIZE | DNR
    if (!(dw11 & 1)) return NVME_SC.INVALID_FIELD | DNR
    if (base % PAGE || !this.memory.contains(base, size * SQE)) return NVME_SC.PRP_OFFSET_INVALID | DNR
    this.sqs.set(qid, { id: qid, base, size, cqid, head: 0, tail: 0 })
    return NVME_SC.SUCCESS
  }

  /** Queue ids 1..N are valid: N = what Set Features granted, or the maximum if it was never asked. */
  private ioQueueLimit(): number {
    return this.ioQueuesGranted || NVME_MAX_IO_QUEUES
  }

  private setFeatures(dw10: number, dw11: number, done: (status: number, dw0?: number) => void): void {
    const fid = dw10 & 0xff
    switch (fid) {
      case 0x07: {
        // Number of queues (0-based requests): grant up to the maximum, once.
        const nsq = Math.min((dw11 & 0xffff) + 1, NVME_MAX_IO_QUEUES)
        const ncq = Math.min((dw11 >>> 16) + 1, NVME_MAX_IO_QUEUES)
        if ((dw11 & 0xffff) === 0xffff || dw11 >>> 16 === 0xffff) return done(NVME_SC.INVALID_FIELD | DNR)
        this.ioQueuesGranted = Math.max(nsq, ncq)
        return done(NVME_SC.SUCCESS, (nsq - 1) | ((ncq - 1) << 16))
      }
      case 0x06: // volatile write cache: always on (the BlockDevice's own cache)
        return done(NVME_SC.SUCCESS)
      case 0x01:
      case 0x02:
      case 0x04:
      case 0x08:
      case 0x0b:
        this.features.set(fid, dw11)
        return done(NVME_SC.SUCCESS)
      default:
        return done(NVME_SC.INVALID_FIELD | DNR)
    }
  }

  private getFeatures(dw10: number, done: (status: number, dw0?: number) => void): void {
    const fid = dw10 & 0xff
    if (fid === 0x07) {
      const n = this.ioQueuesGranted || NVME_MAX_IO_QUEUES
      return done(NVME_SC.SUCCESS, (n - 1) | ((n - 1) << 16))
    }
    if (fid === 0x06) return done(NVME_SC.SUCCESS, 1)
    const v = this.features.get(fid)
    if (v === undefined && fid !== 0x02 && fid !== 0x04 && fid !== 0x08) return done(NVME_SC.INVALID_FIELD | DNR)
    return done(NVME_SC.SUCCESS, v ?? 0)
  }

  // ---- NVM commands (§6) ----

  private ioCommand(sq: SubmissionQueue, cid: number, cmd: Uint8Array): void {
    const op = cmd[0]!
    const nsid = u32(cmd, 4)
    const epoch = this.epoch
    const done = (status: number) => {
      if (status & 0xff) this.fault(`I/O SQ ${sq.id} opcode 0x${op.toString(16)} (cid ${cid}): status 0x${(status & 0x7ff).toString(16)}`)
      this.complete(sq, cid, status, 0, epoch)
    }
    if (op !== NVME_IO.FLUSH && op !== NVME_IO.WRITE && op !== NVME_IO.READ && op !== NVME_IO.WRITE_ZEROES && op !== NVME_IO.DSM) return done(NVME_SC.INVALID_OPCODE | DNR)
    // Flush may name every namespace (0xffffffff).
    if (nsid !== 1 && !(op === NVME_IO.FLUSH && nsid === 0xffff_ffff)) return done(NVME_SC.INVALID_NS | DNR)
    const bs = this.disk.blockSize
    const fail = () => done(NVME_SC.INTERNAL)
    if (op === NVME_IO.FLUSH) return void this.disk.flush().then(() => done(NVME_SC.SUCCESS), fail)
    if (op === NVME_IO.DSM) {
      const nr = (u32(cmd, 40) & 0xff) + 1
      const ranges = this.fromHost(cmd, nr * 16)
      if (typeof ranges === 'number') return done(ranges)
      for (let i = 0; i < nr; i++) {
        const nlb = u32(ranges, i * 16 + 4)
        const slba = u32(ranges, i * 16 + 8) + u32(ranges, i * 16 + 12) * 0x1_0000_0000
        if (slba + nlb > this.disk.blockCount) return done(NVME_SC.LBA_RANGE | DNR)
      }
      // Deallocation is advisory (DLFEAT 0: reads of deallocated blocks are unspecified): nothing to do.
      return done(NVME_SC.SUCCESS)
    }
    const slba = u32(cmd, 40) + u32(cmd, 44) * 0x1_0000_0000
    const nlb = (u32(cmd, 48) & 0xffff) + 1
    if (slba + nlb > this.disk.blockCount) return done(NVME_SC.LBA_RANGE | DNR)
    const bytes = nlb * bs
    if (op === NVME_IO.WRITE_ZEROES) {
      // Up to 65536 blocks: written in pieces of at most 1 MiB.
      const step = Math.max(1, Math.floor((1 << 20) / bs))
      const zeroes = new Uint8Array(Math.min(nlb, step) * bs)
      const run = async () => {
        for (let at = 0; at < nlb; at += step) await this.disk.write(slba + at, zeroes.subarray(0, Math.min(step, nlb - at) * bs))
      }
      return void run().then(() => done(NVME_SC.SUCCESS), fail)
    }
    if (bytes > PAGE << MDTS) return done(NVME_SC.INVALID_FIELD | DNR)
    const fua = (u32(cmd, 48) & (1 << 30)) !== 0
    if (op === NVME_IO.READ) {
      const segs = this.prps(cmd, bytes)
      if (typeof segs === 'number') return done(segs)
      const buf = new Uint8Array(bytes)
      this.disk.read(slba, buf).then(() => {
        if (epoch !== this.epoch) return
        this.stats.readBytes += bytes
        let o = 0
        for (const s of segs) {
          if (!this.memory.write(s.addr, buf.subarray(o, o + s.len))) return done(NVME_SC.DATA_TRANSFER_ERROR | DNR)
          o += s.len
        }
        done(NVME_SC.SUCCESS)
      }, fail)
      return
    }
    const data = this.fromHost(cmd, bytes)
    if (typeof data === 'number') return done(data)
    this.stats.writtenBytes += bytes
    const w = fua ? (this.disk.writeAndFlush ? this.disk.writeAndFlush(slba, data) : this.disk.write(slba, data).then(() => this.disk.flush())) : this.disk.write(slba, data)
    w.then(() => done(NVME_SC.SUCCESS), fail)
  }
}
