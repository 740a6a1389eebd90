import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatDts, formatValue } from './dts.js'
import { FdtError, buildFdt, parseFdt } from './fdt.js'
import {
  baseName,
  cellCounts,
  encodeProp,
  findByPhandle,
  findNode,
  getCells,
  getNumber,
  getProp,
  getReg,
  getString,
  getStrings,
  getU32,
  getU64,
  hasProp,
  node,
  pathOf,
  phandles,
  prop,
  walk,
} from './props.js'

const tree = () =>
  node('', { '#address-cells': 2, '#size-cells': 2 }, [
    node('aliases', { serial0: '/soc/serial@10000000', bad: [1, 2] }),
    node('soc', { '#address-cells': 2, '#size-cells': 2, ranges: true }, [
      node('serial@10000000', { compatible: 'ns16550a', reg: prop.wide([0x1000_0000n, 0x100n]), 'interrupt-parent': 9 }),
      node('plic@c000000', { compatible: ['sifive,plic-1.0.0', 'riscv,plic0'], phandle: 9 }),
      node('virtio_mmio@10001000', {}),
      node('virtio_mmio@10002000', {}),
    ]),
    node('cpus', { '#address-cells': 1, '#size-cells': 0 }, [node('cpu@0', { reg: 0, 'linux,phandle': 3 })]),
  ])

describe('property encoders', () => {
  it('encode big-endian', () => {
    expect(prop.u32(0x01020304)).toEqual(new Uint8Array([1, 2, 3, 4]))
    expect(prop.u64(0x0102030405060708n)).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))
    expect(prop.cells([1, 0xffffffff])).toEqual(new Uint8Array([0, 0, 0, 1, 255, 255, 255, 255]))
    expect(prop.wide([0x1_0000_0002n], 2)).toEqual(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2]))
    expect(prop.wide([5n], 1)).toEqual(new Uint8Array([0, 0, 0, 5]))
    expect(prop.string('ab')).toEqual(new Uint8Array([0x61, 0x62, 0]))
    expect(prop.strings(['a', '', 'b'])).toEqual(new Uint8Array([0x61, 0, 0, 0x62, 0]))
    expect(prop.empty()).toEqual(new Uint8Array(0))
  })

  it('reject values that do not fit', () => {
    for (const f of [
      () => prop.u32(-1),
      () => prop.u32(2 ** 32),
      () => prop.u32(1.5),
      () => prop.u64(-1n),
      () => prop.u64(1n << 64n),
      () => prop.cells([1, -1]),
      () => prop.wide([1n << 32n], 1),
      () => prop.string('a\0b'),
      () => prop.strings(['ok', 'a\0']),
    ])
      expect(f).toThrow(FdtError)
  })

  it('encodeProp picks the encoding from the JS type', () => {
    expect(encodeProp(7)).toEqual(prop.u32(7))
    expect(encodeProp(7n)).toEqual(prop.u64(7n))
    expect(encodeProp([1, 2])).toEqual(prop.cells([1, 2]))
    expect(encodeProp('s')).toEqual(prop.string('s'))
    expect(encodeProp(['a', 'b'])).toEqual(prop.strings(['a', 'b']))
    expect(encodeProp(true)).toEqual(prop.empty())
    expect(encodeProp([])).toEqual(prop.empty())
    const raw = new Uint8Array([9])
    expect(encodeProp(raw)).toBe(raw)
    // entries keep integer-looking names in the given order
    expect(node('n', [['2', 1], ['1', 2]]).props.map((p) => p.name)).toEqual(['2', '1'])
  })

  it('property: typed values read back through a blob', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff })),
        fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }).filter((s) => !s.includes('\0')), { minLength: 1, maxLength: 5 }),
        (a, b, cells, strs) => {
          const { root } = parseFdt(buildFdt(node('', { a, b, cells, s: strs[0]!, l: strs })))
          expect(getU32(root, 'a')).toBe(a)
          expect(getU64(root, 'b')).toBe(b)
          expect(getNumber(root, 'a')).toBe(BigInt(a))
          expect(getNumber(root, 'b')).toBe(b)
          if (cells.length > 0) expect(getCells(root, 'cells')).toEqual(cells)
          expect(getString(root, 's')).toBe(strs[0])
          expect(getStrings(root, 'l')).toEqual(strs)
        },
      ),
    )
  })
})

describe('property readers', () => {
  const n = node('n', { four: 1, eight: 1n, three: new Uint8Array(3), empty: true, list: ['a', 'b'], raw: new Uint8Array([0x61]) })
  it('return undefined for absent properties', () => {
    for (const get of [getU32, getU64, getNumber, getCells, getString, getStrings]) expect(get(n, 'nope')).toBeUndefined()
    expect(getProp(n, 'nope')).toBeUndefined()
    expect(hasProp(n, 'empty')).toBe(true)
    expect(hasProp(n, 'nope')).toBe(false)
  })
  it('throw FDT_BAD_PROP for the wrong shape', () => {
    const bad = (f: () => unknown) => expect(f).toThrow(expect.objectContaining({ code: 'FDT_BAD_PROP' }))
    bad(() => getU32(n, 'eight'))
    bad(() => getU64(n, 'four'))
    bad(() => getNumber(n, 'three'))
    bad(() => getCells(n, 'three'))
    bad(() => getString(n, 'list'))
    bad(() => getStrings(n, 'raw'))
    bad(() => getStrings(n, 'empty'))
  })
  it('decode reg with the parent cell counts', () => {
    const t = tree()
    const soc = findNode(t, '/soc')!
    expect(getReg(soc, findNode(t, '/soc/serial')!)).toEqual([{ address: 0x1000_0000n, size: 0x100n }])
    expect(getReg(findNode(t, '/cpus')!, findNode(t, '/cpus/cpu@0')!)).toEqual([{ address: 0n, size: 0n }])
    expect(getReg(soc, findNode(t, '/soc/plic')!)).toBeUndefined()
    expect(cellCounts(node('x'))).toEqual({ address: 2, size: 1 })
    expect(() => getReg(soc, node('y', { reg: [1, 2, 3] }))).toThrow(FdtError)
    expect(() => getReg(node('p', { '#address-cells': 0, '#size-cells': 0 }), node('y', { reg: [1] }))).toThrow(FdtError)
  })
})

describe('tree navigation', () => {
  it('finds nodes by path, without unit address when unambiguous, and through aliases', () => {
    const t = tree()
    expect(findNode(t, '/')).toBe(t)
    expect(findNode(t, '')).toBeUndefined()
    expect(findNode(t, '/soc/plic@c000000')?.name).toBe('plic@c000000')
    expect(findNode(t, '/soc/plic')?.name).toBe('plic@c000000')
    expect(findNode(t, '/soc/virtio_mmio')).toBeUndefined() // two of them
    expect(findNode(t, '/soc/virtio_mmio@10002000')?.name).toBe('virtio_mmio@10002000')
    expect(findNode(t, '/soc/plic@c000001')).toBeUndefined()
    expect(findNode(t, '/nope/plic')).toBeUndefined()
    expect(findNode(t, 'serial0')?.name).toBe('serial@10000000')
    expect(findNode(t, 'serial0/')?.name).toBe('serial@10000000')
    expect(findNode(t, 'nope')).toBeUndefined()
    expect(findNode(t, 'bad')).toBeUndefined()
    expect(findNode(node(''), 'serial0')).toBeUndefined()
  })
  it('resolves phandles (and legacy linux,phandle)', () => {
    const t = tree()
    expect(findByPhandle(t, 9)?.name).toBe('plic@c000000')
    expect(findByPhandle(t, 3)?.name).toBe('cpu@0')
    expect(findByPhandle(t, 4)).toBeUndefined()
    expect([...phandles(t).keys()].sort()).toEqual([3, 9])
    const serial = findNode(t, '/soc/serial')!
    expect(findByPhandle(t, getU32(serial, 'interrupt-parent')!)?.name).toBe('plic@c000000')
  })
  it('walks in pre-order with paths', () => {
    const t = tree()
    const paths = [...walk(t)].map((w) => w.path)
    expect(paths.slice(0, 4)).toEqual(['/', '/aliases', '/soc', '/soc/serial@10000000'])
    expect(pathOf(t, findNode(t, '/cpus/cpu@0')!)).toBe('/cpus/cpu@0')
    expect(pathOf(t, node('x'))).toBeUndefined()
    expect(baseName('cpu@0')).toBe('cpu')
    expect(baseName('cpus')).toBe('cpus')
  })
})

describe('formatDts', () => {
  it('renders strings, cells and bytes', () => {
    expect(formatValue(prop.strings(['a', 'b']))).toBe('"a", "b"')
    expect(formatValue(prop.cells([1, 255]))).toBe('<0x1 0xff>')
    expect(formatValue(new Uint8Array([1, 2]))).toBe('[01 02]')
    expect(formatValue(prop.string('a"b'))).toBe('<0x61226200>')
    expect(formatValue(prop.string('ab'), true)).toBe('[61 62 00]')
    const dts = formatDts(node('', { e: true }, [node('c', { s: 'x' })]), { reserved: [{ address: 16n, size: 32n }] })
    expect(dts).toBe('/dts-v1/;\n/memreserve/ 0x10 0x20;\n/ {\n\te;\n\tc {\n\t\ts = "x";\n\t};\n};\n')
  })
})
