/**
 * The nested-translation benchmark image (issue #17's benchmark; packages/rv64/bench/nested.ts)
 * through the command line a user would type: the CPU benchmark in VS-mode behind the M-mode stub
 * (G-stage Sv39x4 and VS-stage Sv39, 4 KiB pages at both stages), booted by `honk-virt -M virt
 * -cpu rv64,h=true -bios none -kernel` and by the same line under qemu-system-riscv64: both print
 * the same checksum and power off through the test finisher with status 0.
 */
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildImage, parseReport, toolsPresent } from '../../../packages/rv64/bench/images.ts'

const line = (elf: string) => ['-M', 'virt', '-cpu', 'rv64,h=true', '-smp', '1', '-m', '64M', '-bios', 'none', '-nographic', '-kernel', elf]

function honkVirt(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/honk-virt.ts', ...args], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')))
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, out }))
  })
}

describe.skipIf(!toolsPresent())('the nested benchmark image on honk-virt and on QEMU (system)', () => {
  it('honk-virt -cpu rv64,h=true -bios none -kernel <VS-mode image> prints the checksum QEMU prints, and exits 0', async () => {
    const elf = buildImage('vs-g4k-vs4k', 20)
    const qemu = spawnSync('qemu-system-riscv64', line(elf), { encoding: 'latin1', timeout: 120_000 })
    expect(qemu.status).toBe(0)
    const ours = await honkVirt(line(elf))
    expect(ours.code).toBe(0)
    expect(parseReport(ours.out.replace(/\r/g, ''), 'honk-virt').checksum).toBe(parseReport(qemu.stdout.replace(/\r/g, ''), 'QEMU').checksum)
  })
})
