/**
 * `pnpm --filter @honk/p9 bench [--quick]`: 9P file throughput in one run.
 *   - our client ↔ our server in-process (MemoryFS behind it), msize 512000
 *   - our client ↔ our server over TCP loopback (HostFS behind it), msize 64 KiB
 *   - our client ↔ diod over TCP loopback (the same host directory), msize 64 KiB
 *   - the peer: Node reading/writing the same host file directly
 * A 64 MiB file (`--quick`: 8 MiB), written then read, best of the rounds, interleaved.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryFS, readFile as fsRead, writeFile as fsWrite, type FS } from '@honk/vfs'
import { HostFS } from '@honk/vfs/node'
import { higherIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { loopbackTransport, mount, serve } from '../src/index.ts'
import { connectTcp, listenTcp } from '../src/node.ts'

const quick = process.argv.includes('--quick')
const SIZE = (quick ? 8 : 64) << 20
const ROUNDS = quick ? 1 : 3
const data = new Uint8Array(randomBytes(SIZE))
const dir = await mkdtemp(join(tmpdir(), 'honk-p9-bench-'))
const mbps = (secs: number) => SIZE / secs / 1e6

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return (performance.now() - t0) / 1000
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

const inProcess = await (async () => {
  const conn = serve(new MemoryFS(), { maxMessageSize: 512000 })
  return mount(loopbackTransport((t) => conn.handle(t), 512000))
})()
const ours = await listenTcp(new HostFS(dir), 0, '127.0.0.1', { maxMessageSize: 65536 })
const overTcp = await mount(await connectTcp('127.0.0.1', ours.port, { maxMessageSize: 65536 }))
let diodFs: (FS & { close(): Promise<void> }) | undefined
let diod: ReturnType<typeof spawn> | undefined
if (existsSync('/usr/sbin/diod')) {
  const port = await freePort()
  diod = spawn('/usr/sbin/diod', ['-f', '-n', '-N', '-l', `127.0.0.1:${port}`, '-e', dir, '-L', 'stderr'], { stdio: 'ignore' })
  for (let i = 0; i < 100 && !diodFs; i++) {
    try {
      diodFs = await mount(await connectTcp('127.0.0.1', port, { maxMessageSize: 65536 }), { aname: dir, uid: 0, uname: 'root' })
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

type Row = { name: string; write: () => Promise<unknown>; read: () => Promise<unknown> }
const rows: Row[] = [
  { name: 'in-process', write: () => fsWrite(inProcess, 'f', data), read: () => fsRead(inProcess, 'f') },
  { name: 'tcp-ours', write: () => fsWrite(overTcp, 'ours.bin', data), read: () => fsRead(overTcp, 'ours.bin') },
]
if (diodFs) {
  const d = diodFs
  rows.push({ name: 'tcp-diod', write: () => fsWrite(d, 'diod.bin', data), read: () => fsRead(d, 'diod.bin') })
}
const direct = { write: () => writeFile(join(dir, 'direct.bin'), data), read: () => readFile(join(dir, 'direct.bin')) }

const best = new Map<string, number>()
const keep = (k: string, v: number) => best.set(k, Math.max(best.get(k) ?? 0, v))
for (let r = 0; r < ROUNDS; r++) {
  keep('direct write', mbps(await time(direct.write)))
  keep('direct read', mbps(await time(direct.read)))
  for (const row of rows) {
    keep(`${row.name} write`, mbps(await time(row.write)))
    keep(`${row.name} read`, mbps(await time(row.read)))
  }
}
const metrics: BenchMetric[] = []
for (const row of rows) {
  for (const op of ['write', 'read'] as const) metrics.push(higherIsBetter(`${row.name} ${op}`, 'MB/s', best.get(`${row.name} ${op}`)!, best.get(`direct ${op}`)!))
}
if (best.has('tcp-diod read')) {
  metrics.push(higherIsBetter('tcp ours vs diod: read', 'MB/s', best.get('tcp-ours read')!, best.get('tcp-diod read')!))
  metrics.push(higherIsBetter('tcp ours vs diod: write', 'MB/s', best.get('tcp-ours write')!, best.get('tcp-diod write')!))
}
report('p9', {
  name: `@honk/p9 file throughput, ${SIZE >> 20} MiB file (peer: a direct host file read/write; last two rows: our server vs diod, same client)`,
  peer: 'direct / diod',
  setup: { bytes: SIZE, rounds: ROUNDS, quick, diod: diodFs !== undefined },
  metrics,
})
await inProcess.close()
await overTcp.close()
await diodFs?.close()
ours.close()
diod?.kill()
await rm(dir, { recursive: true, force: true })
