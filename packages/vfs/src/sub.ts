import { cleanPath, joinPath } from './path.js'
import type { FS } from './types.js'

/** The sub-tree of `fs` under `dir`, as an FS of its own (paths cannot leave it: '..' is refused). */
export function sub(fs: FS, dir: string): FS {
  const base = cleanPath(dir, 'sub')
  const at = (p: string) => joinPath(base, cleanPath(p))
  return {
    get readOnly() {
      return fs.readOnly
    },
    stat: async (p) => fs.stat(at(p)),
    readDir: async (p) => fs.readDir(at(p)),
    open: async (p, o) => fs.open(at(p), o),
    mkdir: async (p, m) => fs.mkdir(at(p), m),
    remove: async (p) => fs.remove(at(p)),
    rename: async (a, b) => fs.rename(at(a), at(b)),
    symlink: async (t, p) => fs.symlink(t, at(p)),
    ...(fs.link === undefined ? {} : { link: async (a: string, b: string) => fs.link!(at(a), at(b)) }),
    readlink: async (p) => fs.readlink(at(p)),
    setattr: async (p, a) => fs.setattr(at(p), a),
    sync: () => fs.sync(),
  }
}
