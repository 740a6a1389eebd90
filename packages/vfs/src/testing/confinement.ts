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

/** One victim operation, through the FS under test. */
export type VictimOp =
  | { op: 'stat' | 'readDir' | 'readlink' | 'read' | 'remove' | 'mkdir' | 'chmod' | 'utimes' | 'truncate'; path: string }
  | { op: 'write' | 'create' | 'handle'; path: string }
  | { op: 'rename'; from: string; to: string }
  | { op: 'symlink'; path: string }

const PATHS = ['d', 'd/e', 'd/e/x', 'd/e/y', 'd/e/new', 'd/e/l', 'd/e/sub', 'd/f', 'd/new', 'd/sub', 'top', 'd/e/sub/x']
const pathArb = fc.constantFrom(...PATHS)
export const victimOpArb: fc.Arbitrary<VictimOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('stat', 'readDir', 'readlink', 'read', 'remove', 'mkdir', 'chmod', 'utimes', 'truncate', 'write', 'create', 'handle'), path: pathArb }) as fc.Arbitrary<VictimOp>,
  fc.record({ op: fc.constant('rename' as const), from: pathArb, to: pathArb }),
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
 * `open(root)` returns, the attacker looping meanwhile; then the oracle.
 */
export async function runConfinement(
  open: (root: string) => Promise<{ fs: FS; close?: () => Promise<void> }>,
  victims: readonly (readonly VictimOp[])[],
  attacks: readonly Attack[],
  options: { minAttackCycles?: number } = {},
): Promise<ConfinementReport> {
  const fx = await confinementFixture()
  try {
    const before = await fx.snapshotOutside()
    const outsideInos = await fx.outsideInos()
    const { fs, close } = await open(fx.root)
    const escapes: string[] = []
    let done = false
    let cycles = 0
    const attacker = attackLoop(fx, attacks, () => done && cycles >= (options.minAttackCycles ?? 0)).then((n) => void (cycles = n))
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
export async function confinementProperty(open: (root: string) => Promise<{ fs: FS; close?: () => Promise<void> }>, params: fc.Parameters<[VictimOp[][], Attack[]]> = {}): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(victimOpArb, { minLength: 1, maxLength: 25 }), { minLength: 1, maxLength: 3 }), fc.array(attackArb, { minLength: 1, maxLength: 5 }), async (victims, attacks) => {
      const report = await runConfinement(open, victims, attacks)
      if (report.escapes.length > 0) throw new Error(`escaped the root (${report.escapes.length}):\n${report.escapes.join('\n')}`)
    }),
    params,
  )
}
