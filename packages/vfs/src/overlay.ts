/**
 * The overlay: a writable upper FS over read-only lower layers, with overlayfs semantics.
 *
 * - Lookup: the topmost layer holding a name wins; directories of the same name merge, down to
 *   the first layer where the name is not a directory.
 * - Whiteouts: removing something a lower layer has leaves a marker file `.wh.<name>` in the
 *   upper directory (the aufs convention — our FS interface has no char devices or xattrs);
 *   it hides the name in every lower layer. An opaque directory (`.wh..wh..opq` inside it)
 *   hides the lower layers' contents below it; a directory created where a whiteout was is
 *   made opaque. Names starting with `.wh.` are reserved (EINVAL) and never listed.
 * - Copy-up: the first change to a lower file copies it (and its parent directories) into the
 *   upper layer.
 * - Rename of a directory whose contents come from a lower layer fails with EXDEV (overlayfs
 *   without `redirect_dir`); callers copy and remove, as `mv` does. An opaque upper directory
 *   moves, whatever the lower layers hold at its name.
 * - Inode numbers are the layer's, times 8, plus the layer index: unique across layers.
 */
import { FsError, ReadOnlyError, isFsError } from './errors.js'
import { isAtomicWriteTemp, readFile, writeFile } from './helpers.js'
import { cleanPath, components, joinPath, splitPath } from './path.js'
import type { DirEntry, FS, FileHandle, OpenOptions, SetAttr, Stat } from './types.js'

const WH = '.wh.'
const OPAQUE = '.wh..wh..opq'

interface Found {
  layer: number
  stat: Stat
}

interface View {
  /** The layer whose entry is visible (undefined: does not exist). */
  top: Found | undefined
  /** For a directory: the layers that merge into it, top first. */
  dirs: number[]
  /** Every layer that has something at this path (for whiteout decisions). */
  present: number[]
}

export function overlay(upper: FS, lowers: readonly FS[]): FS {
  if (lowers.length > 7) throw new RangeError('at most 7 lower layers (inode numbers carry the layer in 3 bits)')
  return new Overlay(upper, lowers)
}

class Overlay implements FS {
  private readonly layers: FS[]

  constructor(
    private readonly upper: FS,
    lowers: readonly FS[],
  ) {
    this.layers = [upper, ...lowers]
  }

  get readOnly(): boolean {
    return this.upper.readOnly
  }

  private async statIn(layer: number, path: string): Promise<Stat | undefined> {
    try {
      return await this.layers[layer]!.stat(path)
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return undefined
      throw e
    }
  }

  private async isWhiteout(path: string): Promise<boolean> {
    const [dir, name] = splitPath(path)
    return (await this.statIn(0, joinPath(dir, WH + name))) !== undefined
  }

  private async isOpaque(dir: string): Promise<boolean> {
    return (await this.statIn(0, joinPath(dir, OPAQUE))) !== undefined
  }

  /** Resolves a clean path through the layers. */
  private async view(clean: string, op: string): Promise<View> {
    for (const part of components(clean)) if (part.startsWith(WH)) throw new FsError('EINVAL', op, clean, `names starting with ${WH} are reserved`)
    let layers = this.layers.map((_, i) => i)
    if (clean !== '' && (await this.isOpaque(''))) layers = [0]
    let prefix = ''
    let view: View = { top: { layer: 0, stat: await this.upper.stat('') }, dirs: layers, present: layers }
    const parts = components(clean)
    for (let i = 0; i < parts.length; i++) {
      const path = joinPath(prefix, parts[i]!)
      if (layers.includes(0) && (await this.isWhiteout(path))) layers = [0]
      const found: Found[] = []
      for (const l of layers) {
        const st = await this.statIn(l, path)
        if (st) found.push({ layer: l, stat: st })
      }
      const last = i === parts.length - 1
      const top = found[0]
      if (!top) {
        if (last) return { top: undefined, dirs: [], present: [] }
        throw new FsError('ENOENT', op, clean)
      }
      if (top.stat.type !== 'dir') {
        if (!last) throw new FsError('ENOTDIR', op, clean)
        return { top, dirs: [], present: found.map((f) => f.layer) }
      }
      let dirs: number[] = []
      for (const f of found) {
        if (f.stat.type !== 'dir') break
        dirs.push(f.layer)
      }
      if (dirs[0] === 0 && (await this.isOpaque(path))) dirs = [0]
      view = { top, dirs, present: found.map((f) => f.layer) }
      layers = dirs
      prefix = path
    }
    return view
  }

  private async existing(path: string, op: string): Promise<View & { top: Found }> {
    const v = await this.view(path, op)
    if (!v.top) throw new FsError('ENOENT', op, path)
    return v as View & { top: Found }
  }

  private mapStat(f: Found): Stat {
    return { ...f.stat, ino: f.stat.ino * 8n + BigInt(f.layer) }
  }

  private writable(op: string, path: string): void {
    if (this.upper.readOnly) throw new ReadOnlyError(op, path)
  }

  async stat(path: string): Promise<Stat> {
    const clean = cleanPath(path, 'stat')
    return this.mapStat((await this.existing(clean, 'stat')).top)
  }

  async readDir(path: string): Promise<DirEntry[]> {
    const clean = cleanPath(path, 'readdir')
    const v = await this.existing(clean, 'readdir')
    if (v.top.stat.type !== 'dir') throw new FsError('ENOTDIR', 'readdir', clean)
    const merged = new Map<string, DirEntry>()
    const hidden = new Set<string>()
    for (const l of v.dirs) {
      for (const e of await this.layers[l]!.readDir(clean)) {
        if (l === 0 && e.name.startsWith(WH)) {
          if (e.name !== OPAQUE) hidden.add(e.name.slice(WH.length))
          continue
        }
        if (l > 0 && (hidden.has(e.name) || e.name.startsWith(WH))) continue
        if (isAtomicWriteTemp(e.name)) continue // an interrupted atomic write's leftover: never listed
        if (!merged.has(e.name)) merged.set(e.name, { ...e, ino: e.ino * 8n + BigInt(l) })
      }
    }
    return [...merged.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** Makes every directory on `dir` exist in the upper layer (copying modes from below). */
  private async upperDirs(dir: string): Promise<void> {
    let at = ''
    for (const part of components(dir)) {
      at = joinPath(at, part)
      const up = await this.statIn(0, at)
      if (up?.type === 'dir') continue
      const v = await this.existing(at, 'copy-up')
      if (v.top.stat.type !== 'dir') throw new FsError('ENOTDIR', 'copy-up', at)
      await this.upper.mkdir(at, v.top.stat.mode)
      await this.upper.setattr(at, { mtimeMs: v.top.stat.mtimeMs }).catch(() => {})
    }
  }

  /** Copies a lower file or symlink into the upper layer (no-op if it is there already). */
  private async copyUp(path: string, v: View & { top: Found }): Promise<void> {
    if (v.top.layer === 0) return
    const [dir] = splitPath(path)
    await this.upperDirs(dir)
    await this.clearWhiteout(path)
    const lower = this.layers[v.top.layer]!
    if (v.top.stat.type === 'dir') {
      await this.upper.mkdir(path, v.top.stat.mode)
    } else if (v.top.stat.type === 'symlink') {
      await this.upper.symlink(await lower.readlink(path), path)
    } else {
      await writeFile(this.upper, path, await readFile(lower, path), v.top.stat.mode)
      await this.upper.setattr(path, { mtimeMs: v.top.stat.mtimeMs, atimeMs: v.top.stat.atimeMs }).catch(() => {})
    }
  }

  private async clearWhiteout(path: string): Promise<boolean> {
    const [dir, name] = splitPath(path)
    try {
      await this.upper.remove(joinPath(dir, WH + name))
      return true
    } catch (e) {
      if (isFsError(e, 'ENOENT') || isFsError(e, 'ENOTDIR')) return false
      throw e
    }
  }

  private async whiteout(path: string): Promise<void> {
    const [dir, name] = splitPath(path)
    await this.upperDirs(dir)
    const h = await this.upper.open(joinPath(dir, WH + name), { write: true, create: true, mode: 0 })
    await h.close()
  }

  /** Removes an upper directory together with the markers only the overlay sees in it. */
  private async removeUpperDir(path: string): Promise<void> {
    for (const e of await this.upper.readDir(path)) {
      if (e.name.startsWith(WH)) await this.upper.remove(joinPath(path, e.name))
    }
    await this.upper.remove(path)
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const clean = cleanPath(path, 'open')
    const changes = options.write || options.create || options.truncate
    if (changes) this.writable('open', clean)
    const v = await this.view(clean, 'open')
    if (!v.top) {
      if (!options.create) throw new FsError('ENOENT', 'open', clean)
      const [dir] = splitPath(clean)
      await this.upperDirs(dir)
      await this.clearWhiteout(clean)
      return this.layerHandle(await this.upper.open(clean, options), 0)
    }
    const top = v.top
    if (options.create && options.exclusive) throw new FsError('EEXIST', 'open', clean)
    if (top.stat.type === 'dir') {
      if (options.write || options.truncate) throw new FsError('EISDIR', 'open', clean)
      return this.layerHandle(await this.layers[top.layer]!.open(clean, { read: true }), top.layer)
    }
    if (!changes) return this.layerHandle(await this.layers[top.layer]!.open(clean, options), top.layer)
    await this.copyUp(clean, { ...v, top })
    return this.layerHandle(await this.upper.open(clean, { ...options, exclusive: false }), 0)
  }

  /** A layer's handle whose stat reports overlay inode numbers. */
  private layerHandle(h: FileHandle, layer: number): FileHandle {
    return {
      read: (p, n) => h.read(p, n),
      write: (p, d) => h.write(p, d),
      truncate: (n) => h.truncate(n),
      stat: async () => this.mapStat({ layer, stat: await h.stat() }),
      sync: () => h.sync(),
      close: () => h.close(),
    }
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    const clean = cleanPath(path, 'mkdir')
    this.writable('mkdir', clean)
    if (clean === '') throw new FsError('EEXIST', 'mkdir', clean)
    const v = await this.view(clean, 'mkdir')
    if (v.top) throw new FsError('EEXIST', 'mkdir', clean)
    const [dir] = splitPath(clean)
    const parent = await this.existing(dir, 'mkdir')
    if (parent.top.stat.type !== 'dir') throw new FsError('ENOTDIR', 'mkdir', clean)
    await this.upperDirs(dir)
    const hadWhiteout = await this.clearWhiteout(clean)
    await this.upper.mkdir(clean, mode)
    // Something of this name was removed from a lower layer: its old contents must not show through.
    if (hadWhiteout) await (await this.upper.open(joinPath(clean, OPAQUE), { write: true, create: true, mode: 0 })).close()
  }

  async remove(path: string): Promise<void> {
    const clean = cleanPath(path, 'remove')
    this.writable('remove', clean)
    if (clean === '') throw new FsError('EINVAL', 'remove', clean, 'cannot remove the root')
    const v = await this.existing(clean, 'remove')
    if (v.top.stat.type === 'dir' && (await this.readDir(clean)).length > 0) throw new FsError('ENOTEMPTY', 'remove', clean)
    if (v.present.includes(0)) {
      if (v.top.stat.type === 'dir') await this.removeUpperDir(clean)
      else await this.upper.remove(clean)
    }
    if (v.present.some((l) => l > 0)) await this.whiteout(clean)
  }

  async rename(from: string, to: string): Promise<void> {
    const src = cleanPath(from, 'rename')
    const dst = cleanPath(to, 'rename')
    this.writable('rename', src)
    // Like Linux rename(2): both parent paths resolve first, then the source is looked up.
    const [srcDir] = splitPath(src)
    const srcParent = await this.existing(srcDir, 'rename')
    if (srcParent.top.stat.type !== 'dir') throw new FsError('ENOTDIR', 'rename', src)
    const [dstDir] = splitPath(dst)
    const parent = await this.existing(dstDir, 'rename')
    if (parent.top.stat.type !== 'dir') throw new FsError('ENOTDIR', 'rename', dst)
    const vs = await this.existing(src, 'rename')
    if (src === dst) return
    const isDir = vs.top.stat.type === 'dir'
    if (isDir && (dst + '/').startsWith(src + '/')) throw new FsError('EINVAL', 'rename', src, `cannot move a directory into itself (${dst})`)
    const vt = await this.view(dst, 'rename')
    if (vt.top) {
      const tDir = vt.top.stat.type === 'dir'
      if (isDir && !tDir) throw new FsError('ENOTDIR', 'rename', dst)
      if (!isDir && tDir) throw new FsError('EISDIR', 'rename', dst)
      if (tDir && (await this.readDir(dst)).length > 0) throw new FsError('ENOTEMPTY', 'rename', dst)
    }
    // EXDEV only for a directory whose contents come from a lower layer (merged or lower-only): an
    // upper directory that is opaque, or that shadows a lower non-directory, moves like any other
    // (overlayfs: ovl_rename refuses only merged/lower directories without redirect_dir).
    if (isDir && vs.dirs.some((l) => l > 0)) throw new FsError('EXDEV', 'rename', src, 'the directory is in a lower layer; copy it instead')
    await this.copyUp(src, vs)
    await this.upperDirs(dstDir)
    // An emptied upper directory in the way is removed first (with its markers). A file in the
    // upper layer is replaced by the rename itself, atomically: removing it first left a moment
    // where a crash lost both the old file and the new one (writeFile's temporary was then all
    // that remained; issue #12 case 11).
    if (vt.top && vt.present.includes(0) && vt.top.stat.type === 'dir') await this.removeUpperDir(dst)
    await this.upper.rename(src, dst)
    // After the rename, not before: a crash in between leaves the new entry over a stale marker
    // (which it shadows), never the lower file resurrected.
    const hadWhiteout = await this.clearWhiteout(dst)
    if (isDir && (hadWhiteout || (vt.top && vt.present.some((l) => l > 0)))) {
      await (await this.upper.open(joinPath(dst, OPAQUE), { write: true, create: true, mode: 0 })).close()
    }
    if (vs.present.some((l) => l > 0)) await this.whiteout(src)
  }

  async symlink(target: string, path: string): Promise<void> {
    const clean = cleanPath(path, 'symlink')
    this.writable('symlink', clean)
    const v = await this.view(clean, 'symlink')
    if (v.top) throw new FsError('EEXIST', 'symlink', clean)
    const [dir] = splitPath(clean)
    const parent = await this.existing(dir, 'symlink')
    if (parent.top.stat.type !== 'dir') throw new FsError('ENOTDIR', 'symlink', clean)
    await this.upperDirs(dir)
    await this.clearWhiteout(clean)
    await this.upper.symlink(target, clean)
  }

  async readlink(path: string): Promise<string> {
    const clean = cleanPath(path, 'readlink')
    const v = await this.existing(clean, 'readlink')
    return this.layers[v.top.layer]!.readlink(clean)
  }

  async setattr(path: string, attrs: SetAttr): Promise<void> {
    const clean = cleanPath(path, 'setattr')
    this.writable('setattr', clean)
    const v = await this.existing(clean, 'setattr')
    if (v.top.stat.type === 'dir') await this.upperDirs(clean)
    else await this.copyUp(clean, v)
    await this.upper.setattr(clean, attrs)
  }

  async sync(): Promise<void> {
    await this.upper.sync()
  }
}

