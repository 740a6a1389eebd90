/**
 * Page tables a VMM writes: the G stage (Sv39x4: guest-physical → host-physical) and, for the
 * paging demo, an identity VS stage (Sv39) inside guest RAM. Entries are `((pa >> 12) << 10) | flags`
 * (privileged spec §4.4.1); a non-leaf has V only.
 */
import { VmError } from './errors.js'
import { GIGAPAGE_SIZE, HGATP_SV39X4, LEAF_RWX, MEGAPAGE_SIZE, PAGE_SIZE, PAGE_TABLE_SIZE, PTE, ROOT_SIZE, VS_LEAF_RWX } from './constants.js'

const pte = (pa: number, flags: number): bigint => (BigInt(Math.floor(pa / PAGE_SIZE)) << 10n) | BigInt(flags)

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength)
}

/**
 * The Go honk's megapage writer: one root entry at `va >> 30` pointing at the L1 table (flags V),
 * then consecutive L1 entries from `(va >> 21) & 0x1ff`, one 2 MiB leaf per megapage mapping
 * `va + i·2 MiB` to `pa + i·2 MiB`. `va` must be 1 GiB-aligned and `size` at most 1 GiB, so that
 * every leaf sits in the one L1 table.
 */
export function writeMegapages(root: Uint8Array, l1: Uint8Array, l1PA: number, va: number, pa: number, size: number, flags: number): void {
  if (va % GIGAPAGE_SIZE !== 0 || size > GIGAPAGE_SIZE || size % MEGAPAGE_SIZE !== 0 || pa % MEGAPAGE_SIZE !== 0)
    throw new VmError('VM_CONFIG', `megapage map of 0x${va.toString(16)} (+0x${size.toString(16)}) → 0x${pa.toString(16)}: needs a 1 GiB-aligned base, a 2 MiB-aligned target and at most 1 GiB in 2 MiB steps`)
  const r = view(root)
  const t = view(l1)
  r.setBigUint64(Math.floor(va / GIGAPAGE_SIZE) * 8, pte(l1PA, PTE.V), true)
  const first = Math.floor(va / MEGAPAGE_SIZE) & 0x1ff
  for (let i = 0; i < size / MEGAPAGE_SIZE; i++) t.setBigUint64((first + i) * 8, pte(pa + i * MEGAPAGE_SIZE, flags), true)
}

/** G stage for guest RAM at `guestBase` backed by host-physical `guestPA`: 2 MiB leaves with {@link LEAF_RWX} (U set). */
export function writeGStage(root: Uint8Array, l1: Uint8Array, l1PA: number, guestPA: number, guestBase: number, size: number): void {
  writeMegapages(root, l1, l1PA, guestBase, guestPA, size, LEAF_RWX)
}

/** An identity VS stage over `[guestBase, guestBase + size)`: 2 MiB leaves with {@link VS_LEAF_RWX} (no U). */
export function writeVSStage(root: Uint8Array, l1: Uint8Array, l1PA: number, guestBase: number, size: number): void {
  writeMegapages(root, l1, l1PA, guestBase, guestBase, size, VS_LEAF_RWX)
}

/** hgatp for an Sv39x4 root at host-physical `rootPA`, VMID 0: `(8 << 60) | (rootPA >> 12)`. */
export function hgatpSv39x4(rootPA: number, vmid = 0): bigint {
  return (BigInt(HGATP_SV39X4) << 60n) | (BigInt(vmid & 0x3fff) << 44n) | BigInt(Math.floor(rootPA / PAGE_SIZE))
}

/**
 * A general Sv39x4 G-stage builder over a table arena in host memory: maps guest-physical ranges
 * to host-physical ones with 2 MiB leaves where both sides are 2 MiB-aligned, 4 KiB leaves
 * elsewhere, and allocates the tables it needs from the arena (root first: 16 KiB, 16 KiB-aligned).
 */
export class GStageBuilder {
  readonly rootPA: number
  private next: number
  private readonly view: DataView

  /** `arena` is host memory at host-physical `arenaPA`; `arenaPA` must be 16 KiB-aligned. */
  constructor(
    private readonly arena: Uint8Array,
    private readonly arenaPA: number,
  ) {
    if (arenaPA % ROOT_SIZE !== 0) throw new VmError('VM_CONFIG', `G-stage table arena at 0x${arenaPA.toString(16)} is not 16 KiB-aligned (the Sv39x4 root must be)`)
    if (arena.length < ROOT_SIZE) throw new VmError('VM_CONFIG', `G-stage table arena of ${arena.length} bytes is smaller than the 16 KiB root`)
    this.view = view(arena)
    arena.fill(0, 0, ROOT_SIZE)
    this.rootPA = arenaPA
    this.next = ROOT_SIZE
  }

  /** hgatp for this table (Sv39x4, `vmid`). */
  hgatp(vmid = 0): bigint {
    return hgatpSv39x4(this.rootPA, vmid)
  }

  /** Bytes of the arena used so far. */
  get used(): number {
    return this.next
  }

  private alloc(): number {
    if (this.next + PAGE_TABLE_SIZE > this.arena.length) throw new VmError('VM_CONFIG', `G-stage table arena of ${this.arena.length} bytes is full`)
    const off = this.next
    this.arena.fill(0, off, off + PAGE_TABLE_SIZE)
    this.next += PAGE_TABLE_SIZE
    return off
  }

  /** The table at `tableOff` entry `index`: the next-level table's arena offset, allocated on demand. */
  private child(tableOff: number, index: number): number {
    const at = tableOff + index * 8
    const e = this.view.getBigUint64(at, true)
    if ((e & BigInt(PTE.V)) !== 0n) {
      if ((e & BigInt(PTE.R | PTE.W | PTE.X)) !== 0n) throw new VmError('VM_CONFIG', 'G-stage map over an existing larger leaf')
      return Number(e >> 10n) * PAGE_SIZE - this.arenaPA
    }
    const off = this.alloc()
    this.view.setBigUint64(at, pte(this.arenaPA + off, PTE.V), true)
    return off
  }

  /** Maps guest-physical `[gpa, gpa + size)` to host-physical `hpa` with `flags` (default {@link LEAF_RWX}); page-aligned. */
  map(gpa: number, hpa: number, size: number, flags: number = LEAF_RWX): void {
    if (gpa % PAGE_SIZE || hpa % PAGE_SIZE || size % PAGE_SIZE || gpa < 0 || gpa + size > 2 ** 41)
      throw new VmError('VM_CONFIG', `G-stage map 0x${gpa.toString(16)} (+0x${size.toString(16)}) → 0x${hpa.toString(16)}: not page-aligned or beyond Sv39x4's 41-bit guest-physical space`)
    let done = 0
    while (done < size) {
      const g = gpa + done
      const h = hpa + done
      const l2 = Math.floor(g / GIGAPAGE_SIZE) // 0..2047: Sv39x4's root has 2^11 entries
      const l1Off = this.child(0, l2)
      const i1 = Math.floor(g / MEGAPAGE_SIZE) & 0x1ff
      if (g % MEGAPAGE_SIZE === 0 && h % MEGAPAGE_SIZE === 0 && size - done >= MEGAPAGE_SIZE) {
        this.view.setBigUint64(l1Off + i1 * 8, pte(h, flags), true)
        done += MEGAPAGE_SIZE
        continue
      }
      const l0Off = this.child(l1Off, i1)
      const i0 = Math.floor(g / PAGE_SIZE) & 0x1ff
      this.view.setBigUint64(l0Off + i0 * 8, pte(h, flags), true)
      done += PAGE_SIZE
    }
  }

  /** Arena bytes enough for `size` bytes of guest RAM in 4 KiB pages at worst. */
  static arenaSize(size: number): number {
    const gigs = Math.ceil(size / GIGAPAGE_SIZE) + 1
    const megs = Math.ceil(size / MEGAPAGE_SIZE) + 1
    return ROOT_SIZE + (gigs + megs) * PAGE_TABLE_SIZE
  }
}
