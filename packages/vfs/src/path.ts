import { FsError } from './errors.js'

/**
 * Canonical form of a path: components joined by '/', no leading or trailing slash, '' for
 * the root. '.' components and repeated slashes are dropped; '..' is refused (EINVAL), so a
 * path can never leave its FS.
 */
export function cleanPath(path: string, op = 'path'): string {
  if (path.includes('\0')) throw new FsError('EINVAL', op, path, 'NUL in path')
  const parts: string[] = []
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue
    if (p === '..') throw new FsError('EINVAL', op, path, "'..' is not allowed")
    parts.push(p)
  }
  return parts.join('/')
}

/** Splits a clean path into its parent and last component ('' parent for top-level names). */
export function splitPath(clean: string): [parent: string, name: string] {
  const i = clean.lastIndexOf('/')
  return i < 0 ? ['', clean] : [clean.slice(0, i), clean.slice(i + 1)]
}

export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`
}

/** The components of a clean path ([] for the root). */
export function components(clean: string): string[] {
  return clean === '' ? [] : clean.split('/')
}
