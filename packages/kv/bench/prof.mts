import { MemoryBlockDevice } from '@honk/block'
import { openKV } from '../src/index.ts'
const N = 200000
const dev = new MemoryBlockDevice(Math.ceil(N * 200 * 2.5 / 4096) + 1024, 4096)
const kv = await openKV(dev)
const keys = Array.from({ length: N }, (_, i) => new TextEncoder().encode(i.toString().padStart(16, '0')))
const v = new Uint8Array(100)
let t = performance.now()
for (let i = 0; i < N; i++) await kv.put(keys[i]!, v)
console.log('mem fillseq ops/s', (N / ((performance.now() - t) / 1000)).toFixed(0), kv.stats().commits)
