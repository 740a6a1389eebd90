/**
 * Where honk's guests' vCPUs run (M13: several vCPUs time-sharing honk's harts). Every online
 * hart lends itself, a slice at a time, to the vCPUs placed on it; a new vCPU is placed on the
 * least-loaded hart, where a hart's load is the vCPUs on it that want to run — a vCPU idle in
 * WFI (or not started yet) costs its hart nothing. Before each slice a running vCPU moves to
 * another hart when its own has at least two more running vCPUs than that one (so a guest that
 * wakes up on a crowded hart spreads out again).
 *
 * What ran where is recorded from the hart that was actually lent (the `GuestHart`'s id), per
 * vCPU and hart: `vm list` and `harts` report it.
 */

export interface Placement {
  /** The VM's id (its pid; demos get negative ids). */
  readonly vm: number
  readonly vcpu: number
  /** The hart it runs on now. */
  hart: number
  /** Its last slice ended idle (WFI, HSM suspend) or it never ran: it counts for no load. */
  idle: boolean
  /** Guest instructions executed, by the hart that ran them. */
  readonly ran: Map<number, number>
}

export class HartScheduler {
  private readonly placed: Placement[] = []

  /** `harts`: the harts that may run guests now (honk's online harts). */
  constructor(private readonly harts: () => readonly number[]) {}

  /** A hart's load: vCPUs on it that want to run, and all the vCPUs on it. */
  load(hart: number): { running: number; placed: number } {
    let running = 0
    let placed = 0
    for (const p of this.placed)
      if (p.hart === hart) {
        placed++
        if (!p.idle) running++
      }
    return { running, placed }
  }

  /** The least-loaded hart (fewest running vCPUs, then fewest vCPUs, then the lowest id), not counting `except`. */
  private leastLoaded(except?: Placement): number {
    let best: number | undefined
    let bestKey: [number, number] = [Infinity, Infinity]
    for (const h of this.harts()) {
      const l = this.load(h)
      if (except && except.hart === h) {
        l.placed--
        if (!except.idle) l.running--
      }
      if (l.running < bestKey[0] || (l.running === bestKey[0] && l.placed < bestKey[1])) {
        best = h
        bestKey = [l.running, l.placed]
      }
    }
    if (best === undefined) throw new Error('no hart online to run a vCPU on')
    return best
  }

  /** Places vCPU `vcpu` of VM `vm` on the least-loaded hart. `running`: it wants to run at once (a boot vCPU). */
  place(vm: number, vcpu: number, running = vcpu === 0): Placement {
    const p: Placement = { vm, vcpu, hart: this.leastLoaded(), idle: !running, ran: new Map() }
    this.placed.push(p)
    return p
  }

  /** The VM's vCPUs leave their harts. */
  release(vm: number): void {
    for (let i = this.placed.length - 1; i >= 0; i--) if (this.placed[i]!.vm === vm) this.placed.splice(i, 1)
  }

  /** The VM's placements, by vCPU. */
  of(vm: number): Placement[] {
    return this.placed.filter((p) => p.vm === vm).sort((a, b) => a.vcpu - b.vcpu)
  }

  /** Every placement. */
  all(): readonly Placement[] {
    return this.placed
  }

  /**
   * Before a slice of `p`: it wants to run now, so it counts; if its hart has at least two more
   * running vCPUs than the least-loaded one, it moves there. Returns the hart to lend.
   */
  beforeSlice(p: Placement): number {
    p.idle = false
    const online = this.harts()
    if (!online.includes(p.hart)) p.hart = this.leastLoaded(p)
    const best = this.leastLoaded(p)
    if (best !== p.hart && this.load(p.hart).running >= this.load(best).running + 2) p.hart = best
    return p.hart
  }

  /** After a slice: `hart` ran `executed` guest instructions of `p`; `idle` when it ended waiting. */
  afterSlice(p: Placement, hart: number, executed: number, idle: boolean): void {
    p.idle = idle
    p.ran.set(hart, (p.ran.get(hart) ?? 0) + executed)
  }
}
