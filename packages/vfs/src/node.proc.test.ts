import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import * as real from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HostFS, HostFsConfinementError, HostFsUnavailableError } from './node.js'

// What `readlink('/proc/self/fd/N')` answers, to stand for a host without /proc or a
// directory the host moved out of the root between the walk and the check.
const proc = vi.hoisted(() => ({ mode: 'real' as 'real' | 'missing' | 'moved', moved: '' }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...orig,
    readlink: async (p: string, ...rest: []) => {
      if (typeof p === 'string' && p.startsWith('/proc/self/fd/')) {
        if (proc.mode === 'missing') throw Object.assign(new Error(`ENOENT: no such file or directory, readlink '${p}'`), { code: 'ENOENT' })
        if (proc.mode === 'moved') return proc.moved
      }
      return orig.readlink(p, ...rest)
    },
  }
})

let dir: string
beforeEach(async () => {
  proc.mode = 'real'
  dir = await real.realpath(await mkdtemp(join(tmpdir(), 'honk-hostfs-proc-')))
  await mkdir(join(dir, 'd'))
  await writeFile(join(dir, 'd/x'), 'inside')
})
afterEach(() => rm(dir, { recursive: true, force: true }))

describe('HostFS descriptor check', () => {
  it('fails closed with HostFsUnavailableError when /proc/self/fd is missing', async () => {
    proc.mode = 'missing'
    const fs = new HostFS(dir)
    for (const op of [() => fs.stat('d/x'), () => fs.readDir(''), () => fs.open('d/x', { read: true }), () => fs.mkdir('n'), () => fs.remove('d/x')]) {
      await expect(op()).rejects.toBeInstanceOf(HostFsUnavailableError)
    }
    proc.mode = 'real' // and recovers once it is there (a failure is not cached)
    expect((await fs.stat('d/x')).size).toBe(6)
  })

  it('refuses, before any byte moves, a descriptor whose host path is outside the root', async () => {
    const fs = new HostFS(dir)
    await fs.stat('') // the root's real path is taken while /proc answers truthfully
    proc.mode = 'moved'
    proc.moved = `${dir}-elsewhere/d` // a sibling that shares the root's name as a prefix
    const ops: [string, () => Promise<unknown>][] = [
      ['stat', () => fs.stat('d/x')],
      ['readDir', () => fs.readDir('d')],
      ['open', () => fs.open('d/x', { read: true })],
      ['write', () => fs.open('d/x', { write: true, truncate: true })],
      ['mkdir', () => fs.mkdir('d/n')],
      ['remove', () => fs.remove('d/x')],
      ['rename', () => fs.rename('d/x', 'd/y')],
      ['symlink', () => fs.symlink('t', 'd/l')],
      ['readlink', () => fs.readlink('d/x')],
      ['setattr', () => fs.setattr('d/x', { size: 0, mode: 0o600, mtimeMs: 0 })],
    ]
    for (const [what, op] of ops) {
      const e = await op().then(() => undefined, (x: unknown) => x)
      expect(e, what).toBeInstanceOf(HostFsConfinementError)
      expect((e as HostFsConfinementError).code, what).toBe('EACCES')
    }
    proc.mode = 'real'
    expect(await real.readFile(join(dir, 'd/x'), 'utf8')).toBe('inside')
    expect((await real.readdir(join(dir, 'd'))).sort()).toEqual(['x'])
  })
})
