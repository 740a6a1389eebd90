/**
 * An ELF64 little-endian RISC-V loader: PT_LOAD segments into RAM (bss zeroed), the entry
 * point, and the symbol table (for `tohost`/`fromhost`, `begin_signature`…). Every malformed
 * input is an `ElfError` saying what and where — never a host crash.
 */
import { HonkError } from '@honk/errors'
import type { Bus } from './bus.js'

export class ElfError extends HonkError {
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

/** Parses and loads `elf` into the bus's RAM. */
export function loadElf(bus: Bus, elf: Uint8Array): LoadedElf {
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength)
  const need = (off: number, n: number, what: string) => {
    if (!Number.isSafeInteger(off) || off < 0 || off + n > elf.length) throw new ElfError(`${what} at byte ${off} (+${n}) runs past the ${elf.length}-byte file`)
  }
  need(0, 64, 'the ELF header')
  if (v.getUint32(0, false) !== 0x7f454c46) throw new ElfError('bad magic (not an ELF file)')
  if (elf[4] !== 2) throw new ElfError(`class ${elf[4]} is not ELF64`)
  if (elf[5] !== 1) throw new ElfError(`data encoding ${elf[5]} is not little-endian`)
  const machine = v.getUint16(18, true)
  if (machine !== EM_RISCV) throw new ElfError(`machine ${machine} is not RISC-V (243)`)
  const big = (off: number, what: string) => {
    const x = v.getBigUint64(off, true)
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} 0x${x.toString(16)} is out of range`)
    return Number(x)
  }
  const entry = big(24, 'entry point')
  const phoff = big(32, 'program header offset')
  const shoff = big(40, 'section header offset')
  const phentsize = v.getUint16(54, true)
  const phnum = v.getUint16(56, true)
  const shentsize = v.getUint16(58, true)
  const shnum = v.getUint16(60, true)
  if (phnum > 0 && phentsize < 56) throw new ElfError(`program header size ${phentsize} < 56`)
  const segments: { start: number; end: number }[] = []
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize
    need(ph, 56, `program header ${i}`)
    if (v.getUint32(ph, true) !== 1) continue // PT_LOAD only
    const off = big(ph + 8, `segment ${i} offset`)
    const paddr = big(ph + 24, `segment ${i} address`)
    const filesz = big(ph + 32, `segment ${i} file size`)
    const memsz = big(ph + 40, `segment ${i} memory size`)
    if (filesz > memsz) throw new ElfError(`segment ${i}: file size ${filesz} exceeds memory size ${memsz}`)
    need(off, filesz, `segment ${i} data`)
    if (paddr < bus.ramBase || paddr + memsz > bus.ramEnd) throw new ElfError(`segment ${i} [0x${paddr.toString(16)}, +${memsz}) lies outside RAM`)
    bus.writeBytes(paddr, elf.subarray(off, off + filesz))
    if (memsz > filesz) bus.ram.fill(0, paddr - bus.ramBase + filesz, paddr - bus.ramBase + memsz)
    segments.push({ start: paddr, end: paddr + memsz })
  }
  if (segments.length === 0) throw new ElfError('no loadable segment')
  const symbols = new Map<string, number>()
  if (shnum > 0 && shoff > 0) {
    if (shentsize < 64) throw new ElfError(`section header size ${shentsize} < 64`)
    need(shoff, shnum * shentsize, 'the section headers')
    for (let i = 0; i < shnum; i++) {
      const sh = shoff + i * shentsize
      if (v.getUint32(sh + 4, true) !== 2) continue // SHT_SYMTAB
      const off = big(sh + 24, 'symtab offset')
      const size = big(sh + 32, 'symtab size')
      const link = v.getUint32(sh + 40, true)
      if (link >= shnum) throw new ElfError(`symtab links to section ${link} of ${shnum}`)
      const strsh = shoff + link * shentsize
      const stroff = big(strsh + 24, 'strtab offset')
      const strsize = big(strsh + 32, 'strtab size')
      need(off, size, 'the symbol table')
      need(stroff, strsize, 'the string table')
      for (let s = off; s + 24 <= off + size; s += 24) {
        const name = v.getUint32(s, true)
        if (name === 0 || name >= strsize) continue
        let end = stroff + name
        while (end < stroff + strsize && elf[end] !== 0) end++
        const value = v.getBigUint64(s + 8, true)
        if (value <= BigInt(Number.MAX_SAFE_INTEGER)) symbols.set(new TextDecoder().decode(elf.subarray(stroff + name, end)), Number(value))
      }
    }
  }
  return { entry, symbols, segments }
}
