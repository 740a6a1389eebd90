/**
 * Warming the interpreter (issue #18, the boot): V8 optimises `Hart.run` once it is hot, from
 * the type feedback its sites gathered so far. A site that had never run by then — the first
 * MMIO byte load, the first SLT, the first trap or interrupt, the first access with paging on —
 * costs a deoptimisation when it first runs, and the whole loop is recompiled; a Linux boot met
 * ~16 of them, each a recompile of the interpreter's loop and a stretch run unoptimised. So the
 * first `run()` of a process first runs this small program on a scratch hart of its own (its own
 * RAM, bus and device; nothing of the caller's is touched): every integer operation, every load
 * and store width to RAM and to a device, branches both ways, ecall, mret and an interrupt, in
 * M-mode and then in S-mode with Sv39 on, through compiled blocks and then through the interpreter
 * alone, fetches across a page's end included: about 36 000 instructions on each scratch hart. It
 * runs three times (compiling early, interpreting only, compiling early again): a path the first
 * optimised `run()` had no feedback for is then met, and `run()` recompiled, inside the warm-up
 * rather than in the host's first million instructions (`bench/run.ts --quick`: its first rounds).
 */
import { CSR, IRQ, MSTATUS, VIRT_MAP } from '@honk/riscv'
import { Bus, type Clock, type MmioDevice } from './bus.js'
import type { Hart, HartOptions } from './hart.js'

const RAM = 0x8000_0000
const MMIO = VIRT_MAP.uart.base // any device address: the scratch bus maps its own device there
const CODE = RAM
const HANDLER = RAM + 0x2000
const BODY = RAM + 0x100
const ROOT = RAM + 0x4000
const DATA = RAM + 0x8000
/** 0xffff_ffff_8000_0000 (Sv39 gigapage 510), where Linux's kernel runs: a negative number. */
const HIGH = -0x8000_0000
/** 0x4000_0000 (Sv39 gigapage 1), a user program's low addresses. */
const LOW = 0x4000_0000

const R = (f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number) => ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0
const I = (imm: number, rs1: number, f3: number, rd: number, op: number) => (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0
const S = (imm: number, rs2: number, rs1: number, f3: number) => ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | 0x23) >>> 0
const B = (f3: number, rs1: number, rs2: number, off: number) =>
  ((((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63) >>> 0
const J = (off: number, rd: number) => ((((off >> 20) & 1) << 31) | (((off >> 1) & 0x3ff) << 21) | (((off >> 11) & 1) << 20) | (((off >> 12) & 0xff) << 12) | (rd << 7) | 0x6f) >>> 0
const CSRRS = (csr: number, rs1: number, rd: number) => ((csr << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x73) >>> 0
const CSRRW = (csr: number, rs1: number, rd: number) => ((csr << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x73) >>> 0
const MRET = 0x30200073
const ECALL = 0x00000073
const MCAUSE = CSR.mcause
const MEPC = CSR.mepc
const MIE = CSR.mie

/** The body (a function: returns through x1): x18 RAM data, x23 its alias (see there), x2 the device, x5–x7 operands, x3 the loop counter, x4 15. */
function body(): number[] {
  const w: number[] = []
  const [a, b, c] = [5, 6, 7]
  for (const [f7, f3] of [[0, 0], [0x20, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0x20, 5], [0, 6], [0, 7], [1, 0], [1, 1], [1, 3], [1, 4], [1, 5], [1, 6], [1, 7]] as const) w.push(R(f7, b, c, f3, a, 0x33))
  for (const [f7, f3] of [[0, 0], [0x20, 0], [0, 1], [0, 5], [0x20, 5], [1, 0], [1, 4], [1, 5], [1, 6], [1, 7]] as const) w.push(R(f7, c, b, f3, 8, 0x3b))
  for (const f3 of [0, 2, 3, 4, 6, 7]) w.push(I(-7, b, f3, 9, 0x13))
  w.push(I(13, c, 1, 10, 0x13), I(13, c, 5, 10, 0x13), I(0x400 | 13, c, 5, 10, 0x13))
  w.push(I(-5, b, 0, 11, 0x1b), I(7, b, 1, 11, 0x1b), I(7, b, 5, 11, 0x1b), I(0x400 | 7, b, 5, 11, 0x1b))
  w.push((0x12345 << 12) | (12 << 7) | 0x37, (1 << 12) | (12 << 7) | 0x17)
  for (const base of [18, 2]) {
    for (let f3 = 0; f3 < 7; f3++) if (f3 !== 7) w.push(I(8 * f3, base, f3, 13, 0x03))
    for (let f3 = 0; f3 < 4; f3++) w.push(S(64 + 8 * f3, a, base, f3))
  }
  // A load and a store through x23, the data's alias in the other half of the address space
  // (x18 with its high word inverted: the same low word, so the same data-TLB entry, whose tag's
  // low word matches and high word does not), then x18 again: each takes the other's entry. Where
  // the alias is not mapped (U-mode, or the SUM alias), it faults and the handler skips it.
  w.push(I(0, 23, 3, 13, 0x03), S(96, a, 23, 3), I(0, 18, 3, 13, 0x03), S(96, a, 18, 3))
  // Branches both ways over the iterations (x3 counts down past x4 = 15): each skips one addi.
  for (const f3 of [0, 1, 4, 5, 6, 7]) w.push(B(f3, 3, 4, 8), I(1, 14, 0, 14, 0x13))
  // Compressed: c.addi x8, 1 | c.mv x9, x8; c.add x9, x8 | c.nop.
  w.push(0x0405 | (0x84a2 << 16), 0x94a2 | (0x0001 << 16))
  // amoadd.w, lr.w, sc.w on the data.
  w.push(R(0, a, 18, 2, 16, 0x2f), R(2 << 2, 0, 18, 2, 16, 0x2f), R(3 << 2, a, 18, 2, 17, 0x2f))
  // A store into a line of decoded code (x19: the body's first line; the same word back): the
  // decode cache drops the line, the block on it and the slot just before it (in the line
  // before: not at RAM's first byte, where there is none), as self-modifying code and loaders
  // make it do.
  w.push(I(0, 19, 2, 20, 0x03), S(0, 20, 19, 2))
  // JALR forward by a positive offset, then back by a negative one (x21 from AUIPC).
  w.push(0x17 | (21 << 7), I(12, 21, 0, 0, 0x67), I(1, 14, 0, 14, 0x13))
  w.push(0x17 | (21 << 7), I(24, 21, 0, 21, 0x13), I(-12, 21, 0, 0, 0x67))
  // Calls (link x22) to an instruction straddling two pages and to a compressed one in a page's
  // last two bytes: the fetch paths the boot meets in its first seconds ("insufficient type
  // feedback" there deoptimised `fetch`).
  for (const stub of [STRADDLE, LAST_HALF]) w.push(J(stub - (BODY + 4 * w.length), 22))
  w.push(ECALL, I(0, 1, 0, 0, 0x67)) // ecall; ret
  return w
}

/** A 4-byte nop at a page's last two bytes (it straddles two pages), then `jr x22`. */
const STRADDLE = RAM + 0x5ffe
/** A compressed nop at a page's last two bytes, then `jr x22`. */
const LAST_HALF = RAM + 0x6ffe
const RET_X22 = I(0, 22, 0, 0, 0x67)

function words(bus: Bus, at: number, ws: number[]): void {
  ws.forEach((x, i) => bus.view.setUint32(at - bus.ramBase + i * 4, x >>> 0, true))
}

let done = false

/** Runs the warm-up once per thread (later calls return at once); `make` builds the scratch hart. */
export function warmUp(make: (o: HartOptions) => Hart): void {
  if (done) return
  done = true
  generalizeHostFields(make)
  runWarmUp(make, COMPILE_EARLY)
  runWarmUp(make, INTERPRET_ONLY)
  runWarmUp(make, COMPILE_EARLY)
}

/** A bus of another hidden class than any a host builds (see generalizeHostFields). */
class OtherBus extends Bus {}

/**
 * Builds (and never runs) harts over a bus and a clock of two hidden classes each, so V8 records
 * the `bus` and `clock` fields of a hart as holding any object before it optimises `Hart.run`.
 * Otherwise the first machine built after the warm-up (a `Clint` for a clock, a bus of another
 * shape) changed those fields' recorded types and threw away the optimised `run()` (a lazy
 * deoptimisation, `node --trace-deopt`): its next 60–150 ms of V8 compiling ran unoptimised, which
 * made any one of the first rounds of `bench/run.ts --quick` 5× slower.
 */
function generalizeHostFields(make: (o: HartOptions) => Hart): void {
  const clocks: Clock[] = [{ mtime: () => 0n }, new (class ClassClock implements Clock { mtime(): bigint { return 0n } })()]
  const buses = [new Bus({ ramSize: 4096 }), new OtherBus({ ramSize: 4096 })]
  for (const bus of buses) for (const clock of clocks) make({ hartId: 0, bus, clock })
  // Devices: a machine maps several, each its own class, and the bus's calls into them are
  // inlined into `run()`; one device shape seen so far made the second a "wrong map" deoptimisation
  // of the whole loop. Five shapes here make those sites take any device from the start.
  const devices = buses[1]!
  for (let k = 0; k < 5; k++) {
    const device: MmioDevice = Object.assign(Object.create(null) as object, { [`shape${k}`]: k, name: `shape ${k}`, size: 256, read: () => 0n, write: () => {} })
    devices.map(MMIO + k * 0x1000, device)
    for (const size of [1, 2, 4, 8] as const) {
      devices.read(MMIO + k * 0x1000, size)
      devices.write(MMIO + k * 0x1000, size, 0n)
    }
  }
  // Likewise the counters `run()` writes: V8 treats a field never written since its object was
  // built as a constant, and the first write from optimised code undid that code.
  const stats = make({ hartId: 0, bus: buses[0]!, clock: clocks[0]! }).jitStats
  for (const key of Object.keys(stats) as (keyof typeof stats)[]) stats[key]++
}

/**
 * The scratch harts' block thresholds. With blocks compiled after 2 visits, the interpreter runs
 * each path of the program once or twice before a block takes it over: its data-TLB hits on
 * stores, for one, it then never met (the boot's first one deoptimised `Hart.run`). So the program
 * runs twice, the second time on a hart that compiles nothing. (Small integers both: a field
 * holding Infinity would change its representation.)
 */
export const COMPILE_EARLY = 2
export const INTERPRET_ONLY = 1 << 30

/** The warm-up program on a scratch hart (returned with what the device saw, for tests). */
export function runWarmUp(make: (o: HartOptions) => Hart, blockThreshold: number): { hart: Hart; deviceWrites: number; executed: number; yields: number } {
  const bus = new Bus({ ramSize: 64 << 10 })
  const regs = new BigUint64Array(8)
  bus.map(MMIO, { name: 'warm-up', size: 256, read: (o) => regs[(o >>> 3) & 7]!, write: (o, _s, v) => void ((regs[(o >>> 3) & 7] = v), deviceWrites++) })
  let deviceWrites = 0
  let executed = 0
  let t = 0n
  const clock: Clock = { mtime: () => (t += 1n) }
  // With blocks compiled after 2 visits, the interpreter's call sites of compiled blocks see many
  // different functions before V8 optimises it: a site that had seen one inlined it, and the
  // boot's second block deoptimised the whole loop ("wrong call target").
  const hart = make({ hartId: 0, bus, clock, blockThreshold })
  // main: jal ra, body; addi x3, x3, -1; bne x3, x0, main; j .   (and at +0x40: wfi; j .)
  words(bus, CODE, [J(BODY - CODE, 1), I(-1, 3, 0, 3, 0x13), B(1, 3, 0, -8), J(0, 0)])
  words(bus, CODE + 0x40, [0x10500073, J(0, 0)])
  words(bus, BODY, body())
  bus.view.setUint16(STRADDLE - RAM, 0x0013, true) // addi x0, x0, 0, in two halves
  bus.view.setUint16(STRADDLE - RAM + 2, 0x0000, true)
  words(bus, STRADDLE + 4, [RET_X22])
  bus.view.setUint16(LAST_HALF - RAM, 0x0001, true) // c.nop
  words(bus, LAST_HALF + 2, [RET_X22])
  // handler: csrr x31, mcause; blt x31, x0, irq; mepc += 4; mret; irq: csrw mie, x0; mret
  words(bus, HANDLER, [CSRRS(MCAUSE, 0, 31), B(4, 31, 0, 20), CSRRS(MEPC, 0, 31), I(4, 31, 0, 31, 0x13), CSRRW(MEPC, 31, 0), MRET, CSRRW(MIE, 0, 0), MRET])
  // Sv39: the RAM gigapage and the device's gigapage, identity-mapped.
  bus.view.setBigUint64(ROOT - RAM + 2 * 8, (BigInt(RAM >>> 12) << 10n) | 0xcfn, true)
  bus.view.setBigUint64(ROOT - RAM, 0xc7n, true)
  hart.setCsr(CSR.mtvec, BigInt(HANDLER))
  // V8 gives a function its feedback vector (where sites record what they saw) only after a few
  // calls: sites that ran only in the first calls recorded nothing, and the boot's first trap at
  // a slice's start deoptimised the loop ("insufficient type feedback"). So some calls first.
  for (let i = 0; i < 16; i++) hart.run(1)
  // M-mode bare; S-mode with Sv39; U-mode on user pages; S-mode on user pages with SUM; U-mode
  // low in the address space, where a program's code and data are (pcs and addresses whose low
  // word is below 2^31: a JALR's sum of halves then fits an int32, which V8 had not seen and
  // deoptimised the loop for); S-mode at the top of the address space, where Linux runs (pcs
  // and addresses negative numbers).
  for (const [priv, user, at] of [[3, false, CODE], [1, false, CODE], [0, true, CODE], [1, true, CODE], [0, true, LOW], [1, false, HIGH]] as const) {
    hart.pc = at === CODE ? CODE : at + (CODE - RAM)
    hart.setX(19, BigInt(hart.pc + (BODY - CODE)))
    hart.setX(18, BigInt(at === CODE ? DATA : at + (DATA - RAM)))
    hart.setX(2, BigInt(MMIO))
    hart.setX(3, 24n)
    hart.setX(4, 15n)
    hart.setX(5, 0x8765_4321_0fed_cba9n)
    hart.setX(6, -0x1234_5678_9abcn)
    hart.setX(7, 0x7fff_ffff_0000_1234n)
    hart.setX(23, hart.getX(18))
    if (priv < 3) {
      const u = user ? 0x10n : 0n
      // S-mode never runs user code (SUM is for data): it runs from gigapage 2 and reaches the
      // data through a user alias of the RAM at gigapage 3.
      const s = user && priv === 1
      bus.view.setBigUint64(ROOT - RAM + 2 * 8, (BigInt(RAM >>> 12) << 10n) | 0xcfn | (s ? 0n : u), true)
      bus.view.setBigUint64(ROOT - RAM + 3 * 8, (BigInt(RAM >>> 12) << 10n) | 0xcfn | u, true)
      bus.view.setBigUint64(ROOT - RAM, 0xc7n | u, true)
      bus.view.setBigUint64(ROOT - RAM + 510 * 8, (BigInt(RAM >>> 12) << 10n) | 0xcfn, true) // HIGH → RAM
      bus.view.setBigUint64(ROOT - RAM + 1 * 8, (BigInt(RAM >>> 12) << 10n) | 0xdfn, true) // LOW → RAM, user
      if (s) hart.setX(18, BigInt(DATA + 0x4000_0000))
      hart.setCsr(CSR.satp, (8n << 60n) | BigInt(ROOT >>> 12)) // Sv39 (a satp write flushes the TLB)
      if (user && priv === 1) hart.setCsr(CSR.mstatus, hart.getCsr(CSR.mstatus) | MSTATUS.SUM)
      hart.privilege = priv
      hart.setX(23, hart.getX(18) ^ 0xffff_ffff_0000_0000n)
    }
    executed += hart.run(6000).executed
  }
  // A device mapped over a RAM page (as a board may): from now on every run() drops the data TLB.
  bus.map(RAM + 0xf000, { name: 'warm-up shadow', size: 4096, read: () => 0n, write: () => undefined })
  // An interrupt, taken from S-mode (SSIP, not delegated: to M).
  hart.setCsr(MIE, 2n)
  hart.setSoftIrq(IRQ.SSI, true)
  executed += hart.run(100).executed
  // WFI with nothing pending (the handler cleared mie): the hart waits; a run while it waits
  // returns at once; the interrupt enabled again wakes it (a host's run loop does all three).
  hart.pc = CODE + 0x40
  executed += hart.run(100).executed
  executed += hart.run(100).executed
  hart.setCsr(MIE, 2n)
  executed += hart.run(100).executed
  // A host running several harts on one thread (`idleYields`), on a second scratch hart over the
  // same bus: a poll (`ld x24, 0(x18); bne x24, x25, -4` on a value that never comes) yields, and
  // so does a WFI with an interrupt pending but masked (M-mode, mstatus.MIE clear).
  const idler = make({ hartId: 1, bus, clock, blockThreshold })
  idler.idleYields = true
  idler.setCsr(CSR.mtvec, BigInt(HANDLER))
  words(bus, CODE + 0x60, [I(0, 18, 3, 24, 0x03), B(1, 24, 25, -4)])
  idler.setX(18, BigInt(DATA))
  idler.setX(25, ~BigInt(bus.view.getBigInt64(DATA - RAM, true)))
  idler.pc = CODE + 0x60
  let yields = 0
  for (let i = 0; i < 3; i++) {
    const r = idler.run(1000)
    executed += r.executed
    if (r.reason === 'yield') yields++
  }
  idler.setCsr(MIE, 2n)
  idler.setSoftIrq(IRQ.SSI, true)
  for (let i = 0; i < 3; i++) {
    idler.pc = CODE + 0x40
    const r = idler.run(1000)
    executed += r.executed
    if (r.reason === 'yield') yields++
  }
  return { hart, deviceWrites, executed, yields }
}
