/**
 * virtio-console (virtio 1.2 §5.3), single port: receiveq 0 and transmitq 1, no
 * VIRTIO_CONSOLE_F_MULTIPORT. Offers VIRTIO_CONSOLE_F_EMERG_WRITE (a byte written to
 * `emerg_wr` in config is output at once, usable before the queues are up).
 */
import { DEVICE_ID } from './constants.js'
import { VirtioDeviceBase } from './device.js'
import { VirtioRequestError } from './errors.js'

export const CONSOLE_F = { SIZE: 1n << 0n, MULTIPORT: 1n << 1n, EMERG_WRITE: 1n << 2n } as const

export interface VirtioConsoleOptions {
  /** Queue size; default 64. */
  readonly queueSize?: number
  /** Input bytes held while the guest has no receive buffers; beyond it input is dropped. Default 64 KiB. */
  readonly inputBacklog?: number
  /** Largest transmit chain output at once (longer ones are cut). Default 64 KiB. */
  readonly maxWrite?: number
}

export class VirtioConsole extends VirtioDeviceBase {
  readonly name = 'virtio-console'
  readonly deviceId = DEVICE_ID.CONSOLE
  readonly features = CONSOLE_F.EMERG_WRITE
  readonly queueSizes: readonly number[]
  /** struct virtio_console_config (§5.3.4): cols, rows, max_nr_ports, emerg_wr. */
  readonly config = new Uint8Array(12)
  /** Input bytes dropped because the backlog was full. */
  dropped = 0
  private readonly input: Uint8Array[] = []
  private inputBytes = 0
  private readonly maxBacklog: number
  private readonly maxWrite: number

  /** `output` receives every byte the guest writes (transmitq and emergency writes). */
  constructor(
    private readonly output: (bytes: Uint8Array) => void,
    options: VirtioConsoleOptions = {},
  ) {
    super()
    const size = options.queueSize ?? 64
    this.queueSizes = [size, size]
    this.maxBacklog = options.inputBacklog ?? 64 << 10
    this.maxWrite = options.maxWrite ?? 64 << 10
    new DataView(this.config.buffer).setUint32(4, 1, true) // max_nr_ports (meaningful with MULTIPORT only)
  }

  /** Host input (keyboard, a pipe): delivered into the guest's receive buffers as they come. */
  push(bytes: Uint8Array | string): void {
    const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes.slice()
    const room = this.maxBacklog - this.inputBytes
    if (data.length > room) this.dropped += data.length - Math.max(room, 0)
    const kept = data.subarray(0, Math.max(room, 0))
    if (kept.length > 0) {
      this.input.push(kept)
      this.inputBytes += kept.length
    }
    if (this.attached) this.fillRx()
  }

  writeConfig(offset: number, size: number, value: bigint): void {
    // emerg_wr (offset 8, 32-bit): the low byte is a character to output (§5.3.4).
    if (offset === 8 && size === 4 && this.negotiated(CONSOLE_F.EMERG_WRITE)) this.emit(Uint8Array.of(Number(value & 0xffn)))
  }

  notify(queue: number): void {
    if (queue === 0) this.fillRx()
    else if (queue === 1) this.transmit()
  }

  reset(): void {
    // Pending input stays: it is the host's, and the next driver will want it.
  }

  private fillRx(): void {
    const q = this.ctx.queue(0)
    if (!q) return
    while (this.inputBytes > 0) {
      const chain = q.pop()
      if (!chain) break
      const n = Math.min(chain.writableLength, this.inputBytes)
      const out = new Uint8Array(n)
      let done = 0
      while (done < n) {
        const head = this.input[0]!
        const take = Math.min(head.length, n - done)
        out.set(head.subarray(0, take), done)
        done += take
        if (take === head.length) this.input.shift()
        else this.input[0] = head.subarray(take)
      }
      this.inputBytes -= n
      chain.write(0, out)
      chain.complete(n, false)
    }
    q.signal()
  }

  private transmit(): void {
    const q = this.ctx.queue(1)
    if (!q) return
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.readableLength > this.maxWrite) this.ctx.report(new VirtioRequestError(this.name, `console write of ${chain.readableLength} bytes cut to ${this.maxWrite}`))
      this.emit(chain.read(0, this.maxWrite))
      chain.complete(0, false)
    }
    q.signal()
  }

  private emit(bytes: Uint8Array): void {
    try {
      this.output(bytes)
    } catch (e) {
      if (this.attached) this.ctx.report(new VirtioRequestError(this.name, `console output hook failed: ${String(e)}`))
    }
  }
}
