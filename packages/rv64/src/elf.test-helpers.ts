/**
 * Test-only: builds small ELF64 RISC-V executables with a real section table (.text, .symtab,
 * .strtab, .shstrtab), and says where each part landed so hostile tests can corrupt it.
 */
export const ELF_BASE = 0x8000_0000

export interface ElfSpec {
  /** Bytes of the one PT_LOAD segment, loaded at `ELF_BASE`. */
  code?: Uint8Array
  /** Zeroed bytes after the code (memsz - filesz). */
  bss?: number
  /** Named symbols; their names are laid out in a fresh string table. */
  symbols?: [string, bigint][]
  /** Instead of `symbols`: a raw string table and raw entries naming offsets into it. */
  raw?: { strtab: Uint8Array; symbols: { name: number; value: bigint }[] }
}

export interface ElfLayout {
  phoff: number
  code: number
  strtab: number
  strtabSize: number
  symtab: number
  symtabSize: number
  shstrtab: number
  shoff: number
  /** Section indices. */
  sections: { text: 1; symtab: 2; strtab: 3; shstrtab: 4 }
}

const enc = new TextEncoder()
const align8 = (n: number) => (n + 7) & ~7

export function buildElf(spec: ElfSpec = {}): { bytes: Uint8Array; layout: ElfLayout } {
  const code = spec.code ?? Uint8Array.of(0x13, 0x05, 0x70, 0x00) // addi a0, zero, 7
  let strtab: Uint8Array
  let syms: { name: number; value: bigint }[]
  if (spec.raw) {
    strtab = spec.raw.strtab
    syms = spec.raw.symbols
  } else {
    const parts: number[] = [0]
    syms = []
    for (const [name, value] of spec.symbols ?? []) {
      syms.push({ name: parts.length, value })
      parts.push(...enc.encode(name), 0)
    }
    strtab = Uint8Array.from(parts)
  }
  const shstr = enc.encode('\0.text\0.symtab\0.strtab\0.shstrtab\0')
  const nameOf = (s: string) => new TextDecoder().decode(shstr).indexOf(s)
  const phoff = 64
  const codeOff = phoff + 56
  const strOff = codeOff + code.length
  const symOff = align8(strOff + strtab.length)
  const symSize = (syms.length + 1) * 24 // entry 0 is the null symbol
  const shstrOff = symOff + symSize
  const shoff = align8(shstrOff + shstr.length)
  const total = shoff + 5 * 64
  const b = new Uint8Array(total)
  const v = new DataView(b.buffer)
  v.setUint32(0, 0x7f454c46, false)
  b[4] = 2 // ELFCLASS64
  b[5] = 1 // ELFDATA2LSB
  b[6] = 1 // EV_CURRENT
  v.setUint16(16, 2, true) // ET_EXEC
  v.setUint16(18, 243, true) // EM_RISCV
  v.setUint32(20, 1, true)
  v.setBigUint64(24, BigInt(ELF_BASE), true)
  v.setBigUint64(32, BigInt(phoff), true)
  v.setBigUint64(40, BigInt(shoff), true)
  v.setUint16(52, 64, true)
  v.setUint16(54, 56, true)
  v.setUint16(56, 1, true)
  v.setUint16(58, 64, true)
  v.setUint16(60, 5, true)
  v.setUint16(62, 4, true) // e_shstrndx
  v.setUint32(phoff, 1, true) // PT_LOAD
  v.setUint32(phoff + 4, 5, true) // R+X
  v.setBigUint64(phoff + 8, BigInt(codeOff), true)
  v.setBigUint64(phoff + 16, BigInt(ELF_BASE), true)
  v.setBigUint64(phoff + 24, BigInt(ELF_BASE), true)
  v.setBigUint64(phoff + 32, BigInt(code.length), true)
  v.setBigUint64(phoff + 40, BigInt(code.length + (spec.bss ?? 0)), true)
  b.set(code, codeOff)
  b.set(strtab, strOff)
  syms.forEach((s, i) => {
    const at = symOff + (i + 1) * 24
    v.setUint32(at, s.name, true)
    b[at + 4] = 0x10 // STB_GLOBAL, STT_NOTYPE
    v.setUint16(at + 6, 1, true) // st_shndx: .text
    v.setBigUint64(at + 8, s.value, true)
  })
  b.set(shstr, shstrOff)
  const section = (i: number, name: number, type: number, flags: number, addr: number, off: number, size: number, link: number, info: number, entsize: number) => {
    const h = shoff + i * 64
    v.setUint32(h, name, true)
    v.setUint32(h + 4, type, true)
    v.setBigUint64(h + 8, BigInt(flags), true)
    v.setBigUint64(h + 16, BigInt(addr), true)
    v.setBigUint64(h + 24, BigInt(off), true)
    v.setBigUint64(h + 32, BigInt(size), true)
    v.setUint32(h + 40, link, true)
    v.setUint32(h + 44, info, true)
    v.setBigUint64(h + 48, 8n, true)
    v.setBigUint64(h + 56, BigInt(entsize), true)
  }
  section(1, nameOf('.text'), 1, 6, ELF_BASE, codeOff, code.length, 0, 0, 0)
  section(2, nameOf('.symtab'), 2, 0, 0, symOff, symSize, 3, 1, 24)
  section(3, nameOf('.strtab'), 3, 0, 0, strOff, strtab.length, 0, 0, 0)
  section(4, nameOf('.shstrtab'), 3, 0, 0, shstrOff, shstr.length, 0, 0, 0)
  return {
    bytes: b,
    layout: { phoff, code: codeOff, strtab: strOff, strtabSize: strtab.length, symtab: symOff, symtabSize: symSize, shstrtab: shstrOff, shoff, sections: { text: 1, symtab: 2, strtab: 3, shstrtab: 4 } },
  }
}
