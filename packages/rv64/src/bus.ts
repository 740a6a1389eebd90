/**
 * The physical address space: RAM (one ArrayBuffer, the fast path) and memory-mapped devices.
 */
import { VIRT_MAP, type AccessSize, type MmioDevice } from '@honk/riscv'
import { WasmArena } from './wasm-arena.js'

export type { AccessSize, MmioDevice }

interface Mapping {
  base: number
  end: number
  device: MmioDevice
}

export interface BusOptions {
  /** Default 0x8000_0000, QEMU virt's RAM base. */
  ramBase?: number
  ramSize: number
  /**
   * The RAM's bytes, when given (exactly `ramSize` of them): a `SharedArrayBuffer` lets harts on
   * other threads (Workers) share this RAM; the harts then take their AMOs, SC and FENCE through
   * `Atomics` (see {@link Bus.shared}). Default: a fresh `ArrayBuffer`.
   */
  buffer?: ArrayBuffer | SharedArrayBuffer
  /**
   * Without `buffer`, the RAM lives in a WebAssembly memory with room for this many harts' state
   * after it (default 8), so harts can run hot code compiled to WebAssembly (`wasm-tier.ts`); a
   * hart beyond them, or a host without WebAssembly, runs without it. 0: a plain `ArrayBuffer`.
   */
  wasmHarts?: number
}

export class Bus {
  readonly ramBase: number
  readonly ramSize: number
  readonly ramEnd: number
  /** RAM bytes, for loaders, DMA and snapshots. */
  readonly ram: Uint8Array
  /** The same bytes for the harts' loads and stores. */
  readonly view: DataView
  /** The RAM's buffer when it is a `SharedArrayBuffer` (harts on several threads), else undefined. */
  readonly shared: SharedArrayBuffer | undefined
  /** The WebAssembly memory holding the RAM and room for harts' state, when there is one (see {@link BusOptions.wasmHarts}). */
  readonly arena: WasmArena | undefined
  private readonly mappings: Mapping[] = []
  /** Pages (4 KiB, by page number) of RAM that a device overlaps: the fast path must not serve them. */
  readonly shadowedPages = new Set<number>()
  private exit: number | undefined

  constructor(options: BusOptions) {
    this.ramBase = options.ramBase ?? VIRT_MAP.ram.base
    this.ramSize = options.ramSize
    this.ramEnd = this.ramBase + this.ramSize
    if (!Number.isSafeInteger(this.ramEnd) || this.ramSize <= 0 || this.ramSize % 4096 !== 0) throw new RangeError(`RAM of ${this.ramSize} bytes at ${this.ramBase} is not a positive whole number of pages`)
    const wasmHarts = options.wasmHarts ?? 8
    if (!Number.isInteger(wasmHarts) || wasmHarts < 0) throw new RangeError(`wasmHarts ${wasmHarts} is not a whole number of harts`)
    this.arena = options.buffer === undefined && wasmHarts > 0 ? WasmArena.create(this.ramSize, wasmHarts) : undefined
    const buffer = options.buffer ?? this.arena?.buffer ?? new ArrayBuffer(this.ramSize)
    if (options.buffer !== undefined && buffer.byteLength !== this.ramSize) throw new RangeError(`a RAM buffer of ${buffer.byteLength} bytes given for ${this.ramSize} bytes of RAM`)
    this.shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer ? buffer : undefined
    // RAM is the buffer's first `ramSize` bytes (an arena holds harts' state after it).
    this.ram = new Uint8Array(buffer, 0, this.ramSize)
    this.view = new DataView(buffer, 0, this.ramSize)
  }

  /** Maps a device at physical `base`. It may overlap RAM (it then wins for its range). */
  map(base: number, device: MmioDevice): void {
    const end = base + device.size
    for (const m of this.mappings) {
      if (base < m.end && m.base < end) throw new RangeError(`${device.name} at 0x${base.toString(16)} overlaps ${m.device.name} at 0x${m.base.toString(16)}`)
    }
    this.mappings.push({ base, end, device })
    this.mappings.sort((a, b) => a.base - b.base)
    for (let p = Math.floor(base / 4096); p * 4096 < end; p++) {
      if (p * 4096 < this.ramEnd && (p + 1) * 4096 > this.ramBase) this.shadowedPages.add(p)
    }
  }

  /** The device mapped at `addr`, with the offset into it. */
  device(addr: number): { device: MmioDevice; offset: number } | undefined {
    for (const m of this.mappings) if (addr >= m.base && addr < m.end) return { device: m.device, offset: addr - m.base }
    return undefined
  }

  /** True when `[addr, addr+size)` is plain RAM (no device over it). */
  isRam(addr: number, size: number): boolean {
    return addr >= this.ramBase && addr + size <= this.ramEnd && !this.shadowedPages.has(Math.floor(addr / 4096)) && !this.shadowedPages.has(Math.floor((addr + size - 1) / 4096))
  }

  /** A physical read (slow path: loaders, devices, the hart's MMIO). undefined = nothing there. */
  read(addr: number, size: AccessSize): bigint | undefined {
    const d = this.device(addr)
    if (d) return d.device.read(d.offset, size)
    if (addr < this.ramBase || addr + size > this.ramEnd) return undefined
    const o = addr - this.ramBase
    switch (size) {
      case 1:
        return BigInt(this.view.getUint8(o))
      case 2:
        return BigInt(this.view.getUint16(o, true))
      case 4:
        return BigInt(this.view.getUint32(o, true))
      case 8:
        return this.view.getBigUint64(o, true)
    }
  }

  /** A physical write; false = nothing there. */
  write(addr: number, size: AccessSize, value: bigint): boolean {
    const d = this.device(addr)
    if (d) {
      d.device.write(d.offset, size, BigInt.asUintN(size * 8, value))
      return true
    }
    if (addr < this.ramBase || addr + size > this.ramEnd) return false
    const o = addr - this.ramBase
    switch (size) {
      case 1:
        this.view.setUint8(o, Number(value & 0xffn))
        break
      case 2:
        this.view.setUint16(o, Number(value & 0xffffn), true)
        break
      case 4:
        this.view.setUint32(o, Number(value & 0xffffffffn), true)
        break
      case 8:
        this.view.setBigUint64(o, BigInt.asUintN(64, value), true)
        break
    }
    return true
  }

  readBytes(addr: number, length: number): Uint8Array {
    if (addr < this.ramBase || addr + length > this.ramEnd) throw new RangeError(`[0x${addr.toString(16)}, +${length}) is not RAM`)
    return this.ram.slice(addr - this.ramBase, addr - this.ramBase + length)
  }

  writeBytes(addr: number, data: Uint8Array): void {
    if (addr < this.ramBase || addr + data.length > this.ramEnd) throw new RangeError(`[0x${addr.toString(16)}, +${data.length}) is not RAM`)
    this.ram.set(data, addr - this.ramBase)
  }

  /** Asks every hart's `run()` to return soon with { reason: 'exit', code }. */
  requestExit(code: number): void {
    this.exit ??= code
  }

  get exitCode(): number | undefined {
    return this.exit
  }
}

/** The time base (mtime, 10 MHz on virt). */
export interface Clock {
  mtime(): bigint
}
