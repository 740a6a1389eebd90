/**
 * The flattened device tree (Devicetree Specification v0.4, chapter 5): a writer that lays a
 * blob out exactly as `dtc -I dts -O dtb` does, and a parser that accepts only well-formed blobs
 * and reports anything else as an {@link FdtError} naming the byte offset.
 *
 * Layout written (§5.1): header (40 bytes) · memory reservation block (8-byte aligned, zero
 * terminated) · structure block · strings block. `totalsize` ends at the last string; no padding.
 */
import { HonkError } from '@honk/errors'

/** Every way a blob or a tree can be wrong. */
export type FdtErrorCode =
  | 'FDT_TRUNCATED'
  | 'FDT_BAD_MAGIC'
  | 'FDT_BAD_VERSION'
  | 'FDT_BAD_HEADER'
  | 'FDT_BAD_RSVMAP'
  | 'FDT_BAD_STRUCTURE'
  | 'FDT_BAD_STRING'
  | 'FDT_TOO_DEEP'
  | 'FDT_BAD_NAME'
  | 'FDT_DUPLICATE'
  | 'FDT_BAD_PROP'
  | 'FDT_BAD_VALUE'

/** A malformed blob (with the byte `offset` where it went wrong), an invalid tree, or a property of the wrong shape. */
export class FdtError extends HonkError<FdtErrorCode> {
  /** Byte offset in the blob, when the error is about a blob. */
  readonly offset: number | undefined
  constructor(code: FdtErrorCode, message: string, offset?: number) {
    super(code, offset === undefined ? message : `${message} (at offset 0x${offset.toString(16)})`)
    this.offset = offset
  }
}

/** One property: a name and its raw big-endian value. */
export interface FdtProp {
  name: string
  value: Uint8Array
}

/**
 * A node. `props` keeps its order (the writer emits it as given, like dtc keeps source order);
 * the root is the node with the empty name.
 */
export interface FdtNode {
  name: string
  props: FdtProp[]
  children: FdtNode[]
}

/** A `/memreserve/` entry (§5.3). */
export interface FdtReservation {
  address: bigint
  size: bigint
}

export interface BuildFdtOptions {
  /** `boot_cpuid_phys` in the header (default 0). */
  bootCpuId?: number
  /** Memory reservation block entries, in order. */
  reserved?: readonly FdtReservation[]
}

export interface ParsedFdt {
  root: FdtNode
  bootCpuId: number
  reserved: FdtReservation[]
  version: number
  lastCompVersion: number
  /** `totalsize` from the header (the buffer may be longer: QEMU dumps 1 MiB). */
  totalSize: number
}

export interface ParseFdtOptions {
  /** Deepest node nesting accepted (root = depth 1). Default 64. */
  maxDepth?: number
}

export const FDT_MAGIC = 0xd00dfeed
export const FDT_BEGIN_NODE = 1
export const FDT_END_NODE = 2
export const FDT_PROP = 3
export const FDT_NOP = 4
export const FDT_END = 9
/** Version written, and the oldest version a reader must understand (§5.2). */
export const FDT_VERSION = 17
export const FDT_LAST_COMP_VERSION = 16
const HEADER_SIZE = 40
const U64_MAX = (1n << 64n) - 1n

const align4 = (n: number): number => (n + 3) & ~3

// Names are byte strings; latin1 maps every byte to one code unit, so any blob round-trips.
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = ''
  for (let i = start; i < end; i += 4096) s += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 4096)))
  return s
}

function checkName(kind: 'node' | 'property', name: string, where: string): void {
  if (name.length === 0) throw new FdtError('FDT_BAD_NAME', `empty ${kind} name in ${where}`)
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c === 0 || c > 0xff || (kind === 'node' && c === 0x2f))
      throw new FdtError('FDT_BAD_NAME', `${kind} name ${JSON.stringify(name)} in ${where} has an invalid character at ${i}`)
  }
}

/**
 * The strings block with dtc's sharing rule: a name is stored once, and a name that is the tail
 * of a name already stored (e.g. `cells` of `#size-cells`) points into it. Offsets match dtc's.
 */
class StringTable {
  private readonly offsets = new Map<string, number>()
  private readonly parts: string[] = []
  size = 0
  offsetOf(name: string): number {
    const known = this.offsets.get(name)
    if (known !== undefined) return known
    const at = this.size
    for (let k = 0; k < name.length; k++) {
      const tail = name.slice(k)
      if (!this.offsets.has(tail)) this.offsets.set(tail, at + k)
    }
    this.parts.push(name)
    this.size += name.length + 1
    return at
  }
  write(out: Uint8Array, base: number): void {
    let p = base
    for (const s of this.parts) {
      for (let i = 0; i < s.length; i++) out[p++] = s.charCodeAt(i)
      out[p++] = 0
    }
  }
}

/** Serialize `root` (whose name must be empty) to a DTB, byte-identical to `dtc -I dts -O dtb` for the same tree. */
export function buildFdt(root: FdtNode, opts: BuildFdtOptions = {}): Uint8Array {
  if (root.name !== '') throw new FdtError('FDT_BAD_NAME', `the root node must have an empty name, not ${JSON.stringify(root.name)}`)
  const bootCpuId = opts.bootCpuId ?? 0
  if (!Number.isInteger(bootCpuId) || bootCpuId < 0 || bootCpuId > 0xffffffff)
    throw new FdtError('FDT_BAD_VALUE', `bootCpuId ${bootCpuId} is not a u32`)
  const reserved = opts.reserved ?? []
  for (const r of reserved) {
    if (r.address < 0n || r.address > U64_MAX || r.size < 0n || r.size > U64_MAX)
      throw new FdtError('FDT_BAD_VALUE', `reservation ${r.address}+${r.size} is not a pair of u64`)
    if (r.size === 0n && r.address === 0n) throw new FdtError('FDT_BAD_VALUE', 'a reservation of address 0 size 0 would terminate the map (§5.3.2)')
  }

  // Pass 1: validate, size the structure block, fill the string table in dtc's order
  // (pre-order: a node's properties, then its children).
  const strings = new StringTable()
  const nameOff = new Map<FdtProp, number>()
  let structSize = 4 // FDT_END
  const stack: { node: FdtNode; path: string }[] = [{ node: root, path: '/' }]
  const seen = new Set<FdtNode>()
  while (stack.length > 0) {
    const { node, path } = stack.pop()!
    // A node object reachable twice would be written twice, and a cycle would never end.
    if (seen.has(node)) throw new FdtError('FDT_DUPLICATE', `the node object at ${path} appears more than once in the tree`)
    seen.add(node)
    structSize += 4 + align4(node.name.length + 1) + 4 // BEGIN_NODE name… END_NODE
    const propNames = new Set<string>()
    for (const p of node.props) {
      checkName('property', p.name, path)
      if (propNames.has(p.name)) throw new FdtError('FDT_DUPLICATE', `property ${p.name} appears twice in ${path}`)
      propNames.add(p.name)
      nameOff.set(p, strings.offsetOf(p.name))
      structSize += 12 + align4(p.value.length)
    }
    const childNames = new Set<string>()
    for (let i = node.children.length - 1; i >= 0; i--) {
      const c = node.children[i]!
      const cpath = path === '/' ? `/${c.name}` : `${path}/${c.name}`
      checkName('node', c.name, path)
      if (childNames.has(c.name)) throw new FdtError('FDT_DUPLICATE', `node ${cpath} appears twice`)
      childNames.add(c.name)
      stack.push({ node: c, path: cpath })
    }
  }

  const offRsv = HEADER_SIZE // already 8-aligned
  const offStruct = offRsv + 16 * (reserved.length + 1)
  const offStrings = offStruct + structSize
  const total = offStrings + strings.size
  const out = new Uint8Array(total)
  const dv = new DataView(out.buffer)
  const header = [FDT_MAGIC, total, offStruct, offStrings, offRsv, FDT_VERSION, FDT_LAST_COMP_VERSION, bootCpuId, strings.size, structSize]
  header.forEach((v, i) => dv.setUint32(i * 4, v))
  reserved.forEach((r, i) => {
    dv.setBigUint64(offRsv + 16 * i, r.address)
    dv.setBigUint64(offRsv + 16 * i + 8, r.size)
  })

  // Pass 2: the structure block (§5.4), every token 4-byte aligned, padding zero.
  let p = offStruct
  const emit = (node: FdtNode): void => {
    // Explicit stack of (node, next child index) so hostile depth cannot overflow the JS stack.
    const work: { node: FdtNode; next: number }[] = []
    const open = (n: FdtNode): void => {
      dv.setUint32(p, FDT_BEGIN_NODE)
      p += 4
      for (let i = 0; i < n.name.length; i++) out[p + i] = n.name.charCodeAt(i)
      p += align4(n.name.length + 1)
      for (const prop of n.props) {
        dv.setUint32(p, FDT_PROP)
        dv.setUint32(p + 4, prop.value.length)
        dv.setUint32(p + 8, nameOff.get(prop)!)
        out.set(prop.value, p + 12)
        p += 12 + align4(prop.value.length)
      }
      work.push({ node: n, next: 0 })
    }
    open(node)
    while (work.length > 0) {
      const top = work[work.length - 1]!
      const child = top.node.children[top.next++]
      if (child) open(child)
      else {
        dv.setUint32(p, FDT_END_NODE)
        p += 4
        work.pop()
      }
    }
  }
  emit(root)
  dv.setUint32(p, FDT_END)
  strings.write(out, offStrings)
  return out
}

/** Parse a DTB. Anything malformed throws {@link FdtError}; nothing else is ever thrown. */
export function parseFdt(bytes: Uint8Array, opts: ParseFdtOptions = {}): ParsedFdt {
  const maxDepth = opts.maxDepth ?? 64
  if (bytes.length < HEADER_SIZE) throw new FdtError('FDT_TRUNCATED', `a blob of ${bytes.length} bytes is shorter than the 40-byte header`, 0)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const u32 = (o: number): number => dv.getUint32(o)
  const magic = u32(0)
  if (magic !== FDT_MAGIC) throw new FdtError('FDT_BAD_MAGIC', `magic is 0x${magic.toString(16)}, not 0xd00dfeed`, 0)
  const totalSize = u32(4)
  const offStruct = u32(8)
  const offStrings = u32(12)
  const offRsv = u32(16)
  const version = u32(20)
  const lastCompVersion = u32(24)
  const bootCpuId = u32(28)
  const sizeStrings = u32(32)
  if (version < FDT_LAST_COMP_VERSION) throw new FdtError('FDT_BAD_VERSION', `version ${version} is older than 16`, 20)
  if (lastCompVersion > FDT_VERSION)
    throw new FdtError('FDT_BAD_VERSION', `last_comp_version ${lastCompVersion}: the blob is not readable by a version-17 reader`, 24)
  if (lastCompVersion > version) throw new FdtError('FDT_BAD_VERSION', `last_comp_version ${lastCompVersion} exceeds version ${version}`, 24)
  if (totalSize < HEADER_SIZE) throw new FdtError('FDT_BAD_HEADER', `totalsize ${totalSize} is smaller than the header`, 4)
  if (totalSize > bytes.length) throw new FdtError('FDT_TRUNCATED', `totalsize ${totalSize} exceeds the ${bytes.length}-byte buffer`, 4)
  // v16 headers have no size_dt_struct: the block then runs to wherever FDT_END is found.
  const sizeStruct = version >= 17 ? u32(36) : totalSize - Math.min(offStruct, totalSize)
  const block = (what: string, off: number, size: number, headerAt: number): void => {
    if (off < HEADER_SIZE) throw new FdtError('FDT_BAD_HEADER', `${what} at ${off} overlaps the header`, headerAt)
    if (off > totalSize || size > totalSize - off)
      throw new FdtError('FDT_BAD_HEADER', `${what} [${off}, ${off + size}) lies outside totalsize ${totalSize}`, headerAt)
  }
  block('structure block', offStruct, sizeStruct, 8)
  block('strings block', offStrings, sizeStrings, 12)
  block('memory reservation block', offRsv, 16, 16)
  if (offStruct % 4 !== 0) throw new FdtError('FDT_BAD_HEADER', `structure block offset ${offStruct} is not 4-byte aligned`, 8)
  if (offRsv % 8 !== 0) throw new FdtError('FDT_BAD_HEADER', `memory reservation block offset ${offRsv} is not 8-byte aligned`, 16)
  if (version >= 17 && sizeStruct % 4 !== 0) throw new FdtError('FDT_BAD_HEADER', `size_dt_struct ${sizeStruct} is not a multiple of 4`, 36)

  // §5.3: (address, size) u64 pairs up to one with both zero.
  const reserved: FdtReservation[] = []
  for (let o = offRsv; ; o += 16) {
    if (o + 16 > totalSize) throw new FdtError('FDT_BAD_RSVMAP', 'memory reservation block has no terminating zero entry before totalsize', o)
    const address = dv.getBigUint64(o)
    const size = dv.getBigUint64(o + 8)
    if (address === 0n && size === 0n) break
    reserved.push({ address, size })
  }

  const stringsEnd = offStrings + sizeStrings
  const propName = (nameoff: number, at: number): string => {
    if (nameoff >= sizeStrings) throw new FdtError('FDT_BAD_STRING', `property name offset ${nameoff} is outside the ${sizeStrings}-byte strings block`, at)
    const start = offStrings + nameoff
    const nul = bytes.indexOf(0, start)
    if (nul < 0 || nul >= stringsEnd) throw new FdtError('FDT_BAD_STRING', `property name at strings offset ${nameoff} is not NUL-terminated inside the strings block`, at)
    if (nul === start) throw new FdtError('FDT_BAD_STRING', `property name at strings offset ${nameoff} is empty`, at)
    return latin1(bytes, start, nul)
  }

  // §5.4: the structure block, walked with an explicit stack (no recursion on hostile input).
  const end = offStruct + sizeStruct
  interface Open {
    node: FdtNode
    props: Set<string>
    children: Set<string>
  }
  const stack: Open[] = []
  let root: FdtNode | undefined
  let p = offStruct
  for (;;) {
    if (p + 4 > end) throw new FdtError('FDT_BAD_STRUCTURE', 'structure block ends without FDT_END', p)
    const at = p
    const token = u32(p)
    p += 4
    if (token === FDT_NOP) continue
    if (token === FDT_BEGIN_NODE) {
      const nul = bytes.indexOf(0, p)
      if (nul < 0 || nul >= end) throw new FdtError('FDT_BAD_STRING', 'node name is not NUL-terminated inside the structure block', at)
      const name = latin1(bytes, p, nul)
      p = align4(nul + 1)
      if (p > end) throw new FdtError('FDT_BAD_STRUCTURE', 'node name padding runs past the structure block', at)
      const node: FdtNode = { name, props: [], children: [] }
      const parent = stack[stack.length - 1]
      if (!parent) {
        if (root) throw new FdtError('FDT_BAD_STRUCTURE', 'a second root node', at)
        if (name !== '') throw new FdtError('FDT_BAD_NAME', `the root node is named ${JSON.stringify(name)}, not empty`, at)
        root = node
      } else {
        if (name === '') throw new FdtError('FDT_BAD_NAME', 'a child node has an empty name', at)
        if (name.includes('/')) throw new FdtError('FDT_BAD_NAME', `node name ${JSON.stringify(name)} contains '/'`, at)
        if (parent.children.has(name)) throw new FdtError('FDT_DUPLICATE', `two sibling nodes named ${JSON.stringify(name)}`, at)
        parent.children.add(name)
        parent.node.children.push(node)
      }
      if (stack.length >= maxDepth) throw new FdtError('FDT_TOO_DEEP', `nodes nest deeper than ${maxDepth}`, at)
      stack.push({ node, props: new Set(), children: new Set() })
    } else if (token === FDT_END_NODE) {
      if (!stack.pop()) throw new FdtError('FDT_BAD_STRUCTURE', 'FDT_END_NODE without an open node', at)
    } else if (token === FDT_PROP) {
      const open = stack[stack.length - 1]
      if (!open) throw new FdtError('FDT_BAD_STRUCTURE', 'FDT_PROP outside any node', at)
      if (open.node.children.length > 0) throw new FdtError('FDT_BAD_STRUCTURE', 'FDT_PROP after a child node (§5.4.2: properties precede children)', at)
      if (p + 8 > end) throw new FdtError('FDT_BAD_STRUCTURE', 'FDT_PROP header runs past the structure block', at)
      const len = u32(p)
      const nameoff = u32(p + 4)
      p += 8
      if (len > end - p) throw new FdtError('FDT_BAD_STRUCTURE', `property value of ${len} bytes runs past the structure block`, at)
      const name = propName(nameoff, at)
      if (open.props.has(name)) throw new FdtError('FDT_DUPLICATE', `property ${name} appears twice in one node`, at)
      open.props.add(name)
      open.node.props.push({ name, value: bytes.slice(p, p + len) })
      p = align4(p + len)
      if (p > end) throw new FdtError('FDT_BAD_STRUCTURE', 'property padding runs past the structure block', at)
    } else if (token === FDT_END) {
      if (!root || stack.length > 0) throw new FdtError('FDT_BAD_STRUCTURE', root ? `FDT_END with ${stack.length} node(s) still open` : 'FDT_END before the root node', at)
      if (version >= 17 && p !== end) throw new FdtError('FDT_BAD_STRUCTURE', `FDT_END is not the last token: ${end - p} bytes follow in the structure block`, at)
      break
    } else {
      throw new FdtError('FDT_BAD_STRUCTURE', `unknown token 0x${token.toString(16)}`, at)
    }
  }
  return { root: root!, bootCpuId, reserved, version, lastCompVersion, totalSize }
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    FdtError: FdtError
  }
}
