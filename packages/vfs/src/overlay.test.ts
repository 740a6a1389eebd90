import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemoryFS, overlay, readText, sub, writeFile, type FS } from './index.js'
import { checkFsModel, fsOpArb, testFS } from './testing/index.js'

const coreFiles = { 'etc/motd': 'Welcome to honk', 'etc/hostname': 'honkbox', 'bin/tool': 'x', 'docs/a/b.txt': 'deep' }

describe('sub', () => {
  it('passes testFS as the sub-tree', async () => {
    const fs = new MemoryFS({ files: { 'root/x.txt': 'x', 'root/d/y.txt': 'y', 'outside.txt': 'o' } })
    await testFS(sub(fs, 'root'), { 'x.txt': 'x', 'd/y.txt': 'y' })
    await expect(sub(fs, 'root').stat('../outside.txt')).rejects.toMatchObject({ code: 'EINVAL' })
  })
})

describe('overlay', () => {
  const make = () => overlay(new MemoryFS(), [new MemoryFS({ files: coreFiles, readOnly: true })])

  it('passes testFS over a read-only core', () => testFS(make(), coreFiles))
  it('passes testFS read-only when the upper is read-only', () => testFS(overlay(new MemoryFS({ readOnly: true }), [new MemoryFS({ files: coreFiles, readOnly: true })]), coreFiles))

  it('copies up on write, hides with whiteouts, never touches the lower layer', async () => {
    const lower = new MemoryFS({ files: coreFiles, readOnly: true })
    const upper = new MemoryFS()
    const fs = overlay(upper, [lower])
    await writeFile(fs, 'etc/motd', 'changed')
    expect(await readText(fs, 'etc/motd')).toBe('changed')
    expect(await readText(lower, 'etc/motd')).toBe('Welcome to honk')
    await fs.remove('etc/hostname')
    await expect(fs.stat('etc/hostname')).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await fs.readDir('etc')).map((e) => e.name)).toEqual(['motd'])
    // The marker is the upper layer's business only.
    expect((await upper.readDir('etc')).map((e) => e.name)).toEqual(['.wh.hostname', 'motd'])
    await expect(fs.stat('etc/.wh.hostname')).rejects.toMatchObject({ code: 'EINVAL' })
    // Re-creating a removed directory makes it opaque: the old contents stay hidden.
    await fs.remove('docs/a/b.txt')
    await fs.remove('docs/a')
    await fs.mkdir('docs/a')
    expect(await fs.readDir('docs/a')).toEqual([])
    await writeFile(fs, 'etc/hostname', 'again')
    expect(await readText(fs, 'etc/hostname')).toBe('again')
  })

  it('renames across layers; a lower directory rename is EXDEV', async () => {
    const fs = make()
    await fs.rename('etc/motd', 'motd.old')
    expect(await readText(fs, 'motd.old')).toBe('Welcome to honk')
    await expect(fs.stat('etc/motd')).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(fs.rename('docs', 'documents')).rejects.toMatchObject({ code: 'EXDEV' })
    await fs.mkdir('mine')
    await writeFile(fs, 'mine/f', '1')
    await fs.rename('mine', 'yours')
    expect(await readText(fs, 'yours/f')).toBe('1')
  })

  it('stacks several lower layers; the upper one wins; inode numbers are unique across layers', async () => {
    const l1 = new MemoryFS({ files: { 'a.txt': 'from l1', 'shared/x': 'l1' }, readOnly: true })
    const l2 = new MemoryFS({ files: { 'a.txt': 'from l2', 'b.txt': 'only l2', 'shared/y': 'l2' }, readOnly: true })
    const fs = overlay(new MemoryFS(), [l1, l2])
    expect(await readText(fs, 'a.txt')).toBe('from l1')
    expect(await readText(fs, 'b.txt')).toBe('only l2')
    expect((await fs.readDir('shared')).map((e) => e.name)).toEqual(['x', 'y'])
    const inos = await Promise.all(['a.txt', 'b.txt', 'shared', 'shared/x', 'shared/y'].map(async (p) => (await fs.stat(p)).ino))
    expect(new Set(inos).size).toBe(inos.length)
  })

  it('an upper directory made where a lower symlink or directory was removed (opaque) renames; only a merged or lower directory is EXDEV', async () => {
    // The model's counterexample (CI, seed -1001813201): lower b -> a; rm b; mkdir c; mv c b; mv b a.
    const lower = new MemoryFS()
    await lower.symlink('a', 'b')
    await lower.mkdir('d')
    await writeFile(lower, 'd/old.txt', 'lower')
    const fs = overlay(new MemoryFS(), [lower])
    await fs.remove('b')
    await fs.mkdir('c')
    await fs.rename('c', 'b')
    await fs.rename('b', 'a')
    expect((await fs.stat('a')).type).toBe('dir')
    await expect(fs.stat('b')).rejects.toMatchObject({ code: 'ENOENT' }) // the lower symlink stays hidden
    await expect(fs.rename('d', 'e')).rejects.toMatchObject({ code: 'EXDEV' }) // merged with the lower d
    await fs.remove('d/old.txt')
    await fs.remove('d')
    await fs.mkdir('d') // opaque now: the lower d's contents are hidden
    await writeFile(fs, 'd/new.txt', 'upper')
    await fs.rename('d', 'e')
    expect((await fs.readDir('e')).map((x) => x.name)).toEqual(['new.txt'])
    await expect(fs.stat('d')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('behaves like one plain filesystem over random lower trees (model, fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fsOpArb, { maxLength: 30 }), fc.array(fsOpArb, { maxLength: 25 }), async (setup, ops) => {
        // Build a random lower layer from the setup ops that succeed, then run the model on the
        // overlay with the model preloaded with the same tree.
        const lower = new MemoryFS()
        const applied: typeof setup = []
        for (const o of setup) {
          try {
            await checkFsModel(lower, [o], { preloaded: applied })
            applied.push(o)
          } catch {
            // an op the model rejects (e.g. ENOENT) changed nothing in either
          }
        }
        const fs: FS = overlay(new MemoryFS(), [lower])
        await checkFsModel(fs, ops, { preloaded: applied, overlayRules: true })
      }),
      { numRuns: 300 },
    )
  })
})
