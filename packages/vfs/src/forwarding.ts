import { FsError } from './errors.js'
import type { FS } from './types.js'

/**
 * An FS that forwards every call to whatever `target()` returns at the time of the call, so a
 * holder keeps one object while the FS behind it is swapped (honk's root after `reset`, or a
 * damaged layer replaced by a fresh one). Handles already open stay with the FS that opened
 * them; only new calls see the new target.
 */
export function forwarding(target: () => FS): FS {
  return {
    get readOnly() {
      return target().readOnly
    },
    stat: (p) => target().stat(p),
    readDir: (p) => target().readDir(p),
    open: (p, o) => target().open(p, o),
    mkdir: (p, m) => target().mkdir(p, m),
    remove: (p) => target().remove(p),
    rename: (a, b) => target().rename(a, b),
    symlink: (t, p) => target().symlink(t, p),
    // Present always (the target may change); a target without hard links answers ENOTSUP.
    link: (a, b) => {
      const t = target()
      return t.link === undefined ? Promise.reject(new FsError('ENOTSUP', 'link', b, 'this file system has no hard links')) : t.link(a, b)
    },
    readlink: (p) => target().readlink(p),
    setattr: (p, a) => target().setattr(p, a),
    sync: () => target().sync(),
  }
}
