/**
 * Issue #12 case 11 (temp-file half): a killed `pnpm start` left `.name.tmp-xxxxxxxx` — the
 * temporary sibling of an interrupted atomic `writeFile` — visible in `ls` forever. Such files
 * are removed at the next mount and never listed.
 */
import { CrashSimulatingDevice, MemoryBlockDevice } from '@honk/block'
import { openKV } from '@honk/kv'
import { describe, expect, it } from 'vitest'
import { MemoryFS, isAtomicWriteTemp, mkdirp, openKvFS, overlay, readText, writeFile, type FS } from './index.js'

const MiB = 1 << 20

/** Every entry name in the store's directory keys (what listing would have to filter). */
function entryNames(kv: Awaited<ReturnType<typeof openKV>>): string[] {
  const dec = new TextDecoder()
  return [...kv.keys({ prefix: 'e/' })].map((k) => dec.decode(k).slice(19))
}

describe('atomic-write temporaries (issue #12 case 11)', () => {
  it('writeFile names its temporary so it can be recognised', async () => {
    const names: string[] = []
    const fs = new MemoryFS()
    const rename = fs.rename.bind(fs)
    fs.rename = async (from, to) => {
      names.push(from)
      return rename(from, to)
    }
    for (let i = 0; i < 50; i++) await writeFile(fs, `f${i}`, 'x')
    for (const n of names) expect(isAtomicWriteTemp(n.split('/').pop()!)).toBe(true)
    expect(isAtomicWriteTemp('.x.tmp-abc')).toBe(false)
    expect(isAtomicWriteTemp('x.tmp-abcdefgh')).toBe(false)
    expect(isAtomicWriteTemp('.greeting.tmp-k3j9x0aq')).toBe(true)
  })

  it('a writeFile cut at every device write leaves no listed or stored temporary after the next mount', async () => {
    // Find how many device requests one `writeFile` takes, then cut the power at each of them.
    const probe = new CrashSimulatingDevice((2 * MiB) / 512)
    const probeFs = await openKvFS(await openKV(probe), { durable: true })
    await mkdirp(probeFs, 'dir')
    const before = probe.stats.writes + probe.stats.flushes
    await writeFile(probeFs, 'dir/greeting', 'hello'.repeat(100))
    const requests = probe.stats.writes + probe.stats.flushes - before
    expect(requests).toBeGreaterThan(2)
    let leftBehind = 0
    for (let cut = 0; cut < requests; cut++) {
      const dev = new CrashSimulatingDevice((2 * MiB) / 512)
      const fs = await openKvFS(await openKV(dev), { durable: true })
      await mkdirp(fs, 'dir')
      await writeFile(fs, 'dir/greeting', 'old')
      dev.cutPowerAfter(cut)
      await writeFile(fs, 'dir/greeting', 'hello'.repeat(100)).catch(() => undefined)
      const crashed = dev.crash() // what was flushed before the cut
      const raw = await openKV(crashed)
      if (entryNames(raw).some(isAtomicWriteTemp)) leftBehind++
      const fs2 = await openKvFS(raw, { durable: true })
      expect((await fs2.readDir('dir')).map((e) => e.name)).toEqual(['greeting'])
      expect(['old', 'hello'.repeat(100)]).toContain(await readText(fs2, 'dir/greeting'))
      expect(entryNames(raw).filter(isAtomicWriteTemp)).toEqual([]) // removed, not just hidden
      await raw.close()
      // …and it stays gone on the mount after.
      const fs3 = await openKvFS(await openKV(crashed.toMemory()))
      expect((await fs3.readDir('dir')).map((e) => e.name)).toEqual(['greeting'])
    }
    expect(leftBehind).toBeGreaterThan(0) // some cut points really did leave a temporary behind
  })

  it('through the overlay, replacing a file is atomic: a cut at any device request leaves the old file or the new one, never neither', async () => {
    const lower = new MemoryFS({ files: { 'core.txt': 'core' }, readOnly: true })
    for (let cut = 0; cut < 12; cut++) {
      const dev = new CrashSimulatingDevice((2 * MiB) / 512)
      const fs = overlay(await openKvFS(await openKV(dev), { durable: true }), [lower])
      await writeFile(fs, 'f0', 'old')
      dev.cutPowerAfter(cut)
      await writeFile(fs, 'f0', 'new').catch(() => undefined)
      const after = overlay(await openKvFS(await openKV(dev.crash()), { durable: true }), [lower])
      expect(['old', 'new']).toContain(await readText(after, 'f0'))
      expect((await after.readDir('')).map((e) => e.name)).toEqual(['core.txt', 'f0'])
    }
  })

  // writeFile fell back to truncate-and-write in place after ANY failure of the temporary: a
  // full store truncated the existing (acknowledged) file and left part of the new data in it.
  it('a write that does not fit (store full) leaves the existing file as it was, and no partial file', async () => {
    const kv = await openKV(new MemoryBlockDevice((2 * MiB) / 512))
    const fs = await openKvFS(kv, { durable: true })
    await writeFile(fs, 'keep', 'important')
    const big = new Uint8Array(3 * MiB).fill(7)
    await expect(writeFile(fs, 'keep', big)).rejects.toBeDefined()
    expect(await readText(fs, 'keep')).toBe('important')
    await expect(writeFile(fs, 'fresh', big)).rejects.toBeDefined()
    await expect(fs.stat('fresh')).rejects.toBeDefined() // no partial (or empty) file left
    expect((await fs.readDir('')).map((e) => e.name).sort()).toEqual(['keep'])
    // Through the overlay (the shell's path), with a lower file of the same name: not shadowed by a partial copy.
    const lower = new MemoryFS()
    await writeFile(lower, 'big', 'lower')
    const root = overlay(fs, [lower])
    await expect(writeFile(root, 'big', big)).rejects.toBeDefined()
    expect(await readText(root, 'big')).toBe('lower')
    await kv.close()
  })

  it('a read-only mount hides a temporary without removing it', async () => {
    const dev = new MemoryBlockDevice(4096)
    const kv = await openKV(dev)
    const fs = await openKvFS(kv)
    await (await fs.open('.note.tmp-0123abcd', { write: true, create: true })).close()
    await writeFile(fs, 'note', 'n')
    await kv.close()
    const kv2 = await openKV(dev)
    const ro = await openKvFS(kv2, { readOnly: true })
    expect((await ro.readDir('')).map((e) => e.name)).toEqual(['note'])
    expect(entryNames(kv2)).toContain('.note.tmp-0123abcd')
  })

  it('the overlay never lists a temporary, from any layer', async () => {
    const lower = new MemoryFS({ files: { 'a': 'A', '.a.tmp-zzzzzzzz': 'partial' }, readOnly: true })
    const upper: FS = new MemoryFS()
    await (await upper.open('.b.tmp-00000000', { write: true, create: true })).close()
    const fs = overlay(upper, [lower])
    await writeFile(fs, 'b', 'B')
    expect((await fs.readDir('')).map((e) => e.name)).toEqual(['a', 'b'])
  })
})
