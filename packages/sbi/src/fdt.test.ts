import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_NOP, FDT_PROP, FdtError, buildFdt, parseFdt, type FdtNode } from './fdt.js'
import { fdtTree, reservations } from './fdt.test-helpers.js'
import { node } from './props.js'

const sample = (): FdtNode =>
  node('', { '#address-cells': 2, '#size-cells': 2, compatible: 'test,board' }, [
    node('cpus', { '#address-cells': 1, '#size-cells': 0 }, [node('cpu@0', { reg: 0, device_type: 'cpu' })]),
    node('memory@80000000', { device_type: 'memory', reg: [0, 0x8000_0000, 0, 0x1000_0000] }),
    node('chosen', { bootargs: 'console=ttyS0', 'x-empty': true }),
  ])

const u32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o)
const put32 = (b: Uint8Array, o: number, v: number): Uint8Array => {
  const c = b.slice()
  new DataView(c.buffer).setUint32(o, v >>> 0)
  return c
}
const H = { totalsize: 4, offStruct: 8, offStrings: 12, offRsv: 16, version: 20, lastComp: 24, boot: 28, sizeStrings: 32, sizeStruct: 36 }

/** Hand-assemble a blob: tokens are u32s or strings (NUL-terminated, padded) or byte arrays (padded). */
function blob(tokens: (number | string | Uint8Array)[], strings = '', opts: { version?: number; extra?: number } = {}): Uint8Array {
  const struct: number[] = []
  for (const t of tokens) {
    const bytes = typeof t === 'number' ? [t >>> 24, (t >>> 16) & 255, (t >>> 8) & 255, t & 255] : typeof t === 'string' ? [...Buffer.from(t + '\0', 'latin1')] : [...t]
    struct.push(...bytes)
    while (struct.length % 4) struct.push(0)
  }
  const strs = [...Buffer.from(strings, 'latin1')]
  const offStruct = 40 + 16
  const total = offStruct + struct.length + strs.length
  const out = new Uint8Array(total + (opts.extra ?? 0))
  const dv = new DataView(out.buffer)
  ;[0xd00dfeed, total, offStruct, offStruct + struct.length, 40, opts.version ?? 17, 16, 0, strs.length, struct.length].forEach((v, i) => dv.setUint32(i * 4, v))
  out.set(struct, offStruct)
  out.set(strs, offStruct + struct.length)
  return out
}
const ROOT_OPEN = [FDT_BEGIN_NODE, '']
const ROOT_CLOSE = [FDT_END_NODE, FDT_END]

function expectFdtError(f: () => unknown, code: string, offset?: number): FdtError {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(FdtError)
    const err = e as FdtError
    expect(err.code).toBe(code)
    if (offset !== undefined) expect(err.offset).toBe(offset)
    return err
  }
  throw new Error(`expected FdtError ${code}`)
}

describe('buildFdt', () => {
  it('writes the v17 header and the dtc block order', () => {
    const b = buildFdt(sample(), { bootCpuId: 3, reserved: [{ address: 0x8000_0000n, size: 0x1000n }] })
    expect(u32(b, 0)).toBe(0xd00dfeed)
    expect(u32(b, H.totalsize)).toBe(b.length)
    expect(u32(b, H.offRsv)).toBe(40)
    expect(u32(b, H.offStruct)).toBe(40 + 32) // one entry + terminator
    expect(u32(b, H.offStrings)).toBe(u32(b, H.offStruct) + u32(b, H.sizeStruct))
    expect(u32(b, H.offStrings) + u32(b, H.sizeStrings)).toBe(b.length)
    expect([u32(b, H.version), u32(b, H.lastComp), u32(b, H.boot)]).toEqual([17, 16, 3])
    expect(u32(b, u32(b, H.offStruct))).toBe(FDT_BEGIN_NODE)
    expect(u32(b, u32(b, H.offStrings) - 4)).toBe(FDT_END)
  })

  it('shares strings like dtc: duplicates and tails of earlier names', () => {
    const t = node('', { '#address-cells': 1, cells: 2 }, [node('a', { '#address-cells': 3, 'address-cells': 4, x: 5 })])
    const b = buildFdt(t)
    const strs = Buffer.from(b.subarray(u32(b, H.offStrings))).toString('latin1')
    expect(strs).toBe('#address-cells\0x\0')
    const { root } = parseFdt(b)
    expect(root).toEqual(t)
  })

  it('rejects trees it cannot represent', () => {
    expectFdtError(() => buildFdt(node('x')), 'FDT_BAD_NAME')
    expectFdtError(() => buildFdt(node('', {}, [node('a'), node('a')])), 'FDT_DUPLICATE')
    expectFdtError(() => buildFdt(node('', {}, [node('a/b')])), 'FDT_BAD_NAME')
    expectFdtError(() => buildFdt(node('', {}, [node('')])), 'FDT_BAD_NAME')
    expectFdtError(() => buildFdt(node('', {}, [node('\u0100')])), 'FDT_BAD_NAME')
    expectFdtError(() => buildFdt(node('', [['', 1]])), 'FDT_BAD_NAME')
    expectFdtError(() => buildFdt(node('', [['a', 1], ['a', 2]])), 'FDT_DUPLICATE')
    expectFdtError(() => buildFdt(node(''), { reserved: [{ address: 0n, size: 0n }] }), 'FDT_BAD_VALUE')
    expectFdtError(() => buildFdt(node(''), { reserved: [{ address: -1n, size: 1n }] }), 'FDT_BAD_VALUE')
    expectFdtError(() => buildFdt(node(''), { bootCpuId: -1 }), 'FDT_BAD_VALUE')
    const a = node('a')
    a.children.push(a)
    expectFdtError(() => buildFdt(node('', {}, [a])), 'FDT_DUPLICATE')
  })
})

describe('parseFdt', () => {
  it('reads back what was built, reservations and boot cpu included', () => {
    const reserved = [{ address: 1n, size: 2n }, { address: 0xffff_ffff_ffff_ffffn, size: 0n }]
    const p = parseFdt(buildFdt(sample(), { bootCpuId: 7, reserved }))
    expect(p.root).toEqual(sample())
    expect(p.reserved).toEqual(reserved)
    expect(p).toMatchObject({ bootCpuId: 7, version: 17, lastCompVersion: 16 })
  })

  it('accepts a buffer longer than totalsize (QEMU dumps 1 MiB) and skips FDT_NOP', () => {
    const b = blob([FDT_NOP, ...ROOT_OPEN, FDT_NOP, FDT_PROP, 2, 0, new Uint8Array([1, 2]), FDT_NOP, FDT_BEGIN_NODE, 'a', FDT_END_NODE, FDT_NOP, ...ROOT_CLOSE], 'p\0', { extra: 4096 })
    expect(parseFdt(b).root).toEqual({ name: '', props: [{ name: 'p', value: new Uint8Array([1, 2]) }], children: [{ name: 'a', props: [], children: [] }] })
  })

  it('reads version-16 blobs (no size_dt_struct)', () => {
    const b = put32(blob([...ROOT_OPEN, ...ROOT_CLOSE], '', { version: 16 }), H.sizeStruct, 0)
    expect(parseFdt(b).version).toBe(16)
  })

  it('rejects every malformation with a typed error and offset', () => {
    const good = blob([...ROOT_OPEN, FDT_PROP, 4, 0, new Uint8Array(4), ...ROOT_CLOSE], 'p\0')
    expect(() => parseFdt(good)).not.toThrow()
    expectFdtError(() => parseFdt(good.subarray(0, 39)), 'FDT_TRUNCATED', 0)
    expectFdtError(() => parseFdt(put32(good, 0, 0xfeedd00d)), 'FDT_BAD_MAGIC', 0)
    expectFdtError(() => parseFdt(good.subarray(0, good.length - 1)), 'FDT_TRUNCATED', 4)
    expectFdtError(() => parseFdt(put32(good, H.totalsize, 39)), 'FDT_BAD_HEADER', 4)
    expectFdtError(() => parseFdt(put32(good, H.version, 15)), 'FDT_BAD_VERSION', 20)
    expectFdtError(() => parseFdt(put32(good, H.lastComp, 18)), 'FDT_BAD_VERSION', 24)
    expectFdtError(() => parseFdt(put32(put32(good, H.version, 16), H.lastComp, 17)), 'FDT_BAD_VERSION', 24)
    expectFdtError(() => parseFdt(put32(good, H.offStruct, 20)), 'FDT_BAD_HEADER', 8)
    expectFdtError(() => parseFdt(put32(good, H.offStruct, 58)), 'FDT_BAD_HEADER', 8) // misaligned
    expectFdtError(() => parseFdt(put32(good, H.sizeStruct, 0xffff_fff0)), 'FDT_BAD_HEADER', 8)
    expectFdtError(() => parseFdt(put32(good, H.sizeStruct, u32(good, H.sizeStruct) - 2)), 'FDT_BAD_HEADER', 36)
    expectFdtError(() => parseFdt(put32(good, H.offStrings, 0xffff_ffff)), 'FDT_BAD_HEADER', 12)
    expectFdtError(() => parseFdt(put32(good, H.sizeStrings, 1000)), 'FDT_BAD_HEADER', 12)
    expectFdtError(() => parseFdt(put32(good, H.offRsv, 44)), 'FDT_BAD_HEADER', 16) // misaligned
    expectFdtError(() => parseFdt(put32(good, H.offRsv, 8)), 'FDT_BAD_HEADER', 16) // inside the header
    // A reservation map whose terminator was overwritten runs into the structure block and beyond.
    const noTerm = good.slice()
    noTerm.fill(0xff, 40, good.length)
    expectFdtError(() => parseFdt(noTerm), 'FDT_BAD_RSVMAP')
  })

  it('rejects structure-block errors', () => {
    const at = 56 // offset of the first token in blob()
    expectFdtError(() => parseFdt(blob([FDT_END])), 'FDT_BAD_STRUCTURE', at)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_END])), 'FDT_BAD_STRUCTURE', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_END_NODE])), 'FDT_BAD_STRUCTURE', at + 12) // runs out without FDT_END
    expectFdtError(() => parseFdt(blob([FDT_END_NODE, FDT_END])), 'FDT_BAD_STRUCTURE', at)
    expectFdtError(() => parseFdt(blob([FDT_PROP, 0, 0, FDT_END], 'p\0')), 'FDT_BAD_STRUCTURE', at)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, 0x77, ...ROOT_CLOSE])), 'FDT_BAD_STRUCTURE', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_END_NODE, ...ROOT_OPEN, ...ROOT_CLOSE])), 'FDT_BAD_STRUCTURE', at + 12)
    expectFdtError(() => parseFdt(blob([FDT_BEGIN_NODE, 'r', ...ROOT_CLOSE])), 'FDT_BAD_NAME', at)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_BEGIN_NODE, '', FDT_END_NODE, ...ROOT_CLOSE])), 'FDT_BAD_NAME', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_BEGIN_NODE, 'a/b', FDT_END_NODE, ...ROOT_CLOSE])), 'FDT_BAD_NAME', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_BEGIN_NODE, 'a', FDT_END_NODE, FDT_BEGIN_NODE, 'a', FDT_END_NODE, ...ROOT_CLOSE])), 'FDT_DUPLICATE', at + 20)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_BEGIN_NODE, 'a', FDT_END_NODE, FDT_PROP, 0, 0, ...ROOT_CLOSE], 'p\0')), 'FDT_BAD_STRUCTURE', at + 20)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_PROP, 0, 0, FDT_PROP, 0, 2, ...ROOT_CLOSE], 'p\0p\0')), 'FDT_DUPLICATE', at + 20)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_PROP, 0, 9, ...ROOT_CLOSE], 'p\0')), 'FDT_BAD_STRING', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_PROP, 0, 0, ...ROOT_CLOSE], 'pq')), 'FDT_BAD_STRING', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_PROP, 0, 0, ...ROOT_CLOSE], '\0')), 'FDT_BAD_STRING', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_PROP, 100, 0, ...ROOT_CLOSE], 'p\0')), 'FDT_BAD_STRUCTURE', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_PROP, 0xffff_ffff, 0, ...ROOT_CLOSE], 'p\0')), 'FDT_BAD_STRUCTURE', at + 8)
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, FDT_PROP, 0])), 'FDT_BAD_STRUCTURE', at + 8)
    // node name without NUL inside the structure block
    const unterminated = blob([...ROOT_OPEN, FDT_BEGIN_NODE, new Uint8Array([0x61, 0x61, 0x61, 0x61])])
    expectFdtError(() => parseFdt(unterminated), 'FDT_BAD_STRING', at + 8)
    // FDT_END followed by more structure
    expectFdtError(() => parseFdt(blob([...ROOT_OPEN, ...ROOT_CLOSE, FDT_NOP])), 'FDT_BAD_STRUCTURE', at + 12)
  })

  it('bounds nesting depth', () => {
    let t = node('leaf')
    for (let i = 0; i < 100; i++) t = node(`n${i}`, {}, [t])
    const b = buildFdt(node('', {}, [t]))
    expectFdtError(() => parseFdt(b), 'FDT_TOO_DEEP')
    expect(parseFdt(b, { maxDepth: 200 }).root.children[0]!.name).toBe('n99')
  })

  it('property: build → parse is the identity, and build is canonical', () => {
    fc.assert(
      fc.property(fdtTree, reservations, fc.integer({ min: 0, max: 0xffffffff }), (root, reserved, bootCpuId) => {
        const b = buildFdt(root, { reserved, bootCpuId })
        const p = parseFdt(b)
        expect(p.root).toEqual(root)
        expect(p.reserved).toEqual(reserved)
        expect(p.bootCpuId).toBe(bootCpuId)
        expect(buildFdt(p.root, { reserved: p.reserved, bootCpuId })).toEqual(b)
      }),
      { numRuns: 300 },
    )
  })

  const parseOrFdtError = (b: Uint8Array): void => {
    try {
      const p = parseFdt(b)
      // Whatever parses must be a tree the writer accepts, and re-parse to itself.
      expect(parseFdt(buildFdt(p.root, { reserved: p.reserved.filter((r) => r.address !== 0n || r.size !== 0n) })).root).toEqual(p.root)
    } catch (e) {
      if (!(e instanceof FdtError)) throw e
    }
  }

  it('property: arbitrary bytes only ever give an FdtError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), parseOrFdtError), { numRuns: 2000 })
    // …including ones with a valid magic and plausible header
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 10, maxLength: 10 }), fc.uint8Array({ minLength: 0, maxLength: 300 }), (hdr, body) => {
        const b = new Uint8Array(40 + body.length)
        const dv = new DataView(b.buffer)
        hdr.forEach((v, i) => dv.setUint32(i * 4, v))
        dv.setUint32(0, 0xd00dfeed)
        b.set(body, 40)
        parseOrFdtError(b)
      }),
      { numRuns: 2000 },
    )
  })

  it('property: mutated valid blobs only ever give an FdtError (or a valid tree)', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('bit' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 3, 4, 9, 0xffffffff, 0x7fffffff, 0x80000000, 40, 41) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    )
    fc.assert(
      fc.property(fdtTree, fc.array(mutation, { minLength: 1, maxLength: 4 }), (root, muts) => {
        let b = buildFdt(root)
        for (const m of muts) {
          const at = m.at % b.length
          if (m.kind === 'bit') b[at]! ^= 1 << m.bit
          else if (m.kind === 'word') {
            if ((at & ~3) + 4 <= b.length) b = put32(b, at & ~3, m.value)
          }
          else b = b.subarray(0, at)
        }
        if (b.length >= 4) parseOrFdtError(b)
      }),
      { numRuns: 2000 },
    )
  })
})
