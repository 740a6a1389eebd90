/**
 * The hostile-input suite of the two command lines (issue 12, case 14 and the `--state` half of
 * case 11): each bad flag, config file or path gives exactly one line on stderr, no stack trace,
 * a non-zero exit code, and leaves no file behind — and it does so at once (a hang fails the
 * test's timeout).
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { FileBlockDevice } from '@honk/block/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main as virtMain } from './cli.js'
import { honkMain } from './honk-cli.js'

/** Every path under `dir` with its kind and size: what "no files left behind" compares. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name)
    out.push(`${p.slice(dir.length)} ${e.isDirectory() ? 'dir' : (await stat(p)).size}`)
  }
  return out.sort()
}

function io() {
  const stdin = new PassThrough() as unknown as NodeJS.ReadStream
  ;(stdin as unknown as PassThrough).end()
  let stdout = ''
  let stderr = ''
  return {
    io: {
      stdin,
      stdout: { write: (c: string | Uint8Array) => ((stdout += typeof c === 'string' ? c : new TextDecoder().decode(c)), true) } as unknown as NodeJS.WritableStream,
      stderr: { write: (c: string | Uint8Array) => ((stderr += typeof c === 'string' ? c : new TextDecoder().decode(c)), true) } as unknown as NodeJS.WritableStream,
    },
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
  }
}

/** The contract every refused run keeps. */
function expectOneLineRefusal(r: { code: number; stderr: string }, prefix: string, want: RegExp, code?: number) {
  expect(r.stderr.endsWith('\n'), r.stderr).toBe(true)
  expect(r.stderr.slice(0, -1), r.stderr).not.toContain('\n')
  expect(r.stderr.startsWith(`${prefix}: `), r.stderr).toBe(true)
  expect(r.stderr).not.toMatch(/\n\s+at |Error: |node:internal/)
  expect(r.stderr).toMatch(want)
  expect(r.code).not.toBe(0)
  if (code !== undefined) expect(r.code).toBe(code)
}

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'honk-hostile-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A fresh working directory per case, with the fixtures the case needs. */
async function workdir(name: string, files: Record<string, string | null> = {}): Promise<string> {
  const dir = join(root, name.replace(/[^a-z0-9]+/gi, '_'))
  await mkdir(dir)
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(dir, p, content === null ? '' : '..'), { recursive: true })
    if (content !== null) await writeFile(join(dir, p), content)
  }
  return dir
}

/** Whether creating a file under `dir` is refused (true for /sys/fs even for root). */
async function unwritable(dir: string): Promise<boolean> {
  try {
    await (await open(join(dir, '.honk-probe'), 'wx')).close()
    await rm(join(dir, '.honk-probe'))
    return false
  } catch {
    return existsSync(dir)
  }
}

type Case = [name: string, argv: string[], want: RegExp, files?: Record<string, string | null>, code?: number]

const START_CASES: Case[] = [
  ['--mem 99999G', ['--mem', '99999G'], /--mem 99999G: at most 4G/, {}, 2],
  ['--mem 32M', ['--mem', '32M'], /at least 64M/, {}, 2],
  ['--mem 65M (not whole 2M blocks)', ['--mem', '65M'], /2M blocks/, {}, 2],
  ['--mem lots', ['--mem', 'lots'], /"lots" is not a size/, {}, 2],
  ['--smp 0', ['--smp', '0'], /--smp 0: 1 to 8 harts/, {}, 2],
  ['--smp 1.5', ['--smp', '1.5'], /--smp 1.5/, {}, 2],
  ['--smp with no value', ['--smp'], /--smp/, {}, 2],
  ['an unknown flag', ['--verison'], /--verison/, {}, 2],
  ['--firmware uefi', ['--firmware', 'uefi'], /--firmware uefi: builtin or opensbi/, {}, 2],
  ['--disk-size 0', ['--disk-size', '0'], /--disk-size 0: a disk needs at least 4M/, {}, 2],
  ['--disk-size 1K', ['--disk-size', '1K'], /--disk-size 1K: a disk needs at least 4M/, {}, 2],
  ['--disk-size 99999999G', ['--disk-size', '99999999G'], /at most 1024G/, {}, 2],
  ['--state naming a file', ['--state', 'afile'], /--state .*afile: not a directory/, { afile: 'x' }, 2],
  ['--state /proc/honk (Node\'s recursive mkdir would loop)', ['--state', '/proc/honk'], /--state \/proc\/honk: cannot create the folder/, {}, 2],
  ['--state under a missing parent', ['--state', 'no/such/dir'], /its parent folder .* does not exist/, {}, 2],
  ['--state ""', ['--state', ''], /--state: an empty path/, {}, 2],
  ['a disk.img that is a directory', ['--state', 'st'], /disk\.img: not a disk image \(a directory\)/, { 'st/disk.img': null }, 2],
  ['--share naming a file', ['--share', 'afile'], /--share .*afile: not a directory/, { afile: 'x' }, 2],
  ['--share naming a folder that does not exist (a typo)', ['--share', 'shaer'], /--share .*shaer: no such directory/, {}, 2],
  ['--input missing', ['--input', 'nope.txt'], /--input .*nope\.txt: no such file or directory/, {}, 2],
  ['--input a directory', ['--input', 'adir'], /--input .*adir: is a directory/, { adir: null }, 2],
  ['--config missing', ['--config', 'nope.json'], /config .*nope\.json: no such file or directory/, {}, 2],
  ['honk.json of null', [], /honk\.json: must be a JSON object .*not null/, { 'honk.json': 'null' }, 2],
  ['honk.json of an array', [], /must be a JSON object/, { 'honk.json': '[1]' }, 2],
  ['honk.json that is broken', [], /honk\.json: /, { 'honk.json': '{"smp":' }, 2],
  ['honk.json {"smp":true}', [], /"smp" must be a number or string, not true/, { 'honk.json': '{"smp":true}' }, 2],
  ['honk.json {"no-disk":"yes"}', [], /"no-disk" must be a boolean, not "yes"/, { 'honk.json': '{"no-disk":"yes"}' }, 2],
  ['honk.json {"mem":{}}', [], /"mem" must be a string or number/, { 'honk.json': '{"mem":{}}' }, 2],
  ['honk.json {"smp":9}', [], /--smp 9: 1 to 8 harts/, { 'honk.json': '{"smp":9}' }, 2],
  ['honk.json {"share":"missing"}', [], /--share .*missing: no such directory/, { 'honk.json': '{"share":"missing"}' }, 2],
  ['honk.json with an unknown key', [], /unknown key "cores"/, { 'honk.json': '{"cores":2}' }, 2],
  ['honk.json {"config":"x"}', [], /unknown key "config"/, { 'honk.json': '{"config":"x"}' }, 2],
  // Keys that name Object.prototype members: looked up as config types, they were the internal
  // error "types.includes is not a function" (exit 1).
  ['honk.json {"__proto__":{}}', [], /unknown key "__proto__"/, { 'honk.json': '{"__proto__":{"smp":1}}' }, 2],
  ['honk.json {"constructor":1}', [], /unknown key "constructor"/, { 'honk.json': '{"constructor":1}' }, 2],
  ['honk.json {"toString":"x"}', [], /unknown key "toString"/, { 'honk.json': '{"toString":"x"}' }, 2],
  // An endless file was read whole: the process died in C++ (std::bad_alloc, exit 134).
  ['--config /dev/zero (endless)', ['--config', '/dev/zero'], /config \/dev\/zero: larger than 1M/, {}, 2],
]

describe('pnpm start under bad flags, config files and paths: one line, non-zero, nothing left behind', () => {
  for (const [name, argv, want, files, code] of START_CASES) {
    it(name, async () => {
      const cwd = await workdir(`start ${name}`, files)
      const before = await snapshot(cwd)
      const t = io()
      const r = { code: await honkMain(argv, t.io, cwd), stderr: t.stderr }
      expectOneLineRefusal(r, 'honk', want, code)
      expect(await snapshot(cwd)).toEqual(before)
      expect(existsSync('/proc/honk')).toBe(false)
    }, 10_000)
  }

  it.skipIf(!existsSync('/sys/fs'))('an unwritable state folder (/sys/fs)', async () => {
    if (!(await unwritable('/sys/fs'))) return
    const cwd = await workdir('start unwritable')
    const t = io()
    const r = { code: await honkMain(['--state', '/sys/fs', '--share', 'none'], t.io, cwd), stderr: t.stderr }
    expectOneLineRefusal(r, 'honk', /\/sys\/fs\/disk\.img: cannot create the disk image: permission denied/, 2)
    expect(existsSync('/sys/fs/disk.img')).toBe(false)
  })

  it('a config too big to echo: the one line quotes the start of it, not 3 MB (the whole value was echoed)', async () => {
    const cwd = await workdir('start huge config', { 'honk.json': '[' + '1,'.repeat(400_000) + '1]', 'big.json': `{${JSON.stringify('k'.repeat(100_000))}:1}` })
    for (const argv of [[], ['--config', 'big.json']]) {
      const t = io()
      const r = { code: await honkMain(argv, t.io, cwd), stderr: t.stderr }
      expectOneLineRefusal(r, 'honk', argv.length ? /unknown key "kkkk.*…/ : /must be a JSON object like \{"smp": 2\}, not \[1,1,.*…/, 2)
      expect(r.stderr.length).toBeLessThan(400)
    }
  })

  it('a disk another process holds: the lock error is one line naming the image (exit 1)', async () => {
    const cwd = await workdir('start locked', { 'st/x': 'x' })
    const holder = await FileBlockDevice.open(join(cwd, 'st', 'disk.img'), { blockSize: 512, blockCount: 8192 })
    try {
      const before = await snapshot(cwd)
      const t = io()
      const r = { code: await honkMain(['--state', 'st', '--share', 'none'], t.io, cwd), stderr: t.stderr }
      expectOneLineRefusal(r, 'honk', /disk\.img/, 1)
      expect(await snapshot(cwd)).toEqual(before)
    } finally {
      await holder.close()
    }
  })

  it('a disk image too small for honk is refused, and a fresh one it created is removed', async () => {
    const cwd = await workdir('start small disk', { 'st/disk.img': 'tiny' })
    const before = await snapshot(cwd)
    const t = io()
    const r = { code: await honkMain(['--state', 'st', '--share', 'none'], t.io, cwd), stderr: t.stderr }
    expectOneLineRefusal(r, 'honk', /disk\.img: 0 blocks of 512 bytes, too small for honk/, 2)
    expect(await snapshot(cwd)).toEqual(before)
  })
})

const VIRT_CASES: Case[] = [
  ['no arguments', [], /--kernel is required/, {}, 2],
  ['--kernel missing', ['--kernel', 'nope'], /--kernel nope: no such file or directory/, {}, 1],
  ['--kernel a directory', ['--kernel', 'adir'], /--kernel adir: is a directory/, { adir: null }, 1],
  ['--initrd missing', ['--kernel', 'k', '--initrd', 'nope'], /--initrd nope: no such file/, { k: 'k' }, 1],
  ['--bios missing', ['--bios', 'nope.bin'], /--bios nope\.bin: no such file/, {}, 1],
  ['--share /nonexistent', ['--kernel', 'k', '--share', '/nonexistent'], /--share \/nonexistent: no such file or directory/, { k: 'k' }, 1],
  ['--share a file', ['--kernel', 'k', '--share', 'k'], /--share k: not a directory/, { k: 'k' }, 1],
  ['--drive missing', ['--kernel', 'k', '--drive', 'nope.img'], /nope\.img/, { k: 'k' }, 1],
  ['--mem 99999G', ['--kernel', 'k', '--mem', '99999G'], /--mem 99999G: 16M to 4G/, { k: 'k' }, 2],
  ['--mem 8M', ['--kernel', 'k', '--mem', '8M'], /--mem 8M/, { k: 'k' }, 2],
  ['--smp 9', ['--kernel', 'k', '--smp', '9'], /--smp 9: 1 to 8 harts/, { k: 'k' }, 2],
  ['--clock sundial', ['--kernel', 'k', '--clock', 'sundial'], /--clock sundial/, { k: 'k' }, 2],
  ['an unknown flag', ['--kernel', 'k', '--frobnicate'], /--frobnicate/, { k: 'k' }, 2],
  ['-bios (one dash, QEMU style) naming a missing file', ['-bios', 'nope.bin'], /--bios nope\.bin: no such file/, {}, 1],
  ['-netdev without a NIC (QEMU would leave it unused)', ['-kernel', 'k', '-netdev', 'user,id=n0'], /-netdev user,id=n0: no -device virtio-net-device,netdev=n0 attaches it/, { k: 'k' }, 2],
  ['a kernel larger than RAM', ['--kernel', 'big', '--mem', '16M'], /kernel .* does not fit in 16 MiB of RAM/, { big: 'x'.repeat(17 << 20) }, 1],
]

describe('honk-virt under bad flags and paths: one line, non-zero, nothing left behind', () => {
  for (const [name, argv, want, files, code] of VIRT_CASES) {
    it(name, async () => {
      const cwd = await workdir(`virt ${name}`, files)
      const before = await snapshot(cwd)
      const t = io()
      const prev = process.cwd()
      process.chdir(cwd)
      let r
      try {
        r = { code: await virtMain(argv, t.io), stderr: t.stderr }
      } finally {
        process.chdir(prev)
      }
      expectOneLineRefusal(r, 'honk-virt', want, code)
      expect(await snapshot(cwd)).toEqual(before)
      expect(existsSync('/nonexistent')).toBe(false)
    }, 10_000)
  }

  it('a drive another process holds: the lock error is one line (exit 1)', async () => {
    const cwd = await workdir('virt locked', { k: 'k' })
    const holder = await FileBlockDevice.open(join(cwd, 'd.img'), { blockSize: 512, blockCount: 64 })
    const prev = process.cwd()
    process.chdir(cwd)
    try {
      const t = io()
      const r = { code: await virtMain(['--kernel', 'k', '--drive', 'd.img'], t.io), stderr: t.stderr }
      expectOneLineRefusal(r, 'honk-virt', /d\.img/, 1)
    } finally {
      process.chdir(prev)
      await holder.close()
    }
  })
})
