/**
 * Encoding and decoding of 9P2000.L messages, driven by `SCHEMA`. Decoding never trusts a
 * length: every count and string is bounds-checked against the message, and a message larger
 * than the negotiated `msize` is refused, so hostile input yields `P9ProtocolError`, not a crash
 * or a huge allocation.
 */
import { P9ProtocolError } from './errors.js'
import { HEADER_SIZE, NAME_OF_TYPE, SCHEMA, type FieldType, type Message, type MessageName, type Qid } from './schema.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

type AnyMessage = { kind: MessageName; tag: number } & Record<string, unknown>

function fieldSize(t: FieldType, v: unknown): number {
  switch (t) {
    case 'u8':
      return 1
    case 'u16':
      return 2
    case 'u32':
      return 4
    case 'u64':
      return 8
    case 'str':
      return 2 + encoder.encode(v as string).length
    case 'qid':
      return 13
    case 'qids':
      return 2 + 13 * (v as Qid[]).length
    case 'strs':
      return 2 + (v as string[]).reduce((n, s) => n + 2 + encoder.encode(s).length, 0)
    case 'data':
      return 4 + (v as Uint8Array).length
  }
}

/** Encodes one message into a fresh buffer (header included). */
export function encode(msg: Message): Uint8Array {
  const m = msg as AnyMessage
  const spec = SCHEMA[m.kind]
  let size = HEADER_SIZE
  for (const [name, t] of spec.fields) size += fieldSize(t, m[name])
  if (size > 0xffffffff) throw new P9ProtocolError(`${m.kind} of ${size} bytes is too large`)
  const buf = new Uint8Array(size)
  const v = new DataView(buf.buffer)
  v.setUint32(0, size, true)
  v.setUint8(4, spec.type)
  v.setUint16(5, m.tag, true)
  let at = HEADER_SIZE
  const str = (s: string) => {
    const b = encoder.encode(s)
    if (b.length > 0xffff) throw new P9ProtocolError(`string of ${b.length} bytes exceeds 65535`)
    v.setUint16(at, b.length, true)
    buf.set(b, at + 2)
    at += 2 + b.length
  }
  const qid = (q: Qid) => {
    v.setUint8(at, q.type)
    v.setUint32(at + 1, q.version, true)
    v.setBigUint64(at + 5, q.path, true)
    at += 13
  }
  for (const [name, t] of spec.fields) {
    const x = m[name]
    switch (t) {
      case 'u8':
        v.setUint8(at, x as number)
        at += 1
        break
      case 'u16':
        v.setUint16(at, x as number, true)
        at += 2
        break
      case 'u32':
        v.setUint32(at, x as number, true)
        at += 4
        break
      case 'u64':
        v.setBigUint64(at, x as bigint, true)
        at += 8
        break
      case 'str':
        str(x as string)
        break
      case 'qid':
        qid(x as Qid)
        break
      case 'qids':
        v.setUint16(at, (x as Qid[]).length, true)
        at += 2
        for (const q of x as Qid[]) qid(q)
        break
      case 'strs':
        v.setUint16(at, (x as string[]).length, true)
        at += 2
        for (const s of x as string[]) str(s)
        break
      case 'data':
        v.setUint32(at, (x as Uint8Array).length, true)
        buf.set(x as Uint8Array, at + 4)
        at += 4 + (x as Uint8Array).length
        break
    }
  }
  return buf
}

/**
 * Decodes one whole message (`buf` holds exactly one, header included). `msize` bounds it.
 * Throws `P9ProtocolError` saying what is wrong and where.
 */
export function decode(buf: Uint8Array, msize = 0xffffffff): Message {
  if (buf.length < HEADER_SIZE) throw new P9ProtocolError(`message of ${buf.length} bytes is shorter than the 7-byte header`)
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const size = v.getUint32(0, true)
  if (size !== buf.length) throw new P9ProtocolError(`size field says ${size} bytes, message has ${buf.length}`)
  if (size > msize) throw new P9ProtocolError(`message of ${size} bytes exceeds msize ${msize}`)
  const type = v.getUint8(4)
  const kind = NAME_OF_TYPE.get(type)
  if (!kind) throw new P9ProtocolError(`unknown message type ${type}`)
  const out: AnyMessage = { kind, tag: v.getUint16(5, true) }
  let at = HEADER_SIZE
  const need = (n: number, what: string) => {
    if (at + n > size) throw new P9ProtocolError(`${kind} truncated: ${what} needs ${n} bytes at offset ${at}, message has ${size}`)
  }
  const str = (what: string): string => {
    need(2, what)
    const n = v.getUint16(at, true)
    need(2 + n, what)
    let s: string
    try {
      s = decoder.decode(buf.subarray(at + 2, at + 2 + n))
    } catch {
      throw new P9ProtocolError(`${kind}: ${what} is not valid UTF-8`)
    }
    at += 2 + n
    return s
  }
  const qid = (what: string): Qid => {
    need(13, what)
    const q = { type: v.getUint8(at), version: v.getUint32(at + 1, true), path: v.getBigUint64(at + 5, true) }
    at += 13
    return q
  }
  const fields = SCHEMA[kind].fields as readonly (readonly [string, FieldType])[]
  for (let i = 0; i < fields.length; i++) {
    const [name, t] = fields[i]!
    // Tfsync from older peers carries only the fid: a missing trailing datasync reads as 0.
    if (kind === 'Tfsync' && name === 'datasync' && at === size) {
      out[name] = 0
      continue
    }
    switch (t) {
      case 'u8':
        need(1, name)
        out[name] = v.getUint8(at)
        at += 1
        break
      case 'u16':
        need(2, name)
        out[name] = v.getUint16(at, true)
        at += 2
        break
      case 'u32':
        need(4, name)
        out[name] = v.getUint32(at, true)
        at += 4
        break
      case 'u64':
        need(8, name)
        out[name] = v.getBigUint64(at, true)
        at += 8
        break
      case 'str':
        out[name] = str(name)
        break
      case 'qid':
        out[name] = qid(name)
        break
      case 'qids': {
        need(2, name)
        const n = v.getUint16(at, true)
        at += 2
        need(13 * n, name)
        const qs: Qid[] = []
        for (let j = 0; j < n; j++) qs.push(qid(name))
        out[name] = qs
        break
      }
      case 'strs': {
        need(2, name)
        const n = v.getUint16(at, true)
        at += 2
        const ss: string[] = []
        for (let j = 0; j < n; j++) ss.push(str(`${name}[${j}]`))
        out[name] = ss
        break
      }
      case 'data': {
        need(4, name)
        const n = v.getUint32(at, true)
        need(4 + n, name)
        out[name] = buf.slice(at + 4, at + 4 + n)
        at += 4 + n
        break
      }
    }
  }
  if (at !== size) throw new P9ProtocolError(`${kind} has ${size - at} trailing bytes`)
  return out as unknown as Message
}

/** One directory entry of an Rreaddir payload. */
export interface Dirent {
  qid: Qid
  /** The cookie to pass as the next Treaddir offset to continue after this entry. */
  offset: bigint
  /** DT_* type (4 directory, 8 regular, 10 symlink). */
  type: number
  name: string
}

/** Encoded size of a dirent. */
export function direntSize(name: string): number {
  return 13 + 8 + 1 + 2 + encoder.encode(name).length
}

/** Packs dirents into an Rreaddir payload. */
export function encodeDirents(entries: readonly Dirent[]): Uint8Array {
  const total = entries.reduce((n, e) => n + direntSize(e.name), 0)
  const buf = new Uint8Array(total)
  const v = new DataView(buf.buffer)
  let at = 0
  for (const e of entries) {
    v.setUint8(at, e.qid.type)
    v.setUint32(at + 1, e.qid.version, true)
    v.setBigUint64(at + 5, e.qid.path, true)
    v.setBigUint64(at + 13, e.offset, true)
    v.setUint8(at + 21, e.type)
    const name = encoder.encode(e.name)
    v.setUint16(at + 22, name.length, true)
    buf.set(name, at + 24)
    at += 24 + name.length
  }
  return buf
}

/** Unpacks an Rreaddir payload; throws `P9ProtocolError` on a truncated entry. */
export function decodeDirents(data: Uint8Array): Dirent[] {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const out: Dirent[] = []
  let at = 0
  while (at < data.length) {
    if (at + 24 > data.length) throw new P9ProtocolError(`readdir entry truncated at byte ${at}`)
    const n = v.getUint16(at + 22, true)
    if (at + 24 + n > data.length) throw new P9ProtocolError(`readdir entry name truncated at byte ${at}`)
    let name: string
    try {
      name = decoder.decode(data.subarray(at + 24, at + 24 + n))
    } catch {
      throw new P9ProtocolError(`readdir entry name at byte ${at} is not valid UTF-8`)
    }
    out.push({
      qid: { type: v.getUint8(at), version: v.getUint32(at + 1, true), path: v.getBigUint64(at + 5, true) },
      offset: v.getBigUint64(at + 13, true),
      type: v.getUint8(at + 21),
      name,
    })
    at += 24 + n
  }
  return out
}

/**
 * Splits a byte stream into messages (TCP framing): feed chunks, get whole messages' bytes.
 * A size field below 7 or above `msize` is a protocol error (the stream cannot be resynced).
 */
export class Framer {
  private pending: Uint8Array[] = []
  private pendingBytes = 0

  constructor(public msize = 0xffffffff) {}

  /** Bytes fed and not yet returned as messages (a partial frame, or frames not taken yet). */
  get buffered(): number {
    return this.pendingBytes
  }

  /** Feeds bytes and returns every whole message now available. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.feed(chunk)
    const out: Uint8Array[] = []
    for (let m = this.next(); m; m = this.next()) out.push(m)
    return out
  }

  /** Feeds bytes without taking messages (see `next`): a reader can take them at its own pace. */
  feed(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
  }

  /**
   * The next whole message, or undefined until more bytes come. Throws P9ProtocolError as soon
   * as a size field is out of range (after 4 bytes: a slow sender cannot make it wait for more).
   */
  next(): Uint8Array | undefined {
    if (this.pendingBytes < 4) return undefined
    const head = this.peek(4)
    const size = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true)
    if (size < HEADER_SIZE || size > this.msize) throw new P9ProtocolError(`frame size ${size} is outside [7, msize ${this.msize}]`)
    if (this.pendingBytes < size) return undefined
    return this.take(size)
  }

  private peek(n: number): Uint8Array {
    const first = this.pending[0]!
    if (first.length >= n) return first.subarray(0, n)
    const joined = this.take(this.pendingBytes)
    this.pending = [joined]
    this.pendingBytes = joined.length
    return joined.subarray(0, n)
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const first = this.pending[0]!
      const k = Math.min(first.length, n - at)
      out.set(first.subarray(0, k), at)
      at += k
      if (k === first.length) this.pending.shift()
      else this.pending[0] = first.subarray(k)
    }
    this.pendingBytes -= n
    return out
  }
}
