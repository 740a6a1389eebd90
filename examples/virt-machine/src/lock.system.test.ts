/**
 * Issue #12 case 1 through the programs: two `pnpm start` on one state folder answered
 * `put: wrote` 40 times each and lost 78 of the 80 writes. The second must refuse, in one line,
 * naming the first, with a non-zero exit code; `honk-virt --drive` likewise.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlockLockedError } from '@honk/block'
import { FileBlockDevice } from '@honk/block/node'
import { openKV } from '@honk/kv'
import { describe, expect, it } from 'vitest'

const CWD = join(import.meta.dirname, '..')
const NODE = [process.execPath, '--conditions=@honk/source', '--import', 'tsx']

function run(script: string, args: string[], input: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = execFile(NODE[0]!, [...NODE.slice(1), script, ...args], { cwd: CWD, timeout: 120_000 }, () => undefined)
    let out = ''
    let err = ''
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()))
    child.on('exit', (code) => resolve({ code, out, err }))
    child.stdin!.end(input)
  })
}

describe('one writer per disk image (issue #12 case 1)', () => {
  it('a second `pnpm start` on the same state folder refuses in one line naming the first, exit code non-zero; the first keeps its writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-lock-'))
    try {
      const args = ['--smp', '1', '--mem', '128M', '--state', join(dir, 'state'), '--share', 'none']
      // The first honk runs until its stdin ends; it is at its prompt before the second starts.
      const first = spawn(NODE[0]!, [...NODE.slice(1), 'src/main.ts', ...args], { cwd: CWD, stdio: ['pipe', 'pipe', 'pipe'] })
      let firstOut = ''
      first.stdout.on('data', (c: Buffer) => (firstOut += c.toString()))
      const firstExit = new Promise<number | null>((resolve) => first.on('exit', resolve))
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the first honk did not reach its prompt: ${firstOut}`)), 60_000)
        first.stdout.on('data', () => {
          if (firstOut.includes('honk> ')) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      first.stdin.write('put a first\n')

      const second = await run('src/main.ts', args, 'put a second\nexit\n')
      expect(second.code).not.toBe(0)
      expect(second.out).not.toContain('put: wrote')
      const lines = second.err.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^honk: .*disk\.img: Failed to get write lock: the image is in use by pid \d+ /)
      expect(lines[0]).toContain(`pid ${first.pid}`)
      expect(lines[0]).toContain('src/main.ts')

      first.stdin.end('exit\n')
      expect(await firstExit).toBe(0)
      // After the first exits, the disk is free again and holds the first one's write only.
      const third = await run('src/main.ts', args, 'cat a\nexit\n')
      expect(third.code).toBe(0)
      expect(third.out).toMatch(/cat a\r?\n\r?first/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('`honk-virt --drive` on an image another process holds refuses with one line naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-lock-'))
    try {
      const img = join(dir, 'disk.img')
      const held = await FileBlockDevice.open(img, { blockCount: 2048, lockOwner: 'the test holder' })
      await writeFile(join(dir, 'kernel.bin'), new Uint8Array(4096))
      try {
        const r = await run('src/honk-virt.ts', ['--kernel', join(dir, 'kernel.bin'), '--drive', img], '')
        expect(r.code).not.toBe(0)
        const lines = r.err.trim().split('\n')
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatch(/^honk-virt: .*disk\.img: Failed to get write lock: the image is in use by pid \d+ .*\(the test holder\)/)
        expect(lines[0]).toContain(`pid ${process.pid}`)
      } finally {
        await held.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the library: a second openKV over another FileBlockDevice of the same file is refused; 200 durable puts stay 200 keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'honk-lock-'))
    try {
      const path = join(dir, 'kv.img')
      const a = await FileBlockDevice.open(path, { blockCount: 8192 })
      const kv = await openKV(a)
      await expect(FileBlockDevice.open(path)).rejects.toBeInstanceOf(BlockLockedError)
      for (let i = 0; i < 200; i++) await kv.put(`k${i}`, `v${i}`, { durable: true })
      const ro = await FileBlockDevice.open(path, { readOnly: true }) // a reader may share
      const view = await openKV(ro, { readOnly: true })
      expect(view.count).toBe(200)
      await view.close()
      await ro.close()
      await kv.close()
      await a.close()
      const b = await FileBlockDevice.open(path)
      const again = await openKV(b)
      expect(again.count).toBe(200)
      await again.close()
      await b.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
