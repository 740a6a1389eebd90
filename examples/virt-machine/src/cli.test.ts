import { describe, expect, it } from 'vitest'
import { UsageError, exitCode, main, parseCli, parseSize } from './cli.js'

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
    expect(parseCli(['--kernel', 'k', '--seed', '42'])).toMatchObject({ config: { seed: 42, clock: 'virtual' } })
    // A screen in a page: the host's clock (a key held while the guest idles must not reach its
    // autorepeat at once), unless asked otherwise or a seed asks for the virtual one.
    expect(parseCli(['--kernel', 'k', '--display', 'web'])).toMatchObject({ config: { clock: 'realtime' } })
    expect(parseCli(['--kernel', 'k', '-display', 'web,port=0', '--clock', 'virtual'])).toMatchObject({ config: { clock: 'virtual' } })
    expect(parseCli(['--kernel', 'k', '--display', 'web', '--seed', '7'])).toMatchObject({ config: { clock: 'virtual', seed: 7 } })
    expect(parseCli(['--kernel', 'k', '--display', 'none'])).toMatchObject({ config: { clock: 'virtual' } })
    expect(parseCli(['--help'])).toBe('help')
  })

  it('rejects what it cannot run with a usage error', () => {
    for (const argv of [[], ['--kernel', 'k', '--smp', '9'], ['--kernel', 'k', '--smp', 'two'], ['--kernel', 'k', '--mem', 'lots'], ['--kernel', 'k', '--frobnicate'], ['--kernel', 'k', '--clock', 'sundial'], ['--kernel', 'k', '--mmu', 'sv39x4'], ['--kernel', 'k', '--seed', 'x'], ['--kernel', 'k', '--seed', '-1'], ['--kernel', 'k', '--seed', '1', '--clock', 'realtime']]) {
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

describe('honk-virt console input (issue 12, case 9)', () => {
  /** A bare-metal guest (M-mode, --bios none) that, like firmware, waits, resets the UART's FIFOs, then polls and echoes until a newline, and powers off. */
  const GUEST = `
    li t0, 0x10000000
    li t1, 300000
  1: addi t1, t1, -1
    bnez t1, 1b
    li t1, 7
    sb t1, 2(t0)
  2: lbu t1, 5(t0)
    andi t1, t1, 1
    beqz t1, 2b
    lbu t2, 0(t0)
    sb t2, 0(t0)
    li t3, 10
    bne t2, t3, 2b
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
  3: j 3b`

  it('input piped (and ended) before the guest is ready survives its FIFO reset; the guest runs on after EOF and powers off: exit 0', async () => {
    const { assemble } = await import('@honk/rv64')
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { PassThrough } = await import('node:stream')
    const dir = await mkdtemp(join(tmpdir(), 'honk-virt-in-'))
    try {
      await writeFile(join(dir, 'guest.bin'), assemble(GUEST, { base: 0x8000_0000 }).bytes)
      const stdin = new PassThrough()
      stdin.end('hello, guest\n')
      let out = ''
      let err = ''
      const code = await main(['--bios', 'none', '--kernel', join(dir, 'guest.bin'), '--mem', '16M'], {
        stdin: stdin as unknown as NodeJS.ReadStream,
        stdout: { write: (c: Uint8Array | string) => ((out += typeof c === 'string' ? c : new TextDecoder().decode(c)), true) } as unknown as NodeJS.WritableStream,
        stderr: { write: (c: string) => ((err += c), true) } as unknown as NodeJS.WritableStream,
      })
      expect(err).toBe('')
      expect(out).toBe('hello, guest\n')
      expect(code).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 20_000)
})
