/**
 * The guest Linux and its initramfs, built by `scripts/guest/` into a cache outside the repo
 * ($HONK_CACHE, default ~/.cache/honk). Tests and benchmarks find them here.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockDevice } from '@honk/block'
import { loopbackPair, type FramePort } from '@honk/virtio'
import { VirtMachine } from './board.js'
import { boot } from './boot.js'
import { ConsoleSession } from './session.js'

export const GUEST_CACHE = process.env['HONK_CACHE'] ?? join(homedir(), '.cache', 'honk')
export const LINUX_IMAGE = join(GUEST_CACHE, 'linux-6.1', 'arch', 'riscv', 'boot', 'Image')
export const INITRAMFS = join(GUEST_CACHE, 'initramfs.cpio')
export const OPENSBI_FW_JUMP = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin'

/** Whether the guest has been built (`bash scripts/guest/build-linux.sh && bash scripts/guest/build-initramfs.sh`). */
export function guestBuilt(): boolean {
  return existsSync(LINUX_IMAGE) && existsSync(INITRAMFS)
}

/** A disk whose sector 1 holds the pattern the guest's init checks: "HONK-SECTOR-1" then bytes i & 0xff. */
export function patternDisk(bytes = 8 << 20): Uint8Array {
  const d = new Uint8Array(bytes)
  d.set(new TextEncoder().encode('HONK-SECTOR-1'), 512)
  for (let i = 512 + 13; i < 1024; i++) d[i] = i & 0xff
  return d
}

/** Boots the guest Linux on a fresh machine with the pattern disk, a net port (a dead end unless `net` is given) and the console captured. */
export function bootLinux(options: { bios: 'builtin' | 'firmware'; harts: number; bootargs?: string; share?: VirtMachine['config']['share']; mmu?: 'sv48' | 'sv57'; seed?: number; net?: FramePort; tier?: VirtMachine['config']['tier'] }) {
  const session = new ConsoleSession()
  const machine = new VirtMachine({
    harts: options.harts,
    memory: 256 << 20,
    bios: options.bios,
    consoleOut: session.out,
    bootargs: options.bootargs ?? 'console=ttyS0 earlycon=sbi',
    drives: [new MemoryBlockDevice(16384, 512, patternDisk())],
    net: options.net ?? loopbackPair()[0],
    ...(options.share ? { share: options.share } : {}),
    ...(options.mmu ? { mmu: options.mmu } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.tier !== undefined ? { tier: options.tier } : {}),
  })
  boot(machine, {
    kernel: new Uint8Array(readFileSync(LINUX_IMAGE)),
    initrd: new Uint8Array(readFileSync(INITRAMFS)),
    ...(options.bios === 'firmware' ? { firmware: new Uint8Array(readFileSync(OPENSBI_FW_JUMP)) } : {}),
  })
  session.start(machine)
  return { session, machine }
}

