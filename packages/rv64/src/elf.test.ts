/**
 * The ELF loader against valid and hostile files (issue #12 case 8): linear work on any string
 * table, every field checked against the buffer, `ElfError` for everything else, RAM untouched
 * by a rejected file.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Bus } from './bus.js'
import { ElfError, NAME_BUDGET_FACTOR, loadElf } from './elf.js'
import { ELF_BASE, buildElf } from './elf.test-helpers.js'

const bus = () => new Bus({ ramSize: 1 << 16 })
const big = () => new Bus({ ramSize: 1 << 20 })

/**
 * The loader's byte-level work on names, counted without timing: bytes handed to
 * TextDecoder.decode plus bytes scanned by Uint8Array.indexOf (the old loader decoded every
 * byte it scanned; the new one scans with indexOf and decodes what it found).
 */
function countWork<T>(f: () => T): { result?: T; error?: unknown; work: number } {
  let work = 0
  const decode = TextDecoder.prototype.decode
  const indexOf = Uint8Array.prototype.indexOf
  type Decode = typeof decode
  vi.spyOn(TextDecoder.prototype, 'decode').mockImplementation(function (this: InstanceType<typeof TextDecoder>, ...args: Parameters<Decode>) {
    work += args[0] ? args[0].byteLength : 0
    return decode.apply(this, args)
  })
  vi.spyOn(Uint8Array.prototype, 'indexOf').mockImplementation(function (this: Uint8Array, value: number, from?: number) {
    const at = indexOf.call(this, value, from)
    work += (at < 0 ? this.length : at + 1) - (from ?? 0)
    return at
  })
  try {
    return { result: f(), work }
  } catch (error) {
    return { error, work }
  } finally {
    vi.restoreAllMocks()
  }
}

afterEach(() => vi.restoreAllMocks())

/** A string table of `n` bytes of 'a' (NUL-terminated or not) and symbols naming offsets 1, 1+step, … */
function overlapping(n: number, terminated: boolean, step: number) {
  const strtab = new Uint8Array(n).fill(0x61)
  if (terminated) strtab[n - 1] = 0
  const symbols = []
  for (let o = 1; o < n - 1; o += step) symbols.push({ name: o, value: BigInt(ELF_BASE) })
  return buildElf({ raw: { strtab, symbols } }).bytes
}

/** `count` distinct ordinary names (a legitimate large symbol table). */
function manySymbols(count: number) {
  const symbols: [string, bigint][] = []
  for (let i = 0; i < count; i++) symbols.push([`function_number_${i}`, BigInt(ELF_BASE + i)])
  return buildElf({ symbols }).bytes
}

describe('loadElf', () => {
  it('loads the segment, zeroes its bss, and reads the symbol table', () => {
    const { bytes } = buildElf({ bss: 64, symbols: [['tohost', 0x8000_1000n], ['begin_signature', 0x8000_2000n], ['big', 1n << 60n]] })
    const b = bus()
    b.ram.fill(0xee)
    const elf = loadElf(b, bytes)
    expect(elf.entry).toBe(ELF_BASE)
    expect(elf.segments).toEqual([{ start: ELF_BASE, end: ELF_BASE + 4 + 64 }])
    expect([...b.ram.subarray(0, 4)]).toEqual([0x13, 0x05, 0x70, 0x00])
    expect(b.ram.subarray(4, 68).every((x) => x === 0)).toBe(true)
    expect(b.ram[68]).toBe(0xee)
    expect(elf.symbols.get('tohost')).toBe(0x8000_1000)
    expect(elf.symbols.get('begin_signature')).toBe(0x8000_2000)
    expect(elf.symbols.has('big')).toBe(false) // beyond 2^53: not representable, left out
  })

  describe('linear work on any symbol string table (issue #12 case 8)', () => {
    it('refuses a 592 KB string table without a NUL at once, decoding nothing', () => {
      // The reported file: 592 KB of name bytes, no NUL, ~24 000 symbols. It took 4.9 s.
      const elf = overlapping(592 * 1024, false, 24)
      const t0 = performance.now()
      const { error, work } = countWork(() => loadElf(big(), elf))
      const ms = performance.now() - t0
      expect(error).toBeInstanceOf(ElfError)
      expect((error as Error).message).toMatch(/string table \(section 3\) at byte \d+ \(\+606208\) does not end with a NUL/)
      expect(work).toBe(0)
      expect(ms).toBeLessThan(1000)
    })

    it('overlapping names cost at most the name budget: the work per file byte is the same at 1×, 2× and 4× the size', () => {
      // Every symbol points one step further into one long NUL-terminated name: the decoded
      // names would total (size²/2·step) bytes. The loader stops at the budget.
      const ratios: number[] = []
      for (const n of [256 << 10, 512 << 10, 1 << 20]) {
        const elf = overlapping(n, true, 64)
        const { error, work } = countWork(() => loadElf(big(), elf))
        expect(error).toBeInstanceOf(ElfError)
        expect((error as Error).message).toMatch(/symbol names in the symbol table's string table \(section 3\) add up to more than 8× its \d+ bytes/)
        // Scanned and decoded bytes (each counted) ≤ the budget (8n + 1 MiB) plus the one name that crosses it (≤ n).
        expect(work).toBeLessThanOrEqual(2 * (NAME_BUDGET_FACTOR * n + (1 << 20) + n))
        ratios.push(work / elf.length)
      }
      // Linear: the work per byte does not grow with the size (quadratic would double it each time).
      expect(Math.max(...ratios) / Math.min(...ratios)).toBeLessThan(1.5)
    })

    it('a legitimate table of distinct names: each name byte is scanned once and decoded once', () => {
      for (const count of [10_000, 20_000, 40_000]) {
        const elf = manySymbols(count)
        const { result, work, error } = countWork(() => loadElf(big(), elf))
        expect(error).toBeUndefined()
        expect(result!.symbols.size).toBe(count)
        expect(result!.symbols.get(`function_number_${count - 1}`)).toBe(ELF_BASE + count - 1)
        const strtabBytes = [...result!.symbols.keys()].reduce((a, k) => a + k.length + 1, 1)
        expect(work).toBeLessThanOrEqual(2 * strtabBytes)
      }
    })

    it('a name shared by 100 000 symbols (like RISC-V "$x" mapping symbols) is decoded once', () => {
      const strtab = new TextEncoder().encode('\0$x\0')
      const symbols = Array.from({ length: 100_000 }, (_, i) => ({ name: 1, value: BigInt(ELF_BASE + i) }))
      const elf = buildElf({ raw: { strtab, symbols } }).bytes
      const { result, work } = countWork(() => loadElf(big(), elf))
      expect(result!.symbols.get('$x')).toBe(ELF_BASE + 99_999)
      expect(work).toBe(3 + 2) // one scan of "$x\0", one decode of "$x"
    })

    it('4 MB hostile string tables are answered in well under a second', () => {
      for (const elf of [overlapping(4 << 20, false, 24), overlapping(4 << 20, true, 24)]) {
        const t0 = performance.now()
        expect(() => loadElf(big(), elf)).toThrow(ElfError)
        expect(performance.now() - t0).toBeLessThan(1000)
      }
    })
  })

  describe('hostile headers: each a typed error naming what and where', () => {
    const { bytes: good, layout: L } = buildElf({ symbols: [['tohost', 0x8000_1000n]] })
    type Poke = (v: DataView, b: Uint8Array) => void
    const cases: [string, Poke | number, RegExp][] = [
      ['truncated header', 40, /the ELF header at byte 0 \(\+64\) runs past the 40-byte file/],
      ['bad magic', (_, b) => (b[1] = 0x45 + 1), /bad magic/],
      ['ELF32', (_, b) => (b[4] = 1), /class 1 is not ELF64/],
      ['big-endian', (_, b) => (b[5] = 2), /data encoding 2 is not little-endian/],
      ['x86-64', (v) => v.setUint16(18, 62, true), /machine 62 is not RISC-V/],
      ['entry beyond 2^53', (v) => v.setBigUint64(24, 1n << 60n, true), /entry point 0x1000000000000000 \(at byte 24\) is out of range/],
      ['program headers past the end', (v) => v.setBigUint64(32, BigInt(good.length - 8), true), /the program header table \(1 × 56 bytes\) at byte \d+ \(\+56\) runs past/],
      ['program header offset 2^64-1', (v) => v.setBigUint64(32, (1n << 64n) - 1n, true), /program header offset 0xffffffffffffffff \(at byte 32\) is out of range/],
      ['65535 program headers', (v) => v.setUint16(56, 0xffff, true), /the program header table \(65535 × 56 bytes\)/],
      ['program header size 8', (v) => v.setUint16(54, 8, true), /program header size 8 \(e_phentsize\) < 56/],
      ['segment data past the end', (v) => v.setBigUint64(L.phoff + 8, BigInt(good.length), true), /segment 0 data at byte \d+ \(\+4\) runs past/],
      ['segment offset + size overflows 2^53', (v) => (v.setBigUint64(L.phoff + 8, (1n << 53n) - 1n, true), v.setBigUint64(L.phoff + 32, (1n << 53n) - 1n, true), v.setBigUint64(L.phoff + 40, (1n << 53n) - 1n, true)), /segment 0 data at byte 9007199254740991 \(\+9007199254740991\) runs past/],
      ['file size > memory size', (v) => v.setBigUint64(L.phoff + 40, 1n, true), /segment 0: file size 4 exceeds memory size 1/],
      ['segment outside RAM', (v) => v.setBigUint64(L.phoff + 24, 0x1000n, true), /segment 0 \[0x1000, \+4\) lies outside RAM/],
      ['huge bss', (v) => v.setBigUint64(L.phoff + 40, 1n << 40n, true), /segment 0 \[0x80000000, \+1099511627776\) lies outside RAM/],
      ['no PT_LOAD', (v) => v.setUint32(L.phoff, 4, true), /no loadable segment/],
      ['section headers past the end', (v) => v.setUint16(60, 50, true), /the section header table \(50 × 64 bytes\) at byte \d+ \(\+3200\) runs past/],
      ['section header size 40', (v) => v.setUint16(58, 40, true), /section header size 40 \(e_shentsize\) < 64/],
      ['sections counted but no table', (v) => v.setBigUint64(40, 0n, true), /5 section headers \(e_shnum\) but no section header table/],
      ['extended section count too big', (v) => (v.setUint16(60, 0, true), v.setBigUint64(L.shoff + 32, 1n << 40n, true)), /the section header table \(1099511627776 × 64 bytes\)/],
      ['e_shstrndx out of range', (v) => v.setUint16(62, 9, true), /section-name table index 9 \(e_shstrndx\) is not below the section count 5/],
      ['e_shstrndx SHN_XINDEX to nowhere', (v) => (v.setUint16(62, 0xffff, true), v.setUint32(L.shoff + 40, 77, true)), /section-name table index 77/],
      ['e_shstrndx names the symbol table', (v) => v.setUint16(62, 2, true), /the section-name table is section 2, of type 2, not SHT_STRTAB/],
      ['unterminated section names', (_, b) => (b[L.shoff - 1] = 0x41, b[L.shstrtab + 32] = 0x41), /the section-name table \(section 4\) at byte \d+ \(\+33\) does not end with a NUL/],
      ['section contents past the end', (v) => v.setBigUint64(L.shoff + 64 + 32, 1n << 20n, true), /section 1 contents at byte \d+ \(\+1048576\) runs past/],
      ['section offset beyond 2^53', (v) => v.setBigUint64(L.shoff + 64 + 24, 1n << 63n, true), /section 1 offset 0x8000000000000000 \(at byte \d+\) is out of range/],
      ['symbol table past the end', (v) => v.setBigUint64(L.shoff + 2 * 64 + 32, 24n * 1000n, true), /section 2 contents at byte \d+ \(\+24000\) runs past/],
      ['symbol table entry size 16', (v) => v.setBigUint64(L.shoff + 2 * 64 + 56, 16n, true), /symbol table \(section 2\) entry size 16 is not 24/],
      ['symbol table size not a multiple of 24', (v) => v.setBigUint64(L.shoff + 2 * 64 + 32, 47n, true), /symbol table \(section 2\) size 47 is not a multiple of 24/],
      ['two symbol tables', (v) => v.setUint32(L.shoff + 64 + 4, 2, true), /sections 1 and 2 are both symbol tables/],
      ['symbol table links out of range', (v) => v.setUint32(L.shoff + 2 * 64 + 40, 1000, true), /symbol table \(section 2\) links to string table 1000, not below the section count 5/],
      ['symbol table links to itself', (v) => v.setUint32(L.shoff + 2 * 64 + 40, 2, true), /the symbol table's string table is section 2, of type 2, not SHT_STRTAB/],
      ['unterminated symbol names', (_, b) => (b[L.strtab + L.strtabSize - 1] = 0x41), /the symbol table's string table \(section 3\) at byte \d+ \(\+8\) does not end with a NUL/],
      ['symbol name past the string table', (v) => v.setUint32(L.symtab + 24, 8, true), /symbol 1 \(byte \d+\) names offset 8, past the 8-byte the symbol table's string table \(section 3\)/],
    ]
    it.each(cases)('%s', (_, poke, message) => {
      let bad: Uint8Array
      if (typeof poke === 'number') bad = good.slice(0, poke)
      else {
        bad = good.slice()
        poke(new DataView(bad.buffer), bad)
      }
      const b = bus()
      let error: unknown
      try {
        loadElf(b, bad)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ElfError)
      expect((error as ElfError).code).toBe('RV64_ELF')
      expect((error as Error).message).toMatch(message)
      expect(b.ram.every((x) => x === 0)).toBe(true) // nothing loaded from a rejected file
    })

    it('overlapping segments are refused', () => {
      const { bytes } = buildElf()
      // Two program headers: copy the first into a second slot placed over the code (re-laid out).
      const elf = new Uint8Array(bytes.length + 56)
      elf.set(bytes.subarray(0, 120))
      elf.set(bytes.subarray(64, 120), 120)
      elf.set(bytes.subarray(120), 176)
      const v = new DataView(elf.buffer)
      v.setUint16(56, 2, true)
      v.setBigUint64(40, v.getBigUint64(40, true) + 56n, true)
      v.setBigUint64(64 + 8, 176n, true)
      v.setBigUint64(120 + 8, 176n, true)
      v.setBigUint64(120 + 24, BigInt(ELF_BASE + 2), true)
      // Section offsets moved by 56 too; only the headers' own position matters for this check.
      expect(() => loadElf(bus(), elf)).toThrow(/segments 0 and 1 overlap in memory at 0x80000002/)
    })
  })

  it('random truncations and byte/field corruptions of a valid ELF: a result or an ElfError, linear work, RAM untouched on error', () => {
    const { bytes: good, layout: L } = buildElf({ bss: 32, symbols: [['tohost', 0x8000_1000n], ['fromhost', 0x8000_1008n], ['x', 1n], ['$x', 2n]] })
    // 64-bit fields worth hitting with edge values: header, program header, section headers.
    const fields = [24, 32, 40, L.phoff + 8, L.phoff + 24, L.phoff + 32, L.phoff + 40]
    for (let i = 0; i < 5; i++) for (const f of [24, 32, 56]) fields.push(L.shoff + i * 64 + f)
    const halves = [52, 54, 56, 58, 60, 62] // e_ehsize … e_shstrndx
    const edge = fc.oneof(
      fc.constantFrom(0n, 1n, 24n, 56n, 64n, BigInt(good.length), BigInt(good.length - 1), BigInt(ELF_BASE), (1n << 53n) - 1n, 1n << 53n, (1n << 63n) + 5n, (1n << 64n) - 1n),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    )
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('byte' as const), at: fc.nat(good.length - 1), value: fc.nat(255) }),
      fc.record({ kind: fc.constant('u64' as const), at: fc.constantFrom(...fields), value: edge }),
      fc.record({ kind: fc.constant('u16' as const), at: fc.constantFrom(...halves), value: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 9, 56, 64, 0xff00, 0xffff), fc.nat(0xffff)) }),
      fc.record({ kind: fc.constant('u32' as const), at: fc.constantFrom(L.phoff, ...[0, 1, 2, 3, 4].flatMap((i) => [L.shoff + i * 64 + 4, L.shoff + i * 64 + 40]), L.symtab + 24), value: fc.oneof(fc.constantFrom(0, 1, 2, 3, 8, 5, 0xffff, 0xffffffff), fc.nat()) }),
    )
    fc.assert(
      fc.property(fc.nat(good.length + 8), fc.array(mutation, { maxLength: 5 }), (cut, mutations) => {
        const bad = new Uint8Array(Math.min(cut, good.length))
        bad.set(good.subarray(0, bad.length))
        const v = new DataView(bad.buffer)
        for (const m of mutations) {
          const width = m.kind === 'byte' ? 1 : m.kind === 'u16' ? 2 : m.kind === 'u32' ? 4 : 8
          if (m.at + width > bad.length) continue
          if (m.kind === 'byte') bad[m.at] = m.value
          else if (m.kind === 'u16') v.setUint16(m.at, m.value, true)
          else if (m.kind === 'u32') v.setUint32(m.at, m.value, true)
          else v.setBigUint64(m.at, m.value, true)
        }
        const b = bus()
        const { error, work } = countWork(() => loadElf(b, bad))
        if (error !== undefined) {
          expect(error).toBeInstanceOf(ElfError)
          expect(b.ram.every((x) => x === 0)).toBe(true)
        }
        expect(work).toBeLessThanOrEqual(2 * bad.length)
      }),
      { numRuns: 3000 },
    )
  })
})
