import { describe, expect, it } from 'vitest'
import { UsageError, exitCode, parseCli, parseSize } from './cli.js'

describe('honk-virt command line', () => {
  it('parses QEMU-style flags', () => {
    const o = parseCli(['--bios', '/fw.bin', '--kernel', 'Image', '--initrd', 'rd', '--append', 'console=ttyS0', '--smp', '4', '--mem', '1G', '--drive', 'a.img', '--drive', 'b.img', '--share', 'dir', '--nographic'])
    expect(o).toEqual({
      config: { harts: 4, memory: 1 << 30, bios: 'firmware', clock: 'virtual', mmu: 'sv48', bootargs: 'console=ttyS0' },
      firmware: '/fw.bin',
      kernel: 'Image',
      initrd: 'rd',
      drives: ['a.img', 'b.img'],
      share: 'dir',
    })
    expect(parseCli(['--kernel', 'k'])).toMatchObject({ config: { harts: 1, memory: 256 << 20, bios: 'builtin' }, drives: [] })
    expect(parseCli(['--kernel', 'k', '--mmu', 'sv57'])).toMatchObject({ config: { mmu: 'sv57' } })
    expect(parseCli(['--help'])).toBe('help')
  })

  it('rejects what it cannot run with a usage error', () => {
    for (const argv of [[], ['--kernel', 'k', '--smp', '9'], ['--kernel', 'k', '--smp', 'two'], ['--kernel', 'k', '--mem', 'lots'], ['--kernel', 'k', '--frobnicate'], ['--kernel', 'k', '--clock', 'sundial'], ['--kernel', 'k', '--mmu', 'sv39x4']]) {
      expect(() => parseCli(argv), argv.join(' ')).toThrow(UsageError)
    }
  })

  it('sizes and exit codes', () => {
    expect(parseSize('512M')).toBe(512 << 20)
    expect(parseSize('2G')).toBe(2 ** 31)
    expect(parseSize('64')).toBe(64 << 20)
    expect(parseSize('4096K')).toBe(4 << 20)
    expect(exitCode({ reason: 'poweroff', code: 0 })).toBe(0)
    expect(exitCode({ reason: 'poweroff', code: 7 })).toBe(7)
    expect(exitCode({ reason: 'error', message: 'x' })).toBe(3)
  })
})
