import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CSR, MSTATUS, assemble, createSystem, type Bus } from './index.js'

/**
 * Misaligned accesses (privileged spec §3.6.4): ordinary loads and stores of every width succeed
 * at any address, also across a page boundary where the two pages are not adjacent in physical
 * memory (each part translated on its own; issue #12 case 13 found the second part read from
 * the wrong physical page). LR/SC/AMOs need natural alignment (address-misaligned exception).
 * Data accesses run in M-mode with MPRV and MPP = S under Sv39, so they are translated.
 */
const BASE = 0x8000_0000
const RAM = 2 << 20
const V = 1n, R = 2n, W = 4n, A = 64n, D = 128n
const RWAD = V | R | W | A | D
/** Two virtually adjacent pages: VA0 → PA0 (high), VA0 + 4 KiB → PA1 (lower, not adjacent). */
const VA0 = 0x4000_0000n
const PA0 = BigInt(BASE + 0x18_0000)
const PA1 = BigInt(BASE + 0x12_3000)

function machine(source: string, options: { mapSecond?: boolean } = {}) {
  const sys = createSystem({ harts: 1, ramSize: RAM })
  const bus = sys.bus as Bus
  const prog = assemble(source, { base: BASE })
  bus.writeBytes(BASE, prog.bytes)
  const hart = sys.harts[0]!
  let next = BigInt(BASE + (1 << 20))
  const alloc = () => ((next += 4096n), next - 4096n)
  const root = alloc()
  const map = (va: bigint, pa: bigint) => {
    let table = root
    for (let l = 2; l > 0; l--) {
      const pteAddr = table + ((va >> BigInt(12 + 9 * l)) & 511n) * 8n
      let pte = bus.read(Number(pteAddr), 8)!
      if (!(pte & V)) bus.write(Number(pteAddr), 8, (pte = ((alloc() >> 12n) << 10n) | V))
      table = (pte >> 10n) << 12n
    }
    bus.write(Number(table + ((va >> 12n) & 511n) * 8n), 8, ((pa >> 12n) << 10n) | RWAD)
  }
  map(VA0, PA0)
  if (options.mapSecond ?? true) map(VA0 + 4096n, PA1)
  hart.setCsr(CSR.satp, (8n << 60n) | (root >> 12n))
  hart.setCsr(CSR.mstatus, (hart.getCsr(CSR.mstatus) & ~MSTATUS.MPP) | MSTATUS.MPRV | (1n << 11n) | (1n << 13n)) // MPP = S, FS on
  hart.setCsr(CSR.mtvec, BigInt(prog.symbols.get('trap') ?? BASE))
  return { bus, hart }
}

/** The 16 bytes around the boundary: the last 8 of PA0's page and the first 8 of PA1's. */
const around = (bus: Bus) => [...bus.ram.slice(Number(PA0) + 4088 - BASE, Number(PA0) + 4096 - BASE), ...bus.ram.slice(Number(PA1) - BASE, Number(PA1) + 8 - BASE)]
const fill = (bus: Bus, bytes: number[]) => {
  bus.ram.set(bytes.slice(0, 8), Number(PA0) + 4088 - BASE)
  bus.ram.set(bytes.slice(8), Number(PA1) - BASE)
}
const le = (bytes: number[], at: number, n: number) => bytes.slice(at, at + n).reduceRight((v, b) => (v << 8n) | BigInt(b), 0n)

const LOADS = [
  ['lh', 2, true], ['lhu', 2, false], ['lw', 4, true], ['lwu', 4, false], ['ld', 8, true],
] as const
const STORES = [['sh', 2], ['sw', 4], ['sd', 8]] as const

describe('misaligned accesses across a page boundary (pages not physically adjacent)', () => {
  it('loads of every width read each part from its own page (integer, FP, compressed)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: LOADS.length + 2 }), fc.integer({ min: 1, max: 7 }), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 }), fc.boolean(), (which, back, bytes, rvc) => {
        const fp = which >= LOADS.length
        const [insn, size, signed] = fp ? ([which === LOADS.length ? 'flw' : 'fld', which === LOADS.length ? 4 : 8, false] as const) : LOADS[which]!
        fc.pre(back < size) // `back` bytes on the first page, the rest on the second
        const dst = fp ? 'fa0' : 'a0'
        const { bus, hart } = machine(`${rvc && (insn === 'lw' || insn === 'ld' || insn === 'fld') ? '.option rvc\n' : ''}${insn} ${dst}, 0(a1)\ntrap: j trap`)
        fill(bus, bytes)
        hart.setX(11, VA0 + 4096n - BigInt(back))
        hart.run(1)
        expect(hart.getCsr(CSR.mcause)).toBe(0n)
        let want = le(bytes, 8 - back, size)
        if (signed) want = BigInt.asUintN(64, BigInt.asIntN(size * 8, want))
        const got = fp ? hart.fpu.f[10]! & ((1n << BigInt(size * 8)) - 1n) : hart.getX(10)
        expect(got).toBe(want)
      }),
      { numRuns: 300 },
    )
  })

  it('stores of every width write each part to its own page, and nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: STORES.length + 1 }), fc.integer({ min: 1, max: 7 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (which, back, value) => {
        const fp = which >= STORES.length
        const [insn, size] = fp ? ([which === STORES.length ? 'fsw' : 'fsd', which === STORES.length ? 4 : 8] as const) : STORES[which]!
        fc.pre(back < size)
        const { bus, hart } = machine(`${insn} ${fp ? 'fa0' : 'a0'}, 0(a1)\ntrap: j trap`)
        const before = Array.from({ length: 16 }, (_, i) => (i * 37 + 5) & 255)
        fill(bus, before)
        if (fp) hart.fpu.f[10] = value
        else hart.setX(10, value)
        hart.setX(11, VA0 + 4096n - BigInt(back))
        hart.run(1)
        expect(hart.getCsr(CSR.mcause)).toBe(0n)
        const want = [...before]
        for (let i = 0; i < size; i++) want[8 - back + i] = Number((value >> BigInt(8 * i)) & 0xffn)
        expect(around(bus)).toEqual(want)
      }),
      { numRuns: 300 },
    )
  })

  it('a store whose second page is unmapped faults there and writes nothing on the first', () => {
    const { bus, hart } = machine('sd a0, 0(a1)\ntrap: j trap', { mapSecond: false })
    const before = Array.from({ length: 16 }, (_, i) => i)
    fill(bus, before)
    hart.setX(10, 0x1122_3344_5566_7788n)
    hart.setX(11, VA0 + 4093n)
    hart.run(1)
    expect(hart.getCsr(CSR.mcause)).toBe(15n) // store page fault
    expect(hart.getCsr(CSR.mtval)).toBe(VA0 + 4096n)
    expect(around(bus)).toEqual(before)
  })
})

describe('LR/SC/AMO need natural alignment (address-misaligned exception)', () => {
  for (const [insn, size, cause] of [
    ['lr.w a0, (a1)', 4, 4n], ['lr.d a0, (a1)', 8, 4n], ['sc.w a0, a2, (a1)', 4, 6n], ['sc.d a0, a2, (a1)', 8, 6n],
    ['amoadd.w a0, a2, (a1)', 4, 6n], ['amoswap.d a0, a2, (a1)', 8, 6n],
  ] as const) {
    it(`${insn.split(' ')[0]}: misaligned traps (cause ${cause}) and changes nothing; aligned works`, () => {
      for (let off = 1; off < size; off++) {
        const { bus, hart } = machine(`${insn}\ntrap: j trap`)
        const before = Array.from({ length: 16 }, (_, i) => i + 1)
        fill(bus, before)
        hart.setX(11, VA0 + 4088n - 8n + BigInt(off))
        hart.setX(12, 0xffn)
        hart.run(1)
        expect(hart.getCsr(CSR.mcause)).toBe(cause)
        expect(hart.getCsr(CSR.mtval)).toBe(VA0 + 4080n + BigInt(off))
        expect(around(bus)).toEqual(before)
      }
      const { hart } = machine(`${insn}\ntrap: j trap`)
      hart.setX(11, VA0 + 4088n)
      hart.run(1)
      expect(hart.getCsr(CSR.mcause)).toBe(0n)
    })
  }
})
