import { readFile } from '@honk/vfs'
import { fork, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { encode } from './codec.js'
import { mount } from './mount.js'
import { connectTcp } from './node.js'
import type { P9ConnectionStats } from './node.js'
import { NOFID, NOTAG } from './schema.js'

type Report = { memory: NodeJS.MemoryUsage; stats: P9ConnectionStats[] }
const MSIZE = 65536

async function startServer(): Promise<{ child: ChildProcess; port: number; report(): Promise<Report> }> {
  const child = fork(fileURLToPath(new URL('./tcp-server.fixture.ts', import.meta.url)), [], { execArgv: ['--conditions=@honk/source', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const report = () =>
    new Promise<Report>((resolve) => {
      child.once('message', (m) => resolve(m as Report))
      child.send('report')
    })
  return { child, port, report }
}

describe('the issue #12 case 7 scenario, server in its own process', () => {
  it('12 000 Treads of 64 KiB from a client that never reads: the server process grows by a bounded amount, another client is served', async () => {
    const { child, port, report } = await startServer()
    try {
      await new Promise((r) => setTimeout(r, 500))
      const before = (await report()).memory.rss
      const flooder = await new Promise<Socket>((resolve) => {
        const s = connect({ host: '127.0.0.1', port }, () => resolve(s))
      })
      flooder.on('error', () => {})
      const msgs = [
        encode({ kind: 'Tversion', tag: NOTAG, msize: MSIZE, version: '9P2000.L' }),
        encode({ kind: 'Tattach', tag: 0, fid: 0, afid: NOFID, uname: 'x', aname: '', nUname: 0 }),
        encode({ kind: 'Twalk', tag: 0, fid: 0, newfid: 1, wnames: ['big.bin'] }),
        encode({ kind: 'Tlopen', tag: 0, fid: 1, flags: 0 }),
      ]
      for (let i = 0; i < 12_000; i++) msgs.push(encode({ kind: 'Tread', tag: i & 0x7fff, fid: 1, offset: 0n, count: MSIZE - 11 }))
      for (const m of msgs) flooder.write(m)
      let peak = 0
      let last = 0
      for (let stable = 0, t = 0; stable < 10 && t < 300; t++) {
        await new Promise((r) => setTimeout(r, 100))
        const rss = (await report()).memory.rss
        peak = Math.max(peak, rss - before)
        stable = Math.abs(rss - last) < 1 << 20 ? stable + 1 : 0
        last = rss
      }
      const good = await mount(await connectTcp('127.0.0.1', port, { maxMessageSize: MSIZE }))
      expect(new TextDecoder().decode(await readFile(good, 'hello.txt'))).toBe('still served')
      await good.close()
      const { stats } = await report()
      console.log(`server RSS growth under a 12 000-Tread flood: peak ${(peak / 1e6).toFixed(1)} MB; stats ${JSON.stringify(stats)}`)
      expect(peak).toBeLessThan(64e6)
      flooder.destroy()
    } finally {
      child.kill()
    }
  })
})
