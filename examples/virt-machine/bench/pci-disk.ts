/**
 * Issue #19's benchmark: the guest Linux's 4 KiB O_DIRECT sequential and random writes and reads
 * (init.c `honk.checks=diskbench`, 2048 requests of each kind, the guest's monotonic clock) on an
 * NVMe disk and a virtio-blk-pci disk, on honk-virt (`--clock realtime`, so guest time is host
 * time) and on qemu-system-riscv64 with the same devices, in the same run.
 *
 *   node --conditions=@honk/source --import tsx bench/pci-disk.ts
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { INITRAMFS, LINUX_IMAGE, guestBuilt, patternDisk } from '../src/guest.js'

if (!guestBuilt()) throw new Error('build the guest first: bash scripts/guest/build-linux.sh && bash scripts/guest/build-initramfs.sh')
const dir = mkdtempSync(join(tmpdir(), 'honk-pci-bench-'))

function args(name: string): string[] {
  for (const f of ['nvme', 'blk']) writeFileSync(join(dir, `${name}-${f}.img`), patternDisk(16 << 20))
  return [
    ...['-M', 'virt', '-m', '256M', '-smp', '1', '-nographic', '-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', 'console=ttyS0 honk.checks=diskbench'],
    ...['-drive', `file=${join(dir, `${name}-nvme.img`)},if=none,id=d0,format=raw`, '-device', 'nvme,drive=d0,serial=bench'],
    ...['-drive', `file=${join(dir, `${name}-blk.img`)},if=none,id=d1,format=raw`, '-device', 'virtio-blk-pci,drive=d1,disable-legacy=on'],
  ]
}

function run(program: string, argv: string[]): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, argv, { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')))
    child.on('exit', () => {
      const m = new Map([...out.matchAll(/diskbench: (\S+ \S+) 4K: (\d+) IOPS/g)].map((x) => [x[1]!, Number(x[2])]))
      if (m.size !== 8) reject(new Error(`${program}: ${out.slice(-1500)}`))
      else resolve(m)
    })
  })
}

const honk = await run(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/honk-virt.ts', '--clock', 'realtime', ...args('honk')])
const qemu = await run('qemu-system-riscv64', ['-bios', 'default', ...args('qemu')])
rmSync(dir, { recursive: true, force: true })
console.log('4 KiB O_DIRECT, Linux 6.1 guest, IOPS (guest clock)')
console.log('kind                 honk-virt     QEMU   honk/QEMU   honk nvme/virtio')
for (const [k, v] of honk) {
  const peer = k.replace('nvme0n1', 'vda')
  const vs = k.startsWith('nvme0n1') ? (v / honk.get(peer)!).toFixed(2) : ''
  console.log(`${k.padEnd(20)} ${String(v).padStart(9)} ${String(qemu.get(k)).padStart(8)} ${(v / qemu.get(k)!).toFixed(3).padStart(11)} ${vs.padStart(18)}`)
}
