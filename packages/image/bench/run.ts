/**
 * `pnpm --filter @honk/image bench [--quick]`: verification throughput beside raw SHA-256 of the
 * same bytes, in the same run (goal: ≥ 0.9 of the raw hash rate).
 *   verify-full       verifyImage (signature + whole dm-verity tree) vs sha256 over the image bytes
 *   lazy-random-read  4 KiB reads at random offsets through the lazily verified FS (cold cache)
 *                     vs sha256 of the same 4 KiB blocks
 * Each with @noble/hashes (the browser-safe core) and Node's native hasher.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { higherIsBetter, report, type BenchMetric } from '../../../scripts/bench-report.ts'
import { SoftwareAnchor, buildImage, bytesReader, generateKeyPair, nobleHasher, openImageFS, verifyImage, type Hasher } from '../src/index.ts'
import { nodeHasher } from '../src/node.ts'

const quick = process.argv.includes('--quick')
const SIZE = (quick ? 16 : 64) << 20
const ROUNDS = quick ? 1 : 3
const keys = generateKeyPair(new Uint8Array(32).fill(3))
const payload = new Uint8Array(SIZE).map((_, i) => (i * 2654435761) >>> 24)
const img = buildImage({ 'core.bin': payload }, { secVersion: 1n, secretKey: keys.secretKey, hasher: nodeHasher })
const anchor = new SoftwareAnchor(keys.publicKey)
const mb = img.length / 1e6

function secs(fn: () => unknown): Promise<number> {
  const t0 = performance.now()
  return Promise.resolve(fn()).then(() => (performance.now() - t0) / 1000)
}

const metrics: BenchMetric[] = []
for (const [name, hasher, raw] of [
  ['noble', nobleHasher, (b: Uint8Array) => sha256(b)],
  ['node', nodeHasher, (b: Uint8Array) => nodeHasher.sha256(b)],
] as [string, Hasher, (b: Uint8Array) => unknown][]) {
  let ours = 0
  let peer = 0
  // Warm-up: let V8 optimise both paths before anything is timed.
  await verifyImage(img, anchor, { hasher })
  raw(img)
  for (let r = 0; r < ROUNDS; r++) {
    ours = Math.max(ours, mb / (await secs(() => verifyImage(img, anchor, { hasher }))))
    peer = Math.max(peer, mb / (await secs(() => raw(img))))
  }
  metrics.push(higherIsBetter(`verify-full (${name} sha256)`, 'MB/s', ours, peer))

  const READS = quick ? 500 : 2000
  const offsets = Array.from({ length: READS }, (_, i) => ((i * 7919) % (SIZE / 4096)) * 4096)
  let lazy = 0
  let rawBlocks = 0
  for (let r = 0; r < ROUNDS; r++) {
    const fs = await openImageFS(bytesReader(img), anchor, { hasher, cacheBlocks: 1 })
    const h = await fs.open('core.bin')
    lazy = Math.max(lazy, READS / (await secs(async () => {
      for (const o of offsets) await h.read(o, 4096)
    })))
    rawBlocks = Math.max(rawBlocks, READS / (await secs(() => {
      for (const o of offsets) raw(payload.subarray(o, o + 4096))
    })))
  }
  metrics.push(higherIsBetter(`lazy-random-read 4 KiB (${name} sha256)`, 'reads/s', lazy, rawBlocks))
}
report('image', {
  name: `@honk/image verification, ${SIZE >> 20} MiB image (peer: raw sha256 of the same bytes, same hasher)`,
  peer: 'raw sha256',
  setup: { imageBytes: img.length, rounds: ROUNDS, quick },
  metrics,
})
