import { PCI_CAP, PCI_CFG, PCI_COMMAND, PCI_STATUS, ecamOffset } from '@honk/riscv'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IrqRecorder, RAM_BASE } from './harness.test-helpers.js'
import { RamGuestMemory } from './memory.js'
import { PcieHost } from './pci.js'
import { MemoryBlockDevice } from '@honk/block'
import { VirtioBlk } from './blk.js'
import { VirtioRng } from './rng.js'
import { STATUS, FEATURE } from './constants.js'
import { VIRTIO_PCI_CAP, VIRTIO_PCI_COMMON, VirtioPci } from './virtio-pci.js'

/** A host with PLIC lines recorded by source id. */
function board() {
  const lines = new Map<number, IrqRecorder>()
  const host = new PcieHost({ plicLine: (id) => lines.get(id) ?? (lines.set(id, new IrqRecorder()), lines.get(id)!) })
  const memory = new RamGuestMemory(new Uint8Array(1 << 20), RAM_BASE)
  const win = host.window('mmio32', 0x4000_0000, 0x4000_0000)
  const cfg = (slot: number, reg: number, size: 1 | 2 | 4 = 4) => Number(host.ecam.read(ecamOffset(0, slot, 0, reg), size))
  const setCfg = (slot: number, reg: number, v: number, size: 1 | 2 | 4 = 4) => host.ecam.write(ecamOffset(0, slot, 0, reg), size, BigInt(v))
  return { host, lines, memory, win, cfg, setCfg }
}

/** The capability offsets of a function, walking the list from 0x34. */
function caps(cfg: (reg: number, size?: 1 | 2 | 4) => number): { id: number; at: number }[] {
  const out: { id: number; at: number }[] = []
  for (let at = cfg(PCI_CFG.CapabilitiesPointer, 1); at !== 0 && out.length < 48; at = cfg(at + 1, 1)) out.push({ id: cfg(at, 1), at })
  return out
}

describe('PCIe host (ECAM)', () => {
  it('answers all ones where no function sits, and shows the host bridge at 00.0', () => {
    const { cfg } = board()
    expect(cfg(0, 0)).toBe(0x0008_1b36)
    expect(cfg(0, PCI_CFG.RevisionId) >>> 8).toBe(0x06_00_00) // class: host bridge
    expect(cfg(5, 0)).toBe(0xffff_ffff)
    expect(Number(board().host.ecam.read(ecamOffset(1, 0, 0, 0), 4))).toBe(0xffff_ffff) // bus 1: nothing
  })

  it('sizes BARs: all ones reads back the size mask with the type bits, and the address sticks', () => {
    const { host, memory, cfg, setCfg } = board()
    const fn = new VirtioPci(new VirtioRng(), { memory })
    host.plug(1, fn)
    expect(cfg(1, 0)).toBe(0x1044_1af4) // 1af4:1040+4 (entropy)
    const bar4 = PCI_CFG.Bar0 + 16
    expect(cfg(1, bar4) & 0xf).toBe(0b1100) // 64-bit, prefetchable
    setCfg(1, bar4, 0xffff_ffff)
    setCfg(1, bar4 + 4, 0xffff_ffff)
    expect(cfg(1, bar4)).toBe(((0x1_0000_0000 - 0x4000) | 0b1100) >>> 0)
    expect(cfg(1, bar4 + 4)).toBe(0xffff_ffff)
    setCfg(1, bar4, 0x4000_8000)
    setCfg(1, bar4 + 4, 0)
    expect(fn.barAddress(4)).toBe(0x4000_8000)
    // BAR 0 is unimplemented: reads 0 whatever is written.
    setCfg(1, PCI_CFG.Bar0, 0xffff_ffff)
    expect(cfg(1, PCI_CFG.Bar0)).toBe(0)
  })

  it('lists the capabilities: MSI-X and the five virtio structures', () => {
    const { host, memory, cfg } = board()
    host.plug(1, new VirtioPci(new VirtioBlk(new MemoryBlockDevice(8)), { memory }))
    expect(cfg(1, PCI_CFG.Status, 2) & PCI_STATUS.CAP_LIST).toBeTruthy()
    const list = caps((r, s) => cfg(1, r, s))
    expect(list.map((c) => c.id)).toEqual([PCI_CAP.MSIX, PCI_CAP.VENDOR, PCI_CAP.VENDOR, PCI_CAP.VENDOR, PCI_CAP.VENDOR, PCI_CAP.VENDOR])
    const types = list.filter((c) => c.id === PCI_CAP.VENDOR).map((c) => cfg(1, c.at + 3, 1))
    expect(types.sort()).toEqual([VIRTIO_PCI_CAP.COMMON_CFG, VIRTIO_PCI_CAP.NOTIFY_CFG, VIRTIO_PCI_CAP.ISR_CFG, VIRTIO_PCI_CAP.DEVICE_CFG, VIRTIO_PCI_CAP.PCI_CFG].sort())
    for (const c of list) expect(c.at % 4).toBe(0)
  })

  it('decodes a BAR only while memory space is enabled', () => {
    const { host, memory, win, setCfg } = board()
    host.plug(1, new VirtioPci(new VirtioRng(), { memory }))
    setCfg(1, PCI_CFG.Bar0 + 16, 0x4000_0000)
    const numQueues = 0x4000_0000 + VIRTIO_PCI_COMMON.NumQueues - 0x4000_0000
    expect(Number(win.read(numQueues, 2))).toBe(0xffff) // master abort: all ones
    setCfg(1, PCI_CFG.Command, PCI_COMMAND.MEMORY, 2)
    expect(Number(win.read(numQueues, 2))).toBe(1)
  })

  it('swizzles INTx onto PLIC 32..35, honours INTx Disable, and shares lines wired-OR', () => {
    const { host, memory, lines, cfg, setCfg } = board()
    const a = new VirtioPci(new VirtioRng(), { memory })
    const b = new VirtioPci(new VirtioRng(), { memory })
    host.plug(1, a) // INTA of slot 1 → INTB of the host → 33
    host.plug(5, b) // slot 5 ≡ slot 1 (mod 4) → 33 too
    a.setIntx(true)
    expect(lines.get(33)?.level).toBe(true)
    expect(cfg(1, PCI_CFG.Status, 2) & PCI_STATUS.INTERRUPT).toBeTruthy()
    b.setIntx(true)
    a.setIntx(false)
    expect(lines.get(33)?.level).toBe(true) // b still holds it
    setCfg(5, PCI_CFG.Command, PCI_COMMAND.INTX_DISABLE, 2)
    expect(lines.get(33)?.level).toBe(false)
    expect(cfg(5, PCI_CFG.Status, 2) & PCI_STATUS.INTERRUPT).toBeTruthy() // status still shows it
    const c = new VirtioPci(new VirtioRng(), { memory })
    host.plug(2, c)
    c.setIntx(true)
    expect(lines.get(34)?.level).toBe(true)
  })

  it('property: no sequence of config and window accesses throws, and IDs stay read-only', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ slot: fc.integer({ min: 0, max: 31 }), reg: fc.integer({ min: 0, max: 0xfff }), size: fc.constantFrom(1, 2, 4, 8), v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), write: fc.boolean(), win: fc.boolean() }), { maxLength: 60 }), (ops) => {
        const { host, memory, win, cfg } = board()
        host.plug(1, new VirtioPci(new VirtioRng(), { memory }))
        for (const o of ops) {
          const size = o.size as 1 | 2 | 4 | 8
          const reg = o.reg - (o.reg % size)
          if (o.win) {
            const off = (reg * 4) % 0x10_0000
            if (o.write) win.write(off, size, BigInt.asUintN(8 * size, o.v))
            else win.read(off, size)
          } else if (o.write) host.ecam.write(ecamOffset(0, o.slot, 0, reg), size, BigInt.asUintN(8 * size, o.v))
          else host.ecam.read(ecamOffset(0, o.slot, 0, reg), size)
        }
        expect(cfg(1, 0)).toBe(0x1044_1af4)
        expect(cfg(0, 0)).toBe(0x0008_1b36)
      }),
    )
  })
})

describe('virtio over PCI: hostile drivers', () => {
  it('property: any register traffic on BAR 4 and the MSI-X table (queues enabled at random addresses) never throws', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ bar: fc.constantFrom(1, 4), off: fc.integer({ min: 0, max: 0x3fff }), size: fc.constantFrom(1, 2, 4, 8), v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), write: fc.boolean() }), { maxLength: 120 }),
        (ops) => {
          const { host, memory, win, setCfg } = board()
          const fn = new VirtioPci(new VirtioBlk(new MemoryBlockDevice(64)), { memory })
          host.plug(1, fn)
          setCfg(1, PCI_CFG.Bar0 + 16, 0x4000_0000)
          setCfg(1, PCI_CFG.Bar0 + 4, 0x4001_0000)
          setCfg(1, PCI_CFG.Command, PCI_COMMAND.MEMORY | PCI_COMMAND.BUS_MASTER, 2)
          for (const o of ops) {
            const size = o.size as 1 | 2 | 4 | 8
            const off = (o.bar === 4 ? 0 : 0x1_0000) + (o.off - (o.off % size)) % (o.bar === 4 ? 0x4000 : 0x1000)
            if (o.write) win.write(off, size, BigInt.asUintN(8 * size, o.v))
            else win.read(off, size)
          }
          // Still a virtio device answering its ID and a reset.
          win.write(VIRTIO_PCI_COMMON.DeviceStatus, 1, 0n)
          expect(Number(win.read(VIRTIO_PCI_COMMON.DeviceStatus, 1))).toBe(0)
          expect(fn.readConfig(0, 4)).toBe(0x1042_1af4)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('virtio over PCI', () => {
  /** Places BAR 4 at 0x4000_0000, enables memory (and bus master unless told), returns accessors. */
  function probe(busMaster = true) {
    const b = board()
    const irq = new IrqRecorder()
    const fn = new VirtioPci(new VirtioRng({ source: (buf) => buf.fill(0xab) }), { memory: b.memory })
    b.host.plug(1, fn)
    b.setCfg(1, PCI_CFG.Bar0 + 16, 0x4000_0000)
    b.setCfg(1, PCI_CFG.Command, PCI_COMMAND.MEMORY | (busMaster ? PCI_COMMAND.BUS_MASTER : 0), 2)
    const r = (off: number, size: 1 | 2 | 4) => Number(b.win.read(off, size))
    const w = (off: number, size: 1 | 2 | 4, v: number) => b.win.write(off, size, BigInt(v))
    return { ...b, fn, irq, r, w }
  }

  /** The driver's side of §3.1.1 and §4.1.5.1.3 for queue 0 (size 4) at fixed RAM addresses. */
  function bringUp(p: ReturnType<typeof probe>) {
    const C = VIRTIO_PCI_COMMON
    p.w(C.DeviceStatus, 1, 0)
    p.w(C.DeviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER)
    p.w(C.DeviceFeatureSelect, 4, 1)
    expect(p.r(C.DeviceFeature, 4) & 1).toBe(1) // VIRTIO_F_VERSION_1 (bit 32)
    p.w(C.DriverFeatureSelect, 4, 1)
    p.w(C.DriverFeature, 4, Number(FEATURE.VERSION_1 >> 32n))
    p.w(C.DeviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK)
    expect(p.r(C.DeviceStatus, 1) & STATUS.FEATURES_OK).toBeTruthy()
    p.w(C.QueueSelect, 2, 0)
    expect(p.r(C.QueueSize, 2)).toBeGreaterThanOrEqual(4)
    p.w(C.QueueSize, 2, 4)
    const desc = RAM_BASE, avail = RAM_BASE + 0x100, used = RAM_BASE + 0x200
    p.w(C.QueueDesc, 4, desc)
    p.w(C.QueueDesc + 4, 4, 0)
    p.w(C.QueueDriver, 4, avail)
    p.w(C.QueueDevice, 4, used)
    p.w(C.QueueEnable, 2, 1)
    p.w(C.DeviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK)
    return { desc, avail, used }
  }

  it('runs a request: ring setup through common cfg, notify, used ring, ISR read acknowledges INTx', () => {
    const p = probe()
    const { desc, avail, used } = bringUp(p)
    expect(p.r(VIRTIO_PCI_COMMON.QueueEnable, 2)).toBe(1)
    // One writable 16-byte buffer at RAM+0x1000.
    const d = new DataView(new ArrayBuffer(16))
    d.setBigUint64(0, BigInt(RAM_BASE + 0x1000), true)
    d.setUint32(8, 16, true)
    d.setUint16(12, 2, true) // VIRTQ_DESC_F_WRITE
    p.memory.write(desc, new Uint8Array(d.buffer))
    p.memory.write(avail, Uint8Array.of(0, 0, 1, 0, 0, 0)) // flags 0, idx 1, ring[0] = 0
    p.w(0x3000 + 4 * p.r(VIRTIO_PCI_COMMON.QueueNotifyOff, 2), 2, 0)
    const u = new Uint8Array(8)
    p.memory.read(used, u)
    expect(u[2]).toBe(1) // used idx 1
    const got = new Uint8Array(16)
    p.memory.read(RAM_BASE + 0x1000, got)
    expect([...got]).toEqual(new Array(16).fill(0xab))
    expect(p.lines.get(33)?.level).toBe(true)
    expect(p.r(0x1000, 1)).toBe(1) // ISR: queue interrupt; reading clears it
    expect(p.lines.get(33)?.level).toBe(false)
    expect(p.r(0x1000, 1)).toBe(0)
  })

  it('refuses a queue while bus mastering is off (no DMA): DEVICE_NEEDS_RESET', () => {
    const p = probe(false)
    bringUp(p)
    expect(p.r(VIRTIO_PCI_COMMON.QueueEnable, 2)).toBe(0)
    expect(p.r(VIRTIO_PCI_COMMON.DeviceStatus, 1) & STATUS.DEVICE_NEEDS_RESET).toBeTruthy()
    expect(p.fn.faults).toBeGreaterThan(0)
  })

  it('reaches BAR registers through the VIRTIO_PCI_CAP_PCI_CFG window', () => {
    const p = probe()
    const list = caps((r, s) => p.cfg(1, r, s))
    const at = list.find((c) => c.id === PCI_CAP.VENDOR && p.cfg(1, c.at + 3, 1) === VIRTIO_PCI_CAP.PCI_CFG)!.at
    p.setCfg(1, at + 4, 4, 1) // bar 4
    p.setCfg(1, at + 8, VIRTIO_PCI_COMMON.NumQueues) // offset
    p.setCfg(1, at + 12, 2) // length
    expect(p.cfg(1, at + 16) & 0xffff).toBe(1)
  })

  it('sends MSI-X messages instead of INTx once the driver enables MSI-X', () => {
    const p = probe()
    const msix = caps((r, s) => p.cfg(1, r, s)).find((c) => c.id === PCI_CAP.MSIX)!.at
    p.setCfg(1, PCI_CFG.Bar0 + 4, 0x4001_0000) // BAR 1: the table
    p.setCfg(1, msix + 2, 0x8000, 2) // enable
    // Vector 0: address RAM+0x2000, data 0x1234, unmasked.
    p.win.write(0x1_0000, 4, BigInt(RAM_BASE + 0x2000))
    p.win.write(0x1_0008, 4, 0x1234n)
    p.win.write(0x1_000c, 4, 0n)
    const { desc, avail } = bringUp(p)
    p.w(VIRTIO_PCI_COMMON.QueueSelect, 2, 0)
    p.w(VIRTIO_PCI_COMMON.QueueMsixVector, 2, 0)
    expect(p.r(VIRTIO_PCI_COMMON.QueueMsixVector, 2)).toBe(0)
    const d = new DataView(new ArrayBuffer(16))
    d.setBigUint64(0, BigInt(RAM_BASE + 0x1000), true)
    d.setUint32(8, 4, true)
    d.setUint16(12, 2, true)
    p.memory.write(desc, new Uint8Array(d.buffer))
    p.memory.write(avail, Uint8Array.of(0, 0, 1, 0, 0, 0))
    p.w(0x3000, 2, 0)
    const m = new Uint8Array(4)
    p.memory.read(RAM_BASE + 0x2000, m)
    expect(new DataView(m.buffer).getUint32(0, true)).toBe(0x1234)
    expect(p.fn.msix.sent).toBe(1)
    expect(p.lines.get(33)?.level ?? false).toBe(false)
  })
})
