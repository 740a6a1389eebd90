/**
 * Test-only rig: a fake guest RAM, a virtio-mmio transport around a device model, and the
 * driver side of this package set up on it (the same code honk's kernel will use).
 */
import type { HonkError } from '@honk/errors'
import { FEATURE } from './constants.js'
import type { VirtioDevice } from './device.js'
import { BumpAllocator, DriverQueue, VirtioMmioDriver, type UsedEntry } from './driver.js'
import { RamGuestMemory, type IrqLine } from './memory.js'
import { VirtioMmio } from './mmio.js'

export const RAM_BASE = 0x8000_0000

/** An IrqLine that remembers its level and counts rising edges. */
export class IrqRecorder implements IrqLine {
  level = false
  rises = 0
  set(level: boolean): void {
    if (level && !this.level) this.rises++
    this.level = level
  }
}

export interface Rig<D extends VirtioDevice> {
  memory: RamGuestMemory
  irq: IrqRecorder
  transport: VirtioMmio
  device: D
  driver: VirtioMmioDriver
  alloc: BumpAllocator
  queues: DriverQueue[]
  errors: HonkError[]
}

export interface RigOptions {
  ramSize?: number
  /** Features the driver asks for (default: indirect + event idx + everything device-specific). */
  features?: bigint
  queueSize?: number
  /** Stop before DRIVER_OK. */
  noDriverOk?: boolean
}

export function rig<D extends VirtioDevice>(device: D, options: RigOptions = {}): Rig<D> {
  const ramSize = options.ramSize ?? 4 << 20
  const memory = new RamGuestMemory(new Uint8Array(ramSize), RAM_BASE)
  const irq = new IrqRecorder()
  const errors: HonkError[] = []
  const transport = new VirtioMmio(device, { memory, irq, onError: (e) => errors.push(e) })
  const alloc = new BumpAllocator(RAM_BASE, ramSize)
  const driver = new VirtioMmioDriver(transport, memory, alloc)
  driver.init(options.features ?? (FEATURE.RING_INDIRECT_DESC | FEATURE.RING_EVENT_IDX | device.features))
  const queues = device.queueSizes.map((_, i) => driver.setupQueue(i, options.queueSize))
  if (!options.noDriverOk) driver.driverOk()
  return { memory, irq, transport, device, driver, alloc, queues, errors }
}

/** A chain made of fresh buffers: readable ones holding `readable`, writable ones of `writable` bytes. */
export interface Submitted {
  head: number
  writable: { addr: number; len: number }[]
}

export function submit<D extends VirtioDevice>(r: Rig<D>, q: DriverQueue, readable: Uint8Array[], writable: number[], options: { indirect?: boolean; kick?: boolean } = {}): Submitted {
  const segs = readable.map((data) => {
    const addr = r.alloc.alloc(Math.max(1, data.length), 8)
    r.memory.write(addr, data)
    return { addr, len: data.length, writable: false }
  })
  const out = writable.map((len) => {
    const addr = r.alloc.alloc(Math.max(1, len), 8)
    r.memory.write(addr, new Uint8Array(len).fill(0xee))
    return { addr, len }
  })
  const head = q.submit([...segs, ...out.map((o) => ({ ...o, writable: true }))], options.indirect === undefined ? {} : { indirect: options.indirect })
  if (options.kick !== false) q.kick()
  return { head, writable: out }
}

/** The bytes of a chain's writable buffers, concatenated. */
export function readWritable<D extends VirtioDevice>(r: Rig<D>, s: Submitted): Uint8Array {
  const total = s.writable.reduce((n, w) => n + w.len, 0)
  const out = new Uint8Array(total)
  let o = 0
  for (const w of s.writable) {
    r.memory.read(w.addr, out.subarray(o, o + w.len))
    o += w.len
  }
  return out
}

/** Collects used entries into a map head → len. */
export function collect(q: DriverQueue): Map<number, number> {
  return new Map(q.collect().map((e: UsedEntry) => [e.head, e.len]))
}

/** Splits `data` into `parts` pieces at pseudo-random points chosen by `cuts`. */
export function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of points) {
    if (p > prev) out.push(data.slice(prev, p))
    prev = Math.max(prev, p)
  }
  if (prev < data.length || out.length === 0) out.push(data.slice(prev))
  return out
}

/** A `virtio_blk_req` header. */
export function blkHeader(type: number, sector: number | bigint): Uint8Array {
  const h = new Uint8Array(16)
  const v = new DataView(h.buffer)
  v.setUint32(0, type, true)
  v.setBigUint64(8, BigInt(sector), true)
  return h
}

/** Byte equality without vitest's slow deep-equal over typed arrays. */
export function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}
