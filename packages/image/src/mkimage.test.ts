/**
 * `honk-mkimage` through its exported `main` with injected stdio (issue #12 case 15): every
 * user error is one line on stderr, no stack trace, a non-zero exit code, and not one byte of
 * the directory changes; the working paths do what they say. The same table runs through a
 * real child process in mkimage.system.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SoftwareAnchor, verifyImage } from './index.js'
import { HOSTILE, makeFixtures, resolveArgv, snapshot } from './mkimage.test-helpers.js'
import { USAGE, main, parseCommand, parsePublicKey, parseSecretKey, removeIncomplete, writeFiles } from './mkimage.js'
import { nodeHasher } from './node.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'honk-mkimage-'))
  await makeFixtures(dir)
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(resolveArgv(argv, dir), { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) })
  return { code, stdout, stderr }
}

describe('honk-mkimage: hostile input (one line, no stack, non-zero, nothing written)', () => {
  it.each(HOSTILE.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    await c.setup?.(dir)
    const before = await snapshot(dir)
    const r = await run(c.argv)
    expect(r.code, r.stderr).toBe(c.code)
    expect(r.stdout).toBe('')
    expect(r.stderr.endsWith('\n')).toBe(true)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(r.stderr).not.toMatch(/^\s+at |Error:|node:internal/m)
    expect(r.stderr.trimEnd()).toMatch(c.stderr)
    expect(await snapshot(dir)).toEqual(before)
  })
})

describe('honk-mkimage: what works', () => {
  it('keygen writes a PEM key pair (secret 0600) that openssl-style parsers read back', async () => {
    const r = await run(['keygen', '@new'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^honk-mkimage: wrote \S+\/new \(secret\) and \S+\/new\.pub \(public key [0-9a-f]{64}\)\n$/)
    expect((await stat(join(dir, 'new'))).mode & 0o777).toBe(0o600)
    const secret = await readFile(join(dir, 'new'), 'utf8')
    const pub = await readFile(join(dir, 'new.pub'), 'utf8')
    expect(secret).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----\n/)
    expect(parseSecretKey(secret, 'new')).toHaveLength(32)
    expect(r.stdout).toContain(Buffer.from(parsePublicKey(pub, 'new.pub')).toString('hex'))
  })

  it('keygen --force replaces a key pair with a fresh inode (0600 even over a 0644 file)', async () => {
    await chmod(join(dir, 'k'), 0o644)
    const old = await readFile(join(dir, 'k'), 'utf8')
    const r = await run(['keygen', '@k', '--force'])
    expect(r.code, r.stderr).toBe(0)
    expect(await readFile(join(dir, 'k'), 'utf8')).not.toBe(old)
    expect((await stat(join(dir, 'k'))).mode & 0o777).toBe(0o600)
  })

  it('build with flags before the arguments, then verify with the PEM and the hex public key', async () => {
    const b = await run(['build', '--key', '@k', '--version', '7', '--compatible', 'board-x', '@src', '@new.img'])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stdout).toMatch(/^honk-mkimage: \S+\/src -> \S+\/new\.img \(1 files, \d+ bytes, version 7\)\n$/)
    const img = new Uint8Array(await readFile(join(dir, 'new.img')))
    const pub = parsePublicKey(await readFile(join(dir, 'k.pub'), 'utf8'), 'k.pub')
    expect((await verifyImage(img, new SoftwareAnchor(pub), { hasher: nodeHasher, compatible: 'board-x' })).secVersion).toBe(7n)
    for (const key of ['@k.pub', '@hex.pub']) {
      const v = await run(['verify', '--floor', '7', '--pub', key, '@new.img', '--compatible', 'board-x'])
      expect(v.code, v.stderr).toBe(0)
      expect(v.stdout).toMatch(/verified: version 7, \d+ entries, root [0-9a-f]{64}/)
    }
    const i = await run(['inspect', '@new.img'])
    expect(i.stdout).toMatch(/^version\s+7$/m)
    expect(i.stdout).toMatch(/^compatible\s+board-x$/m)
  })

  it('build --force replaces an existing image and leaves no temporary file', async () => {
    const before = await readFile(join(dir, 'out.img'))
    const r = await run(['build', '@src', '@out.img', '--key', '@k', '--force', '--version', '9'])
    expect(r.code, r.stderr).toBe(0)
    expect(Buffer.compare(before, await readFile(join(dir, 'out.img')))).not.toBe(0)
    expect(Object.keys(await snapshot(dir)).filter((p) => p.includes('.tmp-'))).toEqual([])
  })

  it('--help and help print the usage on stdout', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['build', '--help']]) {
      const r = await run(argv)
      expect(r).toEqual({ code: 0, stdout: USAGE + '\n', stderr: '' })
    }
  })

  it('parseCommand: defaults and strictness', () => {
    expect(parseCommand(['build', 'd', 'o', '--key', 'k'])).toEqual({ command: 'build', args: ['d', 'o'], key: 'k', version: 1n, floor: 0n, force: false })
    expect(parseCommand(['verify', 'i', '--pub=p', '--floor', '18446744073709551615'])).toMatchObject({ floor: (1n << 64n) - 1n })
    expect(() => parseCommand(['inspect', 'i', '--', '--x'])).toThrow(/unexpected argument "--x"/)
    // A value starting with a dash: one line naming the option and the value, not node:util's three.
    expect(() => parseCommand(['build', 'd', 'o', '--key', 'k', '--version', '-1'])).toThrow(/^--version needs a value: the next argument, "-1", starts with a dash \(write --version=-1 if it is the value\)$/)
    expect(() => parseCommand(['build', 'd', 'o', '--key', 'k', '--version=-1'])).toThrow(/--version "-1" is not a whole number/)
  })

  it('writeFiles with force is all or nothing: when the second file cannot be placed, the first is put back as it was (never a new secret key beside the old public key)', async () => {
    await writeFile(join(dir, 'pair'), 'old secret', { mode: 0o600 })
    const before = await stat(join(dir, 'pair'))
    await mkdir(join(dir, 'pair.pub')) // appeared after keygen's check: nothing can be renamed over it
    await expect(writeFiles([{ path: join(dir, 'pair'), data: 'new secret', mode: 0o600 }, { path: join(dir, 'pair.pub'), data: 'new public', mode: 0o644 }], true)).rejects.toThrow(/pair\.pub/)
    expect(await readFile(join(dir, 'pair'), 'utf8')).toBe('old secret')
    expect((await stat(join(dir, 'pair'))).ino).toBe(before.ino) // the old file itself, put back
    expect(Object.keys(await snapshot(dir)).filter((p) => p.includes('pair')).sort()).toEqual(['pair', 'pair.pub']) // the directory, and no .tmp- or .old- file
    // And when both can be placed, both are new and nothing else is left.
    await rm(join(dir, 'pair.pub'), { recursive: true })
    await writeFile(join(dir, 'pair.pub'), 'old public')
    await writeFiles([{ path: join(dir, 'pair'), data: 'new secret', mode: 0o600 }, { path: join(dir, 'pair.pub'), data: 'new public', mode: 0o644 }], true)
    expect([await readFile(join(dir, 'pair'), 'utf8'), await readFile(join(dir, 'pair.pub'), 'utf8')]).toEqual(['new secret', 'new public'])
    expect(Object.keys(await snapshot(dir)).filter((p) => p.includes('pair')).sort()).toEqual(['pair', 'pair.pub'])
  })

  it('writeFiles is all or nothing: a name taken after the check fails the write, and the file already placed is removed', async () => {
    // keygen checks both names first; if the .pub appears in between, link(2) refuses it.
    await writeFile(join(dir, 'race.pub'), 'someone else')
    await expect(writeFiles([{ path: join(dir, 'race'), data: 'secret', mode: 0o600 }, { path: join(dir, 'race.pub'), data: 'public', mode: 0o644 }], false)).rejects.toThrow(/race\.pub already exists/)
    expect(await readFile(join(dir, 'race.pub'), 'utf8')).toBe('someone else')
    await expect(stat(join(dir, 'race'))).rejects.toThrow(/ENOENT/)
    expect(Object.keys(await snapshot(dir)).filter((p) => p.includes('race'))).toEqual(['race.pub'])
  })
  it('an interrupt after any number of event-loop turns leaves nothing or the complete files, and nothing appears after it', async () => {
    // The CLI's signal handler calls removeIncomplete() and exits. To model the exit, the main
    // thread is then blocked (no continuation of writeFiles runs) while anything still in
    // flight on the thread pool finishes; only then is the directory read. An asynchronous
    // open(2) in flight once created its temporary after the handler had "removed everything".
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff)
    const files = (d: string) => [
      { path: join(d, 'out.img'), data: big, mode: 0o644 },
      { path: join(d, 'out.img.sig'), data: 'signature', mode: 0o644 },
    ]
    const turn = () => new Promise<void>((r) => setImmediate(r))
    const outcomes = new Set<string>()
    for (let turns = 0; turns <= 60; turns++) {
      const d = join(dir, `interrupt-${turns}`)
      await mkdir(d)
      const write = writeFiles(files(d), false)
      let finished = false
      void write.then(() => (finished = true), () => undefined)
      for (let i = 0; i < turns; i++) await turn()
      removeIncomplete()
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30) // the "exited" process: only the thread pool runs
      const names = readdirSync(d).sort()
      if (finished) expect(names).toEqual(['out.img', 'out.img.sig'])
      else expect(names, `interrupted after ${turns} turns`).toEqual([])
      if (names.length) expect(readFileSync(join(d, 'out.img')).equals(big)).toBe(true)
      outcomes.add(names.length ? 'complete' : 'nothing')
      await write.catch(() => undefined)
    }
    expect(outcomes.has('nothing')).toBe(true)
  })
})
