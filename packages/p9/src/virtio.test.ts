import { BumpAllocator, FEATURE, P9_F_MOUNT_TAG, RamGuestMemory, VirtioMmio, VirtioMmioDriver, VirtioP9 } from '@honk/virtio'
import { MemoryFS, readText, writeFile } from '@honk/vfs'
import { fsModelProperty, testFS } from '@honk/vfs/testing'
import { describe, expect, it } from 'vitest'
import { mount } from './mount.js'
import { serve } from './server.js'
import { virtioMountTag, virtioTransport } from './virtio.js'

const BASE = 0x8000_0000

/** Our client → virtio driver → guest RAM → virtio-9p device model → our server, all in one process. */
async function virtioMount(fs: MemoryFS, options: { slots?: number } = {}) {
  const memory = new RamGuestMemory(new Uint8Array(16 << 20), BASE)
  let level = false
  let wake: (() => void) | undefined
  const irq = {
    set(l: boolean) {
      level = l
      if (l) wake?.()
    },
  }
  const server = serve(fs)
  const device = new VirtioMmio(new VirtioP9('hostshare', (t) => server.handle(t)), { memory, irq })
  const driver = new VirtioMmioDriver(device, memory, new BumpAllocator(BASE, 16 << 20))
  driver.init(FEATURE.VERSION_1 | P9_F_MOUNT_TAG)
  const queue = driver.setupQueue(0)
  driver.driverOk()
  const transport = virtioTransport({
    driver,
    queue,
    memory,
    alloc: new BumpAllocator(BASE + (4 << 20), 12 << 20),
    // Level-triggered, like the PLIC: resolve at once if the line is already high.
    waitForInterrupt: () => (level ? Promise.resolve() : new Promise<void>((r) => (wake = r))),
    ...(options.slots !== undefined ? { slots: options.slots } : {}),
  })
  return { driver, fs: await mount(transport), server }
}

describe('virtio-9p transport (driver side)', () => {
  it('reads the mount tag and passes testFS through the virtqueue', async () => {
    const backing = new MemoryFS()
    await writeFile(backing, 'host.txt', 'from the host')
    const { driver, fs } = await virtioMount(backing)
    expect(virtioMountTag(driver)).toBe('hostshare')
    await testFS(fs, { 'host.txt': 'from the host' })
    await writeFile(fs, 'guest.txt', 'from the client')
    expect(await readText(backing, 'guest.txt')).toBe('from the client')
    await fs.close()
  })

  it('many concurrent requests share a few buffer slots', async () => {
    const { fs } = await virtioMount(new MemoryFS(), { slots: 2 })
    await Promise.all(Array.from({ length: 40 }, (_, i) => writeFile(fs, `f${i}`, `content ${i}`)))
    const texts = await Promise.all(Array.from({ length: 40 }, (_, i) => readText(fs, `f${i}`)))
    expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => `content ${i}`))
    expect((await fs.readDir('')).length).toBe(40)
    await fs.close()
  })

  it('agrees with the FS model (fast-check)', async () => {
    await fsModelProperty(async () => (await virtioMount(new MemoryFS())).fs, { numRuns: 25 })
  })
})
