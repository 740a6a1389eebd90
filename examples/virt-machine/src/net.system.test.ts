/**
 * honk mode on the network (issue #14, honk M6; the Go honk's smoke N): honk gets its address
 * by DHCP from the user-mode NAT, the real `curl` fetches its HTTP server through a host port
 * forward — one request, many at once, a slow client, a client that vanishes mid-response — and
 * honk's own `fetch` and `ping` reach the host through the NAT.
 */
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { promisify } from 'node:util'
import { UserNet } from '@honk/net/node'
import { MemoryFS } from '@honk/vfs'
import { loopbackPair } from '@honk/virtio'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHonk } from './honk.js'
import { coreAnchor, factoryImage } from './factory-core.js'
import { ConsoleSession } from './session.js'

const run = promisify(execFile)
const BIG = 2 << 20
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 11)) & 0xff)

describe('honk mode networking (M6)', () => {
  let console: ConsoleSession
  let honk: ReturnType<typeof createHonk>
  let nat: UserNet
  let hostServer: Server
  let hostPort = 0
  let url = ''

  beforeAll(async () => {
    hostServer = createServer((req, res) => {
      const n = Number((req.url ?? '/').slice(1)) || 0
      res.writeHead(200, { 'content-length': n })
      res.end(Buffer.from(pattern(n)))
    })
    await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r))
    hostPort = (hostServer.address() as { port: number }).port
    const [guestWire, hostWire] = loopbackPair()
    nat = await UserNet.create({ port: hostWire, hostForwards: ['tcp:127.0.0.1:0-:80'] })
    url = `http://127.0.0.1:${nat.forwards()[0]!.hostPort}`
    console = new ConsoleSession()
    const share = new MemoryFS({ files: { 'big.bin': pattern(BIG), 'hello.txt': 'hello over the network\n' } })
    honk = createHonk({ harts: 2, memory: 256 << 20, firmware: 'builtin', net: guestWire, share: { fs: share, tag: 'host' }, consoleOut: console.out, factory: factoryImage(), anchor: coreAnchor() })
    console.start(honk.machine)
    await console.waitFor('honk> ', 90_000)
  }, 120_000)

  afterAll(async () => {
    honk?.machine.stop()
    await honk?.close()
    await nat?.close()
    await new Promise((r) => hostServer?.close(r))
  })

  /** Types a command and returns its output (up to the next prompt). */
  async function shell(line: string): Promise<string> {
    console.send(line + '\n')
    return (await console.waitFor('honk> ', 60_000)).replace(/honk> $/, '')
  }

  it('boots with its address from the NAT\'s DHCP and says so, then serves HTTP on :80', () => {
    expect(console.text).toContain('honk: net up  ip=10.0.2.15/24  gw=10.0.2.2  mac=52:54:00:12:34:56  (DHCP)')
    expect(console.text).toContain('honk: httpd serving on :80')
  })

  it('the real curl fetches / through the port forward: honk\'s three lines', async () => {
    const { stdout } = await run('curl', ['-sS', '--max-time', '20', `${url}/`])
    expect(stdout).toMatch(/^honk - TypeScript RISC-V64 OS\nuptime \d+s\nharts 2\n$/)
  })

  it('curl: a file of the root FS (2 MiB through the guest\'s TCP), byte for byte', async () => {
    const { stdout } = await run('curl', ['-sS', '--max-time', '60', `${url}/files/big.bin`], { encoding: 'buffer', maxBuffer: 8 << 20 })
    expect(Buffer.compare(stdout, Buffer.from(pattern(BIG)))).toBe(0)
  }, 90_000)

  it('16 curls at once all get their answer', async () => {
    const all = await Promise.all(Array.from({ length: 16 }, () => run('curl', ['-sS', '--max-time', '60', `${url}/files/hello.txt`])))
    for (const { stdout } of all) expect(stdout).toBe('hello over the network\n')
  }, 90_000)

  it('a slow client (the request a byte at a time) and a client that vanishes mid-response do not disturb the server', async () => {
    const port = Number(new URL(url).port)
    // The vanishing client: asks for 2 MiB, reads a little, then resets the connection.
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET /files/big.bin HTTP/1.1\r\nHost: honk\r\n\r\n'))
      let got = 0
      s.on('data', (c: Buffer) => {
        got += c.length
        if (got > 10_000) {
          s.resetAndDestroy()
          resolve()
        }
      })
      s.on('error', reject)
    })
    // The slow client: one byte every 20 ms.
    const reply = await new Promise<string>((resolve, reject) => {
      const request = 'GET / HTTP/1.0\r\nHost: honk\r\n\r\n'
      const s = connect(port, '127.0.0.1')
      let text = ''
      s.setEncoding('utf8')
      s.on('data', (c: string) => (text += c))
      s.on('end', () => resolve(text))
      s.on('error', reject)
      let i = 0
      const tick = setInterval(() => {
        s.write(request[i++]!)
        if (i === request.length) clearInterval(tick)
      }, 20)
    })
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhonk - TypeScript RISC-V64 OS\n/)
    const { stdout } = await run('curl', ['-sS', '--max-time', '20', `${url}/`])
    expect(stdout).toContain('honk - TypeScript RISC-V64 OS')
  }, 90_000)

  it('from the shell: net shows the address and counters; ping and fetch reach the host through the NAT', async () => {
    const net = await shell('net')
    expect(net).toContain('net: ip=10.0.2.15/24  gw=10.0.2.2  mac=52:54:00:12:34:56  (httpd on :80)')
    expect(net).toMatch(/net: frames in \d+ out \d+/)
    expect(await shell('ping 10.0.2.2 2')).toContain('ping: 2/2 answered')
    const fetched = await shell(`fetch http://10.0.2.2:${hostPort}/100`)
    expect(fetched).toContain(`fetch: 200 OK, 100 bytes from 10.0.2.2:${hostPort}`)
    expect(await shell(`fetch http://10.0.2.2:${hostPort}/200000`)).toContain('fetch: 200 OK, 200000 bytes')
    expect(await shell('fetch http://10.0.2.2:1/')).toMatch(/fetch: connection refused/)
  }, 120_000)
})
