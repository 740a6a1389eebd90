import { readFile } from '../helpers.js'
import type { FS } from '../types.js'

const dec = new TextDecoder()

/**
 * Everything under `dir` as path → "dir" | "file:<contents as UTF-8>" | "link:<target>", for
 * comparing two trees in a test (with the same shape as one walked on a host directory).
 */
export async function treeOf(fs: FS, dir = '', out: Record<string, string> = {}): Promise<Record<string, string>> {
  for (const e of await fs.readDir(dir)) {
    const p = dir ? `${dir}/${e.name}` : e.name
    if (e.type === 'dir') {
      out[p] = 'dir'
      await treeOf(fs, p, out)
    } else if (e.type === 'symlink') out[p] = `link:${await fs.readlink(p)}`
    else out[p] = `file:${dec.decode(await readFile(fs, p))}`
  }
  return out
}
