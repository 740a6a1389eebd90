import { FsError, isFsError, type FsErrorCode } from './errors.js'
import { cleanPath, components, joinPath, splitPath } from './path.js'
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

/** The temporary sibling of an interrupted {@link writeFile}: `.<name>.tmp-<8 of [0-9a-z]>`. */
const TEMP_NAME = /^\..+\.tmp-[0-9a-z]{8}$/

/**
 * True for the name of {@link writeFile}'s temporary sibling (`.<name>.tmp-<8 of [0-9a-z]>`).
 * A crash between its creation and the rename leaves it behind: the KV FS removes such files
 * when it is mounted and no listing (KV FS, overlay) shows them.
 */
export function isAtomicWriteTemp(name: string): boolean {
  return TEMP_NAME.test(name)
}

/** `.<name>.tmp-` and 8 random characters of [0-9a-z] (always 8: {@link isAtomicWriteTemp} relies on it). */
function tempName(name: string): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8))
  let tag = ''
  for (const b of bytes) tag += (b % 36).toString(36)
  return `.${name}.tmp-${tag}`
}

/**
 * Creates or replaces a file with `data`, atomically: the data goes to a temporary sibling
 * that is then renamed over `path`, so on a crash-safe FS (the KV FS) a reader or a crash sees
 * the old file or the new one, never a mix (a crash may leave the temporary sibling; see
 * {@link isAtomicWriteTemp}). Where the rename cannot be used (a directory is in
 * the way, EXDEV…) it falls back to truncate-and-write in place.
 */
export async function writeFile(fs: FS, path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const clean = cleanPath(path, 'write')
  const [dir, name] = splitPath(clean)
  const tmp = joinPath(dir, tempName(name))
  try {
    await writeInPlace(fs, tmp, bytes, mode, true)
  } catch (e) {
    await fs.remove(tmp).catch(() => {})
    if (!inPlaceMayWork(e)) throw rewrap(e, clean)
    return writeInPlace(fs, clean, bytes, mode, false)
  }
  try {
    await fs.rename(tmp, clean)
  } catch (e) {
    await fs.remove(tmp).catch(() => {})
    if (isFsError(e, 'EISDIR') || !inPlaceMayWork(e)) throw rewrap(e, clean)
    await writeInPlace(fs, clean, bytes, mode, false)
  }
}

/**
 * Whether a failure of the temporary (or of its rename) is one that writing in place could
 * avoid: the temporary's creation refused (it exists, not permitted, an invalid name), or no
 * rename here (EXDEV). Anything else — no space, a full store, an I/O error, a
 * read-only FS, a non-FS error — would fail in place too, after truncating the file: the
 * existing (acknowledged) content was lost and part of the new data left in its place.
 */
function inPlaceMayWork(e: unknown): boolean {
  const codes: FsErrorCode[] = ['EEXIST', 'EACCES', 'EXDEV', 'EINVAL']
  return codes.some((code) => isFsError(e, code))
}

async function writeInPlace(fs: FS, path: string, bytes: Uint8Array, mode: number, exclusive: boolean): Promise<void> {
  const h = await fs.open(path, { write: true, create: true, truncate: true, exclusive, mode })
  try {
    let at = 0
    while (at < bytes.length) at += await h.write(at, bytes.subarray(at, at + (4 << 20)))
  } finally {
    await h.close()
  }
}

function rewrap(e: unknown, path: string): unknown {
  return isFsError(e) ? new FsError(e.code, 'write', path) : e
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
