import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testFS } from '@honk/vfs/testing'
import { P9RemoteError, Session, mount } from './index.js'
import { connectTcp } from './node.js'

/** Interop with diod, a 9P2000.L server nobody here wrote (Debian package `diod`). */
const DIOD = '/usr/sbin/diod'

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

describe.skipIf(!existsSync(DIOD))('our 9P client against diod', () => {
  let dir: string
  let diod: ChildProcess
  let port: number
  let log = ''

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'honk-diod-'))
    port = await freePort()
    diod = spawn(DIOD, ['-f', '-n', '-N', '-l', `127.0.0.1:${port}`, '-e', dir, '-L', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] })
    diod.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    // Wait until it accepts connections.
    for (let i = 0; i < 100; i++) {
      try {
        const t = await connectTcp('127.0.0.1', port)
        await t.close()
        return
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    throw new Error(`diod did not start: ${log}`)
  })

  afterAll(async () => {
    diod?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  async function session(): Promise<Session> {
    return Session.connect(await connectTcp('127.0.0.1', port, { maxMessageSize: 64 * 1024 }), { aname: dir, uid: 0, uname: 'root' })
  }

  it('negotiates 9P2000.L and attaches the export', async () => {
    const s = await session()
    expect(s.msize).toBeGreaterThanOrEqual(4096)
    expect(s.rootQid.type & 0x80).toBe(0x80)
    await s.close()
  })

  it('creates, writes, reads back, lists, renames and removes; no fid leaks', async () => {
    const s = await session()
    await writeFile(join(dir, 'from-host.txt'), 'written by the host')
    expect(new TextDecoder().decode(await s.readFile('from-host.txt'))).toBe('written by the host')

    await s.inDir('', (root) => s.mkdir(root, 'sub', 0o755))
    await s.writeFile('sub/hello.txt', new TextEncoder().encode('hello from honk'))
    expect(await readFile(join(dir, 'sub', 'hello.txt'), 'utf8')).toBe('hello from honk')
    expect((await s.list('sub')).map((d) => d.name)).toEqual(['hello.txt'])

    await s.rename('sub/hello.txt', 'moved.txt') // diod has no Trenameat: the Trename fallback
    expect((await readdir(dir)).sort()).toEqual(['from-host.txt', 'moved.txt', 'sub'])

    await s.remove('moved.txt')
    await s.remove('sub', { directory: true })
    expect((await readdir(dir)).sort()).toEqual(['from-host.txt'])

    const err = await s.readFile('nope').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(P9RemoteError)
    expect((err as P9RemoteError).code).toBe('ENOENT')
    expect(s.fidsInUse).toBe(0)
    await s.close()
  })

  it('mount() over diod passes the testFS conformance suite (read and write)', async () => {
    await writeFile(join(dir, 'conf.txt'), 'conformance')
    const fs = await mount(await connectTcp('127.0.0.1', port, { maxMessageSize: 64 * 1024 }), { aname: dir, uid: 0, uname: 'root' })
    await testFS(fs, { 'conf.txt': 'conformance', 'from-host.txt': 'written by the host' })
    expect(fs.session.fidsInUse).toBe(0)
    await fs.close()
  })

  it('moves a 10 MiB file both ways intact, with concurrent requests on one connection', async () => {
    const s = await session()
    const big = new Uint8Array(randomBytes(10 * 1024 * 1024))
    await s.writeFile('big.bin', big)
    const onHost = new Uint8Array(await readFile(join(dir, 'big.bin')))
    expect(onHost.length).toBe(big.length)
    expect(Buffer.compare(onHost, big)).toBe(0)
    const [a, b] = await Promise.all([s.readFile('big.bin'), s.readFile('big.bin')])
    expect(Buffer.compare(a, big)).toBe(0)
    expect(Buffer.compare(b, big)).toBe(0)
    expect(s.fidsInUse).toBe(0)
    await s.close()
  })
})
