/**
 * Test-only: the hostile-input table of `honk-mkimage` (issue #12 case 15), shared by the
 * in-process unit test and the child-process system test. Each case runs in a fresh directory
 * holding the fixtures below; arguments starting with "@" name a path in it.
 */
import { execFileSync } from 'node:child_process'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdir, readFile, readdir, lstat, readlink, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildImage, generateKeyPair, toHex } from './index.js'
import { keyPairPem } from './mkimage.js'

const keys = generateKeyPair(new Uint8Array(32).fill(3))
const other = generateKeyPair(new Uint8Array(32).fill(4))
const pem = keyPairPem(keys.secretKey, keys.publicKey)
const otherPem = keyPairPem(other.secretKey, other.publicKey)
const image = buildImage({ 'etc/motd': 'hello' }, { secVersion: 3n, secretKey: keys.secretKey, salt: new Uint8Array(32) })

/**
 * The fixture directory: `k`/`k.pub` (PEM key pair), `hex.pub` (the public key as bare hex, the
 * form keygen prints and the old format wrote for both halves), `other.pub`, `src/` (one file),
 * `empty/`, `out.img` (an image signed by `k`, version 3), `a.txt`, and hostile files.
 */
export async function makeFixtures(dir: string): Promise<void> {
  await writeFile(join(dir, 'k'), pem.secret, { mode: 0o600 })
  await writeFile(join(dir, 'k.pub'), pem.public)
  await writeFile(join(dir, 'hex.pub'), toHex(keys.publicKey) + '\n')
  await writeFile(join(dir, 'other.pub'), otherPem.public)
  // A public key under a secret key's name: told by its content.
  await writeFile(join(dir, 'signing.key'), pem.public)
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  await writeFile(join(dir, 'ec.key'), ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
  await writeFile(join(dir, 'ec.pub'), ec.publicKey.export({ type: 'spki', format: 'pem' }).toString())
  await writeFile(join(dir, 'broken.key'), '-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n')
  await writeFile(join(dir, 'ssh.key'), '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n')
  await writeFile(join(dir, 'big.key'), 'a'.repeat(100_000))
  await writeFile(join(dir, 'a.txt'), 'just text\n')
  await writeFile(join(dir, 'binary'), new Uint8Array(9000).map((_, i) => (i * 31) & 0xff))
  await mkdir(join(dir, 'src', 'etc'), { recursive: true })
  await writeFile(join(dir, 'src', 'etc', 'motd'), 'hi')
  await mkdir(join(dir, 'empty'))
  await mkdir(join(dir, 'adir'))
  await writeFile(join(dir, 'out.img'), image)
  const flipped = image.slice()
  flipped[3000] = flipped[3000]! ^ 1 // padding of the data block: only the Merkle tree notices
  await writeFile(join(dir, 'flipped.img'), flipped)
  await symlink(join(dir, 'nowhere'), join(dir, 'dangling'))
}

export interface HostileCase {
  name: string
  argv: string[]
  /** Extra setup before the run. */
  setup?: (dir: string) => Promise<void>
  code: 1 | 2
  stderr: RegExp
  /** An argv a child process cannot receive (a NUL byte): run in-process only. */
  inProcessOnly?: boolean
}

/** Every user error of issue #12 case 15, and more: one line, no stack, non-zero, nothing written. */
export const HOSTILE: HostileCase[] = [
  // keygen never overwrites a key
  { name: 'keygen over an existing secret key', argv: ['keygen', '@k'], code: 1, stderr: /^honk-mkimage: \S+\/k already exists \(--force overwrites it\)$/ },
  { name: 'keygen where only the .pub exists', argv: ['keygen', '@hex'], code: 1, stderr: /hex\.pub already exists/ },
  { name: 'keygen onto a dangling symlink', argv: ['keygen', '@dangling'], code: 1, stderr: /dangling already exists/ },
  { name: 'keygen --force where the .pub is a directory', argv: ['keygen', '@kd', '--force'], setup: async (d) => writeFile(join(d, 'kd'), 'old').then(() => mkdir(join(d, 'kd.pub'))), code: 1, stderr: /kd\.pub is a directory$/ },
  { name: 'keygen --force onto /dev/null', argv: ['keygen', '/dev/null', '--force'], code: 1, stderr: /^honk-mkimage: \/dev\/null is not a regular file \(a device, pipe or socket\); --force replaces only regular files$/ },
  { name: 'keygen under a file', argv: ['keygen', '@a.txt/k'], code: 1, stderr: /a\.txt\/k: a component of the path is not a directory$/ },
  { name: 'keygen into a missing directory', argv: ['keygen', '@nodir/k'], code: 1, stderr: /nodir\/k: no such file or directory$/ },
  { name: 'keygen without a file', argv: ['keygen'], code: 2, stderr: /keygen <key>: missing <key>/ },
  { name: 'keygen with two files', argv: ['keygen', '@x', '@y'], code: 2, stderr: /unexpected argument/ },
  { name: 'keygen --key', argv: ['keygen', '@x', '--key', '@k'], code: 2, stderr: /keygen does not take --key \(it takes --force\)/ },
  // build signs only with a secret key, told by content
  { name: 'build --key <public key>', argv: ['build', '@src', '@new.img', '--key', '@k.pub'], code: 1, stderr: /k\.pub holds a public key, not a secret one/ },
  { name: 'build --key <public key named like a secret one>', argv: ['build', '@src', '@new.img', '--key', '@signing.key'], code: 1, stderr: /signing\.key holds a public key/ },
  { name: 'build --key <bare hex>', argv: ['build', '@src', '@new.img', '--key', '@hex.pub'], code: 1, stderr: /hex\.pub holds 64 bare hex digits, which may be a public key/ },
  { name: 'build --key <P-256 key>', argv: ['build', '@src', '@new.img', '--key', '@ec.key'], code: 1, stderr: /ec\.key holds an ec key, not ed25519/ },
  { name: 'build --key <broken PEM>', argv: ['build', '@src', '@new.img', '--key', '@broken.key'], code: 1, stderr: /broken\.key: the PEM private key does not parse/ },
  { name: 'build --key <OpenSSH key>', argv: ['build', '@src', '@new.img', '--key', '@ssh.key'], code: 1, stderr: /ssh\.key is not a secret key file .*found "OPENSSH PRIVATE KEY"/ },
  { name: 'build --key <text>', argv: ['build', '@src', '@new.img', '--key', '@a.txt'], code: 1, stderr: /a\.txt is not a secret key file/ },
  { name: 'build --key <binary>', argv: ['build', '@src', '@new.img', '--key', '@binary'], code: 1, stderr: /binary is not a secret key file/ },
  { name: 'build --key <100 KB file>', argv: ['build', '@src', '@new.img', '--key', '@big.key'], code: 1, stderr: /big\.key: 100000 bytes is too large for a key file/ },
  { name: 'build --key /dev/zero (endless)', argv: ['build', '@src', '@new.img', '--key', '/dev/zero'], code: 1, stderr: /\/dev\/zero: more than 65536 bytes is too large for a key file/ },
  { name: 'build --key <directory>', argv: ['build', '@src', '@new.img', '--key', '@adir'], code: 1, stderr: /adir: is a directory, not a key file/ },
  { name: 'build --key <missing file>', argv: ['build', '@src', '@new.img', '--key', '@nokey'], code: 1, stderr: /nokey: no such file or directory$/ },
  // build never overwrites, never writes into its own source
  { name: 'build over an existing image', argv: ['build', '@src', '@out.img', '--key', '@k'], code: 1, stderr: /out\.img already exists \(--force overwrites it\)/ },
  { name: 'build over a dangling symlink', argv: ['build', '@src', '@dangling', '--key', '@k'], code: 1, stderr: /dangling already exists/ },
  { name: 'build --force onto a directory', argv: ['build', '@src', '@adir', '--key', '@k', '--force'], code: 1, stderr: /adir is a directory/ },
  { name: 'build --force onto a symlink', argv: ['build', '@src', '@link.img', '--key', '@k', '--force'], setup: (d) => symlink(join(d, 'out.img'), join(d, 'link.img')), code: 1, stderr: /link\.img is not a regular file \(a symbolic link\); --force replaces only regular files/ },
  { name: 'build --force onto a FIFO', argv: ['build', '@src', '@fifo', '--key', '@k', '--force'], setup: async (d) => void execFileSync('mkfifo', [join(d, 'fifo')]), code: 1, stderr: /fifo is not a regular file \(a device, pipe or socket\)/ },
  { name: 'build --force over its own key', argv: ['build', '@src', '@k', '--key', '@k', '--force'], code: 1, stderr: /k is the key file \S+\/k: refusing to overwrite the key with the image/ },
  { name: 'build --force over its own key by another name', argv: ['build', '@src', '@klink', '--key', '@k', '--force'], setup: (d) => symlink(join(d, 'k'), join(d, 'klink')), code: 1, stderr: /klink is the key file/ },
  { name: 'build into its own source', argv: ['build', '@src', '@src/etc/core.img', '--key', '@k'], code: 1, stderr: /src\/etc\/core\.img lies inside \S+\/src/ },
  { name: 'build onto its own source', argv: ['build', '@src', '@src', '--key', '@k', '--force'], code: 1, stderr: /lies inside/ },
  { name: 'build into a missing directory', argv: ['build', '@src', '@nodir/x.img', '--key', '@k'], code: 1, stderr: /nodir: no such file or directory$/ },
  { name: 'build from a missing directory', argv: ['build', '@nosrc', '@new.img', '--key', '@k'], code: 1, stderr: /nosrc: no such file or directory$/ },
  { name: 'build from a file', argv: ['build', '@a.txt', '@new.img', '--key', '@k'], code: 1, stderr: /a\.txt: not a directory/ },
  { name: 'build from an empty directory', argv: ['build', '@empty', '@new.img', '--key', '@k'], code: 1, stderr: /empty holds no files/ },
  // build's command line
  { name: 'build --version abc', argv: ['build', '@src', '@new.img', '--key', '@k', '--version', 'abc'], code: 2, stderr: /--version "abc" is not a whole number from 0 to 2\^64-1/ },
  { name: 'build --version -1', argv: ['build', '@src', '@new.img', '--key', '@k', '--version=-1'], code: 2, stderr: /--version "-1" is not a whole number/ },
  { name: 'build --version 1e3', argv: ['build', '@src', '@new.img', '--key', '@k', '--version', '1e3'], code: 2, stderr: /--version "1e3"/ },
  { name: 'build --version 0x10', argv: ['build', '@src', '@new.img', '--key', '@k', '--version', '0x10'], code: 2, stderr: /--version "0x10"/ },
  { name: 'build --version " 7"', argv: ['build', '@src', '@new.img', '--key', '@k', '--version', ' 7'], code: 2, stderr: /--version " 7"/ },
  { name: 'build --version 2^64', argv: ['build', '@src', '@new.img', '--key', '@k', '--version', '18446744073709551616'], code: 2, stderr: /--version "18446744073709551616"/ },
  { name: 'build --version twice', argv: ['build', '@src', '@new.img', '--key', '@k', '--version', '2', '--version', '3'], code: 2, stderr: /--version is given twice/ },
  { name: 'build --verison (typo)', argv: ['build', '@src', '@new.img', '--key', '@k', '--verison', '2'], code: 2, stderr: /^honk-mkimage: unknown option --verison \(did you mean --version\?\)$/ },
  { name: 'build --force=yes', argv: ['build', '@src', '@new.img', '--key', '@k', '--force=yes'], code: 2, stderr: /--force/ },
  { name: 'build -k (unknown short flag)', argv: ['build', '@src', '@new.img', '-k', '@k'], code: 2, stderr: /unknown option -k/ },
  { name: 'build --key without a value', argv: ['build', '@src', '@new.img', '--key'], code: 2, stderr: /--key/ },
  { name: 'build --key followed by a flag', argv: ['build', '@src', '@new.img', '--key', '--force'], code: 2, stderr: /--key/ },
  { name: 'build --key=""', argv: ['build', '@src', '@new.img', '--key='], code: 2, stderr: /--key is empty/ },
  { name: 'build without --key', argv: ['build', '@src', '@new.img'], code: 2, stderr: /build needs --key/ },
  { name: 'build with flags before a missing argument', argv: ['build', '--key', '@k', '@src'], code: 2, stderr: /build <dir> <out>: missing <out>/ },
  { name: 'build with a third argument', argv: ['build', '@src', '@new.img', '@more', '--key', '@k'], code: 2, stderr: /unexpected argument/ },
  { name: 'build --pub', argv: ['build', '@src', '@new.img', '--key', '@k', '--pub', '@k.pub'], code: 2, stderr: /build does not take --pub/ },
  { name: 'build --compatible of 33 bytes', argv: ['build', '@src', '@new.img', '--key', '@k', '--compatible', 'x'.repeat(33)], code: 2, stderr: /--compatible "x{33}" must be at most 32 bytes/ },
  { name: 'build --compatible with a NUL', argv: ['build', '@src', '@new.img', '--key', '@k', '--compatible', 'a\u0000b'], inProcessOnly: true, code: 2, stderr: /--compatible/ },
  // verify
  { name: 'verify --pub <garbage>', argv: ['verify', '@out.img', '--pub', '@a.txt'], code: 1, stderr: /a\.txt is not a public key file/ },
  { name: 'verify --pub <binary>', argv: ['verify', '@out.img', '--pub', '@binary'], code: 1, stderr: /binary is not a public key file/ },
  { name: 'verify --pub <short hex>', argv: ['verify', '@out.img', '--pub', '@short.pub'], setup: (d) => writeFile(join(d, 'short.pub'), 'abcd\n'), code: 1, stderr: /short\.pub is not a public key file/ },
  { name: 'verify --pub <P-256 public key>', argv: ['verify', '@out.img', '--pub', '@ec.pub'], code: 1, stderr: /ec\.pub holds an ec key, not ed25519/ },
  { name: 'verify --pub <secret key>', argv: ['verify', '@out.img', '--pub', '@k'], code: 1, stderr: /k holds a secret key: --pub takes the public key/ },
  { name: 'verify --pub <missing file>', argv: ['verify', '@out.img', '--pub', '@nopub'], code: 1, stderr: /nopub: no such file or directory$/ },
  { name: 'verify --pub <directory>', argv: ['verify', '@out.img', '--pub', '@adir'], code: 1, stderr: /adir: is a directory/ },
  { name: 'verify --pub <another key>', argv: ['verify', '@out.img', '--pub', '@other.pub'], code: 1, stderr: /out\.img: image signature check failed/ },
  { name: 'verify a corrupted image', argv: ['verify', '@flipped.img', '--pub', '@k.pub'], code: 1, stderr: /flipped\.img: image merkle check failed/ },
  { name: 'verify below the floor', argv: ['verify', '@out.img', '--pub', '@k.pub', '--floor', '4'], code: 1, stderr: /image rollback check failed/ },
  { name: 'verify --floor abc', argv: ['verify', '@out.img', '--pub', '@k.pub', '--floor', 'abc'], code: 2, stderr: /--floor "abc" is not a whole number/ },
  { name: 'verify --compatible other', argv: ['verify', '@out.img', '--pub', '@k.pub', '--compatible', 'other'], code: 1, stderr: /image compatible check failed/ },
  { name: 'verify a missing image', argv: ['verify', '@none.img', '--pub', '@k.pub'], code: 1, stderr: /none\.img: no such file or directory$/ },
  { name: 'verify a directory', argv: ['verify', '@adir', '--pub', '@k.pub'], code: 1, stderr: /adir: is a directory, not an image/ },
  { name: 'verify /dev/zero (endless)', argv: ['verify', '/dev/zero', '--pub', '@k.pub'], code: 1, stderr: /\/dev\/zero: not a regular file or block device/ },
  { name: 'verify a FIFO', argv: ['verify', '@fifo', '--pub', '@k.pub'], setup: async (d) => void execFileSync('mkfifo', [join(d, 'fifo')]), code: 1, stderr: /fifo: not a regular file or block device/ },
  { name: 'verify a text file', argv: ['verify', '@a.txt', '--pub', '@k.pub'], code: 1, stderr: /a\.txt: 10 bytes is too short for an image/ },
  { name: 'verify random bytes', argv: ['verify', '@binary', '--pub', '@k.pub'], code: 1, stderr: /binary: image format check failed/ },
  { name: 'verify without --pub', argv: ['verify', '@out.img'], code: 2, stderr: /verify needs --pub/ },
  { name: 'verify --key', argv: ['verify', '@out.img', '--key', '@k'], code: 2, stderr: /verify does not take --key/ },
  // inspect
  { name: 'inspect random bytes', argv: ['inspect', '@binary'], code: 1, stderr: /binary: image format check failed/ },
  { name: 'inspect a missing file', argv: ['inspect', '@none.img'], code: 1, stderr: /none\.img: no such file or directory$/ },
  { name: 'inspect --force', argv: ['inspect', '@out.img', '--force'], code: 2, stderr: /inspect does not take --force$/ },
  // the command itself
  { name: 'no command', argv: [], code: 2, stderr: /no command given/ },
  { name: 'unknown command', argv: ['sign', '@x'], code: 2, stderr: /unknown command "sign"/ },
  { name: 'a flag alone', argv: ['--verison'], code: 2, stderr: /unknown option --verison \(did you mean --version\?\)/ },
  { name: 'a path with a newline and an escape sequence', argv: ['inspect', '@new\nline\u001b[31m.img'], code: 1, stderr: /new\\nline\\x1b\[31m\.img: no such file or directory$/ },
  { name: 'an option value with a newline', argv: ['build', '@src', '@new.img', '--key', '@k', '--version', '1\n2'], code: 2, stderr: /--version "1\\n2" is not a whole number/ },
  { name: 'an empty argument', argv: ['inspect', ''], code: 2, stderr: /an argument is empty/ },
]

/** The argv of a case with "@" paths resolved in `dir`. */
export function resolveArgv(argv: string[], dir: string): string[] {
  return argv.map((a) => (a.startsWith('@') ? join(dir, a.slice(1)) : a))
}

/** Every path under `dir` with its type, mode and content: equal before and after a refused run. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = join(rel, name)
      const st = await lstat(join(dir, path))
      if (st.isDirectory()) {
        out[path] = `dir ${st.mode.toString(8)}`
        await walk(path)
      } else if (st.isSymbolicLink()) out[path] = `link ${await readlink(join(dir, path))}`
      else if (!st.isFile()) out[path] = `special ${st.mode.toString(8)}` // never opened: a FIFO would block
      else out[path] = `file ${st.mode.toString(8)} ${(st.mode & 0o400) === 0 ? '(unreadable)' : createHash('sha256').update(await readFile(join(dir, path))).digest('hex')}`
    }
  }
  await walk('')
  return out
}
