/** Keys and values are bytes; strings are accepted and UTF-8 encoded. */
export type Bytes = Uint8Array | string

/** How durable a write must be before its promise resolves. */
export interface WriteOptions {
  /**
   * `true`: resolve only after the write and a device flush have completed (survives a power
   * cut). `false` (default): resolve once the write is in the store's index and on its way to
   * the log; it becomes durable within the group-commit window (`KVOptions.commitWindowMs`),
   * or at the next `sync()`/durable write/`close()`.
   */
  durable?: boolean
}

/** One operation of an atomic {@link KV.batch}. */
export type BatchOp =
  | { readonly type: 'put'; readonly key: Bytes; readonly value: Bytes }
  | { readonly type: 'delete'; readonly key: Bytes }

/** A key range for iteration, in unsigned byte order. Bounds combine (all must hold). */
export interface RangeOptions {
  gt?: Bytes
  gte?: Bytes
  lt?: Bytes
  lte?: Bytes
  /** Only keys starting with these bytes. */
  prefix?: Bytes
  /** Iterate from the largest key down. */
  reverse?: boolean
  /** Stop after this many entries. */
  limit?: number
}

/** A consistent, read-only view of the store at one instant; later writes do not change it. */
export interface KVReader {
  get(key: Bytes): Promise<Uint8Array | undefined>
  /** Like `get`, decoding the value as UTF-8. */
  getString(key: Bytes): Promise<string | undefined>
  has(key: Bytes): boolean
  /** Value length in bytes without reading it, or undefined. */
  size(key: Bytes): number | undefined
  /** Entries in key order (or reverse), values read lazily per entry. */
  entries(range?: RangeOptions): AsyncIterableIterator<[Uint8Array, Uint8Array]>
  /** Keys in key order (no value I/O). */
  keys(range?: RangeOptions): IterableIterator<Uint8Array>
  /** Number of live keys. */
  readonly count: number
}

/** A snapshot: a {@link KVReader} pinned at the moment it was taken. Release it when done. */
export interface KVSnapshot extends KVReader {
  /** Lets compaction reclaim what only this snapshot still referenced. Idempotent. */
  release(): void
}

/** Counters for observability and tests. */
export interface KVStats {
  /** Live keys. */
  keys: number
  /** Bytes of the active log in use (head position). */
  logBytes: number
  /** Capacity of one log region in bytes. */
  regionBytes: number
  /** Superblock generation (advances on compaction and reset). */
  generation: bigint
  /** Highest sequence number assigned. */
  seq: bigint
  puts: number
  deletes: number
  batches: number
  /** Device writes issued by the appender (one per group commit). */
  commits: number
  flushes: number
  compactions: number
  /** Values held on disk (only a pointer in RAM). */
  diskResidentValues: number
}

/** Bytes of the device a recovery found unreadable or discarded (device byte offsets, end exclusive). */
export interface KVDamage {
  /** First device byte that could not be read as a frame. */
  start: number
  /** Device byte where the next intact frame begins (or where the scan ended). */
  end: number
  /** The log region (0 or 1) and the same range as region offsets. */
  region: 0 | 1
  regionStart: number
  regionEnd: number
  /** Sequence numbers missing there: [firstLostSeq, firstLostSeq + lostSeqs). */
  firstLostSeq: number
  lostSeqs: number
}

/**
 * What the open found and did, on `kv.recovery` (and passed to `onRecovery`). A clean open has
 * `damage: []`, `superblocks: []` and at most a `tail`.
 */
export interface KVRecovery {
  /** How mid-log damage was handled (the `recovery` option in effect). */
  mode: 'strict' | 'salvage' | 'point-in-time'
  readOnly: boolean
  /** The store was created by this open (the device was blank, or `format: true`). */
  formatted: boolean
  /** Superblock copies that were invalid ("block 0: checksum mismatch"); repaired when writable. */
  superblocks: string[]
  /** The active region and the frames replayed from it. */
  region: 0 | 1
  frames: number
  /**
   * Damage in the middle of the log: unreadable bytes followed by intact frames whose durable
   * mark proves the missing ones had been flushed. Each entry is acknowledged data lost. Never
   * written over: in 'salvage'/'point-in-time' mode a writable open first compacts the
   * recovered state into the other region (`compacted`).
   */
  damage: KVDamage[]
  /**
   * A torn tail: from this device byte on, nothing in the region was a frame flushed before a
   * later intact one (the writes a crash cut short). `droppedFrames` intact frames after it
   * (written, never flushed) were discarded with it. A writable store appends over it.
   */
  tail: { start: number; regionStart: number; droppedFrames: number } | undefined
  /** Device byte where the recovered log ends (a writable store appends from the next block boundary). */
  logEnd: number
  /** The recovered state was rewritten into the other region at open (after damage). */
  compacted: boolean
}

/** Tuning for {@link openKV}. */
export interface KVOptions {
  /** Values longer than this many bytes stay on disk; the index keeps a verified pointer. Default 256. */
  inlineMax?: number
  /** Upper bound in ms before a non-durable write is flushed. Default 10. 0 flushes every commit. */
  commitWindowMs?: number
}

/** The store. */
export interface KV extends KVReader {
  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<void>
  delete(key: Bytes, options?: WriteOptions): Promise<void>
  /** Applies every op or none, even across a crash. */
  batch(ops: readonly BatchOp[], options?: WriteOptions): Promise<void>
  snapshot(): KVSnapshot
  /** Resolves when every write issued before is durable. */
  sync(): Promise<void>
  /** Rewrites the live set into the other region and switches atomically. */
  compact(): Promise<void>
  /** Stateless reset: the store becomes empty, crash-safely. */
  reset(): Promise<void>
  /** Flushes and closes; later calls fail with `KvClosedError`. Does not close the device. */
  close(): Promise<void>
  stats(): KVStats
  /** What the open recovered, skipped and repaired (see {@link KVRecovery}). */
  readonly recovery: KVRecovery
  /** True when opened with `{ readOnly: true }`: writes, `compact` and `reset` throw `KvReadOnlyError`. */
  readonly readOnly: boolean
}
