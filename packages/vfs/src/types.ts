/** What a directory entry is. */
export type FileType = 'file' | 'dir' | 'symlink'

/**
 * Metadata of a file. Shaped for 9P2000.L (`Rgetattr`): `ino` is the stable qid path,
 * `version` changes whenever the contents change (qid version). Times are milliseconds since
 * the epoch.
 */
export interface Stat {
  readonly type: FileType
  /** Permission bits (0o7777); the type is in `type`. */
  readonly mode: number
  readonly size: number
  readonly ino: bigint
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly atimeMs: number
  readonly mtimeMs: number
  readonly ctimeMs: number
  readonly version: number
}

/** One entry of a directory listing. */
export interface DirEntry {
  readonly name: string
  readonly type: FileType
  readonly ino: bigint
}

/** How to open a file. Absent flags are false; with none, a file opens read-only. */
export interface OpenOptions {
  read?: boolean
  write?: boolean
  /** Create the file if it does not exist. */
  create?: boolean
  /** With `create`: fail with EEXIST if it exists. */
  exclusive?: boolean
  /** Cut the file to 0 bytes on open (needs `write`). */
  truncate?: boolean
  /** Every write goes to the end of the file. */
  append?: boolean
  /** Permission bits for a created file (default 0o644). */
  mode?: number
}

/** An open file: positional reads and writes (no cursor), so concurrent users do not interfere. */
export interface FileHandle {
  /** Up to `length` bytes from `position`; fewer (or none) at the end of the file. */
  read(position: number, length: number): Promise<Uint8Array>
  /** Writes `data` at `position` (at the end for an append handle); returns the bytes written. */
  write(position: number, data: Uint8Array): Promise<number>
  truncate(size: number): Promise<void>
  stat(): Promise<Stat>
  /** Makes this file's writes durable (as durable as the FS can be). */
  sync(): Promise<void>
  close(): Promise<void>
}

/** Attributes `setattr` can change. */
export interface SetAttr {
  mode?: number
  size?: number
  atimeMs?: number
  mtimeMs?: number
}

/**
 * The filesystem interface of honk. Paths are slash-separated and relative to the FS root
 * ('' or '.' is the root; a leading '/' is ignored); '..' components are refused with EINVAL,
 * so no path can leave the tree. Final symlinks are never followed (as in 9P: a walk returns the
 * link itself); `readlink` reads them. A read-only FS has the same interface, and every change
 * fails with `ReadOnlyError` (EROFS).
 */
export interface FS {
  readonly readOnly: boolean
  stat(path: string): Promise<Stat>
  /** Entries of a directory, sorted by name, without "." and "..". */
  readDir(path: string): Promise<DirEntry[]>
  open(path: string, options?: OpenOptions): Promise<FileHandle>
  mkdir(path: string, mode?: number): Promise<void>
  /** Removes a file, a symlink or an empty directory. */
  remove(path: string): Promise<void>
  /** Moves `from` to `to`, replacing a file (or an empty directory, for a directory) there. */
  rename(from: string, to: string): Promise<void>
  symlink(target: string, path: string): Promise<void>
  /**
   * Optional: a hard link `path` to the file or symlink `existing` (never a directory: EPERM;
   * `path` existing: EEXIST). An FS without hard links leaves it out (callers answer ENOTSUP).
   */
  link?(existing: string, path: string): Promise<void>
  readlink(path: string): Promise<string>
  setattr(path: string, attrs: SetAttr): Promise<void>
  /** Makes every change so far durable. */
  sync(): Promise<void>
}
