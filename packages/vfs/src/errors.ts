import { HonkError } from '@honk/errors'

/** The POSIX error names an FS reports. */
export type FsErrorCode = 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EEXIST' | 'ENOTEMPTY' | 'EROFS' | 'EINVAL' | 'EXDEV' | 'EIO' | 'EBADF' | 'ENOSPC' | 'EACCES' | 'EPERM' | 'ENOTSUP'

/** Linux errno of each code (what 9P carries). */
export const ERRNO_OF: Record<FsErrorCode, number> = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ENOTEMPTY: 39,
  ENOTSUP: 95,
}

const MESSAGES: Record<FsErrorCode, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'file exists',
  ENOTEMPTY: 'directory not empty',
  EROFS: 'read-only file system',
  EINVAL: 'invalid argument',
  EXDEV: 'cross-device link',
  EIO: 'input/output error',
  EBADF: 'bad file handle',
  ENOSPC: 'no space left on device',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTSUP: 'operation not supported',
}

/** A filesystem error: `code` is the POSIX name, `path` the path it is about. */
export class FsError extends HonkError<FsErrorCode> {
  constructor(code: FsErrorCode, readonly op: string, readonly path: string, detail?: string, options?: { cause?: unknown }) {
    super(code, `${op} ${path === '' ? '/' : path}: ${MESSAGES[code]}${detail ? ` (${detail})` : ''}`, options)
  }
}

/** A change to a read-only filesystem (EROFS). */
export class ReadOnlyError extends FsError {
  constructor(op: string, path: string) {
    super('EROFS', op, path)
  }
}

/** True when `e` is an FsError with `code`. */
export function isFsError(e: unknown, code?: FsErrorCode): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code)
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    FsError: FsError
  }
}
