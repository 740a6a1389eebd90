import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Framer, decode, decodeDirents, encode, encodeDirents, type Dirent } from './codec.js'
import { P9ProtocolError } from './errors.js'
import { SCHEMA, type FieldType, type Message, type MessageName } from './schema.js'

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const qid = fc.record({ type: fc.nat(255), version: fc.nat(0xffffffff), path: u64 })
const str = fc.string({ unit: 'grapheme', maxLength: 20 })
const arbOf: Record<FieldType, fc.Arbitrary<unknown>> = {
  u8: fc.nat(255),
  u16: fc.nat(0xffff),
  u32: fc.nat(0xffffffff),
  u64,
  str,
  qid,
  qids: fc.array(qid, { maxLength: 16 }),
  strs: fc.array(str, { maxLength: 16 }),
  data: fc.uint8Array({ maxLength: 300 }),
}

function messageArb(name: MessageName): fc.Arbitrary<Message> {
  const fields: Record<string, fc.Arbitrary<unknown>> = { kind: fc.constant(name), tag: fc.nat(0xffff) }
  for (const [f, t] of SCHEMA[name].fields as readonly (readonly [string, FieldType])[]) fields[f] = arbOf[t]
  return fc.record(fields) as fc.Arbitrary<Message>
}

describe('9P2000.L codec', () => {
  for (const name of Object.keys(SCHEMA) as MessageName[]) {
    it(`round-trips ${name} (property)`, () => {
      fc.assert(
        fc.property(messageArb(name), (m) => {
          const bytes = encode(m)
          expect(bytes[4]).toBe(SCHEMA[name].type)
          expect(decode(bytes)).toEqual(m)
        }),
        { numRuns: 60 },
      )
    })
  }

  it('encodes the wire layout exactly (Tversion, Rwalk)', () => {
    expect([...encode({ kind: 'Tversion', tag: 0xffff, msize: 8192, version: '9P2000.L' })]).toEqual([
      21, 0, 0, 0, 100, 0xff, 0xff, 0, 0x20, 0, 0, 8, 0, ...new TextEncoder().encode('9P2000.L'),
    ])
    const rwalk = encode({ kind: 'Rwalk', tag: 1, wqids: [{ type: 0x80, version: 1, path: 2n }] })
    expect([...rwalk]).toEqual([22, 0, 0, 0, 111, 1, 0, 1, 0, 0x80, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
  })

  it('accepts a Tfsync without datasync (older peers)', () => {
    const b = new Uint8Array([11, 0, 0, 0, 50, 3, 0, 9, 0, 0, 0])
    expect(decode(b)).toEqual({ kind: 'Tfsync', tag: 3, fid: 9, datasync: 0 })
  })

  it('rejects every truncation, bad size and trailing garbage with P9ProtocolError (property)', () => {
    const anyMessage = fc.constantFrom(...(Object.keys(SCHEMA) as MessageName[])).chain(messageArb)
    fc.assert(
      fc.property(anyMessage, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }), (m, cut, junk) => {
        const bytes = encode(m)
        const short = bytes.slice(0, cut % bytes.length)
        new DataView(short.buffer).byteLength >= 4 && new DataView(short.buffer).setUint32(0, short.length, true)
        if (short.length !== bytes.length) {
          try {
            decode(short)
          } catch (e) {
            expect(e).toBeInstanceOf(P9ProtocolError)
          }
        }
        const long = new Uint8Array(bytes.length + junk.length)
        long.set(bytes)
        long.set(junk, bytes.length)
        new DataView(long.buffer).setUint32(0, long.length, true)
        if (m.kind !== 'Tfsync') expect(() => decode(long)).toThrow(P9ProtocolError)
      }),
    )
  })

  it('never throws anything but P9ProtocolError on random bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (b, fixSize) => {
        if (fixSize && b.length >= 4) new DataView(b.buffer).setUint32(0, b.length, true)
        try {
          decode(b, 8192)
        } catch (e) {
          expect(e).toBeInstanceOf(P9ProtocolError)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('refuses a message larger than msize', () => {
    const big = encode({ kind: 'Twrite', tag: 1, fid: 1, offset: 0n, data: new Uint8Array(100) })
    expect(() => decode(big, 64)).toThrow(/exceeds msize/)
  })

  it('round-trips readdir entries (property)', () => {
    const dirent: fc.Arbitrary<Dirent> = fc.record({ qid, offset: u64, type: fc.nat(255), name: str })
    fc.assert(
      fc.property(fc.array(dirent, { maxLength: 20 }), (es) => {
        expect(decodeDirents(encodeDirents(es))).toEqual(es)
      }),
    )
    expect(() => decodeDirents(new Uint8Array(10))).toThrow(P9ProtocolError)
  })

  it('frames a byte stream split anywhere (property)', () => {
    const anyMessage = fc.constantFrom(...(Object.keys(SCHEMA) as MessageName[])).chain(messageArb)
    fc.assert(
      fc.property(fc.array(anyMessage, { maxLength: 8 }), fc.array(fc.nat(40), { maxLength: 10 }), (ms, cuts) => {
        const stream = ms.map(encode)
        const all = new Uint8Array(stream.reduce((n, b) => n + b.length, 0))
        let at = 0
        for (const b of stream) {
          all.set(b, at)
          at += b.length
        }
        const f = new Framer()
        const got: Uint8Array[] = []
        let pos = 0
        for (const c of cuts) {
          got.push(...f.push(all.subarray(pos, Math.min(all.length, pos + c))))
          pos = Math.min(all.length, pos + c)
        }
        got.push(...f.push(all.subarray(pos)))
        expect(got.map((g) => decode(g))).toEqual(ms)
      }),
    )
    expect(() => new Framer(100).push(new Uint8Array([0xff, 0xff, 0, 0]))).toThrow(P9ProtocolError)
  })
})
