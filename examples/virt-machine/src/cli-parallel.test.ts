/** honk-virt --parallel (issue #18): harts in Workers, on the host's clock, under any bios (M-mode firmware, none, or the TypeScript SBI). */
import { describe, expect, it } from 'vitest'
import { UsageError, parseCli } from './cli.js'

describe('honk-virt --parallel', () => {
  it('asks for a board with shared RAM on the realtime clock', () => {
    expect(parseCli(['--parallel', '--bios', '/fw.bin', '--kernel', 'k', '--smp', '2'])).toMatchObject({ config: { harts: 2, bios: 'firmware', clock: 'realtime', sharedMemory: true } })
    expect(parseCli(['-parallel', '--bios', 'none', '--kernel', 'k', '--clock', 'realtime'])).toMatchObject({ config: { bios: 'none', clock: 'realtime', sharedMemory: true } })
    const plain = parseCli(['--bios', '/fw.bin', '--kernel', 'k'])
    expect(typeof plain === 'object' && plain.config.sharedMemory).toBe(undefined) // the single-thread machine stays the default
  })

  it('takes the TypeScript SBI, the default bios (each hart\'s worker runs its own Firmware)', () => {
    expect(parseCli(['--parallel', '--kernel', 'k', '--smp', '4'])).toMatchObject({ config: { harts: 4, bios: 'builtin', clock: 'realtime', sharedMemory: true } })
    expect(parseCli(['--parallel', '--bios', 'default', '--kernel', 'k'])).toMatchObject({ config: { bios: 'builtin', sharedMemory: true } })
  })

  it('refuses what parallel harts cannot do: the virtual clock, a seed', () => {
    for (const argv of [['--parallel', '--bios', '/fw.bin', '--kernel', 'k', '--clock', 'virtual'], ['--parallel', '--bios', '/fw.bin', '--kernel', 'k', '--seed', '1'], ['--parallel', '--kernel', 'k', '--seed', '1']]) {
      expect(() => parseCli(argv), argv.join(' ')).toThrow(UsageError)
    }
  })
})
