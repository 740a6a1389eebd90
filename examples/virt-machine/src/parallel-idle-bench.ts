/**
 * The idle cost of parallel harts under the TypeScript SBI (issue #18): Linux 6.1 boots to a shell
 * (rdinit=/bin/sh), then `sleep 10` with every hart in WFI; prints the boot-to-shell wall time and
 * the process's CPU time (all threads, getrusage) over the sleep's wall time, with each hart's
 * instructions during it. The peer: the same board on one thread (`single`), realtime clock.
 *   node --conditions=@honk/source --import tsx src/parallel-idle-bench.ts parallel|single <harts>
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { VirtMachine } from './board.js'
import { boot } from './boot.js'
import { GUEST_CACHE, LINUX_IMAGE } from './guest.js'
import { ParallelMachine } from './parallel.js'
import { ConsoleSession } from './session.js'
import { shellReady } from './parallel.system.test-helpers.js'

const mode = process.argv[2] ?? 'parallel'
const harts = Number(process.argv[3] ?? 2)
const session = new ConsoleSession()
const machine = new VirtMachine({ harts, memory: 256 << 20, bios: 'builtin', clock: 'realtime', sharedMemory: mode === 'parallel', consoleOut: session.out, bootargs: 'console=ttyS0 rdinit=/bin/sh' })
boot(machine, { kernel: new Uint8Array(readFileSync(LINUX_IMAGE)), initrd: new Uint8Array(readFileSync(join(GUEST_CACHE, 'initramfs-display.cpio'))) })
const t0 = Date.now()
let par: ParallelMachine | undefined
if (mode === 'parallel') { const p = new ParallelMachine(machine); par = p; session.start(machine, { run: () => p.run() }) } else session.start(machine)
await shellReady(session)
const bootMs = Date.now() - t0
await new Promise((r) => setTimeout(r, 2000))
session.send('sleep 10; echo S-$((1+1))\n')
const i0 = par ? machine.harts.map((_, h) => par!.hartInstret(h)) : []
const c0 = process.cpuUsage(); const w0 = Date.now()
await session.waitFor('S-2', 60_000)
const c = process.cpuUsage(c0); const w = Date.now() - w0
if (par) console.log('instret during sleep', machine.harts.map((_, h) => String(par!.hartInstret(h) - i0[h]!)), 'pcs', machine.harts.map((_, h) => par!.hartPc(h).toString(16)))
console.log(JSON.stringify({ mode, harts, bootToShellMs: bootMs, sleepWallMs: w, cpuUserMs: Math.round(c.user / 1000), cpuSysMs: Math.round(c.system / 1000), cpuShare: +(((c.user + c.system) / 1000) / w).toFixed(3), hrtimerWarnings: (session.text.match(/hrtimer: interrupt took/g) ?? []).length }))
session.send('poweroff -f\n')
await session.exit
process.exit(0)
