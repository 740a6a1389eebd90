/**
 * Issue #19's benchmark: the guest Linux's 4 KiB O_DIRECT sequential and random writes and reads
 * (init.c `honk.checks=diskbench`, 2048 requests of each kind, the guest's monotonic clock) on an
 * NVMe disk and a virtio-blk-pci disk, on honk-virt (`--clock realtime`, so guest time is host
 * time) and on qemu-system-riscv64 with the same devices, in the same run. Then the guest
 * instructions each request costs on honk (an in-process machine, disks in memory): what the
 * controller's protocol costs the guest's driver, independent of the host's speed.
 *
 *   node --conditions=@honk/source --import tsx bench/pci-disk.ts
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockDevice } from '@honk/block'
import { NvmeController, VirtioBlk, VirtioPci } from '@honk/virtio'
import { VirtMachine } from '../src/board.js'
import { boot } from '../src/boot.js'
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

/** Guest instructions retired per request, from the machine's counter at each diskbench line. */
async function instructionsPerRequest(): Promise<Map<string, number>> {
  let line = ''
  let last = 0
  const out = new Map<string, number>()
  const disk = () => new MemoryBlockDevice(32768, 512, patternDisk(16 << 20))
  const m: VirtMachine = new VirtMachine({
    harts: 1,
    memory: 256 << 20,
    bios: 'builtin',
    rng: false,
    bootargs: 'console=ttyS0 honk.checks=diskbench',
    pci: [({ memory }) => new NvmeController(disk(), { memory, serial: 'bench' }), ({ memory }) => new VirtioPci(new VirtioBlk(disk()), { memory })],
    consoleOut: (b) => {
      if (b !== 10) return void (line += String.fromCharCode(b))
      const k = /diskbench: (\S+ \S+) 4K/.exec(line)?.[1]
      if (k) out.set(k, Math.round((m.executed - last) / 2048))
      if (k || line.includes('hello from init')) last = m.executed
      line = ''
    },
  })
  boot(m, { kernel: new Uint8Array(readFileSync(LINUX_IMAGE)), initrd: new Uint8Array(readFileSync(INITRAMFS)) })
  await m.run()
  return out
}

const ipr = await instructionsPerRequest()
console.log('\nguest instructions per 4 KiB request on honk (whole syscall + driver + interrupt path)')
console.log('kind              nvme0n1   vda (virtio-blk-pci)   nvme/virtio')
for (const kind of ['seq-write', 'seq-read', 'rand-write', 'rand-read']) {
  const n = ipr.get(`nvme0n1 ${kind}`)!
  const v = ipr.get(`vda ${kind}`)!
  console.log(`${kind.padEnd(16)} ${String(n).padStart(8)} ${String(v).padStart(22)} ${(n / v).toFixed(2).padStart(13)}`)
}
