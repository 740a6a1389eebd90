/**
 * A model-based property for any writable FS: random sequences of mkdir, write, truncate,
 * remove, rename and symlink run against the FS and against a tiny reference model (a map of
 * path → node); after every step the outcome (success or error code) and the whole tree must
 * agree. Needs fast-check (an optional peer dependency of this package).
 */
import fc from 'fast-check'
import { isFsError } from '../errors.js'
import { readFile } from '../helpers.js'
import { joinPath, splitPath } from '../path.js'
import type { FS } from '../types.js'

type Node = { type: 'dir' } | { type: 'file'; data: number[] } | { type: 'symlink'; target: string }

export type FsOp =
  | { op: 'mkdir'; path: string }
  | { op: 'write'; path: string; at: number; bytes: number[] }
  | { op: 'truncate'; path: string; size: number }
  | { op: 'remove'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }

const NAMES = ['a', 'b', 'c']
const pathArb = fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'))
export const fsOpArb: fc.Arbitrary<FsOp> = fc.oneof(
  fc.record({ op: fc.constant('mkdir' as const), path: pathArb }),
  fc.record({ op: fc.constant('write' as const), path: pathArb, at: fc.nat(40), bytes: fc.array(fc.nat(255), { maxLength: 30 }) }),
  fc.record({ op: fc.constant('truncate' as const), path: pathArb, size: fc.nat(50) }),
  fc.record({ op: fc.constant('remove' as const), path: pathArb }),
  fc.record({ op: fc.constant('rename' as const), from: pathArb, to: pathArb }),
  fc.record({ op: fc.constant('symlink' as const), target: fc.constantFrom('a', 'b/c', 'x'), path: pathArb }),
)

class Model {
  readonly nodes = new Map<string, Node>([['', { type: 'dir' }]])
  /**
   * With overlay rules: directories that live in a lower layer. Renaming one is EXDEV
   * (overlayfs without redirect_dir), as `overlay()` documents.
   */
  lowerDirs: Set<string> | undefined
  private parentDir(path: string): string {
    const [parent] = splitPath(path)
    // Walking through a missing component is ENOENT, through a non-directory ENOTDIR.
    const parts = parent === '' ? [] : parent.split('/')
    let at = ''
    for (const p of parts) {
      at = joinPath(at, p)
      const n = this.nodes.get(at)
      if (!n) throw 'ENOENT'
      if (n.type !== 'dir') throw 'ENOTDIR'
    }
    return parent
  }
  private children(dir: string): string[] {
    const pre = dir === '' ? '' : dir + '/'
    return [...this.nodes.keys()].filter((k) => k !== dir && k.startsWith(pre) && !k.slice(pre.length).includes('/'))
  }
  apply(o: FsOp): void {
    switch (o.op) {
      case 'mkdir': {
        this.parentDir(o.path)
        if (this.nodes.has(o.path)) throw 'EEXIST'
        this.nodes.set(o.path, { type: 'dir' })
        return
      }
      case 'write': {
        this.parentDir(o.path)
        const n = this.nodes.get(o.path)
        if (n && n.type === 'dir') throw 'EISDIR'
        if (n && n.type === 'symlink') throw 'EINVAL'
        const data = n?.type === 'file' ? [...n.data] : []
        while (data.length < o.at) data.push(0)
        o.bytes.forEach((b, i) => (data[o.at + i] = b))
        this.nodes.set(o.path, { type: 'file', data })
        return
      }
      case 'truncate': {
        this.parentDir(o.path)
        const n = this.nodes.get(o.path)
        if (!n) throw 'ENOENT'
        if (n.type === 'dir') throw 'EISDIR'
        if (n.type === 'symlink') throw 'EINVAL'
        const data = n.data.slice(0, o.size)
        while (data.length < o.size) data.push(0)
        this.nodes.set(o.path, { type: 'file', data })
        return
      }
      case 'remove': {
        this.parentDir(o.path)
        const n = this.nodes.get(o.path)
        if (!n) throw 'ENOENT'
        if (n.type === 'dir' && this.children(o.path).length > 0) throw 'ENOTEMPTY'
        this.nodes.delete(o.path)
        this.lowerDirs?.delete(o.path)
        return
      }
      case 'symlink': {
        this.parentDir(o.path)
        if (this.nodes.has(o.path)) throw 'EEXIST'
        this.nodes.set(o.path, { type: 'symlink', target: o.target })
        return
      }
      case 'rename': {
        // Like Linux rename(2): both parent paths resolve first, then the source is looked up.
        this.parentDir(o.from)
        this.parentDir(o.to)
        const n = this.nodes.get(o.from)
        if (!n) throw 'ENOENT'
        if (o.from === o.to) return
        if (n.type === 'dir' && o.to.startsWith(o.from + '/')) throw 'EINVAL'
        const t = this.nodes.get(o.to)
        if (t) {
          if (n.type === 'dir' && t.type !== 'dir') throw 'ENOTDIR'
          if (n.type !== 'dir' && t.type === 'dir') throw 'EISDIR'
          if (t.type === 'dir' && this.children(o.to).length > 0) throw 'ENOTEMPTY'
        }
        if (n.type === 'dir' && this.lowerDirs?.has(o.from)) throw 'EXDEV'
        const moved = [...this.nodes].filter(([k]) => k === o.from || k.startsWith(o.from + '/'))
        for (const [k] of moved) this.nodes.delete(k)
        this.nodes.delete(o.to)
        for (const [k, v] of moved) this.nodes.set(o.to + k.slice(o.from.length), v)
        return
      }
    }
  }
}

async function applyFs(fs: FS, o: FsOp): Promise<void> {
  switch (o.op) {
    case 'mkdir':
      return fs.mkdir(o.path)
    case 'write': {
      const h = await fs.open(o.path, { write: true, create: true })
      try {
        if (o.bytes.length > 0) await h.write(o.at, Uint8Array.from(o.bytes))
        else if (o.at > (await h.stat()).size) await h.truncate(o.at)
      } finally {
        await h.close()
      }
      return
    }
    case 'truncate':
      return fs.setattr(o.path, { size: o.size })
    case 'remove':
      return fs.remove(o.path)
    case 'rename':
      return fs.rename(o.from, o.to)
    case 'symlink':
      return fs.symlink(o.target, o.path)
  }
}

/** The FS tree as the model writes it. */
async function snapshot(fs: FS, dir = '', out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const e of await fs.readDir(dir)) {
    const p = joinPath(dir, e.name)
    if (e.type === 'dir') {
      out.set(p, 'dir')
      await snapshot(fs, p, out)
    } else if (e.type === 'symlink') out.set(p, `link:${await fs.readlink(p)}`)
    else out.set(p, `file:${[...(await readFile(fs, p))].join(',')}`)
  }
  return out
}

function modelSnapshot(m: Model): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, n] of [...m.nodes].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (k === '') continue
    out.set(k, n.type === 'dir' ? 'dir' : n.type === 'symlink' ? `link:${n.target}` : `file:${n.data.join(',')}`)
  }
  return out
}

/** Checks one op sequence; throws on the first disagreement. */
export async function checkFsModel(fs: FS, ops: readonly FsOp[], options: { symlinks?: boolean; preloaded?: readonly FsOp[]; overlayRules?: boolean } = {}): Promise<void> {
  const model = new Model()
  // Operations already applied to `fs` by other means (e.g. to an overlay's lower layer);
  // the ones that failed there changed nothing, and fail here the same way.
  for (const o of options.preloaded ?? []) {
    try {
      model.apply(o)
    } catch {
      /* a failed op is a no-op */
    }
  }
  if (options.overlayRules) {
    model.lowerDirs = new Set([...model.nodes].filter(([k, n]) => k !== '' && n.type === 'dir').map(([k]) => k))
  }
  const compare = async (after: string) => {
    const a = [...(await snapshot(fs))].sort().join('\n')
    const b = [...modelSnapshot(model)].sort().join('\n')
    if (a !== b) throw new Error(`${after}:\nFS:\n${a}\nmodel:\n${b}`)
  }
  await compare('at the start')
  for (const o of ops) {
    if (o.op === 'symlink' && options.symlinks === false) continue
    let want: string = 'ok'
    try {
      model.apply(o)
    } catch (code) {
      want = code as string
    }
    let got = 'ok'
    try {
      await applyFs(fs, o)
    } catch (e) {
      if (!isFsError(e)) throw e
      got = e.code
    }
    if (got !== want) throw new Error(`${JSON.stringify(o)}: FS said ${got}, model says ${want}`)
    await compare(`after ${JSON.stringify(o)}`)
  }
}

/** The fast-check property over random op sequences on fresh filesystems from `make`. */
export async function fsModelProperty(make: () => Promise<FS>, options: { numRuns?: number; symlinks?: boolean } = {}): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(fsOpArb, { maxLength: 25 }), async (ops) => {
      await checkFsModel(await make(), ops, options)
    }),
    { numRuns: options.numRuns ?? 100 },
  )
}
