/**
 * Device tree source (DTS) text for a tree: for reading, and as `dtc` input in the tests that
 * prove {@link buildFdt} writes what dtc writes.
 */
import type { FdtNode, FdtReservation } from './fdt.js'

export interface FormatDtsOptions {
  reserved?: readonly FdtReservation[]
  /** Every value as a byte string `[..]` (exact, for dtc); otherwise strings and cells are guessed. */
  raw?: boolean
}

const hex2 = (b: number): string => b.toString(16).padStart(2, '0')

function isStringList(v: Uint8Array): boolean {
  if (v.length === 0 || v[v.length - 1] !== 0) return false
  let prevNul = true
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!
    if (c === 0) {
      if (prevNul) return false // empty string in the list
      prevNul = true
    } else {
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false
      prevNul = false
    }
  }
  return true
}

/** Render one value as DTS. */
export function formatValue(v: Uint8Array, raw = false): string {
  if (!raw && isStringList(v)) {
    const parts: string[] = []
    let s = ''
    for (let i = 0; i < v.length; i++) {
      if (v[i] === 0) {
        parts.push(`"${s}"`)
        s = ''
      } else s += String.fromCharCode(v[i]!)
    }
    return parts.join(', ')
  }
  if (!raw && v.length % 4 === 0) {
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength)
    const cells = Array.from({ length: v.length / 4 }, (_, i) => `0x${dv.getUint32(i * 4).toString(16)}`)
    return `<${cells.join(' ')}>`
  }
  return `[${Array.from(v, hex2).join(' ')}]`
}

/** The whole tree as DTS v1 text (`/memreserve/` lines included). */
export function formatDts(root: FdtNode, opts: FormatDtsOptions = {}): string {
  const lines = ['/dts-v1/;']
  for (const r of opts.reserved ?? []) lines.push(`/memreserve/ 0x${r.address.toString(16)} 0x${r.size.toString(16)};`)
  const work: { node: FdtNode; depth: number; next: number }[] = [{ node: root, depth: 0, next: -1 }]
  while (work.length > 0) {
    const top = work[work.length - 1]!
    const pad = '\t'.repeat(top.depth)
    if (top.next === -1) {
      lines.push(`${pad}${top.depth === 0 ? '/' : top.node.name} {`)
      for (const p of top.node.props)
        lines.push(p.value.length === 0 ? `${pad}\t${p.name};` : `${pad}\t${p.name} = ${formatValue(p.value, opts.raw)};`)
      top.next = 0
    }
    const c = top.node.children[top.next++]
    if (c) work.push({ node: c, depth: top.depth + 1, next: -1 })
    else {
      lines.push(`${pad}};`)
      work.pop()
    }
  }
  return lines.join('\n') + '\n'
}
