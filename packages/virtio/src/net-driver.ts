/**
 * The driver side of virtio-net (virtio 1.2 §5.1): a {@link FramePort} on a virtio-mmio network
 * device — what honk's own kernel hands its TCP/IP stack.
 *
 * Queue 0 receives, queue 1 transmits (§5.1.2). Receive buffers are allocated once in guest
 * memory and kept posted: each holds the 12-byte `virtio_net_hdr` and one whole frame (no
 * MRG_RXBUF, so a buffer must take the largest frame, §5.1.6.3.1). Transmit buffers come from
 * a pool too; a frame sent while all are in flight waits in a bounded queue (beyond it, it is
 * dropped and counted, as a NIC drops). The caller runs {@link VirtioNetPort.handleInterrupt}
 * from the device's interrupt.
 */
import { DEVICE_ID, FEATURE } from './constants.js'
import type { DmaAllocator, DriverQueue, VirtioMmioDriver } from './driver.js'
import { VirtioDriverError } from './errors.js'
import type { GuestMemory } from './memory.js'
import { NET_F, NET_HDR_SIZE, type FramePort } from './net.js'

export interface VirtioNetDriverOptions {
  /** A probed driver whose device is a virtio-net (device id 1), not yet initialised. */
  readonly driver: VirtioMmioDriver
  readonly memory: GuestMemory
  /** Where the rings and buffers are allocated (guest memory the device can reach). */
  readonly alloc: DmaAllocator
  /** Receive buffers kept posted (default 64). */
  readonly rxBuffers?: number
  /** Transmit buffers (frames in flight at once; default 64). */
  readonly txBuffers?: number
  /** Frames held while every transmit buffer is in flight; more are dropped (default 256). */
  readonly txBacklog?: number
  /** Name used in error messages, e.g. `'virtio-net@10008000'`; default `'virtio-net'`. */
  readonly name?: string
}

export interface NetDriverStats {
  txFrames: number
  /** Frames dropped on send: too big for the MTU, or the transmit backlog was full. */
  txDropped: number
  rxFrames: number
  /** Used receive buffers holding no whole frame (shorter than the header). */
  rxDropped: number
}

/** Ethernet header: destination, source, EtherType. */
const ETH_HEADER = 14

/** Initialises a virtio-net device (features, both queues, DRIVER_OK) and returns it as a {@link FramePort}. */
export function openVirtioNet(options: VirtioNetDriverOptions): VirtioNetPort {
  return new VirtioNetPort(options)
}

export class VirtioNetPort implements FramePort {
  readonly name: string
  /** The device's MAC address (VIRTIO_NET_F_MAC), or a locally administered one when it offers none. */
  readonly mac: Uint8Array
  /** The MTU: the device's (VIRTIO_NET_F_MTU) or 1500. */
  readonly mtu: number
  readonly features: bigint
  readonly stats: NetDriverStats = { txFrames: 0, txDropped: 0, rxFrames: 0, rxDropped: 0 }

  private readonly driver: VirtioMmioDriver
  private readonly memory: GuestMemory
  private readonly rx: DriverQueue
  private readonly tx: DriverQueue
  private readonly bufferBytes: number
  /** Receive buffer address by the head its chain was posted under. */
  private readonly rxPosted = new Map<number, number>()
  /** Transmit buffer address by head, while in flight. */
  private readonly txInFlight = new Map<number, number>()
  private readonly txFree: number[] = []
  private readonly txBacklog: Uint8Array[] = []
  private readonly maxTxBacklog: number
  private receiver: ((frame: Uint8Array) => void) | undefined
  /** The header sent before every frame: no offloads, gso NONE (§5.1.6.2). */
  private readonly txHeader = new Uint8Array(NET_HDR_SIZE)

  constructor(options: VirtioNetDriverOptions) {
    const { driver } = options
    this.name = options.name ?? 'virtio-net'
    if (driver.deviceId !== DEVICE_ID.NET) throw new VirtioDriverError(`${this.name}: device id ${driver.deviceId} is not a network device (1)`)
    this.driver = driver
    this.memory = options.memory
    this.features = driver.init(FEATURE.VERSION_1 | NET_F.MAC | NET_F.STATUS | NET_F.MTU)
    // struct virtio_net_config (§5.1.4): mac[6] @0, status u16 @6, max_virtqueue_pairs u16 @8, mtu u16 @10.
    const cfg = driver.readConfig(0, 12)
    this.mac = this.features & NET_F.MAC ? cfg.slice(0, 6) : Uint8Array.of(0x02, 0, 0, 0, 0, 1)
    const mtu = this.features & NET_F.MTU ? new DataView(cfg.buffer).getUint16(10, true) : 1500
    // §5.1.4.1: a driver SHOULD NOT use an MTU below 68.
    this.mtu = mtu >= 68 ? mtu : 1500
    this.bufferBytes = NET_HDR_SIZE + ETH_HEADER + this.mtu
    this.maxTxBacklog = options.txBacklog ?? 256

    this.rx = driver.setupQueue(0)
    this.tx = driver.setupQueue(1)
    const rxCount = Math.min(options.rxBuffers ?? 64, this.rx.size)
    const txCount = Math.min(options.txBuffers ?? 64, this.tx.size)
    if (!(rxCount >= 1 && txCount >= 1)) throw new VirtioDriverError(`${this.name}: needs at least one receive and one transmit buffer`)
    for (let i = 0; i < txCount; i++) this.txFree.push(options.alloc.alloc(this.bufferBytes, 8))
    const rxAddrs = Array.from({ length: rxCount }, () => options.alloc.alloc(this.bufferBytes, 8))
    driver.driverOk()
    // Receive buffers go in once the device is live (§5.1.6.3: the device uses them as frames arrive).
    for (const addr of rxAddrs) this.postRx(addr)
    this.rx.kick()
  }

  /** VIRTIO_NET_S_LINK_UP in config (true when the device does not report status). */
  get linkUp(): boolean {
    if (!(this.features & NET_F.STATUS)) return true
    return (this.driver.readConfig(6, 2)[0]! & 1) === 1
  }

  /** Queues one Ethernet frame (no FCS). Oversized frames and frames past the backlog are dropped and counted. */
  send(frame: Uint8Array): void {
    if (frame.length < ETH_HEADER || frame.length > ETH_HEADER + this.mtu) {
      this.stats.txDropped++
      return
    }
    if (this.txBacklog.length > 0 || this.txFree.length === 0) {
      this.reclaimTx()
      if (this.txBacklog.length >= this.maxTxBacklog) {
        this.stats.txDropped++
        return
      }
      this.txBacklog.push(frame)
      this.drainBacklog()
      return
    }
    this.transmit(frame)
    this.tx.kick()
  }

  /** Sets the receiver of arriving frames (a later call replaces it). */
  onFrame(handler: (frame: Uint8Array) => void): void {
    this.receiver = handler
  }

  /**
   * The device's interrupt: acknowledges it, takes back sent buffers (sending what waited),
   * and delivers every received frame to the listeners, reposting its buffer. Safe to call
   * when nothing happened.
   */
  handleInterrupt(): void {
    this.driver.ackInterrupt()
    if (this.driver.needsReset) throw new VirtioDriverError(`${this.name}: the device needs a reset (DEVICE_NEEDS_RESET)`)
    this.reclaimTx()
    this.drainBacklog()
    const frames: Uint8Array[] = []
    // Every used head is resolved to its buffer before any is reposted: collect() has already
    // freed their descriptors, so a repost may reuse a head that is still in this list.
    const used = this.rx.collect().map(({ head, len }) => {
      const addr = this.rxPosted.get(head)
      if (addr === undefined) throw new VirtioDriverError(`${this.name}: receive queue returned ${head}, which was not posted`)
      this.rxPosted.delete(head)
      return { addr, len }
    })
    for (const { addr, len } of used) {
      const n = Math.min(len, this.bufferBytes)
      if (n < NET_HDR_SIZE + ETH_HEADER) this.stats.rxDropped++
      else {
        const frame = new Uint8Array(n - NET_HDR_SIZE)
        if (!this.memory.read(addr + NET_HDR_SIZE, frame)) throw new VirtioDriverError(`${this.name}: receive buffer 0x${addr.toString(16)} is not in memory`)
        frames.push(frame)
        this.stats.rxFrames++
      }
      this.postRx(addr)
    }
    this.rx.kick()
    // Delivered after the ring is consistent again: a listener may send (and so re-enter tx).
    for (const frame of frames) this.receiver?.(frame)
  }

  private postRx(addr: number): void {
    const head = this.rx.submit([{ addr, len: this.bufferBytes, writable: true }])
    this.rxPosted.set(head, addr)
  }

  private transmit(frame: Uint8Array): void {
    const addr = this.txFree.pop()!
    this.memory.write(addr, this.txHeader)
    this.memory.write(addr + NET_HDR_SIZE, frame)
    const head = this.tx.submit([{ addr, len: NET_HDR_SIZE + frame.length, writable: false }])
    this.txInFlight.set(head, addr)
    this.stats.txFrames++
  }

  private reclaimTx(): void {
    for (const { head } of this.tx.collect()) {
      const addr = this.txInFlight.get(head)
      if (addr === undefined) throw new VirtioDriverError(`${this.name}: transmit queue returned ${head}, which is not in flight`)
      this.txInFlight.delete(head)
      this.txFree.push(addr)
    }
  }

  private drainBacklog(): void {
    let sent = false
    while (this.txBacklog.length > 0 && this.txFree.length > 0) {
      this.transmit(this.txBacklog.shift()!)
      sent = true
    }
    if (sent) this.tx.kick()
  }
}
