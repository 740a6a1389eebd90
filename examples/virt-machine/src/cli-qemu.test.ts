/**
 * honk-virt takes QEMU's command lines as a user pastes them (issue 13, "Ready to publish"):
 * each line below gives the machine configuration shown; each option the machine cannot honour is
 * refused with one line and exit code 2 — never ignored.
 */
import { virtioSlotBase } from '@honk/riscv'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_SHARE_TAG, type CliOptions, UsageError, createFromCli, main, parseCli, parseKeyval } from './cli.js'

/** A command line as typed in a shell (double quotes group; no other shell syntax). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!)
}

const QEMU = 'qemu-system-riscv64'
const PASTED = `${QEMU} -M virt -m 512M -smp 4 -nographic -bios fw_jump.bin -kernel Image -initrd initrd.cpio -append "console=ttyS0" -drive file=disk.img,format=raw,if=virtio -virtfs local,path=share,mount_tag=host,security_model=none -device virtio-rng-device`

/** Each command line (after the program name) → the options it gives. */
type Want = Omit<Partial<CliOptions>, 'config'> & { config?: Partial<CliOptions['config']> }
const ACCEPTED: Array<[string, Want]> = [
  [PASTED, { config: { harts: 4, memory: 512 << 20, bios: 'firmware', bootargs: 'console=ttyS0' }, firmware: 'fw_jump.bin', kernel: 'Image', initrd: 'initrd.cpio', drives: ['disk.img'], share: 'share', shareTag: 'host' }],
  ['-kernel k -m 1G', { config: { memory: 1 << 30 } }],
  ['-kernel k -m 512', { config: { memory: 512 << 20 } }],
  ['-kernel k -m size=64M', { config: { memory: 64 << 20 } }],
  ['--kernel=k --m=32M', { config: { memory: 32 << 20 } }],
  ['-kernel k -smp 4', { config: { harts: 4 } }],
  ['-kernel k -smp cpus=3', { config: { harts: 3 } }],
  ['-kernel k --smp cpus=2', { config: { harts: 2 } }],
  ['-machine virt -kernel k', { config: { harts: 1 } }],
  ['-machine type=virt -cpu rv64 -display none -serial mon:stdio -accel tcg -kernel k', { config: { bios: 'builtin' } }],
  ['-serial stdio -kernel k', { config: { bios: 'builtin' } }],
  ['-bios none -kernel k', { config: { bios: 'none' } }],
  ['-bios default -kernel k', { config: { bios: 'builtin' } }],
  ['-bios u-boot.bin', { config: { bios: 'firmware' }, firmware: 'u-boot.bin', drives: [] }],
  ['-kernel k -drive file=a.img,format=raw,id=d0,if=none -device virtio-blk-device,drive=d0', { drives: ['a.img'] }],
  ['-kernel k -device virtio-blk-device,drive=d0 -drive file=a.img,format=raw,id=d0,if=none', { drives: ['a.img'] }],
  ['-kernel k -drive file=a.img,format=raw,readonly=on', { drives: ['a.img'], readOnlyDrives: [0] }],
  ['-kernel k -drive file=a.img -drive file=b.img,if=virtio,readonly=off --drive c.img', { drives: ['a.img', 'b.img', 'c.img'] }],
  ['-kernel k -drive file=a,,b.img,format=raw', { drives: ['a,b.img'] }],
  ['-kernel k -fsdev local,id=f0,path=share,security_model=none -device virtio-9p-device,fsdev=f0,mount_tag=host', { share: 'share', shareTag: 'host' }],
  ['-kernel k -fsdev local,id=f0,path=share,readonly=on -device virtio-9p-device,fsdev=f0,mount_tag=hostshare', { share: 'share', shareTag: 'hostshare', shareReadOnly: true }],
  ['-kernel k -virtfs local,path=share,mount_tag=host,security_model=none,id=s0,readonly=on', { share: 'share', shareTag: 'host', shareReadOnly: true }],
  ['--kernel k --share share --share-tag host', { share: 'share', shareTag: 'host' }],
  ['--kernel k --share share', { share: 'share' }],
  ['-kernel k -no-reboot', { noReboot: true }],
  // Networks (issue #14): QEMU's user networking and its raw-Ethernet socket netdevs.
  ['-kernel k -netdev user,id=n0 -device virtio-net-device,netdev=n0', { nic: { netdev: { id: 'n0', type: 'user', hostForwards: [], restrict: false } } }],
  ['-kernel k -netdev user,id=n0,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80 -device virtio-net-device,netdev=n0,mac=52:54:00:aa:bb:cc', { nic: { netdev: { id: 'n0', type: 'user', hostForwards: ['tcp::2222-:22', 'tcp:127.0.0.1:8080-10.0.2.15:80'], restrict: false }, mac: '52:54:00:aa:bb:cc' } }],
  ['-kernel k -device virtio-net-device,netdev=n0 -netdev user,id=n0,restrict=on', { nic: { netdev: { id: 'n0', type: 'user', hostForwards: [], restrict: true } } }],
  ['-kernel k -netdev stream,id=s0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=5555 -device virtio-net-device,netdev=s0', { nic: { netdev: { id: 's0', type: 'stream', server: false, address: { host: '127.0.0.1', port: 5555 } } } }],
  ['-kernel k -netdev stream,id=s0,server=on,addr.type=unix,addr.path=/tmp/w.sock -device virtio-net-device,netdev=s0', { nic: { netdev: { id: 's0', type: 'stream', server: true, address: { path: '/tmp/w.sock' } } } }],
  ['-kernel k -netdev socket,id=s0,listen=:5555 -device virtio-net-device,netdev=s0', { nic: { netdev: { id: 's0', type: 'stream', server: true, address: { host: '0.0.0.0', port: 5555 } } } }],
  ['-kernel k -netdev socket,id=s0,connect=127.0.0.1:5555 -device virtio-net-device,netdev=s0', { nic: { netdev: { id: 's0', type: 'stream', server: false, address: { host: '127.0.0.1', port: 5555 } } } }],
  ['-kernel k -netdev dgram,id=d0,local.type=inet,local.host=127.0.0.1,local.port=6001,remote.type=inet,remote.host=127.0.0.1,remote.port=6002 -device virtio-net-device,netdev=d0', { nic: { netdev: { id: 'd0', type: 'dgram', local: { host: '127.0.0.1', port: 6001 }, remote: { host: '127.0.0.1', port: 6002 } } } }],
  ['-kernel k -netdev socket,id=d0,udp=127.0.0.1:6002,localaddr=127.0.0.1:6001 -device virtio-net-device,netdev=d0', { nic: { netdev: { id: 'd0', type: 'dgram', local: { host: '127.0.0.1', port: 6001 }, remote: { host: '127.0.0.1', port: 6002 } } } }],
  ['-kernel k --net user', { nic: { netdev: { id: 'net0', type: 'user', hostForwards: [], restrict: false } } }],
  ['-kernel k -nic user,model=virtio-net-device,mac=52:54:00:00:00:02,hostfwd=tcp::8080-:80', { nic: { netdev: { id: 'nic0', type: 'user', hostForwards: ['tcp::8080-:80'], restrict: false }, mac: '52:54:00:00:00:02' } }],
  // The display (issue #16, bare mode): QEMU's virtio-gpu and virtio-input devices on virtio-mmio.
  ['-kernel k -device virtio-gpu-device -device virtio-keyboard-device -device virtio-tablet-device', { display: { gpu: { width: 1280, height: 800 }, keyboard: true, tablet: true } }],
  ['-kernel k -device virtio-gpu-device,xres=640,yres=480 -device virtio-keyboard-device -display none', { display: { gpu: { width: 640, height: 480 }, keyboard: true } }],
  ['-kernel k -device virtio-gpu-device,yres=600', { display: { gpu: { width: 1280, height: 600 } } }],
  ['-kernel k -device virtio-keyboard-device', { display: { keyboard: true } }],
  ['-kernel k --display web', { display: { gpu: { width: 1280, height: 800 }, keyboard: true, tablet: true, web: { port: 0 } } }],
  ['-kernel k -display web,port=8090 -device virtio-gpu-device,xres=800,yres=600 -device virtio-keyboard-device -device virtio-tablet-device', { display: { gpu: { width: 800, height: 600 }, keyboard: true, tablet: true, web: { port: 8090 } } }],
  ['-kernel k --display=type=web,port=0', { display: { web: { port: 0 } } }],
  ['-kernel k -device virtio-gpu-device --screenshot out.png', { display: { gpu: { width: 1280, height: 800 } }, screenshot: 'out.png' }],
  ['-kernel k --display web --screenshot=shot.png', { screenshot: 'shot.png' }],
]

/** Each command line → what its one-line refusal says. */
const REFUSED: Array<[string, RegExp]> = [
  ['-kernel k -netdev user,id=n0', /^-netdev user,id=n0: no -device virtio-net-device,netdev=n0 attaches it/],
  ['-kernel k -device virtio-net-device', /netdev= names no -netdev/],
  ['-kernel k -netdev user -device virtio-net-device,netdev=n0', /id=<name> is required/],
  ['-kernel k -netdev user,id=n0,hostfwd=8080:80 -device virtio-net-device,netdev=n0', /hostfwd=8080:80: .*hostport-/],
  ['-kernel k -netdev user,id=n0,net=192.168.76.0/24 -device virtio-net-device,netdev=n0', /net=192\.168\.76\.0\/24 is not supported \(only QEMU's default 10\.0\.2\.0\/24\)/],
  ['-kernel k -netdev tap,id=t0 -device virtio-net-device,netdev=t0', /-netdev tap is not supported/],
  ['-kernel k -netdev stream,id=s0,server=off -device virtio-net-device,netdev=s0', /addr\.port=<1-65535> is required/],
  ['-kernel k -netdev socket,id=s0,mcast=230.0.0.1:1234 -device virtio-net-device,netdev=s0', /one of listen=, connect= or udp=/],
  ['-kernel k -netdev user,id=a -netdev user,id=a -device virtio-net-device,netdev=a', /a netdev id=a already exists/],
  ['-kernel k -netdev user,id=a -netdev user,id=b -device virtio-net-device,netdev=a -device virtio-net-device,netdev=b', /one network card only/],
  ['-kernel k -netdev user,id=a -device virtio-net-device,netdev=a,mac=nope', /mac=nope is not a MAC address/],
  ['-kernel k -nic user,model=e1000', /model=e1000 is not supported/],
  ['-kernel k -net nic', /only -net user\[,hostfwd=…\] or -net none/],
  ['-kernel k -display sdl', /^-display sdl: not supported: only none and web/],
  ['-kernel k -display vnc=:1', /^-display vnc=:1: not supported: only none and web/],
  ['-kernel k -vnc :1', /^-vnc: not supported: no VNC server \(-display web/],
  ['-kernel k -vga std', /^-vga: not supported: no VGA/],
  ['-kernel k -display web,port=70000', /^-display web,port=70000: port=70000: a TCP port/],
  ['-kernel k -display web,gl=on', /^-display web,gl=on: gl=on is not supported/],
  ['-kernel k -display web -device virtio-keyboard-device', /^-display web: needs -device virtio-gpu-device/],
  ['-kernel k -display web -device virtio-gpu-device -device virtio-keyboard-device', /^-display web: needs -device virtio-keyboard-device and -device virtio-tablet-device too/],
  ['-kernel k --screenshot out.png', /^--screenshot out\.png: needs a display/],
  ['-kernel k -device virtio-gpu-device --screenshot=', /^--screenshot: an empty path/],
  ['-kernel k -device virtio-gpu-device,xres=0', /xres=0: a whole number of pixels, 1 to 16384/],
  ['-kernel k -device virtio-gpu-device,yres=20000', /yres=20000: a whole number of pixels, 1 to 16384/],
  ['-kernel k -device virtio-gpu-device,xres=wide', /xres=wide: a whole number of pixels/],
  ['-kernel k -device virtio-gpu-device,max_outputs=2', /max_outputs=2 is not supported \(only xres and yres\)/],
  ['-kernel k -device virtio-gpu-device -device virtio-gpu-device', /virtio-gpu-device: not supported: one virtio-gpu-device only/],
  ['-kernel k -device virtio-keyboard-device -device virtio-keyboard-device', /one virtio-keyboard-device only/],
  ['-kernel k -device virtio-tablet-device,serial=x', /serial=x is not supported \(the input devices take no properties\)/],
  ['-kernel k -device virtio-mouse-device', /virtio-mouse-device: not supported: no relative mouse/],
  ['-kernel k -device virtio-gpu-pci', /virtio-gpu-pci: not supported on the PCI bus/],
  ['-kernel k -device virtio-vga', /virtio-vga: not supported on the PCI bus/],
  ['-kernel k -display gtk', /^-display gtk: not supported/],
  ['-kernel k -serial tcp::4444,server', /^-serial tcp::4444,server: not supported/],
  ['-kernel k -serial pty', /^-serial pty: not supported/],
  ['-kernel k -serial none', /^-serial none: not supported/],
  ['-kernel k -M sifive_u', /^-M sifive_u: not supported: the only machine is virt/],
  ['-kernel k -machine virt,aia=aplic-imsic', /aia=aplic-imsic is not supported/],
  ['-kernel k -cpu rv64,v=true', /^-cpu rv64,v=true: not supported/],
  ['-kernel k -cpu sifive-u54', /^-cpu sifive-u54: not supported/],
  ['-kernel k -accel kvm', /^-accel kvm: not supported/],
  ['-kernel k -enable-kvm', /^-enable-kvm: not supported/],
  ['-kernel k -s -S', /^-s: not supported: no gdb stub/],
  ['-kernel k -monitor stdio', /^-monitor: not supported/],
  ['-kernel k -snapshot', /^-snapshot: not supported/],
  ['-kernel k -hda disk.img', /^-hda: not supported: use -drive file=/],
  ['-kernel k -drive file=a.qcow2,format=qcow2', /format=qcow2 is not supported/],
  ['-kernel k -drive file=a.img,format=raw,if=ide', /if=ide is not supported/],
  ['-kernel k -drive file=a.img,format=raw,cache=none', /cache=none is not supported/],
  ['-kernel k -drive file=a.img,media=cdrom', /media=cdrom is not supported/],
  ['-kernel k -drive file=a.img,readonly=maybe', /readonly=maybe: on or off/],
  ['-kernel k -drive file=a.img,id=d0,if=none -device virtio-blk-device,drive=d1', /drive=d1 names no -drive/],
  ['-kernel k -drive file=a.img,id=d0 -device virtio-blk-device,drive=d0', /drive d0 is already in use/],
  ['-kernel k -device virtio-blk-pci,drive=d0', /virtio-blk-pci,drive=d0: drive=d0 names no -drive/],
  ['-kernel k -drive file=a.img,if=none,id=d0 -device nvme,drive=d0', /nvme,drive=d0: serial=<1 to 20 printable characters> is required/],
  ['-kernel k -drive file=a.img,if=none,id=d0,readonly=on -device nvme,drive=d0,serial=x', /readonly=on, which the NVMe controller does not offer/],
  ['-kernel k -device virtio-rng-pci -device virtio-rng-pci', /one virtio-rng-pci only/],
  ['-kernel k -device virtio-rng-pci,disable-legacy=off', /disable-legacy=off is not supported \(modern virtio-pci only/],
  ['-kernel k -device virtio-rng-pci,disable-modern=on', /disable-modern=on is not supported/],
  ['-kernel k -device virtio-9p-pci,fsdev=f9,mount_tag=t', /fsdev=f9 names no -fsdev/],
  ['-kernel k -device virtio-gpu-gl-device', /virtio-gpu-gl-device: not supported \(virtio-blk-device/],
  ['-kernel k -device virtio-rng-device,rng=r0', /rng=r0 is not supported/],
  ['-kernel k -virtfs local,path=share,security_model=none', /mount_tag=<tag> is required/],
  ['-kernel k -virtfs local,path=share,mount_tag=host,security_model=mapped-xattr', /security_model=mapped-xattr is not supported/],
  ['-kernel k -virtfs proxy,sock_fd=3,mount_tag=host', /only the "local" fsdriver/],
  ['-kernel k -virtfs local,path=share,mount_tag=host,multidevs=remap', /multidevs=remap is not supported/],
  ['-kernel k -virtfs local,path=a,mount_tag=a -virtfs local,path=b,mount_tag=b', /one 9P share only/],
  ['-kernel k -fsdev local,path=share -device virtio-9p-device,fsdev=f0,mount_tag=host', /id=<name> is required/],
  ['-kernel k -fsdev local,id=f0,path=share -device virtio-9p-device,fsdev=f0', /mount_tag=<tag> is required/],
  ['-kernel k -fsdev local,id=f0,path=share -device virtio-9p-device,fsdev=f1,mount_tag=h', /fsdev=f1 names no -fsdev/],
  ['-kernel k -virtfs local,path=a,mount_tag=a --share b', /^--share: not supported: one 9P share only/],
  ['-kernel k --share s --share-tag ""', /mount_tag=<tag> is required/],
  ['-kernel k --share-tag host', /--share-tag host: needs --share/],
  ['-kernel k -drive file=a.img,format=raw,id=d0,if=none', /^-drive a\.img: if=none, and no -device virtio-blk-device,drive=d0 attaches it/],
  ['-kernel k -fsdev local,id=f0,path=share', /^-fsdev id=f0: no -device virtio-9p-device,fsdev=f0/],
  ['-kernel k -machine virt,aia=aplic-imsic', /^-machine virt,aia=aplic-imsic: aia=aplic-imsic is not supported/],
  ['-kernel k -m 1G,slots=2,maxmem=4G', /^-m 1G,slots=2,maxmem=4G: slots=2 is not supported/],
  ['-kernel k -m 8G', /^-m 8G: 16M to 4G/],
  ['-kernel k -smp 4,sockets=2', /sockets=2 is not supported/],
  ['-kernel k -smp cpus=16', /^-smp cpus=16: 1 to 8 harts/],
  ['-kernel k disk.img', /unexpected argument "disk.img"/],
  ['-kernel k -frobnicate', /^-frobnicate: not supported: not an option of honk-virt/],
  ['-kernel', /^-kernel needs a value/],
  ['-kernel k -nographic=on', /^-nographic takes no value/],
]

describe('honk-virt takes QEMU command lines as pasted', () => {
  for (const [line, want] of ACCEPTED) {
    it(line.startsWith(QEMU) ? 'the README\'s pasted qemu-system-riscv64 line' : line, () => {
      const argv = words(line)
      expect(parseCli(argv[0] === QEMU ? argv.slice(1) : argv)).toMatchObject(want)
    })
  }

  it('--share without a tag keeps the tag it always had', () => {
    const o = parseCli(['--kernel', 'k', '--share', 'dir']) as CliOptions
    expect(o.shareTag).toBeUndefined()
    expect(DEFAULT_SHARE_TAG).toBe('honk')
  })

  it('QEMU key=value lists: ",," is a comma, a bare first item is the implied key', () => {
    expect([...parseKeyval('-fsdev', 'local,path=a,,b,id=f', 'fsdriver')]).toEqual([['fsdriver', 'local'], ['path', 'a,b'], ['id', 'f']])
    expect(() => parseKeyval('-drive', 'a.img,format=raw')).toThrow(UsageError)
  })

  it('property: any key=value list written with QEMU\'s ",," escaping parses back to its pairs', () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,8}$/)
    const pairs = fc.uniqueArray(fc.tuple(key, fc.string({ maxLength: 12 })), { selector: ([k]) => k, minLength: 1, maxLength: 6 })
    fc.assert(
      fc.property(pairs, (kvs) => {
        const text = kvs.map(([k, v]) => `${k}=${v.replaceAll(',', ',,')}`).join(',')
        expect([...parseKeyval('-x', text)]).toEqual(kvs)
      }),
      { numRuns: 500 },
    )
  })
})

describe('honk-virt refuses what it cannot honour: one line, exit code 2', () => {
  for (const [line, want] of REFUSED) {
    it(line, async () => {
      expect(() => parseCli(words(line)), line).toThrow(UsageError)
      let err = ''
      let out = ''
      const code = await main(words(line), {
        stdin: new PassThrough() as unknown as NodeJS.ReadStream,
        stdout: { write: (c: string) => ((out += c), true) } as unknown as NodeJS.WritableStream,
        stderr: { write: (c: string) => ((err += c), true) } as unknown as NodeJS.WritableStream,
      })
      expect(code).toBe(2)
      expect(out).toBe('')
      expect(err.endsWith('\n') && err.split('\n').length === 2, err).toBe(true)
      expect(err.replace(/^honk-virt: /, '')).toMatch(want)
    })
  }
})

describe('honk-virt --version and --help', () => {
  async function run(argv: string[]) {
    let out = ''
    let err = ''
    const code = await main(argv, {
      stdin: new PassThrough() as unknown as NodeJS.ReadStream,
      stdout: { write: (c: string) => ((out += c), true) } as unknown as NodeJS.WritableStream,
      stderr: { write: (c: string) => ((err += c), true) } as unknown as NodeJS.WritableStream,
    })
    return { code, out, err }
  }

  it('--version and -version print one line with the package name and version, exit 0', async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { name: string; version: string }
    for (const flag of ['--version', '-version']) {
      const r = await run([flag])
      expect(r).toEqual({ code: 0, out: `honk-virt ${pkg.version} (${pkg.name})\n`, err: '' })
    }
  })

  it('-h, -help and --help print the usage, exit 0', async () => {
    for (const flag of ['-h', '-help', '--help', '--h']) {
      const r = await run([flag])
      expect(r.code).toBe(0)
      expect(r.out).toMatch(/^usage: honk-virt/)
      expect(r.out).toContain('-virtfs')
      expect(r.err).toBe('')
    }
  })
})

describe('-drive …,readonly=on: a read-only open, and the guest sees a read-only disk', () => {
  it('VIRTIO_BLK_F_RO (feature bit 5) is offered for the readonly=on drive only; the image file is unchanged', async () => {
    const { FileBlockDevice } = await import('@honk/block/node')
    const dir = await mkdtemp(join(tmpdir(), 'honk-virt-ro-'))
    try {
      await writeFile(join(dir, 'k'), new Uint8Array(16))
      await writeFile(join(dir, 'ro.img'), new Uint8Array(64 << 10).fill(7))
      await writeFile(join(dir, 'rw.img'), new Uint8Array(64 << 10))
      // A writer holds ro.img: a read-only open takes no write lock, so it still opens.
      const writer = await FileBlockDevice.open(join(dir, 'ro.img'), { create: false })
      const argv = ['-bios', 'none', '-kernel', join(dir, 'k'), '-m', '16M', '-drive', `file=${join(dir, 'rw.img')},format=raw`, '-drive', `file=${join(dir, 'ro.img')},format=raw,readonly=on`]
      const { machine, close } = await createFromCli(parseCli(argv) as CliOptions, () => undefined)
      try {
        const features = (slot: number) => {
          const base = virtioSlotBase(slot)
          expect(Number(machine.bus.read(base + 0x008, 4))).toBe(2) // block device
          machine.bus.write(base + 0x014, 4, 0n) // DeviceFeaturesSel = 0
          return Number(machine.bus.read(base + 0x010, 4))
        }
        expect(features(0) & (1 << 5)).toBe(0)
        expect(features(1) & (1 << 5)).toBe(1 << 5)
      } finally {
        await close()
        await writer.close()
      }
      expect((await readFile(join(dir, 'ro.img'))).every((b) => b === 7)).toBe(true)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('the 9P mount tag reaches the guest (virtio-9p config space: le16 tag_len, tag)', () => {
  /** The virtio-mmio slot holding device id 9 (9P), and the tag in its config space (virtio-mmio offset 0x100). */
  function mountTag(machine: Awaited<ReturnType<typeof createFromCli>>['machine']): string | undefined {
    for (let slot = 0; slot < 8; slot++) {
      const base = virtioSlotBase(slot)
      if (Number(machine.bus.read(base + 0x008, 4)) !== 9) continue
      const len = Number(machine.bus.read(base + 0x100, 2))
      const bytes = Uint8Array.from({ length: len }, (_, i) => Number(machine.bus.read(base + 0x102 + i, 1)))
      return new TextDecoder().decode(bytes)
    }
    return undefined
  }

  for (const [name, args, tag] of [
    ['-virtfs …,mount_tag=host', ['-virtfs', 'local,path=SHARE,mount_tag=host,security_model=none'], 'host'],
    ['-fsdev + -device virtio-9p-device,mount_tag=host', ['-fsdev', 'local,id=f0,path=SHARE,security_model=none', '-device', 'virtio-9p-device,fsdev=f0,mount_tag=host'], 'host'],
    ['--share --share-tag some_tag', ['--share', 'SHARE', '--share-tag', 'some_tag'], 'some_tag'],
    ['--share alone (the default tag)', ['--share', 'SHARE'], 'honk'],
  ] as const) {
    it(name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'honk-virt-tag-'))
      try {
        await writeFile(join(dir, 'k'), new Uint8Array(16))
        const argv = ['-bios', 'none', '-kernel', join(dir, 'k'), '-m', '16M', ...args.map((a) => a.replace('SHARE', dir))]
        const { machine, close } = await createFromCli(parseCli(argv) as CliOptions, () => undefined)
        try {
          expect(mountTag(machine)).toBe(tag)
        } finally {
          await close()
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  }
})

describe('the display devices reach the guest (issue #16): virtio-mmio device ids 16 (GPU) and 18 (input)', () => {
  for (const [name, args, ids, mode] of [
    ['-device virtio-gpu-device,xres=640,yres=480 -device virtio-keyboard-device -device virtio-tablet-device', ['-device', 'virtio-gpu-device,xres=640,yres=480', '-device', 'virtio-keyboard-device', '-device', 'virtio-tablet-device'], [16, 18, 18], [640, 480]],
    ['--display web (the short form adds the three devices)', ['--display', 'web'], [16, 18, 18], [1280, 800]],
    ['-device virtio-keyboard-device alone', ['-device', 'virtio-keyboard-device'], [18], undefined],
    ['no display device', [], [], undefined],
  ] as const) {
    it(name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'honk-virt-display-'))
      try {
        await writeFile(join(dir, 'k'), new Uint8Array(16))
        const { machine, close, display } = await createFromCli(parseCli(['-bios', 'none', '-kernel', join(dir, 'k'), '-m', '16M', ...args]) as CliOptions, () => undefined)
        try {
          // The slots after the built-in virtio-rng (slot 0) hold the display devices in order.
          const present = Array.from({ length: 8 }, (_, slot) => Number(machine.bus.read(virtioSlotBase(slot) + 0x008, 4))).filter((id) => id === 16 || id === 18)
          expect(present).toEqual(ids)
          expect(display.gpu ? [display.gpu.display(0).width, display.gpu.display(0).height] : undefined).toEqual(mode)
          expect(display.keyboard !== undefined).toBe(ids.length > 0)
        } finally {
          await close()
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  }
})

describe('--display web (issue #16): the page is served on 127.0.0.1 while the machine runs', () => {
  /** `main` with a kernel that spins (`j .`), the console captured; `during` runs once the machine is up, then it is stopped. */
  async function runWeb(extra: string[], during: (err: () => string) => Promise<void>): Promise<{ code: number; err: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'honk-virt-web-'))
    let err = ''
    try {
      await writeFile(join(dir, 'k'), Uint8Array.of(0x6f, 0, 0, 0)) // jal x0, 0: spin
      let stop: (() => void) | undefined
      let started: () => void = () => undefined
      const up = new Promise<void>((r) => (started = r))
      const exited = main(['-bios', 'none', '-kernel', join(dir, 'k'), '-m', '16M', ...extra], {
        stdin: new PassThrough() as unknown as NodeJS.ReadStream,
        stdout: { write: () => true } as unknown as NodeJS.WritableStream,
        stderr: { write: (c: string) => ((err += c), true) } as unknown as NodeJS.WritableStream,
        onRun: ({ machine }) => {
          stop = () => machine.stop()
          started()
        },
      })
      await Promise.race([up, exited])
      // The server starts right after onRun: wait for its line (or the exit).
      for (let i = 0; i < 100 && !/display on|honk-virt: /.test(err); i++) await new Promise((r) => setTimeout(r, 20))
      await during(() => err)
      stop?.()
      return { code: await exited, err }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  it('prints the address once on stderr; the page and xterm are served there, on 127.0.0.1 only', async () => {
    const r = await runWeb(['--display', 'web'], async (err) => {
      const url = /^honk-virt: display on (http:\/\/127\.0\.0\.1:(\d+)\/)\n$/.exec(err())
      expect(url, err()).not.toBeNull()
      const page = await fetch(url![1]!)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain('<canvas id="screen"')
      expect((await fetch(`${url![1]!}xterm.js`)).status).toBe(200)
    })
    expect(r.code).toBe(0)
  })

  it('a port already in use: one line, exit code 1, the machine does not run', async () => {
    const { createServer } = await import('node:net')
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()))
    const port = (busy.address() as { port: number }).port
    try {
      const r = await runWeb(['--display', `web,port=${port}`], async () => undefined)
      expect(r.code).toBe(1)
      expect(r.err).toMatch(new RegExp(`^honk-virt: --display web,port=${port}: cannot serve on 127\\.0\\.0\\.1: .*\\n$`))
      expect(r.err.split('\n').length).toBe(2)
    } finally {
      busy.close()
    }
  })
})
