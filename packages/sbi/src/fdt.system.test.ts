/**
 * The writer against dtc (Debian `device-tree-compiler`): the same tree, written as DTS and
 * compiled by `dtc -I dts -O dtb`, gives the same bytes as `buildFdt`.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { formatDts } from './dts.js'
import { buildFdt, parseFdt, type FdtNode, type FdtReservation } from './fdt.js'
import { fdtTree, reservations } from './fdt.test-helpers.js'
import { node, prop } from './props.js'
import { virtDeviceTree } from './virt.js'

const dir = mkdtempSync(join(tmpdir(), 'honk-sbi-dtc-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `dtc -q -I dts -O dtb -b <boot> -` with the DTS on stdin. */
function dtc(dts: string, bootCpuId = 0): Uint8Array {
  return new Uint8Array(execFileSync('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-b', String(bootCpuId), '-'], { input: dts, maxBuffer: 64 << 20 }))
}

function sameAsDtc(root: FdtNode, opts: { bootCpuId?: number; reserved?: FdtReservation[] } = {}, raw = true): void {
  const ours = buildFdt(root, opts)
  const theirs = dtc(formatDts(root, { raw, reserved: opts.reserved ?? [] }), opts.bootCpuId ?? 0)
  expect(Buffer.from(ours).toString('hex')).toBe(Buffer.from(theirs).toString('hex'))
}

describe('buildFdt is byte-identical to dtc', () => {
  it('for the virt board, with raw and with readable DTS', () => {
    for (const harts of [1, 4]) {
      const t = virtDeviceTree({
        harts,
        ramSize: 512n << 20n,
        bootargs: 'console=ttyS0 root=/dev/vda rw',
        initrd: { start: 0x8820_0000n, end: 0x8830_0000n },
        rngSeed: new Uint8Array(32).map((_, i) => i * 7),
      })
      sameAsDtc(t, { bootCpuId: 0 })
      sameAsDtc(t, { bootCpuId: 0 }, false)
    }
  })

  it('for hand-written samples: memreserve, boot cpu, empty values, shared string tails', () => {
    const t = node('', { '#address-cells': 1, '#size-cells': 1, model: 'sample' }, [
      node('cpus', { '#address-cells': 1, '#size-cells': 0 }, [node('cpu@3', { device_type: 'cpu', reg: 3 })]),
      node('memory@0', { device_type: 'memory', reg: [0, 0x1000_0000] }),
      node('node-with-long-name_and.odd+chars,1@abc', { 'x-bytes': new Uint8Array([1, 2, 3]), 'x-empty': true, 'x-cells': 0, cells: prop.u64(1n) }),
    ])
    sameAsDtc(t, { bootCpuId: 3, reserved: [{ address: 0x8000_0000n, size: 0x20_0000n }, { address: 0x10n, size: 0x10n }] })
    sameAsDtc(node(''))
  })

  it('property: for arbitrary trees, reservations and boot cpu ids', () => {
    fc.assert(
      fc.property(fdtTree, reservations, fc.integer({ min: 0, max: 0xffffffff }), (root, reserved, bootCpuId) => sameAsDtc(root, { reserved, bootCpuId })),
      { numRuns: 150 },
    )
  })

  it('and parses what dtc writes, including decompiling ours back (dtc -I dtb)', () => {
    const t = virtDeviceTree({ harts: 2, ramSize: 1n << 30n })
    const blob = buildFdt(t)
    const path = join(dir, 'ours.dtb')
    writeFileSync(path, blob)
    const roundTrip = execFileSync('dtc', ['-q', '-I', 'dtb', '-O', 'dtb', path])
    expect(Buffer.from(roundTrip).equals(Buffer.from(blob))).toBe(true)
    expect(parseFdt(dtc(formatDts(t))).root).toEqual(t)
  })
})
