/**
 * Issue #12 case 13: under the TypeScript SBI, user programs that read the clock died (SIGILL at
 * `rdtime`: the firmware left scounteren at 0, so the vDSO's time read was illegal in U-mode).
 * The same user program (scripts/guest/usercheck.c: clock_gettime through the vDSO, rdtime,
 * rdcycle, rdinstret on every CPU, misaligned loads and stores of every width, atomics, a little
 * floating point) runs as /init under Linux on this machine with each firmware — the TS SBI
 * (`--bios builtin`) and Debian's OpenSBI fw_jump — and under QEMU + OpenSBI, the reference.
 * Each prints `honk-user: <check>: <verdict>[ | <measurements>]`: verdicts must be equal
 * everywhere, measurements (times, counters) are checked for sanity only.
 *
 * And the hand-off itself: the registers OpenSBI leaves on this machine's hart when it enters
 * S-mode, read from the hart, against the TS SBI's.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { HANDOFF_CSR as C } from '@honk/sbi'
import { VirtMachine } from './board.js'
import { boot } from './boot.js'
import { GUEST_CACHE, LINUX_IMAGE, OPENSBI_FW_JUMP, guestBuilt } from './guest.js'
import { ConsoleSession } from './session.js'

const USERCHECK = join(GUEST_CACHE, 'usercheck.cpio')
const BUILD = fileURLToPath(new URL('../../../scripts/guest/build-usercheck.sh', import.meta.url))
const HARTS = 2
const QEMU = ['/usr/bin/qemu-system-riscv64', '/usr/local/bin/qemu-system-riscv64'].find((p) => existsSync(p))

// In CI the guest is built before the system tests: missing there is a failure.
const run = (guestBuilt() && existsSync(OPENSBI_FW_JUMP)) || process.env['CI'] === 'true'

interface Line {
  check: string
  verdict: string
  measured: string
}

/** `honk-user: <check>: <verdict>[ | <measured>]` lines, in order. */
function parse(text: string): Line[] {
  const out: Line[] = []
  for (const raw of text.split('\n')) {
    const m = /honk-user: (.*)$/.exec(raw.replace(/\r$/, ''))
    if (!m) continue
    const [head, measured = ''] = m[1]!.split(' | ')
    const colon = head!.indexOf(': ')
    out.push(colon < 0 ? { check: head!, verdict: '', measured } : { check: head!.slice(0, colon), verdict: head!.slice(colon + 2), measured })
  }
  return out
}

const verdicts = (lines: Line[]) => lines.map((l) => (l.verdict ? `${l.check}: ${l.verdict}` : l.check))

async function onHonk(bios: 'builtin' | 'firmware'): Promise<Line[]> {
  const session = new ConsoleSession()
  const machine = new VirtMachine({ harts: HARTS, memory: 256 << 20, bios, consoleOut: session.out, bootargs: 'console=ttyS0 rdinit=/usercheck quiet' })
  boot(machine, {
    kernel: new Uint8Array(readFileSync(LINUX_IMAGE)),
    initrd: new Uint8Array(readFileSync(USERCHECK)),
    ...(bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}),
  })
  session.start(machine)
  await session.waitFor(/honk-user: done/, 600_000)
  expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
  return parse(session.text)
}

function onQemu(): Promise<Line[]> {
  const args = ['-M', 'virt', '-smp', String(HARTS), '-m', '256M', '-nographic', '-no-reboot', '-bios', OPENSBI_FW_JUMP, '-kernel', LINUX_IMAGE, '-initrd', USERCHECK, '-append', 'console=ttyS0 rdinit=/usercheck quiet']
  return new Promise((resolve, reject) =>
    execFile(QEMU!, args, { timeout: 180_000, maxBuffer: 16 << 20 }, (err, stdout) => (err && !stdout.includes('honk-user: done') ? reject(err) : resolve(parse(stdout)))),
  )
}

/** The verdicts every firmware must give (the reference's, QEMU + OpenSBI, as measured). */
const EXPECTED: (string | RegExp)[] = [
  'start',
  'vdso: present',
  'vdso symbols: clock_gettime found, gettimeofday found, clock_getres found',
  ...['MONOTONIC', 'REALTIME', 'MONOTONIC_RAW', 'BOOTTIME', 'MONOTONIC_COARSE', 'REALTIME_COARSE'].map((c) => `vdso clock_gettime(${c}): ok`),
  'vdso gettimeofday: ok',
  /^vdso clock_getres\(MONOTONIC\): 0\.\d{9}$/,
  'libc clock_gettime(MONOTONIC): ok, advances',
  'libc time(): ok',
  'rdtime: ok, advances, timebase 10 MHz',
  'rdcycle: ok, advances',
  'rdinstret: ok, advances',
  'hpmcounter3: SIGILL insn=c03025f3', // scounteren is CY|TM|IR, not more
  `cpus online: ${HARTS}`,
  ...Array.from({ length: HARTS }, (_, i) => `cpu ${i}: on cpu ${i}, rdtime rdcycle rdinstret vdso ok`),
  'misaligned in a page: loads: ok (lh lhu lw lwu ld flw fld c.lw c.ld at offsets 1-7)',
  'misaligned in a page: stores: ok (sh sw sd fsw fsd c.sw c.sd at offsets 1-7)',
  'misaligned across pages: loads: ok (lh lhu lw lwu ld flw fld c.lw c.ld at offsets 1-7)',
  'misaligned across pages: stores: ok (sh sw sd fsw fsd c.sw c.sd at offsets 1-7)',
  /^misaligned amoadd\.w: SIGBUS insn=[0-9a-f]{8}$/,
  /^misaligned lr\.d: SIGBUS insn=[0-9a-f]{8}$/,
  'fp: sqrt(2)=0x1.6a09e667f3bcdp+0 1/3=0x1.5555555555555p-2 fma=-0x1p-54 sqrtf(2)=0x1.6a09e6p+0 subnormal=0x0.0093445b87316p-1022 cvt=1414213562373095 inexact=1',
  'fp across fork: kept, child ok',
  'done, 0 failure(s)',
]

function expectAllChecksPass(lines: Line[], label: string): void {
  const got = verdicts(lines)
  expect(got.length, `${label}: ${got.join('\n')}`).toBe(EXPECTED.length)
  EXPECTED.forEach((e, i) => (typeof e === 'string' ? expect(got[i], label).toBe(e) : expect(got[i], label).toMatch(e)))
}

/** Times and counters: by shape and sanity, never equality. */
function expectSaneMeasurements(lines: Line[], label: string): void {
  const num = (check: string, key: string) => {
    const l = lines.find((x) => x.check === check)
    const m = l && new RegExp(`(?:^| )${key}=([0-9.]+)`).exec(l.measured)
    expect(m, `${label}: ${check} ${key}`).toBeTruthy()
    return Number(m![1])
  }
  const mono = num('vdso clock_gettime(MONOTONIC)', 't')
  expect(mono, label).toBeGreaterThan(0)
  expect(mono, label).toBeLessThan(600) // seconds since boot
  expect(num('vdso clock_gettime(BOOTTIME)', 't')).toBeGreaterThanOrEqual(mono)
  // REALTIME comes from the RTC, which both machines set from the host's clock.
  expect(Math.abs(num('vdso clock_gettime(REALTIME)', 't') - Date.now() / 1000), label).toBeLessThan(24 * 3600)
  expect(Math.abs(num('vdso gettimeofday', 't') - num('vdso clock_gettime(REALTIME)', 't')), label).toBeLessThan(60)
  const hz = num('rdtime', 'hz')
  expect(hz, label).toBeGreaterThan(9e6)
  expect(hz, label).toBeLessThan(11e6)
  expect(num('rdcycle', 'cycle'), label).toBeGreaterThan(0)
  expect(num('rdinstret', 'instret'), label).toBeGreaterThan(0)
  for (let i = 0; i < HARTS; i++) expect(num(`cpu ${i}`, 'time'), label).toBeGreaterThan(0)
}

describe.skipIf(!run)('a user program under both firmwares (issue #12 case 13)', () => {
  let builtin: Promise<Line[]>
  beforeAll(() => {
    // Builds the program's cpio when missing or older than its source (a second or two).
    execFileSync('bash', [BUILD], { stdio: ['ignore', 'ignore', 'inherit'] })
    builtin = onHonk('builtin')
    builtin.catch(() => {}) // awaited by the tests
  }, 600_000)

  it('the TS SBI: user programs read the clock through the vDSO, rdtime/rdcycle/rdinstret on every CPU, misaligned data, FP', async () => {
    const lines = await builtin
    expectAllChecksPass(lines, 'builtin')
    expectSaneMeasurements(lines, 'builtin')
  }, 900_000)

  it('OpenSBI fw_jump on the same machine gives the same verdict for every check', async () => {
    const [ts, osbi] = [await builtin, await onHonk('firmware')]
    expect(verdicts(ts)).toEqual(verdicts(osbi))
    expectAllChecksPass(osbi, 'OpenSBI')
    expectSaneMeasurements(osbi, 'OpenSBI')
  }, 900_000)

  it.skipIf(!QEMU)('QEMU + OpenSBI (the reference) gives the same verdicts', async () => {
    const [ts, qemu] = [await builtin, await onQemu()]
    expect(verdicts(ts)).toEqual(verdicts(qemu))
    expectSaneMeasurements(qemu, 'QEMU')
  }, 900_000)

  it('the TS SBI hands a hart to S-mode as OpenSBI does on this hart (registers read after the mret)', async () => {
    // OpenSBI fw_jump with a payload that spins: after its boot the boot hart sits in S-mode at the payload.
    const out: number[] = []
    const osbi = new VirtMachine({ harts: 1, memory: 64 << 20, bios: 'firmware', consoleOut: (b) => out.push(b), rng: false })
    const spin = new Uint8Array(16)
    new DataView(spin.buffer).setUint32(0, 0x0000006f, true) // j .
    const layout = boot(osbi, { kernel: spin, firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) })
    await osbi.run({ limit: 30_000_000 })
    const o = osbi.harts[0]!
    expect([o.privilege, o.pc], Buffer.from(out).toString()).toEqual([1, layout.kernel.start])
    const ts = new VirtMachine({ harts: 1, memory: 64 << 20, bios: 'builtin', consoleOut: () => {}, rng: false })
    boot(ts, { kernel: spin })
    const t = ts.harts[0]!
    expect(t.privilege).toBe(1)
    // What S and U see: counter access, Sstc, interrupt delegation, sstatus (FS…), S registers.
    for (const [name, csr] of Object.entries({ scounteren: C.scounteren, mcounteren: C.mcounteren, menvcfg: C.menvcfg, mideleg: C.mideleg, sstatus: C.sstatus, sie: C.sie, satp: C.satp, stvec: C.stvec }))
      expect(`${name} 0x${t.getCsr(csr).toString(16)}`).toBe(`${name} 0x${o.getCsr(csr).toString(16)}`)
    expect(t.getCsr(C.scounteren)).toBe(0x7n)
    // medeleg: OpenSBI's, plus what it takes in M-mode only to emulate or redirect to S-mode
    // (access faults, illegal instruction, misaligned load/store): no M-mode code runs here.
    const om = o.getCsr(C.medeleg)
    const tm = t.getCsr(C.medeleg)
    expect(tm & om).toBe(om)
    expect(tm & ~om).toBe(0xf6n)
  }, 600_000)
})
