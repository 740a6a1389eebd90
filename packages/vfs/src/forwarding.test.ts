import { describe, expect, it } from 'vitest'
import { forwarding } from './forwarding.js'
import { readText, writeFile } from './helpers.js'
import { MemoryFS } from './memory.js'

describe('forwarding', () => {
  it('every call reaches the FS that target() returns at the time of the call; open handles stay put', async () => {
    const a = new MemoryFS({ files: { f: 'in a' } })
    const b = new MemoryFS({ files: { f: 'in b' }, readOnly: true })
    let current = a
    const fs = forwarding(() => current)
    expect(await readText(fs, 'f')).toBe('in a')
    expect(fs.readOnly).toBe(false)
    const handle = await fs.open('f', { write: true })
    await writeFile(fs, 'g', 'new')
    await fs.mkdir('d')
    await fs.rename('g', 'd/g')
    await fs.symlink('f', 'l')
    expect(await fs.readlink('l')).toBe('f')
    await fs.setattr('f', { size: 2 })
    await fs.sync()
    current = b
    expect(await readText(fs, 'f')).toBe('in b')
    expect(fs.readOnly).toBe(true)
    expect((await fs.readDir('')).map((e) => e.name)).toEqual(['f'])
    await expect(fs.remove('f')).rejects.toMatchObject({ code: 'EROFS' })
    await handle.write(0, new TextEncoder().encode('A'))
    await handle.close()
    current = a
    expect(await readText(fs, 'f')).toBe('An')
    expect((await fs.stat('d/g')).size).toBe(3)
  })
})
