/**
 * honk boots (issue #7 acceptance): the Go honk's boot tests for M0–M5 and M8 (inventory §2.4,
 * §4: phase-a M0/M1/M2 and smoke A, P, H, B, R, S1, S2), adapted to this machine — the
 * TypeScript kernel on the virt machine, under the TypeScript SBI and under Debian's OpenSBI.
 * Assertions are substrings of the console log, as in honk's scripts.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, mkdir, rm, writeFile as writeHostFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { MemoryBlockDevice, type BlockDevice } from '@honk/block'
import { MemoryFS, type FS } from '@honk/vfs'
import { describe, expect, it } from 'vitest'
import { OPENSBI_FW_JUMP } from './guest.js'
import { createHonk } from './honk.js'
import { buildCoreImage, coreAnchor, factoryImage } from './factory-core.js'
import { layoutDisk } from '@honk/kernel'
import { ConsoleSession } from './session.js'

const MiB = 1 << 20

interface Boot {
  harts?: number
  memory?: number
  firmware?: 'builtin' | 'opensbi'
  disk?: BlockDevice
  share?: FS
}

/** Boots honk, types each line after a prompt, and returns the whole console log once the machine stops. */
async function session(boot: Boot, lines: readonly string[]): Promise<{ log: string; exit: unknown }> {
  const console = new ConsoleSession()
  const honk = createHonk({
    harts: boot.harts ?? 4,
    memory: boot.memory ?? 256 * MiB,
    firmware: boot.firmware ?? 'builtin',
    ...(boot.disk ? { disk: boot.disk } : {}),
    ...(boot.share ? { share: { fs: boot.share, tag: 'host' } } : {}),
    consoleOut: console.out,
    factory: factoryImage(),
    anchor: coreAnchor(),
  })
  console.start(honk.machine)
  try {
    for (const line of lines) {
      await console.waitFor('honk> ', 60_000)
      console.send(line + '\n')
    }
    const exit = await console.exit
    return { log: console.text, exit }
  } finally {
    honk.machine.stop()
    await honk.close()
  }
}

const disk = () => new MemoryBlockDevice(32768, 512) // 16 MiB, as honk's test disks

function expectAll(log: string, wants: readonly string[]): void {
  for (const w of wants) expect(log, `console log lacks ${JSON.stringify(w)}`).toContain(w)
}

describe('honk boots (M0: boot + SMP)', () => {
  for (const harts of [1, 4, 8]) {
    it(`-smp ${harts}: boot lines, harts, clean shutdown`, async () => {
      const { log, exit } = await session({ harts }, ['harts', 'exit'])
      expectAll(log, ['honk: entered main', 'honk: HS-mode boot ok  hart=0  dtb=0x', `honk: SMP up  harts=${harts}`, `harts: ${harts} online`, "honk: shell ready (type 'help')", 'honk: shutting down'])
      expect(log).toContain(harts > 1 ? `honk: SMP OK - IPIs answered on ${harts}/${harts} harts` : 'honk: SMP single-hart')
      expect(log).not.toContain('FATAL')
      expect(exit).toEqual({ reason: 'poweroff', code: 0 })
    })
  }

  it.skipIf(!existsSync(OPENSBI_FW_JUMP))('under Debian OpenSBI fw_jump with 4 harts: HSM start, IPIs, storage, shutdown through SRST', async () => {
    const { log, exit } = await session({ harts: 4, firmware: 'opensbi', disk: disk() }, ['harts', 'blk', 'exit'])
    expectAll(log, ['OpenSBI', 'honk: HS-mode boot ok  hart=0', 'honk: SMP up  harts=4', 'honk: SMP OK - IPIs answered on 4/4 harts [0 1 2 3]', 'honk: storage = virtio-blk, 32768 blocks x 512 bytes', 'blk: read/write self-test OK', 'honk: shutting down'])
    expect(exit).toEqual({ reason: 'poweroff', code: 0 })
  })

  for (const mib of [256, 1024]) {
    it(`-m ${mib}M: the device tree's RAM reaches the kernel`, async () => {
      const { log } = await session({ memory: mib * MiB }, ['mem', 'exit'])
      expectAll(log, [`ram=${mib}MiB@0x80000000`, 'honk: shell ready', `mem: ram=${mib}MiB`, 'honk: shutting down'])
    })
  }
})

describe('honk console and shell (M1, M2)', () => {
  it('line editing: "ec", DEL, "cho phase-a-ok" runs echo; unknown commands are named', async () => {
    const { log } = await session({ harts: 1 }, ['ec\x7fcho phase-a-ok', 'bogus-cmd-xyz', 'exit'])
    expectAll(log, ['phase-a-ok', 'unknown command: "bogus-cmd-xyz"', 'honk: shutting down'])
    expect(log).not.toContain('phase-a-okc')
  })

  it('fault: a real breakpoint exception reaches the trap handler, which reports it and powers off', async () => {
    const { log, exit } = await session({ harts: 1 }, ['fault'])
    expectAll(log, ['fault: raising a supervisor exception', 'honk: FATAL supervisor trap', 'scause=0x0000000000000003', 'sepc=0x', 'stval=0x'])
    // A FATAL error is a failure: the test device's FINISHER_FAIL ends the machine with code 1 (issue 12, case 14).
    expect(exit).toEqual({ reason: 'poweroff', code: 1 })
  })

  it('processes: run, ps, kill, crash (contained), reap, stress', async () => {
    const { log } = await session({ harts: 2 }, ['run', 'ps', 'kill 2', 'kill 2', 'kill 999', 'crash', 'echo after-crash-alive', 'reap', 'stress 8', 'exit'])
    expectAll(log, ['spawned PID 2 (worker)', 'worker', 'console', 'init', 'killed PID 2', 'PID 2 not running', 'PID 999 not running', 'crasher', 'kernel survives', 'after-crash-alive', 'reaped', "stress: 8 processes ran across 2 harts (hart 0: 4 on the kernel's event loop; hart 1: 4 on its own thread), reaped", 'honk: shutting down'])
    expect(log).not.toContain('FATAL')
  })
})

describe('honk storage (M3, M4, M5)', () => {
  it('A then P: cp/put/ls on a fresh disk, and the data survives a reboot on the same disk', async () => {
    const d = disk()
    const a = await session({ disk: d }, ['help', 'blk', 'cat os-release', 'cp motd readme', 'put config/host honkbox', 'ls', 'exit'])
    expectAll(a.log, ['commands:', '  run [name]   ps   kill <pid>   crash   reap   stress [n]', 'honk: storage = virtio-blk, 32768 blocks x 512 bytes', 'honk: core verified - embedded factory v1', 'blk: read/write self-test OK', 'NAME=honk', 'cp: motd -> readme', 'put: wrote config/host', 'readme', 'config/'])
    const p = await session({ disk: d }, ['cat config/host', 'cat readme', 'exit'])
    expectAll(p.log, ['honkbox', 'Welcome to honk'])
  })

  it('B: the blk self-test leaves every block of the disk as it was', async () => {
    const d = disk()
    const console = new ConsoleSession()
    const honk = createHonk({ harts: 1, memory: 256 * MiB, firmware: 'builtin', disk: d, consoleOut: console.out, factory: factoryImage(), anchor: coreAnchor() })
    console.start(honk.machine)
    await console.waitFor('honk> ')
    console.send('put live data\n')
    await console.waitFor('honk> ')
    const before = new Uint8Array(d.blockCount * 512)
    await d.read(0, before)
    console.send('blk\n')
    expect(await console.waitFor('honk> ')).toContain('blk: read/write self-test OK (block 32767)')
    const after = new Uint8Array(d.blockCount * 512)
    await d.read(0, after)
    expect(Buffer.compare(before, after)).toBe(0)
    console.send('exit\n')
    await console.exit
  })

  it('R: reset --confirm clears the writable layer; a reboot keeps it cleared and keeps writes made after it', async () => {
    const d = disk()
    const r = await session({ disk: d }, ['put state/x hello', 'cat state/x', 'reset', 'reset --confirm', 'cat state/x', 'put state/y after-reset', 'exit'])
    expectAll(r.log, ['put: wrote state/x', 'hello', 'reset: clears ALL state', 'reset: writable layer cleared (immutable core embedded factory v1 remains)', 'state/x: file does not exist', 'put: wrote state/y'])
    const again = await session({ disk: d }, ['cat state/x', 'cat state/y', 'exit'])
    expectAll(again.log, ['state/x: file does not exist', 'after-reset'])
  })

  it('S1, S2, S3: slot A v2 is chosen; slot B v1 when A is corrupted; the factory when both are', async () => {
    const d = disk()
    const { slots } = layoutDisk(d)
    await slots.writeImage('A', buildCoreImage({ version: 2 }))
    await slots.writeImage('B', buildCoreImage({ version: 1 }))
    const s1 = await session({ disk: d }, ['mount', 'exit'])
    expectAll(s1.log, ['honk: core verified - slot A v2', '  core   read-only  slot A v2'])

    const corrupt = async (block: number) => {
      const b = new Uint8Array(512)
      await d.read(block, b)
      b[0] = 0xff
      await d.write(block, b)
    }
    await corrupt(2) // byte 0 of slot A (after the two metadata blocks): the image magic
    const s2 = await session({ disk: d }, ['exit'])
    expectAll(s2.log, ['honk: core slot A rejected:', 'honk: core verified - slot B v1'])

    await corrupt(2 + slots.slotBlocks) // byte 0 of slot B
    const s3 = await session({ disk: d }, ['exit'])
    expectAll(s3.log, ['honk: core slot B rejected:', 'honk: core verified - embedded factory v1'])
  })

  it('a foreign disk is left untouched, a damaged KV region too: honk boots read-only and says why', async () => {
    const bytes = new Uint8Array(32768 * 512)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24
    const d = new MemoryBlockDevice(32768, 512, bytes.slice())
    const { log } = await session({ harts: 1, disk: d }, ['mount', 'put a b', 'exit'])
    expectAll(log, ['honk: disk not used: blocks 0-1 hold no honk A/B metadata', 'honk: core verified - embedded factory v1', 'put: filesystem is read-only (no block device)'])
    const after = new Uint8Array(bytes.length)
    await d.read(0, after)
    expect(Buffer.compare(after, bytes)).toBe(0)

    // A honk disk whose KV region is damaged: the slots are used, the KV is left alone and the boot says why.
    const h = disk()
    await layoutDisk(h).slots.writeImage('A', buildCoreImage({ version: 2 }))
    const kvStart = layoutDisk(h).extents.kv.start
    await h.write(kvStart, bytes.subarray(0, 2 * 512))
    const kvBefore = new Uint8Array(512 * 64)
    await h.read(kvStart, kvBefore)
    const damaged = await session({ harts: 1, disk: h }, ['put a b', 'exit'])
    expectAll(damaged.log, ['honk: core verified - slot A v2', 'honk: writable layer unavailable: kv store corrupt', 'put: filesystem is read-only (the writable layer is unavailable; see the boot log)'])
    const kvAfter = new Uint8Array(512 * 64)
    await h.read(kvStart, kvAfter)
    expect(Buffer.compare(kvAfter, kvBefore)).toBe(0)
  })

  it('no disk: the factory core, read-only', async () => {
    const { log } = await session({ harts: 1 }, ['blk', 'mount', 'put a b', 'exit'])
    expectAll(log, ['honk: core verified - embedded factory v1', 'blk: no block device', '  core   read-only  embedded factory v1', 'put: filesystem is read-only (no block device)'])
  })
})

describe('honk host share (M8)', () => {
  it('H: the 9P share is mounted over virtio-9p, listed and read', async () => {
    const share = new MemoryFS({ files: { 'hostfile.txt': 'hello from the host filesystem\n', 'hostdir/inner.txt': 'nested host content\n' } })
    const { log } = await session({ disk: disk(), share }, ['mount', 'ls', 'cat hostfile.txt', 'cat hostdir/inner.txt', 'exit'])
    expectAll(log, ['honk: host share mounted (9p, tag "host")', '  host   read-only  9p tag "host"', 'hostfile.txt', 'hello from the host filesystem', 'nested host content'])
  })
})

describe('pnpm start', () => {
  it('runs non-interactively with input from a pipe, creating the state disk and the share folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-start-'))
    try {
      await mkdir(join(dir, 'share'))
      await writeHostFile(join(dir, 'share', 'note.txt'), 'from the host\n')
      const run = () => {
        const child = execFile(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/main.ts', '--smp', '2', '--mem', '128M', '--state', join(dir, 'state'), '--share', join(dir, 'share')], { cwd: join(import.meta.dirname, '..'), timeout: 120_000 })
        return child
      }
      const first = run()
      // Typed a line per prompt; `reboot` restarts the machine (SBI SRST) on the same disk in the same process.
      first.stdin!.end('put greeting hi\ncat note.txt\nreboot\ncat greeting\nexit\n')
      let out = ''
      first.stdout!.on('data', (c: Buffer) => (out += c.toString()))
      const code = await new Promise<number | null>((resolve) => first.on('exit', resolve))
      expect(code).toBe(0)
      expectAll(out, ['honk: SMP up  harts=2', 'honk: host share mounted (9p, tag "host")', 'put: wrote greeting', 'from the host', 'honk: rebooting', 'honk> cat greeting\r\nhi', 'honk: shutting down'])
      expect(out.split('honk: entered main')).toHaveLength(3) // booted twice
      expect(existsSync(join(dir, 'state', 'disk.img'))).toBe(true)

      const second = run()
      second.stdin!.end('cat greeting\nexit\n')
      let out2 = ''
      second.stdout!.on('data', (c: Buffer) => (out2 += c.toString()))
      expect(await new Promise<number | null>((resolve) => second.on('exit', resolve))).toBe(0)
      expect(out2).toContain('hi')
      const help = await promisify(execFile)(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/main.ts', '--help'], { cwd: join(import.meta.dirname, '..') })
      expect(help.stdout).toContain('--smp <n>')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('pnpm start under long, binary and unterminated input, and bad paths (issue 12, cases 9, 10, 11, 14)', () => {
  const start = (args: string[], options: { input?: string | Buffer; cwd: string; uid?: number; gid?: number }) =>
    new Promise<{ out: string; err: string; code: number | null }>((resolve) => {
      const child = execFile(process.execPath, ['--conditions=@honk/source', '--import', 'tsx', 'src/main.ts', ...args], { cwd: join(import.meta.dirname, '..'), timeout: 120_000, env: { ...process.env, INIT_CWD: options.cwd }, encoding: 'latin1', maxBuffer: 64 << 20, ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}) }, (_e, out, err) => resolve({ out, err, code: child.exitCode }))
      child.stdin!.end(options.input ?? '')
    })

  it('piped input that ends without exit powers off with exit 0; a 2000-character put is stored whole; a 5000-character line is refused and the shell goes on; binary bytes are dropped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-pipe-'))
    try {
      const text = 'abcdefghij'.repeat(200)
      const input = Buffer.concat([
        Buffer.from(`put k ${text}\ncat k\necho ${'z'.repeat(5000)}\necho after-long\n`),
        Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x7f, 0x1b, 0x5b, 0x41, 0x0a]),
        Buffer.from('echo after-binary\necho last line without a newline'),
      ])
      const r = await start(['--smp', '2', '--mem', '128M', '--share', 'none'], { input, cwd: dir })
      expect(r.err).toBe('')
      expect(r.code).toBe(0)
      expectAll(r.out, ['put: wrote k', 'honk: line too long (5005 characters, at most 4095): not run', 'after-long', 'after-binary', 'last line without a newline', 'honk: end of input', 'honk: shutting down'])
      expect(r.out).toContain(`honk> cat k\r\n${text}\r\n`)
      expect(r.out).not.toContain('put: wrote k\r\nhonk> cat k\r\n' + text.slice(0, 1016) + '\r\n')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)

  it('empty input: boots, and powers off at the first prompt with exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-pipe-'))
    try {
      const r = await start(['--smp', '1', '--mem', '128M', '--no-disk', '--share', 'none'], { input: '', cwd: dir })
      expect(r.code).toBe(0)
      expectAll(r.out, ["honk: shell ready (type 'help')", 'honk: end of input', 'honk: shutting down'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)

  it('fault exits 1 (the FATAL trap is a failure), under both firmwares', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-pipe-'))
    try {
      for (const fw of existsSync(OPENSBI_FW_JUMP) ? ['builtin', 'opensbi'] : ['builtin']) {
        const r = await start(['--smp', '2', '--mem', '128M', '--no-disk', '--share', 'none', '--firmware', fw], { input: 'fault\n', cwd: dir })
        expect(r.out).toContain('honk: FATAL supervisor trap  (breakpoint on hart 0)')
        expect(r.code, fw).toBe(1)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)

  it('the real entry point: --mem 99999G, --state /proc/honk and an unwritable state folder are one line each, exit 2, nothing created', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-bad-'))
    try {
      const locked = join(dir, 'locked')
      await mkdir(locked, { mode: 0o555 })
      const { chmod } = await import('node:fs/promises')
      await chmod(dir, 0o777)
      await chmod(locked, 0o555)
      const asRoot = process.getuid?.() === 0
      const cases: [string[], RegExp, { uid?: number }][] = [
        [['--mem', '99999G'], /^honk: --mem 99999G: at most 4G/, {}],
        [['--state', '/proc/honk'], /^honk: --state \/proc\/honk: cannot create the folder/, {}],
        // An unprivileged user cannot write a folder of mode 0555 (root could: run as nobody then).
        [['--state', locked, '--share', 'none'], /^honk: .*locked\/disk\.img: cannot create the disk image: permission denied/, asRoot ? { uid: 65534 } : {}],
      ]
      for (const [args, want, as] of cases) {
        const r = await start(args, { cwd: dir, ...as })
        expect(r.err, args.join(' ')).toMatch(want)
        expect(r.err.trimEnd().split('\n'), args.join(' ')).toHaveLength(1)
        expect(r.err).not.toMatch(/\n\s+at /)
        expect(r.code, args.join(' ')).toBe(2)
      }
      const { readdir } = await import('node:fs/promises')
      expect((await readdir(dir)).sort()).toEqual(['locked'])
      expect(await readdir(locked)).toEqual([])
      expect(existsSync('/proc/honk')).toBe(false)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
