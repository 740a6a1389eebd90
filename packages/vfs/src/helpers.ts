import { FsError, isFsError } from './errors.js'
import { cleanPath, components, joinPath } from './path.js'
import type { FS, Stat } from './types.js'

/** Reads a whole file. */
export async function readFile(fs: FS, path: string): Promise<Uint8Array> {
  const h = await fs.open(path, { read: true })
  try {
    const parts: Uint8Array[] = []
    let total = 0
    for (;;) {
      const chunk = await h.read(total, 1 << 20)
      if (chunk.length === 0) break
      parts.push(chunk)
      total += chunk.length
    }
    const out = new Uint8Array(total)
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  } finally {
    await h.close()
  }
}

/** Reads a whole file as UTF-8. */
export async function readText(fs: FS, path: string): Promise<string> {
  return new TextDecoder().decode(await readFile(fs, path))
}

/** Creates or replaces a file with `data`. */
export async function writeFile(fs: FS, path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const h = await fs.open(path, { write: true, create: true, truncate: true, mode })
  try {
    let at = 0
    while (at < bytes.length) at += await h.write(at, bytes.subarray(at, at + (1 << 20)))
    if (bytes.length === 0) await h.truncate(0)
  } finally {
    await h.close()
  }
}

/** `stat`, or undefined when the path does not exist. */
export async function statOrUndefined(fs: FS, path: string): Promise<Stat | undefined> {
  try {
    return await fs.stat(path)
  } catch (e) {
    if (isFsError(e, 'ENOENT')) return undefined
    throw e
  }
}

export async function exists(fs: FS, path: string): Promise<boolean> {
  return (await statOrUndefined(fs, path)) !== undefined
}

/** Creates a directory and its missing parents. */
export async function mkdirp(fs: FS, path: string, mode = 0o755): Promise<void> {
  let at = ''
  for (const part of components(cleanPath(path, 'mkdir'))) {
    at = joinPath(at, part)
    const st = await statOrUndefined(fs, at)
    if (!st) await fs.mkdir(at, mode)
    else if (st.type !== 'dir') throw new FsError('ENOTDIR', 'mkdir', at)
  }
}

/** Every path under `root` (depth first, sorted), with its stat. */
export async function* walk(fs: FS, root = ''): AsyncGenerator<[string, Stat]> {
  const clean = cleanPath(root, 'walk')
  const st = await fs.stat(clean)
  yield [clean, st]
  if (st.type !== 'dir') return
  for (const e of await fs.readDir(clean)) yield* walk(fs, joinPath(clean, e.name))
}

/** Copies a file or a tree from one FS to another (symlinks as symlinks). */
export async function copy(from: FS, src: string, to: FS, dst: string): Promise<void> {
  const st = await from.stat(src)
  if (st.type === 'dir') {
    if (!(await exists(to, dst))) await to.mkdir(dst, st.mode)
    for (const e of await from.readDir(src)) await copy(from, joinPath(cleanPath(src), e.name), to, joinPath(cleanPath(dst), e.name))
  } else if (st.type === 'symlink') {
    await to.symlink(await from.readlink(src), dst)
  } else {
    await writeFile(to, dst, await readFile(from, src), st.mode)
  }
}
