/**
 * `node --conditions=@honk/source --import tsx bench/guest-vs.ts [--quick]`: the CPU benchmark
 * guest (bench/guest/bench.c) on our hart twice in the same process: bare (M-mode, as `bench`
 * runs it) and as a VS-mode guest under two-stage translation (VS Sv39 over G Sv39x4, both mapping
 * RAM and the devices 1:1: with 4 KiB VS pages over gigapage G leaves, or gigapages at both stages).
 * Prints M instructions/s of each and the guest/bare ratio; the checksums must match.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CSR, CaptureUart, SifiveTest, createSystem, loadElf } from '../src/index.ts'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 40 : 400
const here = dirname(fileURLToPath(import.meta.url))
const out = join(tmpdir(), 'honk-rv64-bench')
mkdirSync(out, { recursive: true })
const elf = join(out, `bench-vs-${ROUNDS}.elf`)
// The guest reads minstret, an M-mode CSR: as a VS guest it reads instret instead (mcounteren and hcounteren allow it).
const source = join(out, 'bench-vs.c')
writeFileSync(source, readFileSync(join(here, 'guest', 'bench.c'), 'utf8').replaceAll('minstret', 'instret'))
execFileSync('riscv64-linux-gnu-gcc', ['-O2', `-DROUNDS=${ROUNDS}`, '-march=rv64imac_zicsr', '-mabi=lp64', '-nostdlib', '-ffreestanding', '-fno-pie', '-no-pie', '-mcmodel=medany', '-Wl,--no-warn-rwx-segments', '-Wl,--build-id=none', '-T', join(here, '..', 'test', 'diff', 'link.ld'), join(here, 'guest', 'crt0.S'), source, '-o', elf])

const RAM = 64 << 20
type Mode = 'bare' | 'guest-4k' | 'guest-giga'

function run(mode: Mode): { secs: number; text: string; executed: number } {
  const sys = createSystem({ harts: 1, ramSize: RAM, hypervisor: true })
  let text = ''
  sys.map(0x1000_0000, new CaptureUart((b) => (text += String.fromCharCode(b))))
  sys.map(0x0010_0000, new SifiveTest(sys.bus))
  const hart = sys.harts[0]!
  hart.pc = loadElf(sys.bus, new Uint8Array(readFileSync(elf))).entry
  if (mode !== 'bare') {
    // Tables at the top of RAM (the guest uses its bottom): G root (16 KiB), VS root, VS level 1 and level 0 tables.
    const top = 0x8000_0000 + RAM
    const gRoot = top - 0x10_0000
    const vsRoot = gRoot + 0x4000
    const w = (a: number, v: bigint) => sys.bus.write(a, 8, v)
    const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n
    w(gRoot, (0n << 10n) | V | R | W | U | A | D) // GPA 0–1 GiB: devices
    w(gRoot + 16, (0x80000n << 10n) | V | R | W | X | U | A | D) // GPA 2–3 GiB: RAM
    w(vsRoot, (0n << 10n) | V | R | W | A | D)
    if (mode === 'guest-giga') w(vsRoot + 16, (0x80000n << 10n) | V | R | W | X | A | D)
    else {
      // 4 KiB VS pages over the guest's RAM (64 MiB: 32 level-0 tables).
      const l1 = vsRoot + 0x1000
      w(vsRoot + 16, ((BigInt(l1) >> 12n) << 10n) | V)
      for (let i = 0; i < RAM / (2 << 20); i++) {
        const l0 = l1 + 0x1000 * (i + 1)
        w(l1 + 8 * i, ((BigInt(l0) >> 12n) << 10n) | V)
        for (let j = 0; j < 512; j++) w(l0 + 8 * j, (BigInt(0x80000 + i * 512 + j) << 10n) | V | R | W | X | A | D)
      }
    }
    hart.setCsr(CSR.hgatp, (8n << 60n) | (BigInt(gRoot) >> 12n))
    hart.setCsr(CSR.vsatp, (8n << 60n) | (BigInt(vsRoot) >> 12n))
    hart.setCsr(CSR.mcounteren, 7n)
    hart.setCsr(CSR.hcounteren, 7n)
    hart.setCsr(CSR.mtvec, 0x9000_0000n) // nothing there: a trap out of the guest would stop the run with an error
    hart.setVirt(true, 1)
  }
  const t0 = performance.now()
  const r = sys.run(mode === 'bare' ? Number.MAX_SAFE_INTEGER : 20_000_000_000)
  if (r.reason !== 'exit') throw new Error(`${mode}: stopped with ${r.reason} at pc 0x${hart.pc.toString(16)}`)
  return { secs: (performance.now() - t0) / 1000, text, executed: Number(hart.instret) }
}

const results: Record<Mode, number> = { bare: 0, 'guest-4k': 0, 'guest-giga': 0 }
let checksum = ''
for (let round = 0; round < (quick ? 1 : 2); round++) {
  for (const mode of Object.keys(results) as Mode[]) {
    const r = run(mode)
    const c = /checksum ([0-9a-f]{16})/.exec(r.text)?.[1]
    if (!c || (checksum && c !== checksum)) throw new Error(`${mode}: checksum ${c} (want ${checksum})`)
    checksum = c
    results[mode] = Math.max(results[mode], r.executed / r.secs / 1e6)
  }
}
console.log(`rounds=${ROUNDS} checksum=${checksum}`)
for (const [mode, mips] of Object.entries(results)) console.log(`${mode.padEnd(11)} ${mips.toFixed(1).padStart(7)} M instr/s  ${(mips / results.bare).toFixed(2)}× bare`)
