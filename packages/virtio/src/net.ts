/**
 * virtio-net (virtio 1.2 §5.1): one receive and one transmit queue, a MAC and link status in
 * config, the 12-byte `virtio_net_hdr` of virtio 1.x, no offloads. Frames go to and come from a
 * {@link FramePort} — a user-mode NAT, a TAP, a switch, or the other end of a loopback pair.
 */
import { DEVICE_ID } from './constants.js'
import { VirtioDeviceBase } from './device.js'
import { VirtioConfigError, VirtioRequestError } from './errors.js'
import type { FramePort } from '@honk/net'

export type { FramePort }

/**
 * Two ports joined back to back: what one sends, the other receives (on a later microtask, so
 * a device never re-enters itself). For tests and for joining two machines in one process.
 * Each side has one receiver (`onFrame` replaces it), as {@link FramePort} says.
 */
export function loopbackPair(): [FramePort, FramePort] {
  const receivers: [((f: Uint8Array) => void) | undefined, ((f: Uint8Array) => void) | undefined] = [undefined, undefined]
  const port = (me: 0 | 1): FramePort => ({
    send(frame) {
      const copy = frame.slice()
      queueMicrotask(() => receivers[me === 0 ? 1 : 0]?.(copy))
    },
    onFrame(handler) {
      receivers[me] = handler
    },
  })
  return [port(0), port(1)]
}

/** Feature bits of §5.1.3 used here. */
export const NET_F = { MTU: 1n << 3n, MAC: 1n << 5n, MRG_RXBUF: 1n << 15n, STATUS: 1n << 16n } as const
/** `virtio_net_hdr` in virtio 1.x: 12 bytes, num_buffers always present (§5.1.6). */
export const NET_HDR_SIZE = 12
/** The largest frame accepted from the guest without GSO (a jumbo frame; bigger is dropped). */
const MAX_FRAME = 65535

export interface VirtioNetOptions {
  /** The MAC address: 6 bytes or `'52:54:00:12:34:56'`. Default 52:54:00:12:34:56. */
  readonly mac?: Uint8Array | string
  /** MTU offered to the driver (VIRTIO_NET_F_MTU); default 1500. */
  readonly mtu?: number
  /** Queue size; default 256. */
  readonly queueSize?: number
  /** Frames held while the guest has no receive buffers; more are dropped. Default 256. */
  readonly rxBacklog?: number
}

export interface NetStats {
  txFrames: number
  txDropped: number
  rxFrames: number
  rxDropped: number
}

/** Parses `'aa:bb:cc:dd:ee:ff'` (or `-` separators) into 6 bytes. */
export function parseMac(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/)
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new VirtioConfigError(`"${mac}" is not a MAC address (six hex pairs)`)
  return Uint8Array.from(parts, (p) => parseInt(p, 16))
}

export class VirtioNet extends VirtioDeviceBase {
  readonly name = 'virtio-net'
  readonly deviceId = DEVICE_ID.NET
  readonly features = NET_F.MAC | NET_F.STATUS | NET_F.MTU
  readonly queueSizes: readonly number[]
  readonly config = new Uint8Array(12)
  readonly stats: NetStats = { txFrames: 0, txDropped: 0, rxFrames: 0, rxDropped: 0 }
  private readonly backlog: Uint8Array[] = []
  private readonly maxBacklog: number

  constructor(
    readonly port: FramePort,
    options: VirtioNetOptions = {},
  ) {
    super()
    const mac = typeof options.mac === 'string' ? parseMac(options.mac) : (options.mac ?? Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56))
    if (mac.length !== 6) throw new VirtioConfigError(`a MAC address has 6 bytes, got ${mac.length}`)
    const mtu = options.mtu ?? 1500
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > MAX_FRAME - 14) throw new VirtioConfigError(`MTU ${mtu} is outside 68..${MAX_FRAME - 14}`)
    const size = options.queueSize ?? 256
    this.queueSizes = [size, size]
    this.maxBacklog = options.rxBacklog ?? 256
    // struct virtio_net_config (§5.1.4): mac, status, max_virtqueue_pairs, mtu.
    this.config.set(mac, 0)
    const v = new DataView(this.config.buffer)
    v.setUint16(6, 1, true) // VIRTIO_NET_S_LINK_UP
    v.setUint16(8, 1, true)
    v.setUint16(10, mtu, true)
    port.onFrame((f) => this.receive(f))
  }

  /** The MAC address in config. */
  get mac(): Uint8Array {
    return this.config.slice(0, 6)
  }

  /** Sets the link state the driver sees (a configuration change interrupt follows). */
  setLink(up: boolean): void {
    new DataView(this.config.buffer).setUint16(6, up ? 1 : 0, true)
    if (this.attached) this.ctx.configChanged()
  }

  /** Stops taking frames from the port (a port has one receiver: the next device to attach replaces this one anyway). */
  detach(): void {
    this.port.onFrame(() => {})
  }

  notify(queue: number): void {
    if (queue === 0) this.fillRx()
    else if (queue === 1) this.transmit()
  }

  reset(): void {
    this.backlog.length = 0
  }

  /** A frame from the port: into a receive buffer now, or the backlog, or dropped. */
  private receive(frame: Uint8Array): void {
    if (frame.length > MAX_FRAME || this.backlog.length >= this.maxBacklog || !this.attached) {
      this.stats.rxDropped++
      return
    }
    this.backlog.push(frame)
    this.fillRx()
  }

  private fillRx(): void {
    const q = this.ctx.queue(0)
    if (!q) return
    while (this.backlog.length > 0) {
      const chain = q.pop()
      if (!chain) break
      const frame = this.backlog.shift()!
      if (chain.writableLength < NET_HDR_SIZE + frame.length) {
        // Without MRG_RXBUF a frame must fit one buffer (§5.1.6.3.1: 1526 bytes at least).
        this.stats.rxDropped++
        this.ctx.report(new VirtioRequestError(this.name, `receive buffer of ${chain.writableLength} bytes is too small for a ${frame.length}-byte frame`))
        chain.complete(0, false)
        continue
      }
      const packet = new Uint8Array(NET_HDR_SIZE + frame.length)
      // flags 0, gso_type NONE, no checksum offload; num_buffers = 1 (§5.1.6.4).
      packet[10] = 1
      packet.set(frame, NET_HDR_SIZE)
      chain.write(0, packet)
      chain.complete(packet.length, false)
      this.stats.rxFrames++
    }
    q.signal()
  }

  private transmit(): void {
    const q = this.ctx.queue(1)
    if (!q) return
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const n = chain.readableLength
      if (n < NET_HDR_SIZE || n > NET_HDR_SIZE + MAX_FRAME) {
        this.stats.txDropped++
        this.ctx.report(new VirtioRequestError(this.name, `transmit chain of ${n} bytes (header ${NET_HDR_SIZE} + a frame of at most ${MAX_FRAME})`))
      } else {
        try {
          this.port.send(chain.read(NET_HDR_SIZE))
          this.stats.txFrames++
        } catch (e) {
          this.stats.txDropped++
          this.ctx.report(new VirtioRequestError(this.name, `the frame port failed to send: ${String(e)}`))
        }
      }
      chain.complete(0, false)
    }
    q.signal()
  }
}
