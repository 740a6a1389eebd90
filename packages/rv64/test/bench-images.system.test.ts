/**
 * The CPU benchmark images (bench/images.ts; bench/run.ts and bench/nested.ts measure with them),
 * system tier: real cross compiler, real QEMU.
 * - #17: the nested image — the benchmark in VS-mode behind the M-mode stub, over G-stage Sv39x4
 *   and VS-stage Sv39 identity maps (gigapages and 4 KiB pages) — computes the same checksum on
 *   qemu-system-riscv64 `-cpu rv64,h=true` and on our hart, as do its bare M and S peers, and
 *   retires the same benchmark instructions in every variant.
 * - #18: the benchmark's data lies on pages of its own (QEMU retranslates a page's code on every
 *   store into it), and the instruction count comes from our hart (QEMU's `instret` is host ticks).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { NESTED_VARIANTS, buildImage, codeAndDataPages, measure, runOurs, runQemu, toolsPresent } from '../bench/images.ts'

const ROUNDS = 20

describe.skipIf(!toolsPresent())('benchmark images (system)', () => {
  it('keep their code and their data on different pages', () => {
    for (const v of ['plain', ...NESTED_VARIANTS] as const) {
      const { code, data } = codeAndDataPages(new Uint8Array(readFileSync(buildImage(v, ROUNDS))))
      expect(code.size, v).toBeGreaterThan(0)
      expect(data.size, v).toBeGreaterThan(0)
      expect([...code].filter((p) => data.has(p)), v).toEqual([])
    }
  })

  it('the nested (VS-mode) images and their bare peers give one checksum on QEMU with h=true and on our hart', () => {
    const checksums = new Set<string>()
    const counts = new Set<number>()
    for (const v of NESTED_VARIANTS) {
      const work = buildImage(v, ROUNDS)
      const ours = runOurs(work)
      const qemu = runQemu(work, { hypervisor: true })
      expect(ours.report.checksum, v).toBe(qemu.report.checksum)
      checksums.add(ours.report.checksum)
      counts.add(ours.executed! - runOurs(buildImage(v, 0)).executed!)
    }
    expect(checksums.size).toBe(1)
    expect(counts.size).toBe(1) // the benchmark's own instructions: the same code in M, S and VS
  })

  it('counts the benchmark instructions on our hart', () => {
    const m = measure(buildImage('plain', ROUNDS), buildImage('plain', 0), { hypervisor: false, qemuRuns: 1 })
    const twice = measure(buildImage('plain', 2 * ROUNDS), buildImage('plain', 0), { hypervisor: false, qemuRuns: 1 })
    // The work is ROUNDS identical-length rounds: twice the rounds, about twice the instructions
    // (the per-round work varies only by a few branches of the sort), whatever QEMU's clock did.
    expect(m.instructions).toBeGreaterThan(ROUNDS * 100_000)
    expect(twice.instructions / m.instructions).toBeGreaterThan(1.95)
    expect(twice.instructions / m.instructions).toBeLessThan(2.05)
    expect(m.checksum).toMatch(/^[0-9a-f]{16}$/)
  })
})
