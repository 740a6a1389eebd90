/**
 * `node --conditions=@honk/source --import tsx bench/kvm-nested.ts [--rounds N] [--no-warmup] [--honk-clock realtime|virtual]`:
 * issue #17's nested translation cost, measured the same way on QEMU and on honk-virt. The
 * same guest — the repo's main Linux 6.1 Image with initramfs-kvmlinux-guest.cpio, whose /init
 * writes "kvmlinux-guest: marker" to /dev/kmsg and powers off, `console=hvc0 earlycon=sbi` —
 * booted four ways, each a fresh process, `-cpu rv64,h=true -m 1G -smp 1 -bios default`:
 *   1. qemu bare:    qemu-system-riscv64 -kernel Image -initrd initramfs-kvmlinux-guest.cpio
 *   2. qemu nested:  qemu-system-riscv64 with the KVM host kernel (build-linux.sh --variant kvm)
 *                    and initramfs-kvmlinux.cpio: /kvmlinux (scripts/guest/kvmlinux.c) boots the
 *                    same Image and initramfs as a KVM guest through /dev/kvm
 *   3. honk bare:    honk-virt (src/honk-virt.ts) as 1., plus --clock realtime
 *   4. honk nested:  honk-virt as 2., plus --clock realtime
 * honk-virt runs with --clock realtime so that guest time is host time, as on QEMU. With
 * `--honk-clock virtual` (honk-virt's default clock) honk's guest times count retired
 * instructions instead (10 per 100 ns tick, every mode's, the host Linux's and KVM's work on
 * exits included; time jumps ahead only when the hart waits): honk's columns are then a
 * deterministic measure of the work each boot does, free of the shared machine's noise, and
 * not wall time. Each machine's paging is its default (honk-virt Sv48, QEMU 7.2 Sv57).
 *
 * What is timed (all wall time; the machine is shared, so every figure is a median with its
 * min–max over interleaved rounds whose order rotates):
 *   - bare "to marker": the guest kernel's printk timestamp on the marker line, i.e. the machine's
 *     time counter since reset: process start-up and image loading are not in it; the firmware
 *     before the kernel is (OpenSBI on QEMU, a few ms; the TypeScript SBI on honk-virt, nothing
 *     to speak of).
 *   - nested "to marker": kvmlinux's own CLOCK_MONOTONIC (in the host Linux) from just before the
 *     first KVM_RUN to the end of the marker line on the guest's console, so it includes the
 *     console's path through kvmlinux (one KVM exit to user space per character). The guest's
 *     own printk timestamp on the marker (its time counter starts at KVM_CREATE_VM, just before)
 *     is printed beside it.
 *   - ratio nested / bare, per round, for QEMU and for honk-virt side by side; and the same with
 *     the guest's printk timestamps on both sides (no console path in it).
 *   - for context, each process's whole wall time and its CPU time (bash `times`, user + system).
 * For honk's own hypervisor (Linux as a VS-mode guest under @honk/vmm vs bare) see
 * bench/linux-vmm.ts, whose ratio is of CPU time.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { GUEST_CACHE } from '../src/guest.ts'

const ROUNDS = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : 5
const HONK_CLOCK = process.argv.includes('--honk-clock') ? process.argv[process.argv.indexOf('--honk-clock') + 1]! : 'realtime'
if (HONK_CLOCK !== 'realtime' && HONK_CLOCK !== 'virtual') throw new Error(`--honk-clock ${HONK_CLOCK}: realtime or virtual`)
const HOST_IMAGE = join(GUEST_CACHE, 'linux-6.1-display', 'arch', 'riscv', 'boot', 'Image')
const GUEST_IMAGE = join(GUEST_CACHE, 'linux-6.1', 'arch', 'riscv', 'boot', 'Image')
const HOST_INITRAMFS = join(GUEST_CACHE, 'initramfs-kvmlinux.cpio')
const GUEST_INITRAMFS = join(GUEST_CACHE, 'initramfs-kvmlinux-guest.cpio')
for (const f of [HOST_IMAGE, GUEST_IMAGE, HOST_INITRAMFS, GUEST_INITRAMFS]) {
  if (!existsSync(f)) throw new Error(`${f} is missing: run scripts/guest/build-linux.sh, build-linux.sh --variant kvm and build-initramfs.sh`)
}

const MACHINE = ['-M', 'virt', '-cpu', 'rv64,h=true', '-m', '1G', '-smp', '1', '-nographic', '-bios', 'default']
const BARE = [...MACHINE, '-kernel', GUEST_IMAGE, '-initrd', GUEST_INITRAMFS, '-append', 'console=hvc0 earlycon=sbi']
const NESTED = [...MACHINE, '-kernel', HOST_IMAGE, '-initrd', HOST_INITRAMFS, '-append', 'console=ttyS0 rdinit=/kvmlinux']
const HONK = [process.execPath, '--conditions=@honk/source', '--import', 'tsx', 'src/honk-virt.ts']

type Side = 'qemu bare' | 'qemu nested' | 'honk bare' | 'honk nested'
const SIDES: Side[] = ['qemu bare', 'qemu nested', 'honk bare', 'honk nested']
const command = (side: Side): string[] =>
  side === 'qemu bare' ? ['qemu-system-riscv64', ...BARE]
  : side === 'qemu nested' ? ['qemu-system-riscv64', ...NESTED]
  : side === 'honk bare' ? [...HONK, ...BARE, '--clock', HONK_CLOCK]
  : [...HONK, ...NESTED, '--clock', HONK_CLOCK]

interface Run {
  /** Seconds to the marker: the guest's printk timestamp (bare) or kvmlinux's CLOCK_MONOTONIC span (nested). */
  marker: number
  /** The guest kernel's printk timestamp on the marker line. */
  guestClock: number
  /** Nested only: kvmlinux's span from the first KVM_RUN to the guest's SRST. */
  srst?: number
  /** The whole process, spawn to exit, and its CPU time (user + system). */
  wall: number
  cpu: number
}

const num = (log: string, re: RegExp, what: string): number => {
  const m = re.exec(log)
  if (!m) throw new Error(`no ${what} in the output:\n${log.slice(-2000)}`)
  return Number(m[1])
}

/** One boot in a fresh process: bash runs it and then `times` (the children's user and system time). */
function boot(side: Side): Promise<Run> {
  const t0 = performance.now()
  const child = spawn('bash', ['-c', '"$@" </dev/null; times', 'bash', ...command(side)], { cwd: join(import.meta.dirname, '..') })
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')))
  child.stderr.on('data', (c: Buffer) => (out += c.toString('latin1')))
  return new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 900_000)
    child.on('exit', () => {
      clearTimeout(timer)
      const wall = (performance.now() - t0) / 1000
      try {
        // `times` prints the shell's user/system line, then the children's: "0m1.234s 0m0.056s".
        const t = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(out)
        if (!t) throw new Error(`no times line:\n${out.slice(-500)}`)
        const cpu = Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4])
        const guestClock = num(out, /^(?:guest\| )?\[\s*(\d+\.\d+)\] kvmlinux-guest: marker\r?$/m, `${side}: marker line`)
        if (side.endsWith('bare')) return resolve({ marker: guestClock, guestClock, wall, cpu })
        if (!/^kvmlinux: ok\r?$/m.test(out)) throw new Error(`${side}: kvmlinux did not finish:\n${out.slice(-2000)}`)
        resolve({
          marker: num(out, /^kvmlinux: marker after (\d+\.\d+)\r?$/m, `${side}: kvmlinux marker time`),
          srst: num(out, /^kvmlinux: SRST after (\d+\.\d+)\r?$/m, `${side}: kvmlinux SRST time`),
          guestClock,
          wall,
          cpu,
        })
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    })
  })
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const spread = (xs: number[], d = 3) => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`

if (!process.argv.includes('--no-warmup')) {
  // One boot of each first, not counted: page cache, and tsx's transform cache for honk-virt.
  for (const side of SIDES) await boot(side)
  console.log('warm-up: one boot of each side (not counted)')
}
const runs = new Map<Side, Run[]>(SIDES.map((s) => [s, []]))
for (let r = 0; r < ROUNDS; r++) {
  // Rotate the order, so no side always follows the same one.
  const order = SIDES.map((_, i) => SIDES[(i + r) % SIDES.length]!)
  const parts: string[] = []
  for (const side of order) {
    const run = await boot(side)
    runs.get(side)!.push(run)
    parts.push(`${side} ${run.marker.toFixed(3)} s${run.srst !== undefined ? ` (SRST ${run.srst.toFixed(3)}, guest clock ${run.guestClock.toFixed(3)})` : ''} [${run.wall.toFixed(2)} s wall, ${run.cpu.toFixed(2)} s CPU]`)
  }
  console.log(`round ${r + 1}/${ROUNDS}: ${parts.join('; ')}`)
}

const get = (side: Side, f: (r: Run) => number) => runs.get(side)!.map(f)
const ratio = (nested: Side, bare: Side, f: (r: Run) => number) => runs.get(nested)!.map((r, i) => f(r) / f(runs.get(bare)![i]!))
console.log(`Linux boot to the guest's marker, seconds, median (min–max) of ${ROUNDS} interleaved rounds (-cpu rv64,h=true -m 1G -smp 1; honk-virt --clock ${HONK_CLOCK}):`)
console.log(`                        to marker             guest clock at marker  process wall          process CPU`)
for (const side of SIDES) {
  console.log(`  ${side.padEnd(20)}  ${spread(get(side, (r) => r.marker)).padEnd(20)}  ${spread(get(side, (r) => r.guestClock)).padEnd(21)}  ${spread(get(side, (r) => r.wall), 2).padEnd(20)}  ${spread(get(side, (r) => r.cpu), 2)}`)
}
console.log('ratio nested / bare, per round:           QEMU                  honk-virt')
console.log(`  to marker (kvmlinux span / bare clock)   ${spread(ratio('qemu nested', 'qemu bare', (r) => r.marker), 2).padEnd(20)}  ${spread(ratio('honk nested', 'honk bare', (r) => r.marker), 2)}`)
console.log(`  guest clock at marker                    ${spread(ratio('qemu nested', 'qemu bare', (r) => r.guestClock), 2).padEnd(20)}  ${spread(ratio('honk nested', 'honk bare', (r) => r.guestClock), 2)}`)
console.log(`  process CPU                              ${spread(ratio('qemu nested', 'qemu bare', (r) => r.cpu), 2).padEnd(20)}  ${spread(ratio('honk nested', 'honk bare', (r) => r.cpu), 2)}`)
// (Under the virtual clock honk's seconds are retired instructions, not comparable with QEMU's.)
if (HONK_CLOCK === 'realtime') console.log(`honk-virt / QEMU, to marker: bare ${spread(ratio('honk bare', 'qemu bare', (r) => r.marker), 1)}, nested ${spread(ratio('honk nested', 'qemu nested', (r) => r.marker), 1)}`)
console.log('(honk\'s own hypervisor, Linux under @honk/vmm vs bare, CPU time: bench/linux-vmm.ts)')
