/** A fake machine for the firmware tests: RAM, a console, and a log of every platform call. */
import type { Access, FenceRange, SbiHart, SbiPlatform, SbiRegs, SuspendRequest } from './firmware.js'

export const RAM_BASE = 0x8000_0000n
export const RAM_SIZE = 0x1_0000

export type Call =
  | { fn: 'setTimer'; hart: number; value: bigint }
  | { fn: 'sendIpi'; harts: number[] }
  | { fn: 'clearIpi'; hart: number }
  | { fn: 'remoteFenceI'; harts: number[] }
  | { fn: 'remoteSfenceVma'; harts: number[]; range: FenceRange; asid?: bigint }
  | { fn: 'hartStart'; hart: number; addr: bigint; opaque: bigint }
  | { fn: 'hartStop'; hart: number }
  | { fn: 'hartSuspend'; hart: number; request: SuspendRequest }
  | { fn: 'systemReset'; type: number; reason: number }

export class FakePlatform implements SbiPlatform {
  readonly ram = new Uint8Array(RAM_SIZE)
  readonly out: number[] = []
  input: number[] = []
  readonly calls: Call[] = []
  readonly pendingIpi = new Set<number>()
  /** Hooks to act inside a platform call (re-entrancy tests). */
  onHartStop: ((hart: number) => void) | undefined
  constructor(readonly hartCount: number) {}

  consolePutchar(byte: number): void {
    this.out.push(byte)
  }
  consoleGetchar(): number {
    return this.input.shift() ?? -1
  }
  isAccessible(addr: bigint, length: bigint, _access: Access): boolean {
    return addr >= RAM_BASE && addr + length <= RAM_BASE + BigInt(RAM_SIZE)
  }
  private off(addr: bigint, length: number): number {
    if (!this.isAccessible(addr, BigInt(length), 'read')) throw new Error(`firmware touched unapproved memory 0x${addr.toString(16)}+${length}`)
    return Number(addr - RAM_BASE)
  }
  readPhysical(addr: bigint, length: number): Uint8Array {
    const o = this.off(addr, length)
    return this.ram.slice(o, o + length)
  }
  writePhysical(addr: bigint, data: Uint8Array): void {
    this.ram.set(data, this.off(addr, data.length))
  }
  setTimer(hart: number, value: bigint): void {
    this.calls.push({ fn: 'setTimer', hart, value })
  }
  sendIpi(harts: readonly number[]): void {
    this.calls.push({ fn: 'sendIpi', harts: [...harts] })
    for (const h of harts) this.pendingIpi.add(h)
  }
  clearIpi(hart: number): boolean {
    this.calls.push({ fn: 'clearIpi', hart })
    return this.pendingIpi.delete(hart)
  }
  remoteFenceI(harts: readonly number[]): void {
    this.calls.push({ fn: 'remoteFenceI', harts: [...harts] })
  }
  remoteSfenceVma(harts: readonly number[], range: FenceRange, asid?: bigint): void {
    this.calls.push(asid === undefined ? { fn: 'remoteSfenceVma', harts: [...harts], range } : { fn: 'remoteSfenceVma', harts: [...harts], range, asid })
  }
  hartStart(hart: number, addr: bigint, opaque: bigint): void {
    this.calls.push({ fn: 'hartStart', hart, addr, opaque })
  }
  hartStop(hart: number): void {
    this.calls.push({ fn: 'hartStop', hart })
    this.onHartStop?.(hart)
  }
  hartSuspend(hart: number, request: SuspendRequest): void {
    this.calls.push({ fn: 'hartSuspend', hart, request })
  }
  systemReset(type: number, reason: number): void {
    this.calls.push({ fn: 'systemReset', type, reason })
  }
}

/** Registers for a call: `regs(eid, fid, a0, a1, …)`. */
export function regs(eid: number | bigint, fid: number | bigint, ...args: (number | bigint)[]): SbiRegs {
  const a = (i: number): bigint => BigInt(args[i] ?? 0)
  return { a0: a(0), a1: a(1), a2: a(2), a3: a(3), a4: a(4), a5: a(5), a6: BigInt(fid), a7: BigInt(eid) }
}

/** A minimal hart: 32 registers. */
export class FakeHart implements SbiHart {
  readonly x = new Array<bigint>(32).fill(0n)
  constructor(readonly hartId: number) {}
  getX(i: number): bigint {
    return this.x[i]!
  }
  setX(i: number, v: bigint): void {
    if (i !== 0) this.x[i] = BigInt.asUintN(64, v)
  }
}

/**
 * A hart with CSRs as M-mode sees them, for the hand-off tests: every CSR reads what was written,
 * except menvcfg, whose fields are WARL (read-only zero unless the hart implements them): it
 * keeps `menvcfgKeeps`. Every write is logged in order.
 */
export class FakeCsrHart extends FakeHart {
  pc = 0x8020_0000
  privilege: 0 | 1 | 3 = 3
  readonly csrs = new Map<number, bigint>()
  readonly writes: [number, bigint][] = []
  constructor(
    hartId: number,
    readonly menvcfgKeeps = 1n << 63n,
  ) {
    super(hartId)
  }
  getCsr(n: number): bigint {
    return this.csrs.get(n) ?? 0n
  }
  setCsr(n: number, v: bigint): void {
    this.writes.push([n, v])
    this.csrs.set(n, n === 0x30a ? v & this.menvcfgKeeps : BigInt.asUintN(64, v))
  }
}
