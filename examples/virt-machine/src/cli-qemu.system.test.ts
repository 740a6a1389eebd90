/**
 * A QEMU command line pasted into honk-virt boots Linux (issue 13, "Ready to publish"): the line
 * below is what one runs under `qemu-system-riscv64`, with the program name changed. The guest
 * mounts the 9P share by QEMU's usual tag "host" — as its root filesystem (`root=host
 * rootfstype=9p`, with `rdinit=` pointing nowhere so the initramfs's /init is not run) — and runs
 * the repository's init from the share, which proves the tag reached the guest: with any other
 * tag the kernel cannot mount its root. (The init itself mounts only the tag "honk", which is why
 * the root is used for the proof.)
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { INITRAMFS, LINUX_IMAGE, OPENSBI_FW_JUMP, guestBuilt, patternDisk } from './guest.js'

const run = guestBuilt() || process.env['CI'] === 'true'

/** One file of a newc cpio archive (the format gen_init_cpio writes: 110-byte ASCII headers, 4-byte alignment). */
function cpioFile(archive: Uint8Array, want: string): Uint8Array {
  const text = new TextDecoder('latin1')
  let at = 0
  while (at + 110 <= archive.length) {
    const header = text.decode(archive.subarray(at, at + 110))
    if (!header.startsWith('070701')) throw new Error(`not a newc cpio header at ${at}`)
    const field = (i: number) => parseInt(header.slice(6 + 8 * i, 14 + 8 * i), 16)
    const size = field(6)
    const nameSize = field(11)
    const name = text.decode(archive.subarray(at + 110, at + 110 + nameSize - 1))
    const data = (at + 110 + nameSize + 3) & ~3
    if (name === want) return archive.slice(data, data + size)
    if (name === 'TRAILER!!!') break
    at = (data + size + 3) & ~3
  }
  throw new Error(`${want} is not in the archive`)
}

describe.skipIf(!run)('a pasted QEMU command line boots Linux on honk-virt', () => {
  it('qemu-system-riscv64 … -virtfs local,…,mount_tag=host … → honk-virt: Linux mounts the share by tag "host" as its root, runs init from it, powers off (exit 0)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-virt-qemu-'))
    try {
      const share = join(dir, 'share')
      for (const d of ['dev', 'proc', 'sys', 'mnt']) await mkdir(join(share, d), { recursive: true })
      await writeFile(join(share, 'init'), cpioFile(new Uint8Array(readFileSync(INITRAMFS)), 'init'), { mode: 0o755 })
      await writeFile(join(dir, 'disk.img'), patternDisk())
      const bios = existsSync(OPENSBI_FW_JUMP) ? OPENSBI_FW_JUMP : 'default'
      const append = 'console=ttyS0 earlycon=sbi rdinit=/none root=host rootfstype=9p rootflags=trans=virtio,version=9p2000.L rw init=/init honk.checks=none'
      // As pasted from a QEMU how-to (only the program name differs).
      const qemu = ['-M', 'virt', '-m', '256M', '-smp', '2', '-nographic', '-bios', bios, '-kernel', LINUX_IMAGE, '-initrd', INITRAMFS, '-append', append,
        '-drive', `file=${join(dir, 'disk.img')},format=raw,if=virtio,readonly=on`, '-virtfs', `local,path=${share},mount_tag=host,security_model=none`, '-device', 'virtio-rng-device', '-no-reboot']
      const child = spawn(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/honk-virt.ts', ...qemu], { cwd: join(import.meta.dirname, '..'), stdio: ['pipe', 'pipe', 'pipe'] })
      child.stdin.end()
      let out = ''
      let err = ''
      child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')))
      child.stderr.on('data', (c: Buffer) => (err += c.toString()))
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 600_000)
        child.on('exit', (c) => {
          clearTimeout(timer)
          resolve(c)
        })
      })
      expect(err).toBe('')
      expect(out).toContain('Linux version 6.1')
      expect(out).toMatch(/VFS: Mounted root \(9p filesystem\)/)
      expect(out).toContain('Run /init as init process')
      expect(out).toContain('honk-init: hello from init')
      // init's /proc and /sys mounts land on directories of the share (its /dev already has the
      // kernel's devtmpfs, CONFIG_DEVTMPFS_MOUNT, so init's own mount there is not asserted).
      expect(out).not.toContain('honk-init: mount: FAIL /proc')
      expect(out).not.toContain('honk-init: mount: FAIL /sys')
      // "9p" in the command line (rootfstype=9p) makes init also try its own check, which mounts
      // the tag "honk": the guest has no such device — its only 9P device is tagged "host".
      expect(out).toMatch(/9pnet_virtio: no channels available for device honk/)
      expect(out).toContain('honk-init: 9p: FAIL mount failed')
      expect(out).toContain('reboot: Power down')
      expect(code).toBe(0)
      // The guest's init ran on the share: the host directory is its root.
      expect((await readdir(share)).sort()).toEqual(['dev', 'init', 'mnt', 'proc', 'sys'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 700_000)
})
