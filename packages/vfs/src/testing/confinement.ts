/**
 * Node-only: a hostile-race harness for filesystems backed by a host directory (HostFS, or a
 * 9P mount of one). A fixture puts a `root` and an `outside` directory side by side; an
 * attacker keeps swapping directories (and final names) of the root for symlinks into
 * `outside` while a victim runs FS operations through the FS under test. The oracle: nothing
 * under `outside` changes (names, types, modes, sizes, mtimes, ctimes, contents, link
 * targets), and nothing the victim observes (bytes read, names listed, inode numbers,
 * link targets) comes from `outside`.
 */
import fc from 'fast-check'
import * as fsSync from 'node:fs'
import * as fsp from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FS } from '../types.js'

/** Marker in every byte string and link target under `outside`: a victim seeing it escaped. */
export const SECRET = 'SECRET-OUTSIDE'

export interface ConfinementFixture {
  /** Parent of both directories. */
  readonly base: string
  /** The directory to serve (real path: no symlink on the way). */
  readonly root: string
  readonly outside: string
  /** A textual picture of everything under `outside` except access times. */
  snapshotOutside(): Promise<string>
  /** Inode numbers of everything under `outside` (and of `outside` itself). */
  outsideInos(): Promise<Set<bigint>>
  cleanup(): Promise<void>
}

/**
 * Layout — root: `d/e/x`, `d/e/y`, `d/f`, `top` (files), `d/e/sub/` (dir); outside mirrors
 * every name (`e/x`, `e/y`, `x`, `f`, `top`, `e/sub/`, `sub/`, a link `e/l`), so a swapped
 * component lands on something that exists.
 */
export async function confinementFixture(): Promise<ConfinementFixture> {
  const base = await fsp.realpath(await fsp.mkdtemp(join(tmpdir(), 'honk-confine-')))
  const root = join(base, 'root')
  const outside = join(base, 'outside')
  await fsp.mkdir(join(root, 'd/e/sub'), { recursive: true })
  for (const f of ['d/e/x', 'd/e/y', 'd/f', 'top']) await fsp.writeFile(join(root, f), `inside ${f}\n`)
  await fsp.mkdir(join(outside, 'e/sub'), { recursive: true })
  await fsp.mkdir(join(outside, 'sub'))
  for (const f of ['e/x', 'e/y', 'e/f', 'x', 'y', 'f', 'top', 'e/new', 'new']) await fsp.writeFile(join(outside, f), `${SECRET} ${f}\n`)
  await fsp.symlink(`${SECRET}-link`, join(outside, 'e/l'))
  await fsp.symlink(`${SECRET}-link`, join(outside, 'l'))
  const walk = async (dir: string, rel: string, visit: (rel: string, abs: string) => Promise<void>): Promise<void> => {
    await visit(rel, dir)
    for (const name of (await fsp.readdir(dir)).sort()) {
      const abs = join(dir, name)
      const st = await fsp.lstat(abs)
      if (st.isDirectory()) await walk(abs, `${rel}/${name}`, visit)
      else await visit(`${rel}/${name}`, abs)
    }
  }
  return {
    base,
    root,
    outside,
    async snapshotOutside() {
      const lines: string[] = []
      await walk(outside, '', async (rel, abs) => {
        const st = await fsp.lstat(abs, { bigint: true })
        const what = st.isSymbolicLink() ? `-> ${await fsp.readlink(abs)}` : st.isFile() ? JSON.stringify(await fsp.readFile(abs, 'utf8')) : 'dir'
        lines.push(`${rel || '/'} ino=${st.ino} mode=${st.mode.toString(8)} size=${st.size} mtime=${st.mtimeNs} ctime=${st.ctimeNs} ${what}`)
      })
      return lines.join('\n')
    },
    async outsideInos() {
      const inos = new Set<bigint>()
      await walk(outside, '', async (_rel, abs) => void inos.add((await fsp.lstat(abs, { bigint: true })).ino))
      return inos
    },
    cleanup: () => fsp.rm(base, { recursive: true, force: true }),
  }
}

/** One attack: swap a component of the root for a symlink to `outside`, then put it back. */
export type Attack = 'dir-d' | 'dir-e' | 'final-x' | 'final-e-abs' | 'shuffle'

export const attackArb: fc.Arbitrary<Attack> = fc.constantFrom('dir-d', 'dir-e', 'final-x', 'final-e-abs', 'shuffle')

/**
 * Runs attacks in a loop (host-side renames and symlinks, each one a thing any caller of the
 * FS may do inside the root) until `stop()`; every failure (the victim moved things) is ignored.
 */
export async function attackLoop(fx: ConfinementFixture, attacks: readonly Attack[], stop: () => boolean): Promise<number> {
  const r = (p: string) => join(fx.root, p)
  const swap = async (path: string, target: string) => {
    await fsp.rename(r(path), r(path + '.away'))
    try {
      await fsp.symlink(target, r(path))
      await new Promise((res) => setImmediate(res))
      await fsp.unlink(r(path))
    } finally {
      await fsp.rename(r(path + '.away'), r(path))
    }
  }
  let cycles = 0
  for (let i = 0; !stop(); i++) {
    const a = attacks[i % attacks.length] ?? 'dir-d'
    try {
      switch (a) {
        case 'dir-d': // the case: `d` renamed away, a relative link to ../outside in its place
          await swap('d', '../outside')
          break
        case 'dir-e':
          await swap('d/e', '../../outside/e')
          break
        case 'final-x':
          await swap('d/e/x', join(fx.outside, 'e/x'))
          break
        case 'final-e-abs':
          await swap('d/e', join(fx.outside, 'e'))
          break
        case 'shuffle': // a rename inside the root under an open walk
          await fsp.rename(r('d/e'), r('d/e2'))
          await fsp.rename(r('d/e2'), r('d/e'))
          break
      }
    } catch {
      // the victim changed the tree; try the next attack
    }
    cycles++
    await new Promise((res) => setImmediate(res))
  }
  return cycles
}

/** The attacks of `attackLoop`, as synchronous code for a worker thread (CommonJS, eval'd). */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const path = require('node:path')
const { root, outside, attacks, flag } = workerData
const stop = new Int32Array(flag)
const r = (p) => path.join(root, p)
const swap = (p, target) => {
  fs.renameSync(r(p), r(p + '.away'))
  try {
    fs.symlinkSync(target, r(p))
    fs.unlinkSync(r(p))
  } finally {
    fs.renameSync(r(p + '.away'), r(p))
  }
}
let cycles = 0
for (let i = 0; Atomics.load(stop, 0) === 0; i++) {
  try {
    switch (attacks[i % attacks.length]) {
      case 'dir-d': swap('d', '../outside'); break
      case 'dir-e': swap('d/e', '../../outside/e'); break
      case 'final-x': swap('d/e/x', path.join(outside, 'e/x')); break
      case 'final-e-abs': swap('d/e', path.join(outside, 'e')); break
      case 'shuffle': fs.renameSync(r('d/e'), r('d/e2')); fs.renameSync(r('d/e2'), r('d/e')); break
    }
  } catch {}
  cycles++
  // Intact most of the time, so the victim's walks succeed and its later steps meet the swap.
  Atomics.wait(stop, 0, 0, Math.random() * 1.5)
}
parentPort.postMessage(cycles)
`

/**
 * The same attacks from a worker thread: truly parallel with the event loop (a victim's
 * syscalls race it between any two instructions, not only at await points). Call the result
 * to stop it; it resolves with the number of attack cycles run.
 */
export async function attackInWorker(fx: ConfinementFixture, attacks: readonly Attack[]): Promise<() => Promise<number>> {
  const { Worker } = await import('node:worker_threads')
  const flag = new SharedArrayBuffer(4)
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { root: fx.root, outside: fx.outside, attacks: [...attacks], flag } })
  const result = new Promise<number>((resolve, reject) => {
    worker.once('message', (n: number) => resolve(n))
    worker.once('error', reject)
  })
  await new Promise((res) => worker.once('online', res))
  return async () => {
    Atomics.store(new Int32Array(flag), 0, 1)
    const n = await result
    await worker.terminate()
    return n
  }
}

/** One victim operation, through the FS under test. */
export type VictimOp =
  | { op: 'stat' | 'readDir' | 'readlink' | 'read' | 'remove' | 'mkdir' | 'chmod' | 'utimes' | 'truncate'; path: string }
  | { op: 'write' | 'create' | 'handle' | 'truncOpen' | 'append'; path: string }
  | { op: 'rename' | 'link'; from: string; to: string }
  | { op: 'symlink'; path: string }

const PATHS = ['d', 'd/e', 'd/e/x', 'd/e/y', 'd/e/new', 'd/e/l', 'd/e/sub', 'd/f', 'd/new', 'd/sub', 'top', 'd/e/sub/x']
const pathArb = fc.constantFrom(...PATHS)
export const victimOpArb: fc.Arbitrary<VictimOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('stat', 'readDir', 'readlink', 'read', 'remove', 'mkdir', 'chmod', 'utimes', 'truncate', 'write', 'create', 'handle', 'truncOpen', 'append'), path: pathArb }) as fc.Arbitrary<VictimOp>,
  fc.record({ op: fc.constantFrom('rename' as const, 'link' as const), from: pathArb, to: pathArb }),
  fc.record({ op: fc.constant('symlink' as const), path: pathArb }),
)

const enc = new TextEncoder()
const dec = new TextDecoder()

/**
 * Runs `op` on `fs`; returns what it saw that could betray an escape (bytes, names, inos, link
 * targets) — FS errors are expected under attack and ignored.
 */
export async function runVictimOp(fs: FS, op: VictimOp): Promise<{ text: string[]; inos: bigint[] }> {
  const text: string[] = []
  const inos: bigint[] = []
  try {
    switch (op.op) {
      case 'stat':
        inos.push((await fs.stat(op.path)).ino)
        break
      case 'readDir':
        for (const e of await fs.readDir(op.path)) inos.push(e.ino), text.push(e.name)
        break
      case 'readlink':
        text.push(await fs.readlink(op.path))
        break
      case 'read': {
        const h = await fs.open(op.path, { read: true })
        try {
          text.push(dec.decode(await h.read(0, 256)))
          inos.push((await h.stat()).ino)
        } finally {
          await h.close()
        }
        break
      }
      case 'write':
      case 'create': {
        const h = await fs.open(op.path, { read: true, write: true, create: true, exclusive: op.op === 'create' })
        try {
          await h.write(0, enc.encode('victim was here\n'))
          text.push(dec.decode(await h.read(0, 256)))
        } finally {
          await h.close()
        }
        break
      }
      case 'truncOpen':
      case 'append': {
        const h = await fs.open(op.path, op.op === 'append' ? { write: true, append: true } : { read: true, write: true, truncate: true })
        try {
          await h.write(0, enc.encode('more\n'))
          await h.sync()
          inos.push((await h.stat()).ino)
        } finally {
          await h.close()
        }
        await fs.sync()
        break
      }
      case 'handle': {
        // An open handle used across attack cycles: every byte it moves must be the root's.
        const h = await fs.open(op.path, { read: true, write: true })
        try {
          for (let i = 0; i < 3; i++) {
            await new Promise((r) => setTimeout(r, 1))
            text.push(dec.decode(await h.read(0, 256)))
            await h.write(0, enc.encode('handle\n'))
            await h.truncate(40)
            inos.push((await h.stat()).ino)
          }
        } finally {
          await h.close()
        }
        break
      }
      case 'truncate':
        await fs.setattr(op.path, { size: 3 })
        break
      case 'chmod':
        await fs.setattr(op.path, { mode: 0o600 })
        break
      case 'utimes':
        await fs.setattr(op.path, { atimeMs: 1_000_000, mtimeMs: 2_000_000 })
        break
      case 'remove':
        await fs.remove(op.path)
        break
      case 'mkdir':
        await fs.mkdir(op.path)
        break
      case 'rename':
        await fs.rename(op.from, op.to)
        break
      case 'link':
        // A hard link made through a swapped parent would name an outside file from inside.
        if (fs.link !== undefined) await fs.link(op.from, op.to)
        break
      case 'symlink':
        await fs.symlink('victim-link', op.path)
        break
    }
  } catch (e) {
    if (!(e instanceof Error) || !('code' in e)) throw e
  }
  return { text, inos }
}

/** What a run found: empty when confined. */
export interface ConfinementReport {
  escapes: string[]
  attackCycles: number
}

/**
 * One run: a fresh fixture, `victims` concurrent sequences of operations through the FS that
 * `open(root)` returns, the attacker looping meanwhile (on the event loop, or in a worker
 * thread); then the oracle.
 */
export async function runConfinement(
  open: (root: string) => Promise<{ fs: FS; close?: () => Promise<void> }>,
  victims: readonly (readonly VictimOp[])[],
  attacks: readonly Attack[],
  options: { minAttackCycles?: number; attacker?: 'loop' | 'worker' } = {},
): Promise<ConfinementReport> {
  const fx = await confinementFixture()
  try {
    const before = await fx.snapshotOutside()
    const outsideInos = await fx.outsideInos()
    const { fs, close } = await open(fx.root)
    const escapes: string[] = []
    let done = false
    let cycles = 0
    const stopWorker = options.attacker === 'worker' ? await attackInWorker(fx, attacks) : undefined
    const attacker = stopWorker ? Promise.resolve() : attackLoop(fx, attacks, () => done).then((n) => void (cycles = n))
    try {
      await Promise.all(
        victims.map(async (ops) => {
          for (const op of ops) {
            const seen = await runVictimOp(fs, op)
            for (const t of seen.text) if (t.includes(SECRET)) escapes.push(`${JSON.stringify(op)} saw ${JSON.stringify(t.slice(0, 60))}`)
            for (const ino of seen.inos) if (outsideInos.has(ino)) escapes.push(`${JSON.stringify(op)} saw inode ${ino} of outside`)
          }
        }),
      )
    } finally {
      done = true
      await attacker
      if (stopWorker) cycles = await stopWorker()
      await close?.()
    }
    const after = await fx.snapshotOutside()
    if (after !== before) escapes.push(`outside changed:\n--- before\n${before}\n--- after\n${after}`)
    return { escapes, attackCycles: cycles }
  } finally {
    await fx.cleanup()
  }
}

/**
 * The property: for generated victim sequences (every FS operation) and attack mixes, no run
 * lets anything escape the root.
 */
export async function confinementProperty(open: (root: string) => Promise<{ fs: FS; close?: () => Promise<void> }>, params: fc.Parameters<[VictimOp[][], Attack[], 'loop' | 'worker']> = {}): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(victimOpArb, { minLength: 1, maxLength: 25 }), { minLength: 1, maxLength: 3 }), fc.array(attackArb, { minLength: 1, maxLength: 5 }), fc.constantFrom('loop' as const, 'worker' as const), async (victims, attacks, attacker) => {
      const report = await runConfinement(open, victims, attacks, { attacker })
      if (report.escapes.length > 0) throw new Error(`escaped the root (${report.escapes.length}):\n${report.escapes.join('\n')}`)
    }),
    params,
  )
}

/**
 * A syscall hook: test files mock `node:fs/promises` so that every call first runs
 * `hook.before(name)` (see the HostFS tests). With it, an attack runs synchronously right
 * before the k-th filesystem call of an operation — every interleaving of one swap with the
 * operation's own steps, deterministically, whatever the implementation's steps are.
 */
export interface SyscallHook {
  before(name: string, args: readonly unknown[]): void
}

/** Synchronous attacks for the hook: each returns its undo. */
const syncAttacks: Record<Attack, (fx: ConfinementFixture) => () => void> = {
  'dir-d': (fx) => syncSwap(fx, 'd', '../outside'),
  'dir-e': (fx) => syncSwap(fx, 'd/e', '../../outside/e'),
  'final-x': (fx) => syncSwap(fx, 'd/e/x', join(fx.outside, 'e/x')),
  'final-e-abs': (fx) => syncSwap(fx, 'd/e', join(fx.outside, 'e')),
  shuffle: (fx) => {
    fsSync.renameSync(join(fx.root, 'd/e'), join(fx.root, 'd/e2'))
    return () => fsSync.renameSync(join(fx.root, 'd/e2'), join(fx.root, 'd/e'))
  },
}

function syncSwap(fx: ConfinementFixture, path: string, target: string): () => void {
  const r = (p: string) => join(fx.root, p)
  fsSync.renameSync(r(path), r(path + '.away'))
  fsSync.symlinkSync(target, r(path))
  return () => {
    fsSync.unlinkSync(r(path))
    fsSync.renameSync(r(path + '.away'), r(path))
  }
}

export interface Interleaving {
  op: VictimOp
  attack: Attack
  /** The attack runs before the `at`-th filesystem call of the operation (0-based)… */
  at: number
  /** …and is undone before the `at + undoAfter`-th (never, if the operation ends first). */
  undoAfter: number
}

export const interleavingArb = (maxCalls: number): fc.Arbitrary<Interleaving> =>
  fc.record({ op: victimOpArb, attack: attackArb, at: fc.nat(maxCalls), undoAfter: fc.integer({ min: 1, max: 8 }) })

/** Runs one operation with one swap injected before its `at`-th filesystem call; then the oracle. */
export async function runInterleaved(open: (root: string) => Promise<{ fs: FS; close?: () => Promise<void> }>, hook: SyscallHook, plan: Interleaving): Promise<ConfinementReport & { calls: number; attacked: boolean }> {
  const fx = await confinementFixture()
  try {
    const before = await fx.snapshotOutside()
    const outsideInos = await fx.outsideInos()
    const { fs, close } = await open(fx.root)
    await fs.stat('') // connection set-up and first-use checks are not part of the operation
    let calls = 0
    let undo: (() => void) | undefined
    let attacked = false
    const quietly = (f: () => void) => {
      try {
        f()
      } catch {
        // the operation moved what the attack touches
      }
    }
    hook.before = () => {
      if (calls === plan.at) quietly(() => ((undo = syncAttacks[plan.attack](fx)), (attacked = true)))
      if (calls === plan.at + plan.undoAfter && undo) quietly(undo), (undo = undefined)
      calls++
    }
    let seen: { text: string[]; inos: bigint[] }
    try {
      seen = await runVictimOp(fs, plan.op)
    } finally {
      hook.before = () => {}
      if (undo) quietly(undo)
      await close?.()
    }
    const escapes: string[] = []
    for (const t of seen.text) if (t.includes(SECRET)) escapes.push(`saw ${JSON.stringify(t.slice(0, 60))}`)
    for (const ino of seen.inos) if (outsideInos.has(ino)) escapes.push(`saw inode ${ino} of outside`)
    const after = await fx.snapshotOutside()
    if (after !== before) escapes.push(`outside changed:\n--- before\n${before}\n--- after\n${after}`)
    return { escapes, attackCycles: attacked ? 1 : 0, calls, attacked }
  } finally {
    await fx.cleanup()
  }
}

/**
 * The deterministic property: for every operation, attack and injection point (up to
 * `maxCalls` filesystem calls into the operation), nothing escapes the root.
 */
export async function interleavedConfinementProperty(
  open: (root: string) => Promise<{ fs: FS; close?: () => Promise<void> }>,
  hook: SyscallHook,
  options: { maxCalls?: number } & fc.Parameters<[Interleaving]> = {},
): Promise<void> {
  const { maxCalls = 24, ...params } = options
  await fc.assert(
    fc.asyncProperty(interleavingArb(maxCalls), async (plan) => {
      const report = await runInterleaved(open, hook, plan)
      if (report.escapes.length > 0) throw new Error(`escaped the root after ${report.calls} calls:\n${report.escapes.join('\n')}`)
    }),
    params,
  )
}
