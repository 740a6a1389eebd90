/**
 * The kernel storage's damage-and-crash property (issue #12 case 5), shared by the unit tier
 * (a few dozen cases) and the system tier (thousands):
 *
 * for any (operation sequence through the root filesystem, power cut at any device request,
 * any resolution of the unflushed writes, one sector anywhere on the disk zeroed / bit-flipped /
 * filled with garbage), the storage bring-up on the damaged disk either
 *   - boots writable, and every acknowledged write is readable (and stays so through more
 *     writes and another reboot), or
 *   - boots read-only, says why in a boot line, and writes nothing to the disk;
 * and in both cases the damaged sector's neighbours are not written by the bring-up, and a
 * region holding data is never formatted (a marker written at the first boot must survive
 * every writable boot).
 */
import { CrashSimulatingDevice, MemoryBlockDevice, type BlockDevice } from '@honk/block'
import { openKV } from '@honk/kv'
import { isFsError, readText, writeFile } from '@honk/vfs'
import fc from 'fast-check'
import { buildCoreImage, coreAnchor } from './test-core.js'
import { bringUpStorage, layoutDisk, type BroughtUp } from './storage.js'

const MiB = 1 << 20
/** 4 MiB: the smallest disk with both slots and a 1 MiB+ KV region (each flush copies the image). */
export const HARNESS_BLOCKS = (4 * MiB) / 512

export type StorageOp = { kind: 'write'; file: number; size: number; fill: number } | { kind: 'remove'; file: number }

export type Damage = { kind: 'zero' | 'garbage'; lba: number; seed: number } | { kind: 'flip'; lba: number; byte: number; bit: number }

export interface StorageCase {
  ops: StorageOp[]
  /** Device requests (writes + flushes) after the first boot before the power is cut; undefined: no cut. */
  cutAfter: number | undefined
  /** Seed for how the power cut resolved the unflushed writes. */
  planSeed: number
  damage: Damage
}

/** A device that records which blocks are written (and passes everything to `inner`). */
export class RecordingDevice implements BlockDevice {
  readonly written = new Set<number>()
  constructor(private readonly inner: BlockDevice) {}
  get blockSize(): number {
    return this.inner.blockSize
  }
  get blockCount(): number {
    return this.inner.blockCount
  }
  read(lba: number, buf: Uint8Array): Promise<void> {
    return this.inner.read(lba, buf)
  }
  write(lba: number, data: Uint8Array): Promise<void> {
    for (let i = 0; i < data.length / this.blockSize; i++) this.written.add(lba + i)
    return this.inner.write(lba, data)
  }
  flush(): Promise<void> {
    return this.inner.flush()
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const FACTORY = buildCoreImage({ version: 1 })

const content = (op: { size: number; fill: number }) => String.fromCharCode(97 + (op.fill % 26)).repeat(op.size) + `#${op.fill}`

async function boot(disk: BlockDevice): Promise<BroughtUp & { lines: string[] }> {
  const lines: string[] = []
  const up = await bringUpStorage({ disk, factory: FACTORY, anchor: coreAnchor(), line: (t) => lines.push(t), kvOptions: { commitWindowMs: 0 } })
  return { ...up, lines }
}

/**
 * How a case's reboot went: writable with every acknowledged write; writable after damage to the
 * log's last records (a consistent earlier state: see `tailHit`); or read-only, saying why.
 */
export type StorageOutcome = 'writable' | 'writable-tail' | 'read-only'

/** The files' contents at one moment (undefined: absent). */
type Snapshot = ReadonlyMap<string, string | undefined>

/** Runs one case; throws (an assertion message) when the property fails. Returns how the reboot went. */
export async function runStorageCase(c: StorageCase): Promise<StorageOutcome> {
  const dev = new CrashSimulatingDevice(HARNESS_BLOCKS)
  const first = await boot(dev)
  if (!first.root.writable) throw new Error(`first boot on a blank disk was not writable: ${first.lines.join(' | ')}`)
  // Every acknowledged state, oldest first; the last is what must be there after the crash.
  const acked: Snapshot[] = [new Map([['marker', undefined]])]
  let current = new Map<string, string | undefined>([['marker', undefined]])
  // Acknowledged at the first boot: a region that held it must never be formatted.
  await writeFile(first.root.root, 'marker', 'first boot')
  current.set('marker', 'first boot')
  acked.push(new Map(current))
  let unacked: Snapshot | undefined
  if (c.cutAfter !== undefined) dev.cutPowerAfter(c.cutAfter)
  for (const op of c.ops) {
    const path = `f${op.file}`
    const next = new Map(current)
    next.set(path, op.kind === 'write' ? content(op) : undefined)
    try {
      if (op.kind === 'write') await writeFile(first.root.root, path, next.get(path)!)
      else await first.root.root.remove(path).catch((e: unknown) => (isFsError(e, 'ENOENT') ? undefined : Promise.reject(e)))
      current = next
      acked.push(new Map(current))
    } catch {
      if (!dev.isPowerCut) throw new Error(`op ${JSON.stringify(op)} failed without a power cut`)
      unacked = next // not acknowledged: it may or may not be there
      break
    }
  }
  const crashed = dev.crash(dev.randomPlan(lcg(c.planSeed)))
  const image = crashed.durableBytes()
  const logEndBefore = await logEnd(image)
  const d = c.damage
  const off = d.lba * 512
  if (d.kind === 'zero') image.fill(0, off, off + 512)
  else if (d.kind === 'garbage') image.set(Uint8Array.from({ length: 512 }, lcgBytes(d.seed)), off)
  else if (d.kind === 'flip') image[off + d.byte]! ^= 1 << d.bit
  const before = image.slice()
  const logEndAfter = await logEnd(image)
  // Damage to the log's last records, with nothing readable after them, is indistinguishable from
  // a torn tail (the writes a power cut interrupts): no store can tell that a lost last record had
  // been flushed without writing more on every commit (LevelDB and RocksDB have the same limit).
  // There, a consistent earlier state is the promise: every acknowledged write up to some point.
  const damageOffset = (d.lba - HARNESS_KV_START) * 512
  const tailHit = logEndBefore !== undefined && logEndAfter !== undefined && logEndAfter < logEndBefore && damageOffset + 512 > logEndAfter && damageOffset < logEndBefore

  const disk = new RecordingDevice(new MemoryBlockDevice(HARNESS_BLOCKS, 512, image))
  const up = await boot(disk)
  // The bring-up may rewrite honk's double-buffered headers (the A/B metadata copies, the KV
  // superblock copies; each write flushed before the next), and append to the log past its end
  // (free space). Nothing that held data is written: not the damaged sector's neighbours, not
  // any block of the log, not the slots. (Past a tail hit, the store appends from where the
  // recovered log ends, as after any torn tail.)
  const headers = new Set([0, 1, HARNESS_KV_START, HARNESS_KV_START + 1])
  const dataEnd = tailHit ? logEndAfter! : (logEndBefore ?? 0)
  const firstFree = HARNESS_KV_START + Math.ceil(dataEnd / 512)
  for (const n of [...disk.written].sort((a, b) => a - b)) {
    if (headers.has(n)) continue
    const what = n === d.lba - 1 || n === d.lba + 1 ? `a neighbour of the damaged block ${d.lba}` : n === d.lba ? 'the damaged block' : 'a block'
    if (n < firstFree || n >= HARNESS_BLOCKS - 1) throw new Error(`the bring-up wrote block ${n}, ${what} holding data (the log's free space starts at block ${firstFree})`)
  }
  if (!up.root.writable) {
    if (!up.readOnlyWhy || !up.lines.some((l) => l.includes(up.readOnlyWhy!))) throw new Error(`read-only boot without a reason: ${up.lines.join(' | ')}`)
    if (disk.written.size > 0) throw new Error(`a read-only boot wrote blocks ${[...disk.written].join(',')}`)
    const after = new Uint8Array(before.length)
    await disk.read(0, after)
    if (!after.every((b, i) => b === before[i])) throw new Error('a read-only boot changed the disk')
    return 'read-only'
  }
  const allowed = tailHit ? [...acked, ...(unacked ? [unacked] : [])] : [acked[acked.length - 1]!, ...(unacked ? [unacked] : [])]
  const seen = await expectOneOf(up, allowed, 'after the reboot')
  // More writes, a clean power-off and another boot: what was there stays, and so does the new write.
  await writeFile(up.root.root, 'after-reboot', 'new')
  const final = new Map(seen)
  final.set('after-reboot', 'new')
  await up.root.close()
  const again = await boot(new MemoryBlockDevice(HARNESS_BLOCKS, 512, await imageOf(disk)))
  if (!again.root.writable) throw new Error(`the boot after a writable one was read-only: ${again.lines.join(' | ')}`)
  await expectOneOf(again, [final], 'after a second reboot')
  await again.root.close()
  return tailHit ? 'writable-tail' : 'writable'
}

/** Where the KV log ends in `image` (a byte offset in the KV region), from a read-only open; undefined if it does not open. */
async function logEnd(image: Uint8Array): Promise<number | undefined> {
  const region = layoutDisk(new MemoryBlockDevice(HARNESS_BLOCKS, 512, image.slice())).kvRegion
  try {
    const kv = await openKV(region, { readOnly: true, recovery: 'strict' })
    await kv.close()
    return kv.recovery.logEnd
  } catch {
    return undefined
  }
}

async function imageOf(dev: BlockDevice): Promise<Uint8Array> {
  const b = new Uint8Array(dev.blockCount * dev.blockSize)
  await dev.read(0, b)
  return b
}

function lcgBytes(seed: number): () => number {
  const r = lcg(seed)
  return () => Math.floor(r() * 256)
}

/** Reads every file of the snapshots and checks the result is one of them; returns it. */
async function expectOneOf(up: BroughtUp & { lines: string[] }, allowed: Snapshot[], when: string): Promise<Snapshot> {
  const paths = new Set(allowed.flatMap((s) => [...s.keys()]))
  const seen = new Map<string, string | undefined>()
  for (const path of paths) {
    try {
      seen.set(path, await readText(up.root.root, path))
    } catch (e) {
      if (!isFsError(e, 'ENOENT')) throw new Error(`${when}: reading ${path} failed: ${(e as Error).message} (boot: ${up.lines.join(' | ')})`)
      seen.set(path, undefined)
    }
  }
  const show = (m: Snapshot) => [...paths].map((p) => `${p}=${m.get(p) === undefined ? '-' : JSON.stringify(m.get(p)!.slice(-6))}`).join(' ')
  if (!allowed.some((a) => [...paths].every((p) => a.get(p) === seen.get(p)))) {
    throw new Error(`${when}: found ${show(seen)}; acknowledged ${allowed.map(show).join(' | or ')} (boot: ${up.lines.join(' | ')})`)
  }
  return seen
}

/** The KV region's first block on the harness disk (its superblocks and log start there). */
export const HARNESS_KV_START = layoutDisk(new MemoryBlockDevice(HARNESS_BLOCKS)).extents.kv.start

const opArb: fc.Arbitrary<StorageOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), file: fc.nat(4), size: fc.oneof(fc.nat(40), fc.integer({ min: 200, max: 1500 })), fill: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), file: fc.nat(4) }) },
)

/** Sectors worth hitting most: honk's metadata, the KV superblocks and the start of its log; then anywhere. */
const lbaArb = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1 }) },
  { weight: 2, arbitrary: fc.integer({ min: HARNESS_KV_START, max: HARNESS_KV_START + 1 }) },
  { weight: 4, arbitrary: fc.integer({ min: HARNESS_KV_START + 2, max: HARNESS_KV_START + 64 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: HARNESS_BLOCKS - 1 }) },
)

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constantFrom('zero' as const, 'garbage' as const), lba: lbaArb, seed: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), lba: lbaArb, byte: fc.nat(511), bit: fc.nat(7) }),
)

export const storageCaseArb: fc.Arbitrary<StorageCase> = fc.record({
  ops: fc.array(opArb, { minLength: 0, maxLength: 10 }),
  cutAfter: fc.option(fc.nat(60), { nil: undefined }),
  planSeed: fc.nat(),
  damage: damageArb,
})
