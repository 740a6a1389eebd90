/**
 * `virtDeviceTree` against the tree QEMU's own `virt` machine hands its firmware
 * (`qemu-system-riscv64 -machine virt,dumpdtb=…`), node by node and property by property, with
 * phandles compared by the path they point at. Every difference must be one documented in
 * {@link KNOWN}; the README lists them too.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { FdtError, buildFdt, parseFdt, type FdtNode } from './fdt.js'
import { findNode, getCells, getNumber, getProp, getString, getU32, phandles, walk } from './props.js'
import { virtDeviceTree, type VirtConfig } from './virt.js'

const dir = mkdtempSync(join(tmpdir(), 'honk-sbi-qemu-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function qemuDtb(smp: number, extra: string[] = []): Uint8Array {
  const out = join(dir, `virt-${smp}-${extra.length}.dtb`)
  execFileSync('qemu-system-riscv64', ['-machine', `virt,dumpdtb=${out}`, '-smp', String(smp), '-m', '512M', '-cpu', 'rv64,h=false', '-nographic', ...extra], {
    stdio: 'pipe',
    timeout: 60_000,
  })
  return new Uint8Array(readFileSync(out))
}

/** Nodes QEMU has and this board does not (devices honk does not model). */
const QEMU_ONLY_NODES = [
  '/pmu', // OpenSBI's PMU event map: no PMU here
  '/fw-cfg@10100000', // QEMU's firmware configuration device
  '/flash@20000000', // pflash banks
  '/platform-bus@4000000', // dynamic sysbus devices
]

/** Property differences: [path pattern, property, why]. */
const KNOWN: [RegExp, string, string][] = [
  [/^\/cpus\/cpu@\d+$/, 'riscv,isa', 'the extensions our hart implements, not QEMU rv64’s (zihintpause, zbc, sstc, h…)'],
  [/^\/cpus\/cpu@\d+$/, 'riscv,isa-base', 'newer binding (Linux 6.7+); QEMU 7.2 does not write it'],
  [/^\/cpus\/cpu@\d+$/, 'riscv,isa-extensions', 'newer binding (Linux 6.7+); QEMU 7.2 does not write it'],
  [/^\/cpus\/cpu@\d+$/, 'mmu-type', 'default riscv,sv57 (our MMU does Sv39/48/57); QEMU 7.2 says riscv,sv48 for -cpu rv64'],
  [/^\/soc\/plic@c000000$/, 'riscv,ndev', 'sources 1..95 → 95; QEMU 7.2 writes 96 (it counts source 0; fixed in later QEMU)'],
  [/^\/chosen$/, 'rng-seed', 'random per boot (only the length is compared)'],
]

/** Properties whose cells are phandles (or phandle + specifier pairs for #interrupt-cells = 1). */
const PHANDLE_PROPS: Record<string, 'one' | 'pairs'> = { 'interrupt-parent': 'one', regmap: 'one', cpu: 'one', 'interrupts-extended': 'pairs' }

/** Each node's properties rendered comparably: phandles → target paths, numbers by value. */
function normalize(root: FdtNode): Map<string, Map<string, string>> {
  const byPh = phandles(root)
  const pathOf = new Map<FdtNode, string>()
  for (const { path, node } of walk(root)) pathOf.set(node, path)
  const target = (ph: number): string => {
    const n = byPh.get(ph)
    return n ? `&{${pathOf.get(n)}}` : `&dangling-${ph}`
  }
  const out = new Map<string, Map<string, string>>()
  for (const { path, node } of walk(root)) {
    const props = new Map<string, string>()
    for (const p of node.props) {
      let v: string
      const kind = PHANDLE_PROPS[p.name]
      if (p.name === 'phandle') v = '<phandle>'
      else if (p.name === 'rng-seed') v = `<${p.value.length} bytes>`
      else if (p.name.startsWith('linux,initrd-')) v = `0x${getNumber(node, p.name)!.toString(16)}`
      else if (kind === 'one') v = target(getU32(node, p.name)!)
      else if (p.name === 'interrupt-map') {
        // PCI: 3 child address cells, 1 interrupt cell, the parent's phandle, 1 parent cell.
        const c = getCells(node, p.name)!
        v = Array.from({ length: c.length / 6 }, (_, i) => `${c.slice(6 * i, 6 * i + 4).join(' ')} ${target(c[6 * i + 4]!)} ${c[6 * i + 5]}`).join(', ')
      }
      else if (kind === 'pairs') {
        const c = getCells(node, p.name)!
        v = Array.from({ length: c.length / 2 }, (_, i) => `${target(c[2 * i]!)} ${c[2 * i + 1]}`).join(', ')
      } else v = Buffer.from(p.value).toString('hex')
      props.set(p.name, v)
    }
    out.set(path, props)
  }
  return out
}

interface Diff {
  path: string
  prop?: string
  ours?: string
  qemu?: string
}

function compare(ours: FdtNode, qemu: FdtNode): Diff[] {
  const a = normalize(ours)
  const b = normalize(qemu)
  const diffs: Diff[] = []
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    const pa = a.get(path)
    const pb = b.get(path)
    if (!pa || !pb) {
      diffs.push({ path, ...(pa ? { ours: 'node' } : { qemu: 'node' }) })
      continue
    }
    for (const name of new Set([...pa.keys(), ...pb.keys()])) {
      const va = pa.get(name)
      const vb = pb.get(name)
      if (va !== vb) diffs.push({ path, prop: name, ...(va === undefined ? {} : { ours: va }), ...(vb === undefined ? {} : { qemu: vb }) })
    }
  }
  return diffs
}

const known = (d: Diff): boolean =>
  d.prop === undefined ? d.qemu === 'node' && QEMU_ONLY_NODES.some((p) => d.path === p) : KNOWN.some(([re, prop]) => re.test(d.path) && prop === d.prop)

describe('virtDeviceTree matches QEMU virt', () => {
  const cases: { smp: number; extra?: string[]; config?: Partial<VirtConfig> }[] = [{ smp: 1 }, { smp: 2 }, { smp: 4 }, { smp: 8 }]
  for (const { smp } of cases)
    it(`-smp ${smp}: every difference is a documented one`, () => {
      const q = parseFdt(qemuDtb(smp))
      const seed = getProp(findNode(q.root, '/chosen')!, 'rng-seed')!
      const ours = virtDeviceTree({ harts: smp, ramSize: 512n << 20n, rngSeed: seed })
      const diffs = compare(ours, q.root)
      if (process.env.SHOW_DIFFS) console.log(JSON.stringify(diffs, null, 1))
      const unknown = diffs.filter((d) => !known(d))
      expect(unknown).toEqual([])
      // The documented node differences are all still there (QEMU adds, we omit).
      for (const p of QEMU_ONLY_NODES) expect(diffs).toContainEqual({ path: p, qemu: 'node' })
      // and the board-defining nodes exist on both sides
      for (const p of ['/cpus/cpu-map/cluster0', '/soc/clint@2000000', '/soc/plic@c000000', '/soc/serial@10000000', '/soc/virtio_mmio@10008000', '/soc/test@100000', '/soc/rtc@101000', '/poweroff', '/reboot', '/memory@80000000'])
        expect(findNode(q.root, p) && findNode(ours, p)).toBeTruthy()
      expect(findNode(ours, `/cpus/cpu@${smp - 1}`)).toBeDefined()
      // Configured like QEMU 7.2 (its ISA string, MMU and PLIC source count), only the newer ISA
      // properties and the omitted nodes remain.
      const cpu0 = findNode(q.root, '/cpus/cpu@0')!
      const likeQemu = virtDeviceTree({
        harts: smp,
        ramSize: 512n << 20n,
        rngSeed: seed,
        isa: getString(cpu0, 'riscv,isa')!,
        mmuType: getString(cpu0, 'mmu-type')!,
        plicSources: getU32(findNode(q.root, '/soc/plic')!, 'riscv,ndev')!,
      })
      const rest = compare(likeQemu, q.root).filter((d) => d.prop !== 'riscv,isa-base' && d.prop !== 'riscv,isa-extensions')
      expect(rest).toHaveLength(QEMU_ONLY_NODES.length)
      for (const path of QEMU_ONLY_NODES) expect(rest).toContainEqual({ path, qemu: 'node' })
    })

  it('with a kernel command line and an initrd', () => {
    writeFileSync(join(dir, 'kernel.bin'), new Uint8Array(4096))
    writeFileSync(join(dir, 'initrd.bin'), new Uint8Array(10_000).fill(1))
    const bootargs = 'console=ttyS0 root=/dev/vda rw'
    const q = parseFdt(qemuDtb(2, ['-kernel', join(dir, 'kernel.bin'), '-initrd', join(dir, 'initrd.bin'), '-append', bootargs]))
    const chosen = findNode(q.root, '/chosen')!
    expect(getString(chosen, 'bootargs')).toBe(bootargs)
    const initrd = { start: getNumber(chosen, 'linux,initrd-start')!, end: getNumber(chosen, 'linux,initrd-end')! }
    expect(initrd.end - initrd.start).toBe(10_000n)
    const ours = virtDeviceTree({ harts: 2, ramSize: 512n << 20n, bootargs, initrd, rngSeed: getProp(chosen, 'rng-seed')! })
    expect(compare(ours, q.root).filter((d) => !known(d))).toEqual([])
  })

  it('property: mutations of QEMU’s blob only ever give an FdtError', () => {
    const blob = qemuDtb(2)
    const total = new DataView(blob.buffer).getUint32(4)
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(total - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = blob.slice(0, total)
        for (const [at, v] of edits) b[at] = v
        try {
          const p = parseFdt(b)
          expect(parseFdt(buildFdt(p.root)).root).toEqual(p.root)
        } catch (e) {
          if (!(e instanceof FdtError)) throw e
        }
      }),
      { numRuns: 3000 },
    )
  })
})
