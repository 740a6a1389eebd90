/**
 * DNS messages (RFC 1035 §4): header, questions and resource records; names with compression
 * on decode (pointers must point backwards, so a hostile message cannot loop) and plain labels
 * on encode. A records carry an address; other types keep their raw data.
 */
import { NetMalformedError } from './errors.js'
import { get16, get32, put16, put32 } from './wire.js'

export const DnsType = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28 } as const
export const DnsRcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const
export const DNS_PORT = 53

export interface DnsQuestion {
  name: string
  type: number
  class: number
}

export interface DnsRecord {
  name: string
  type: number
  class: number
  ttl: number
  /** For A records: the address; else undefined. */
  address?: number
  /** The raw RDATA (for A, the 4 address bytes). */
  data: Uint8Array
}

export interface DnsMessage {
  id: number
  /** Response flag. */
  qr: boolean
  opcode: number
  aa: boolean
  tc: boolean
  rd: boolean
  ra: boolean
  rcode: number
  questions: DnsQuestion[]
  answers: DnsRecord[]
  authority: DnsRecord[]
  additional: DnsRecord[]
}

function encodeName(name: string, out: number[]): void {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name
  if (trimmed.length > 0) {
    for (const label of trimmed.split('.')) {
      const bytes = new TextEncoder().encode(label)
      if (bytes.length === 0 || bytes.length > 63) throw new NetMalformedError('DNS name', `label "${label}" of "${name}" is not 1..63 bytes`)
      out.push(bytes.length, ...bytes)
    }
  }
  out.push(0)
}

export function encodeDns(m: DnsMessage): Uint8Array {
  const out: number[] = []
  const h = new Uint8Array(12)
  put16(h, 0, m.id)
  h[2] = (m.qr ? 0x80 : 0) | ((m.opcode & 15) << 3) | (m.aa ? 4 : 0) | (m.tc ? 2 : 0) | (m.rd ? 1 : 0)
  h[3] = (m.ra ? 0x80 : 0) | (m.rcode & 15)
  put16(h, 4, m.questions.length)
  put16(h, 6, m.answers.length)
  put16(h, 8, m.authority.length)
  put16(h, 10, m.additional.length)
  out.push(...h)
  for (const q of m.questions) {
    encodeName(q.name, out)
    out.push(q.type >>> 8, q.type & 255, q.class >>> 8, q.class & 255)
  }
  for (const r of [...m.answers, ...m.authority, ...m.additional]) {
    encodeName(r.name, out)
    const data = r.type === DnsType.A && r.address !== undefined ? new Uint8Array([r.address >>> 24, (r.address >>> 16) & 255, (r.address >>> 8) & 255, r.address & 255]) : r.data
    const fixed = new Uint8Array(10)
    put16(fixed, 0, r.type)
    put16(fixed, 2, r.class)
    put32(fixed, 4, r.ttl)
    put16(fixed, 8, data.length)
    out.push(...fixed, ...data)
  }
  return Uint8Array.from(out)
}

/** Reads a (possibly compressed) name at `at`; returns it and the offset after it in the original position. */
function decodeName(b: Uint8Array, at: number): [string, number] {
  const labels: string[] = []
  let i = at
  let end = -1
  let length = 0
  for (let jumps = 0; ; ) {
    if (i >= b.length) throw new NetMalformedError('DNS name', `runs past the end at ${i}`)
    const len = b[i]!
    if (len === 0) {
      if (end < 0) end = i + 1
      break
    }
    if ((len & 0xc0) === 0xc0) {
      if (i + 1 >= b.length) throw new NetMalformedError('DNS name', `pointer at ${i} truncated`)
      const target = ((len & 0x3f) << 8) | b[i + 1]!
      // Pointers must go strictly backwards: no loops, bounded work.
      if (target >= i || ++jumps > 64) throw new NetMalformedError('DNS name', `compression pointer at ${i} to ${target} does not point backwards`)
      if (end < 0) end = i + 2
      i = target
      continue
    }
    if (len & 0xc0) throw new NetMalformedError('DNS name', `label type 0x${(len & 0xc0).toString(16)} at ${i}`)
    if (i + 1 + len > b.length) throw new NetMalformedError('DNS name', `label at ${i} runs past the end`)
    length += len + 1
    if (length > 255) throw new NetMalformedError('DNS name', 'longer than 255 bytes')
    labels.push(new TextDecoder().decode(b.subarray(i + 1, i + 1 + len)))
    i += 1 + len
  }
  return [labels.join('.'), end]
}

export function decodeDns(b: Uint8Array): DnsMessage {
  if (b.length < 12) throw new NetMalformedError('DNS message', `${b.length} bytes is shorter than the 12-byte header`)
  let at = 12
  const questions: DnsQuestion[] = []
  for (let n = get16(b, 4); n > 0; n--) {
    const [name, next] = decodeName(b, at)
    if (next + 4 > b.length) throw new NetMalformedError('DNS message', `question at ${at} truncated`)
    questions.push({ name, type: get16(b, next), class: get16(b, next + 2) })
    at = next + 4
  }
  const records = (count: number): DnsRecord[] => {
    const out: DnsRecord[] = []
    for (let n = count; n > 0; n--) {
      const [name, next] = decodeName(b, at)
      if (next + 10 > b.length) throw new NetMalformedError('DNS message', `record at ${at} truncated`)
      const type = get16(b, next)
      const len = get16(b, next + 8)
      if (next + 10 + len > b.length) throw new NetMalformedError('DNS message', `record data at ${next + 10} (${len} bytes) runs past the end`)
      const data = b.slice(next + 10, next + 10 + len)
      const r: DnsRecord = { name, type, class: get16(b, next + 2), ttl: get32(b, next + 4), data }
      if (type === DnsType.A) {
        if (len !== 4) throw new NetMalformedError('DNS record', `A record of ${len} bytes`)
        r.address = get32(data, 0)
      }
      out.push(r)
      at = next + 10 + len
    }
    return out
  }
  const answers = records(get16(b, 6))
  const authority = records(get16(b, 8))
  const additional = records(get16(b, 10))
  return {
    id: get16(b, 0),
    qr: (b[2]! & 0x80) !== 0,
    opcode: (b[2]! >>> 3) & 15,
    aa: (b[2]! & 4) !== 0,
    tc: (b[2]! & 2) !== 0,
    rd: (b[2]! & 1) !== 0,
    ra: (b[3]! & 0x80) !== 0,
    rcode: b[3]! & 15,
    questions,
    answers,
    authority,
    additional,
  }
}
