/**
 * The root of trust. An anchor holds the public key images must be signed with and the
 * rollback floor: the lowest security version still accepted. A software anchor keeps both in
 * memory (and optionally a store); a hardware one would read a fused key and a monotonic
 * counter — the interface is the same.
 */
export interface Anchor {
  /** The ed25519 public key (32 bytes) images must verify against. */
  publicKey(): Uint8Array
  /** The lowest security version accepted. */
  floor(): Promise<bigint>
  /** Raises the floor (never lowers it): call only after a successful boot of that version. */
  raiseFloor(version: bigint): Promise<void>
}

/** Where a software anchor persists its floor (e.g. a KV key). */
export interface FloorStore {
  load(): Promise<bigint | undefined>
  save(floor: bigint): Promise<void>
}

export class SoftwareAnchor implements Anchor {
  private current: bigint

  constructor(
    private readonly key: Uint8Array,
    floor = 0n,
    private readonly store?: FloorStore,
  ) {
    if (key.length !== 32) throw new RangeError(`an ed25519 public key is 32 bytes, got ${key.length}`)
    this.current = floor
  }

  publicKey(): Uint8Array {
    return this.key
  }

  async floor(): Promise<bigint> {
    const stored = await this.store?.load()
    if (stored !== undefined && stored > this.current) this.current = stored
    return this.current
  }

  async raiseFloor(version: bigint): Promise<void> {
    if (version <= (await this.floor())) return
    this.current = version
    await this.store?.save(version)
  }
}
