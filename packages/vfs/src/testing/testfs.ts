/**
 * `testFS`: the conformance suite every FS in the repo passes — the checks of Go's
 * `testing/fstest.TestFS` (every expected file is found, stat/readDir/read agree, listings
 * are sorted and consistent, reads in pieces match whole reads) plus POSIX-style errors and, on
 * a writable FS, write semantics. It collects every failure and throws one Error listing them
 * all, so it works under any test runner.
 */
import { isFsError, type FsErrorCode } from '../errors.js'
import { readFile, writeFile } from '../helpers.js'
import { components, joinPath, splitPath } from '../path.js'
import type { FS, FileType } from '../types.js'

export interface TestFSOptions {
  /** Skip the write checks even on a writable FS. */
  readOnlyChecks?: boolean
  /** The FS supports symlinks (default true). */
  symlinks?: boolean
}

const enc = new TextEncoder()
const toBytes = (c: string | Uint8Array) => (typeof c === 'string' ? enc.encode(c) : c)
const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

/** Runs the suite; `expected` maps paths that must exist to their contents. */
export async function testFS(fs: FS, expected: Record<string, string | Uint8Array>, options: TestFSOptions = {}): Promise<void> {
  const failures: string[] = []
  const fail = (msg: string) => failures.push(msg)
  const expectCode = async (what: string, code: FsErrorCode | FsErrorCode[], op: () => Promise<unknown>) => {
    const codes = Array.isArray(code) ? code : [code]
    try {
      await op()
      fail(`${what}: succeeded, want ${codes.join(' or ')}`)
    } catch (e) {
      if (!codes.some((c) => isFsError(e, c))) fail(`${what}: threw ${(e as Error)?.name} ${(e as Error)?.message}, want ${codes.join(' or ')}`)
    }
  }
  const attempt = async (what: string, op: () => Promise<unknown>) => {
    try {
      await op()
    } catch (e) {
      fail(`${what}: ${(e as Error)?.message ?? String(e)}`)
    }
  }

  // --- every expected file, and every directory above it -------------------------------------
  const dirs = new Set<string>([''])
  for (const [path, content] of Object.entries(expected)) {
    const parts = components(path)
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
    const want = toBytes(content)
    await attempt(`file ${path}`, async () => {
      const st = await fs.stat(path)
      if (st.type !== 'file') fail(`stat ${path}: type ${st.type}, want file`)
      if (st.size !== want.length) fail(`stat ${path}: size ${st.size}, want ${want.length}`)
      const got = await readFile(fs, path)
      if (!eq(got, want)) fail(`read ${path}: ${got.length} bytes differ from the expected ${want.length}`)
      // Reads in pieces at assorted positions agree with the whole.
      const h = await fs.open(path, { read: true })
      try {
        for (const [pos, len] of [[0, 1], [1, 7], [Math.floor(want.length / 2), 100], [want.length - 1, 10], [want.length, 5], [want.length + 100, 5]] as const) {
          if (pos < 0) continue
          const piece = await h.read(pos, len)
          const wantPiece = want.subarray(Math.min(pos, want.length), Math.min(pos + len, want.length))
          if (!eq(piece, wantPiece)) fail(`read ${path} at ${pos} for ${len}: ${piece.length} bytes, want ${wantPiece.length} matching bytes`)
        }
        const hs = await h.stat()
        if (hs.ino !== st.ino || hs.size !== st.size) fail(`handle stat of ${path} disagrees with stat`)
      } finally {
        await h.close()
      }
      await expectCode(`readDir of file ${path}`, 'ENOTDIR', () => fs.readDir(path))
      await expectCode(`stat under file ${path}/x`, ['ENOTDIR', 'ENOENT'], () => fs.stat(`${path}/x`))
    })
  }
  for (const dir of dirs) {
    await attempt(`dir ${dir || '/'}`, async () => {
      const st = await fs.stat(dir)
      if (st.type !== 'dir') fail(`stat ${dir || '/'}: type ${st.type}, want dir`)
      const entries = await fs.readDir(dir)
      const names = entries.map((e) => e.name)
      const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      if (names.join('\0') !== sorted.join('\0')) fail(`readDir ${dir || '/'}: not sorted: ${names.join(',')}`)
      if (new Set(names).size !== names.length) fail(`readDir ${dir || '/'}: duplicate names`)
      if (names.includes('.') || names.includes('..')) fail(`readDir ${dir || '/'}: lists . or ..`)
      for (const e of entries) {
        const es = await fs.stat(joinPath(dir, e.name))
        if (es.type !== e.type) fail(`readDir ${dir || '/'}: ${e.name} listed as ${e.type}, stat says ${es.type}`)
        if (es.ino !== e.ino) fail(`readDir ${dir || '/'}: ${e.name} listed with ino ${e.ino}, stat says ${es.ino}`)
      }
      for (const [path] of Object.entries(expected)) {
        const [parent, name] = splitPath(components(path).join('/'))
        if (parent === dir && !names.includes(name)) fail(`readDir ${dir || '/'}: missing ${name}`)
      }
      const h = await fs.open(dir, { read: true }).catch(() => undefined)
      if (h) {
        await expectCode(`read of directory ${dir || '/'}`, 'EISDIR', () => h.read(0, 10))
        await h.close()
      }
    })
  }
  await expectCode('stat of a missing path', 'ENOENT', () => fs.stat('no/such/path/here'))
  await expectCode('open of a missing file', 'ENOENT', () => fs.open('no-such-file', { read: true }))
  await expectCode("a path with '..'", 'EINVAL', () => fs.stat('../escape'))

  // --- a read-only FS refuses every change ---------------------------------------------------
  const anyFile = Object.keys(expected)[0]
  if (fs.readOnly) {
    await expectCode('mkdir on a read-only FS', 'EROFS', () => fs.mkdir('new-dir'))
    await expectCode('create on a read-only FS', 'EROFS', () => fs.open('new-file', { write: true, create: true }))
    await expectCode('symlink on a read-only FS', 'EROFS', () => fs.symlink('x', 'new-link'))
    if (anyFile && fs.link !== undefined) await expectCode('link on a read-only FS', 'EROFS', () => fs.link!(anyFile, 'new-hard-link'))
    if (anyFile) {
      await expectCode('write open on a read-only FS', 'EROFS', () => fs.open(anyFile, { write: true }))
      await expectCode('remove on a read-only FS', 'EROFS', () => fs.remove(anyFile))
      await expectCode('rename on a read-only FS', 'EROFS', () => fs.rename(anyFile, 'renamed'))
      await expectCode('setattr on a read-only FS', 'EROFS', () => fs.setattr(anyFile, { mode: 0o600 }))
    }
  } else if (!options.readOnlyChecks) {
    await writeChecks(fs, options, fail, expectCode, attempt)
  }

  if (failures.length > 0) throw new Error(`testFS found ${failures.length} problem(s):\n  ${failures.join('\n  ')}`)
}

async function writeChecks(
  fs: FS,
  options: TestFSOptions,
  fail: (m: string) => void,
  expectCode: (what: string, code: FsErrorCode | FsErrorCode[], op: () => Promise<unknown>) => Promise<void>,
  attempt: (what: string, op: () => Promise<unknown>) => Promise<void>,
): Promise<void> {
  const d = `testfs-scratch-${Math.random().toString(36).slice(2, 8)}`
  const type = async (p: string): Promise<FileType | undefined> => (await fs.stat(p).catch(() => undefined))?.type
  await attempt('write semantics', async () => {
    await fs.mkdir(d, 0o755)
    await expectCode('mkdir of an existing directory', 'EEXIST', () => fs.mkdir(d))
    const f = `${d}/f`
    const h = await fs.open(f, { write: true, create: true, exclusive: true, mode: 0o640 })
    await h.write(0, enc.encode('hello'))
    await h.write(10, enc.encode('world')) // a hole of zeros between
    const st1 = await h.stat()
    await h.close()
    if (st1.size !== 15) fail(`sparse write: size ${st1.size}, want 15`)
    const got = await readFile(fs, f)
    if (!eq(got, enc.encode('hello\0\0\0\0\0world'))) fail(`sparse write: read back ${JSON.stringify(new TextDecoder().decode(got))}`)
    await expectCode('exclusive create of an existing file', 'EEXIST', () => fs.open(f, { write: true, create: true, exclusive: true }))
    const v1 = (await fs.stat(f)).version
    const h2 = await fs.open(f, { write: true, append: true })
    await h2.write(0, enc.encode('!'))
    await h2.truncate(3)
    await h2.close()
    if (new TextDecoder().decode(await readFile(fs, f)) !== 'hel') fail('append then truncate(3): contents are not "hel"')
    if ((await fs.stat(f)).version === v1) fail('version did not change after a write')
    await fs.setattr(f, { size: 6, mode: 0o600, mtimeMs: 1_000_000 })
    const st2 = await fs.stat(f)
    if (st2.size !== 6 || (st2.mode & 0o777) !== 0o600 || st2.mtimeMs !== 1_000_000) fail(`setattr: size ${st2.size} mode ${st2.mode.toString(8)} mtime ${st2.mtimeMs}`)
    if (!eq(await readFile(fs, f), enc.encode('hel\0\0\0'))) fail('setattr size 6 did not zero-extend')
    await expectCode('open of a directory for writing', 'EISDIR', () => fs.open(d, { write: true }))
    await expectCode('remove of a non-empty directory', 'ENOTEMPTY', () => fs.remove(d))
    // rename: a file over a file, a directory, into itself
    await writeFile(fs, `${d}/g`, 'gee')
    const ino = (await fs.stat(f)).ino
    await fs.rename(f, `${d}/g`)
    if ((await type(f)) !== undefined) fail('rename: the source still exists')
    if (new TextDecoder().decode(await readFile(fs, `${d}/g`)) !== 'hel\0\0\0') fail('rename over a file: wrong contents')
    if ((await fs.stat(`${d}/g`)).ino !== ino) fail('rename changed the inode number')
    await fs.mkdir(`${d}/sub`)
    await writeFile(fs, `${d}/sub/inner`, 'in')
    await fs.rename(`${d}/sub`, `${d}/moved`)
    if (new TextDecoder().decode(await readFile(fs, `${d}/moved/inner`)) !== 'in') fail('rename of a directory lost its contents')
    await expectCode('rename of a directory into itself', 'EINVAL', () => fs.rename(`${d}/moved`, `${d}/moved/deeper`))
    await expectCode('rename of a missing file', 'ENOENT', () => fs.rename(`${d}/missing`, `${d}/x`))
    if (options.symlinks !== false) {
      await fs.symlink('moved/inner', `${d}/link`)
      if ((await type(`${d}/link`)) !== 'symlink') fail('symlink: stat does not say symlink')
      if ((await fs.readlink(`${d}/link`)) !== 'moved/inner') fail('readlink: wrong target')
      await expectCode('readlink of a file', 'EINVAL', () => fs.readlink(`${d}/g`))
      await expectCode('symlink over an existing name', 'EEXIST', () => fs.symlink('x', `${d}/g`))
      await fs.remove(`${d}/link`)
    }
    if (fs.link !== undefined) {
      // Hard links: two names of one inode; a write through one is seen through the other.
      await fs.link(`${d}/g`, `${d}/hard`)
      const [g, h] = [await fs.stat(`${d}/g`), await fs.stat(`${d}/hard`)]
      if (g.ino !== h.ino || g.nlink !== 2 || h.nlink !== 2) fail(`link: inodes ${g.ino}/${h.ino}, nlink ${g.nlink}/${h.nlink}, want one inode with nlink 2`)
      const fh = await fs.open(`${d}/hard`, { write: true })
      await fh.write(0, new TextEncoder().encode('L'))
      await fh.close()
      if (new TextDecoder().decode(await readFile(fs, `${d}/g`)).charAt(0) !== 'L') fail('link: a write through one name is not seen through the other')
      await expectCode('link over an existing name', 'EEXIST', () => fs.link!(`${d}/g`, `${d}/moved`))
      await expectCode('link of a directory', 'EPERM', () => fs.link!(`${d}/moved`, `${d}/dirlink`))
      await expectCode('link of a missing file', 'ENOENT', () => fs.link!(`${d}/missing`, `${d}/x`))
      await expectCode("link to a path with '..'", 'EINVAL', () => fs.link!(`${d}/g`, '../escape'))
      // rename(2) between two names of one file does nothing.
      await fs.rename(`${d}/hard`, `${d}/g`)
      if ((await fs.stat(`${d}/hard`)).nlink !== 2) fail('rename between two links of one file changed something')
      await fs.remove(`${d}/hard`)
      if ((await fs.stat(`${d}/g`)).nlink !== 1) fail('link: removing one name left nlink above 1')
    }
    const names = (await fs.readDir(d)).map((e) => e.name).join(',')
    if (names !== 'g,moved') fail(`readDir after changes: ${names}, want g,moved`)
    await fs.remove(`${d}/moved/inner`)
    await fs.remove(`${d}/moved`)
    await fs.remove(`${d}/g`)
    await fs.remove(d)
    await expectCode('stat after remove', 'ENOENT', () => fs.stat(d))
    await fs.sync()
  })
}
