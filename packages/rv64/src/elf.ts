/**
 * An ELF64 little-endian RISC-V loader: PT_LOAD segments into RAM (bss zeroed), the entry
 * point, and the symbol table (for `tohost`/`fromhost`, `begin_signature`…).
 *
 * The file is untrusted. Every offset, size and count it holds is checked against the buffer
 * before it is used, and every malformed input is an `ElfError` saying what and where — never a
 * host crash, a hang or an allocation sized by the file. The work is linear in the file's size
 * (plus the bytes written to RAM): each symbol name is scanned and decoded at most once per
 * distinct string-table offset, and the total of those bytes is bounded by a multiple of the
 * string table's size. The whole file is validated before the first byte is written to RAM,
 * so a rejected file leaves RAM as it was.
 */
import { HonkError } from '@honk/errors'
import type { Bus } from './bus.js'

export class ElfError extends HonkError<'RV64_ELF'> {
  constructor(message: string) {
    super('RV64_ELF', `ELF: ${message}`)
  }
}

export interface LoadedElf {
  entry: number
  symbols: Map<string, number>
  /** [start, end) of every loaded segment. */
  segments: { start: number; end: number }[]
}

const EM_RISCV = 243
const EHDR = 64
const PHDR = 56
const SHDR = 64
const SYM = 24
const PT_LOAD = 1
const SHT_NULL = 0
const SHT_SYMTAB = 2
const SHT_STRTAB = 3
const SHT_NOBITS = 8
const SHN_XINDEX = 0xffff
/**
 * Symbol names may share bytes (linkers merge a name into the tail of a longer one), so their
 * total can exceed the string table; a hostile file can make it quadratic (every symbol pointing
 * one byte further into one long string). Decoded names may total this many times the table's
 * size (plus NAME_SLACK) — far above any linker's merging, and still linear.
 */
export const NAME_BUDGET_FACTOR = 8
const NAME_SLACK = 1 << 20

const decoder = new TextDecoder()

interface Segment {
  index: number
  off: number
  paddr: number
  filesz: number
  memsz: number
}

interface StringTable {
  off: number
  size: number
  what: string
}

/** Parses and loads `elf` into the bus's RAM. */
export function loadElf(bus: Bus, elf: Uint8Array): LoadedElf {
  const { entry, load, symbols } = parseElf(elf, bus.ramBase, bus.ramEnd)
  // Validation is complete: only now is RAM written.
  for (const s of load) {
    bus.writeBytes(s.paddr, elf.subarray(s.off, s.off + s.filesz))
    if (s.memsz > s.filesz) bus.ram.fill(0, s.paddr - bus.ramBase + s.filesz, s.paddr - bus.ramBase + s.memsz)
  }
  return { entry, symbols, segments: load.map((s) => ({ start: s.paddr, end: s.paddr + s.memsz })) }
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`
}

/** Every check of `loadElf`, without touching RAM. */
function parseElf(elf: Uint8Array, ramBase: number, ramEnd: number): { entry: number; load: Segment[]; symbols: Map<string, number> } {
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength)
  const len = elf.length
  /** [off, off + n) must lie in the file (a sum beyond 2^53 loses precision only far above any buffer length). */
  const need = (off: number, n: number, what: string) => {
    if (off < 0 || n < 0 || off + n > len) throw new ElfError(`${what} at byte ${off} (+${n}) runs past the ${len}-byte file`)
  }
  const u64 = (off: number, what: string) => {
    const x = v.getBigUint64(off, true)
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} ${hex(x)} (at byte ${off}) is out of range`)
    return Number(x)
  }

  need(0, EHDR, 'the ELF header')
  if (v.getUint32(0, false) !== 0x7f454c46) throw new ElfError('bad magic (not an ELF file)')
  if (elf[4] !== 2) throw new ElfError(`class ${elf[4]} is not ELF64`)
  if (elf[5] !== 1) throw new ElfError(`data encoding ${elf[5]} is not little-endian`)
  const machine = v.getUint16(18, true)
  if (machine !== EM_RISCV) throw new ElfError(`machine ${machine} is not RISC-V (243)`)
  const entry = u64(24, 'entry point')
  const phoff = u64(32, 'program header offset')
  const shoff = u64(40, 'section header offset')
  const phentsize = v.getUint16(54, true)
  const phnum = v.getUint16(56, true)
  const shentsize = v.getUint16(58, true)
  let shnum = v.getUint16(60, true)
  let shstrndx = v.getUint16(62, true)

  // Program headers: the PT_LOAD segments, each inside the file and inside RAM, none overlapping
  // another in memory (so the bytes written to RAM are bounded by its size).
  if (phnum > 0) {
    if (phentsize < PHDR) throw new ElfError(`program header size ${phentsize} (e_phentsize) < ${PHDR}`)
    need(phoff, phnum * phentsize, `the program header table (${phnum} × ${phentsize} bytes)`)
  }
  const load: Segment[] = []
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize
    if (v.getUint32(ph, true) !== PT_LOAD) continue
    const off = u64(ph + 8, `segment ${i} offset`)
    const paddr = u64(ph + 24, `segment ${i} address`)
    const filesz = u64(ph + 32, `segment ${i} file size`)
    const memsz = u64(ph + 40, `segment ${i} memory size`)
    if (filesz > memsz) throw new ElfError(`segment ${i}: file size ${filesz} exceeds memory size ${memsz}`)
    need(off, filesz, `segment ${i} data`)
    if (paddr < ramBase || paddr + memsz > ramEnd) throw new ElfError(`segment ${i} [${hex(paddr)}, +${memsz}) lies outside RAM [${hex(ramBase)}, ${hex(ramEnd)})`)
    load.push({ index: i, off, paddr, filesz, memsz })
  }
  if (load.length === 0) throw new ElfError('no loadable segment')
  const byAddress = load.filter((s) => s.memsz > 0).sort((a, b) => a.paddr - b.paddr)
  for (let k = 1; k < byAddress.length; k++) {
    const a = byAddress[k - 1]!
    const b = byAddress[k]!
    if (b.paddr < a.paddr + a.memsz) throw new ElfError(`segments ${a.index} and ${b.index} overlap in memory at ${hex(b.paddr)}`)
  }

  // Section headers. gABI: e_shoff 0 means no table; e_shnum 0 with a table means the count is
  // in section 0's sh_size, and e_shstrndx SHN_XINDEX means the index is in its sh_link.
  const symbols = new Map<string, number>()
  if (shoff === 0) {
    if (shnum !== 0) throw new ElfError(`${shnum} section headers (e_shnum) but no section header table (e_shoff 0)`)
    return { entry, load, symbols }
  }
  if (shentsize < SHDR) throw new ElfError(`section header size ${shentsize} (e_shentsize) < ${SHDR}`)
  need(shoff, SHDR, 'section header 0')
  if (shnum === 0) {
    shnum = u64(shoff + 32, 'extended section count (section 0 sh_size)')
    if (shnum === 0) return { entry, load, symbols }
  }
  need(shoff, shnum * shentsize, `the section header table (${shnum} × ${shentsize} bytes)`)
  if (shstrndx === SHN_XINDEX) shstrndx = v.getUint32(shoff + 40, true)
  const sh = (i: number) => shoff + i * shentsize
  const type = (i: number) => v.getUint32(sh(i) + 4, true)

  // Every section's bytes lie in the file (SHT_NOBITS occupies none).
  const secOff: number[] = []
  const secSize: number[] = []
  for (let i = 0; i < shnum; i++) {
    const off = u64(sh(i) + 24, `section ${i} offset`)
    const size = u64(sh(i) + 32, `section ${i} size`)
    if (type(i) !== SHT_NULL && type(i) !== SHT_NOBITS) need(off, size, `section ${i} contents`)
    secOff.push(off)
    secSize.push(size)
  }
  const strtab = (i: number, what: string): StringTable => {
    if (type(i) !== SHT_STRTAB) throw new ElfError(`${what} is section ${i}, of type ${type(i)}, not SHT_STRTAB (3)`)
    const t = { off: secOff[i]!, size: secSize[i]!, what: `${what} (section ${i})` }
    // gABI: a string table's last byte is NUL, so every name in it is terminated.
    if (t.size > 0 && elf[t.off + t.size - 1] !== 0) throw new ElfError(`${t.what} at byte ${t.off} (+${t.size}) does not end with a NUL: its last string is unterminated`)
    return t
  }
  // The section-name table: validated even though only error messages would use it.
  if (shstrndx !== 0) {
    if (shstrndx >= shnum) throw new ElfError(`section-name table index ${shstrndx} (e_shstrndx) is not below the section count ${shnum}`)
    strtab(shstrndx, 'the section-name table')
  }

  let symtab = -1
  for (let i = 0; i < shnum; i++) {
    if (type(i) !== SHT_SYMTAB) continue
    // gABI: at most one SHT_SYMTAB. Several pointing at the same bytes would multiply the work.
    if (symtab >= 0) throw new ElfError(`sections ${symtab} and ${i} are both symbol tables (SHT_SYMTAB); an ELF has at most one`)
    symtab = i
  }
  if (symtab < 0) return { entry, load, symbols }
  const entsize = u64(sh(symtab) + 56, 'symbol table entry size')
  if (entsize !== SYM) throw new ElfError(`symbol table (section ${symtab}) entry size ${entsize} is not ${SYM}`)
  const off = secOff[symtab]!
  const size = secSize[symtab]!
  if (size % SYM !== 0) throw new ElfError(`symbol table (section ${symtab}) size ${size} is not a multiple of ${SYM}`)
  const link = v.getUint32(sh(symtab) + 40, true)
  if (link >= shnum) throw new ElfError(`symbol table (section ${symtab}) links to string table ${link}, not below the section count ${shnum}`)
  const strings = strtab(link, `the symbol table's string table`)
  const names = new Map<number, string>()
  let budget = NAME_BUDGET_FACTOR * strings.size + NAME_SLACK
  for (let s = off, n = 0; s < off + size; s += SYM, n++) {
    const name = v.getUint32(s, true)
    if (name === 0) continue
    if (name >= strings.size) throw new ElfError(`symbol ${n} (byte ${s}) names offset ${name}, past the ${strings.size}-byte ${strings.what}`)
    let text = names.get(name)
    if (text === undefined) {
      const start = strings.off + name
      const end = elf.indexOf(0, start) // found: the table ends with a NUL
      budget -= end - start
      if (budget < 0) throw new ElfError(`the symbol names in ${strings.what} add up to more than ${NAME_BUDGET_FACTOR}× its ${strings.size} bytes (symbol ${n}, byte ${s}): names overlap implausibly`)
      text = decoder.decode(elf.subarray(start, end))
      names.set(name, text)
    }
    const value = v.getBigUint64(s + 8, true)
    if (value <= BigInt(Number.MAX_SAFE_INTEGER)) symbols.set(text, Number(value))
  }
  return { entry, load, symbols }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    ElfError: ElfError
  }
}
