/**
 * The write lock of a file-backed device (Node-only): one writer per image file, across
 * processes, released by the OS kernel when the holder exits or is killed.
 *
 * Node has no flock/fcntl API, so the lock is a listening Unix-domain socket whose name is
 * derived from the file's identity (device and inode numbers, so every path to the same file —
 * a symlink, a hard link, `./x` and `/abs/x` — names the same lock):
 *
 * - Linux: a socket in the abstract namespace (`\0honk-block-lock:<dev>:<ino>`). `bind(2)` of a
 *   name is atomic (`EADDRINUSE` for the second binder), and the name disappears with the last
 *   descriptor of the socket — at `close`, at exit, and on SIGKILL or a crash. There is no lock
 *   file that can go stale, so there is no stale-lock check to race on. But the abstract
 *   namespace is per *network* namespace: two containers (or `unshare -n`) sharing the image's
 *   folder never see each other's name (both wrote, and acknowledged writes were overwritten). So
 *   the holder also binds the socket file `<real path of the image>.lock` beside it, which every
 *   namespace reaches (a leftover of a killed holder is replaced, as below). Within one network
 *   namespace the abstract name serialises the openers, so the leftover-replacement window exists
 *   only between namespaces. Where the folder is not writable the socket file is skipped.
 * - Elsewhere (no abstract namespace): a socket file `<image>.lock` beside the image. A leftover
 *   of a killed holder is recognised by `ECONNREFUSED` (nobody listens) and replaced; two openers
 *   replacing the same leftover at once is possible only in that window (documented in
 *   docs/RATIONALE.md "Why a socket as the image lock?").
 *
 * The holder answers every connection with one JSON line naming itself (pid, host, what, since),
 * so a refused opener can say who holds the image. Read-only opens take no lock (they may share).
 */
import { createConnection, createServer, type Server } from 'node:net'
import { hostname } from 'node:os'
import { closeSync, constants, openSync } from 'node:fs'
import { lstat, realpath, unlink } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { BlockLockedError, type LockHolder } from './errors.js'

/** How long a refused opener waits for the holder to say who it is. */
const ASK_TIMEOUT_MS = 2000

export interface LockIdentity {
  /** `stat.dev` and `stat.ino` of the open image file (bigint: inode numbers can exceed 2^53). */
  readonly dev: bigint
  readonly ino: bigint
}

export type LockNamespace = 'abstract' | 'file'

/** The platform's default: the abstract namespace where it exists (Linux). */
export const DEFAULT_LOCK_NAMESPACE: LockNamespace = process.platform === 'linux' ? 'abstract' : 'file'

/** A held write lock; `release` is idempotent. */
export interface WriteLock {
  readonly name: string
  release(): Promise<void>
}

/** What this process says about itself to a refused opener. */
export function describeSelf(what?: string): LockHolder {
  const argv = [process.argv0, ...process.argv.slice(1)].join(' ')
  return { pid: process.pid, host: hostname(), what: (what ?? argv).slice(0, 300), since: new Date().toISOString() }
}

export function lockName(path: string, id: LockIdentity, ns: LockNamespace): string {
  return ns === 'abstract' ? `\0honk-block-lock:${id.dev}:${id.ino}` : `${path}.lock`
}

/**
 * Takes the write lock of the image at `path` (identity `id`), or throws {@link BlockLockedError}
 * naming the holder.
 */
export async function acquireWriteLock(path: string, id: LockIdentity, options: { what?: string; namespace?: LockNamespace } = {}): Promise<WriteLock> {
  const ns = options.namespace ?? DEFAULT_LOCK_NAMESPACE
  const name = lockName(path, id, ns)
  const self = describeSelf(options.what)
  const server = await bindLock(path, name, self, ns === 'file')
  if (!server) throw new BlockLockedError(path, undefined, 'cannot take the write lock')
  // The abstract namespace is per network namespace: a holder in a container (or under
  // `unshare -n`) sharing the image's folder never sees this name. A socket file beside the
  // image is reachable from every network namespace, so it is taken too, where it can be.
  let beside: Beside | undefined
  if (ns === 'abstract') {
    try {
      beside = await besideLock(path, self)
    } catch (e) {
      await closeServer(server)
      throw e
    }
  }
  let released: Promise<void> | undefined
  return {
    name,
    release: () =>
      (released ??= (async () => {
        if (beside) {
          await closeServer(beside.server) // unlinks the socket file (through the held folder descriptor)
          closeSync(beside.dirFd)
        }
        await closeServer(server) // for a socket file, close() also unlinks it
      })()),
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()))
}

/**
 * Binds `name`, or throws {@link BlockLockedError} naming the holder. With `replaceStale`
 * (socket files), a leftover nobody listens on is unlinked and the bind tried once more. When
 * `optional`, a bind failing for another reason than the name being in use returns undefined.
 */
async function bindLock(path: string, name: string, self: LockHolder, replaceStale: boolean, optional = false): Promise<Server | undefined> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined)
    socket.end(JSON.stringify(self) + '\n')
  })
  server.on('error', () => undefined)
  for (let attempt = 0; ; attempt++) {
    const bound = await listen(server, name)
    if (bound === true) break
    if (bound.code !== 'EADDRINUSE') {
      if (optional) return undefined
      throw new BlockLockedError(path, undefined, `cannot take the write lock (${bound.message})`)
    }
    const holder = await askHolder(name)
    if (holder === 'gone' && replaceStale && attempt === 0) {
      // Only a socket is a leftover lock: a file of the user's by that name is never removed.
      const kind = await lstat(name).then((st) => (st.isSocket() ? 'socket' : 'other'), () => 'gone')
      if (kind === 'other') {
        if (optional) return undefined
        throw new BlockLockedError(path, undefined, `cannot take the write lock: ${name} exists and is not a socket (remove or rename it)`)
      }
      // A socket file left by a holder that died: nobody listens. Replace it once.
      await unlink(name).catch(() => undefined)
      continue
    }
    if (holder === 'gone' || holder === 'silent') throw new BlockLockedError(path, undefined, holder === 'silent' ? 'the holder does not answer' : undefined)
    const mine = holder.pid === process.pid && holder.host === self.host
    throw new BlockLockedError(path, mine ? { ...holder, what: `this process: ${holder.what}` } : holder)
  }
  server.unref() // the lock must not keep the process alive
  return server
}

interface Beside {
  readonly server: Server
  readonly dirFd: number
}

/**
 * The socket file `<real path>.lock`, bound through `/proc/self/fd/<folder>/` (a socket path is
 * at most 107 bytes, and Node cuts a longer one silently). Skipped (undefined) where it cannot
 * be made: a read-only or unwritable folder, no /proc — the abstract name alone then guards the
 * image, as before. A live holder there is refused like one of the abstract name.
 */
async function besideLock(path: string, self: LockHolder): Promise<Beside | undefined> {
  let dirFd: number
  let file: string
  try {
    const real = await realpath(path)
    file = `${basename(real)}.lock`
    dirFd = openSync(dirname(real), constants.O_RDONLY | constants.O_DIRECTORY)
  } catch {
    return undefined
  }
  const name = `/proc/self/fd/${dirFd}/${file}`
  try {
    const server = await bindLock(path, name, self, true, true)
    if (!server) {
      closeSync(dirFd)
      return undefined
    }
    return { server, dirFd }
  } catch (e) {
    closeSync(dirFd)
    throw e
  }
}

function listen(server: Server, name: string): Promise<true | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening)
      resolve(e)
    }
    const onListening = () => {
      server.off('error', onError)
      resolve(true)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({ path: name, exclusive: true })
  })
}

/** Asks the holder of `name` who it is: its description, 'gone' (nobody listens) or 'silent'. */
function askHolder(name: string): Promise<LockHolder | 'gone' | 'silent'> {
  return new Promise((resolve) => {
    let text = ''
    const socket = createConnection({ path: name })
    const timer = setTimeout(() => {
      socket.destroy()
      resolve('silent')
    }, ASK_TIMEOUT_MS)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('end', () => {
      clearTimeout(timer)
      resolve(parseHolder(text) ?? 'silent')
    })
    socket.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'gone' : 'silent')
    })
  })
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.what !== 'string' || typeof v.since !== 'string') return undefined
    return { pid: v.pid, host: v.host, what: v.what, since: v.since }
  } catch {
    return undefined
  }
}
