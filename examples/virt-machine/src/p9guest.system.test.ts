/**
 * The 9P acceptance of issue #6, test 2: a Linux guest mounts our 9P server (serving a
 * MemoryFS) with `-t 9p -o trans=virtio,version=9p2000.L`, its init runs a file workload
 * (mkdir, create, write, append, read, rename, unlink, readdir of 1000 entries, a 16 MiB file
 * with a checksum), and the host sees the results in the backing FS.
 */
import { serve } from '@honk/p9'
import { MemoryFS, readFile, readText, writeFile } from '@honk/vfs'
import { describe, expect, it } from 'vitest'
import { bootLinux, guestBuilt } from './guest.js'

const run = guestBuilt() || process.env['CI'] === 'true'

/** The guest's checksum: h = h·31 + byte (mod 2^64), printed as 16 hex digits. */
function checksum(bytes: Uint8Array): string {
  let h = 0n
  for (const b of bytes) h = BigInt.asUintN(64, h * 31n + BigInt(b))
  return h.toString(16).padStart(16, '0')
}

describe.skipIf(!run)('a Linux guest on our 9P server (virtio-9p)', () => {
  it('runs the file workload; the host sees every result', async () => {
    const fs = new MemoryFS({ maxFileSize: 64 << 20 })
    await writeFile(fs, 'host.txt', 'written by the host')
    const server = serve(fs)
    const { session } = bootLinux({ bios: 'builtin', harts: 1, bootargs: 'console=ttyS0 earlycon=sbi honk.checks=9p', share: { tag: 'honk', handler: (t) => server.handle(t) } })
    await session.waitFor('honk-init: hello from init', 900_000)
    const report = await session.waitFor(/honk-init: (all checks passed|FAILED)/, 900_000)
    expect(report).toContain('honk-init: 9p: mounted')
    expect(report).toContain('honk-init: 9p: host.txt says written by the host')
    expect(report).toContain('honk-init: 9p: readdir many/: 1000 entries')
    const big = /honk-init: 9p: big\.bin 16 MiB checksum ([0-9a-f]{16})/.exec(report)
    expect(big, report).not.toBeNull()
    expect(report).toContain('honk-init: 9p: done')
    expect(report).toContain('honk-init: all checks passed')
    expect(await session.exit).toEqual({ reason: 'poweroff', code: 0 })

    // The host side: the backing FS holds exactly what the guest did.
    expect(await readText(fs, 'guest/renamed.txt')).toBe('hello from the guest\nappended line\n')
    await expect(fs.stat('guest/hello.txt')).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(fs.stat('guest/doomed.txt')).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await fs.readDir('guest/many')).length).toBe(1000)
    const data = await readFile(fs, 'guest/big.bin')
    expect(data.length).toBe(16 << 20)
    expect(checksum(data)).toBe(big![1])
    await server.close()
  }, 1_800_000)
})
