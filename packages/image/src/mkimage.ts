/**
 * Node-only: the `honk-mkimage` program (entry point: cli.ts).
 *
 * Every user error is one line on stderr and a non-zero exit code (2 for a bad command line,
 * 1 for anything else), never a stack trace, and leaves no file behind. Nothing existing is
 * overwritten without `--force`. Key files are PEM (PKCS#8 "PRIVATE KEY" for the secret, SPKI
 * "PUBLIC KEY" for the public half, as `openssl pkey` reads them), so a public key given where
 * the secret one belongs is told by its content, whatever the file is called.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { close, closeSync, copyFileSync, fsync, linkSync, openSync, renameSync, rmSync, statSync, write } from 'node:fs'
import { lstat, open, readFile, realpath, rm, stat } from 'node:fs/promises'
import { promisify } from 'node:util'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { parseArgs } from 'node:util'
import { SoftwareAnchor, buildImage, decodeHeader, fromHex, generateKeyPair, toHex, verifyImage } from './index.js'
import { entriesFromDirectory, nodeHasher } from './node.js'
import { BLOCK } from './verity.js'

export const USAGE = `usage: honk-mkimage <command> [options]
  keygen <key> [--force]
      writes a new ed25519 secret key to <key> (PEM PKCS#8, mode 0600) and its public key to
      <key>.pub (PEM SPKI); prints the public key in hex
  build <dir> <out> --key <key> [--version N] [--compatible S] [--force]
      builds and signs an image of every file under <dir> with the secret key <key>;
      --version is the security version (default 1), --compatible the hardware it is for
  verify <img> --pub <key.pub> [--floor N] [--compatible S]
      checks the signature, the rollback floor (default 0), the table and every Merkle block;
      --pub takes the PEM public key or its 64 hex digits
  inspect <img>
      prints the header (unverified) and the matching veritysetup command
  --force overwrites an existing file; --help prints this text`

/** A bad command line: exit code 2. */
export class UsageError extends Error {}
/** Anything else the user must fix (a missing file, a wrong key, a failed check): exit code 1. */
export class MkimageError extends Error {}

export interface Io {
  stdout(text: string): void
  stderr(text: string): void
}

const processIo: Io = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
}

const OPTIONS = {
  key: { type: 'string' },
  pub: { type: 'string' },
  version: { type: 'string' },
  floor: { type: 'string' },
  compatible: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const
type OptionName = keyof typeof OPTIONS

const COMMANDS: Record<string, { args: string[]; options: OptionName[] }> = {
  keygen: { args: ['<key>'], options: ['force'] },
  build: { args: ['<dir>', '<out>'], options: ['key', 'version', 'compatible', 'force'] },
  verify: { args: ['<img>'], options: ['pub', 'floor', 'compatible'] },
  inspect: { args: ['<img>'], options: [] },
}

/** Edit distance, for "did you mean --version?". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return row[b.length]!
}

function suggest(name: string, names: readonly string[]): string {
  const best = names.map((n) => [n, distance(name, n)] as const).sort((x, y) => x[1] - y[1])[0]
  return best && best[1] <= 2 ? ` (did you mean --${best[0]}?)` : ''
}

export interface Command {
  command: 'keygen' | 'build' | 'verify' | 'inspect' | 'help'
  args: string[]
  key?: string
  pub?: string
  version: bigint
  floor: bigint
  compatible?: string
  force: boolean
}

/** A decimal in [0, 2^64) (the header's security version is a u64). */
function parseU64(flag: string, text: string): bigint {
  if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) >= 1n << 64n) throw new UsageError(`--${flag} ${JSON.stringify(text)} is not a whole number from 0 to 2^64-1`)
  return BigInt(text)
}

/** Parses a command line (strictly: unknown, repeated or misplaced options are errors). */
export function parseCommand(argv: string[]): Command {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true, tokens: true })
  } catch (e) {
    const err = e as Error & { code?: string }
    const unknown = /^Unknown option '(-{1,2}[^']*)'/.exec(err.message)
    if (unknown) throw new UsageError(`unknown option ${unknown[1]}${suggest(unknown[1]!.replace(/^-+/, ''), Object.keys(OPTIONS))}`)
    // `--version -1`: node:util calls a value starting with a dash "ambiguous", over three lines.
    const ambiguous = /^Option '(-{1,2}[^']*)' argument is ambiguous/.exec(err.message)
    if (ambiguous) {
      const option = ambiguous[1]!
      const next = argv[argv.indexOf(option) + 1] ?? ''
      throw new UsageError(`${option} needs a value: the next argument, ${JSON.stringify(next)}, starts with a dash (write ${option}=${next} if it is the value)`)
    }
    throw new UsageError(err.message.replace(/\s*\n\s*/g, ' '))
  }
  const { values, positionals, tokens } = parsed
  const [name, ...args] = positionals
  if (values.help) return { command: 'help', args: [], version: 1n, floor: 0n, force: false }
  if (name === undefined) throw new UsageError(`no command given (keygen, build, verify or inspect; --help explains them)`)
  if (name === 'help') return { command: 'help', args: [], version: 1n, floor: 0n, force: false }
  const spec = COMMANDS[name]
  if (!spec) throw new UsageError(`unknown command ${JSON.stringify(name)} (keygen, build, verify or inspect)`)
  const seen = new Set<string>()
  for (const t of tokens) {
    if (t.kind !== 'option') continue
    if (!spec.options.includes(t.name as OptionName)) throw new UsageError(`${name} does not take ${t.rawName}${spec.options.length ? ` (it takes ${spec.options.map((o) => `--${o}`).join(', ')})` : ''}`)
    if (seen.has(t.name)) throw new UsageError(`${t.rawName} is given twice`)
    seen.add(t.name)
    if (t.value === '') throw new UsageError(`${t.rawName} is empty`)
  }
  if (args.length !== spec.args.length) {
    const usage = `${name} ${spec.args.join(' ')}`
    throw new UsageError(args.length < spec.args.length ? `${usage}: missing ${spec.args.slice(args.length).join(' ')}` : `${usage}: unexpected argument ${JSON.stringify(args[spec.args.length])}`)
  }
  for (const a of args) if (a === '') throw new UsageError(`${name}: an argument is empty`)
  if (name === 'build' && values.key === undefined) throw new UsageError('build needs --key <secret key file> (made by honk-mkimage keygen)')
  if (name === 'verify' && values.pub === undefined) throw new UsageError('verify needs --pub <public key file>')
  if (values.compatible !== undefined) {
    const bytes = new TextEncoder().encode(values.compatible)
    if (bytes.length > 32 || bytes.includes(0)) throw new UsageError(`--compatible ${JSON.stringify(values.compatible)} must be at most 32 bytes of UTF-8 without NUL`)
  }
  return {
    command: name as Command['command'],
    args,
    ...(values.key !== undefined ? { key: values.key } : {}),
    ...(values.pub !== undefined ? { pub: values.pub } : {}),
    version: values.version === undefined ? 1n : parseU64('version', values.version),
    floor: values.floor === undefined ? 0n : parseU64('floor', values.floor),
    ...(values.compatible !== undefined ? { compatible: values.compatible } : {}),
    force: values.force ?? false,
  }
}

const FS_MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a component of the path is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EFBIG: 'file too large',
}

/** A Node fs error as "path: what", one line. */
function fsError(e: unknown, path: string): MkimageError {
  const code = (e as { code?: unknown }).code
  if (typeof code === 'string' && code in FS_MESSAGES) return new MkimageError(`${path}: ${FS_MESSAGES[code]}`)
  return new MkimageError(`${path}: ${firstLine(e)}`)
}

/** An error's message on one line: control characters (a newline in a path…) escaped. */
function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e)
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
}

async function fsTry<T>(path: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (e) {
    throw fsError(e, path)
  }
}

const KEY_FILE_MAX = 64 << 10
const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url')

/** The PEM files of an ed25519 key pair (`openssl pkey` reads both). */
export function keyPairPem(secretKey: Uint8Array, publicKey: Uint8Array): { secret: string; public: string } {
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(secretKey), x: b64url(publicKey) }, format: 'jwk' })
  return { secret: key.export({ type: 'pkcs8', format: 'pem' }).toString(), public: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString() }
}

/**
 * Reads a key file of at most KEY_FILE_MAX bytes. A pipe is fine (`--key <(pass show k)`); what
 * is larger, or endless like /dev/zero, is refused after KEY_FILE_MAX + 1 bytes.
 */
async function readKeyText(path: string): Promise<string> {
  const st = await fsTry(path, () => stat(path))
  if (st.isDirectory()) throw new MkimageError(`${path}: is a directory, not a key file`)
  if (st.isFile() && st.size > KEY_FILE_MAX) throw new MkimageError(`${path}: ${st.size} bytes is too large for a key file`)
  const h = await fsTry(path, () => open(path, 'r'))
  try {
    const buf = Buffer.alloc(KEY_FILE_MAX + 1)
    let n = 0
    for (;;) {
      const { bytesRead } = await fsTry(path, () => h.read(buf, n, buf.length - n, null))
      if (bytesRead === 0) break
      n += bytesRead
      if (n > KEY_FILE_MAX) throw new MkimageError(`${path}: more than ${KEY_FILE_MAX} bytes is too large for a key file`)
    }
    return buf.toString('utf8', 0, n)
  } finally {
    await h.close()
  }
}

function pemLabel(text: string): string | undefined {
  return /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1]
}

/** The 32-byte ed25519 seed in a PEM PKCS#8 secret key file; any other content is refused by what it is. */
export function parseSecretKey(text: string, path: string): Uint8Array {
  const label = pemLabel(text)
  if (label === 'PUBLIC KEY') throw new MkimageError(`${path} holds a public key, not a secret one: --key takes the file keygen wrote without .pub`)
  // Bare hex is what keygen prints as the public key (and what honk-mkimage 0.1 wrote for both
  // halves): it cannot be told from a public key, so it is never taken as a secret.
  if (label === undefined && /^[0-9a-f]{64}$/i.test(text.trim()))
    throw new MkimageError(`${path} holds 64 bare hex digits, which may be a public key: --key takes the PEM secret key keygen writes`)
  if (label === 'ENCRYPTED PRIVATE KEY') throw new MkimageError(`${path} holds an encrypted private key; honk-mkimage needs an unencrypted ed25519 one`)
  if (label !== 'PRIVATE KEY') throw new MkimageError(`${path} is not a secret key file (want a PEM "PRIVATE KEY" from honk-mkimage keygen${label ? `, found "${label}"` : ''})`)
  let key
  try {
    key = createPrivateKey({ key: text, format: 'pem' })
  } catch (e) {
    throw new MkimageError(`${path}: the PEM private key does not parse (${firstLine(e)})`)
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new MkimageError(`${path} holds an ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`)
  return new Uint8Array(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url'))
}

/** The 32-byte ed25519 public key in a PEM SPKI file, or given as 64 hex digits (as keygen prints it). */
export function parsePublicKey(text: string, path: string): Uint8Array {
  const label = pemLabel(text)
  if (label === undefined) {
    const hex = text.trim()
    if (/^[0-9a-f]{64}$/i.test(hex)) return fromHex(hex)
    throw new MkimageError(`${path} is not a public key file (want a PEM "PUBLIC KEY" or 64 hex digits)`)
  }
  if (label.endsWith('PRIVATE KEY')) throw new MkimageError(`${path} holds a secret key: --pub takes the public key (the .pub file keygen wrote)`)
  if (label !== 'PUBLIC KEY') throw new MkimageError(`${path} is not a public key file (want a PEM "PUBLIC KEY", found "${label}")`)
  let key
  try {
    key = createPublicKey({ key: text, format: 'pem' })
  } catch (e) {
    throw new MkimageError(`${path}: the PEM public key does not parse (${firstLine(e)})`)
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new MkimageError(`${path} holds an ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`)
  return new Uint8Array(Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url'))
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path) // a dangling symlink counts: writing would follow it
    return true
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return false
    throw fsError(e, path)
  }
}

/**
 * What an interrupted run must remove: staged temporaries, and files this run created whose
 * write is not complete (the secret key placed before its .pub). See `removeIncomplete`.
 */
const incomplete = new Set<string>()
/**
 * Links in flight (destination → staged file): a signal can arrive after the kernel made the
 * link and before this code could note it, so the destination is removed only if it is the
 * staged file's inode (never a file that was there before).
 */
const linking = new Map<string, string>()
/**
 * `--force` over files that existed (destination → a second name of the old file, made before the
 * first rename): an unfinished write puts every old file back, so an interrupted or failed
 * `keygen --force` never leaves a new secret key beside the old public key.
 */
const replaced = new Map<string, string>()

/** Puts back every file `--force` was replacing (synchronous: called from a signal handler). */
function restoreReplaced(): void {
  for (const [path, old] of replaced) {
    try {
      renameSync(old, path) // atomic: the old file, whether or not the new one got there
    } catch {
      // Nothing to put back (already restored).
    }
  }
  replaced.clear()
}

/** Removes every file of an unfinished write and puts back what it replaced (synchronous: called from a signal handler). */
export function removeIncomplete(): void {
  restoreReplaced()
  for (const [path, tmp] of linking) {
    try {
      const a = statSync(path)
      const b = statSync(tmp)
      if (a.ino === b.ino && a.dev === b.dev) rmSync(path, { force: true })
    } catch {
      // Either is gone: nothing of ours at the destination.
    }
  }
  linking.clear()
  for (const path of incomplete) rmSync(path, { force: true })
  incomplete.clear()
}

const writeFd = promisify(write)
const fsyncFd = promisify(fsync)
const closeFd = promisify(close)

/** Writes all of `data` at the file's start through `fd` (the kernel may take less per call). */
async function writeAll(fd: number, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await writeFd(fd, data, done, data.length - done, done)
    done += bytesWritten
  }
}

/*
 * Every step that creates, links or renames a name is synchronous. The signal handler runs on
 * the main thread between callbacks; an asynchronous open or link would run on the thread pool
 * and could create its name after the handler removed "everything" and the process exited
 * (an interrupted build once left an empty `new.img.tmp-…`). Data writes and fsync stay
 * asynchronous: they touch only a name this run already owns, and writing to an unlinked file
 * leaves nothing behind.
 */

/** A file staged next to its destination: written and synced, then renamed (or linked) into place. */
async function stage(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  incomplete.add(tmp)
  try {
    const fd = openSync(tmp, 'wx', mode)
    try {
      await writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data)
      await fsyncFd(fd)
    } finally {
      await closeFd(fd)
    }
  } catch (e) {
    rmSync(tmp, { force: true })
    incomplete.delete(tmp)
    throw fsError(e, path)
  }
  return tmp
}

/** Moves a staged file to `path` only if nothing is there (atomically: link fails on an existing name). */
function placeNew(tmp: string, path: string): void {
  linking.set(path, tmp)
  try {
    linkSync(tmp, path)
    incomplete.add(path) // ours now, until the whole write is done
    linking.delete(path)
  } catch (e) {
    linking.delete(path)
    const code = (e as { code?: string }).code
    if (code === 'EEXIST') throw new MkimageError(`${path} already exists (--force overwrites it)`)
    // A filesystem without hard links: an exclusive create reserves the name, the rename fills it.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw fsError(e, path)
    let fd: number
    try {
      fd = openSync(path, 'wx')
    } catch (e2) {
      throw (e2 as { code?: string }).code === 'EEXIST' ? new MkimageError(`${path} already exists (--force overwrites it)`) : fsError(e2, path)
    }
    incomplete.add(path)
    closeSync(fd)
    try {
      renameSync(tmp, path)
    } catch (e3) {
      rmSync(path, { force: true })
      throw fsError(e3, path)
    }
    return
  }
  rmSync(tmp, { force: true })
}

/** `--force`: the staged file replaces `path` in one step (a fresh inode). */
function renameOver(tmp: string, path: string): void {
  try {
    renameSync(tmp, path)
  } catch (e) {
    throw fsError(e, path)
  }
}

/**
 * Writes files all or nothing: each is staged (written and synced next to its destination)
 * first; then, without `force`, each is placed only where nothing exists; with `force` an
 * existing file gets a second name first and is then renamed over (a fresh inode: a secret key
 * never inherits an old file's mode). On failure or interrupt every staged and newly placed file
 * is removed and every replaced file put back.
 */
export async function writeFiles(files: { path: string; data: string | Uint8Array; mode: number }[], force: boolean): Promise<void> {
  const staged: string[] = []
  const placed: string[] = []
  try {
    for (const f of files) staged.push(await stage(f.path, f.data, f.mode))
    if (force) for (const f of files) keepOld(f.path)
    for (const [i, f] of files.entries()) {
      if (replaced.has(f.path)) renameOver(staged[i]!, f.path)
      else placeNew(staged[i]!, f.path)
      incomplete.delete(staged[i]!)
      staged[i] = ''
      placed.push(f.path)
    }
    // The new names are durable once their directories are synced.
    for (const d of new Set(files.map((f) => dirname(resolve(f.path))))) await syncDir(d)
    for (const f of files) {
      const old = replaced.get(f.path)
      replaced.delete(f.path)
      if (old) rmSync(old, { force: true })
    }
  } catch (e) {
    for (const t of staged) if (t) await rm(t, { force: true })
    for (const p of placed) if (!replaced.has(p)) await rm(p, { force: true })
    restoreReplaced()
    throw e
  } finally {
    for (const t of staged) incomplete.delete(t)
    for (const f of files) incomplete.delete(f.path)
  }
}

/** `--force`: a second name for the file at `path`, if there is one, to put back if the write does not finish. */
function keepOld(path: string): void {
  let st
  try {
    st = statSync(path)
  } catch {
    return // nothing there: the new file is placed as a new one
  }
  if (!st.isFile()) return
  const old = `${path}.old-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    linkSync(path, old)
  } catch (e) {
    const code = (e as { code?: string }).code
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw fsError(e, path)
    copyFileSync(path, old) // a filesystem without hard links: a copy (mode included) to put back
  }
  replaced.set(path, old)
}

async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r').catch(() => undefined)
  if (!h) return
  try {
    await h.sync()
  } catch {
    // Some filesystems cannot fsync a directory; the files themselves are synced.
  } finally {
    await h.close()
  }
}

/** Checked before anything is written: an existing target is refused (unless `force`), a directory always. */
async function refuseExisting(paths: string[], force: boolean): Promise<void> {
  for (const p of paths) {
    if (!(await exists(p))) continue
    if (!force) throw new MkimageError(`${p} already exists (--force overwrites it)`)
    // --force replaces a regular file, never a directory, a device, a pipe or a symlink.
    const st = await fsTry(p, () => lstat(p))
    if (st.isDirectory()) throw new MkimageError(`${p} is a directory`)
    if (!st.isFile()) throw new MkimageError(`${p} is not a regular file (${st.isSymbolicLink() ? 'a symbolic link' : 'a device, pipe or socket'}); --force replaces only regular files`)
  }
}

/** Same file (device and inode), for paths that both exist. */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)])
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino
}

async function keygen(c: Command, io: Io): Promise<number> {
  const out = c.args[0]!
  await refuseExisting([out, out + '.pub'], c.force)
  const k = generateKeyPair()
  const pem = keyPairPem(k.secretKey, k.publicKey)
  await writeFiles(
    [
      { path: out, data: pem.secret, mode: 0o600 },
      { path: out + '.pub', data: pem.public, mode: 0o644 },
    ],
    c.force,
  )
  io.stdout(`honk-mkimage: wrote ${out} (secret) and ${out}.pub (public key ${toHex(k.publicKey)})\n`)
  return 0
}

async function build(c: Command, io: Io): Promise<number> {
  const [dir, out] = c.args as [string, string]
  const st = await fsTry(dir, () => stat(dir))
  if (!st.isDirectory()) throw new MkimageError(`${dir}: not a directory`)
  // Resolved through symlinks (the parent of `out`: `out` itself may not exist yet).
  const realDir = await fsTry(dir, () => realpath(dir))
  const outParent = await fsTry(dirname(resolve(out)), () => realpath(dirname(resolve(out))))
  const rel = relative(realDir, join(outParent, basename(resolve(out))))
  if (rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith('..' + sep)))
    throw new MkimageError(`${out} lies inside ${dir}: the next build would pack this image into itself`)
  if (await sameFile(out, c.key!)) throw new MkimageError(`${out} is the key file ${c.key}: refusing to overwrite the key with the image`)
  await refuseExisting([out], c.force)
  const secretKey = parseSecretKey(await readKeyText(c.key!), c.key!)
  let entries
  try {
    entries = await entriesFromDirectory(dir)
  } catch (e) {
    throw new MkimageError(`${dir}: ${firstLine(e)}`)
  }
  const count = Object.values(entries).filter((e) => e.type !== 'dir').length
  if (count === 0) throw new MkimageError(`${dir} holds no files`)
  let img
  try {
    img = buildImage(entries, { secVersion: c.version, secretKey, hasher: nodeHasher, ...(c.compatible !== undefined ? { compatible: c.compatible } : {}) })
  } catch (e) {
    throw new MkimageError(`${dir}: ${firstLine(e)}`)
  }
  await writeFiles([{ path: out, data: img, mode: 0o644 }], c.force)
  io.stdout(`honk-mkimage: ${dir} -> ${out} (${count} files, ${img.length} bytes, version ${c.version})\n`)
  return 0
}

async function readImage(file: string): Promise<Uint8Array> {
  const st = await fsTry(file, () => stat(file))
  if (st.isDirectory()) throw new MkimageError(`${file}: is a directory, not an image`)
  // A pipe or a character device (/dev/zero) could be endless: images are files or block devices.
  if (!st.isFile() && !st.isBlockDevice()) throw new MkimageError(`${file}: not a regular file or block device`)
  const img = new Uint8Array(await fsTry(file, () => readFile(file)))
  if (img.length < BLOCK) throw new MkimageError(`${file}: ${img.length} bytes is too short for an image (its header alone is ${BLOCK})`)
  return img
}

async function verify(c: Command, io: Io): Promise<number> {
  const file = c.args[0]!
  const anchor = new SoftwareAnchor(parsePublicKey(await readKeyText(c.pub!), c.pub!), c.floor)
  const img = await readImage(file)
  try {
    const v = await verifyImage(img, anchor, { hasher: nodeHasher, ...(c.compatible !== undefined ? { compatible: c.compatible } : {}) })
    io.stdout(`honk-mkimage: ${file} verified: version ${v.secVersion}, ${v.entries.length} entries, root ${v.root}\n`)
    return 0
  } catch (e) {
    throw new MkimageError(`${file}: ${firstLine(e)}`)
  }
}

async function inspect(c: Command, io: Io): Promise<number> {
  const file = c.args[0]!
  const img = await readImage(file)
  let h
  try {
    h = decodeHeader(img.subarray(img.length - BLOCK))
  } catch (e) {
    throw new MkimageError(`${file}: ${firstLine(e)}`)
  }
  io.stdout(
    [
      `version        ${h.secVersion}`,
      `compatible     ${h.compatible}`,
      `files          ${h.fileCount} (table ${h.tableBytes} bytes)`,
      `data           ${h.dataBlocks} blocks (${h.dataBytes} bytes used)`,
      `hash tree      ${h.treeBlocks} blocks at byte ${h.dataBlocks * BLOCK + BLOCK} (verity superblock at ${h.dataBlocks * BLOCK})`,
      `salt           ${toHex(h.salt)}`,
      `root hash      ${toHex(h.root)}`,
      `veritysetup    veritysetup verify ${file} ${file} ${toHex(h.root)} --data-blocks=${h.dataBlocks} --hash-offset=${h.dataBlocks * BLOCK}`,
    ].join('\n') + '\n',
  )
  return 0
}

/** The `honk-mkimage` program: returns the exit code; writes only through `io`. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    const c = parseCommand(argv)
    switch (c.command) {
      case 'help':
        io.stdout(USAGE + '\n')
        return 0
      case 'keygen':
        return await keygen(c, io)
      case 'build':
        return await build(c, io)
      case 'verify':
        return await verify(c, io)
      case 'inspect':
        return await inspect(c, io)
    }
  } catch (e) {
    // One line, never a stack: a usage error (2) or anything else (1), unexpected ones included.
    io.stderr(`honk-mkimage: ${firstLine(e)}\n`)
    return e instanceof UsageError ? 2 : 1
  }
}
