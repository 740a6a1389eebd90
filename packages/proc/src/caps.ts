/**
 * Capabilities: the names of the services a process may reach. A process holds exactly the
 * set it was granted, and may grant a subset to its children. The well-known names are those
 * of the Go honk plus the services this kernel has; any string works.
 */
export type Cap = 'console' | 'fs' | 'net' | 'block' | 'proc' | 'vm' | 'display' | (string & {})

/** An immutable set of capabilities. */
export class Caps implements Iterable<Cap> {
  private readonly set: ReadonlySet<Cap>

  private constructor(caps: Iterable<Cap>) {
    this.set = new Set(caps)
  }

  static of(...caps: Cap[]): Caps {
    return new Caps(caps)
  }

  static readonly none: Caps = new Caps([])

  has(cap: Cap): boolean {
    return this.set.has(cap)
  }

  /** True when every capability of `other` is held here. */
  covers(other: Caps): boolean {
    for (const c of other) if (!this.set.has(c)) return false
    return true
  }

  /** The capabilities of `wanted` that are not held here. */
  missing(wanted: Caps): Cap[] {
    return [...wanted].filter((c) => !this.set.has(c))
  }

  get size(): number {
    return this.set.size
  }

  [Symbol.iterator](): Iterator<Cap> {
    return this.set[Symbol.iterator]()
  }

  /** Sorted and comma-joined, e.g. "console,net,proc"; "-" when empty (as `ps` shows it). */
  toString(): string {
    return this.set.size === 0 ? '-' : [...this.set].sort().join(',')
  }
}
