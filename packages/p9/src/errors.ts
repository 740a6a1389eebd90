import { HonkError } from '@honk/errors'

/** A message that does not parse: truncated, oversized, an unknown type, a bad string. */
export class P9ProtocolError extends HonkError<'P9_PROTOCOL'> {
  constructor(message: string) {
    super('P9_PROTOCOL', `9p: ${message}`)
  }
}

/** The peer answered Rlerror: `errno` is the Linux errno it sent. */
export class P9RemoteError extends HonkError<ErrnoName> {
  constructor(readonly errno: number, readonly op: string, readonly path?: string) {
    super(errnoName(errno), `9p: ${op}${path !== undefined ? ` ${path}` : ''}: ${errnoName(errno)} (errno ${errno})`)
  }
}

/** Linux errno numbers the protocol carries (asm-generic/errno-base.h, errno.h). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
} as const

const NAMES = new Map(Object.entries(ERRNO).map(([k, v]) => [v as number, k as keyof typeof ERRNO]))

/** The name of a Linux errno: a {@link ERRNO} key, or `E` and the number for one outside the table. */
export type ErrnoName = keyof typeof ERRNO | `E${number}`

/** "ENOENT" for 2, "E<n>" for numbers outside the table. */
export function errnoName(errno: number): ErrnoName {
  return NAMES.get(errno) ?? `E${errno}`
}

declare module '@honk/errors' {
  interface HonkErrorClasses {
    P9RemoteError: P9RemoteError
    P9ProtocolError: P9ProtocolError
  }
}
