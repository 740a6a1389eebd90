import { mkdir, mkdtemp, readFile as hostRead, rm, symlink, writeFile as hostWrite } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readText, writeFile } from './index.js'
import { HostFS } from './node.js'
import { fsModelProperty, testFS } from './testing/index.js'
import { confinementProperty, runConfinement, type VictimOp } from './testing/node.js'

let dir: string
let outside: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'honk-hostfs-'))
  outside = await mkdtemp(join(tmpdir(), 'honk-outside-'))
  await hostWrite(join(outside, 'secret'), 'do not leak')
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
  await rm(outside, { recursive: true, force: true })
})

describe('HostFS', () => {
  it('passes testFS', async () => {
    await mkdir(join(dir, 'd/sub'), { recursive: true })
    await hostWrite(join(dir, 'hello.txt'), 'hello')
    await hostWrite(join(dir, 'd/sub/x'), 'x'.repeat(10_000))
    await testFS(new HostFS(dir), { 'hello.txt': 'hello', 'd/sub/x': 'x'.repeat(10_000) })
    await testFS(new HostFS(dir, { readOnly: true }), { 'hello.txt': 'hello' })
  })

  it('agrees with the model (fast-check)', async () => {
    let n = 0
    await fsModelProperty(async () => {
      const d = join(dir, `run${n++}`)
      await mkdir(d)
      return new HostFS(d)
    }, { numRuns: 40 })
  })

  it('never leaves its root: .., absolute and relative symlinks, symlinked directories', async () => {
    const fs = new HostFS(dir)
    await symlink(join(outside, 'secret'), join(dir, 'abs-link'))
    await symlink('../' + outside.split('/').pop() + '/secret', join(dir, 'rel-link'))
    await symlink(outside, join(dir, 'dir-link'))
    await expect(fs.stat('../etc/passwd')).rejects.toMatchObject({ code: 'EINVAL' })
    for (const p of ['abs-link', 'rel-link']) {
      await expect(fs.open(p, { read: true })).rejects.toMatchObject({ code: 'EINVAL' })
      await expect(fs.open(p, { write: true })).rejects.toMatchObject({ code: 'EINVAL' })
      expect((await fs.stat(p)).type).toBe('symlink')
    }
    await expect(fs.stat('dir-link/secret')).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(fs.readDir('dir-link')).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(writeFile(fs, 'dir-link/new', 'x')).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(fs.setattr('abs-link', { size: 0 })).rejects.toMatchObject({ code: 'EINVAL' })
    await fs.setattr('abs-link', { mode: 0o600 }) // ignored for links, never follows
    expect(await hostRead(join(outside, 'secret'), 'utf8')).toBe('do not leak')
    await fs.rename('abs-link', 'moved-link') // renames the link itself
    expect(await fs.readlink('moved-link')).toBe(join(outside, 'secret'))
    await writeFile(fs, 'inside.txt', 'ok')
    expect(await readText(fs, 'inside.txt')).toBe('ok')
  })
})

describe('HostFS under a concurrent renamer (issue #12 case 6)', () => {
  it('the reported race: A opens d/e/x while B swaps d for a symlink to ../outside — A never reads or writes outside', async () => {
    // 300 rounds of read, write and a long-lived handle on d/e/x against the attack.
    const ops: VictimOp[] = []
    for (let i = 0; i < 100; i++) ops.push({ op: 'read', path: 'd/e/x' }, { op: 'write', path: 'd/e/x' }, { op: 'handle', path: 'd/e/x' })
    const report = await runConfinement(async (root) => ({ fs: new HostFS(root) }), [ops, ops], ['dir-d'])
    expect(report.attackCycles).toBeGreaterThan(10)
    expect(report.escapes).toEqual([])
  })

  it('every FS operation, with up to 3 concurrent callers, under every attack mix: nothing outside the root is read, listed or changed (fast-check)', async () => {
    await confinementProperty(async (root) => ({ fs: new HostFS(root) }), { numRuns: 25 })
  })
})
