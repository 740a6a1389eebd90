/**
 * Typed property values (Devicetree Specification v0.4 §2.2.4: `<u32>`, `<u64>`, `<prop-encoded-array>`,
 * `<string>`, `<stringlist>`, empty), a terse node builder, and readers: path lookup (§2.2.3,
 * with `/aliases`), phandles (§2.3.3), `reg` decoding (§2.3.6).
 */
import { FdtError, type FdtNode, type FdtProp } from './fdt.js'

const U64_MAX = (1n << 64n) - 1n
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: false })

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new FdtError('FDT_BAD_VALUE', `${what} ${v} is not a u32`)
}

/** Encoders for property values; all big-endian as §2.2.4 requires. */
export const prop = {
  /** A property with no value (a boolean such as `interrupt-controller`). */
  empty: (): Uint8Array => new Uint8Array(0),
  u32(v: number): Uint8Array {
    checkU32(v, 'value')
    const b = new Uint8Array(4)
    new DataView(b.buffer).setUint32(0, v)
    return b
  },
  u64(v: bigint): Uint8Array {
    if (v < 0n || v > U64_MAX) throw new FdtError('FDT_BAD_VALUE', `value ${v} is not a u64`)
    const b = new Uint8Array(8)
    new DataView(b.buffer).setBigUint64(0, v)
    return b
  },
  /** A `<prop-encoded-array>` of u32 cells. */
  cells(values: readonly number[]): Uint8Array {
    const b = new Uint8Array(values.length * 4)
    const dv = new DataView(b.buffer)
    values.forEach((v, i) => {
      checkU32(v, `cell ${i}`)
      dv.setUint32(i * 4, v)
    })
    return b
  },
  /** Each value as `count` cells (e.g. `reg` with `#address-cells = <2>`). */
  wide(values: readonly bigint[], count = 2): Uint8Array {
    const b = new Uint8Array(values.length * count * 4)
    const dv = new DataView(b.buffer)
    values.forEach((v, i) => {
      if (v < 0n || v >= 1n << BigInt(32 * count)) throw new FdtError('FDT_BAD_VALUE', `value ${v} does not fit in ${count} cells`)
      for (let c = 0; c < count; c++) dv.setUint32((i * count + c) * 4, Number((v >> BigInt(32 * (count - 1 - c))) & 0xffffffffn))
    })
    return b
  },
  /** A NUL-terminated UTF-8 string. */
  string(s: string): Uint8Array {
    if (s.includes('\0')) throw new FdtError('FDT_BAD_VALUE', `string ${JSON.stringify(s)} contains NUL`)
    return prop.strings([s])
  },
  /** A `<stringlist>`: each string NUL-terminated, concatenated. */
  strings(list: readonly string[]): Uint8Array {
    const parts = list.map((s) => {
      if (s.includes('\0')) throw new FdtError('FDT_BAD_VALUE', `string ${JSON.stringify(s)} contains NUL`)
      return utf8.encode(s)
    })
    const b = new Uint8Array(parts.reduce((n, x) => n + x.length + 1, 0))
    let o = 0
    for (const x of parts) {
      b.set(x, o)
      o += x.length + 1
    }
    return b
  },
} as const

/**
 * What {@link node} accepts for a value: bytes as they are; `number` → u32; `bigint` → u64;
 * `number[]` → cells; `string` → string; `string[]` → stringlist; `true` → empty.
 */
export type PropInit = Uint8Array | number | bigint | readonly number[] | string | readonly string[] | true

export function encodeProp(v: PropInit): Uint8Array {
  if (v instanceof Uint8Array) return v
  if (v === true) return prop.empty()
  if (typeof v === 'number') return prop.u32(v)
  if (typeof v === 'bigint') return prop.u64(v)
  if (typeof v === 'string') return prop.string(v)
  if (v.length === 0) return prop.empty()
  if (typeof v[0] === 'number') return prop.cells(v as readonly number[])
  return prop.strings(v as readonly string[])
}

/**
 * Build a node: `node('cpu@0', { device_type: 'cpu', reg: 0, 'interrupt-controller': true }, [...])`.
 * Properties keep the given order (pass entries to order names that look like integers).
 */
export function node(name: string, props: Record<string, PropInit> | readonly (readonly [string, PropInit])[] = {}, children: FdtNode[] = []): FdtNode {
  const entries = Array.isArray(props) ? (props as readonly (readonly [string, PropInit])[]) : Object.entries(props)
  return { name, props: entries.map(([n, v]): FdtProp => ({ name: n, value: encodeProp(v) })), children }
}

// ---------------------------------------------------------------------------------------------
// Readers. Absent → undefined; present but of the wrong shape → FdtError('FDT_BAD_PROP').

export function getProp(n: FdtNode, name: string): Uint8Array | undefined {
  return n.props.find((p) => p.name === name)?.value
}

export function hasProp(n: FdtNode, name: string): boolean {
  return n.props.some((p) => p.name === name)
}

function bad(n: FdtNode, name: string, why: string): never {
  throw new FdtError('FDT_BAD_PROP', `property ${name} of node ${JSON.stringify(n.name)} ${why}`)
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

export function getU32(n: FdtNode, name: string): number | undefined {
  const v = getProp(n, name)
  if (v === undefined) return undefined
  if (v.length !== 4) bad(n, name, `is ${v.length} bytes, not a u32`)
  return view(v).getUint32(0)
}

export function getU64(n: FdtNode, name: string): bigint | undefined {
  const v = getProp(n, name)
  if (v === undefined) return undefined
  if (v.length !== 8) bad(n, name, `is ${v.length} bytes, not a u64`)
  return view(v).getBigUint64(0)
}

/** A number stored in one or two cells (e.g. `linux,initrd-start`, which firmware writes either way). */
export function getNumber(n: FdtNode, name: string): bigint | undefined {
  const v = getProp(n, name)
  if (v === undefined) return undefined
  if (v.length === 4) return BigInt(view(v).getUint32(0))
  if (v.length === 8) return view(v).getBigUint64(0)
  return bad(n, name, `is ${v.length} bytes, neither one nor two cells`)
}

export function getCells(n: FdtNode, name: string): number[] | undefined {
  const v = getProp(n, name)
  if (v === undefined) return undefined
  if (v.length % 4 !== 0) bad(n, name, `is ${v.length} bytes, not a whole number of cells`)
  const dv = view(v)
  return Array.from({ length: v.length / 4 }, (_, i) => dv.getUint32(i * 4))
}

export function getStrings(n: FdtNode, name: string): string[] | undefined {
  const v = getProp(n, name)
  if (v === undefined) return undefined
  if (v.length === 0 || v[v.length - 1] !== 0) bad(n, name, 'is not NUL-terminated')
  return fromUtf8.decode(v.subarray(0, v.length - 1)).split('\0')
}

export function getString(n: FdtNode, name: string): string | undefined {
  const list = getStrings(n, name)
  if (list === undefined) return undefined
  if (list.length !== 1) bad(n, name, `holds ${list.length} strings, not one`)
  return list[0]
}

/** `#address-cells` / `#size-cells` that `n` sets for its children (defaults 2 and 1, §2.3.5). */
export function cellCounts(n: FdtNode): { address: number; size: number } {
  return { address: getU32(n, '#address-cells') ?? 2, size: getU32(n, '#size-cells') ?? 1 }
}

/** Decode `reg` of `child` using the cell counts of its `parent`. */
export function getReg(parent: FdtNode, child: FdtNode): { address: bigint; size: bigint }[] | undefined {
  const cells = getCells(child, 'reg')
  if (cells === undefined) return undefined
  const { address: ac, size: sc } = cellCounts(parent)
  const stride = ac + sc
  if (stride === 0 || cells.length % stride !== 0) bad(child, 'reg', `has ${cells.length} cells, not a multiple of ${ac}+${sc}`)
  const num = (from: number, count: number): bigint => {
    let v = 0n
    for (let i = 0; i < count; i++) v = (v << 32n) | BigInt(cells[from + i]!)
    return v
  }
  const out: { address: bigint; size: bigint }[] = []
  for (let i = 0; i < cells.length; i += stride) out.push({ address: num(i, ac), size: num(i + ac, sc) })
  return out
}

/** The node name without its `@unit-address`. */
export const baseName = (name: string): string => {
  const at = name.indexOf('@')
  return at < 0 ? name : name.slice(0, at)
}

function child(n: FdtNode, component: string): FdtNode | undefined {
  const exact = n.children.find((c) => c.name === component)
  if (exact || component.includes('@')) return exact
  // §2.2.3: the unit address may be left out when the rest of the name is unambiguous.
  const matches = n.children.filter((c) => baseName(c.name) === component)
  return matches.length === 1 ? matches[0] : undefined
}

/**
 * Find a node by path: `/soc/plic@c000000`, `/soc/plic` (unit address omitted when unambiguous),
 * or through an alias (`serial0/…`, resolved via `/aliases`).
 */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  let cur: FdtNode | undefined = root
  let parts = path.split('/').filter((s) => s !== '')
  if (!path.startsWith('/')) {
    const aliases = child(root, 'aliases')
    const first = parts[0]
    if (!aliases || first === undefined) return undefined
    let target: string | undefined
    try {
      target = getString(aliases, first)
    } catch {
      return undefined
    }
    if (target === undefined || !target.startsWith('/')) return undefined
    cur = findNode(root, target)
    parts = parts.slice(1)
  }
  for (const part of parts) {
    if (!cur) return undefined
    cur = child(cur, part)
  }
  return cur
}

/** Every node with its path, in pre-order (iterative: safe on any depth). */
export function* walk(root: FdtNode): Generator<{ path: string; node: FdtNode }> {
  const stack: { path: string; node: FdtNode }[] = [{ path: '/', node: root }]
  while (stack.length > 0) {
    const top = stack.pop()!
    yield top
    for (let i = top.node.children.length - 1; i >= 0; i--) {
      const c = top.node.children[i]!
      stack.push({ path: top.path === '/' ? `/${c.name}` : `${top.path}/${c.name}`, node: c })
    }
  }
}

/** Nodes by their `phandle` (or legacy `linux,phandle`) value. */
export function phandles(root: FdtNode): Map<number, FdtNode> {
  const map = new Map<number, FdtNode>()
  for (const { node: n } of walk(root)) {
    const ph = getU32(n, 'phandle') ?? getU32(n, 'linux,phandle')
    if (ph !== undefined && !map.has(ph)) map.set(ph, n)
  }
  return map
}

export function findByPhandle(root: FdtNode, phandle: number): FdtNode | undefined {
  return phandles(root).get(phandle)
}

/** The path of `target` inside `root`, or undefined. */
export function pathOf(root: FdtNode, target: FdtNode): string | undefined {
  for (const { path, node: n } of walk(root)) if (n === target) return path
  return undefined
}
