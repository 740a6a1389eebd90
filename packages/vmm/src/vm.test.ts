/**
 * VCpu exits against a scripted hart (the GuestHart interface, no emulator): hostile guests end
 * only themselves with a typed error, every guest pointer is checked, MMIO decoding with the
 * guest's paging on and compressed instructions, HSM, FP loads.
 */
import { CSR, DBCN_FID, EID, HSM_FID, SBI_ERR_INVALID_PARAM, type AccessSize, type MmioDevice } from '@honk/riscv'
import { describe, expect, it } from 'vitest'
import { VmError } from './errors.js'
import type { GuestHart, GuestRunResult, GuestTrap } from './guest-hart.js'
import { runVmAsync } from './run.js'
import { VM } from './vm.js'

/** A hart whose `run` replays scripted results; registers and CSRs are plain storage. */
class ScriptHart implements GuestHart {
  readonly hartId = 0
  pc = 0
  guestPrivilege: 0 | 1 = 1
  readonly x = new Array<bigint>(32).fill(0n)
  readonly f = new Array<bigint>(32).fill(0n)
  readonly csrs = new Map<number, bigint>()
  now = 0n
  flushes = 0
  constructor(private readonly script: ((h: ScriptHart) => GuestRunResult)[]) {}
  getX(i: number) { return i === 0 ? 0n : this.x[i]! }
  setX(i: number, v: bigint) { if (i) this.x[i] = BigInt.asUintN(64, v) }
  getF(i: number) { return this.f[i]! }
  setF(i: number, v: bigint) { this.f[i] = v }
  readCsr(n: number) { return this.csrs.get(n) ?? 0n }
  writeCsr(n: number, v: bigint) { this.csrs.set(n, BigInt.asUintN(64, v)) }
  time() { return this.now }
  flush() { this.flushes++ }
  run(): GuestRunResult {
    const step = this.script.shift()
    return step ? step(this) : { reason: 'wfi', executed: 0 }
  }
}

const trap = (t: Partial<GuestTrap> & { scause: bigint }): GuestRunResult => ({ reason: 'trap', executed: 1, trap: { stval: 0n, htval: 0n, htinst: 0n, sepc: 0x8000_0000n, spv: true, spvp: true, ...t } })
const host = () => ({ base: 0x9000_0000, bytes: new Uint8Array(8 << 20) })

class Recorder implements MmioDevice {
  readonly name = 'rec'
  readonly size = 0x100
  readonly writes: [number, number, bigint][] = []
  read(offset: number, _s: AccessSize) { return offset === 0 ? 0x8000_00f0n : 0n }
  write(offset: number, size: AccessSize, value: bigint) { this.writes.push([offset, size, value]) }
}

describe('VCpu exits (scripted hart)', () => {
  it('an access where there is neither RAM nor a device ends this VM alone, with VM_GUEST_FAULT naming the address', () => {
    const a = new VM({ host: host(), ramSize: 1 << 20 })
    const b = new VM({ host: host(), ramSize: 1 << 20 })
    a.load(0x8000_0000, Uint8Array.of(0x23, 0x80, 0x62, 0x00)) // sb t1, 0(t0)
    const h = new ScriptHart([() => trap({ scause: 23n, htval: 0x2000_0000n >> 2n, stval: 0x2000_0000n })])
    a.vcpus[0]!.attach(h)
    const e = a.vcpus[0]!.run(1000)
    expect(e.kind).toBe('halted')
    if (e.kind !== 'halted') return
    expect(e.reason).toBe('fault')
    expect(e.error).toBeInstanceOf(VmError)
    expect(e.error?.code).toBe('VM_GUEST_FAULT')
    expect(e.error?.message).toMatch(/guest-physical 0x20000000/)
    expect(b.halted).toBeUndefined()
    expect(a.vcpus[0]!.run(10).kind).toBe('halted') // and stays over
  })

  it('DBCN console_write with a pointer outside guest RAM returns SBI_ERR_INVALID_PARAM and writes nothing', () => {
    let out = ''
    const vm = new VM({ host: host(), ramSize: 1 << 20, console: { write: (c) => (out += String.fromCharCode(c)) } })
    const h = new ScriptHart([
      (h) => {
        h.x[17] = BigInt(EID.DBCN)
        h.x[16] = BigInt(DBCN_FID.CONSOLE_WRITE)
        h.x[10] = 16n
        h.x[11] = 0x8010_0000n - 8n // straddles the end of RAM
        h.x[12] = 0n
        return trap({ scause: 10n })
      },
    ])
    vm.vcpus[0]!.attach(h)
    expect(vm.vcpus[0]!.run(100).kind).toBe('idle')
    expect(BigInt.asIntN(64, h.x[10]!)).toBe(BigInt(SBI_ERR_INVALID_PARAM))
    expect(h.pc).toBe(0x8000_0004)
    expect(out).toBe('')
  })

  it('a trap storm (every instruction faults, none retires) still ends the run at the budget', () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    vm.load(0x8000_0000, Uint8Array.of(0x73, 0, 0, 0))
    const storm = Array.from({ length: 10_000 }, () => (h: ScriptHart) => {
      h.x[17] = 0x1234n // an unknown SBI extension: -2, and the guest tries again
      return { reason: 'trap', executed: 0, trap: { scause: 10n, stval: 0n, htval: 0n, htinst: 0n, sepc: 0x8000_0000n, spv: true, spvp: true } } as GuestRunResult
    })
    const h = new ScriptHart(storm)
    vm.vcpus[0]!.attach(h)
    const e = vm.vcpus[0]!.run(500)
    expect(e).toEqual({ kind: 'budget', executed: 500 })
    expect(vm.vcpus[0]!.exits.sbi).toBe(500)
  })

  it('MMIO with the guest paging on and a compressed store: decoded through the guest\'s own Sv39 tables, sepc += 2', () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    const dev = new Recorder()
    vm.map(0x1000_0000, dev)
    // VS root at GPA 0x8000_2000: VA 0xffff_ffc0_0000_0000 (root index 256) → a 1 GiB leaf at GPA 0x8000_0000.
    const root = 0x8000_2000n
    vm.ram.store(root + 256n * 8n, 8, ((0x8000_0000n >> 12n) << 10n) | 0xcfn)
    vm.load(0x8000_0100, Uint8Array.of(0x88, 0xc5)) // c.sw a0, 8(a1)
    const h = new ScriptHart([
      (h) => {
        h.x[10] = 0x1_2345_6789n
        return trap({ scause: 23n, sepc: 0xffff_ffc0_0000_0100n, stval: 0xdead_0008n, htval: 0x1000_0008n >> 2n })
      },
    ])
    vm.vcpus[0]!.attach(h)
    h.writeCsr(CSR.vsatp, (8n << 60n) | (root >> 12n))
    vm.vcpus[0]!.run(10)
    expect(dev.writes).toEqual([[8, 4, 0x2345_6789n]])
    expect(BigInt.asUintN(64, BigInt(h.pc))).toBe(0xffff_ffc0_0000_0102n)
  })

  it('loads: sign extension into rd, x0 stays 0, FP loads NaN-box a single; htinst decoding when the hart transforms', () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    vm.map(0x1000_0000, new Recorder())
    const lw = (rd: number) => (2 << 12) | (rd << 7) | 0x03
    const flw = (rd: number) => (2 << 12) | (rd << 7) | 0x07
    const h = new ScriptHart([
      () => trap({ scause: 21n, htval: 0x1000_0000n >> 2n, htinst: BigInt(lw(5)) }),
      () => trap({ scause: 21n, htval: 0x1000_0000n >> 2n, htinst: BigInt(lw(0)) }),
      () => trap({ scause: 21n, htval: 0x1000_0000n >> 2n, htinst: BigInt(flw(3) & ~2) }), // a compressed original
    ])
    vm.vcpus[0]!.attach(h)
    vm.vcpus[0]!.run(10)
    expect(h.x[5]).toBe(0xffff_ffff_8000_00f0n)
    expect(h.x[0]).toBe(0n)
    expect(h.f[3]).toBe(0xffff_ffff_8000_00f0n)
    expect(h.pc).toBe(0x8000_0002)
  })

  it('HSM: vCPU 0 starts vCPU 1 at an address with a0 = hartid, a1 = opaque; hart_get_status sees it', () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20, vcpus: 2 })
    expect(vm.vcpus[1]!.state).toBe('stopped')
    const h = new ScriptHart([
      (h) => {
        h.x[17] = BigInt(EID.HSM)
        h.x[16] = BigInt(HSM_FID.HART_START)
        h.x[10] = 1n
        h.x[11] = 0x8000_1000n
        h.x[12] = 0xabcdn
        return trap({ scause: 10n })
      },
    ])
    vm.vcpus[0]!.attach(h)
    vm.vcpus[0]!.run(10)
    expect(h.x[10]).toBe(0n)
    expect(vm.vcpus[1]!.state).toBe('runnable')
    expect(vm.vcpus[1]!.pc).toBe(0x8000_1000)
    expect(vm.vcpus[1]!.getX(10)).toBe(1n)
    expect(vm.vcpus[1]!.getX(11)).toBe(0xabcdn)
  })

  it('an instruction fetch outside guest RAM is a fault of this guest; an illegal instruction is reflected to the guest kernel', () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    const h = new ScriptHart([
      (h) => {
        h.writeCsr(CSR.vstvec, 0x8000_0800n)
        return trap({ scause: 2n, stval: 0xffffn, sepc: 0x8000_0010n })
      },
      () => trap({ scause: 20n, htval: 0x4000_0000n >> 2n, sepc: 0x4000_0000n }),
    ])
    vm.vcpus[0]!.attach(h)
    const e = vm.vcpus[0]!.run(10)
    expect(h.readCsr(CSR.vscause)).toBe(2n)
    expect(h.readCsr(CSR.vsepc)).toBe(0x8000_0010n)
    expect(h.readCsr(CSR.vstval)).toBe(0xffffn)
    expect(e.kind === 'halted' && e.error?.message).toMatch(/instruction fetch outside guest RAM/)
  })

  it('the SBI timer: set_timer records a deadline in host time (htimedelta applied), VSTIP is injected once it passes and acked by the next set_timer', () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    const h = new ScriptHart([
      (h) => {
        h.x[17] = BigInt(EID.TIME)
        h.x[16] = 0n
        h.x[10] = 1500n // guest time
        return trap({ scause: 10n })
      },
    ])
    vm.vcpus[0]!.attach(h)
    h.writeCsr(CSR.htimedelta, 1000n)
    const e = vm.vcpus[0]!.run(10)
    expect(e).toMatchObject({ kind: 'idle', until: 500n })
    h.now = 600n
    vm.vcpus[0]!.run(10)
    expect(h.readCsr(CSR.hvip) & (1n << 6n)).toBe(1n << 6n)
  })
})

describe('VM construction', () => {
  it('refuses RAM that does not fit the host region, unaligned sizes, devices over RAM or each other', () => {
    expect(() => new VM({ host: { base: 0x9000_0000, bytes: new Uint8Array(1 << 20) }, ramSize: 1 << 20 })).toThrow(/do not fit/)
    expect(() => new VM({ host: host(), ramSize: 1000 })).toThrow(/multiple of 4 KiB/)
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    expect(() => vm.map(0x8000_0000, new Recorder())).toThrow(/overlaps guest RAM/)
    vm.map(0x1000_0000, new Recorder())
    expect(() => vm.map(0x1000_0080, new Recorder())).toThrow(/overlaps rec/)
    expect(() => vm.load(0x800f_fff0, new Uint8Array(32))).toThrow(VmError)
  })

  it('places RAM 2 MiB-aligned in host memory when it can (megapage G-stage leaves)', () => {
    const vm = new VM({ host: host(), ramSize: 2 << 20 })
    expect((vm.ram.bytes.byteOffset + 0x9000_0000) % (2 << 20)).toBe(0)
  })
})

describe('runVmAsync (vCPUs taking turns on lent harts)', () => {
  it('an IPI sent to a vCPU that already went idle this round runs it again at once (no sleep, no "did not halt")', async () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20, vcpus: 2 })
    vm.vcpus[1]!.start(0x8000_0000n, 0n)
    const h0 = new ScriptHart([
      (h) => {
        h.writeCsr(CSR.hie, 1n << 2n) // the guest enabled its software interrupt (VSSIE)
        return { reason: 'wfi', executed: 1 }
      },
      (h) => {
        h.x[17] = BigInt(EID.LEGACY_SHUTDOWN)
        return trap({ scause: 10n })
      },
    ])
    const h1 = new ScriptHart([
      (h) => {
        h.x[17] = BigInt(EID.IPI)
        h.x[16] = 0n
        h.x[10] = 1n // hart mask: vCPU 0
        h.x[11] = 0n
        return trap({ scause: 10n })
      },
    ])
    const sleeps: bigint[] = []
    const o = await runVmAsync(vm, { lend: (i, f) => f(i === 0 ? h0 : h1), now: () => 0n, sleep: async (t) => void sleeps.push(t) })
    expect(o.reason).toBe('shutdown')
    expect(sleeps).toEqual([0n]) // one yield between the rounds, never a wait
  })

  it("every vCPU idle with its timer 10 s away: a device's interrupt raised meanwhile wakes the host's sleep at once (a 9p reply must not wait for the guest's next tick)", async () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    const h = new ScriptHart([
      (h) => {
        h.writeCsr(CSR.hie, (1n << 10n) | (1n << 6n)) // VSEIE, VSTIE
        h.writeCsr(CSR.henvcfg, 1n << 63n) // Sstc: the guest's own timer
        h.writeCsr(CSR.vstimecmp, 100_000_000n) // 10 s at 10 MHz
        return { reason: 'wfi', executed: 1 }
      },
      (h) => {
        h.x[17] = BigInt(EID.LEGACY_SHUTDOWN)
        return trap({ scause: 10n })
      },
    ])
    const sleeps: bigint[] = []
    setTimeout(() => vm.irqLine(1).set(true), 20) // the device backend answers after the guest went idle
    const t0 = performance.now()
    const o = await runVmAsync(vm, {
      lend: (_i, f) => f(h),
      now: () => 0n,
      sleep: (ticks, wake) =>
        new Promise<void>((resolve) => {
          sleeps.push(ticks)
          const timer = setTimeout(resolve, Number(ticks / 10_000n))
          wake?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
        }),
    })
    expect(o.reason).toBe('shutdown')
    expect(sleeps).toEqual([100_000_000n]) // it meant to wait for the timer…
    expect(performance.now() - t0).toBeLessThan(2000) // …and woke at the interrupt
  })

  it('a run whose signal is aborted between slices ends "stopped", with no vCPU left on a hart (vm stop)', async () => {
    const vm = new VM({ host: host(), ramSize: 1 << 20 })
    const ac = new AbortController()
    let slices = 0
    const busy = new ScriptHart(Array.from({ length: 100 }, () => () => ({ reason: 'budget' as const, executed: 10 })))
    const o = await runVmAsync(vm, {
      lend: (_i, f) => {
        if (++slices === 3) ac.abort()
        return f(busy)
      },
      now: () => 0n,
      sleep: async () => {},
      slice: 10,
      signal: ac.signal,
    })
    expect(o).toEqual({ reason: 'stopped', executed: 30 })
    expect(vm.vcpus[0]!.attached).toBeUndefined()
  })
})
