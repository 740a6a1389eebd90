import { describe, expect, it } from 'vitest'
import { parseCli } from './cli.js'

const argv = (line: string) => line.split(' ')

describe('honk-virt PCI devices (QEMU spellings)', () => {
  it('puts -device virtio-*-pci and nvme on the PCI bus in command-line order, disks indexing drives', () => {
    const o = parseCli(
      argv(
        '-kernel k -drive file=v.img,format=raw -drive file=n.img,if=none,id=d0 -drive file=b.img,if=none,id=d1 -device nvme,drive=d0,serial=deadbeef -device virtio-blk-pci,drive=d1 -netdev user,id=n0 -device virtio-net-pci,netdev=n0 -fsdev local,id=f0,path=share -device virtio-9p-pci,fsdev=f0,mount_tag=host -device virtio-rng-pci,disable-legacy=on',
      ),
    )
    if (typeof o === 'string') throw new Error(o)
    expect(o.drives).toEqual(['v.img', 'n.img', 'b.img'])
    expect(o.pci).toEqual([{ driver: 'nvme', drive: 1, serial: 'deadbeef' }, { driver: 'virtio-blk-pci', drive: 2 }, { driver: 'virtio-net-pci' }, { driver: 'virtio-9p-pci' }, { driver: 'virtio-rng-pci' }])
    expect(o.share).toBe('share')
    expect(o.shareTag).toBe('host')
    expect(o.nic?.netdev.id).toBe('n0')
  })

  it('leaves the virtio-mmio forms alone (no pci list)', () => {
    const o = parseCli(argv('-kernel k -drive file=a.img,if=none,id=d0 -device virtio-blk-device,drive=d0 -virtfs local,path=s,mount_tag=t'))
    if (typeof o === 'string') throw new Error(o)
    expect(o.pci).toBeUndefined()
    expect(o.drives).toEqual(['a.img'])
  })
})
