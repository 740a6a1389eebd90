/**
 * A crash-safe log-structured key/value store on any `BlockDevice`.
 *
 * @example
 * ```ts
 * import { MemoryBlockDevice } from '@honk/block'
 * import { openKV } from '@honk/kv'
 * const kv = await openKV(new MemoryBlockDevice(8192))       // or FileBlockDevice from @honk/block/node
 * await kv.put('user/1', 'ada', { durable: true })            // resolves once flushed
 * await kv.batch([{ type: 'put', key: 'user/2', value: 'bob' }, { type: 'delete', key: 'user/1' }])
 * for await (const [k, v] of kv.entries({ prefix: 'user/' })) console.log(k, v)
 * const snap = kv.snapshot()                                  // later writes do not change it
 * await kv.close()
 * ```
 * @packageDocumentation
 */
export { openKV, type OpenOptions } from './store.js'
export type { BatchOp, Bytes, KV, KVDamage, KVOptions, KVRecovery, KVReader, KVSnapshot, KVStats, RangeOptions, WriteOptions } from './types.js'
export { KvClosedError, KvCorruptError, KvFullError, KvInUseError, KvInvalidError, KvIoError, KvReadOnlyError } from './errors.js'
export { crc32c } from './crc32c.js'
export { bytesToString, toBytes } from './bytes.js'
