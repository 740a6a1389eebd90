/**
 * One filesystem interface for honk, and the filesystems that implement it.
 *
 * @example
 * ```ts
 * import { MemoryFS, overlay, readText, writeFile } from '@honk/vfs'
 * const core = new MemoryFS({ files: { 'etc/motd': 'Welcome to honk' }, readOnly: true })
 * const fs = overlay(new MemoryFS(), [core])             // writable upper over a read-only core
 * await writeFile(fs, 'etc/motd', 'changed')              // copied up; the core is untouched
 * console.log(await readText(fs, 'etc/motd'))             // "changed"
 * await fs.remove('etc/motd')                             // a whiteout hides the core's copy
 * ```
 * @packageDocumentation
 */
export type { DirEntry, FS, FileHandle, FileType, OpenOptions, SetAttr, Stat } from './types.js'
export { ERRNO_OF, FsError, ReadOnlyError, isFsError, type FsErrorCode } from './errors.js'
export { cleanPath, components, joinPath, splitPath } from './path.js'
export { MemoryFS, type MemoryFSOptions } from './memory.js'
export { copy, exists, isAtomicWriteTemp, mkdirp, readFile, readText, statOrUndefined, walk, writeFile } from './helpers.js'
export { sub } from './sub.js'
export { forwarding } from './forwarding.js'
export { hostDescriptorOf, registerHostDescriptor } from './host-descriptor.js'
export { overlay } from './overlay.js'
export { openKvFS, CHUNK as KVFS_CHUNK, type KvFSOptions } from './kvfs.js'
