/**
 * The memory limit, made hard: the module's own memory declaration is rewritten so that its
 * maximum is at most the limit. `memory.grow` past it then fails inside V8 (it returns -1, as
 * the WebAssembly spec says a failed grow does), without any check on our side racing the
 * module. A module whose *initial* memory is over the limit is refused before it starts.
 */

/** What the memory section of a module says, after capping. */
export interface MemoryCap {
  readonly bytes: Uint8Array
  /** Initial pages of the module's own memory (undefined: it declares none). */
  readonly initial: number | undefined
}

/** The binary does not look like a module we can rewrite (let V8 report the real error). */
export class MalformedModule extends Error {}

function readU32(b: Uint8Array, pos: number): [value: number, next: number] {
  let result = 0
  let shift = 0
  for (let i = 0; i < 5; i++) {
    if (pos >= b.length) throw new MalformedModule('LEB128 runs past the end')
    const byte = b[pos++]!
    result += (byte & 0x7f) * 2 ** shift
    if ((byte & 0x80) === 0) return [result, pos]
    shift += 7
  }
  throw new MalformedModule('LEB128 longer than 5 bytes')
}

function writeU32(v: number): number[] {
  const out: number[] = []
  do {
    let byte = v & 0x7f
    v = Math.floor(v / 128)
    if (v !== 0) byte |= 0x80
    out.push(byte)
  } while (v !== 0)
  return out
}

/**
 * Returns `bytes` with every defined memory's maximum set to at most `maxPages`.
 * Throws `MalformedModule` when the section structure is not what the spec describes, and
 * `RangeError` when the initial size is already over the limit.
 */
export function capMemory(bytes: Uint8Array, maxPages: number): MemoryCap {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new MalformedModule('no \\0asm magic')
  let pos = 8
  while (pos < bytes.length) {
    const id = bytes[pos]!
    const [size, body] = readU32(bytes, pos + 1)
    const end = body + size
    if (end > bytes.length) throw new MalformedModule('a section runs past the end')
    if (id === 5) {
      let [count, p] = readU32(bytes, body)
      const out: number[] = [...writeU32(count)]
      let initial: number | undefined
      for (let i = 0; i < count; i++) {
        const flag = bytes[p++]
        if (flag === undefined || flag > 3) throw new MalformedModule(`memory limits flag ${flag}`)
        let min: number
        ;[min, p] = readU32(bytes, p)
        let max: number | undefined
        if (flag & 1) [max, p] = readU32(bytes, p)
        if (min > maxPages) throw new RangeError(`initial memory of ${min} pages is over the limit of ${maxPages}`)
        initial ??= min
        out.push(flag | 1, ...writeU32(min), ...writeU32(Math.min(max ?? maxPages, maxPages)))
      }
      if (p !== end) throw new MalformedModule('memory section size mismatch')
      const head = [5, ...writeU32(out.length)]
      const result = new Uint8Array(pos + head.length + out.length + (bytes.length - end))
      result.set(bytes.subarray(0, pos))
      result.set(head, pos)
      result.set(out, pos + head.length)
      result.set(bytes.subarray(end), pos + head.length + out.length)
      return { bytes: result, initial }
    }
    pos = end
  }
  return { bytes, initial: undefined }
}
