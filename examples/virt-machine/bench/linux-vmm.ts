/**
 * `node --conditions=@honk/source --import tsx bench/linux-vmm.ts [--quick]`: the repo's Linux 6.1
 * booted to its init's "all checks passed" and power-off (1 hart / 1 vCPU, virtio-blk, rng, net)
 * as a VS-mode guest under `@honk/vmm` on an H hart, against the peer measured in the same run,
 * interleaved: the same Image and initramfs on the bare machine's hart (TypeScript SBI).
 * ratio = guest time / bare time (the goal: within 1.5×).
 */
import { bootLinux } from '../src/guest.ts'
import { bootLinuxGuest } from '../src/guest-hart-linux.ts'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 1 : 3

async function bare(): Promise<{ s: number; instructions: number }> {
  const t0 = performance.now()
  const { session, machine } = bootLinux({ bios: 'builtin', harts: 1 })
  await session.waitFor('honk-init: all checks passed', 600_000)
  const exit = await session.exit
  if (exit.reason !== 'poweroff') throw new Error(`bare boot ended with ${JSON.stringify(exit)}`)
  return { s: (performance.now() - t0) / 1000, instructions: machine.executed }
}

async function guest(): Promise<{ s: number; instructions: number }> {
  const t0 = performance.now()
  const r = await bootLinuxGuest(1)
  if (!r.out.includes('honk-init: all checks passed')) throw new Error('the guest did not pass its checks')
  return { s: (performance.now() - t0) / 1000, instructions: r.outcome.executed }
}

const rows: { bare: number; guest: number; bareInsns: number; guestInsns: number }[] = []
for (let i = 0; i < ROUNDS; i++) {
  const b = await bare()
  const g = await guest()
  rows.push({ bare: b.s, guest: g.s, bareInsns: b.instructions, guestInsns: g.instructions })
  console.log(`round ${i + 1}: bare ${b.s.toFixed(1)} s (${b.instructions} instructions), under vmm ${g.s.toFixed(1)} s (${g.instructions} guest instructions), ratio ${(g.s / b.s).toFixed(2)}`)
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log(`linux boot to init + poweroff: bare ${median(rows.map((r) => r.bare)).toFixed(1)} s, under @honk/vmm ${median(rows.map((r) => r.guest)).toFixed(1)} s, ratio ${median(rows.map((r) => r.guest / r.bare)).toFixed(2)} (median of ${ROUNDS})`)
process.exit(0)
