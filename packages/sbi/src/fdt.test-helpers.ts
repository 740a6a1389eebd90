/** fast-check generators for device trees, shared by the unit and the dtc system tests. */
import fc from 'fast-check'
import type { FdtNode, FdtProp, FdtReservation } from './fdt.js'

const chars = (s: string): fc.Arbitrary<string> => fc.constantFrom(...s.split(''))
const LOWER = 'abcdefghijklmnopqrstuvwxyz'

/**
 * Names dtc accepts without complaint: node names start with `n`, property names with `x`, so no
 * generated name is a property dtc treats specially (`name`, `phandle`, `reg`, `status`…) and no
 * node and property share a name.
 */
export const nodeName: fc.Arbitrary<string> = fc
  .tuple(fc.string({ unit: chars(LOWER + '0123456789,._+-'), maxLength: 8 }), fc.option(fc.string({ unit: chars('0123456789abcdef,'), minLength: 1, maxLength: 6 })))
  .map(([base, unit]) => `n${base}${unit === null ? '' : `@${unit}`}`)

export const propName: fc.Arbitrary<string> = fc.string({ unit: chars(LOWER + '0123456789,._+?#-'), maxLength: 12 }).map((s) => `x${s}`)

export const propValue: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.constant(new Uint8Array(0)),
  fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 6 }).map((cells) => {
    const b = new Uint8Array(cells.length * 4)
    cells.forEach((c, i) => new DataView(b.buffer).setUint32(i * 4, c))
    return b
  }),
)

const props: fc.Arbitrary<FdtProp[]> = fc
  .uniqueArray(fc.tuple(propName, propValue), { selector: ([n]) => n, maxLength: 6 })
  .map((list) => list.map(([name, value]) => ({ name, value })))

/** A tree (root named '') of bounded depth and fan-out, with unique sibling names. */
export const fdtTree: fc.Arbitrary<FdtNode> = fc
  .letrec<{ node: FdtNode; kids: FdtNode[] }>((tie) => ({
    node: fc
      .tuple(nodeName, props, tie('kids'))
      .map(([name, p, children]) => ({ name, props: p, children })),
    kids: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant([] as FdtNode[]),
      fc.uniqueArray(tie('node'), { selector: (n) => n.name, maxLength: 4 }),
    ),
  }))
  .node.map((n) => ({ ...n, name: '' }))

export const reservations: fc.Arbitrary<FdtReservation[]> = fc.array(
  fc.record({ address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), size: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }) }),
  { maxLength: 4 },
)
