/**
 * A real program on real sockets: httpd.c (clang + wasi-libc: poll, accept, recv with MSG_PEEK,
 * send, shutdown) under `spawnWasm`, handed a `node:net` server listening on 127.0.0.1, serving
 * files of its HostFS preopen to `curl` (the HTTP client a user would use) and to Node's own
 * `http.get`. Needs the toolchain and curl (installed by the repo's scripts); under CI=true their
 * absence fails the tests instead of skipping them.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { HostFS } from '@honk/vfs/node'
import { afterAll, describe, expect, it } from 'vitest'
import { serverListener, spawnWasm } from '../node.js'
import { ProcessTable } from '../table.js'
import { buildPrograms, program } from './programs.js'

const run = promisify(execFile)
const built = buildPrograms()
const ci = process.env['CI'] === 'true'
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port')
  return { server, port: a.port }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe.skipIf(!ci && 'error' in built)('httpd.wasm on a socket the host hands in', () => {
  it('serves its files to curl and to node:http: bodies equal byte for byte, 404 for a missing one; exits after N requests', async () => {
    if ('error' in built) throw new Error(built.error)
    const dir = mkdtempSync(join(tmpdir(), 'honk-wasi-httpd-'))
    dirs.push(dir)
    const big = randomBytes(3 << 20)
    writeFileSync(join(dir, 'big.bin'), big)
    writeFileSync(join(dir, 'hello.txt'), 'hello from a WebAssembly process\n')
    writeFileSync(join(dir, 'empty'), '')
    const { server, port } = await listening()
    const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'net', 'proc'] })
    const out: Uint8Array[] = []
    // fd 3 is the preopen, fd 4 the listener.
    const p = spawnWasm(program(built.dir, 'httpd'), {
      table, args: ['httpd', '4', '/www', '5'], preopens: { '/www': new HostFS(dir) }, sockets: [serverListener(server)],
      caps: ['fs', 'console', 'net'], stdout: (b) => out.push(b),
    })
    const url = `http://127.0.0.1:${port}`
    const curl = async (path: string): Promise<{ code: string; body: Buffer }> => {
      const bodyFile = join(dir, '..', `${path.replace(/\W/g, '_')}.out`)
      const r = await run('curl', ['-s', '-o', bodyFile, '-w', '%{http_code}', `${url}/${path}`], { encoding: 'utf8' })
      const { readFileSync } = await import('node:fs')
      const body = readFileSync(bodyFile)
      rmSync(bodyFile)
      return { code: r.stdout, body }
    }
    const hello = await curl('hello.txt')
    expect(hello.code).toBe('200')
    expect(hello.body.toString()).toBe('hello from a WebAssembly process\n')
    const b = await curl('big.bin')
    expect(b.code).toBe('200')
    expect(sha(b.body)).toBe(sha(big))
    expect((await curl('missing')).code).toBe('404')
    expect((await curl('empty')).body.length).toBe(0)
    // node:http as the other client.
    const viaNode = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      get(`${url}/hello.txt`, (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }))
      }).on('error', reject)
    })
    expect(viaNode.status).toBe(200)
    expect(viaNode.body.toString()).toBe('hello from a WebAssembly process\n')
    const e = await p.exit
    expect(e.code).toBe(0)
    expect(Buffer.concat(out).toString()).toBe(`200 hello.txt 33\n200 big.bin ${3 << 20}\n404 missing\n200 empty 0\n200 hello.txt 33\n`)
    // The listener was the process's: closed when it ended.
    expect(server.listening).toBe(false)
  }, 60_000)

  it('without the net capability the module gets no socket: accept on fd 4 fails (EBADF), the server is untouched', async () => {
    if ('error' in built) throw new Error(built.error)
    const dir = mkdtempSync(join(tmpdir(), 'honk-wasi-httpd-'))
    dirs.push(dir)
    const { server } = await listening()
    const table = new ProcessTable({}, { initCaps: ['fs', 'console', 'net', 'proc'] })
    const out: Uint8Array[] = []
    const p = spawnWasm(program(built.dir, 'httpd'), {
      table, args: ['httpd', '4', '/www', '1'], preopens: { '/www': new HostFS(dir) }, sockets: [serverListener(server)],
      caps: ['fs', 'console'], stdout: (b) => out.push(b),
    })
    const e = await p.exit
    expect(e.code).toBe(1)
    // poll reports the bad descriptor as an event; accept then fails.
    expect(Buffer.concat(out).toString()).toBe('accept: Bad file descriptor\n')
    expect(server.listening).toBe(true)
    server.close()
  }, 30_000)
})
