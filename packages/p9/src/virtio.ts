/**
 * The virtqueue transport (virtio 1.2 §5.11, "9P transport"): the driver side of a virtio-9p
 * device. Each round trip is one descriptor chain — the T-message in a device-readable buffer,
 * then a device-writable buffer of `maxMessageSize` bytes for the R-message — so concurrent
 * requests are matched by chain, not by tag. Buffers come from a fixed pool allocated once in
 * guest memory; a request waits for a free slot.
 *
 * The caller supplies how completions are noticed: `waitForInterrupt()` resolves when the
 * device has raised its interrupt (honk's kernel resolves it from the PLIC handler).
 */
import { P9ProtocolError } from './errors.js'
import type { Transport } from './transport.js'

// The shapes below are the few members of @honk/virtio's `VirtioMmioDriver`, `DriverQueue`,
// `GuestMemory` and `DmaAllocator` this transport calls, declared here structurally (DESIGN: a
// driver satisfies an interface without importing it), so @honk/p9 carries no virtio or rv64
// code. `virtio.test.ts` passes the real classes, which keeps the two in step.

/** The driver side of a virtio-mmio device (`VirtioMmioDriver` of @honk/virtio satisfies it). */
export interface P9VirtioDriver {
  /** `length` bytes of the device's config space from `offset`. */
  readConfig(offset: number, length: number): Uint8Array
  /** Acknowledges the pending interrupt bits. */
  ackInterrupt(): unknown
}

/** One buffer of a descriptor chain. */
export interface P9VirtqueueSegment {
  readonly addr: number
  readonly len: number
  /** Device-writable (the device fills it) rather than device-readable. */
  readonly writable: boolean
}

/** A driver-side virtqueue (`DriverQueue` of @honk/virtio satisfies it). */
export interface P9Virtqueue {
  /** Makes a chain available; returns its head descriptor index. */
  submit(segments: readonly P9VirtqueueSegment[]): number
  /** Notifies the device (unless it asked not to be). */
  kick(): unknown
  /** The chains the device has used since the last call. */
  collect(): Iterable<{ readonly head: number; readonly len: number }>
}

/** Guest RAM as the device sees it (`GuestMemory` of @honk/virtio satisfies it). */
export interface P9GuestMemory {
  /** Copies `dst.length` bytes from `addr` into `dst`; false if the range is not RAM. */
  read(addr: number, dst: Uint8Array): boolean
  /** Copies `src` to `addr`; false if the range is not RAM. */
  write(addr: number, src: Uint8Array): boolean
}

/** Where DMA buffers come from (`DmaAllocator` of @honk/virtio satisfies it). */
export interface P9DmaAllocator {
  /** `size` bytes aligned to `align` (a power of 2). */
  alloc(size: number, align: number): number
}

export interface VirtioTransportOptions {
  /** An initialised driver whose device is a virtio-9p (device id 9) and whose queue 0 is set up. */
  readonly driver: P9VirtioDriver
  readonly queue: P9Virtqueue
  readonly memory: P9GuestMemory
  /** Where the request/response buffers are allocated (guest memory the device can reach). */
  readonly alloc: P9DmaAllocator
  /** Resolves after the device's next interrupt (or soon, for polling). */
  waitForInterrupt(): Promise<void>
  /** Largest message; default 128 KiB (Linux's default msize for virtio is 512 KiB; any value ≥ 8 KiB works). */
  readonly maxMessageSize?: number
  /** Requests in flight at once (buffer slots); default 8. */
  readonly slots?: number
}

interface Slot {
  readonly request: number
  readonly response: number
}

/** The mount tag a virtio-9p device advertises in its config space (§5.11.4: u16 length, then bytes). */
export function virtioMountTag(driver: Pick<P9VirtioDriver, 'readConfig'>): string {
  const len = new DataView(driver.readConfig(0, 2).buffer).getUint16(0, true)
  return new TextDecoder().decode(driver.readConfig(2, Math.min(len, 1024)))
}

export function virtioTransport(options: VirtioTransportOptions): Transport {
  const maxMessageSize = options.maxMessageSize ?? 128 * 1024
  const free: Slot[] = []
  for (let i = 0; i < (options.slots ?? 8); i++) free.push({ request: options.alloc.alloc(maxMessageSize, 8), response: options.alloc.alloc(maxMessageSize, 8) })
  const slotWaiters: ((s: Slot) => void)[] = []
  const pending = new Map<number, (len: number) => void>()
  let closed = false
  let pumping = false

  const takeSlot = (): Promise<Slot> => {
    const s = free.pop()
    return s ? Promise.resolve(s) : new Promise((resolve) => slotWaiters.push(resolve))
  }
  const giveSlot = (s: Slot) => {
    const w = slotWaiters.shift()
    if (w) w(s)
    else free.push(s)
  }

  /** Collects used chains until nothing is pending (one pump at a time). */
  const pump = async () => {
    if (pumping) return
    pumping = true
    try {
      while (pending.size > 0 && !closed) {
        options.driver.ackInterrupt()
        for (const used of options.queue.collect()) {
          const done = pending.get(used.head)
          pending.delete(used.head)
          done?.(used.len)
        }
        if (pending.size > 0) await options.waitForInterrupt()
      }
    } finally {
      pumping = false
    }
  }

  return {
    maxMessageSize,
    async roundTrip(t) {
      if (closed) throw new P9ProtocolError('9p: the virtio transport is closed')
      if (t.length > maxMessageSize) throw new P9ProtocolError(`9p: a ${t.length}-byte message exceeds the transport's ${maxMessageSize} bytes`)
      const slot = await takeSlot()
      try {
        if (!options.memory.write(slot.request, t)) throw new P9ProtocolError('9p: request buffer is outside guest memory')
        const len = await new Promise<number>((resolve) => {
          const head = options.queue.submit([
            { addr: slot.request, len: t.length, writable: false },
            { addr: slot.response, len: maxMessageSize, writable: true },
          ])
          pending.set(head, resolve)
          options.queue.kick() // notifies the device unless it asked not to be
          void pump()
        })
        // The R-message states its own size (size[4] at the front); the used length bounds it.
        const header = new Uint8Array(4)
        if (len < 7 || !options.memory.read(slot.response, header)) throw new P9ProtocolError(`9p: the device returned ${len} bytes, not an R-message`)
        const size = new DataView(header.buffer).getUint32(0, true)
        if (size < 7 || size > len) throw new P9ProtocolError(`9p: R-message of ${size} bytes in a ${len}-byte answer`)
        const r = new Uint8Array(size)
        options.memory.read(slot.response, r)
        return r
      } finally {
        giveSlot(slot)
      }
    },
    async close() {
      closed = true
    },
  }
}
