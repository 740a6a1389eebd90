/**
 * Issue #12 case 12: Linux with several harts under OpenSBI fw_jump hung in about half of its
 * boots, and the same command booted differently each time. This boots the guest kernel (built
 * with CONFIG_HIGH_RES_TIMERS and CONFIG_NO_HZ_IDLE, as distributions build it) with 2, 4 and 8
 * harts many times, each run seeded (`MachineConfig.seed`: reproducible) with a seed of its own
 * so the runs take different paths; every one must reach the end of init — whose timers check
 * has every hart idle at once with hrtimers armed — and power off. A failure names its seed:
 * `bootLinux({ bios: 'firmware', harts, seed })` replays it instruction for instruction.
 *
 * HONK_SMP_BOOTS=n sets the boots per hart count (default 12, 10, 8: ~3 minutes on an idle 2-core box).
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GUEST_CACHE, bootLinux, guestBuilt } from './guest.js'

// In CI the guest is built by .ci/run before the system tests: missing there is a failure.
const run = guestBuilt() || process.env['CI'] === 'true'
const override = process.env['HONK_SMP_BOOTS'] !== undefined ? Number(process.env['HONK_SMP_BOOTS']) : undefined
// Measured on an idle 2-core box: one boot takes ~4.7 s (2 harts), ~5.5 s (4), ~7.6 s (8):
// ~3.2 minutes for the plan and the determinism check together.
const PLAN: [harts: number, boots: number][] = [
  [2, override ?? 12],
  [4, override ?? 10],
  [8, override ?? 8],
]

/** Boots once; resolves with the console text and the instructions retired, or throws naming the seed. */
async function bootOnce(harts: number, seed: number): Promise<{ text: string; executed: number }> {
  const { session, machine } = bootLinux({ bios: 'firmware', harts, seed })
  try {
    const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 240_000)
    expect(report).toContain(`honk-init: harts: ${harts}`)
    expect(report).toContain('honk-init: timers: 8 sleeps ok on every hart')
    expect(report).toContain('honk-init: all checks passed')
    expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })
    expect(session.text).toContain(`smp: Brought up 1 node, ${harts} CPUs`)
    // What the hang looked like: RCU's watchdog noticing a timer that never fired.
    expect(session.text).not.toMatch(/rcu: .*(stall|didn't happen)/)
    return { text: session.text, executed: machine.executed }
  } catch (e) {
    machine.stop()
    throw new Error(`OpenSBI, ${harts} harts, seed ${seed}: ${(e as Error).message}`)
  }
}

describe.skipIf(!run)('Linux on 2, 4 and 8 harts under OpenSBI, booted many times (issue #12 case 12)', () => {
  it('the guest kernel has hrtimers and tickless idle (the configuration the hang needed)', () => {
    const config = join(GUEST_CACHE, 'linux-6.1', '.config')
    expect(existsSync(config), config).toBe(true)
    const text = readFileSync(config, 'utf8')
    expect(text).toMatch(/^CONFIG_HIGH_RES_TIMERS=y$/m)
    expect(text).toMatch(/^CONFIG_NO_HZ_IDLE=y$/m)
  })

  for (const [harts, boots] of PLAN) {
    it(`${boots} boots with ${harts} harts, each to the end of init`, async () => {
      for (let i = 0; i < boots; i++) await bootOnce(harts, harts * 1000 + i)
    }, boots * 300_000)
  }

  it('the same seed boots the same way: the same console bytes after the same instructions', async () => {
    const a = await bootOnce(4, 42)
    const b = await bootOnce(4, 42)
    expect(b.executed).toBe(a.executed)
    expect(b.text).toBe(a.text)
    // A different seed is a different run (the entropy differs, so the path does).
    const c = await bootOnce(4, 43)
    expect(c.text).not.toBe(a.text)
  }, 900_000)
})
