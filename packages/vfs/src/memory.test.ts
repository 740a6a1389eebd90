import { describe, expect, it } from 'vitest'
import { FsError, MemoryFS, ReadOnlyError, readText, writeFile } from './index.js'
import { fsModelProperty, testFS } from './testing/index.js'

const files = { 'hello.txt': 'hello, world\n', 'dir/a.txt': 'A', 'dir/sub/b.bin': new Uint8Array(5000).map((_, i) => i & 0xff), 'empty': '' }

describe('MemoryFS', () => {
  it('passes testFS (writable)', () => testFS(new MemoryFS({ files }), files))
  it('passes testFS (read-only)', () => testFS(new MemoryFS({ files, readOnly: true }), files))
  it('agrees with the model (fast-check)', () => fsModelProperty(async () => new MemoryFS(), { numRuns: 200 }))
  it('keeps an unlinked open file usable', async () => {
    const fs = new MemoryFS()
    await writeFile(fs, 'f', 'data')
    const h = await fs.open('f', { read: true, write: true })
    await fs.remove('f')
    await h.write(4, new TextEncoder().encode('!'))
    expect(new TextDecoder().decode(await h.read(0, 10))).toBe('data!')
  })
  it('refuses absurd offsets with EINVAL/ENOSPC, not an allocation', async () => {
    const fs = new MemoryFS({ maxFileSize: 1 << 20 })
    const h = await fs.open('f', { write: true, create: true })
    await expect(h.write(2 ** 60, new Uint8Array(1))).rejects.toBeInstanceOf(FsError)
    await expect(h.write(2 << 20, new Uint8Array(1))).rejects.toMatchObject({ code: 'ENOSPC' })
    await expect(h.write(-1, new Uint8Array(1))).rejects.toMatchObject({ code: 'EINVAL' })
  })
  it('read-only errors are ReadOnlyError with the path', async () => {
    const fs = new MemoryFS({ files, readOnly: true })
    const e = await fs.remove('hello.txt').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ReadOnlyError)
    expect((e as FsError).message).toBe('remove hello.txt: read-only file system')
    expect(await readText(fs, 'hello.txt')).toBe('hello, world\n')
  })
})
