/**
 * honk-virt as a process, console on a pipe (issue 12, case 9): a key piped at start is not lost
 * to the firmware's UART resets — U-Boot's autoboot stops, as it does for a key typed at its
 * countdown — and when stdin ends the guest keeps running (as under QEMU), then still takes what
 * was piped.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const UBOOT_M = '/usr/lib/u-boot/qemu-riscv64/u-boot.bin'
const UBOOT_S = '/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin'
const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin'
const present = existsSync(UBOOT_M) && existsSync(UBOOT_S) && existsSync(OPENSBI)

/** Runs honk-virt with `input` piped (then closed); resolves when `until` shows in stdout or it exits. */
function virt(args: string[], input: string, until: RegExp | undefined, ms = 150_000) {
  const child = spawn(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/honk-virt.ts', ...args], { cwd: join(import.meta.dirname, '..') })
  child.stdin.end(input)
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')))
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  return new Promise<{ out: string; err: string; code: number | null }>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    const check = () => {
      if (until && until.test(out)) {
        clearTimeout(timer)
        child.kill('SIGKILL')
      }
    }
    child.stdout.on('data', check)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ out, err, code })
    })
  })
}

describe.skipIf(!present)('honk-virt console input from a pipe', () => {
  for (const [name, args] of [
    ['U-Boot in M-mode (--bios u-boot.bin alone)', ['--bios', UBOOT_M]],
    ['U-Boot in S-mode under OpenSBI fw_jump', ['--bios', OPENSBI, '--kernel', UBOOT_S]],
    ['U-Boot in S-mode under the TypeScript SBI', ['--kernel', UBOOT_S]],
  ] as const) {
    it(`printf '\\n' | honk-virt: the key piped at start stops autoboot (${name})`, async () => {
      const r = await virt([...args], '\n', /Hit any key to stop autoboot[^\n]*\n?=> |scanning bus/)
      expect(r.out).toContain('Hit any key to stop autoboot')
      expect(r.out).toMatch(/Hit any key to stop autoboot[^\n]*\r?\n?=> /)
      expect(r.out).not.toContain('scanning bus')
    }, 200_000)
  }

  it('after stdin ends the guest keeps running and takes the rest of what was piped (poweroff: exit 0)', async () => {
    const r = await virt(['--bios', UBOOT_M], '\nversion\npoweroff\n', undefined)
    expect(r.out).toMatch(/=> version\r?\nU-Boot 2023\.01/)
    expect(r.out).toContain('poweroff')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
  }, 200_000)
})
